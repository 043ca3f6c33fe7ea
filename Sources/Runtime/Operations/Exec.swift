import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Seccomp

extension Runtime {
    /// runc exec's options.
    public struct ExecOptions {
        public var processFile: String?
        public var args: [String] = []
        public var env: [String] = []
        public var cwd: String?
        public var user: String?
        public var additionalGids: [String] = []
        public var caps: [String] = []
        public var noNewPrivs = false
        public var apparmor: String?
        public var processLabel: String?
        public var tty = false
        public var consoleSocket: String?
        public var detach = false
        public var pidFile: String?
        /// Where a pidfd of the new process goes (runc 1.2).
        public var pidfdSocket: String?
        public var preserveFds: UInt32 = 0
        public var ignorePaused = false
        /// A sub-cgroup of the container's: `path` (v2, or every v1
        /// controller) or `controller:path` (v1).
        public var cgroup: [String] = []
        public init() {}
    }

    /// A new process in a running container: it joins the container's
    /// namespaces and cgroup and gets the container's (or the process
    /// file's) identity, capabilities, limits, LSM label and seccomp filter.
    /// Returns its exit status (128+N on signal N), or 0 once it runs with
    /// --detach.
    public func exec(id: String, _ o: ExecOptions) throws(RuntimeError) -> Int32 {
        // The --process file is the caller's (it may be a FIFO): read before
        // the container is locked.
        let processFile = try o.processFile.map { (file) throws(RuntimeError) in try readProcessFile(file) }
        // The container is locked only while its record and the config create
        // kept are read and its first process is pinned: nothing of the
        // container's (its image, its processes, a frozen cgroup) is waited
        // on with the lock held, so kill, delete and resume always proceed.
        let target = try lockedExecTarget(id: id, ignorePaused: o.ignorePaused)
        let (r, status, configPath) = (target.record, target.status, target.configPath)
        let initPidfd = target.initPidfd
        var spec = target.spec
        if let processFile { spec.process = processFile } else { spec.process = try execProcess(spec.process, o) }
        let host = HostProbe.processFacts(for: spec)
        let needHome = !(spec.process?.env ?? []).contains { $0.hasPrefix("HOME=") }
        let plan: LaunchPlan
        do {
            plan = try Planner.planExec(spec, host: host, image: HostProbe.imageFacts(rootfs: r.rootfs, needHome: needHome))
        } catch {
            throw .context(o.processFile.map { "--process \($0)" } ?? "exec", .spec(error))
        }
        for w in plan.warnings { log.warn(w) }
        let seccomp = try compileSeccomp(plan, context: configPath)
        try Terminal.check(terminal: plan.terminal, consoleSocket: o.consoleSocket, detached: o.detach, command: "exec")
        for fd in 0..<Int32(o.preserveFds) where Sys.fcntlFlags(3 + fd) == nil {
            throw .message("--preserve-fds \(o.preserveFds): fd \(3 + fd) is not open")
        }
        let held = FileDescriptorSet()
        var consoleFd: Int32 = -1
        if let path = o.consoleSocket { consoleFd = held.adopt(try Terminal.connect(path)) }
        let proxy = plan.terminal && !o.detach ? try TerminalProxy() : nil
        var signals: Int32 = -1
        if !o.detach { signals = held.adopt(try Signals.blockForwarded()) }

        let cgroup = try execCgroup(r, o.cgroup)
        // A paused container's cgroup is frozen: a process born there could
        // not even finish its setup. It joins once set up (READY), before it
        // runs anything of its own, and freezes there until `resume`.
        let paused = status == .paused
        let child = try ExecLauncher.spawn(
            plan,
            .init(
                id: id, preserveFds: o.preserveFds, seccomp: seccomp, bundle: r.bundle,
                cgroup: paused ? nil : cgroup, consoleFd: proxy?.childEnd.raw ?? consoleFd,
                sessionKeyring: r.sessionKeyring == true ? Runtime.sessionKeyringName(id) : nil,
                initPidfd: initPidfd.raw, namespaces: ExecLauncher.namespaceFlags(plan)),
            log: log)
        do {
            try proxy?.receiveMaster()
            if paused, let cgroup { try cgroup.attach(child.pid, skipUnified: false) }
            if let pidFile = o.pidFile { try writePidFile(pidFile, child.pid) }
            if let path = o.pidfdSocket { try Terminal.sendPidfd(path, child.pidfd) }
            try child.send(SKIFF_SYNC_START)
            // Frozen before its execve: whether that works shows at resume.
            if paused && o.detach {
                log.debug("exec in paused `\(id)`: pid \(child.pid) runs once the container is resumed")
                return 0
            }
            try child.awaitExec()
        } catch {
            child.kill()
            throw error
        }
        log.debug("exec in `\(id)`: pid \(child.pid)")
        if o.detach { return 0 }
        return try wait(child, id: id, signals: signals, proxy: proxy)
    }

    /// What exec needs of the container, read under its lock: the record,
    /// its status, a pidfd of its first process and the config create kept.
    struct ExecTarget: ~Copyable {
        let record: ContainerRecord
        let status: ContainerStatus
        let initPidfd: FileDescriptor
        let spec: Spec
        let configPath: String
    }

    func lockedExecTarget(id: String, ignorePaused: Bool) throws(RuntimeError) -> ExecTarget {
        let dir = try store.open(id)
        let r = try dir.read()
        // The pidfd first: it pins the pid, so the one look at the process
        // that status takes after it cannot be raced by pid reuse.
        let initPidfd = try? Sys.pidfdOpen(r.pid)
        let status = initPidfd == nil ? .stopped : Runtime.status(r)
        switch status {
        case .stopped, .creating:
            throw .message("exec: container `\(id)` is \(status.rawValue): only a created or running container can run a new process")
        case .paused where !ignorePaused:
            throw .message("exec: container `\(id)` is paused: resume it first, or pass --ignore-paused")
        default:
            break
        }
        guard let initPidfd else { throw .message("exec: container `\(id)` is stopped") }
        let spec = try keptConfig(dir)
        return ExecTarget(
            record: r, status: status, initPidfd: initPidfd, spec: spec, configPath: dir.path + "/" + ContainerDir.configFile)
    }

