import OCISpec

/// The checks a config must pass before anything is planned, in the order
/// they run (runc's configs/validate, as a list). Each names the JSON path of
/// what it refuses. Checks that need the lowered form (mount options,
/// capabilities, rlimits) run while lowering, with the same kind of error.
public enum Validation {
    public struct Check: Sendable {
        public let name: String
        let run: @Sendable (Spec, HostFacts) throws(SpecError) -> Void
    }

    public static let checks: [Check] = [
        Check(name: "ociVersion", run: checkVersion),
        Check(name: "root", run: checkRoot),
        Check(name: "process", run: checkProcess),
        Check(name: "not supported yet", run: checkUnsupported),
        Check(name: "namespaces", run: checkNamespaces),
        Check(name: "user namespace", run: checkUserNamespace),
        Check(name: "uts", run: checkUTS),
        Check(name: "time offsets", run: checkTimeOffsets),
        Check(name: "sysctl", run: checkSysctl),
        Check(name: "seccomp", run: checkSeccomp),
        Check(name: "masked and readonly paths", run: checkPaths),
        Check(name: "annotations", run: checkAnnotations),
        Check(name: "cgroupsPath", run: checkCgroupsPath),
    ]

    public static func run(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        for check in checks { try check.run(spec, host) }
    }

    // MARK: checks

    /// One line, as the kernel's cgroup files, systemd's unit names and
    /// skiff's own `cgroups` record take it.
    static func checkCgroupsPath(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        guard let path = spec.linux?.cgroupsPath else { return }
        if path.utf8.contains(where: { $0 == 10 || $0 == 13 }) {
            throw SpecError(path: "linux.cgroupsPath", "must not contain a line break")
        }
    }

