import OCISpec

extension Planner {
    /// exec: a process for a running container. `spec` is the container's
    /// config (kept since create) with `process` replaced by the one to
    /// run. Only the process is planned: its namespaces are the container's
    /// (joined, not made) and so is its root filesystem.
    public static func planExec(_ spec: Spec, host: HostFacts, image: ImageFacts = ImageFacts()) throws(SpecError)
        -> LaunchPlan
    {
        try Validation.checkProcess(spec, host)
        var plan = LaunchPlan()
        plan.annotations = spec.annotations
        for (i, ns) in (spec.linux?.namespaces ?? []).enumerated() {
            plan.namespaces.append(NamespacePlan(type: ns.type, path: ns.path, origin: "linux.namespaces[\(i)]"))
        }
        if plan.has(.user) {
            // The maps are the container's: they only bound the ids below.
            plan.userNamespace = UserNamespacePlan(
                uidMappings: spec.linux?.uidMappings ?? [],
                gidMappings: spec.linux?.gidMappings ?? [], writer: .direct,
                denySetgroups: host.rootless && (spec.linux?.uidMappings ?? []).count == 1
                    && (spec.linux?.uidMappings ?? []).first?.size == 1,
                rootMapped: false)
        }
        plan.personality = spec.linux?.personality?.domain
        try lowerProcess(spec, host, image, &plan)
        try lowerScheduling(spec, &plan)
        try lowerLSM(spec, host, &plan)
        plan.seccomp = spec.linux?.seccomp
        return plan
    }

    /// `--user uid[:gid]`: decimal ids, nothing else (no sign, no blank,
    /// no name: an id that parses loosely is a different id; crun's
    /// CVE-2026-30892). -1 is not an id.
    public static func parseUser(_ text: String) -> (uid: UInt32, gid: UInt32?)? {
        func id(_ s: Substring) -> UInt32? {
            guard !s.isEmpty, s.utf8.count <= 10, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let v = UInt32(s), v != UInt32.max
            else { return nil }
            return v
        }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let uid = id(parts[0]) else { return nil }
        if parts.count == 1 { return (uid, nil) }
        guard let gid = id(parts[1]) else { return nil }
        return (uid, gid)
    }
}
