import Foundation
import Testing

/// `exec`: a new process in a running container, checked from inside.
@Suite struct ExecTests {
    /// A running container from runc spec's config, its first process a sleep.
    static func running(_ args: [String] = ["sleep", "60"]) throws -> (Skiff, String, Int) {
        let s = try Skiff(args)
        let id = Harness.uniqueName("ex")
        let r = try s("run", "-d", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        let pid = try #require(try s.state(id)["pid"] as? Int)
        return (s, id, pid)
    }

    static let namespaces = ["pid", "mnt", "net", "ipc", "uts", "cgroup"]

    @Test("the process joins every namespace and the cgroup of the container, with a pid after 1")
    func joins() throws {
        let (s, id, pid) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        let script =
            ExecTests.namespaces.map { "readlink /proc/self/ns/\($0)" }.joined(separator: "; ")
            + "; echo pid=$$; cat /proc/self/cgroup"
        let r = try s("exec", id, "sh", "-c", script)
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        for (i, ns) in ExecTests.namespaces.enumerated() {
            let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(ns)")
            #expect(lines.count > i && lines[i] == theirs, "\(ns): \(r)")
        }
        let inner = lines.first { $0.hasPrefix("pid=") }.flatMap { Int($0.dropFirst(4)) }
        #expect((inner ?? 0) > 1, "\(r)")
        let initCgroups = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        // The cgroup namespace is the container's: paths inside read the same.
        let inside = lines.filter { $0.contains(":/") }
        #expect(!inside.isEmpty && inside.allSatisfy { $0.hasSuffix(":/") }, "\(r)")
        #expect(initCgroups.contains(id), "the container has its cgroup: \(initCgroups)")
    }

    @Test("exit status, death by a signal, and forwarded signals come back as the process's")
    func statuses() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        #expect(try s("exec", id, "sh", "-c", "exit 3").status == 3)
        #expect(try s("exec", id, "sh", "-c", "kill -9 $$").status == 137)
        let missing = try s("exec", id, "/no/such/program")
        // runc compat #10: a failure of the runtime's exits 255, never a
        // status the process could have returned (127 is a shell's).
        #expect(missing.status == 255 && missing.stderr.contains("exec `/no/such/program`: no such file or directory"), "\(missing)")

        let p = Process()
        p.executableURL = URL(fileURLWithPath: s.binary)
        p.arguments = ["--root", s.root, "exec", id, "sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.05; done"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        try waitFor {
            let ps = try? s("exec", id, "ps", "-o", "args")
            return ps?.stdout.contains("trap") == true
        }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 9)
    }

    @Test("--detach returns once it runs and writes the pid file; two execs share the pid namespace")
    func detach() throws {
        let (s, id, pid) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        var pids: [Int] = []
        for k in 0..<2 {
            let file = s.bundle + "/exec\(k).pid"
            let r = try s("exec", "--detach", "--pid-file", file, id, "sleep", "4\(k)")
            #expect(r.status == 0, "\(r)")
            let p = try #require(Int(try String(contentsOfFile: file, encoding: .utf8)))
            pids.append(p)
            #expect(
                try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p)/ns/pid")
                    == FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid"))
        }
        let ps = try s("exec", id, "ps", "-o", "pid,args")
        #expect(ps.stdout.contains("sleep 40") && ps.stdout.contains("sleep 41") && ps.stdout.contains("sleep 60"), "\(ps)")
        // The container's processes, all of them, as ps --format json sees them.
        let json = try s("ps", "--format", "json", id)
        for p in pids + [pid] { #expect(json.stdout.contains("\(p)"), "\(json)") }
    }

