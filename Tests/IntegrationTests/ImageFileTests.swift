import Foundation
import Testing

/// What skiff reads of a container's image as root (its /etc/passwd, for
/// HOME) is read only if it is a regular file, bounded, and never while the
/// container is locked: an image that makes it a FIFO or a device node
/// cannot hang skiff, make it open a device, or block kill and delete
/// (audit round 3, finding 2).
@Suite struct ImageFileTests {
    /// Runs `skiff ARGS` with a deadline: a hang shows as status 124.
    static func bounded(_ s: Skiff, _ args: [String], seconds: Int = 20) throws -> Harness.Result {
        try Harness.exec("/usr/bin/timeout", ["-s", "KILL", "\(seconds)", s.binary, "--root", s.root] + args)
    }

    /// A running container that replaced its own /etc/passwd with what
    /// `make` makes (it has CAP_MKNOD, as Docker's default set does).
    static func tampered(_ make: String) throws -> (Skiff, String, String) {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs"))
        var s = try Skiff(["sh", "-c", "rm -f /etc/passwd; \(make) && touch /ready; sleep 60"], rootfs: rootfs)
        let caps = ["CAP_MKNOD", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"]
        s["process", "capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
        let id = Harness.uniqueName("passwd")
        let r = try s("run", "-d", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        try waitFor { FileManager.default.fileExists(atPath: rootfs + "/ready") }
        return (s, id, rootfs)
    }

    @Test(
        "exec into a container whose /etc/passwd is a FIFO or /dev/zero's node neither hangs nor opens it; kill and delete go on",
        arguments: ["mkfifo /etc/passwd", "mknod /etc/passwd c 1 5"])
    func execWithTamperedPasswd(make: String) throws {
        let (s, id, _) = try Self.tampered(make)
        defer { _ = try? Self.bounded(s, ["delete", "--force", id]) }
        let r = try Self.bounded(s, ["exec", id, "sh", "-c", "echo HOME=$HOME"])
        #expect(r.status == 0 && r.stdout.contains("HOME=/"), "\(r)")
        // Meanwhile the container is not locked: kill and delete --force answer.
        let kill = try Self.bounded(s, ["kill", id, "0"])
        #expect(kill.status == 0, "\(kill)")
        let delete = try Self.bounded(s, ["delete", "--force", id])
        #expect(delete.status == 0, "\(delete)")
        s.expectNothingLeft(id)
    }

    @Test("create of an image whose /etc/passwd is a FIFO does not hang, and HOME falls back to /")
    func createWithFifoPasswd() throws {
        let rootfs = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs"))
        try FileManager.default.removeItem(atPath: rootfs + "/etc/passwd")
        #expect(mkfifo(rootfs + "/etc/passwd", 0o644) == 0)
        let s = try Skiff(["sh", "-c", "echo HOME=$HOME"], rootfs: rootfs)
        try s.writeConfig()
        let id = Harness.uniqueName("fifo")
        let r = try Self.bounded(s, ["run", "--bundle", s.bundle, id])
        #expect(r.status == 0 && r.stdout.contains("HOME=/"), "\(r)")
        s.expectNothingLeft(id)
    }

    @Test("exec --process reads a FIFO the caller gives before the container is locked: the container stays usable meanwhile")
    func processFifoNotUnderLock() throws {
        let (s, id, _) = try ExecTests.running()
        defer { _ = try? Self.bounded(s, ["delete", "--force", id]) }
        let fifo = s.bundle + "/process.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        // Nobody writes the FIFO: this exec waits on the caller's file.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: s.binary)
        p.arguments = ["--root", s.root, "exec", "--process", fifo, id]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(p.isRunning, "exec --process did not wait on the FIFO")
        let kill = try Self.bounded(s, ["kill", id, "0"], seconds: 10)
        #expect(kill.status == 0, "kill waited for the lock: \(kill)")
        let delete = try Self.bounded(s, ["delete", "--force", id], seconds: 10)
        #expect(delete.status == 0, "delete --force waited for the lock: \(delete)")
    }
}

/// Files skiff writes as root where others may write too (a --pid-file's
/// directory): the temporary file is new and randomly named, so nothing
/// planted there is opened (audit round 3, lower-severity findings).
@Suite struct PidFileTests {
    @Test("--pid-file: hard links to a victim planted under the temporary names are never written through; a FIFO at the name is replaced, not opened")
    func plantedFilesIgnored() throws {
        let dir = Harness.scratch + "/" + Harness.uniqueName("piddir")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let victim = Harness.scratch + "/" + Harness.uniqueName("victim")
        try "victim\n".write(toFile: victim, atomically: false, encoding: .utf8)
        // The names skiff used to use: .NAME.<its pid>.tmp, for the next pids.
        let last =
            Int(
                (try String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8))
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        for pid in (last + 1)...(last + 400) { link(victim, dir + "/.pid.\(pid).tmp") }
        #expect(mkfifo(dir + "/fifo", 0o600) == 0)
        let s = try Skiff(["sleep", "30"])
        try s.writeConfig()
        let id = Harness.uniqueName("pidfile")
        let r = try ImageFileTests.bounded(s, ["create", "--bundle", s.bundle, "--pid-file", dir + "/pid", id])
        #expect(r.status == 0, "\(r)")
        defer { _ = try? s("delete", "--force", id) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "victim\n", "the pid was written into the victim")
        let pid = try #require(try s.state(id)["pid"] as? Int)
        #expect(try String(contentsOfFile: dir + "/pid", encoding: .utf8) == "\(pid)")
        let id2 = Harness.uniqueName("pidfifo")
        let r2 = try ImageFileTests.bounded(s, ["create", "--bundle", s.bundle, "--pid-file", dir + "/fifo", id2], seconds: 10)
        #expect(r2.status == 0, "a FIFO at the pid file's name hung create: \(r2)")
        defer { _ = try? s("delete", "--force", id2) }
        var st = stat()
        #expect(lstat(dir + "/fifo", &st) == 0 && st.st_mode & S_IFMT == S_IFREG)
    }
}
