import Foundation
import Testing

/// A Docker-compatible command line (docker, podman) with skiff as its
/// runtime: the same checks run through both.
protocol EngineCLI {
    var name: String { get }
    /// The client with its global flags.
    func cli(_ args: [String], stdin: String?) throws -> Harness.Result
    /// Flags every `run` gets: the runtime, and what the host needs.
    var runFlags: [String] { get }
    var image: String { get }
    /// Where skiff keeps its state for this engine.
    var skiffRoot: String { get }
    /// Whether `inspect` says OOMKilled on this host at all (with runc too).
    var reportsOOMKilled: Bool { get }
}

extension EngineCLI {
    func cli(_ args: String...) throws -> Harness.Result { try cli(args, stdin: nil) }

    /// `run --rm --network none <flags> IMAGE args...`
    func run(_ flags: [String] = [], _ args: String..., stdin: String? = nil) throws -> Harness.Result {
        try cli(["run", "--rm", "--network", "none"] + runFlags + flags + [image] + args, stdin: stdin)
    }

    func inspect(_ id: String, _ format: String) throws -> String {
        try cli("inspect", "-f", format, id).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// What users do with an engine, checked from inside the container.
enum EngineChecks {
    static func runAndExitCodes(_ e: EngineCLI) throws {
        let r = try e.run([], "sh", "-c", "echo hello from skiff")
        #expect(r.status == 0 && r.stdout == "hello from skiff\n", "\(e.name): \(r)")
        #expect(try e.run([], "sh", "-c", "exit 42").status == 42, "\(e.name)")
        let missing = try e.run([], "/no/such/program")
        #expect(missing.status == 127, "\(e.name): \(missing)")
        let t = try e.run(["-t"], "tty")
        #expect(t.status == 0 && t.stdout.hasPrefix("/dev/pts/0"), "\(e.name): \(t)")
        let i = try e.run(["-i"], "sh", "-c", "read x; echo got $x", stdin: "line\n")
        #expect(i.stdout == "got line\n", "\(e.name): \(i)")
    }

    static func lifecycle(_ e: EngineCLI) throws {
        let name = Harness.uniqueName("eng")
        let r = try e.cli(["run", "-d", "--name", name, "--network", "none"] + e.runFlags
                          + [e.image, "sh", "-c", "echo started; trap 'echo got TERM' TERM; while true; do sleep 0.1; done"], stdin: nil)
        #expect(r.status == 0, "\(e.name): \(r)")
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? e.cli("rm", "-f", name) }
        #expect(try e.cli("ps", "--filter", "name=\(name)", "--format", "{{.Status}}").stdout.hasPrefix("Up"), "\(e.name)")

        let ex = try e.cli("exec", name, "sh", "-c", "echo in $(hostname); exit 3")
        #expect(ex.status == 3 && ex.stdout == "in \(id.prefix(12))\n", "\(e.name): \(ex)")
        let i = try e.cli(["exec", "-i", name, "sh", "-c", "read x; echo got $x"], stdin: "line\n")
        #expect(i.stdout == "got line\n", "\(e.name): \(i)")
        let t = try e.cli("exec", "-t", name, "tty")
        #expect(t.status == 0 && t.stdout.hasPrefix("/dev/pts/"), "\(e.name): \(t)")
        #expect(try e.cli("logs", name).stdout.hasPrefix("started\n"), "\(e.name)")

        #expect(try e.cli("pause", name).status == 0, "\(e.name)")
        #expect(try e.inspect(name, "{{.State.Status}}") == "paused", "\(e.name)")
        #expect(try e.cli("unpause", name).status == 0, "\(e.name)")
        #expect(try e.inspect(name, "{{.State.Status}}") == "running", "\(e.name)")

        // TERM is delivered (the trap prints) but does not stop it: KILL after 2 s.
        #expect(try e.cli("stop", "-t", "2", name).status == 0, "\(e.name)")
        #expect(try e.inspect(name, "{{.State.ExitCode}}") == "137", "\(e.name)")
        try waitFor { (try? e.cli("logs", name).stdout.contains("got TERM")) == true }

        #expect(try e.cli("start", name).status == 0, "\(e.name)")
        #expect(try e.inspect(name, "{{.State.Status}}") == "running", "\(e.name)")
        #expect(try e.cli("kill", name).status == 0, "\(e.name)")
        try waitFor { (try? e.inspect(name, "{{.State.Status}}")) != "running" }
        #expect(try e.inspect(name, "{{.State.ExitCode}}") == "137", "\(e.name)")
        #expect(try e.cli("restart", "-t", "1", name).status == 0, "\(e.name)")
        #expect(try e.inspect(name, "{{.State.Status}}") == "running", "\(e.name)")
        // The root looked in below is the one the engine has skiff use.
        #expect(FileManager.default.fileExists(atPath: e.skiffRoot + "/" + id + "/state.json"), "\(e.name): no state in \(e.skiffRoot)")
        #expect(try e.cli("rm", "-f", name).status == 0, "\(e.name)")
        // The engine's helpers (conmon) may still be leaving.
        try? waitFor { Engines.skiffTraces(root: e.skiffRoot, id: id).isEmpty }
        #expect(Engines.skiffTraces(root: e.skiffRoot, id: id).isEmpty, "\(e.name): \(Engines.skiffTraces(root: e.skiffRoot, id: id))")
    }

    static func limits(_ e: EngineCLI) throws {
        let name = Harness.uniqueName("engoom")
        let oom = try e.cli(["run", "--name", name, "--network", "none", "--memory", "32m", "--memory-swap", "32m"]
                            + e.runFlags + [e.image, "sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"],
                            stdin: nil)
        #expect(oom.status == 137, "\(e.name): \(oom)")
        if e.reportsOOMKilled {
            #expect(try e.inspect(name, "{{.State.OOMKilled}}") == "true", "\(e.name)")
        }
        _ = try e.cli("rm", "-f", name)

        let pids = try e.run(["--pids-limit", "20"], "cat", "/sys/fs/cgroup/pids/pids.max")
        #expect(pids.stdout == "20\n", "\(e.name): \(pids)")
        let cpus = try e.run(["--cpus", "0.5"], "sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")
        #expect(cpus.stdout == "50000\n100000\n", "\(e.name): \(cpus)")
    }

    static func isolation(_ e: EngineCLI) throws {
        let none = try e.run([], "sh", "-c", "ls /sys/class/net")
        #expect(none.stdout == "lo\n", "\(e.name): \(none)")
        let host = try e.cli(["run", "--rm", "--network", "host"] + e.runFlags + [e.image, "readlink", "/proc/self/ns/net"], stdin: nil)
        let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        #expect(host.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == ours, "\(e.name): \(host)")
        let ro = try e.run(["--read-only"], "touch", "/x")
        #expect(ro.status != 0 && ro.stderr.contains("Read-only file system"), "\(e.name): \(ro)")
        let user = try e.run(["--user", "1000:1000", "--cap-drop", "ALL"], "sh", "-c", "id -u; id -g; grep CapEff /proc/self/status")
        #expect(user.stdout == "1000\n1000\nCapEff:\t0000000000000000\n", "\(e.name): \(user)")
        let tmpfs = try e.run(["--tmpfs", "/scratch:size=1m"], "sh", "-c", "grep ' /scratch ' /proc/self/mounts")
        #expect(tmpfs.stdout.hasPrefix("tmpfs /scratch tmpfs"), "\(e.name): \(tmpfs)")
        let dir = Harness.scratch + "/" + Harness.uniqueName("vol")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "from host\n".write(toFile: dir + "/f", atomically: true, encoding: .utf8)
        let v = try e.run(["-v", "\(dir):/data"], "cat", "/data/f")
        #expect(v.stdout == "from host\n", "\(e.name): \(v)")
    }

    static func seccomp(_ e: EngineCLI) throws {
        let on = try e.run([], "grep", "Seccomp:", "/proc/self/status")
        #expect(on.stdout == "Seccomp:\t2\n", "\(e.name): the engine's default profile: \(on)")
        let off = try e.run(["--security-opt", "seccomp=unconfined"], "grep", "Seccomp:", "/proc/self/status")
        #expect(off.stdout == "Seccomp:\t0\n", "\(e.name): \(off)")
    }
}
