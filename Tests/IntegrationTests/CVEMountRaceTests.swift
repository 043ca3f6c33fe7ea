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
        FileManager.default.createFile(atPath: volume + "/stop", contents: nil)
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
            [["destination": "/vol/x/newdir/deeper", "type": "tmpfs", "source": "tmpfs"],
             ["destination": "/vol/x/newfile", "source": file, "options": ["bind"]]]
        }
        #expect(swaps > 1000, "the sibling did not race: \(swaps) swaps")
        #expect(try FileManager.default.contentsOfDirectory(atPath: decoy).isEmpty,
                "files were created on the host: \((try? FileManager.default.contentsOfDirectory(atPath: decoy)) ?? [])")
    }
}
