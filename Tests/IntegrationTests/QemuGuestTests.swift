import Foundation
import Testing

/// Running inside the guest that QemuGuestTests.cgroupV2 boots: a pure
/// cgroup2 hierarchy, no systemd.
let inCgroup2Guest =
    ProcessInfo.processInfo.environment["SKIFF_CGROUP2_GUEST"] == "1"
    && FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")

/// systemd is PID 1 here: this process runs inside a guest that
/// QemuGuestTests boots with CGVM_INIT=systemd.
let inSystemdGuest =
    ProcessInfo.processInfo.environment["SKIFF_SYSTEMD_GUEST"] == "1"
    && ((try? String(contentsOfFile: "/proc/1/comm", encoding: .utf8)) ?? "") == "systemd\n"
let systemdUnified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")

/// What this host lacks, run in qemu guests booting Debian's kernel
/// (scripts/cgroup2-vm): pure cgroup v2 without systemd, and Debian's
/// systemd as PID 1 on cgroup v2 (the standard host) and on a hybrid
/// hierarchy. Each test boots a guest and runs the named suites of this
/// test binary inside it. One guest at a time: under TCG each is two busy
/// vCPUs, and CI has two cores.
@Suite(.enabled(if: !inSystemdGuest && !inCgroup2Guest), .serialized) struct QemuGuestTests {
    static func boot(_ suites: String..., systemd: Bool, memoryMiB: Int = 1024, append: String = "") throws {
        let testBinary = ProcessInfo.processInfo.arguments[0]
        var env = ProcessInfo.processInfo.environment
        if systemd {
            env["SKIFF_SYSTEMD_GUEST"] = "1"
            env["CGVM_INIT"] = "systemd"
        } else {
            env["SKIFF_CGROUP2_GUEST"] = "1"
        }
        env["CGVM_RW"] = Harness.packageRoot.path
        // The guest's /tmp is a fresh tmpfs: a TMPDIR of this host's
        // (scripts/test sets one) does not exist there, and containerd's
        // shim puts its console sockets and exec fifos in TMPDIR (what made
        // CI's CRI checks fail, with runc as with skiff).
        env["TMPDIR"] = "/tmp"
        env["CGVM_MEM"] = String(memoryMiB)
        // A soft lockup in the guest kernel (seen once, under the full
        // suite) panics it, so the test fails at once with the kernel's
        // trace on the console instead of waiting for the timeout;
        // loglevel=3 keeps the OOM tests' reports off the console.
        env["CGVM_APPEND"] = "softlockup_panic=1 loglevel=3 " + append
        let filter = "IntegrationTests.(\(suites.joined(separator: "|")))/"
        let r = try Harness.exec(
            Harness.packageRoot.path + "/scripts/cgroup2-vm",
            [testBinary, "--testing-library", "swift-testing", "--filter", filter], env: env)
        let guest = systemd ? "systemd guest" : "cgroup v2 guest"
        GuestReport.skipped(r.stdout, guest: guest)
        // What failed first, then the end of the guest's output.
        let failures = r.stdout.split(separator: "\n").filter { $0.contains("✘") || $0.contains("Test run") }.joined(separator: "\n")
        #expect(r.status == 0, "\(failures)\n\(r.stdout.suffix(6000))\n\(r.stderr.suffix(2000))")
        for suite in suites { #expect(r.stdout.contains("Suite \(suite) passed"), "\(suite) in the \(guest): \(failures)") }
    }

    @Test("cgroup v2 enforcement, and checkpoint/restore through CRIU, in a qemu guest with a pure cgroup2 hierarchy")
    func cgroupV2() throws {
        // podman and CRIU beside the cgroup tests: 1 GB is tight.
        try Self.boot("CgroupV2Tests", "CheckpointTests", systemd: false, memoryMiB: 2048)
    }

    @Test("--systemd-cgroup against systemd as PID 1, cgroup v2, with checkpoint/restore through CRIU (qemu guest)")
    func unified() throws {
        // podman and CRIU beside the systemd tests: 1 GB is tight.
        try Self.boot("SystemdTests", "CheckpointSystemdTests", systemd: true, memoryMiB: 2048)
    }

    @Test(
        "the standard host (systemd, cgroup v2): a Kubernetes node's containerd CRI with SystemdCgroup = true, runc and skiff (qemu guest)",
        .enabled(if: CRINode.missing == nil))
    func cri() throws { try Self.boot("CRITests", systemd: true) }

    @Test(
        "the standard host (systemd, cgroup v2): Docker with its default systemd cgroup driver, podman rootful and rootless with cgroup_manager systemd, containerd with SystemdCgroup (qemu guest)"
    )
    func engines() throws {
        // Four engines' daemons at once: 1 GB is tight.
        try Self.boot("DockerTests", "PodmanTests", "RootlessPodmanTests", "ContainerdTests", systemd: true, memoryMiB: 2048)
    }

    @Test("--systemd-cgroup against systemd as PID 1 on a hybrid host, and checkpoint/restore on v1 hierarchies (qemu guest)")
    func hybrid() throws {
        // SystemdHybridTests holds the v1 checkpoint tests (SystemdHybridTests.Checkpoint).
        try Self.boot("SystemdHybridTests", systemd: true, append: "systemd.unified_cgroup_hierarchy=0")
    }
}
