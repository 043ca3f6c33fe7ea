import Planning

/// The container's cgroup under --systemd-cgroup, made once its first
/// process exists: systemd's scope with the pid in it, then what skiff
/// adds (Cgroup.adopt). Held by `create` so that a create failing after
/// this point stops the scope and removes what was made.
final class SystemdPlacement {
    let manager: SystemdManager
    let plan: CgroupPlan
    let scope: SystemdScope
    let log: Log
    /// Set once systemd made the scope.
    private(set) var cgroup: Cgroup?

    init(manager: SystemdManager, plan: CgroupPlan, scope: SystemdScope, log: Log) {
        self.manager = manager
        self.plan = plan
        self.scope = scope
        self.log = log
    }

    func place(_ pid: Int32) throws(RuntimeError) {
        let unit = SystemdUnit(name: scope.unit, user: scope.user)
        try manager.startScope(scope, pid: pid)
        // From here a failure must take the scope down with the rest.
        cgroup = Cgroup(version: plan.version, dirs: plan.dirs, unit: unit)
        cgroup = try Cgroup.adopt(plan, unit: unit, pid: pid, log: log)
    }
}
