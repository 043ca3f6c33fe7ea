import CDBusIdentity
import Glibc
import LinuxSys
import Planning

/// systemd's service manager over D-Bus (org.freedesktop.systemd1): the
/// system's for root, the caller's user manager for anyone else. Only
/// `--systemd-cgroup` (and `check`) connect; nothing else pays for it.
struct SystemdManager {
    let bus: DBusConnection
    let user: Bool

    static let service = "org.freedesktop.systemd1"
    static let path = "/org/freedesktop/systemd1"
    static let manager = "org.freedesktop.systemd1.Manager"

    /// Where to find the manager, in order: the address the environment
    /// names (DBUS_SYSTEM_BUS_ADDRESS, DBUS_SESSION_BUS_ADDRESS), the
    /// manager's own socket (`private`, as systemctl uses it: no bus daemon
    /// in between), then the bus at its standard place.
    static func candidates(user: Bool) -> [(address: String, viaBus: Bool)] {
        var out: [(String, Bool)] = []
        if user {
            if let a = Sys.environment("DBUS_SESSION_BUS_ADDRESS"), !a.isEmpty { out.append((a, true)) }
            if let xdg = Sys.environment("XDG_RUNTIME_DIR"), !xdg.isEmpty {
                out.append(("unix:path=\(xdg)/systemd/private", false))
                out.append(("unix:path=\(xdg)/bus", true))
            }
        } else {
            if let a = Sys.environment("DBUS_SYSTEM_BUS_ADDRESS"), !a.isEmpty { out.append((a, true)) }
            out.append(("unix:path=/run/systemd/private", false))
            out.append(("unix:path=/run/dbus/system_bus_socket", true))
        }
        return out
    }

    static func connect(user: Bool) throws(RuntimeError) -> SystemdManager {
        // libdbus authenticates (EXTERNAL) with the uid it has here; in a
        // user namespace that maps it to another uid (rootless podman runs
        // its runtime as uid 0 inside one) the user's bus knows it by the
        // uid outside, as the kernel reports it: that is the one sent, as
        // runc sends the bus owner's (CDBusIdentity).
        let euid = UInt32(Sys.euid)
        var identity: UInt32? = nil
        if user, Proc.inUserNamespace(), let outside = Proc.parentUID(of: euid), outside != euid { identity = outside }
        var tried: [String] = []
        for (address, viaBus) in candidates(user: user) {
            // A socket path that is not there is no manager: say so without
            // asking libdbus to connect to it.
            if address.hasPrefix("unix:path="), access(String(address.dropFirst(10)), F_OK) != 0 {
                tried.append("\(address.dropFirst(10)): \(Errno.current)")
                continue
            }
            do throws(DBusFailure) {
                // Only while connecting: everything else sees the real euid.
                if let identity { skiff_dbus_identity(Int(identity)) }
                defer { skiff_dbus_identity(-1) }
                let m = SystemdManager(bus: try DBusConnection.open(address, viaBus: viaBus), user: user)
                // The first call also completes the authentication: a
                // manager that refuses us fails here, not half-way through.
                _ = try m.property("Version")
                return m
            } catch {
                tried.append("\(address): \(error)" + (identity.map { " (as uid \($0), this user namespace's uid 0 outside it)" } ?? ""))
            }
        }
        let who = user ? "your user's systemd (systemd --user)" : "systemd (the system manager)"
        let pid1 = ((try? Sys.readFile("/proc/1/comm")).map { String(decoding: $0, as: UTF8.self) } ?? "").trimmingWhitespace()
        let hint =
            user
            ? "a user manager runs while you are logged in, or always with `loginctl enable-linger`; XDG_RUNTIME_DIR must be set (/run/user/\(identity ?? euid))"
            : pid1 == "systemd"
                ? "systemd is PID 1: is it still starting, or shutting down?"
                : "PID 1 is `\(pid1)`, not systemd: without systemd use the cgroupfs driver (drop --systemd-cgroup)"
        throw .message("--systemd-cgroup: cannot reach \(who) over D-Bus (\(tried.joined(separator: "; "))): \(hint); `skiff check` shows what this host has")
    }

