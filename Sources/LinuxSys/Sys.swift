import CShim
import Glibc

/// Typed syscall wrappers for the parent side. Names follow the syscalls;
/// every failure is a `SysError` naming the operation and object.
public enum Sys {
    // MARK: files

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(SysError) -> FileDescriptor {
        let fd = try retrying("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(adopting: fd)
    }

    public static func openat(
        _ dir: Int32, _ path: String, _ flags: Int32, mode: mode_t = 0,
        display: String? = nil
    ) throws(SysError) -> FileDescriptor {
        let fd = try retrying("open", display ?? path) { Glibc.openat(dir, path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(adopting: fd)
    }

    /// openat2(2): `resolve` is RESOLVE_* (RESOLVE_IN_ROOT keeps a lookup below `dir`).
    public static func openat2(
        _ dir: Int32, _ path: String, _ flags: Int32, resolve: UInt64,
        display: String? = nil
    ) throws(SysError) -> FileDescriptor {
        let fd = try retrying("open", display ?? path) {
            skiff_openat2(dir, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), 0, resolve)
        }
        return FileDescriptor(adopting: fd)
    }

    /// Reads to end of file; more than `limit` bytes is EFBIG (a file that
    /// grows while read, or /dev/zero behind a name, cannot exhaust memory).
    public static func read(
        _ fd: borrowing FileDescriptor, _ path: String? = nil,
        limit: Int = Int.max
    ) throws(SysError) -> [UInt8] {
        var out: [UInt8] = []
        let size = 16384
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { chunk.deallocate() }
        let raw = fd.raw
        while true {
            let n = try retrying("read", path) { Glibc.read(raw, chunk, size) }
            if n == 0 { return out }
            if out.count + n > limit { throw SysError("read", path, errno: Errno(EFBIG)) }
            out.append(contentsOf: UnsafeRawBufferPointer(start: chunk, count: n))
        }
    }

    /// A file of someone else's (a container's image), read by root with
    /// nothing of it trusted: resolved below `dir` with `resolve`, opened
    /// O_PATH first (opening a device or a FIFO can block or act), checked
    /// to be a regular file of at most `limit` bytes, then reopened through
    /// that fd (the same inode) and read, bounded.
    public static func readRegularFile(
        at dir: Int32, _ path: String, resolve: UInt64, limit: Int,
        display: String
    ) throws(SysError) -> [UInt8] {
        let pinned = try openat2(dir, path, skiff_O_PATH, resolve: resolve, display: display)
        let st = try fstat(pinned.raw, display)
        guard st.st_mode & S_IFMT == S_IFREG else { throw SysError("open", display + " (not a regular file)", errno: Errno(EINVAL)) }
        guard st.st_size <= limit else { throw SysError("read", display, errno: Errno(EFBIG)) }
        let fd = try open("/proc/self/fd/\(pinned.raw)", O_RDONLY | O_NONBLOCK | O_NOCTTY)
        return try read(fd, display, limit: limit)
    }

    public static func readFile(_ path: String) throws(SysError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        return try read(fd, path)
    }

    public static func readFileAt(_ dir: Int32, _ name: String, display: String) throws(SysError) -> [UInt8] {
        let fd = try openat(dir, name, O_RDONLY, display: display)
        return try read(fd, display)
    }

    public static func write(_ fd: Int32, _ bytes: [UInt8], _ path: String? = nil) throws(SysError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { buf in Glibc.write(fd, buf.baseAddress! + off, buf.count - off) }
            if n < 0 {
                let e = Errno.current
                if e == .EINTR { continue }
                throw SysError("write", path, errno: e)
            }
            off += n
        }
    }

    public static func write(_ fd: Int32, _ text: String, _ path: String? = nil) throws(SysError) {
        try write(fd, Array(text.utf8), path)
    }

    /// Writes a file in `dir` atomically: a temporary file renamed over the
    /// old one, so a reader sees the old or the new file, never a part.
    /// No fsync: state files live for the machine's uptime (/run), and an
    /// fsync on a disk filesystem cost a tenth of a `run` (docs/design-notes.md).
    ///
    /// The temporary file is new (O_EXCL, O_NOFOLLOW) and its name random:
    /// in a directory others can write (a --pid-file's), a FIFO, a link or
    /// a hard link to someone else's file planted under the name is never
    /// opened, and a name taken is tried again under another.
    public static func writeAtomically(
        _ dir: Int32, _ name: String, _ bytes: [UInt8],
        mode: mode_t = 0o644, display: String
    ) throws(SysError) {
        var tmp = ""
        var made: FileDescriptor? = nil
        for _ in 0..<8 {
            tmp = ".\(name).\(hex(skiff_random64())).tmp"
            do {
                made = try openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode, display: display)
                break
            } catch {
                if error.errno != .EEXIST { throw error }
            }
        }
        guard let fd = made else { throw SysError("create a temporary file for", display, errno: Errno(EEXIST)) }
        do {
            try write(fd.raw, bytes, display)
            _ = try retrying("rename", display) { Glibc.renameat(dir, tmp, dir, name) }
        } catch {
            _ = Glibc.unlinkat(dir, tmp, 0)
            throw error
        }
    }

