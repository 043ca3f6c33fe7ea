import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// `checkpoint` (runc's flags): the container's process tree dumped by
/// CRIU into an image directory; the container is gone afterwards unless
/// --leave-running or --pre-dump.
extension Runtime {
    /// What checkpoint and restore share (runc's flags of both).
    public struct CriuFlags {
        public var imagePath: String?
        public var workPath: String?
        public var tcpEstablished = false
        public var extUnixSk = false
        public var shellJob = false
        public var fileLocks = false
        public var manageCgroupsMode: String?
        public var emptyNamespaces: [String] = []
        public var autoDedup = false
        public init() {}

        func apply(to o: inout Criu.Options) throws(RuntimeError) {
            o.manageCgroupsMode = try Runtime.cgroupMode(manageCgroupsMode)
            o.emptyNamespaces = try Runtime.emptyNamespaces(emptyNamespaces)
            o.tcpEstablished = tcpEstablished
            o.extUnixSk = extUnixSk
            o.shellJob = shellJob
            o.fileLocks = fileLocks
            o.autoDedup = autoDedup
        }
    }

    public struct CheckpointOptions {
        public var criu = CriuFlags()
        public var parentPath: String?
        public var leaveRunning = false
        public var preDump = false
        public init() {}
    }

    /// The image directory when none is given: ./checkpoint, as runc's.
    static func imageDirectory(_ given: String?, _ cwd: String) -> String {
        guard let given, !given.isEmpty else { return cwd + "/checkpoint" }
        return given
    }

    public func checkpoint(id: String, _ o: CheckpointOptions) throws(RuntimeError) {
        try Runtime.checkCheckpointCaller("checkpoint")
        var opts = Criu.Options()
        try o.criu.apply(to: &opts)
        if let parent = o.parentPath, parent.hasPrefix("/") {
            throw .message("--parent-path: `\(parent)` must be relative to the image path (e.g. ../pre-dump), as CRIU reads it")
        }
        let dir = try store.open(id)
        let r = try dir.read()
        let status = Runtime.status(r)
        guard status == .running || status == .paused, Runtime.pidfd(r) != nil else {
            throw .message("checkpoint: container `\(id)` is \(status.rawValue): only a running container can be checkpointed")
        }
        let spec = try keptConfig(dir)
        let images = absolute(Runtime.imageDirectory(o.criu.imagePath, absolute(".")))
        let imagesFd = try Runtime.makeDirectory(images, flag: "--image-path")
        let work = o.criu.workPath.map { absolute($0) } ?? images
        let held = FileDescriptorSet()
        let workFd = o.criu.workPath == nil ? imagesFd.raw : held.adopt(try Runtime.makeDirectory(work, flag: "--work-path"))
        if let stdio = r.stdio {
            let doc = JSONValue.array(stdio.map { .string($0) })
            try sys { () throws(SysError) in
                try Sys.writeAtomically(imagesFd.raw, "descriptors.json", Array(doc.serialized(pretty: false).utf8), display: images + "/descriptors.json")
            }
        }
        let criu = try Criu()
        try Runtime.checkCriuVersion(criu)
        // Numbers in skiff's process: CRIU opens them as /proc/<skiff>/fd/N.
        // Its log goes to the work directory: the images' by default.
        opts.imagesDirFd = imagesFd.raw
        opts.workDirFd = workFd
        opts.pid = r.pid
        opts.logFile = "dump.log"
        opts.root = r.rootfs
        opts.leaveRunning = o.leaveRunning || o.preDump
        opts.parentImages = o.parentPath
        opts.trackMem = o.preDump || o.parentPath != nil
        opts.orphanPtsMaster = true
        let cgroup = Runtime.cgroup(r)
        let hierarchies = cgroup.flatMap { $0.version == .v1 ? $0.dirs.map(\.hierarchy) : nil }
        opts.extMounts =
            Runtime.externalMounts(spec, pid: r.pid).map { ($0.key, $0.key) }
            + Runtime.cgroupMounts(spec, hierarchies: hierarchies).map { ($0, $0) }
        opts.external = try Runtime.externalNamespaces(spec)
        if let cg = cgroup {
            opts.freezeCgroup = cg.version == .v2 ? cg.unified?.hostPath : cg.dirs.first { $0.hierarchy == "freezer" }?.hostPath
        }
        let fds: [Int32] = []
        log.debug("checkpoint `\(id)`: criu \(criu.binary) into \(images), log \(work)/dump.log")
        let response = try criu.run(o.preDump ? .preDump : .dump, opts, fds: fds) { _ throws(RuntimeError) in }
        guard response.success else {
            throw .message(Runtime.criuFailure(o.preDump ? "pre-dump" : "dump", response, log: work + "/dump.log"))
        }
        if o.preDump || o.leaveRunning { return }
        // CRIU killed the tree: the container is gone, as after runc's checkpoint.
        if let cg = Runtime.cgroup(r) { try removeCgroup(cg, id: id) }
        try dir.remove()
        runPoststop(r)
    }

    /// CRIU needs root of the host (CAP_SYS_ADMIN; CAP_CHECKPOINT_RESTORE
    /// only covers part of it), as runc and crun say.
    static func checkCheckpointCaller(_ command: String) throws(RuntimeError) {
        if Sys.euid != 0 || Proc.inUserNamespace() {
            throw .message(
                "\(command): needs root of the host: CRIU dumps and restores namespaces, mounts and cgroups, which an unprivileged user (or root of a user namespace) cannot (runc and crun refuse too)"
            )
        }
    }

