import Foundation
import Testing

/// The fake-/proc class: an image or a config that makes skiff mount, mask
/// or write somewhere other than the kernel's own /proc and /sys. Each test
/// performs the attack with decoys (host directories the test creates) and
/// checks that skiff refuses, names the mount, leaves the decoy as it was,
/// and leaves nothing behind.
@Suite struct CVEProcTests {
    /// A writable copy of the busybox rootfs with `link -> target` in it.
    static func rootfs(_ links: [String: String]) throws -> String {
        let dir = Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs"))
        for (link, target) in links {
            try? FileManager.default.removeItem(atPath: dir + "/" + link)
            try FileManager.default.createSymbolicLink(atPath: dir + "/" + link, withDestinationPath: target)
        }
        return dir
    }

    /// A host directory that looks like /proc/sys to a container, and a
    /// check that it was not touched.
    struct Decoy {
        let dir = Harness.scratch + "/" + Harness.uniqueName("decoy")
        init() throws {
            try FileManager.default.createDirectory(atPath: dir + "/sys/net/ipv4", withIntermediateDirectories: true)
            try "0\n".write(toFile: dir + "/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
            try "host file\n".write(toFile: dir + "/timer_list", atomically: false, encoding: .utf8)
        }
        func expectUntouched(sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(
                (try? String(contentsOfFile: dir + "/sys/net/ipv4/ip_forward", encoding: .utf8)) == "0\n",
                "a sysctl was written into the host's decoy", sourceLocation: sourceLocation)
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.sorted()
            #expect(entries == ["sys", "timer_list"], "the decoy changed: \(entries ?? [])", sourceLocation: sourceLocation)
        }
    }

    @Test("CVE-2019-19921: a bind through an image symlink `/data -> /proc` is refused; the sysctl never reaches the host directory")
    func cve_2019_19921() throws {
        let decoy = try Decoy()
        var s = try Skiff(["true"], rootfs: try Self.rootfs(["data": "/proc"]))
        s.mounts.append(["destination": "/data", "source": decoy.dir, "options": ["rbind"]])
        s["linux", "sysctl"] = ["net.ipv4.ip_forward": "1"]
        try s.expectRefused("mounts[\(s.mounts.count - 1)].destination: `/data` resolves into /proc in the rootfs")
        decoy.expectUntouched()
    }

    @Test("CVE-2023-27561: the same through a relative symlink to a directory inside /proc")
    func cve_2023_27561() throws {
        let decoy = try Decoy()
        var s = try Skiff(["true"], rootfs: try Self.rootfs(["vol": "../proc/sys"]))
        // After the proc mount: the link now leads into procfs itself.
        s.mounts.append(["destination": "/vol", "source": decoy.dir, "options": ["rbind"]])
        try s.expectRefused("mounts[\(s.mounts.count - 1)].destination: `/vol` resolves into /proc in the rootfs")
        decoy.expectUntouched()
    }

    @Test("CVE-2025-52881: sysctl writes go to the kernel's file, not to a host file mounted where the container's /proc/sys was")
    func cve_2025_52881() throws {
        // The redirection: /proc/sys/net reached through a link, a host
        // file bound there, then root writes the sysctl.
        let decoy = try Decoy()
        var s = try Skiff(["true"], rootfs: try Self.rootfs(["netdir": "/proc/sys/net/ipv4"]))
        s.mounts.append([
            "destination": "/netdir/ip_forward", "source": decoy.dir + "/sys/net/ipv4/ip_forward",
            "options": ["bind"],
        ])
        s["linux", "sysctl"] = ["net.ipv4.ip_forward": "1"]
        try s.expectRefused("resolves into /proc in the rootfs")
        decoy.expectUntouched()

        // Without the redirection the sysctl is applied, in the container's
        // own network namespace only.
        let host = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)
        var ok = try Skiff(["cat", "/proc/sys/net/ipv4/ip_forward"])
        ok["linux", "sysctl"] = ["net.ipv4.ip_forward": host == "1\n" ? "0" : "1"]
        let r = try ok.run()
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == (host == "1\n" ? "0\n" : "1\n"), "\(r)")
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) == host)
    }

    @Test("CVE-2019-16884: nothing but procfs is mounted over /proc, and nothing inside it but lxcfs's files")
    func cve_2019_16884() throws {
        let decoy = try Decoy()
        var s = try Skiff(["true"])
        // A volume over /proc (an image's VOLUME /proc becomes this bind).
        s.mounts.append(["destination": "/proc", "source": decoy.dir, "options": ["rbind"]])
        try s.expectRefused("mounts[\(s.mounts.count - 1)].source: `\(decoy.dir)` is not procfs: only procfs may be mounted at `/proc`")
        s.mounts.removeLast()
        s.mounts.append(["destination": "/proc/self/attr", "type": "tmpfs", "source": "tmpfs"])
        try s.expectRefused("mounts[\(s.mounts.count - 1)].destination: `/proc/self/attr` is inside /proc: only binds over /proc/cpuinfo")
        s.mounts.removeLast()
        s.mounts.append(["destination": "/proc", "type": "tmpfs", "source": "tmpfs"])
        try s.expectRefused("mounts[\(s.mounts.count - 1)].type: only procfs may be mounted at `/proc`, not `tmpfs`")
        decoy.expectUntouched()

        // What lxcfs does is allowed: a bind over /proc/uptime.
        var lx = try Skiff(["cat", "/proc/uptime"])
        lx.mounts.append(["destination": "/proc/uptime", "source": decoy.dir + "/timer_list", "options": ["bind", "ro"]])
        let r = try lx.run()
        #expect(r.status == 0 && r.stdout == "host file\n", "\(r)")
    }

    @Test("CVE-2023-28642: /proc, /sys or /dev as a symlink in the image is refused, even one that stays inside the rootfs")
    func cve_2023_28642() throws {
        for (dir, index) in [("proc", 0), ("sys", 5), ("dev", 1)] {
            let rootfs = try Self.rootfs([dir: "/x" + dir])
            try FileManager.default.createDirectory(atPath: rootfs + "/x" + dir, withIntermediateDirectories: true)
            let s = try Skiff(["true"], rootfs: rootfs)
            try #require(s.mounts[index]["destination"] as? String == "/" + dir)
            try s.expectRefused("mounts[\(index)]: `/\(dir)` goes through a symlink in the rootfs")
            let inside = try FileManager.default.contentsOfDirectory(atPath: rootfs + "/x" + dir)
            #expect(inside.isEmpty, "skiff mounted or created something through the /\(dir) link: \(inside)")
        }
    }

    @Test("masks and read-only paths are only applied to the kernel's /proc: a look-alike tree is refused")
    func masksOnRealProc() throws {
        // No procfs at /proc: an image directory that looks like it.
        let rootfs = try Self.rootfs([:])
        try "secret\n".write(toFile: rootfs + "/proc/timer_list", atomically: false, encoding: .utf8)
        var s = try Skiff(["true"], rootfs: rootfs)
        s.mounts = s.mounts.filter { $0["destination"] as? String != "/proc" }
        s["linux", "maskedPaths"] = ["/proc/timer_list"]
        s["linux", "readonlyPaths"] = [String]()
        try s.expectRefused("linux.maskedPaths[0]: `/proc/timer_list`: /proc is not procfs in the container")
    }
}
