import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Testing

@testable import Runtime

/// The parent's half of the launch without a container: the child's
/// failure records rendered against runc spec's plan, and the sync
/// sequence the launchers expect, played against a fake child on the
/// other end of the socket pair. Runs as any user.
@Suite struct LaunchProtocolTests {
    static func plan() throws -> LaunchPlan {
        try CPlanBuilderTests.plan(CPlanBuilderTests.runcSpec(terminal: false))
    }

    static func render(_ step: skiff_step, _ err: Int32, _ index: Int32, plan: LaunchPlan) -> String {
        FailureRenderer(plan: plan, joined: []).render(skiff_msg(type: SKIFF_SYNC_ERROR.rawValue, step: step.rawValue, error: err, index: index))
            .description
    }

    @Test("a failure record names the config's JSON path and what was done, with the errno")
    func rendering() throws {
        let p = try Self.plan()
        let bind = try #require(p.mounts.firstIndex { if case .bind = $0.kind { return true } else { return false } })
        let source = Self.render(SKIFF_STEP_MOUNT_SOURCE, ENOENT, Int32(bind), plan: p)
        #expect(source.contains("\(p.mounts[bind].origin): open bind source `/srv/data`") && source.contains("no such file or directory"), "\(source)")
        let rlimit = Self.render(SKIFF_STEP_RLIMIT, EPERM, 0, plan: p)
        #expect(rlimit.contains("process.rlimits[0]: set `RLIMIT_NOFILE` to 1024/1024") && rlimit.contains("operation not permitted"), "\(rlimit)")
        let cwd = Self.render(SKIFF_STEP_CHDIR, ENOENT, -1, plan: p)
        #expect(cwd.contains("process.cwd: chdir `/`"), "\(cwd)")
        let proto = Self.render(SKIFF_STEP_PROTOCOL, EPROTO, Int32((SKIFF_SYNC_START.rawValue << 16) | SKIFF_SYNC_COMMIT.rawValue), plan: p)
        #expect(proto.contains("expected SKIFF_SYNC_START, got SKIFF_SYNC_COMMIT"), "\(proto)")
        let outOfRange = Self.render(SKIFF_STEP_MOUNT_SOURCE, ENOENT, 99, plan: p)
        #expect(outOfRange.contains("mount 99"), "an index past the plan is named, not trusted: \(outOfRange)")
    }

    @Test("exec failures keep runc's exit codes: 127 when nothing was found, 126 when it cannot run")
    func execCodes() throws {
        let p = try Self.plan()
        let missing = FailureRenderer(plan: p, joined: []).render(
            skiff_msg(type: SKIFF_SYNC_ERROR.rawValue, step: SKIFF_STEP_EXEC.rawValue, error: ENOENT, index: -1))
        let denied = FailureRenderer(plan: p, joined: []).render(
            skiff_msg(type: SKIFF_SYNC_ERROR.rawValue, step: SKIFF_STEP_EXEC.rawValue, error: EACCES, index: 0))
        #expect(missing.exitCode == 127 && denied.exitCode == 126, "\(missing) / \(denied)")
    }