    static func cgroupMode(_ flag: String?) throws(RuntimeError) -> Criu.CgroupMode {
        guard let flag else { return .soft }
        guard let mode = Criu.CgroupMode(flag: flag) else {
            throw .message("--manage-cgroups-mode: `\(flag)` is not one of soft, full, strict, ignore")
        }
        return mode
    }

    /// --empty-ns: namespaces CRIU makes empty instead of restoring (runc
    /// allows only `network`).
    static func emptyNamespaces(_ names: [String]) throws(RuntimeError) -> UInt32 {
        var flags: UInt32 = 0
        for n in names {
            guard n == "network" else { throw .message("--empty-ns: `\(n)` is not supported (only `network`, as runc)") }
            flags |= UInt32(bitPattern: CLONE_NEWNET)
        }
        return flags
    }

    static func checkCriuVersion(_ criu: Criu) throws(RuntimeError) {
        let v = try criu.version()
        if v < Criu.minimumVersion {
            throw .message(
                "criu \(criu.binary) is version \(v / 10000).\(v / 100 % 100).\(v % 100): checkpoint and restore need 3.14 or later")
        }
    }

    static func criuFailure(_ what: String, _ r: Criu.Response, log: String) -> String {
        var text = "criu \(what) failed"
        if let m = r.message?.trimmingWhitespace(), !m.isEmpty { text += ": \(m)" }
        if let e = r.errno, e != 0 { text += " (\(Errno(e)))" }
        // The first error is the cause; the last is CRIU giving up.
        var firstError = ""
        if let bytes = try? Sys.readFile(log) {
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            firstError = lines.first { $0.includes("Error") }.map { String($0) } ?? ""
        }
        if !firstError.isEmpty {
            text += "; its log's first error: \(firstError)"
            if firstError.includes("kerndat") || firstError.includes("vdso") {
                text += " (CRIU cannot work on this kernel: `skiff check` says why)"
            }
        } else if access(log, F_OK) != 0, let criu = try? Criu(), let why = criu.check() {
            // CRIU stopped before it wrote a log: its kernel checks failed.
            return text + "; `criu check` fails on this host: \(why)"
        }
        return text + "; log: \(log)"
    }

    /// A directory made if missing (0700), opened.
    static func makeDirectory(_ path: String, flag: String) throws(RuntimeError) -> FileDescriptor {
        if mkdir(path, 0o700) != 0 && Errno.current != .EEXIST {
            throw .context(flag, .system(SysError("mkdir", path, errno: .current)))
        }
        do {
            return try Sys.open(path, O_RDONLY | O_DIRECTORY)
        } catch {
            throw .context(flag, .system(error))
        }
    }

    /// Mounts CRIU must treat as external: binds (their source is the
    /// host's) and masked files (a bind of /dev/null), keyed by their
    /// place in the container. A masked path that does not exist in the
    /// container was not masked.
    static func externalMounts(_ spec: Spec, pid: Int32?) -> [(key: String, source: String)] {
        var out: [(String, String)] = []
        for m in spec.mounts ?? [] {
            let options = m.options ?? []
            guard m.type == "bind" || options.contains("bind") || options.contains("rbind") else { continue }
            out.append(("/" + ContainerPath.relative(m.destination), m.source ?? ""))
        }
        for path in spec.linux?.maskedPaths ?? [] {
            // On dump, what the container has; on restore (no process) every
            // one: a mapping for a key the images lack is not used.
            if let pid {
                guard let st = try? Sys.stat("/proc/\(pid)/root" + path), st.st_mode & S_IFMT != S_IFDIR else { continue }
            }
            out.append((path, "/dev/null"))
        }
        return out
    }

    /// cgroup filesystems in the container: their root is the container's
    /// cgroup (a cgroup namespace, or a v1 hierarchy's directory), which no
    /// mount CRIU sees has; external, restored as a bind of the restored
    /// container's cgroup. On v1 hierarchies (`hierarchies`) the
    /// destination is a tmpfs with one mount per hierarchy below it: each
    /// of those is external too, keyed by its mount point.
    static func cgroupMounts(_ spec: Spec, hierarchies: [String]?) -> [String] {
        let roots = (spec.mounts ?? []).filter { $0.type == "cgroup" || $0.type == "cgroup2" }.map {
            "/" + ContainerPath.relative($0.destination)
        }
        return roots.flatMap { root in [root] + (hierarchies ?? []).map { root + "/" + $0 } }
    }

    /// Namespaces joined by path stay outside the images: CRIU records
    /// them by inode and restore puts the process back into the one the
    /// config names (crun's and runc's keys).
    static func externalNamespaces(_ spec: Spec) throws(RuntimeError) -> [String] {
        var out: [String] = []
        for (i, ns) in (spec.linux?.namespaces ?? []).enumerated() {
            guard let path = ns.path, ns.type == .network || ns.type == .pid else { continue }
            let st: stat
            do {
                st = try Sys.stat(path)
            } catch {
                throw .context("linux.namespaces[\(i)].path", .system(error))
            }
            out.append(ns.type == .network ? "net[\(st.st_ino)]:extRootNetNS" : "pid[\(st.st_ino)]:extRootPidNS")
        }
        return out
    }
}
