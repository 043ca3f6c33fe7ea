import OCISpec
import Planning
import Testing

let systemdV2Host: HostFacts = {
    var h = HostFacts(euid: 0, egid: 0, userName: "root", capLast: 40, umask: 0o022, cgroups: .unified)
    h.systemd = SystemdFacts(user: false, managerCgroup: "/", version: 252)
    return h
}()

/// --systemd-cgroup in planning: runc's cgroupsPath form, the scope's
/// directories, and the limits as unit properties (docs/systemd.md of runc).
@Suite struct SystemdPlanTests {
    @Test(
        "slices expand as runc's ExpandSlice",
        arguments: [
            ("test.slice", "/test.slice"), ("test-a.slice", "/test.slice/test-a.slice"),
            ("test-a-b.slice", "/test.slice/test-a.slice/test-a-b.slice"), ("-.slice", "/"),
            ("machine-libpod.slice", "/machine.slice/machine-libpod.slice"),
        ])
    func expand(_ slice: String, _ path: String) {
        #expect(SystemdNames.expandSlice(slice) == path)
    }

    @Test(
        "what is not a slice",
        arguments: [
            "test", ".slice", "-test.slice", "test--a.slice", "test-.slice",
            "a/b.slice", "a b.slice", "test.scope",
        ])
    func notSlices(_ name: String) {
        #expect(SystemdNames.expandSlice(name) == nil)
    }

