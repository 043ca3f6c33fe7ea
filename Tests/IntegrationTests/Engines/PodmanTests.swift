import Foundation
import Testing

/// Debian's podman 4.3 with skiff as its runtime through the README's
/// containers.conf (through conmon), with its storage under the test's
/// scratch directory.
final class Podman: @unchecked Sendable {
    let dir: String
    /// podman's cgroup_manager: cgroupfs here, systemd where systemd is PID 1
    /// (it then runs skiff with --systemd-cgroup).
    let cgroupManager: String
    private let leftovers: Engines.HostLeftovers
    let mounts: EngineNamespace
    static let image = "localhost/skiff-busybox:test"

    /// podman's default cgroup manager: systemd where it is PID 1.
    static let shared = Engines.shared({ try Podman(cgroupManager: Host.systemdPID1 ? "systemd" : "cgroupfs") }, stop: { $0.stop() })

    static var missing: String? { Engines.missing(["/usr/bin/podman", "/usr/bin/conmon"], packages: "podman and conmon") }

    init(cgroupManager: String = "cgroupfs") throws {
        self.cgroupManager = cgroupManager
        dir = Harness.scratch + "/pd-" + cgroupManager
        // podman keeps a blob cache in /var/lib/containers/cache whatever
        // --root says (private in the namespace), and puts conmon in
        // libpod_parent/conmon (cgroupfs).
        leftovers = Engines.HostLeftovers(cgroupParents: ["libpod_parent"])
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        mounts = try EngineNamespace(dir: dir + "/ns")
        // The README's containers.conf, in place of /etc/containers/containers.conf.
        try Engines.readmeConfig("podman containers.conf").write(toFile: dir + "/containers.conf", atomically: true, encoding: .utf8)
        let r = try podman(["import", Engines.imageTar, Podman.image])
        guard r.status == 0 else {
            stop()
            throw HarnessError("podman import: \(r)")
        }
    }

    /// Rootful podman passes no --root to its OCI runtime (as with runc,
    /// whose state then goes to /run/runc): skiff's default, /run/skiff, in
    /// the engine's namespace. (podman 4.3's cleanup process, which conmon
    /// starts, is not given --runtime-flag: a root set so would not be the
    /// one its `delete` uses.)
    var skiffRoot: String { mounts.inside("/run/skiff") }

    func podman(_ args: [String], stdin: String? = nil) throws -> Harness.Result {
        let (path, argv) = mounts.enter(
            "/usr/bin/podman",
            [
                "--root", dir + "/root", "--runroot", dir + "/run", "--tmpdir", dir + "/tmp",
                "--cgroup-manager", cgroupManager, "--events-backend", "file", "--storage-driver", "vfs",
            ] + args)
        return try Engines.spawn(
            path, argv,
            // conmon writes its OOM marker, `oom`, to the
            // directory it starts in as well as to its own.
            env: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": dir, "CONTAINERS_CONF": dir + "/containers.conf"],
            stdin: stdin, cwd: dir)
    }

    /// podman asks for RLIMIT_NOFILE and RLIMIT_NPROC of 1048576 unless told
    /// otherwise; raising a hard limit needs CAP_SYS_RESOURCE, which root
    /// on some hosts (these test machines among them) does not have, so no
    /// runtime could apply them. Limits below what conmon has (podman
    /// starts it with NPROC 32768) are asked for instead.
    static var ulimits: [String] {
        var nofile = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &nofile)
        return ["--ulimit", "nofile=1024:\(nofile.rlim_max)", "--ulimit", "nproc=4096:4096"]
    }

    func stop() {
        let ids = (try? podman(["ps", "-aq"]).stdout.split(separator: "\n").map(String.init)) ?? []
        if !ids.isEmpty { _ = try? podman(["rm", "-f", "-t", "0"] + ids) }
        _ = try? podman(["system", "reset", "--force"])
        mounts.stop()
        leftovers.clean()
    }
}

extension Podman: EngineCLI {
    var name: String { "podman" }
    func cli(_ args: [String], stdin: String?) throws -> Harness.Result { try podman(args, stdin: stdin) }
    var runFlags: [String] { Podman.ulimits }
    var namespace: EngineNamespace? { mounts }
    func cgroup(of id: String) -> String {
        cgroupManager == "systemd" ? "/machine.slice/libpod-\(id).scope" : "/libpod_parent/libpod-\(id)"
    }
    var image: String { Podman.image }
    /// podman 4.3 with conmon 2.1 says OOMKilled=false on this cgroup v1
    /// host whichever runtime runs the container (runc 1.1.5 as well): the
    /// exit status 137 is checked, the flag is not.
    var reportsOOMKilled: Bool { false }
    var updatesPidsLimit: Bool { false }
    /// podman 4.3 shows the limit the container was created with (64m),
    /// with runc as well.
    var statsLimitAfterUpdate: String { "67.11MB" }
}

@Suite(.enabled(if: Podman.missing == nil, "needs /usr/bin/podman and /usr/bin/conmon (Debian podman and conmon; scripts/deps installs them)"))
struct PodmanTests {
    let p: Podman

    init() throws { p = try Podman.shared.get() }

    @Test("podman run: output, exit codes (42; a missing program is 127), -t through conmon's console socket, -i")
    func runAndExitCodes() throws { try EngineChecks.runAndExitCodes(p) }

    @Test(
        "a detached container: ps shows it Up; exec (output, status, stdin, tty); logs; pause; stop escalating to KILL; start; kill; restart; rm leaves nothing"
    )
    func lifecycle() throws { try EngineChecks.lifecycle(p) }

    @Test("--memory 32m OOM-kills a 64 MB allocation and inspect says OOMKilled; --memory, --pids-limit, --cpus, --cpuset-cpus read back inside")
    func limits() throws { try EngineChecks.limits(p) }

    @Test("update of a running container's memory, pids and cpu limits, read back inside; stats shows the new memory limit")
    func update() throws { try EngineChecks.update(p) }

    @Test("--network none and host, --read-only, --user, --cap-drop ALL, --tmpfs, -v")
    func isolation() throws { try EngineChecks.isolation(p) }

    @Test("podman's default seccomp profile (containers-common) is loaded; seccomp=unconfined loads none")
    func seccomp() throws { try EngineChecks.seccomp(p) }
}
