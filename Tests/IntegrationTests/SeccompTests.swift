import Foundation
import Testing

/// linux.seccomp: compiled in the parent, loaded by the container's process;
/// asserted from what the process inside sees.
@Suite struct SeccompTests {
    /// A container whose /out holds the attacker, for raw syscalls.
    static func withAttacker(_ args: [String]) throws -> Skiff {
        var s = try Skiff(args)
        let out = try s.outDir()
        try FileManager.default.copyItem(atPath: Attack.binary, toPath: out + "/attack")
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        return s
    }

    @Test("an ERRNO rule with errnoRet, a rule on an argument, and the filter shows in /proc/self/status")
    func rules() throws {
        var s = try Skiff(["sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /dev/shm/x; kill -0 $$ && echo alive; kill -USR1 $$; echo done"])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                ["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13],
                ["names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [["index": 1, "value": 10, "op": "SCMP_CMP_EQ"]]],
            ],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "Seccomp:\t2\nalive\ndone\n", "\(r)")
        #expect(r.stderr.contains("mkdir: can't create directory '/dev/shm/x': Permission denied"), "\(r)")
        #expect(r.stderr.contains("Operation not permitted"), "kill -USR1 is denied by its argument: \(r)")
    }

    @Test("syscalls newer than the profile names fail with ENOSYS, older ones it leaves out with the default action")
    func enosysForNewer() throws {
        // Just what the static attacker needs to start and print.
        let allowed = [
            "execve", "brk", "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "mprotect",
            "mmap", "munmap", "readlink", "getrandom", "newfstatat", "fstat", "write", "exit_group", "exit",
        ]
        var s = try Self.withAttacker(["/out/attack", "syscall", "435", "83", "332"])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "syscalls": [["names": allowed, "action": "SCMP_ACT_ALLOW"]],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        // 435 (clone3) is above rseq (334), the newest named: ENOSYS, so
        // glibc falls back; 83 (mkdir) and 332 (statx) are older: EPERM.
        #expect(r.stdout == "435 38\n83 1\n332 1\n", "\(r)")
    }