    @Test("runc's flags: user, cwd, env, additional gids, an added capability (never inheritable), no_new_privs")
    func flags() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        let r = try s(
            "exec", "--user", "65534:65534", "--additional-gids", "7", "-g", "8", "--cwd", "/tmp",
            "-e", "FOO=bar", "--cap", "CAP_SYS_ADMIN", "--no-new-privs", id,
            "sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO; grep -E 'Cap(Inh|Eff|Bnd)|NoNewPrivs' /proc/self/status")
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(5)) == ["65534", "65534", "65534 7 8", "/tmp", "bar"], "\(r)")
        let status = r.stdout
        #expect(statusField(status, "CapInh") == "0000000000000000", "CVE-2022-29162: nothing inheritable: \(r)")
        let bnd = UInt64(statusField(status, "CapBnd") ?? "", radix: 16) ?? 0
        #expect(bnd & (1 << 21) != 0, "CAP_SYS_ADMIN added to the bounding set: \(r)")
        #expect(statusField(status, "CapEff") == "0000000000000000", "a non-root user has no effective capabilities: \(r)")
        #expect(statusField(status, "NoNewPrivs") == "1")
        // As root, the added capability is effective.
        let root = try s("exec", "--cap", "sys_admin", id, "grep", "CapEff", "/proc/self/status")
        #expect((UInt64(statusField(root.stdout, "CapEff") ?? "", radix: 16) ?? 0) & (1 << 21) != 0, "\(root)")
    }

    @Test("the container's seccomp filter, rlimits and umask apply to an exec'd process")
    func confinement() throws {
        var s = try Skiff(["sleep", "60"])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"]],
        ]
        s["process", "rlimits"] = [["type": "RLIMIT_NOFILE", "soft": 123, "hard": 456]]
        s["process", "user", "umask"] = 0o077
        let id = Harness.uniqueName("exsec")
        try #require(try s("run", "-d", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        let r = try s("exec", id, "sh", "-c", "grep Seccomp: /proc/self/status; ulimit -n; ulimit -Hn; umask; mkdir /dev/shm/d && echo made")
        #expect(r.stdout.contains("Seccomp:\t2") && !r.stdout.contains("made"), "\(r)")
        #expect(r.stdout.contains("\n123\n456\n0077\n"), "\(r)")
        #expect(r.stderr.contains("Operation not permitted"), "\(r)")
    }

    @Test("only stdio and --preserve-fds reach an exec'd process")
    func fds() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        let r = try Harness.sh("exec 3</etc/hostname 7</etc/passwd; \(s.binary) --root \(s.root) exec --preserve-fds 1 \(id) sh -c 'ls /proc/self/fd; cat <&3'")
        let fds = r.stdout.split(separator: "\n").prefix { Int($0) != nil }
        #expect(fds.sorted() == ["0", "1", "2", "3", "4"], "4: the fd ls has on /proc/self/fd; 7 leaked by the caller stays out: \(r)")
        #expect(r.stdout.hasSuffix((try String(contentsOfFile: "/etc/hostname", encoding: .utf8))), "\(r)")
    }

    /// The v2 form (a path only) is CgroupV2Tests.exec.
    @Test("--cgroup controller:path puts an exec'd process in a sub-cgroup of that v1 hierarchy", .needsCgroupV1)
    func subCgroupV1() throws {
        let (s, id, pid) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        // A sub-cgroup in the container's pids hierarchy.
        let line = try #require(
            try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
                .split(separator: "\n").first { $0.contains(":pids:") })
        let dir = "/sys/fs/cgroup/pids" + String(line.split(separator: ":", maxSplits: 2)[2]) + "/sub"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        let e = try s("exec", "--cgroup", "pids:sub", id, "sh", "-c", "grep :pids: /proc/self/cgroup")
        #expect(e.status == 0 && e.stdout.hasSuffix("/sub\n"), "\(e)")
        let missing = try s("exec", "--cgroup", "pids:nosuch", id, "true")
        #expect(missing.status == 255 && missing.stderr.contains("--cgroup: `") && missing.stderr.contains("nosuch` does not exist"), "\(missing)")
        // ps lists a process in the sub-cgroup; delete removes the sub-cgroup too.
        let bg = try s("exec", "-d", "--pid-file", s.bundle + "/sub.pid", "--cgroup", "pids:sub", id, "sleep", "20")
        #expect(bg.status == 0, "\(bg)")
        let subPid = try String(contentsOfFile: s.bundle + "/sub.pid", encoding: .utf8)
        #expect(try s("ps", "--format", "json", id).stdout.contains(subPid))
        #expect(try s("delete", "--force", id).status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir))
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(subPid)"))
    }

    @Test("--process with execCPUAffinity, scheduler and ioPriority: applied to the exec'd process")
    func processFields() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        let file = s.bundle + "/fields.json"
        func exec(_ extra: String) throws -> Harness.Result {
            try
                #"{"args": ["sh", "-c", "grep ^Cpus_allowed_list /proc/self/status; awk '{print $19, $41}' /proc/self/stat"], "cwd": "/", "user": {"uid": 0, "gid": 0}, \#(extra)}"#
                .write(toFile: file, atomically: true, encoding: .utf8)
            return try s("exec", "--process", file, id)
        }
        let initial = try exec(#""execCPUAffinity": {"initial": "0"}"#)
        #expect(initial.stdout.hasPrefix("Cpus_allowed_list:\t0\n"), "the initial CPUs stay without a final set: \(initial)")
        let final = try exec(#""execCPUAffinity": {"initial": "0", "final": "1"}, "scheduler": {"policy": "SCHED_BATCH", "nice": 7}"#)
        #expect(final.stdout == "Cpus_allowed_list:\t1\n7 3\n", "\(final)")
        let bad = try exec(#""execCPUAffinity": {"final": "5000"}"#)
        #expect(bad.status == 255 && bad.stderr.contains("process.execCPUAffinity.final"), "\(bad)")
    }

    @Test("--process: a spec process object is run as it is")
    func processFile() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        let file = s.bundle + "/process.json"
        try
            #"{"args": ["sh", "-c", "echo $A $(id -u) $(pwd)"], "env": ["A=from-file", "PATH=/bin"], "cwd": "/dev", "user": {"uid": 5, "gid": 5}, "terminal": false}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try s("exec", "--process", file, id)
        #expect(r.status == 0 && r.stdout == "from-file 5 /dev\n", "\(r)")
        try #"{"args": ["true"], "cwd": "/", "user": {"uid": "x", "gid": 0}}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try s("exec", "--process", file, id)
        #expect(bad.status == 255 && bad.stderr.contains("--process \(file)") && bad.stderr.contains("user.uid"), "\(bad)")
    }

    @Test("refused where runc refuses: a stopped container, a paused one without --ignore-paused")
    func refused() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        #expect(try s("pause", id).status == 0)
        let paused = try s("exec", id, "true")
        #expect(paused.status == 255 && paused.stderr.contains("is paused: resume it first, or pass --ignore-paused"), "\(paused)")
        // --ignore-paused: the process is set up, joins the frozen cgroup and runs at resume.
        let r = try s("exec", "--ignore-paused", "--detach", id, "sh", "-c", "echo ran > /dev/shm/x")
        #expect(r.status == 0, "\(r)")
        #expect(try s("resume", id).status == 0)
        try waitFor { (try? s("exec", id, "cat", "/dev/shm/x"))?.stdout == "ran\n" }

        #expect(try s("kill", id, "KILL").status == 0)
        try waitFor { (try? s.state(id)["status"] as? String) == "stopped" }
        let stopped = try s("exec", id, "true")
        #expect(stopped.status == 255 && stopped.stderr.contains("is stopped: only a created or running container can run a new process"), "\(stopped)")
    }

    @Test("runc compat #2: exec --ignore-paused in the foreground does not hold the container: resume returns and the exec prints its output")
    func ignorePausedForeground() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        #expect(try s("pause", id).status == 0)
        let out = s.bundle + "/exec.out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: s.binary)
        p.arguments = ["--root", s.root, "exec", "--ignore-paused", id, "echo", "ok"]
        p.standardOutput = FileHandle(forWritingAtPath: out)
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        Thread.sleep(forTimeInterval: 0.3)
        let resume = try ImageFileTests.bounded(s, ["resume", id], seconds: 10)
        #expect(resume.status == 0, "resume waited on the exec: \(resume)")
        try waitFor(seconds: 10) { !p.isRunning }
        #expect(p.terminationStatus == 0)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "ok\n")
    }

    @Test(
        "wrong exec input names the flag",
        arguments: [
            (["--user", "1:-1"], "--user: `1:-1` is not uid[:gid]"),
            (["--user", "+5"], "--user: `+5` is not uid[:gid]"),
            (["--user", "4294967295"], "--user: `4294967295` is not uid[:gid]"),
            (["-g", "x"], "--additional-gids: `x` is not a decimal gid"),
            (["-e", "NOEQUALS"], "--env `NOEQUALS` (#1): must be KEY=value"),
            (["--cap", "CAP_FLY"], "--cap: unknown capability `CAP_FLY`"),
            (["--cgroup", "nosuch"], "--cgroup: `"),
            (["--process", "/nonexistent.json"], "--process: open `/nonexistent.json`"),
            (["--tty"], "process.terminal is true but exec has no --console-socket"),
        ])
    func badInput(flags: [String], message: String) throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        let r = try s(["exec"] + flags + ["--detach", id, "true"])
        #expect(r.status == 255 && r.stderr.contains(message), "\(r)")
        let none = try s("exec", id)
        #expect(none.status == 255 && none.stderr.contains("no command given"), "\(none)")
        // Nothing but the first process was left running.
        let ps = try s("ps", "--format", "json", id)
        #expect(ps.stdout.split(separator: ",").count == 1, "\(ps)")
    }

    @Test("exec -t with a console socket: a pty of the container's devpts; /dev/console stays the container's")
    func terminal() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        let recv = try ConsoleReceiver(dir: s.bundle)
        let r = try s("exec", "-t", "-d", "--console-socket", recv.path, id, "sh")
        #expect(r.status == 0, "\(r)")
        let out = try recv.converse("tty; ls /dev/pts; echo END-$((2+2))\n", until: "END-4")
        #expect(out.contains("/dev/pts/0"), "\(out)")
        _ = try recv.converse("exit\n", until: "\u{0}")
        // In the foreground: skiff proxies it.
        try s.writeConfig()
        let fg = try s.skiff(["--root", s.root, "exec", "-t", id, "sh", "-c", "read x; echo got $x; tty"], stdin: "hi\n")
        #expect(fg.status == 0 && fg.stdout.contains("got hi") && fg.stdout.contains("/dev/pts/"), "\(fg)")
    }

    /// Container B (in A's pid namespace) paused, and an exec into it with
    /// --ignore-paused: the exec process is set up, then frozen before its
    /// execve, still skiff. The attacker in A is told its pid.
    static func holdExecProcess(_ pod: inout Attack.Pod) throws {
        pod.b["process", "args"] = ["sleep", "30"]
        try pod.runAttacker()
        #expect(try pod.b("run", "--detach", "--bundle", pod.b.bundle, pod.idB).status == 0)
        #expect(try pod.b("pause", pod.idB).status == 0)
        let pidFile = pod.b.bundle + "/exec.pid"
        let e = try pod.b("exec", "--ignore-paused", "--detach", "--pid-file", pidFile, pod.idB, "true")
        #expect(e.status == 0, "\(e)")
        let execPid = try #require(Int(try String(contentsOfFile: pidFile, encoding: .utf8)))
        #expect(try String(contentsOfFile: "/proc/\(execPid)/comm", encoding: .utf8) == "skiff:[EXEC]\n")
        try pod.target(execPid)
    }

    /// CVE-2016-9962 through exec: the process is not dumpable until execve.
    @Test("CVE-2016-9962 through exec: a process of the container cannot ptrace, or read the memory, environment or binary of an exec process")
    func cve_2016_9962() throws {
        var pod = try Attack.Pod(
            decoy: try Attack.decoy(),
            attacker: """
                while [ ! -f /out/go ]; do sleep 0.02; done
                /out/attack probe $(cat /out/go) > /out/result.tmp; mv /out/result.tmp /out/result; sleep 30
                """)
        defer { pod.stop() }
        try ExecTests.holdExecProcess(&pod)
        let r = try pod.result()
        #expect(r["ptrace"] == EPERM, "PTRACE_SEIZE of the exec process: \(r)")
        for file in ["environ", "mem", "exe"] {
            #expect(r[file] == EACCES, "/proc/<pid>/\(file) of the exec process: \(r)")
        }
        #expect(try pod.b("resume", pod.idB).status == 0)
    }

    /// CVE-2019-5736 through exec: while an exec'd process is still skiff
    /// (here: held frozen before its execve, in a paused container), a
    /// process of the container with CAP_SYS_PTRACE opens its
    /// /proc/<pid>/exe and tries to write the binary.
    @Test("CVE-2019-5736 through exec: the binary behind an exec process cannot be reopened for writing")
    func cve_2019_5736() throws {
        let decoy = try Attack.decoy()
        let before = try Data(contentsOf: URL(fileURLWithPath: decoy))
        var pod = try Attack.overwritePod(decoy, release: "/out/go", tries: 50)
        defer { pod.stop() }
        try ExecTests.holdExecProcess(&pod)
        let r = try pod.result()
        #expect(r["open-exe"] == 0, "the attacker holds /proc/<pid>/exe of the exec process: \(r)")
        #expect(r["reopen-write"] == EROFS, "reopening it for writing must fail with EROFS: \(r)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: decoy)) == before, "the binary was overwritten")
        #expect(try pod.b("resume", pod.idB).status == 0)
    }
}
