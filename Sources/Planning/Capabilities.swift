import CCap

/// Capability names, from libcap (which knows every capability of its
/// release, including ones the running kernel may lack).
public enum Capability {
    /// The number of `CAP_NAME`, or nil if the name is not a capability.
    /// Only the canonical upper-case `CAP_` form is accepted.
    public static func number(_ name: String) -> Int? {
        guard name.hasPrefix("CAP_"), name.count > 4,
            name.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f })
        else { return nil }
        var value: cap_value_t = 0
        guard cap_from_name(name.lowercased(), &value) == 0, value >= 0, value <= Int32(CAP_LAST_CAP) else {
            return nil
        }
        return Int(value)
    }

    /// Every capability libcap knows, as `CAP_NAME`, in number order.
    public static var allNames: [String] {
        (0...Int(CAP_LAST_CAP)).compactMap { name($0) }
    }

    public static func name(_ number: Int) -> String? {
        guard let p = cap_to_name(cap_value_t(number)) else { return nil }
        defer { cap_free(p) }
        let s = String(cString: p)
        guard s.hasPrefix("cap_") else { return nil }
        return s.uppercased()
    }
}
