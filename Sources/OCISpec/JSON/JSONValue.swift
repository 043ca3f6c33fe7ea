import CJSONC

/// A JSON document as a tree. Text is parsed and printed by json-c; this type
/// only carries the result (skiff writes no JSON parser of its own).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// Integers above `Int64.max` (uint64 fields of the spec).
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Keys in document order.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.uint(x), .uint(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// What a value is, for messages ("expected a string, got a number").
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .uint, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.last(where: { $0.0 == key })?.1
    }
}

/// A syntax error in a JSON document, with its line and column.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var reason: String
    public var description: String { "line \(line), column \(column): \(reason)" }
}

extension JSONValue {
    /// Parses a complete document; trailing non-space text is an error.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        guard let tok = json_tokener_new() else {
            throw JSONSyntaxError(line: 1, column: 1, reason: "out of memory")
        }
        defer { json_tokener_free(tok) }
        // Strict: no trailing commas, no single quotes (as Go's encoding/json, which runc uses).
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT)
        let obj: OpaquePointer? = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { json_tokener_parse_ex(tok, $0.baseAddress, Int32(buf.count)) }
        }
        let end = Int(json_tokener_get_parse_end(tok))
        let err = json_tokener_get_error(tok)
        if err == json_tokener_continue || (obj == nil && err == json_tokener_success) {
            throw position(bytes, bytes.count, "unexpected end of input")
        }
        guard err == json_tokener_success else {
            let reason = String(cString: json_tokener_error_desc(err))
            throw position(bytes, end, reason)
        }
        defer { json_object_put(obj) }
        var rest = end
        while rest < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[rest]) { rest += 1 }
        if rest < bytes.count {
            throw position(bytes, rest, "unexpected text after the document")
        }
        var saturated = false
        let value = convert(obj, &saturated)
        // json-c keeps U+0000 in values (the decoders refuse those, naming
        // the JSON path) but cuts member names at it: a name `a\u0000b`
        // would silently become `a`. Such a document is refused here.
        if let offset = nulEscape(bytes), !value.hasNulString {
            throw position(bytes, offset, "a member name contains U+0000 (NUL)")
        }
        if saturated, let offset = overflowingInteger(bytes) {
            throw position(bytes, offset, "integer out of range (-9223372036854775808...18446744073709551615)")
        }
        return value
    }

    /// Why a string is refused: C, the kernel and systemd end a string at
    /// U+0000, so what skiff checked would not be what they see.
    public static let nulMessage = "contains U+0000 (NUL): no path, name or value may hold it"

    /// The offset of a `\u0000` escape inside a string of the text, if any.
    private static func nulEscape(_ bytes: [UInt8]) -> Int? {
        var i = 0
        var inString = false
        let zero = Array("u0000".utf8)
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if b == UInt8(ascii: "\\") {
                    if i + 5 < bytes.count, bytes[(i + 1)...(i + 5)].elementsEqual(zero) { return i }
                    i += 2
                    continue
                }
                if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            }
            i += 1
        }
        return nil
    }

    /// Some string value (not a member name) holds U+0000.
    var hasNulString: Bool { nulStringPath(at: "") != nil }

    /// The JSON path of the first string value that holds U+0000.
    func nulStringPath(at path: String) -> String? {
        switch self {
        case let .string(s): return s.utf8.contains(0) ? path : nil
        case let .array(items):
            for (i, item) in items.enumerated() {
                if let p = item.nulStringPath(at: path + "[\(i)]") { return p }
            }
            return nil
        case let .object(members):
            for (key, value) in members {
                var p = path
                JSONPath.append(key, to: &p)
                if let found = value.nulStringPath(at: p) { return found }
            }
            return nil
        default: return nil
        }
    }

    /// json-c clamps integers beyond 64 bits to the limits. When a limit
    /// shows up, find the literal in the text that did not fit, if any.
    private static func overflowingInteger(_ bytes: [UInt8]) -> Int? {
        var i = 0
        var inString = false
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if b == UInt8(ascii: "\\") { i += 2; continue }
                if b == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if b == UInt8(ascii: "\"") { inString = true; i += 1; continue }
            guard b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) else { i += 1; continue }
            let start = i
            let negative = b == UInt8(ascii: "-")
            if negative { i += 1 }
            let digitsStart = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            if i < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[i]) { continue }
            let digits = String(decoding: bytes[digitsStart..<i], as: UTF8.self)
            let fits = negative ? (Int64("-" + digits) != nil) : (UInt64(digits) != nil)
            if !fits && !digits.isEmpty { return start }
        }
        return nil
    }

    private static func position(_ bytes: [UInt8], _ offset: Int, _ reason: String) -> JSONSyntaxError {
        var line = 1, column = 1
        for b in bytes.prefix(offset) {
            if b == 0x0a { line += 1; column = 1 } else { column += 1 }
        }
        return JSONSyntaxError(line: line, column: column, reason: reason)
    }

    private static func convert(_ obj: OpaquePointer?, _ saturated: inout Bool) -> JSONValue {
        guard let obj else { return .null }
        switch json_object_get_type(obj) {
        case json_type_null:
            return .null
        case json_type_boolean:
            return .bool(json_object_get_boolean(obj) != 0)
        case json_type_double:
            return .double(json_object_get_double(obj))
        case json_type_int:
            let v = json_object_get_int64(obj)
            if v == Int64.min { saturated = true }
            if v == Int64.max {
                let u = json_object_get_uint64(obj)
                if u == UInt64.max { saturated = true }
                if u > UInt64(Int64.max) { return .uint(u) }
            }
            return .int(v)
        case json_type_string:
            let len = Int(json_object_get_string_len(obj))
            guard let p = json_object_get_string(obj) else { return .string("") }
            return p.withMemoryRebound(to: UInt8.self, capacity: len) {
                .string(String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self))
            }
        case json_type_array:
            let n = json_object_array_length(obj)
            var items: [JSONValue] = []
            items.reserveCapacity(n)
            for i in 0..<n { items.append(convert(json_object_array_get_idx(obj, i), &saturated)) }
            return .array(items)
        case json_type_object:
            var members: [(String, JSONValue)] = []
            var it = json_object_iter_begin(obj)
            var end = json_object_iter_end(obj)
            while json_object_iter_equal(&it, &end) == 0 {
                let key = String(cString: json_object_iter_peek_name(&it))
                members.append((key, convert(json_object_iter_peek_value(&it), &saturated)))
                json_object_iter_next(&it)
            }
            return .object(members)
        default:
            return .null
        }
    }

    /// Prints the value; `pretty` indents with two spaces as runc does.
    public func serialized(pretty: Bool = true) -> String {
        let obj = makeObject()
        defer { json_object_put(obj) }
        var flags = JSON_C_TO_STRING_NOSLASHESCAPE
        flags |= pretty ? (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED) : JSON_C_TO_STRING_PLAIN
        guard let s = json_object_to_json_string_ext(obj, flags) else { return "null" }
        return String(cString: s)
    }

    private func makeObject() -> OpaquePointer? {
        switch self {
        case .null:
            return nil
        case let .bool(b):
            return json_object_new_boolean(b ? 1 : 0)
        case let .int(i):
            return json_object_new_int64(i)
        case let .uint(u):
            return json_object_new_uint64(u)
        case let .double(d):
            return json_object_new_double(d)
        case let .string(s):
            var s = s
            return s.withUTF8 { buf in
                buf.withMemoryRebound(to: CChar.self) {
                    json_object_new_string_len($0.baseAddress, Int32($0.count))
                }
            }
        case let .array(items):
            let a = json_object_new_array_ext(Int32(items.count))
            for item in items { json_object_array_add(a, item.makeObject()) }
            return a
        case let .object(members):
            let o = json_object_new_object()
            for (k, v) in members { json_object_object_add(o, k, v.makeObject()) }
            return o
        }
    }
}
