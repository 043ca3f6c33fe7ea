import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

extension Runtime {
    public struct CreateOptions {
        public var bundle: String
        public var pidFile: String?
        public var preserveFds: UInt32
        /// MS_MOVE + chroot instead of pivot_root (a rootfs on ramfs).
        public var noPivot: Bool
        /// Where the terminal's master goes (process.terminal).
        public var consoleSocket: String?
        /// Keep the caller's session keyring instead of one of the
        /// container's own ("_ses.<id>", as runc names it).
        public var noNewKeyring: Bool
        /// Where a pidfd of the container's process goes (runc 1.2).
        public var pidfdSocket: String?
        public init(
            bundle: String, pidFile: String?, preserveFds: UInt32, noPivot: Bool = false,
            consoleSocket: String? = nil, noNewKeyring: Bool = false, pidfdSocket: String? = nil
        ) {
            self.pidfdSocket = pidfdSocket
            self.bundle = bundle
            self.pidFile = pidFile
            self.preserveFds = preserveFds
            self.noPivot = noPivot
            self.consoleSocket = consoleSocket
            self.noNewKeyring = noNewKeyring
        }

        func sessionKeyring(_ id: String) -> String? { noNewKeyring ? nil : Runtime.sessionKeyringName(id) }
    }

    public func create(id: String, _ options: CreateOptions) throws(RuntimeError) {
        let launch = try launch(id: id, options, command: "create", detached: true)
        log.debug("created `\(id)`: pid \(launch.child.pid)")
    }

    /// A container launched by create or run: its directory (locked while
    /// this is held), its process (waiting before execve at COMMIT, or
    /// running after START) and its record.
    struct Launch {
        var dir: ContainerDir?
        let child: Launched
        let record: ContainerRecord
        /// The cgroup skiff made, or the one systemd made for it.
        let cgroup: Cgroup?
        /// run in the foreground with a terminal: ours to proxy.
        let proxy: TerminalProxy?
        /// run in the foreground: the signalfd of the signals it forwards,
        /// or -1. Held, with the console socket, by `held`.
        let signals: Int32
        let held: FileDescriptorSet
    }

    /// create's and run's one path: the bundle planned, the container's
    /// directory made and locked, its cgroup made, its process cloned and
    /// set up, its record written, the pid file and pidfd handed out; then
    /// create commits (the process waits for `start`) and run starts it
    /// and waits for the execve. On any failure everything is removed and
    /// poststop hooks run.
    func launch(id: String, _ options: CreateOptions, command: String, detached: Bool) throws(RuntimeError) -> Launch {
        let starts = command == "run"
        try StateStore.checkID(id)
        let (bundle, plan, seccomp, config, systemd) = try prepare(options.bundle, id: id, preserveFds: options.preserveFds)
        try Terminal.check(terminal: plan.terminal, consoleSocket: options.consoleSocket, detached: detached, command: command)
        let held = FileDescriptorSet()
        var consoleFd: Int32 = -1
        if let path = options.consoleSocket { consoleFd = held.adopt(try Terminal.connect(path)) }
        let proxy = plan.terminal && !detached ? try TerminalProxy() : nil
        let dir = try store.create(id)
        var launched: Launched?
        var cgroup: Cgroup?
        var late: InitLauncher.LateCgroup?
        // A cgroup finished after the clone: what its hierarchies were found
        // to hold decides, on failure too, what cleanUp may remove and signal.
        var made: Cgroup? { late?.cgroup ?? cgroup }
        let placement = systemdPlacement(plan, systemd)
        do {
            // Not before the bundle is checked: the signalfd must not fill
            // a gap in --preserve-fds.
            let signals = starts && !detached ? held.adopt(try Signals.blockForwarded()) : -1
            cgroup = try makeCgroup(plan, dir, late: true)
            late = cgroup.flatMap { cg in cg.partial ? plan.cgroup.map { InitLauncher.LateCgroup(cg, $0) } : nil }
            try dir.writeConfig(config)
            // create: `start` connects here; run starts the process itself.
            let listener: Int32 =
                starts
                ? -1
                : held.adopt(
                    try sys { () throws(SysError) in
                        try Sys.listenUnix(dir: dir.fd.raw, name: StateStore.startSocket, display: dir.path + "/" + StateStore.startSocket)
                    })
            let child = try InitLauncher.spawn(
                plan,
                .init(
                    id: id, startListener: listener, preserveFds: options.preserveFds, noPivot: options.noPivot,
                    seccomp: seccomp, bundle: bundle, cgroup: late == nil ? cgroup : nil, late: late, systemd: placement,
                    consoleFd: proxy?.childEnd.raw ?? consoleFd, sessionKeyring: options.sessionKeyring(id)),
                log: log)
            launched = child
            try proxy?.receiveMaster()
            // run: one write, already marked started: the directory stays
            // locked until the process has exec'd (or failed, and everything
            // is removed), so no one can see it between the two; and if
            // skiff dies before the exec the child sees the socket close and
            // exits. The record is written while the child execs: what
            // it holds of the process (stdio) is read before START, and a
            // failed write kills the process and removes everything as a
            // failed exec does.
            var rec = record(id: id, bundle: bundle, plan: plan, child, cgroup: made)
            rec.started = starts
            rec.sessionKeyring = !options.noNewKeyring
            rec.stdio = Proc.stdio(child.pid)
            if !starts { try dir.write(rec) }
            if let pidFile = options.pidFile { try writePidFile(pidFile, child.pid) }
            if let path = options.pidfdSocket { try Terminal.sendPidfd(path, child.pidfd) }
            if starts {
                try child.send(SKIFF_SYNC_START)
                try dir.write(rec)
                try child.awaitExec()
            } else {
                try child.send(SKIFF_SYNC_COMMIT)
            }
            return Launch(
                dir: dir, child: child, record: rec, cgroup: made ?? placement?.cgroup, proxy: proxy, signals: signals,
                held: held)
        } catch {
            launched?.kill()
            try cleanUp(dir, made ?? placement?.cgroup, after: error, poststop: (plan, bundle, launched?.pid, id))
        }
    }