    @Test("SCMP_ACT_KILL_PROCESS kills the process with SIGSYS")
    func kill() throws {
        var s = try Self.withAttacker(["/out/attack", "syscall", "110"])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [["names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"]],
        ]
        let r = try s.run()
        #expect(r.status == 128 + SIGSYS, "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
    }

    @Test(
        "TRAP and KILL_THREAD end the process with SIGSYS; TRACE without a tracer fails with ENOSYS",
        arguments: [
            ("SCMP_ACT_TRAP", 128 + SIGSYS, ""), ("SCMP_ACT_KILL_THREAD", 128 + SIGSYS, ""), ("SCMP_ACT_TRACE", 0, "110 38\n"),
        ])
    func otherActions(_ action: String, _ status: Int32, _ stdout: String) throws {
        var s = try Self.withAttacker(["/out/attack", "syscall", "110"])
        s["linux", "seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["getppid"], "action": action]]]
        let r = try s.run()
        #expect(r.status == status && r.stdout == stdout, "\(r)")
    }

    @Test("SCMP_ACT_LOG lets the syscall through and the kernel logs it")
    func log() throws {
        var s = try Self.withAttacker(["/out/attack", "syscall", "110"])
        s["linux", "seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["getppid"], "action": "SCMP_ACT_LOG"]]]
        // The kernel's audit lines for it: syscall 110, action LOG (0x7ffc0000).
        func logged() throws -> Int {
            Int(
                try Harness.sh("dmesg | grep 'syscall=110 ' | grep -c 'code=0x7ffc0000'").stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let before = try logged()
        let r = try s.run()
        #expect(r.status == 0 && r.stdout == "110 0\n", "allowed: \(r)")
        try waitFor { ((try? logged()) ?? 0) > before }
    }

    @Test("without no_new_privs the filter is loaded before the identity change, and still applies")
    func withoutNoNewPrivs() throws {
        var s = try Skiff(["sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /dev/shm/x 2>&1; id -u"])
        s["process", "noNewPrivileges"] = false
        s["process", "user"] = ["uid": 65534, "gid": 65534]
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"]],
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("NoNewPrivs:\t0\nSeccomp:\t2\n"), "\(r)")
        #expect(r.stdout.contains("Operation not permitted") && r.stdout.hasSuffix("65534\n"), "\(r)")
    }

    @Test("podman's default profile (containers-common), converted as podman converts it, runs a shell")
    func podmanProfile() throws {
        let path = "/usr/share/containers/seccomp.json"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let src = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        // What podman sends the runtime: the x86_64 arch map, and the rules
        // that apply without extra capabilities on amd64.
        let archs = ((src["archMap"] as? [[String: Any]]) ?? []).first { $0["architecture"] as? String == "SCMP_ARCH_X86_64" }
        var rules: [[String: Any]] = []
        for rule in (src["syscalls"] as? [[String: Any]]) ?? [] {
            let inc = rule["includes"] as? [String: Any] ?? [:]
            let exc = rule["excludes"] as? [String: Any] ?? [:]
            if let caps = inc["caps"] as? [String], !caps.isEmpty { continue }
            if let arches = inc["arches"] as? [String], !arches.contains("amd64") { continue }
            if let arches = exc["arches"] as? [String], arches.contains("amd64") { continue }
            var r = rule
            r["includes"] = nil
            r["excludes"] = nil
            r["comment"] = nil
            if (r["errnoRet"] as? Int) == nil { r["errnoRet"] = nil }
            rules.append(r)
        }
        try #require(rules.count > 10)
        var s = try Skiff(["sh", "-c", "echo hi; grep ^Seccomp: /proc/self/status; ls / >/dev/null && echo listed"])
        s["linux", "seccomp"] = [
            "defaultAction": src["defaultAction"] ?? "SCMP_ACT_ERRNO",
            "defaultErrnoRet": src["defaultErrnoRet"] ?? 1,
            "architectures": [archs?["architecture"] ?? "SCMP_ARCH_X86_64"] + ((archs?["subArchitectures"] as? [String]) ?? []),
            "syscalls": rules,
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "hi\nSeccomp:\t2\nlisted\n", "\(r)")
    }

    @Test("SCMP_ACT_NOTIFY: the agent at listenerPath gets the state and the listener before the process runs, and answers for it")
    func notify() throws {
        let sock = Harness.scratch + "/" + Harness.uniqueName("agent") + ".sock"
        let stateFile = Harness.scratch + "/" + Harness.uniqueName("agent-state")
        let log = Harness.scratch + "/" + Harness.uniqueName("agent-log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: Attack.binary)
        agent.arguments = ["seccomp-agent", sock, stateFile, "42"]
        agent.standardOutput = FileHandle(forWritingAtPath: log)
        try agent.run()
        defer { Glibc.kill(agent.processIdentifier, SIGKILL); agent.waitUntilExit() }
        try waitFor { FileManager.default.fileExists(atPath: sock) }

        var s = try Skiff(["sh", "-c", "mkdir /dev/shm/x; echo done"])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock, "listenerMetadata": "meta-123",
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"]],
        ]
        let id = Harness.uniqueName("notify")
        let r = try s.run(id)
        #expect(r.status == 0 && r.stdout == "done\n", "\(r)")
        #expect(r.stderr.contains("No message of desired type"), "the agent's answer (ENOMSG) is what mkdir got: \(r)")
        try waitFor { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("notified") }
        let state = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any])
        #expect(state["ociVersion"] as? String == "1.3.0")
        #expect(state["fds"] as? [String] == ["seccompFd"])
        #expect(state["metadata"] as? String == "meta-123")
        #expect((state["pid"] as? Int ?? 0) > 0)
        let inner = try #require(state["state"] as? [String: Any])
        #expect(
            inner["id"] as? String == id && inner["status"] as? String == "creating" && inner["bundle"] as? String == s.bundle,
            "\(inner)")
        s.expectNothingLeft(id)

        // With create and start: the agent has it when create returns.
        let sock2 = sock + "2"
        let agent2 = Process()
        agent2.executableURL = URL(fileURLWithPath: Attack.binary)
        agent2.arguments = ["seccomp-agent", sock2, stateFile + "2", "42"]
        agent2.standardOutput = FileHandle.nullDevice
        try agent2.run()
        defer { Glibc.kill(agent2.processIdentifier, SIGKILL); agent2.waitUntilExit() }
        try waitFor { FileManager.default.fileExists(atPath: sock2) }
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock2,
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"]],
        ]
        let id2 = Harness.uniqueName("notify")
        #expect(try s("create", "--bundle", s.bundle, id2).status == 0)
        #expect(FileManager.default.fileExists(atPath: stateFile + "2"), "the agent got nothing during create")
        #expect(try s("start", id2).status == 0)
        try waitFor { (try? s.state(id2)["status"] as? String) == "stopped" }
        #expect(try s("delete", id2).status == 0)

        // No agent there: the create fails, names the field, leaves nothing.
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock + ".none",
            "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"]],
        ]
        try s.expectRefused("linux.seccomp.listenerPath: connect `\(sock).none`: no such file or directory", create: true)
    }

    @Test("an agent that never accepts fails the create after a bounded wait, naming listenerPath, and leaves nothing")
    func stalledAgent() throws {
        let sock = Harness.scratch + "/" + Harness.uniqueName("stalled") + ".sock"
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: Attack.binary)
        agent.arguments = ["stalled-agent", sock]
        let out = Pipe()
        agent.standardOutput = out
        try agent.run()
        defer { Glibc.kill(agent.processIdentifier, SIGKILL); agent.waitUntilExit() }
        #expect(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self) == "stalled 0\n")
        var s = try Skiff(["true"])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"]],
        ]
        try s.writeConfig()
        let id = Harness.uniqueName("stalled")
        let r = try ImageFileTests.bounded(s, ["create", "--bundle", s.bundle, id], seconds: 30)
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("linux.seccomp.listenerPath: the seccomp agent at `\(sock)` did not take the listener within 5 s"), "\(r)")
        s.expectNothingLeft(id)
    }

    @Test("a wrong seccomp field is refused with its JSON path, and nothing is left")
    func badInput() throws {
        let cases: [([String: Any], String)] = [
            (["defaultAction": "SCMP_ACT_FOO"], "linux.seccomp.defaultAction: unknown seccomp action `SCMP_ACT_FOO`"),
            (
                ["defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]],
                "linux.seccomp.architectures[0]: unknown seccomp architecture `SCMP_ARCH_VAX`"
            ),
            (
                ["defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]],
                "linux.seccomp.flags[0]: unknown seccomp flag `SECCOMP_FILTER_FLAG_NOPE`"
            ),
            (
                [
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [
                        [
                            "names": ["kill"], "action": "SCMP_ACT_ERRNO",
                            "args": [["index": 1, "value": 1, "op": "SCMP_CMP_XX"]],
                        ]
                    ],
                ],
                "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator `SCMP_CMP_XX`"
            ),
            (
                [
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [
                        [
                            "names": ["kill"], "action": "SCMP_ACT_ERRNO",
                            "args": [["index": 6, "value": 1, "op": "SCMP_CMP_EQ"]],
                        ]
                    ],
                ],
                "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument (0 to 5)"
            ),
            (
                ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["kill"], "action": "SCMP_ACT_KILL", "errnoRet": 1]]],
                "linux.seccomp.syscalls[0].errnoRet: only goes with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not `SCMP_ACT_KILL`"
            ),
            (
                ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": [String](), "action": "SCMP_ACT_ERRNO"]]],
                "linux.seccomp.syscalls[0].names: names no syscall"
            ),
            (
                ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"]]],
                "linux.seccomp.listenerPath: required with SCMP_ACT_NOTIFY"
            ),
            (
                ["defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"],
                "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"
            ),
            (
                [
                    "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "run/agent.sock",
                    "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"]],
                ],
                "linux.seccomp.listenerPath: must be an absolute path, got `run/agent.sock`"
            ),
            (
                [
                    "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                    "syscalls": [["names": ["mkdir", "sendmsg"], "action": "SCMP_ACT_NOTIFY"]],
                ],
                "linux.seccomp.syscalls[0].names: `sendmsg` cannot be SCMP_ACT_NOTIFY"
            ),
        ]
        var s = try Skiff(["true"])
        for (profile, message) in cases {
            s["linux", "seccomp"] = profile
            try s.expectRefused(message)
        }
    }
}

