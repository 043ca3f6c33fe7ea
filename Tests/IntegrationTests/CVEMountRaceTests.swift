import Foundation
import Testing

/// A sibling container swaps a mount destination for a symlink while
/// skiff sets up another container that shares the volume: whatever the
/// race does, nothing is created or mounted outside the container's root.
@Suite struct CVEMountRaceTests {
    /// Container A swaps `vol/x` (a directory) and `vol/x-link` (a symlink
    /// to a decoy directory on the host) as fast as it can; container B,
    /// with the same volume, is run `rounds` times with mount points to
    /// create below `/vol/x`. Returns the decoy, which must stay empty.
    static func race(rounds: Int, mounts: (String) -> [[String: Any]]) throws -> (decoy: String, volume: String, swaps: Int) {
        let volume = Harness.scratch + "/" + Harness.uniqueName("volume")
        let decoy = Harness.scratch + "/" + Harness.uniqueName("decoy")
        for d in [volume + "/x", decoy] {
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(atPath: volume + "/x-link", withDestinationPath: decoy)
        try FileManager.default.copyItem(atPath: Attack.binary, toPath: volume + "/attack")

        var a = try Skiff(["sh", "-c", "/vol/attack exchange /vol/x /vol/x-link /vol/stop > /vol/swaps.tmp; mv /vol/swaps.tmp /vol/swaps; sleep 30"])
        a.mounts.append(["destination": "/vol", "source": volume, "options": ["rbind"]])
        let idA = Harness.uniqueName("racer")
        let ra = try a("run", "--detach", "--bundle", a.bundle, idA)
        try #require(ra.status == 0, "\(ra)")
        defer { _ = try? a("delete", "--force", idA) }

        // B's own rootfs: with the link followed inside the root, what the
        // race redirects lands in it, never on the host.
        var b = try Skiff(["true"], rootfs: Harness.makeRootfs(at: Harness.scratch + "/" + Harness.uniqueName("rootfs")))
        b.mounts.append(["destination": "/vol", "source": volume, "options": ["rbind"]])
        b.mounts += mounts(volume)
        for _ in 0..<rounds {
            let id = Harness.uniqueName("raced")
            _ = try b.run(id)
            b.expectNothingLeft(id)
        }
        _ = FileManager.default.createFile(atPath: volume + "/stop", contents: nil)
        try waitFor { FileManager.default.fileExists(atPath: volume + "/swaps") }
        let report = try String(contentsOfFile: volume + "/swaps", encoding: .utf8)
        let swaps = Int(report.split(separator: " ").last?.split(separator: "\n").first ?? "") ?? 0
        return (decoy, volume, swaps)
    }

    @Test("CVE-2021-30465: a mount destination swapped for a symlink by a sibling container never mounts outside the rootfs")
    func cve_2021_30465() throws {
        let (decoy, volume, swaps) = try Self.race(rounds: 40) { _ in
            [["destination": "/vol/x/mnt", "type": "tmpfs", "source": "tmpfs"]]
        }
        #expect(swaps > 1000, "the sibling did not race: \(swaps) swaps")
        #expect(try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty, "a mount point was made in the host's decoy")
        // Not a count of the host's mounts: suites running alongside mount
        // and unmount their own. No host mount may name the race's paths.
        let mounts = Harness.hostMountinfo()
        #expect(!mounts.contains(decoy) && !mounts.contains(volume), "a mount landed on the host: \(mounts)")
    }

    @Test("CVE-2024-45310: the same race never creates files or directories on the host")
    func cve_2024_45310() throws {
        let file = Harness.scratch + "/" + Harness.uniqueName("bindfile")
        try "x\n".write(toFile: file, atomically: false, encoding: .utf8)
        let (decoy, _, swaps) = try Self.race(rounds: 40) { _ in
            [
                ["destination": "/vol/x/newdir/deeper", "type": "tmpfs", "source": "tmpfs"],
                ["destination": "/vol/x/newfile", "source": file, "options": ["bind"]],
            ]
        }
        #expect(swaps > 1000, "the sibling did not race: \(swaps) swaps")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty,
            "files were created on the host: \((try? FileManager.default.contentsOfDirectory(atPath: decoy)) ?? [])")
    }
}

/// A tmpfs's copy-up, its mode and its attributes go to the filesystem
/// skiff made, through its fd: never to wherever the destination's path
/// leads once an attacker who can write a directory on the way has
/// swapped it (audit round 3, finding 1: the path was looked up again
/// after the mount, and root copied, chmodded and chowned through it).
@Suite struct MountRetargetTests {
    @Test("tmpcopyup and the kept mode of a tmpfs never reach a host directory through a swapped path")
    func tmpfsNotRetargeted() throws {
        let fm = FileManager.default
        let volume = Harness.scratch + "/" + Harness.uniqueName("shared")
        let host = Harness.scratch + "/" + Harness.uniqueName("hostvol")
        // The attacker's side: x/t is theirs (mode 0777, a set-uid file in
        // it); y/t leads, inside the container, to the victim's directory.
        try fm.createDirectory(atPath: volume + "/x/t", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: volume + "/y", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: volume + "/y/t", withDestinationPath: "/hostvol/victim")
        _ = fm.createFile(atPath: volume + "/x/t/planted", contents: Data("x".utf8))
        chmod(volume + "/x/t/planted", 0o4755)
        chmod(volume + "/x/t", 0o777)
        try fm.createDirectory(atPath: host + "/victim", withIntermediateDirectories: true)
        chmod(host + "/victim", 0o700)
        let stop = volume + "/stop"
        let racer = Process()
        racer.executableURL = URL(fileURLWithPath: Attack.binary)
        racer.arguments = ["exchange", volume + "/x", volume + "/y", stop]
        let out = Pipe()
        racer.standardOutput = out
        try racer.run()
        defer {
            _ = fm.createFile(atPath: stop, contents: nil)
            racer.waitUntilExit()
        }

        var b = try Skiff(["true"])
        b.mounts += [
            ["destination": "/data", "source": volume, "options": ["rbind"]],
            ["destination": "/hostvol", "source": host, "options": ["rbind"]],
            ["destination": "/data/x/t", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "nosuid"]],
        ]
        var victimChanged = ""
        for _ in 0..<60 {
            let id = Harness.uniqueName("retarget")
            _ = try b.run(id)
            b.expectNothingLeft(id)
            var st = stat()
            lstat(host + "/victim", &st)
            let entries = (try? fm.contentsOfDirectory(atPath: host + "/victim")) ?? []
            if st.st_mode & 0o7777 != 0o700 || !entries.isEmpty {
                victimChanged = "mode \(String(st.st_mode & 0o7777, radix: 8)), entries \(entries)"
                break
            }
        }
        _ = fm.createFile(atPath: stop, contents: nil)
        racer.waitUntilExit()
        let swaps = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(
            swaps.hasPrefix("swaps ") && (Int(swaps.dropFirst(6).prefix { $0.isNumber }) ?? 0) > 1000,
            "the attacker did not race: \(swaps)")
        #expect(victimChanged.isEmpty, "the host's directory was changed through the swapped path: \(victimChanged)")
    }
}
