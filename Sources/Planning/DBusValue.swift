/// A D-Bus value with its type: what a systemd unit property holds. Plain
/// data here (planning stays pure); Runtime marshals it with libdbus.
public indirect enum DBusValue: Sendable, Equatable {
    case bool(Bool)
    case byte(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case double(Double)
    case string(String)
    case objectPath(String)
    case signature(String)
    /// Elements of one type, given by its signature (an empty array still
    /// has a type: `as`, `a(ss)`).
    case array(element: String, [DBusValue])
    case structure([DBusValue])
    case variant(DBusValue)

    /// The D-Bus type signature of the value.
    public var signature: String {
        switch self {
        case .bool: return "b"
        case .byte: return "y"
        case .int16: return "n"
        case .uint16: return "q"
        case .int32: return "i"
        case .uint32: return "u"
        case .int64: return "x"
        case .uint64: return "t"
        case .double: return "d"
        case .string: return "s"
        case .objectPath: return "o"
        case .signature: return "g"
        case let .array(element, _): return "a" + element
        case let .structure(fields): return "(" + fields.map(\.signature).joined() + ")"
        case .variant: return "v"
        }
    }

    /// systemd's "infinity" for limits and times (UINT64_MAX).
    public static let infinity = DBusValue.uint64(UInt64.max)
}

/// One property of a transient unit (StartTransientUnit's `a(sv)`).
public struct SystemdProperty: Sendable, Equatable {
    public var name: String
    public var value: DBusValue
    /// Where it came from, for messages.
    public var origin: String
    public init(_ name: String, _ value: DBusValue, origin: String) {
        self.name = name
        self.value = value
        self.origin = origin
    }
}