/// startContainer hooks are the image's programs, run in the container:
/// they run under its seccomp filter, as runc runs them (audit round 3,
/// finding 3: they ran before the filter was loaded).
@Suite struct SeccompHookTests {
    @Test("a startContainer hook runs under the container's filter: Seccomp 2, and the denied mkdir fails in it")
    func startContainerHookFiltered() throws {
        var s = try Skiff(["true"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1]],
        ]
        s["hooks"] = [
            "startContainer": [
                [
                    "path": "/bin/sh",
                    "args": [
                        "sh", "-c",
                        "grep ^Seccomp: /proc/self/status > /out/hook; mkdir /out/made 2>/dev/null; echo mkdir=$? >> /out/hook",
                    ],
                ]
            ]
        ]
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        let hook = try String(contentsOfFile: out + "/hook", encoding: .utf8)
        #expect(hook == "Seccomp:\t2\nmkdir=1\n", "\(hook)")
        #expect(!FileManager.default.fileExists(atPath: out + "/made"))
    }
}

/// Each container gets a session keyring of its own, `_ses.<id>` as runc
/// names it: kernel keyrings are not namespaced, and a container that
/// kept the caller's would possess (and read) the keys the calling shell,
/// shim or service holds. --no-new-keyring keeps the caller's.
@Suite struct SessionKeyringTests {
    /// Runs the container from inside a session keyring holding a
    /// possessor-only key; the container tries to read it.
    static func readCallersKey(_ extra: [String]) throws -> (Harness.Result, String) {
        let s = try SeccompTests.withAttacker(["sh", "-c", "/out/attack key-read $(cat /out/keyid)"])
        let out = s.mounts.first { $0["destination"] as? String == "/out" }?["source"] as? String ?? ""
        try s.writeConfig()
        let id = Harness.uniqueName("keys")
        let r = try Harness.exec(
            Attack.binary,
            ["with-key", out + "/keyid", s.binary, "--root", s.root, "run"] + extra
                + ["--bundle", s.bundle, id])
        s.expectNothingLeft(id)
        return (r, id)
    }

