import Foundation
import Testing

/// runc compatibility, round 2: each item of the issue, with a real container.
@Suite struct RuncCompatRound2Tests {
    @Test("runc compat #1: a node in linux.devices never widens the device rules (deny-all, /dev/kmsg made: reading it is EPERM)")
    func devicesDoNotWiden() throws {
        var s = try Skiff(["sh", "-c", "head -c 1 /dev/kmsg > /dev/null && echo read || echo denied"])
        s["linux", "resources"] = ["devices": [["allow": false, "access": "rwm"]]]
        s["linux", "devices"] = [["path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11]]
        let caps = ["CAP_SYSLOG"]
        s["process", "capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "denied\n" && r.stderr.contains("Operation not permitted"), "\(r)")
        // With the allow rule engines send, it is readable.
        s["linux", "resources"] = [
            "devices": [
                ["allow": false, "access": "rwm"],
                ["allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"],
            ]
        ]
        let allowed = try s.run()
        #expect(allowed.stdout == "read\n", "\(allowed)")
    }

    @Test(
        "runc compat #3: a cgroupsPath whose freezer is frozen is refused at once, with runc's words, and nothing is left",
        .needsCgroupV1)
    func frozenCgroup() throws {
        let name = Harness.uniqueName("skiff-it-frozen")
        let dir = "/sys/fs/cgroup/freezer/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer {
            try? "THAWED".write(toFile: dir + "/freezer.state", atomically: false, encoding: .utf8)
            for h in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
                rmdir("/sys/fs/cgroup/\(h)/\(name)/c")
                rmdir("/sys/fs/cgroup/\(h)/\(name)")
            }
        }
        try "FROZEN".write(toFile: dir + "/freezer.state", atomically: false, encoding: .utf8)
        var s = try Skiff(["true"])
        s["linux", "cgroupsPath"] = "/\(name)/c"
        try s.writeConfig()
        let id = Harness.uniqueName("frozen")
        let r = try ImageFileTests.bounded(s, ["run", "--bundle", s.bundle, id], seconds: 20)
        #expect(r.status == 1 && r.stderr.contains("container's cgroup unexpectedly frozen"), "\(r)")
        s.expectNothingLeft(id)
        #expect(!FileManager.default.fileExists(atPath: dir + "/c"), "the container's cgroup was made and left")
    }

    @Test(
        "runc compat #4: stdio pipes become process.user's (a non-root process reopens /dev/stdout); a file is never chowned",
        arguments: [false, true])
    func stdioOwner(exec: Bool) throws {
        var s = try Skiff(exec ? ["sleep", "60"] : ["sh", "-c", "echo via-proc > /proc/self/fd/1"])
        s["process", "user"] = ["uid": 1000, "gid": 1000]
        try s.writeConfig()
        let id = Harness.uniqueName("stdio")
        let file = s.bundle + "/out.txt"
        if exec {
            #expect(try s("run", "-d", "--bundle", s.bundle, id).status == 0)
        }
        defer { _ = try? s("delete", "--force", id) }
        let cmd =
            exec
            ? "'\(s.binary)' --root '\(s.root)' exec \(id) sh -c 'echo via-proc > /proc/self/fd/1'"
            : "'\(s.binary)' --root '\(s.root)' run --bundle '\(s.bundle)' \(id)"
        let piped = try Harness.sh("\(cmd) | cat")
        #expect(piped.stdout == "via-proc\n", "\(piped)")
        // A file as stdout: reopening fails for uid 1000, and the file stays root's.
        let id2 = Harness.uniqueName("stdio")
        let cmd2 =
            exec
            ? "'\(s.binary)' --root '\(s.root)' exec \(id) sh -c 'echo x > /proc/self/fd/1'"
            : "'\(s.binary)' --root '\(s.root)' run --bundle '\(s.bundle)' \(id2)"
        _ = try Harness.sh("\(cmd2) > '\(file)'")
        var st = stat()
        #expect(stat(file, &st) == 0 && st.st_uid == 0, "the host's file was chowned")
    }

    @Test("runc compat #13: the container's process and an exec'd one each lead a session and a process group")
    func sessions() throws {
        let s = try Skiff(["sh", "-c", "cut -d' ' -f1,5,6 /proc/self/stat; sleep 60"])
        try s.writeConfig()
        let id = Harness.uniqueName("sid")
        let r = try s("run", "-d", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        defer { _ = try? s("delete", "--force", id) }
        let e = try s("exec", id, "sh", "-c", "cut -d' ' -f1,5,6 /proc/self/stat")
        let f = e.stdout.split(separator: " ").map(String.init)
        #expect(f.count == 3 && f[0] == f[1] && f[1] == f[2].trimmingCharacters(in: .whitespacesAndNewlines), "exec: pid pgrp session \(e)")
        let first = try s("exec", id, "cut", "-d", " ", "-f1,5,6", "/proc/1/stat")
        #expect(first.stdout == "1 1 1\n", "init: \(first)")
    }

    @Test("runc compat #14: exec --user 0 into a cwd only uid 42 may enter works (chdir before the identity change, as runc)")
    func cwdOnlyAnotherUserMayEnter() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs"))
        try FileManager.default.createDirectory(atPath: rootfs + "/home42", withIntermediateDirectories: true)
        chown(rootfs + "/home42", 42, 42)
        chmod(rootfs + "/home42", 0o700)
        var s = try Skiff(["sleep", "60"], rootfs: rootfs)
        s["process", "cwd"] = "/home42"
        s["process", "user"] = ["uid": 42, "gid": 42]
        let id = Harness.uniqueName("cwd42")
        #expect(try s("run", "-d", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        let r = try s("exec", "--user", "0", id, "pwd")
        #expect(r.status == 0 && r.stdout == "/home42\n", "\(r)")
    }

    @Test("runc compat #16: exec --cgroup .. or cpu:.. is refused: not a sub cgroup", arguments: ["..", "cpu:..", "/", "a/../.."])
    func cgroupNotBelow(spec: String) throws {
        var s = try Skiff(["sleep", "60"])
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        let id = Harness.uniqueName("sub")
        #expect(try s("run", "-d", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        let r = try s("exec", "--cgroup", spec, id, "true")
        #expect(r.status != 0 && r.stderr.contains("is not a sub cgroup path"), "\(r)")
    }

    @Test("runc compat #7: --debug records on stderr are runc's (level=debug text, \"level\":\"debug\" JSON)")
    func debugRecords() throws {
        let s = try Skiff(["true"])
        let text = try s("run", "--bundle", s.bundle, Harness.uniqueName("dbg"), global: ["--debug"])
        let lines = text.stderr.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("time=\"") && $0.contains(" level=debug msg=\"") }, "\(text)")
        let json = try s("run", "--bundle", s.bundle, Harness.uniqueName("dbg"), global: ["--debug", "--log-format", "json"])
        let records = json.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!records.isEmpty && records.count == json.stderr.split(separator: "\n").count, "\(json)")
        #expect(records.allSatisfy { $0["level"] as? String == "debug" && $0["msg"] is String && $0["time"] is String }, "\(json)")
    }

    @Test("runc compat #8: --version, -v, help, --help and -h exit 0 on stdout with runc's lines; an unknown command exits 1")
    func helpAndVersion() throws {
        for flag in ["--version", "-v"] {
            let r = try Harness.exec(Harness.binary, [flag])
            let lines = r.stdout.split(separator: "\n")
            #expect(
                r.status == 0 && lines.count == 4 && lines[0].hasPrefix("skiff version ") && lines[1].hasPrefix("commit: ")
                    && lines[2] == "spec: 1.3.0" && lines[3].hasPrefix("libseccomp: 2."), "\(flag): \(r)")
        }
        for args in [["help"], ["--help"], ["-h"], [], ["help", "create"], ["create", "--help"]] {
            let r = try Harness.exec(Harness.binary, args)
            #expect(r.status == 0 && r.stdout.hasPrefix("usage: skiff") && r.stderr.isEmpty, "\(args): \(r)")
        }
        let unknown = try Harness.exec(Harness.binary, ["frob"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown command `frob`"), "\(unknown)")
    }

    @Test("runc compat #9, #10, #12, #15: ps takes options after the id; exec's own failures exit 255; --env replaces; -p without user is root")
    func execAndPs() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? s("delete", "--force", id) }
        for args in [["ps", id, "-e", "-o", "pid,args"], ["ps", id, "--", "-e", "-o", "pid,args"]] {
            let r = try s(args)
            #expect(r.status == 0 && r.stdout.contains("sleep 60"), "\(args): \(r)")
        }
        let missing = try s("exec", Harness.uniqueName("nosuch"), "true")
        #expect(missing.status == 255, "\(missing)")
        let env = try s("exec", "--env", "PATH=/bin", "--env", "NEW=1", id, "sh", "-c", "echo $PATH; env | grep -c '^PATH='; echo $NEW")
        #expect(env.stdout == "/bin\n1\n1\n", "\(env)")
        let file = s.bundle + "/p.json"
        try #"{"args": ["id", "-u"], "cwd": "/"}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let p = try s("exec", "--process", file, id)
        #expect(p.status == 0 && p.stdout == "0\n", "\(p)")
    }

    @Test(
        "runc compat #17: a pre-made cpuset parent with no cpus or mems gets them from its ancestor; the container joins below it",
        .needsCgroupV1)
    func cpusetFilled() throws {
        let name = Harness.uniqueName("skiff-it-cpuset")
        let parent = "/sys/fs/cgroup/cpuset/" + name
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        defer {
            for h in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] { rmdir("/sys/fs/cgroup/\(h)/\(name)") }
        }
        #expect(fileText(parent + "/cpuset.cpus").isEmpty && fileText(parent + "/cpuset.mems").isEmpty)
        var s = try Skiff(["sh", "-c", "cat /sys/fs/cgroup/cpuset/cpuset.cpus"])
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        s["linux", "cgroupsPath"] = "/\(name)/c"
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == fileText("/sys/fs/cgroup/cpuset/cpuset.cpus") + "\n", "\(r)")
        #expect(fileText(parent + "/cpuset.cpus") == fileText("/sys/fs/cgroup/cpuset/cpuset.cpus"))
    }

    @Test(
        "runc compat #18: update --memory -1 lifts a memory+swap limit with it; --memory-swap -1 alone lifts memory+swap",
        .needsMemorySwapAccounting)
    func updateUnlimited() throws {
        var b = try CgroupV1Tests.box(["sleep", "60"], resources: ["memory": ["limit": 33_554_432, "swap": 67_108_864]])
        defer { b.cleanup() }
        b.s.namespaces = b.s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        #expect(try b.s("run", "-d", "--bundle", b.s.bundle, b.id).status == 0)
        let unlimited = "9223372036854771712"
        let r = try b.s("update", "--memory", "-1", b.id)
        #expect(r.status == 0, "\(r)")
        #expect(b.file("memory", "memory.limit_in_bytes") == unlimited && b.file("memory", "memory.memsw.limit_in_bytes") == unlimited)
        #expect(try b.s("update", "--memory", "32m", "--memory-swap", "64m", b.id).status == 0)
        #expect(try b.s("update", "--memory-swap", "-1", b.id).status == 0)
        #expect(b.file("memory", "memory.memsw.limit_in_bytes") == unlimited && b.file("memory", "memory.limit_in_bytes") == "33554432")
    }

    /// The pid a pidfd received refers to, from its fdinfo.
    static func pidOf(pidfd: Int32) -> Int? {
        let info = (try? String(contentsOfFile: "/proc/self/fdinfo/\(pidfd)", encoding: .utf8)) ?? ""
        return statusField(info, "Pid").flatMap { Int($0) }
    }

    @Test("runc compat #25: --pidfd-socket hands a pidfd of the container's process (create, run -d) and of an exec'd one (exec -d)")
    func pidfdSocket() throws {
        let s = try Skiff(["sleep", "60"])
        try s.writeConfig()
        let id = Harness.uniqueName("pidfd")
        let recv = try ConsoleReceiver(dir: s.bundle)
        let c = try s("create", "--bundle", s.bundle, "--pidfd-socket", recv.path, id)
        try #require(c.status == 0, "\(c)")
        defer { _ = try? s("delete", "--force", id) }
        let fd = try recv.master()
        let pid = try #require(try s.state(id)["pid"] as? Int)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) == "anon_inode:[pidfd]")
        #expect(Self.pidOf(pidfd: fd) == pid, "the pidfd is the container's process")
        #expect(recv.name == "pidfd")

        let dir2 = s.bundle + "/exec"
        try FileManager.default.createDirectory(atPath: dir2, withIntermediateDirectories: true)
        let recv2 = try ConsoleReceiver(dir: dir2)
        #expect(try s("start", id).status == 0)
        let e = try s("exec", "-d", "--pid-file", s.bundle + "/e.pid", "--pidfd-socket", recv2.path, id, "sleep", "50")
        try #require(e.status == 0, "\(e)")
        let epid = Int(try String(contentsOfFile: s.bundle + "/e.pid", encoding: .utf8))
        #expect(Self.pidOf(pidfd: try recv2.master()) == epid, "the pidfd is the exec'd process")

        let bad = try s("exec", "-d", "--pidfd-socket", s.bundle + "/nosocket", id, "true")
        #expect(bad.status == 255 && bad.stderr.contains("--pidfd-socket"), "\(bad)")
    }

    @Test("runc compat #23: a bind mount onto / replaces the rootfs; the mounts after it go into the new one; another filesystem there is refused")
    func bindOntoRoot() throws {
        let alt = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("altroot"))
        try "the other root\n".write(toFile: alt + "/marker", atomically: false, encoding: .utf8)
        var s = try Skiff(["sh", "-c", "cat /marker; test -e /proc/self/status && echo proc"])
        s.mounts.insert(["destination": "/", "source": alt, "options": ["rbind"]], at: 0)
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "the other root\nproc\n", "\(r)")
        s.mounts[0] = ["destination": "/", "type": "tmpfs", "source": "tmpfs"]
        try s.expectRefused("mounts[0].destination: only a bind mount may replace the container's root")
    }
}
