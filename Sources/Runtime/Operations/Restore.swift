import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// `restore` (runc's flags): a container made again from a checkpoint's
/// images and its bundle, under a new id or the old one.
extension Runtime {
    public struct RestoreOptions {
        public var criu = CriuFlags()
        public var bundle: String
        public var detach = false
        public var pidFile: String?
        public var consoleSocket: String?
        public var noSubreaper = false
        public var noPivot = false
        public var lsmProfile: String?
        public var lsmMountContext: String?
        public init(bundle: String) { self.bundle = bundle }
    }

    /// Returns the restored container's exit status in the foreground, 0
    /// with --detach.
    public func restore(id: String, _ o: RestoreOptions) throws(RuntimeError) -> Int32 {
        try Runtime.checkCheckpointCaller("restore")
        if o.noPivot {
            throw .message(
                "restore --no-pivot: CRIU restores the mount namespace with pivot_root itself; a rootfs that cannot be pivoted into (ramfs) cannot be restored")
        }
        if systemdCgroup {
            throw .message(
                "restore --systemd-cgroup: not supported yet: CRIU would place the process outside the scope systemd makes; restore with the cgroupfs driver")
        }
        var opts = Criu.Options()
        try o.criu.apply(to: &opts)
        try StateStore.checkID(id)
        if try store.exists(id) { throw .message("restore: container `\(id)` already exists: delete it first, or restore under another id") }
        let criu = try Criu()
        try Runtime.checkCriuVersion(criu)
        let (bundle, plan, _, config, _) = try prepare(o.bundle, id: id, preserveFds: 0)
        try Terminal.check(terminal: plan.terminal, consoleSocket: o.consoleSocket, detached: o.detach, command: "restore")
        // CRIU mounts (its cgroup yard in the work directory, the root) where
        // it runs: in a mount namespace of skiff's own, made before anything
        // is opened, so that what it opens is of that namespace too.
        try Runtime.privateRootfsMount(plan.rootfs)
        let images = absolute(Runtime.imageDirectory(o.criu.imagePath, absolute(".")))
        let imagesFd: FileDescriptor
        do {
            imagesFd = try Sys.open(images, O_RDONLY | O_DIRECTORY)
        } catch {
            throw .context("--image-path", .system(error))
        }
        guard (try? Sys.stat(images + "/inventory.img")) != nil else {
            throw .message("--image-path: `\(images)` holds no checkpoint (no inventory.img): was it written by `checkpoint`?")
        }
        let work = o.criu.workPath.map { absolute($0) } ?? images
        let held = FileDescriptorSet()
        let workFd = o.criu.workPath == nil ? imagesFd.raw : held.adopt(try Runtime.makeDirectory(work, flag: "--work-path"))
        let spec: Spec
        do {
            spec = try JSONDecoding.decode(Spec.self, json: config)
        } catch {
            throw .context(bundle + "/config.json", .spec(error))
        }
        let descriptors = Runtime.readDescriptors(images)

        let dir = try store.create(id)
        var cgroup: Cgroup?
        var restored: Int32?
        do throws(RuntimeError) {
            cgroup = try makeCgroup(plan, dir)
            try dir.writeConfig(config)
            // Numbers in skiff's process: CRIU opens them as /proc/<skiff>/fd/N.
            opts.imagesDirFd = imagesFd.raw
            opts.workDirFd = workFd
            // criu's own fds at 4, 5, ... (its socket is 3); its stdio is
            // ours, which the restored pipes inherit.
            var fds: [Int32] = []
            opts.logFile = "restore.log"
            opts.root = plan.rootfs
            opts.restoreSibling = true
            if let cp = plan.cgroup, let first = cp.dirs.first { opts.cgroupRoots = [(nil, first.path)] }
            opts.extMounts = Runtime.externalMounts(spec, pid: nil).map { ($0.key, $0.source) }
            if let cg = cgroup?.unified ?? cgroup?.dirs.first {
                opts.extMounts += Runtime.cgroupMounts(spec).map { ($0, cg.hostPath) }
            }
            for (i, d) in descriptors.enumerated() where d.hasPrefix("pipe:") { opts.inheritFds.append((d, Int32(i))) }
            for ns in plan.namespaces where ns.path != nil && (ns.type == .network || ns.type == .pid) {
                let fd = try sys { () throws(SysError) in try Sys.open(ns.path!, O_RDONLY) }
                fds.append(held.adopt(fd))
                opts.inheritFds.append((ns.type == .network ? "extRootNetNS" : "extRootPidNS", Int32(3 + fds.count)))
            }
            opts.orphanPtsMaster = plan.terminal
            opts.lsmProfile = o.lsmProfile
            opts.lsmMountContext = o.lsmMountContext
            log.debug("restore `\(id)`: criu \(criu.binary) from \(images), log \(work)/restore.log")
            let consoleSocket = o.consoleSocket
            let response = try criu.run(.restore, opts, fds: fds) { (n: Criu.Notification) throws(RuntimeError) in
                if n.script == "orphan-pts-master", let path = consoleSocket, n.fd >= 0 {
                    try Terminal.sendMaster(path, n.fd)
                }
            }
            guard response.success, let pid = response.restoredPid, pid > 0 else {
                throw RuntimeError.message(Runtime.criuFailure("restore", response, log: work + "/restore.log"))
            }
            restored = pid
            guard let st = Proc.stat(pid) else { throw RuntimeError.message("restore: the restored process \(pid) is gone") }
            var rec = record(id: id, bundle: bundle, plan: plan, pid: pid, startTime: st.startTime, cgroup: cgroup)
            rec.started = true
            rec.stdio = Proc.stdio(pid)
            try dir.write(rec)
            if let pidFile = o.pidFile { try writePidFile(pidFile, pid) }
            log.debug("restored `\(id)`: pid \(pid)")
        } catch {
            if let pid = restored { _ = Glibc.kill(pid, SIGKILL) }
            try cleanUp(dir, cgroup, after: error)
        }
        if o.detach { return 0 }
        guard let pid = restored else { return 1 }
        let pidfd = try sys { () throws(SysError) in try Sys.pidfdOpen(pid) }
        let signals = held.adopt(try Signals.blockForwarded())
        _ = consume dir  // unlock: kill, state and delete work while we wait
        let status = try wait(pidfd: pidfd.raw, id: id, signals: signals, proxy: nil)
        if let d = try? store.open(id) {
            if let cg = cgroup { try removeCgroup(cg, id: id) }
            try d.remove()
        }
        return status
    }

    /// descriptors.json: where the checkpointed process's stdio led.
    static func readDescriptors(_ images: String) -> [String] {
        guard let bytes = try? Sys.readFile(images + "/descriptors.json"),
            case let .array(items)? = try? JSONValue.parse(bytes)
        else { return [] }
        return items.compactMap { if case let .string(s) = $0 { return s } else { return nil } }
    }

    /// CRIU pivots into the root it is given, which must be a mount point:
    /// the rootfs is bound onto itself in a mount namespace of skiff's own
    /// (made now, a slave of the host's), so nothing is left on the host.
    static func privateRootfsMount(_ rootfs: String) throws(RuntimeError) {
        let r = skiff_unshare(CLONE_NEWNS)
        if r != 0 { throw .system(SysError("unshare", "mount namespace", errno: Errno(-r))) }
        if mount(nil, "/", nil, UInt(MS_REC | MS_SLAVE), nil) != 0 {
            throw .system(SysError("make / a slave", nil, errno: .current))
        }
        if mount(rootfs, rootfs, nil, UInt(MS_BIND | MS_REC), nil) != 0 {
            throw .context("root.path", .system(SysError("bind the rootfs for CRIU", rootfs, errno: .current)))
        }
    }
}
