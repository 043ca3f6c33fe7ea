import CDBus
import Glibc
import Planning

/// A D-Bus error reply (or libdbus's own error): its name and text.
struct DBusFailure: Error, CustomStringConvertible {
    var name: String
    var message: String
    var description: String { message.isEmpty ? name : "\(message) (\(name))" }

    /// Takes what a libdbus DBusError holds and frees it.
    init(taking err: inout DBusError) {
        name = err.name.map { String(cString: $0) } ?? "org.freedesktop.DBus.Error.Failed"
        message = err.message.map { String(cString: $0) } ?? ""
        dbus_error_free(&err)
    }

    init(name: String, _ message: String) {
        self.name = name
        self.message = message
    }
}

/// One private connection to a D-Bus peer through libdbus: a bus (with
/// Hello) or a service's own socket (systemd's `private`), blocking calls,
/// signals read off the incoming queue. libdbus starts no thread.
final class DBusConnection {
    let raw: OpaquePointer
    /// For messages: `unix:path=/run/systemd/private`.
    let address: String
    /// A bus daemon sits between us and the service (signals need a match).
    let viaBus: Bool

    private init(raw: OpaquePointer, address: String, viaBus: Bool) {
        self.raw = raw
        self.address = address
        self.viaBus = viaBus
    }

    deinit {
        dbus_connection_close(raw)
        dbus_connection_unref(raw)
    }

    /// Connects (and authenticates, with EXTERNAL: the kernel vouches for
    /// our uid) and, on a bus, says Hello.
    static func open(_ address: String, viaBus: Bool) throws(DBusFailure) -> DBusConnection {
        // libdbus would otherwise set SIGPIPE to SIG_IGN for the whole
        // process; it sends with MSG_NOSIGNAL anyway.
        dbus_connection_set_change_sigpipe(0)
        var err = DBusError()
        dbus_error_init(&err)
        guard let raw = dbus_connection_open_private(address, &err) else { throw DBusFailure(taking: &err) }
        dbus_connection_set_exit_on_disconnect(raw, 0)
        let c = DBusConnection(raw: raw, address: address, viaBus: viaBus)
        if viaBus, dbus_bus_register(raw, &err) == 0 { throw DBusFailure(taking: &err) }
        return c
    }

    /// A method call and its reply's arguments.
    func call(
        _ destination: String, _ path: String, _ interface: String, _ method: String, _ args: [DBusValue],
        timeoutMillis: Int32 = 30_000
    ) throws(DBusFailure) -> [DBusValue] {
        guard let msg = dbus_message_new_method_call(destination, path, interface, method) else {
            throw DBusFailure(name: "org.freedesktop.DBus.Error.NoMemory", "out of memory")
        }
        defer { dbus_message_unref(msg) }
        var iter = DBusMessageIter()
        dbus_message_iter_init_append(msg, &iter)
        for a in args where !DBusConnection.append(a, &iter) {
            throw DBusFailure(name: "org.freedesktop.DBus.Error.InvalidArgs", "cannot marshal a `\(a.signature)` argument of \(method)")
        }
        var err = DBusError()
        dbus_error_init(&err)
        guard let reply = dbus_connection_send_with_reply_and_block(raw, msg, timeoutMillis, &err) else {
            throw DBusFailure(taking: &err)
        }
        defer { dbus_message_unref(reply) }
        return DBusConnection.arguments(reply)
    }

    /// Asks the bus daemon to route matching signals to us (a peer's own
    /// socket sends its signals to every connection anyway).
    func addMatch(_ rule: String) throws(DBusFailure) {
        guard viaBus else { return }
        var err = DBusError()
        dbus_error_init(&err)
        dbus_bus_add_match(raw, rule, &err)
        if dbus_error_is_set(&err) != 0 { throw DBusFailure(taking: &err) }
    }

