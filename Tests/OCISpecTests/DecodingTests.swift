import OCISpec
import Testing

@Suite struct DecodingTests {
    @Test("valid fixtures decode and survive a round trip", arguments: Fixtures.names("valid"))
    func validRoundTrip(name: String) throws {
        let spec = try SpecDecoder.decode(Spec.self, json: Fixtures.bytes("valid", name))
        let again = try SpecDecoder.decode(Spec.self, from: SpecEncoder.encode(spec))
        #expect(again == spec)
    }

    @Test("every field of config.md and config-linux.md v1.3.0 decodes")
    func everything() throws {
        let spec = try SpecDecoder.decode(Spec.self, json: Fixtures.bytes("model", "everything-v1.3.0"))
        let linux = try #require(spec.linux)
        #expect(linux.memoryPolicy?.mode == .interleave)
        #expect(linux.memoryPolicy?.flags == [.staticNodes])
        #expect(linux.netDevices?["eth0"]?.name == "ceth0")
        #expect(linux.intelRdt?.schemata == ["L2:0=f"])
        #expect(linux.intelRdt?.enableMonitoring == true)
        #expect(linux.seccomp?.syscalls?[1].args?[0].op == .maskedEq)
        #expect(linux.resources?.blockIO?.throttleWriteIOPSDevice?[0].rate == 300)
        #expect(linux.resources?.rdma?["mlx5_1"]?.hcaObjects == 10000)
        #expect(linux.resources?.unified?.keys == ["io.max", "memory.high"])
        #expect(linux.timeOffsets?["monotonic"]?.nanosecs == 5)
        #expect(linux.personality?.domain == .linux32)
        #expect(spec.process?.scheduler?.policy == .fifo)
        #expect(spec.process?.ioPriority?.class == .be)
        #expect(spec.process?.execCPUAffinity?.final == "0-1")
        #expect(spec.hooks?.startContainer?.first?.timeout == 5)
        #expect(spec.mounts?.last?.uidMappings?.first?.hostID == 1000)
        #expect(spec.vm != nil && spec.solaris != nil && spec.freebsd != nil)
        let again = try SpecDecoder.decode(Spec.self, from: SpecEncoder.encode(spec))
        #expect(again == spec)
    }

    @Test(
        "State.json is what the Encodable conformance writes",
        arguments: [
            State(
                ociVersion: "1.3.0", id: "a", status: .running, pid: 42, bundle: "/b", rootfs: "/b/r",
                created: "2026-01-01T00:00:00Z", owner: "root", annotations: OrderedMap([("k", "v"), ("a", "b")])),
            State(
                ociVersion: "1.3.0", id: "x", status: .stopped, pid: nil, bundle: "", rootfs: nil, created: nil,
                owner: nil, annotations: nil),
        ])
    func stateJSON(_ s: State) {
        #expect(s.json == SpecEncoder.encode(s))
        #expect(s.json.serialized(pretty: true) == SpecEncoder.serialize(s))
    }

    @Test("unknown members are ignored")
    func unknownMembers() throws {
        let spec = try SpecDecoder.decode(Spec.self, json: Fixtures.bytes("valid", "unknown-members-ignored"))
        #expect(spec.process?.args == ["sh"])
    }

    @Test("member order is kept for annotations and sysctls")
    func order() throws {
        let json = #"{"ociVersion":"1.0.0","annotations":{"z":"1","a":"2","m":"3"}}"#
        let spec = try SpecDecoder.decode(Spec.self, json: Array(json.utf8))
        #expect(spec.annotations?.keys == ["z", "a", "m"])
        #expect(SpecEncoder.encode(spec)["annotations"] == .object([("z", .string("1")), ("a", .string("2")), ("m", .string("3"))]))
    }

