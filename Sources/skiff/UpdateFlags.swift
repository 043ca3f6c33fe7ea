import Glibc
import OCISpec
import Runtime

/// `update`'s flags (runc's), turned into a `linux.resources` document.
enum UpdateFlags {
    /// flag, JSON path below linux.resources, kind.
    enum Kind { case bytes, integer, text }
    static let table: [(flag: String, path: [String], kind: Kind)] = [
        ("memory", ["memory", "limit"], .bytes),
        ("memory-reservation", ["memory", "reservation"], .bytes),
        ("memory-swap", ["memory", "swap"], .bytes),
        ("kernel-memory", ["memory", "kernel"], .bytes),
        ("kernel-memory-tcp", ["memory", "kernelTCP"], .bytes),
        ("cpu-share", ["cpu", "shares"], .integer),
        ("cpu-period", ["cpu", "period"], .integer),
        ("cpu-quota", ["cpu", "quota"], .integer),
        ("cpu-burst", ["cpu", "burst"], .integer),
        ("cpu-rt-period", ["cpu", "realtimePeriod"], .integer),
        ("cpu-rt-runtime", ["cpu", "realtimeRuntime"], .integer),
        ("cpu-idle", ["cpu", "idle"], .integer),
        ("cpuset-cpus", ["cpu", "cpus"], .text),
        ("cpuset-mems", ["cpu", "mems"], .text),
        ("pids-limit", ["pids", "limit"], .integer),
        ("blkio-weight", ["blockIO", "weight"], .integer),
    ]

    static var options: [Option] {
        [.value("resources", "r", help: "a linux.resources JSON document, or - for standard input")]
            + [.value("cpu-shares", help: "same as --cpu-share")]
            // Two-part paths, concatenated: an Array<String>.joined here
            // cost a run-time conformance lookup on every command (the
            // command table is built at start-up).
            + table.map { .value($0.flag, help: "linux.resources.\($0.path[0]).\($0.path[1])") }
    }

    /// The document, and JSON paths renamed to the flags they came from.
    static func resources(_ parsed: Parsed) throws(RuntimeError) -> (Resources, [(String, String)]) {
        var origins: [(String, String)] = []
        var doc: [String: [String: String]] = [:]
        var order: [String] = []
        if let file = parsed.value("resources") {
            let bytes = try Runtime.readDocument(file, what: "update: --resources")
            do {
                return (try JSONDecoding.decode(Resources.self, json: bytes), [("", "--resources: ")])
            } catch {
                throw .message("update: --resources: \(error)")
            }
        }
        var entries = table.map { ($0.flag, $0) }
        entries.append(("cpu-shares", (flag: "cpu-shares", path: ["cpu", "shares"], kind: Kind.integer)))
        for (flag, e) in entries {
            guard let v = parsed.value(flag) else { continue }
            let json: String
            switch e.kind {
            case .bytes:
                guard let n = bytes(v) else { throw .message("update: --\(flag): `\(v)` is not a size (like 512m, 2g, or -1)") }
                json = "\(n)"
            case .integer:
                guard Int64(v) != nil || UInt64(v) != nil else { throw .message("update: --\(flag): `\(v)` is not a number") }
                json = v
            case .text:
                json = "\"" + v.filter { $0 != "\"" && $0 != "\\" } + "\""
            }
            if doc[e.path[0]] == nil { order.append(e.path[0]) }
            doc[e.path[0], default: [:]][e.path[1]] = json
            origins.append(("linux.resources.\(e.path[0]).\(e.path[1])", "--\(flag)"))
        }
        guard !order.isEmpty else { throw .message("update: nothing to change: give --resources or a limit flag (see skiff update --help)") }
        let text =
            "{"
            + order.map { k in
                "\"\(k)\":{" + doc[k]!.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
            }.joined(separator: ",") + "}"
        do {
            return (try JSONDecoding.decode(Resources.self, json: Array(text.utf8)), origins)
        } catch {
            throw .message("update: \(error)")
        }
    }

    /// "512m", "2g", "1024", "-1": bytes, binary units as runc's RAMInBytes.
    static func bytes(_ s: String) -> Int64? {
        if s == "-1" { return -1 }
        var digits = s.lowercased()
        var mult: Int64 = 1
        if digits.hasSuffix("b") { digits.removeLast() }
        switch digits.last {
        case "k": mult = 1 << 10
        case "m": mult = 1 << 20
        case "g": mult = 1 << 30
        case "t": mult = 1 << 40
        default: break
        }
        if mult > 1 { digits.removeLast() }
        guard let n = Int64(digits), n >= 0 else { return nil }
        let (r, overflow) = n.multipliedReportingOverflow(by: mult)
        return overflow ? nil : r
    }

    /// "5s", "100ms", "1m": milliseconds.
    static func duration(_ s: String, flag: String) throws(RuntimeError) -> Int32 {
        var units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        units.sort { $0.0.count > $1.0.count }
        for (u, m) in units where s.hasSuffix(u) {
            if let n = Int64(s.dropLast(u.count)), n > 0 {
                let (ms, overflow) = n.multipliedReportingOverflow(by: m)
                if !overflow && ms <= Int64(Int32.max) { return Int32(ms) }
            }
        }
        throw .message("\(flag): `\(s)` is not a duration like 5s or 500ms")
    }
}
