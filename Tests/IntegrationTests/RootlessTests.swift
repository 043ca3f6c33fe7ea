import Foundation
import Testing

/// An unprivileged user the rootless suite creates, with a /etc/subuid and
/// /etc/subgid range, and removes afterwards (user and lines).
enum TestUser {
    static let name = "skiffit\(getpid() % 100000)"
    static let subStart = 1_000_000_000 + UInt32(getpid() % 1000) * 65536
    static let subCount: UInt32 = 65536

    static var uid: Int { Int((try? Harness.sh("id -u \(name)").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "") ?? -1 }
    static var gid: Int { Int((try? Harness.sh("id -g \(name)").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "") ?? -1 }

    static func create() throws {
        remove()
        let r = try Harness.exec("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/bin/sh", "--user-group", name])
        guard r.status == 0 else { throw HarnessError("useradd: \(r)") }
    }

    /// Adds (or removes) `name:start:count` in /etc/subuid and /etc/subgid.
    static func subordinate(_ add: Bool) throws {
        for file in ["/etc/subuid", "/etc/subgid"] {
            var lines = ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            lines.removeAll { $0.hasPrefix(name + ":") }
            if add { lines.append("\(name):\(subStart):\(subCount)") }
            try (lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")).write(toFile: file, atomically: true, encoding: .utf8)
            chmod(file, 0o644)
        }
    }

    static func remove() {
        try? subordinate(false)
        _ = try? Harness.exec("/usr/sbin/userdel", [name])
    }
}

struct RootlessUserTrait: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        try TestUser.create()
        defer { TestUser.remove() }
        try await function()
    }
}

extension Trait where Self == RootlessUserTrait {
    /// Creates the suite's unprivileged user before it and removes it after.
    static var rootlessUser: Self { RootlessUserTrait() }
}

