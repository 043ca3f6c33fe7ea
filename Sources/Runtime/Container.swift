import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Seccomp

/// The lifecycle operations (runtime.md "Operations") and runc's
/// extensions. The CLI parses; this does the work.
public struct Runtime {
    let store: StateStore
    public let log: Log
    /// --systemd-cgroup: new containers get their cgroup from systemd.
    public var systemdCgroup = false

    public init(root: String, log: Log) {
        self.store = StateStore(root: root)
        self.log = log
    }

    /// `--root` when none is given: /run/skiff for root; for anyone else
    /// $XDG_RUNTIME_DIR/skiff, and an error that says what to set otherwise.
    public static func defaultRoot() throws(RuntimeError) -> String {
        let xdg = Sys.environment("XDG_RUNTIME_DIR").flatMap { $0.isEmpty ? nil : $0 }
        // runc's rule: root of the host uses /run; root of a user namespace
        // (rootless podman, Docker, containerd) uses XDG_RUNTIME_DIR when
        // set, unless USER is root.
        if Sys.euid == 0 {
            guard let xdg, Proc.inUserNamespace(), Sys.environment("USER") != "root" else { return "/run/skiff" }
            return xdg + "/skiff"
        }
        guard let xdg else {
            throw .message(
                "XDG_RUNTIME_DIR is not set: set it to a directory you own (e.g. export XDG_RUNTIME_DIR=/run/user/\(Sys.euid), or a private directory) or pass --root DIR (`skiff check` lists what this host and user lack)"
            )
        }
        guard access(xdg, W_OK | X_OK) == 0 else {
            throw .message("XDG_RUNTIME_DIR `\(xdg)` is not writable by uid \(Sys.euid): set XDG_RUNTIME_DIR to a directory you own or pass --root DIR")
        }
        return xdg + "/skiff"
    }

    // MARK: create

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

    /// config.json is read up to this size (nesting depth is json-c's limit).
    static let maxConfigSize = 16 << 20

    static func sessionKeyringName(_ id: String) -> String { "_ses." + id }

    /// Loads, checks and plans a bundle: every error here names the JSON path.
    func prepare(_ bundleArg: String, id: String, preserveFds: UInt32) throws(RuntimeError)
        -> (bundle: String, plan: LaunchPlan, seccomp: SeccompProgram?, config: [UInt8], systemd: SystemdManager?)
    {
        let bundle = absolute(bundleArg)
        let configPath = bundle.hasSuffix("/") ? bundle + "config.json" : bundle + "/config.json"
        let bytes: [UInt8]
        do {
            let fd = try Sys.open(configPath, O_RDONLY)
            bytes = try Sys.read(fd, configPath, limit: Runtime.maxConfigSize)
        } catch {
            if error.errno == Errno(EFBIG) {
                throw .message("\(configPath): larger than skiff reads (\(Runtime.maxConfigSize >> 20) MiB); a config is a few KB")
            }
            throw .context("bundle `\(bundle)`", .system(error))
        }
        let spec: Spec
        do {
            spec = try JSONDecoding.decode(Spec.self, json: bytes)
        } catch {
            throw .context(configPath, .spec(error))
        }
        var host = HostProbe.facts(for: spec, systemd: systemdCgroup)
        // --systemd-cgroup: the manager is asked where its cgroups are before
        // planning, and makes the scope once the process exists.
        var systemd: SystemdManager? = nil
        if systemdCgroup {
            let m = try SystemdManager.connect(user: host.rootless)
            let facts = try m.facts()
            log.debug("systemd \(facts.version) at \(m.bus.address)\(m.bus.viaBus ? " (a bus)" : ""), its cgroup \(facts.managerCgroup)")
            try m.checkCanAdopt(from: host.ownV2Cgroup, facts)
            host.systemd = facts
            systemd = m
        }
        let needHome = !(spec.process?.env ?? []).contains { $0.hasPrefix("HOME=") }
        let image = HostProbe.imageFacts(rootfs: hostPath(spec.root?.path ?? "", relativeTo: bundle), needHome: needHome)
        let plan: LaunchPlan
        do {
            plan = try Planner.plan(spec, bundle: bundle, host: host, image: image, id: id)
        } catch {
            throw .context(configPath, .spec(error))
        }
        for w in plan.warnings { log.warn(w) }
        for n in plan.notes { log.debug(n) }
        let seccomp = try compileSeccomp(plan, context: configPath)
        try checkHostPaths(plan)
        for fd in 0..<Int32(preserveFds) where Sys.fcntlFlags(3 + fd) == nil {
            throw .message("--preserve-fds \(preserveFds): fd \(3 + fd) is not open")
        }
        return (bundle, plan, seccomp, bytes, systemd)
    }

