import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Seccomp

/// The container's first process, cloned and waiting before execve.
final class Launched {
    private(set) var pid: Int32
    private(set) var pidfd: FileDescriptor
    /// Parent's end of the sync socket.
    let sync: FileDescriptor
    fileprivate(set) var startTime: UInt64
    let plan: LaunchPlan
    private let renderer: FailureRenderer

    fileprivate init(
        pid: Int32, pidfd: consuming FileDescriptor, sync: consuming FileDescriptor,
        startTime: UInt64, plan: LaunchPlan, renderer: FailureRenderer
    ) {
        self.pid = pid
        self.pidfd = pidfd
        self.sync = sync
        self.startTime = startTime
        self.plan = plan
        self.renderer = renderer
    }

    /// exec: the process that joined the container cloned the one that runs
    /// the plan (a child of ours) and exited; from now on that one is it.
    fileprivate func replace(pid: Int32, pidfd: consuming FileDescriptor) {
        _ = try? Sys.waitExit(pidfd: self.pidfd.raw, "exec join process")
        self.pid = pid
        self.pidfd = pidfd
    }

    func send(_ type: skiff_sync) throws(RuntimeError) {
        try sys { () throws(SysError) in
            try Sys.send(sync.raw, skiff_msg(type: type.rawValue, step: 0, error: 0, index: -1), "sync")
        }
    }

    /// The next message and the fd that came with it (a hook's output with
    /// a failure record), or nil at end of file.
    func receive() throws(RuntimeError) -> Received? {
        try Received.from(sync.raw, "sync")
    }

    /// The next message must be `type`: a failure record is the child's
    /// error; anything else stops the launch with both names.
    func expect(_ type: skiff_sync) throws(RuntimeError) {
        guard let got = try receive() else { throw .message("the container process exited during setup") }
        let msg = got.msg
        if msg.type == type.rawValue { return }
        if msg.type == SKIFF_SYNC_ERROR.rawValue { throw failure(msg, detail: got.fd) }
        throw .message("sync: expected \(String(cString: skiff_sync_name(type.rawValue))), got \(String(cString: skiff_sync_name(msg.type)))")
    }

    /// After START: end of file means execve succeeded; a record means it failed.
    func awaitExec() throws(RuntimeError) {
        guard let got = try receive() else { return }
        throw failure(got.msg, detail: got.fd)
    }

    func failure(_ msg: skiff_msg, detail: Int32 = -1) -> RuntimeError {
        kill()
        return renderer.render(msg, detail: HookRunner.output(detail))
    }

    /// SIGKILL through the pidfd, then reap: nothing is left behind.
    func kill() {
        _ = try? Sys.pidfdSendSignal(pidfd.raw, SIGKILL, "container process")
        _ = try? Sys.waitExit(pidfd: pidfd.raw, "container process")
    }
}

/// A message from the child and the fd that may come with it: a seccomp
/// listener with READY, a hook's output with a failure record.
struct Received: ~Copyable {
    let msg: skiff_msg
    /// Owned: closed with the message; -1 when none came.
    let fd: Int32

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// nil at end of file.
    static func from(_ sock: Int32, _ what: String) throws(RuntimeError) -> Received? {
        var msg = skiff_msg()
        var raw: Int32 = -1
        let got = skiff_recv_with_fd(sock, &msg, &raw)
        if got <= 0 {
            if raw >= 0 { _ = Glibc.close(raw) }
            if got < 0 { throw .system(SysError("receive", what, errno: Errno(-got))) }
            return nil
        }
        return Received(msg: msg, fd: raw)
    }
}

enum Launcher {
    struct Options {
        var id: String
        /// Listening socket `start` connects to (create), or -1 (run).
        var startListener: Int32 = -1
        var preserveFds: UInt32 = 0
        var noPivot = false
        var seccomp: SeccompProgram?
        /// For the state a seccomp agent receives.
        var bundle = ""
        /// Made before the clone: the child is born in its v2 directory
        /// (CLONE_INTO_CGROUP) and moved into v1 ones right after.
        var cgroup: Cgroup?
        /// --systemd-cgroup: systemd makes the cgroup once the child exists
        /// (it needs the pid); the child waits for that first.
        var systemd: SystemdPlacement?
        /// A connected console socket for process.terminal, or -1.
        var consoleFd: Int32 = -1
        /// exec: join the namespaces of this running container instead of
        /// making a container.
        var execJoin: ExecJoin?
        /// The session keyring the process joins ("_ses.<id>"), or nil:
        /// it keeps the caller's (--no-new-keyring).
        var sessionKeyring: String?
    }