    /// Sixteen lowercase hex digits: String(_:radix:) is generic code,
    /// unspecialised, and each state write names a temporary file.
    static func hex(_ v: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        var n = v
        for i in (0..<16).reversed() {
            out[i] = digits[Int(n & 15)]
            n >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func mkdir(_ path: String, _ mode: mode_t) throws(SysError) {
        _ = try retrying("mkdir", path) { Glibc.mkdir(path, mode) }
    }

    /// mkdir -p; existing directories are fine.
    public static func mkdirAll(_ path: String, _ mode: mode_t) throws(SysError) {
        var prefix = ""
        // Split on bytes: Character-wise split pages in grapheme breaking;
        // and String + Substring would append through the generic Sequence
        // path (a run-time conformance lookup); String does not.
        for part in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            prefix.append("/")
            prefix.append(String(decoding: part, as: UTF8.self))
            if Glibc.mkdir(prefix, mode) != 0 {
                let e = Errno.current
                if e != .EEXIST { throw SysError("mkdir", prefix, errno: e) }
            }
        }
    }

    public static func unlinkat(_ dir: Int32, _ name: String, flags: Int32 = 0, display: String) throws(SysError) {
        _ = try retrying("remove", display) { Glibc.unlinkat(dir, name, flags) }
    }

    /// Removes a directory and the files in it (one level: state directories).
    public static func removeDirectory(_ path: String) throws(SysError) {
        guard let d = opendir(path) else {
            let e = Errno.current
            if e == .ENOENT { return }
            throw SysError("open", path, errno: e)
        }
        let dfd = dirfd(d)
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            if Glibc.unlinkat(dfd, name, 0) != 0 {
                let e = Errno.current
                if e != .ENOENT { closedir(d); throw SysError("remove", path + "/" + name, errno: e) }
            }
        }
        closedir(d)
        if Glibc.rmdir(path) != 0 {
            let e = Errno.current
            if e != .ENOENT { throw SysError("remove", path, errno: e) }
        }
    }

