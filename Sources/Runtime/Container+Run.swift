import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

extension Runtime {
    public struct RunOptions {
        public var create: CreateOptions
        public var detach: Bool
        /// Keep the container, stopped, once it exits (runc's --keep).
        public var keep: Bool
        public init(create: CreateOptions, detach: Bool, keep: Bool = false) {
            self.create = create
            self.detach = detach
            self.keep = keep
        }
    }

    /// create + start + wait. Returns the container's exit status (128+N when
    /// killed by signal N), forwarding SIGTERM, SIGINT and friends meanwhile.
    public func run(id: String, _ options: RunOptions) throws(RuntimeError) -> Int32 {
        try StateStore.checkID(id)
        let (bundle, plan, seccomp, config, systemd) = try prepare(options.create.bundle, id: id, preserveFds: options.create.preserveFds)
        try Terminal.check(
            terminal: plan.terminal, consoleSocket: options.create.consoleSocket,
            detached: options.detach, command: "run")
        let held = FileDescriptorSet()
        var consoleFd: Int32 = -1
        if let path = options.create.consoleSocket { consoleFd = held.adopt(try Terminal.connect(path)) }
        // In the foreground, the terminal is ours to proxy.
        let proxy = plan.terminal && !options.detach ? try TerminalProxy() : nil
        var dir: ContainerDir? = try store.create(id)
        var signals: FileDescriptor? = nil
        var launched: Launched?
        var cgroup: Cgroup?
        let placement = systemdPlacement(plan, systemd)
        var rec: ContainerRecord
        do {
            if !options.detach { signals = try Signals.blockForwarded() }
            if let d = dir {
                cgroup = try makeCgroup(plan, d)
                try d.writeConfig(config)
            }
            let child = try Launcher.spawn(
                plan,
                .init(
                    id: id, preserveFds: options.create.preserveFds,
                    noPivot: options.create.noPivot, seccomp: seccomp,
                    bundle: bundle, cgroup: cgroup, systemd: placement,
                    consoleFd: proxy?.childEnd.raw ?? consoleFd,
                    sessionKeyring: options.create.sessionKeyring(id)), log: log)
            launched = child
            try proxy?.receiveMaster()
            // One write, already marked started: the directory stays locked
            // until the process has exec'd (or failed, and everything is
            // removed), so no one can see it between the two; and if skiff
            // dies before the exec the child sees the socket close and exits.
            rec = record(id: id, bundle: bundle, plan: plan, child, cgroup: cgroup)
            rec.started = true
            rec.sessionKeyring = !options.create.noNewKeyring
            try dir?.write(rec)
            if let pidFile = options.create.pidFile { try writePidFile(pidFile, child.pid) }
            if let path = options.create.pidfdSocket { try Terminal.sendPidfd(path, child.pidfd) }
            try child.send(SKIFF_SYNC_START)
            try child.awaitExec()
        } catch {
            launched?.kill()
            guard let d = dir else { throw error }
            try cleanUp(d, cgroup ?? placement?.cgroup, after: error, poststop: (plan, bundle, launched?.pid, id))
        }
        guard let child = launched else { return 1 }
        try runPoststart(rec)
        if options.detach { return 0 }
        dir = nil  // unlock: kill, state and delete work while we wait

        let status = try wait(child, id: id, signals: signals?.raw ?? -1, proxy: proxy)
        // runc run removes the container once it has exited, unless --keep.
        if !options.keep, let d = try? store.open(id) {
            if let cg = cgroup ?? placement?.cgroup { try removeCgroup(cg, id: id) }
            try d.remove()
            runPoststop(rec)
        }
        return status
    }
}
