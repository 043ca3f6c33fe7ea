import OCISpec

/// `--systemd-cgroup`: the container's cgroup is a transient scope that
/// systemd makes (StartTransientUnit) with the container's process in it,
/// as runc's systemd driver does. The limits systemd knows go to it as unit
/// properties, so that systemd keeps them when it re-applies its own
/// (`daemon-reload`); every limit is then also written to the cgroup's
/// files, as with cgroupfs, which covers what systemd has no property for.
public struct SystemdScope: Sendable, Equatable {
    /// `prefix-name.scope`.
    public var unit: String
    /// The slice it goes in (`system.slice`, `machine-libpod.slice`).
    public var slice: String
    /// The user's manager (an unprivileged caller), not the system's.
    public var user: Bool
    /// StartTransientUnit's properties in order (`PIDs` is added at start):
    /// the base ones, the limits, then `org.systemd.property.*` annotations,
    /// which may override either.
    public var properties: [SystemdProperty]
    public init(unit: String, slice: String, user: Bool, properties: [SystemdProperty]) {
        self.unit = unit
        self.slice = slice
        self.user = user
        self.properties = properties
    }
}

/// What planning needs to know of the systemd that manages cgroups.
public struct SystemdFacts: Sendable, Equatable {
    /// The caller's user manager rather than the system's.
    public var user: Bool
    /// The manager's own cgroup: "/" for the host's system manager, the
    /// user manager's `user@UID.service` cgroup (its `ControlGroup`).
    public var managerCgroup: String
    /// `Version`'s leading number (252 for "252.38-1~deb12u1"); 0 if unknown.
    public var version: Int
    public init(user: Bool, managerCgroup: String, version: Int) {
        self.user = user
        self.managerCgroup = managerCgroup
        self.version = version
    }
}

public enum SystemdNames {
    /// runc's ExpandSlice: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice";
    /// "-.slice" is the root. nil for a name that is not a slice.
    public static func expandSlice(_ slice: String) -> String? {
        guard slice.hasSuffix(".slice"), slice.utf8.count > 6, !slice.contains("/"), isUnitName(slice) else { return nil }
        let name = String(slice.dropLast(6))
        if name == "-" { return "/" }
        var path = "", prefix = ""
        for part in name.split(separator: "-", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { return nil }
            path += "/" + prefix + part + ".slice"
            prefix += part + "-"
        }
        return path
    }

    /// systemd's unit name characters (unit_name_is_valid): letters,
    /// digits, `:-_.\`, at most 255 bytes.
    public static func isUnitName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255
            && name.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                    || c == UInt8(ascii: ":") || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "\\")
            }
    }

    /// `linux.cgroupsPath` under --systemd-cgroup: `slice:prefix:name`, as
    /// runc parses it. An empty slice is `system.slice` (`user.slice` for a
    /// user manager), an empty name the container id, an empty prefix
    /// gives `name.scope`; no path at all is `:skiff:<id>`.
    public static func scope(_ cgroupsPath: String?, id: String, user: Bool) throws(SpecError) -> (slice: String, unit: String) {
        let path = "linux.cgroupsPath"
        let defaultSlice = user ? "user.slice" : "system.slice"
        guard let given = cgroupsPath, !given.isEmpty else {
            let unit = "skiff-\(id).scope"
            guard isUnitName(unit) else {
                throw SpecError(
                    path: path,
                    "the container id `\(id)` makes the unit name `\(unit)`, which systemd refuses (letters, digits and `:-_.\\` only): give linux.cgroupsPath as slice:prefix:name"
                )
            }
            return (defaultSlice, unit)
        }
        let parts = given.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else {
            throw SpecError(
                path: path,
                "`\(given)` is not of the form slice:prefix:name that --systemd-cgroup takes (e.g. `system.slice:skiff:\(id)`; empty parts take their defaults)"
            )
        }
        let slice = parts[0].isEmpty ? defaultSlice : parts[0]
        guard expandSlice(slice) != nil else {
            throw SpecError(
                path: path,
                "`\(slice)` is not a systemd slice: a name ending in `.slice`, its parents joined by `-` (`machine-libpod.slice` is in `machine.slice`), no `/`, no empty part; `-.slice` is the root"
            )
        }
        let name = parts[2].isEmpty ? id : parts[2]
        guard !name.hasSuffix(".slice") else {
            throw SpecError(path: path, "name `\(name)` is a slice: skiff makes a scope for each container (a slice holds no processes of its own)")
        }
        let unit = (parts[1].isEmpty ? "" : parts[1] + "-") + name + ".scope"
        guard isUnitName(unit) else {
            throw SpecError(path: path, "`\(unit)` is not a unit name systemd accepts (letters, digits and `:-_.\\` only, at most 255 bytes)")
        }
        return (slice, unit)
    }
}

