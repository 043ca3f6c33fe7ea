import Foundation
import Testing

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
