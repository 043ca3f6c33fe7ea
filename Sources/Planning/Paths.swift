/// Lexical path handling for paths inside the container. Normalising is
/// safe here because every such path is later resolved inside the rootfs
/// (RESOLVE_IN_ROOT), where ".." cannot climb above the root.
public enum ContainerPath {
    /// "/dev//pts/./x/.." -> "dev/pts"; "/" -> "".
    public static func relative(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// The normalised absolute form: "/dev/pts".
    public static func absolute(_ path: String) -> String { "/" + relative(path) }

    public static func isAbsolute(_ path: String) -> Bool { path.hasPrefix("/") }
}

/// Joins a host path to a base directory unless it is absolute.
public func hostPath(_ path: String, relativeTo base: String) -> String {
    if path.hasPrefix("/") { return path }
    if base.hasSuffix("/") { return base + path }
    return base + "/" + path
}
