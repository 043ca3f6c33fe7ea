import Glibc
import LinuxSys
import OCISpec
import Planning

/// `update`: new limits for a running container's cgroup.
extension Runtime {
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
}
