import Foundation
import Testing

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34), which Swift's
/// Glibc module hides (a GNU extension).
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

/// posix_spawn_file_actions_addchdir_np (glibc 2.29), hidden the same way.
@_silgen_name("posix_spawn_file_actions_addchdir_np")
func spawnChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32

/// What the engines need from the host, and how the tests leave it: each
/// engine runs with private state under the test's scratch directory, in a
/// mount namespace of its own where the fixed places it writes to (/run/
/// containerd, /run/docker, /run/skiff, /var/lib/containers ...) are
/// private (EngineNamespace); the cgroup parents the engines name are
/// removed afterwards if they were not there before.
enum Engines {
    /// The busybox rootfs as an image tarball (`docker import`, `podman import`).
    static let imageTar: String = {
        let tar = Harness.scratch + "/busybox-image.tar"
        _ = try? spawn("/bin/tar", ["-C", Harness.sharedRootfs, "-cf", tar, "."], env: ["PATH": "/usr/bin:/bin"])
        return tar
    }()

    /// Engines started by this test process, stopped when it exits (also
    /// after a failed test).
    nonisolated(unsafe) static var stops: [() -> Void] = []
    static let stopAtExit: Void = { atexit { for stop in Engines.stops.reversed() { stop() } } }()

    /// One instance of an engine per test process, or why it could not start.
    static func shared<T>(_ make: () throws -> T, stop: @escaping (T) -> Void) -> Result<T, HarnessError> {
        // atexit runs handlers in reverse: the engines stop before the
        // scratch directory (their state is in it) is removed.
        _ = Harness.scratch
        _ = stopAtExit
        do {
            let engine = try make()
            stops.append { stop(engine) }
            return .success(engine)
        } catch {
            return .failure(HarnessError("\(error)"))
        }
    }

    /// An engine's configuration as the README shows it: the fenced block
    /// after `<!-- tested: NAME -->`, with the built binary in place of
    /// /usr/local/bin/skiff. The tests configure the engines with it, so
    /// what the README tells users to write is what runs.
    static func readmeConfig(_ name: String) throws -> String {
        let readme = try String(contentsOf: Harness.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let marker = readme.range(of: "<!-- tested: \(name) -->\n```"),
            let open = readme[marker.upperBound...].firstIndex(of: "\n"),
            let close = readme[open...].range(of: "\n```")
        else { throw HarnessError("README.md has no block marked `<!-- tested: \(name) -->`") }
        return readme[readme.index(after: open)..<close.lowerBound]
            .replacingOccurrences(of: "/usr/local/bin/skiff", with: Harness.binary) + "\n"
    }

    /// Why an engine cannot run on this host: the first program missing.
    static func missing(_ programs: [String], packages: String) -> String? {
        programs.first { !FileManager.default.isExecutableFile(atPath: $0) }
            .map { "\($0) is missing (Debian packages \(packages); scripts/deps installs them)" }
    }

    /// Runs a program to completion with posix_spawn: no fd but stdio is
    /// passed on and the signal mask is empty. Foundation's Process hands
    /// the child a socket whose closing tells it the child exited, and
    /// podman passes its fds on to conmon, which outlives it (`run -d`
    /// seemed to last as long as the container); it also passes on the
    /// test runner's blocked signals.
    static func spawn(
        _ path: String, _ args: [String], env: [String: String], stdin: String? = nil,
        cwd: String? = nil
    ) throws -> Harness.Result {
        let base = Harness.scratch + "/" + Harness.uniqueName("spawn")
        try (stdin ?? "").write(toFile: base + ".in", atomically: false, encoding: .utf8)
        defer { for ext in [".in", ".out", ".err"] { unlink(base + ext) } }
        let pid = try posixSpawn(path, args, env: env, stdin: base + ".in", stdout: base + ".out", stderr: base + ".err", cwd: cwd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Harness.Result(
            status: code, stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }

    /// Starts a program that outlives the call (its output to `log`); the
    /// caller reaps it.
    static func spawnDetached(_ path: String, _ args: [String], log: String) throws -> pid_t {
        try posixSpawn(path, args, env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], stdin: "/dev/null", stdout: log, stderr: log, cwd: nil)
    }

    private static func posixSpawn(
        _ path: String, _ args: [String], env: [String: String], stdin: String, stdout: String,
        stderr: String, cwd: String?
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        if stderr == stdout {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        _ = spawnCloseFrom(&actions, 3)
        if let cwd { _ = spawnChdir(&actions, cwd) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + args).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let r = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard r == 0 else { throw HarnessError("posix_spawn \(path): errno \(r)") }
        return pid
    }

    /// The cgroup parents an engine makes (cgroupfs driver), noted before
    /// it starts: removed afterwards if they were not there before, and only
    /// while empty (rmdir refuses otherwise).
    struct HostLeftovers {
        let cgroupParents: [String]
        let cgroupExisted: [String: Bool]

        init(cgroupParents: [String]) {
            self.cgroupParents = cgroupParents
            var c: [String: Bool] = [:]
            for p in cgroupParents { c[p] = Self.hierarchies.contains { FileManager.default.fileExists(atPath: $0 + "/" + p) } }
            cgroupExisted = c
        }

        /// The cgroup v1 hierarchies, or the v2 root.
        static var hierarchies: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [])
                .map { "/sys/fs/cgroup/" + $0 } + ["/sys/fs/cgroup"]
        }

        func clean() {
            let hierarchies = Self.hierarchies
            for parent in cgroupParents where cgroupExisted[parent] == false {
                for h in hierarchies {
                    let dir = h + "/" + parent
                    guard FileManager.default.fileExists(atPath: dir + "/cgroup.procs") else { continue }
                    // A daemon's helper (conmon) may still be leaving.
                    let deadline = Date().addingTimeInterval(5)
                    repeat {
                        for sub in Engines.subdirectories(dir).reversed() { rmdir(sub) }
                        if rmdir(dir) == 0 || errno == ENOENT { break }
                        usleep(50_000)
                    } while Date() < deadline
                }
            }
        }
    }

    /// Unmounts what a daemon left mounted below `dir` (dockerd leaves its
    /// default network namespace bound at <exec-root>/netns/default).
    static func unmountBelow(_ dir: String) {
        let points = Harness.hostMountinfo().split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            return f.count > 4 && f[4].hasPrefix(dir + "/") ? String(f[4]) : nil
        }
        for p in points.sorted(by: { $0.count > $1.count }) { umount2(p, Int32(MNT_DETACH)) }
    }

