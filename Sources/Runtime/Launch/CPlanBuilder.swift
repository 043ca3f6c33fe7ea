import CShim
import Glibc
import OCISpec
import Planning
import Seccomp

/// The C plan (shim.h's `skiff_plan`) from a LaunchPlan and what the
/// launcher opened on the host. Pure: no system calls, no host probing;
/// every pointer is into `arena`, which must outlive the clone.
struct CPlanBuilder {
    /// Which process the plan makes.
    enum Mode {
        /// The container's first process; `start` connects to the listener
        /// (create), or -1 (run).
        case initial(startListener: Int32)
        /// A process that joins a running container: the namespaces (CLONE_NEW*
        /// flags) of the process behind `pidfd`.
        case exec(pidfd: Int32, namespaces: UInt32)
    }

    /// What the launcher opened or learned on the host.
    struct Host {
        var mode: Mode
        /// The child's end of the sync socket.
        var syncFd: Int32
        var preserveFds: UInt32 = 0
        var noPivot = false
        /// A connected console socket (or the terminal proxy's end), or -1.
        var consoleFd: Int32 = -1
        var sessionKeyring: String?
        var seccomp: SeccompProgram?
        /// Namespaces given by path, opened; a pid namespace is not among
        /// them (the parent joins it before the clone).
        var joins: [skiff_join] = []
        /// The v2 (or a hybrid host's unified) cgroup directory, or -1.
        var cgroupDir: Int32 = -1
        /// v1: each hierarchy's `tasks` file, opened for writing.
        var cgroupTasks: [Int32] = []
        var cgroupV1 = false
        /// systemd makes the cgroup once the child exists.
        var systemd = false
        /// v1 hierarchies made after the clone (InitLauncher): this many
        /// `tasks` files come with CGROUP_ACK.
        var lateTasks: Int? = nil
        /// euid 0 outside any user namespace.
        var hostRoot: Bool
        /// The highest capability the kernel knows.
        var capLast: UInt32
        /// What the start-up holds open (skiff_startup_fd), or -1: the child
        /// closes it before anything else.
        var startupFd: Int32 = -1
        /// A user namespace with a mount's own id mappings, by mount index
        /// (the indices `idmapNamespacesNeeded` names).
        var idmapNamespaces: [Int: Int32] = [:]
    }

    let plan: LaunchPlan
    let host: Host
    let arena: Arena

    var creates: Bool {
        if case .initial = host.mode { return true }
        return false
    }

    /// The plan, the fds the child keeps (every other one is closed), and
    /// the mounts the parent makes and sends (SKIFF_SYNC_MOUNTFDS).
    struct Built {
        var plan: skiff_plan
        var keep: [Int32]
        var parentTrees: [Int]
    }

    func build() -> Built {
        var c = skiff_plan()
        var keep = process(&c)
        let trees = Self.parentTrees(plan, hostRoot: host.hostRoot, creates: creates)
        keep += rootfs(&c, parentTrees: trees)
        identity(&c)
        scheduling(&c)
        keep.sort()
        c.n_keep_fds = UInt32(keep.count)
        c.keep_fds = arena.array(keep)
        return Built(plan: c, keep: keep, parentTrees: trees)
    }

    static func cloneFlag(_ type: NamespaceType) -> Int32 {
        switch type {
        case .pid: return CLONE_NEWPID
        case .network: return CLONE_NEWNET
        case .mount: return CLONE_NEWNS
        case .ipc: return CLONE_NEWIPC
        case .uts: return CLONE_NEWUTS
        case .user: return CLONE_NEWUSER
        case .cgroup: return CLONE_NEWCGROUP
        case .time: return CLONE_NEWTIME
        }
    }

