import OCISpec

/// Where the container's cgroup goes and what is written into it.
///
/// Placement follows runc's cgroupfs driver. An absolute `linux.cgroupsPath`
/// is below each hierarchy's root; a relative one (and the container id when
/// there is none) is below the caller's own cgroup, on v2 below its parent
/// (the caller's cgroup has processes, so its children could not get
/// controllers). The path is cleaned lexically inside the hierarchy: `..`
/// never leaves it.
public struct CgroupPlan: Sendable, Equatable {
    public enum Version: Sendable, Equatable { case v1, v2 }
    public var version: Version
    /// One directory per hierarchy, the first one on v2.
    public var dirs: [CgroupDir]
    /// In order. On v1 the controller names the hierarchy; on v2 it is the
    /// controller to enable along the path ("" for cgroup core files).
    public var writes: [CgroupWrite]
    /// Device rules in the order they apply (later rules win), nil: the
    /// device controller is not touched (rootless).
    public var devices: [DeviceAccessRule]?
    /// --systemd-cgroup: systemd makes the cgroup, a scope with the
    /// container's process in it, and the writes follow; nil: skiff makes
    /// the directories itself (cgroupfs).
    public var systemd: SystemdScope?
    public init(
        version: Version, dirs: [CgroupDir], writes: [CgroupWrite], devices: [DeviceAccessRule]?,
        systemd: SystemdScope? = nil
    ) {
        self.version = version
        self.dirs = dirs
        self.writes = writes
        self.devices = devices
        self.systemd = systemd
    }
}

/// A cgroup directory: `/sys/fs/cgroup/<hierarchy>/<path>` on v1 and hybrid
/// hosts, `/sys/fs/cgroup/<path>` on v2 (hierarchy "").
public struct CgroupDir: Sendable, Equatable {
    public var hierarchy: String
    /// Absolute inside the hierarchy ("/" is its root).
    public var path: String
    public init(hierarchy: String, path: String) {
        self.hierarchy = hierarchy
        self.path = path
    }
    public var hostPath: String {
        let base = hierarchy.isEmpty ? CgroupDir.mountPoint : CgroupDir.mountPoint + "/" + hierarchy
        return path == "/" ? base : base + path
    }
    public static let mountPoint = "/sys/fs/cgroup"
}

public struct CgroupWrite: Sendable, Equatable {
    public var controller: String
    public var file: String
    public var value: String
    /// The JSON path (or flag) the value came from, for messages.
    public var origin: String
    /// Written only if the file exists (io.bfq.weight, rsvd hugetlb files).
    public var ifExists = false
    /// Written only if a file named so does not exist (io.weight when bfq).
    public var unlessExists: String?
    public init(_ controller: String, _ file: String, _ value: String, origin: String) {
        self.controller = controller
        self.file = file
        self.value = value
        self.origin = origin
    }
}

/// One device cgroup rule with wildcards made explicit.
public struct DeviceAccessRule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case all, char, block }
    public var allow: Bool
    public var kind: Kind
    /// nil: any.
    public var major: Int64?
    public var minor: Int64?
    /// Bits: 1 mknod, 2 read, 4 write (the kernel's BPF_DEVCG_ACC_*).
    public var access: UInt32
    public init(allow: Bool, kind: Kind, major: Int64?, minor: Int64?, access: UInt32) {
        self.allow = allow
        self.kind = kind
        self.major = major
        self.minor = minor
        self.access = access
    }

    public static let mknod: UInt32 = 1, read: UInt32 = 2, write: UInt32 = 4, rwm: UInt32 = 7

    /// Every device, every access: on v1 the "a" that switches the default.
    public var isAll: Bool { kind == .all && major == nil && minor == nil && access == DeviceAccessRule.rwm }

    /// The line devices.allow / devices.deny take: "c 1:3 rwm".
    public var v1Line: String {
        if isAll { return "a" }
        let t: String
        switch kind {
        case .all: t = "a"
        case .char: t = "c"
        case .block: t = "b"
        }
        var acc = ""
        if access & DeviceAccessRule.read != 0 { acc += "r" }
        if access & DeviceAccessRule.write != 0 { acc += "w" }
        if access & DeviceAccessRule.mknod != 0 { acc += "m" }
        return "\(t) \(major.map { "\($0)" } ?? "*"):\(minor.map { "\($0)" } ?? "*") \(acc)"
    }
}