    /// Directories below `dir`, parents before children.
    static func subdirectories(_ dir: String) -> [String] {
        var out: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            var isDir: ObjCBool = false
            let p = dir + "/" + name
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                out.append(p)
                out += subdirectories(p)
            }
        }
        return out
    }

    /// Starts a daemon and waits for its READY=1 on a notify socket (sd_notify,
    /// which dockerd and containerd send once they serve): no polling.
    static func startNotifying(
        _ command: (path: String, args: [String]), dir: String, name: String,
        env extra: [String: String] = [:]
    ) throws -> Daemon {
        try startNotifying(command.path, command.args, dir: dir, name: name, env: extra)
    }

    static func startNotifying(
        _ path: String, _ args: [String], dir: String, name: String,
        env extra: [String: String] = [:]
    ) throws -> Daemon {
        let notify = dir + "/\(name).notify"
        let sock = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(sock); unlink(notify) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in for (i, b) in notify.utf8.enumerated() { buf[i] = b } }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw HarnessError("bind \(notify): errno \(errno)") }
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))

        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify
        for (k, v) in extra { env[k] = v }
        let log = dir + "/\(name).log"
        let daemon = Daemon(pid: try posixSpawn(path, args, env: env, stdin: "/dev/null", stdout: log, stderr: log, cwd: nil))
        var buf = [UInt8](repeating: 0, count: 512)
        while true {
            let n = recv(sock, &buf, buf.count, 0)
            if n < 0 {
                daemon.stop(grace: 0)
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw HarnessError("\(name) did not say READY=1 within 60 s: \(text.suffix(2000))")
            }
            if String(decoding: buf.prefix(n), as: UTF8.self).split(separator: "\n").contains("READY=1") { return daemon }
        }
    }

    /// A daemon the tests started (posix_spawn, not Foundation's Process:
    /// in the systemd guest a Process started while a daemon Process ran
    /// was never seen to exit, and from atexit Foundation sees no exits).
    final class Daemon: @unchecked Sendable {
        let pid: pid_t
        private var reaped = false

        init(pid: pid_t) { self.pid = pid }

        var isRunning: Bool {
            guard !reaped else { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped = true }
            return !reaped
        }

        /// SIGTERM, then SIGKILL after `grace` seconds; reaped.
        func stop(grace: Double = 10) {
            guard isRunning else { return }
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(grace)
            while isRunning && Date() < deadline { usleep(20_000) }
            if isRunning { kill(pid, SIGKILL) }
            var status: Int32 = 0
            if !reaped { while waitpid(pid, &status, 0) < 0 && errno == EINTR {} }
            reaped = true
        }
    }

    /// skiff's own traces of a container: a state directory, a process
    /// naming the id, a mount of its bundle (here or in the engine's
    /// namespace), a cgroup directory.
    static func skiffTraces(root: String, id: String, namespace: EngineNamespace? = nil) -> [String] {
        guard id.count >= 8 else { return ["no container id to look for: `\(id)`"] }
        var found: [String] = []
        if FileManager.default.fileExists(atPath: root + "/" + id) { found.append("state " + root + "/" + id) }
        if !Harness.processes(mentioning: id).isEmpty { found.append("processes \(Harness.processes(mentioning: id))") }
        if Harness.hostMountinfo().contains(id) { found.append("a mount") }
        if let namespace, namespace.mountinfo.contains(id) { found.append("a mount in the engine's namespace") }
        let cgroups = (try? Harness.sh("find /sys/fs/cgroup -maxdepth 4 -type d -name '*\(id)*'").stdout) ?? ""
        if !cgroups.isEmpty { found.append("cgroups " + cgroups) }
        return found
    }
}