extension Planner {
    /// The container's cgroup under --systemd-cgroup: the scope's directory
    /// in every hierarchy (the manager's cgroup, the slice expanded, the
    /// unit), the files written after systemd made it, and its properties.
    static func lowerSystemdCgroups(
        _ spec: Spec, id: String, _ host: HostFacts, _ sd: SystemdFacts,
        _ plan: inout LaunchPlan
    ) throws(SpecError) {
        let linux = spec.linux
        let (slice, unit) = try SystemdNames.scope(linux?.cgroupsPath, id: id, user: sd.user)
        let v2: Bool
        switch host.cgroups {
        case .unified: v2 = true
        case .hybrid: v2 = false
        case .none: throw SpecError(path: "linux.cgroupsPath", "--systemd-cgroup: the host has no cgroup filesystem mounted at /sys/fs/cgroup")
        }
        if sd.user && !v2 {
            throw SpecError(
                path: "linux.cgroupsPath",
                "--systemd-cgroup for an unprivileged user needs cgroup v2 (systemd delegates no v1 hierarchy to a user): boot with systemd.unified_cgroup_hierarchy=1, or drop --systemd-cgroup"
            )
        }
        let inner = ContainerPath.absolute(sd.managerCgroup + (SystemdNames.expandSlice(slice) ?? "") + "/" + unit)
        var dirs: [CgroupDir] = []
        switch host.cgroups {
        case .unified:
            dirs.append(CgroupDir(hierarchy: "", path: inner))
        case let .hybrid(v1, unified):
            for h in v1 { dirs.append(CgroupDir(hierarchy: h.name, path: inner)) }
            if unified { dirs.append(CgroupDir(hierarchy: "unified", path: inner)) }
        case .none:
            break
        }
        var lowering = CgroupLowering(v2: v2)
        if let r = linux?.resources { try lowering.lower(r) }
        var devices: [DeviceAccessRule]? = nil
        if !host.rootless { devices = try deviceRules(spec) }

        var properties = [
            SystemdProperty("Description", .string("skiff container \(id)"), origin: "linux.cgroupsPath"),
            SystemdProperty("Slice", .string(slice), origin: "linux.cgroupsPath"),
            SystemdProperty("Delegate", .bool(true), origin: "linux.cgroupsPath"),
            SystemdProperty("MemoryAccounting", .bool(true), origin: "linux.cgroupsPath"),
            SystemdProperty("CPUAccounting", .bool(true), origin: "linux.cgroupsPath"),
            SystemdProperty(v2 ? "IOAccounting" : "BlockIOAccounting", .bool(true), origin: "linux.cgroupsPath"),
            SystemdProperty("TasksAccounting", .bool(true), origin: "linux.cgroupsPath"),
            SystemdProperty("DefaultDependencies", .bool(false), origin: "linux.cgroupsPath"),
        ]
        properties += try SystemdLimits.properties(lowering.writes, v2: v2, version: sd.version)
        properties += try SystemdLimits.annotationProperties(spec.annotations)
        plan.warnings += lowering.warnings
        plan.cgroup = CgroupPlan(
            version: v2 ? .v2 : .v1, dirs: dirs, writes: lowering.writes, devices: devices,
            systemd: SystemdScope(unit: unit, slice: slice, user: sd.user, properties: properties))
    }
}

