import CShim
import Glibc
import LinuxSys

/// CRIU driven as runc drives it: `criu swrk 3`, one request and its
/// notifications over a seqpacket socket pair, in protobuf
/// (criu/images/rpc.proto). The RPC rather than the command line, because
/// only the RPC hands back a restored terminal's master (orphan-pts-master)
/// and lets skiff take part in the dump and restore (notifications).
struct Criu {
    /// criu_opts, the fields skiff sets (numbers from rpc.proto).
    struct Options {
        var imagesDirFd: Int32 = -1
        var workDirFd: Int32 = -1
        var pid: Int32?
        var logFile = "dump.log"
        var root: String?
        var leaveRunning = false
        var extUnixSk = false
        var tcpEstablished = false
        var shellJob = false
        var fileLocks = false
        var parentImages: String?
        var trackMem = false
        var autoDedup = false
        var manageCgroupsMode: CgroupMode = .soft
        /// (controller or nil, path)
        var cgroupRoots: [(String?, String)] = []
        var restoreSibling = false
        /// Key and the fd number in criu's process.
        var inheritFds: [(String, Int32)] = []
        /// Key and value: on dump the mount point (both), on restore the
        /// host path that goes there.
        var extMounts: [(String, String)] = []
        var external: [String] = []
        var emptyNamespaces: UInt32 = 0
        var freezeCgroup: String?
        var orphanPtsMaster = false
        var lsmProfile: String?
        var lsmMountContext: String?

        func encoded() -> ProtoWriter {
            var o = ProtoWriter()
            o.int(1, Int64(imagesDirFd))
            if let pid { o.int(2, Int64(pid)) }
            o.flag(3, leaveRunning)
            o.flag(4, extUnixSk)
            o.flag(5, tcpEstablished)
            o.flag(7, shellJob)
            o.flag(8, fileLocks)
            o.int(9, 4)
            o.string(10, logFile)
            o.bool(12, true)  // notify_scripts
            if let root { o.string(13, root) }
            if let parentImages { o.string(14, parentImages) }
            o.flag(15, trackMem)
            o.flag(16, autoDedup)
            if workDirFd >= 0 { o.int(17, Int64(workDirFd)) }
            for (k, v) in extMounts {
                var m = ProtoWriter()
                m.string(1, k)
                m.string(2, v)
                o.message(23, m)
            }
            o.bool(24, true)  // manage_cgroups
            for (ctrl, path) in cgroupRoots {
                var m = ProtoWriter()
                if let ctrl { m.string(1, ctrl) }
                m.string(2, path)
                o.message(25, m)
            }
            o.flag(26, restoreSibling)
            for (k, fd) in inheritFds {
                var m = ProtoWriter()
                m.string(1, k)
                m.int(2, Int64(fd))
                o.message(27, m)
            }
            o.int(34, Int64(manageCgroupsMode.rawValue))
            for e in external { o.string(37, e) }
            if emptyNamespaces != 0 { o.int(38, Int64(emptyNamespaces)) }
            if let freezeCgroup { o.string(44, freezeCgroup) }
            o.flag(50, orphanPtsMaster)
            if let lsmProfile { o.string(53, lsmProfile) }
            if let lsmMountContext { o.string(63, lsmMountContext) }
            return o
        }
    }

    /// rpc.proto's criu_cg_mode; runc's --manage-cgroups-mode names.
    enum CgroupMode: Int {
        case ignore = 0, soft = 3, full = 4, strict = 5

        init?(flag: String) {
            switch flag {
            case "ignore": self = .ignore
            case "soft": self = .soft
            case "full": self = .full
            case "strict": self = .strict
            default: return nil
            }
        }
    }

    enum Request: Int64 {
        case dump = 1, restore = 2, preDump = 4, notify = 6, featureCheck = 9, version = 10
    }

    /// A notification: the action script's name, a pid, and an fd that came
    /// with it or -1 (closed once the handler returns).
    struct Notification {
        let script: String
        let pid: Int32
        let fd: Int32
    }

    /// The answer to the request.
    struct Response {
        let success: Bool
        let restoredPid: Int32?
        let errno: Int32?
        let message: String?
    }

