import Foundation
import Testing

/// A private dockerd (Debian's docker.io 20.10) with its own containerd,
/// skiff registered as a runtime. Started once for the suite; stopped, and
/// what it made on the host removed, when the test process exits.
final class DockerDaemon: @unchecked Sendable {
    let dir: String
    let skiffRoot: String
    private var containerd: Process?
    private var dockerd: Process?
    private let leftovers: Engines.HostLeftovers
    static let image = "skiff-busybox:test"

    static let shared = Engines.shared({ try DockerDaemon() }, stop: { $0.stop() })

    static var missing: String? {
        Engines.missing(["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2"],
                        packages: "docker.io and containerd")
    }

    init() throws {
        dir = Harness.scratch + "/dk"
        skiffRoot = dir + "/exec/runtime-runc/moby"
        leftovers = Engines.HostLeftovers(paths: ["/run/containerd", "/run/docker", "/etc/docker/key.json"],
                                          cgroupParents: ["docker"])
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
        // Keeps dockerd from writing /etc/docker/key.json.
        try #"{"deprecated-key-path": "\#(dir)/key.json"}"#.write(toFile: dir + "/daemon.json", atomically: true, encoding: .utf8)
        do {
            containerd = try Engines.startNotifying("/usr/bin/containerd", ["--config", dir + "/containerd.toml"],
                                                    dir: dir, name: "containerd")
            dockerd = try Engines.startNotifying("/usr/sbin/dockerd", [
                "--data-root", dir + "/data", "--exec-root", dir + "/exec", "-H", "unix://\(dir)/docker.sock",
                "--pidfile", dir + "/docker.pid", "--containerd", dir + "/cd.sock", "--config-file", dir + "/daemon.json",
                "--add-runtime", "skiff=\(Harness.binary)", "--bridge=none", "--iptables=false", "--ip6tables=false",
                "--storage-driver=vfs",
            ], dir: dir, name: "dockerd")
            let imported = try docker(["import", Engines.imageTar, DockerDaemon.image])
            guard imported.status == 0 else { throw HarnessError("docker import: \(imported)") }
        } catch {
            stop()
            throw error
        }
    }

    func docker(_ args: [String], stdin: String? = nil) throws -> Harness.Result {
        try Engines.spawn("/usr/bin/docker", ["-H", "unix://\(dir)/docker.sock"] + args,
                         env: ["PATH": "/usr/bin:/bin", "HOME": dir], stdin: stdin)
    }

    func stop() {
        if dockerd?.isRunning == true {
            let ids = (try? docker(["ps", "-aq"]).stdout.split(separator: "\n").map(String.init)) ?? []
            if !ids.isEmpty { _ = try? docker(["rm", "-f"] + ids) }
        }
        Engines.stop(dockerd)
        Engines.stop(containerd)
        dockerd = nil
        containerd = nil
        Engines.unmountBelow(dir)
        leftovers.clean()
    }
}

