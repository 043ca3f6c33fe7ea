import Foundation
import Testing

/// checkpoint and restore through CRIU, in the cgroup v2 guest: Debian's
/// 6.1 kernel, where `criu check` passes once CRIU's modules are loaded
/// (this host's kernel fails it on its vDSO layout). The rootfs and the
/// images are on the guest's tmpfs: CRIU cannot dump a root on 9p.
@Suite(
    .inGuest(inCgroup2Guest, "QemuGuestTests boots (cgroup v2, no systemd)"),
    .needsProgram("/usr/sbin/criu", package: "criu"), .serialized)
struct CheckpointTests {
    /// CRIU's kernel parts that Debian builds as modules: without the diag
    /// ones it fails "Dumping FAILED" with no error of its own (the reason
    /// runc 1.1.5's checkpoint failed here), without conntrack's netlink on
    /// the network namespace's dump.
    static let modules: Void = {
        for m in [
            "crc32c_generic", "libcrc32c", "tun", "veth", "nf_tables", "nft_chain_nat", "inet_diag", "unix_diag",
            "netlink_diag", "tcp_diag", "udp_diag", "raw_diag", "af_packet_diag", "nf_conntrack_netlink",
        ] {
            _ = try? Harness.exec("/run/cgvm-bin/busybox", ["modprobe", m])
        }
    }()

    /// A counter that writes "<its pid> <n>" to /out/count five times a
    /// second, in a cgroup with limits, with /out bound from the host.
    struct Counter {
        var s: Skiff
        let id: String
        let out: String
        /// --systemd-cgroup: a scope in system.slice, which every call names.
        let systemd: Bool
        var global: [String] { systemd ? ["--systemd-cgroup"] : [] }
        var unit: String { "skiff-cr-\(id).scope" }
        var cgroup: String { systemd ? "/sys/fs/cgroup/system.slice/" + unit : "/sys/fs/cgroup/skiff-cr/" + id }

        init(binary: String = Harness.binary, terminal: Bool = false, systemd: Bool = false) throws {
            self.systemd = systemd
            _ = CheckpointTests.modules
            s = try Skiff(
                terminal
                    ? ["sh"]
                    : ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $$ $i > /out/count; sleep 0.2; done"])
            s.binary = binary
            id = Harness.uniqueName("cr")
            out = try s.outDir()
            s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
            s["linux", "cgroupsPath"] = systemd ? "system.slice:skiff-cr:\(id)" : "/skiff-cr/\(id)"
            s["linux", "resources"] = ["memory": ["limit": 64 << 20], "pids": ["limit": 40]]
            s["process", "terminal"] = terminal
        }

        /// (pid inside, n) from /out/count.
        func count() -> (Int, Int)? {
            guard let text = try? String(contentsOfFile: out + "/count", encoding: .utf8) else { return nil }
            let f = text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return f.count == 2 ? (f[0], f[1]) : nil
        }

        func waitCount(above n: Int) throws -> Int {
            var last = 0
            try waitFor(seconds: 10) {
                last = count()?.1 ?? 0
                return last > n
            }
            return last
        }

        /// `run -d` with stdio on /dev/null: CRIU cannot dump an fd on a
        /// file outside the container (the harness's output files), and
        /// the runtime makes a host /dev/null the container's own.
        func start() throws -> Harness.Result {
            try s.writeConfig()
            return try Harness.sh(
                "'\(s.binary)' \(global.joined(separator: " ")) --root '\(s.root)' run -d --bundle '\(s.bundle)' \(id) </dev/null >/dev/null 2>&1")
        }

        func cleanup() {
            _ = try? s("delete", "--force", id, global: global)
            if !systemd { rmdir(cgroup) }
        }
    }

