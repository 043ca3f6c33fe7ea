import Glibc
import LinuxSys
import OCISpec
import Planning
import Testing

@testable import Runtime

/// exec plans only a process: it reads what that needs of the host, not
/// what making a container reads (mountinfo's cgroup layout, subordinate
/// ids, the user's name from /etc/passwd).
@Suite struct HostProbeTests {
    @Test("exec's facts are a process's: the same ids, umask and capabilities, no cgroup layout or subordinate ids")
    func processFacts() throws {
        let spec = try CPlanBuilderTests.runcSpec(rootless: true)
        let full = HostProbe.facts(for: spec)
        let process = HostProbe.processFacts(for: spec)
        #expect(process.euid == full.euid && process.egid == full.egid && process.umask == full.umask)
        #expect(process.capLast == full.capLast && process.rootless == full.rootless)
        #expect(process.setgroupsDenied == full.setgroupsDenied)
        #expect(process.cgroups == .none && process.ownCgroups.isEmpty, "\(process.cgroups)")
        #expect(process.subUIDs.isEmpty && process.subGIDs.isEmpty && !process.haveIDMapHelpers)
    }

    @Test("a uid's name from /etc/passwd, and the number itself for a uid with no entry")
    func userNames() {
        #expect(HostProbe.userName(0) == "root")
        #expect(HostProbe.userName(65534) == "nobody")
        #expect(HostProbe.userName(4_000_000_123) == "4000000123")
    }
}