    /// The container's cgroup, written down before it is made (a create
    /// killed after the mkdir leaves it to `delete`, which reads it back).
    /// `late`: v1 hierarchies may be left for after the clone (the
    /// Cgroup is partial; InitLauncher makes them).
    func makeCgroup(_ plan: LaunchPlan, _ dir: ContainerDir, late: Bool = false) throws(RuntimeError) -> Cgroup? {
        guard let cp = plan.cgroup else { return nil }
        let paths = cp.dirs.map(\.hostPath)
        // systemd makes a scope only once the process exists (Launcher).
        if cp.systemd != nil {
            try dir.writeCgroups(cp.version == .v2 ? 2 : 1, paths, adopted: [])
            return nil
        }
        // What exists already is the container's to join, not to remove.
        let adopted = paths.filter { access($0, F_OK) == 0 }
        try dir.writeCgroups(cp.version == .v2 ? 2 : 1, paths, adopted: adopted)
        return late && cp.version == .v1 ? try Cgroup.start(cp, adopted: adopted) : try Cgroup.make(cp, log: log)
    }

    func systemdPlacement(_ plan: LaunchPlan, _ manager: SystemdManager?) -> SystemdPlacement? {
        guard let cp = plan.cgroup, let scope = cp.systemd, let manager else { return nil }
        return SystemdPlacement(manager: manager, plan: cp, scope: scope, log: log)
    }

    func record(id: String, bundle: String, plan: LaunchPlan, _ child: Launched, cgroup: Cgroup?) -> ContainerRecord {
        record(
            id: id, bundle: bundle, plan: plan, pid: child.pid, startTime: child.startTime, pidNamespace: child.pidNamespace,
            cgroup: cgroup)
    }

    func record(
        id: String, bundle: String, plan: LaunchPlan, pid: Int32, startTime: UInt64, pidNamespace: UInt64?, cgroup: Cgroup?
    ) -> ContainerRecord {
        ContainerRecord(
            ociVersion: OCISpec.ociVersion, id: id, pid: pid, startTime: startTime,
            bundle: bundle, rootfs: plan.rootfs, created: Time.rfc3339Now(),
            annotations: plan.annotations, started: false, ownPidNamespace: plan.creates(.pid),
            pidNamespace: plan.creates(.pid) ? pidNamespace : nil,
            netDevices: plan.netDevices.isEmpty ? nil : plan.netDevices.map { [$0.host, $0.name] },
            cgroupVersion: plan.cgroup.map { $0.version == .v2 ? 2 : 1 },
            cgroupPaths: plan.cgroup?.dirs.map(\.hostPath),
            cgroupAdopted: cgroup.flatMap { $0.adopted.isEmpty ? nil : $0.adopted },
            cgroupForeign: cgroup.flatMap { $0.foreign.isEmpty ? nil : $0.foreign.map { [UInt64($0.pid), $0.startTime] } },
            systemdUnit: plan.cgroup?.systemd?.unit, systemdUser: plan.cgroup?.systemd.map(\.user),
            args: plan.args, execPaths: plan.execPaths, hooks: HookRunner.recorded(plan.hooks))
    }

    /// Removes what a failed create made and reports both errors if that fails too.
    /// A container whose process was made is destroyed and then, as after
    /// any delete, its poststop hooks run (runtime-spec's lifecycle: a
    /// failed prestart, createRuntime or createContainer hook "continues
    /// the lifecycle" at the destroy).
    func cleanUp(
        _ dir: ContainerDir, _ cgroup: Cgroup? = nil, after error: RuntimeError,
        poststop: (plan: LaunchPlan, bundle: String, pid: Int32?, id: String)? = nil
    ) throws(RuntimeError) -> Never {
        do {
            if let cgroup { try destroy(cgroup) }
            try dir.remove()
        } catch let also {
            throw .cleanup(error, also: also)
        }
        if let p = poststop, !p.plan.hooks.poststop.isEmpty {
            let state = HookRunner.state(
                id: p.id, status: .stopped, pid: p.pid, bundle: p.bundle,
                annotations: p.plan.annotations)
            try? HookRunner.run(p.plan.hooks.poststop, state: state, log: log, warnOnly: true)
        }
        throw error
    }
}
