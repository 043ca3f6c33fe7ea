import Glibc

/// An errno value. Printed as the kernel's text in lower case ("no such file
/// or directory"), the way skiff messages read.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// errno as left by the call just made. Read it on the line after the call.
    public static var current: Errno { Errno(Glibc.errno) }

    public var description: String {
        guard let s = strerror(rawValue) else { return "errno \(rawValue)" }
        var text = String(cString: s)
        if let first = text.first, first.isUppercase, !text.hasPrefix("I/O") {
            text = first.lowercased() + String(text.dropFirst())
        }
        return text
    }

    public static let ENOENT = Errno(Glibc.ENOENT)
    public static let EEXIST = Errno(Glibc.EEXIST)
    public static let EINTR = Errno(Glibc.EINTR)
    public static let EAGAIN = Errno(Glibc.EAGAIN)
    public static let ESRCH = Errno(Glibc.ESRCH)
    public static let EPERM = Errno(Glibc.EPERM)
    public static let EACCES = Errno(Glibc.EACCES)
    public static let EINVAL = Errno(Glibc.EINVAL)
    public static let ENOTDIR = Errno(Glibc.ENOTDIR)
    public static let EBADF = Errno(Glibc.EBADF)
    public static let ECHILD = Errno(Glibc.ECHILD)
    public static let ENOTEMPTY = Errno(Glibc.ENOTEMPTY)
    public static let ECONNREFUSED = Errno(Glibc.ECONNREFUSED)
    public static let EROFS = Errno(Glibc.EROFS)
    public static let EWOULDBLOCK = Errno(Glibc.EWOULDBLOCK)
    public static let EBUSY = Errno(Glibc.EBUSY)
    public static let ERANGE = Errno(Glibc.ERANGE)
}

/// A failed system call: which operation, on which object, and errno.
/// Printed as "operation `object`: reason".
public struct SysError: Error, Sendable, CustomStringConvertible {
    public var errno: Errno
    public var operation: String
    public var path: String?

    public init(_ operation: String, _ path: String? = nil, errno: Errno = .current) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    public var description: String {
        if let path { return "\(operation) `\(path)`: \(errno)" }
        return "\(operation): \(errno)"
    }
}

/// Runs a call that reports failure as -1 and errno, retrying on EINTR;
/// errno is captured on the line after the call.
@inline(__always)
public func retrying<T: FixedWidthInteger>(
    _ operation: String, _ path: String? = nil,
    _ call: () -> T
) throws(SysError) -> T {
    while true {
        let r = call()
        if r != -1 { return r }
        let e = Errno.current
        if e == .EINTR { continue }
        throw SysError(operation, path, errno: e)
    }
}
