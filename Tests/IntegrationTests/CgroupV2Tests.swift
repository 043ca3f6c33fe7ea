import Foundation
import Testing

/// cgroup v2 as the container sees it. Only in the guest that
/// QemuGuestTests.cgroupV2 boots: a pure v2 host, where the test owns the
/// whole hierarchy.
@Suite(.inGuest(inCgroup2Guest, "QemuGuestTests boots (cgroup v2, no systemd)")) struct CgroupV2Tests {

    struct Box {
        var s: Skiff
        let id: String
        var path: String { "/skiff-v2/" + id }
        var dir: String { "/sys/fs/cgroup" + path }
        func file(_ f: String) -> String {
            ((try? String(contentsOfFile: dir + "/" + f, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func cleanup() { _ = try? s("delete", "--force", id); rmdir(dir) }
    }

    static func box(_ args: [String], resources: [String: Any]? = nil, cgroupns: Bool = false) throws -> Box {
        var s = try Skiff(args)
        let id = Harness.uniqueName("v2")
        s["linux", "cgroupsPath"] = "/skiff-v2/\(id)"
        if let resources { s["linux", "resources"] = resources }
        if !cgroupns { s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" } }
        return Box(s: s, id: id)
    }

    @Test("born in its cgroup (CLONE_INTO_CGROUP): the first read of /proc/self/cgroup; a cgroup namespace is rooted there")
    func born() throws {
        let b = try Self.box(["cat", "/proc/self/cgroup"])
        let r = try b.s.run(b.id)
        #expect(r.stdout == "0::\(b.path)\n", "\(r)")
        #expect(!FileManager.default.fileExists(atPath: b.dir))
        let c = try Self.box(["sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max"], resources: ["pids": ["limit": 9]], cgroupns: true)
        let rc = try c.s.run(c.id)
        #expect(rc.stdout == "0::/\n9\n", "\(rc)")
    }

    @Test("exec: born in the container's cgroup, or in a sub-cgroup with --cgroup; delete removes both")
    func exec() throws {
        let b = try Self.box(["sleep", "30"], resources: ["pids": ["limit": 20]])
        defer { b.cleanup() }
        #expect(try b.s("run", "-d", "--bundle", b.s.bundle, b.id).status == 0)
        let r = try b.s("exec", b.id, "cat", "/proc/self/cgroup")
        #expect(r.stdout == "0::\(b.path)\n", "\(r)")
        // v2: no process in an inner node with controllers enabled below, so
        // the sub-cgroup is a sibling-free leaf made for the exec only.
        try FileManager.default.createDirectory(atPath: b.dir + "/sub", withIntermediateDirectories: false)
        let sub = try b.s("exec", "--cgroup", "sub", b.id, "cat", "/proc/self/cgroup")
        #expect(sub.stdout == "0::\(b.path)/sub\n", "\(sub)")
        let wrong = try b.s("exec", "--cgroup", "pids:sub", b.id, "true")
        // runc's exit status for an exec that fails before the process runs.
        #expect(wrong.status == 255 && wrong.stderr.contains("cgroup v2 has no per-controller paths"), "\(wrong)")
        let del = try b.s("delete", "--force", b.id)
        #expect(del.status == 0, "\(del)")
        #expect(!FileManager.default.fileExists(atPath: b.dir))
    }

    @Test("every resource lands in its v2 file with runc's conversions")
    func files() throws {
        let disk = try String(contentsOfFile: "/sys/block/vda/dev", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let mm = disk.split(separator: ":").compactMap { Int($0) }
        try #require(mm.count == 2)
        let b = try Self.box(
            ["sleep", "60"],
            resources: [
                "memory": ["limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20],
                "cpu": ["shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0", "idle": 0],
                "pids": ["limit": 42],
                "blockIO": [
                    "weight": 300, "throttleReadBpsDevice": [["major": mm[0], "minor": mm[1], "rate": 1 << 20]],
                    "throttleWriteIOPSDevice": [["major": mm[0], "minor": mm[1], "rate": 100]],
                ],
                "hugepageLimits": [["pageSize": "2MB", "limit": 4 << 20]],
                "unified": ["memory.high": "\(100 << 20)"],
            ])
        defer { b.cleanup() }
        let r = try b.s("run", "--detach", "--bundle", b.s.bundle, b.id)
        #expect(r.status == 0, "\(r)")
        #expect(b.file("memory.max") == "\(64 << 20)" && b.file("memory.low") == "\(32 << 20)")
        #expect(b.file("memory.swap.max") == "\(32 << 20)", "swap is memory+swap in the spec")
        #expect(b.file("memory.high") == "\(100 << 20)")
        #expect(b.file("cpu.weight") == "20", "1 + (512-2)*9999/262142")
        #expect(b.file("cpu.max") == "50000 100000")
        #expect(b.file("cpuset.cpus") == "0" && b.file("pids.max") == "42")
        let io = FileManager.default.fileExists(atPath: b.dir + "/io.bfq.weight") ? b.file("io.bfq.weight") : b.file("io.weight")
        #expect(io == "default 2930" || io.hasPrefix("default 300"), "io weight: \(io)")
        #expect(b.file("io.max") == "\(disk) rbps=\(1 << 20) wbps=max riops=max wiops=100", "\(b.file("io.max"))")
        #expect(b.file("hugetlb.2MB.max") == "\(4 << 20)")
        #expect(try b.s("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "-1", b.id).status == 0)
        #expect(b.file("memory.max") == "\(128 << 20)" && b.file("memory.swap.max") == "\(128 << 20)" && b.file("pids.max") == "max")
    }

    @Test("a memory limit OOM-kills past it; events --stats counts it")
    func oom() throws {
        var b = try Self.box(CgroupV1Tests.oomArgs, resources: CgroupV1Tests.oomResources)
        defer { b.cleanup() }
        let dd = try CgroupV1Tests.runOOM(&b.s, id: b.id, seconds: 30)
        #expect(dd == "137\n", "dd's status: \(dd.debugDescription)")
        let ev = try b.s("events", "--stats", b.id)
        #expect(ev.stdout.contains("\"oom_kill\":1"), "\(ev)")
    }

    @Test("events: an oom event per kill (memory.events notifies), stats every interval, the stream ends with the container")
    func eventsStream() throws {
        var b = try Self.box(CgroupV1Tests.streamArgs, resources: CgroupV1Tests.oomResources)
        defer { b.cleanup() }
        try CgroupV1Tests.checkEventsStream(&b.s, id: b.id)
    }

    @Test("devices: the BPF program denies what the rules deny and allows what they allow")
    func devices() throws {
        // The guest's scratch disk: a block device with a driver behind it.
        let dev = try String(contentsOfFile: "/sys/block/vda/dev", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let mm = dev.split(separator: ":").compactMap { Int($0) }
        try #require(mm.count == 2)
        let script = "mknod /dev/xdisk b \(mm[0]) \(mm[1]) && head -c 1 /dev/xdisk >/dev/null; echo disk=$?; head -c 1 /dev/zero | wc -c"
        var b = try Self.box(["sh", "-c", script])
        for set in ["bounding", "effective", "permitted"] { b.s["process", "capabilities", set] = ["CAP_MKNOD"] }
        let r = try b.s.run(b.id)
        #expect(r.stdout == "disk=1\n1\n" && r.stderr.contains("Operation not permitted"), "\(r)")
        var c = try Self.box(
            ["sh", "-c", script],
            resources: ["devices": [["allow": false, "access": "rwm"], ["allow": true, "type": "b", "major": mm[0], "minor": mm[1], "access": "r"]]])
        for set in ["bounding", "effective", "permitted"] { c.s["process", "capabilities", set] = ["CAP_MKNOD"] }
        let r2 = try c.s.run(c.id)
        #expect(r2.stdout == "disk=0\n1\n", "\(r2)")
    }

    @Test("pause and resume with cgroup.freeze; kill --all with cgroup.kill; delete leaves nothing")
    func freezeKill() throws {
        var b = try Self.box(["sh", "-c", "sleep 60 & sleep 61 & wait"])
        b.s.namespaces = b.s.namespaces.filter { ($0["type"] as? String) != "pid" }
        defer { b.cleanup() }
        #expect(try b.s("run", "--detach", "--bundle", b.s.bundle, b.id).status == 0)
        try waitFor(seconds: 30) { b.file("cgroup.procs").split(separator: "\n").count == 3 }
        #expect(try b.s("pause", b.id).status == 0)
        #expect(b.file("cgroup.events").contains("frozen 1"))
        #expect(try b.s.state(b.id)["status"] as? String == "paused")
        #expect(try b.s("resume", b.id).status == 0)
        #expect(b.file("cgroup.events").contains("frozen 0"))
        #expect(try b.s("kill", "--all", b.id, "KILL").status == 0)
        try waitFor { b.file("cgroup.procs").isEmpty }
        #expect(try b.s("delete", b.id).status == 0)
        #expect(!FileManager.default.fileExists(atPath: b.dir))
    }

    @Test(
        "v2 errors: a unified key with no file, network fields, realtime cpu",
        arguments: [
            (#"{"unified":{"memory.nope":"1"}}"#, #"linux.resources.unified["memory.nope"]: write /sys/fs/cgroup/skiff-v2/"#),
            (#"{"unified":{"../x":"1"}}"#, #"linux.resources.unified["../x"]: `../x` is not a cgroup v2 file name"#),
            (#"{"network":{"classID":1}}"#, "linux.resources.network: cgroup v2 has no net_cls or net_prio controller"),
            (#"{"cpu":{"realtimeRuntime":1000}}"#, "linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime cpu limits"),
            (#"{"memory":{"swap":1048576}}"#, "linux.resources.memory.swap: a swap limit needs a memory limit"),
        ])
    func errors(_ resources: String, _ message: String) throws {
        let doc = try JSONSerialization.jsonObject(with: Data(resources.utf8))
        let b = try Self.box(["true"], resources: doc as? [String: Any])
        try b.s.expectRefused(message)
        #expect(!FileManager.default.fileExists(atPath: b.dir))
    }

    @Test("rootless: a delegated subtree gives the user's container a cgroup with limits; without delegation the error says how")
    func delegated() throws {
        try TestUser.create()
        defer { TestUser.remove() }
        let user = TestUser.name
        let deleg = "/sys/fs/cgroup/skiff-deleg", plain = "/sys/fs/cgroup/skiff-plain"
        for d in [deleg, deleg + "/session", plain, plain + "/session"] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        defer { for d in [deleg + "/session", deleg, plain + "/session", plain] { rmdir(d) } }
        // What systemd's Delegate=yes gives: the directory and its
        // cgroup.procs, cgroup.subtree_control and cgroup.threads.
        _ = try Harness.sh(
            "chown \(user) \(deleg) \(deleg)/cgroup.procs \(deleg)/cgroup.subtree_control \(deleg)/cgroup.threads \(deleg)/session \(deleg)/session/cgroup.procs"
        )

        var s = try Skiff.rootless(["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"])
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        s["linux", "resources"] = ["pids": ["limit": 7]]
        try s.writeConfig()
        func run(in cgroup: String, _ id: String) throws -> Harness.Result {
            try Harness.sh(
                "echo $$ > \(cgroup)/session/cgroup.procs && exec /usr/sbin/runuser -u \(user) -- env PATH=/usr/bin:/bin HOME=/ \(Harness.binary) --root \(s.root) run --bundle \(s.bundle) \(id)"
            )
        }
        let id = Harness.uniqueName("deleg")
        let r = try run(in: deleg, id)
        #expect(r.status == 0 && r.stdout == "0::/skiff-deleg/\(id)\n7\n", "\(r)")
        #expect(!FileManager.default.fileExists(atPath: deleg + "/" + id))

        // With `spec --rootless`'s cgroup namespace: its cgroup2 goes on
        // /sys/fs/cgroup, where the config's rbind of /sys put the host's
        // cgroup2 (the kernel refused that with EBUSY before a tmpfs went
        // between them).
        s.namespaces.append(["type": "cgroup"])
        try s.writeConfig()
        let ns = try run(in: deleg, Harness.uniqueName("deleg"))
        #expect(ns.status == 0 && ns.stdout == "0::/\n7\n", "\(ns)")

        let refused = try run(in: plain, Harness.uniqueName("plain"))
        #expect(
            refused.status == 1 && refused.stderr.contains("linux.resources.pids: cannot be applied for user `\(user)`: no cgroup is delegated to this user"),
            "\(refused)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: plain).filter { !$0.contains(".") } == ["session"])
    }
}