    /// The arguments of the first signal `interface.member` for which
    /// `matches` holds, from what is queued and what arrives within the
    /// timeout; signals that arrived during a blocking call are queued too.
    func waitForSignal(
        _ interface: String, _ member: String, timeoutMillis: Int32,
        _ matches: ([DBusValue]) -> Bool
    ) throws(DBusFailure) -> [DBusValue] {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let deadline = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000 + Int64(timeoutMillis)
        while true {
            while let msg = dbus_connection_pop_message(raw) {
                defer { dbus_message_unref(msg) }
                guard dbus_message_is_signal(msg, interface, member) != 0 else { continue }
                let args = DBusConnection.arguments(msg)
                if matches(args) { return args }
            }
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let left = deadline - (Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
            guard left > 0 else {
                throw DBusFailure(name: "org.freedesktop.DBus.Error.Timeout", "no \(member) signal within \(timeoutMillis / 1000) s")
            }
            if dbus_connection_read_write(raw, Int32(left)) == 0 {
                throw DBusFailure(name: "org.freedesktop.DBus.Error.Disconnected", "the connection to \(address) closed")
            }
        }
    }

    // MARK: marshalling

    static func code(_ c: Character) -> Int32 { Int32(c.asciiValue ?? 0) }

    /// Appends one value; false if libdbus refused it (out of memory, or a
    /// value its type does not allow, such as an invalid object path).
    static func append(_ v: DBusValue, _ it: UnsafeMutablePointer<DBusMessageIter>) -> Bool {
        func basic<T>(_ type: Character, _ value: T) -> Bool {
            var x = value
            return withUnsafePointer(to: &x) { dbus_message_iter_append_basic(it, code(type), $0) } != 0
        }
        func text(_ type: Character, _ s: String) -> Bool {
            // libdbus checks object paths and signatures and copies the bytes.
            guard type != "o" || DBusConnection.validPath(s) else { return false }
            return s.withCString { cs in basic(type, cs) }
        }
        func container(_ type: Character, _ signature: String?, _ body: (UnsafeMutablePointer<DBusMessageIter>) -> Bool) -> Bool {
            var sub = DBusMessageIter()
            let opened: Bool
            if let signature {
                opened = signature.withCString { dbus_message_iter_open_container(it, code(type), $0, &sub) } != 0
            } else {
                opened = dbus_message_iter_open_container(it, code(type), nil, &sub) != 0
            }
            guard opened else { return false }
            guard body(&sub) else {
                dbus_message_iter_abandon_container(it, &sub)
                return false
            }
            return dbus_message_iter_close_container(it, &sub) != 0
        }
        switch v {
        case let .bool(b): return basic("b", dbus_bool_t(b ? 1 : 0))
        case let .byte(n): return basic("y", n)
        case let .int16(n): return basic("n", n)
        case let .uint16(n): return basic("q", n)
        case let .int32(n): return basic("i", n)
        case let .uint32(n): return basic("u", n)
        case let .int64(n): return basic("x", n)
        case let .uint64(n): return basic("t", n)
        case let .double(d): return basic("d", d)
        case let .string(s): return text("s", s)
        case let .objectPath(s): return text("o", s)
        case let .signature(s): return text("g", s)
        case let .array(element, items):
            return container("a", element) { sub in items.allSatisfy { $0.signature == element && append($0, sub) } }
        case let .structure(fields):
            return container("r", nil) { sub in fields.allSatisfy { append($0, sub) } }
        case let .variant(inner):
            return container("v", inner.signature) { sub in append(inner, sub) }
        }
    }

    /// `/a/b_1`: what D-Bus allows as an object path.
    static func validPath(_ s: String) -> Bool {
        guard s.hasPrefix("/") else { return false }
        if s == "/" { return true }
        return !s.hasSuffix("/") && !s.includes("//")
            && s.utf8.allSatisfy { c in
                c == 47 || c == 95 || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
            }
    }

    static func arguments(_ msg: OpaquePointer) -> [DBusValue] {
        var iter = DBusMessageIter()
        guard dbus_message_iter_init(msg, &iter) != 0 else { return [] }
        return values(&iter)
    }

    /// The values from the iterator's position to the end of its container.
    static func values(_ it: UnsafeMutablePointer<DBusMessageIter>) -> [DBusValue] {
        var out: [DBusValue] = []
        while true {
            let type = dbus_message_iter_get_arg_type(it)
            if type == 0 { break }
            if let v = value(it, type) { out.append(v) }
            if dbus_message_iter_next(it) == 0 { break }
        }
        return out
    }

    static func value(_ it: UnsafeMutablePointer<DBusMessageIter>, _ type: Int32) -> DBusValue? {
        func basic<T>(_ zero: T) -> T {
            var x = zero
            withUnsafeMutablePointer(to: &x) { dbus_message_iter_get_basic(it, $0) }
            return x
        }
        func text() -> String {
            var p: UnsafePointer<CChar>? = nil
            withUnsafeMutablePointer(to: &p) { dbus_message_iter_get_basic(it, $0) }
            return p.map { String(cString: $0) } ?? ""
        }
        switch UInt8(truncatingIfNeeded: type) {
        case UInt8(ascii: "b"): return .bool(basic(dbus_bool_t(0)) != 0)
        case UInt8(ascii: "y"): return .byte(basic(UInt8(0)))
        case UInt8(ascii: "n"): return .int16(basic(Int16(0)))
        case UInt8(ascii: "q"): return .uint16(basic(UInt16(0)))
        case UInt8(ascii: "i"): return .int32(basic(Int32(0)))
        case UInt8(ascii: "u"): return .uint32(basic(UInt32(0)))
        case UInt8(ascii: "x"): return .int64(basic(Int64(0)))
        case UInt8(ascii: "t"): return .uint64(basic(UInt64(0)))
        case UInt8(ascii: "d"): return .double(basic(Double(0)))
        case UInt8(ascii: "s"): return .string(text())
        case UInt8(ascii: "o"): return .objectPath(text())
        case UInt8(ascii: "g"): return .signature(text())
        case UInt8(ascii: "a"):
            var sub = DBusMessageIter()
            let element =
                dbus_message_iter_get_signature(it).map { p -> String in
                    defer { dbus_free(p) }
                    return String(String(cString: p).dropFirst())
                } ?? ""
            dbus_message_iter_recurse(it, &sub)
            return .array(element: element, values(&sub))
        case UInt8(ascii: "r"), UInt8(ascii: "e"):
            var sub = DBusMessageIter()
            dbus_message_iter_recurse(it, &sub)
            return .structure(values(&sub))
        case UInt8(ascii: "v"):
            var sub = DBusMessageIter()
            dbus_message_iter_recurse(it, &sub)
            return values(&sub).first.map { .variant($0) }
        default:
            return nil  // a unix fd: systemd sends none to us
        }
    }
}
