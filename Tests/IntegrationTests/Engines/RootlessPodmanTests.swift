import Foundation
import Testing

/// Rootless podman as a desktop user on a standard host runs it: a real
/// user with /etc/subuid ranges and a user manager (what `loginctl
/// enable-linger` starts at boot; the guest has no logind, so the test
/// starts user@UID.service itself), cgroup_manager = "systemd", the
/// controllers systemd delegates to users. podman runs skiff as root of its
/// user namespace with --systemd-cgroup; skiff makes the scope through the
/// user's bus. Every podman command runs under the user manager, as from
/// a terminal of the user's desktop.
final class RootlessPodman: @unchecked Sendable {
    let home: String
    static let image = "localhost/skiff-busybox:rootless"

    static let shared = Engines.shared({ try RootlessPodman() }, stop: { $0.stop() })

    init() throws {
        try TestUser.create()
        try TestUser.subordinate(true)
        home = Harness.scratch + "/" + Harness.uniqueName("pdhome")
        do {
            // Debian's user@.service delegates pids, memory and cpu; cpuset
            // and io where an administrator adds them, as here.
            try FileManager.default.createDirectory(atPath: "/run/systemd/system/user@.service.d", withIntermediateDirectories: true)
            try "[Service]\nDelegate=pids memory cpu cpuset io\n"
                .write(toFile: "/run/systemd/system/user@.service.d/skiff-test-delegate.conf", atomically: true, encoding: .utf8)
            try UserManager.start()
            try startTerminal()
            // The README's containers.conf, where a user keeps it.
            try FileManager.default.createDirectory(atPath: home + "/.config/containers", withIntermediateDirectories: true)
            try Engines.readmeConfig("podman containers.conf")
                .write(toFile: home + "/.config/containers/containers.conf", atomically: true, encoding: .utf8)
            _ = try Harness.sh("cp \(Engines.imageTar) \(home)/image.tar && chown -R \(TestUser.name) \(home) && chmod 755 \(Harness.scratch)")
            let r = try podman(["import", home + "/image.tar", Self.image])
            guard r.status == 0 else { throw HarnessError("podman import: \(r)") }
        } catch {
            stop()
            throw error
        }
    }

    func podman(_ args: [String], stdin: String? = nil) throws -> Harness.Result {
        // podman's defaults otherwise: cgroup_manager "systemd".
        try asUser(["/usr/bin/podman", "--events-backend", "file", "--storage-driver", "vfs"] + args, stdin: stdin)
    }

    /// The user's terminal: a service of the user's manager whose cgroup
    /// every command of the test joins, as a desktop terminal's shell is in
    /// an app scope of the user's manager. (`systemd-run --user --scope`
    /// from root's cgroup fails: the user cannot move a process from
    /// there; a `--wait` transient service per command would take conmon
    /// and the container down when podman exits.)
    static let terminal = "skiff-test-terminal.service"
    var terminalCgroup: String {
        "/sys/fs/cgroup/user.slice/user-\(TestUser.uid).slice/user@\(TestUser.uid).service/app.slice/" + Self.terminal
    }

    private static func env(home: String) -> [String] {
        [
            "/usr/bin/env", "HOME=\(home)", "XDG_RUNTIME_DIR=\(UserManager.runtimeDir)", "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
            "DBUS_SESSION_BUS_ADDRESS=unix:path=\(UserManager.runtimeDir)/bus",
        ]
    }

    func startTerminal() throws {
        let r = try Engines.spawn(
            "/usr/sbin/runuser",
            ["-u", TestUser.name, "--"] + Self.env(home: home)
                + ["/usr/bin/systemd-run", "--user", "--quiet", "--unit", Self.terminal, "/bin/sleep", "2147483647"],
            env: ["PATH": "/usr/bin:/bin"])
        guard r.status == 0, FileManager.default.fileExists(atPath: terminalCgroup) else { throw HarnessError("the user's terminal service: \(r)") }
    }

    /// `argv` as the user, from the user's terminal.
    func asUser(_ argv: [String], stdin: String? = nil) throws -> Harness.Result {
        try Engines.spawn(
            "/bin/sh",
            [
                "-c", #"echo $$ > "$0/cgroup.procs" && exec "$@""#, terminalCgroup,
                "/usr/sbin/runuser", "-u", TestUser.name, "--",
            ] + Self.env(home: home) + argv,
            // conmon writes its OOM marker to the directory
            // it starts in too: one the user can write.
            env: ["PATH": "/usr/bin:/bin"], stdin: stdin, cwd: home)
    }

