import Foundation
import Testing

/// A private containerd (Debian's 1.6) driven by `ctr` with the runc v2
/// shim and skiff as its runc binary, as Kubernetes' containerd would run it.
final class ContainerdDaemon: @unchecked Sendable {
    let dir: String
    let namespace = "skiff-\(getpid())"
    let mounts: EngineNamespace
    private var daemon: Engines.Daemon?
    private let leftovers: Engines.HostLeftovers
    static let image = "docker.io/library/skiff-busybox:test"

    static let shared = Engines.shared({ try ContainerdDaemon() }, stop: { $0.stop() })

    static var missing: String? {
        Engines.missing(["/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2"], packages: "containerd")
    }

    /// The shim's runc root (not configurable from ctr): skiff's state.
    var skiffRoot: String { mounts.inside("/run/containerd/runc/" + namespace) }

    init() throws {
        dir = Harness.scratch + "/ctrd"
        leftovers = Engines.HostLeftovers(cgroupParents: [namespace])
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        mounts = try EngineNamespace(dir: dir + "/ns")
        try """
        version = 2
        root = "\(dir)/root"
        state = "\(dir)/state"
        disabled_plugins = ["io.containerd.grpc.v1.cri"]
        [grpc]
          address = "\(dir)/c.sock"
        [plugins."io.containerd.internal.v1.opt"]
          path = "\(dir)/opt"

        """.write(toFile: dir + "/config.toml", atomically: true, encoding: .utf8)
        do {
            daemon = try Engines.startNotifying(
                mounts.enter("/usr/bin/containerd", ["--config", dir + "/config.toml"]), dir: dir,
                name: "containerd")
            let archive = try ContainerdDaemon.ociArchive(dir: dir)
            let r = try ctr(["images", "import", archive])
            guard r.status == 0 else { throw HarnessError("ctr images import: \(r)") }
        } catch {
            stop()
            throw error
        }
    }

    /// The busybox rootfs as an OCI image layout archive (ctr imports those).
    static func ociArchive(dir: String) throws -> String {
        try CRINode.ociArchive(dir: dir, name: image, layer: Engines.imageTar, config: #"{"Env":["PATH=/bin"],"Cmd":["sh"]}"#)
    }

    /// ctr in the namespace: it makes its fifos in /run/containerd/fifo.
    func ctr(_ args: [String], stdin: String? = nil) throws -> Harness.Result {
        let (path, argv) = mounts.enter("/usr/bin/ctr", ["-a", dir + "/c.sock", "-n", namespace] + args)
        return try Engines.spawn(path, argv, env: ["PATH": "/usr/bin:/bin"], stdin: stdin)
    }

    func stop() {
        if daemon?.isRunning == true {
            for id in (try? ctr(["tasks", "ls", "-q"]).stdout.split(separator: "\n").map(String.init)) ?? [] {
                _ = try? ctr(["tasks", "kill", "-s", "SIGKILL", id])
                _ = try? ctr(["tasks", "rm", "-f", id])
            }
            for id in (try? ctr(["containers", "ls", "-q"]).stdout.split(separator: "\n").map(String.init)) ?? [] {
                _ = try? ctr(["containers", "rm", id])
            }
        }
        daemon?.stop()
        daemon = nil
        mounts.stop()
        leftovers.clean()
    }
}

@Suite(
    .enabled(if: ContainerdDaemon.missing == nil, "needs /usr/bin/containerd, ctr and containerd-shim-runc-v2 (Debian containerd; scripts/deps installs it)"))
struct ContainerdTests {
    let d: ContainerdDaemon

    init() throws { d = try ContainerdDaemon.shared.get() }

    /// containerd's runc options as kubeadm sets them where systemd is PID 1
    /// (SystemdCgroup = true): skiff gets --systemd-cgroup, the container a
    /// scope in system.slice.
    static let systemdDriver = Host.systemdPID1

    func run(_ flags: [String], _ id: String, _ args: String...) throws -> Harness.Result {
        let driver = Self.systemdDriver ? ["--runc-systemd-cgroup", "--cgroup", "system.slice:skiff-ctr:\(id)"] : []
        return try d.ctr(["run", "--runc-binary", Harness.binary] + driver + flags + [ContainerdDaemon.image, id] + args)
    }

    /// The container's cgroup directory on the host.
    func cgroupDir(_ id: String) -> String {
        if Self.systemdDriver { return "/sys/fs/cgroup/system.slice/skiff-ctr-\(id).scope" }
        return Host.cgroupV2 ? "/sys/fs/cgroup/\(d.namespace)/\(id)" : "/sys/fs/cgroup/memory/\(d.namespace)/\(id)"
    }

    func status(_ id: String) throws -> String {
        let line = try d.ctr(["tasks", "ls"]).stdout.split(separator: "\n").first { $0.hasPrefix(id + " ") }
        return line?.split(separator: " ").last.map(String.init) ?? ""
    }

    @Test("ctr run: output and the exit status come back through the shim")
    func run() throws {
        let id = Harness.uniqueName("ctr")
        let r = try run(["--rm"], id, "sh", "-c", "echo hello from ctr; exit 7")
        #expect(r.status == 7 && r.stdout == "hello from ctr\n", "\(r)")
        #expect(Engines.skiffTraces(root: d.skiffRoot, id: id, namespace: d.mounts).isEmpty)
    }

    @Test("a detached task: exec, ps, pause and resume, kill, delete; --memory-limit in its cgroup")
    func task() throws {
        let id = Harness.uniqueName("ctrd")
        let r = try run(["-d", "--memory-limit", "33554432"], id, "sleep", "60")
        #expect(r.status == 0, "\(r)")
        #expect(try status(id) == "RUNNING")
        let e = try d.ctr(["tasks", "exec", "--exec-id", "e1", id, "sh", "-c", "echo exec ok; exit 5"])
        #expect(e.status == 5 && e.stdout == "exec ok\n", "\(e)")
        let ps = try d.ctr(["tasks", "ps", id])
        #expect(ps.status == 0 && ps.stdout.split(separator: "\n").count >= 2, "\(ps)")
        #expect(fileText(cgroupDir(id) + (Host.cgroupV2 ? "/memory.max" : "/memory.limit_in_bytes")) == "33554432", "\(cgroupDir(id))")
        if Self.systemdDriver { #expect(Systemctl.show("skiff-ctr-\(id).scope", "MemoryMax") == "33554432") }

        #expect(try d.ctr(["tasks", "pause", id]).status == 0)
        #expect(try status(id) == "PAUSED")
        #expect(try d.ctr(["tasks", "resume", id]).status == 0)
        #expect(try status(id) == "RUNNING")
        #expect(try d.ctr(["tasks", "kill", "-s", "SIGKILL", id]).status == 0)
        try waitFor { (try? status(id)) == "STOPPED" }
        #expect(try d.ctr(["tasks", "rm", id]).status == 0)
        #expect(try d.ctr(["containers", "rm", id]).status == 0)
        #expect(
            Engines.skiffTraces(root: d.skiffRoot, id: id, namespace: d.mounts).isEmpty,
            "\(Engines.skiffTraces(root: d.skiffRoot, id: id, namespace: d.mounts))")
        if Self.systemdDriver { #expect(!Systemctl.loaded("skiff-ctr-\(id).scope"), "the scope is gone") }
    }
}
