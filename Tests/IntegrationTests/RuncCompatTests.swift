import Foundation
import Testing

/// Where configs, harnesses and cleanup scripts written for runc rely on
/// runc's behaviour (issue: "Behave as runc does"). Each test shows the
/// form that used to fail, now working as with runc.
@Suite struct RuncCompatTests {
    @Test("rootfsPropagation takes runc's recursive spellings", arguments: ["rprivate", "rshared", "rslave", "runbindable", "unbindable"])
    func recursivePropagation(_ value: String) throws {
        var s = try Skiff(["true"])
        s["linux", "rootfsPropagation"] = value
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
    }

    @Test("delete --force of a container that does not exist succeeds; without --force it is an error")
    func deleteForceMissing() throws {
        let s = try Skiff(["true"])
        let id = Harness.uniqueName("gone")
        #expect(try s.run(id).status == 0)  // run removes it
        #expect(try s("delete", "--force", id).status == 0)
        let plain = try s("delete", id)
        #expect(plain.status == 1 && plain.stderr.contains("container `\(id)` does not exist"), "\(plain)")
    }

    @Test("kill with signal 0 checks that the container is alive")
    func signalZero() throws {
        let s = try Skiff(["sleep", "30"])
        let id = Harness.uniqueName("zero")
        #expect(try s("run", "--detach", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        #expect(try s("kill", id, "0").status == 0)
        #expect(try s("kill", "--all", id, "0").status == 0)
        #expect(try s.state(id)["status"] as? String == "running")
        #expect(try s("kill", id, "KILL").status == 0)
        try waitFor { (try? s.state(id)["status"] as? String) == "stopped" }
        let dead = try s("kill", id, "0")
        #expect(dead.status == 1 && dead.stderr.contains("container not running"), "\(dead)")
    }

