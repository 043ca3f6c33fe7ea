import Foundation
import Testing

/// A Kubernetes node's container runtime, as the kubelet drives it: a
/// private containerd (Debian's 1.6) with its CRI plugin, runtime handlers
/// `runc` (the control) and `skiff` (io.containerd.runc.v2 with BinaryName),
/// pods on a CNI bridge, and a CRI client (Tests/cri/cri.py over Debian's
/// python3-grpcio) that calls what the kubelet calls.
///
/// containerd runs in a mount and a network namespace of its own, with a
/// tmpfs on /run: the shims' sockets (/run/containerd/s), the runtimes'
/// state and the pods' network namespaces are there, the bridge is in that
/// network namespace, and nothing of the machine's /run or network is
/// touched. The cgroups (cgroupfs driver) go below a parent of the test's.
/// Where systemd is PID 1 (the standard-host guest) the handlers use
/// systemd's cgroup driver, as kubeadm configures it (SystemdCgroup =
/// true): each pod gets a slice, each container a scope.
final class CRINode: @unchecked Sendable {
    /// The systemd cgroup driver: on the standard-host guest.
    static let systemdDriver = inSystemdGuest
    let dir: String
    let cgroupParent = "skiff-cri-\(getpid())"
    private var daemon: Engines.Daemon?
    private var client: Process?
    private var toClient: FileHandle?
    private var fromClient: FileHandle?
    private var pending = Data()
    private let lock = NSLock()
    static let busybox = "docker.io/library/skiff-busybox:cri"
    static let pause = "skiff.test/pause:1"
    static let handlers = ["runc", "skiff"]

    /// SKIFF_CRI_TRACE=1: each call on stderr (the guest's console).
    static let trace = ProcessInfo.processInfo.environment["SKIFF_CRI_TRACE"] == "1"
    static func note(_ what: String) {
        if trace { FileHandle.standardError.write(Data("cri \(Date().timeIntervalSince1970): \(what)\n".utf8)) }
    }

    static let shared = Engines.shared({ try CRINode() }, stop: { $0.stop() })

    static var missing: String? {
        if let m = Engines.missing(
            [
                "/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc",
                "/usr/bin/protoc", "/usr/bin/python3", "/usr/lib/cni/bridge", "/usr/lib/cni/loopback",
                "/usr/lib/cni/host-local",
            ],
            packages: "containerd runc protobuf-compiler python3-grpcio containernetworking-plugins")
        {
            return m
        }
        let grpc = try? Harness.exec("/usr/bin/python3", ["-c", "import grpc, google.protobuf"])
        return grpc?.status == 0 ? nil : "python3 cannot import grpc (Debian python3-grpcio, python3-protobuf)"
    }

    /// containerd's pid: its namespaces are the node's.
    var pid: Int32 { daemon?.pid ?? -1 }
    /// Where the runc shim keeps its runtime's state (--root), in the node's /run.
    static let runtimeRoot = "/run/containerd/runc/k8s.io"