    /// The criu binary: $PATH, then where distributions put it.
    static func find() -> String? {
        let path = Sys.environment("PATH") ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        for d in dirs where !d.isEmpty {
            let candidate = d + "/criu"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// runc needs CRIU 3.0; skiff uses what 3.11 has (orphan-pts-master,
    /// freeze_cgroup on v2: 3.14).
    static let minimumVersion = 31400

    let binary: String

    init() throws(RuntimeError) {
        guard let path = Self.find() else {
            throw .message("criu: not found in PATH or /usr/sbin (checkpoint and restore need CRIU 3.14 or later: apt install criu)")
        }
        binary = path
    }

    /// `criu check`: nil when CRIU says this kernel can do what it needs,
    /// otherwise its first error line.
    func check() -> String? {
        let memfd = skiff_memfd("criu-check")
        guard memfd >= 0 else { return "criu check: memfd: \(Errno(-memfd))" }
        let log = FileDescriptor(adopting: memfd)
        let argv = [binary, "check", "-o", "/proc/self/fd/3"]
        var cArgv = argv.map { strdup($0) } + [nil]
        defer { cArgv.forEach { free($0) } }
        let pid = [log.raw].withUnsafeBufferPointer { skiff_spawn_with_fds(binary, &cArgv, environ, $0.baseAddress, 1, 1, 0) }
        guard pid > 0 else { return "criu check: \(Errno(-pid))" }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && Errno.current == .EINTR {}
        if status == 0 { return nil }
        lseek(log.raw, 0, SEEK_SET)
        let text = String(decoding: (try? Sys.read(log, "criu check log", limit: 1 << 20)) ?? [], as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        return lines.first { $0.includes("Error") } ?? lines.last ?? "criu check failed (status \(status))"
    }

    /// CRIU's version as major*10000 + minor*100 + sublevel.
    func version() throws(RuntimeError) -> Int {
        var req = ProtoWriter()
        req.int(1, Request.version.rawValue)
        var version = 0
        _ = try call(req, fds: [], notify: { _ throws(RuntimeError) in }) { r in
            if let v = r.message(10) {
                version = Int(v.int(1) ?? 0) * 10000 + Int(v.int(2) ?? 0) * 100 + Int(v.int(4) ?? 0)
            }
        }
        return version
    }

    /// Sends the request with `fds` at 4, 5, ... in criu's process (its
    /// socket is 3), answers each notification after `notify` handled it
    /// (a thrown error answers it with failure, and criu gives up), and
    /// returns the final response. `spawned` gets criu's pid before the
    /// request is sent (restore puts it into systemd's scope there). With
    /// `noNewPrivs` criu runs with no_new_privs, and so does what it
    /// restores: CRIU before 3.19 does not restore the flag, and a process
    /// cannot be given it from outside.
    func run(
        _ type: Request, _ options: Options, fds: [Int32], noNewPrivs: Bool = false,
        spawned: (pid_t) throws(RuntimeError) -> Void = { _ throws(RuntimeError) in },
        notify: (Notification) throws(RuntimeError) -> Void
    ) throws(RuntimeError) -> Response {
        var req = ProtoWriter()
        req.int(1, type.rawValue)
        req.message(2, options.encoded())
        var restored: Int32?
        let r = try call(req, fds: fds, noNewPrivs: noNewPrivs, spawned: spawned, notify: notify) { r in
            restored = r.message(4)?.int(1).map { Int32(truncatingIfNeeded: $0) }
        }
        return Response(
            success: r.bool(2) ?? false, restoredPid: restored,
            errno: r.int(7).map { Int32(truncatingIfNeeded: $0) }, message: r.string(9))
    }

    private func call(
        _ request: ProtoWriter, fds: [Int32], noNewPrivs: Bool = false,
        spawned: (pid_t) throws(RuntimeError) -> Void = { _ throws(RuntimeError) in },
        notify: (Notification) throws(RuntimeError) -> Void, final: (ProtoReader) -> Void
    ) throws(RuntimeError) -> ProtoReader {
        let (ours, theirs) = try sys { () throws(SysError) in try Sys.socketpair() }
        let sock = ours
        var pid: pid_t = -1
        do {
            let theirsFd = FileDescriptor(adopting: theirs)
            let argv = [binary, "swrk", "3"]
            var cArgv = argv.map { strdup($0) } + [nil]
            defer { cArgv.forEach { free($0) } }
            pid = ([theirsFd.raw] + fds).withUnsafeBufferPointer { list in
                skiff_spawn_with_fds(binary, &cArgv, environ, list.baseAddress, UInt32(list.count), -1, noNewPrivs ? 1 : 0)
            }
        }
        guard pid > 0 else {
            close(sock)
            throw .system(SysError("spawn", binary, errno: Errno(-pid)))
        }
        // Closed first: after a pre-dump criu waits for another request
        // until the socket closes.
        defer {
            close(sock)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && Errno.current == .EINTR {}
        }
        try spawned(pid)
        try send(sock, request)
        while true {
            var buf = [UInt8](repeating: 0, count: 64 << 10)
            var fd: Int32 = -1
            let n = buf.withUnsafeMutableBytes { skiff_recv_packet(sock, $0.baseAddress, $0.count, &fd) }
            if n < 0 { throw .system(SysError("receive from", "criu swrk", errno: Errno(Int32(-n)))) }
            if n == 0 { throw .message("criu swrk exited without an answer (its log says why)") }
            let r: ProtoReader
            do {
                r = try ProtoReader(Array(buf[0..<n]))
            } catch {
                if fd >= 0 { close(fd) }
                throw .message("criu swrk: a malformed message")
            }
            if r.int(1) == Request.notify.rawValue, let n = r.message(5) {
                let note = Notification(
                    script: n.string(1) ?? "", pid: Int32(truncatingIfNeeded: n.int(2) ?? 0), fd: fd)
                var ok = true
                var failure: RuntimeError?
                do {
                    try notify(note)
                } catch {
                    ok = false
                    failure = error
                }
                if fd >= 0 { close(fd) }
                var answer = ProtoWriter()
                answer.int(1, Request.notify.rawValue)
                answer.bool(3, ok)
                try send(sock, answer)
                if let failure { throw failure }
                continue
            }
            if fd >= 0 { close(fd) }
            final(r)
            return r
        }
    }

    private func send(_ sock: Int32, _ m: ProtoWriter) throws(RuntimeError) {
        let r = m.bytes.withUnsafeBytes { Glibc.send(sock, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if r < 0 { throw .system(SysError("send to", "criu swrk", errno: .current)) }
    }
}
