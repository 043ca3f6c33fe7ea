import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Seccomp

/// A process that joins a running container (exec): runc's setnsProcess,
/// youki's tenant builder. The clone joins the container's namespaces
/// through its first process's pidfd and its cgroup, then clones the
/// process that runs the plan (a child of ours, CLONE_PARENT) and exits.
///
/// The protocol: EXEC_PID with the new process's pid, which takes the
/// joining process's place; READY. Then the caller sends START.
enum ExecLauncher {
    struct Options {
        var id: String
        var preserveFds: UInt32 = 0
        var seccomp: SeccompProgram?
        /// For the state a seccomp agent receives.
        var bundle = ""
        /// The container's cgroup or a sub-cgroup of it (--cgroup); nil
        /// while the container is paused (the process joins once READY).
        var cgroup: Cgroup?
        /// A connected console socket (or the terminal proxy's end), or -1.
        var consoleFd: Int32 = -1
        var sessionKeyring: String?
        /// The container's first process (checked against its record).
        var initPidfd: Int32
        /// CLONE_NEW* of its namespaces to join.
        var namespaces: UInt32
    }

    /// Every namespace the container has (a user namespace only if it has
    /// one: joining one's own is EINVAL), as CLONE_NEW* flags.
    static func namespaceFlags(_ plan: LaunchPlan) -> UInt32 {
        plan.namespaces.reduce(0) { $0 | UInt32(bitPattern: CPlanBuilder.cloneFlag($1.type)) }
    }

    static func spawn(_ plan: LaunchPlan, _ o: Options, log: Log) throws(RuntimeError) -> Launched {
        let fds = FileDescriptorSet()
        defer { fds.closeAll() }
        let arena = Arena()
        let ends = try Launcher.socketPair()
        let sync = SyncChannel(FileDescriptor(adopting: ends.parent))
        let childEnd = FileDescriptor(adopting: ends.child)
        var host = Launcher.host(.exec(pidfd: o.initPidfd, namespaces: o.namespaces), syncFd: childEnd.raw)
        host.preserveFds = o.preserveFds
        host.consoleFd = o.consoleFd
        host.sessionKeyring = o.sessionKeyring
        host.seccomp = o.seccomp
        var renderer = FailureRenderer(plan: plan, joined: [])
        renderer.cgroupTasks = try Launcher.openCgroup(o.cgroup, fds, into: &host)
        var built = CPlanBuilder(plan: plan, host: host, arena: arena).build()
        let launched = try Launcher.clone(&built, arena: arena, sync: sync, childEnd: childEnd, renderer: renderer, log: log)
        do throws(RuntimeError) {
            try takeJoinedClone(launched)
            try Launcher.setOOMScore(launched)
            try Launcher.awaitReady(launched, id: o.id, bundle: o.bundle)
        } catch {
            launched.kill()
            throw error
        }
        return launched
    }

    /// The joining process is in the container's cgroups before it clones
    /// (v2: born there; v1: it moved itself); then it reports its clone,
    /// which takes its place.
    static func takeJoinedClone(_ launched: Launched) throws(RuntimeError) {
        guard let got = try launched.receive() else {
            throw .message("the exec process exited before it joined the container")
        }
        if got.isFailure { throw launched.failure(got.msg, detail: got.fd) }
        guard got.msg.type == SKIFF_SYNC_EXEC_PID.rawValue, got.msg.index > 0 else {
            throw .message("sync: expected SKIFF_SYNC_EXEC_PID, got \(Received.name(got.msg.type))")
        }
        let pid = got.msg.index
        // Our child (CLONE_PARENT), not reaped: the pid is still its own.
        let fd = try sys { () throws(SysError) in try Sys.pidfdOpen(pid) }
        launched.replace(pid: pid, pidfd: fd)
    }
}
