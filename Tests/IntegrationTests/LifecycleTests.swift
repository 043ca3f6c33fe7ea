import Foundation
import Testing

@Suite struct LifecycleTests {
    @Test("create, state, start, kill, delete: every transition, and the wrong ones refused")
    func transitions() throws {
        var s = try Skiff(["sh", "-c", "trap 'echo got TERM >> /out/log; exit 3' TERM; echo started >> /out/log; while true; do sleep 0.05; done"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        let id = Harness.uniqueName("life")
        let pidFile = s.bundle + "/pid"

        let created = try s("create", "--bundle", s.bundle, "--pid-file", pidFile, id)
        #expect(created.status == 0, "\(created)")
        var st = try s.state(id)
        #expect(st["status"] as? String == "created")
        #expect(st["id"] as? String == id)
        #expect(st["ociVersion"] as? String == "1.3.0")
        #expect(st["bundle"] as? String == s.bundle)
        #expect(st["rootfs"] as? String == Harness.sharedRootfs)
        #expect(st["owner"] as? String == "root")
        // RFC 3339 in UTC with nanoseconds, and now (skiff computes the date
        // itself: gmtime_r would read /etc/localtime first).
        let stamp = try #require(st["created"] as? String)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(stamp.utf8.count == 30 && stamp.hasSuffix("Z"), "\(stamp)")
        let date = try #require(f.date(from: stamp), "\(stamp)")
        #expect(abs(date.timeIntervalSinceNow) < 30, "\(stamp)")
        let pid = try #require(st["pid"] as? Int)
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == "\(pid)")
        #expect(!FileManager.default.fileExists(atPath: out + "/log"), "the process must not run before start")
        // Blocked before execve: still skiff's child stage.
        #expect(try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) == "skiff:[INIT]\n")

        #expect(try s("create", "--bundle", s.bundle, id).stderr.contains("container `\(id)` already exists"))
        #expect(try s("delete", id).status == 1, "delete of a created container without --force")

        let started = try s("start", id)
        #expect(started.status == 0, "\(started)")
        try waitFor { (try? String(contentsOfFile: out + "/log", encoding: .utf8)) == "started\n" }
        st = try s.state(id)
        #expect(st["status"] as? String == "running")
        #expect(st["pid"] as? Int == pid)

        let again = try s("start", id)
        #expect(again.status == 1 && again.stderr.contains("is running: only a created container can be started"), "\(again)")
        let del = try s("delete", id)
        #expect(del.status == 1 && del.stderr.contains("is running: stop it first, or delete it with --force"), "\(del)")

        let list = try s("list", "--format", "json")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(entries.map { $0["id"] as? String } == [id])
        let table = try s("list")
        #expect(table.stdout.hasPrefix("ID "), "\(table)")
        #expect(table.stdout.contains("\(id) ") && table.stdout.contains(" running "), "\(table)")
        #expect(try s("list", "-q").stdout == id + "\n")

        #expect(try s("kill", id, "SIGTERM").status == 0)
        try waitFor { (try? s.state(id)["status"] as? String) == "stopped" }
        #expect(try String(contentsOfFile: out + "/log", encoding: .utf8) == "started\ngot TERM\n")
        #expect(try s.state(id)["pid"] as? Int == 0)
        let killStopped = try s("kill", id)
        #expect(killStopped.status == 1 && killStopped.stderr.contains("container not running"), "\(killStopped)")

        #expect(try s("delete", id).status == 0)
        #expect(!FileManager.default.fileExists(atPath: s.root + "/" + id))
        let gone = try s("state", id)
        #expect(gone.status == 1 && gone.stderr.contains("container `\(id)` does not exist"), "\(gone)")
        s.expectNothingLeft(id)
    }

    @Test("kill takes names and numbers; delete --force stops a running container")
    func killAndForce() throws {
        var s = try Skiff(["sh", "-c", "trap 'echo usr1 >> /out/log' USR1; trap 'echo hup >> /out/log' HUP; while true; do sleep 0.05; done"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        let id = Harness.uniqueName("kill")
        #expect(try s("run", "--detach", "--bundle", s.bundle, id).status == 0)
        try waitFor { (try? s.state(id)["status"] as? String) == "running" }
        Thread.sleep(forTimeInterval: 0.1)
        #expect(try s("kill", id, "USR1").status == 0)
        try waitFor { (try? String(contentsOfFile: out + "/log", encoding: .utf8)) == "usr1\n" }
        #expect(try s("kill", id, "1").status == 0)
        try waitFor { (try? String(contentsOfFile: out + "/log", encoding: .utf8)) == "usr1\nhup\n" }
        let bad = try s("kill", id, "SIGNOPE")
        #expect(bad.status == 1 && bad.stderr.contains("kill: unknown signal `SIGNOPE`"), "\(bad)")
        #expect(try s("delete", "--force", id).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("kill --all signals every process of the container's pid namespace")
    func killAll() throws {
        let marker = "\(3000 + getpid() % 1000)"
        var s = try Skiff(["sh", "-c", "sleep \(marker) & sleep \(marker) & wait"])
        let id = Harness.uniqueName("all")
        #expect(try s("run", "-d", "--bundle", s.bundle, id).status == 0)
        let pid = try #require(try s.state(id)["pid"] as? Int)
        // The two sleeps (the shell's command line mentions them too).
        func sleeps() -> [Int32] {
            Harness.processes(mentioning: "sleep \(marker)").filter {
                (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "sleep\n"
            }
        }
        try waitFor { sleeps().count == 2 }
        let ns = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
        let members = sleeps().filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid")) == ns
        }
        #expect(members.count == 2)
        #expect(try s("kill", "--all", id, "KILL").status == 0)
        try waitFor { members.allSatisfy { kill($0, 0) != 0 } && (try? s.state(id)["status"] as? String) == "stopped" }
        #expect(try s("delete", id).status == 0)
        s["process", "args"] = ["true"]
        s.expectNothingLeft(id)
    }

    @Test("a start whose execve fails reports it, and the container is stopped")
    func startExecFailure() throws {
        // The program exists at create (which looks for it, as runc's does)
        // and is gone by start.
        var s = try Skiff(["/out/prog"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        try "#!/bin/sh\necho ran\n".write(toFile: out + "/prog", atomically: true, encoding: .utf8)
        chmod(out + "/prog", 0o755)
        let id = Harness.uniqueName("noexec")
        #expect(try s("create", "--bundle", s.bundle, id).status == 0)
        try FileManager.default.removeItem(atPath: out + "/prog")
        let r = try s("start", id)
        #expect(r.status == 127)
        #expect(r.stderr.contains("exec `/out/prog`: no such file or directory"), "\(r)")
        try waitFor { (try? s.state(id)["status"] as? String) == "stopped" }
        #expect(try s("delete", id).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("skiff is single-threaded when it clones (debug log)")
    func singleThreaded() throws {
        let s = try Skiff(["true"])
        let log = s.bundle + "/skiff.log"
        let r = try s("run", "--bundle", s.bundle, Harness.uniqueName("thr"), global: ["--debug", "--log", log])
        #expect(r.status == 0, "\(r)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("spawn: threads=1 "), "\(text)")
    }

    @Test("--log-format json writes errors as JSON lines, and to stderr")
    func jsonLog() throws {
        let s = try Skiff(["true"])
        let log = s.bundle + "/skiff.json"
        let r = try s("start", "nope", global: ["--log", log, "--log-format", "json"])
        #expect(r.status == 1)
        #expect(r.stderr == "container `nope` does not exist\n")
        let line = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last ?? ""
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(obj["level"] as? String == "error")
        #expect(obj["msg"] as? String == "container `nope` does not exist")
        #expect(obj["time"] is String)

        // A failed create: its error (a hook's, with the hook's output) is
        // the log's last line, which containerd shows its user.
        var h = try Skiff(["true"])
        h["hooks"] = ["createRuntime": [["path": "/bin/sh", "args": ["sh", "-c", "echo no network for you >&2; exit 1"]]]]
        let created = try h("create", "--bundle", h.bundle, Harness.uniqueName("logc"), global: ["--log", log, "--log-format", "json"])
        #expect(created.status == 1)
        let last = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last ?? ""
        let err = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(err["level"] as? String == "error")
        #expect((err["msg"] as? String)?.contains("hooks.createRuntime[0] `/bin/sh`: exited with status 1: no network for you") == true, "\(last)")
    }

    @Test("--log text: a hook's output with line breaks stays inside its record (no forged line)")
    func textLogEscapesLineBreaks() throws {
        var s = try Skiff(["true"])
        s["hooks"] = [
            "poststart": [
                [
                    "path": "/bin/sh",
                    "args": [
                        "sh", "-c",
                        #"printf 'oops\ntime="2020-01-01T00:00:00Z" level=error msg="forged"\n'; exit 1"#,
                    ],
                ]
            ]
        ]
        let log = s.bundle + "/skiff.log"
        let r = try s("run", "--bundle", s.bundle, Harness.uniqueName("forge"), global: ["--log", log])
        #expect(r.status == 0, "\(r)")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("time=\"") && $0.contains(" level=warning ") }, "\(lines)")
        #expect(lines.contains { $0.contains(#"oops\ntime=\"2020-01-01T00:00:00Z\" level=error msg=\"forged\""#) }, "\(lines)")
    }

    @Test("an inherited _SKIFF_PROTECTED_EXE marker is not believed: create still works (audit round 3)")
    func inheritedMarker() throws {
        let s = try Skiff(["true"])
        try s.writeConfig()
        let id = Harness.uniqueName("marker")
        let r = try Harness.exec(
            s.binary, ["--root", s.root, "run", "--bundle", s.bundle, id],
            env: ["PATH": "/usr/bin:/bin", "_SKIFF_PROTECTED_EXE": "1"])
        #expect(r.status == 0, "\(r)")
        s.expectNothingLeft(id)
    }

    @Test("with almost no fds to spare, skiff still reads its command line (the userfaultfd does not take the last one)")
    func fewFds() throws {
        let s = try Skiff(["true"])
        for n in [4, 5] {
            let r = try Harness.sh("ulimit -n \(n); exec '\(s.binary)' --root '\(s.root)' list")
            #expect(r.status == 0 && r.stdout.hasPrefix("ID "), "ulimit -n \(n): \(r)")
        }
    }

    @Test("every command works with an empty environment (no PATH, no HOME), as conmon runs it")
    func emptyEnvironment() throws {
        let s = try Skiff(["sleep", "30"])
        try s.writeConfig()
        let id = Harness.uniqueName("noenv")
        func run(_ args: [String]) throws -> Harness.Result {
            try Harness.exec(s.binary, ["--root", s.root] + args, env: [:])
        }
        #expect(try run(["create", "--bundle", s.bundle, id]).status == 0)
        #expect(try run(["start", id]).status == 0)
        let e = try run(["exec", id, "sh", "-c", "echo $PATH"])
        #expect(e.status == 0 && e.stdout == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", "the container's PATH: \(e)")
        #expect(try run(["state", id]).status == 0)
        #expect(try run(["kill", id, "9"]).status == 0)
        try waitFor { (try? s.state(id)["status"] as? String) == "stopped" }
        #expect(try run(["delete", id]).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("check as root on this host: every item probed, exit 0, --json parses")
    func check() throws {
        let r = try Harness.exec(Harness.binary, ["check"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("ok    syscalls: clone3, openat2") && r.stdout.hasSuffix("skiff can run containers here for this caller.\n"), "\(r)")
        let j = try Harness.exec(Harness.binary, ["check", "--json"])
        let items = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [[String: String]])
        let names = items.compactMap { $0["item"] }
        for n in ["kernel", "caller", "syscalls", "time namespace", "idmapped mounts", "user namespaces", "cgroups", "systemd", "seccomp", "LSMs"] {
            #expect(names.contains(n), "\(n) in \(names)")
        }
        for i in items where i["status"] != "ok" { #expect(i["fix"] != nil, "a \(i["status"] ?? "") item carries a fix: \(i)") }
        #expect(items.first { $0["item"] == "seccomp" }?["found"]?.contains("user_notif") == true)
        #expect(items.first { $0["item"] == "idmapped mounts" }?["found"] == "supported (probed on a detached tmpfs)")
    }

    @Test("spec writes a config that runs as is, and never overwrites one")
    func specCommand() throws {
        let s = try Skiff(["true"])
        let again = try Harness.exec(Harness.binary, ["spec", "--bundle", s.bundle])
        #expect(again.status == 1 && again.stderr.contains("config.json exists already"), "\(again)")
        let features = try Harness.exec(Harness.binary, ["features"])
        let f = try #require(try JSONSerialization.jsonObject(with: Data(features.stdout.utf8)) as? [String: Any])
        #expect(f["ociVersionMax"] as? String == "1.3.0")
        let linux = try #require(f["linux"] as? [String: Any])
        #expect((linux["namespaces"] as? [String])?.count == 8)
        let cgroup = linux["cgroup"] as? [String: Bool]
        #expect(cgroup == ["v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true], "\(String(describing: cgroup))")
        #expect((linux["capabilities"] as? [String])?.contains("CAP_CHECKPOINT_RESTORE") == true)
        #expect((f["mountOptions"] as? [String])?.contains("rro") == true)
        #expect(f["hooks"] as? [String] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])
        let annotations = f["annotations"] as? [String: String]
        #expect(annotations?["io.github.seccomp.libseccomp.version"]?.hasPrefix("2.") == true, "\(features)")
    }
}
