/// Lexical path handling for paths inside the container. Normalising is
/// safe here because every such path is later resolved inside the rootfs
/// (RESOLVE_IN_ROOT), where ".." cannot climb above the root.
public enum ContainerPath {
    /// "/dev//pts/./x/.." -> "dev/pts"; "/" -> "".
    /// On bytes: `split` and `joined` would go through unspecialised generic
    /// code and run-time conformance lookups, on every create.
    public static func relative(_ path: String) -> String {
        var out: [UInt8] = []
        var starts: [Int] = []  // where each component of `out` starts
        var utf8 = Array(path.utf8)
        utf8.append(UInt8(ascii: "/"))
        var start = 0
        for (i, b) in utf8.enumerated() where b == UInt8(ascii: "/") {
            let count = i - start
            if count == 0 || (count == 1 && utf8[start] == UInt8(ascii: ".")) {
                // empty or "."
            } else if count == 2 && utf8[start] == UInt8(ascii: ".") && utf8[start + 1] == UInt8(ascii: ".") {
                if let last = starts.popLast() { out.removeSubrange(max(0, last - 1)..<out.count) }
            } else {
                if !out.isEmpty { out.append(UInt8(ascii: "/")) }
                starts.append(out.count)
                out.append(contentsOf: utf8[start..<i])
            }
            start = i + 1
        }
        return String(decoding: out, as: UTF8.self)
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

extension String {
    /// The pieces between `separator` bytes, empty ones dropped: on bytes,
    /// as `relative` (Character-wise `split` pages in grapheme breaking).
    public func pieces(_ separator: UInt8) -> [String] {
        var out: [String] = []
        var piece: [UInt8] = []
        for b in utf8 {
            if b == separator {
                if !piece.isEmpty { out.append(String(decoding: piece, as: UTF8.self)) }
                piece.removeAll(keepingCapacity: true)
            } else {
                piece.append(b)
            }
        }
        if !piece.isEmpty { out.append(String(decoding: piece, as: UTF8.self)) }
        return out
    }
}

extension Array where Element == String {
    /// `joined(separator:)` without the stdlib's unspecialised generic path,
    /// which looks protocol conformances up at run time (every create pays).
    public func joined(by separator: String) -> String {
        var out = ""
        for (i, s) in enumerated() {
            if i > 0 { out += separator }
            out += s
        }
        return out
    }
}

extension StringProtocol {
    /// The byte offset of the first `needle`, nil when it is absent. On
    /// bytes: the product does not import _StringProcessing, whose
    /// `contains(_: String)` and `split(separator: String)` would link the
    /// Regex engine (about 950 KB of the binary).
    public func offset(of needle: String) -> Int? {
        let n = Array(needle.utf8)
        guard let first = n.first else { return 0 }
        let hay = Array(utf8)
        guard hay.count >= n.count else { return nil }
        for i in 0...(hay.count - n.count) where hay[i] == first {
            var j = 1
            while j < n.count && hay[i + j] == n[j] { j += 1 }
            if j == n.count { return i }
        }
        return nil
    }

    /// Whether `needle` occurs in it (bytes; see `offset(of:)`).
    public func includes(_ needle: String) -> Bool { offset(of: needle) != nil }
}
