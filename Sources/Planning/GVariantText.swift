/// GVariant's text format (glib's "GVariant Text Format"), the part that
/// maps onto D-Bus types: what runc accepts in `org.systemd.property.*`
/// annotations ("uint64 123456789", "'inactive-or-failed'", "true",
/// "[('/dev/null', 'rw')]", "@as []"). As in GVariant, a number without a
/// type is an int32 (or a double with a point or an exponent), and the
/// element type of an empty array must be given with `@TYPE`. Maybe types
/// and dictionaries have no place in a unit property and are refused.
public struct GVariantText {
    let bytes: [UInt8]
    var i = 0
    /// Containers (arrays, tuples, variants) and container types nest at
    /// most this deep: D-Bus refuses deeper signatures (libdbus aborts on
    /// them), and recursion on a hostile annotation must stay bounded.
    static let maxDepth = 32
    var depth = 0

    mutating func enter() throws(Failure) {
        depth += 1
        if depth > GVariantText.maxDepth { throw failure("nested deeper than \(GVariantText.maxDepth) levels") }
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The value of `text`, as a D-Bus value.
    public static func parse(_ text: String) throws(Failure) -> DBusValue {
        var p = GVariantText(bytes: Array(text.utf8))
        let v = try p.value(expected: nil)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.failure("unexpected text after the value") }
        return v
    }

    func failure(_ why: String) -> Failure {
        Failure(description: "\(why) at offset \(i)")
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
    }

