import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// `skiff check`: can this host run containers with skiff, for this caller
/// (root, or an unprivileged user), and what to change when it cannot.
/// Everything is probed, not guessed from versions.
public enum HostCheck {
    public enum Status: String { case ok, warn, fail }

    public struct Item {
        public var name: String
        public var status: Status
        public var found: String
        public var fix: String?
    }

    public static func run() -> [Item] {
        var items: [Item] = []
        let euid = Sys.euid
        let inUserNS = euid == 0 && Proc.inUserNamespace()
        let rootless = euid != 0 || inUserNS
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        items.append(Item(name: "kernel", status: .ok, found: "Linux \(release)", fix: nil))
        items.append(
            Item(
                name: "caller", status: .ok,
                found: euid != 0 ? "uid \(euid) (rootless)" : inUserNS ? "root of a user namespace (rootless)" : "root",
                fix: nil))

        // The syscalls skiff cannot do without.
        let needed: [(String, String)] = [
            ("clone3", "5.3"), ("openat2", "5.6"), ("pidfd_open", "5.3"), ("pidfd_send_signal", "5.1"),
            ("close_range", "5.9"), ("open_tree", "5.2"), ("move_mount", "5.2"), ("fsopen", "5.2"),
            ("mount_setattr", "5.12"),
        ]
        let missing = needed.filter { skiff_probe_syscall($0.0) != 1 }
        items.append(
            Item(
                name: "syscalls", status: missing.isEmpty ? .ok : .fail,
                found: missing.isEmpty
                    ? needed.map(\.0).joined(separator: ", ") + ": present"
                    : "missing: " + missing.map(\.0).joined(separator: ", "),
                fix: missing.isEmpty ? nil : "a kernel of at least \(missing.map(\.1).max() ?? "5.12") (skiff needs Linux 5.12 or later)"))
        let timens = (try? Sys.stat("/proc/self/ns/time")) != nil
        items.append(
            Item(
                name: "time namespace", status: timens ? .ok : .warn,
                found: timens ? "available" : "not in this kernel",
                fix: timens ? nil : "only configs with a `time` namespace need it: Linux 5.6 with CONFIG_TIME_NS"))

        items.append(idmappedMounts(rootless: rootless))
        items.append(userNamespaces(rootless: rootless))
        if euid != 0 {
            items += idMapping(euid: UInt32(euid))
            let xdg = Sys.environment("XDG_RUNTIME_DIR") ?? ""
            let writable = !xdg.isEmpty && access(xdg, W_OK | X_OK) == 0
            items.append(
                Item(
                    name: "state directory", status: writable ? .ok : .fail,
                    found: xdg.isEmpty ? "XDG_RUNTIME_DIR is not set" : writable ? "\(xdg)/skiff" : "\(xdg) is not writable",
                    fix: writable ? nil : "export XDG_RUNTIME_DIR=/run/user/\(euid) (a directory you own), or pass --root DIR"))
        }
        items.append(cgroups(rootless: rootless, euid: UInt32(euid)))
        items.append(systemd(rootless: rootless))
        if rootless, let item = rootlessEngines(euid: UInt32(euid)) { items.append(item) }
        items.append(seccomp())
        items.append(lsm())
        items.append(checkpoint(rootless: rootless))
        return items
    }

    /// checkpoint and restore: CRIU present, new enough, and `criu check`
    /// passing on this kernel (optional: a warning at most).
    static func checkpoint(rootless: Bool) -> Item {
        let name = "checkpoint/restore"
        if rootless {
            return Item(name: name, status: .warn, found: "not for an unprivileged caller", fix: "CRIU needs root of the host (runc and crun alike)")
        }
        guard let criu = try? Criu() else {
            return Item(name: name, status: .warn, found: "criu not found", fix: "apt install criu (3.14 or later)")
        }
        let version = (try? criu.version()) ?? 0
        if version < Criu.minimumVersion {
            return Item(
                name: name, status: .warn, found: "\(criu.binary) version \(version / 10000).\(version / 100 % 100)",
                fix: "CRIU 3.14 or later")
        }
        if let why = criu.check() {
            return Item(
                name: name, status: .warn, found: "`criu check` fails: \(why)",
                fix:
                    "a kernel CRIU supports, with its modules loaded (inet_diag, unix_diag, netlink_diag, tcp_diag, udp_diag, raw_diag, af_packet_diag, nf_conntrack_netlink)"
            )
        }
        return Item(name: name, status: .ok, found: "\(criu.binary) \(version / 10000).\(version / 100 % 100).\(version % 100): `criu check` passes", fix: nil)
    }

    /// Whether the caller's mode has what it needs (no `fail`).
    public static func passes(_ items: [Item]) -> Bool { !items.contains { $0.status == .fail } }

