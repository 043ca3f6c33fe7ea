import CShim
import Glibc
import LinuxSys
import OCISpec

/// runc's `events` statistics (libcontainer/types), read from the cgroup's
/// files of either version, and the OOM kill count for `oom` events.
extension Cgroup {
    func file(_ controller: String, _ name: String) -> String? {
        let dir = version == .v2 ? unified : v1Dir(controller)
        guard let d = dir, let b = try? Sys.readFile(d.hostPath + "/" + name) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    func number(_ controller: String, _ name: String) -> UInt64? {
        guard let t = file(controller, name)?.trimmingWhitespace() else { return nil }
        return t == "max" ? 0 : UInt64(t)
    }

    /// "key value" lines.
    func keyed(_ controller: String, _ name: String) -> [(String, UInt64)] {
        guard let t = file(controller, name) else { return [] }
        return t.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 2, let v = UInt64(f[1]) else { return nil }
            return (String(f[0]), v)
        }
    }

    /// An fd that wakes poll(2) when the container's OOM count may have
    /// changed (owned by the caller), and the events to wait for: v2's
    /// memory.events (kernfs notifies a change with POLLPRI), v1's
    /// memory.oom_control through an eventfd registered in
    /// cgroup.event_control (readable on each OOM). nil when the cgroup has
    /// no memory controller.
    func oomNotifier() -> (fd: Int32, events: Int16)? {
        if version == .v2 {
            guard let d = unified else { return nil }
            let fd = Glibc.open(d.hostPath + "/memory.events", O_RDONLY | O_CLOEXEC)
            return fd < 0 ? nil : (fd, Int16(POLLPRI))
        }
        guard let d = v1Dir("memory"), let control = try? Sys.open(d.hostPath + "/memory.oom_control", O_RDONLY) else { return nil }
        let efd = skiff_eventfd()
        guard efd >= 0 else { return nil }
        guard (try? Cgroup.write(d.hostPath + "/cgroup.event_control", "\(efd) \(control.raw)", origin: "events")) != nil else {
            _ = Glibc.close(efd)
            return nil
        }
        return (efd, Int16(POLLIN))
    }

    /// OOM kills so far (v2 memory.events, v1 memory.oom_control).
    var oomKills: UInt64 {
        let pairs = version == .v2 ? keyed("memory", "memory.events") : keyed("memory", "memory.oom_control")
        return pairs.first { $0.0 == "oom_kill" }?.1 ?? 0
    }

    func stats() -> JSONValue {
        var data: [(String, JSONValue)] = []
        data.append(("cpu", cpuStats()))
        data.append(("memory", memoryStats()))
        var pids: [(String, JSONValue)] = []
        if let c = number("pids", "pids.current"), c > 0 { pids.append(("current", .uint(c))) }
        if let l = number("pids", "pids.max"), l > 0 { pids.append(("limit", .uint(l))) }
        data.append(("pids", .object(pids)))
        data.append(("blkio", blkioStats()))
        data.append(("hugetlb", hugetlbStats()))
        return .object(data)
    }

    func cpuStats() -> JSONValue {
        var usage: [(String, JSONValue)] = []
        var throttling: [(String, JSONValue)] = []
        if version == .v2 {
            let s = Dictionary(keyed("cpu", "cpu.stat"), uniquingKeysWith: { a, _ in a })
            if let t = s["usage_usec"], t > 0 { usage.append(("total", .uint(t * 1000))) }
            usage.append(("kernel", .uint((s["system_usec"] ?? 0) * 1000)))
            usage.append(("user", .uint((s["user_usec"] ?? 0) * 1000)))
            for (key, name) in [("nr_periods", "periods"), ("nr_throttled", "throttledPeriods")] {
                if let v = s[key], v > 0 { throttling.append((name, .uint(v))) }
            }
            if let v = s["throttled_usec"], v > 0 { throttling.append(("throttledTime", .uint(v * 1000))) }
        } else {
            if let t = number("cpuacct", "cpuacct.usage"), t > 0 { usage.append(("total", .uint(t))) }
            let percpu = (file("cpuacct", "cpuacct.usage_percpu") ?? "").split(separator: " ").compactMap { UInt64(String($0).trimmingWhitespace()) }
            if !percpu.isEmpty { usage.append(("percpu", .array(percpu.map { JSONValue.uint($0) }))) }
            // cpuacct.stat is in clock ticks.
            let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
            let s = Dictionary(keyed("cpuacct", "cpuacct.stat"), uniquingKeysWith: { a, _ in a })
            usage.append(("kernel", .uint((s["system"] ?? 0) * 1_000_000_000 / hz)))
            usage.append(("user", .uint((s["user"] ?? 0) * 1_000_000_000 / hz)))
            let c = Dictionary(keyed("cpu", "cpu.stat"), uniquingKeysWith: { a, _ in a })
            for (key, name) in [("nr_periods", "periods"), ("nr_throttled", "throttledPeriods"), ("throttled_time", "throttledTime")] {
                if let v = c[key], v > 0 { throttling.append((name, .uint(v))) }
            }
        }
        var cpu: [(String, JSONValue)] = [("usage", .object(usage))]
        if !throttling.isEmpty { cpu.append(("throttling", .object(throttling))) }
        return .object(cpu)
    }

