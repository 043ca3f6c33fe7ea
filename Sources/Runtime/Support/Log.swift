import Glibc
import LinuxSys
import OCISpec

/// skiff's one logger, set up once at the top from `--log`, `--log-format`
/// and `--debug`. Errors also go to stderr (engines read either).
public final class Log {
    public enum Format: String, Sendable { case text, json }

    let fd: Int32
    let format: Format
    public let debugEnabled: Bool

    /// Logs to stderr only, in `format` (runc's: a program reading skiff's
    /// stderr gets logrus's lines); on a terminal, plainly for a person.
    public init(debug: Bool = false, format: Format = .text) {
        self.format = format
        debugEnabled = debug
        fd = -1
    }

    /// Logs to `path` (appending) in `format`; errors also go to stderr.
    public init(path: String, format: Format, debug: Bool) throws(RuntimeError) {
        self.format = format
        self.debugEnabled = debug
        let raw = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if raw < 0 { throw .context("--log", .system(SysError("open", path))) }
        fd = raw
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func error(_ message: String) {
        write("error", message)
        if fd >= 0 { stderr(message) }
    }

    public func warn(_ message: String) { write("warning", message) }

    public func debug(_ message: @autoclosure () -> String) {
        if debugEnabled { write("debug", message()) }
    }

    private func write(_ level: String, _ message: String) {
        guard fd >= 0 else {
            // An error on stderr is the bare message, as crun prints it and
            // engines quote it (podman: "OCI runtime error: ..."); the other
            // levels are runc's records, for whoever parses them.
            if level == "error" {
                stderr(message)
            } else {
                stderr(isatty(2) != 0 ? "\(level): \(message)" : formatted(level, message))
            }
            return
        }
        _ = try? Sys.write(fd, formatted(level, message) + "\n")
    }

    /// One record as runc (logrus) writes it: `time="…" level=… msg="…"`,
    /// or a JSON object with level, msg and time.
    private func formatted(_ level: String, _ message: String) -> String {
        let line: String
        switch format {
        case .json:
            line = JSONValue.object([
                ("level", .string(level)), ("msg", .string(message)),
                ("time", .string(Time.rfc3339Now())),
            ]).serialized(pretty: false)
        case .text:
            let escaped = message.replacingOccurrencesOfQuote()
            line = "time=\"\(Time.rfc3339Now())\" level=\(level) msg=\"\(escaped)\""
        }
        return line
    }

    private func stderr(_ message: String) {
        _ = try? Sys.write(2, message + "\n")
    }
}

extension String {
    /// Quoted as logrus quotes a value (Go's %q): quotes and backslashes
    /// escaped, and no control character left raw, so that a message (a
    /// hook's output) can never start a line of its own and forge a record.
    func replacingOccurrencesOfQuote() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        let hex = Array("0123456789abcdef".utf8)
        for b in utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), b]
            case 10: out += Array("\\n".utf8)
            case 13: out += Array("\\r".utf8)
            case 9: out += Array("\\t".utf8)
            case 0..<32, 127: out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