    static func userNamespaces(rootless: Bool) -> Item {
        func number(_ path: String) -> Int? {
            (try? Sys.readFile(path)).flatMap { Int(String(decoding: $0.prefix { $0 != 0x0a }, as: UTF8.self)) }
        }
        var pidfd: Int32 = -1
        let pid = skiff_spawn_userns_holder(&pidfd)
        let works = pid > 0
        if works {
            _ = skiff_pidfd_send_signal(pidfd, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            close(pidfd)
        }
        var why: [String] = []
        if let max = number("/proc/sys/user/max_user_namespaces"), max == 0 { why.append("user.max_user_namespaces is 0") }
        if let clone = number("/proc/sys/kernel/unprivileged_userns_clone"), clone == 0 { why.append("kernel.unprivileged_userns_clone is 0") }
        if let aa = number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"), aa == 1 {
            why.append("kernel.apparmor_restrict_unprivileged_userns is 1")
        }
        let found =
            works ? "a user namespace can be made" : "making a user namespace failed: \(Errno(-pid))" + (why.isEmpty ? "" : " (\(why.joined(separator: ", ")))")
        return Item(
            name: "user namespaces", status: works ? .ok : (rootless ? .fail : .warn), found: found,
            fix: works
                ? nil
                : "sysctl -w user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1 (and, on Ubuntu, kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for skiff)"
        )
    }

    /// newuidmap/newgidmap and the caller's ranges: needed for configs that
    /// map more than the caller's own ids (`skiff spec --rootless` does not).
    static func idMapping(euid: UInt32) -> [Item] {
        var items: [Item] = []
        var helpers: [String] = []
        for p in ["/usr/bin/newuidmap", "/usr/bin/newgidmap"] {
            guard let st = try? Sys.stat(p) else { helpers.append("\(p) is missing"); continue }
            let setuid = st.st_mode & S_ISUID != 0 && st.st_uid == 0
            let caps = skiff_has_xattr(p, "security.capability") != 0
            if !setuid && !caps { helpers.append("\(p) is neither setuid root nor has file capabilities") }
        }
        items.append(
            Item(
                name: "newuidmap, newgidmap", status: helpers.isEmpty ? .ok : .warn,
                found: helpers.isEmpty ? "present, privileged" : helpers.joined(separator: "; "),
                fix: helpers.isEmpty ? nil : "apt-get install uidmap (needed only to map more than your own ids)"))
        let name = HostProbe.userName(euid)
        for (file, ranges) in [
            ("/etc/subuid", HostProbe.subordinate("/etc/subuid", user: name, id: euid)),
            ("/etc/subgid", HostProbe.subordinate("/etc/subgid", user: name, id: euid)),
        ] {
            let total = ranges.reduce(UInt64(0)) { $0 + UInt64($1.count) }
            items.append(
                Item(
                    name: file, status: ranges.isEmpty ? .warn : .ok,
                    found: ranges.isEmpty ? "no range for \(name)" : "\(ranges.count) range(s), \(total) ids, from \(ranges[0].start)",
                    fix: ranges.isEmpty ? "add a line `\(name):100000:65536` to \(file) as root (needed only to map more than your own ids)" : nil))
        }
        return items
    }

