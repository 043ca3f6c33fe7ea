import Foundation
import Testing

/// Mount propagation between a volume and the host, checked from both
/// sides, for every combination of `linux.rootfsPropagation` and a bind's
/// own propagation option, with runc as the control (Kubernetes' Private,
/// HostToContainer and Bidirectional volumes are rprivate, rslave and
/// rshared binds with rootfsPropagation rslave or rshared).
///
/// The "host" is a private mount namespace the test makes (unshare -m): the
/// volume is a shared tmpfs there, the runtime runs there, and nothing of
/// the machine's own mounts is touched.
@Suite(.serialized) struct PropagationTests {
    static let runc = "/usr/sbin/runc"

    struct Seen: Equatable, CustomStringConvertible {
        var containerToHost: Bool
        var hostToContainer: Bool
        var description: String { "container->host \(containerToHost), host->container \(hostToContainer)" }
    }

    /// What runc's semantics give: the mount namespace keeps the host's
    /// peer groups only with a shared rootfs propagation; a bind is then a
    /// peer of its source (both ways) unless its option makes it a slave
    /// (host to container) or private. With a slave root a bind is a slave
    /// of its source, also when its option makes it shared again; with a
    /// private root it is cut off.
    static func expected(root: String, bind: String) -> Seen {
        let sharedRoot = root == "rshared" || root == "shared"
        let privateRoot = root == "rprivate"
        switch bind {
        case "rprivate": return Seen(containerToHost: false, hostToContainer: false)
        case "rslave": return Seen(containerToHost: false, hostToContainer: !privateRoot)
        default: return Seen(containerToHost: sharedRoot, hostToContainer: !privateRoot)
        }
    }

    /// Runs one container with `binary` (skiff or runc) in a private mount
    /// namespace whose /vol source is a shared tmpfs; returns what crossed.
    static func observe(binary: String, root: String, bind: String) throws -> Seen {
        var s = try Skiff([
            "sh", "-c",
            """
            mount -t tmpfs c2h /vol/c2h && echo mounted > /out/state
            while [ ! -e /out/go ]; do sleep 0.02; done
            if grep -q ' - tmpfs h2c ' /proc/self/mountinfo; then echo yes; else echo no; fi > /out/h2c.tmp
            mv /out/h2c.tmp /out/h2c
            """,
        ])
        let out = try s.outDir()
        let vol = s.bundle + "/vol"
        try FileManager.default.createDirectory(atPath: vol, withIntermediateDirectories: true)
        s.mounts.append(["destination": "/out", "source": out, "options": ["rbind"]])
        s.mounts.append([
            "destination": "/vol", "source": vol, "type": "bind",
            "options": ["rbind", "rw"] + (bind.isEmpty ? [] : [bind]),
        ])
        if !root.isEmpty { s["linux", "rootfsPropagation"] = root }
        let caps = ["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"]
        s["process", "capabilities"] = ["bounding": caps, "effective": caps, "permitted": caps]
        try s.writeConfig()
        let id = Harness.uniqueName("prop")
        let state = s.root + (binary == runc ? "-runc" : "")
        let script = """
            set -e
            mount -t tmpfs volume \(vol) && mount --make-shared \(vol) && mkdir \(vol)/c2h \(vol)/h2c
            \(binary) --root \(state) run -d --bundle \(s.bundle) \(id) > /dev/null
            i=0; while [ ! -e \(out)/state ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
            if grep -q ' - tmpfs c2h ' /proc/self/mountinfo; then echo c2h=yes; else echo c2h=no; fi
            mount -t tmpfs h2c \(vol)/h2c
            touch \(out)/go
            i=0; while [ ! -e \(out)/h2c ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
            echo h2c=$(cat \(out)/h2c)
            \(binary) --root \(state) delete --force \(id)
            """
        let r = try Harness.exec("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script])
        guard r.status == 0 else { throw HarnessError("\(binary) root=\(root) bind=\(bind): \(r)") }
        return Seen(containerToHost: r.stdout.contains("c2h=yes"), hostToContainer: r.stdout.contains("h2c=yes"))
    }

    static let roots = ["", "rslave", "rshared", "shared", "rprivate"]
    static let binds = ["", "rslave", "rshared", "rprivate"]

    @Test("every rootfsPropagation × bind propagation crosses as with runc: Bidirectional (rshared/rshared) reaches the host")
    func matrix() throws {
        var differences: [String] = []
        for root in Self.roots {
            for bind in Self.binds {
                let want = Self.expected(root: root, bind: bind)
                let got = try Self.observe(binary: Harness.binary, root: root, bind: bind)
                if got != want { differences.append("root=\(root) bind=\(bind): skiff \(got), want \(want)") }
            }
        }
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
    }

    @Test("runc, the control, crosses as the table says", .needsProgram(runc, package: "runc"))
    func runcControl() throws {
        var differences: [String] = []
        for root in Self.roots {
            for bind in Self.binds {
                let want = Self.expected(root: root, bind: bind)
                let got = try Self.observe(binary: Self.runc, root: root, bind: bind)
                if got != want { differences.append("root=\(root) bind=\(bind): runc \(got), want \(want)") }
            }
        }
        #expect(differences.isEmpty, "\(differences.joined(separator: "\n"))")
    }
}