extension Skiff {
    /// A bundle made by the test user with `skiff spec --rootless`.
    static func rootless(_ args: [String]) throws -> Skiff {
        var s = try Skiff(args)
        s.user = TestUser.name
        _ = try Harness.sh("chown -R \(TestUser.name) \(s.bundle) && rm \(s.bundle)/config.json && mkdir -p \(s.root) && chown \(TestUser.name) \(s.root)")
        let r = try s.skiff(["spec", "--skiff-defaults", "--rootless", "--bundle", s.bundle])
        guard r.status == 0 else { throw HarnessError("spec --rootless: \(r)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: s.bundle + "/config.json"))
        s.config = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        s["root"] = ["path": Harness.sharedRootfs, "readonly": true]
        s["process", "args"] = args
        return s
    }
}

@Suite(.rootlessUser, .serialized) struct RootlessTests {
    @Test("an unprivileged user runs a `spec --rootless` bundle: root inside, its own uid outside")
    func run() throws {
        var s = try Skiff.rootless(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; hostname; touch /out/made-inside; echo ok"])
        let out = try s.outDir()
        _ = try Harness.sh("chown \(TestUser.name) \(out)")
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let uid = TestUser.uid, gid = TestUser.gid
        #expect(
            r.stdout
                == "0\n         0 \(String(repeating: " ", count: 10 - "\(uid)".count))\(uid)          1\n         0 \(String(repeating: " ", count: 10 - "\(gid)".count))\(gid)          1\nskiff\nok\n",
            "\(r)")
        let attrs = try FileManager.default.attributesOfItem(atPath: out + "/made-inside")
        #expect((attrs[.ownerAccountID] as? NSNumber)?.intValue == uid, "a file made inside belongs to the user on the host")
    }

    @Test("proc, sysfs, mqueue and devpts in a rootless container")
    func rootlessMounts() throws {
        let s = try Skiff.rootless(["sh", "-c", "cut -d' ' -f5,6,9 /proc/self/mountinfo; readlink /dev/ptmx; ls /dev/pts"])
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func mount(_ dest: String) -> String? { lines.last { $0.hasPrefix(dest + " ") } }
        #expect(mount("/proc")?.hasSuffix(" proc") == true, "\(r)")
        #expect(mount("/dev/mqueue")?.hasSuffix(" mqueue") == true, "\(r)")
        #expect(mount("/dev/pts")?.hasSuffix(" devpts") == true, "\(r)")
        #expect(mount("/sys").map { $0.contains(" ro,") && $0.hasSuffix(" sysfs") } == true, "/sys is the host's, read-only: \(r)")
        #expect(lines.contains("pts/ptmx"))
        #expect(lines.contains("ptmx"), "a new devpts instance of its own: \(r)")
    }

    @Test("skiff's userfaultfd (faultaround.c), which an unprivileged skiff holds too, reaches neither the container nor an exec'd process")
    func faultFd() throws {
        let s = try Skiff.rootless(["sh", "-c", "ls -l /proc/self/fd/; sleep 30"])
        let id = Harness.uniqueName("rluffd")
        let r = try s("run", "-d", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        defer { _ = try? s("delete", "--force", id) }
        let e = try s("exec", id, "sh", "-c", "ls -l /proc/self/fd/ /proc/1/fd/")
        #expect(e.status == 0 && e.stdout.contains("/dev/null") && !e.stdout.contains("userfaultfd"), "\(e)")
        #expect(try s("delete", "--force", id).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("exec into a rootless container joins its user namespace and the others, as the user")
    func exec() throws {
        let s = try Skiff.rootless(["sleep", "30"])
        let id = Harness.uniqueName("rlexec")
        let r = try s("run", "-d", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        defer { _ = try? s("delete", "--force", id) }
        let pid = try #require(try s.state(id)["pid"] as? Int)
        let e = try s("exec", id, "sh", "-c", "id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; echo $$")
        #expect(e.status == 0, "\(e)")
        let lines = e.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "0", "root in the container's user namespace: \(e)")
        for (i, ns) in ["user", "pid", "mnt"].enumerated() {
            let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(ns)")
            #expect(lines.count > i + 1 && lines[i + 1] == theirs, "\(ns): \(e)")
        }
        #expect((lines.last.flatMap { Int($0) } ?? 0) > 1, "\(e)")
        let detached = try s("exec", "-d", "--pid-file", s.bundle + "/e.pid", id, "sleep", "5")
        #expect(detached.status == 0, "\(detached)")
        let epid = try #require(Int(try String(contentsOfFile: s.bundle + "/e.pid", encoding: .utf8)))
        let status = try String(contentsOfFile: "/proc/\(epid)/status", encoding: .utf8)
        #expect(statusField(status, "Uid")?.hasPrefix("\(TestUser.uid)\t") == true, "the user's uid on the host: \(status)")
    }

    /// Rootless podman, Docker and containerd run their runtime as root of
    /// a user namespace that maps only the user's ids.
    @Test("as root of a user namespace (unshare --map-root-user): state in $XDG_RUNTIME_DIR, devices bound, create/start/exec/delete")
    func rootInUserNamespace() throws {
        var s = try Skiff(["sleep", "30"])
        // As podman writes it for a rootless container: no gid= for devpts
        // (gid 5 is not mapped), no user namespace of its own.
        s.mounts = s.mounts.map { m in
            guard m["type"] as? String == "devpts" else { return m }
            var m = m
            m["options"] = (m["options"] as? [String] ?? []).filter { !$0.hasPrefix("gid=") }
            return m
        }
        try s.writeConfig()
        let xdg = s.root + "-xdg"
        _ = try Harness.sh("mkdir -p \(xdg) && chown \(TestUser.name) \(xdg) && chmod 755 \(s.bundle)")
        let id = Harness.uniqueName("userns")
        // One user namespace for every call, as podman keeps one (a sibling
        // namespace has no power over the container's).
        let script = """
            S=\(s.binary); set -e
            $S create --bundle \(s.bundle) \(id)
            test -f "$XDG_RUNTIME_DIR/skiff/\(id)/state.json" && echo state-in-xdg
            $S start \(id)
            $S exec \(id) sh -c 'id -u; stat -c %t:%T /dev/null'
            grep Uid: /proc/$($S state \(id) | sed -n 's/.*"pid": \\([0-9]*\\).*/\\1/p')/status
            $S delete --force \(id)
            test ! -e "$XDG_RUNTIME_DIR/skiff/\(id)" && echo deleted
            """
        let r = try Harness.exec(
            "/usr/sbin/runuser",
            [
                "-u", TestUser.name, "--", "/usr/bin/unshare", "--user", "--map-root-user",
                "/bin/sh", "-c", script,
            ],
            env: ["XDG_RUNTIME_DIR": xdg, "USER": TestUser.name, "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "state-in-xdg", "\(r)")
        #expect(Array(lines.dropFirst().prefix(2)) == ["0", "1:3"], "root inside, /dev/null bound from the host: \(r)")
        #expect(lines.count > 3 && lines[3].hasPrefix("Uid:\t0\t"), "root in the caller's user namespace: \(r)")
        #expect(lines.last == "deleted", "\(r)")
        #expect(Harness.processes(mentioning: " \(id)").isEmpty)
    }

    /// Root of a user namespace is not root of the host: a config with a
    /// user namespace of its own gets its maps written as an unprivileged
    /// caller's would be (audit round 3).
    @Test("as root of a user namespace, a config that makes its own user namespace runs with its mapping")
    func nestedUserNamespace() throws {
        var s = try Skiff(["sh", "-c", "id -u; cat /proc/self/uid_map"])
        s.namespaces.append(["type": "user"])
        s["linux", "uidMappings"] = [["containerID": 0, "hostID": 0, "size": 1]]
        s["linux", "gidMappings"] = [["containerID": 0, "hostID": 0, "size": 1]]
        s.mounts = s.mounts.map { m in
            guard m["type"] as? String == "devpts" else { return m }
            var m = m
            m["options"] = (m["options"] as? [String] ?? []).filter { !$0.hasPrefix("gid=") }
            return m
        }
        try s.writeConfig()
        let xdg = s.root + "-xdg"
        _ = try Harness.sh("mkdir -p \(xdg) && chown \(TestUser.name) \(xdg) && chmod 755 \(s.bundle)")
        let id = Harness.uniqueName("nested")
        let r = try Harness.exec(
            "/usr/sbin/runuser",
            [
                "-u", TestUser.name, "--", "/usr/bin/unshare", "--user", "--map-root-user",
                s.binary, "run", "--bundle", s.bundle, id,
            ],
            env: ["XDG_RUNTIME_DIR": xdg, "USER": TestUser.name, "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines == ["0", "0 0 1"], "\(r)")
        #expect(Harness.processes(mentioning: " \(id)").isEmpty)
    }

    /// Rootless podman runs its runtime as root of the user namespace it
    /// keeps (a pause process holds it), with ranges from /etc/subuid.
    @Test("rootless podman runs skiff as root of its user namespace: run, exec, rm", .enabled(if: Podman.missing == nil))
    func rootlessPodman() throws {
        try TestUser.subordinate(true)
        // podman resolves the home of the user's passwd entry: give it one.
        let home = Harness.scratch + "/" + Harness.uniqueName("pdhome")
        let xdg = home + "-xdg"
        _ = try Harness.sh(
            "mkdir -p \(home) \(xdg) && cp \(Engines.imageTar) \(home)/image.tar && chown -R \(TestUser.name) \(home) \(xdg) && chmod 700 \(xdg) && chmod 755 \(Harness.scratch) && usermod -d \(home) \(TestUser.name)"
        )
        defer {
            _ = try? Harness.sh("pkill -KILL -u \(TestUser.name); true")
            try? TestUser.subordinate(false)
        }
        func podman(_ args: String...) throws -> Harness.Result { try podmanArgs(args) }
        func podmanArgs(_ args: [String]) throws -> Harness.Result {
            return try Engines.spawn(
                "/usr/sbin/runuser",
                [
                    "-u", TestUser.name, "--",
                    "/usr/bin/podman", "--runtime", Harness.binary,
                    "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                    "--storage-driver", "vfs",
                ] + args,
                env: [
                    "HOME": home, "XDG_RUNTIME_DIR": xdg, "USER": TestUser.name,
                    "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
                ])
        }
        defer { _ = try? podman("system", "reset", "--force") }
        let imported = try podman("import", home + "/image.tar", "localhost/skiff-busybox:rootless")
        try #require(imported.status == 0, "\(imported)")
        let run = try podmanArgs(
            ["run", "--rm", "--network", "none"] + Podman.ulimits
                + ["localhost/skiff-busybox:rootless", "sh", "-c", "id -u; cat /proc/self/uid_map"])
        #expect(run.status == 0, "\(run)")
        let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.first == ["0"], "\(run)")
        #expect(
            lines.count == 3 && lines[1] == ["0", "\(TestUser.uid)", "1"] && lines[2] == ["1", "\(TestUser.subStart)", "\(TestUser.subCount)"],
            "root inside is the user, the rest its /etc/subuid range: \(run)")
        let name = Harness.uniqueName("pdr")
        let d = try podmanArgs(
            ["run", "-d", "--name", name, "--network", "none"] + Podman.ulimits
                + ["localhost/skiff-busybox:rootless", "sleep", "60"])
        #expect(d.status == 0, "\(d)")
        let id = d.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // podman passes no --root: skiff's default for root of a user namespace.
        #expect(FileManager.default.fileExists(atPath: xdg + "/skiff/" + id), "state under $XDG_RUNTIME_DIR/skiff")
        let e = try podman("exec", name, "sh", "-c", "echo exec ok; id -u")
        #expect(e.status == 0 && e.stdout == "exec ok\n0\n", "\(e)")
        #expect(try podman("rm", "-f", "-t", "0", name).status == 0)
        // conmon (its command line names the id) may still be leaving.
        try? waitFor { Engines.skiffTraces(root: xdg + "/skiff", id: id).isEmpty }
        #expect(Engines.skiffTraces(root: xdg + "/skiff", id: id).isEmpty, "\(Engines.skiffTraces(root: xdg + "/skiff", id: id))")
    }

    @Test("check as the user: no XDG_RUNTIME_DIR fails with its fix; subuid ranges are found once added")
    func check() throws {
        func check(_ env: [String: String]) throws -> (Harness.Result, [[String: String]]) {
            let r = try Harness.exec("/usr/sbin/runuser", ["-u", TestUser.name, "--", Harness.binary, "check", "--json"], env: env)
            return (r, (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: String]]) ?? [])
        }
        let (bare, items) = try check(["PATH": "/usr/bin:/bin"])
        #expect(bare.status == 1, "\(bare)")
        let state = items.first { $0["item"] == "state directory" }
        #expect(state?["status"] == "fail" && state?["fix"]?.contains("export XDG_RUNTIME_DIR=/run/user/\(TestUser.uid)") == true, "\(items)")
        #expect(items.first { $0["item"] == "/etc/subuid" }?["status"] == "warn")
        #expect(items.first { $0["item"] == "caller" }?["found"] == "uid \(TestUser.uid) (rootless)")

        try TestUser.subordinate(true)
        defer { try? TestUser.subordinate(false) }
        let xdg = Harness.scratch + "/" + Harness.uniqueName("chk")
        _ = try Harness.sh("mkdir -p \(xdg) && chown \(TestUser.name) \(xdg)")
        let (ok, items2) = try check(["PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": xdg])
        #expect(ok.status == 0, "\(ok)")
        #expect(items2.first { $0["item"] == "/etc/subuid" }?["found"]?.contains("from \(TestUser.subStart)") == true, "\(items2)")
        #expect(items2.first { $0["item"] == "user namespaces" }?["status"] == "ok")
    }

    @Test("the whole lifecycle as the user; another user is refused")
    func lifecycle() throws {
        let s = try Skiff.rootless(["sleep", "30"])
        let id = Harness.uniqueName("rl")
        #expect(try s("create", "--bundle", s.bundle, id).status == 0)
        #expect(try s.state(id)["status"] as? String == "created")
        #expect(try s.state(id)["owner"] as? String == TestUser.name)
        #expect(try s("start", id).status == 0)
        #expect(try s.state(id)["status"] as? String == "running")
        #expect(try s("list").stdout.contains(id))

        var other = s
        other.user = "nobody"
        let refused = try other.skiff(["--root", s.root, "kill", id, "KILL"])
        #expect(
            refused.status == 1 && refused.stderr.contains("--root `\(s.root)` belongs to uid \(TestUser.uid), not to uid 65534"),
            "\(refused)")
        let refusedDelete = try other.skiff(["--root", s.root, "delete", "--force", id])
        #expect(refusedDelete.status == 1, "\(refusedDelete)")
        #expect(try s.state(id)["status"] as? String == "running")

        #expect(try s("kill", id, "KILL").status == 0)
        try waitFor { (try? s.state(id)["status"] as? String) == "stopped" }
        #expect(try s("delete", id).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("seccomp applies in a rootless container; netDevices is refused to an unprivileged user")
    func seccompAndNetDevices() throws {
        var s = try Skiff.rootless(["sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; echo done"])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13]],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("Seccomp:\t2\n") && r.stdout.contains("Permission denied") && r.stdout.hasSuffix("done\n"), "\(r)")
        s["linux", "seccomp"] = nil
        s["linux", "netDevices"] = ["lo0": ["name": "eth0"]]
        try s.expectRefused("linux.netDevices: moving a host interface needs CAP_NET_ADMIN on the host: run as root")
    }

    @Test("the default --root is $XDG_RUNTIME_DIR/skiff; without it the error says what to set")
    func defaultRoot() throws {
        let s = try Skiff.rootless(["true"])
        try s.writeConfig()
        let xdg = s.root + "-xdg"
        _ = try Harness.sh("mkdir -p \(xdg) && chown \(TestUser.name) \(xdg)")
        let r = try s.skiff(["run", "--bundle", s.bundle, Harness.uniqueName("xdg")])
        #expect(r.status == 0, "\(r)")
        #expect(FileManager.default.fileExists(atPath: xdg + "/skiff"))
        let noXDG = try Harness.exec(
            "/usr/sbin/runuser",
            [
                "-u", TestUser.name, "--", "/usr/bin/env", "-u", "XDG_RUNTIME_DIR",
                Harness.binary, "list",
            ])
        #expect(noXDG.status == 1 && noXDG.stderr.contains("XDG_RUNTIME_DIR is not set"), "\(noXDG)")
    }

    @Test("a 65536-id range from /etc/subuid through newuidmap: ids 0 and 1000 inside map to the range")
    func subordinateRange() throws {
        try TestUser.subordinate(true)
        defer { try? TestUser.subordinate(false) }
        let start = TestUser.subStart
        var s = try Skiff.rootless(["sh", "-c", "cat /proc/self/uid_map; touch /out/by-root"])
        s["linux", "uidMappings"] = [["containerID": 0, "hostID": start, "size": 65536]]
        s["linux", "gidMappings"] = [["containerID": 0, "hostID": start, "size": 65536]]
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.split(separator: " ", omittingEmptySubsequences: true).map(String.init) == ["0", "\(start)", "65536\n"], "\(r)")
        s["process", "user"] = ["uid": 1000, "gid": 1000]
        s["process", "args"] = ["touch", "/out/by-1000"]
        let u = try s.run()
        #expect(u.status == 0, "\(u)")
        let root = try FileManager.default.attributesOfItem(atPath: out + "/by-root")
        let user = try FileManager.default.attributesOfItem(atPath: out + "/by-1000")
        #expect((root[.ownerAccountID] as? NSNumber)?.intValue == Int(start))
        #expect((user[.ownerAccountID] as? NSNumber)?.intValue == Int(start) + 1000)
        #expect((user[.groupOwnerAccountID] as? NSNumber)?.intValue == Int(start) + 1000)
    }