    struct ExecJoin {
        /// The container's first process (checked against its record).
        var pidfd: Int32
        /// CLONE_NEW* of its namespaces to join.
        var flags: UInt32
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

    /// Clones the first process, runs the parent's part of the protocol, and
    /// returns once it reports READY. On failure the process is gone.
    static func spawn(_ plan: LaunchPlan, _ options: Options, log: Log) throws(RuntimeError) -> Launched {
        let fds = FileDescriptorSet()
        defer { fds.closeAll() }
        let arena = Arena()

        // Namespaces given by path are opened (and their type checked) here,
        // the user namespace first. A pid namespace is joined by the parent:
        // setns(CLONE_NEWPID) only affects children, so the clone lands in it.
        var joins: [skiff_join] = []
        var joined: [NamespacePlan] = []
        var pidJoin: Int32 = -1
        let exec = options.execJoin
        let creates = exec == nil
        for ns in plan.namespaces.sorted(by: { ($0.type == .user ? 0 : 1) < ($1.type == .user ? 0 : 1) }) where exec == nil {
            guard let path = ns.path else { continue }
            let flag = cloneFlag(ns.type)
            let fd = try openNamespace(path, ns, flag)
            if ns.type == .mount { try checkNotOurMountNamespace(fd.raw, ns) }
            let raw = fds.adopt(fd)
            if ns.type == .pid {
                pidJoin = raw
            } else {
                joins.append(skiff_join(fd: raw, nstype: flag))
                joined.append(ns)
            }
        }

        let (parentEnd, childEnd) = try sys { () throws(SysError) in try Sys.socketpair() }
        let sync = FileDescriptor(adopting: parentEnd)
        let childSync = FileDescriptor(adopting: childEnd)

        var c = skiff_plan()
        c.version = UInt32(SKIFF_PLAN_VERSION)
        c.stage_name = arena.string(exec == nil ? "skiff:[INIT]" : "skiff:[EXEC]")
        c.sync_fd = childSync.raw
        c.start_fd = options.startListener
        c.cgroup_fd = -1
        c.preserve_fds = options.preserveFds
        var keep = [childSync.raw] + joins.map(\.fd)
        if options.startListener >= 0 { keep.append(options.startListener) }
        c.console_fd = -1
        if plan.terminal && options.consoleFd >= 0 {
            c.console_fd = options.consoleFd
            keep.append(options.consoleFd)
            c.console_path = creates ? arena.string("dev/console") : nil
            c.console_rows = plan.consoleSize?.rows ?? 0
            c.console_cols = plan.consoleSize?.cols ?? 0
        }
        var flags: UInt64 = 0
        for ns in plan.namespaces where ns.path == nil && ns.type != .time && exec == nil {
            flags |= UInt64(UInt32(bitPattern: cloneFlag(ns.type)))
        }
        // v2 (and a hybrid host's unified hierarchy): born in the cgroup.
        // v1 has no CLONE_INTO_CGROUP: the child writes itself into each
        // hierarchy's `tasks` first thing (shim.c says why not the parent),
        // through files opened here; a cgroup namespace comes after that.
        // exec's joining process does the same, and its clone inherits the
        // cgroups.
        var cgroupDir: FileDescriptor? = nil
        var renderer = FailureRenderer(plan: plan, joined: joined)
        if let cg = options.cgroup {
            if let u = cg.unified {
                cgroupDir = try sys { () throws(SysError) in try Sys.open(u.hostPath, O_RDONLY | O_DIRECTORY) }
            }
            if cg.version == .v1 {
                let paths = cg.v1TasksFiles(skipUnified: cgroupDir != nil)
                var tasks: [Int32] = []
                for path in paths {
                    let fd = try sys { () throws(SysError) in try Sys.open(path, O_WRONLY) }
                    tasks.append(fds.adopt(fd))
                }
                keep += tasks
                c.n_cgroup_tasks = UInt32(tasks.count)
                c.cgroup_tasks = arena.array(tasks)
                renderer.cgroupTasks = paths
                if creates && plan.creates(.cgroup) {
                    flags &= ~UInt64(UInt32(bitPattern: CLONE_NEWCGROUP))
                    c.cgroupns_late = 1
                }
            }
        }
        if options.systemd != nil && exec == nil {
            c.cgroup_first = 1
            if plan.creates(.cgroup) {
                flags &= ~UInt64(UInt32(bitPattern: CLONE_NEWCGROUP))
                c.cgroupns_late = 1
            }
        }
        c.cgroup_fd = cgroupDir?.raw ?? -1
        c.clone_flags = flags
        c.wait_usermap = creates && plan.userNamespace != nil ? 1 : 0
        c.early_binds = creates && (plan.userNamespace != nil || plan.bindsKeepHostPeers) ? 1 : 0
        // Root of a user namespace (rootless podman's runtime) is not root
        // of the host: like any other unprivileged parent it writes the
        // child's maps while the child is still dumpable (its /proc files
        // are then the caller's), not only when euid says so.
        let hostRoot = Sys.euid == 0 && !Proc.inUserNamespace()
        c.unprivileged_parent = creates && (!hostRoot || plan.userNamespace.map { $0.writer != .direct } == true) ? 1 : 0
        c.userns_root = creates && plan.userNamespace?.rootMapped == true ? 1 : 0
        c.join_pidfd = -1
        c.session_keyring = arena.string(options.sessionKeyring)
        if let exec {
            c.exec_join = 1
            c.join_pidfd = exec.pidfd
            c.join_flags = exec.flags
            keep.append(exec.pidfd)
        }
        c.n_joins = UInt32(joins.count)
        c.joins = arena.array(joins)
        c.new_timens = creates && plan.creates(.time) ? 1 : 0
        c.timens_offsets = creates && plan.creates(.time) && plan.timeOffsets != nil ? 1 : 0

        c.rootfs = arena.string(plan.rootfs)
        c.root_propagation = plan.rootPropagation
        c.rootfs_propagation = plan.rootfsPropagation
        c.rootfs_readonly = plan.readonlyRootfs ? 1 : 0
        c.no_pivot = options.noPivot ? 1 : 0
        // Idmapped binds: root's parent makes them (it is privileged over the
        // filesystem); an unprivileged child tries with its own user namespace.
        // A filesystem the child makes is idmapped by the child: with its own
        // user namespace, or one with the mount's mappings made here.
        let byParent = Sys.euid == 0 && !Proc.inUserNamespace()
        // Root's container with a user namespace of its own: once in it the
        // child has no privilege over the host's files (a source under a
        // directory only root may search is out of its reach), so root's
        // parent opens every bind source, as runc does (runc compat #24).
        let parentOpensBinds = byParent && creates && plan.userNamespace != nil
        let parentTrees = Array(
            plan.mounts.indices.filter { i in
                let m = plan.mounts[i]
                guard case .bind = m.kind else { return false }
                return byParent && (m.idmap != nil || parentOpensBinds)
            }.prefix(Int(SKIFF_MAX_PARENT_TREES)))
        var cmounts: [skiff_mount] = []
        for (i, m) in plan.mounts.enumerated() {
            var cm = cMount(m, arena)
            if parentTrees.contains(i) { cm.flags |= UInt32(SKIFF_MF_FROM_PARENT.rawValue) }
            if let idmap = m.idmap {
                if m.detachedForm != nil {
                    cm.idmap_recursive = idmap.recursive ? 1 : 0
                    if idmap.containerNamespace {
                        cm.flags |= UInt32(SKIFF_MF_IDMAP_SELF.rawValue)
                    } else {
                        cm.userns_fd = fds.adopt(try userNamespace(idmap, origin: m.origin, log: log))
                        keep.append(cm.userns_fd)
                    }
                } else if !byParent {
                    cm.flags |= UInt32(SKIFF_MF_IDMAP_SELF.rawValue)
                }
            }
            cmounts.append(cm)
        }
        keep.sort()
        c.n_keep_fds = UInt32(keep.count)
        c.keep_fds = arena.array(keep)
        c.n_mounts = UInt32(plan.mounts.count)
        c.mounts = arena.array(cmounts)
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

        func cHooks(_ hooks: [HookPlan]) -> UnsafePointer<skiff_hook>? {
            arena.array(
                hooks.map { h in
                    skiff_hook(
                        path: arena.string(h.path), argv: arena.strings(h.argv), envp: arena.strings(h.env ?? plan.env),
                        timeout_ms: h.timeoutMillis)
                })
        }
        c.hooks_sync = plan.hooks.needsCreateSync ? 1 : 0
        c.n_create_hooks = UInt32(plan.hooks.createContainer.count)
        c.create_hooks = cHooks(plan.hooks.createContainer)
        c.n_start_hooks = UInt32(plan.hooks.startContainer.count)
        c.start_hooks = cHooks(plan.hooks.startContainer)

        c.hostname = arena.string(plan.hostname)
        c.domainname = arena.string(plan.domainname)
        c.loopback_up = plan.loopbackUp ? 1 : 0
        c.n_rlimits = UInt32(plan.rlimits.count)
        c.rlimits = arena.array(plan.rlimits.map { skiff_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard) })
        switch plan.personality {
        case .linux?: c.personality = Int32(PER_LINUX)
        case .linux32?: c.personality = Int32(PER_LINUX32)
        case nil: c.personality = -1
        }
        c.apparmor_exec = arena.string(plan.apparmorExec)
        c.selinux_exec = arena.string(plan.selinuxExec)
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
        c.uid = plan.uid
        c.gid = plan.gid
        c.set_groups = plan.setGroups ? 1 : 0
        c.n_groups = UInt32(plan.additionalGids.count)
        c.groups = arena.array(plan.additionalGids.map { gid_t($0) })
        c.umask = plan.umask
        c.cap_last = UInt32(HostProbe.capLast())
        c.cap_bounding = plan.capabilities.bounding
        c.cap_effective = plan.capabilities.effective
        c.cap_permitted = plan.capabilities.permitted
        c.cap_inheritable = plan.capabilities.inheritable
        c.cap_ambient = plan.capabilities.ambient
        c.no_new_privs = plan.noNewPrivileges ? 1 : 0
        if let program = options.seccomp {
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

        // Single-threaded at the clone: the child is a copy of this one thread.
        let threads = Proc.threadCount()
        log.debug("spawn: threads=\(threads) clone_flags=0x\(String(flags, radix: 16)) mounts=\(plan.mounts.count)")
        guard threads == 1 else {
            throw .message("refusing to clone: skiff has \(threads) threads (it must be single-threaded at the clone)")
        }
        if pidJoin >= 0, skiff_setns(pidJoin, CLONE_NEWPID) != 0 {
            let ns = plan.namespaces.first { $0.type == .pid }
            throw .context(ns?.origin ?? "linux.namespaces", .system(SysError("join pid namespace", ns?.path, errno: .current)))
        }

        var pidfdRaw: Int32 = -1
        let pid = withExtendedLifetime(arena) { skiff_spawn(&c, &pidfdRaw) }
        // The child has its own copy of its end of the socket pair; ours goes.
        _ = consume childSync
        guard pid > 0 else { throw .system(SysError("clone3", nil, errno: Errno(-pid))) }
        let launched = Launched(
            pid: pid, pidfd: FileDescriptor(adopting: pidfdRaw), sync: sync,
            startTime: 0, plan: plan, renderer: renderer)
        do throws(RuntimeError) {
            if let placement = options.systemd, exec == nil {
                try placement.place(pid)
                try launched.send(SKIFF_SYNC_CGROUP_ACK)
            }
            if exec != nil {
                try joinContainer(launched)
            }
            if creates, let userns = plan.userNamespace {
                try IDMaps.write(userns, pid: pid, log: log)
                try launched.send(SKIFF_SYNC_USERMAP_ACK)
            }
            if !parentTrees.isEmpty {
                try sendParentTrees(plan, parentTrees, to: launched, arena: arena, log: log)
            }
            if !plan.netDevices.isEmpty { try NetDevices.moveIn(plan.netDevices, pid: pid) }
            if let offsets = plan.timeOffsets, plan.creates(.time) {
                try launched.expect(SKIFF_SYNC_TIMEOFFSETS_PLS)
                do {
                    let path = "/proc/\(pid)/timens_offsets"
                    let fd = try Sys.open(path, O_WRONLY)
                    try Sys.write(fd.raw, offsets, path)
                } catch {
                    throw RuntimeError.context("linux.timeOffsets", .system(error))
                }
                try launched.send(SKIFF_SYNC_TIMEOFFSETS_ACK)
            }
            if let adj = plan.oomScoreAdj {
                let path = "/proc/\(launched.pid)/oom_score_adj"
                try sys { () throws(SysError) in
                    let fd = try Sys.open(path, O_WRONLY)
                    try Sys.write(fd.raw, "\(adj)", path)
                }
            }
            if plan.hooks.needsCreateSync {
                try launched.expect(SKIFF_SYNC_HOOKS_PLS)
                try runCreateHooks(plan, options, pid: pid, launched, log: log)
            }
            guard let ready = try launched.receive() else {
                let status = (try? Sys.waitExit(pidfd: launched.pidfd.raw, "container process")) ?? -1
                throw RuntimeError.message("the container process exited during setup (status \(status))")
            }
            if ready.msg.type != SKIFF_SYNC_READY.rawValue { throw launched.failure(ready.msg, detail: ready.fd) }
            if let path = plan.seccomp?.listenerPath {
                let listener = ready.fd
                guard listener >= 0 else {
                    throw RuntimeError.message("linux.seccomp.listenerPath: the container process sent no seccomp listener")
                }
                try SeccompAgent.send(
                    listener, to: path, metadata: plan.seccomp?.listenerMetadata,
                    id: options.id, pid: launched.pid, bundle: options.bundle, annotations: plan.annotations)
            }
            guard let st = Proc.stat(launched.pid) else {
                throw RuntimeError.message("the container process \(launched.pid) vanished after setup")
            }
            launched.startTime = st.startTime
        } catch {
            launched.kill()
            throw error
        }
        return launched
    }

