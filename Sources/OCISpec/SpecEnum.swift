/// A closed set of strings in the spec. An unknown value is an error that
/// names the path and the value: ``linux.namespaces[2].type: unknown namespace type `pidd` ``.
public protocol SpecEnum: RawRepresentable, Codable, CaseIterable, Sendable, Hashable where RawValue == String {
    /// What the value is, for messages ("namespace type").
    static var what: String { get }
}

extension SpecEnum {
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(rawValue: s) else {
            throw SpecError(codingPath: decoder.codingPath, "unknown \(Self.what) `\(s)`")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public static var names: [String] { allCases.map(\.rawValue) }
}

/// A JSON object whose members keep their document order (annotations,
/// sysctls, time offsets): applied and printed in the order written.
///
/// The parameter carries no requirements (its conformances are
/// conditional): instantiating `OrderedMap<String>` at run time then needs
/// no protocol conformance lookup, which scans every conformance record of
/// the binary.
public struct OrderedMap<Value>: Sequence {
    public var entries: [(key: String, value: Value)]

    public init(_ entries: [(key: String, value: Value)] = []) { self.entries = entries }

    public subscript(key: String) -> Value? {
        get { entries.last(where: { $0.key == key })?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }
    public func makeIterator() -> IndexingIterator<[(key: String, value: Value)]> { entries.makeIterator() }

}

extension OrderedMap: Sendable where Value: Sendable {}

extension OrderedMap: Equatable where Value: Equatable {
    public static func == (a: OrderedMap, b: OrderedMap) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension OrderedMap: Codable where Value: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: NameKey.self)
        entries = try c.allKeys.map { ($0.stringValue, try c.decode(Value.self, forKey: $0)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: NameKey.self)
        for (k, v) in entries { try c.encode(v, forKey: NameKey(k)) }
    }
}
