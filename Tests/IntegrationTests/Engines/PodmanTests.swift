import Foundation
import Testing

/// Debian's podman 4.3 with `--runtime skiff` (through conmon), with its
/// storage under the test's scratch directory.
final class Podman: @unchecked Sendable {
    let dir: String
    private let leftovers: Engines.HostLeftovers
    static let image = "localhost/skiff-busybox:test"

    static let shared = Engines.shared({ try Podman() }, stop: { $0.stop() })

    static var missing: String? { Engines.missing(["/usr/bin/podman", "/usr/bin/conmon"], packages: "podman and conmon") }

    init() throws {
        dir = Harness.scratch + "/pd"
        // podman keeps a blob cache in /var/lib/containers/cache whatever
        // --root says, and puts conmon in libpod_parent/conmon (cgroupfs).
        leftovers = Engines.HostLeftovers(paths: ["/var/lib/containers"], cgroupParents: ["libpod_parent"])
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        let r = try podman(["import", Engines.imageTar, Podman.image])
        guard r.status == 0 else {
            stop()
            throw HarnessError("podman import: \(r)")
        }
    }

    var skiffRoot: String { dir + "/run/runc" }

    func podman(_ args: [String], stdin: String? = nil) throws -> Harness.Result {
        try Engines.spawn("/usr/bin/podman", ["--root", dir + "/root", "--runroot", dir + "/run", "--tmpdir", dir + "/tmp",
                                              "--runtime", Harness.binary, "--cgroup-manager", "cgroupfs",
                                              "--events-backend", "file", "--storage-driver", "vfs"] + args,
                          env: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": dir], stdin: stdin)
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
        Engines.unmountBelow(dir)
        leftovers.clean()
    }
}

@Suite(.enabled(if: Podman.missing == nil, "needs /usr/bin/podman and /usr/bin/conmon (Debian podman and conmon; scripts/deps installs them)"), .enabled(if: !inCgroup2Guest)) struct PodmanTests {
    let p: Podman

    init() throws { p = try Podman.shared.get() }

    func run(_ flags: [String] = [], _ args: String..., stdin: String? = nil) throws -> Harness.Result {
        try p.podman(["run", "--rm", "--network", "none"] + Podman.ulimits + flags + [Podman.image] + args, stdin: stdin)
    }

    @Test("podman run: output, exit codes, its default seccomp profile, --memory, -t")
    func run() throws {
        let r = try run([], "sh", "-c", "echo hello from podman; grep Seccomp: /proc/self/status")
        #expect(r.status == 0 && r.stdout == "hello from podman\nSeccomp:\t2\n", "\(r)")
        #expect(try run([], "sh", "-c", "exit 42").status == 42)
        #expect(try run([], "/no/such/program").status == 127)
        let mem = try run(["--memory", "32m"], "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
        #expect(mem.stdout == "33554432\n", "\(mem)")
        let t = try run(["-t"], "tty")
        #expect(t.stdout.hasPrefix("/dev/pts/0"), "through conmon's console socket: \(t)")
        let i = try run(["-i"], "sh", "-c", "read x; echo got $x", stdin: "line\n")
        #expect(i.stdout == "got line\n", "\(i)")
    }

    @Test("a detached container: exec (with -t), pause, stop, rm leaves nothing of skiff's")
    func lifecycle() throws {
        let name = Harness.uniqueName("pd")
        let r = try p.podman(["run", "-d", "--name", name, "--network", "none"] + Podman.ulimits + [Podman.image, "sleep", "60"])
        #expect(r.status == 0, "\(r)")
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let e = try p.podman(["exec", name, "sh", "-c", "echo exec ok; exit 4"])
        #expect(e.status == 4 && e.stdout == "exec ok\n", "\(e)")
        let t = try p.podman(["exec", "-t", name, "tty"])
        #expect(t.stdout.hasPrefix("/dev/pts/"), "\(t)")
        #expect(try p.podman(["pause", name]).status == 0)
        #expect(try p.podman(["inspect", "-f", "{{.State.Status}}", name]).stdout == "paused\n")
        #expect(try p.podman(["unpause", name]).status == 0)
        #expect(try p.podman(["stop", "-t", "1", name]).status == 0)
        #expect(try p.podman(["rm", name]).status == 0)
        #expect(Engines.skiffTraces(root: p.skiffRoot, id: id).isEmpty, "\(Engines.skiffTraces(root: p.skiffRoot, id: id))")
    }
}
