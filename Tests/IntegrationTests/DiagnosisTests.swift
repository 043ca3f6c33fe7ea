import Foundation
import Testing

/// The switches docs/diagnosis.md documents: each start-up trick off at run
/// time, with the container still run as before.
@Suite struct DiagnosisTests {
    /// skiff's pid from `&` while its container runs, and what it shows.
    func runObserved(_ env: String, show: String) throws -> (Harness.Result, Skiff, String) {
        let s = try Skiff(["sh", "-c", "echo ran; sleep 1"])
        try s.writeConfig()
        let id = Harness.uniqueName("diag")
        let r = try Harness.sh(
            """
            \(env) \(Harness.binary) --root \(s.root) run --bundle \(s.bundle) \(id) & pid=$!
            sleep 0.3
            echo "skiff: \(show)"
            wait $pid
            """)
        return (r, s, id)
    }

    @Test(
        "SKIFF_NO_FAULTAROUND=1 leaves the kernel's fault-around alone: no userfaultfd, no registered mapping",
        .needsKernel(6, 7, for: "UFFD_FEATURE_WP_ASYNC, without which there is nothing to switch off"))
    func noFaultAround() throws {
        let show = "$(ls -l /proc/$pid/fd | grep -c userfaultfd) $(grep -c '^VmFlags:.* uw' /proc/$pid/smaps)"
        let (on, s1, id1) = try runObserved("", show: show)
        #expect(on.status == 0 && on.stdout.hasPrefix("ran\n") && !on.stdout.contains("skiff: 0 0"), "\(on)")
        s1.expectNothingLeft(id1)
        let (off, s2, id2) = try runObserved("SKIFF_NO_FAULTAROUND=1", show: show)
        #expect(off.status == 0 && off.stdout.hasPrefix("ran\n") && off.stdout.contains("skiff: 0 0\n"), "\(off)")
        s2.expectNothingLeft(id2)
    }

    @Test(
        "SKIFF_NO_EXESWAP=1: root's run re-executes from the read-only copy instead of swapping its image in place",
        .enabled(if: Host.has(Harness.binary) && access(Harness.binary, W_OK) == 0, "needs a writable skiff binary (a read-only one needs no copy)"))
    func noExeSwap() throws {
        // The re-exec leaves its marker in the environment; the swap does not.
        let show = "$(tr '\\0' '\\n' < /proc/$pid/environ | grep -c '^_SKIFF_PROTECTED_EXE=')"
        let (swapped, s1, id1) = try runObserved("", show: show)
        #expect(swapped.status == 0 && swapped.stdout.contains("skiff: 0\n"), "\(swapped)")
        s1.expectNothingLeft(id1)
        let (reexec, s2, id2) = try runObserved("SKIFF_NO_EXESWAP=1", show: show)
        #expect(reexec.status == 0 && reexec.stdout.hasPrefix("ran\n") && reexec.stdout.contains("skiff: 1\n"), "\(reexec)")
        s2.expectNothingLeft(id2)
    }
}
