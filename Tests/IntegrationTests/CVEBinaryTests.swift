import Foundation
import Testing

/// The attacks on skiff's own process and binary, performed from inside a
/// container against a decoy copy of skiff (Tests/attacks/attack.c does
/// what a hostile container process would).
enum Attack {
    /// The attacker, built once, static (the busybox rootfs has no libc).
    static let binary: String = {
        let out = Harness.scratch + "/attack"
        let src = Harness.packageRoot.appendingPathComponent("Tests/attacks/attack.c").path
        _ = try? Harness.exec("/usr/bin/env", ["cc", "-static", "-O2", "-o", out, src])
        return out
    }()

    /// A copy of the skiff under test: the attacks aim at it. In a
    /// directory named `no:overlay`, overlayfs cannot take it as a lower
    /// layer (its option syntax cannot carry a `:`), and skiff falls back to
    /// the sealed memfd copy.
    static func decoy(directory name: String = "decoy") throws -> String {
        let dir = Harness.scratch + "/" + Harness.uniqueName(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Harness.binary, toPath: dir + "/skiff")
        chmod(dir + "/skiff", 0o755)
        return dir + "/skiff"
    }

    /// A pod whose attacker (CAP_SYS_PTRACE gets it past the non-dumpable
    /// process, so the binary itself must hold) waits for /out/go to name
    /// a pid, holds that process's /proc/<pid>/exe open and, once `release`
    /// exists, tries `tries` times to reopen it for writing.
    static func overwritePod(_ decoy: String, release: String, tries: Int) throws -> Pod {
        try Pod(
            decoy: decoy,
            attacker: """
                while [ ! -f /out/go ]; do sleep 0.02; done
                /out/attack overwrite $(cat /out/go) \(release) \(tries) > /out/result.tmp; mv /out/result.tmp /out/result; sleep 30
                """, capabilities: ["CAP_SYS_PTRACE", "CAP_KILL", "CAP_DAC_OVERRIDE"])
    }

    /// "name errno" lines, as the attacker prints them.
    static func results(_ text: String) -> [String: Int32] {
        var r: [String: Int32] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, let e = Int32(f[1]) { r[String(f[0])] = e }
        }
        return r
    }

    /// The pid of a host process as its innermost pid namespace sees it.
    static func innerPid(_ hostPid: Int) throws -> String {
        let status = try String(contentsOfFile: "/proc/\(hostPid)/status", encoding: .utf8)
        return try #require(statusField(status, "NSpid")?.split(separator: "\t").last.map(String.init))
    }

    /// Container A runs `script` (the attacker is /out/attack) in the
    /// background; container B is created in A's pid namespace, as a pod's
    /// containers are, and waits for `start` as a clone of skiff.
    struct Pod {
        var a: Skiff
        var b: Skiff
        let idA = Harness.uniqueName("attacker")
        let idB = Harness.uniqueName("victim")
        let out: String
        var hostPidB = 0

        init(decoy: String, attacker script: String, capabilities: [String]? = nil) throws {
            a = try Skiff(["sh", "-c", script])
            a.binary = decoy
            out = try a.outDir()
            try FileManager.default.copyItem(atPath: Attack.binary, toPath: out + "/attack")
            a.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
            if let capabilities {
                a["process", "capabilities"] = [
                    "bounding": capabilities, "effective": capabilities,
                    "permitted": capabilities,
                ]
            }
            b = try Skiff(["true"])
            b.binary = decoy
        }

        /// Runs A, and points B's pid namespace at A's.
        mutating func runAttacker() throws {
            let ra = try a("run", "--detach", "--bundle", a.bundle, idA)
            try #require(ra.status == 0, "\(ra)")
            let pidA = try #require(a.state(idA)["pid"] as? Int)
            b.namespaces = b.namespaces.map { ns in
                ns["type"] as? String == "pid" ? ["type": "pid", "path": "/proc/\(pidA)/ns/pid"] : ns
            }
        }

        /// Tells the attacker which host process to go for, as it sees it.
        func target(_ hostPid: Int) throws {
            try Attack.innerPid(hostPid).write(toFile: out + "/go.tmp", atomically: false, encoding: .utf8)
            _ = rename(out + "/go.tmp", out + "/go")
        }

        mutating func start() throws {
            try runAttacker()
            let rb = try b("create", "--bundle", b.bundle, idB)
            try #require(rb.status == 0, "\(rb)")
            hostPidB = try #require(b.state(idB)["pid"] as? Int)
            try target(hostPidB)
        }

        func result(_ name: String = "result") throws -> [String: Int32] {
            try waitFor { FileManager.default.fileExists(atPath: out + "/" + name) }
            return Attack.results(try String(contentsOfFile: out + "/" + name, encoding: .utf8))
        }

        func stop() {
            _ = try? b("delete", "--force", idB)
            _ = try? a("delete", "--force", idA)
        }
    }
}

