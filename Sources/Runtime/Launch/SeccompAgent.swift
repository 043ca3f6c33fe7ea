import CShim
import Glibc
import LinuxSys
import OCISpec

/// Hands a seccomp listener to the agent at linux.seccomp.listenerPath: the
/// runtime spec's container process state, with the fd (SCM_RIGHTS), over a
/// unix stream socket. The parent does it, never the container's process:
/// that one is under its own filter, and an agent that does not have the
/// listener yet cannot answer it (crun once hung there).
enum SeccompAgent {
    /// An agent that never accepts (or never reads) fails the create
    /// after this long, rather than holding it for ever.
    static let timeoutSeconds = 5

    static func send(
        _ listener: Int32, to path: String, metadata: String?, id: String, pid: Int32, bundle: String,
        annotations: OrderedMap<String>?
    ) throws(RuntimeError) {
        var state: [(String, JSONValue)] = [
            ("ociVersion", .string(OCISpec.ociVersion)), ("id", .string(id)), ("status", .string("creating")),
            ("pid", .int(Int64(pid))), ("bundle", .string(bundle)),
        ]
        if let annotations { state.append(("annotations", .object(annotations.entries.map { ($0.key, .string($0.value)) }))) }
        var doc: [(String, JSONValue)] = [
            ("ociVersion", .string(OCISpec.ociVersion)), ("fds", .array([.string("seccompFd")])), ("pid", .int(Int64(pid))),
        ]
        if let metadata { doc.append(("metadata", .string(metadata))) }
        doc.append(("state", .object(state)))
        let bytes = Array(JSONValue.object(doc).serialized(pretty: false).utf8)

        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let dirPath = slash == path.startIndex ? "/" : String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        do throws(SysError) {
            let dir = try Sys.open(dirPath, skiff_O_PATH | O_DIRECTORY)
            let sock = try Sys.connectUnix(
                dir: dir.raw, name: name, display: path, stream: true,
                timeoutSeconds: timeoutSeconds)
            let r = bytes.withUnsafeBytes { skiff_send_with_fd(sock.raw, $0.baseAddress, $0.count, listener) }
            if r < 0 { throw SysError("send the seccomp listener to", path, errno: Errno(-r)) }
        } catch {
            if error.errno == .EAGAIN {
                throw .message("linux.seccomp.listenerPath: the seccomp agent at `\(path)` did not take the listener within \(timeoutSeconds) s")
            }
            throw .context("linux.seccomp.listenerPath", .system(error))
        }
    }
}
