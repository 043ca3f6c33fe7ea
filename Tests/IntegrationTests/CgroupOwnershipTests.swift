import Foundation
import Testing

/// skiff signals only the container's own processes and removes only the
/// cgroup directories it made: a cgroupsPath that already exists, with a
/// process of the host in it, is joined, warned about (as runc does), and
/// left as it was found (audit round 3, finding 4: the decoy was killed).
@Suite struct CgroupOwnershipTests {
    /// Where the host's cgroup filesystems are: every v1 hierarchy, or the
    /// one v2 tree.
    static var hierarchies: [String] {
        let mounts = Harness.hostMountinfo()
        if mounts.contains(" /sys/fs/cgroup rw")
            && mounts.split(separator: "\n").contains(where: { $0.contains(" /sys/fs/cgroup ") && $0.contains(" - cgroup2 ") })
        {
            return [""]
        }
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).filter { $0 != "unified" }
    }

    /// A cgroup the test makes, with a decoy process of the host in it.
    struct Occupied {
        let path: String
        let decoy: Process
        var dirs: [String] { CgroupOwnershipTests.hierarchies.map { "/sys/fs/cgroup/\($0.isEmpty ? "" : $0 + "/")" + path.dropFirst() } }
        var decoyAlive: Bool { decoy.isRunning && kill(decoy.processIdentifier, 0) == 0 }

        init() throws {
            path = "/" + Harness.uniqueName("skiff-it-occupied")
            decoy = Process()
            decoy.executableURL = URL(fileURLWithPath: "/bin/sleep")
            decoy.arguments = ["600"]
            try decoy.run()
            for d in dirs {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
                if d.hasPrefix("/sys/fs/cgroup/cpuset/") {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let v = try String(contentsOfFile: "/sys/fs/cgroup/cpuset/" + f, encoding: .utf8)
                        try v.write(toFile: d + "/" + f, atomically: false, encoding: .utf8)
                    }
                }
                try "\(decoy.processIdentifier)".write(toFile: d + "/cgroup.procs", atomically: false, encoding: .utf8)
            }
        }

        /// Freezes (or thaws) the cgroup, decoy and all.
        func freeze(_ on: Bool) throws {
            let v1 = "/sys/fs/cgroup/freezer" + path
            if FileManager.default.fileExists(atPath: v1) {
                try (on ? "FROZEN" : "THAWED").write(toFile: v1 + "/freezer.state", atomically: false, encoding: .utf8)
            } else {
                try (on ? "1" : "0").write(toFile: "/sys/fs/cgroup" + path + "/cgroup.freeze", atomically: false, encoding: .utf8)
            }
        }

        func cleanup() {
            try? freeze(false)
            kill(decoy.processIdentifier, SIGKILL)
            decoy.waitUntilExit()
            for d in dirs { rmdir(d) }
        }

        func expectUntouched(sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(decoyAlive, "the host's process in the joined cgroup was killed", sourceLocation: sourceLocation)
            for d in dirs {
                #expect(
                    FileManager.default.fileExists(atPath: d), "the cgroup skiff did not make was removed: \(d)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    @Test("run in an existing cgroup with a host process: runc's warning, the process survives, the cgroup stays")
    func runLeavesOthersAlone() throws {
        let cg = try Occupied()
        defer { cg.cleanup() }
        var s = try Skiff(["true"])
        s["linux", "cgroupsPath"] = cg.path
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("container's cgroup is not empty: 1 process(es) found"), "\(r)")
        cg.expectUntouched()
    }

    @Test("without a pid namespace: kill --all and delete --force reach the container's processes, never the host's in the same cgroup")
    func killAllSharedPidNamespace() throws {
        let cg = try Occupied()
        defer { cg.cleanup() }
        var s = try Skiff(["sh", "-c", "sleep 300 & sleep 300"])
        s["linux", "cgroupsPath"] = cg.path
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "pid" }
        let id = Harness.uniqueName("shared")
        let r = try s("run", "-d", "--bundle", s.bundle, id)
        try #require(r.status == 0, "\(r)")
        defer { _ = try? s("delete", "--force", id) }
        let pid = try #require(try s.state(id)["pid"] as? Int)
        #expect(try s("kill", "--all", id, "KILL").status == 0)
        try waitFor { kill(Int32(pid), 0) != 0 }
        // Its child went too: the decoy is all that is left in the cgroup.
        let procsFile = cg.dirs.first { $0.hasPrefix("/sys/fs/cgroup/pids/") } ?? cg.dirs[0]
        try waitFor {
            let procs = (try? String(contentsOfFile: procsFile + "/cgroup.procs", encoding: .utf8)) ?? ""
            return procs.split(separator: "\n") == ["\(cg.decoy.processIdentifier)"]
        }
        let delete = try s("delete", "--force", id)
        #expect(delete.status == 0, "\(delete)")
        cg.expectUntouched()
        s.expectNothingLeft(id)
    }

    @Test("a create that fails in an existing cgroup kills nothing of the host's and removes no cgroup it did not make")
    func failedCreateLeavesOthersAlone() throws {
        let cg = try Occupied()
        defer { cg.cleanup() }
        var s = try Skiff(["/no/such/program"])
        s["linux", "cgroupsPath"] = cg.path
        let id = Harness.uniqueName("fails")
        let r = try s("create", "--bundle", s.bundle, id)
        #expect(r.status != 0, "\(r)")
        cg.expectUntouched()
        s.expectNothingLeft(id)
    }

    /// On v1 the hierarchies are made after the clone (while the child
    /// mounts); a create refused there has a cgroup it never joined, and
    /// what is found in it is not the container's, not even before skiff
    /// has listed it: nothing is signalled or thawed.
    @Test("a create refused while its cgroup is made (a frozen cgroupsPath) signals nothing in it and thaws nothing")
    func refusedWhileMaking() throws {
        let cg = try Occupied()
        defer { cg.cleanup() }
        try cg.freeze(true)
        var s = try Skiff(["true"])
        s["linux", "cgroupsPath"] = cg.path
        try s.writeConfig()
        let id = Harness.uniqueName("refused")
        let r = try ImageFileTests.bounded(s, ["run", "--bundle", s.bundle, id], seconds: 20)
        #expect(r.status == 1 && r.stderr.contains("container's cgroup unexpectedly frozen"), "\(r)")
        let state = "/sys/fs/cgroup/freezer" + cg.path + "/freezer.state"
        if let v = try? String(contentsOfFile: state, encoding: .utf8) {
            #expect(v.hasPrefix("FROZEN"), "the host's frozen cgroup was thawed: \(v)")
        }
        try cg.freeze(false)
        usleep(100_000)
        cg.expectUntouched()
        s.expectNothingLeft(id)
    }
}