    /// linux.seccomp, compiled in the parent; the process only loads it.
    func compileSeccomp(_ plan: LaunchPlan, context: String) throws(RuntimeError) -> SeccompProgram? {
        guard let profile = plan.seccomp else { return nil }
        let program: SeccompProgram
        do {
            program = try SeccompCompiler.compile(profile)
        } catch {
            throw .context(context, .spec(error))
        }
        for n in program.notes { log.debug(n) }
        return program
    }

    /// The rootfs and bind sources exist: found now, before anything is made.
    func checkHostPaths(_ plan: LaunchPlan) throws(RuntimeError) {
        for node in plan.memoryPolicy?.nodeList ?? [] where (try? Sys.stat("/sys/devices/system/node/node\(node)")) == nil {
            throw .message("linux.memoryPolicy.nodes: node \(node) does not exist on this host (see /sys/devices/system/node)")
        }
        let st: stat
        do {
            st = try Sys.stat(plan.rootfs)
        } catch {
            throw .context("root.path", .system(error))
        }
        if st.st_mode & S_IFMT != S_IFDIR {
            throw .message("root.path: `\(plan.rootfs)` is not a directory")
        }
        let cgroupDirs = plan.cgroup?.dirs.map(\.hostPath) ?? []
        for m in plan.mounts {
            guard case let .bind(source, _) = m.kind, !cgroupDirs.contains(source) else { continue }
            do {
                _ = try Sys.stat(source)
            } catch {
                throw .context("\(m.origin).source", .system(error))
            }
            if m.target == "proc" {
                if skiff_fs_magic(source) != SKIFF_PROC_SUPER_MAGIC {
                    throw .message("\(m.origin).source: `\(source)` is not procfs: only procfs may be mounted at `/proc`")
                }
            }
        }
    }

    public func create(id: String, _ options: CreateOptions) throws(RuntimeError) {
        try StateStore.checkID(id)
        let (bundle, plan, seccomp, config, systemd) = try prepare(options.bundle, id: id, preserveFds: options.preserveFds)
        try Terminal.check(terminal: plan.terminal, consoleSocket: options.consoleSocket, detached: true, command: "create")
        let held = FileDescriptorSet()
        var consoleFd: Int32 = -1
        if let path = options.consoleSocket { consoleFd = held.adopt(try Terminal.connect(path)) }
        let dir = try store.create(id)
        var launched: Launched?
        var cgroup: Cgroup?
        let placement = systemdPlacement(plan, systemd)
        do {
            cgroup = try makeCgroup(plan, dir)
            try dir.writeConfig(config)
            let listener = try sys { () throws(SysError) in
                try Sys.listenUnix(
                    dir: dir.fd.raw, name: StateStore.startSocket,
                    display: dir.path + "/" + StateStore.startSocket)
            }
            let child = try Launcher.spawn(
                plan,
                .init(
                    id: id, startListener: listener.raw,
                    preserveFds: options.preserveFds, noPivot: options.noPivot,
                    seccomp: seccomp, bundle: bundle, cgroup: cgroup,
                    systemd: placement, consoleFd: consoleFd,
                    sessionKeyring: options.sessionKeyring(id)), log: log)
            launched = child
            var rec = record(id: id, bundle: bundle, plan: plan, child, cgroup: cgroup)
            rec.sessionKeyring = !options.noNewKeyring
            try dir.write(rec)
            if let pidFile = options.pidFile { try writePidFile(pidFile, child.pid) }
            if let path = options.pidfdSocket { try Terminal.sendPidfd(path, child.pidfd) }
            try child.send(SKIFF_SYNC_COMMIT)
            log.debug("created `\(id)`: pid \(child.pid)")
        } catch {
            launched?.kill()
            try cleanUp(dir, cgroup ?? placement?.cgroup, after: error, poststop: (plan, bundle, launched?.pid, id))
        }
    }

