import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Seccomp

/// The container's first process (create and run): namespaces made or
/// joined by path, the cgroup, user maps, the binds the parent makes, time
/// offsets, hooks. runc's initProcess, youki's init builder.
///
/// The protocol, after the clone (each step only when the plan has it):
/// the maps are written, USERMAP_ACK; MOUNTFDS with the parent's binds;
/// network devices are moved in; TIMEOFFSETS_PLS, the offsets are written,
/// TIMEOFFSETS_ACK; the v1 hierarchies are made or systemd places the
/// pid, CGROUP_ACK (with the `tasks` files); HOOKS_PLS, prestart and
/// createRuntime run, HOOKS_ACK with the states;
/// READY. Then the caller sends COMMIT (create) or START (run).
enum InitLauncher {
    struct Options {
        var id: String
        /// Listening socket `start` connects to (create), or -1 (run).
        var startListener: Int32 = -1
        var preserveFds: UInt32 = 0
        var noPivot = false
        var seccomp: SeccompProgram?
        /// For the state hooks and a seccomp agent receive.
        var bundle = ""
        /// Made before the clone: the child is born in its v2 directory
        /// (CLONE_INTO_CGROUP) and moved into v1 ones right after.
        var cgroup: Cgroup?
        /// v1: only the unified directory was made before the clone; the
        /// hierarchies are made while the child makes its first mounts.
        var late: LateCgroup?
        /// --systemd-cgroup: systemd makes the cgroup once the child exists
        /// (it needs the pid); the child waits for that first.
        var systemd: SystemdPlacement?
        /// A connected console socket for process.terminal, or -1.
        var consoleFd: Int32 = -1
        /// The session keyring the process joins ("_ses.<id>"), or nil:
        /// it keeps the caller's (--no-new-keyring).
        var sessionKeyring: String?
    }

    /// Clones the first process, runs the parent's part of the protocol, and
    /// returns once it reports READY. On failure the process is gone.
    static func spawn(_ plan: LaunchPlan, _ o: Options, log: Log) throws(RuntimeError) -> Launched {
        let fds = FileDescriptorSet()
        defer { fds.closeAll() }
        let arena = Arena()
        let namespaces = try openNamespaces(plan, fds)
        let ends = try Launcher.socketPair()
        let sync = SyncChannel(FileDescriptor(adopting: ends.parent))
        let childEnd = FileDescriptor(adopting: ends.child)
        var host = Launcher.host(.initial(startListener: o.startListener), syncFd: childEnd.raw)
        host.preserveFds = o.preserveFds
        host.noPivot = o.noPivot
        host.consoleFd = o.consoleFd
        host.sessionKeyring = o.sessionKeyring
        host.seccomp = o.seccomp
        host.joins = namespaces.joins
        host.systemd = o.systemd != nil
        var renderer = FailureRenderer(plan: plan, joined: namespaces.joined)
        renderer.cgroupTasks = try Launcher.openCgroup(o.late?.cgroup ?? o.cgroup, fds, into: &host)
        for i in CPlanBuilder.idmapNamespacesNeeded(plan) {
            let m = plan.mounts[i]
            host.idmapNamespaces[i] = fds.adopt(try userNamespace(m.idmap!, origin: m.origin, log: log))
        }
        var built = CPlanBuilder(plan: plan, host: host, arena: arena).build()
        let launched = try Launcher.clone(
            &built, arena: arena, sync: sync, childEnd: childEnd, renderer: renderer,
            pidNamespace: namespaces.pid, log: log)
        do throws(RuntimeError) {
            try setUp(launched, o, parentTrees: built.parentTrees, arena: arena, log: log)
            Launcher.pin(launched)
            try Launcher.awaitReady(launched, id: o.id, bundle: o.bundle)
            try Launcher.pinned(launched)
        } catch {
            launched.kill()
            throw error
        }
        return launched
    }

