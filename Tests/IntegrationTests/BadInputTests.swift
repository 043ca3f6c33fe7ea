import Foundation
import Testing

/// Bad input to a real `create`: a clear error naming the JSON path or
/// flag, a non-zero exit, and nothing left behind.
@Suite struct BadInputTests {
    enum Case: String, CaseIterable, CustomTestStringConvertible {
        case missingRootfs, rootfsIsAFile, badJSON, missingConfig, relativeMountDestination, unknownCapability
        case bindSourceMissing, unknownFilesystem, mountOptionRejectedByKernel, cwdMissing, execNotFound
        case unsupportedField, hostSysctl, deviceOverDirectory, fakeNullForMask
        // Audit round 3, finding 5: C stops at U+0000, so what was checked was
        // not what the kernel saw (the root cgroup, a host /dev).
        case nulInCgroupsPath, nulInMountDestination, nulInMemberName, nulInUnknownMember, lineBreakInCgroupsPath

        var testDescription: String { rawValue }

        /// Changes the config (or bundle) and returns the expected error text and status.
        func apply(_ s: inout Skiff) throws -> (String, Int32) {
            switch self {
            case .missingRootfs:
                s["root"] = ["path": "nowhere"]
                return ("root.path: stat `\(s.bundle)/nowhere`: no such file or directory", 1)
            case .rootfsIsAFile:
                s["root"] = ["path": "/etc/hostname"]
                return ("root.path: `/etc/hostname` is not a directory", 1)
            case .badJSON:
                try s.writeConfig()
                try "{\"ociVersion\": \"1.0.0\",, }".write(toFile: s.bundle + "/config.json", atomically: true, encoding: .utf8)
                return ("\(s.bundle)/config.json: invalid JSON at line 1, column 24: quoted object property name expected", 1)
            case .missingConfig:
                return ("bundle `\(s.bundle)/none`: open `\(s.bundle)/none/config.json`: no such file or directory", 1)
            case .relativeMountDestination:
                s.mounts.append(["destination": "data", "type": "tmpfs", "source": "tmpfs"])
                return ("mounts[7].destination: must be an absolute path, got `data`", 1)
            case .unknownCapability:
                s["process", "capabilities"] = ["bounding": ["CAP_KILL", "CAP_FOO"]]
                return ("process.capabilities.bounding[1]: unknown capability `CAP_FOO`", 1)
            case .bindSourceMissing:
                s.mounts.append(["destination": "/x", "source": "/no/such/dir", "options": ["rbind"]])
                return ("mounts[7].source: stat `/no/such/dir`: no such file or directory", 1)
            case .unknownFilesystem:
                s.mounts.append(["destination": "/x", "type": "nosuchfs", "source": "none"])
                return ("mounts[7]: mount `none` on `/x`: no such device", 1)
            case .mountOptionRejectedByKernel:
                s.mounts.append(["destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["bogus=1"]])
                return ("mounts[7]: mount `tmpfs` on `/x`: invalid argument", 1)
            case .cwdMissing:
                // A missing cwd is made (runc); one below a file cannot be.
                s["process", "cwd"] = "/etc/passwd/dir"
                return ("process.cwd: chdir `/etc/passwd/dir`: not a directory", 1)
            case .execNotFound:
                s["process", "args"] = ["no-such-program"]
                return ("exec `no-such-program`: no such file or directory (searched 6 PATH entries)", 127)
            case .unsupportedField:
                s["linux", "intelRdt"] = ["closID": "x"]
                return ("`linux.intelRdt` is not supported yet", 1)
            case .hostSysctl:
                s["linux", "sysctl"] = ["vm.swappiness": "1"]
                return ("linux.sysctl[\"vm.swappiness\"]: `vm.swappiness` is not namespaced: setting it would change the host", 1)
            case .deviceOverDirectory:
                s["linux", "devices"] = [["path": "/dev/pts", "type": "c", "major": 1, "minor": 3]]
                return ("linux.devices[0]: create device `/dev/pts`: a different file exists there", 1)
            case .fakeNullForMask:
                // /dev bound from a directory whose `null` is a plain file: a
                // mask must not bind it (CVE-2025-31133 put a symlink there).
                let fake = s.bundle + "/fakedev"
                try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
                try "".write(toFile: fake + "/null", atomically: true, encoding: .utf8)
                s.mounts = s.mounts.map { m in
                    m["destination"] as? String == "/dev" ? ["destination": "/dev", "source": fake, "options": ["rbind"]] : m
                }
                s["linux", "maskedPaths"] = ["/proc/timer_list"]
                return ("linux.maskedPaths[0]: mask `/proc/timer_list`: /dev/null in the container is not the null device (1:3)", 1)
            case .nulInCgroupsPath:
                s["linux", "cgroupsPath"] = "/\u{0}x"
                return ("linux.cgroupsPath: contains U+0000 (NUL)", 1)
            case .nulInMountDestination:
                s.mounts.append(["destination": "/dev\u{0}x", "type": "tmpfs", "source": "tmpfs"])
                return ("mounts[7].destination: contains U+0000 (NUL)", 1)
            case .nulInMemberName:
                s["linux", "cgroupsPath\u{0}x"] = "/"
                return ("a member name contains U+0000 (NUL)", 1)
            case .nulInUnknownMember:
                s["org.example.unknown"] = "a\u{0}b"
                return ("[\"org.example.unknown\"]: contains U+0000 (NUL)", 1)
            case .lineBreakInCgroupsPath:
                s["linux", "cgroupsPath"] = "/a\nb"
                return ("linux.cgroupsPath: must not contain a line break", 1)
            }
        }
    }

    @Test("create fails clearly and leaves nothing behind", arguments: Case.allCases)
    func create(_ c: Case) throws {
        var s = try Skiff(["sh", "-c", "echo should not run"])
        let (expected, status) = try c.apply(&s)
        let id = Harness.uniqueName("bad")
        let bundle = c == .missingConfig ? s.bundle + "/none" : s.bundle
        if c != .badJSON { try s.writeConfig() }
        let r = try s.skiff(["--root", s.root, "create", "--bundle", bundle, id])
        // A missing program too fails create (runc looks it up there).
        #expect(r.status == status, "\(r)")
        #expect(r.stderr.contains(expected), "expected: \(expected)\n\(r)")
        #expect(r.stdout.isEmpty)
        s.expectNothingLeft(id)
        // run fails the same way, and cleans up the same way.
        let run = try s.skiff(["--root", s.root, "run", "--bundle", bundle, id])
        #expect(run.status == status && run.stderr.contains(expected), "\(run)")
        #expect(!run.stdout.contains("should not run"))
        s.expectNothingLeft(id)
    }

    @Test(
        "wrong command-line input is refused with the flag named",
        arguments: [
            (["create", "--preserve-fds", "many", "x"], "create: --preserve-fds: `many` is not a number of fds"),
            (["create", "--preserve-fds", "3", "x"], "--preserve-fds 3: fd 3 is not open"),
            (["--log-format", "xml", "state", "x"], "--log-format: must be `text` or `json`, not `xml`"),
            (["events", "--interval", "9999999999999999m", "x"], "--interval: `9999999999999999m` is not a duration"),
            (["create", "--frobnicate", "x"], "create: unknown option `--frobnicate`"),
            (["create", "--bundle"], "create: option --bundle needs a value"),
            (["create"], "create: expected <container-id>, got 0 argument(s)"),
            (["kill", "x", "TERM", "extra"], "kill: expected <container-id> [signal], got 3 argument(s)"),
            (["run", "--detach=maybe", "x"], "run: option --detach takes true or false, not `maybe`"),
            (["list", "--format", "yaml"], "list: --format must be `table` or `json`, not `yaml`"),
            (["frob"], "skiff: unknown command `frob`"),
            (["create", "--console-socket", "/s", "x"], "--console-socket: process.terminal is false"),
            (["state", "a/b"], "invalid container id `a/b`"),
            (["state", ".."], "invalid container id `..`"),
            (["start", "nosuch"], "container `nosuch` does not exist"),
            (["kill", "nosuch"], "container `nosuch` does not exist"),
            (["delete", "nosuch"], "container `nosuch` does not exist"),
            (["pause", "nosuch"], "container `nosuch` does not exist"),
            (["resume", "nosuch"], "container `nosuch` does not exist"),
            (["ps", "--format", "yaml", "x"], "ps: --format must be `table` or `json`, not `yaml`"),
            (["events", "--interval", "5", "x"], "--interval: `5` is not a duration like 5s or 500ms"),
            (["events", "--interval", "0s", "x"], "--interval: `0s` is not a duration"),
            (["update", "--resources", "/nonexistent/r.json", "x"], "update: --resources: open `/nonexistent/r.json`"),
            (["update", "--memory", "lots", "x"], "update: --memory: `lots` is not a size"),
            (["update", "x"], "update: nothing to change"),
            (["update", "--pids-limit", "5", "nosuch"], "container `nosuch` does not exist"),
            (["--systemd-cgroup=maybe", "list"], "skiff: option --systemd-cgroup takes true or false, not `maybe`"),
        ])
    func flags(args: [String], expected: String) throws {
        let s = try Skiff(["true"])
        try s.writeConfig()
        let full = args.first == "--log-format" ? args : ["--root", s.root] + args.map { $0 == "x" ? Harness.uniqueName("f") : $0 }
        let r = try Harness.sh("cd \(s.bundle) && \(Harness.binary) \(full.joined(separator: " "))")
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains(expected), "expected: \(expected)\n\(r)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.root)) ?? []).isEmpty, "state left behind")
    }

    @Test(
        "--systemd-cgroup where systemd is not PID 1: the error says what PID 1 is and what to use; nothing is left",
        .needsNoSystemd)
    func noSystemd() throws {
        let s = try Skiff(["true"])
        for command in ["run", "create"] {
            let id = Harness.uniqueName("nosd")
            let r = try s("--systemd-cgroup", command, "--bundle", s.bundle, id)
            #expect(r.status == 1, "\(r)")
            #expect(
                r.stderr.contains("--systemd-cgroup: cannot reach systemd (the system manager) over D-Bus (/run/systemd/private: no such file or directory"),
                "\(r)")
            #expect(r.stderr.contains(", not systemd: without systemd use the cgroupfs driver (drop --systemd-cgroup)"), "\(r)")
            s.expectNothingLeft(id)
        }
    }

    @Test("a duplicate id is refused without touching the existing container")
    func duplicate() throws {
        let s = try Skiff(["sleep", "30"])
        let id = Harness.uniqueName("dup")
        #expect(try s("create", "--bundle", s.bundle, id).status == 0)
        let pid = try s.state(id)["pid"] as? Int
        let r = try s("run", "--bundle", s.bundle, id)
        #expect(r.status == 1 && r.stderr.contains("container `\(id)` already exists"), "\(r)")
        #expect(try s.state(id)["pid"] as? Int == pid)
        #expect(try s.state(id)["status"] as? String == "created")
        #expect(try s("delete", "--force", id).status == 0)
        s.expectNothingLeft(id)
    }
}