    /// `body` must fail with an error whose text contains `text`.
    static func expectFailure(
        _ text: String, _ why: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record(Comment(rawValue: why), sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    /// A launched "child" that is really a sleeping process of ours, with
    /// the test playing the child's end of the socket pair.
    final class FakeChild {
        let launched: Launched
        var peer: Int32
        init(_ plan: LaunchPlan) throws {
            let (ours, theirs) = try Sys.socketpair()
            peer = theirs
            var pidfd: Int32 = -1
            // A process to stand for the child: the user namespace holder
            // only waits, and pidfd-killing it is what `kill` does.
            let pid = skiff_spawn_userns_holder(&pidfd)
            if pid <= 0 { throw SysError("clone3", nil, errno: Errno(-pid)) }
            launched = Launched(
                pid: pid, pidfd: FileDescriptor(adopting: pidfd), sync: SyncChannel(FileDescriptor(adopting: ours)), plan: plan,
                renderer: FailureRenderer(plan: plan, joined: []))
        }
        func send(_ type: skiff_sync, step: skiff_step = SKIFF_STEP_PROTOCOL, error: Int32 = 0, index: Int32 = -1) throws {
            try Sys.send(peer, skiff_msg(type: type.rawValue, step: step.rawValue, error: error, index: index), "fake child")
        }
        func received() throws -> UInt32? { try Sys.receive(peer, "fake child")?.type }
        func hangUp() {
            close(peer)
            peer = -1
        }
        deinit {
            launched.kill()
            if peer >= 0 { close(peer) }
        }
    }

    @Test("the parent expects the child's messages in order: the right one passes, another is named, a failure record is the error")
    func sequence() throws {
        let p = try Self.plan()
        let ok = try FakeChild(p)
        try ok.send(SKIFF_SYNC_HOOKS_PLS)
        try ok.launched.expect(SKIFF_SYNC_HOOKS_PLS)
        try ok.launched.send(SKIFF_SYNC_HOOKS_ACK)
        #expect(try ok.received() == SKIFF_SYNC_HOOKS_ACK.rawValue)

        let wrong = try FakeChild(p)
        try wrong.send(SKIFF_SYNC_READY)
        #expect(throws: RuntimeError.self) { try wrong.launched.expect(SKIFF_SYNC_TIMEOFFSETS_PLS) }
        Self.expectFailure("expected SKIFF_SYNC_TIMEOFFSETS_PLS, got SKIFF_SYNC_READY", "another message must be an error") {
            try wrong.send(SKIFF_SYNC_READY)
            try wrong.launched.expect(SKIFF_SYNC_TIMEOFFSETS_PLS)
        }

        let failed = try FakeChild(p)
        try failed.send(SKIFF_SYNC_ERROR, step: SKIFF_STEP_CHDIR, error: ENOENT)
        Self.expectFailure("process.cwd: chdir `/`", "a failure record must be an error") {
            try failed.launched.expect(SKIFF_SYNC_READY)
        }
    }

    @Test("a child that fails with a message of the parent's unread: its failure record, not the kernel's connection reset")
    func failureAfterUnreadMessage() throws {
        let p = try Self.plan()
        let child = try FakeChild(p)
        // The parent has sent something (the v1 cgroup's tasks files, say)
        // that the child never reads: it fails at its first mount and exits.
        try child.launched.send(SKIFF_SYNC_CGROUP_ACK)
        try child.send(SKIFF_SYNC_ERROR, step: SKIFF_STEP_CHDIR, error: ENOENT)
        // Its end closes when it exits (the stand-in holds a copy): only
        // then does the kernel reset ours.
        _ = Glibc.kill(child.launched.pid, SIGKILL)
        var exited = pollfd(fd: child.launched.pidfd.raw, events: Int16(POLLIN), revents: 0)
        #expect(poll(&exited, 1, 5000) == 1)
        child.hangUp()
        Self.expectFailure("process.cwd: chdir `/`", "a failure record must be an error") {
            try Launcher.awaitReady(child.launched, id: "t", bundle: "/b")
        }
    }

    @Test("READY ends the setup; end of file before it is the child exiting, and after START it means execve succeeded")
    func ready() throws {
        let p = try Self.plan()
        let eof = try FakeChild(p)
        // As a real child does: it exits, and its end closes.
        _ = Glibc.kill(eof.launched.pid, SIGKILL)
        eof.hangUp()
        Self.expectFailure("exited during setup", "end of file before READY must fail") {
            try Launcher.awaitReady(eof.launched, id: "t", bundle: "/b")
        }
        let started = try FakeChild(p)
        try started.send(SKIFF_SYNC_READY)
        try Launcher.awaitReady(started.launched, id: "t", bundle: "/b")
        #expect(started.launched.startTime == 0, "exec's process is not pinned: nothing records it")
        Launcher.pin(started.launched)
        #expect(started.launched.startTime != 0, "the container's first process is pinned")
        #expect(
            (started.launched.pidNamespace != nil) == p.creates(.pid),
            "its pid namespace is read when the plan makes one: \(String(describing: started.launched.pidNamespace))")
        try started.launched.send(SKIFF_SYNC_START)
        #expect(try started.received() == SKIFF_SYNC_START.rawValue)
        _ = Glibc.shutdown(started.peer, Int32(SHUT_WR))
        try started.launched.awaitExec()
    }
}