/// Limits as systemd unit properties (runc's tables in docs/systemd.md),
/// read off the cgroup writes they stand for: one conversion (CgroupLowering)
/// serves both, and `unified` keys systemd knows become properties too.
public enum SystemdLimits {
    public static func properties(_ writes: [CgroupWrite], v2: Bool, version: Int) throws(SpecError) -> [SystemdProperty] {
        var out: [SystemdProperty] = []
        func limit(_ w: CgroupWrite) throws(SpecError) -> DBusValue {
            if w.value == "max" || w.value == "-1" { return DBusValue.infinity }
            guard let n = UInt64(w.value.trimmingSpaces) else {
                throw SpecError(path: w.origin, "`\(w.value)` is not a number or `max`")
            }
            return .uint64(n)
        }
        var quota: (value: String, origin: String)?, period: (value: String, origin: String)?
        for w in writes {
            func add(_ name: String, _ value: DBusValue) { out.append(SystemdProperty(name, value, origin: w.origin)) }
            switch (v2, w.file) {
            case (true, "memory.max"): add("MemoryMax", try limit(w))
            case (true, "memory.low"): add("MemoryLow", try limit(w))
            case (true, "memory.min"): add("MemoryMin", try limit(w))
            case (true, "memory.high"): add("MemoryHigh", try limit(w))
            case (true, "memory.swap.max"): add("MemorySwapMax", try limit(w))
            case (true, "pids.max"), (false, "pids.max"): add("TasksMax", try limit(w))
            case (true, "cpu.weight"): add("CPUWeight", try limit(w))
            case (true, "io.weight"):
                let v = w.value.hasPrefix("default ") ? String(w.value.dropFirst(8)) : w.value
                guard let n = UInt64(v.trimmingSpaces) else { throw SpecError(path: w.origin, "`\(w.value)` is not an io.weight") }
                add("IOWeight", .uint64(n))
            case (true, "cpu.max"):
                let f = w.value.trimmingSpaces.split(separator: " ")
                guard (1...2).contains(f.count) else { throw SpecError(path: w.origin, "`\(w.value)` is not `QUOTA [PERIOD]`") }
                quota = (String(f[0]), w.origin)
                period = f.count == 2 ? (String(f[1]), w.origin) : nil
                try out += cpuQuota(quota, period, version: version)
                quota = nil
                period = nil
            case (false, "cpu.cfs_quota_us"): quota = (w.value, w.origin)
            case (false, "cpu.cfs_period_us"): period = (w.value, w.origin)
            case (false, "memory.limit_in_bytes"): add("MemoryLimit", try limit(w))
            case (false, "cpu.shares"): add("CPUShares", try limit(w))
            case (false, "blkio.weight"): add("BlockIOWeight", try limit(w))
            case (true, "cpuset.cpus"), (true, "cpuset.mems"):
                // systemd has had these since v244; older ones get the files only.
                guard version >= 244 else { continue }
                guard let bits = cpuBits(w.value) else { throw SpecError(path: w.origin, "`\(w.value)` is not a list like `0-3,5`") }
                add(
                    w.file == "cpuset.cpus" ? "AllowedCPUs" : "AllowedMemoryNodes",
                    .array(element: "y", bits.map { .byte($0) }))
            default:
                continue
            }
        }
        if quota != nil || period != nil { try out += cpuQuota(quota, period, version: version) }
        return out
    }

    /// runc's addCpuQuota: CPUQuotaPerSecUSec is the quota per second of
    /// CPU, rounded up to 10 ms (systemd keeps it as a percentage), or
    /// infinity; CPUQuotaPeriodUSec from systemd v242.
    static func cpuQuota(
        _ quota: (value: String, origin: String)?, _ period: (value: String, origin: String)?,
        version: Int
    ) throws(SpecError) -> [SystemdProperty] {
        var out: [SystemdProperty] = []
        var p: UInt64 = 100_000
        if let period {
            guard let n = UInt64(period.value.trimmingSpaces), n > 0 else {
                throw SpecError(path: period.origin, "`\(period.value)` is not a period in microseconds")
            }
            p = n
            if version >= 242 { out.append(SystemdProperty("CPUQuotaPeriodUSec", .uint64(n), origin: period.origin)) }
        }
        var perSecond = UInt64.max
        if let quota, quota.value != "max", quota.value != "-1" {
            guard let q = UInt64(quota.value.trimmingSpaces) else {
                throw SpecError(path: quota.origin, "`\(quota.value)` is not a quota in microseconds or `max`")
            }
            let (product, overflow) = q.multipliedReportingOverflow(by: 1_000_000)
            guard !overflow else { throw SpecError(path: quota.origin, "\(q) is too large a quota") }
            perSecond = product / p
            if perSecond % 10_000 != 0 { perSecond = (perSecond / 10_000 + 1) * 10_000 }
        }
        out.append(SystemdProperty("CPUQuotaPerSecUSec", .uint64(perSecond), origin: quota?.origin ?? period?.origin ?? ""))
        return out
    }

