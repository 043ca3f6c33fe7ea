import CShim
import Glibc
import OCISpec
import Planning
import Testing

@testable import Runtime

/// The C plan the launchers hand to the shim, built from a plan of the
/// config `runc spec` writes (and its rootless form) without cloning
/// anything: which namespaces the clone makes, which fds the child keeps,
/// where the cgroup comes from, what exec leaves out. Runs as any user.
@Suite struct CPlanBuilderTests {
    /// `runc spec`'s config, with a cgroupsPath and one bind, as engines send.
    static func runcSpec(rootless: Bool = false, terminal: Bool = true) throws -> Spec {
        let userns = rootless ? #",{"type":"user"}"# : ""
        let maps = rootless ? #","uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]"# : ""
        let json = """
            {"ociVersion":"1.3.0","root":{"path":"rootfs","readonly":true},"hostname":"runc",
             "process":{"terminal":\(terminal),"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/",
               "env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],
               "capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},
               "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},
             "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
               {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
               {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
               {"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","rw"]}],
             "linux":{"cgroupsPath":"/skiff-test/c1",
               "namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}\(userns)]\(maps),
               "maskedPaths":["/proc/kcore","/sys/firmware"],"readonlyPaths":["/proc/sys"]}}
            """
        return try SpecDecoder.decode(Spec.self, json: Array(json.utf8))
    }

    static let v1Host = HostFacts(
        euid: 0, egid: 0, userName: "root", capLast: 40, umask: 0o022,
        cgroups: .hybrid(v1: [CgroupHierarchy(name: "cpu", options: "cpu")], unified: true))

    static func plan(_ spec: Spec, host: HostFacts = v1Host) throws -> LaunchPlan {
        try Planner.plan(spec, bundle: "/b", host: host, image: ImageFacts(), id: "c1")
    }

    static func host(_ mode: CPlanBuilder.Mode, root: Bool = true) -> CPlanBuilder.Host {
        var h = CPlanBuilder.Host(mode: mode, syncFd: 10, hostRoot: root, capLast: 40)
        h.consoleFd = 11
        return h
    }

    static func flags(_ types: [Int32]) -> UInt64 { types.reduce(0) { $0 | UInt64(UInt32(bitPattern: $1)) } }

    static func string(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }

    @Test("create: the clone makes the config's namespaces; the child keeps sync, listener and console, sorted")
    func initial() throws {
        let plan = try Self.plan(Self.runcSpec())
        let arena = Arena()
        let b = CPlanBuilder(plan: plan, host: Self.host(.initial(startListener: 12)), arena: arena).build()
        let c = b.plan
        #expect(c.version == UInt32(SKIFF_PLAN_VERSION))
        #expect(Self.string(c.stage_name) == "skiff:[INIT]")
        #expect(c.clone_flags == Self.flags([CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNS, CLONE_NEWCGROUP]))
        #expect(b.keep == [10, 11, 12])
        #expect(Self.string(c.console_path) == "dev/console" && c.console_fd == 11 && c.start_fd == 12)
        #expect(c.exec_join == 0 && c.join_pidfd == -1 && c.wait_usermap == 0 && c.unprivileged_parent == 0)
        #expect(c.n_mounts == UInt32(plan.mounts.count) && c.n_masked == 2 && c.n_readonly == 1)
        #expect(c.rootfs_readonly == 1 && Self.string(c.hostname) == "runc" && c.no_new_privs == 1)
        #expect(b.parentTrees.isEmpty, "root without a user namespace: the child makes its binds")
        #expect(Self.string(c.argv?[0]) == "sh" && c.argv?[1] == nil)
    }

    @Test("exec: nothing is made, the container's namespaces are joined through its pidfd, no console path")
    func exec() throws {
        let spec = try Self.runcSpec()
        let plan = try Planner.planExec(spec, host: Self.v1Host)
        let arena = Arena()
        let flags = ExecLauncher.namespaceFlags(plan)
        let b = CPlanBuilder(plan: plan, host: Self.host(.exec(pidfd: 9, namespaces: flags)), arena: arena).build()
        let c = b.plan
        #expect(Self.string(c.stage_name) == "skiff:[EXEC]")
        #expect(c.clone_flags == 0 && c.exec_join == 1 && c.join_pidfd == 9)
        #expect(UInt64(c.join_flags) == Self.flags([CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNS, CLONE_NEWCGROUP]))
        #expect(c.console_path == nil && c.console_fd == 11)
        #expect(c.start_fd == -1 && c.new_timens == 0 && c.cgroupns_late == 0 && c.early_binds == 0)
        #expect(b.keep == [9, 10, 11])
    }

    @Test("v1: the child writes itself into each tasks file, kept open; its cgroup namespace comes after that")
    func cgroupV1() throws {
        let plan = try Self.plan(Self.runcSpec(terminal: false))
        var host = Self.host(.initial(startListener: -1))
        host.cgroupV1 = true
        host.cgroupTasks = [20, 21]
        host.cgroupDir = 22
        let b = CPlanBuilder(plan: plan, host: host, arena: Arena()).build()
        #expect(b.plan.clone_flags & Self.flags([CLONE_NEWCGROUP]) == 0 && b.plan.cgroupns_late == 1)
        #expect(b.plan.n_cgroup_tasks == 2 && b.plan.cgroup_fd == 22)
        #expect(b.keep == [10, 20, 21], "the unified directory is the clone's, not the child's to keep")
        #expect(b.plan.console_fd == -1, "no terminal: the console socket is not passed on")
    }

