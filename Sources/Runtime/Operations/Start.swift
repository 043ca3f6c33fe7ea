import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

extension Runtime {
    public func start(id: String) throws(RuntimeError) {
        let dir = try store.open(id)
        var r = try dir.read()
        let status = Runtime.status(r)
        guard status == .created else {
            throw .message("container `\(id)` is \(status.rawValue): only a created container can be started")
        }
        let conn = try connectStart(dir)
        let raw = conn.raw
        try sys { () throws(SysError) in
            try Sys.send(raw, skiff_msg(type: SKIFF_SYNC_START.rawValue, step: 0, error: 0, index: -1), "start")
        }
        // End of file: the connection closed on execve. A record: it failed
        // (a startContainer hook's output comes with it).
        if let reply = try Received.from(raw, "start") {
            var plan = LaunchPlan()
            plan.args = r.args
            plan.execPaths = r.execPaths
            plan.hooks = HookRunner.plan(r)
            throw FailureRenderer(plan: plan, joined: []).render(reply.msg, detail: HookRunner.output(reply.fd))
        }
        r.started = true
        try dir.write(r)
        _ = Glibc.unlinkat(dir.fd.raw, StateStore.startSocket, 0)
        try runPoststart(r)
    }

    /// After the program started, before `start` returns: failures warn.
    func runPoststart(_ r: ContainerRecord) throws(RuntimeError) {
        let hooks = HookRunner.plan(r).poststart
        guard !hooks.isEmpty else { return }
        let state = HookRunner.state(id: r.id, status: .running, pid: r.pid, bundle: r.bundle, annotations: r.annotations)
        try HookRunner.run(hooks, state: state, log: log, warnOnly: true)
    }

    /// After the container is destroyed, before `delete` returns: failures warn.
    func runPoststop(_ r: ContainerRecord) {
        let hooks = HookRunner.plan(r).poststop
        guard !hooks.isEmpty else { return }
        let state = HookRunner.state(id: r.id, status: .stopped, pid: r.pid, bundle: r.bundle, annotations: r.annotations)
        do {
            try HookRunner.run(hooks, state: state, log: log, warnOnly: true)
        } catch {
            log.warn("poststop hooks: \(error)")
        }
    }

    func connectStart(_ dir: ContainerDir) throws(RuntimeError) -> FileDescriptor {
        do {
            return try Sys.connectUnix(
                dir: dir.fd.raw, name: StateStore.startSocket,
                display: dir.path + "/" + StateStore.startSocket)
        } catch {
            throw .context("start `\(dir.id)`: the container process is not waiting for start", .system(error))
        }
    }
}
