import Foundation
import Testing

/// Hooks: each kind runs at its moment, in its namespace, with the state on
/// stdin; failures follow runtime-spec's rules.
@Suite struct HookTests {
    /// A bundle whose hooks all run one script that records, per kind, the
    /// state it read and the mount namespace it ran in. The directory is
    /// bound at /hk in the container, where startContainer finds the script.
    struct Hooked {
        var s: Skiff
        let dir: String

        init(
            _ args: [String], kinds: [String] = HookTests.kinds, failing: String = "", sleeping: String = "",
            timeout: Int? = nil
        ) throws {
            s = try Skiff(args)
            dir = s.bundle + "/hk"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o777)
            let script = """
                #!/bin/sh
                kind=$1
                cat > "$HK/$kind.json"
                readlink /proc/self/ns/mnt > "$HK/$kind.ns"
                [ "$kind" = "$SLEEP" ] && sh -c 'sleep 31' "$HK/sleeper"
                [ "$kind" = "$FAIL" ] && { echo "hook $kind says no" >&2; exit 3; }
                exit 0

                """
            try script.write(toFile: dir + "/hook.sh", atomically: true, encoding: .utf8)
            chmod(dir + "/hook.sh", 0o755)
            s.mounts.append(["destination": "/hk", "source": dir, "options": ["rbind"]])
            var hooks: [String: Any] = [:]
            for k in kinds {
                // startContainer's path is resolved in the container.
                let path = k == "startContainer" ? "/hk/hook.sh" : dir + "/hook.sh"
                let hk = k == "startContainer" ? "/hk" : dir
                var h: [String: Any] = [
                    "path": path, "args": ["hook.sh", k],
                    "env": ["HK=\(hk)", "FAIL=\(failing)", "SLEEP=\(sleeping)"],
                ]
                if let timeout { h["timeout"] = timeout }
                hooks[k] = [h]
            }
            s["hooks"] = hooks
        }

        func ran(_ kind: String) -> Bool { FileManager.default.fileExists(atPath: "\(dir)/\(kind).json") }

        func state(_ kind: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(kind).json"))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        func namespace(_ kind: String) throws -> String {
            try String(contentsOfFile: "\(dir)/\(kind).ns", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    static let kinds = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]

    static func hostMountNamespace() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
    }

