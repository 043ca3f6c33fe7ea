import LinuxSys
import OCISpec

/// Every way a lifecycle operation fails. Context is added by wrapping, so
/// the message reads outer to inner: "create `web`: mounts[2]: mount ...".
public indirect enum RuntimeError: Error, CustomStringConvertible {
    /// config.json (or a state file) is invalid; the error names the JSON path.
    case spec(SpecError)
    case system(SysError)
    /// A step of the container's first process failed, already put in
    /// plan context ("mounts[0]: mount `proc` on `/proc`: ...").
    case child(String, exitCode: Int32)
    /// A command-line or state problem ("container `x` does not exist").
    case message(String)
    case context(String, RuntimeError)
    /// A failed create whose cleanup failed too: both are reported.
    case cleanup(RuntimeError, also: RuntimeError)

    public var description: String {
        switch self {
        case let .spec(e): return e.description
        case let .system(e): return e.description
        case let .child(m, _): return m
        case let .message(m): return m
        case let .context(c, e): return "\(c): \(e)"
        case let .cleanup(e, also): return "\(e); cleanup also failed: \(also)"
        }
    }

    /// The exit status of skiff for this error: 126/127 when the container's
    /// program could not be executed (as a shell reports it), 1 otherwise.
    public var exitCode: Int32 {
        switch self {
        case let .child(_, code): return code
        case let .context(_, e): return e.exitCode
        case let .cleanup(e, _): return e.exitCode
        default: return 1
        }
    }
}

extension SysError {
    var runtime: RuntimeError { .system(self) }
}

/// Runs `body`, turning its typed errors into RuntimeError.
@inline(__always)
func sys<T: ~Copyable>(_ body: () throws(SysError) -> T) throws(RuntimeError) -> T {
    do { return try body() } catch { throw .system(error) }
}