    @Test("a range not in /etc/subuid: the error names user, range and file; nothing is left")
    func rangeNotAllowed() throws {
        var s = try Skiff.rootless(["true"])
        s["linux", "uidMappings"] = [["containerID": 0, "hostID": 3_000_000_000, "size": 65536]]
        s["linux", "gidMappings"] = [["containerID": 0, "hostID": 3_000_000_000, "size": 65536]]
        try s.expectRefused(
            "linux.uidMappings[0]: user `\(TestUser.name)` may not map host ids 3000000000-3000065535: they are not in /etc/subuid; add a line `\(TestUser.name):3000000000:65536` to /etc/subuid"
        )
    }

    @Test("time namespace offsets and a cgroup namespace, rootless")
    func timeAndCgroup() throws {
        var s = try Skiff.rootless(["sh", "-c", "cut -d' ' -f1 /proc/uptime; readlink /proc/self/ns/cgroup; cat /proc/self/cgroup"])
        s.namespaces.append(["type": "time"])
        s["linux", "timeOffsets"] = ["boottime": ["secs": 1000000], "monotonic": ["secs": 1000000]]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect((Double(lines.first ?? "") ?? 0) > 1_000_000, "\(r)")
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/cgroup")
        #expect(lines.count > 2 && lines[1] != host)
        #expect(lines.dropFirst(2).allSatisfy { $0.hasSuffix(":/") }, "paths relative to the cgroup namespace: \(r)")
    }

