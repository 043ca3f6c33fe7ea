import OCISpec

/// `linux.resources` lowered to the files of one cgroup version, with
/// runc's conversions between them. Pure; every value is checked here and
/// every error names its JSON path.
public struct CgroupLowering {
    public let v2: Bool
    public private(set) var writes: [CgroupWrite] = []
    public private(set) var warnings: [String] = []

    public init(v2: Bool) {
        self.v2 = v2
    }

    /// The first field that asks for a limit, for `update`.
    public static func firstLimit(_ r: Resources) -> String? { limitsAsked(r) }

    /// The first field that asks for a limit (devices are not one: without
    /// a cgroup of its own a rootless container cannot reach host devices).
    static func limitsAsked(_ r: Resources?) -> String? {
        guard let r else { return nil }
        if r.memory != nil { return "linux.resources.memory" }
        if r.cpu != nil { return "linux.resources.cpu" }
        if r.pids != nil { return "linux.resources.pids" }
        if r.blockIO != nil { return "linux.resources.blockIO" }
        if let h = r.hugepageLimits, !h.isEmpty { return "linux.resources.hugepageLimits" }
        if r.network != nil { return "linux.resources.network" }
        if let m = r.rdma, !m.isEmpty { return "linux.resources.rdma" }
        if let m = r.unified, !m.isEmpty { return "linux.resources.unified" }
        return nil
    }

    /// The cgroup path inside a hierarchy: absolute as given, relative below
    /// the caller's cgroup (v2: its parent), cleaned lexically.
    public static func place(_ inner: String, own: String, v2: Bool) -> String {
        var base = own
        if v2 && !inner.hasPrefix("/") {
            base = parent(own)
        }
        return ContainerPath.absolute(inner.hasPrefix("/") ? inner : base + "/" + inner)
    }

    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    mutating func add(
        _ controller: String, _ file: String, _ value: String, _ origin: String,
        ifExists: Bool = false, unlessExists: String? = nil
    ) {
        var w = CgroupWrite(controller, file, value, origin: origin)
        w.ifExists = ifExists
        w.unlessExists = unlessExists
        writes.append(w)
    }

    public mutating func lower(_ r: Resources) throws(SpecError) {
        if let m = r.memory { try memory(m, "linux.resources.memory") }
        if let c = r.cpu { try cpu(c, "linux.resources.cpu") }
        if let p = r.pids { try pids(p, "linux.resources.pids") }
        if let b = r.blockIO { try blockIO(b, "linux.resources.blockIO") }
        for (i, h) in (r.hugepageLimits ?? []).enumerated() { try hugepage(h, "linux.resources.hugepageLimits[\(i)]") }
        if let n = r.network { try network(n, "linux.resources.network") }
        for (dev, l) in r.rdma ?? OrderedMap() { try rdma(dev, l, "linux.resources.rdma") }
        for (key, value) in r.unified ?? OrderedMap() { try unified(key, value, "linux.resources.unified") }
    }

    // MARK: memory

    /// The kernel keeps memory limits in pages: anything under one is not a
    /// limit a process can run in.
    public static let pageSize: Int64 = 4096

    static func bytes(_ v: Int64, _ path: String) throws(SpecError) -> String? {
        switch v {
        case -1: return "-1"
        case 0: return nil  // not set (runc)
        case ..<(-1): throw SpecError(path: path, "\(v) is not a byte count (-1 means unlimited)")
        case 1..<pageSize: throw SpecError(path: path, "\(v) is below the kernel's minimum (one page, \(pageSize) bytes)")
        default: return "\(v)"
        }
    }

