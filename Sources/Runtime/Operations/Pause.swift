import Glibc
import LinuxSys
import OCISpec
import Planning

/// pause and resume, through the container's cgroup (v1 freezer, v2
/// cgroup.freeze), and the cgroup the cgroup commands work on.
extension Runtime {
    func runningCgroup(_ id: String, for command: String) throws(RuntimeError) -> (ContainerDir, ContainerRecord, Cgroup) {
        let dir = try store.open(id)
        let r = try dir.read()
        guard let cg = Runtime.cgroup(r), !cg.dirs.isEmpty else {
            throw .message("\(command): container `\(id)` has no cgroup of its own (an unprivileged container without a delegated cgroup)")
        }
        return (dir, r, cg)
    }

    public func pause(id: String) throws(RuntimeError) {
        let (_, r, cg) = try runningCgroup(id, for: "pause")
        let status = Runtime.status(r)
        guard status == .running || status == .created else {
            throw .message("pause: container `\(id)` is \(status.rawValue): only a running container can be paused")
        }
        guard cg.canFreeze else { throw .message("pause: the container's cgroup has no freezer (no v1 freezer hierarchy, or no cgroup.freeze)") }
        try cg.setFrozen(true)
    }

    public func resume(id: String) throws(RuntimeError) {
        let (_, r, cg) = try runningCgroup(id, for: "resume")
        let status = Runtime.status(r)
        guard status == .paused else {
            throw .message("resume: container `\(id)` is \(status.rawValue), not paused")
        }
        try cg.setFrozen(false)
    }
}
