import Glibc

/// An owned file descriptor: closed when it goes out of scope, unless
/// released. Every fd skiff opens is close-on-exec.
public struct FileDescriptor: ~Copyable {
    public let raw: Int32

    public init(adopting raw: Int32) { self.raw = raw }

    deinit { _ = Glibc.close(raw) }

    /// Gives up ownership: the caller closes the fd (or hands it on).
    public consuming func release() -> Int32 {
        let r = raw
        discard self
        return r
    }
}

/// Several owned fds of a plan (namespace fds, sockets) closed together.
public final class FileDescriptorSet {
    public private(set) var fds: [Int32] = []
    public init() {}
    public func adopt(_ fd: consuming FileDescriptor) -> Int32 {
        let r = fd.release()
        fds.append(r)
        return r
    }
    public func closeAll() {
        for fd in fds { _ = Glibc.close(fd) }
        fds.removeAll()
    }
    deinit { closeAll() }
}