    mutating func memory(_ m: Memory, _ path: String) throws(SpecError) {
        let limit = try m.limit.flatMap { v throws(SpecError) in try CgroupLowering.bytes(v, "\(path).limit") }
        let reservation = try m.reservation.flatMap { v throws(SpecError) in try CgroupLowering.bytes(v, "\(path).reservation") }
        if let swap = m.swap, swap < -1 { throw SpecError(path: "\(path).swap", "\(swap) is not a byte count (-1 means unlimited)") }
        if v2 {
            if let limit { add("memory", "memory.max", limit == "-1" ? "max" : limit, "\(path).limit") }
            if let reservation { add("memory", "memory.low", reservation == "-1" ? "max" : reservation, "\(path).reservation") }
            if m.swap != nil || m.limit == -1 {
                let swap = try CgroupLowering.swapV2(swap: m.swap ?? 0, memory: m.limit ?? 0, path: "\(path).swap")
                if swap != 0 { add("memory", "memory.swap.max", swap == -1 ? "max" : "\(swap)", "\(path).swap") }
            }
            if m.swappiness != nil { warnings.append("\(path).swappiness is ignored: cgroup v2 has no per-cgroup swappiness (runc ignores it too)") }
            if m.disableOOMKiller == true {
                warnings.append("\(path).disableOOMKiller is ignored: cgroup v2 cannot disable the OOM killer (runc ignores it too)")
            }
            if m.kernelTCP != nil { warnings.append("\(path).kernelTCP is ignored: cgroup v2 accounts TCP memory in memory.max (runc ignores it too)") }
        } else {
            if let limit { add("memory", "memory.limit_in_bytes", limit, "\(path).limit") }
            if let reservation { add("memory", "memory.soft_limit_in_bytes", reservation, "\(path).reservation") }
            if let swap = m.swap, swap != 0 {
                if swap > 0, let l = m.limit, l > 0, swap < l {
                    throw SpecError(path: "\(path).swap", "\(swap) is below linux.resources.memory.limit (\(l)): on cgroup v1 swap is memory+swap")
                }
                add("memory", "memory.memsw.limit_in_bytes", "\(swap)", "\(path).swap")
            } else if m.limit == -1 {
                // Unlimited memory with no swap given lifts memory+swap too
                // (runc), where the kernel has it: a memsw limit left in
                // place would refuse the memory limit above it.
                add("memory", "memory.memsw.limit_in_bytes", "-1", "\(path).limit", ifExists: true)
            }
            if let s = m.swappiness {
                guard s <= 100 else { throw SpecError(path: "\(path).swappiness", "\(s) is out of range (0...100)") }
                add("memory", "memory.swappiness", "\(s)", "\(path).swappiness")
            }
            if m.disableOOMKiller == true { add("memory", "memory.oom_control", "1", "\(path).disableOOMKiller") }
            if let t = m.kernelTCP, let v = try CgroupLowering.bytes(t, "\(path).kernelTCP") {
                add("memory", "memory.kmem.tcp.limit_in_bytes", v, "\(path).kernelTCP")
            }
        }
        if m.kernel != nil {
            warnings.append("\(path).kernel is ignored: Linux no longer limits kernel memory separately (runc ignores it too)")
        }
        if m.useHierarchy == false {
            warnings.append("\(path).useHierarchy false is ignored: the kernel always accounts hierarchically")
        }
    }

    /// runc's ConvertMemorySwapToCgroupV2Value: the spec's swap is
    /// memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
    /// Returns -1 for "max", 0 for "leave as is".
    public static func swapV2(swap: Int64, memory: Int64, path: String) throws(SpecError) -> Int64 {
        if memory == -1 && swap == 0 { return -1 }
        if swap == -1 || swap == 0 { return swap }
        if memory == 0 || memory == -1 {
            throw SpecError(path: path, "a swap limit needs a memory limit (linux.resources.memory.limit)")
        }
        if swap < memory {
            throw SpecError(path: path, "\(swap) is below linux.resources.memory.limit (\(memory)): swap is memory+swap")
        }
        return swap - memory
    }

    // MARK: cpu

    /// runc's ConvertCPUSharesToCgroupV2Value: [2, 262144] onto [1, 10000].
    public static func sharesToWeight(_ shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        return 1 + ((shares - 2) * 9999) / 262142
    }

