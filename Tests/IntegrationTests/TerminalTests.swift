import Foundation
import Testing

/// A recvtty-like console socket: accepts one connection and takes the fd
/// that comes with its message (SCM_RIGHTS), as conmon and containerd do.
final class ConsoleReceiver: @unchecked Sendable {
    let path: String
    private let listener: Int32
    private var received: Int32 = -1
    private var payload = ""
    private let done = DispatchSemaphore(value: 0)

    init(dir: String) throws {
        path = dir + "/console.sock"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in path.utf8.enumerated() { buf[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0, listen(listener, 1) == 0 else { throw HarnessError("console socket \(path): errno \(errno)") }
        Thread.detachNewThread { [self] in accept1() }
    }

    deinit {
        close(listener)
        if received >= 0 { close(received) }
    }

    private func accept1() {
        let c = accept(listener, nil, nil)
        defer { if c >= 0 { close(c) }; done.signal() }
        guard c >= 0 else { return }
        var data = [UInt8](repeating: 0, count: 256)
        // struct cmsghdr { size_t len; int level; int type; } + one int, aligned.
        var control = [UInt8](repeating: 0, count: 24)
        let n = data.withUnsafeMutableBytes { d in
            control.withUnsafeMutableBytes { ctl in
                var iov = iovec(iov_base: d.baseAddress, iov_len: d.count)
                return withUnsafeMutablePointer(to: &iov) { iovp in
                    var h = msghdr(
                        msg_name: nil, msg_namelen: 0, msg_iov: iovp, msg_iovlen: 1,
                        msg_control: ctl.baseAddress, msg_controllen: ctl.count, msg_flags: 0)
                    return recvmsg(c, &h, Int32(MSG_CMSG_CLOEXEC))
                }
            }
        }
        guard n >= 0 else { return }
        payload = String(decoding: data.prefix(n), as: UTF8.self)
        let level = control.withUnsafeBytes { $0.load(fromByteOffset: 8, as: Int32.self) }
        let type = control.withUnsafeBytes { $0.load(fromByteOffset: 12, as: Int32.self) }
        if level == SOL_SOCKET && type == Int32(SCM_RIGHTS) {
            received = control.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
        }
    }

    /// The master, once it came.
    private var arrived = false

    func master() throws -> Int32 {
        if !arrived { arrived = done.wait(timeout: .now() + 10) == .success }
        guard arrived, received >= 0 else {
            throw HarnessError("no terminal arrived on \(path)")
        }
        return received
    }

    var name: String { payload }

    /// Writes `input` to the terminal and reads until `until` shows or the
    /// other side closes.
    func converse(_ input: String, until marker: String) throws -> String {
        let m = try master()
        _ = input.withCString { write(m, $0, strlen($0)) }
        var out = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !out.contains(marker) {
            var p = pollfd(fd: m, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) >= 0 else { break }
            if p.revents == 0 { continue }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = read(m, &buf, buf.count)
            if n <= 0 { break }
            out += String(decoding: buf.prefix(n), as: UTF8.self)
        }
        return out
    }
}

@Suite struct TerminalTests {
    @Test("create --console-socket: the master comes to the socket, the pty is the container's, sized and /dev/console")
    func consoleSocket() throws {
        var s = try Skiff(["sh"])
        s["process", "terminal"] = true
        s["process", "consoleSize"] = ["height": 33, "width": 99]
        let recv = try ConsoleReceiver(dir: s.bundle)
        let id = Harness.uniqueName("tty")
        let r = try s("create", "--bundle", s.bundle, "--console-socket", recv.path, id)
        #expect(r.status == 0, "\(r)")
        let m = try recv.master()
        #expect(recv.name == "/dev/ptmx")
        // A master of the container's own devpts instance, not the host's.
        var st = stat(), host = stat(), hostPtmx = stat()
        #expect(fstat(m, &st) == 0 && stat("/dev/pts", &host) == 0 && stat("/dev/ptmx", &hostPtmx) == 0)
        #expect(st.st_rdev == hostPtmx.st_rdev, "a pty master (5:2)")
        #expect(st.st_dev != host.st_dev && st.st_dev != hostPtmx.st_dev, "not the host's devpts or /dev")
        #expect(try s("start", id).status == 0)
        let out = try recv.converse(
            "stty size; tty; ls -l /dev/console; readlink /proc/1/fd/0; echo END-$((1+1))\n",
            until: "END-2")
        #expect(out.contains("33 99"), "\(out)")
        #expect(out.contains("/dev/pts/0"), "\(out)")
        #expect(out.contains("136,   0 ") && out.contains("/dev/console"), "/dev/console is the pty: \(out)")
        _ = try recv.converse("exit 4\n", until: "\u{0}")
        try waitFor { (try? s.state(id)["status"] as? String) == "stopped" }
        #expect(try s("delete", id).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("run in the foreground with a terminal proxies it: input in, output out, the exit status back")
    func foregroundRun() throws {
        var s = try Skiff(["sh", "-c", "read x; echo got $x; tty; exit 7"])
        s["process", "terminal"] = true
        let id = Harness.uniqueName("ttyrun")
        try s.writeConfig()
        let r = try s.skiff(["--root", s.root, "run", "--bundle", s.bundle, id], stdin: "hello\n")
        #expect(r.status == 7, "\(r)")
        #expect(r.stdout.contains("got hello") && r.stdout.contains("/dev/pts/0"), "\(r)")
        s.expectNothingLeft(id)
    }

    @Test("runc's rules: no socket to detach with, a socket without a terminal or in the foreground")
    func refusals() throws {
        var s = try Skiff(["true"])
        s["process", "terminal"] = true
        try s.expectRefused("process.terminal is true but create has no --console-socket", create: true)
        let id = Harness.uniqueName("ttyd")
        let d = try s("run", "-d", "--bundle", s.bundle, id)
        #expect(d.status == 1 && d.stderr.contains("run has no --console-socket"), "\(d)")
        s.expectNothingLeft(id)
        let recv = try ConsoleReceiver(dir: s.bundle)
        let fg = try s("run", "--console-socket", recv.path, "--bundle", s.bundle, id)
        #expect(fg.status == 1 && fg.stderr.contains("--console-socket: run in the foreground keeps the terminal itself"), "\(fg)")
        s["process", "terminal"] = false
        let none = try s("create", "--console-socket", recv.path, "--bundle", s.bundle, id)
        #expect(none.status == 1 && none.stderr.contains("--console-socket: process.terminal is false"), "\(none)")
        let missing = try s("run", "-d", "--console-socket", s.bundle + "/nope.sock", "--bundle", s.bundle, id)
        #expect(missing.status == 1 && missing.stderr.contains("--console-socket"), "\(missing)")
        s.expectNothingLeft(id)
    }

    @Test("process.consoleSize larger than a terminal is refused with its path")
    func consoleSizeTooLarge() throws {
        var s = try Skiff(["true"])
        s["process", "terminal"] = true
        s["process", "consoleSize"] = ["height": 70000, "width": 80]
        try s.expectRefused("process.consoleSize: 70000x80 is larger than a terminal can be")
    }

    /// CVE-2025-52565 (runc) and crun's console symlink: an image whose
    /// /dev/console is a link must not aim the bind at the link's target.
    @Test("an image's /dev/console symlink is not followed (CVE-2025-52565)")
    func consoleSymlink() throws {
        let rootfs = Harness.scratch + "/" + Harness.uniqueName("ttyroot")
        _ = Harness.makeRootfs(at: rootfs)
        let victim = Harness.scratch + "/" + Harness.uniqueName("victim")
        try "untouched\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/dev/console", withDestinationPath: victim)
        var s = try Skiff(["true"], rootfs: rootfs)
        s["process", "terminal"] = true
        // No tmpfs on /dev: the image's own /dev, with its link, is used.
        s.mounts = s.mounts.filter { ($0["destination"] as? String) != "/dev" }
        let recv = try ConsoleReceiver(dir: s.bundle)
        let id = Harness.uniqueName("ttylink")
        let r = try s("create", "--console-socket", recv.path, "--bundle", s.bundle, id)
        #expect(r.status == 1 && r.stderr.contains("/dev/console in the rootfs is a link"), "\(r)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched\n")
        #expect(!Harness.hostMountinfo().contains(victim))
        s.expectNothingLeft(id)
    }
}
