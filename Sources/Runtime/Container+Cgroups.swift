import Glibc
import LinuxSys
import OCISpec
import Planning

/// runc's commands that work through the container's cgroup: pause,
/// resume, update, ps, events.
extension Runtime {
    func runningCgroup(_ id: String, for command: String) throws(RuntimeError) -> (ContainerDir, ContainerRecord, Cgroup) {
        let dir = try store.open(id)
        let r = try dir.read()
        guard let cg = Runtime.cgroup(r), !cg.dirs.isEmpty else {
            throw .message("\(command): container `\(id)` has no cgroup of its own (an unprivileged container without a delegated cgroup)")
        }
        return (dir, r, cg)
    }

    public func pause(id: String) throws(RuntimeError) {
        let (_, r, cg) = try runningCgroup(id, for: "pause")
        let status = Runtime.status(r)
        guard status == .running || status == .created else {
            throw .message("pause: container `\(id)` is \(status.rawValue): only a running container can be paused")
        }
        guard cg.canFreeze else { throw .message("pause: the container's cgroup has no freezer (no v1 freezer hierarchy, or no cgroup.freeze)") }
        try cg.setFrozen(true)
    }

    public func resume(id: String) throws(RuntimeError) {
        let (_, r, cg) = try runningCgroup(id, for: "resume")
        let status = Runtime.status(r)
        guard status == .paused else {
            throw .message("resume: container `\(id)` is \(status.rawValue), not paused")
        }
        try cg.setFrozen(false)
    }

    /// New limits for a running container. `origins` renames JSON paths to
    /// the flags they came from, for messages.
    public func update(id: String, _ resources: Resources, origins: [(String, String)] = []) throws(RuntimeError) {
        let (_, r, cg) = try runningCgroup(id, for: "update")
        let status = Runtime.status(r)
        guard status != .stopped else { throw .message("update: container `\(id)` is stopped") }
        func rename(_ text: String) -> String {
            for (path, flag) in origins where text.hasPrefix(path) { return flag + text.dropFirst(path.count) }
            return text
        }
        var lowering = CgroupLowering(v2: cg.version == .v2)
        do {
            try lowering.lower(resources)
        } catch {
            throw .message(rename(error.description))
        }
        for w in lowering.warnings { log.warn(rename(w)) }
        if resources.devices != nil { log.warn("update: device rules are not changed on a running container (runc neither)") }
        if resources.memory?.checkBeforeUpdate == true, let limit = resources.memory?.limit, limit > 0 {
            let usage = cg.version == .v2 ? cg.number("memory", "memory.current") : cg.number("memory", "memory.usage_in_bytes")
            if let u = usage, UInt64(limit) < u {
                throw .message(
                    rename("linux.resources.memory.limit") + ": \(limit) is below the container's current memory usage (\(u)) and checkBeforeUpdate is set")
            }
        }
        var writes = lowering.writes
        for i in writes.indices { writes[i].origin = rename(writes[i].origin) }
        // A systemd scope: systemd learns the new limits first, so that it
        // keeps them when it re-applies its own (runc's order).
        if let unit = cg.unit {
            let manager = try SystemdManager.connect(user: unit.user)
            let version = (try? manager.facts().version) ?? 0
            let properties: [SystemdProperty]
            do {
                properties = try SystemdLimits.properties(writes, v2: cg.version == .v2, version: version)
            } catch {
                throw .message(rename(error.description))
            }
            try manager.setProperties(unit.name, properties)
        }
        try cg.apply(writes, log: log)
    }

    /// A JSON document named on the command line: a file, or standard
    /// input for "-"; at most maxConfigSize bytes.
    public static func readDocument(_ path: String, what: String) throws(RuntimeError) -> [UInt8] {
        do {
            let fd = path == "-" ? FileDescriptor(adopting: dup(0)) : try Sys.open(path, O_RDONLY)
            return try Sys.read(fd, path == "-" ? "standard input" : path, limit: Runtime.maxConfigSize)
        } catch {
            throw .context(what, .system(error))
        }
    }

    public enum PsFormat: String { case table, json }

    /// The container's processes: pids as JSON, or ps(1)'s lines for them.
    public func ps(id: String, format: PsFormat, psArgs: [String]) throws(RuntimeError) -> String {
        let (_, _, cg) = try runningCgroup(id, for: "ps")
        let pids = cg.pids()
        if format == .json { return JSONValue.array(pids.map { JSONValue.int(Int64($0)) }).serialized(pretty: false) }
        let args = psArgs.isEmpty ? ["-ef"] : psArgs
        let command =
            "ps " + args.map { "'" + $0.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'" }.joined(separator: " ")
        guard let f = popen(command, "r") else { throw .system(SysError("run", command)) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        let status = pclose(f)
        guard status == 0 else { throw .message("ps: `\(command)` failed (status \(status))") }
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n")
        guard let header = lines.first,
            let column = header.split(separator: " ").firstIndex(of: "PID")
        else {
            throw .message("ps: `\(command)` printed no PID column")
        }
        var text = String(header)
        for line in lines.dropFirst() {
            let f = line.split(separator: " ")
            if column < f.count, let pid = Int32(f[column]), pids.contains(pid) { text += "\n" + line }
        }
        return text
    }

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
