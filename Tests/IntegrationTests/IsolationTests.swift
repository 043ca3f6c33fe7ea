import Foundation
import Testing

/// What the container's process saw, asserted from inside.
@Suite(.serialized) struct RootRequirement {
    @Test("integration tests run as root (rootless ones switch users themselves)")
    func root() {
        #expect(getuid() == 0, "run the suite as root: it creates namespaces, mounts and users")
        #expect(FileManager.default.isExecutableFile(atPath: Harness.binary), "\(Harness.binary) is missing: swift build first")
    }
}

@Suite struct IsolationTests {
    @Test("the entrypoint is pid 1 and sees the configured hostname and domainname")
    func pidAndHostname() throws {
        var s = try Skiff(["sh", "-c", "echo $$; hostname; cat /proc/sys/kernel/domainname"])
        s["hostname"] = "boxy"
        s["domainname"] = "example.test"
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "1\nboxy\nexample.test\n")
    }

    @Test("the process has namespaces of its own, except those not asked for")
    func namespaces() throws {
        let kinds = ["pid", "mnt", "net", "uts", "ipc", "cgroup", "user", "time"]
        let script = kinds.map { "readlink /proc/self/ns/\($0)" }.joined(separator: "; ")
        let s = try Skiff(["sh", "-c", script])
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let inside = r.stdout.split(separator: "\n").map(String.init)
        let host = kinds.map { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\($0)")) ?? "" }
        try #require(inside.count == kinds.count, "\(r)")
        for (i, kind) in kinds.enumerated() {
            // `skiff spec`: pid, network, ipc, uts, mount, cgroup are new; user and time are the host's.
            if kind == "user" || kind == "time" {
                #expect(inside[i] == host[i], "\(kind) should be the host's")
            } else {
                #expect(inside[i] != host[i], "\(kind) should be new")
            }
        }
    }

    @Test("a namespace given by path is joined; one of the wrong type is refused")
    func joinByPath() throws {
        var a = try Skiff(["sleep", "30"])
        let idA = Harness.uniqueName("netns")
        #expect(try a("create", "--bundle", a.bundle, idA).status == 0)
        defer { _ = try? a("delete", "--force", idA) }
        let pidA = try #require(a.state(idA)["pid"] as? Int)
        var b = try Skiff(["readlink", "/proc/self/ns/net"])
        b.namespaces = b.namespaces.map { ns in
            ns["type"] as? String == "network" ? ["type": "network", "path": "/proc/\(pidA)/ns/net"] : ns
        }
        let r = try b.run()
        #expect(r.status == 0, "\(r)")
        let expected = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pidA)/ns/net")
        #expect(r.stdout == expected + "\n")

        b.namespaces = b.namespaces.map { ns in
            ns["type"] as? String == "network" ? ["type": "network", "path": "/proc/\(pidA)/ns/uts"] : ns
        }
        try b.expectRefused("path: `/proc/\(pidA)/ns/uts` is a uts namespace, not network")
        a["process", "args"] = ["true"]
    }

    @Test("mounts are present with their options; masked paths are empty; readonly paths are read-only")
    func mounts() throws {
        var s = try Skiff([
            "sh", "-c",
            """
            cat /proc/self/mountinfo; echo ---; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; cat /proc/keys | wc -c
            echo ---; echo 1 > /proc/sys/vm/drop_caches && echo writable; touch /rootfile && echo writable-root; echo end
            """,
        ])
        s.mounts.append(["destination": "/data", "source": "/etc", "options": ["rbind", "ro", "nosuid", "nodev"]])
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let parts = r.stdout.components(separatedBy: "---\n")
        try #require(parts.count == 3, "\(r)")
        let mounts = parts[0].split(separator: "\n").map { line -> (String, String, String) in
            let f = line.split(separator: " ")
            let dash = f.firstIndex(of: "-") ?? f.endIndex
            return (String(f[4]), String(f[5]), f.count > dash + 1 ? String(f[dash + 1]) : "")
        }
        func mount(_ dest: String) -> (options: String, type: String)? {
            mounts.last { $0.0 == dest }.map { ($0.1, $0.2) }
        }
        #expect(mount("/")?.options.hasPrefix("ro") == true, "root.readonly")
        #expect(mount("/proc")?.type == "proc")
        #expect(mount("/dev")?.type == "tmpfs" && mount("/dev")?.options.contains("nosuid") == true)
        #expect(mount("/dev/pts")?.type == "devpts")
        #expect(mount("/dev/shm").map { $0.options.contains("nodev") && $0.options.contains("noexec") } == true)
        #expect(mount("/dev/mqueue")?.type == "mqueue")
        #expect(mount("/sys").map { $0.type == "sysfs" && $0.options.hasPrefix("ro") } == true)
        #expect(mount("/sys/fs/cgroup")?.options.hasPrefix("ro") == true)
        #expect(mount("/data").map { $0.options.hasPrefix("ro") && $0.options.contains("nosuid") && $0.options.contains("nodev") } == true)
        #expect(mount("/proc/sys")?.options.hasPrefix("ro") == true)
        #expect(parts[1] == "0\n0\n0\n", "masked paths must read empty: \(parts[1])")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "/proc/timer_list")).count > 0, "the host's is not empty")
        #expect(!parts[2].contains("writable"), "\(parts[2])")
        #expect(r.stderr.contains("Read-only file system"), "\(r)")
    }

    @Test("recursive r* attributes reach submounts; propagation options apply")
    func recursiveAttributes() throws {
        var s = try Skiff(["sh", "-c", "cut -d' ' -f5,6,7 /proc/self/mountinfo"])
        // /sys carries submounts (the host's cgroups): rro must reach them, ro alone must not.
        s.mounts += [
            ["destination": "/rro", "source": "/sys", "options": ["rbind", "rro", "rnosuid", "rshared"]],
            ["destination": "/ro", "source": "/sys", "options": ["rbind", "ro", "rprivate"]],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let rro = lines.filter { $0.hasPrefix("/rro/fs/cgroup/") }
        let ro = lines.filter { $0.hasPrefix("/ro/fs/cgroup/") }
        #expect(!rro.isEmpty && rro.allSatisfy { $0.contains(" ro,") && $0.contains("nosuid") && $0.contains("shared:") }, "\(rro)")
        #expect(!ro.isEmpty && ro.allSatisfy { $0.contains(" rw,") && !$0.contains("shared:") }, "\(ro)")
        #expect(lines.contains { $0.hasPrefix("/ro ro,") }, "ro applies to the top mount: \(r)")
    }

    @Test("rlimits, user, groups, umask, cwd, env and oom_score_adj are what the config says")
    func process() throws {
        var s = try Skiff(["sh", "-c", "ulimit -n; ulimit -Hn; id; umask; pwd; echo $FOO $HOME; cat /proc/self/oom_score_adj"])
        s["process", "rlimits"] = [["type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024]]
        s["process", "user"] = ["uid": 1000, "gid": 1001, "additionalGids": [2000, 3000], "umask": 0o027]
        s["process", "cwd"] = "/tmp"
        s["process", "env"] = ["PATH=/bin", "FOO=bar"]
        s["process", "oomScoreAdj"] = 123
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "512\n1024\nuid=1000 gid=1001 groups=2000,3000\n0027\n/tmp\nbar /\n123\n")
    }

    @Test("capabilities: the bounding set is exact; a non-root user gets ambient ones")
    func capabilities() throws {
        var s = try Skiff(["cat", "/proc/self/status"])
        s["process", "capabilities"] = [
            "bounding": ["CAP_CHOWN", "CAP_KILL"], "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(statusField(r.stdout, "CapBnd") == "0000000000000021")
        #expect(statusField(r.stdout, "CapEff") == "0000000000000021")
        #expect(statusField(r.stdout, "NoNewPrivs") == "1")

        s["process", "user"] = ["uid": 1000, "gid": 1000]
        let nbs = ["CAP_NET_BIND_SERVICE"]
        s["process", "capabilities"] = ["bounding": nbs, "permitted": nbs, "effective": nbs, "inheritable": nbs, "ambient": nbs]
        s["process", "noNewPrivileges"] = false
        let u = try s.run()
        #expect(u.status == 0, "\(u)")
        #expect(statusField(u.stdout, "CapAmb") == "0000000000000400")
        #expect(statusField(u.stdout, "CapEff") == "0000000000000400")
        #expect(statusField(u.stdout, "CapBnd") == "0000000000000400")
        #expect(statusField(u.stdout, "NoNewPrivs") == "0")
    }

    @Test("default devices, a configured device, and /dev links")
    func devices() throws {
        var s = try Skiff([
            "sh", "-c",
            "stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse; readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin",
        ])
        s["linux", "devices"] = [["path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600]]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(
            r.stdout == """
                /dev/null character special file 1:3 666
                /dev/zero character special file 1:5 666
                /dev/full character special file 1:7 666
                /dev/random character special file 1:8 666
                /dev/urandom character special file 1:9 666
                /dev/tty character special file 5:0 666
                /dev/fuse character special file a:e5 600
                pts/ptmx
                /proc/self/fd
                /proc/self/fd/0

                """)
    }

    @Test("a new network namespace has lo up; namespaced sysctls apply inside only")
    func network() throws {
        var s = try Skiff(["sh", "-c", "cat /sys/class/net/lo/flags /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni"])
        s["linux", "sysctl"] = ["net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"]
        let host = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "0x9\n1\n1234\n")
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) == host)
    }

    @Test("the container's exit status is run's; a signal gives 128+N")
    func exitCodes() throws {
        let s = try Skiff(["sh", "-c", "exit 42"])
        #expect(try s.run().status == 42)
        var k = try Skiff(["sleep", "30"])
        let id = Harness.uniqueName("sig")
        let p = try k.runInBackground(id)
        #expect(try k("kill", id, "KILL").status == 0)
        p.waitUntilExit()
        #expect(p.terminationStatus == 137)
        k["process", "args"] = ["true"]
        k.expectNothingLeft(id)
    }

    @Test("run forwards SIGTERM to the container")
    func forwarding() throws {
        var s = try Skiff(["sh", "-c", "trap 'exit 5' TERM; while true; do sleep 0.05; done"])
        let id = Harness.uniqueName("fwd")
        let p = try s.runInBackground(id)
        Thread.sleep(forTimeInterval: 0.1)  // let sh install its trap
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 5)
        s["process", "args"] = ["true"]
        s.expectNothingLeft(id)
    }

    @Test("only stdio and --preserve-fds reach the container")
    func fds() throws {
        let s = try Skiff(["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3"])
        try s.writeConfig()
        let id = Harness.uniqueName("fds")
        // fd 3 is passed on purpose; fd 7 is a leak the caller made.
        let r = try Harness.sh("exec 3</etc/hostname 7</etc/passwd; \(Harness.binary) --root \(s.root) run --preserve-fds 1 --bundle \(s.bundle) \(id)")
        #expect(r.status == 0, "\(r)")
        let hostname = try String(contentsOfFile: "/etc/hostname", encoding: .utf8)
        #expect(r.stdout == "0 1 2 3 4 \(hostname)", "\(r)")  // 4: the fd ls has on /proc/self/fd
        let leak = try Harness.sh("exec 7</etc/passwd; \(Harness.binary) --root \(s.root) run --bundle \(s.bundle) \(id)-2")
        #expect(leak.stdout.hasPrefix("0 1 2 3 "), "\(leak)")
        #expect(leak.status != 0, "fd 3 must not exist without --preserve-fds")
    }

    /// skiff registers its own image with a userfaultfd (fault-around off:
    /// faultaround.c) on kernels with UFFD_FEATURE_WP_ASYNC (6.7); the fd
    /// must never reach a container, nor fill a gap in --preserve-fds.
    @Test(
        "skiff's own userfaultfd stays skiff's: registered, not in the container, not in a gap of --preserve-fds",
        .needsKernel(6, 7, for: "UFFD_FEATURE_WP_ASYNC, which skiff's fault-around needs"))
    func faultFd() throws {
        let s = try Skiff(["sh", "-c", "ls -l /proc/self/fd/; sleep 1"])
        try s.writeConfig()
        let id = Harness.uniqueName("uffd")
        // skiff's pid from `&`: its fds and mappings while the container runs.
        let r = try Harness.sh(
            """
            \(Harness.binary) --root \(s.root) run --bundle \(s.bundle) \(id) & pid=$!
            sleep 0.3
            echo "skiff: $(ls -l /proc/$pid/fd | grep -c userfaultfd) $(grep -c '^VmFlags:.* uw' /proc/$pid/smaps)"
            wait $pid
            """)
        #expect(r.status == 0, "\(r)")
        // One fd, and every file-backed segment of the image registered (uw).
        let mine = r.stdout.split(separator: "\n").first { $0.hasPrefix("skiff: ") } ?? ""
        let counts = mine.dropFirst(7).split(separator: " ").compactMap { Int($0) }
        #expect(counts.count == 2 && counts[0] == 1 && counts[1] >= 3, "\(r)")
        #expect(!r.stdout.contains("anon_inode:[userfaultfd]"), "\(r)")
        s.expectNothingLeft(id)

        // fd 4 is a gap: the error says so, whatever skiff holds.
        let gap = try Harness.sh("exec 3</etc/hostname 5</etc/passwd; \(Harness.binary) --root \(s.root) run --preserve-fds 3 --bundle \(s.bundle) \(id)-gap")
        #expect(gap.status == 1 && gap.stderr.contains("--preserve-fds 3: fd 4 is not open"), "\(gap)")
        s.expectNothingLeft(id + "-gap")
    }

    @Test("a symlink in the image pointing at a host path does not redirect a mount")
    func symlinkEscape() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("escape-rootfs"))
        let hostDir = Harness.scratch + "/" + Harness.uniqueName("host-target")
        try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/escape", withDestinationPath: hostDir)
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/up", withDestinationPath: "../../../../../../..\(hostDir)")
        var s = try Skiff(["sh", "-c", "touch /escape/inside /up/inside2 && echo ok"], rootfs: rootfs)
        s["root", "readonly"] = false
        s.mounts += [
            ["destination": "/escape", "type": "tmpfs", "source": "tmpfs"],
            ["destination": "/up/deeper", "type": "tmpfs", "source": "tmpfs"],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: hostDir).isEmpty, "the host directory was touched")
        // The mount points were made inside the rootfs, where the links resolve when / is the rootfs.
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: rootfs + hostDir, isDirectory: &isDir) && isDir.boolValue)
        #expect(!Harness.hostMountinfo().contains(hostDir))
    }

    // openat2 with RESOLVE_IN_ROOT fails with EAGAIN when a `..` step races
    // with any rename or mount on the system; parallel containers make that
    // common (it failed CI once), so lookups must retry.
    @Test("lookups through `..` inside the rootfs survive renames elsewhere on the host")
    func lookupsSurviveRenames() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rename-rootfs"))
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/up", withDestinationPath: "../../../../srv")
        var s = try Skiff(["true"], rootfs: rootfs)
        s["root", "readonly"] = false
        s.mounts += [["destination": "/up/deeper", "type": "tmpfs", "source": "tmpfs"]]
        try s.writeConfig()
        let churnDir = Harness.scratch + "/" + Harness.uniqueName("renames")
        try FileManager.default.createDirectory(atPath: churnDir, withIntermediateDirectories: true)
        let a = churnDir + "/a", b = churnDir + "/b"
        #expect(FileManager.default.createFile(atPath: a, contents: nil))
        let stop = Atomic()
        let churn = Thread {
            while stop.current == 0 { rename(a, b); rename(b, a) }
            _ = stop.next()
        }
        churn.start()
        defer { _ = stop.next(); while stop.current < 2 { usleep(1000) } }
        var failures: [String] = []
        for i in 0..<40 {
            let r = try s.run("\(Harness.uniqueName("renames"))-\(i)")
            if r.status != 0 { failures.append(r.stderr) }
        }
        #expect(failures.isEmpty, "\(failures.count) of 40 runs failed: \(failures.first ?? "")")
    }

    @Test("time namespace: the monotonic offset shows inside")
    func timeNamespace() throws {
        var s = try Skiff(["cat", "/proc/uptime"])
        s.namespaces.append(["type": "time"])
        s["linux", "timeOffsets"] = ["monotonic": ["secs": 86400 * 365], "boottime": ["secs": 86400 * 365]]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let uptime = Double(r.stdout.split(separator: " ").first ?? "") ?? 0
        #expect(uptime > 86400 * 365, "uptime inside: \(r.stdout)")
    }

    @Test("personality LINUX32 shows a 32-bit machine; rootfsPropagation shared makes / shared")
    func personalityAndPropagation() throws {
        var s = try Skiff(["sh", "-c", "uname -m; awk '$5 == \"/\"' /proc/self/mountinfo"])
        s["linux", "personality"] = ["domain": "LINUX32"]
        s["linux", "rootfsPropagation"] = "shared"
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("i686\n"), "\(r)")
        #expect(r.stdout.contains("shared:"), "\(r)")
    }
}

/// Polls until `condition` holds (tests only; the runtime never polls).
/// A bound on liveness, not a timing assertion: in the qemu guests (TCG,
/// sharing CI's two cores with the host's tests) it is four times longer.
func waitFor(seconds: Int = 4, _ condition: () -> Bool) throws {
    let slowdown = inCgroup2Guest || inSystemdGuest ? 4 : 1
    for _ in 0..<(seconds * 50 * slowdown) {
        if condition() { return }
        Thread.sleep(forTimeInterval: 0.02)
    }
    throw HarnessError("condition not met in \(seconds) s")
}
