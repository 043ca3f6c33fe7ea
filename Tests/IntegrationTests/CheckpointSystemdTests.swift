import Foundation
import Testing

/// checkpoint and restore on the standard host: systemd as PID 1 on cgroup
/// v2, skiff with --systemd-cgroup as the engines' default driver runs it.
/// restore makes the container's scope with criu's own pid in it, so that
/// what criu restores is born in the scope.
@Suite(
    .inGuest(inSystemdGuest && systemdUnified, "QemuGuestTests boots (systemd, cgroup v2)"),
    .needsProgram("/usr/sbin/criu", package: "criu"), .serialized)
struct CheckpointSystemdTests {
    @Test("--systemd-cgroup: a counter restored lands in a new scope with its limits and goes on; delete stops the scope")
    func scope() throws {
        var c = try CheckpointTests.Counter(systemd: true)
        defer { c.cleanup() }
        let run = try c.start()
        try #require(run.status == 0, "\(run)")
        #expect(Systemctl.show(c.unit, "ActiveState") == "active")
        let before = try c.waitCount(above: 3)
        let images = c.s.bundle + "/images"
        let dump = try c.s("checkpoint", "--image-path", images, c.id, global: c.global)
        try #require(dump.status == 0, "\(dump)\n\(CheckpointTests.log(images + "/dump.log"))")
        #expect(!Systemctl.loaded(c.unit), "the scope went with the checkpointed container")
        let stopped = c.count()?.1 ?? before
        c.s["process", "args"] = ["false"]
        let restore = try c.s("restore", "-d", "--image-path", images, "--bundle", c.s.bundle, c.id, global: c.global)
        try #require(restore.status == 0, "\(restore)\n\(CheckpointTests.log(images + "/restore.log"))")
        let after = try c.waitCount(above: stopped + 2)
        #expect(after > stopped && c.count()?.0 == 1, "the counter goes on as pid 1: \(stopped) then \(after)")
        let pid = try c.s.state(c.id)["pid"] as? Int ?? -1
        #expect(fileText("/proc/\(pid)/cgroup") == "0::/system.slice/\(c.unit)")
        #expect(Systemctl.show(c.unit, "ActiveState") == "active")
        #expect(Systemctl.show(c.unit, "MemoryMax") == "\(64 << 20)")
        #expect(Systemctl.show(c.unit, "TasksMax") == "40")
        #expect(fileText(c.cgroup + "/memory.max") == "\(64 << 20)")
        let procs = fileText(c.cgroup + "/cgroup.procs").split(separator: "\n")
        #expect(procs.contains(Substring(String(pid))) && procs.count <= 2, "only the restored tree is in the scope, criu is gone: \(procs)")
        #expect(try c.s("pause", c.id, global: c.global).status == 0)
        #expect(try c.s("resume", c.id, global: c.global).status == 0)
        #expect(try c.s("delete", "--force", c.id, global: c.global).status == 0)
        #expect(!Systemctl.loaded(c.unit), "delete stops the restored scope")
        c.s.expectNothingLeft(c.id)
    }

    @Test("--systemd-cgroup: a restore that fails (no checkpoint in the images) leaves no scope and no state")
    func failed() throws {
        let c = try CheckpointTests.Counter(systemd: true)
        defer { c.cleanup() }
        _ = CheckpointTests.modules
        let images = c.s.bundle + "/bad-images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        // An inventory and nothing else: criu starts, in the scope, and fails.
        FileManager.default.createFile(atPath: images + "/inventory.img", contents: Data([0, 1, 2, 3]))
        let r = try c.s("restore", "-d", "--image-path", images, "--bundle", c.s.bundle, c.id, global: c.global)
        #expect(r.status == 1 && r.stderr.contains("criu restore failed"), "\(r)")
        #expect(!Systemctl.loaded(c.unit), "no scope is left: \(Systemctl.show(c.unit, "ActiveState"))")
        c.s.expectNothingLeft(c.id)
    }

    @Test(
        "podman with cgroup_manager systemd (the default where systemd is PID 1): checkpoint, restore, --export and restore --import",
        .enabled(if: Podman.missing == nil, "needs podman and conmon"))
    func podman() throws { try CheckpointTests.podmanRoundTrip(cgroupManager: "systemd") }
}
