import Foundation
import Testing

/// A private dockerd (Debian's docker.io 20.10) with its own containerd,
/// skiff registered as a runtime, both in an EngineNamespace. Started once
/// for the suite; stopped, and the cgroups it made removed, when the test
/// process exits.
final class DockerDaemon: @unchecked Sendable {
    let dir: String
    let skiffRoot: String
    let mounts: EngineNamespace
    private var containerd: Engines.Daemon?
    private var dockerd: Engines.Daemon?
    private let leftovers: Engines.HostLeftovers
    static let image = "skiff-busybox:test"

    static let shared = Engines.shared({ try DockerDaemon() }, stop: { $0.stop() })

    static var missing: String? {
        Engines.missing(
            ["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2"],
            packages: "docker.io and containerd")
    }

    init() throws {
        dir = Harness.scratch + "/dk"
        skiffRoot = dir + "/exec/runtime-runc/moby"
        leftovers = Engines.HostLeftovers(cgroupParents: ["docker"])
        mounts = try EngineNamespace(dir: dir + "/ns")
        try FileManager.default.createDirectory(atPath: dir + "/cd", withIntermediateDirectories: true)
        let config = """
            version = 2
            root = "\(dir)/cd/root"
            state = "\(dir)/cd/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(dir)/cd.sock"
            [plugins."io.containerd.internal.v1.opt"]
              path = "\(dir)/cd/opt"

            """
        try config.write(toFile: dir + "/containerd.toml", atomically: true, encoding: .utf8)
        // The README's daemon.json (skiff as a runtime, and the default),
        // and a key path that keeps dockerd from writing /etc/docker/key.json.
        guard var daemonJSON = try JSONSerialization.jsonObject(with: Data(Engines.readmeConfig("docker daemon.json").utf8)) as? [String: Any]
        else { throw HarnessError("README.md: the daemon.json block is not a JSON object") }
        daemonJSON["deprecated-key-path"] = dir + "/key.json"
        try JSONSerialization.data(withJSONObject: daemonJSON).write(to: URL(fileURLWithPath: dir + "/daemon.json"))
        do {
            containerd = try Engines.startNotifying(
                mounts.enter("/usr/bin/containerd", ["--config", dir + "/containerd.toml"]),
                dir: dir, name: "containerd")
            dockerd = try Engines.startNotifying(
                mounts.enter(
                    "/usr/sbin/dockerd",
                    [
                        "--data-root", dir + "/data", "--exec-root", dir + "/exec", "-H", "unix://\(dir)/docker.sock",
                        "--pidfile", dir + "/docker.pid", "--containerd", dir + "/cd.sock", "--config-file", dir + "/daemon.json",
                        "--bridge=none", "--iptables=false", "--ip6tables=false",
                        "--storage-driver=vfs",
                    ]), dir: dir, name: "dockerd")
            let imported = try docker(["import", Engines.imageTar, DockerDaemon.image])
            guard imported.status == 0 else { throw HarnessError("docker import: \(imported)") }
        } catch {
            stop()
            throw error
        }
    }

    func docker(_ args: [String], stdin: String? = nil) throws -> Harness.Result {
        try Engines.spawn(
            "/usr/bin/docker", ["-H", "unix://\(dir)/docker.sock"] + args,
            env: ["PATH": "/usr/bin:/bin", "HOME": dir], stdin: stdin)
    }

    func stop() {
        if dockerd?.isRunning == true {
            let ids = (try? docker(["ps", "-aq"]).stdout.split(separator: "\n").map(String.init)) ?? []
            if !ids.isEmpty { _ = try? docker(["rm", "-f"] + ids) }
        }
        dockerd?.stop()
        containerd?.stop()
        dockerd = nil
        containerd = nil
        mounts.stop()
        leftovers.clean()
    }
}

extension DockerDaemon: EngineCLI {
    var name: String { "docker" }
    func cli(_ args: [String], stdin: String?) throws -> Harness.Result { try docker(args, stdin: stdin) }
    /// None: skiff is the default runtime in the README's daemon.json.
    var runFlags: [String] { [] }
    var namespace: EngineNamespace? { mounts }
    /// dockerd's default cgroup driver: systemd where systemd is PID 1 on
    /// cgroup v2 (a scope in system.slice), cgroupfs otherwise.
    func cgroup(of id: String) -> String { Host.systemdPID1 && Host.cgroupV2 ? "/system.slice/docker-\(id).scope" : "/docker/\(id)" }
    var image: String { DockerDaemon.image }
    var reportsOOMKilled: Bool { true }
    var updatesPidsLimit: Bool { true }
    var statsLimitAfterUpdate: String { "96MiB" }
}

@Suite(
    .enabled(
        if: DockerDaemon.missing == nil,
        "needs /usr/sbin/dockerd, /usr/bin/docker and containerd with its runc v2 shim (Debian docker.io and containerd; scripts/deps installs them)"))
struct DockerTests {
    let d: DockerDaemon

    init() throws { d = try DockerDaemon.shared.get() }

    @Test("run --rm: output, exit codes (42; a missing program is 127), -t, -i")
    func runAndExitCodes() throws { try EngineChecks.runAndExitCodes(d) }

    @Test(
        "a detached container: ps shows it Up; exec (output, status, stdin, tty); logs; pause; stop escalating to KILL; start; kill; restart; rm leaves nothing"
    )
    func lifecycle() throws { try EngineChecks.lifecycle(d) }

    @Test("--memory 32m OOM-kills a 64 MB allocation and inspect says OOMKilled; --memory, --pids-limit, --cpus, --cpuset-cpus read back inside")
    func limits() throws { try EngineChecks.limits(d) }

    @Test("update of a running container's memory, pids and cpu limits, read back inside; stats shows the new memory limit")
    func update() throws { try EngineChecks.update(d) }

    @Test("--network none and host, --read-only, --user, --cap-drop ALL, --tmpfs, -v")
    func isolation() throws { try EngineChecks.isolation(d) }

    @Test("Docker's default seccomp profile is loaded; seccomp=unconfined loads none")
    func seccomp() throws { try EngineChecks.seccomp(d) }
}
