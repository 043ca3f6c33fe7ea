import Foundation
import Testing

/// What the host running the suite has. A test that needs something of its
/// host says so with one of the traits below and is skipped, with the
/// reason, where the host lacks it; scripts/test ends with the list of
/// what was skipped. On the development machine (hybrid cgroups, no
/// systemd, no LSM) what it lacks runs in the qemu guests instead.
enum Host {
    /// The filesystem type mounted at /sys/fs/cgroup (the last such mount).
    static let cgroupFilesystem: String = {
        let lines = ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n")
        let line = lines.last { $0.split(separator: " ").dropFirst(4).first == "/sys/fs/cgroup" }
        return line.flatMap { $0.components(separatedBy: " - ").last?.split(separator: " ").first.map(String.init) } ?? "none"
    }()

    /// Only cgroup v2 (Debian 11+, Ubuntu 21.10+, Fedora 31+, RHEL 9).
    static let cgroupV2: Bool = cgroupFilesystem == "cgroup2"
    /// v1 controllers (legacy or hybrid), as on this machine.
    static let cgroupV1: Bool = !cgroupV2 && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    static var cgroupDescription: String {
        cgroupV2 ? "cgroup v2 only" : cgroupV1 ? "cgroup v1 controllers" : "no cgroup controllers mounted at /sys/fs/cgroup"
    }

    static let systemdPID1: Bool = ((try? String(contentsOfFile: "/proc/1/comm", encoding: .utf8)) ?? "") == "systemd\n"

    static let appArmor: Bool =
        ((try? String(contentsOfFile: "/sys/module/apparmor/parameters/enabled", encoding: .utf8)) ?? "N").hasPrefix("Y")
    static let selinux: Bool = FileManager.default.fileExists(atPath: "/sys/fs/selinux/enforce")

    /// The kernel's release as (major, minor).
    static let kernel: (Int, Int) = {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let v = release.split(separator: ".").prefix(2).compactMap { Int($0.prefix { $0.isNumber }) }
        return v.count == 2 ? (v[0], v[1]) : (0, 0)
    }()

    /// Whether a program the suite uses is installed (scripts/deps installs them all).
    static func has(_ program: String) -> Bool { FileManager.default.isExecutableFile(atPath: program) }
}

/// The marker of suites that only run inside a qemu guest, which a test
/// of this host boots: scripts/test leaves them out of its skip list.
let runsInGuest = "runs inside the qemu guest"

extension Trait where Self == ConditionTrait {
    static var needsCgroupV1: Self {
        .enabled(if: Host.cgroupV1, "needs cgroup v1 controllers (a legacy or hybrid host); this host has \(Host.cgroupDescription)")
    }

    static var needsMemorySwapAccounting: Self {
        .enabled(
            if: FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
            "needs cgroup v1 swap accounting (memory.memsw.*: swapaccount=1); this host has \(Host.cgroupDescription)")
    }

    static var needsNoSystemd: Self {
        .enabled(if: !Host.systemdPID1, "needs a host whose PID 1 is not systemd (SystemdTests cover systemd hosts)")
    }

    static var needsAppArmorOff: Self {
        .enabled(if: !Host.appArmor, "needs AppArmor off (/sys/module/apparmor/parameters/enabled): the case of a host without it")
    }

    static var needsSELinuxOff: Self {
        .enabled(if: !Host.selinux, "needs SELinux off (no /sys/fs/selinux/enforce): the case of a host without it")
    }

    static func needsKernel(_ major: Int, _ minor: Int, for what: String) -> Self {
        .enabled(if: Host.kernel >= (major, minor), "needs Linux \(major).\(minor) or later (\(what)); this host runs \(Host.kernel.0).\(Host.kernel.1)")
    }

    static func needsProgram(_ path: String, package: String) -> Self {
        .enabled(if: Host.has(path), "needs \(path) (Debian package \(package); scripts/deps installs it)")
    }

    /// Suites run inside a guest that a test of this host boots.
    static func inGuest(_ condition: Bool, _ guest: String) -> Self {
        .enabled(if: condition, "\(runsInGuest) \(guest)")
    }
}

/// What a guest skipped, passed on to this run's output, where scripts/test
/// collects the skip list.
enum GuestReport {
    static func skipped(_ output: String, guest: String) {
        for line in output.split(separator: "\n") where line.contains(" skipped: ") && !line.contains(runsInGuest) {
            print("➜ [\(guest)] " + line.drop { $0 != "\"" })
        }
    }
}