    @Test("filesystem data options on a bind mount are ignored, never applied to the source")
    func bindDataOptions() throws {
        let dir = Harness.scratch + "/" + Harness.uniqueName("src")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o711)
        var s = try Skiff(["sh", "-c", "stat -c %a /data; grep ' /data ' /proc/self/mountinfo"])
        s.mounts.append(["destination": "/data", "source": dir, "options": ["nosuid", "mode=755", "size=1k", "bind"]])
        let r = try s(["--debug", "run", "--bundle", s.bundle, Harness.uniqueName("data")])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("711\n"), "the bind shows the source as it is: \(r)")
        #expect(r.stderr.contains("`mode=755`, `size=1k` ignored: a bind mount takes no filesystem options"), "\(r)")
        let mode = (try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o711, "the source changed")
    }

    @Test("a read-only /dev tmpfs gets its mount points, devices and links first")
    func readonlyDev() throws {
        var s = try Skiff(["sh", "-c", "ls /dev/pts/ptmx /dev/null >/dev/null && touch /dev/x 2>&1; grep ' /dev ' /proc/self/mountinfo"])
        s.mounts = s.mounts.map { m in
            guard m["destination"] as? String == "/dev" else { return m }
            var m = m
            m["options"] = ["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]
            return m
        }
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("Read-only file system"), "\(r)")
        #expect(r.stdout.contains(" /dev ro,"), "\(r)")
    }

    @Test("a missing process.cwd is created inside the rootfs")
    func cwdCreated() throws {
        var s = try Skiff(["pwd"], rootfs: Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs")))
        s["process", "cwd"] = "/work/dir"
        s["root"] = ["path": s["root", "path"] as? String ?? "", "readonly": true]
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "/work/dir\n", "\(r)")
    }

    @Test("a tmpfs without mode= keeps the mode of the directory it covers")
    func tmpfsKeepsMode() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs"))
        try FileManager.default.createDirectory(atPath: rootfs + "/cache", withIntermediateDirectories: true)
        chmod(rootfs + "/cache", 0o712)
        var s = try Skiff(["stat", "-c", "%a", "/cache", "/fresh"], rootfs: rootfs)
        s.mounts.append(["destination": "/cache", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]])
        s.mounts.append(["destination": "/fresh", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]])
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "712\n1777\n", "\(r)")
    }

    @Test("tmpcopyup (podman's --tmpfs and --read-only): the tmpfs starts with a copy of the directory, links as links, owners and modes kept")
    func tmpCopyUp() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs"))
        let data = rootfs + "/data"
        try FileManager.default.createDirectory(atPath: data + "/sub/deeper", withIntermediateDirectories: true)
        try "hello\n".write(toFile: data + "/sub/deeper/file", atomically: true, encoding: .utf8)
        chmod(data + "/sub/deeper/file", 0o604)
        chown(data + "/sub/deeper/file", 1000, 1001)
        chmod(data + "/sub", 0o711)
        try FileManager.default.createSymbolicLink(atPath: data + "/link", withDestinationPath: "/etc/passwd")
        var s = try Skiff(
            [
                "sh", "-c",
                """
                grep ' /data ' /proc/self/mounts | cut -d' ' -f3; cat /data/sub/deeper/file
                stat -c '%a %u:%g' /data/sub /data/sub/deeper/file; readlink /data/link
                echo new > /data/new && echo writable
                """,
            ], rootfs: rootfs)
        s.mounts.append(["destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "tmpcopyup"]])
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "tmpfs\nhello\n711 0:0\n604 1000:1001\n/etc/passwd\nwritable\n", "\(r)")
        // The image's directory is unchanged.
        #expect(!FileManager.default.fileExists(atPath: data + "/new"))
        var bind = try Skiff(["true"])
        bind.mounts.append(["destination": "/x", "source": Harness.scratch, "options": ["bind", "tmpcopyup"]])
        try bind.expectRefused("options: `tmpcopyup` applies to a tmpfs only, not to a bind mount")
        var proc = try Skiff(["true"])
        proc.mounts.append(["destination": "/x", "type": "proc", "source": "proc", "options": ["tmpcopyup"]])
        try proc.expectRefused("options: `tmpcopyup` applies to a tmpfs (without idmap) only, not to `proc`")
    }

    @Test("a mount namespace joined by path gets the rootfs built in it (runc's meaning), never skiff's own")
    func joinMountNamespace() throws {
        // A namespace prepared for the container, held by a process.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["-m", "--propagation", "private", "sleep", "30"]
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        let ns = "/proc/\(holder.processIdentifier)/ns/mnt"
        try waitFor {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: ns))
                != (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt"))
        }
        var s = try Skiff(["sh", "-c", "readlink /proc/self/ns/mnt; cat /proc/self/mountinfo | wc -l"])
        s.namespaces = s.namespaces.map { $0["type"] as? String == "mount" ? ["type": "mount", "path": ns] : $0 }
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix(try FileManager.default.destinationOfSymbolicLink(atPath: ns) + "\n"), "\(r)")
        // The container's mounts were made in that namespace, not the host's.
        #expect(!Harness.hostMountinfo().contains(s.bundle) && !Harness.hostMountinfo().contains(Harness.sharedRootfs))

        s.namespaces = s.namespaces.map { $0["type"] as? String == "mount" ? ["type": "mount", "path": "/proc/self/ns/mnt"] : $0 }
        try s.expectRefused("`/proc/self/ns/mnt` is skiff's own mount namespace")
    }

    @Test("hostname and domainname are set in a uts namespace joined by path")
    func hostnameInJoinedUTS() throws {
        let a = try Skiff(["sleep", "30"])
        let idA = Harness.uniqueName("uts")
        #expect(try a("run", "--detach", "--bundle", a.bundle, idA).status == 0)
        defer { _ = try? a("delete", "--force", idA) }
        let pidA = try #require(a.state(idA)["pid"] as? Int)
        var b = try Skiff(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
        b.namespaces = b.namespaces.map { ns in
            ns["type"] as? String == "uts" ? ["type": "uts", "path": "/proc/\(pidA)/ns/uts"] : ns
        }
        b["hostname"] = "joined"
        b["domainname"] = "joined.test"
        let host = ProcessInfo.processInfo.hostName
        let r = try b.run()
        #expect(r.status == 0 && r.stdout == "joined\njoined.test\n", "\(r)")
        #expect(ProcessInfo.processInfo.hostName == host)
        // And with no uts namespace at all it is still refused: it would be the host's.
        b.namespaces = b.namespaces.filter { $0["type"] as? String != "uts" }
        try b.expectRefused("hostname: setting the hostname needs a uts namespace in linux.namespaces")
    }

    @Test("runc compat #20, #21: kernel.hostname/domainname sysctls conflict with the fields (even without them) unless they say the same")
    func hostnameTwice() throws {
        var s = try Skiff(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
        s["linux", "sysctl"] = ["kernel.hostname": "other"]
        try s.expectRefused(#"linux.sysctl["kernel.hostname"]: `other` conflicts with hostname `skiff`: keep one"#)
        s["hostname"] = nil
        try s.expectRefused(#"linux.sysctl["kernel.hostname"]: conflicts with the `hostname` field: set hostname instead"#)
        s["domainname"] = "d.test"
        s["linux", "sysctl"] = ["kernel.domainname": "e.test"]
        try s.expectRefused(#"linux.sysctl["kernel.domainname"]: `e.test` conflicts with domainname `d.test`: keep one"#)
        // The same value twice runs, as with runc and crun.
        s["hostname"] = "h.test"
        s["linux", "sysctl"] = ["kernel.domainname": "d.test", "kernel.hostname": "h.test"]
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "h.test\nd.test\n", "\(r)")
    }

    @Test("runc compat #22: ioPriority IOPRIO_CLASS_IDLE without a priority runs (priority 0); another class needs one")
    func ioPriorityIdle() throws {
        var s = try Skiff(["sh", "-c", "cat /proc/self/io 2>/dev/null >/dev/null; ionice -p $$ 2>/dev/null || echo no-ionice"])
        s["process", "ioPriority"] = ["class": "IOPRIO_CLASS_IDLE"]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        s["process", "ioPriority"] = ["class": "IOPRIO_CLASS_BE"]
        try s.expectRefused("process.ioPriority.priority: required for `IOPRIO_CLASS_BE`")
    }

    @Test(
        "delete --force of a container frozen by a freezer skiff did not make stops waiting, keeps the state, and finishes once thawed",
        .needsCgroupV1)
    func deleteForceBounded() throws {
        let s = try Skiff(["sleep", "60"])
        let id = Harness.uniqueName("frozen")
        #expect(try s("run", "--detach", "--bundle", s.bundle, id).status == 0)
        let pid = try #require(s.state(id)["pid"] as? Int)
        // The test's own freezer cgroup (v1 on this host), removed at the end.
        let cg = "/sys/fs/cgroup/freezer/" + Harness.uniqueName("skiff-test")
        try FileManager.default.createDirectory(atPath: cg, withIntermediateDirectories: false)
        defer {
            try? "THAWED".write(toFile: cg + "/freezer.state", atomically: false, encoding: .utf8)
            _ = try? s("delete", "--force", id)
            try? waitFor { rmdir(cg) == 0 }
        }
        try "\(pid)".write(toFile: cg + "/cgroup.procs", atomically: false, encoding: .utf8)
        try "FROZEN".write(toFile: cg + "/freezer.state", atomically: false, encoding: .utf8)
        try waitFor { (try? String(contentsOfFile: cg + "/freezer.state", encoding: .utf8)) == "FROZEN\n" }
        let stuck = try s("delete", "--force", id)
        #expect(stuck.status == 1, "\(stuck)")
        #expect(
            stuck.stderr.contains("pid \(pid) did not exit within 5 s of SIGKILL (it is frozen in the cgroup `\(cg)`: thaw it); the container is kept"),
            "\(stuck)")
        #expect(FileManager.default.fileExists(atPath: s.root + "/" + id), "the state was removed")
        try "THAWED".write(toFile: cg + "/freezer.state", atomically: false, encoding: .utf8)
        let done = try s("delete", "--force", id)
        #expect(done.status == 0, "\(done)")
        s.expectNothingLeft(id)
    }

    @Test("state and list print runc's fields in runc's order")
    func jsonOrder() throws {
        let s = try Skiff(["sleep", "30"])
        let id = Harness.uniqueName("order")
        #expect(try s("create", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        let keys = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"].map { "\"\($0)\":" }
        for text in [try s("state", id).stdout, try s("list", "--format", "json").stdout] {
            let at = keys.map { text.range(of: $0)?.lowerBound }
            #expect(!at.contains(nil), "\(text)")
            let found = at.compactMap { $0 }
            #expect(found == found.sorted(), "fields out of runc's order: \(text)")
        }
    }

    @Test(
        "with a user namespace, a bind source only the caller can reach (0700), or only root can search (000, runc compat #24), is opened before entering it",
        arguments: [0o700, 0o000])
    func bindSourceBeforeUserNamespace(mode: Int) throws {
        let locked = Harness.scratch + "/" + Harness.uniqueName("private")
        try FileManager.default.createDirectory(atPath: locked + "/data", withIntermediateDirectories: true)
        try "hi\n".write(toFile: locked + "/data/f", atomically: false, encoding: .utf8)
        chmod(locked, mode_t(mode))
        defer { chmod(locked, 0o700) }
        var s = try Skiff(["cat", "/out/f"])
        s.namespaces.append(["type": "user"])
        s["linux", "uidMappings"] = [["containerID": 0, "hostID": 1, "size": 10]]
        s["linux", "gidMappings"] = [["containerID": 0, "hostID": 1, "size": 10]]
        s.mounts.append(["destination": "/out", "source": locked + "/data", "options": ["rbind", "ro"]])
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "hi\n", "\(r)")
    }

    @Test("--no-pivot moves the rootfs onto / and chroots; the host's procfs and sysfs are gone from its mount namespace")
    func noPivot() throws {
        var s = try Skiff(["sh", "-c", "(echo $$; hostname; wc -c < /proc/timer_list; ls /) > /out/log; sleep 30"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        let id = Harness.uniqueName("nopivot")
        let r = try s("run", "--detach", "--no-pivot", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        defer { _ = try? s("delete", "--force", id) }
        try waitFor { ((try? String(contentsOfFile: out + "/log", encoding: .utf8)) ?? "").contains("tmp") }
        let log = try String(contentsOfFile: out + "/log", encoding: .utf8)
        #expect(log.hasPrefix("1\nskiff\n0\nbin\n"), "pid 1, hostname, masked timer_list, the rootfs as /: \(log)")
        // The old root stays under the moved one: every mount of the
        // namespace, reachable or not, must not be the host's procfs or
        // sysfs (the kernel lets a user namespace mount procfs while a full
        // one is in its mount namespace; runc detaches them too).
        let pid = try #require(s.state(id)["pid"] as? Int)
        let mounts = try Harness.exec(Attack.binary, ["mounts-of", "\(pid)"])
        let lines = mounts.stdout.split(separator: "\n").map(String.init)
        #expect(mounts.status == 0 && lines.contains { $0.hasPrefix("9fa0 ") }, "the container's own procfs: \(mounts)")
        for dir in ["/proc", "/sys"] {
            var st = stat()
            try #require(stat(dir, &st) == 0)
            let dev = "\(UInt32(st.st_dev >> 8) & 0xfff):\(UInt32(st.st_dev & 0xff) | UInt32((st.st_dev >> 12) & 0xfff00))"
            #expect(!lines.contains { $0.hasSuffix(" " + dev) }, "the host's \(dir) (\(dev)) is in the container's mount namespace: \(mounts)")
        }
    }

    @Test("run --keep leaves the container, stopped, for delete; --no-new-keyring is accepted")
    func runKeep() throws {
        let s = try Skiff(["sh", "-c", "exit 3"])
        let id = Harness.uniqueName("keep")
        let r = try s("run", "--keep", "--no-new-keyring", "--bundle", s.bundle, id)
        #expect(r.status == 3, "\(r)")
        #expect(try s.state(id)["status"] as? String == "stopped")
        #expect(try s("delete", id).status == 0)
        s.expectNothingLeft(id)
    }
}

/// What engines match in runc's answers: containerd's runc shim calls
/// `kill --all ID 9` after every exit and reads "container not running" or
/// "does not exist" in a failure as "already gone"; anything else is an
/// "unknown error after kill" that it retries for ever (every Kubernetes
/// pod teardown hung on it).
@Suite struct RuncAnswersTests {
    @Test("kill of a stopped container: --all exits 0; a plain kill exits 1 with `container not running`; a missing one `does not exist`")
    func killStopped() throws {
        let s = try Skiff(["true"])
        let id = Harness.uniqueName("gone")
        #expect(try s("run", "--keep", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        #expect(try s.state(id)["status"] as? String == "stopped")
        // As containerd's shim calls it.
        let log = s.bundle + "/log.json"
        let all = try s("kill", "--all", id, "9", global: ["--log", log, "--log-format", "json"])
        #expect(all.status == 0, "\(all)")
        let plain = try s("kill", id, "9")
        #expect(plain.status == 1 && plain.stderr.contains("container not running"), "\(plain)")
        let missing = try s("kill", Harness.uniqueName("nosuch"), "9")
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing)")
        #expect(try s("delete", id).status == 0)
        let stateMissing = try s("state", id)
        #expect(stateMissing.status == 1 && stateMissing.stderr.contains("does not exist"), "\(stateMissing)")
        #expect(try s("delete", "--force", id).status == 0, "delete --force of what is gone succeeds")
    }

    @Test("kill --all of a stopped container without a pid namespace still reaches its processes left in the cgroup")
    func killAllLeftovers() throws {
        var s = try Skiff(["sh", "-c", "sleep 300 & echo $! > /dev/shm/child; exit 0"])
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "pid" }
        let id = Harness.uniqueName("leftover")
        #expect(try s("run", "--keep", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        #expect(try s.state(id)["status"] as? String == "stopped")
        let procs = try Harness.sh("grep -l '\(id)' /proc/[0-9]*/cgroup 2>/dev/null | wc -l").stdout
        try #require(Int(procs.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 1, "the orphan is in the cgroup")
        #expect(try s("kill", "--all", id, "KILL").status == 0)
        try waitFor {
            (Int((try? Harness.sh("grep -l '\(id)' /proc/[0-9]*/cgroup 2>/dev/null | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "1")
                ?? 1) == 0
        }
        #expect(try s("delete", id).status == 0)
        s.expectNothingLeft(id)
    }
}

/// `skiff spec` writes what `runc spec` writes (harnesses make bundles
/// with `$RUNTIME spec`, then create with --console-socket).
@Suite(.needsProgram("/usr/sbin/runc", package: "runc")) struct SpecCompatTests {
    static func spec(_ binary: String, _ args: [String], as user: String? = nil) throws -> [String: Any] {
        let dir = Harness.scratch + "/" + Harness.uniqueName("spec")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o777)
        let argv = [binary, "spec"] + args
        let r =
            user.map { try? Harness.exec("/usr/sbin/runuser", ["-u", $0, "--"] + argv + ["--bundle", dir]) }
            ?? (try? Harness.exec(argv[0], Array(argv.dropFirst()) + ["--bundle", dir]))
        guard let r, r.status == 0 else { throw HarnessError("\(argv): \(String(describing: r))") }
        var c = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any]) ?? [:]
        c["ociVersion"] = nil
        c["hostname"] = nil
        return c
    }

    @Test("runc compat #5: skiff spec is runc spec (terminal, no cgroup namespace, deny-all device rule, ambient set), ociVersion and hostname aside")
    func same() throws {
        let skiff = try Self.spec(Harness.binary, [])
        let runc = try Self.spec("/usr/sbin/runc", [])
        #expect(NSDictionary(dictionary: skiff).isEqual(to: runc), "skiff: \(skiff)\nrunc: \(runc)")
    }

    @Test("runc compat #5: skiff spec --rootless is runc spec --rootless, but for /sys read-only all the way down")
    func rootless() throws {
        var skiff = try Self.spec(Harness.binary, ["--rootless"], as: "nobody")
        let runc = try Self.spec("/usr/sbin/runc", ["--rootless"], as: "nobody")
        // The one deliberate difference (docs/runc-differences.md): rro.
        skiff["mounts"] = (skiff["mounts"] as? [[String: Any]])?.map { m in
            var m = m
            if m["destination"] as? String == "/sys" { m["options"] = (m["options"] as? [String])?.map { $0 == "rro" ? "ro" : $0 } }
            return m
        }
        #expect(NSDictionary(dictionary: skiff).isEqual(to: runc), "skiff: \(skiff)\nrunc: \(runc)")
    }

    @Test("a bundle from skiff spec runs as harnesses run it: create --console-socket, start, the terminal's output")
    func consoleSocketFlow() throws {
        var s = try Skiff(["sh", "-c", "tty; echo from-spec"])
        let dir = s.bundle + "/plain"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try Harness.exec(Harness.binary, ["spec", "--bundle", dir])
        try #require(r.status == 0, "\(r)")
        let plain = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as? [String: Any]) ?? [:]
        s.config = plain
        s["root"] = ["path": Harness.sharedRootfs, "readonly": true]
        s["process", "args"] = ["sh", "-c", "tty; echo from-spec"]
        let recv = try ConsoleReceiver(dir: s.bundle)
        let id = Harness.uniqueName("specflow")
        let c = try s("create", "--bundle", s.bundle, "--console-socket", recv.path, id)
        try #require(c.status == 0, "\(c)")
        #expect(c.stderr.isEmpty, "runc compat #6: nothing said about runc spec's own ambient set: \(c)")
        defer { _ = try? s("delete", "--force", id) }
        #expect(try s("start", id).status == 0)
        let out = try recv.converse("", until: "from-spec")
        #expect(out.contains("/dev/pts/0") && out.contains("from-spec"), "\(out)")
    }
}