    init() throws {
        // Made before containerd starts: in the systemd guest a Foundation
        // Process started after the daemon (busybox --list for the shared
        // rootfs) was never seen to exit.
        _ = Engines.imageTar
        // The qemu guests' kernel loads nothing by itself: the CNI bridge
        // needs these (the guest's busybox has modprobe).
        if FileManager.default.isExecutableFile(atPath: "/run/cgvm-bin/busybox") {
            for m in ["bridge", "veth"] { _ = try? Self.run("/run/cgvm-bin/busybox", ["modprobe", m]) }
        }
        dir = Harness.scratch + "/cri"
        let fm = FileManager.default
        for d in ["", "/cni", "/ipam", "/logs", "/pb2"] { try fm.createDirectory(atPath: dir + d, withIntermediateDirectories: true) }
        chmod(dir + "/logs", 0o755)
        // skiff's handler is the README's, as written there.
        let skiffHandler = try Engines.readmeConfig("containerd runtime handler")
            .replacingOccurrences(of: "SystemdCgroup = true", with: "SystemdCgroup = \(Self.systemdDriver)")
        let runtimes = Self.handlers.map { h in
            h == "skiff"
                ? skiffHandler
                : """
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.\(h)]
                    runtime_type = "io.containerd.runc.v2"
                    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.\(h).options]
                      BinaryName = "/usr/sbin/runc"
                      SystemdCgroup = \(Self.systemdDriver)
                """
        }.joined(separator: "\n")
        try """
        version = 2
        root = "\(dir)/root"
        state = "\(dir)/state"
        [grpc]
          address = "\(dir)/c.sock"
        [plugins."io.containerd.internal.v1.opt"]
          path = "\(dir)/opt"
        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "\(Self.pause)"
          restrict_oom_score_adj = true
          stream_server_address = "127.0.0.1"
          stream_server_port = "0"
          enable_selinux = false
          [plugins."io.containerd.grpc.v1.cri".cni]
            bin_dir = "/usr/lib/cni"
            conf_dir = "\(dir)/cni"
          [plugins."io.containerd.grpc.v1.cri".containerd]
            default_runtime_name = "runc"
            snapshotter = "overlayfs"
        \(runtimes)

        """.write(toFile: dir + "/config.toml", atomically: true, encoding: .utf8)
        // A bridge in the node's own network namespace: no iptables, no masquerade.
        try """
        {"cniVersion": "0.4.0", "name": "skiff-test", "type": "bridge", "bridge": "skiffbr0",
         "isGateway": true, "ipMasq": false, "hairpinMode": false,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.77.0/24"}]], "dataDir": "\(dir)/ipam"}}
        """.write(toFile: dir + "/cni/10-skiff.conf", atomically: true, encoding: .utf8)
        let protoDir = Harness.packageRoot.appendingPathComponent("Tests/cri").path
        let protoc = try Harness.exec("/usr/bin/protoc", ["-I", protoDir, "--python_out=" + dir + "/pb2", protoDir + "/runtime_v1.proto"])
        guard protoc.status == 0 else { throw HarnessError("protoc: \(protoc)") }

        do {
            // unshare: a mount namespace with a private /run and a network
            // namespace with lo up; then containerd itself (exec: same pid).
            // With the systemd driver /run keeps systemd's and D-Bus's sockets
            // (the guest's /run is throw-away); only containerd's parts are private.
            let run =
                Self.systemdDriver
                ? "mkdir -p /run/containerd /run/netns && mount -t tmpfs node-run /run/containerd && mount -t tmpfs node-netns /run/netns"
                : "mount -t tmpfs -o mode=755 node-run /run"
            daemon = try Engines.startNotifying(
                "/usr/bin/unshare",
                [
                    "-m", "-n", "--propagation", "private", "/bin/sh", "-c",
                    "\(run) && ip link set lo up && exec /usr/bin/containerd --config \(dir)/config.toml",
                ], dir: dir, name: "containerd-cri", env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
            Self.note("importing images")
            try importImages()
            Self.note("starting the client")
            try startClient()
        } catch {
            stop()
            throw error
        }
    }

    func ctr(_ args: [String]) throws -> Harness.Result {
        try Engines.spawn("/usr/bin/ctr", ["-a", dir + "/c.sock", "-n", "k8s.io"] + args, env: ["PATH": "/usr/bin:/bin"])
    }

    /// The busybox image of the engine tests, and a pause image whose
    /// process is Tests/cri/pause.c.
    private func importImages() throws {
        let pauseSrc = Harness.packageRoot.appendingPathComponent("Tests/cri/pause.c").path
        let layer = dir + "/pause-root"
        try FileManager.default.createDirectory(atPath: layer, withIntermediateDirectories: true)
        Self.note("cc pause.c")
        let cc = try Self.run("/usr/bin/cc", ["-static", "-O2", "-o", layer + "/pause", pauseSrc])
        guard cc.status == 0 else { throw HarnessError("cc pause.c: \(cc)") }
        _ = try Self.run("/bin/tar", ["-C", layer, "-cf", dir + "/pause-layer.tar", "."])
        for (name, tar, config) in [
            (Self.pause, dir + "/pause-layer.tar", #"{"Entrypoint":["/pause"]}"#),
            (Self.busybox, Engines.imageTar, #"{"Env":["PATH=/bin"],"Cmd":["sh"]}"#),
        ] {
            Self.note("archive \(name)")
            let archive = try Self.ociArchive(dir: dir, name: name, layer: tar, config: config)
            Self.note("import \(name)")
            let r = try ctr(["images", "import", archive])
            guard r.status == 0 else { throw HarnessError("ctr images import \(name): \(r)") }
        }
    }

    /// One layer and a config as an OCI image layout archive (scripts/oci-archive).
    static func ociArchive(dir: String, name: String, layer: String, config: String) throws -> String {
        let out = dir + "/" + Harness.uniqueName("oci") + ".tar"
        let r = try Self.run(Harness.packageRoot.path + "/scripts/oci-archive", [out, name, layer, config])
        guard r.status == 0 else { throw HarnessError("OCI archive \(name): \(r)") }
        return out
    }

    /// cri.py, in the node's network namespace (the streaming server
    /// listens on its 127.0.0.1).
    private func startClient() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        let script = Harness.packageRoot.appendingPathComponent("Tests/cri/cri.py").path
        p.arguments = ["--net=/proc/\(pid)/ns/net", "/usr/bin/python3", script, dir + "/c.sock", dir + "/pb2"]
        p.environment = ["PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        client = p
        toClient = input.fileHandleForWriting
        fromClient = output.fileHandleForReading
        // The CRI plugin serves once its CNI config is read.
        try waitFor(seconds: 30) { (try? self.call("RuntimeService/Status", [:]))?["status"] != nil }
    }

    /// One request to cri.py, one JSON answer.
    private func roundTrip(_ request: [String: Any]) throws -> [String: Any] {
        Self.note("\(request["call"] ?? request["stream"] ?? "")")
        lock.lock()
        defer { lock.unlock() }
        guard let toClient, let fromClient else { throw HarnessError("the CRI client is not running") }
        var line = try JSONSerialization.data(withJSONObject: request)
        line.append(0x0a)
        try toClient.write(contentsOf: line)
        while !pending.contains(0x0a) {
            let chunk = fromClient.availableData
            if chunk.isEmpty { throw HarnessError("the CRI client exited") }
            pending.append(chunk)
        }
        let end = pending.firstIndex(of: 0x0a)!
        let answer = pending[pending.startIndex..<end]
        pending = Data(pending[(end + 1)...])
        return (try JSONSerialization.jsonObject(with: answer) as? [String: Any]) ?? [:]
    }

    struct CRIError: Error, CustomStringConvertible {
        var code: String
        var details: String
        var description: String { "\(code): \(details)" }
    }

    /// A CRI call ("RuntimeService/RunPodSandbox"): its response, or the
    /// gRPC error thrown as CRIError.
    @discardableResult
    func call(_ method: String, _ request: [String: Any]) throws -> [String: Any] {
        let answer = try roundTrip(["call": "runtime.v1." + method, "request": request])
        if let e = answer["error"] as? [String: Any] {
            throw CRIError(code: e["code"] as? String ?? "?", details: e["details"] as? String ?? "")
        }
        return answer["response"] as? [String: Any] ?? [:]
    }

    /// Attaches to a streaming URL (Exec, Attach) for at most `seconds`.
    func stream(_ url: String, stdin: String = "", seconds: Double = 10) throws -> (stdout: String, stderr: String, status: [String: Any]) {
        let a = try roundTrip(["stream": url, "stdin": stdin, "seconds": seconds])
        if let e = a["error"] { throw HarnessError("stream \(url): \(e)") }
        return (a["stdout"] as? String ?? "", a["stderr"] as? String ?? "", a["status"] as? [String: Any] ?? [:])
    }

    /// A command in the node's mount and network namespaces.
    func onNode(_ script: String) throws -> Harness.Result {
        try Self.run("/usr/bin/nsenter", ["--mount=/proc/\(pid)/ns/mnt", "--net=/proc/\(pid)/ns/net", "/bin/sh", "-c", script])
    }

    /// The systemd driver's pods go in slices below this one.
    static let podSliceRoot = "skiffcri"

    /// A pod's cgroup parent as the kubelet gives it: a directory below
    /// the test's (cgroupfs), or a slice (systemd).
    func cgroupParent(pod uid: String) -> String {
        Self.systemdDriver
            ? "\(Self.podSliceRoot)-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice"
            : "/\(cgroupParent)/pod\(uid)"
    }

    /// Programs run with posix_spawn and waitpid, not Foundation's Process:
    /// in the systemd guest, once the daemon ran as a Process, the next
    /// Process's exit was never seen (a cc that had exited hung the test).
    static func run(_ path: String, _ args: [String]) throws -> Harness.Result {
        try Engines.spawn(path, args, env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
    }

    /// Running, not a zombie.
    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    func stop() {
        // Pods first: their shims live in the node's namespaces.
        if let pods = try? call("RuntimeService/ListPodSandbox", [:])["items"] as? [[String: Any]] {
            for p in pods {
                guard let id = p["id"] as? String else { continue }
                _ = try? call("RuntimeService/StopPodSandbox", ["pod_sandbox_id": id])
                _ = try? call("RuntimeService/RemovePodSandbox", ["pod_sandbox_id": id])
            }
        }
        try? toClient?.close()
        let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt")
        // Signals and /proc, not Process.waitUntilExit: this also runs from
        // atexit, where Foundation no longer sees its children exit.
        for p in [client?.processIdentifier, daemon?.pid].compactMap({ $0 }) where p > 0 {
            kill(p, SIGTERM)
            for _ in 0..<200 where Self.alive(p) { usleep(50_000) }
            if Self.alive(p) { kill(p, SIGKILL) }
        }
        daemon = nil
        client = nil
        // Whatever still runs in the node's mount namespace (a shim of a pod
        // the daemon could not stop) goes with it.
        if let ns {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let p = Int32(name), (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p)/ns/mnt")) == ns
                else { continue }
                kill(p, SIGKILL)
            }
        }
        if Self.systemdDriver { _ = try? Self.run("/usr/bin/systemctl", ["stop", Self.podSliceRoot + ".slice"]) }
        let hierarchies =
            ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [])
            .map { "/sys/fs/cgroup/" + $0 } + ["/sys/fs/cgroup"]
        for h in hierarchies {
            let parent = h + "/" + cgroupParent
            for sub in Engines.subdirectories(parent).reversed() { rmdir(sub) }
            rmdir(parent)
        }
    }
}
