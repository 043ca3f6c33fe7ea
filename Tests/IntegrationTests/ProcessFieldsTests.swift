import Foundation
import Testing

/// process.scheduler, process.ioPriority, process.execCPUAffinity and
/// linux.memoryPolicy, as the container's process sees them.
@Suite struct ProcessFieldsTests {
    /// Fields 19 (nice), 40 (rt_priority) and 41 (policy) of /proc/self/stat.
    static let schedFields = "awk '{print $19, $40, $41}' /proc/self/stat"

    @Test(
        "the scheduler policy, nice value and real-time priority",
        arguments: [
            (#"{"policy":"SCHED_BATCH","nice":5}"#, "5 0 3"),
            (#"{"policy":"SCHED_IDLE"}"#, "0 0 5"),
            (#"{"policy":"SCHED_FIFO","priority":10}"#, "0 10 1"),
            (#"{"policy":"SCHED_RR","priority":3,"flags":["SCHED_FLAG_RESET_ON_FORK"]}"#, "0 3 2"),
        ])
    func scheduler(_ scheduler: String, _ expected: String) throws {
        var s = try Skiff(["sh", "-c", "exec \(Self.schedFields)"])
        s["process", "scheduler"] = try JSONSerialization.jsonObject(with: Data(scheduler.utf8))
        let realtime = scheduler.contains("SCHED_FIFO") || scheduler.contains("SCHED_RR")
        if realtime {
            // On cgroup v1 a new cpu cgroup has no real-time budget: the
            // error says which fields give it one.
            let refused = try s.run()
            #expect(refused.status == 1 && refused.stderr.contains("set linux.resources.cpu.realtimeRuntime"), "\(refused)")
            s["linux", "resources"] = ["cpu": ["realtimeRuntime": 10000, "realtimePeriod": 1000000]]
        }
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == expected + "\n", "\(r)")
    }

    @Test("the I/O priority")
    func ioPriority() throws {
        var s = try Skiff(["sh", "-c", "ionice -p $$"])
        s["process", "ioPriority"] = ["class": "IOPRIO_CLASS_BE", "priority": 5]
        let r = try s.run()
        #expect(r.status == 0 && r.stdout.contains("best-effort") && r.stdout.contains("prio 5"), "\(r)")
    }

    @Test("execCPUAffinity: the initial CPUs, then the final ones for the program")
    func cpuAffinity() throws {
        var s = try Skiff(["grep", "^Cpus_allowed_list", "/proc/self/status"])
        s["process", "execCPUAffinity"] = ["initial": "0"]
        #expect(try s.run().stdout == "Cpus_allowed_list:\t0\n")
        s["process", "execCPUAffinity"] = ["initial": "0", "final": "1"]
        #expect(try s.run().stdout == "Cpus_allowed_list:\t1\n")
        s["process", "execCPUAffinity"] = ["final": "0-1"]
        #expect(try s.run().stdout == "Cpus_allowed_list:\t0-1\n")
    }

    @Test("the memory policy shows in numa_maps")
    func memoryPolicy() throws {
        var s = try Skiff(["sh", "-c", "head -1 /proc/self/numa_maps"])
        s["linux", "memoryPolicy"] = ["mode": "MPOL_BIND", "nodes": "0"]
        let r = try s.run()
        #expect(r.status == 0 && r.stdout.contains(" bind:0 "), "\(r)")
        s["linux", "memoryPolicy"] = ["mode": "MPOL_LOCAL"]
        let local = try s.run()
        #expect(local.status == 0 && local.stdout.contains(" local "), "\(local)")
    }

    @Test("wrong scheduling fields are refused with their JSON path, and nothing is left")
    func badInput() throws {
        let cases: [(String, String, Any, String)] = [
            ("process", "scheduler", ["policy": "SCHED_ISO"], "process.scheduler.policy: SCHED_ISO is not implemented by Linux"),
            ("process", "scheduler", ["policy": "SCHED_LATE"], "process.scheduler.policy: unknown scheduler policy `SCHED_LATE`"),
            ("process", "scheduler", ["policy": "SCHED_OTHER", "nice": 20], "process.scheduler.nice: 20 is not a nice value (-20 to 19)"),
            (
                "process", "scheduler", ["policy": "SCHED_OTHER", "priority": 5],
                "process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, not SCHED_OTHER"
            ),
            ("process", "scheduler", ["policy": "SCHED_FIFO"], "process.scheduler.priority: SCHED_FIFO takes a priority of 1 to 99, not 0"),
            (
                "process", "scheduler", ["policy": "SCHED_DEADLINE"],
                "process.scheduler: SCHED_DEADLINE needs runtime <= deadline <= period (ns), runtime above 0"
            ),
            (
                "process", "scheduler", ["policy": "SCHED_BATCH", "flags": ["SCHED_FLAG_FAST"]],
                "process.scheduler.flags[0]: unknown scheduler flag `SCHED_FLAG_FAST`"
            ),
            (
                "process", "ioPriority", ["class": "IOPRIO_CLASS_BE", "priority": 8],
                "process.ioPriority.priority: 8 is not an I/O priority (0 to 7)"
            ),
            (
                "process", "execCPUAffinity", ["final": "2-1"],
                "process.execCPUAffinity.final: `2-1` is not a list like `0-3,8` (numbers below 1024)"
            ),
            (
                "process", "execCPUAffinity", ["initial": "0,x"],
                "process.execCPUAffinity.initial: `0,x` is not a list like `0-3,8`"
            ),
            ("linux", "memoryPolicy", ["mode": "MPOL_BIND"], "linux.memoryPolicy.nodes: MPOL_BIND needs nodes"),
            ("linux", "memoryPolicy", ["mode": "MPOL_DEFAULT", "nodes": "0"], "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes"),
            (
                "linux", "memoryPolicy", ["mode": "MPOL_BIND", "nodes": "7"],
                "linux.memoryPolicy.nodes: node 7 does not exist on this host"
            ),
        ]
        for (section, key, value, message) in cases {
            var s = try Skiff(["true"])
            s[section, key] = value
            try s.expectRefused(message)
        }
    }
}

/// LSMs where they are off (the planner tests cover where they are
/// enabled).
@Suite struct LSMTests {
    @Test("an AppArmor profile where AppArmor is off is refused, naming it; nothing is left", .needsAppArmorOff)
    func apparmorOff() throws {
        var s = try Skiff(["true"])
        s["process", "apparmorProfile"] = "docker-default"
        try s.expectRefused("process.apparmorProfile: `docker-default` is asked for, but AppArmor is not enabled on this host")
    }

    @Test("SELinux labels where SELinux is off are ignored with a debug line, as podman expects", .needsSELinuxOff)
    func selinuxOff() throws {
        var s = try Skiff(["sh", "-c", "cat /proc/self/attr/current 2>/dev/null; echo ran"])
        s["process", "selinuxLabel"] = "system_u:system_r:container_t:s0"
        s["linux", "mountLabel"] = "system_u:object_r:container_file_t:s0"
        let r = try s(["--debug", "run", "--bundle", s.bundle, Harness.uniqueName("selinux")])
        #expect(r.status == 0 && r.stdout.hasSuffix("ran\n"), "\(r)")
        #expect(r.stderr.contains("process.selinuxLabel: SELinux is not enabled here; `system_u:system_r:container_t:s0` ignored"), "\(r)")
        #expect(r.stderr.contains("linux.mountLabel: SELinux is not enabled here"), "\(r)")
    }
}

/// linux.netDevices. The host side is a network namespace the test makes
/// (unshare -n), with a veth pair in it: the host's own is never touched.
@Suite struct NetDeviceTests {
    @Test("an interface moves into the container under its new name, and back at delete --force")
    func moveInAndBack() throws {
        var s = try Skiff(["sh", "-c", "ip -o link show > /out/links; sleep 30"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        s["linux", "netDevices"] = ["skv0": ["name": "eth7"]]
        try s.writeConfig()
        let id = Harness.uniqueName("netdev")
        let skiff = "\(s.binary) --root \(s.root)"
        let r = try Harness.sh(
            """
            unshare -n sh -c '
            ip link add skv0 type veth peer name skv1 || exit 9
            \(skiff) run --detach --bundle \(s.bundle) \(id) || exit 8
            while [ ! -s \(out)/links ]; do sleep 0.02; done
            ip link show skv0 >/dev/null 2>&1 && echo still-on-host
            \(skiff) delete --force \(id) || exit 7
            ip -o link show skv0 >/dev/null && echo back-on-host'
            """)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "back-on-host\n", "\(r)")
        let links = try String(contentsOfFile: out + "/links", encoding: .utf8)
        #expect(links.contains(": eth7@"), "inside: \(links)")
        s.expectNothingLeft(id)
    }

    @Test("wrong netDevices are refused with their JSON path, and nothing is left")
    func badInput() throws {
        var s = try Skiff(["true"])
        s["linux", "netDevices"] = ["skiff-none0": [String: Any]()]
        try s.expectRefused("linux.netDevices[\"skiff-none0\"]: move interface `skiff-none0` into the container as `skiff-none0`: no such device")
        s["linux", "netDevices"] = ["lo0": ["name": "a-name-that-is-too-long"]]
        try s.expectRefused("linux.netDevices.lo0.name: `a-name-that-is-too-long` is not an interface name (1 to 15 bytes)")
        s["linux", "netDevices"] = ["lo0": ["name": "eth0"]]
        s.namespaces = s.namespaces.filter { $0["type"] as? String != "network" }
        try s.expectRefused("linux.netDevices: needs a new network namespace in linux.namespaces")
    }
}
