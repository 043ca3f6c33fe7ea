/// Decodes `Decodable` types from a `JSONValue`. Every failure is a
/// `SpecError` that names the JSON path, e.g.
/// `linux.uidMappings[0].size: expected a number, got a string`.
/// Members the type does not know are ignored, as the runtime spec requires.
public enum SpecDecoder {
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws(SpecError) -> T {
        do {
            return try T(from: ValueDecoder(value: value, codingPath: []))
        } catch let e as SpecError {
            throw e
        } catch let e as DecodingError {
            throw SpecError(decodingError: e)
        } catch {
            throw SpecError(path: "", "\(error)")
        }
    }

    /// Parses and decodes; a syntax error names its line and column.
    public static func decode<T: Decodable>(_ type: T.Type, json bytes: [UInt8]) throws(SpecError) -> T {
        try decode(type, from: try JSONValue.parseDocument(bytes))
    }
}

extension JSONValue {
    /// Parses a document, a syntax error as a SpecError (both decoders).
    /// A string holding U+0000 anywhere in it (in a member skiff does not
    /// read too) is refused, naming its path.
    static func parseDocument(_ bytes: [UInt8]) throws(SpecError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw SpecError(path: "", "invalid JSON at \(error)")
        }
        if let path = value.nulStringPath(at: "") { throw SpecError(path: path, JSONValue.nulMessage) }
        return value
    }
}

/// Why a value is not what a field needs; each decoder adds its path.
struct ValueProblem: Error {
    let message: String
}

/// An integer of type T, with the messages both decoders give.
func integerValue<T: FixedWidthInteger>(_ value: JSONValue) throws(ValueProblem) -> T {
    let result: T?
    switch value {
    case let .int(i): result = T(exactly: i)
    case let .uint(u): result = T(exactly: u)
    case let .double(d): throw ValueProblem(message: "expected an integer, got \(d)")
    default: throw ValueProblem(message: "expected an integer, got \(value.kindName)")
    }
    guard let result else {
        let shown: String
        switch value {
        case let .int(i): shown = "\(i)"
        case let .uint(u): shown = "\(u)"
        default: shown = "value"
        }
        throw ValueProblem(message: "\(shown) is out of range (\(T.min)...\(T.max))")
    }
    return result
}

extension SpecError {
    init(decodingError e: DecodingError) {
        switch e {
        case let .dataCorrupted(c), let .keyNotFound(_, c), let .typeMismatch(_, c), let .valueNotFound(_, c):
            self.init(codingPath: c.codingPath, c.debugDescription)
        @unknown default:
            self.init(path: "", "\(e)")
        }
    }
}

private func mismatch(_ expected: String, _ value: JSONValue, _ path: [any CodingKey]) -> SpecError {
    SpecError(codingPath: path, "expected \(expected), got \(value.kindName)")
}

private func integer<T: FixedWidthInteger>(_ value: JSONValue, _ path: [any CodingKey]) throws(SpecError) -> T {
    do {
        return try integerValue(value)
    } catch {
        throw SpecError(codingPath: path, error.message)
    }
}

private func floating(_ value: JSONValue, _ path: [any CodingKey]) throws(SpecError) -> Double {
    switch value {
    case let .int(i): return Double(i)
    case let .uint(u): return Double(u)
    case let .double(d): return d
    default: throw mismatch("a number", value, path)
    }
}

struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .object(members) = value else { throw mismatch("an object", value, codingPath) }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case let .array(items) = value else { throw mismatch("an array", value, codingPath) }
        return UnkeyedContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleContainer(value: value, codingPath: codingPath)
    }
}

private struct SingleContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case let .bool(b) = value else { throw mismatch("a boolean", value, codingPath) }
        return b
    }
    func decode(_ type: String.Type) throws -> String {
        guard case let .string(s) = value else { throw mismatch("a string", value, codingPath) }
        if s.utf8.contains(0) { throw SpecError(codingPath: codingPath, JSONValue.nulMessage) }
        return s
    }
    func decode(_ type: Double.Type) throws -> Double { try floating(value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try floating(value, codingPath)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(value, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: codingPath))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(String, JSONValue)]
    let codingPath: [any CodingKey]

    init(members: [(String, JSONValue)], codingPath: [any CodingKey]) {
        self.members = members
        self.codingPath = codingPath
    }

    var allKeys: [Key] {
        var seen = Set<String>()
        return members.compactMap { seen.insert($0.0).inserted ? Key(stringValue: $0.0) : nil }
    }

    private func lookup(_ key: Key) -> JSONValue? {
        members.last(where: { $0.0 == key.stringValue })?.1
    }

    private func required(_ key: Key) throws -> JSONValue {
        guard let v = lookup(key) else {
            throw SpecError(codingPath: codingPath + [key], "required field is missing")
        }
        return v
    }

    private func single(_ key: Key) throws -> SingleContainer {
        SingleContainer(value: try required(key), codingPath: codingPath + [key])
    }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }
    func decodeNil(forKey key: Key) throws -> Bool { (lookup(key) ?? .null) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try single(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try single(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try single(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try single(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try single(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try single(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try single(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try single(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try single(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try single(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try single(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try single(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try single(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try single(key).decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try single(key).decode(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try ValueDecoder(value: try required(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value: try required(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        ValueDecoder(value: .object(members), codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        ValueDecoder(value: lookup(key) ?? .null, codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> SingleContainer {
        let path = codingPath + [IndexKey(currentIndex)]
        guard !isAtEnd else { throw SpecError(codingPath: path, "unexpected end of array") }
        defer { currentIndex += 1 }
        return SingleContainer(value: items[currentIndex], codingPath: path)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let c = try next()
        return try ValueDecoder(value: c.value, codingPath: c.codingPath).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let c = try next()
        return try ValueDecoder(value: c.value, codingPath: c.codingPath).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let c = try next()
        return ValueDecoder(value: c.value, codingPath: c.codingPath)
    }
}
