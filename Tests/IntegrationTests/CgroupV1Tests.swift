import Foundation
import Testing

/// Cgroups on this kind of host (v1 controllers, an empty cgroup2 at
/// /sys/fs/cgroup/unified). Every container goes below a parent the test
/// makes (`linux.cgroupsPath` absolute), which it removes at the end.
@Suite(.needsCgroupV1) struct CgroupV1Tests {
    static let hierarchies = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"]

    /// A bundle whose container goes to `/<parent>/<id>`.
    struct Box {
        var s: Skiff
        let parent: String
        let id: String
        var path: String { "/" + parent + "/" + id }
        func dir(_ h: String) -> String { "/sys/fs/cgroup/\(h)\(path)" }
        func file(_ h: String, _ f: String) -> String {
            ((try? String(contentsOfFile: dir(h) + "/" + f, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        /// For a test that stops early: the container and its cgroups go.
        func cleanup() {
            _ = try? s("delete", "--force", id)
            for h in CgroupV1Tests.hierarchies {
                rmdir(dir(h))
                rmdir("/sys/fs/cgroup/\(h)/\(parent)")
            }
        }

        /// No directory of the container's is left, and the parent goes.
        func expectGone(sourceLocation: SourceLocation = #_sourceLocation) {
            for h in CgroupV1Tests.hierarchies {
                #expect(!FileManager.default.fileExists(atPath: dir(h)), "cgroup left: \(dir(h))", sourceLocation: sourceLocation)
                rmdir("/sys/fs/cgroup/\(h)/\(parent)")
            }
        }
    }

    static func box(_ args: [String], resources: [String: Any]? = nil) throws -> Box {
        var s = try Skiff(args)
        let parent = Harness.uniqueName("skiff-it-\(getpid())")
        let id = Harness.uniqueName("cg")
        s["linux", "cgroupsPath"] = "/\(parent)/\(id)"
        if let resources { s["linux", "resources"] = resources }
        return Box(s: s, parent: parent, id: id)
    }

    @Test("the container is in its cgroup in every hierarchy from its first instruction; a cgroup namespace has it as root; delete removes them")
    func placement() throws {
        var b = try Self.box(["cat", "/proc/self/cgroup"])
        b.s.namespaces = b.s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        let r = try b.s.run(b.id)
        #expect(r.status == 0, "\(r)")
        for h in ["cpu", "memory", "pids", "freezer", "name=systemd"] {
            #expect(r.stdout.contains(":\(h):\(b.path)\n"), "\(h): \(r.stdout)")
        }
        #expect(r.stdout.contains("0::\(b.path)\n"), "unified: \(r.stdout)")
        b.expectGone()

        // With its own cgroup namespace (made after the v1 attach), every
        // line shows the namespace's root: the container's cgroup.
        let c = try Self.box(["cat", "/proc/self/cgroup"])
        let rc = try c.s.run(c.id)
        let lines = rc.stdout.split(separator: "\n")
        #expect(rc.status == 0 && lines.count == 10 && lines.allSatisfy { $0.hasSuffix(":/") }, "\(rc)")
        c.expectGone()
    }

    @Test("runc's layout inside: the container's own directories at /sys/fs/cgroup, read-only")
    func mountLayout() throws {
        let b = try Self.box(
            ["sh", "-c", "cat /sys/fs/cgroup/pids/pids.max; grep ' /sys/fs/cgroup/pids ' /proc/self/mountinfo; echo 1 > /sys/fs/cgroup/pids/pids.max"],
            resources: ["pids": ["limit": 77]])
        var s = b.s
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        let r = try s.run(b.id)
        #expect(r.stdout.hasPrefix("77\n"), "\(r)")
        #expect(r.stdout.contains(" \(b.path) /sys/fs/cgroup/pids ro,"), "\(r)")
        #expect(r.stderr.contains("Read-only file system"), "\(r)")
        b.expectGone()
    }

    /// A container with a 16 MiB limit whose first act is a 64 MiB buffer
    /// (dd's), with dd's exit status in `/out/dd`; it then waits.
    static let oomArgs = ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; echo $? > /out/dd; sleep 60"]
    static var oomResources: [String: Any] { ["memory": ["limit": 16 << 20, "swap": 16 << 20]] }

    /// Runs it detached and returns dd's status once its line is written.
    static func runOOM(_ s: inout Skiff, id: String, seconds: Int) throws -> String {
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        let r = try s("run", "--detach", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        // The shell creates the file before it writes to it: wait for the line.
        let line = { (try? String(contentsOfFile: out + "/dd", encoding: .utf8)) ?? "" }
        try waitFor(seconds: seconds) { line().hasSuffix("\n") }
        return line()
    }

    @Test("a memory limit OOM-kills a process that allocates past it; events --stats counts the kill")
    func memoryOOM() throws {
        var b = try Self.box(Self.oomArgs, resources: Self.oomResources)
        defer { b.cleanup() }
        let dd = try Self.runOOM(&b.s, id: b.id, seconds: 4)
        #expect(dd == "137\n", "dd's status: \(dd.debugDescription)")
        #expect(b.file("memory", "memory.limit_in_bytes") == "\(16 << 20)")
        let ev = try b.s("events", "--stats", b.id)
        let doc = try JSONSerialization.jsonObject(with: Data(ev.stdout.utf8)) as? [String: Any]
        #expect(doc?["type"] as? String == "stats" && doc?["id"] as? String == b.id, "\(ev)")
        let memory = (doc?["data"] as? [String: Any])?["memory"] as? [String: Any]
        let raw = memory?["raw"] as? [String: Any]
        #expect((raw?["oom_kill"] as? Int ?? 0) >= 1, "\(ev)")
        #expect((memory?["usage"] as? [String: Any])?["limit"] as? Int == 16 << 20, "\(ev)")
        #expect(try b.s("delete", "--force", b.id).status == 0)
        b.s.expectNothingLeft(b.id)
        b.expectGone()
    }

    @Test("events streams stats every interval and an oom event per OOM kill, and ends with the container")
    func eventsStream() throws {
        var b = try Self.box(Self.streamArgs, resources: Self.oomResources)
        defer { b.cleanup() }
        try Self.checkEventsStream(&b.s, id: b.id)
    }

    /// Allocates past the limit once told to, then lives 2 s more.
    static let streamArgs = [
        "sh", "-c", "while [ ! -e /out/go ]; do sleep 0.1; done; dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; echo $? > /out/dd; sleep 2",
    ]

    /// `events` woken by the kernel (v1: an eventfd on memory.oom_control,
    /// v2: memory.events): one oom event per kill, stats every interval,
    /// and the stream ends with the container. Shared with the v2 guest.
    static func checkEventsStream(_ s: inout Skiff, id: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        #expect(try s("run", "--detach", "--bundle", s.bundle, id).status == 0, sourceLocation: sourceLocation)
        let events = Process()
        events.executableURL = URL(fileURLWithPath: Harness.binary)
        events.arguments = ["--root", s.root, "events", "--interval", "500ms", id]
        _ = FileManager.default.createFile(atPath: out + "/events", contents: nil)
        events.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out + "/events"))
        try events.run()
        // OOM kills count from when events starts: the first stats line
        // (one interval in) says it is watching. A fixed pause here lost
        // the kill under TCG, where the process takes longer to start.
        try waitFor { ((try? String(contentsOfFile: out + "/events", encoding: .utf8)) ?? "").contains("\n") }
        _ = FileManager.default.createFile(atPath: out + "/go", contents: nil)
        events.waitUntilExit()  // the container exits 2 s after the kill
        let lines = try String(contentsOfFile: out + "/events", encoding: .utf8).split(separator: "\n")
        let types = lines.compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["type"] as? String
        }
        #expect(types.filter { $0 == "oom" }.count == 1, "\(lines)", sourceLocation: sourceLocation)
        #expect(types.filter { $0 == "stats" }.count >= 2, "\(lines)", sourceLocation: sourceLocation)
        #expect(events.terminationStatus == 0, sourceLocation: sourceLocation)
        #expect((try? String(contentsOfFile: out + "/dd", encoding: .utf8)) == "137\n", sourceLocation: sourceLocation)
    }

    @Test("pids.max makes fork fail inside")
    func pidsLimit() throws {
        let b = try Self.box(["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 1 & done; wait"], resources: ["pids": ["limit": 4]])
        let r = try b.s.run(b.id)
        #expect(r.stderr.contains("can't fork") || r.stderr.contains("Resource temporarily unavailable"), "\(r)")
        b.expectGone()
    }

    @Test("a denied device cannot be opened, an allowed one can (runc's default list after the config's rules)")
    func devices() throws {
        // mknod is allowed for every node (runc's list), opening is not.
        let script =
            "mknod /dev/xloop b 7 0 && head -c 1 /dev/xloop >/dev/null; echo loop=$?; head -c 1 /dev/zero | wc -c; grep -c 'b 7:0 r$' /sys/fs/cgroup/devices/devices.list"
        var b = try Self.box(["sh", "-c", script])
        b.s.namespaces = b.s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        for set in ["bounding", "effective", "permitted"] { b.s["process", "capabilities", set] = ["CAP_MKNOD"] }
        let r = try b.s.run(b.id)
        #expect(r.stdout == "loop=1\n1\n0\n" && r.stderr.contains("Operation not permitted"), "\(r)")
        b.expectGone()

        var c = try Self.box(
            ["sh", "-c", script],
            resources: ["devices": [["allow": false, "access": "rwm"], ["allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"]]])
        c.s.namespaces = c.s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        for set in ["bounding", "effective", "permitted"] { c.s["process", "capabilities", set] = ["CAP_MKNOD"] }
        let r2 = try c.s.run(c.id)
        #expect(r2.stdout == "loop=0\n1\n1\n", "\(r2)")
        c.expectGone()
    }

    /// A disk of this host as "major:minor" (throttle rules need a real one).
    static func disk() throws -> [Int] {
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: "/sys/block").sorted()
                .first { !$0.hasPrefix("loop") && !$0.hasPrefix("ram") })
        let dev = try String(contentsOfFile: "/sys/block/\(name)/dev", encoding: .utf8)
        let mm = dev.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").compactMap { Int($0) }
        try #require(mm.count == 2)
        return mm
    }