    func memoryStats() -> JSONValue {
        func entry(limit: UInt64?, usage: UInt64?, max: UInt64?, failcnt: UInt64?) -> JSONValue {
            var e: [(String, JSONValue)] = [("limit", .uint(limit ?? 0))]
            if let u = usage, u > 0 { e.append(("usage", .uint(u))) }
            if let m = max, m > 0 { e.append(("max", .uint(m))) }
            e.append(("failcnt", .uint(failcnt ?? 0)))
            return .object(e)
        }
        var m: [(String, JSONValue)] = []
        var raw = keyed("memory", "memory.stat")
        raw.append(("oom_kill", oomKills))
        if version == .v2 {
            let events = Dictionary(keyed("memory", "memory.events"), uniquingKeysWith: { a, _ in a })
            if let f = raw.first(where: { $0.0 == "file" })?.1, f > 0 { m.append(("cache", .uint(f))) }
            m.append(
                (
                    "usage",
                    entry(
                        limit: number("memory", "memory.max"), usage: number("memory", "memory.current"),
                        max: number("memory", "memory.peak"), failcnt: events["max"])
                ))
            m.append(
                (
                    "swap",
                    entry(
                        limit: number("memory", "memory.swap.max"), usage: number("memory", "memory.swap.current"),
                        max: number("memory", "memory.swap.peak"), failcnt: nil)
                ))
        } else {
            if let f = raw.first(where: { $0.0 == "cache" })?.1, f > 0 { m.append(("cache", .uint(f))) }
            func v1(_ prefix: String) -> JSONValue {
                entry(
                    limit: number("memory", "\(prefix).limit_in_bytes"), usage: number("memory", "\(prefix).usage_in_bytes"),
                    max: number("memory", "\(prefix).max_usage_in_bytes"), failcnt: number("memory", "\(prefix).failcnt"))
            }
            m.append(("usage", v1("memory")))
            m.append(("swap", v1("memory.memsw")))
            m.append(("kernel", v1("memory.kmem")))
            m.append(("kernelTCP", v1("memory.kmem.tcp")))
        }
        m.append(("raw", .object(raw.map { ($0.0, .uint($0.1)) })))
        return .object(m)
    }

    func blkioStats() -> JSONValue {
        var bytes: [JSONValue] = [], ios: [JSONValue] = []
        func entry(_ dev: Substring, _ op: String, _ value: UInt64) -> JSONValue? {
            let mm = dev.split(separator: ":")
            guard mm.count == 2, let major = UInt64(mm[0]), let minor = UInt64(mm[1]) else { return nil }
            return .object([("major", .uint(major)), ("minor", .uint(minor)), ("op", .string(op)), ("value", .uint(value))])
        }
        if version == .v2 {
            for line in (file("io", "io.stat") ?? "").split(separator: "\n") {
                let f = line.split(separator: " ")
                guard let dev = f.first else { continue }
                for kv in f.dropFirst() {
                    let p = kv.split(separator: "=")
                    guard p.count == 2, let v = UInt64(p[1]) else { continue }
                    switch p[0] {
                    case "rbytes": entry(dev, "Read", v).map { bytes.append($0) }
                    case "wbytes": entry(dev, "Write", v).map { bytes.append($0) }
                    case "rios": entry(dev, "Read", v).map { ios.append($0) }
                    case "wios": entry(dev, "Write", v).map { ios.append($0) }
                    default: break
                    }
                }
            }
        } else {
            func lines(_ name: String, into out: inout [JSONValue]) {
                for line in (file("blkio", name) ?? "").split(separator: "\n") {
                    let f = line.split(separator: " ")
                    guard f.count == 3, let v = UInt64(f[2]) else { continue }
                    entry(f[0], String(f[1]), v).map { out.append($0) }
                }
            }
            lines("blkio.throttle.io_service_bytes_recursive", into: &bytes)
            lines("blkio.throttle.io_serviced_recursive", into: &ios)
        }
        var b: [(String, JSONValue)] = []
        if !bytes.isEmpty { b.append(("ioServiceBytesRecursive", .array(bytes))) }
        if !ios.isEmpty { b.append(("ioServicedRecursive", .array(ios))) }
        return .object(b)
    }

    func hugetlbStats() -> JSONValue {
        let dir = version == .v2 ? unified : v1Dir("hugetlb")
        guard let d = dir, let names = try? Sys.listDirectory(d.hostPath) else { return .object([]) }
        var out: [(String, JSONValue)] = []
        let current = version == .v2 ? ".current" : ".usage_in_bytes"
        for n in names.sorted() where n.hasPrefix("hugetlb.") && n.hasSuffix(current) && !n.includes(".rsvd.") {
            let size = String(n.dropFirst(8).dropLast(current.count))
            let usage = number("hugetlb", n) ?? 0
            let max = version == .v2 ? 0 : number("hugetlb", "hugetlb.\(size).max_usage_in_bytes") ?? 0
            let fail =
                version == .v2
                ? Dictionary(keyed("hugetlb", "hugetlb.\(size).events"), uniquingKeysWith: { a, _ in a })["max"] ?? 0
                : number("hugetlb", "hugetlb.\(size).failcnt") ?? 0
            var e: [(String, JSONValue)] = []
            if usage > 0 { e.append(("usage", .uint(usage))) }
            if max > 0 { e.append(("max", .uint(max))) }
            e.append(("failcnt", .uint(fail)))
            out.append((size, .object(e)))
        }
        return .object(out)
    }
}