    /// "0-3,5" as systemd's CPU set bytes: bit j of byte i is CPU 8i+j
    /// (runc's RangeToBits). nil if it is not such a list.
    public static func cpuBits(_ list: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for part in list.trimmingSpaces.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(ends.count), let lo = Int(ends[0]), let hi = Int(ends[ends.count - 1]),
                lo >= 0, lo <= hi, hi < 1 << 16
            else { return nil }
            if bytes.count <= hi / 8 { bytes += [UInt8](repeating: 0, count: hi / 8 + 1 - bytes.count) }
            for cpu in lo...hi { bytes[cpu / 8] |= UInt8(1) << UInt8(cpu % 8) }
        }
        return bytes.isEmpty ? nil : bytes
    }

    static let annotationPrefix = "org.systemd.property."

    /// A non-negative number of seconds as microseconds (runc's
    /// convertSecToUSec), nil for anything else.
    static func microseconds(_ v: DBusValue) -> UInt64? {
        let seconds: UInt64
        switch v {
        case let .byte(n): seconds = UInt64(n)
        case let .uint16(n): seconds = UInt64(n)
        case let .uint32(n): seconds = UInt64(n)
        case let .uint64(n): seconds = n
        case let .int16(n) where n >= 0: seconds = UInt64(n)
        case let .int32(n) where n >= 0: seconds = UInt64(n)
        case let .int64(n) where n >= 0: seconds = UInt64(n)
        case let .double(d) where d >= 0 && d * 1e6 < 1.8e19: return UInt64(d * 1e6)
        default: return nil
        }
        let (us, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : us
    }

    /// `org.systemd.property.NAME` annotations, as runc reads them: NAME is
    /// latin letters, the value GVariant text, and a NAME ending in a
    /// lower-case letter and `Sec` is given in seconds and sent as `USec`.
    public static func annotationProperties(_ annotations: OrderedMap<String>?) throws(SpecError) -> [SystemdProperty] {
        var out: [SystemdProperty] = []
        for (key, text) in annotations ?? OrderedMap() where key.hasPrefix(annotationPrefix) {
            var path = "annotations"
            JSONPath.append(key, to: &path)
            var name = String(key.dropFirst(annotationPrefix.count))
            guard name.utf8.count >= 3, name.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else {
                throw SpecError(path: path, "`\(name)` is not a systemd property name (three or more latin letters)")
            }
            // The scope's processes are the container's: PIDs would move any
            // process of the host into it, where delete kills it.
            if name == "PIDs" {
                throw SpecError(path: path, "`PIDs` is skiff's to set: the scope holds the container's process only")
            }
            var value: DBusValue
            do {
                value = try GVariantText.parse(text)
            } catch {
                throw SpecError(path: path, "`\(text)` is not a GVariant value: \(error)")
            }
            // Documented as `...Sec` (seconds), sent as `...USec`: TimeoutStopSec
            // but not TimeoutStopUSec, which is microseconds already.
            if name.hasSuffix("Sec"), let last = name.dropLast(3).utf8.last, last >= 97, last <= 122 {
                let stem = name.dropLast(3)
                let usec = microseconds(value)
                guard let usec else {
                    throw SpecError(path: path, "`\(text)` is not a number of seconds")
                }
                name = stem + "USec"
                value = .uint64(usec)
            }
            out.append(SystemdProperty(name, value, origin: path))
        }
        return out
    }
}

extension String {
    /// Without leading and trailing spaces and newlines (bytes only).
    var trimmingSpaces: String {
        var b = Substring(self).utf8[...]
        while let f = b.first, f == 32 || f == 10 || f == 9 { b = b.dropFirst() }
        while let l = b.last, l == 32 || l == 10 || l == 9 { b = b.dropLast() }
        return String(decoding: b, as: UTF8.self)
    }
}