    /// The container's cgroup, written down before it is made (a create
    /// killed after the mkdir leaves it to `delete`, which reads it back).
    func makeCgroup(_ plan: LaunchPlan, _ dir: ContainerDir) throws(RuntimeError) -> Cgroup? {
        guard let cp = plan.cgroup else { return nil }
        let paths = cp.dirs.map(\.hostPath)
        // systemd makes a scope only once the process exists (Launcher).
        if cp.systemd != nil {
            try dir.writeCgroups(cp.version == .v2 ? 2 : 1, paths, adopted: [])
            return nil
        }
        // What exists already is the container's to join, not to remove.
        try dir.writeCgroups(cp.version == .v2 ? 2 : 1, paths, adopted: paths.filter { access($0, F_OK) == 0 })
        return try Cgroup.make(cp, log: log)
    }

    func systemdPlacement(_ plan: LaunchPlan, _ manager: SystemdManager?) -> SystemdPlacement? {
        guard let cp = plan.cgroup, let scope = cp.systemd, let manager else { return nil }
        return SystemdPlacement(manager: manager, plan: cp, scope: scope, log: log)
    }

    func record(id: String, bundle: String, plan: LaunchPlan, _ child: Launched, cgroup: Cgroup?) -> ContainerRecord {
        ContainerRecord(
            ociVersion: OCISpec.ociVersion, id: id, pid: child.pid, startTime: child.startTime,
            bundle: bundle, rootfs: plan.rootfs, created: Time.rfc3339Now(),
            annotations: plan.annotations, started: false, ownPidNamespace: plan.creates(.pid),
            pidNamespace: plan.creates(.pid) ? Proc.namespaceInode(child.pid, "pid") : nil,
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

    func writePidFile(_ path: String, _ pid: Int32) throws(RuntimeError) {
        let full = absolute(path)
        let slash = full.lastIndex(of: "/") ?? full.startIndex
        let dirPath = full[..<slash].isEmpty ? "/" : String(full[..<slash])
        let name = String(full[full.index(after: slash)...])
        do {
            let d = try Sys.open(dirPath, skiff_O_PATH | O_DIRECTORY)
            try Sys.writeAtomically(d.raw, name, Array("\(pid)".utf8), display: full)
        } catch {
            throw .context("--pid-file", .system(error))
        }
    }

    // MARK: status

    /// Derived, never stored: stopped when the recorded process is gone (or
    /// its pid now belongs to a process that started at another time).
    static func status(_ r: ContainerRecord) -> ContainerStatus {
        guard let st = Proc.stat(r.pid), st.startTime == r.startTime, st.state != "Z", st.state != "X",
            inRecordedNamespace(r)
        else {
            return .stopped
        }
        guard r.started else { return .created }
        if let cg = cgroup(r), cg.canFreeze, cg.isFrozen { return .paused }
        return .running
    }

    /// The cgroup a record names, if it checks out.
    static func cgroup(_ r: ContainerRecord) -> Cgroup? {
        guard let paths = r.cgroupPaths, !paths.isEmpty else { return nil }
        var cg = Cgroup.recorded(version: r.cgroupVersion ?? 1, paths: paths, adopted: r.cgroupAdopted ?? [])
        cg?.foreign = (r.cgroupForeign ?? []).compactMap { f in
            f.count == 2 ? Cgroup.ForeignProcess(pid: Int32(truncatingIfNeeded: f[0]), startTime: f[1]) : nil
        }
        cg?.pidNamespace = r.ownPidNamespace ? r.pidNamespace : nil
        if let name = r.systemdUnit, SystemdNames.isUnitName(name) {
            cg?.unit = SystemdUnit(name: name, user: r.systemdUser ?? false)
        }
        return cg
    }

    /// A container with a pid namespace of its own: its process is still in
    /// the one recorded at create, which is not skiff's. A state file that
    /// names some other process of the host is not believed.
    static func inRecordedNamespace(_ r: ContainerRecord) -> Bool {
        guard r.ownPidNamespace else { return true }
        if let ns = Proc.namespaceInode(r.pid, "pid") {
            return ns != Proc.namespaceInode(getpid(), "pid") && r.pidNamespace.map { $0 == ns } ?? true
        }
        // An unprivileged caller cannot read the namespace of a process that
        // is not dumpable (one waiting for start): it must at least be pid 1
        // of a pid namespace below ours.
        guard let theirs = Proc.namespacePids(r.pid), let ours = Proc.namespacePids(getpid()) else { return false }
        return theirs.count > ours.count && theirs.last == 1
    }

    /// A pidfd for the container's process, or nil if it is not the same
    /// process any more. The pidfd pins the pid, so a check after opening it
    /// cannot be raced by pid reuse.
    static func pidfd(_ r: ContainerRecord) -> FileDescriptor? {
        guard let fd = try? Sys.pidfdOpen(r.pid) else { return nil }
        guard let st = Proc.stat(r.pid), st.startTime == r.startTime, st.state != "Z", st.state != "X",
            inRecordedNamespace(r)
        else {
            return nil
        }
        return fd
    }

    // MARK: start

    public func start(id: String) throws(RuntimeError) {
        let dir = try store.open(id)
        var r = try dir.read()
        let status = Runtime.status(r)
        guard status == .created else {
            throw .message("container `\(id)` is \(status.rawValue): only a created container can be started")
        }
        let conn = try connectStart(dir)
        let raw = conn.raw
        try sys { () throws(SysError) in
            try Sys.send(raw, skiff_msg(type: SKIFF_SYNC_START.rawValue, step: 0, error: 0, index: -1), "start")
        }
        // End of file: the connection closed on execve. A record: it failed
        // (a startContainer hook's output comes with it).
        if let reply = try Received.from(raw, "start") {
            var plan = LaunchPlan()
            plan.args = r.args
            plan.execPaths = r.execPaths
            plan.hooks = HookRunner.plan(r)
            throw FailureRenderer(plan: plan, joined: []).render(reply.msg, detail: HookRunner.output(reply.fd))
        }
        r.started = true
        try dir.write(r)
        _ = Glibc.unlinkat(dir.fd.raw, StateStore.startSocket, 0)
        try runPoststart(r)
    }

    /// After the program started, before `start` returns: failures warn.
    func runPoststart(_ r: ContainerRecord) throws(RuntimeError) {
        let hooks = HookRunner.plan(r).poststart
        guard !hooks.isEmpty else { return }
        let state = HookRunner.state(id: r.id, status: .running, pid: r.pid, bundle: r.bundle, annotations: r.annotations)
        try HookRunner.run(hooks, state: state, log: log, warnOnly: true)
    }

    /// After the container is destroyed, before `delete` returns: failures warn.
    func runPoststop(_ r: ContainerRecord) {
        let hooks = HookRunner.plan(r).poststop
        guard !hooks.isEmpty else { return }
        let state = HookRunner.state(id: r.id, status: .stopped, pid: r.pid, bundle: r.bundle, annotations: r.annotations)
        do {
            try HookRunner.run(hooks, state: state, log: log, warnOnly: true)
        } catch {
            log.warn("poststop hooks: \(error)")
        }
    }

    func connectStart(_ dir: ContainerDir) throws(RuntimeError) -> FileDescriptor {
        do {
            return try Sys.connectUnix(
                dir: dir.fd.raw, name: StateStore.startSocket,
                display: dir.path + "/" + StateStore.startSocket)
        } catch {
            throw .context("start `\(dir.id)`: the container process is not waiting for start", .system(error))
        }
    }

    // MARK: state, list

    /// The state document. A directory without a record is a create still
    /// under way (`creating`) or one that died (`stopped`, pid 0: nothing
    /// of it runs, and `delete` removes it).
    func state(_ p: StateStore.Peeked) -> State {
        switch p {
        case let .record(r, owner):
            let status = Runtime.status(r)
            return State(
                ociVersion: r.ociVersion, id: r.id, status: status, pid: status == .stopped ? 0 : r.pid,
                bundle: r.bundle, rootfs: r.rootfs, created: r.created, owner: HostProbe.userName(owner),
                annotations: r.annotations)
        case let .incomplete(id, creating, owner):
            return State(
                ociVersion: OCISpec.ociVersion, id: id, status: creating ? .creating : .stopped, pid: 0,
                bundle: "", rootfs: nil, created: nil, owner: HostProbe.userName(owner), annotations: nil)
        }
    }

    public func state(id: String) throws(RuntimeError) -> String {
        state(try store.peek(id)).json.serialized(pretty: true)
    }

    public enum ListFormat: String { case table, json }

    public func ids() throws(RuntimeError) -> [String] { try store.ids() }

    public func list(format: ListFormat) throws(RuntimeError) -> String {
        // An entry that cannot be read is shown, as stopped with no process
        // (as a create that died), and why is logged: never left out.
        let states = try store.ids().map { id -> State in
            do {
                return state(try store.peek(id))
            } catch {
                log.warn("list: container `\(id)`: \(error)")
                return State(
                    ociVersion: OCISpec.ociVersion, id: id, status: .stopped, pid: 0, bundle: "", rootfs: nil,
                    created: nil, owner: nil, annotations: nil)
            }
        }
        switch format {
        case .json:
            return JSONValue.array(states.map(\.json)).serialized(pretty: false)
        case .table:
            var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
            for s in states {
                rows.append([s.id, "\(s.pid ?? 0)", s.status.rawValue, s.bundle, s.created ?? "", s.owner ?? ""])
            }
            var widths = [Int](repeating: 12, count: 6)
            for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count + 3) } }
            return rows.map { row in
                row.enumerated().map { i, c in i == row.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                    .joined(by: "")
            }.joined(by: "\n")
        }
    }

