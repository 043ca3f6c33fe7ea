import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// Turns the child's failure record (step, errno, index) into a message with
/// the plan's context: `mounts[0]: mount `proc` on `/proc`: operation not permitted`.
struct FailureRenderer {
    let plan: LaunchPlan
    /// Namespaces joined by the child, in the order of the C plan's joins.
    let joined: [NamespacePlan]
    /// The v1 `tasks` files the child writes itself into, in the C plan's order.
    var cgroupTasks: [String] = []

    func render(_ m: skiff_msg, detail: String = "") -> RuntimeError {
        let e = Errno(m.error)
        let i = Int(m.index)
        let step = skiff_step(rawValue: m.step)
        func at<T>(_ a: [T]) -> T? { a.indices.contains(i) ? a[i] : nil }
        func mount(_ what: (MountPlan) -> String) -> String {
            guard let mp = at(plan.mounts) else { return "mount \(i): \(e)" }
            return "\(mp.origin): \(what(mp)): \(e)"
        }
        let message: String
        switch step {
        case SKIFF_STEP_PROTOCOL:
            if i < 0 {
                message = "sync with the container process: \(e)"
            } else {
                let want = String(cString: skiff_sync_name(UInt32(i >> 16)))
                let got = String(cString: skiff_sync_name(UInt32(i & 0xffff)))
                message = "sync with the container process: expected \(want), got \(got)"
            }
        case SKIFF_STEP_FDS:
            message = i < 0 ? "mark inherited fds close-on-exec: \(e)" : "--preserve-fds: fd \(i): \(e)"
        case SKIFF_STEP_USERNS_ROOT:
            message = "become root in the new user namespace: \(e)"
        case SKIFF_STEP_SETNS:
            if let ns = at(joined) {
                message = "\(ns.origin).path: join \(ns.type.rawValue) namespace `\(ns.path ?? "")`: \(e)"
            } else {
                message = "setns: \(e)"
            }
        case SKIFF_STEP_DUMPABLE:
            message = "make the container process non-dumpable: \(e)"
        case SKIFF_STEP_TIMENS:
            message = "linux.namespaces: create time namespace: \(e)"
        case SKIFF_STEP_TIMENS_ENTER:
            message = "linux.namespaces: enter time namespace: \(e)"
        case SKIFF_STEP_KEYRING:
            message =
                "make the container's session keyring: \(e)"
                + (e == Errno(EDQUOT) ? " (the user has reached kernel.keys.maxkeys; raise it, or pass --no-new-keyring)" : "")
        case SKIFF_STEP_CGROUP_JOIN:
            message = "linux.cgroupsPath: move the container process into its cgroup (\(at(cgroupTasks) ?? "tasks \(i)")): \(e)"
        case SKIFF_STEP_CGROUPNS:
            message = "linux.namespaces: create cgroup namespace: \(e)"
        case SKIFF_STEP_ROOT_PROPAGATION:
            message = "make `/` a \(plan.rootPropagation & UInt(MS_PRIVATE) != 0 ? "private" : "slave") mount: \(e)"
        case SKIFF_STEP_ROOTFS_BIND:
            message = "root.path: bind `\(plan.rootfs)` onto itself: \(e)"
        case SKIFF_STEP_ROOTFS_OPEN:
            message = "root.path: open `\(plan.rootfs)`: \(e)"
        case SKIFF_STEP_MOUNT_TARGET where e == Errno(ELOOP) && at(plan.mounts)?.noSymlinks == true:
            let mp = at(plan.mounts)
            message =
                "\(mp?.origin ?? "mounts"): `\(mp?.destination ?? "")` goes through a symlink in the rootfs: /proc, /sys and /dev are only mounted on, and below, real directories"
        case SKIFF_STEP_MOUNT_TARGET:
            message = mount { "create mount point `\($0.destination)` in the rootfs" }
        case SKIFF_STEP_MOUNT_IN_PROC:
            let mp = at(plan.mounts)
            message =
                "\(mp?.origin ?? "mounts").destination: `\(mp?.destination ?? "")` resolves into /proc in the rootfs (through a symlink): only procfs is mounted on /proc, and inside it only binds over \(Planner.procBindAllowlist.joined(by: ", "))"
        case SKIFF_STEP_PROCFS:
            message = "linux.sysctl: mount a procfs to write sysctls through: \(e)"

        case SKIFF_STEP_MOUNT_SOURCE:
            message = mount { "open bind source `\($0.source)`" }
        case SKIFF_STEP_MOUNT:
            message = mount { "mount `\($0.source)` on `\($0.destination)`" }
        case SKIFF_STEP_MOUNT_IDMAP:
            message =
                mount { "idmap `\($0.destination)`" }
                + (e == .EPERM
                    ? " (only a user privileged over a filesystem may idmap its mounts; an unprivileged user cannot idmap the host's filesystems)" : "")
        case SKIFF_STEP_MOUNT_ATTR:
            message = mount { "set mount attributes of `\($0.destination)`" }
        case SKIFF_STEP_MOUNT_COPYUP:
            message = mount { "tmpcopyup: copy what `\($0.destination)` held into the new tmpfs" }
        case SKIFF_STEP_MOUNT_PROPAGATION:
            message = mount { "set propagation of `\($0.destination)`" }
        case _
        where (step == SKIFF_STEP_DEVICE_DIR || step == SKIFF_STEP_DEVICE || step == SKIFF_STEP_SYMLINK)
            && e == Errno(ELOOP):
            let what: String
            switch step {
            case SKIFF_STEP_DEVICE_DIR: what = "create directory `/\(at(plan.directories) ?? "?")`"
            case SKIFF_STEP_DEVICE: what = "\(at(plan.devices)?.origin ?? "device"): create device `/\(at(plan.devices)?.path ?? "?")`"
            default: what = "create symlink `/\(at(plan.symlinks)?.path ?? "?")`"
            }
            message = "\(what): a symlink on the way in the rootfs: devices, their directories and links are only made below real directories"
        case SKIFF_STEP_DEVICE_DIR:
            message = "create directory `/\(at(plan.directories) ?? "?")`: \(e)"
        case SKIFF_STEP_DEVICE:
            if let d = at(plan.devices) {
                let why = e == .EEXIST ? "a different file exists there" : "\(e)"
                message = "\(d.origin): create device `/\(d.path)`: \(why)"
            } else {
                message = "create device: \(e)"
            }
        case SKIFF_STEP_SYMLINK:
            message = "create symlink `/\(at(plan.symlinks)?.path ?? "?")`: \(e)"
        case SKIFF_STEP_PIVOT_ROOT:
            message = "pivot_root into `\(plan.rootfs)`: \(e)"
        case SKIFF_STEP_ROOTFS_PROPAGATION:
            message = "linux.rootfsPropagation: \(e)"
        case SKIFF_STEP_SYSCTL:
            if let s = at(plan.sysctls) {
                message = "\(JSONPath.member("linux.sysctl", s.key)): write `\(s.path)`: \(e)"
            } else {
                message = "sysctl: \(e)"
            }
        case SKIFF_STEP_SYSCTL where e == Errno(EMEDIUMTYPE):
            message = "\(JSONPath.member("linux.sysctl", at(plan.sysctls)?.key ?? "")): `\(at(plan.sysctls)?.path ?? "")` is not a procfs file"
        case _
        where (step == SKIFF_STEP_MASK || step == SKIFF_STEP_READONLY_PATH) && e == Errno(EMEDIUMTYPE)
            && kernelTreePath(step, i):
            let (list, paths) = step == SKIFF_STEP_MASK ? ("maskedPaths", plan.maskedPaths) : ("readonlyPaths", plan.readonlyPaths)
            let path = at(paths) ?? "?"
            message =
                "linux.\(list)[\(i)]: `\(path)`: \(path.hasPrefix("/proc/") ? "/proc is not procfs" : "/sys is not sysfs") in the container: refusing to cover a look-alike tree"
        case SKIFF_STEP_MASK:
            let why = e == Errno(ENODEV) ? "/dev/null in the container is not the null device (1:3)" : "\(e)"
            message = "linux.maskedPaths[\(i)]: mask `\(at(plan.maskedPaths) ?? "?")`: \(why)"
        case SKIFF_STEP_READONLY_PATH:
            message = "linux.readonlyPaths[\(i)]: make `\(at(plan.readonlyPaths) ?? "?")` read-only: \(e)"
        case SKIFF_STEP_ROOTFS_READONLY:
            message = "root.readonly: make `/` read-only: \(e)"
        case SKIFF_STEP_HOSTNAME:
            message = "hostname: sethostname `\(plan.hostname ?? "")`: \(e)"
        case SKIFF_STEP_DOMAINNAME:
            message = "domainname: setdomainname `\(plan.domainname ?? "")`: \(e)"
        case SKIFF_STEP_LOOPBACK:
            message = "bring up `lo` in the new network namespace: \(e)"
        case SKIFF_STEP_RLIMIT:
            if let r = at(plan.rlimits) {
                message = "process.rlimits[\(i)]: set `\(r.name)` to \(r.soft)/\(r.hard): \(e)"
            } else {
                message = "setrlimit: \(e)"
            }
        case SKIFF_STEP_PERSONALITY:
            message = "linux.personality: personality `\(plan.personality?.rawValue ?? "")`: \(e)"
        case SKIFF_STEP_LSM:
            message =
                i == 0
                ? "process.apparmorProfile: apply `\(plan.apparmorExec?.dropFirst(5) ?? "")`: \(e)"
                : "process.selinuxLabel: set `\(plan.selinuxExec ?? "")`: \(e)"
        case SKIFF_STEP_SCHEDULER:
            var text = "process.scheduler: sched_setattr: \(e)"
            let realtime = plan.scheduler.map { $0.policy == UInt32(SCHED_FIFO) || $0.policy == UInt32(SCHED_RR) } ?? false
            if e == .EPERM, realtime, let cg = plan.cgroup, cg.version == .v1,
                !cg.writes.contains(where: { $0.file == "cpu.rt_runtime_us" })
            {
                text +=
                    " (a real-time policy in a cgroup v1 cpu cgroup needs a real-time budget of its own: set linux.resources.cpu.realtimeRuntime, e.g. 10000, and realtimePeriod; the new cgroup has none)"
            }
            message = text
        case SKIFF_STEP_IOPRIO:
            message = "process.ioPriority: ioprio_set: \(e)"
        case SKIFF_STEP_MEMPOLICY:
            message = "linux.memoryPolicy: set_mempolicy: \(e)"
        case SKIFF_STEP_CPU_AFFINITY:
            message = "process.execCPUAffinity.\(i == 0 ? "initial" : "final"): sched_setaffinity: \(e)"
        case SKIFF_STEP_CAP_BOUNDING:
            message = "process.capabilities.bounding: drop `\(Capability.name(i) ?? "\(i)")` from the bounding set: \(e)"
        case SKIFF_STEP_KEEPCAPS:
            message = "keep capabilities across the uid change: \(e)"
        case SKIFF_STEP_SETGROUPS:
            message = "process.user.additionalGids: setgroups \(plan.additionalGids): \(e)"
        case SKIFF_STEP_SETGID:
            message = "process.user.gid: setresgid `\(plan.gid)`: \(e)"
        case SKIFF_STEP_SETUID:
            message = "process.user.uid: setresuid `\(plan.uid)`: \(e)"
        case SKIFF_STEP_CAPSET:
            message = "process.capabilities: capset: \(e)"
        case SKIFF_STEP_CAP_AMBIENT:
            let name = Capability.name(i) ?? "\(i)"
            let hint = e == .EPERM ? " (an ambient capability must also be permitted and inheritable)" : ""
            message = "process.capabilities.ambient: raise `\(name)`: \(e)\(hint)"
        case SKIFF_STEP_NO_NEW_PRIVS:
            message = "process.noNewPrivileges: \(e)"
        case SKIFF_STEP_CHDIR:
            message = "process.cwd: chdir `\(plan.cwd)`: \(e)"
        case SKIFF_STEP_CWD_VERIFY where e != .ENOENT:
            // getcwd itself failed: with noNewPrivileges false the filter is
            // loaded before this check, and a profile may deny it.
            let filter =
                plan.seccomp != nil && !plan.noNewPrivileges
                ? " (linux.seccomp is loaded before this check when noNewPrivileges is false: allow getcwd there)" : ""
            message = "process.cwd: getcwd, to check `\(plan.cwd)` is inside the container: \(e)\(filter)"
        case SKIFF_STEP_CWD_VERIFY:
            message = "process.cwd: `\(plan.cwd)` is outside the container's root"
        case SKIFF_STEP_SETSID:
            message = "make a session for the container process (setsid): \(e)"
        case SKIFF_STEP_STDIO_OWNER:
            message = "give stdio fd \(i) to uid \(plan.uid) (a pipe or socket): \(e)"
        case SKIFF_STEP_SECCOMP:
            message = "linux.seccomp: load the filter: \(e)"
        case SKIFF_STEP_CONSOLE:
            let what: String
            switch skiff_console_part(rawValue: UInt32(max(i, 0))) {
            case SKIFF_CONSOLE_FILE:
                what =
                    e == Errno(ELOOP) || e == .EEXIST
                    ? "/dev/console in the rootfs is a link or not a file: refusing to bind the terminal there"
                    : "make /dev/console: \(e)"
            case SKIFF_CONSOLE_PTMX:
                what =
                    e == Errno(EMEDIUMTYPE) || e == Errno(EXDEV) || e == Errno(ELOOP)
                    ? "/dev/pts in the container is not its own devpts (or goes through a link): mount devpts with `newinstance` at /dev/pts"
                    : "open /dev/pts/ptmx of the container's devpts: \(e) (mount devpts at /dev/pts, with ptmxmode=0666)"
            case SKIFF_CONSOLE_PEER: what = "open the terminal's slave: \(e)"
            case SKIFF_CONSOLE_SIZE: what = "process.consoleSize: \(e)"
            case SKIFF_CONSOLE_BIND: what = "bind the terminal at /dev/console: \(e)"
            case SKIFF_CONSOLE_SEND: what = "--console-socket: send the terminal: \(e)"
            default: what = "make the terminal the controlling terminal and stdio: \(e)"
            }
            message = "process.terminal: " + what
        case SKIFF_STEP_HOOK_CREATE_CONTAINER, SKIFF_STEP_HOOK_START_CONTAINER:
            // index: (wait status << 16) | hook; error: why it did not run.
            let k = Int(UInt32(bitPattern: m.index) & 0xffff)
            let status = Int32(UInt32(bitPattern: m.index) >> 16)
            let create = step == SKIFF_STEP_HOOK_CREATE_CONTAINER
            let list = create ? plan.hooks.createContainer : plan.hooks.startContainer
            let h = list.indices.contains(k) ? list[k] : nil
            message = HookRunner.failure(
                h, result: m.error == 0 ? 0 : -m.error, status: status, output: detail,
                index: k, kind: create ? "createContainer" : "startContainer")
        case SKIFF_STEP_EXEC:
            let exitCode: Int32 = e == .ENOENT ? 127 : 126
            if let path = at(plan.execPaths) {
                return .child("exec `\(path)`: \(e)", exitCode: exitCode)
            }
            let arg0 = plan.args.first ?? ""
            let searched = arg0.contains("/") ? "" : " (searched \(plan.execPaths.count) PATH entries)"
            return .child("exec `\(arg0)`: \(e)\(searched)", exitCode: exitCode)
        default:
            message = "\(String(cString: skiff_step_name(m.step))): \(e)"
        }
        return .child(message, exitCode: 1)
    }

    /// A masked or read-only path the shim looks up beneath /proc or /sys.
    func kernelTreePath(_ step: skiff_step, _ i: Int) -> Bool {
        let paths = step == SKIFF_STEP_MASK ? plan.maskedPaths : plan.readonlyPaths
        guard paths.indices.contains(i) else { return false }
        return paths[i].hasPrefix("/proc/") || paths[i].hasPrefix("/sys/")
    }
}