    static func cgroups(rootless: Bool, euid: UInt32) -> Item {
        let layout = HostProbe.cgroupLayout()
        switch layout {
        case .none:
            return Item(
                name: "cgroups", status: rootless ? .warn : .fail, found: "no cgroup filesystem is mounted",
                fix: "mount cgroup2 at /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)")
        case let .hybrid(v1, unified):
            let mode = v1.isEmpty ? "v2 at /sys/fs/cgroup/unified" : unified ? "hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified)" : "v1"
            if rootless {
                return Item(
                    name: "cgroups", status: .warn, found: "\(mode): nothing can be delegated to an unprivileged user",
                    fix: "containers run without limits of their own; for limits boot with systemd.unified_cgroup_hierarchy=1 and delegate a cgroup v2 subtree")
            }
            return Item(name: "cgroups", status: .ok, found: "\(mode); controllers: \(v1.map(\.name).joined(separator: " "))", fix: nil)
        case .unified:
            let controllers =
                (try? Sys.readFile("/sys/fs/cgroup/cgroup.controllers")).map { String(decoding: $0, as: UTF8.self) }?
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ") ?? ""
            guard rootless else { return Item(name: "cgroups", status: .ok, found: "v2; controllers: \(controllers)", fix: nil) }
            let own = HostProbe.ownCgroups().first { $0.controllers.isEmpty }?.path ?? "/"
            let parent = CgroupLowering.parent(own)
            let delegated = HostProbe.delegated(parent, euid)
            let there =
                (try? Sys.readFile("/sys/fs/cgroup" + (parent == "/" ? "" : parent) + "/cgroup.controllers"))
                .map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewline() } ?? ""
            return Item(
                name: "cgroups", status: delegated ? .ok : .warn,
                found: delegated ? "v2, delegated: \(parent) (controllers: \(there))" : "v2, no cgroup delegated to uid \(euid) (own: \(own))",
                fix: delegated
                    ? nil
                    : "containers run without limits of their own; for limits start skiff in a delegated cgroup (systemd-run --user --scope -p Delegate=yes ...)"
            )
        }
    }

    /// Idmapped mounts (mounts with uidMappings): probed on a detached tmpfs
    /// with a user namespace made for it. Only root can idmap the host's
    /// filesystems (privilege over the filesystem), so for anyone else it
    /// is said, not probed.
    static func idmappedMounts(rootless: Bool) -> Item {
        let name = "idmapped mounts"
        if rootless {
            return Item(
                name: name, status: .ok,
                found: "for root only: the kernel idmaps a filesystem for who is privileged over it (mounts with uidMappings need root)", fix: nil)
        }
        var pidfdRaw: Int32 = -1
        let pid = skiff_spawn_userns_holder(&pidfdRaw)
        guard pid > 0 else {
            return Item(
                name: name, status: .warn, found: "cannot make a user namespace to probe with: \(Errno(-pid))",
                fix: "idmapped mounts need user namespaces (see the user namespaces item)")
        }
        let pidfd = FileDescriptor(adopting: pidfdRaw)
        defer {
            _ = try? Sys.pidfdSendSignal(pidfd.raw, SIGKILL, "idmap probe")
            _ = try? Sys.waitExit(pidfd: pidfd.raw, "idmap probe")
        }
        let r: Int32
        do {
            let one = [IDMapping(containerID: 0, hostID: 65534, size: 1)]
            try IDMaps.write(
                UserNamespacePlan(
                    uidMappings: one, gidMappings: one, writer: .direct, denySetgroups: false,
                    rootMapped: false), pid: pid, log: Log())
            let ns = try Sys.open("/proc/\(pid)/ns/user", O_RDONLY)
            r = skiff_probe_idmap(ns.raw)
        } catch {
            return Item(
                name: name, status: .warn, found: "cannot probe: \(error)",
                fix: "only configs with uidMappings on mounts need them; see the error above")
        }
        if r == 0 { return Item(name: name, status: .ok, found: "supported (probed on a detached tmpfs)", fix: nil) }
        return Item(
            name: name, status: .warn, found: "not supported here: mount_setattr(MOUNT_ATTR_IDMAP): \(Errno(-r))",
            fix: "only configs with uidMappings on mounts need them: Linux 5.12 or later (tmpfs from 6.3)")
    }

    /// Whether --systemd-cgroup can work for this caller: systemd is PID 1,
    /// its manager (the user's for a rootless caller) answers over D-Bus,
    /// and (rootless) skiff runs where that manager can take processes in.
    static func systemd(rootless: Bool) -> Item {
        let comm = (try? Sys.readFile("/proc/1/comm")).map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewline() } ?? "?"
        guard comm == "systemd" else {
            return Item(
                name: "systemd", status: .ok,
                found: "not PID 1 (PID 1 is \(comm)): skiff makes cgroups itself (cgroupfs); --systemd-cgroup needs systemd", fix: nil)
        }
        let manager: SystemdManager
        let facts: SystemdFacts
        do {
            manager = try SystemdManager.connect(user: rootless)
            facts = try manager.facts()
        } catch {
            return Item(
                name: "systemd", status: .warn, found: "PID 1, but --systemd-cgroup cannot use it: \(error)",
                fix: rootless
                    ? "start your user manager (log in, or `loginctl enable-linger`) and set XDG_RUNTIME_DIR, or use the cgroupfs driver"
                    : "use the cgroupfs driver (no --systemd-cgroup)")
        }
        let found =
            "PID 1, systemd \(facts.version)\(rootless ? " (your user manager, cgroup \(facts.managerCgroup))" : ""), reachable at \(manager.bus.address.replacingPrefix("unix:path=", with: ""))"
        if rootless {
            do {
                try manager.checkCanAdopt(from: HostProbe.ownCgroups().first { $0.controllers.isEmpty }?.path, facts)
            } catch {
                return Item(
                    name: "systemd", status: .warn, found: found + ", but skiff runs outside it",
                    fix: "run skiff under the user manager for --systemd-cgroup (systemd-run --user --scope skiff ...)")
            }
        }
        return Item(
            name: "systemd", status: .ok,
            found: found
                + ": --systemd-cgroup works (engines' systemd cgroup driver: containerd SystemdCgroup = true, podman/CRI-O cgroup_manager = \"systemd\")",
            fix: nil)
    }

    /// What rootless podman (and rootless Docker or containerd) need on a
    /// systemd host for limits: the user's manager running when no session
    /// is (linger), and the controllers systemd delegates to it (Debian's
    /// user@.service: pids memory cpu; cpuset and io only where added).
    /// nil where systemd is not PID 1 on cgroup v2.
    static func rootlessEngines(euid: UInt32) -> Item? {
        let pid1 = (try? Sys.readFile("/proc/1/comm")).map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewline() }
        guard pid1 == "systemd", case .unified = HostProbe.cgroupLayout() else { return nil }
        // Root of a user namespace (podman's) is the user it maps to outside.
        let uid = euid == 0 ? Proc.parentUID(of: 0) ?? euid : euid
        let name = HostProbe.userName(uid)
        let manager = "/user.slice/user-\(uid).slice/user@\(uid).service"
        let delegated = (try? Sys.readFile("/sys/fs/cgroup" + manager + "/cgroup.controllers"))
            .map { String(decoding: $0, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) }
        let lingers = (try? Sys.stat("/var/lib/systemd/linger/" + name)) != nil
        var found: [String] = []
        var fixes: [String] = []
        if let delegated {
            found.append("user@\(uid).service has \(delegated.isEmpty ? "no controllers" : delegated.joined(separator: " "))")
            let missing = ["memory", "pids", "cpu", "io", "cpuset"].filter { !delegated.contains($0) }
            if !missing.isEmpty {
                found.append("not delegated: \(missing.joined(separator: " ")) (those limits fail)")
                fixes.append(
                    "a drop-in /etc/systemd/system/user@.service.d/delegate.conf with `[Service]` `Delegate=cpu cpuset io memory pids`, then `systemctl daemon-reload` and log in again"
                )
            }
        } else {
            found.append("user@\(uid).service (your user manager) is not running")
            fixes.append("log in, or `loginctl enable-linger \(name)`, so that systemd runs your user manager")
        }
        found.append(lingers ? "lingering: your manager runs from boot" : "not lingering: your containers stop when your last session ends")
        if !lingers { fixes.append("`loginctl enable-linger \(name)` to keep containers running without a session") }
        return Item(
            name: "rootless engines", status: delegated?.contains("memory") == true && delegated?.contains("pids") == true ? .ok : .warn,
            found: found.joined(separator: "; "), fix: fixes.isEmpty ? nil : fixes.joined(separator: "; "))
    }

    static func seccomp() -> Item {
        let avail = (try? Sys.readFile("/proc/sys/kernel/seccomp/actions_avail")).map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewline() }
        guard let avail else {
            return Item(
                name: "seccomp", status: .fail, found: "no seccomp filter support in this kernel",
                fix: "a kernel with CONFIG_SECCOMP_FILTER (engines always pass a profile)")
        }
        let wanted = ["kill_process", "kill_thread", "trap", "errno", "user_notif", "trace", "log", "allow"]
        let have = avail.split(separator: " ").map(String.init)
        let lacking = wanted.filter { !have.contains($0) }
        return Item(
            name: "seccomp", status: lacking.isEmpty ? .ok : .warn, found: "actions: \(avail)",
            fix: lacking.isEmpty ? nil : "profiles using \(lacking.joined(separator: ", ")) cannot be loaded on this kernel")
    }

    static func lsm() -> Item {
        let list = (try? Sys.readFile("/sys/kernel/security/lsm")).map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewline() }
        return Item(name: "LSMs", status: .ok, found: list.map { "enabled: \($0)" } ?? "none reported (securityfs not mounted)", fix: nil)
    }

    public static func text(_ items: [Item]) -> String {
        var out = ""
        for i in items {
            out += "\(i.status == .ok ? "ok  " : i.status == .warn ? "warn" : "FAIL")  \(i.name): \(i.found)\n"
            if let fix = i.fix { out += "      fix: \(fix)\n" }
        }
        out += passes(items) ? "skiff can run containers here for this caller.\n" : "skiff cannot run containers here for this caller: see FAIL above.\n"
        return out
    }

    public static func json(_ items: [Item]) -> String {
        JSONValue.array(
            items.map { i in
                var m: [(String, JSONValue)] = [("item", .string(i.name)), ("status", .string(i.status.rawValue)), ("found", .string(i.found))]
                if let fix = i.fix { m.append(("fix", .string(fix))) }
                return .object(m)
            }
        ).serialized(pretty: true)
    }
}

extension String {
    func trimmingTrailingNewline() -> String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with other: String) -> String {
        hasPrefix(prefix) ? other + dropFirst(prefix.count) : self
    }
}
