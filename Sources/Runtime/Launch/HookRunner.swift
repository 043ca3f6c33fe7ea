import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// Hooks that run in the runtime namespace (prestart, createRuntime,
/// poststart, poststop), and the messages for any hook that failed,
/// wherever it ran. The program is run by the shim's `skiff_run_hook`
/// (fork, state on stdin, output kept, killed at its timeout), the same
/// code the container's process uses for createContainer and
/// startContainer.
enum HookRunner {
    /// The state a hook reads on stdin (runtime-spec "State").
    static func state(
        id: String, status: ContainerStatus, pid: Int32?, bundle: String,
        annotations: OrderedMap<String>?
    ) -> [UInt8] {
        Array(
            State(
                ociVersion: OCISpec.ociVersion, id: id, status: status, pid: pid, bundle: bundle, rootfs: nil,
                created: nil, owner: nil, annotations: annotations
            ).json.serialized(pretty: true).utf8)
    }

    /// What a container's record keeps: the hooks that run after create.
    static func recorded(_ h: HooksPlan) -> Hooks? {
        func spec(_ list: [HookPlan]) -> [Hook]? {
            list.isEmpty
                ? nil
                : list.map {
                    Hook(path: $0.path, args: $0.argv, env: $0.env, timeout: $0.timeoutMillis > 0 ? Int($0.timeoutMillis / 1000) : nil)
                }
        }
        if h.startContainer.isEmpty && h.poststart.isEmpty && h.poststop.isEmpty { return nil }
        return Hooks(startContainer: spec(h.startContainer), poststart: spec(h.poststart), poststop: spec(h.poststop))
    }

    /// The record's hooks, lowered again (they were checked at create).
    static func plan(_ r: ContainerRecord) -> HooksPlan {
        guard let h = r.hooks else { return HooksPlan() }
        return (try? Planner.lowerHooks(h)) ?? HooksPlan()
    }

    /// skiff's own environment, for hooks of the runtime namespace that
    /// give no `env` (runc passes its own too; engines rely on PATH there).
    static var runtimeEnvironment: [String] {
        var out: [String] = []
        var p = environ
        while let entry = p.pointee {
            out.append(String(cString: entry))
            p += 1
        }
        return out
    }

    /// A memfd holding `bytes`, handed to hooks as stdin (rewound for each).
    static func stateFile(_ bytes: [UInt8]) throws(RuntimeError) -> FileDescriptor {
        let raw = skiff_memfd("skiff-state")
        if raw < 0 { throw .system(SysError("memfd_create", "hook state", errno: .current)) }
        let fd = FileDescriptor(adopting: raw)
        try sys { () throws(SysError) in try Sys.write(fd.raw, bytes, "hook state") }
        return fd
    }

    /// Runs `hooks` in order; the first failure is thrown (createRuntime and
    /// prestart fail the create) or, with `warnOnly`, logged as a warning
    /// and the rest still run (poststart, poststop).
    static func run(_ hooks: [HookPlan], state: [UInt8], log: Log, warnOnly: Bool = false) throws(RuntimeError) {
        guard !hooks.isEmpty else { return }
        let input = try stateFile(state)
        for h in hooks {
            let arena = Arena()
            var c = skiff_hook(
                path: arena.string(h.path), argv: arena.strings(h.argv),
                envp: arena.strings(h.env ?? HookRunner.runtimeEnvironment),
                timeout_ms: h.timeoutMillis)
            var outRaw: Int32 = -1
            var status: Int32 = 0
            let r = withExtendedLifetime(arena) { skiff_run_hook(&c, input.raw, &outRaw, &status) }
            defer { if outRaw >= 0 { _ = Glibc.close(outRaw) } }
            log.debug("\(h.origin) `\(h.path)`: result \(r), status \(status)")
            if r == 0 && status == 0 { continue }
            let error = RuntimeError.message(failure(h, result: r, status: status, output: output(outRaw)))
            if warnOnly {
                log.warn(error.description)
            } else {
                throw error
            }
        }
    }

    /// What a hook printed (stdout and stderr), its last 4 KB, trimmed.
    static func output(_ raw: Int32) -> String {
        guard raw >= 0 else { return "" }
        var st = stat()
        guard fstat(raw, &st) == 0 else { return "" }
        let size = Int(st.st_size)
        let keep = min(size, 4096)
        var buf = [UInt8](repeating: 0, count: keep)
        let n = buf.withUnsafeMutableBytes { pread(raw, $0.baseAddress, keep, off_t(size - keep)) }
        guard n > 0 else { return "" }
        var text = String(decoding: buf.prefix(n), as: UTF8.self)
        while let last = text.utf8.last, last == 0x0a || last == 0x20 || last == 0x0d { text.removeLast() }
        return (size > keep ? "..." : "") + text
    }

    /// "hooks.prestart[0] `/bin/x`: exited with status 3: <its output>".
    static func failure(
        _ h: HookPlan?, result: Int32, status: Int32, output: String, index: Int = 0,
        kind: String = ""
    ) -> String {
        let what = h.map { "\($0.origin) `\($0.path)`" } ?? "hooks.\(kind)[\(index)]"
        var why: String
        if result == -ETIMEDOUT {
            why = "killed after its timeout of \((h?.timeoutMillis ?? 0) / 1000) s"
        } else if result < 0 {
            why = "could not be run: \(Errno(-result))"
        } else if status & 0x7f == 0 {
            why = "exited with status \((status >> 8) & 0xff)"
        } else {
            why = "killed by signal \(status & 0x7f)"
        }
        if result == -ENOENT && h?.origin.hasPrefix("hooks.startContainer") == true {
            why += " (startContainer hooks run in the container: their path is looked up in its root filesystem)"
        }
        if !output.isEmpty { why += ": " + output }
        return "\(what): \(why)"
    }
}
