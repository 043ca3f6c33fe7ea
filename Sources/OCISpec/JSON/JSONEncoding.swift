/// Encodes `Encodable` types to a `JSONValue`, members in the order the type
/// encodes them (synthesized conformances: declaration order).
public enum SpecEncoder {
    public static func encode<T: Encodable>(_ value: T) -> JSONValue {
        let root = Node()
        do {
            try value.encode(to: ValueEncoder(node: root, codingPath: []))
        } catch {
            // Our containers never throw; a type's own encode(to:) could.
            return .string("\(error)")
        }
        return root.value
    }

    public static func serialize<T: Encodable>(_ value: T, pretty: Bool = true) -> String {
        encode(value).serialized(pretty: pretty)
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        if let d = decoder as? ValueDecoder {
            self = d.value
            return
        }
        throw SpecError(codingPath: decoder.codingPath, "a JSON value can only be decoded by SpecDecoder")
    }

    public func encode(to encoder: any Encoder) throws {
        guard let e = encoder as? ValueEncoder else {
            throw SpecError(codingPath: encoder.codingPath, "a JSON value can only be encoded by SpecEncoder")
        }
        e.node.kind = .value(self)
    }
}

/// A mutable tree the containers write into; turned into a JSONValue at the end.
final class Node {
    enum Kind {
        case empty
        case value(JSONValue)
        case object([(String, Node)])
        case array([Node])
    }

    var kind: Kind = .empty

    var value: JSONValue {
        switch kind {
        case .empty: return .object([])
        case let .value(v): return v
        case let .object(members): return .object(members.map { ($0.0, $0.1.value) })
        case let .array(items): return .array(items.map(\.value))
        }
    }

    func member(_ key: String) -> Node {
        var members: [(String, Node)] = []
        if case let .object(m) = kind { members = m }
        if let existing = members.first(where: { $0.0 == key }) { return existing.1 }
        let n = Node()
        members.append((key, n))
        kind = .object(members)
        return n
    }

    func append() -> Node {
        var items: [Node] = []
        if case let .array(a) = kind { items = a }
        let n = Node()
        items.append(n)
        kind = .array(items)
        return n
    }

    func makeObject() { if case .object = kind {} else { kind = .object([]) } }
    func makeArray() { if case .array = kind {} else { kind = .array([]) } }
}

struct ValueEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleEncoder(node: node, codingPath: codingPath)
    }
}

private struct SingleEncoder: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    private func set(_ v: JSONValue) { node.kind = .value(v) }
    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(.double(value)) }
    mutating func encode(_ value: Float) throws { set(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { set(.int(value)) }
    mutating func encode(_ value: UInt) throws { try encode(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { set(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws {
        set(value > UInt64(Int64.max) ? .uint(value) : .int(Int64(value)))
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: ValueEncoder(node: node, codingPath: codingPath))
    }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    private func single(_ key: Key) -> SingleEncoder {
        SingleEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }

    mutating func encodeNil(forKey key: Key) throws { var s = single(key); try s.encodeNil() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { var s = single(key); try s.encode(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        var s = single(key)
        try s.encode(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = node.member(key.stringValue)
        child.makeObject()
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = node.member(key.stringValue)
        child.makeArray()
        return UnkeyedEncoder(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { ValueEncoder(node: node.member("super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(node: node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int {
        if case let .array(items) = node.kind { return items.count }
        return 0
    }

    private func next() -> SingleEncoder {
        SingleEncoder(node: node.append(), codingPath: codingPath + [IndexKey(count)])
    }

    mutating func encodeNil() throws { var s = next(); try s.encodeNil() }
    mutating func encode(_ value: Bool) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: String) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: Double) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: Float) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: Int) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: Int8) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: Int16) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: Int32) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: Int64) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: UInt) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: UInt8) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: UInt16) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: UInt32) throws { var s = next(); try s.encode(value) }
    mutating func encode(_ value: UInt64) throws { var s = next(); try s.encode(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { var s = next(); try s.encode(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = node.append()
        child.makeObject()
        return KeyedEncodingContainer(KeyedEncoder<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = node.append()
        child.makeArray()
        return UnkeyedEncoder(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder { ValueEncoder(node: node.append(), codingPath: codingPath) }
}