    /// exec --process FILE: the process as the file gives it; without a
    /// `user`, root (0:0), as runc and crun take it.
    func readProcessFile(_ file: String) throws(RuntimeError) -> Process {
        do {
            let fd = try Sys.open(file, O_RDONLY)
            return try JSONDecoding.decode(Process.self, json: try Sys.read(fd, file, limit: Runtime.maxConfigSize)) { doc in
                if case var .object(members) = doc, !members.contains(where: { $0.0 == "user" }) {
                    members.append(("user", .object([("uid", .int(0)), ("gid", .int(0))])))
                    doc = .object(members)
                }
            }
        } catch let e as SysError {
            throw .context("--process", .system(e))
        } catch let e as SpecError {
            throw .context("--process \(file)", .spec(e))
        } catch {
            throw .message("\(error)")
        }
    }

    /// The container's process with the command and runc's flags applied.
    func execProcess(_ base: Process?, _ o: ExecOptions) throws(RuntimeError) -> Process {
        guard var p = base else { throw .message("exec: the container's config has no process to start from") }
        guard !o.args.isEmpty else { throw .message("exec: no command given (skiff exec <container-id> <command> [args...])") }
        p.args = o.args
        p.commandLine = nil
        p.terminal = o.tty
        p.consoleSize = nil
        for (i, e) in o.env.enumerated() where !e.contains("=") {
            throw .message("--env `\(e)` (#\(i + 1)): must be KEY=value")
        }
        // A variable the process has already is replaced where it stands
        // (runc: --env PATH=... is the PATH), a new one appended.
        var env = p.env ?? []
        for e in o.env {
            let name = e.prefix { $0 != "=" } + "="
            if let i = env.firstIndex(where: { $0.hasPrefix(name) }) { env[i] = e } else { env.append(e) }
        }
        p.env = env
        if let cwd = o.cwd { p.cwd = cwd }
        if let user = o.user {
            guard let (uid, gid) = Planner.parseUser(user) else {
                throw .message("--user: `\(user)` is not uid[:gid] (decimal ids)")
            }
            p.user.uid = uid
            if let gid { p.user.gid = gid }
        }
        if !o.additionalGids.isEmpty {
            var gids: [UInt32] = []
            for g in o.additionalGids {
                guard let v = Planner.parseUser(g), v.gid == nil else {
                    throw .message("--additional-gids: `\(g)` is not a decimal gid")
                }
                gids.append(v.uid)
            }
            p.user.additionalGids = gids
        }
        if !o.caps.isEmpty {
            var caps = p.capabilities ?? Capabilities()
            for c in o.caps {
                let name = c.uppercased().hasPrefix("CAP_") ? c.uppercased() : "CAP_" + c.uppercased()
                guard Capability.number(name) != nil else { throw .message("--cap: unknown capability `\(c)`") }
                caps.bounding = (caps.bounding ?? []) + [name]
                caps.effective = (caps.effective ?? []) + [name]
                caps.permitted = (caps.permitted ?? []) + [name]
                // runc: ambient only where the config already has inheritable ones.
                if caps.inheritable != nil { caps.ambient = (caps.ambient ?? []) + [name] }
            }
            p.capabilities = caps
        }
        if o.noNewPrivs { p.noNewPrivileges = true }
        if let a = o.apparmor { p.apparmorProfile = a }
        if let l = o.processLabel { p.selinuxLabel = l }
        return p
    }

    /// The container's cgroup, or a sub-cgroup of it (--cgroup).
    func execCgroup(_ r: ContainerRecord, _ specs: [String]) throws(RuntimeError) -> Cgroup? {
        let cg = Runtime.cgroup(r)
        guard !specs.isEmpty else { return cg }
        guard let cg else { throw .message("--cgroup: container `\(r.id)` has no cgroup of its own") }
        return try cg.sub(specs)
    }

    /// Waits for a process of ours, forwarding signals and a terminal;
    /// its status (128+N on signal N).
    func wait(_ child: Launched, id: String, signals: Int32, proxy: TerminalProxy?) throws(RuntimeError) -> Int32 {
        try wait(pidfd: child.pidfd.raw, id: id, signals: signals, proxy: proxy)
    }

    /// Until the process behind pidfd exits, forwarding signals and pumping
    /// the terminal; its exit status (128+N on signal N).
    func wait(pidfd: Int32, id: String, signals: Int32, proxy: TerminalProxy?) throws(RuntimeError) -> Int32 {
        while true {
            var fds =
                [
                    pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                ] + (proxy?.pollEntries ?? [])
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if Errno.current == .EINTR { continue }
                throw .system(SysError("poll"))
            }
            if fds[1].revents & Int16(POLLIN) != 0, let sig = Signals.read(fds[1].fd) {
                if sig == SIGWINCH, let proxy {
                    proxy.resize()
                } else {
                    log.debug("forwarding signal \(sig)")
                    _ = try? Sys.pidfdSendSignal(pidfd, sig, "container `\(id)`")
                }
            }
            proxy?.pump(fds[2...])
            if fds[0].revents & Int16(POLLIN) != 0 {
                proxy?.drain()
                proxy?.restore()
                return try sys { () throws(SysError) in try Sys.waitExit(pidfd: pidfd, "container `\(id)`") }
            }
        }
    }
}