    /// The entries of an open directory (a duplicate of `fd` is read, so
    /// `fd` stays usable), optionally only the subdirectories (by d_type,
    /// or lstat where the filesystem does not fill it in).
    public static func listDirectory(fd: Int32, directoriesOnly: Bool) throws(SysError) -> [String] {
        let dup = Glibc.fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard dup >= 0, let d = fdopendir(dup) else {
            let e = Errno.current
            if dup >= 0 { Glibc.close(dup) }
            throw SysError("read directory", nil, errno: e)
        }
        defer { closedir(d) }
        rewinddir(d)
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." { continue }
            if directoriesOnly {
                var type = ent.pointee.d_type
                if type == UInt8(DT_UNKNOWN) {
                    var st = Glibc.stat()
                    if Glibc.fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 { continue }
                    type = st.st_mode & S_IFMT == S_IFDIR ? UInt8(DT_DIR) : UInt8(DT_REG)
                }
                if type != UInt8(DT_DIR) { continue }
            }
            names.append(name)
        }
        return names
    }

    public static func listDirectory(_ path: String) throws(SysError) -> [String] {
        guard let d = opendir(path) else { throw SysError("open", path) }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func stat(_ path: String) throws(SysError) -> stat {
        var st = Glibc.stat()
        _ = try retrying("stat", path) { Glibc.fstatat(AT_FDCWD, path, &st, 0) }
        return st
    }

    public static func fstat(_ fd: Int32, _ path: String? = nil) throws(SysError) -> stat {
        var st = Glibc.stat()
        _ = try retrying("stat", path) { Glibc.fstat(fd, &st) }
        return st
    }

    public static func flock(_ fd: Int32, _ op: Int32, _ path: String) throws(SysError) {
        _ = try retrying("lock", path) { skiff_flock(fd, op) }
    }

    public static func readlink(_ path: String) throws(SysError) -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = try retrying("readlink", path) { Glibc.readlink(path, &buf, buf.count - 1) }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func fcntlFlags(_ fd: Int32) -> Int32? {
        let r = Glibc.fcntl(fd, F_GETFD)
        return r < 0 ? nil : r
    }

    // MARK: processes

    public static func pidfdOpen(_ pid: Int32) throws(SysError) -> FileDescriptor {
        let fd = try retrying("pidfd_open", "\(pid)") { skiff_pidfd_open(pid) }
        return FileDescriptor(adopting: fd)
    }

    public static func pidfdSendSignal(_ pidfd: Int32, _ signal: Int32, _ what: String) throws(SysError) {
        _ = try retrying("kill", what) { skiff_pidfd_send_signal(pidfd, signal) }
    }

    /// Waits for the process behind a pidfd to exit (it must be our child)
    /// and returns its wait status as a shell would: the code, or 128+signal.
    public static func waitExit(pidfd: Int32, _ what: String) throws(SysError) -> Int32 {
        var info = siginfo_t()
        _ = try retrying("wait", what) { Glibc.waitid(idtype_t(rawValue: 3 /* P_PIDFD */), id_t(pidfd), &info, WEXITED) }
        let code = info._sifields._sigchld.si_status
        return info.si_code == CLD_EXITED ? code : 128 + code
    }

    /// Blocks until the pidfd is readable: the process has exited.
    public static func waitReadable(_ fd: Int32, timeoutMillis: Int32 = -1, _ what: String) throws(SysError) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = try retrying("poll", what) { Glibc.poll(&p, 1, timeoutMillis) }
        return n > 0
    }

    public static var euid: uid_t { Glibc.geteuid() }
    public static var egid: gid_t { Glibc.getegid() }

    public static func environment(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }

    // MARK: sockets

    /// A SOCK_SEQPACKET pair; the caller owns both fds.
    public static func socketpair() throws(SysError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try retrying("socketpair") { Glibc.socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (fds[0], fds[1])
    }

    /// A SOCK_SEQPACKET unix socket bound at `name` in directory `dir` (through
    /// /proc/self/fd, so the length of the directory path does not matter).
    public static func listenUnix(dir: Int32, name: String, display: String) throws(SysError) -> FileDescriptor {
        let fd = try retrying("socket", display) { Glibc.socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let sock = FileDescriptor(adopting: fd)
        try withUnixAddress("/proc/self/fd/\(dir)/\(name)", display) { (addr, len) throws(SysError) in
            _ = try retrying("bind", display) { Glibc.bind(sock.raw, addr, len) }
        }
        _ = try retrying("listen", display) { Glibc.listen(sock.raw, 4) }
        return sock
    }

    /// `timeoutSeconds`: connect and send give up (EAGAIN) after that long
    /// on a peer that does not accept or read.
    public static func connectUnix(
        dir: Int32, name: String, display: String, stream: Bool = false,
        timeoutSeconds: Int = 0
    ) throws(SysError) -> FileDescriptor {
        let type = stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_SEQPACKET.rawValue)
        let fd = try retrying("socket", display) { Glibc.socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let sock = FileDescriptor(adopting: fd)
        if timeoutSeconds > 0 {
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            _ = try retrying("set a timeout on", display) {
                setsockopt(sock.raw, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            }
        }
        try withUnixAddress("/proc/self/fd/\(dir)/\(name)", display) { (addr, len) throws(SysError) in
            _ = try retrying("connect", display) { Glibc.connect(sock.raw, addr, len) }
        }
        return sock
    }

    private static func withUnixAddress(
        _ path: String, _ display: String,
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SysError) -> Void
    ) throws(SysError) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity else { throw SysError("bind", display, errno: Errno(ENAMETOOLONG)) }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in bytes.enumerated() { buf[i] = b }
            buf[bytes.count] = 0
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        var result: SysError?
        withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                do throws(SysError) { try body(sa, len) } catch { result = error }
            }
        }
        if let result { throw result }
    }

    public static func send(_ fd: Int32, _ msg: skiff_msg, _ what: String) throws(SysError) {
        var m = msg
        _ = try retrying("send", what) { Glibc.send(fd, &m, MemoryLayout<skiff_msg>.size, Int32(MSG_NOSIGNAL)) }
    }

    /// One message, or nil at end of file.
    public static func receive(_ fd: Int32, _ what: String) throws(SysError) -> skiff_msg? {
        var m = skiff_msg()
        // MSG_TRUNC: the packet's real length; a longer one is malformed.
        let n = try retrying("receive", what) { Glibc.recv(fd, &m, MemoryLayout<skiff_msg>.size, Int32(MSG_TRUNC)) }
        if n == 0 { return nil }
        guard n == MemoryLayout<skiff_msg>.size else { throw SysError("receive", what, errno: Errno(EPROTO)) }
        return m
    }

    // MARK: namespaces

    /// The CLONE_NEW* type of a namespace fd.
    public static func namespaceType(_ fd: Int32, _ path: String) throws(SysError) -> Int32 {
        let r = skiff_ns_type(fd)
        if r < 0 { throw SysError("inspect namespace", path, errno: Errno(-r)) }
        return r
    }
}