    /// The parent's steps between the clone and READY, in the child's order.
    static func setUp(_ launched: Launched, _ o: Options, parentTrees: [Int], arena: Arena, log: Log) throws(RuntimeError) {
        let plan = launched.plan
        let pid = launched.pid
        if let userns = plan.userNamespace {
            try IDMaps.write(userns, pid: pid, log: log)
            try launched.send(SKIFF_SYNC_USERMAP_ACK)
        }
        if !parentTrees.isEmpty {
            try sendParentTrees(plan, parentTrees, to: launched, arena: arena, log: log)
        }
        if !plan.netDevices.isEmpty { try NetDevices.moveIn(plan.netDevices, pid: pid) }
        if let offsets = plan.timeOffsets, plan.creates(.time) {
            try launched.expect(SKIFF_SYNC_TIMEOFFSETS_PLS)
            do {
                let path = "/proc/\(pid)/timens_offsets"
                let fd = try Sys.open(path, O_WRONLY)
                try Sys.write(fd.raw, offsets, path)
            } catch {
                throw RuntimeError.context("linux.timeOffsets", .system(error))
            }
            try launched.send(SKIFF_SYNC_TIMEOFFSETS_ACK)
        }
        // The child makes its mounts up to the first that needs the
        // cgroup meanwhile (CPlanBuilder.firstNeedingCgroup).
        if let late = o.late { try late.finish(launched, log: log) }
        if let placement = o.systemd {
            try placement.place(pid)
            try launched.send(SKIFF_SYNC_CGROUP_ACK, fds: [], what: "")
        }
        try Launcher.setOOMScore(launched)
        if plan.hooks.needsCreateSync {
            try launched.expect(SKIFF_SYNC_HOOKS_PLS)
            try runCreateHooks(launched, o, log: log)
        }
    }

    /// v1 hierarchies made after the clone, while the child makes its
    /// first mounts (a v1 host has ten: as long as the mounts take). What
    /// `finish` found there (adopted directories, foreign processes) is
    /// the launch's from then on, whether it goes on or fails.
    final class LateCgroup {
        private(set) var cgroup: Cgroup
        let plan: CgroupPlan

        init(_ cgroup: Cgroup, _ plan: CgroupPlan) {
            self.cgroup = cgroup
            self.plan = plan
        }

        /// Makes the hierarchies and hands the child their `tasks` files.
        func finish(_ launched: Launched, log: Log) throws(RuntimeError) {
            try cgroup.finish(plan, log: log)
            let fds = FileDescriptorSet()
            defer { fds.closeAll() }
            for path in cgroup.v1TasksFiles(skipUnified: cgroup.unified != nil) {
                _ = fds.adopt(try sys { () throws(SysError) in try Sys.open(path, O_WRONLY) })
            }
            try launched.send(SKIFF_SYNC_CGROUP_ACK, fds: fds.fds, what: "cgroup tasks files")
        }
    }

    /// Namespaces given by path, opened and their type checked, the user
    /// namespace first; a pid namespace is joined by the parent before the
    /// clone, the others by the child.
    static func openNamespaces(_ plan: LaunchPlan, _ fds: FileDescriptorSet) throws(RuntimeError)
        -> (joins: [skiff_join], joined: [NamespacePlan], pid: (fd: Int32, ns: NamespacePlan)?)
    {
        var joins: [skiff_join] = []
        var joined: [NamespacePlan] = []
        var pid: (fd: Int32, ns: NamespacePlan)? = nil
        for ns in plan.namespaces.sorted(by: { ($0.type == .user ? 0 : 1) < ($1.type == .user ? 0 : 1) }) {
            guard let path = ns.path else { continue }
            let flag = CPlanBuilder.cloneFlag(ns.type)
            let fd = try openNamespace(path, ns, flag)
            if ns.type == .mount { try checkNotOurMountNamespace(fd.raw, ns) }
            let raw = fds.adopt(fd)
            if ns.type == .pid {
                pid = (raw, ns)
            } else {
                joins.append(skiff_join(fd: raw, nstype: flag))
                joined.append(ns)
            }
        }
        return (joins, joined, pid)
    }

    /// The mounts are made and pivot_root is next: prestart and
    /// createRuntime run here, in the runtime namespace, then the child
    /// gets the state for its own hooks (createContainer, startContainer).
    static func runCreateHooks(_ child: Launched, _ o: Options, log: Log) throws(RuntimeError) {
        let plan = child.plan
        let creating = HookRunner.state(
            id: o.id, status: .creating, pid: child.pid, bundle: o.bundle, annotations: plan.annotations)
        try HookRunner.run(plan.hooks.prestart, state: creating, log: log)
        try HookRunner.run(plan.hooks.createRuntime, state: creating, log: log)
        let created = HookRunner.state(
            id: o.id, status: .created, pid: child.pid, bundle: o.bundle, annotations: plan.annotations)
        let fds = FileDescriptorSet()
        _ = fds.adopt(try HookRunner.stateFile(creating))
        _ = fds.adopt(try HookRunner.stateFile(created))
        try child.sync.send(SKIFF_SYNC_HOOKS_ACK, fds: fds.fds, what: "hook state")
    }
}