    @Test("a possessor-only key in the caller's session keyring cannot be read inside; the container has _ses.<id>")
    func ownKeyring() throws {
        let (r, id) = try Self.readCallersKey([])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("read 13\n"), "the container read the caller's key: \(r)")
        #expect(!r.stdout.contains("possessor-only-secret"), "\(r)")
        #expect(r.stdout.contains(";_ses.\(id)\n"), "\(r)")
    }

    @Test("--no-new-keyring keeps the caller's session keyring (and so its keys)")
    func noNewKeyring() throws {
        let (r, _) = try Self.readCallersKey(["--no-new-keyring"])
        #expect(r.status == 0 && r.stdout.contains("read 0\nsecret possessor-only-secret\n"), "\(r)")
    }

    @Test("an exec'd process joins the container's keyring, not the caller's")
    func execJoins() throws {
        let s = try SeccompTests.withAttacker(["sleep", "30"])
        try s.writeConfig()
        let out = s.mounts.first { $0["destination"] as? String == "/out" }?["source"] as? String ?? ""
        let id = Harness.uniqueName("keyexec")
        let c = try s("run", "-d", "--bundle", s.bundle, id)
        try #require(c.status == 0, "\(c)")
        defer { _ = try? s("delete", "--force", id) }
        let r = try Harness.exec(
            Attack.binary,
            [
                "with-key", out + "/keyid", s.binary, "--root", s.root, "exec", id,
                "sh", "-c", "/out/attack key-read $(cat /out/keyid)",
            ])
        #expect(r.status == 0 && r.stdout.contains("read 13\n") && r.stdout.contains(";_ses.\(id)\n"), "\(r)")
    }
}

@Suite struct SeccompGetcwdTests {
    @Test("a profile that denies getcwd (loaded early: noNewPrivileges false) is named as the cause, not a cwd outside the root")
    func getcwdDenied() throws {
        var s = try Skiff(["true"])
        s["process", "noNewPrivileges"] = false
        s["linux", "seccomp"] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [["names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1]],
        ]
        let r = try s.expectRefused(
            "process.cwd: getcwd, to check `/` is inside the container: operation not permitted (linux.seccomp is loaded before this check when noNewPrivileges is false: allow getcwd there)"
        )
        #expect(!r.stderr.contains("outside the container's root"), "\(r)")
    }
}
