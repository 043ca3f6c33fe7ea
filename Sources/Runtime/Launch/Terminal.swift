import CShim
import Glibc
import LinuxSys

/// process.terminal on the parent's side: runc's rules for the console
/// socket, the connection to it, and for `run` in the foreground without
/// one, skiff's own end of the pty.
enum Terminal {
    /// runc's checks (utils_linux.go checkTerminal), with its reasons.
    static func check(
        terminal: Bool, consoleSocket: String?, detached: Bool,
        command: String
    ) throws(RuntimeError) {
        if detached && terminal && consoleSocket == nil {
            throw .message(
                "process.terminal is true but \(command) has no --console-socket to send the terminal to (cannot allocate a tty for a \(command == "run" ? "detached run" : command) without one)"
            )
        }
        if consoleSocket != nil && (!detached || !terminal) {
            throw .message(
                terminal
                    ? "--console-socket: \(command) in the foreground keeps the terminal itself; use it with --detach"
                    : "--console-socket: process.terminal is false, so there is no terminal to send")
        }
    }

    /// A connection to the caller's console socket (a unix stream socket).
    static func connect(_ path: String, flag: String = "--console-socket") throws(RuntimeError) -> FileDescriptor {
        let slash = path.lastIndex(of: "/")
        let dirPath = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        do {
            let dir = try Sys.open(dirPath, skiff_O_PATH | O_DIRECTORY)
            return try Sys.connectUnix(dir: dir.raw, name: name, display: path, stream: true)
        } catch {
            throw .context(flag, .system(error))
        }
    }

    /// --pidfd-socket (runc 1.2): a pidfd of the process goes to the socket
    /// (SCM_RIGHTS, as the console's master does), so that a shim can
    /// signal and wait on it without pid reuse.
    static func sendPidfd(_ path: String, _ pidfd: borrowing FileDescriptor) throws(RuntimeError) {
        let sock = try connect(path, flag: "--pidfd-socket")
        let name = Array("pidfd".utf8)
        let r = name.withUnsafeBytes { skiff_send_with_fd(sock.raw, $0.baseAddress, $0.count, pidfd.raw) }
        if r < 0 { throw .context("--pidfd-socket", .system(SysError("send the pidfd to", path, errno: Errno(-r)))) }
    }
}

extension Terminal {
    /// The master of a terminal made elsewhere (CRIU's restored one) to
    /// the console socket, as the container's own goes there.
    static func sendMaster(_ path: String, _ master: Int32) throws(RuntimeError) {
        let sock = try connect(path)
        let name = Array("/dev/ptmx".utf8)
        let r = name.withUnsafeBytes { skiff_send_with_fd(sock.raw, $0.baseAddress, $0.count, master) }
        if r < 0 { throw .context("--console-socket", .system(SysError("send the terminal to", path, errno: Errno(-r)))) }
    }
}

/// `run` in the foreground with a terminal: the pty's master comes back on
/// a socket pair, and skiff copies between its own stdio and the master,
/// its terminal (if stdin is one) in raw mode meanwhile and its size passed
/// on at each SIGWINCH.
final class TerminalProxy {
    /// skiff's end of the pair; the child gets the other as its console socket.
    let socket: FileDescriptor
    let childEnd: FileDescriptor
    private(set) var master: FileDescriptor?
    private var saved: termios?
    private var stdinOpen = true

    init() throws(RuntimeError) {
        var fds: [Int32] = [-1, -1]
        if Glibc.socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) != 0 {
            throw .system(SysError("socketpair", "terminal"))
        }
        socket = FileDescriptor(adopting: fds[0])
        childEnd = FileDescriptor(adopting: fds[1])
    }

    deinit { restore() }

    /// After READY: the master has been sent. Our terminal goes raw.
    func receiveMaster() throws(RuntimeError) {
        let fd = skiff_recv_fd(socket.raw)
        if fd < 0 { throw .system(SysError("receive the terminal", nil, errno: Errno(-fd))) }
        master = FileDescriptor(adopting: fd)
        resize()
        var t = termios()
        if isatty(0) == 1, tcgetattr(0, &t) == 0 {
            saved = t
            cfmakeraw(&t)
            _ = tcsetattr(0, TCSANOW, &t)
        }
    }

    func restore() {
        if var t = saved {
            _ = tcsetattr(0, TCSANOW, &t)
            saved = nil
        }
    }

    /// Our window size onto the pty (the kernel tells the container).
    func resize() {
        guard let m = master?.raw else { return }
        var ws = winsize()
        if ioctl(0, UInt(TIOCGWINSZ), &ws) == 0 { _ = ioctl(m, UInt(TIOCSWINSZ), &ws) }
    }

    /// The poll entries: stdin (while open) and the master.
    var pollEntries: [pollfd] {
        [
            pollfd(fd: stdinOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: master?.raw ?? -1, events: Int16(POLLIN), revents: 0),
        ]
    }

    /// Copies what is ready; `entries` are pollEntries after poll.
    func pump(_ entries: ArraySlice<pollfd>) {
        guard let m = master?.raw else { return }
        let e = Array(entries)
        if e[0].revents != 0, !copy(from: 0, to: m) { stdinOpen = false }
        if e[1].revents != 0 { _ = copy(from: m, to: 1) }
    }

    /// What the container wrote before it exited.
    func drain() {
        guard let m = master?.raw else { return }
        let flags = fcntl(m, F_GETFL)
        _ = fcntl(m, F_SETFL, flags | O_NONBLOCK)
        while copy(from: m, to: 1) {}
    }

    /// One read and its write; false at end of file or error (EIO: the
    /// pty's other side is closed).
    private func copy(from: Int32, to: Int32) -> Bool {
        var buf = [UInt8](repeating: 0, count: 16384)
        let n = buf.withUnsafeMutableBytes { Glibc.read(from, $0.baseAddress, $0.count) }
        if n < 0 && Errno.current == .EINTR { return true }
        guard n > 0 else { return false }
        var off = 0
        while off < n {
            let w = buf.withUnsafeBytes { Glibc.write(to, $0.baseAddress! + off, n - off) }
            if w < 0 {
                if Errno.current == .EINTR { continue }
                return false
            }
            off += w
        }
        return true
    }
}
