import Glibc
import LinuxSys
import OCISpec
import Planning

/// `events`: stats and OOM events from the container's cgroup.
extension Runtime {
    /// `events --stats`: one stats document. Without --stats: stats every
    /// interval and an `oom` event for each OOM kill, until the container
    /// stops.
    public func events(id: String, stats once: Bool, intervalMillis: Int32, emit: (String) -> Void) throws(RuntimeError) {
        let (_, r, cg) = try runningCgroup(id, for: "events")
        guard let pidfd = Runtime.pidfd(r) else { throw .message("events: container `\(id)` is not running") }
        func statsEvent() -> String {
            JSONValue.object([("type", .string("stats")), ("id", .string(id)), ("data", cg.stats())]).serialized(pretty: false)
        }
        if once {
            emit(statsEvent())
            return
        }
        // Woken by the kernel: the process exiting (pidfd), an OOM (the
        // memory controller's notification), or the next stats interval.
        let notifier = cg.oomNotifier()
        defer { if let n = notifier { _ = Glibc.close(n.fd) } }
        var kills = cg.oomKills
        var deadline = Time.monotonicMillis() + Int64(intervalMillis)
        while true {
            var fds = [pollfd(fd: pidfd.raw, events: Int16(POLLIN), revents: 0)]
            if let n = notifier { fds.append(pollfd(fd: n.fd, events: n.events, revents: 0)) }
            let wait = max(0, deadline - Time.monotonicMillis())
            let ready = poll(&fds, nfds_t(fds.count), Int32(clamping: wait))
            if ready < 0 && Errno.current != .EINTR { throw .system(SysError("poll", "events `\(id)`")) }
            if fds[0].revents != 0 { return }  // the container's process exited
            if fds.count > 1, fds[1].revents != 0, let n = notifier {
                // Consume the wake-up: v2 rereads the file, v1 drains the counter.
                var buf = [UInt8](repeating: 0, count: 512)
                if n.events == Int16(POLLPRI) { _ = lseek(n.fd, 0, SEEK_SET) }
                _ = read(n.fd, &buf, buf.count)
            }
            let now = cg.oomKills
            if now > kills {
                for _ in kills..<now { emit(JSONValue.object([("type", .string("oom")), ("id", .string(id))]).serialized(pretty: false)) }
                kills = now
            }
            if Time.monotonicMillis() >= deadline {
                emit(statsEvent())
                deadline = Time.monotonicMillis() + Int64(intervalMillis)
            }
        }
    }
}