    @Test(
        "errors name the JSON path",
        arguments: [
            (#"{"ociVersion":"1","linux":{"namespaces":[{"type":"pid"},{"type":5}]}}"#, "linux.namespaces[1].type: expected a string, got a number"),
            (#"{"ociVersion":"1","linux":{"uidMappings":[{"containerID":0,"hostID":0}]}}"#, "linux.uidMappings[0].size: required field is missing"),
            (#"{"ociVersion":"1","annotations":{"a.b":7}}"#, #"annotations["a.b"]: expected a string, got a number"#),
            (#"{"ociVersion":"1","linux":{"resources":{"memory":{"limit":"x"}}}}"#, "linux.resources.memory.limit: expected an integer, got a string"),
            (#"{"ociVersion":1}"#, "ociVersion: expected a string, got a number"),
            (
                #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"cwd":"/","rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551616,"soft":1}]}}"#,
                "invalid JSON at line 1, column 107: integer out of range (-9223372036854775808...18446744073709551615)"
            ),
            (
                #"{"a":"-99999999999999999999","ociVersion":"1","linux":{"devices":[{"path":"/x","type":"c","major":-9223372036854775809}]}}"#,
                "invalid JSON at line 1, column 99: integer out of range (-9223372036854775808...18446744073709551615)"
            ),
        ])
    func paths(json: String, message: String) {
        #expect(throws: SpecError.self) { try SpecDecoder.decode(Spec.self, json: Array(json.utf8)) }
        do {
            _ = try SpecDecoder.decode(Spec.self, json: Array(json.utf8))
        } catch {
            #expect(error.description == message)
        }
    }

    @Test("uint64 values above Int64.max round-trip")
    func bigUnsigned() throws {
        let json = #"{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":1}"#
        let r = try SpecDecoder.decode(Rlimit.self, json: Array(json.utf8))
        #expect(r.hard == UInt64.max)
        #expect(SpecEncoder.encode(r)["hard"] == .uint(UInt64.max))
    }

    @Test("syntax errors give line and column")
    func syntax() {
        do {
            _ = try SpecDecoder.decode(Spec.self, json: Array("{\n  \"a\": tru\n}".utf8))
            Issue.record("no error")
        } catch {
            #expect(error.description.hasPrefix("invalid JSON at line 2"))
        }
        do {
            _ = try SpecDecoder.decode(Spec.self, json: Array("{} x".utf8))
            Issue.record("no error")
        } catch {
            #expect(error.description == "invalid JSON at line 1, column 4: unexpected character")
        }
    }
}

/// The runtime decodes with JSONDecodable; it must agree with Codable on
/// every fixture: the same value, or the same error.
@Suite struct DecoderAgreementTests {
    static let all =
        Fixtures.names("valid").map { ("valid", $0) } + Fixtures.names("invalid").map { ("invalid", $0) }
        + Fixtures.names("model").map { ("model", $0) }

    @Test("JSONDecodable and Codable agree", arguments: all)
    func agree(dir: String, name: String) {
        let bytes = Fixtures.bytes(dir, name)
        let codable = Result { () throws(SpecError) in try SpecDecoder.decode(Spec.self, json: bytes) }
        let direct = Result { () throws(SpecError) in try JSONDecoding.decode(Spec.self, json: bytes) }
        switch (codable, direct) {
        case let (.success(a), .success(b)): #expect(a == b)
        case let (.failure(a), .failure(b)): #expect(a.description == b.description)
        default: Issue.record("\(dir)/\(name): codable \(codable), direct \(direct)")
        }
    }

    @Test(
        "they agree on type and range errors too",
        arguments: [
            #"{"ociVersion":"1","linux":{"namespaces":[{"type":"pid"},{"type":5}]}}"#,
            #"{"ociVersion":"1","linux":{"uidMappings":[{"containerID":0,"hostID":0}]}}"#,
            #"{"ociVersion":"1","annotations":{"a.b":7}}"#,
            #"{"ociVersion":"1","process":{"user":{"uid":-1,"gid":0},"cwd":"/"}}"#,
            #"{"ociVersion":"1","process":{"user":{"uid":0,"gid":0.5},"cwd":"/"}}"#,
            #"{"ociVersion":"1","mounts":{}}"#,
            #"{"ociVersion":"1","hostname":null,"linux":null}"#,
        ])
    func agreeOnErrors(json: String) {
        let bytes = Array(json.utf8)
        let codable = Result { () throws(SpecError) in try SpecDecoder.decode(Spec.self, json: bytes) }
        let direct = Result { () throws(SpecError) in try JSONDecoding.decode(Spec.self, json: bytes) }
        switch (codable, direct) {
        case let (.success(a), .success(b)): #expect(a == b)
        case let (.failure(a), .failure(b)): #expect(a.description == b.description)
        default: Issue.record("codable \(codable), direct \(direct)")
        }
    }
}
