import Glibc
import LinuxSys

/// What /proc says about a process.
enum Proc {
    struct Stat {
        var state: Character
        /// Clock ticks after boot at which the process started (field 22).
        var startTime: UInt64
    }

    /// /proc/PID/stat, parsed after the command name (which may hold spaces
    /// and parentheses). nil if the process is gone.
    static func stat(_ pid: Int32) -> Stat? {
        guard let bytes = try? Sys.readFile("/proc/\(pid)/stat"),
            let state = statField(3, bytes)?.first,
            let start = statField(22, bytes).flatMap(decimal)
        else { return nil }
        return Stat(state: Character(Unicode.Scalar(state)), startTime: start)
    }

    /// Field `n` (from 1; n >= 3) of a /proc/PID/stat line, counted after
    /// the last ')': the command name (field 2) may hold spaces and
    /// parentheses. A scan, not split: status, kill and exec read this
    /// each time, and split's generic code is the costlier part.
    static func statField(_ n: Int, _ b: [UInt8]) -> ArraySlice<UInt8>? {
        guard let close = b.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var field = 2
        var i = close + 1
        while i < b.count {
            if b[i] == UInt8(ascii: " ") {
                field += 1
                if field == n {
                    var end = i + 1
                    while end < b.count && b[end] != UInt8(ascii: " ") && b[end] != UInt8(ascii: "\n") { end += 1 }
                    return end > i + 1 ? b[(i + 1)..<end] : nil
                }
            }
            i += 1
        }
        return nil
    }

    /// An unsigned decimal of at most 19 digits (no overflow), nothing else.
    static func decimal(_ s: ArraySlice<UInt8>) -> UInt64? {
        guard !s.isEmpty, s.count <= 19 else { return nil }
        var v: UInt64 = 0
        for c in s {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            v = v * 10 + UInt64(c - UInt8(ascii: "0"))
        }
        return v
    }

    /// Threads of this process: must be 1 when it clones (DESIGN: only C
    /// runs in the child, and a lock held by another thread would stay held).
    /// In a user namespace that does not map the whole id range (runc's
    /// RunningInUserNS: the initial one reads "0 0 4294967295").
    static func inUserNamespace() -> Bool { ownUserNamespace }
    /// Read once: skiff's own process never changes its user namespace.
    private static let ownUserNamespace: Bool = {
        guard let b = try? Sys.readFile("/proc/self/uid_map") else { return false }
        let fields = b.split(whereSeparator: { $0 == 0x20 || $0 == 0x0a || $0 == 0x09 })
        return !(fields.count == 3 && fields.map { String(decoding: $0, as: UTF8.self) } == ["0", "0", "4294967295"])
    }()

    /// The id the parent user namespace knows `id` of ours by, from
    /// /proc/self/uid_map ("inside outside count" lines); nil if unmapped.
    static func parentUID(of id: UInt32) -> UInt32? {
        guard let b = try? Sys.readFile("/proc/self/uid_map") else { return nil }
        for line in b.split(separator: 0x0a) {
            let f = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).compactMap { UInt64(String(decoding: $0, as: UTF8.self)) }
            guard f.count == 3 else { continue }
            if UInt64(id) >= f[0] && UInt64(id) < f[0] + f[2] { return UInt32(truncatingIfNeeded: f[1] + UInt64(id) - f[0]) }
        }
        return nil
    }

    static func threadCount() -> Int {
        guard let bytes = try? Sys.readFile("/proc/self/stat"), let n = statField(20, bytes).flatMap(decimal) else { return -1 }
        return Int(n)
    }

    /// The process's pid in each pid namespace it is in, outermost first
    /// (the NSpid line of /proc/PID/status, which needs no ptrace access).
    static func namespacePids(_ pid: Int32) -> [Int32]? {
        guard let bytes = try? Sys.readFile("/proc/\(pid)/status") else { return nil }
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("NSpid:".utf8)) {
            let fields = line.dropFirst(6).split(whereSeparator: { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: " ") })
            let pids = fields.compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
            return pids.count == fields.count ? pids : nil
        }
        return nil
    }

    /// The cgroup (v1 freezer or v2) in which the process is frozen, if any.
    static func frozenCgroup(_ pid: Int32) -> String? {
        guard let bytes = try? Sys.readFile("/proc/\(pid)/cgroup") else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let path = String(f[2])
            if f[1] == "freezer" {
                let dir = "/sys/fs/cgroup/freezer" + path
                if let st = try? Sys.readFile(dir + "/freezer.state"), String(decoding: st, as: UTF8.self).hasPrefix("FROZEN") {
                    return dir
                }
            } else if f[0] == "0" && f[1].isEmpty {
                for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    if let st = try? Sys.readFile(base + path + "/cgroup.freeze"), st.first == UInt8(ascii: "1") {
                        return base + path
                    }
                }
            }
        }
        return nil
    }

    /// The inode of a process's namespace of a kind ("pid", "net").
    static func namespaceInode(_ pid: Int32, _ kind: String) -> UInt64? {
        guard let st = try? Sys.stat("/proc/\(pid)/ns/\(kind)") else { return nil }
        return UInt64(st.st_ino)
    }

    /// Where a process's fds 0, 1 and 2 lead (readlink of /proc/PID/fd/N:
    /// `pipe:[N]`, `/dev/null`, a pty), or nil if one cannot be read.
    static func stdio(_ pid: Int32) -> [String]? {
        var out: [String] = []
        for fd in 0..<3 {
            guard let target = try? Sys.readlink("/proc/\(pid)/fd/\(fd)") else { return nil }
            out.append(target)
        }
        return out
    }
}