@Suite(.enabled(if: DockerDaemon.missing == nil, "needs /usr/sbin/dockerd, /usr/bin/docker and containerd with its runc v2 shim (Debian docker.io and containerd; scripts/deps installs them)"), .enabled(if: !inCgroup2Guest)) struct DockerTests {
    let d: DockerDaemon

    init() throws { d = try DockerDaemon.shared.get() }

    /// `docker run --rm --runtime skiff IMAGE args...` with extra flags.
    func run(_ flags: [String] = [], _ args: String..., stdin: String? = nil) throws -> Harness.Result {
        try d.docker(["run", "--rm", "--runtime", "skiff", "--network", "none"] + flags + [DockerDaemon.image] + args,
                     stdin: stdin)
    }

    func inspect(_ id: String, _ format: String) throws -> String {
        try d.docker(["inspect", "-f", format, id]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("run --rm: output and exit codes (42; a missing program is 127)")
    func runAndExitCodes() throws {
        let r = try run([], "sh", "-c", "echo hello from skiff")
        #expect(r.status == 0 && r.stdout == "hello from skiff\n", "\(r)")
        #expect(try run([], "sh", "-c", "exit 42").status == 42)
        let missing = try run([], "/no/such/program")
        #expect(missing.status == 127, "\(missing)")
    }

    @Test("a detached container: ps shows it Up; exec (output, status, stdin, tty); logs; pause; stop escalating to KILL; start; kill; restart; rm leaves nothing")
    func lifecycle() throws {
        let name = Harness.uniqueName("dk")
        let r = try d.docker(["run", "-d", "--name", name, "--runtime", "skiff", "--network", "none", DockerDaemon.image,
                              "sh", "-c", "echo started; trap 'echo got TERM' TERM; while true; do sleep 0.1; done"])
        #expect(r.status == 0, "\(r)")
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try d.docker(["ps", "--filter", "name=\(name)", "--format", "{{.Status}}"]).stdout.hasPrefix("Up"))

        let e = try d.docker(["exec", name, "sh", "-c", "echo in $(hostname); exit 3"])
        #expect(e.status == 3 && e.stdout == "in \(id.prefix(12))\n", "\(e)")
        let i = try d.docker(["exec", "-i", name, "sh", "-c", "read x; echo got $x"], stdin: "line\n")
        #expect(i.stdout == "got line\n", "\(i)")
        let t = try d.docker(["exec", "-t", name, "tty"])
        #expect(t.status == 0 && t.stdout.hasPrefix("/dev/pts/"), "\(t)")
        #expect(try d.docker(["logs", name]).stdout.hasPrefix("started\n"))

        #expect(try d.docker(["pause", name]).status == 0)
        #expect(try inspect(name, "{{.State.Status}}") == "paused")
        #expect(try d.docker(["unpause", name]).status == 0)
        #expect(try inspect(name, "{{.State.Status}}") == "running")

        // TERM is delivered (the trap prints) but does not stop it: KILL after 2 s.
        #expect(try d.docker(["stop", "-t", "2", name]).status == 0)
        #expect(try inspect(name, "{{.State.ExitCode}}") == "137")
        try waitFor { (try? d.docker(["logs", name]).stdout.contains("got TERM")) == true }

        #expect(try d.docker(["start", name]).status == 0)
        #expect(try inspect(name, "{{.State.Status}}") == "running")
        #expect(try d.docker(["kill", name]).status == 0)
        #expect(try inspect(name, "{{.State.ExitCode}}") == "137")
        #expect(try d.docker(["restart", "-t", "1", name]).status == 0)
        #expect(try inspect(name, "{{.State.Status}}") == "running")
        #expect(try d.docker(["rm", "-f", name]).status == 0)
        #expect(Engines.skiffTraces(root: d.skiffRoot, id: id).isEmpty, "\(Engines.skiffTraces(root: d.skiffRoot, id: id))")
    }

    @Test("run -t gives a terminal")
    func tty() throws {
        let r = try run(["-t"], "tty")
        #expect(r.status == 0 && r.stdout.hasPrefix("/dev/pts/0"), "\(r)")
    }

    @Test("--memory 32m OOM-kills a 64 MB allocation and inspect says OOMKilled; --pids-limit; --cpus")
    func limits() throws {
        let name = Harness.uniqueName("dkoom")
        let oom = try d.docker(["run", "--name", name, "--runtime", "skiff", "--network", "none", "--memory", "32m",
                                "--memory-swap", "32m", DockerDaemon.image,
                                "sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"])
        #expect(oom.status == 137, "\(oom)")
        #expect(try inspect(name, "{{.State.OOMKilled}}") == "true")
        _ = try d.docker(["rm", "-f", name])

        let pids = try run(["--pids-limit", "20"], "cat", "/sys/fs/cgroup/pids/pids.max")
        #expect(pids.stdout == "20\n", "\(pids)")
        let cpus = try run(["--cpus", "0.5"], "sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")
        #expect(cpus.stdout == "50000\n100000\n", "\(cpus)")
    }

    @Test("--network none and host, --read-only, --user, --cap-drop ALL, --tmpfs, -v")
    func isolation() throws {
        let none = try run([], "sh", "-c", "ls /sys/class/net")
        #expect(none.stdout == "lo\n", "\(none)")
        let host = try d.docker(["run", "--rm", "--runtime", "skiff", "--network", "host", DockerDaemon.image,
                                 "readlink", "/proc/self/ns/net"])
        #expect(host.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")), "\(host)")
        let ro = try run(["--read-only"], "touch", "/x")
        #expect(ro.status != 0 && ro.stderr.contains("Read-only file system"), "\(ro)")
        let user = try run(["--user", "1000:1000", "--cap-drop", "ALL"], "sh", "-c", "id -u; id -g; grep CapEff /proc/self/status")
        #expect(user.stdout == "1000\n1000\nCapEff:\t0000000000000000\n", "\(user)")
        let tmpfs = try run(["--tmpfs", "/scratch:size=1m"], "sh", "-c", "grep ' /scratch ' /proc/self/mounts")
        #expect(tmpfs.stdout.hasPrefix("tmpfs /scratch tmpfs"), "\(tmpfs)")
        let host_dir = Harness.scratch + "/" + Harness.uniqueName("vol")
        try FileManager.default.createDirectory(atPath: host_dir, withIntermediateDirectories: true)
        try "from host\n".write(toFile: host_dir + "/f", atomically: true, encoding: .utf8)
        let v = try run(["-v", "\(host_dir):/data"], "cat", "/data/f")
        #expect(v.stdout == "from host\n", "\(v)")
    }

    @Test("Docker's default seccomp profile is loaded; seccomp=unconfined loads none")
    func seccomp() throws {
        let on = try run([], "grep", "Seccomp:", "/proc/self/status")
        #expect(on.stdout == "Seccomp:\t2\n", "\(on)")
        let off = try run(["--security-opt", "seccomp=unconfined"], "grep", "Seccomp:", "/proc/self/status")
        #expect(off.stdout == "Seccomp:\t0\n", "\(off)")
    }
}
