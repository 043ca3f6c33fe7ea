import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// Writes the uid and gid maps of a new user namespace while its first
/// process waits for SKIFF_SYNC_USERMAP_ACK.
enum IDMaps {
    static func text(_ maps: [IDMapping]) -> String {
        maps.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined(by: "")
    }

    static func write(_ u: UserNamespacePlan, pid: Int32, log: Log) throws(RuntimeError) {
        switch u.writer {
        case .direct:
            // An unprivileged gid map needs setgroups denied first (user_namespaces(7)).
            if u.denySetgroups { try writeProc(pid, "setgroups", "deny", origin: "linux.gidMappings") }
            try writeProc(pid, "uid_map", text(u.uidMappings), origin: "linux.uidMappings")
            try writeProc(pid, "gid_map", text(u.gidMappings), origin: "linux.gidMappings")
        case .helpers:
            try helper("/usr/bin/newuidmap", pid, u.uidMappings, origin: "linux.uidMappings", log: log)
            try helper("/usr/bin/newgidmap", pid, u.gidMappings, origin: "linux.gidMappings", log: log)
        }
    }

    private static func writeProc(_ pid: Int32, _ file: String, _ text: String, origin: String) throws(RuntimeError) {
        let path = "/proc/\(pid)/\(file)"
        do {
            let fd = try Sys.open(path, O_WRONLY)
            try Sys.write(fd.raw, text, path)
        } catch {
            throw .context(origin, .system(error))
        }
    }

    private static func helper(
        _ tool: String, _ pid: Int32, _ maps: [IDMapping], origin: String,
        log: Log
    ) throws(RuntimeError) {
        var args = ["\(pid)"]
        for m in maps { args += ["\(m.containerID)", "\(m.hostID)", "\(m.size)"] }
        log.debug("\(tool) \(args.joined(by: " "))")
        let result = try Subprocess.run(tool, args)
        if result.status != 0 {
            let out = result.stderr.trimmingWhitespace()
            throw .message("\(origin): \(tool) \(args.joined(by: " ")) failed (status \(result.status))\(out.isEmpty ? "" : ": \(out)")")
        }
    }
}

/// A helper program run to completion, its stderr kept for messages.
enum Subprocess {
    struct Result {
        var status: Int32
        var stderr: String
    }

    static func run(_ path: String, _ args: [String]) throws(RuntimeError) -> Result {
        var pipeFds: [Int32] = [-1, -1]
        guard skiff_pipe2(&pipeFds, O_CLOEXEC) == 0 else { throw .system(SysError("pipe", path)) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 2)
        let argv = ([path] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        close(pipeFds[1])
        let reader = FileDescriptor(adopting: pipeFds[0])
        guard rc == 0 else { throw .system(SysError("run", path, errno: Errno(rc))) }
        let output = (try? Sys.read(reader)) ?? []
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if Errno.current != .EINTR { throw .system(SysError("wait", path)) }
        }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, stderr: String(decoding: output, as: UTF8.self))
    }
}