    /// exec: the joining process is in the container's cgroups before it
    /// clones (v2: born there; v1: it moved itself); then it reports its
    /// clone, which takes its place.
    static func joinContainer(_ launched: Launched) throws(RuntimeError) {
        guard let got = try launched.receive() else {
            throw .message("the exec process exited before it joined the container")
        }
        if got.msg.type == SKIFF_SYNC_ERROR.rawValue { throw launched.failure(got.msg, detail: got.fd) }
        guard got.msg.type == SKIFF_SYNC_EXEC_PID.rawValue, got.msg.index > 0 else {
            throw .message("sync: expected SKIFF_SYNC_EXEC_PID, got \(String(cString: skiff_sync_name(got.msg.type)))")
        }
        let pid = got.msg.index
        // Our child (CLONE_PARENT), not reaped: the pid is still its own.
        let fd = try sys { () throws(SysError) in try Sys.pidfdOpen(pid) }
        launched.replace(pid: pid, pidfd: fd)
    }

    /// The mounts are made and pivot_root is next: prestart and
    /// createRuntime run here, in the runtime namespace, then the child
    /// gets the state for its own hooks (createContainer, startContainer).
    static func runCreateHooks(
        _ plan: LaunchPlan, _ options: Options, pid: Int32, _ child: Launched,
        log: Log
    ) throws(RuntimeError) {
        let creating = HookRunner.state(
            id: options.id, status: .creating, pid: pid, bundle: options.bundle,
            annotations: plan.annotations)
        try HookRunner.run(plan.hooks.prestart, state: creating, log: log)
        try HookRunner.run(plan.hooks.createRuntime, state: creating, log: log)
        let created = HookRunner.state(
            id: options.id, status: .created, pid: pid, bundle: options.bundle,
            annotations: plan.annotations)
        let fds = FileDescriptorSet()
        _ = fds.adopt(try HookRunner.stateFile(creating))
        _ = fds.adopt(try HookRunner.stateFile(created))
        let r = fds.fds.withUnsafeBufferPointer { skiff_send_fds(child.sync.raw, SKIFF_SYNC_HOOKS_ACK.rawValue, $0.baseAddress, 2) }
        if r < 0 { throw .system(SysError("send hook state", nil, errno: Errno(-r))) }
    }
}