extension Planner {
    /// runc's list of devices every container may use, after the config's
    /// own rules (libcontainer/specconv AllowedDevices): mknod of any node,
    /// the standard character devices, ptys and /dev/net/tun.
    public static let defaultAllowedDevices: [DeviceAccessRule] = [
        DeviceAccessRule(allow: true, kind: .char, major: nil, minor: nil, access: DeviceAccessRule.mknod),
        DeviceAccessRule(allow: true, kind: .block, major: nil, minor: nil, access: DeviceAccessRule.mknod),
        DeviceAccessRule(allow: true, kind: .char, major: 1, minor: 3, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 1, minor: 8, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 1, minor: 7, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 5, minor: 0, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 1, minor: 5, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 1, minor: 9, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 5, minor: 1, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 136, minor: nil, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 5, minor: 2, access: DeviceAccessRule.rwm),
        DeviceAccessRule(allow: true, kind: .char, major: 10, minor: 200, access: DeviceAccessRule.rwm),
    ]

    /// The cgroup of the container, or nil when it stays in the caller's
    /// (an unprivileged caller without a delegated v2 cgroup, and no limits).
    static func lowerCgroups(_ spec: Spec, id: String, _ host: HostFacts, _ plan: inout LaunchPlan) throws(SpecError) {
        if let sd = host.systemd { return try lowerSystemdCgroups(spec, id: id, host, sd, &plan) }
        let linux = spec.linux
        let resources = linux?.resources
        let asked = CgroupLowering.limitsAsked(resources)
        let givenPath = linux?.cgroupsPath.flatMap { $0.isEmpty ? nil : $0 }
        if host.rootless {
            // runc: without a delegated cgroup an unprivileged container
            // has none; device rules are moot (no mknod, no host devices).
            guard case .unified = host.cgroups, host.cgroupDelegated else {
                if let field = asked {
                    throw SpecError(path: field, "cannot be applied" + Validation.cgroupDelegationAdvice(host))
                }
                if givenPath != nil { plan.notes.append("linux.cgroupsPath ignored: no cgroup is delegated to this user") }
                return
            }
        }
        let inner = givenPath ?? id
        var dirs: [CgroupDir] = []
        switch host.cgroups {
        case .unified:
            dirs.append(CgroupDir(hierarchy: "", path: CgroupLowering.place(inner, own: host.ownV2Cgroup ?? "/", v2: true)))
        case let .hybrid(v1, unified):
            for h in v1 {
                dirs.append(CgroupDir(hierarchy: h.name, path: CgroupLowering.place(inner, own: host.ownCgroup(of: h) ?? "/", v2: false)))
            }
            if unified {
                dirs.append(CgroupDir(hierarchy: "unified", path: CgroupLowering.place(inner, own: host.ownV2Cgroup ?? "/", v2: true)))
            }
        case .none:
            if let field = asked ?? (givenPath != nil ? "linux.cgroupsPath" : nil) {
                throw SpecError(path: field, "the host has no cgroup filesystem mounted at /sys/fs/cgroup")
            }
            return
        }
        if dirs.contains(where: { $0.path == "/" }) {
            throw SpecError(path: "linux.cgroupsPath", "`\(inner)` is the root of the cgroup hierarchy: a container needs a cgroup of its own")
        }
        let v2: Bool
        if case .unified = host.cgroups { v2 = true } else { v2 = false }
        var lowering = CgroupLowering(v2: v2)
        if let r = resources { try lowering.lower(r) }
        var devices: [DeviceAccessRule]? = nil
        if !host.rootless { devices = try deviceRules(spec) }
        plan.warnings += lowering.warnings
        plan.cgroup = CgroupPlan(version: v2 ? .v2 : .v1, dirs: dirs, writes: lowering.writes, devices: devices)
    }

    /// The device rules in the order they apply: the config's, an allow for
    /// each of its devices, runc's default list.
    static func deviceRules(_ spec: Spec) throws(SpecError) -> [DeviceAccessRule] {
        var rules: [DeviceAccessRule] = []
        for (i, d) in (spec.linux?.resources?.devices ?? []).enumerated() {
            rules.append(try CgroupLowering.deviceRule(d, path: "linux.resources.devices[\(i)]"))
        }
        // linux.devices only makes nodes: access comes from the rules alone
        // (engines send an allow rule with each device they add), as with
        // runc and crun. A node never widens a deny-all (/dev/kmsg was
        // readable through one).
        return rules + defaultAllowedDevices
    }
}

extension HostFacts {
    /// The caller's cgroup in a v1 hierarchy, from /proc/self/cgroup, whose
    /// lines name the hierarchy by its controllers ("cpu,cpuacct",
    /// "name=systemd").
    public func ownCgroup(of h: CgroupHierarchy) -> String? {
        let want = h.options.pieces(UInt8(ascii: ",")).filter { $0 != "none" }
        for own in ownCgroups where !own.controllers.isEmpty {
            let have = own.controllers.pieces(UInt8(ascii: ","))
            if have.count == want.count && have.allSatisfy({ want.contains($0) }) { return own.path }
        }
        return nil
    }

    /// The caller's cgroup v2 ("0::PATH").
    public var ownV2Cgroup: String? { ownCgroups.first { $0.controllers.isEmpty }?.path }
}
