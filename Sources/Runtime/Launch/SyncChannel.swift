import CShim
import Glibc
import LinuxSys

/// The parent's end of the sync socket (sync.c; the messages are shim.h's
/// `skiff_sync`): fixed 16-byte records, some carrying fds. The init and
/// exec launchers speak it the same way; the sequences they expect are in
/// InitLauncher and ExecLauncher, and in docs/design.md.
struct SyncChannel: ~Copyable {
    let fd: FileDescriptor

    init(_ fd: consuming FileDescriptor) { self.fd = fd }

    func send(_ type: skiff_sync) throws(RuntimeError) {
        try sys { () throws(SysError) in
            try Sys.send(fd.raw, skiff_msg(type: type.rawValue, step: 0, error: 0, index: -1), "sync")
        }
    }

    /// A message with fds attached (SCM_RIGHTS); ours stay open.
    func send(_ type: skiff_sync, fds: [Int32], what: String) throws(RuntimeError) {
        let r = fds.withUnsafeBufferPointer { skiff_send_fds(fd.raw, type.rawValue, $0.baseAddress, UInt32($0.count)) }
        if r < 0 { throw .system(SysError("send \(what)", nil, errno: Errno(-r))) }
    }

    /// The next message and the fd that came with it, or nil at end of file.
    func receive() throws(RuntimeError) -> Received? {
        try Received.from(fd.raw, "sync")
    }
}

/// A message from the child and the fd that may come with it: a seccomp
/// listener with READY, a hook's output with a failure record.
struct Received: ~Copyable {
    let msg: skiff_msg
    /// Owned: closed with the message; -1 when none came.
    let fd: Int32

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    var isFailure: Bool { msg.type == SKIFF_SYNC_ERROR.rawValue }

    /// nil at end of file.
    static func from(_ sock: Int32, _ what: String) throws(RuntimeError) -> Received? {
        var msg = skiff_msg()
        var raw: Int32 = -1
        let got = skiff_recv_with_fd(sock, &msg, &raw)
        if got <= 0 {
            if raw >= 0 { _ = Glibc.close(raw) }
            if got < 0 { throw .system(SysError("receive", what, errno: Errno(-got))) }
            return nil
        }
        return Received(msg: msg, fd: raw)
    }

    static func name(_ type: UInt32) -> String { String(cString: skiff_sync_name(type)) }
}
