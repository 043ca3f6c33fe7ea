import Testing

@testable import Runtime

/// The protobuf wire format CRIU's RPC uses, both ways.
@Suite struct ProtobufTests {
    @Test("varints, negative int32s, bools, strings and nested messages round-trip with their field numbers")
    func roundTrip() throws {
        var inner = ProtoWriter()
        inner.string(1, "/sys/fs/cgroup")
        inner.string(2, "/sys/fs/cgroup/ck")
        var w = ProtoWriter()
        w.int(1, 300)
        w.int(2, -1)
        w.flag(3, false)
        w.flag(4, true)
        w.string(10, "dump.log")
        w.message(23, inner)
        // 300 = 0xac 0x02; field 1 varint: key 0x08.
        #expect(Array(w.bytes.prefix(3)) == [0x08, 0xac, 0x02])
        // -1 as int32 takes ten bytes (sign-extended), as protobuf encodes it.
        #expect(Array(w.bytes[3..<14]) == [0x10] + [UInt8](repeating: 0xff, count: 9) + [0x01])
        let r = try ProtoReader(w.bytes)
        #expect(r.int(1) == 300 && Int32(truncatingIfNeeded: r.int(2) ?? 0) == -1)
        #expect(r.bool(3) == nil, "an unset optional bool is not sent")
        #expect(r.bool(4) == true && r.string(10) == "dump.log")
        #expect(r.message(23)?.string(1) == "/sys/fs/cgroup" && r.message(23)?.string(2) == "/sys/fs/cgroup/ck")
    }

    @Test("truncated or malformed input is refused, not read past its end")
    func malformed() {
        #expect(throws: ProtoReader.Malformed.self) { try ProtoReader([0x08]) }
        #expect(throws: ProtoReader.Malformed.self) { try ProtoReader([0x12, 0x05, 0x61]) }
        #expect(throws: ProtoReader.Malformed.self) { try ProtoReader([0x0b]) }  // wire type 3 (groups)
        #expect(throws: ProtoReader.Malformed.self) { try ProtoReader([UInt8](repeating: 0xff, count: 11)) }
    }

    @Test("criu_opts as skiff sends them: the images dir, the log, manage_cgroups, the mode's enum number")
    func options() throws {
        var o = Criu.Options()
        o.imagesDirFd = 7
        o.logFile = "restore.log"
        o.manageCgroupsMode = .strict
        o.extMounts = [("/data", "/srv/data")]
        o.inheritFds = [("pipe:[42]", 0)]
        let r = try ProtoReader(o.encoded().bytes)
        #expect(r.int(1) == 7 && r.string(10) == "restore.log" && r.int(9) == 4)
        #expect(r.bool(24) == true && r.int(34) == 5 && r.bool(12) == true)
        #expect(r.message(23)?.string(2) == "/srv/data" && r.message(27)?.string(1) == "pipe:[42]" && r.message(27)?.int(2) == 0)
    }
}