    @Test("cpu, cpuset, blkio throttle, memory and pids files hold the values runc writes")
    func files() throws {
        let mm = try Self.disk()
        let b = try Self.box(
            ["sleep", "60"],
            resources: [
                "cpu": ["shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"],
                "memory": ["limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20, "swappiness": 10],
                "pids": ["limit": 42],
                "blockIO": [
                    "throttleReadBpsDevice": [["major": mm[0], "minor": mm[1], "rate": 1 << 20]],
                    "throttleWriteIOPSDevice": [["major": mm[0], "minor": mm[1], "rate": 100]],
                ],
            ])
        defer { b.cleanup() }
        let r = try b.s("run", "--detach", "--bundle", b.s.bundle, b.id)
        #expect(r.status == 0, "\(r)")
        #expect(b.file("cpu", "cpu.shares") == "512")
        #expect(b.file("cpu", "cpu.cfs_quota_us") == "50000" && b.file("cpu", "cpu.cfs_period_us") == "100000")
        #expect(b.file("cpuset", "cpuset.cpus") == "0" && b.file("cpuset", "cpuset.mems") == "0")
        #expect(b.file("memory", "memory.limit_in_bytes") == "\(64 << 20)")
        #expect(b.file("memory", "memory.soft_limit_in_bytes") == "\(32 << 20)")
        #expect(b.file("memory", "memory.memsw.limit_in_bytes") == "\(96 << 20)")
        #expect(b.file("memory", "memory.swappiness") == "10")
        #expect(b.file("pids", "pids.max") == "42")
        #expect(b.file("blkio", "blkio.throttle.read_bps_device") == "\(mm[0]):\(mm[1]) \(1 << 20)")
        #expect(b.file("blkio", "blkio.throttle.write_iops_device") == "\(mm[0]):\(mm[1]) 100")
        #expect(try b.s("delete", "--force", b.id).status == 0)
        b.expectGone()
    }

    /// blkio.weight exists only with an I/O scheduler that has weights
    /// (BFQ: blkio.bfq.weight; CFQ before 5.0: blkio.weight). As runc,
    /// skiff writes whichever the kernel has, and where it has neither the
    /// weight is an error naming the field, not a silently dropped limit.
    @Test("blkio weight: written to the file this kernel has, or an error naming the field and nothing left")
    func blkioWeight() throws {
        let root = "/sys/fs/cgroup/blkio"
        let file = ["blkio.bfq.weight", "blkio.weight"].first { FileManager.default.fileExists(atPath: root + "/" + $0) }
        let b = try Self.box(["sleep", "60"], resources: ["blockIO": ["weight": 300]])
        defer { b.cleanup() }
        let r = try b.s("run", "--detach", "--bundle", b.s.bundle, b.id)
        if let file {
            #expect(r.status == 0, "\(r)")
            #expect(b.file("blkio", file).hasSuffix("300"), "\(file): \(b.file("blkio", file))")
            #expect(try b.s("delete", "--force", b.id).status == 0)
        } else {
            #expect(r.status != 0 && r.stderr.contains("linux.resources.blockIO.weight: write \(b.dir("blkio"))/blkio.weight: no such file"), "\(r)")
            b.s.expectNothingLeft(b.id)
        }
        b.expectGone()
    }

    @Test("pause freezes every process, resume thaws them; state says paused")
    func pauseResume() throws {
        let b = try Self.box(["sh", "-c", "sleep 60 & exec sleep 61"])
        defer { b.cleanup() }
        #expect(try b.s("run", "--detach", "--bundle", b.s.bundle, b.id).status == 0)
        let pid = try b.s.state(b.id)["pid"] as? Int ?? 0
        #expect(try b.s("pause", b.id).status == 0)
        #expect(try b.s.state(b.id)["status"] as? String == "paused")
        #expect(b.file("freezer", "freezer.state") == "FROZEN")
        let procs = b.file("freezer", "cgroup.procs").split(separator: "\n")
        #expect(procs.count == 2)
        #expect(try b.s("pause", b.id).stderr.contains("paused: only a running container"))
        #expect(try b.s("resume", b.id).status == 0)
        #expect(try b.s.state(b.id)["status"] as? String == "running")
        #expect(b.file("freezer", "freezer.state") == "THAWED")
        let st = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        #expect(statusField(st, "State")?.hasPrefix("S") == true, "\(st)")
        #expect(try b.s("resume", b.id).stderr.contains("is running, not paused"))
        #expect(try b.s("delete", "--force", b.id).status == 0)
        b.expectGone()
    }

    @Test("update changes limits of a running container, by flag or by document; bad values name the flag")
    func update() throws {
        let b = try Self.box(["sleep", "60"], resources: ["memory": ["limit": 64 << 20, "swap": 64 << 20], "pids": ["limit": 10]])
        defer { b.cleanup() }
        #expect(try b.s("run", "--detach", "--bundle", b.s.bundle, b.id).status == 0)
        #expect(try b.s("update", "--pids-limit", "20", "--memory", "32m", b.id).status == 0)
        #expect(b.file("pids", "pids.max") == "20" && b.file("memory", "memory.limit_in_bytes") == "\(32 << 20)")
        // Up past memory+swap: the message says which limit to raise.
        let up = try b.s("update", "--memory", "128m", b.id)
        #expect(up.status == 1 && up.stderr.contains("--memory: 134217728 is above the container's memory+swap limit"), "\(up)")
        #expect(try b.s("update", "--memory", "128m", "--memory-swap", "256m", b.id).status == 0)
        #expect(b.file("memory", "memory.limit_in_bytes") == "\(128 << 20)")
        let doc = try b.s("update", "--resources", "-", b.id, stdin: #"{"pids":{"limit":-1},"cpu":{"shares":100}}"#)
        #expect(doc.status == 0, "\(doc)")
        #expect(b.file("pids", "pids.max") == "max" && b.file("cpu", "cpu.shares") == "100")
        for (args, message) in [
            (["--cpu-share", "1"], "--cpu-share: 1 is out of range (2...262144)"),
            (["--memory", "12x"], "--memory: `12x` is not a size"),
            (["--pids-limit", "-5"], "--pids-limit: -5 is not a number of tasks"),
            (["--cpuset-cpus", "0-"], "--cpuset-cpus: `0-` is not a list"),
            ([], "nothing to change"),
        ] {
            let r = try b.s(["--root", b.s.root, "update"] + args + [b.id])
            #expect(r.status == 1 && r.stderr.contains(message), "\(args): \(r)")
        }
        #expect(try b.s("delete", "--force", b.id).status == 0)
        b.expectGone()
    }

    @Test("ps lists the container's processes; kill --all and delete --force leave none, without a pid namespace too")
    func psKillAll() throws {
        var b = try Self.box(["sh", "-c", "sleep 71 & sleep 72 & wait"])
        b.s.namespaces = b.s.namespaces.filter { ($0["type"] as? String) != "pid" }
        defer { b.cleanup() }
        #expect(try b.s("run", "--detach", "--bundle", b.s.bundle, b.id).status == 0)
        try waitFor { b.file("pids", "cgroup.procs").split(separator: "\n").count == 3 }
        let json = try b.s("ps", "--format", "json", b.id)
        let pids = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [Int] ?? []
        #expect(pids.count == 3, "\(json)")
        let table = try b.s("ps", b.id)
        #expect(
            table.stdout.hasPrefix("UID") && table.stdout.contains("sleep 71") && table.stdout.contains("sleep 72")
                && table.stdout.split(separator: "\n").count == 4, "\(table)")
        let custom = try b.s("ps", b.id, "--", "-o", "pid,comm")
        #expect(custom.stdout.hasPrefix("    PID COMMAND") || custom.stdout.contains("PID COMMAND"), "\(custom)")
        #expect(try b.s("kill", "--all", b.id, "KILL").status == 0)
        try waitFor { b.file("pids", "cgroup.procs").isEmpty }
        #expect(Harness.processes(mentioning: "sleep 71").isEmpty)
        #expect(try b.s("delete", b.id).status == 0)
        b.expectGone()

        // The first process gone, its children still running: delete kills them.
        var c = try Self.box(["sh", "-c", "sleep 73 & sleep 74 & exit 0"])
        c.s.namespaces = c.s.namespaces.filter { ($0["type"] as? String) != "pid" }
        defer { c.cleanup() }
        #expect(try c.s("run", "--detach", "--bundle", c.s.bundle, c.id).status == 0)
        try waitFor { (try? c.s.state(c.id)["status"] as? String) == "stopped" }
        #expect(!Harness.processes(mentioning: "sleep 73").isEmpty)
        #expect(try c.s("delete", c.id).status == 0)
        #expect(Harness.processes(mentioning: "sleep 73").isEmpty && Harness.processes(mentioning: "sleep 74").isEmpty)
        c.expectGone()
    }

    @Test("a create that fails after making the cgroup removes it, and the error names the field")
    func failedCreate() throws {
        let b = try Self.box(["true"], resources: ["cpu": ["cpus": "63"]])
        let r = try b.s.expectRefused("linux.resources.cpu.cpus: write /sys/fs/cgroup/cpuset/\(b.parent)/")
        #expect(r.stderr.contains("out of range"), "\(r)")
        for h in Self.hierarchies {
            let children =
                (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/\(h)/\(b.parent)"))?
                .filter { !$0.contains(".") && $0 != "tasks" } ?? []
            #expect(children.isEmpty, "\(h): \(children)")
        }
        b.expectGone()
    }

    @Test("the child moves itself into its v1 cgroups; an existing cpuset cgroup with no cpus is filled first (runc compat #17), so the kernel takes the task")
    func selfAttachIntoExistingCpuset() throws {
        var b = try Self.box(["cat", "/proc/self/cgroup"])
        b.s.namespaces = b.s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        defer { b.cleanup() }
        // Before runc compat #17 this was the kernel's refusal (ENOSPC on the
        // tasks file): skiff filled only the directories it made.
        try FileManager.default.createDirectory(atPath: b.dir("cpuset"), withIntermediateDirectories: true)
        let r = try b.s.run(b.id)
        #expect(r.status == 0 && r.stdout.contains(":cpuset:\(b.path)\n"), "\(r)")
        #expect(!fileText(b.dir("cpuset") + "/cpuset.cpus").isEmpty)
        rmdir(b.dir("cpuset"))
        rmdir("/sys/fs/cgroup/cpuset/\(b.parent)")
    }

    @Test("delete of a create that died after making its cgroup removes the cgroup")
    func diedCreate() throws {
        let b = try Self.box(["true"])
        try FileManager.default.createDirectory(atPath: b.s.root + "/" + b.id, withIntermediateDirectories: true)
        chmod(b.s.root, 0o700)
        try FileManager.default.createDirectory(atPath: b.dir("pids"), withIntermediateDirectories: true)
        try "1\n\(b.dir("pids"))\n".write(toFile: b.s.root + "/" + b.id + "/cgroups", atomically: false, encoding: .utf8)
        #expect(try b.s.state(b.id)["status"] as? String == "stopped")
        let r = try b.s("delete", b.id)
        #expect(r.status == 0, "\(r)")
        #expect(!FileManager.default.fileExists(atPath: b.dir("pids")))
        b.s.expectNothingLeft(b.id)
        b.expectGone()
    }

    @Test(
        "every invalid resource value is refused with its JSON path, and nothing is left",
        arguments: [
            (#"{"memory":{"limit":1000}}"#, #"linux.resources.memory.limit: 1000 is below the kernel's minimum"#),
            (#"{"memory":{"limit":1073741824,"swap":1048576}}"#, #"linux.resources.memory.swap: 1048576 is below linux.resources.memory.limit"#),
            (#"{"memory":{"swappiness":101}}"#, #"linux.resources.memory.swappiness: 101 is out of range"#),
            (#"{"cpu":{"shares":1}}"#, #"linux.resources.cpu.shares: 1 is out of range"#),
            (#"{"cpu":{"quota":10}}"#, #"linux.resources.cpu.quota: 10 is below the kernel's minimum"#),
            (#"{"cpu":{"period":10}}"#, #"linux.resources.cpu.period: 10 is out of range"#),
            (#"{"cpu":{"cpus":"a-b"}}"#, #"linux.resources.cpu.cpus: `a-b` is not a list"#),
            (#"{"cpu":{"idle":2}}"#, #"linux.resources.cpu.idle: 2 is neither 0 nor 1"#),
            (#"{"pids":{"limit":-2}}"#, #"linux.resources.pids.limit: -2 is not a number of tasks"#),
            (#"{"blockIO":{"weight":5}}"#, #"linux.resources.blockIO.weight: 5 is out of range"#),
            (
                #"{"blockIO":{"throttleReadBpsDevice":[{"major":-3,"minor":0,"rate":1}]}}"#,
                #"linux.resources.blockIO.throttleReadBpsDevice[0]: -3:0 is not a device number"#
            ),
            (#"{"hugepageLimits":[{"pageSize":"2XB","limit":1}]}"#, #"linux.resources.hugepageLimits[0].pageSize: `2XB` is not a huge page size"#),
            (
                #"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#,
                #"linux.resources.hugepageLimits[0].limit: this host has no `hugetlb` cgroup v1 hierarchy"#
            ),
            (#"{"network":{"classID":1}}"#, #"linux.resources.network.classID: this host has no `net_cls` cgroup v1 hierarchy"#),
            (#"{"unified":{"memory.high":"1"}}"#, #"linux.resources.unified["memory.high"]: this host uses cgroup v1"#),
            (#"{"devices":[{"allow":true,"type":"x"}]}"#, #"linux.resources.devices[0].type: `x` is not a device type"#),
            (#"{"devices":[{"allow":true,"access":"rwx"}]}"#, #"linux.resources.devices[0].access: `rwx` is not a device access"#),
            (#"{"devices":[{"allow":true,"major":-7}]}"#, #"linux.resources.devices[0].major: -7 is not a device number"#),
            (#"{"cpu":{"realtimeRuntime":-5}}"#, #"linux.resources.cpu.realtimeRuntime"#),
        ])
    func badValues(_ resources: String, _ message: String) throws {
        let doc = try JSONSerialization.jsonObject(with: Data(resources.utf8))
        let b = try Self.box(["true"], resources: doc as? [String: Any])
        try b.s.expectRefused(message)
        b.expectGone()
    }
}
