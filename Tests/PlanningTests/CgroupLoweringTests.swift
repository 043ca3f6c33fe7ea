import OCISpec
import Planning
import Testing

/// The conversions runc makes between the spec and cgroup files, against
/// the values runc (libcontainer/cgroups) computes.
@Suite struct CgroupLoweringTests {
    @Test(
        "cpu shares -> cpu.weight (runc's ConvertCPUSharesToCgroupV2Value)",
        arguments: [
            (UInt64(0), UInt64(0)), (2, 1), (512, 20), (1024, 39), (262144, 10000),
        ])
    func weight(_ shares: UInt64, _ weight: UInt64) {
        #expect(CgroupLowering.sharesToWeight(shares) == weight)
    }

    @Test(
        "blkio weight -> io.weight (runc's ConvertBlkIOToIOWeightValue)",
        arguments: [
            (UInt16(10), UInt64(1)), (300, 2930), (500, 4950), (1000, 10000),
        ])
    func ioWeight(_ blkio: UInt16, _ io: UInt64) {
        #expect(CgroupLowering.blkioToIOWeight(blkio) == io)
    }

    @Test("swap (memory+swap in the spec) -> memory.swap.max (runc's ConvertMemorySwapToCgroupV2Value)")
    func swap() throws {
        #expect(try CgroupLowering.swapV2(swap: 0, memory: -1, path: "s") == -1)
        #expect(try CgroupLowering.swapV2(swap: -1, memory: 100, path: "s") == -1)
        #expect(try CgroupLowering.swapV2(swap: 0, memory: 100, path: "s") == 0)
        #expect(try CgroupLowering.swapV2(swap: 300, memory: 100, path: "s") == 200)
        #expect(throws: SpecError.self) { try CgroupLowering.swapV2(swap: 50, memory: 100, path: "s") }
        #expect(throws: SpecError.self) { try CgroupLowering.swapV2(swap: 50, memory: 0, path: "s") }
    }

    func lower(_ json: String, v2: Bool) throws -> [String] {
        let r = try SpecDecoder.decode(Resources.self, json: Array(json.utf8))
        var l = CgroupLowering(v2: v2)
        try l.lower(r)
        return l.writes.map { "\($0.file)=\($0.value)" }
    }