    func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    static func isLetter(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    mutating func word() -> String {
        let start = i
        while let c = peek(), GVariantText.isLetter(c) || GVariantText.isDigit(c) || c == 95 { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    // MARK: values

    mutating func value(expected: String?) throws(Failure) -> DBusValue {
        try enter()
        defer { depth -= 1 }
        skipSpace()
        guard let c = peek() else { throw failure("a value is missing") }
        switch c {
        case UInt8(ascii: "@"):
            i += 1
            let type = try typeString()
            return try value(expected: type)
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            let s = try string()
            switch expected {
            case nil, "s"?: return .string(s)
            case "o"?: return .objectPath(s)
            case "g"?: return .signature(s)
            case let t?: throw failure("a string where the type is `\(t)`")
            }
        case UInt8(ascii: "["):
            return try array(expected: expected)
        case UInt8(ascii: "("):
            return try tuple(expected: expected)
        case UInt8(ascii: "<"):
            if let t = expected, t != "v" { throw failure("a variant where the type is `\(t)`") }
            i += 1
            let inner = try value(expected: nil)
            skipSpace()
            guard peek() == UInt8(ascii: ">") else { throw failure("`>` is missing") }
            i += 1
            return .variant(inner)
        case UInt8(ascii: "{"):
            throw failure("dictionaries are not supported in a unit property")
        default:
            if GVariantText.isLetter(c) { return try keyword(expected: expected) }
            return try number(type: expected ?? "")
        }
    }

    mutating func keyword(expected: String?) throws(Failure) -> DBusValue {
        let start = i
        let w = word()
        switch w {
        case "true", "false":
            if let t = expected, t != "b" { i = start; throw failure("a boolean where the type is `\(t)`") }
            return .bool(w == "true")
        case "inf", "nan":
            i = start
            return try number(type: expected ?? "d")
        default:
            guard let t = GVariantText.keywordType(w) else { i = start; throw failure("`\(w)` is not a GVariant value or type keyword") }
            if t == "h" { throw failure("file descriptor handles cannot be passed in a unit property") }
            if let e = expected, e != t { throw failure("`\(w)` where the type is `\(e)`") }
            skipSpace()
            if t == "o" || t == "g" {
                guard peek() == UInt8(ascii: "'") || peek() == UInt8(ascii: "\"") else { throw failure("a string must follow `\(w)`") }
                let s = try string()
                return t == "o" ? .objectPath(s) : .signature(s)
            }
            return try number(type: t)
        }
    }

    /// A number of the given type ("" for GVariant's default: int32, or a
    /// double when it has a point or an exponent).
    mutating func number(type: String) throws(Failure) -> DBusValue {
        let start = i
        while let c = peek(),
            GVariantText.isLetter(c) || GVariantText.isDigit(c) || c == UInt8(ascii: "-")
                || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
        { i += 1 }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        guard !text.isEmpty else { throw failure("a value is missing") }
        let isFloat =
            !text.hasPrefix("0x") && !text.hasPrefix("-0x")
            && (text.contains(".") || text.contains("e") || text.contains("E") || text == "inf" || text == "nan")
        let t = type.isEmpty ? (isFloat ? "d" : "i") : type
        if t == "d" {
            guard let d = Double(text) else { i = start; throw failure("`\(text)` is not a number") }
            return .double(d)
        }
        guard !isFloat else { i = start; throw failure("`\(text)` is not an integer, as type `\(t)` needs") }
        guard let n = GVariantText.integer(text) else { i = start; throw failure("`\(text)` is not a number") }
        func fits(_ lo: Int64, _ hi: UInt64) -> Bool {
            switch n {
            case let .negative(v): return v >= lo
            case let .positive(v): return v <= hi
            }
        }
        func range(_ name: String) -> Failure {
            i = start
            return failure("`\(text)` is out of range for \(name)" + (type.isEmpty ? " (give a type, e.g. `uint64 \(text)`)" : ""))
        }
        switch (t, n) {
        case ("y", .positive(let v)) where v <= UInt64(UInt8.max): return .byte(UInt8(v))
        case ("q", .positive(let v)) where v <= UInt64(UInt16.max): return .uint16(UInt16(v))
        case ("u", .positive(let v)) where v <= UInt64(UInt32.max): return .uint32(UInt32(v))
        case ("t", .positive(let v)): return .uint64(v)
        case ("n", _) where fits(Int64(Int16.min), UInt64(Int16.max)): return .int16(Int16(n.signed))
        case ("i", _) where fits(Int64(Int32.min), UInt64(Int32.max)): return .int32(Int32(n.signed))
        case ("x", _) where fits(Int64.min, UInt64(Int64.max)): return .int64(n.signed)
        case ("y", _), ("q", _), ("u", _), ("t", _), ("n", _), ("i", _), ("x", _):
            throw range(GVariantText.keywordName(t))
        default:
            i = start
            throw failure("a number where the type is `\(t)`")
        }
    }

    static let keywords: [(word: String, type: String)] = [
        ("byte", "y"), ("int16", "n"), ("uint16", "q"), ("int32", "i"), ("uint32", "u"), ("int64", "x"),
        ("uint64", "t"), ("double", "d"), ("handle", "h"), ("objectpath", "o"), ("signature", "g"),
    ]
    static func keywordType(_ word: String) -> String? { keywords.first { $0.word == word }?.type }
    static func keywordName(_ type: String) -> String { keywords.first { $0.type == type }?.word ?? type }

    enum Integer {
        case negative(Int64)
        case positive(UInt64)
        var signed: Int64 {
            switch self {
            case let .negative(v): return v
            case let .positive(v): return Int64(v)
            }
        }
    }

    /// Decimal, 0x hexadecimal or 0-prefixed octal, with a sign.
    static func integer(_ text: String) -> Integer? {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        var radix = 10
        if s.hasPrefix("0x") || s.hasPrefix("0X") { radix = 16; s = s.dropFirst(2) } else if s.count > 1 && s.hasPrefix("0") { radix = 8; s = s.dropFirst() }
        guard !s.isEmpty, let magnitude = UInt64(s, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? .negative(Int64.min) : .negative(-Int64(magnitude))
        }
        return .positive(magnitude)
    }

    mutating func string() throws(Failure) -> String {
        guard let quote = peek() else { throw failure("a string is missing") }
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw failure("the string does not end") }
            i += 1
            if c == quote { break }
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard let e = peek() else { throw failure("the string does not end") }
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "a"): out.append(7)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "v"): out.append(11)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let n = e == UInt8(ascii: "u") ? 4 : 8
                guard i + n <= bytes.count, let code = UInt32(String(decoding: bytes[i..<(i + n)], as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(code)
                else { throw failure("a bad \\\(Character(Unicode.Scalar(e))) escape") }
                i += n
                out += Array(String(Character(scalar)).utf8)
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func array(expected: String?) throws(Failure) -> DBusValue {
        var element: String?
        if let t = expected {
            guard t.hasPrefix("a"), !t.hasPrefix("a{") else { throw failure("an array where the type is `\(t)`") }
            element = String(t.dropFirst())
        }
        i += 1
        var items: [DBusValue] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") {
            i += 1
            guard let element else { throw failure("an empty array needs its type, e.g. `@as []`") }
            return .array(element: element, [])
        }
        while true {
            let v = try value(expected: element)
            if element == nil { element = v.signature }
            items.append(v)
            skipSpace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            guard peek() == UInt8(ascii: "]") else { throw failure("`,` or `]` is missing") }
            i += 1
            break
        }
        return .array(element: element ?? "", items)
    }

    mutating func tuple(expected: String?) throws(Failure) -> DBusValue {
        var fields: [String]?
        if let t = expected {
            guard t.hasPrefix("("), t.hasSuffix(")") else { throw failure("a tuple where the type is `\(t)`") }
            fields = GVariantText.splitTypes(String(t.dropFirst().dropLast()))
            guard fields != nil else { throw failure("`\(t)` is not a type") }
        }
        i += 1
        var items: [DBusValue] = []
        skipSpace()
        if peek() == UInt8(ascii: ")") {
            i += 1
            throw failure("an empty tuple has no D-Bus type")
        }
        while true {
            let want = fields.flatMap { items.count < $0.count ? $0[items.count] : nil }
            if fields != nil && want == nil { throw failure("more fields than the type `\(expected ?? "")` has") }
            items.append(try value(expected: want))
            skipSpace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            guard peek() == UInt8(ascii: ")") else { throw failure("`,` or `)` is missing") }
            i += 1
            break
        }
        if let fields, fields.count != items.count { throw failure("fewer fields than the type `\(expected ?? "")` has") }
        return .structure(items)
    }

    // MARK: types

    /// One complete type after `@`: basic letters, `a` + type, `(...)`, `v`.
    mutating func typeString() throws(Failure) -> String {
        let start = i
        try skipType()
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func skipType() throws(Failure) {
        try enter()
        defer { depth -= 1 }
        guard let c = peek() else { throw failure("a type is missing") }
        i += 1
        switch c {
        case UInt8(ascii: "a"):
            try skipType()
        case UInt8(ascii: "("):
            while peek() != UInt8(ascii: ")") { try skipType() }
            i += 1
        default:
            guard Array("bynqiuxtdsogv".utf8).contains(c) else {
                i -= 1
                throw failure("`\(Character(Unicode.Scalar(c)))` is not a D-Bus type")
            }
        }
    }

    /// The complete types a signature is made of ("sa(ss)t" -> s, a(ss), t).
    static func splitTypes(_ signature: String) -> [String]? {
        var p = GVariantText(bytes: Array(signature.utf8))
        var out: [String] = []
        while p.i < p.bytes.count {
            guard let t = try? p.typeString() else { return nil }
            out.append(t)
        }
        return out
    }
}