    mutating func cpu(_ c: CPU, _ path: String) throws(SpecError) {
        if let s = c.shares, s != 0 {
            guard (2...262144).contains(s) else { throw SpecError(path: "\(path).shares", "\(s) is out of range (2...262144)") }
            if v2 {
                add("cpu", "cpu.weight", "\(CgroupLowering.sharesToWeight(s))", "\(path).shares")
            } else {
                add("cpu", "cpu.shares", "\(s)", "\(path).shares")
            }
        }
        if let p = c.period, p != 0, !(1000...1_000_000).contains(p) {
            throw SpecError(path: "\(path).period", "\(p) is out of range (1000...1000000 microseconds)")
        }
        if let q = c.quota, q != 0, q != -1, q < 1000 {
            throw SpecError(path: "\(path).quota", "\(q) is below the kernel's minimum of 1000 microseconds (-1 means no limit)")
        }
        if v2 {
            let quota = c.quota ?? 0, period = c.period ?? 0
            if quota != 0 || period != 0 {
                var s = quota > 0 ? "\(quota)" : "max"
                if period != 0 { s += " \(period)" }
                add("cpu", "cpu.max", s, c.quota != nil ? "\(path).quota" : "\(path).period")
            }
            if let b = c.burst { add("cpu", "cpu.max.burst", "\(b)", "\(path).burst") }
            if c.realtimeRuntime != nil || c.realtimePeriod != nil {
                throw SpecError(
                    path: c.realtimeRuntime != nil ? "\(path).realtimeRuntime" : "\(path).realtimePeriod",
                    "cgroup v2 has no realtime cpu limits (remove the field; runc refuses it too)")
            }
        } else {
            if let p = c.period, p != 0 { add("cpu", "cpu.cfs_period_us", "\(p)", "\(path).period") }
            if let q = c.quota, q != 0 { add("cpu", "cpu.cfs_quota_us", "\(q)", "\(path).quota") }
            if let b = c.burst { add("cpu", "cpu.cfs_burst_us", "\(b)", "\(path).burst") }
            if let p = c.realtimePeriod, p != 0 { add("cpu", "cpu.rt_period_us", "\(p)", "\(path).realtimePeriod") }
            if let r = c.realtimeRuntime, r != 0 { add("cpu", "cpu.rt_runtime_us", "\(r)", "\(path).realtimeRuntime") }
        }
        if let i = c.idle {
            guard i == 0 || i == 1 else { throw SpecError(path: "\(path).idle", "\(i) is neither 0 nor 1") }
            add("cpu", "cpu.idle", "\(i)", "\(path).idle")
        }
        if let cpus = c.cpus, !cpus.isEmpty {
            try CgroupLowering.checkList(cpus, "\(path).cpus")
            add("cpuset", "cpuset.cpus", cpus, "\(path).cpus")
        }
        if let mems = c.mems, !mems.isEmpty {
            try CgroupLowering.checkList(mems, "\(path).mems")
            add("cpuset", "cpuset.mems", mems, "\(path).mems")
        }
    }

