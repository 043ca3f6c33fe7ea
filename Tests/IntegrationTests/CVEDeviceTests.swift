import Foundation
import Testing

/// /dev in an image is the image's: a symlink there must not make skiff
/// create devices or links, or mask with something, on the host.
@Suite struct CVEDeviceTests {
    /// A host directory with `files`, and a check that it stayed so.
    static func decoy(_ files: [String: String] = [:]) throws -> String {
        let dir = Harness.scratch + "/" + Harness.uniqueName("decoy")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: false, encoding: .utf8) }
        return dir
    }

    @Test("CVE-2025-31133: a /dev/null that is a symlink to a host file is never used to mask")
    func cve_2025_31133() throws {
        let target = try Self.decoy(["core_pattern": "host value\n"])
        let dev = try Self.decoy()
        try FileManager.default.createSymbolicLink(atPath: dev + "/null", withDestinationPath: target + "/core_pattern")
        var s = try Skiff(["true"])
        s.mounts = s.mounts.map { m in
            m["destination"] as? String == "/dev" ? ["destination": "/dev", "source": dev, "options": ["rbind"]] : m
        }
        s["linux", "maskedPaths"] = ["/proc/timer_list"]
        try s.expectRefused("linux.maskedPaths[0]: mask `/proc/timer_list`: /dev/null in the container is not the null device (1:3)")
        #expect(try String(contentsOfFile: target + "/core_pattern", encoding: .utf8) == "host value\n")
    }

    @Test("CVE-2026-41579: an image whose /dev is a symlink to a host volume gets no /dev mount through it")
    func cve_2026_41579() throws {
        let decoy = try Self.decoy()
        let rootfs = try CVEProcTests.rootfs(["dev": "/data"])
        var s = try Skiff(["true"], rootfs: rootfs)
        s.mounts.append(["destination": "/data", "source": decoy, "options": ["rbind"]])
        try s.expectRefused("mounts[1]: `/dev` goes through a symlink in the rootfs")
        #expect(try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty)
    }

    @Test("CVE-2026-47766: without a /dev mount, devices, their directories and links are not made through an image's /dev symlink")
    func cve_2026_47766() throws {
        let decoy = try Self.decoy()
        let rootfs = try CVEProcTests.rootfs(["dev": "/data"])
        var s = try Skiff(["true"], rootfs: rootfs)
        s.mounts = s.mounts.filter { !(($0["destination"] as? String) ?? "").hasPrefix("/dev") }
        s.mounts.append(["destination": "/data", "source": decoy, "options": ["rbind"]])
        try s.expectRefused("a symlink on the way in the rootfs: devices, their directories and links are only made below real directories")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty,
            "made on the host: \((try? FileManager.default.contentsOfDirectory(atPath: decoy)) ?? [])")
        // A link below /dev leading out is not followed either.
        let rootfs2 = try CVEProcTests.rootfs(["dev/pts": "/data"])
        var s2 = try Skiff(["true"], rootfs: rootfs2)
        s2.mounts = s2.mounts.filter { !(($0["destination"] as? String) ?? "").hasPrefix("/dev") }
        s2.mounts.append(["destination": "/data", "source": decoy, "options": ["rbind"]])
        try s2.expectRefused("a symlink on the way in the rootfs")
        #expect(try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty)
    }
}

/// The container's process and skiff's own protocol.
@Suite struct CVEProcessTests {
    @Test("CVE-2024-21626: a directory fd leaked into skiff cannot become the container's cwd")
    func cve_2024_21626() throws {
        var s = try Skiff(["sh", "-c", "pwd; ls /proc/self/fd"])
        s["process", "cwd"] = "/proc/self/fd/7"
        try s.writeConfig()
        let id = Harness.uniqueName("leak")
        let r = try Harness.sh("exec 7</; \(s.binary) --root \(s.root) run --bundle \(s.bundle) \(id)")
        #expect(r.status == 1 && r.stderr.contains("process.cwd: chdir `/proc/self/fd/7`: no such file or directory"), "\(r)")
        #expect(r.stdout.isEmpty, "the process ran: \(r)")
        s.expectNothingLeft(id)
    }

    @Test("CVE-2022-29162: the container's process gets no inheritable or ambient capability it was not given")
    func cve_2022_29162() throws {
        let s = try Skiff(["sh", "-c", "grep -E '^Cap(Inh|Amb)' /proc/self/status"])
        let r = try s.run()
        #expect(r.status == 0, "\(r)")
        #expect(statusField(r.stdout, "CapInh") == "0000000000000000", "\(r)")
        #expect(statusField(r.stdout, "CapAmb") == "0000000000000000", "\(r)")
    }

    @Test("CVE-2021-43784: malformed messages on the start socket are dropped; the container stays created until a real start")
    func cve_2021_43784() throws {
        var s = try Skiff(["sh", "-c", "echo ran > /out/ran"])
        let out = try s.outDir()
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        let id = Harness.uniqueName("sync")
        #expect(try s("create", "--bundle", s.bundle, id).status == 0)
        defer { _ = try? s("delete", "--force", id) }
        let socket = s.root + "/" + id + "/start.sock"
        for kind in ["short", "error", "long-start"] {
            let r = try Harness.exec(Attack.binary, ["start-socket", socket, kind])
            #expect(r.stdout.contains("send 0"), "\(kind): \(r)")
            #expect(try s.state(id)["status"] as? String == "created", "\(kind) started the container")
            #expect(!FileManager.default.fileExists(atPath: out + "/ran"), "\(kind): the process ran")
        }
        let started = try s("start", id)
        #expect(started.status == 0, "\(started)")
        try waitFor { FileManager.default.fileExists(atPath: out + "/ran") }
    }
}