    // MARK: kill

    /// runc's contract, which engines match on: a stopped container's
    /// `kill` fails with "container not running" (containerd's shim and
    /// podman read that as "already exited"), and `kill --all` of one
    /// succeeds, signalling whatever of it is left in its cgroup.
    static func notRunning(_ id: String) -> RuntimeError {
        .message("container not running: `\(id)` is stopped")
    }

    public func kill(id: String, signal: Int32, all: Bool) throws(RuntimeError) {
        let dir = try store.open(id)
        let r = try dir.read()
        guard let pidfd = Runtime.pidfd(r) else {
            guard all else { throw Runtime.notRunning(id) }
            if let cg = Runtime.cgroup(r), !cg.dirs.isEmpty, cg.pids().contains(where: cg.isContainers) {
                try cg.signalAll(signal)
            }
            return
        }
        if all {
            try killAll(r, signal: signal, initPidfd: pidfd.raw)
        } else {
            try sys { () throws(SysError) in try Sys.pidfdSendSignal(pidfd.raw, signal, "container `\(id)` (pid \(r.pid))") }
        }
    }

    /// Every process in the container's pid namespace, each through a pidfd
    /// checked after opening (pinned), so a reused pid is never signalled.
    func killAll(_ r: ContainerRecord, signal: Int32, initPidfd: Int32) throws(RuntimeError) {
        if let cg = Runtime.cgroup(r), !cg.dirs.isEmpty {
            try cg.signalAll(signal)
            // The first process too, should it have left the cgroup.
            _ = try? Sys.pidfdSendSignal(initPidfd, signal, "container `\(r.id)` (pid \(r.pid))")
            return
        }
        guard r.ownPidNamespace else {
            throw .message("kill --all: container `\(r.id)` shares its pid namespace and has no cgroup of its own, so its processes cannot be told apart")
        }
        guard let ns = Proc.namespaceInode(r.pid, "pid") else {
            // Not dumpable, so not started: its first process is the only one.
            guard Runtime.inRecordedNamespace(r) else { throw Runtime.notRunning(r.id) }
            try sys { () throws(SysError) in try Sys.pidfdSendSignal(initPidfd, signal, "container `\(r.id)` (pid \(r.pid))") }
            return
        }
        // The recorded process must still be in the namespace recorded at
        // create, and that must not be skiff's own: --all never walks the
        // host's processes on the word of a state file.
        guard let recorded = r.pidNamespace, recorded == ns, ns != Proc.namespaceInode(getpid(), "pid") else {
            throw .message(
                "kill --all: the process recorded for container `\(r.id)` (pid \(r.pid)) is not in the container's own pid namespace: refusing to signal its namespace"
            )
        }
        for name in (try? Sys.listDirectory("/proc")) ?? [] {
            guard let pid = Int32(name), pid != r.pid, Proc.namespaceInode(pid, "pid") == ns,
                let fd = try? Sys.pidfdOpen(pid), Proc.namespaceInode(pid, "pid") == ns
            else { continue }
            _ = try? Sys.pidfdSendSignal(fd.raw, signal, "pid \(pid)")
        }
        try sys { () throws(SysError) in try Sys.pidfdSendSignal(initPidfd, signal, "container `\(r.id)` (pid \(r.pid))") }
    }

