import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// What the init and exec launchers share: the socket pair, the clone, the
/// cgroup files the child is placed with, and the end of the protocol
/// (READY with an optional seccomp listener).
enum Launcher {
    /// The socket pair: ours (wrapped in a SyncChannel) and the child's
    /// end, which goes in the plan; both close on exec.
    static func socketPair() throws(RuntimeError) -> (parent: Int32, child: Int32) {
        try sys { () throws(SysError) in try Sys.socketpair() }
    }

    /// The host side of the builder that every launch has.
    static func host(_ mode: CPlanBuilder.Mode, syncFd: Int32) -> CPlanBuilder.Host {
        CPlanBuilder.Host(
            mode: mode, syncFd: syncFd, hostRoot: Sys.euid == 0 && !Proc.inUserNamespace(),
            capLast: UInt32(HostProbe.capLast()), startupFd: skiff_startup_fd())
    }

    /// The cgroup the child is born in (v2, or a hybrid host's unified
    /// hierarchy) and, on v1, each hierarchy's `tasks` file it writes itself
    /// into: opened here, held by `fds`. Returns the tasks files' paths,
    /// for error messages.
    /// A partial cgroup (v1, made after the clone): only the unified
    /// directory now; the `tasks` files come with CGROUP_ACK (InitLauncher).
    static func openCgroup(_ cg: Cgroup?, _ fds: FileDescriptorSet, into host: inout CPlanBuilder.Host) throws(RuntimeError)
        -> [String]
    {
        guard let cg else { return [] }
        if let u = cg.unified {
            host.cgroupDir = fds.adopt(try sys { () throws(SysError) in try Sys.open(u.hostPath, O_RDONLY | O_DIRECTORY) })
        }
        guard cg.version == .v1 else { return [] }
        host.cgroupV1 = true
        let paths = cg.v1TasksFiles(skipUnified: host.cgroupDir >= 0)
        if cg.partial {
            host.lateTasks = paths.count
            return paths
        }
        for path in paths {
            host.cgroupTasks.append(fds.adopt(try sys { () throws(SysError) in try Sys.open(path, O_WRONLY) }))
        }
        return paths
    }

    /// Clones the process the C plan describes; it starts the protocol at
    /// once. A pid namespace given by path is joined first (setns of a pid
    /// namespace only affects children, so the clone lands in it).
    static func clone(
        _ built: inout CPlanBuilder.Built, arena: Arena, sync: consuming SyncChannel, childEnd: consuming FileDescriptor,
        renderer: FailureRenderer, pidNamespace: (fd: Int32, ns: NamespacePlan)? = nil, log: Log
    ) throws(RuntimeError) -> Launched {
        // Single-threaded at the clone: the child is a copy of this one thread.
        let threads = Proc.threadCount()
        log.debug("spawn: threads=\(threads) clone_flags=0x\(String(built.plan.clone_flags, radix: 16)) mounts=\(renderer.plan.mounts.count)")
        guard threads == 1 else {
            throw .message("refusing to clone: skiff has \(threads) threads (it must be single-threaded at the clone)")
        }
        if let (fd, ns) = pidNamespace, skiff_setns(fd, CLONE_NEWPID) != 0 {
            throw .context(ns.origin, .system(SysError("join pid namespace", ns.path, errno: .current)))
        }
        let launched = Launched(sync: sync, plan: renderer.plan, renderer: renderer)
        var pidfd: Int32 = -1
        let pid = withExtendedLifetime(arena) { skiff_spawn(&built.plan, &pidfd) }
        // The child has its own copy of its end of the socket pair; ours goes.
        _ = consume childEnd
        guard pid > 0 else { throw .system(SysError("clone3", nil, errno: Errno(-pid))) }
        launched.started(pid: pid, pidfd: FileDescriptor(adopting: pidfd))
        return launched
    }

    /// process.oomScoreAdj, written by the parent (raising it needs no
    /// privilege, lowering it CAP_SYS_RESOURCE of the host).
    static func setOOMScore(_ launched: Launched) throws(RuntimeError) {
        guard let adj = launched.plan.oomScoreAdj else { return }
        let path = "/proc/\(launched.pid)/oom_score_adj"
        try sys { () throws(SysError) in
            let fd = try Sys.open(path, O_WRONLY)
            try Sys.write(fd.raw, "\(adj)", path)
        }
    }

    /// READY: the child is set up and waits for START (or COMMIT). A
    /// seccomp listener comes with it and goes to the agent.
    static func awaitReady(_ launched: Launched, id: String, bundle: String) throws(RuntimeError) {
        guard let ready = try launched.receive() else {
            let status = (try? Sys.waitExit(pidfd: launched.pidfd.raw, "container process")) ?? -1
            throw RuntimeError.message("the container process exited during setup (status \(status))")
        }
        if ready.msg.type != SKIFF_SYNC_READY.rawValue { throw launched.failure(ready.msg, detail: ready.fd) }
        let plan = launched.plan
        if let path = plan.seccomp?.listenerPath {
            guard ready.fd >= 0 else {
                throw RuntimeError.message("linux.seccomp.listenerPath: the container process sent no seccomp listener")
            }
            try SeccompAgent.send(
                ready.fd, to: path, metadata: plan.seccomp?.listenerMetadata,
                id: id, pid: launched.pid, bundle: bundle, annotations: plan.annotations)
        }
    }

    /// The container's first process: its start time pins the pid in the
    /// record, and its pid namespace is what `kill` and `state` compare
    /// with later. Both are fixed at the clone and the process is our
    /// unreaped child, so they are read while it sets itself up, off the
    /// path between READY and START; a process that died meanwhile fails
    /// READY. (exec's process is skiff's own child too: nothing records
    /// it.)
    static func pin(_ launched: Launched) {
        launched.startTime = Proc.stat(launched.pid)?.startTime ?? 0
        if launched.plan.creates(.pid) { launched.pidNamespace = Proc.namespaceInode(launched.pid, "pid") }
    }

    /// After READY: what `pin` could not read then, read again. An
    /// unprivileged parent may be refused the namespace files of a child
    /// that is not dumpable or has changed its ids, then and now: the
    /// record then has no pid namespace. The start time it must have.
    static func pinned(_ launched: Launched) throws(RuntimeError) {
        if launched.startTime == 0 || (launched.plan.creates(.pid) && launched.pidNamespace == nil) { pin(launched) }
        guard launched.startTime != 0 else {
            throw RuntimeError.message("the container process \(launched.pid) vanished after setup")
        }
    }
}