    @Test(
        "a counter checkpointed and restored goes on as pid 1, with its bind mount and its cgroup's limits; exec, pause, kill and delete work on it",
        arguments: ["skiff", "runc"])
    func counter(_ runtime: String) throws {
        let binary = runtime == "skiff" ? Harness.binary : "/usr/sbin/runc"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "\(binary) is not installed")
        var c = try Counter(binary: binary)
        defer { c.cleanup() }
        let run = try c.start()
        try #require(run.status == 0, "\(run)")
        let before = try c.waitCount(above: 3)
        let images = c.s.bundle + "/images"
        let dump = try c.s("checkpoint", "--image-path", images, c.id)
        try #require(dump.status == 0, "\(dump)\n\(Self.log(images + "/dump.log"))")
        // The tree is gone with the dump, and so is the container.
        let stopped = c.count()
        Thread.sleep(forTimeInterval: 0.6)
        #expect(c.count()?.1 == stopped?.1, "the counter ran on after the dump")
        #expect(try c.s("state", c.id).status != 0, "the container is gone after checkpoint")
        c.s["process", "args"] = ["false"]  // restore must not run the config's process
        let restore = try c.s("restore", "-d", "--image-path", images, "--bundle", c.s.bundle, c.id)
        try #require(restore.status == 0, "\(restore)\n\(Self.log(images + "/restore.log"))")
        let after = try c.waitCount(above: (stopped?.1 ?? before) + 2)
        #expect(after > (stopped?.1 ?? 0), "the counter goes on from where it was")
        #expect(c.count()?.0 == 1, "still pid 1 in its namespace: \(String(describing: c.count()))")
        let state = try c.s.state(c.id)
        #expect(state["status"] as? String == "running", "\(state)")
        let pid = state["pid"] as? Int ?? 0
        let procs = (try? String(contentsOfFile: c.cgroup + "/cgroup.procs", encoding: .utf8)) ?? ""
        #expect(procs.split(separator: "\n").contains(Substring(String(pid))), "in its cgroup: \(procs)")
        let limit = (try? String(contentsOfFile: c.cgroup + "/memory.max", encoding: .utf8)) ?? ""
        #expect(limit == "\(64 << 20)\n", "the limit is kept: \(limit)")
        let exec = try c.s("exec", c.id, "cat", "/proc/1/status")
        #expect(exec.status == 0 && exec.stdout.contains("Name:\tsh"), "\(exec)")
        #expect(try c.s("pause", c.id).status == 0)
        #expect(try c.s.state(c.id)["status"] as? String == "paused")
        #expect(try c.s("resume", c.id).status == 0)
        #expect(try c.s("kill", c.id, "KILL").status == 0)
        try waitFor { (try? c.s.state(c.id)["status"] as? String) == "stopped" }
        #expect(try c.s("delete", c.id).status == 0)
        c.s.expectNothingLeft(c.id)
    }

