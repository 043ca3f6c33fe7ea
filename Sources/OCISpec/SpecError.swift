/// An invalid value in a spec document: where it is and what is wrong.
///
/// `path` is a JSON path in the document (`linux.namespaces[2].type`), empty
/// for the document itself. The description is "path: message", the shape
/// every skiff message takes.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The value is wrong: "path: message".
        case invalid
        /// The value is fine but skiff does not apply it yet:
        /// "`path` is not supported yet" and the message, if any.
        case unsupported
    }

    public var path: String
    public var message: String
    public var kind: Kind

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
        self.kind = .invalid
    }

    public init(codingPath: [any CodingKey], _ message: String) {
        self.init(path: JSONPath.format(codingPath), message)
    }

    public static func unsupported(_ path: String, _ detail: String = "") -> SpecError {
        var e = SpecError(path: path, detail)
        e.kind = .unsupported
        return e
    }

    public var description: String {
        switch kind {
        case .unsupported: return "`\(path)` is not supported yet\(message)"
        case .invalid: return path.isEmpty ? message : "\(path): \(message)"
        }
    }
}

/// Formats coding paths the way a person writes them in jq or a message:
/// `process.args[0]`, `annotations["org.example.key"]`.
public enum JSONPath {
    public static func format(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if key is IndexKey, let i = key.intValue {
                out += "[\(i)]"
            } else {
                append(key.stringValue, to: &out)
            }
        }
        return out
    }

    /// Appends one object member name to a path.
    public static func append(_ name: String, to path: inout String) {
        if isIdentifier(name) {
            path += path.isEmpty ? name : ".\(name)"
        } else {
            var escaped = ""
            for c in name.unicodeScalars {
                switch c {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                default: escaped.unicodeScalars.append(c)
                }
            }
            path += "[\"\(escaped)\"]"
        }
    }

    public static func member(_ path: String, _ name: String) -> String {
        var p = path
        append(name, to: &p)
        return p
    }

    public static func index(_ path: String, _ i: Int) -> String { "\(path)[\(i)]" }

    private static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == UInt8(ascii: "_") || isAlpha(first) else { return false }
        return s.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isAlpha($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    private static func isAlpha(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) }
}

/// The coding key of an array element.
public struct IndexKey: CodingKey, Sendable {
    public var intValue: Int?
    public var stringValue: String { "\(intValue ?? 0)" }
    public init(_ i: Int) { intValue = i }
    public init?(intValue: Int) { self.intValue = intValue }
    public init?(stringValue: String) { return nil }
}

/// A coding key from a string, for object members.
public struct NameKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ s: String) { stringValue = s }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { return nil }
}
