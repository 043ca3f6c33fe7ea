/// Memory of the C plan: allocated before the clone (the child gets a copy),
/// freed together when the launch is over.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for b in blocks { b.deallocate() } }

    func string(_ s: String) -> UnsafePointer<CChar> {
        let utf8 = Array(s.utf8)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func string(_ s: String?) -> UnsafePointer<CChar>? { s.map { string($0) } }

    /// A NULL-terminated array of C strings (argv, envp, path lists).
    func strings(_ a: [String]) -> UnsafePointer<UnsafePointer<CChar>?> {
        let p = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: a.count + 1)
        for (i, s) in a.enumerated() { p[i] = string(s) }
        p[a.count] = nil
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func array<T>(_ a: [T]) -> UnsafePointer<T>? {
        guard !a.isEmpty else { return nil }
        let p = UnsafeMutablePointer<T>.allocate(capacity: a.count)
        p.initialize(from: a, count: a.count)
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }
}
