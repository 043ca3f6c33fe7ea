import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

extension Runtime {
    public func delete(id: String, force: Bool) throws(RuntimeError) {
        // runc and crun: `delete --force` of what is already gone succeeds
        // (cleanup scripts run it after a `run` that removed its container).
        if force, try !store.exists(id) {
            log.debug("delete --force: container `\(id)` does not exist")
            return
        }
        let dir = try store.open(id)
        let r: ContainerRecord
        do {
            r = try dir.read()
        } catch {
            // We hold the lock, so no create is in progress: what is left of
            // one that died is removed, its cgroup (and what runs in it) too.
            if let (v, paths, adopted) = dir.readCgroups(), let cg = Cgroup.recorded(version: v, paths: paths, adopted: adopted) {
                try removeCgroup(cg, id: id, killing: adopted.isEmpty)
            }
            try dir.remove()
            return
        }
        let cg = Runtime.cgroup(r)
        if let pidfd = Runtime.pidfd(r) {
            guard force else {
                throw .message("container `\(id)` is \(Runtime.status(r).rawValue): stop it first, or delete it with --force")
            }
            // Interfaces go back while the namespace still lives.
            if let devices = r.netDevices { NetDevices.moveOut(devices, pid: r.pid, log: log) }
            if let cg { try? cg.signalAll(SIGKILL); if cg.isFrozen { try? cg.setFrozen(false) } }
            let exited = try sys { () throws(SysError) in
                // ESRCH: cgroup.kill above was faster; the pidfd still says when it is gone.
                do throws(SysError) {
                    try Sys.pidfdSendSignal(pidfd.raw, SIGKILL, "container `\(id)` (pid \(r.pid))")
                } catch {
                    if error.errno != .ESRCH { throw error }
                }
                return try Sys.waitReadable(
                    pidfd.raw, timeoutMillis: Runtime.killWaitMillis,
                    "container `\(id)` (pid \(r.pid))")
            }
            // Never wait forever (a process frozen by a freezer skiff did not
            // make, or stuck in the kernel): say why, keep the state so that
            // a later delete --force can finish.
            if !exited { throw .message(Runtime.stuckMessage(id: id, pid: r.pid)) }
        }
        if let cg { try removeCgroup(cg, id: id) }
        try dir.remove()
        runPoststop(r)
    }

    /// What is left in the cgroup (children of a container without a pid
    /// namespace of its own outlive its first process) is killed, then
    /// the directories go.
    func removeCgroup(_ cg: Cgroup, id: String, killing: Bool = true) throws(RuntimeError) {
        do {
            try destroy(cg, killing: killing)
        } catch {
            throw .context("delete `\(id)`", error)
        }
    }

    /// Kills what is left in the cgroup, stops its systemd scope (empty by
    /// then, so systemd has nothing to wait for), removes its directories.
    /// `killing` false: the container's processes cannot be told from
    /// others' (a create that died before its record, in a cgroup it
    /// joined): nothing is signalled.
    func destroy(_ cg: Cgroup, killing: Bool = true) throws(RuntimeError) {
        // A partial cgroup (a create that failed between its steps) was
        // never joined: what runs in it is not the container's.
        if killing, !cg.partial, cg.pids().contains(where: cg.isContainers) {
            try cg.signalAll(SIGKILL)
            if cg.isFrozen { try cg.setFrozen(false) }
        }
        if let unit = cg.unit {
            try SystemdManager.connect(user: unit.user).stopUnit(unit.name)
        }
        for left in try cg.remove() {
            log.warn("cgroup \(left) still holds processes the container did not start: left in place")
        }
    }

    /// How long delete --force waits for a killed process to exit.
    static let killWaitMillis: Int32 = 5000

    static func stuckMessage(id: String, pid: Int32) -> String {
        var why = ""
        if let st = Proc.stat(pid) {
            switch st.state {
            case "D": why = " (it is in uninterruptible sleep in the kernel)"
            case "T", "t": why = " (it is stopped or traced)"
            default: break
            }
        }
        if let frozen = Proc.frozenCgroup(pid) {
            why = " (it is frozen in the cgroup `\(frozen)`: thaw it)"
        }
        return
            "delete --force `\(id)`: pid \(pid) did not exit within \(killWaitMillis / 1000) s of SIGKILL\(why); the container is kept: run delete --force again once it can exit"
    }
}