    /// Binds the parent makes: root's idmapped ones (it is privileged over
    /// the filesystem), and, for root's container with a user namespace of
    /// its own, every one (once in it the child has no privilege over the
    /// host's files: a source under a directory only root may search is out
    /// of its reach; runc does the same).
    static func parentTrees(_ plan: LaunchPlan, hostRoot: Bool, creates: Bool) -> [Int] {
        let all = hostRoot && creates && plan.userNamespace != nil
        let trees = plan.mounts.indices.filter { i in
            guard case .bind = plan.mounts[i].kind else { return false }
            return hostRoot && (plan.mounts[i].idmap != nil || all)
        }
        return Array(trees.prefix(Int(SKIFF_MAX_PARENT_TREES)))
    }

    /// Mounts the child makes detached and idmaps with a user namespace the
    /// launcher makes beforehand (one with the mount's own mappings).
    static func idmapNamespacesNeeded(_ plan: LaunchPlan) -> [Int] {
        plan.mounts.indices.filter { i in
            let m = plan.mounts[i]
            guard let idmap = m.idmap else { return false }
            return m.detachedForm != nil && !idmap.containerNamespace
        }
    }

    // MARK: the process: fds, namespaces, cgroups, the wire's header

    private func process(_ c: inout skiff_plan) -> [Int32] {
        c.version = UInt32(SKIFF_PLAN_VERSION)
        c.stage_name = arena.string(creates ? "skiff:[INIT]" : "skiff:[EXEC]")
        c.sync_fd = host.syncFd
        c.start_fd = -1
        c.startup_fd = host.startupFd
        c.preserve_fds = host.preserveFds
        c.session_keyring = arena.string(host.sessionKeyring)
        var keep = [host.syncFd] + host.joins.map(\.fd)
        c.console_fd = -1
        if plan.terminal && host.consoleFd >= 0 {
            c.console_fd = host.consoleFd
            keep.append(host.consoleFd)
            c.console_path = creates ? arena.string("dev/console") : nil
            c.console_rows = plan.consoleSize?.rows ?? 0
            c.console_cols = plan.consoleSize?.cols ?? 0
        }
        c.join_pidfd = -1
        switch host.mode {
        case let .initial(listener):
            c.start_fd = listener
            if listener >= 0 { keep.append(listener) }
        case let .exec(pidfd, namespaces):
            c.exec_join = 1
            c.join_pidfd = pidfd
            c.join_flags = namespaces
            keep.append(pidfd)
        }
        c.n_joins = UInt32(host.joins.count)
        c.joins = arena.array(host.joins)
        keep += cgroups(&c)
        c.wait_usermap = creates && plan.userNamespace != nil ? 1 : 0
        c.early_binds = creates && (plan.userNamespace != nil || plan.bindsKeepHostPeers) ? 1 : 0
        // Root of a user namespace (rootless podman's runtime) is not root
        // of the host: like any other unprivileged parent it writes the
        // child's maps while the child is still dumpable (its /proc files
        // are then the caller's), not only when euid says so.
        c.unprivileged_parent = creates && (!host.hostRoot || plan.userNamespace.map { $0.writer != .direct } == true) ? 1 : 0
        c.userns_root = creates && plan.userNamespace?.rootMapped == true ? 1 : 0
        c.new_timens = creates && plan.creates(.time) ? 1 : 0
        c.timens_offsets = creates && plan.creates(.time) && plan.timeOffsets != nil ? 1 : 0
        return keep
    }