    @Test("without a delegated cgroup the container has none: pause, ps and update say so")
    func noCgroup() throws {
        var s = try Skiff.rootless(["sleep", "30"])
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        let id = Harness.uniqueName("nocg")
        #expect(try s("run", "--detach", "--bundle", s.bundle, id).status == 0)
        for cmd in ["pause", "ps", "events"] {
            let r = try s(cmd, id)
            #expect(r.status == 1 && r.stderr.contains("\(cmd): container `\(id)` has no cgroup of its own"), "\(cmd): \(r)")
        }
        #expect(try s("delete", "--force", id).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("a limit without a delegated cgroup is refused with how to delegate; nothing is left")
    func limits() throws {
        var s = try Skiff.rootless(["true"])
        s["linux", "resources"] = ["pids": ["limit": 10]]
        let r = try s.expectRefused("linux.resources.pids: cannot be applied for user `\(TestUser.name)`")
        #expect(r.stderr.contains("delegate"), "\(r)")
    }

    @Test("cgroups are read-only inside a rootless container without a cgroup namespace (CVE-2023-25809)")
    func cgroupReadOnly() throws {
        var s = try Skiff.rootless(["sh", "-c", "grep -E ' /sys/fs/cgroup' /proc/self/mountinfo | cut -d' ' -f5,6"])
        s.namespaces = s.namespaces.filter { $0["type"] as? String != "cgroup" }
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.split(separator: " ").last?.hasPrefix("ro") == true }, "\(r)")
    }

    @Test("flags the kernel locks on an inherited mount are kept, not a failure")
    func lockedFlags() throws {
        var s = try Skiff.rootless(["sh", "-c", "grep ' /out ' /proc/self/mountinfo | cut -d' ' -f6"])
        let dir = s.bundle + "/locked"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        s.mounts.append(["destination": "/out", "source": dir, "options": ["rbind", "rw", "suid", "dev", "exec"]])
        try s.writeConfig()
        // The source is a nosuid,nodev,noexec tmpfs in a private mount namespace of the test.
        let id = Harness.uniqueName("locked")
        let r = try Harness.exec(
            "/usr/bin/unshare",
            [
                "-m", "--propagation", "private", "/bin/sh", "-c",
                "mount -t tmpfs -o nosuid,nodev,noexec tmpfs \(dir) && exec /usr/sbin/runuser -u \(TestUser.name) -- \(Harness.binary) --root \(s.root) run --bundle \(s.bundle) \(id)",
            ])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("rw,nosuid,nodev,noexec"), "\(r)")
    }

    @Test("idmapped mounts are refused clearly where the kernel refuses them to an unprivileged user")
    func idmapRootless() throws {
        var s = try Skiff.rootless(["true"])
        s.mounts.append(["destination": "/tmp", "source": s.bundle, "options": ["rbind", "idmap"]])
        try s.expectRefused("mounts[7]: idmap `/tmp`: operation not permitted (only a user privileged over a filesystem may idmap its mounts")
    }

    @Test("a failing rootless create leaves nothing and names the step")
    func failure() throws {
        var s = try Skiff.rootless(["true"])
        s.mounts.append(["destination": "/tmp", "type": "nosuchfs", "source": "x"])
        try s.expectRefused("mounts[7]: mount `x` on `/tmp`: no such device", create: true)
    }
}