    // MARK: calls

    func managerCall(_ method: String, _ args: [DBusValue]) throws(DBusFailure) -> [DBusValue] {
        try bus.call(SystemdManager.service, SystemdManager.path, SystemdManager.manager, method, args)
    }

    /// A property of the manager (org.freedesktop.DBus.Properties.Get).
    func property(_ name: String) throws(DBusFailure) -> DBusValue {
        let reply = try bus.call(
            SystemdManager.service, SystemdManager.path, "org.freedesktop.DBus.Properties", "Get",
            [.string(SystemdManager.manager), .string(name)])
        guard case let .variant(v)? = reply.first else {
            throw DBusFailure(name: "org.freedesktop.DBus.Error.InvalidSignature", "Get \(name): the reply holds no variant")
        }
        return v
    }

    /// What planning needs: the manager's cgroup (the user manager's is
    /// its user@UID.service; the host's system manager's is the root) and
    /// its version.
    func facts() throws(RuntimeError) -> SystemdFacts {
        do throws(DBusFailure) {
            guard case let .string(cg) = try property("ControlGroup"), case let .string(version) = try property("Version") else {
                throw DBusFailure(name: "org.freedesktop.DBus.Error.InvalidSignature", "ControlGroup and Version are not strings")
            }
            return SystemdFacts(user: user, managerCgroup: cg.isEmpty ? "/" : cg, version: SystemdManager.versionNumber(version))
        } catch {
            throw .message("--systemd-cgroup: ask systemd for its cgroup and version: \(error)")
        }
    }

    /// A user manager can move into its scopes only processes it already
    /// manages (moving a process needs write access to the common
    /// ancestor's cgroup.procs, and user-UID.slice is root's): skiff must
    /// run below the manager's cgroup, as podman runs itself in a scope.
    func checkCanAdopt(from own: String?, _ facts: SystemdFacts) throws(RuntimeError) {
        guard facts.user, let own, facts.managerCgroup != "/" else { return }
        if own == facts.managerCgroup || own.hasPrefix(facts.managerCgroup + "/") { return }
        throw .message(
            "--systemd-cgroup: skiff runs in the cgroup \(own), outside your user manager's \(facts.managerCgroup), and systemd can only take in processes that run under it: start skiff under the user manager (e.g. `systemd-run --user --scope skiff ...`, as podman moves itself into a scope)"
        )
    }

    /// "252.38-1~deb12u1", "v245.4-1.fc32", "245" -> the leading number.
    static func versionNumber(_ text: String) -> Int {
        var n = 0
        for c in text.utf8.drop(while: { $0 == UInt8(ascii: "v") || $0 == UInt8(ascii: "\"") }) {
            guard c >= 48 && c <= 57, n < 100_000 else { break }
            n = n * 10 + Int(c - 48)
        }
        return n
    }

    // MARK: units

    /// Makes the transient scope with `pid` in it and returns once systemd
    /// has (JobRemoved with result `done`). A unit of that name left over
    /// (failed) is reset and the start tried once more, as runc does.
    func startScope(_ scope: SystemdScope, pid: Int32) throws(RuntimeError) {
        let properties = scope.properties + [SystemdProperty("PIDs", .array(element: "u", [.uint32(UInt32(pid))]), origin: "")]
        let args: [DBusValue] = [
            .string(scope.unit), .string("replace"),
            .array(element: "(sv)", properties.map { .structure([.string($0.name), .variant($0.value)]) }),
            .array(element: "(sa(sv))", []),
        ]
        do throws(DBusFailure) {
            try subscribe()
            var reply: [DBusValue]
            do throws(DBusFailure) {
                reply = try managerCall("StartTransientUnit", args)
            } catch  where error.name == "org.freedesktop.systemd1.UnitExists" {
                _ = try? managerCall("ResetFailedUnit", [.string(scope.unit)])
                reply = try managerCall("StartTransientUnit", args)
            }
            let result = try waitForJob(reply, unit: scope.unit)
            guard result == "done" else {
                _ = try? managerCall("ResetFailedUnit", [.string(scope.unit)])
                var why = ""
                if user {
                    why =
                        " (a user manager can only take in processes that already run under it: run skiff under user@\(Sys.euid).service, e.g. with `systemd-run --user --scope skiff ...`)"
                }
                throw DBusFailure(
                    name: "org.freedesktop.systemd1.JobFailed",
                    "the job ended `\(result)`\(why); see `systemctl\(user ? " --user" : "") status \(scope.unit)` and the journal")
            }
        } catch {
            // A property systemd refuses names the field it came from.
            let (origin, why) = DBusFailure.describe(error, properties)
            throw .context(origin ?? "linux.cgroupsPath", .message("--systemd-cgroup: start the scope \(scope.unit) in \(scope.slice): \(why)"))
        }
    }