    /// Clone flags and cgroup placement. v2 (and a hybrid host's unified
    /// hierarchy): born in the cgroup. v1 has no CLONE_INTO_CGROUP: the
    /// child writes itself into each hierarchy's `tasks` first thing
    /// (shim.c says why not the parent); a cgroup namespace comes after
    /// that, as it does when systemd places the process. exec's joining
    /// process does the same, and its clone inherits the cgroups.
    private func cgroups(_ c: inout skiff_plan) -> [Int32] {
        var flags: UInt64 = 0
        for ns in plan.namespaces where ns.path == nil && ns.type != .time && creates {
            flags |= UInt64(UInt32(bitPattern: Self.cloneFlag(ns.type)))
        }
        let late = creates && plan.creates(.cgroup) && (host.cgroupV1 || host.systemd)
        if late {
            flags &= ~UInt64(UInt32(bitPattern: CLONE_NEWCGROUP))
            c.cgroupns_late = 1
        }
        if let n = host.lateTasks, creates {
            c.n_cgroup_tasks = UInt32(n)
        } else if host.cgroupV1 {
            c.n_cgroup_tasks = UInt32(host.cgroupTasks.count)
            c.cgroup_tasks = arena.array(host.cgroupTasks)
        }
        c.cgroup_late = (host.systemd || host.lateTasks != nil) && creates ? 1 : 0
        c.cgroup_wait_mount = UInt32(Self.firstNeedingCgroup(plan.mounts))
        c.cgroup_fd = host.cgroupDir
        c.clone_flags = flags
        return host.cgroupV1 ? host.cgroupTasks : []
    }

    /// The first mount that needs the container's cgroup (or its cgroup
    /// namespace): one of or below /sys/fs/cgroup, a cgroup filesystem, a
    /// bind from the cgroup hierarchies. A cgroup made after the clone is
    /// waited for there; the mounts before it are made meanwhile.
    static func firstNeedingCgroup(_ mounts: [MountPlan]) -> Int {
        mounts.firstIndex { m in
            let below = m.target == "sys/fs/cgroup" || m.target.hasPrefix("sys/fs/cgroup/")
            switch m.kind {
            case let .filesystem(type, _, _, _): return below || type.hasPrefix("cgroup")
            case let .bind(source, _): return below || bindsFromCgroups(source)
            case .attributes: return below
            }
        } ?? mounts.count
    }

    /// A bind source in the cgroup hierarchies (SKIFF_MF_CGROUP_SOURCE): a
    /// cgroup made after the clone may not exist yet when the child opens
    /// the other sources, so the child opens these at their turn.
    static func bindsFromCgroups(_ source: String) -> Bool {
        source == CgroupDir.mountPoint || source.hasPrefix(CgroupDir.mountPoint + "/")
    }

    // MARK: the root filesystem

    private func rootfs(_ c: inout skiff_plan, parentTrees: [Int]) -> [Int32] {
        c.rootfs = arena.string(plan.rootfs)
        c.root_propagation = plan.rootPropagation
        c.rootfs_propagation = plan.rootfsPropagation
        c.rootfs_readonly = plan.readonlyRootfs ? 1 : 0
        c.no_pivot = host.noPivot ? 1 : 0
        var keep: [Int32] = []
        var mounts: [skiff_mount] = []
        for (i, m) in plan.mounts.enumerated() {
            var cm = Self.cMount(m, arena)
            if parentTrees.contains(i) { cm.flags |= UInt32(SKIFF_MF_FROM_PARENT.rawValue) }
            if let idmap = m.idmap {
                // A filesystem the child makes is idmapped by the child: with
                // its own user namespace, or one with the mount's mappings.
                // An unprivileged child idmaps its binds itself, too.
                if m.detachedForm != nil {
                    cm.idmap_recursive = idmap.recursive ? 1 : 0
                    if idmap.containerNamespace {
                        cm.flags |= UInt32(SKIFF_MF_IDMAP_SELF.rawValue)
                    } else if let fd = host.idmapNamespaces[i] {
                        cm.userns_fd = fd
                        keep.append(fd)
                    }
                } else if !host.hostRoot {
                    cm.flags |= UInt32(SKIFF_MF_IDMAP_SELF.rawValue)
                }
            }
            mounts.append(cm)
        }
        c.n_mounts = UInt32(plan.mounts.count)
        c.mounts = arena.array(mounts)
        c.n_parent_trees = UInt32(parentTrees.count)
        c.n_dirs = UInt32(plan.directories.count)
        c.dirs = arena.strings(plan.directories)
        c.n_devices = UInt32(plan.devices.count)
        c.devices = arena.array(
            plan.devices.map { d in
                skiff_device(
                    path: arena.string(d.path), mode: d.mode, rdev: skiff_makedev(d.major, d.minor),
                    uid: d.uid, gid: d.gid, flags: d.bindFromHost == nil ? 0 : UInt32(SKIFF_DEV_BIND.rawValue),
                    host_path: arena.string(d.bindFromHost))
            })
        c.n_symlinks = UInt32(plan.symlinks.count)
        c.symlinks = arena.array(plan.symlinks.map { skiff_symlink(target: arena.string($0.target), path: arena.string($0.path)) })
        c.n_late_readonly = UInt32(plan.lateReadonly.count)
        c.late_readonly = arena.array(plan.lateReadonly.map { UInt32($0) })
        c.n_sysctls = UInt32(plan.sysctls.count)
        c.sysctl_paths = arena.strings(plan.sysctls.map(\.path))
        c.sysctl_values = arena.strings(plan.sysctls.map(\.value))
        c.n_masked = UInt32(plan.maskedPaths.count)
        c.masked = arena.strings(plan.maskedPaths)
        c.n_readonly = UInt32(plan.readonlyPaths.count)
        c.readonly = arena.strings(plan.readonlyPaths)
        c.hooks_sync = plan.hooks.needsCreateSync ? 1 : 0
        c.n_create_hooks = UInt32(plan.hooks.createContainer.count)
        c.create_hooks = hooks(plan.hooks.createContainer)
        c.n_start_hooks = UInt32(plan.hooks.startContainer.count)
        c.start_hooks = hooks(plan.hooks.startContainer)
        return keep
    }