@Suite struct CVEBinaryTests {
    @Test("CVE-2019-5736 through the entrypoint: a container whose program is /proc/self/exe runs skiff's binary, and still cannot write it")
    func cve_2019_5736_entrypoint() throws {
        let decoy = try Attack.decoy()
        let before = try Data(contentsOf: URL(fileURLWithPath: decoy))
        var pod = try Attack.overwritePod(decoy, release: "/out/started", tries: 300)
        defer { pod.stop() }
        try pod.runAttacker()
        // B's program is "the binary of this process": skiff's own, which
        // then blocks opening its log (a fifo) while the attacker takes hold
        // of /proc/<pid>/exe.
        try #require(mkfifo(pod.out + "/fifo", 0o666) == 0)
        pod.b["process", "args"] = ["/proc/self/exe", "--log", "/out/fifo", "list"]
        pod.b.mounts.append(["destination": "/out", "source": pod.out, "options": ["rbind"]])
        let rb = try pod.b("run", "--detach", "--bundle", pod.b.bundle, pod.idB)
        try #require(rb.status == 0, "\(rb)")
        pod.hostPidB = try #require(pod.b.state(pod.idB)["pid"] as? Int)
        try pod.target(pod.hostPidB)
        try waitFor { ((try? String(contentsOfFile: pod.out + "/result.tmp", encoding: .utf8)) ?? "").contains("open-exe") }
        // Let skiff in B go (a reader on its fifo) and end: nothing runs the
        // file any more, so ETXTBSY cannot hide the real answer.
        let reader = open(pod.out + "/fifo", O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        try waitFor(seconds: 10) { (try? pod.b.state(pod.idB)["status"] as? String) == "stopped" }
        _ = FileManager.default.createFile(atPath: pod.out + "/started", contents: nil)
        let r = try pod.result()
        #expect(r["open-exe"] == 0, "the attacker holds /proc/<pid>/exe of skiff's binary running in the container: \(r)")
        #expect(r["reopen-write"] == EROFS, "reopening it for writing must fail with EROFS: \(r)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: decoy)) == before, "the binary was overwritten")
    }

    @Test("CVE-2016-9962: a container sharing the pid namespace cannot ptrace, or read the memory, environment or binary of the process waiting for start")
    func cve_2016_9962() throws {
        var pod = try Attack.Pod(
            decoy: try Attack.decoy(),
            attacker: """
                while [ ! -f /out/go ]; do sleep 0.02; done
                /out/attack probe $(cat /out/go) > /out/result.tmp; mv /out/result.tmp /out/result; sleep 30
                """)
        defer { pod.stop() }
        try pod.start()
        let r = try pod.result()
        #expect(r.count == 4, "\(r)")
        #expect(r["ptrace"] == EPERM, "PTRACE_SEIZE of the waiting process: \(r)")
        for file in ["environ", "mem", "exe"] {
            #expect(r[file] == EACCES, "/proc/<pid>/\(file) of the waiting process: \(r)")
        }
        // The waiting process still is skiff's child stage, and it starts.
        #expect(try String(contentsOfFile: "/proc/\(pod.hostPidB)/comm", encoding: .utf8) == "skiff:[INIT]\n")
        #expect(try pod.b("start", pod.idB).status == 0)
    }

    /// The initial environment of a process (what it was exec'd with).
    static func initialEnvironment(_ pid: Int) throws -> [String] {
        try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ")), as: UTF8.self)
            .split(separator: "\0").map(String.init)
    }

    @Test(
        "as root, create moves its running image onto the read-only copy instead of exec'ing it: one execve, the arguments and environment intact, the binary read-only"
    )
    func swappedInPlace() throws {
        var s = try Skiff(["sh", "-c", "echo started"])
        s.binary = try Attack.decoy()
        let id = Harness.uniqueName("swap")
        defer { _ = try? s("delete", "--force", id) }
        let c = try s("create", "--bundle", s.bundle, id)
        try #require(c.status == 0, "\(c)")
        let pid = try #require(s.state(id)["pid"] as? Int)
        // The waiting process is a clone of create's, so it shows what
        // create's image became.
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) == "/skiff")
        let fs = try Harness.exec("/usr/bin/stat", ["-L", "-f", "-c", "%T", "/proc/\(pid)/exe"])
        #expect(fs.stdout == "overlayfs\n", "the binary's filesystem: \(fs)")
        let w = open("/proc/\(pid)/exe", O_WRONLY)
        let err = errno
        if w >= 0 { close(w) }
        #expect(w < 0 && err == EROFS, "reopening the binary for writing: \(w) errno \(err)")
        // No second exec: the marker a re-exec carries is not in the
        // environment the image started with, and the bounds the kernel was
        // handed back still frame the original arguments.
        #expect(!(try Self.initialEnvironment(pid)).contains { $0.hasPrefix("_SKIFF_PROTECTED_EXE=") })
        let cmdline = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), as: UTF8.self)
        #expect(cmdline.split(separator: "\0").map(String.init) == [s.binary, "--root", s.root, "create", "--bundle", s.bundle, id])
        #expect(try s("start", id).status == 0)
        let r = try s("run", "--bundle", s.bundle, Harness.uniqueName("swap"))
        #expect(r.status == 0 && r.stdout == "started\n", "\(r)")
    }

    @Test("where overlayfs cannot serve the binary, create and run fall back to a sealed memfd copy, with every argument intact")
    func memfdFallback() throws {
        var s = try Skiff(["sh", "-c", "echo started"])
        s.binary = try Attack.decoy(directory: "no:overlay")
        let id = Harness.uniqueName("memfd")
        defer { _ = try? s("delete", "--force", id) }
        let c = try s("create", "--bundle", s.bundle, id)
        try #require(c.status == 0, "\(c)")
        let pid = try #require(s.state(id)["pid"] as? Int)
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
        #expect(exe.hasPrefix("/memfd:skiff"), "the waiting process runs from \(exe)")
        // The marker names the pid of the skiff that re-executed, so that an
        // inherited one is never believed.
        let marker = try Self.initialEnvironment(pid).first { $0.hasPrefix("_SKIFF_PROTECTED_EXE=") }
        #expect(
            marker.flatMap { Int32($0.dropFirst(21)) }.map { $0 > 1 && $0 != Int32(pid) } == true,
            "the memfd copy is exec'd, with the marker: \(marker ?? "none")")
        #expect(try s("start", id).status == 0)
        let r = try s("run", "--bundle", s.bundle, Harness.uniqueName("memfd"))
        #expect(r.status == 0 && r.stdout == "started\n", "\(r)")
    }

    @Test("CVE-2019-5736: the binary a container reaches through /proc/<pid>/exe of skiff cannot be reopened for writing")
    func cve_2019_5736() throws {
        let decoy = try Attack.decoy()
        let before = try Data(contentsOf: URL(fileURLWithPath: decoy))
        var pod = try Attack.overwritePod(decoy, release: "/out/started", tries: 300)
        defer { pod.stop() }
        try pod.start()
        try waitFor { ((try? String(contentsOfFile: pod.out + "/result.tmp", encoding: .utf8)) ?? "").contains("open-exe") }
        // Start B: its process execs, and no skiff process runs the file any
        // more (which would answer ETXTBSY and hide the real guarantee).
        #expect(try pod.b("start", pod.idB).status == 0)
        _ = FileManager.default.createFile(atPath: pod.out + "/started", contents: nil)
        let r = try pod.result()
        #expect(r["open-exe"] == 0, "the attacker holds /proc/<pid>/exe of the waiting process: \(r)")
        #expect(r["reopen-write"] == EROFS, "reopening it for writing must fail with EROFS: \(r)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: decoy)) == before, "the binary was overwritten")
    }
}