    @Test(
        "what the container had survives restore: the network namespace it joined by path, its seccomp filter, capabilities and no_new_privs, masked and read-only paths, a config device"
    )
    func survives() throws {
        // A network namespace of the test's own, bound at /run/netns/NAME.
        let name = Harness.uniqueName("crns")
        let add = try Harness.sh("ip netns add \(name)")
        try #require(add.status == 0, "\(add)")
        defer { _ = try? Harness.sh("ip netns del \(name)") }
        let netns = "/run/netns/" + name
        var st = stat()
        try #require(stat(netns, &st) == 0)
        let theirs = "net:[\(st.st_ino)]"
        var c = try Counter()
        defer { c.cleanup() }
        c.s.namespaces = c.s.namespaces.map { ($0["type"] as? String) == "network" ? ["type": "network", "path": netns] : $0 }
        c.s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13]],
        ]
        for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
            c.s["process", "capabilities", set] = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
        }
        c.s["process", "noNewPrivileges"] = true
        c.s["linux", "devices"] = [["path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600]]
        if try c.start().status != 0 {
            let why = try c.s("run", "--bundle", c.s.bundle, c.id + "x")
            Issue.record("run -d failed; in the foreground: \(why)")
            return
        }
        _ = try c.waitCount(above: 2)
        let probe =
            "grep -E '^(CapEff|CapBnd|Seccomp|Seccomp_filters|NoNewPrivs):' /proc/1/status; readlink /proc/1/ns/net; "
            + "wc -c < /proc/kcore; touch /proc/sys/x 2>/dev/null || echo ro; ls -l /dev/fuse | cut -c1"
        let before = try c.s("exec", c.id, "sh", "-c", probe)
        try #require(before.status == 0, "\(before)")
        #expect(before.stdout.contains("Seccomp:\t2\n") && before.stdout.contains("NoNewPrivs:\t1\n"), "\(before)")
        #expect(before.stdout.contains(theirs + "\n0\nro\nc\n"), "\(before)")
        let images = c.s.bundle + "/images"
        let dump = try c.s("checkpoint", "--image-path", images, c.id)
        try #require(dump.status == 0, "\(dump)\n\(Self.log(images + "/dump.log"))")
        let restore = try c.s("restore", "-d", "--image-path", images, "--bundle", c.s.bundle, c.id)
        try #require(restore.status == 0, "\(restore)\n\(Self.log(images + "/restore.log"))")
        let after = try c.s("exec", c.id, "sh", "-c", probe)
        #expect(after.status == 0 && after.stdout == before.stdout, "before:\n\(before.stdout)after:\n\(after.stdout)")
        _ = try c.waitCount(above: (c.count()?.1 ?? 0) + 1)
    }

    @Test("the config `runc spec` writes (read-only root, no_new_privs, its masks, a cgroupsPath): checkpoint and restore, the counter goes on")
    func runcSpec() throws {
        _ = Self.modules
        let bundle = Harness.scratch + "/" + Harness.uniqueName("crspec")
        let id = Harness.uniqueName("crspec")
        let root = bundle + "-state"
        let loop = "i=0; while true; do i=$((i+1)); echo $i > /dev/shm/count; sleep 0.2; done"
        let make = try Harness.exec(
            Harness.packageRoot.path + "/scripts/make-runc-bundle", [bundle, "sh", "-c", loop],
            env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SKIFF": Harness.binary, "CGROUPS_PATH": "/skiff-cr/\(id)"])
        try #require(make.status == 0, "\(make)")
        func skiff(_ args: String...) throws -> Harness.Result { try Harness.exec(Harness.binary, ["--root", root] + args) }
        defer {
            _ = try? skiff("delete", "--force", id)
            rmdir("/sys/fs/cgroup/skiff-cr/\(id)")
        }
        let run = try Harness.sh("'\(Harness.binary)' --root '\(root)' run -d --bundle '\(bundle)' \(id) </dev/null >/dev/null 2>&1")
        try #require(run.status == 0, "\(run)")
        func count() -> Int { Int(((try? skiff("exec", id, "cat", "/dev/shm/count"))?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
        try waitFor(seconds: 10) { count() > 25 }
        let images = bundle + "/images"
        let dump = try skiff("checkpoint", "--image-path", images, id)
        try #require(dump.status == 0, "\(dump)\n\(Self.log(images + "/dump.log"))")
        let restore = try skiff("restore", "-d", "--image-path", images, "--bundle", bundle, id)
        try #require(restore.status == 0, "\(restore)\n\(Self.log(images + "/restore.log"))")
        let after = count()
        #expect(after > 25, "the counter goes on from the checkpoint (a fresh start would be near 1): \(after)")
        let nnp = try skiff("exec", id, "grep", "NoNewPrivs", "/proc/1/status")
        #expect(nnp.stdout == "NoNewPrivs:\t1\n", "\(nnp)")
        #expect(try skiff("delete", "--force", id).status == 0)
    }

    @Test("--leave-running: the container goes on; once deleted, the images restore it")
    func leaveRunning() throws {
        let c = try Counter()
        defer { c.cleanup() }
        try #require(try c.start().status == 0)
        let n = try c.waitCount(above: 2)
        let images = c.s.bundle + "/images"
        let dump = try c.s("checkpoint", "--leave-running", "--image-path", images, c.id)
        try #require(dump.status == 0, "\(dump)")
        #expect(try c.s.state(c.id)["status"] as? String == "running")
        let m = try c.waitCount(above: n + 3)
        #expect(try c.s("delete", "--force", c.id).status == 0)
        let restore = try c.s("restore", "-d", "--image-path", images, "--bundle", c.s.bundle, c.id)
        try #require(restore.status == 0, "\(restore)\n\(Self.log(images + "/restore.log"))")
        // From the dump's count, which is below what it reached since.
        _ = try c.waitCount(above: 0)
        #expect(try c.s.state(c.id)["status"] as? String == "running")
        _ = m
    }

    @Test("--pre-dump, then a dump with --parent-path: the restore reads both")
    func preDump() throws {
        let c = try Counter()
        defer { c.cleanup() }
        try #require(try c.start().status == 0)
        let n = try c.waitCount(above: 2)
        let pre = try c.s("checkpoint", "--pre-dump", "--image-path", c.s.bundle + "/pre", c.id)
        try #require(pre.status == 0, "\(pre)\n\(Self.log(c.s.bundle + "/pre/dump.log"))")
        #expect(try c.s.state(c.id)["status"] as? String == "running", "a pre-dump leaves it running")
        _ = try c.waitCount(above: n + 2)
        let images = c.s.bundle + "/images"
        let dump = try c.s("checkpoint", "--parent-path", "../pre", "--image-path", images, c.id)
        try #require(dump.status == 0, "\(dump)\n\(Self.log(images + "/dump.log"))")
        #expect(FileManager.default.fileExists(atPath: images + "/parent"), "the dump links its parent")
        let restore = try c.s("restore", "-d", "--image-path", images, "--bundle", c.s.bundle, c.id)
        try #require(restore.status == 0, "\(restore)\n\(Self.log(images + "/restore.log"))")
        let stopped = c.count()?.1 ?? 0
        #expect(try c.waitCount(above: stopped) > stopped)
    }

    @Test("a container with a terminal: restore sends the restored master to --console-socket, and the shell answers on it")
    func terminal() throws {
        let c = try Counter(terminal: true)
        defer { c.cleanup() }
        let first = try ConsoleReceiver(dir: c.s.bundle)
        let run = try c.s("run", "-d", "--console-socket", first.path, "--bundle", c.s.bundle, c.id)
        try #require(run.status == 0, "\(run)")
        let out1 = try first.converse("echo one-$((1+1)) > /out/one; echo ONE-$((2+2))\n", until: "ONE-4")
        #expect(out1.contains("ONE-4"))
        let images = c.s.bundle + "/images"
        let dump = try c.s("checkpoint", "--image-path", images, c.id)
        try #require(dump.status == 0, "\(dump)\n\(Self.log(images + "/dump.log"))")
        let second = try ConsoleReceiver(dir: c.s.bundle + "/out")
        let restore = try c.s(
            "restore", "-d", "--console-socket", second.path, "--image-path", images, "--bundle", c.s.bundle, c.id)
        try #require(restore.status == 0, "\(restore)\n\(Self.log(images + "/restore.log"))")
        let out2 = try second.converse("echo TWO-$((3+3)); cat /out/one\n", until: "one-2")
        #expect(out2.contains("TWO-6") && out2.contains("one-2"), "\(out2)")
    }

    @Test("skiff check and features say checkpoint/restore works here")
    func check() throws {
        _ = Self.modules
        let check = try Harness.exec(Harness.binary, ["check"])
        #expect(check.stdout.contains("ok    checkpoint/restore: /usr/sbin/criu 3.") && check.stdout.contains("`criu check` passes"), "\(check)")
        let features = try Harness.exec(Harness.binary, ["features"])
        #expect(features.stdout.contains("\"org.opencontainers.runc.checkpoint.enabled\": \"true\""), "\(features)")
    }

    @Test(
        "podman container checkpoint and restore, then --export and restore --import into a new container, with skiff as the runtime",
        .enabled(if: Podman.missing == nil, "needs podman and conmon"))
    func podman() throws { try Self.podmanRoundTrip(cgroupManager: "cgroupfs") }

    /// podman checkpoints, restores, exports and imports a counter; it
    /// goes on through each.
    static func podmanRoundTrip(cgroupManager: String) throws {
        _ = Self.modules
        let pd = try Podman(cgroupManager: cgroupManager)
        defer { pd.stop() }
        let name = Harness.uniqueName("pdck")
        let loop = "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done"
        let run = try pd.podman(["run", "-d", "--network", "none"] + Podman.ulimits + ["--name", name, Podman.image, "sh", "-c", loop])
        try #require(run.status == 0, "\(run)")
        func count() -> Int {
            Int(((try? pd.podman(["exec", name, "cat", "/tmp/count"]))?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        try waitFor(seconds: 20) { count() > 2 }
        let ck = try pd.podman(["container", "checkpoint", name])
        try #require(ck.status == 0, "\(ck)")
        let status = try pd.podman(["ps", "-a", "--filter", "name=" + name, "--format", "{{.Status}}"])
        #expect(status.stdout.hasPrefix("Exited"), "\(status)")
        let rs = try pd.podman(["container", "restore", name])
        try #require(rs.status == 0, "\(rs)")
        let n = count()
        #expect(n > 2, "the restored counter goes on: \(n)")
        let archive = pd.dir + "/" + name + ".tar.gz"
        let export = try pd.podman(["container", "checkpoint", "--export", archive, name])
        try #require(export.status == 0, "\(export)")
        #expect(try pd.podman(["rm", "-f", "-t", "0", name]).status == 0)
        let imported = try pd.podman(["container", "restore", "--import", archive])
        try #require(imported.status == 0, "a new container from the archive (its rootfs lacks the first start's mount points): \(imported)")
        #expect(count() >= n, "it goes on from the export")
    }

    @Test(
        "containerd: `ctr c checkpoint --task --rw` into its content store, the task removed, `ctr c restore --live --rw` makes it again through the shim; the counter goes on",
        .enabled(if: ContainerdDaemon.missing == nil, "needs containerd, ctr and containerd-shim-runc-v2"))
    func containerd() throws {
        _ = Self.modules
        let d = try ContainerdDaemon.shared.get()
        let id = Harness.uniqueName("ctck")
        let loop = "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done"
        let run = try d.ctr(["run", "-d", "--runc-binary", Harness.binary, ContainerdDaemon.image, id, "sh", "-c", loop])
        try #require(run.status == 0, "\(run)")
        var execs = 0
        func count() -> Int {
            execs += 1
            let r = try? d.ctr(["tasks", "exec", "--exec-id", "c\(execs)", id, "cat", "/tmp/count"])
            return Int((r?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        // Far enough that a fresh start (not a restore) could not reach it
        // before the first read after restore.
        try waitFor(seconds: 30) { count() > 25 }
        let ref = "skiff.test/checkpoint/\(id):1"
        let ck = try d.ctr(["containers", "checkpoint", "--task", "--rw", id, ref])
        try #require(ck.status == 0, "\(ck)")
        let before = count()
        #expect(before > 25, "the task runs on after the checkpoint (containerd's default leaves it running)")
        #expect(try d.ctr(["tasks", "kill", "-s", "SIGKILL", id]).status == 0)
        try waitFor { (try? d.ctr(["tasks", "rm", id]).status) == 0 }
        #expect(try d.ctr(["containers", "rm", id]).status == 0)
        let rs = try d.ctr(["containers", "restore", "--live", "--rw", id, ref])
        try #require(rs.status == 0, "\(rs)")
        let line = try d.ctr(["tasks", "ls"]).stdout.split(separator: "\n").first { $0.hasPrefix(id + " ") }
        #expect(line?.hasSuffix("RUNNING") == true, "\(String(describing: line))")
        let after = count()
        #expect(after >= before, "the restored counter goes on from the checkpoint: \(before) then \(after)")
        try waitFor(seconds: 10) { count() > after }
        let (path, argv) = d.mounts.enter(Harness.binary, ["--root", "/run/containerd/runc/" + d.namespace, "state", id])
        let state = try Engines.spawn(path, argv, env: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
        #expect(state.status == 0 && state.stdout.contains("\"running\""), "skiff knows the restored task: \(state)")
        #expect(try d.ctr(["tasks", "kill", "-s", "SIGKILL", id]).status == 0)
        try waitFor { (try? d.ctr(["tasks", "rm", id]).status) == 0 }
        #expect(try d.ctr(["containers", "rm", id]).status == 0)
        _ = try d.ctr(["images", "rm", ref])
        #expect(Engines.skiffTraces(root: d.skiffRoot, id: id, namespace: d.mounts).isEmpty)
    }

    @Test("refused with the reason, nothing left: an id that exists, no images, an image dir without a checkpoint, bad flags")
    func refusals() throws {
        let c = try Counter()
        defer { c.cleanup() }
        try #require(try c.start().status == 0)
        let exists = try c.s("restore", "--image-path", c.s.bundle, "--bundle", c.s.bundle, c.id)
        #expect(exists.status == 1 && exists.stderr.contains("already exists"), "\(exists)")
        let other = Harness.uniqueName("cr")
        let missing = try c.s("restore", "--image-path", c.s.bundle + "/nope", "--bundle", c.s.bundle, other)
        #expect(missing.status == 1 && missing.stderr.contains("--image-path"), "\(missing)")
        let empty = try c.s("restore", "--image-path", c.out, "--bundle", c.s.bundle, other)
        #expect(empty.status == 1 && empty.stderr.contains("holds no checkpoint"), "\(empty)")
        c.s.expectNothingLeft(other)
        let mode = try c.s("checkpoint", "--manage-cgroups-mode", "sometimes", c.id)
        #expect(mode.status == 1 && mode.stderr.contains("--manage-cgroups-mode: `sometimes`"), "\(mode)")
        #expect(try c.s.state(c.id)["status"] as? String == "running", "a refused checkpoint leaves it running")
    }

    static func log(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log at \(path))"
        return text.split(separator: "\n").filter { $0.contains("Error") || $0.contains("Warn") }.suffix(20).joined(separator: "\n")
    }
}

/// What checkpoint and restore refuse before CRIU is asked, on any host:
/// each with its reason, nothing left behind, the container untouched.
@Suite struct CheckpointRefusalTests {
    @Test(
        "flags skiff does not support, or that cannot work, are refused with the reason; the container runs on",
        arguments: [
            (["--lazy-pages"], "--lazy-pages (and its --status-fd): not supported"),
            (["--status-fd", "3"], "--lazy-pages (and its --status-fd): not supported"),
            (["--page-server", "10.0.0.1:27"], "--page-server: not supported"),
            (["--parent-path", "/abs"], "--parent-path: `/abs` must be relative to the image path"),
            (["--empty-ns", "ipc"], "--empty-ns: `ipc` is not supported (only `network`, as runc)"),
            (["--manage-cgroups-mode", "x"], "--manage-cgroups-mode: `x` is not one of soft, full, strict, ignore"),
        ])
    func checkpointFlags(_ c: (flags: [String], message: String)) throws {
        let s = try Skiff(["sleep", "30"])
        let id = Harness.uniqueName("crf")
        defer { _ = try? s("delete", "--force", id) }
        try #require(try s("run", "-d", "--bundle", s.bundle, id).status == 0)
        let r = try s(["checkpoint"] + c.flags + ["--image-path", s.bundle + "/img", id])
        #expect(r.status == 1 && r.stderr.contains(c.message), "\(r)")
        #expect(try s.state(id)["status"] as? String == "running")
    }

    @Test("checkpoint of a container that does not exist or has stopped; restore with --no-pivot, without images")
    func states() throws {
        let s = try Skiff(["true"])
        let id = Harness.uniqueName("crs")
        defer { _ = try? s("delete", "--force", id) }
        let missing = try s("checkpoint", id)
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing)")
        try #require(try s("run", "--keep", "--bundle", s.bundle, id).status == 0)
        let stopped = try s("checkpoint", id)
        #expect(stopped.status == 1 && stopped.stderr.contains("is stopped: only a running container can be checkpointed"), "\(stopped)")
        let other = Harness.uniqueName("crs")
        let pivot = try s("restore", "--no-pivot", "--bundle", s.bundle, other)
        #expect(pivot.status == 1 && pivot.stderr.contains("restore --no-pivot"), "\(pivot)")
        let none = try s("restore", "--image-path", s.bundle + "/none", "--bundle", s.bundle, other)
        #expect(none.status == 1 && none.stderr.contains("--image-path"), "\(none)")
        s.expectNothingLeft(other)
    }

    @Test("unprivileged callers are refused: CRIU needs root of the host, as runc and crun say")
    func rootless() throws {
        var s = try Skiff(["sleep", "30"], rootless: true)
        s.user = "nobody"
        let r = try s("checkpoint", "nothing")
        #expect(r.status == 1 && r.stderr.contains("checkpoint: needs root of the host"), "\(r)")
        let q = try s("restore", "--bundle", s.bundle, "nothing")
        #expect(q.status == 1 && q.stderr.contains("restore: needs root of the host"), "\(q)")
    }

    /// This host's kernel fails `criu check` (CRIU 3.17 on the vDSO of 6.18).
    static let criuCheckFails: Bool = {
        // The guests load CRIU's modules as they go: `criu check` changes its answer.
        guard Host.has("/usr/sbin/criu"), !inCgroup2Guest, !inSystemdGuest else { return false }
        return ((try? Harness.exec("/usr/sbin/criu", ["check"]))?.status ?? 0) != 0
    }()

    @Test(
        "where `criu check` fails, checkpoint says so with CRIU's first error; the container runs on",
        .enabled(if: criuCheckFails, "needs CRIU installed on a kernel where `criu check` fails (the guest's passes)"))
    func criuCannot() throws {
        let s = try Skiff(["sleep", "30"])
        let id = Harness.uniqueName("crc")
        defer { _ = try? s("delete", "--force", id) }
        try s.writeConfig()
        let run = try Harness.sh("'\(s.binary)' --root '\(s.root)' run -d --bundle '\(s.bundle)' \(id) </dev/null >/dev/null 2>&1")
        try #require(run.status == 0, "\(run)")
        let r = try s("checkpoint", "--image-path", s.bundle + "/img", id)
        #expect(
            r.status == 1 && r.stderr.contains("criu dump failed") && r.stderr.contains("its log's first error: (")
                && r.stderr.contains("CRIU cannot work on this kernel"), "\(r)")
        #expect(try s.state(id)["status"] as? String == "running")
        let check = try Harness.exec(Harness.binary, ["check"])
        #expect(check.stdout.contains("warn  checkpoint/restore: `criu check` fails: Error"), "\(check)")
    }
}

@Suite struct DevNullStdioTests {
    @Test("stdio on the host's /dev/null becomes the container's own /dev/null (runc's reOpenDevNull); a file stays")
    func reopened() throws {
        let s = try Skiff(["sleep", "30"])
        let id = Harness.uniqueName("nul")
        defer { _ = try? s("delete", "--force", id) }
        try s.writeConfig()
        let r = try Harness.sh("'\(s.binary)' --root '\(s.root)' run -d --bundle '\(s.bundle)' \(id) </dev/null 2>/dev/null >'\(s.bundle)/out'")
        #expect(r.status == 0, "\(r)")
        let pid = try #require(try s.state(id)["pid"] as? Int)
        var host = stat(), fd0 = stat(), fd1 = stat(), fd2 = stat(), inside = stat()
        #expect(stat("/dev/null", &host) == 0 && stat("/proc/\(pid)/root/dev/null", &inside) == 0)
        #expect(stat("/proc/\(pid)/fd/0", &fd0) == 0 && stat("/proc/\(pid)/fd/1", &fd1) == 0 && stat("/proc/\(pid)/fd/2", &fd2) == 0)
        #expect(fd0.st_rdev == host.st_rdev && fd0.st_dev == inside.st_dev && fd0.st_ino == inside.st_ino, "stdin: the container's")
        #expect(fd2.st_dev == inside.st_dev && fd2.st_ino == inside.st_ino, "stderr: the container's")
        #expect(fd1.st_mode & S_IFMT == S_IFREG, "stdout, a file, is left alone")
    }
}

/// What the image controls, against the two places this work made root
/// touch the rootfs: the /dev/null the child reopens stdio on, and the
/// mount points restore makes.
@Suite struct CheckpointAttackTests {
    /// A rootfs of the test's own (writable), with `dev` left to the image.
    static func box(_ args: [String]) throws -> (Skiff, String) {
        let rootfs = Harness.scratch + "/" + Harness.uniqueName("atk-rootfs")
        _ = Harness.makeRootfs(at: rootfs)
        var s = try Skiff(args, rootfs: rootfs)
        // No /dev tmpfs: the image's own /dev/null is what the child finds.
        s.mounts = s.mounts.filter { ($0["destination"] as? String)?.hasPrefix("/dev") != true }
        return (s, rootfs)
    }

    @Test(
        "an image whose /dev/null is a FIFO, a symlink or a regular file is refused without blocking; stdio is never reopened on it",
        arguments: ["fifo", "symlink", "file"])
    func hostileDevNull(_ kind: String) throws {
        let (s, rootfs) = try Self.box(["sh", "-c", "stat -L -c %F /proc/$$/fd/0 > /tmp/fd0"])
        let victim = rootfs + "/etc/victim"
        try "untouched".write(toFile: victim, atomically: true, encoding: .utf8)
        switch kind {
        case "fifo": #expect(mkfifo(rootfs + "/dev/null", 0o666) == 0)
        case "symlink": try FileManager.default.createSymbolicLink(atPath: rootfs + "/dev/null", withDestinationPath: "/etc/victim")
        default: try "".write(toFile: rootfs + "/dev/null", atomically: true, encoding: .utf8)
        }
        try s.writeConfig()
        let id = Harness.uniqueName("atk")
        let r = try Harness.sh(
            "timeout 20 '\(s.binary)' --root '\(s.root)' run --bundle '\(s.bundle)' \(id) </dev/null >/dev/null 2>\(s.bundle)/err; echo $?; cat \(s.bundle)/err"
        )
        // Refused before anything runs (the default devices are made
        // first, and a different file there is an error), without blocking:
        // stdio is never reopened on the image's file.
        #expect(r.stdout.hasPrefix("1\n") && r.stdout.contains("create device `/dev/null`: a different file exists there"), "\(kind): \(r)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched")
        s.expectNothingLeft(id)
    }

    @Test("restore makes mount points inside the rootfs only: a symlink in the image pointing out of it never leads to the host")
    func mountPointEscape() throws {
        let (s0, rootfs) = try Self.box(["true"])
        var s = s0
        let outside = Harness.scratch + "/" + Harness.uniqueName("atk-outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        // `data` leads, for a lookup on the host, to a directory of the host's.
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/data", withDestinationPath: "../../../../../../../.." + outside)
        s.mounts.append(["destination": "/data/sub/x", "source": s.bundle, "options": ["rbind"]])
        let images = s.bundle + "/empty-images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let id = Harness.uniqueName("atk")
        let r = try s("restore", "--image-path", images, "--bundle", s.bundle, id)
        // The link is followed inside the rootfs only, where it leads
        // nowhere: refused with the mount's path; nothing on the host.
        #expect(r.status == 1 && r.stderr.contains("mounts[") && r.stderr.contains(".destination: open `data`"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: outside + "/sub"), "a mount point was made on the host")
        s.expectNothingLeft(id)
    }
}
