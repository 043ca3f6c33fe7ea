import Foundation
import Testing

/// systemctl, as root or as the test user (its user manager).
enum Systemctl {
    static func show(_ unit: String, _ property: String, user: Bool = false) -> String {
        let r =
            user
            ? try? UserManager.asUser(["/usr/bin/systemctl", "--user", "show", "-p", property, "--value", unit], viaManager: false)
            : try? Harness.exec("/usr/bin/systemctl", ["show", "-p", property, "--value", unit])
        return (r?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func loaded(_ unit: String, user: Bool = false) -> Bool {
        show(unit, "LoadState", user: user) == "loaded"
    }

    static func daemonReload() throws {
        let r = try Harness.exec("/usr/bin/systemctl", ["daemon-reload"])
        #expect(r.status == 0, "\(r)")
    }
}

/// The test user's systemd (user@UID.service). The guest has no logind,
/// which would make its runtime directory and set XDG_RUNTIME_DIR: a
/// stand-in unit and a drop-in do those two things, and user@.service
/// runs without the boot's default dependencies (sysinit.target).
enum UserManager {
    static var uid: Int { TestUser.uid }
    static var runtimeDir: String { "/run/user/\(uid)" }

    static func start() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: "/run/systemd/system/user@.service.d", withIntermediateDirectories: true)
        try "[Unit]\nDefaultDependencies=no\n[Service]\nEnvironment=XDG_RUNTIME_DIR=/run/user/%i\n"
            .write(toFile: "/run/systemd/system/user@.service.d/skiff-test.conf", atomically: true, encoding: .utf8)
        try """
        [Unit]
        Description=User runtime directory /run/user/%i (test stand-in for logind)
        DefaultDependencies=no
        StopWhenUnneeded=yes
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/sh -c 'mkdir -p -m 0700 /run/user/%i && chown %i /run/user/%i'
        ExecStop=/bin/rm -rf /run/user/%i
        Slice=user-%i.slice

        """.write(toFile: "/run/systemd/system/user-runtime-dir@.service", atomically: true, encoding: .utf8)
        try Systemctl.daemonReload()
        let r = try Harness.exec("/usr/bin/systemctl", ["start", "user@\(uid).service"])
        guard r.status == 0 else { throw HarnessError("start user@\(uid).service: \(r)") }
    }

    static func stop() {
        _ = try? Harness.exec("/usr/bin/systemctl", ["stop", "user@\(uid).service"])
    }

    /// Runs `argv` as the test user: under its user manager (a transient
    /// service, as a user's session or podman's scope would be), or
    /// directly (runuser from root's service: outside the manager).
    static func asUser(_ argv: [String], viaManager: Bool, unsetBus: Bool = false) throws -> Harness.Result {
        var args = ["-u", TestUser.name, "--", "/usr/bin/env", "XDG_RUNTIME_DIR=\(runtimeDir)", "PATH=/usr/bin:/bin", "HOME=/"]
        if viaManager { args += ["/usr/bin/systemd-run", "--user", "--pipe", "--wait", "--quiet", "--"] }
        if unsetBus { args += ["/usr/bin/env", "-u", "DBUS_SESSION_BUS_ADDRESS"] }
        return try Harness.exec("/usr/sbin/runuser", args + argv)
    }
}

extension Skiff {
    /// skiff --systemd-cgroup with this container's --root.
    func sd(_ args: String...) throws -> Harness.Result {
        try writeConfig()
        return try skiff(["--systemd-cgroup", "--root", root] + args)
    }

    func pid(_ id: String) throws -> Int {
        try state(id)["pid"] as? Int ?? -1
    }
}

