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
        try checkRestorable(o)
        var opts = Criu.Options()
        try o.criu.apply(to: &opts)
        try StateStore.checkID(id)
        if try store.exists(id) { throw .message("restore: container `\(id)` already exists: delete it first, or restore under another id") }
        let criu = try Criu()
        try Runtime.checkCriuVersion(criu)
        let (bundle, plan, _, config, systemd) = try prepare(o.bundle, id: id, preserveFds: 0)
        try Terminal.check(terminal: plan.terminal, consoleSocket: o.consoleSocket, detached: o.detach, command: "restore")
        // CRIU mounts (its cgroup yard in the work directory, the root) where
        // it runs: in a mount namespace of skiff's own, made before anything
        // is opened, so that what it opens is of that namespace too.
        try Runtime.privateRootfsMount(plan.rootfs)
        try Runtime.makeMountPoints(plan)
        let images = absolute(Runtime.imageDirectory(o.criu.imagePath, absolute(".")))
        let imagesFd = try Runtime.openImages(images)
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
        // v1 hierarchies: the container's cgroup destination is a tmpfs of
        // its own, external to CRIU; a new one with the same directories
        // and links takes its place (mounted in skiff's namespace only).
        let tmpfs = try plan.cgroup.flatMap { (cp: CgroupPlan) throws(RuntimeError) -> String? in
            cp.version == .v1 ? try Runtime.cgroupTmpfs(work, cp.dirs.map(\.hierarchy)) : nil
        }
        defer {
            if let tmpfs {
                _ = umount2(tmpfs, Int32(MNT_DETACH))
                _ = rmdir(tmpfs)
            }
        }

        let dir = try store.create(id)
        var cgroup: Cgroup?
        var restored: Int32?
        // --systemd-cgroup: systemd's scope is made with criu's own pid in
        // it (runc does the same), so that what criu restores is born there.
        let placement = systemdPlacement(plan, systemd)
        do throws(RuntimeError) {
            cgroup = try makeCgroup(plan, dir)
            try dir.writeConfig(config)
            // Numbers in skiff's process: CRIU opens them as /proc/<skiff>/fd/N.
            opts.imagesDirFd = imagesFd.raw
            opts.workDirFd = workFd
            let fds = try Runtime.restoreOptions(
                &opts, o, plan: plan, spec: spec, cgroup: cgroup, cgroupTmpfs: tmpfs, descriptors: descriptors, held: held)
            log.debug("restore `\(id)`: criu \(criu.binary) from \(images), log \(work)/restore.log")
            let consoleSocket = o.consoleSocket
            let response = try criu.run(
                .restore, opts, fds: fds, noNewPrivs: plan.noNewPrivileges,
                spawned: { (pid: pid_t) throws(RuntimeError) in
                    try placement?.place(pid)
                    cgroup = placement?.cgroup ?? cgroup
                }
            ) { (n: Criu.Notification) throws(RuntimeError) in
                if n.script == "orphan-pts-master", let path = consoleSocket, n.fd >= 0 {
                    try Terminal.sendMaster(path, n.fd)
                }
            }
            guard response.success, let pid = response.restoredPid, pid > 0 else {
                throw RuntimeError.message(Runtime.criuFailure("restore", response, log: work + "/restore.log"))
            }
            restored = pid
            guard let st = Proc.stat(pid) else { throw RuntimeError.message("restore: the restored process \(pid) is gone") }
            var rec = record(
                id: id, bundle: bundle, plan: plan, pid: pid, startTime: st.startTime,
                pidNamespace: plan.creates(.pid) ? Proc.namespaceInode(pid, "pid") : nil, cgroup: cgroup)
            rec.started = true
            rec.stdio = Proc.stdio(pid)
            try dir.write(rec)
            if let pidFile = o.pidFile { try writePidFile(pidFile, pid) }
            log.debug("restored `\(id)`: pid \(pid)")
        } catch {
            if let pid = restored { _ = Glibc.kill(pid, SIGKILL) }
            try cleanUp(dir, cgroup ?? placement?.cgroup, after: error)
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

    /// What restore refuses before anything is done.
    func checkRestorable(_ o: RestoreOptions) throws(RuntimeError) {
        try Runtime.checkCheckpointCaller("restore")
        if o.noPivot {
            throw .message(
                "restore --no-pivot: CRIU restores the mount namespace with pivot_root itself; a rootfs that cannot be pivoted into (ramfs) cannot be restored")
        }
    }

    /// The image directory, opened; it must hold a checkpoint.
    static func openImages(_ images: String) throws(RuntimeError) -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try Sys.open(images, O_RDONLY | O_DIRECTORY)
        } catch {
            throw .context("--image-path", .system(error))
        }
        guard (try? Sys.stat(images + "/inventory.img")) != nil else {
            throw .message("--image-path: `\(images)` holds no checkpoint (no inventory.img): was it written by `checkpoint`?")
        }
        return fd
    }

    /// CRIU's restore options from the bundle's plan: the root, the cgroup
    /// root, external mounts with their sources, the stdio pipes and joined
    /// namespaces to inherit. Returns the fds criu's own process gets at
    /// 4, 5, ... (its socket is 3; its stdio is ours, which the restored
    /// pipes inherit).
    static func restoreOptions(
        _ opts: inout Criu.Options, _ o: RestoreOptions, plan: LaunchPlan, spec: Spec, cgroup: Cgroup?, cgroupTmpfs: String?,
        descriptors: [String], held: FileDescriptorSet
    ) throws(RuntimeError) -> [Int32] {
        var fds: [Int32] = []
        opts.logFile = "restore.log"
        opts.root = plan.rootfs
        opts.restoreSibling = true
        if let cp = plan.cgroup, let first = cp.dirs.first { opts.cgroupRoots = [(nil, first.path)] }
        opts.extMounts = Runtime.externalMounts(spec, pid: nil).map { ($0.key, $0.source) }
        // The plan's directories: under systemd the scope exists only once
        // criu runs, at the path the plan names.
        let planned = plan.cgroup.map { Cgroup(version: $0.version, dirs: $0.dirs) }
        if let cp = plan.cgroup, let cgroupTmpfs {
            for root in Runtime.cgroupMounts(spec, hierarchies: nil) {
                opts.extMounts.append((root, cgroupTmpfs))
                for d in cp.dirs { opts.extMounts.append((root + "/" + d.hierarchy, d.hostPath)) }
            }
        } else if let cg = cgroup?.unified ?? cgroup?.dirs.first ?? planned?.unified ?? planned?.dirs.first {
            opts.extMounts += Runtime.cgroupMounts(spec, hierarchies: nil).map { ($0, cg.hostPath) }
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
        return fds
    }

    /// The mount points the config needs, made in the rootfs where missing,
    /// as create makes them: a checkpoint restored into a fresh rootfs
    /// (podman's `restore --import`) lacks those made at the first start.
    /// Every lookup stays inside the rootfs (RESOLVE_IN_ROOT); what lies
    /// below a tmpfs of the config is CRIU's to restore with it.
    static func makeMountPoints(_ plan: LaunchPlan) throws(RuntimeError) {
        let root: FileDescriptor
        do {
            root = try Sys.open(plan.rootfs, skiff_O_PATH | O_DIRECTORY)
        } catch {
            throw .context("root.path", .system(error))
        }
        let tmpfs = plan.mounts.compactMap { m -> String? in
            if case let .filesystem(type, _, _, _) = m.kind, type == "tmpfs" { return m.target }
            return nil
        }
        let inRoot = UInt64(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        for m in plan.mounts where !m.target.isEmpty && !tmpfs.contains(where: { m.target.hasPrefix($0 + "/") }) {
            var file = false
            if case let .bind(source, _) = m.kind, let st = try? Sys.stat(source) { file = st.st_mode & S_IFMT != S_IFDIR }
            let parts = m.target.split(separator: "/").map(String.init)
            var path = ""
            for (i, part) in parts.enumerated() {
                let parent = path
                path += (path.isEmpty ? "" : "/") + part
                if (try? Sys.openat2(root.raw, path, skiff_O_PATH, resolve: inRoot)) != nil { continue }
                let dir: FileDescriptor
                do {
                    dir = try Sys.openat2(root.raw, parent.isEmpty ? "." : parent, skiff_O_PATH | O_DIRECTORY, resolve: inRoot)
                } catch {
                    throw .context("\(m.origin).destination", .system(error))
                }
                if i == parts.count - 1 && file {
                    let fd = Glibc.openat(dir.raw, part, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                    if fd >= 0 {
                        close(fd)
                    } else if Errno.current != .EEXIST {
                        throw .context("\(m.origin).destination", .system(SysError("create", path, errno: .current)))
                    }
                } else if mkdirat(dir.raw, part, 0o755) != 0 && Errno.current != .EEXIST {
                    throw .context("\(m.origin).destination", .system(SysError("mkdir", path, errno: .current)))
                }
            }
        }
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
    /// A tmpfs laid out as create lays out a container's v1 cgroup
    /// destination (a directory per hierarchy, a link per controller of a
    /// shared one), in a new directory of the work directory.
    static func cgroupTmpfs(_ work: String, _ hierarchies: [String]) throws(RuntimeError) -> String {
        var template = Array((work + "/.skiff-cgroup-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw .context("--work-path", .system(SysError("mkdtemp", work, errno: .current)))
        }
        let path = String(cString: made)
        do throws(RuntimeError) {
            if mount("cgroup", path, "tmpfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), "mode=755") != 0 {
                throw .system(SysError("mount a tmpfs for the cgroup mounts on", path, errno: .current))
            }
            for h in hierarchies where mkdir(path + "/" + h, 0o755) != 0 {
                throw .system(SysError("mkdir", path + "/" + h, errno: .current))
            }
            for (link, target) in cgroupControllerLinks(hierarchies) where symlink(target, path + "/" + link) != 0 {
                throw .system(SysError("symlink", path + "/" + link, errno: .current))
            }
        } catch {
            _ = umount2(path, Int32(MNT_DETACH))
            _ = rmdir(path)
            throw error
        }
        return path
    }

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
