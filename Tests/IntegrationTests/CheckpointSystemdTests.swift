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

/// checkpoint and restore on v1 hierarchies (systemd as PID 1 on a hybrid
/// host): CRIU restores the tree into the container's directory in every
/// hierarchy, the cgroupfs driver's or systemd's scope.
/// Nested in SystemdHybridTests so that the two run one after the other:
/// run beside them (swift-testing runs suites in parallel), the dump failed
/// in CRIU's cgroup parsing ("/../.. is not a suffix of /") while each
/// suite alone passed.
extension SystemdHybridTests {
    @Suite(.needsProgram("/usr/sbin/criu", package: "criu"), .serialized)
    struct Checkpoint {
        @Test(
            "v1 hierarchies: a counter restored is back in its memory, pids and freezer cgroups with its limits; pause and delete work",
            arguments: [false, true])
        func v1(_ systemd: Bool) throws {
            var c = try CheckpointTests.Counter(systemd: systemd)
            defer { c.cleanup() }
            let run = try c.start()
            try #require(run.status == 0, "\(run)")
            let before = try c.waitCount(above: 3)
            let images = c.s.bundle + "/images"
            let pid0 = try c.s.state(c.id)["pid"] as? Int ?? -1
            let views =
                "outside:\n\(fileText("/proc/\(pid0)/cgroup"))\ninside:\n\((try? c.s("exec", c.id, "cat", "/proc/1/cgroup", global: c.global).stdout) ?? "")\ntest process:\n\(fileText("/proc/self/cgroup"))"
            let dump = try c.s("checkpoint", "--image-path", images, c.id, global: c.global)
            try #require(dump.status == 0, "\(dump)\n\(CheckpointTests.log(images + "/dump.log"))\n\(views)")
            let stopped = c.count()?.1 ?? before
            let restore = try c.s("restore", "-d", "--image-path", images, "--bundle", c.s.bundle, c.id, global: c.global)
            try #require(restore.status == 0, "\(restore)\n\(CheckpointTests.log(images + "/restore.log"))")
            let after = try c.waitCount(above: stopped + 2)
            #expect(after > stopped, "the counter goes on: \(stopped) then \(after)")
            let pid = try c.s.state(c.id)["pid"] as? Int ?? -1
            let path = systemd ? "/system.slice/\(c.unit)" : "/skiff-cr/\(c.id)"
            let lines = fileText("/proc/\(pid)/cgroup").split(separator: "\n").map(String.init)
            for controller in ["memory", "pids", "freezer"] {
                #expect(lines.contains { $0.hasSuffix(":\(controller):\(path)") }, "\(controller): \(lines)")
            }
            #expect(fileText("/sys/fs/cgroup/memory\(path)/memory.limit_in_bytes") == "\(64 << 20)")
            #expect(fileText("/sys/fs/cgroup/pids\(path)/pids.max") == "40")
            // Inside: the tmpfs with its hierarchies and links, read-only, each
            // hierarchy the restored container's own directory.
            let inside = try c.s(
                "exec", c.id, "sh", "-c",
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; test -L /sys/fs/cgroup/cpu && echo link; touch /sys/fs/cgroup/x || echo ro",
                global: c.global)
            #expect(inside.stdout == "\(64 << 20)\nlink\nro\n", "\(inside)")
            #expect(try c.s("pause", c.id, global: c.global).status == 0)
            #expect(fileText("/sys/fs/cgroup/freezer\(path)/freezer.state") == "FROZEN")
            #expect(try c.s("resume", c.id, global: c.global).status == 0)
            #expect(try c.s("delete", "--force", c.id, global: c.global).status == 0)
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory\(path)"), "delete removes the restored cgroup")
            if systemd { #expect(!Systemctl.loaded(c.unit)) }
            c.s.expectNothingLeft(c.id)
        }
    }
}
