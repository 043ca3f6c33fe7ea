/// Just enough of protobuf's wire format (proto2) for CRIU's RPC
/// (criu/images/rpc.proto): varints, length-delimited strings and nested
/// messages. Debian ships neither libcriu's headers nor a protobuf library
/// skiff would want to link for a dozen fields.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wire: UInt64) { varint(UInt64(field) << 3 | wire) }

    /// int32, uint32, bool and enums: a varint (a negative int32 takes ten bytes).
    mutating func int(_ field: Int, _ v: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: v))
    }

    mutating func bool(_ field: Int, _ v: Bool) { int(field, v ? 1 : 0) }

    /// Only when set: proto2's optional bools.
    mutating func flag(_ field: Int, _ v: Bool) { if v { bool(field, true) } }

    mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }

    mutating func message(_ field: Int, _ m: ProtoWriter) { bytes(field, m.bytes) }

    private mutating func bytes(_ field: Int, _ b: [UInt8]) {
        key(field, 2)
        varint(UInt64(b.count))
        bytes += b
    }
}

/// The fields of one message, by number; unknown wire types are an error.
struct ProtoReader {
    enum Value {
        case varint(UInt64)
        case bytes([UInt8])
    }

    struct Malformed: Error {}

    private(set) var fields: [(Int, Value)] = []

    init(_ b: [UInt8]) throws(Malformed) {
        var i = 0
        func varint() throws(Malformed) -> UInt64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < b.count, shift < 64 else { throw Malformed() }
                let byte = b[i]
                i += 1
                v |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return v }
                shift += 7
            }
        }
        while i < b.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0:
                fields.append((field, .varint(try varint())))
            case 2:
                let n = Int(try varint())
                guard n >= 0, n <= b.count - i else { throw Malformed() }
                fields.append((field, .bytes(Array(b[i..<(i + n)]))))
                i += n
            case 1:
                guard b.count - i >= 8 else { throw Malformed() }
                i += 8
            case 5:
                guard b.count - i >= 4 else { throw Malformed() }
                i += 4
            default:
                throw Malformed()
            }
        }
    }

    func int(_ field: Int) -> Int64? {
        for case let (f, .varint(v)) in fields where f == field { return Int64(bitPattern: v) }
        return nil
    }

    func bool(_ field: Int) -> Bool? { int(field).map { $0 != 0 } }

    func string(_ field: Int) -> String? {
        for case let (f, .bytes(b)) in fields where f == field { return String(decoding: b, as: UTF8.self) }
        return nil
    }

    func message(_ field: Int) -> ProtoReader? {
        for case let (f, .bytes(b)) in fields where f == field { return try? ProtoReader(b) }
        return nil
    }
}