    private func hooks(_ hooks: [HookPlan]) -> UnsafePointer<skiff_hook>? {
        arena.array(
            hooks.map { h in
                skiff_hook(
                    path: arena.string(h.path), argv: arena.strings(h.argv), envp: arena.strings(h.env ?? plan.env),
                    timeout_ms: h.timeoutMillis)
            })
    }

    static func cMount(_ m: MountPlan, _ arena: Arena) -> skiff_mount {
        var c = skiff_mount()
        switch m.kind {
        case let .filesystem(type, source, _, _):
            c.kind = UInt32(SKIFF_MOUNT_FS.rawValue)
            c.fstype = arena.string(type)
            c.source = arena.string(source)
        case let .bind(source, recursive):
            c.kind = UInt32(SKIFF_MOUNT_BIND.rawValue)
            c.source = arena.string(source)
            if recursive { c.flags |= UInt32(SKIFF_MF_RECURSIVE.rawValue) }
            if bindsFromCgroups(source) { c.flags |= UInt32(SKIFF_MF_CGROUP_SOURCE.rawValue) }
        case .attributes:
            c.kind = UInt32(SKIFF_MOUNT_ATTR.rawValue)
        }
        if m.keepLocked { c.flags |= UInt32(SKIFF_MF_KEEP_LOCKED.rawValue) }
        if m.noSymlinks { c.flags |= UInt32(SKIFF_MF_NO_SYMLINKS.rawValue) }
        if m.procAllowed { c.flags |= UInt32(SKIFF_MF_PROC_OK.rawValue) }
        if m.keepTargetMode { c.flags |= UInt32(SKIFF_MF_KEEP_MODE.rawValue) }
        if m.copyUp { c.flags |= UInt32(SKIFF_MF_COPY_UP.rawValue) }
        c.target = arena.string(m.target)
        c.attr_set = m.attrSet
        c.attr_clr = m.attrClear
        if let fs = m.detachedForm {
            c.data = arena.string(fs.data)
            c.attr_set = fs.attrSet
            c.attr_clr = fs.attrClear
        }
        c.rattr_set = m.recursiveAttrSet
        c.rattr_clr = m.recursiveAttrClear
        c.propagation = m.propagation
        c.propagation_recursive = m.propagationRecursive ? 1 : 0
        c.userns_fd = -1
        return c
    }