@Suite struct IdmapTests {
    @Test("a filesystem mount (tmpfs) can be idmapped too: its root, uid 0 on the filesystem, shows as the mapped id")
    func idmappedFilesystem() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("idmap-fs-rootfs"))
        for d in ["t", "u"] { try FileManager.default.createDirectory(atPath: rootfs + "/" + d, withIntermediateDirectories: true) }
        var s = try Skiff(["sh", "-c", "stat -c '%n %u %g' /t /u; grep ' /t ' /proc/self/mountinfo | cut -d' ' -f6"], rootfs: rootfs)
        let map: [[String: Any]] = [["containerID": 0, "hostID": 1000, "size": 1]]
        s.mounts += [
            [
                "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap", "nosuid", "nodev", "mode=755"],
                "uidMappings": map, "gidMappings": map,
            ],
            ["destination": "/u", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("/t 1000 1000\n/u 0 0\n"), "\(r)")
        #expect(r.stdout.contains("nosuid,nodev"), "mount options are attributes of the detached mount: \(r)")
    }

    @Test("an idmapped bind shows a host root-owned directory as root in a user namespace; a plain one as nobody")
    func idmap() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("idmap-rootfs"))
        for d in ["idm", "own", "plain"] { try FileManager.default.createDirectory(atPath: rootfs + "/" + d, withIntermediateDirectories: true) }
        let host = Harness.scratch + "/" + Harness.uniqueName("owned-by-root")
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        var s = try Skiff(["sh", "-c", "stat -c '%n %u' /idm /own /plain; touch /idm/made"], rootfs: rootfs)
        s.namespaces.append(["type": "user"])
        s["linux", "uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
        s["linux", "gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
        s.mounts += [
            ["destination": "/idm", "source": host, "options": ["rbind", "idmap"]],
            [
                "destination": "/own", "source": host, "options": ["bind", "idmap"],
                "uidMappings": [["containerID": 0, "hostID": 100000, "size": 65536]],
                "gidMappings": [["containerID": 0, "hostID": 100000, "size": 65536]],
            ],
            ["destination": "/plain", "source": host, "options": ["rbind"]],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "/idm 0\n/own 0\n/plain 65534\n")
        let made = try FileManager.default.attributesOfItem(atPath: host + "/made")
        #expect((made[.ownerAccountID] as? NSNumber)?.intValue == 0, "made through the idmap: root's on the host")
    }
}
