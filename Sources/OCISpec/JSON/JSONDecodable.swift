/// The runtime's decoding path: non-generic at run time, written per type.
///
/// Codable's synthesized decoding goes through the Swift runtime's generic
/// machinery (type metadata demangled from names, protocol conformance
/// lookups across the whole binary): measured, that was more than half of
/// the instructions `skiff run` executes before the clone, and a good part
/// of its resident memory. The spec types stay Codable (encoding, and a
/// second decoder the tests hold this one against on every fixture); the
/// runtime decodes with `init(json:path:)`, whose generic helpers are
/// specialised at compile time. Messages and paths are the same.
public protocol JSONDecodable {
    init(json: JSONValue, at path: JSONPathNode) throws(SpecError)
}

/// A JSON path built as the decoder descends, turned into text only when
/// an error needs it.
public final class JSONPathNode: Sendable {
    enum Step: Sendable {
        case root
        case member(String)
        case index(Int)
    }

    let parent: JSONPathNode?
    let step: Step

    init(_ parent: JSONPathNode?, _ step: Step) {
        self.parent = parent
        self.step = step
    }

    public static let root = JSONPathNode(nil, .root)

    func member(_ key: String) -> JSONPathNode { JSONPathNode(self, .member(key)) }
    func index(_ i: Int) -> JSONPathNode { JSONPathNode(self, .index(i)) }

    public var text: String {
        var steps: [Step] = []
        var node: JSONPathNode? = self
        while let n = node {
            steps.append(n.step)
            node = n.parent
        }
        var out = ""
        for step in steps.reversed() {
            switch step {
            case .root: break
            case let .member(k): JSONPath.append(k, to: &out)
            case let .index(i): out += "[\(i)]"
            }
        }
        return out
    }

    func error(_ message: String) -> SpecError { SpecError(path: text, message) }
}

extension JSONDecoding {
    /// Parses and decodes with the runtime's path.
    public static func decode<T: JSONDecodable>(_ type: T.Type, json bytes: [UInt8]) throws(SpecError) -> T {
        try T(json: try JSONValue.parseDocument(bytes), at: .root)
    }

    /// Parses, lets `adjust` fill in defaults on the tree, then decodes.
    public static func decode<T: JSONDecodable>(
        _ type: T.Type, json bytes: [UInt8],
        adjust: (inout JSONValue) -> Void
    ) throws(SpecError) -> T {
        var value = try JSONValue.parseDocument(bytes)
        adjust(&value)
        return try T(json: value, at: .root)
    }
}

public enum JSONDecoding {}

/// The members of one JSON object, read by name.
public struct JSONMembers {
    let members: [(String, JSONValue)]
    let path: JSONPathNode

    public init(_ value: JSONValue, _ path: JSONPathNode) throws(SpecError) {
        guard case let .object(m) = value else { throw path.error("expected an object, got \(value.kindName)") }
        members = m
        self.path = path
    }

    func lookup(_ key: String) -> JSONValue? {
        members.last(where: { $0.0 == key })?.1
    }

    public func required<T: JSONDecodable>(_ key: String) throws(SpecError) -> T {
        guard let v = lookup(key) else { throw path.member(key).error("required field is missing") }
        return try T(json: v, at: path.member(key))
    }

    /// Absent or null: nil (as Codable's decodeIfPresent).
    public func optional<T: JSONDecodable>(_ key: String) throws(SpecError) -> T? {
        guard let v = lookup(key), v != .null else { return nil }
        return try T(json: v, at: path.member(key))
    }
}

// MARK: scalars and containers

extension String: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) {
        guard case let .string(s) = json else { throw path.error("expected a string, got \(json.kindName)") }
        if s.utf8.contains(0) { throw path.error(JSONValue.nulMessage) }
        self = s
    }
}

extension Bool: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) {
        guard case let .bool(b) = json else { throw path.error("expected a boolean, got \(json.kindName)") }
        self = b
    }
}

extension JSONValue: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = json }
}

/// Integers: the same checks and messages as the Codable path.
func decodeInteger<T: FixedWidthInteger>(_ value: JSONValue, _ path: JSONPathNode) throws(SpecError) -> T {
    do {
        return try integerValue(value)
    } catch {
        throw path.error(error.message)
    }
}

extension Int: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = try decodeInteger(json, path) }
}
extension Int32: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = try decodeInteger(json, path) }
}
extension Int64: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = try decodeInteger(json, path) }
}
extension UInt: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = try decodeInteger(json, path) }
}
extension UInt16: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = try decodeInteger(json, path) }
}
extension UInt32: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = try decodeInteger(json, path) }
}
extension UInt64: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) { self = try decodeInteger(json, path) }
}

extension Array: JSONDecodable where Element: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) {
        guard case let .array(items) = json else { throw path.error("expected an array, got \(json.kindName)") }
        var out: [Element] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() { out.append(try Element(json: item, at: path.index(i))) }
        self = out
    }
}

extension OrderedMap: JSONDecodable where Value: JSONDecodable {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, path)
        var entries: [(key: String, value: Value)] = []
        for (k, _) in o.members where !entries.contains(where: { $0.key == k }) {
            entries.append((k, try o.required(k)))
        }
        self.init(entries)
    }
}

extension SpecEnum {
    public init(json: JSONValue, at path: JSONPathNode) throws(SpecError) {
        let s = try String(json: json, at: path)
        guard let v = Self(rawValue: s) else { throw path.error("unknown \(Self.what) `\(s)`") }
        self = v
    }
}