    // MARK: identity and the process to exec

    private func identity(_ c: inout skiff_plan) {
        c.hostname = arena.string(plan.hostname)
        c.domainname = arena.string(plan.domainname)
        c.loopback_up = plan.loopbackUp ? 1 : 0
        c.apparmor_exec = arena.string(plan.apparmorExec)
        c.selinux_exec = arena.string(plan.selinuxExec)
        c.uid = plan.uid
        c.gid = plan.gid
        c.set_groups = plan.setGroups ? 1 : 0
        c.n_groups = UInt32(plan.additionalGids.count)
        c.groups = arena.array(plan.additionalGids.map { gid_t($0) })
        c.umask = plan.umask
        c.cap_last = host.capLast
        c.cap_bounding = plan.capabilities.bounding
        c.cap_effective = plan.capabilities.effective
        c.cap_permitted = plan.capabilities.permitted
        c.cap_inheritable = plan.capabilities.inheritable
        c.cap_ambient = plan.capabilities.ambient
        c.no_new_privs = plan.noNewPrivileges ? 1 : 0
        if let program = host.seccomp {
            c.seccomp_filter = UnsafeRawPointer(arena.array(program.instructions))
            c.seccomp_len = UInt32(program.instructions.count)
            c.seccomp_flags = program.flags
            // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN,
            // which the identity change may drop: then it is loaded before.
            c.seccomp_early = plan.noNewPrivileges ? 0 : 1
            c.seccomp_listener = plan.seccomp?.listenerPath == nil ? 0 : 1
        }
        c.cwd = arena.string(plan.cwd)
        let cwdInRoot = ContainerPath.relative(plan.cwd)
        c.cwd_in_root = cwdInRoot.isEmpty ? nil : arena.string(cwdInRoot)
        c.n_exec_paths = UInt32(plan.execPaths.count)
        c.exec_paths = arena.strings(plan.execPaths)
        c.argv = arena.strings(plan.args)
        c.envp = arena.strings(plan.env)
    }

    /// Limits, personality, scheduler, I/O priority, memory policy, CPUs.
    private func scheduling(_ c: inout skiff_plan) {
        c.n_rlimits = UInt32(plan.rlimits.count)
        c.rlimits = arena.array(plan.rlimits.map { skiff_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard) })
        switch plan.personality {
        case .linux?: c.personality = Int32(PER_LINUX)
        case .linux32?: c.personality = Int32(PER_LINUX32)
        case nil: c.personality = -1
        }
        c.sched_attr = nil
        if let sp = plan.scheduler {
            let attr = skiff_sched_attr(
                size: UInt32(MemoryLayout<skiff_sched_attr>.size), sched_policy: sp.policy,
                sched_flags: sp.flags, sched_nice: sp.nice, sched_priority: sp.priority,
                sched_runtime: sp.runtime, sched_deadline: sp.deadline, sched_period: sp.period,
                sched_util_min: 0, sched_util_max: 1024)
            c.sched_attr = UnsafeRawPointer(arena.array([attr]))
        }
        c.ioprio = plan.ioPriority ?? -1
        c.mempolicy_mode = plan.memoryPolicy?.mode ?? -1
        if let mp = plan.memoryPolicy, !mp.nodes.isEmpty {
            c.mempolicy_nodes = arena.array(mp.nodes)
            c.mempolicy_maxnode = UInt32(mp.nodes.count * 64)
        }
        let words = max(plan.cpusInitial?.count ?? 0, plan.cpusFinal?.count ?? 0)
        func padded(_ m: [UInt64]?) -> [UInt64]? { m.map { $0 + [UInt64](repeating: 0, count: words - $0.count) } }
        c.cpus_words = UInt32(words)
        c.cpus_initial = padded(plan.cpusInitial).flatMap { arena.array($0) }
        c.cpus_final = padded(plan.cpusFinal).flatMap { arena.array($0) }
    }
}