func fileText(_ path: String) -> String {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite(.inGuest(inSystemdGuest && systemdUnified, "QemuGuestTests boots (systemd, cgroup v2)")) struct SystemdTests {
    static func box(_ args: [String], resources: [String: Any]? = nil, cgroupns: Bool = false) throws -> Skiff {
        var s = try Skiff(args)
        if let resources { s["linux", "resources"] = resources }
        if !cgroupns { s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" } }
        return s
    }

    @Test("a scope per container: systemd makes it with the process, limits as properties and files, kept over daemon-reload, gone at delete")
    func scope() throws {
        var s = try Self.box(
            ["sleep", "60"],
            resources: [
                "memory": ["limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20],
                "cpu": ["shares": 512, "quota": 50000, "period": 100000, "cpus": "0"],
                "pids": ["limit": 42],
                "blockIO": ["weight": 300],
                "devices": [["allow": false, "access": "rwm"]],
            ])
        for set in ["bounding", "effective", "permitted"] { s["process", "capabilities", set] = ["CAP_MKNOD"] }
        let id = Harness.uniqueName("sd")
        let unit = "skiff-\(id).scope", dir = "/sys/fs/cgroup/system.slice/skiff-\(id).scope"
        defer { _ = try? s.sd("delete", "--force", id) }
        let r = try s.sd("run", "--detach", "--bundle", s.bundle, id)
        #expect(r.status == 0, "\(r)")
        #expect(fileText("/proc/\(try s.pid(id))/cgroup") == "0::/system.slice/\(unit)")
        let expected = [
            ("Slice", "system.slice"), ("Delegate", "yes"), ("Description", "skiff container \(id)"),
            ("ControlGroup", "/system.slice/\(unit)"), ("MemoryMax", "\(64 << 20)"), ("MemoryLow", "\(32 << 20)"),
            ("MemorySwapMax", "\(32 << 20)"), ("TasksMax", "42"), ("CPUWeight", "20"),
            ("CPUQuotaPerSecUSec", "500ms"), ("CPUQuotaPeriodUSec", "100ms"), ("AllowedCPUs", "0"),
            ("IOWeight", "2930"), ("MemoryAccounting", "yes"), ("TasksAccounting", "yes"),
        ]
        for (name, value) in expected {
            #expect(Systemctl.show(unit, name) == value, "\(name)")
        }
        let files = [
            ("memory.max", "\(64 << 20)"), ("memory.low", "\(32 << 20)"), ("memory.swap.max", "\(32 << 20)"),
            ("pids.max", "42"), ("cpu.weight", "20"), ("cpu.max", "50000 100000"), ("cpuset.cpus", "0"),
            ("io.weight", "default 2930"),
        ]
        func checkFiles(_ when: String) {
            for (f, v) in files { #expect(fileText(dir + "/" + f) == v, "\(f) \(when)") }
        }
        checkFiles("after create")
        // systemd writes what it knows of a unit again at daemon-reload:
        // what it was told keeps the limits as they are.
        try Systemctl.daemonReload()
        checkFiles("after daemon-reload")
        // skiff's device program outlives systemd's re-apply too: the
        // guest's disk may be made but not read.
        let disk = fileText("/sys/block/vda/dev").split(separator: ":")
        try #require(disk.count == 2)
        let mknod = try s("exec", id, "sh", "-c", "mknod /dev/d b \(disk[0]) \(disk[1]) && head -c 1 /dev/d >/dev/null; echo rc=$?")
        #expect(mknod.stdout == "rc=1\n" && mknod.stderr.contains("Operation not permitted"), "denied after daemon-reload: \(mknod)")
        let del = try s.sd("delete", "--force", id)
        #expect(del.status == 0, "\(del)")
        #expect(!Systemctl.loaded(unit), "the scope is gone")
        #expect(!FileManager.default.fileExists(atPath: dir))
        s.expectNothingLeft(id)
    }

    @Test("slice:prefix:name: nested slices and the prefix; the container sees its scope, or / with a cgroup namespace")
    func paths() throws {
        var s = try Self.box(["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"], resources: ["pids": ["limit": 11]])
        let id = Harness.uniqueName("sdp")
        s["linux", "cgroupsPath"] = "machine-skifftest.slice:pfx:\(id)"
        let r = try s.sd("run", "--bundle", s.bundle, id)
        #expect(r.status == 0 && r.stdout == "0::/machine.slice/machine-skifftest.slice/pfx-\(id).scope\n11\n", "\(r)")
        #expect(!Systemctl.loaded("pfx-\(id).scope"))

        var c = try Self.box(["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"], resources: ["pids": ["limit": 12]], cgroupns: true)
        let id2 = Harness.uniqueName("sdn")
        c["linux", "cgroupsPath"] = "-.slice::\(id2)"
        let r2 = try c.sd("run", "--bundle", c.bundle, id2)
        #expect(r2.status == 0 && r2.stdout == "0::/\n12\n", "\(r2)")
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(id2).scope"))
        _ = try? Harness.exec("/usr/bin/systemctl", ["stop", "machine-skifftest.slice"])
    }

    @Test("pause, resume, update (systemd keeps the new limits), exec, ps, kill --all in the scope")
    func operations() throws {
        var s = try Self.box(["sh", "-c", "sleep 60 & sleep 61 & wait"], resources: ["memory": ["limit": 64 << 20], "pids": ["limit": 30]])
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "pid" }
        let id = Harness.uniqueName("sdo")
        let unit = "skiff-\(id).scope", dir = "/sys/fs/cgroup/system.slice/\(unit)"
        defer { _ = try? s.sd("delete", "--force", id) }
        #expect(try s.sd("run", "--detach", "--bundle", s.bundle, id).status == 0)
        try waitFor(seconds: 30) { fileText(dir + "/cgroup.procs").split(separator: "\n").count == 3 }
        #expect(try s.sd("pause", id).status == 0)
        #expect(fileText(dir + "/cgroup.events").contains("frozen 1"))
        #expect(try s.state(id)["status"] as? String == "paused")
        #expect(try s.sd("resume", id).status == 0)
        #expect(fileText(dir + "/cgroup.events").contains("frozen 0"))
        let u = try s.sd("update", "--memory", "128m", "--pids-limit", "20", id)
        #expect(u.status == 0, "\(u)")
        #expect(Systemctl.show(unit, "MemoryMax") == "\(128 << 20)" && Systemctl.show(unit, "TasksMax") == "20")
        try Systemctl.daemonReload()
        #expect(fileText(dir + "/memory.max") == "\(128 << 20)" && fileText(dir + "/pids.max") == "20")
        let e = try s.sd("exec", id, "cat", "/proc/self/cgroup")
        #expect(e.stdout == "0::/system.slice/\(unit)\n", "\(e)")
        let ps = try s.sd("ps", "--format", "json", id)
        #expect(ps.status == 0 && ps.stdout.split(separator: ",").count == 3, "\(ps)")
        #expect(try s.sd("kill", "--all", id, "KILL").status == 0)
        try waitFor(seconds: 10) { !Systemctl.loaded(unit) }
        #expect(try s.sd("delete", id).status == 0)
        s.expectNothingLeft(id)
    }

    @Test("org.systemd.property.* annotations set unit properties")
    func annotations() throws {
        var s = try Self.box(["sleep", "60"])
        s["annotations"] = [
            "org.systemd.property.TimeoutStopSec": "7", "org.systemd.property.CollectMode": "'inactive-or-failed'",
            "org.systemd.property.CPUWeight": "uint64 77",
        ]
        let id = Harness.uniqueName("sda")
        defer { _ = try? s.sd("delete", "--force", id) }
        #expect(try s.sd("run", "--detach", "--bundle", s.bundle, id).status == 0)
        let unit = "skiff-\(id).scope"
        #expect(Systemctl.show(unit, "TimeoutStopUSec") == "7s")
        #expect(Systemctl.show(unit, "CollectMode") == "inactive-or-failed")
        #expect(Systemctl.show(unit, "CPUWeight") == "77")
    }

    @Test(
        "what systemd or the config refuses fails the create with the field named, and leaves no unit, state or process",
        arguments: [
            ("annotation", "annotations[\"org.systemd.property.NoSuchThing\"]: --systemd-cgroup: start the scope skiff-"),
            ("path", "linux.cgroupsPath: `system.slice:x` is not of the form slice:prefix:name"),
            ("slice", "linux.cgroupsPath: `system` is not a systemd slice"),
            ("program", "exec `/nope`: no such file or directory"),
        ])
    func refused(_ what: String, _ message: String) throws {
        var s = try Self.box(what == "program" ? ["/nope"] : ["true"])
        let id = Harness.uniqueName("sdr")
        switch what {
        case "annotation": s["annotations"] = ["org.systemd.property.NoSuchThing": "true"]
        case "path": s["linux", "cgroupsPath"] = "system.slice:x"
        case "slice": s["linux", "cgroupsPath"] = "system:x:\(id)"
        default: break
        }
        let r = try s.sd("run", "--bundle", s.bundle, id)
        #expect(r.status != 0 && r.stderr.contains(message), "\(r)")
        if what == "annotation" { #expect(r.stderr.contains("property NoSuchThing: Cannot set property NoSuchThing"), "\(r)") }
        #expect(!Systemctl.loaded("skiff-\(id).scope") && !Systemctl.loaded("x-\(id).scope"))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/system.slice/skiff-\(id).scope"))
        s.expectNothingLeft(id)
    }

    @Test("root through the system bus (dbus-daemon) when DBUS_SYSTEM_BUS_ADDRESS names it, and through systemd's own socket otherwise")
    func systemBus() throws {
        // The guest boots no dbus-daemon: start the system bus without the
        // boot's default dependencies.
        for u in ["dbus.socket", "dbus.service"] {
            try FileManager.default.createDirectory(atPath: "/run/systemd/system/\(u).d", withIntermediateDirectories: true)
            try "[Unit]\nDefaultDependencies=no\n".write(toFile: "/run/systemd/system/\(u).d/skiff-test.conf", atomically: true, encoding: .utf8)
        }
        try Systemctl.daemonReload()
        let started = try Harness.exec("/usr/bin/systemctl", ["start", "dbus.socket"])
        try #require(started.status == 0, "\(started)")
        defer { _ = try? Harness.exec("/usr/bin/systemctl", ["stop", "dbus.service", "dbus.socket"]) }
        let s = try Self.box(["cat", "/sys/fs/cgroup/pids.max"], resources: ["pids": ["limit": 13]], cgroupns: true)
        try s.writeConfig()
        let viaBus = try Harness.exec(
            Harness.binary, ["--debug", "--systemd-cgroup", "--root", s.root, "run", "--bundle", s.bundle, Harness.uniqueName("sb")],
            env: ["DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/run/dbus/system_bus_socket", "PATH": "/usr/bin:/bin"])
        #expect(viaBus.status == 0 && viaBus.stdout == "13\n", "\(viaBus)")
        #expect(viaBus.stderr.contains("at unix:path=/run/dbus/system_bus_socket (a bus), its cgroup /"), "\(viaBus)")
        let direct = try s.sd("--debug", "run", "--bundle", s.bundle, Harness.uniqueName("sp"))
        #expect(direct.status == 0 && direct.stdout == "13\n", "\(direct)")
        #expect(direct.stderr.contains("at unix:path=/run/systemd/private, its cgroup /"), "\(direct)")
    }

    @Test(
        "podman with cgroup_manager=systemd runs skiff with --systemd-cgroup: its cgroupsPath (machine.slice:libpod:ID) is a scope with podman's limits; exec joins it; rm leaves no unit"
    )
    func podman() throws {
        try #require(Podman.missing == nil, "\(Podman.missing ?? "")")
        let p = try Podman(cgroupManager: "systemd")
        defer { p.stop() }
        // The guest has no bridge driver: no network of podman's.
        let flags = ["--network", "none"] + Podman.ulimits
        let run = try p.podman(["run", "--rm"] + flags + [Podman.image, "sh", "-c", "cat /proc/self/cgroup; exit 42"])
        #expect(run.status == 42 && run.stdout == "0::/\n", "\(run)")
        let d = try p.podman(["run", "-d", "--memory", "64m", "--pids-limit", "50"] + flags + [Podman.image, "sleep", "60"])
        let id = d.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(d.status == 0 && !id.isEmpty, "\(d)")
        let unit = "libpod-\(id).scope"
        #expect(Systemctl.show(unit, "Slice") == "machine.slice")
        #expect(Systemctl.show(unit, "MemoryMax") == "\(64 << 20)" && Systemctl.show(unit, "TasksMax") == "50")
        #expect(fileText("/sys/fs/cgroup/machine.slice/\(unit)/memory.max") == "\(64 << 20)")
        let e = try p.podman(["exec", id, "sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"])
        #expect(e.status == 0 && e.stdout == "0::/\n50\n", "\(e)")
        #expect(try p.podman(["rm", "-f", "-t", "0", id]).status == 0)
        #expect(!Systemctl.loaded(unit), "the scope is gone")
        #expect(FileManager.default.fileExists(atPath: p.skiffRoot), "podman ran skiff with its default --root (/run/skiff in the engine's namespace)")
        #expect(!FileManager.default.fileExists(atPath: p.skiffRoot + "/" + id), "skiff's state is gone")
    }

    @Test("skiff check: systemd is PID 1 and answers over D-Bus")
    func check() throws {
        let r = try Harness.exec(Harness.binary, ["check"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("ok    systemd: PID 1, systemd 252"), "\(r)")
        #expect(r.stdout.contains("--systemd-cgroup works"), "\(r)")
    }

    @Test(
        "rootless: the user's systemd makes the scope; bus or private socket; as root of a user namespace too (rootless podman's way); clear errors outside it, for controllers it does not delegate"
    )
    func rootless() throws {
        try TestUser.create()
        defer { TestUser.remove() }
        try UserManager.start()
        defer { UserManager.stop() }
        var s = try Skiff.rootless(["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"])
        s["linux", "resources"] = ["pids": ["limit": 33]]
        try s.writeConfig()
        let run = [Harness.binary, "--systemd-cgroup", "--root", s.root, "run", "--bundle", s.bundle]
        let uid = UserManager.uid
        // Through the session bus (DBUS_SESSION_BUS_ADDRESS, which the user
        // manager sets with dbus-user-session's socket).
        let r = try UserManager.asUser([Harness.binary, "--debug"] + run.dropFirst() + [Harness.uniqueName("u")], viaManager: true)
        #expect(r.status == 0 && r.stdout == "0::/\n33\n", "\(r)")
        #expect(r.stderr.contains("at unix:path=/run/user/\(uid)/bus (a bus), its cgroup /user.slice/user-\(uid).slice/user@\(uid).service"), "\(r)")
        // Through the manager's own socket.
        let p = try UserManager.asUser([Harness.binary, "--debug"] + run.dropFirst() + [Harness.uniqueName("u")], viaManager: true, unsetBus: true)
        #expect(p.status == 0 && p.stdout == "0::/\n33\n", "\(p)")
        #expect(p.stderr.contains("at unix:path=/run/user/\(uid)/systemd/private, its cgroup"), "\(p)")

        // A detached one: the scope and its limit as the user's systemd sees them.
        var d = try Skiff.rootless(["sleep", "60"])
        d["linux", "resources"] = ["pids": ["limit": 34]]
        try d.writeConfig()
        let id = Harness.uniqueName("ud")
        let dr = try UserManager.asUser([Harness.binary, "--systemd-cgroup", "--root", d.root, "run", "-d", "--bundle", d.bundle, id], viaManager: true)
        #expect(dr.status == 0, "\(dr)")
        let unit = "skiff-\(id).scope"
        #expect(Systemctl.show(unit, "TasksMax", user: true) == "34")
        #expect(
            Systemctl.show(unit, "ControlGroup", user: true) == "/user.slice/user-\(UserManager.uid).slice/user@\(UserManager.uid).service/user.slice/\(unit)")
        let del = try UserManager.asUser([Harness.binary, "--root", d.root, "delete", "--force", id], viaManager: false)
        #expect(del.status == 0, "\(del)")
        #expect(!Systemctl.loaded(unit, user: true))

        // Outside the user manager (runuser from root's service).
        let outside = try UserManager.asUser(run + [Harness.uniqueName("u")], viaManager: false)
        #expect(
            outside.status == 1
                && outside.stderr.contains("outside your user manager's /user.slice/user-\(UserManager.uid).slice/user@\(UserManager.uid).service"),
            "\(outside)")
        // As uid 0 of a user namespace (rootless podman runs its runtime so):
        // skiff authenticates to the user's bus as the user (the uid outside,
        // as runc), the user's manager makes the scope, the limit holds. The
        // config is as podman writes it there: no user namespace of its own.
        var n = try Skiff.rootless(["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max; id -u"])
        n.namespaces = n.namespaces.filter { ($0["type"] as? String) != "user" }
        n["linux", "uidMappings"] = nil
        n["linux", "gidMappings"] = nil
        n["linux", "resources"] = ["pids": ["limit": 35]]
        try n.writeConfig()
        let inUserNS = ["/usr/bin/unshare", "--map-root-user", Harness.binary, "--systemd-cgroup", "--root", n.root]
        let userns = try UserManager.asUser(inUserNS + ["--debug", "run", "--bundle", n.bundle, Harness.uniqueName("uns")], viaManager: true)
        #expect(userns.status == 0 && userns.stdout == "0::/\n35\n0\n", "\(userns)")
        #expect(userns.stderr.contains("at unix:path=/run/user/\(uid)/bus (a bus), its cgroup /user.slice/user-\(uid).slice/user@\(uid).service"), "\(userns)")
        // Where the user's manager cannot be reached: why, and the user's
        // runtime directory named by the uid outside.
        let unreachable = try UserManager.asUser(
            ["/usr/bin/env", "-u", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR=/nonexistent"] + inUserNS
                + ["run", "--bundle", n.bundle, Harness.uniqueName("uns")], viaManager: true)
        #expect(
            unreachable.status == 1 && unreachable.stderr.contains("cannot reach your user's systemd (systemd --user)")
                && unreachable.stderr.contains("XDG_RUNTIME_DIR must be set (/run/user/\(uid))"), "\(unreachable)")
        // Outside the user's manager (runuser from root's service): why not.
        let outsideNS = try UserManager.asUser(inUserNS + ["run", "--bundle", n.bundle, Harness.uniqueName("uns")], viaManager: false)
        #expect(
            outsideNS.status == 1 && outsideNS.stderr.contains("outside your user manager's /user.slice/user-\(uid).slice/user@\(uid).service"), "\(outsideNS)")
        // Detached: the scope as the user's manager sees it.
        n["process", "args"] = ["sleep", "60"]
        try n.writeConfig()
        let nid = Harness.uniqueName("uns")
        let nd = try UserManager.asUser(inUserNS + ["run", "-d", "--bundle", n.bundle, nid], viaManager: true)
        #expect(nd.status == 0, "\(nd)")
        let nunit = "skiff-\(nid).scope"
        #expect(Systemctl.show(nunit, "TasksMax", user: true) == "35", "the user's manager made the scope with the limit")
        #expect(Systemctl.show(nunit, "ControlGroup", user: true).hasPrefix("/user.slice/user-\(uid).slice/user@\(uid).service/user.slice/"))
        let ndel = try UserManager.asUser(inUserNS + ["delete", "--force", nid], viaManager: true)
        #expect(ndel.status == 0 && !Systemctl.loaded(nunit, user: true), "\(ndel)")
        // check, as the user: under the manager systemd is usable, outside it
        // the item says why not.
        let underManager = try UserManager.asUser([Harness.binary, "check"], viaManager: true)
        #expect(underManager.stdout.contains("ok    systemd: PID 1, systemd 252 (your user manager"), "\(underManager)")
        let outsideCheck = try UserManager.asUser([Harness.binary, "check"], viaManager: false)
        #expect(
            outsideCheck.stdout.contains("warn  systemd: PID 1, systemd 252") && outsideCheck.stdout.contains("but skiff runs outside it"), "\(outsideCheck)")
        // user@.service delegates pids, memory and cpu: not cpuset.
        var c = try Skiff.rootless(["true"])
        c["linux", "resources"] = ["cpu": ["cpus": "0"]]
        try c.writeConfig()
        let cs = try UserManager.asUser(
            [Harness.binary, "--systemd-cgroup", "--root", c.root, "run", "--bundle", c.bundle, Harness.uniqueName("u")], viaManager: true)
        #expect(cs.status == 1 && cs.stderr.contains("`cpuset`") && cs.stderr.contains("Delegate="), "\(cs)")
    }
}

@Suite(.inGuest(inSystemdGuest && !systemdUnified, "QemuGuestTests boots (systemd, hybrid)"), .serialized) struct SystemdHybridTests {
    @Test("v1 hierarchies this host lacks, with the cgroupfs driver: net_cls, net_prio and hugetlb files hold the values")
    func v1Controllers() throws {
        var s = try Skiff(["sleep", "60"])
        let id = Harness.uniqueName("v1c")
        s["linux", "cgroupsPath"] = "/skiff-v1c/\(id)"
        s["linux", "resources"] = [
            "network": ["classID": 0x100001, "priorities": [["name": "lo", "priority": 5]]],
            "hugepageLimits": [["pageSize": "2MB", "limit": 4 << 20]],
        ]
        defer {
            _ = try? s("delete", "--force", id)
            for h in [
                "net_cls,net_prio", "hugetlb", "cpu,cpuacct", "memory", "pids", "devices", "freezer", "blkio",
                "cpuset", "perf_event", "misc", "rdma", "systemd", "unified",
            ] {
                rmdir("/sys/fs/cgroup/\(h)/skiff-v1c")
            }
        }
        let r = try s("run", "--detach", "--bundle", s.bundle, id)
        #expect(r.status == 0, "\(r)")
        let dir = "/sys/fs/cgroup/%@/skiff-v1c/\(id)"
        #expect(fileText(String(format: dir, "net_cls") + "/net_cls.classid") == "\(0x100001)")
        #expect(fileText(String(format: dir, "net_prio") + "/net_prio.ifpriomap").contains("lo 5"))
        #expect(fileText(String(format: dir, "hugetlb") + "/hugetlb.2MB.limit_in_bytes") == "\(4 << 20)")
        #expect(try s("delete", "--force", id).status == 0)
        #expect(!FileManager.default.fileExists(atPath: String(format: dir, "net_cls")))
    }

    @Test("hybrid: the scope in systemd's hierarchies, skiff's directories in the others, v1 properties, pause, update, delete removes all")
    func hybrid() throws {
        var s = try Skiff(["sleep", "60"])
        s.namespaces = s.namespaces.filter { ($0["type"] as? String) != "cgroup" }
        s["linux", "resources"] = [
            "memory": ["limit": 64 << 20], "cpu": ["shares": 512], "pids": ["limit": 21],
            "network": ["classID": 7],
        ]
        let id = Harness.uniqueName("sdh")
        let unit = "skiff-\(id).scope"
        defer { _ = try? s.sd("delete", "--force", id) }
        let r = try s.sd("run", "--detach", "--bundle", s.bundle, id)
        #expect(r.status == 0, "\(r)")
        let pid = try s.pid(id)
        let lines = fileText("/proc/\(pid)/cgroup").split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasSuffix(":/system.slice/\(unit)") }, "every hierarchy: \(lines)")
        #expect(
            Systemctl.show(unit, "MemoryLimit") == "\(64 << 20)" && Systemctl.show(unit, "CPUShares") == "512"
                && Systemctl.show(unit, "TasksMax") == "21")
        let v1 = "/sys/fs/cgroup/%@/system.slice/\(unit)"
        #expect(fileText(String(format: v1, "memory") + "/memory.limit_in_bytes") == "\(64 << 20)")
        #expect(fileText(String(format: v1, "net_cls") + "/net_cls.classid") == "7", "a hierarchy systemd does not manage")
        #expect(try s.sd("pause", id).status == 0)
        #expect(fileText(String(format: v1, "freezer") + "/freezer.state") == "FROZEN")
        #expect(try s.sd("resume", id).status == 0)
        #expect(try s.sd("update", "--memory", "128m", id).status == 0)
        #expect(Systemctl.show(unit, "MemoryLimit") == "\(128 << 20)")
        try Systemctl.daemonReload()
        #expect(fileText(String(format: v1, "memory") + "/memory.limit_in_bytes") == "\(128 << 20)")
        #expect(try s.sd("delete", "--force", id).status == 0)
        #expect(!Systemctl.loaded(unit))
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).filter {
            FileManager.default.fileExists(atPath: String(format: v1, $0))
        }
        #expect(left.isEmpty, "left: \(left)")
        s.expectNothingLeft(id)
    }
}