    // MARK: delete

    public func delete(id: String, force: Bool) throws(RuntimeError) {
        // runc and crun: `delete --force` of what is already gone succeeds
        // (cleanup scripts run it after a `run` that removed its container).
        if force, try !store.exists(id) {
            log.debug("delete --force: container `\(id)` does not exist")
            return
        }
        let dir = try store.open(id)
        let r: ContainerRecord
        do {
            r = try dir.read()
        } catch {
            // We hold the lock, so no create is in progress: what is left of
            // one that died is removed, its cgroup (and what runs in it) too.
            if let (v, paths, adopted) = dir.readCgroups(), let cg = Cgroup.recorded(version: v, paths: paths, adopted: adopted) {
                try removeCgroup(cg, id: id, killing: adopted.isEmpty)
            }
            try dir.remove()
            return
        }
        let cg = Runtime.cgroup(r)
        if let pidfd = Runtime.pidfd(r) {
            guard force else {
                throw .message("container `\(id)` is \(Runtime.status(r).rawValue): stop it first, or delete it with --force")
            }
            // Interfaces go back while the namespace still lives.
            if let devices = r.netDevices { NetDevices.moveOut(devices, pid: r.pid, log: log) }
            if let cg { try? cg.signalAll(SIGKILL); if cg.isFrozen { try? cg.setFrozen(false) } }
            let exited = try sys { () throws(SysError) in
                // ESRCH: cgroup.kill above was faster; the pidfd still says when it is gone.
                do throws(SysError) {
                    try Sys.pidfdSendSignal(pidfd.raw, SIGKILL, "container `\(id)` (pid \(r.pid))")
                } catch {
                    if error.errno != .ESRCH { throw error }
                }
                return try Sys.waitReadable(
                    pidfd.raw, timeoutMillis: Runtime.killWaitMillis,
                    "container `\(id)` (pid \(r.pid))")
            }
            // Never wait forever (a process frozen by a freezer skiff did not
            // make, or stuck in the kernel): say why, keep the state so that
            // a later delete --force can finish.
            if !exited { throw .message(Runtime.stuckMessage(id: id, pid: r.pid)) }
        }
        if let cg { try removeCgroup(cg, id: id) }
        try dir.remove()
        runPoststop(r)
    }

