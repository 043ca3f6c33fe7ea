import CShim
import Glibc
import LinuxSys
import OCISpec

/// linux.netDevices: host interfaces moved into the container's network
/// namespace at create, and back out at delete while that namespace lives.
/// (When the container's last process exits first, the kernel returns a
/// physical interface to the host under its container name and destroys a
/// virtual one, a dummy or a veth, with the namespace.)
enum NetDevices {
    static func moveIn(_ devices: [(host: String, name: String)], pid: Int32) throws(RuntimeError) {
        let ns = try sys { () throws(SysError) in try Sys.open("/proc/\(pid)/ns/net", O_RDONLY) }
        for d in devices {
            let r = skiff_link_move(d.host, d.name, ns.raw)
            if r < 0 {
                throw .context(
                    JSONPath.member("linux.netDevices", d.host),
                    .system(SysError("move interface `\(d.host)` into the container as `\(d.name)`", nil, errno: Errno(-r))))
            }
        }
    }

    /// Moves the container's interfaces back under their host names. The
    /// parent joins the container's network namespace to find them there
    /// (skiff is single-threaded), and always returns to its own.
    static func moveOut(_ devices: [[String]], pid: Int32, log: Log) {
        guard let host = try? Sys.open("/proc/self/ns/net", O_RDONLY),
            let container = try? Sys.open("/proc/\(pid)/ns/net", O_RDONLY)
        else {
            log.warn("linux.netDevices: the container's network namespace is gone; its interfaces cannot be moved back")
            return
        }
        guard skiff_setns(container.raw, CLONE_NEWNET) == 0 else {
            log.warn("linux.netDevices: join the container's network namespace: \(Errno.current)")
            return
        }
        for d in devices where d.count == 2 {
            let r = skiff_link_move(d[1], d[0], host.raw)
            if r < 0 { log.warn("linux.netDevices: move `\(d[1])` back to the host as `\(d[0])`: \(Errno(-r))") }
        }
        if skiff_setns(host.raw, CLONE_NEWNET) != 0 {
            log.error("linux.netDevices: return to the host's network namespace: \(Errno.current)")
        }
    }
}