    /// Stops the unit (what still runs in it gets systemd's stop: SIGTERM,
    /// then SIGKILL) and waits for that; a unit already gone is fine.
    func stopUnit(_ unit: String) throws(RuntimeError) {
        do throws(DBusFailure) {
            try subscribe()
            let reply: [DBusValue]
            do throws(DBusFailure) {
                reply = try managerCall("StopUnit", [.string(unit), .string("replace")])
            } catch  where error.name == "org.freedesktop.systemd1.NoSuchUnit" {
                return
            }
            _ = try waitForJob(reply, unit: unit)
            _ = try? managerCall("ResetFailedUnit", [.string(unit)])
        } catch {
            throw .message("--systemd-cgroup: stop \(unit): \(error)")
        }
    }

    /// New limits of a running scope, kept by systemd (runtime only).
    func setProperties(_ unit: String, _ properties: [SystemdProperty]) throws(RuntimeError) {
        guard !properties.isEmpty else { return }
        let args: [DBusValue] = [
            .string(unit), .bool(true),
            .array(element: "(sv)", properties.map { .structure([.string($0.name), .variant($0.value)]) }),
        ]
        do throws(DBusFailure) {
            _ = try managerCall("SetUnitProperties", args)
        } catch {
            let (origin, why) = DBusFailure.describe(error, properties)
            throw .message((origin.map { $0 + ": " } ?? "") + "update: set the properties of \(unit): \(why)")
        }
    }

    /// Job signals: on a bus, ask for them (Subscribe, and a match rule);
    /// the manager's own socket sends them to every connection.
    func subscribe() throws(DBusFailure) {
        guard bus.viaBus else { return }
        try bus.addMatch("type='signal',sender='\(SystemdManager.service)',interface='\(SystemdManager.manager)',member='JobRemoved'")
        _ = try managerCall("Subscribe", [])
    }

    /// The result of the job a call returned: JobRemoved(id, job, unit, result).
    func waitForJob(_ reply: [DBusValue], unit: String) throws(DBusFailure) -> String {
        guard case let .objectPath(job)? = reply.first else {
            throw DBusFailure(name: "org.freedesktop.DBus.Error.InvalidSignature", "the reply holds no job")
        }
        let args = try bus.waitForSignal(SystemdManager.manager, "JobRemoved", timeoutMillis: 30_000) { args in
            if args.count == 4, case let .objectPath(p) = args[1] { return p == job }
            return false
        }
        guard case let .string(result) = args[3] else { return "" }
        return result
    }
}

extension DBusFailure {
    /// The field a property systemd names in its error came from (systemd
    /// says "Cannot set property NAME, or unknown property."), and the text.
    static func describe(_ error: DBusFailure, _ properties: [SystemdProperty]) -> (origin: String?, text: String) {
        for p in properties.reversed() where !p.origin.isEmpty {
            let m = error.message
            if m.includes(" \(p.name),") || m.includes(" \(p.name) ") || m.hasSuffix(" \(p.name)") || m.includes("\(p.name)=") {
                return (p.origin, "property \(p.name): \(error)")
            }
        }
        return (nil, error.description)
    }
}