    @Test("every kind runs at its step of create, start and delete, with the state and in its namespace")
    func everyKind() throws {
        var h = try Hooked(["sh", "-c", "readlink /proc/self/ns/mnt > /hk/container.ns; sleep 30"])
        h.s["annotations"] = ["org.example.k": "v"]
        let s = h.s
        let id = Harness.uniqueName("hooks")
        let created = try s("create", "--bundle", s.bundle, id)
        #expect(created.status == 0, "\(created)")
        let pid = try #require(try s.state(id)["pid"] as? Int)
        for k in ["prestart", "createRuntime", "createContainer"] {
            #expect(h.ran(k), "\(k) must have run by the end of create")
            let st = try h.state(k)
            #expect(st["status"] as? String == "creating", "\(k): \(st)")
            #expect(st["id"] as? String == id && st["pid"] as? Int == pid && st["bundle"] as? String == s.bundle)
            #expect((st["annotations"] as? [String: String]) == ["org.example.k": "v"])
        }
        for k in ["startContainer", "poststart", "poststop"] { #expect(!h.ran(k), "\(k) ran at create") }

        #expect(try s("start", id).status == 0)
        #expect(h.ran("startContainer") && h.ran("poststart"))
        #expect(try h.state("startContainer")["status"] as? String == "created")
        #expect(try h.state("poststart")["status"] as? String == "running")
        #expect(try h.state("poststart")["pid"] as? Int == pid)
        try waitFor { ((try? String(contentsOfFile: h.dir + "/container.ns", encoding: .utf8)) ?? "").hasSuffix("\n") }
        #expect(!h.ran("poststop"))

        #expect(try s("delete", "--force", id).status == 0)
        #expect(try h.state("poststop")["status"] as? String == "stopped")

        // Runtime namespace for four kinds, the container's for two.
        let host = try HookTests.hostMountNamespace()
        let container = try String(contentsOfFile: h.dir + "/container.ns", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(container != host)
        for k in ["prestart", "createRuntime", "poststart", "poststop"] { #expect(try h.namespace(k) == host, "\(k)") }
        for k in ["createContainer", "startContainer"] { #expect(try h.namespace(k) == container, "\(k)") }
        s.expectNothingLeft(id)
    }

    @Test("run runs every kind too, poststop once the container is gone", arguments: [false, true])
    func run(detach: Bool) throws {
        let h = try Hooked(["true"])
        let id = Harness.uniqueName("hookrun")
        let r = try h.s.run(id, extra: detach ? ["--detach"] : [])
        #expect(r.status == 0, "\(r)")
        for k in HookTests.kinds.dropLast() { #expect(h.ran(k), "\(k)") }
        if detach {
            try waitFor { (try? h.s.state(id)["status"] as? String) == "stopped" }
            #expect(!h.ran("poststop"))
            #expect(try h.s("delete", id).status == 0)
        }
        #expect(h.ran("poststop"))
        h.s.expectNothingLeft(id)
    }

    @Test(
        "a failing prestart, createRuntime or createContainer hook fails create with its output; poststop still runs",
        arguments: ["prestart", "createRuntime", "createContainer"])
    func createFailure(kind: String) throws {
        let h = try Hooked(["true"], failing: kind)
        let r = try h.s.expectRefused("hooks.\(kind)[0] `", create: true)
        #expect(r.stderr.contains("exited with status 3: hook \(kind) says no"), "\(r)")
        #expect(h.ran("poststop"), "poststop runs after the destroy")
        #expect(!h.ran("startContainer"))
    }

    @Test("a failing startContainer hook fails start with its output; the container is stopped")
    func startFailure() throws {
        let h = try Hooked(["sh", "-c", "touch /hk/program-ran"], failing: "startContainer")
        let id = Harness.uniqueName("hookstart")
        #expect(try h.s("create", "--bundle", h.s.bundle, id).status == 0)
        let r = try h.s("start", id)
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("hooks.startContainer[0] `/hk/hook.sh`: exited with status 3: hook startContainer says no"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/program-ran"))
        #expect(!h.ran("poststart"))
        try waitFor { (try? h.s.state(id)["status"] as? String) == "stopped" }
        #expect(try h.s("delete", id).status == 0)
        #expect(h.ran("poststop"))
        h.s.expectNothingLeft(id)
    }

    @Test(
        "failing poststart and poststop hooks are warnings: start and delete succeed",
        arguments: ["poststart", "poststop"])
    func warnings(kind: String) throws {
        let h = try Hooked(["true"], failing: kind)
        let id = Harness.uniqueName("hookwarn")
        let r = try h.s.run(id)
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("hooks.\(kind)[0]") && r.stderr.contains("hook \(kind) says no"), "\(r)")
        h.s.expectNothingLeft(id)
    }

    @Test("a hook past its timeout is killed and fails the create", arguments: ["createRuntime", "createContainer"])
    func timeout(kind: String) throws {
        let h = try Hooked(["true"], kinds: [kind], sleeping: kind, timeout: 1)
        let r = try h.s.expectRefused("hooks.\(kind)[0] `", create: true)
        #expect(r.stderr.contains("killed after its timeout of 1 s"), "\(r)")
        #expect(Harness.processes(mentioning: h.dir).isEmpty, "the hook and its child are killed")
    }

    @Test("a startContainer hook that is not in the container's root says where it was looked up")
    func startContainerPath() throws {
        var s = try Skiff(["true"])
        s["hooks"] = ["startContainer": [["path": "/no/such/hook"]]]
        let id = Harness.uniqueName("hookpath")
        #expect(try s("create", "--bundle", s.bundle, id).status == 0)
        let r = try s("start", id)
        #expect(r.status == 1 && r.stderr.contains("could not be run: no such file or directory (startContainer hooks run in the container"), "\(r)")
        #expect(try s("delete", "--force", id).status == 0)
    }

    @Test(
        "wrong hook fields name their JSON path",
        arguments: [
            (#"{"path": "relative/hook"}"#, "hooks.prestart[0].path: must be an absolute path"),
            (#"{"path": "/bin/true", "timeout": 0}"#, "hooks.prestart[0].timeout: must be a number of seconds greater than zero"),
            (#"{"path": "/bin/true", "timeout": -5}"#, "hooks.prestart[0].timeout"),
            (#"{"path": "/bin/true", "env": ["NOEQUALS"]}"#, "hooks.prestart[0].env[0]: must be KEY=value"),
            (#"{"args": ["x"]}"#, "hooks.prestart[0].path"),
        ])
    func badInput(hook: String, message: String) throws {
        var s = try Skiff(["true"])
        s["hooks"] = ["prestart": [try JSONSerialization.jsonObject(with: Data(hook.utf8))]]
        try s.expectRefused(message)
    }

    @Test(
        "a hook without env gets its runner's environment: skiff's for the runtime's hooks (as runc), the container's for the container's, never the caller's inside"
    )
    func hookWithoutEnv() throws {
        var s = try Skiff(["true"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        s["process", "env"] = ["PATH=/bin", "IN_CONTAINER=yes"]
        s["hooks"] = [
            "poststart": [["path": "/bin/sh", "args": ["sh", "-c", "echo \"$SKIFF_TEST_MARK\" > \(out)/poststart"]]],
            "startContainer": [["path": "/bin/sh", "args": ["sh", "-c", "echo \"$SKIFF_TEST_MARK|$IN_CONTAINER\" > /out/start"]]],
        ]
        try s.writeConfig()
        let r = try Harness.exec(
            s.binary, ["--root", s.root, "run", "--bundle", s.bundle, Harness.uniqueName("hkenv")],
            env: ["PATH": "/usr/bin:/bin", "SKIFF_TEST_MARK": "from-the-caller"])
        #expect(r.status == 0, "\(r)")
        #expect(try String(contentsOfFile: out + "/poststart", encoding: .utf8) == "from-the-caller\n")
        #expect(try String(contentsOfFile: out + "/start", encoding: .utf8) == "|yes\n")
    }
}