    @Test("slice:prefix:name and its defaults")
    func paths() throws {
        #expect(try SystemdNames.scope(nil, id: "c1", user: false) == ("system.slice", "skiff-c1.scope"))
        #expect(try SystemdNames.scope("", id: "c1", user: true) == ("user.slice", "skiff-c1.scope"))
        #expect(try SystemdNames.scope("machine.slice:libpod:abc", id: "c1", user: false) == ("machine.slice", "libpod-abc.scope"))
        #expect(try SystemdNames.scope(":docker:abc", id: "c1", user: false) == ("system.slice", "docker-abc.scope"))
        #expect(try SystemdNames.scope(":docker:abc", id: "c1", user: true) == ("user.slice", "docker-abc.scope"))
        #expect(try SystemdNames.scope("system.slice::abc", id: "c1", user: false) == ("system.slice", "abc.scope"))
        #expect(try SystemdNames.scope("system.slice:crio:", id: "c1", user: false) == ("system.slice", "crio-c1.scope"))
        #expect(
            try SystemdNames.scope("kubepods-burstable-pod1.slice:cri-containerd:x", id: "c1", user: false)
                == ("kubepods-burstable-pod1.slice", "cri-containerd-x.scope"))
    }

    @Test(
        "malformed systemd cgroupsPaths name the field and say what is expected",
        arguments: [
            ("/a/b", "linux.cgroupsPath: `/a/b` is not of the form slice:prefix:name that --systemd-cgroup takes"),
            ("a:b", "linux.cgroupsPath: `a:b` is not of the form slice:prefix:name"),
            ("a:b:c:d", "linux.cgroupsPath: `a:b:c:d` is not of the form slice:prefix:name"),
            ("system:p:n", "linux.cgroupsPath: `system` is not a systemd slice: a name ending in `.slice`"),
            ("a--b.slice:p:n", "linux.cgroupsPath: `a--b.slice` is not a systemd slice"),
            ("system.slice:p:pod.slice", "linux.cgroupsPath: name `pod.slice` is a slice: skiff makes a scope for each container"),
            ("system.slice:p:a b", "linux.cgroupsPath: `p-a b.scope` is not a unit name systemd accepts"),
            ("system.slice:p@x:n", "linux.cgroupsPath: `p@x-n.scope` is not a unit name systemd accepts"),
        ])
    func malformed(_ path: String, _ message: String) {
        do {
            _ = try SystemdNames.scope(path, id: "c1", user: false)
            Issue.record("accepted \(path)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error)")
        }
    }

    @Test("an id systemd cannot take as a unit name needs a cgroupsPath")
    func badID() {
        #expect(throws: SpecError.self) { try SystemdNames.scope(nil, id: "a@b", user: false) }
    }

    @Test("the plan: the scope's directory in the manager's tree, base properties as runc sets them")
    func planV2() throws {
        let p = try plan(spec(linux: #""cgroupsPath":"machine-test.slice:pfx:abc","resources":{"pids":{"limit":5}}"#), host: systemdV2Host)
        let cg = try #require(p.cgroup)
        #expect(cg.dirs == [CgroupDir(hierarchy: "", path: "/machine.slice/machine-test.slice/pfx-abc.scope")])
        let scope = try #require(cg.systemd)
        #expect(scope.unit == "pfx-abc.scope" && scope.slice == "machine-test.slice" && !scope.user)
        let names = scope.properties.map(\.name)
        #expect(
            names.prefix(8) == [
                "Description", "Slice", "Delegate", "MemoryAccounting", "CPUAccounting", "IOAccounting",
                "TasksAccounting", "DefaultDependencies",
            ])
        #expect(scope.properties.first { $0.name == "Delegate" }?.value == .bool(true))
        #expect(scope.properties.first { $0.name == "DefaultDependencies" }?.value == .bool(false))
        #expect(scope.properties.first { $0.name == "TasksMax" }?.value == .uint64(5))
        #expect(cg.writes.map(\.file) == ["pids.max"], "the files are written too")
        #expect(cg.devices != nil)
    }

    @Test("a user manager: its cgroup prefixes the path; v1 is refused; hybrid hosts get every hierarchy")
    func userAndHybrid() throws {
        var user = rootless()
        user.cgroups = .unified
        user.systemd = SystemdFacts(user: true, managerCgroup: "/user.slice/user-1000.slice/user@1000.service", version: 252)
        let userNS =
            #""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces":[{"type":"mount"},{"type":"user"}]"#
        let p = try plan(spec(linux: userNS), host: user)
        #expect(p.cgroup?.dirs == [CgroupDir(hierarchy: "", path: "/user.slice/user-1000.slice/user@1000.service/user.slice/skiff-t.scope")])
        #expect(p.cgroup?.systemd?.user == true)
        #expect(p.cgroup?.devices == nil, "a rootless container gets no device rules")

        var userV1 = rootless()
        userV1.systemd = SystemdFacts(user: true, managerCgroup: "/user.slice/user-1000.slice/user@1000.service", version: 252)
        #expect(throws: SpecError.self) { try plan(spec(linux: userNS), host: userV1) }

        var hybrid = rootHost
        hybrid.systemd = SystemdFacts(user: false, managerCgroup: "/", version: 252)
        let h = try plan(spec(linux: #""resources":{"memory":{"limit":1048576}}"#), host: hybrid)
        #expect(
            h.cgroup?.dirs.map(\.hostPath) == [
                "/sys/fs/cgroup/cpu/system.slice/skiff-t.scope",
                "/sys/fs/cgroup/systemd/system.slice/skiff-t.scope",
                "/sys/fs/cgroup/unified/system.slice/skiff-t.scope",
            ])
        #expect(h.cgroup?.systemd?.properties.contains { $0.name == "BlockIOAccounting" } == true)
        #expect(h.cgroup?.systemd?.properties.first { $0.name == "MemoryLimit" }?.value == .uint64(1_048_576))
    }

    func properties(_ resources: String, v2: Bool = true, version: Int = 252) throws -> [String: DBusValue] {
        let r = try SpecDecoder.decode(Resources.self, json: Array(resources.utf8))
        var l = CgroupLowering(v2: v2)
        try l.lower(r)
        var out: [String: DBusValue] = [:]
        for p in try SystemdLimits.properties(l.writes, v2: v2, version: version) { out[p.name] = p.value }
        return out
    }

    @Test("v2 limits as runc converts them to unit properties")
    func v2Limits() throws {
        let p = try properties(
            #"{"memory":{"limit":67108864,"reservation":33554432,"swap":100663296},"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-3,9","mems":"0"},"pids":{"limit":42},"blockIO":{"weight":300}}"#
        )
        #expect(p["MemoryMax"] == .uint64(67_108_864))
        #expect(p["MemoryLow"] == .uint64(33_554_432))
        #expect(p["MemorySwapMax"] == .uint64(33_554_432), "memory+swap minus memory")
        #expect(p["CPUWeight"] == .uint64(20))
        #expect(p["CPUQuotaPerSecUSec"] == .uint64(500_000))
        #expect(p["CPUQuotaPeriodUSec"] == .uint64(100_000))
        #expect(p["TasksMax"] == .uint64(42))
        #expect(p["AllowedCPUs"] == .array(element: "y", [.byte(0x0f), .byte(0x02)]))
        #expect(p["AllowedMemoryNodes"] == .array(element: "y", [.byte(0x01)]))
        #expect(p["IOWeight"] == .uint64(2930))
    }

    @Test("quota per second rounds up to 10 ms; no quota is infinity; unlimited values are infinity")
    func quota() throws {
        #expect(try properties(#"{"cpu":{"quota":12345,"period":100000}}"#)["CPUQuotaPerSecUSec"] == .uint64(130_000))
        #expect(try properties(#"{"cpu":{"quota":25000}}"#)["CPUQuotaPerSecUSec"] == .uint64(250_000))
        #expect(try properties(#"{"cpu":{"period":50000}}"#)["CPUQuotaPerSecUSec"] == DBusValue.infinity)
        #expect(try properties(#"{"memory":{"limit":-1}}"#)["MemoryMax"] == DBusValue.infinity)
        #expect(try properties(#"{"pids":{"limit":0}}"#)["TasksMax"] == DBusValue.infinity)
        #expect(try properties(#"{"cpu":{"cpus":"1"}}"#, version: 243)["AllowedCPUs"] == nil, "systemd v244 has AllowedCPUs")
        #expect(try properties(#"{"cpu":{"period":50000}}"#, version: 241)["CPUQuotaPeriodUSec"] == nil, "systemd v242 has it")
    }

    @Test("unified keys systemd knows become properties; a bad value names its key")
    func unified() throws {
        let p = try properties(
            #"{"unified":{"memory.high":"1000000","memory.min":"max","pids.max":"7","cpu.weight":"50","cpu.max":"max 20000","hugetlb.2MB.max":"0"}}"#)
        #expect(p["MemoryHigh"] == .uint64(1_000_000))
        #expect(p["MemoryMin"] == DBusValue.infinity)
        #expect(p["TasksMax"] == .uint64(7))
        #expect(p["CPUWeight"] == .uint64(50))
        #expect(p["CPUQuotaPerSecUSec"] == DBusValue.infinity && p["CPUQuotaPeriodUSec"] == .uint64(20000))
        #expect(p.count == 6, "hugetlb has no property: its file is written only")
        do {
            _ = try properties(#"{"unified":{"memory.high":"lots"}}"#)
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == #"linux.resources.unified["memory.high"]: `lots` is not a number or `max`"#)
        }
    }

    @Test("v1 limits: MemoryLimit, CPUShares, BlockIOWeight, TasksMax, the quota")
    func v1Limits() throws {
        let p = try properties(
            #"{"memory":{"limit":1048576},"cpu":{"shares":512,"quota":20000,"period":100000},"blockIO":{"weight":300},"pids":{"limit":9}}"#, v2: false)
        #expect(p["MemoryLimit"] == .uint64(1_048_576))
        #expect(p["CPUShares"] == .uint64(512))
        #expect(p["BlockIOWeight"] == .uint64(300))
        #expect(p["TasksMax"] == .uint64(9))
        #expect(p["CPUQuotaPerSecUSec"] == .uint64(200_000))
        #expect(p["CPUQuotaPeriodUSec"] == .uint64(100_000))
    }

    @Test(
        "cpu lists as systemd's bit bytes",
        arguments: [
            ("0", [UInt8(1)]), ("0-7", [0xff]), ("8", [0, 1]), ("1,3-4", [0x1a]), (" 0-1 ", [3]),
        ])
    func bits(_ list: String, _ bytes: [UInt8]) {
        #expect(SystemdLimits.cpuBits(list) == bytes)
    }

    @Test("org.systemd.property.* annotations, as runc reads them")
    func annotations() throws {
        func props(_ pairs: [(String, String)]) throws -> [SystemdProperty] {
            var m = OrderedMap<String>()
            for (k, v) in pairs { m["org.systemd.property." + k] = v }
            m["other"] = "x"
            return try SystemdLimits.annotationProperties(m)
        }
        let p = try props([
            ("TimeoutStopSec", "5"), ("TimeoutStopUSec", "uint64 123456789"), ("CollectMode", "'inactive-or-failed'"),
            ("DeviceAllow", "[('/dev/null', 'rw')]"), ("Wants", "@as []"), ("CPUWeight", "uint64 99"),
        ])
        #expect(p.map(\.name) == ["TimeoutStopUSec", "TimeoutStopUSec", "CollectMode", "DeviceAllow", "Wants", "CPUWeight"])
        #expect(p[0].value == .uint64(5_000_000), "Sec is seconds, sent as USec")
        #expect(p[1].value == .uint64(123_456_789))
        #expect(p[2].value == .string("inactive-or-failed"))
        #expect(p[3].value == .array(element: "(ss)", [.structure([.string("/dev/null"), .string("rw")])]))
        #expect(p[4].value == .array(element: "s", []))
        #expect(p[0].origin == #"annotations["org.systemd.property.TimeoutStopSec"]"#)
        for (key, value, message) in [
            ("Bad-Name", "1", "is not a systemd property name"),
            ("TimeoutStopSec", "'soon'", "is not a number of seconds"),
            ("CollectMode", "'unterminated", "is not a GVariant value: the string does not end"),
            ("Wants", "[]", "an empty array needs its type"),
            ("TasksMax", "5000000000", "out of range for int32 (give a type, e.g. `uint64 5000000000`)"),
            ("PIDs", "[uint32 1]", "`PIDs` is skiff's to set"),
            // Audit round 3: 100,000 `[` overflowed the stack; a type
            // nested past 32 levels made libdbus abort.
            ("Wants", String(repeating: "[", count: 100_000), "nested deeper than 32 levels"),
            ("Wants", "@" + String(repeating: "a", count: 40) + "s []", "nested deeper than 32 levels"),
            ("Wants", String(repeating: "<", count: 50) + "1" + String(repeating: ">", count: 50), "nested deeper than 32 levels"),
        ] {
            do {
                _ = try props([(key, value)])
                Issue.record("accepted \(key)=\(value)")
            } catch {
                #expect("\(error)".hasPrefix(#"annotations["org.systemd.property.\#(key)"]: "#) && "\(error)".contains(message), "\(error)")
            }
        }
    }

    @Test(
        "GVariant text: types, numbers, strings, containers",
        arguments: [
            ("true", DBusValue.bool(true)), ("false", .bool(false)), ("7", .int32(7)), ("-7", .int32(-7)), ("1.5", .double(1.5)),
            ("uint64 18446744073709551615", .uint64(UInt64.max)), ("uint32 0x10", .uint32(16)), ("byte 255", .byte(255)),
            ("int64 -9223372036854775808", .int64(Int64.min)), ("@t 5", .uint64(5)), ("\"a\\\"b\"", .string("a\"b")),
            ("'\\u00e9'", .string("é")), ("objectpath '/a/b'", .objectPath("/a/b")), ("<'x'>", .variant(.string("x"))),
            ("[1, 2]", .array(element: "i", [.int32(1), .int32(2)])), ("@au [1]", .array(element: "u", [.uint32(1)])),
            ("(1, 'a', true)", .structure([.int32(1), .string("a"), .bool(true)])),
            ("@a(st) [('x', 1)]", .array(element: "(st)", [.structure([.string("x"), .uint64(1)])])),
        ])
    func gvariant(_ text: String, _ value: DBusValue) throws {
        #expect(try GVariantText.parse(text) == value)
    }

    @Test(
        "GVariant text that is refused",
        arguments: [
            "", "[1, 'a']", "{'a': 1}", "uint32 -1", "byte 256", "tru", "1 2",
            "@q 70000", "(1,", "<1", "()", "@(s) (1)", "handle 1",
        ])
    func gvariantBad(_ text: String) {
        #expect(throws: GVariantText.Failure.self) { try GVariantText.parse(text) }
    }
}