    /// What is left in the cgroup (children of a container without a pid
    /// namespace of its own outlive its first process) is killed, then
    /// the directories go.
    func removeCgroup(_ cg: Cgroup, id: String, killing: Bool = true) throws(RuntimeError) {
        do {
            try destroy(cg, killing: killing)
        } catch {
            throw .context("delete `\(id)`", error)
        }
    }

    /// Kills what is left in the cgroup, stops its systemd scope (empty by
    /// then, so systemd has nothing to wait for), removes its directories.
    /// `killing` false: the container's processes cannot be told from
    /// others' (a create that died before its record, in a cgroup it
    /// joined): nothing is signalled.
    func destroy(_ cg: Cgroup, killing: Bool = true) throws(RuntimeError) {
        if killing, cg.pids().contains(where: cg.isContainers) {
            try cg.signalAll(SIGKILL)
            if cg.isFrozen { try cg.setFrozen(false) }
        }
        if let unit = cg.unit {
            try SystemdManager.connect(user: unit.user).stopUnit(unit.name)
        }
        for left in try cg.remove() {
            log.warn("cgroup \(left) still holds processes the container did not start: left in place")
        }
    }

    /// How long delete --force waits for a killed process to exit.
    static let killWaitMillis: Int32 = 5000

    static func stuckMessage(id: String, pid: Int32) -> String {
        var why = ""
        if let st = Proc.stat(pid) {
            switch st.state {
            case "D": why = " (it is in uninterruptible sleep in the kernel)"
            case "T", "t": why = " (it is stopped or traced)"
            default: break
            }
        }
        if let frozen = Proc.frozenCgroup(pid) {
            why = " (it is frozen in the cgroup `\(frozen)`: thaw it)"
        }
        return
            "delete --force `\(id)`: pid \(pid) did not exit within \(killWaitMillis / 1000) s of SIGKILL\(why); the container is kept: run delete --force again once it can exit"
    }

    // MARK: helpers

    func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return path }
        let cwd = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if path.isEmpty || path == "." { return cwd }
        return (cwd == "/" ? "" : cwd) + "/" + path
    }
}
