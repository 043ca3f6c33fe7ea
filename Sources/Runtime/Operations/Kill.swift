import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

extension Runtime {
    /// runc's contract, which engines match on: a stopped container's
    /// `kill` fails with "container not running" (containerd's shim and
    /// podman read that as "already exited"), and `kill --all` of one
    /// succeeds, signalling whatever of it is left in its cgroup.
    static func notRunning(_ id: String) -> RuntimeError {
        .message("container not running: `\(id)` is stopped")
    }

    public func kill(id: String, signal: Int32, all: Bool) throws(RuntimeError) {
        let dir = try store.open(id)
        let r = try dir.read()
        guard let pidfd = Runtime.pidfd(r) else {
            guard all else { throw Runtime.notRunning(id) }
            if let cg = Runtime.cgroup(r), !cg.dirs.isEmpty, cg.pids().contains(where: cg.isContainers) {
                try cg.signalAll(signal)
            }
            return
        }
        if all {
            try killAll(r, signal: signal, initPidfd: pidfd.raw)
        } else {
            try sys { () throws(SysError) in try Sys.pidfdSendSignal(pidfd.raw, signal, "container `\(id)` (pid \(r.pid))") }
        }
    }

    /// Every process in the container's pid namespace, each through a pidfd
    /// checked after opening (pinned), so a reused pid is never signalled.
    func killAll(_ r: ContainerRecord, signal: Int32, initPidfd: Int32) throws(RuntimeError) {
        if let cg = Runtime.cgroup(r), !cg.dirs.isEmpty {
            try cg.signalAll(signal)
            // The first process too, should it have left the cgroup.
            _ = try? Sys.pidfdSendSignal(initPidfd, signal, "container `\(r.id)` (pid \(r.pid))")
            return
        }
        guard r.ownPidNamespace else {
            throw .message("kill --all: container `\(r.id)` shares its pid namespace and has no cgroup of its own, so its processes cannot be told apart")
        }
        guard let ns = Proc.namespaceInode(r.pid, "pid") else {
            // Not dumpable, so not started: its first process is the only one.
            guard Runtime.inRecordedNamespace(r) else { throw Runtime.notRunning(r.id) }
            try sys { () throws(SysError) in try Sys.pidfdSendSignal(initPidfd, signal, "container `\(r.id)` (pid \(r.pid))") }
            return
        }
        // The recorded process must still be in the namespace recorded at
        // create, and that must not be skiff's own: --all never walks the
        // host's processes on the word of a state file.
        guard let recorded = r.pidNamespace, recorded == ns, ns != Proc.namespaceInode(getpid(), "pid") else {
            throw .message(
                "kill --all: the process recorded for container `\(r.id)` (pid \(r.pid)) is not in the container's own pid namespace: refusing to signal its namespace"
            )
        }
        for name in (try? Sys.listDirectory("/proc")) ?? [] {
            guard let pid = Int32(name), pid != r.pid, Proc.namespaceInode(pid, "pid") == ns,
                let fd = try? Sys.pidfdOpen(pid), Proc.namespaceInode(pid, "pid") == ns
            else { continue }
            _ = try? Sys.pidfdSendSignal(fd.raw, signal, "pid \(pid)")
        }
        try sys { () throws(SysError) in try Sys.pidfdSendSignal(initPidfd, signal, "container `\(r.id)` (pid \(r.pid))") }
    }
}
