import CShim
import Glibc
import LinuxSys
import Planning

/// A process the launchers cloned and that waits before execve: the
/// container's first process, or one exec runs in it.
final class Launched {
    private(set) var pid: Int32
    private(set) var pidfd: FileDescriptor
    let sync: SyncChannel
    /// Its start time (/proc/PID/stat) and the inode of its pid namespace:
    /// the container's first process's, read while it sets itself up
    /// (Launcher.pin).
    var startTime: UInt64 = 0
    var pidNamespace: UInt64?
    let plan: LaunchPlan
    private let renderer: FailureRenderer

    init(pid: Int32, pidfd: consuming FileDescriptor, sync: consuming SyncChannel, plan: LaunchPlan, renderer: FailureRenderer) {
        self.pid = pid
        self.pidfd = pidfd
        self.sync = sync
        self.plan = plan
        self.renderer = renderer
    }

    /// Made before the clone, given its process by `started`: a copy of
    /// the plan made after the clone retains each of its buffers, and each
    /// retain writes a heap page the child still shares (a copy-on-write
    /// fault apiece; nine per `run`).
    convenience init(sync: consuming SyncChannel, plan: LaunchPlan, renderer: FailureRenderer) {
        self.init(pid: 0, pidfd: FileDescriptor(adopting: -1), sync: sync, plan: plan, renderer: renderer)
    }

    func started(pid: Int32, pidfd: consuming FileDescriptor) {
        self.pid = pid
        self.pidfd = pidfd
    }

    /// exec: the process that joined the container cloned the one that runs
    /// the plan (a child of ours) and exited; from now on that one is it.
    func replace(pid: Int32, pidfd: consuming FileDescriptor) {
        _ = try? Sys.waitExit(pidfd: self.pidfd.raw, "exec join process")
        self.pid = pid
        self.pidfd = pidfd
    }

    func send(_ type: skiff_sync) throws(RuntimeError) { try sync.send(type) }

    /// A message the child may have stopped waiting for: it went on with
    /// its setup meanwhile (a cgroup made after the clone), and if that
    /// failed, its failure record is the error, not the broken pipe.
    func send(_ type: skiff_sync, fds: [Int32], what: String) throws(RuntimeError) {
        do {
            try fds.isEmpty ? sync.send(type) : sync.send(type, fds: fds, what: what)
        } catch {
            if let got = try? receive(), got.msg.type == SKIFF_SYNC_ERROR.rawValue { throw failure(got.msg, detail: got.fd) }
            throw error
        }
    }

    func receive() throws(RuntimeError) -> Received? { try sync.receive() }

    /// The next message must be `type`: a failure record is the child's
    /// error; anything else stops the launch with both names.
    func expect(_ type: skiff_sync) throws(RuntimeError) {
        guard let got = try receive() else { throw .message("the container process exited during setup") }
        if got.msg.type == type.rawValue { return }
        if got.isFailure { throw failure(got.msg, detail: got.fd) }
        throw .message("sync: expected \(Received.name(type.rawValue)), got \(Received.name(got.msg.type))")
    }

    /// After START: end of file means execve succeeded; a record means it failed.
    func awaitExec() throws(RuntimeError) {
        guard let got = try receive() else { return }
        throw failure(got.msg, detail: got.fd)
    }

    /// The child's failure record as an error naming the config; the child
    /// is killed first.
    func failure(_ msg: skiff_msg, detail: Int32 = -1) -> RuntimeError {
        kill()
        return renderer.render(msg, detail: HookRunner.output(detail))
    }

    /// SIGKILL through the pidfd, then reap: nothing is left behind.
    func kill() {
        _ = try? Sys.pidfdSendSignal(pidfd.raw, SIGKILL, "container process")
        _ = try? Sys.waitExit(pidfd: pidfd.raw, "container process")
    }
}