    /// "0-3,5": what cpuset.cpus and cpuset.mems take.
    static func checkList(_ s: String, _ path: String) throws(SpecError) {
        for part in s.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            // Digits only, and numbers Int holds (a long run of digits is
            // not a CPU: no trap on it).
            guard (1...2).contains(ends.count), ends.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }),
                let lo = Int(ends[0]), let hi = Int(ends[ends.count - 1]), lo <= hi
            else {
                throw SpecError(path: path, "`\(s)` is not a list like `0-3,5`")
            }
        }
    }

    // MARK: pids

    mutating func pids(_ p: Pids, _ path: String) throws(SpecError) {
        guard let l = p.limit else { return }
        // runtime-spec: no limit for 0 and -1 (runc since 1.2 agrees).
        switch l {
        case ..<(-1): throw SpecError(path: "\(path).limit", "\(l) is not a number of tasks (-1 or 0 mean unlimited)")
        case -1, 0: add("pids", "pids.max", "max", "\(path).limit")
        default: add("pids", "pids.max", "\(l)", "\(path).limit")
        }
    }

    // MARK: blockIO

    /// runc's ConvertBlkIOToIOWeightValue: [10, 1000] onto [1, 10000].
    public static func blkioToIOWeight(_ w: UInt16) -> UInt64 {
        1 + (UInt64(w) - 10) * 9999 / 990
    }

    static func device(_ major: Int64, _ minor: Int64, _ path: String) throws(SpecError) -> String {
        guard major >= 0, minor >= 0 else { throw SpecError(path: path, "\(major):\(minor) is not a device number") }
        return "\(major):\(minor)"
    }

    mutating func blockIO(_ b: BlockIO, _ path: String) throws(SpecError) {
        func weight(_ w: UInt16, _ p: String) throws(SpecError) {
            guard (10...1000).contains(w) else { throw SpecError(path: p, "\(w) is out of range (10...1000)") }
        }
        if let w = b.weight, w != 0 {
            try weight(w, "\(path).weight")
            if v2 {
                add("io", "io.bfq.weight", "\(w)", "\(path).weight", ifExists: true)
                add("io", "io.weight", "default \(CgroupLowering.blkioToIOWeight(w))", "\(path).weight", unlessExists: "io.bfq.weight")
            } else {
                add("blkio", "blkio.bfq.weight", "\(w)", "\(path).weight", ifExists: true)
                add("blkio", "blkio.weight", "\(w)", "\(path).weight", unlessExists: "blkio.bfq.weight")
            }
        }
        if let w = b.leafWeight, w != 0 {
            try weight(w, "\(path).leafWeight")
            warnings.append("\(path).leafWeight is ignored: only the CFQ scheduler had leaf weights, and Linux removed it in 5.0")
        }
        for (i, d) in (b.weightDevice ?? []).enumerated() {
            let p = "\(path).weightDevice[\(i)]"
            let dev = try CgroupLowering.device(d.major, d.minor, p)
            if let w = d.weight {
                try weight(w, "\(p).weight")
                add(v2 ? "io" : "blkio", v2 ? "io.bfq.weight" : "blkio.bfq.weight_device", "\(dev) \(w)", "\(p).weight")
            }
            if d.leafWeight != nil {
                warnings.append("\(p).leafWeight is ignored: only the CFQ scheduler had leaf weights, and Linux removed it in 5.0")
            }
        }
        let throttles: [(String, [ThrottleDevice]?, String, String)] = [
            ("throttleReadBpsDevice", b.throttleReadBpsDevice, "blkio.throttle.read_bps_device", "rbps"),
            ("throttleWriteBpsDevice", b.throttleWriteBpsDevice, "blkio.throttle.write_bps_device", "wbps"),
            ("throttleReadIOPSDevice", b.throttleReadIOPSDevice, "blkio.throttle.read_iops_device", "riops"),
            ("throttleWriteIOPSDevice", b.throttleWriteIOPSDevice, "blkio.throttle.write_iops_device", "wiops"),
        ]
        for (name, list, v1File, key) in throttles {
            for (i, t) in (list ?? []).enumerated() {
                let p = "\(path).\(name)[\(i)]"
                let dev = try CgroupLowering.device(t.major, t.minor, p)
                if v2 { add("io", "io.max", CgroupLowering.ioMax(dev, key, t.rate), p) } else { add("blkio", v1File, "\(dev) \(t.rate)", p) }
            }
        }
    }

    /// One io.max line: a rate of 0 removes the limit ("max").
    public static func ioMax(_ dev: String, _ key: String, _ rate: UInt64) -> String {
        "\(dev) \(key)=\(rate == 0 ? "max" : "\(rate)")"
    }

    // MARK: hugetlb, network, rdma, unified

    mutating func hugepage(_ h: HugepageLimit, _ path: String) throws(SpecError) {
        let size = h.pageSize
        let unit = size.suffix(2)
        let digits = size.dropLast(2)
        guard ["KB", "MB", "GB"].contains(unit), !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw SpecError(path: "\(path).pageSize", "`\(size)` is not a huge page size like `2MB` or `1GB`")
        }
        if v2 {
            add("hugetlb", "hugetlb.\(size).max", "\(h.limit)", "\(path).limit")
            add("hugetlb", "hugetlb.\(size).rsvd.max", "\(h.limit)", "\(path).limit", ifExists: true)
        } else {
            add("hugetlb", "hugetlb.\(size).limit_in_bytes", "\(h.limit)", "\(path).limit")
            add("hugetlb", "hugetlb.\(size).rsvd.limit_in_bytes", "\(h.limit)", "\(path).limit", ifExists: true)
        }
    }

    mutating func network(_ n: Network, _ path: String) throws(SpecError) {
        if v2 {
            throw SpecError(
                path: path,
                "cgroup v2 has no net_cls or net_prio controller: classify traffic with an eBPF or nftables cgroup match instead, or remove the field")
        }
        if let c = n.classID { add("net_cls", "net_cls.classid", "\(c)", "\(path).classID") }
        for (i, p) in (n.priorities ?? []).enumerated() {
            guard !p.name.isEmpty, !p.name.contains(" "), !p.name.contains("\n") else {
                throw SpecError(path: "\(path).priorities[\(i)].name", "`\(p.name)` is not an interface name")
            }
            add("net_prio", "net_prio.ifpriomap", "\(p.name) \(p.priority)", "\(path).priorities[\(i)]")
        }
    }

    mutating func rdma(_ device: String, _ l: Rdma, _ path: String) throws(SpecError) {
        var p = path
        JSONPath.append(device, to: &p)
        guard !device.isEmpty, !device.contains(" "), !device.contains("\n") else {
            throw SpecError(path: p, "`\(device)` is not an RDMA device name")
        }
        var line = device
        if let h = l.hcaHandles { line += " hca_handle=\(h)" }
        if let o = l.hcaObjects { line += " hca_object=\(o)" }
        guard line != device else { throw SpecError(path: p, "sets neither hcaHandles nor hcaObjects") }
        add("rdma", "rdma.max", line, p)
    }

    static let cgroupLimitFiles = ["cgroup.max.depth", "cgroup.max.descendants"]

    mutating func unified(_ key: String, _ value: String, _ path: String) throws(SpecError) {
        var p = path
        JSONPath.append(key, to: &p)
        guard v2 else {
            throw SpecError(path: p, "this host uses cgroup v1: `unified` keys are cgroup v2 files")
        }
        guard let dot = key.firstIndex(of: "."), dot != key.startIndex, key.index(after: dot) != key.endIndex,
            !key.contains("/"), !key.contains("\0")
        else {
            throw SpecError(path: p, "`\(key)` is not a cgroup v2 file name like `memory.high`")
        }
        let controller = String(key[..<dot])
        // The cgroup.* files other than its limits move, freeze or kill
        // processes (cgroup.procs would put any process of the host in the
        // container's cgroup, where delete kills it): never from a config.
        if controller == "cgroup" && !Self.cgroupLimitFiles.contains(key) {
            throw SpecError(path: p, "`\(key)` is not a limit: of the cgroup.* files only \(Self.cgroupLimitFiles.joined(by: " and ")) may be set")
        }
        add(controller == "cgroup" ? "" : controller, key, value, p)
    }

    // MARK: devices

    static func deviceRule(_ d: DeviceRule, path: String) throws(SpecError) -> DeviceAccessRule {
        let kind: DeviceAccessRule.Kind
        switch d.type ?? "a" {
        case "a": kind = .all
        case "c": kind = .char
        case "b": kind = .block
        default: throw SpecError(path: "\(path).type", "`\(d.type ?? "")` is not a device type (a, b or c)")
        }
        func number(_ v: Int64?, _ p: String) throws(SpecError) -> Int64? {
            guard let v, v != -1 else { return nil }
            guard v >= 0, v <= 0xffff_ffff else { throw SpecError(path: p, "\(v) is not a device number (-1 or absent means any)") }
            return v
        }
        var access: UInt32 = 0
        for c in d.access ?? "rwm" {
            switch c {
            case "r": access |= DeviceAccessRule.read
            case "w": access |= DeviceAccessRule.write
            case "m": access |= DeviceAccessRule.mknod
            default: throw SpecError(path: "\(path).access", "`\(d.access ?? "")` is not a device access (letters r, w, m)")
            }
        }
        if access == 0 { access = DeviceAccessRule.rwm }
        return DeviceAccessRule(
            allow: d.allow, kind: kind, major: try number(d.major, "\(path).major"),
            minor: try number(d.minor, "\(path).minor"), access: access)
    }

    /// Device rules as lines for v1's devices.allow and devices.deny, in
    /// order: everything denied first, then each rule; a rule for every
    /// device and access becomes "a", which resets the default.
    public static func v1DeviceLines(_ rules: [DeviceAccessRule]) -> [(file: String, line: String)] {
        var out: [(file: String, line: String)] = [("devices.deny", "a")]
        for r in rules { out.append((r.allow ? "devices.allow" : "devices.deny", r.v1Line)) }
        return out
    }
}