    func stop() {
        let ids = (try? podman(["ps", "-aq"]).stdout.split(separator: "\n").map(String.init)) ?? []
        if !ids.isEmpty { _ = try? podman(["rm", "-f", "-t", "0"] + ids) }
        _ = try? podman(["system", "reset", "--force"])
        UserManager.stop()
        unlink("/run/systemd/system/user@.service.d/skiff-test-delegate.conf")
        try? Systemctl.daemonReload()
        _ = try? Harness.sh("pkill -KILL -u \(TestUser.name); rm -rf \(home); true")
        TestUser.remove()
    }
}

extension RootlessPodman: EngineCLI {
    var name: String { "rootless podman" }
    func cli(_ args: [String], stdin: String?) throws -> Harness.Result { try podman(args, stdin: stdin) }
    /// None: rootless podman asks for no more than the user's own hard
    /// rlimits (fixed ones could exceed what the user manager gives, which
    /// scales RLIMIT_NPROC with memory: 4096 was refused in a 1 GB guest).
    var runFlags: [String] { [] }
    var image: String { Self.image }
    /// $XDG_RUNTIME_DIR/skiff: podman passes no --root.
    var skiffRoot: String { UserManager.runtimeDir + "/skiff" }
    var namespace: EngineNamespace? { nil }
    func cgroup(of id: String) -> String {
        "/user.slice/user-\(TestUser.uid).slice/user@\(TestUser.uid).service/user.slice/libpod-\(id).scope"
    }
    /// Rootless podman 4.3 (conmon 2.1) does not set OOMKilled on cgroup v2,
    /// with runc as the runtime too (checked in the guest with
    /// SKIFF_BIN=/usr/sbin/runc): the kill itself (status 137) is checked.
    var reportsOOMKilled: Bool { false }
    var updatesPidsLimit: Bool { false }
    var statsLimitAfterUpdate: String { "67.11MB" }
}

@Suite(
    .inGuest(inSystemdGuest && systemdUnified, "QemuGuestTests boots (systemd, cgroup v2)"),
    .enabled(if: Podman.missing == nil, "needs /usr/bin/podman and /usr/bin/conmon (Debian podman and conmon; scripts/deps installs them)"),
    .serialized)
struct RootlessPodmanTests {
    let p: RootlessPodman

    init() throws { p = try RootlessPodman.shared.get() }

    @Test("rootless podman run: output, exit codes (42; a missing program is 127), -t, -i")
    func runAndExitCodes() throws { try EngineChecks.runAndExitCodes(p) }

    @Test(
        "rootless podman, a detached container: a scope under the user's manager; exec; logs; pause (the v2 freezer); stop; start; kill; restart; rm leaves nothing"
    )
    func lifecycle() throws { try EngineChecks.lifecycle(p) }

    @Test("rootless podman: --memory 32m OOM-kills; --memory, --pids-limit, --cpus, --cpuset-cpus read back inside")
    func limits() throws { try EngineChecks.limits(p) }

    @Test("rootless podman: update of a running container's limits, read back inside; stats")
    func update() throws { try EngineChecks.update(p) }

    @Test("rootless podman: --network none and host, --read-only, --user, --cap-drop ALL, --tmpfs, -v")
    func isolation() throws { try EngineChecks.isolation(p) }

    @Test("rootless podman: its default seccomp profile is loaded; seccomp=unconfined loads none")
    func seccomp() throws { try EngineChecks.seccomp(p) }

    @Test("skiff check, as the user and as root of podman's user namespace, says what rootless engines need: delegated controllers, linger")
    func check() throws {
        let uid = TestUser.uid
        let asUser = try p.asUser([Harness.binary, "check"])
        let delegated = "rootless engines: user@\(uid).service has "
        #expect(
            asUser.stdout.contains(delegated) && asUser.stdout.contains("memory") && asUser.stdout.contains("not lingering")
                && asUser.stdout.contains("loginctl enable-linger \(TestUser.name)"), "\(asUser)")
        // podman's way: root of its user namespace is the user outside.
        let inNS = try p.podman(["unshare", Harness.binary, "check"])
        #expect(inNS.stdout.contains("caller: root of a user namespace") && inNS.stdout.contains(delegated), "\(inNS)")

        let lingerDir = "/var/lib/systemd/linger"
        let madeDir = !FileManager.default.fileExists(atPath: lingerDir)
        try FileManager.default.createDirectory(atPath: lingerDir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: lingerDir + "/" + TestUser.name, contents: nil)
        defer {
            unlink(lingerDir + "/" + TestUser.name)
            if madeDir { rmdir(lingerDir) }
        }
        let lingering = try p.asUser([Harness.binary, "check"])
        #expect(lingering.stdout.contains("lingering: your manager runs from boot") && !lingering.stdout.contains("enable-linger"), "\(lingering)")
    }
}
