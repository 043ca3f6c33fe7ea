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
/// engine runs with private state under the test's scratch directory, and
/// whatever it makes in fixed places of the host (containerd's shim
/// sockets under /run/containerd, dockerd's /run/docker, podman's blob cache
/// and conmon cgroups, the cgroup parents the engines name) is removed
/// afterwards if it was not there before.
enum Engines {
    /// The busybox rootfs as an image tarball (`docker import`, `podman import`).
    static let imageTar: String = {
        let tar = Harness.scratch + "/busybox-image.tar"
        _ = try? Harness.exec("/bin/tar", ["-C", Harness.sharedRootfs, "-cf", tar, "."])
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
    static func spawn(_ path: String, _ args: [String], env: [String: String], stdin: String? = nil,
                      cwd: String? = nil) throws -> Harness.Result {
        let base = Harness.scratch + "/" + Harness.uniqueName("spawn")
        try (stdin ?? "").write(toFile: base + ".in", atomically: false, encoding: .utf8)
        defer { for ext in [".in", ".out", ".err"] { unlink(base + ext) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, base + ".in", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
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
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Harness.Result(status: code, stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                              stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }

    /// Paths of the host an engine may create; noted before it starts.
    struct HostLeftovers {
        let paths: [String]
        let existed: [String: Bool]
        let cgroupParents: [String]
        let cgroupExisted: [String: Bool]

        init(paths: [String], cgroupParents: [String]) {
            self.paths = paths
            self.cgroupParents = cgroupParents
            var e: [String: Bool] = [:]
            for p in paths { e[p] = FileManager.default.fileExists(atPath: p) }
            existed = e
            var c: [String: Bool] = [:]
            for p in cgroupParents { c[p] = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/" + p) }
            cgroupExisted = c
        }

        /// Removes what was not there before (cgroup directories only if
        /// empty of processes: rmdir refuses otherwise).
        func clean() {
            for p in paths where existed[p] == false { try? FileManager.default.removeItem(atPath: p) }
            let hierarchies = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [])
                .map { "/sys/fs/cgroup/" + $0 } + ["/sys/fs/cgroup"]
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
    static func startNotifying(_ path: String, _ args: [String], dir: String, name: String,
                               env extra: [String: String] = [:]) throws -> Process {
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

        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let log = FileHandle(forWritingAtPath: dir + "/\(name).log") ?? {
            FileManager.default.createFile(atPath: dir + "/\(name).log", contents: nil)
            return FileHandle(forWritingAtPath: dir + "/\(name).log")!
        }()
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        var buf = [UInt8](repeating: 0, count: 512)
        while true {
            let n = recv(sock, &buf, buf.count, 0)
            if n < 0 {
                p.terminate()
                let text = (try? String(contentsOfFile: dir + "/\(name).log", encoding: .utf8)) ?? ""
                throw HarnessError("\(name) did not say READY=1 within 60 s: \(text.suffix(2000))")
            }
            if String(decoding: buf.prefix(n), as: UTF8.self).split(separator: "\n").contains("READY=1") { return p }
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    static func stop(_ p: Process?, grace: Double = 10) {
        guard let p, p.isRunning else { return }
        p.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
    }

    /// skiff's own traces of a container: a state directory, a process
    /// naming the id, a mount of its bundle, a cgroup directory.
    static func skiffTraces(root: String, id: String) -> [String] {
        guard id.count >= 8 else { return ["no container id to look for: `\(id)`"] }
        var found: [String] = []
        if FileManager.default.fileExists(atPath: root + "/" + id) { found.append("state " + root + "/" + id) }
        if !Harness.processes(mentioning: id).isEmpty { found.append("processes \(Harness.processes(mentioning: id))") }
        if Harness.hostMountinfo().contains(id) { found.append("a mount") }
        let cgroups = (try? Harness.sh("find /sys/fs/cgroup -maxdepth 4 -type d -name '*\(id)*'").stdout) ?? ""
        if !cgroups.isEmpty { found.append("cgroups " + cgroups) }
        return found
    }
}
