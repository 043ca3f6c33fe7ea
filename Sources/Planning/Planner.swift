import Glibc
import OCISpec

/// Lowers a validated spec to a launch plan. Pure: the same spec and facts
/// give the same plan, and nothing here touches the system.
public enum Planner {
    public static func plan(
        _ spec: Spec, bundle: String, host: HostFacts,
        image: ImageFacts = ImageFacts(), id: String = ""
    ) throws(SpecError) -> LaunchPlan {
        try Validation.run(spec, host)
        var plan = LaunchPlan()
        plan.annotations = spec.annotations
        try lowerNamespaces(spec, host, &plan)
        try lowerCgroups(spec, id: id, host, &plan)
        try lowerRootfs(spec, bundle: bundle, &plan)
        try lowerMounts(spec, bundle: bundle, host, &plan)
        try lowerDevices(spec, host, &plan)
        try lowerProcess(spec, host, image, &plan)
        try lowerScheduling(spec, &plan)
        try lowerLSM(spec, host, &plan)
        try lowerNetDevices(spec, host, &plan)
        try lowerHooks(spec, &plan)
        return plan
    }

    // MARK: namespaces

    static func lowerNamespaces(_ spec: Spec, _ host: HostFacts, _ plan: inout LaunchPlan) throws(SpecError) {
        let linux = spec.linux
        for (i, ns) in (linux?.namespaces ?? []).enumerated() {
            plan.namespaces.append(NamespacePlan(type: ns.type, path: ns.path, origin: "linux.namespaces[\(i)]"))
        }
        plan.loopbackUp = plan.creates(.network)
        plan.hostname = spec.hostname.flatMap { $0.isEmpty ? nil : $0 }
        plan.domainname = spec.domainname.flatMap { $0.isEmpty ? nil : $0 }
        if plan.creates(.user) { plan.userNamespace = try lowerUserNamespace(spec, host) }
        if let offsets = linux?.timeOffsets, !offsets.isEmpty {
            plan.timeOffsets = offsets.map { "\($0.key) \($0.value.secs ?? 0) \($0.value.nanosecs ?? 0)\n" }.joined(by: "")
        }
        for (key, value) in linux?.sysctl ?? OrderedMap() {
            plan.sysctls.append(SysctlPlan(key: key, path: "/proc/sys/" + key.replacingAll(".", with: "/"), value: value))
        }
        plan.personality = linux?.personality?.domain
    }

    /// How the id maps get written, checked against what the caller may map.
    static func lowerUserNamespace(_ spec: Spec, _ host: HostFacts) throws(SpecError) -> UserNamespacePlan {
        let uids = spec.linux?.uidMappings ?? []
        let gids = spec.linux?.gidMappings ?? []
        func maps0(_ m: [IDMapping]) -> Bool { m.contains { $0.containerID == 0 } }
        var writer = UserNamespacePlan.Writer.direct
        var denySetgroups = false
        // Root of a user namespace writes maps of ids it has, directly.
        if host.euid != 0 {
            if mapsOnlyOwnIDs(spec, euid: host.euid, egid: host.egid) {
                denySetgroups = true
            } else {
                try checkSubordinate(
                    uids, own: host.euid, ranges: host.subUIDs, file: "/etc/subuid",
                    path: "linux.uidMappings", host)
                try checkSubordinate(
                    gids, own: host.egid, ranges: host.subGIDs, file: "/etc/subgid",
                    path: "linux.gidMappings", host)
                guard host.haveIDMapHelpers else {
                    throw SpecError(path: "linux.uidMappings", "mapping more than your own uid and gid needs newuidmap and newgidmap (Debian package `uidmap`)")
                }
                writer = .helpers
            }
        }
        return UserNamespacePlan(
            uidMappings: uids, gidMappings: gids, writer: writer,
            denySetgroups: denySetgroups, rootMapped: maps0(uids) && maps0(gids))
    }

    /// A user namespace that maps the caller's own uid and gid and nothing
    /// else: an unprivileged caller writes those maps itself, with no
    /// subordinate ids and no helpers (runc spec --rootless's config).
    public static func mapsOnlyOwnIDs(_ spec: Spec, euid: UInt32, egid: UInt32) -> Bool {
        let uids = spec.linux?.uidMappings ?? []
        let gids = spec.linux?.gidMappings ?? []
        return uids.count == 1 && gids.count == 1 && uids[0].size == 1 && gids[0].size == 1
            && uids[0].hostID == euid && gids[0].hostID == egid
    }

    static func checkSubordinate(
        _ maps: [IDMapping], own: UInt32, ranges: [SubordinateRange], file: String,
        path: String, _ host: HostFacts
    ) throws(SpecError) {
        for (i, m) in maps.enumerated() {
            if m.hostID == own && m.size == 1 { continue }
            if ranges.contains(where: { $0.contains(m.hostID, size: m.size) }) { continue }
            let last = UInt64(m.hostID) + UInt64(m.size) - 1
            throw SpecError(
                path: "\(path)[\(i)]",
                "user `\(host.userName)` may not map host ids \(m.hostID)-\(last): they are not in \(file); add a line `\(host.userName):\(m.hostID):\(m.size)` to \(file) (as root); `skiff check` shows your ranges"
            )
        }
    }

    // MARK: rootfs

    static func lowerRootfs(_ spec: Spec, bundle: String, _ plan: inout LaunchPlan) throws(SpecError) {
        guard let root = spec.root else { throw SpecError(path: "root", "required field is missing") }
        plan.rootfs = hostPath(root.path, relativeTo: bundle)
        plan.readonlyRootfs = root.readonly ?? false
        // "/" becomes a slave (or private) first so that nothing the container
        // mounts propagates to the host; the requested propagation goes on the
        // new root after pivot_root.
        switch spec.linux?.rootfsPropagation {
        case .private?, .rprivate?:
            plan.rootPropagation = UInt(MS_PRIVATE) | UInt(MS_REC)
        case .unbindable?, .runbindable?:
            plan.rootPropagation = UInt(MS_PRIVATE) | UInt(MS_REC)
            plan.rootfsPropagation = UInt(MS_UNBINDABLE) | UInt(MS_REC)
        case .shared?, .rshared?:
            // Bidirectional volumes: binds stay peers of their sources (the
            // host sees what the container mounts in them), as with runc,
            // whose mount namespace keeps the host's peer groups here. skiff
            // clones them before "/" becomes a slave instead, so that
            // nothing else can propagate out.
            plan.rootPropagation = UInt(MS_SLAVE) | UInt(MS_REC)
            plan.rootfsPropagation = UInt(MS_SHARED) | UInt(MS_REC)
            plan.bindsKeepHostPeers = true
        case .slave?, .rslave?, nil:
            plan.rootPropagation = UInt(MS_SLAVE) | UInt(MS_REC)
        }
        plan.seccomp = spec.linux?.seccomp
        plan.maskedPaths = (spec.linux?.maskedPaths ?? []).map(ContainerPath.absolute)
        plan.readonlyPaths = (spec.linux?.readonlyPaths ?? []).map(ContainerPath.absolute)
    }
}

extension String {
    func replacingAll(_ a: Character, with b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}