    static func checkVersion(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        // On bytes, ASCII digits only (Character.isNumber took "١" for a
        // digit, and paged in the Unicode numeric tables on every create).
        var core = Array(spec.ociVersion.utf8)[...]
        if let dash = core.firstIndex(of: UInt8(ascii: "-")) { core = core[..<dash] }
        if let plus = core.firstIndex(of: UInt8(ascii: "+")) { core = core[..<plus] }
        let parts = core.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= 48 && $0 <= 57 } }) else {
            throw SpecError(path: "ociVersion", "`\(spec.ociVersion)` is not a semantic version")
        }
        guard parts[0].elementsEqual([UInt8(ascii: "1")]) else {
            throw SpecError(path: "ociVersion", "version `\(spec.ociVersion)` is not supported (skiff implements 1.x up to \(OCISpec.ociVersion))")
        }
    }

    static func checkRoot(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        guard let root = spec.root else { throw SpecError(path: "root", "required field is missing") }
        if root.path.isEmpty { throw SpecError(path: "root.path", "must not be empty") }
    }

    static func checkProcess(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        guard let p = spec.process else {
            throw SpecError(path: "process", "required to create a container")
        }
        guard let args = p.args, !args.isEmpty else {
            throw SpecError(path: "process.args", "at least one argument is required")
        }
        if args[0].isEmpty { throw SpecError(path: "process.args[0]", "must not be empty") }
        if !ContainerPath.isAbsolute(p.cwd) {
            throw SpecError(path: "process.cwd", "must be an absolute path, got `\(p.cwd)`")
        }
        for (i, e) in (p.env ?? []).enumerated() {
            guard let eq = e.utf8.firstIndex(of: UInt8(ascii: "=")), eq != e.utf8.startIndex else {
                throw SpecError(path: "process.env[\(i)]", "`\(e)` is not KEY=VALUE")
            }
        }
        if let adj = p.oomScoreAdj, !(-1000...1000).contains(adj) {
            throw SpecError(path: "process.oomScoreAdj", "\(adj) is out of range (-1000...1000)")
        }
        if let m = p.user.umask, m > 0o777 {
            throw SpecError(path: "process.user.umask", "\(m) is not a file mode (0...511)")
        }
    }

    static func checkUnsupported(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        func refuse(_ path: String, _ why: String = "") throws(SpecError) {
            throw SpecError.unsupported(path, why)
        }
        guard let l = spec.linux else { return }
        if l.intelRdt != nil { try refuse("linux.intelRdt") }
        if let flags = l.personality?.flags, !flags.isEmpty {
            throw SpecError(path: "linux.personality.flags[0]", "unknown personality flag `\(flags[0])` (none are defined)")
        }
    }

    /// What a rootless user has to do to get limits: a delegated cgroup v2.
    static func cgroupDelegationAdvice(_ host: HostFacts) -> String {
        switch host.cgroups {
        case .unified:
            return
                " for user `\(host.userName)`: no cgroup is delegated to this user, so limits cannot be applied; delegate one (e.g. a systemd user session with Delegate=yes, or `chown -R \(host.userName)` a cgroup v2 directory and run skiff in it) or remove the limits; `skiff check` shows what is delegated"
        default:
            return
                " for user `\(host.userName)`: this host has no cgroup v2 hierarchy that can be delegated to an unprivileged user (cgroup v1 cannot be delegated safely); boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and delegate a cgroup, or remove the limits; `skiff check` shows the host's cgroups"
        }
    }

    static func checkNamespaces(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        let namespaces = spec.linux?.namespaces ?? []
        func index(_ t: NamespaceType) -> Int? { namespaces.firstIndex { $0.type == t } }
        for (i, ns) in namespaces.enumerated() {
            let path = "linux.namespaces[\(i)]"
            if let first = index(ns.type), first < i {
                throw SpecError(path: "\(path).type", "duplicate namespace type `\(ns.type.rawValue)` (also linux.namespaces[\(first)])")
            }
            if let p = ns.path {
                if !ContainerPath.isAbsolute(p) {
                    throw SpecError(path: "\(path).path", "must be an absolute path, got `\(p)`")
                }
            }
        }
        guard index(.mount) != nil else {
            throw SpecError(path: "linux.namespaces", "a mount namespace is required (skiff builds the rootfs in it)")
        }
        if let u = index(.user), namespaces[u].path != nil,
            let p = index(.pid), namespaces[p].path == nil
        {
            throw SpecError(path: "linux.namespaces[\(p)]", "a new pid namespace together with joining a user namespace is not supported yet")
        }
        if host.euid != 0, index(.user) == nil {
            throw SpecError(
                path: "linux.namespaces",
                "an unprivileged user (uid \(host.euid)) needs a user namespace; add {\"type\": \"user\"} with uidMappings and gidMappings (`skiff spec --rootless` writes such a config)"
            )
        }
        if host.rootless, let p = index(.pid), namespaces[p].path != nil {
            throw SpecError(path: "linux.namespaces[\(p)].path", "joining a pid namespace is not supported yet for an unprivileged user")
        }
    }

    static func checkUserNamespace(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        let l = spec.linux
        let userNS = l?.namespaces?.first { $0.type == .user }
        let creates = userNS != nil && userNS?.path == nil
        for (name, maps) in [("uidMappings", l?.uidMappings), ("gidMappings", l?.gidMappings)] {
            guard let maps, !maps.isEmpty else {
                if creates {
                    throw SpecError(path: "linux.\(name)", "a new user namespace needs \(name)")
                }
                continue
            }
            if !creates {
                throw SpecError(
                    path: "linux.\(name)",
                    userNS == nil
                        ? "mappings need a new user namespace in linux.namespaces"
                        : "mappings cannot be applied to a user namespace joined by path")
            }
            try checkMappings(maps, path: "linux.\(name)")
        }
    }

    /// Sizes above zero, no overflow, no overlap on either side.
    static func checkMappings(_ maps: [IDMapping], path: String) throws(SpecError) {
        for (i, m) in maps.enumerated() {
            if m.size == 0 { throw SpecError(path: "\(path)[\(i)].size", "must be at least 1") }
            if UInt64(m.containerID) + UInt64(m.size) > 1 << 32 || UInt64(m.hostID) + UInt64(m.size) > 1 << 32 {
                throw SpecError(path: "\(path)[\(i)]", "range goes past id 4294967295")
            }
            for j in 0..<i {
                let o = maps[j]
                if overlaps(m.containerID, m.size, o.containerID, o.size) {
                    throw SpecError(
                        path: "\(path)[\(i)].containerID", "range \(m.containerID)-\(UInt64(m.containerID) + UInt64(m.size) - 1) overlaps \(path)[\(j)]")
                }
                if overlaps(m.hostID, m.size, o.hostID, o.size) {
                    throw SpecError(path: "\(path)[\(i)].hostID", "range \(m.hostID)-\(UInt64(m.hostID) + UInt64(m.size) - 1) overlaps \(path)[\(j)]")
                }
            }
        }
        if maps.count > 340 { throw SpecError(path: path, "the kernel takes at most 340 mappings") }
    }

    private static func overlaps(_ a: UInt32, _ an: UInt32, _ b: UInt32, _ bn: UInt32) -> Bool {
        UInt64(a) < UInt64(b) + UInt64(bn) && UInt64(b) < UInt64(a) + UInt64(an)
    }

    static func checkUTS(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        let uts = spec.linux?.namespaces?.first { $0.type == .uts }
        func check(_ name: String, _ value: String?) throws(SpecError) {
            guard let value, !value.isEmpty else { return }
            // A new uts namespace, or one joined by path (then the name is
            // set in it, as runc does): never the host's.
            if uts == nil {
                throw SpecError(path: name, "setting the \(name) needs a uts namespace in linux.namespaces (it would change the host's)")
            }
            if value.utf8.count > 64 { throw SpecError(path: name, "longer than 64 bytes") }
        }
        try check("hostname", spec.hostname)
        try check("domainname", spec.domainname)
        // kernel.hostname and kernel.domainname are the `hostname` and
        // `domainname` fields again: as runc and crun, the sysctl is refused
        // unless the field says the same (a different value, or none at
        // all, would have the two fight over one setting).
        for (name, value) in [("hostname", spec.hostname), ("domainname", spec.domainname)] {
            let key = "kernel.\(name)"
            guard let v = spec.linux?.sysctl?[key] else { continue }
            if value != v {
                let path = JSONPath.member("linux.sysctl", key)
                throw SpecError(
                    path: path,
                    value.map { "`\(v)` conflicts with \(name) `\($0)`: keep one" }
                        ?? "conflicts with the `\(name)` field: set \(name) instead")
            }
        }
    }

    static func checkTimeOffsets(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        guard let offsets = spec.linux?.timeOffsets, !offsets.isEmpty else { return }
        let time = spec.linux?.namespaces?.first { $0.type == .time }
        if time == nil || time?.path != nil {
            throw SpecError(path: "linux.timeOffsets", "offsets need a new time namespace in linux.namespaces")
        }
        for (clock, offset) in offsets {
            let path = JSONPath.member("linux.timeOffsets", clock)
            if clock != "monotonic" && clock != "boottime" {
                throw SpecError(path: path, "unknown clock `\(clock)` (offsets apply to `monotonic` and `boottime`)")
            }
            if let ns = offset.nanosecs, ns >= 1_000_000_000 {
                throw SpecError(path: "\(path).nanosecs", "\(ns) is not below one second")
            }
        }
    }

    /// Sysctls the container may set: those of a namespace it has of its own
    /// (runc's list). Anything else would change the host.
    static func checkSysctl(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        guard let sysctls = spec.linux?.sysctl else { return }
        let namespaces = spec.linux?.namespaces ?? []
        func has(_ t: NamespaceType) -> Bool { namespaces.contains { $0.type == t } }
        let ipc = [
            "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
            "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
        ]
        for (key, _) in sysctls {
            let path = JSONPath.member("linux.sysctl", key)
            let valid =
                !key.isEmpty && !key.hasPrefix(".") && !key.hasSuffix(".")
                && !key.utf8.indices.contains { i in
                    key.utf8[i] == 0x2e && key.utf8.index(after: i) < key.utf8.endIndex && key.utf8[key.utf8.index(after: i)] == 0x2e
                }
                && key.utf8.allSatisfy {
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d
                        || $0 == 0x2f
                }
            guard valid else { throw SpecError(path: path, "`\(key)` is not a sysctl name") }
            if ipc.contains(key) || key.hasPrefix("fs.mqueue.") {
                if !has(.ipc) { throw SpecError(path: path, "`\(key)` needs an ipc namespace of the container's own") }
            } else if key.hasPrefix("net.") {
                if !has(.network) { throw SpecError(path: path, "`\(key)` needs a network namespace of the container's own") }
            } else if key == "kernel.hostname" || key == "kernel.domainname" {
                if !has(.uts) { throw SpecError(path: path, "`\(key)` needs a uts namespace of the container's own") }
            } else {
                throw SpecError(path: path, "`\(key)` is not namespaced: setting it would change the host")
            }
        }
    }

    /// What libseccomp would refuse without naming the field.
    static func checkSeccomp(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        guard let sc = spec.linux?.seccomp else { return }
        let base = "linux.seccomp"
        func takesErrno(_ a: SeccompAction) -> Bool { a == .errno || a == .trace }
        if sc.defaultErrnoRet != nil && !takesErrno(sc.defaultAction) {
            throw SpecError(path: "\(base).defaultErrnoRet", "only goes with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not `\(sc.defaultAction.rawValue)`")
        }
        if sc.defaultAction == .notify {
            throw SpecError(path: "\(base).defaultAction", "SCMP_ACT_NOTIFY cannot be the default: the container's process could not hand its listener over")
        }
        let notifies = (sc.syscalls ?? []).contains { $0.action == .notify }
        if notifies && sc.listenerPath == nil {
            throw SpecError(path: "\(base).listenerPath", "required with SCMP_ACT_NOTIFY: the socket of the agent that gets the listener")
        }
        if let p = sc.listenerPath, !p.hasPrefix("/") {
            throw SpecError(path: "\(base).listenerPath", "must be an absolute path, got `\(p)`")
        }
        // The syscalls the container's process makes under the filter before
        // the agent has the listener: notifying one would wait forever.
        var beforeHandover = ["sendmsg"]
        if spec.process?.noNewPrivileges != true {
            // Loaded before the identity change (it needs CAP_SYS_ADMIN then).
            beforeHandover += ["prctl", "setgroups", "setresgid", "setresuid", "capset", "chdir", "getcwd", "umask"]
        }
        for (i, r) in (sc.syscalls ?? []).enumerated() {
            let path = "\(base).syscalls[\(i)]"
            if r.names.isEmpty { throw SpecError(path: "\(path).names", "names no syscall") }
            if r.action == .notify, let name = r.names.first(where: { beforeHandover.contains($0) }) {
                throw SpecError(
                    path: "\(path).names",
                    "`\(name)` cannot be SCMP_ACT_NOTIFY: the container's process calls it under the filter before the agent has the listener")
            }
            if r.errnoRet != nil && !takesErrno(r.action) {
                throw SpecError(path: "\(path).errnoRet", "only goes with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not `\(r.action.rawValue)`")
            }
            for (k, a) in (r.args ?? []).enumerated() where a.index > 5 {
                throw SpecError(path: "\(path).args[\(k)].index", "\(a.index) is not a syscall argument (0 to 5)")
            }
        }
    }

    static func checkPaths(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        func check(_ name: String, _ list: [String]?) throws(SpecError) {
            for (i, p) in (list ?? []).enumerated() where !ContainerPath.isAbsolute(p) {
                throw SpecError(path: "linux.\(name)[\(i)]", "must be an absolute path, got `\(p)`")
            }
        }
        try check("maskedPaths", spec.linux?.maskedPaths)
        try check("readonlyPaths", spec.linux?.readonlyPaths)
    }

    static func checkAnnotations(_ spec: Spec, _ host: HostFacts) throws(SpecError) {
        if let a = spec.annotations, a.keys.contains("") {
            throw SpecError(path: "annotations", "keys must not be empty")
        }
    }
}