    @Test("v2 files: cpu.max, io.max lines, hugetlb max and rsvd, rdma, unified keys")
    func v2Files() throws {
        let w = try lower(
            #"""
            {"cpu":{"quota":-1,"period":250000,"burst":1000},
             "blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],"throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":0}]},
             "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
             "rdma":{"mlx5_1":{"hcaHandles":3,"hcaObjects":10000}},
             "pids":{"limit":0},
             "unified":{"memory.high":"1G","cgroup.max.depth":"3"}}
            """#, v2: true)
        #expect(
            w == [
                "cpu.max=max 250000", "cpu.max.burst=1000", "pids.max=max", "io.max=8:0 rbps=1048576", "io.max=8:0 wiops=max",
                "hugetlb.2MB.max=4194304", "hugetlb.2MB.rsvd.max=4194304",
                "rdma.max=mlx5_1 hca_handle=3 hca_object=10000", "memory.high=1G", "cgroup.max.depth=3",
            ])
    }

    @Test(
        "unified cgroup.* files that move, freeze or kill processes are refused with their JSON path",
        arguments: [
            "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.freeze", "cgroup.subtree_control", "cgroup.type",
        ])
    func unifiedCgroupFilesRefused(key: String) throws {
        do {
            _ = try lower(#"{"unified":{"\#(key)":"1"}}"#, v2: true)
            Issue.record("accepted \(key)")
        } catch {
            #expect("\(error)".hasPrefix(#"linux.resources.unified["\#(key)"]: "#) && "\(error)".contains("is not a limit"), "\(error)")
        }
    }

    @Test("v1 files: cfs, rt, memsw, oom_control, blkio throttle, net_cls and net_prio")
    func v1Files() throws {
        let w = try lower(
            #"""
            {"memory":{"limit":1048576,"swap":2097152,"disableOOMKiller":true},
             "cpu":{"quota":20000,"period":100000,"realtimeRuntime":950,"realtimePeriod":1000},
             "blockIO":{"throttleWriteBpsDevice":[{"major":8,"minor":16,"rate":500}]},
             "network":{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}}
            """#, v2: false)
        #expect(
            w == [
                "memory.limit_in_bytes=1048576", "memory.memsw.limit_in_bytes=2097152", "memory.oom_control=1",
                "cpu.cfs_period_us=100000", "cpu.cfs_quota_us=20000", "cpu.rt_period_us=1000", "cpu.rt_runtime_us=950",
                "blkio.throttle.write_bps_device=8:16 500", "net_cls.classid=1048577", "net_prio.ifpriomap=eth0 5",
            ])
    }

    @Test("device rules -> v1 lines: deny all first, wildcards as *, rwm for all")
    func v1Devices() {
        let rules = [
            DeviceAccessRule(allow: false, kind: .all, major: nil, minor: nil, access: DeviceAccessRule.rwm),
            DeviceAccessRule(allow: true, kind: .char, major: 136, minor: nil, access: DeviceAccessRule.rwm),
            DeviceAccessRule(allow: true, kind: .block, major: 7, minor: 0, access: DeviceAccessRule.read),
        ]
        let lines = CgroupLowering.v1DeviceLines(rules).map { "\($0.file) \($0.line)" }
        #expect(lines == ["devices.deny a", "devices.deny a", "devices.allow c 136:* rwm", "devices.allow b 7:0 r"])
    }

    /// Runs a device program on one request, as the kernel would (the few
    /// instructions DeviceProgram emits).
    static func evaluate(_ prog: [UInt64], type: UInt32, access: UInt32, major: UInt32, minor: UInt32) -> UInt64 {
        var r = [UInt64](repeating: 0, count: 11)
        let ctx = [type | access << 16, major, minor]
        var pc = 0
        while pc < prog.count {
            let i = prog[pc]
            let code = UInt8(i & 0xff), dst = Int((i >> 8) & 0xf), src = Int((i >> 12) & 0xf)
            let off = Int(Int16(bitPattern: UInt16((i >> 16) & 0xffff))), imm = UInt32(truncatingIfNeeded: i >> 32)
            pc += 1
            switch code {
            case 0x61: r[dst] = UInt64(ctx[off / 4]); _ = src
            case 0xbc: r[dst] = r[src] & 0xffff_ffff
            case 0x54: r[dst] = (r[dst] & UInt64(imm)) & 0xffff_ffff
            case 0x74: r[dst] = (r[dst] & 0xffff_ffff) >> UInt64(imm)
            case 0xb7: r[dst] = UInt64(imm)
            case 0x56: if UInt32(truncatingIfNeeded: r[dst]) != imm { pc += off }
            case 0x95: return r[0]
            default: return 99
            }
        }
        return 99
    }

    @Test("the v2 device program: the last matching rule wins, default deny, access must be within the rule")
    func program() {
        var rules = [DeviceAccessRule(allow: false, kind: .all, major: nil, minor: nil, access: DeviceAccessRule.rwm)]
        rules += [DeviceAccessRule(allow: true, kind: .block, major: 7, minor: 0, access: DeviceAccessRule.read)]
        rules += Planner.defaultAllowedDevices
        rules += [DeviceAccessRule(allow: false, kind: .char, major: 1, minor: 9, access: DeviceAccessRule.write)]
        let p = DeviceProgram.instructions(rules)
        let char: UInt32 = 2, block: UInt32 = 1, mknod: UInt32 = 1, read: UInt32 = 2, write: UInt32 = 4
        #expect(Self.evaluate(p, type: char, access: read | write, major: 1, minor: 3) == 1, "/dev/null")
        #expect(Self.evaluate(p, type: block, access: read, major: 7, minor: 0) == 1, "loop0 read")
        #expect(Self.evaluate(p, type: block, access: write, major: 7, minor: 0) == 0, "loop0 write")
        #expect(Self.evaluate(p, type: block, access: mknod, major: 8, minor: 0) == 1, "mknod any")
        #expect(Self.evaluate(p, type: char, access: read, major: 1, minor: 1) == 0, "/dev/mem")
        #expect(Self.evaluate(p, type: char, access: read, major: 136, minor: 4) == 1, "a pty")
        #expect(Self.evaluate(p, type: char, access: write, major: 1, minor: 9) == 0, "urandom write denied by the last rule")
        #expect(Self.evaluate(p, type: char, access: read, major: 1, minor: 9) == 1, "urandom read")
        // An allow-all rule at the end decides everything: nothing before it is emitted.
        let all = DeviceProgram.instructions(rules + [DeviceAccessRule(allow: true, kind: .all, major: nil, minor: nil, access: DeviceAccessRule.rwm)])
        #expect(all.count == 8 && Self.evaluate(all, type: char, access: read, major: 1, minor: 1) == 1)
    }

    @Test("cgroupsPath placement: absolute below the root, relative below the caller's (v2: its parent), cleaned")
    func placement() {
        #expect(CgroupLowering.place("/a/b", own: "/x/y", v2: false) == "/a/b")
        #expect(CgroupLowering.place("c", own: "/x/y", v2: false) == "/x/y/c")
        #expect(CgroupLowering.place("c", own: "/x/y", v2: true) == "/x/c")
        #expect(CgroupLowering.place("../../../../etc", own: "/x/y", v2: false) == "/etc")
        #expect(CgroupLowering.place("/a/./b/../c", own: "/", v2: false) == "/a/c")
    }
}