    @Test("v2: born in the cgroup (CLONE_INTO_CGROUP) with its namespace made by the clone; systemd: placed after the clone, namespace after")
    func cgroupV2AndSystemd() throws {
        let plan = try Self.plan(Self.runcSpec())
        var host = Self.host(.initial(startListener: -1))
        host.cgroupDir = 22
        let v2 = CPlanBuilder(plan: plan, host: host, arena: Arena()).build().plan
        #expect(v2.clone_flags & Self.flags([CLONE_NEWCGROUP]) != 0 && v2.cgroupns_late == 0 && v2.cgroup_late == 0)
        #expect(v2.cgroup_fd == 22 && v2.n_cgroup_tasks == 0)
        host.cgroupDir = -1
        host.systemd = true
        let sd = CPlanBuilder(plan: plan, host: host, arena: Arena()).build().plan
        #expect(sd.cgroup_late == 1 && sd.cgroupns_late == 1 && sd.clone_flags & Self.flags([CLONE_NEWCGROUP]) == 0)
    }

    @Test("v1 hierarchies made after the clone: the tasks files come with CGROUP_ACK, awaited at the first mount that needs the cgroup")
    func cgroupV1Late() throws {
        var spec = try Self.runcSpec()
        spec.mounts?.insert(Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro"]), at: 3)
        let plan = try Self.plan(spec)
        var host = Self.host(.initial(startListener: -1))
        host.cgroupV1 = true
        host.cgroupDir = 22
        host.lateTasks = 9
        let b = CPlanBuilder(plan: plan, host: host, arena: Arena()).build()
        #expect(b.plan.cgroup_late == 1 && b.plan.n_cgroup_tasks == 9 && b.plan.cgroup_tasks == nil && b.plan.cgroupns_late == 1)
        #expect(b.plan.cgroup_fd == 22, "born in the unified directory, made before the clone")
        let wait = Int(b.plan.cgroup_wait_mount)
        let targets = plan.mounts.map(\.target)
        #expect(wait > 0 && wait < targets.count && targets[wait].hasPrefix("sys/fs/cgroup"), "\(wait) of \(targets)")
        #expect(!targets[..<wait].contains { $0.hasPrefix("sys/fs/cgroup") }, "\(targets)")
        let exec = CPlanBuilder(plan: plan, host: Self.host(.exec(pidfd: 30, namespaces: 0)), arena: Arena()).build().plan
        #expect(exec.cgroup_late == 0, "exec joins the container's cgroups before anything else")
        let without = try Self.plan(Self.runcSpec())
        let w = CPlanBuilder(plan: without, host: host, arena: Arena()).build().plan
        #expect(Int(w.cgroup_wait_mount) == without.mounts.count, "no mount needs it: awaited before the device nodes")
    }

    @Test("binds from the cgroup hierarchies are flagged for the child, which opens them after the wait; look-alike paths are not")
    func cgroupSourceBinds() throws {
        var spec = try Self.runcSpec()
        spec.mounts?.append(Mount(destination: "/cg", type: "bind", source: "/sys/fs/cgroup/cpu/skiff-test/c1", options: ["rbind"]))
        spec.mounts?.append(Mount(destination: "/other", type: "bind", source: "/sys/fs/cgroupfoo", options: ["rbind"]))
        let plan = try Self.plan(spec)
        var host = Self.host(.initial(startListener: -1))
        host.cgroupV1 = true
        host.lateTasks = 9
        let arena = Arena()
        let c = CPlanBuilder(plan: plan, host: host, arena: arena).build().plan
        let flagged = withExtendedLifetime(arena) {
            let mounts = UnsafeBufferPointer(start: c.mounts, count: Int(c.n_mounts))
            return mounts.indices.filter { mounts[$0].flags & UInt32(SKIFF_MF_CGROUP_SOURCE.rawValue) != 0 }
        }
        let targets = plan.mounts.map(\.target)
        #expect(flagged.map { targets[$0] } == ["cg"], "\(targets)")
        #expect(Int(c.cgroup_wait_mount) == flagged.first, "the first mount needing the cgroup is the flagged bind")
    }

    @Test("root's container with a user namespace: the parent opens every bind; the child waits for its maps")
    func rootWithUserNamespace() throws {
        var spec = try Self.runcSpec(rootless: true)
        spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
        spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
        let plan = try Self.plan(spec)
        let b = CPlanBuilder(plan: plan, host: Self.host(.initial(startListener: -1)), arena: Arena()).build()
        let binds = plan.mounts.indices.filter { if case .bind = plan.mounts[$0].kind { return true } else { return false } }
        #expect(!binds.isEmpty && b.parentTrees == binds)
        for i in binds { #expect(b.plan.mounts![i].flags & UInt32(SKIFF_MF_FROM_PARENT.rawValue) != 0) }
        #expect(b.plan.n_parent_trees == UInt32(binds.count))
        #expect(b.plan.wait_usermap == 1 && b.plan.early_binds == 1 && b.plan.unprivileged_parent == 0)
        #expect(b.plan.clone_flags & Self.flags([CLONE_NEWUSER]) != 0)
    }

    @Test("rootless: an unprivileged parent; the child makes its own binds")
    func rootless() throws {
        let host = HostFacts(
            euid: 1000, egid: 1000, userName: "alice", capLast: 40, umask: 0o022, cgroups: Self.v1Host.cgroups)
        let plan = try Self.plan(Self.runcSpec(rootless: true), host: host)
        let b = CPlanBuilder(plan: plan, host: Self.host(.initial(startListener: -1), root: false), arena: Arena()).build()
        #expect(b.parentTrees.isEmpty && b.plan.n_parent_trees == 0)
        #expect(b.plan.unprivileged_parent == 1 && b.plan.wait_usermap == 1 && b.plan.userns_root == 1)
    }
}
