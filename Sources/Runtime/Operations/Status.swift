import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// A container's status, derived from its record and the host, never stored.
extension Runtime {
    /// Derived, never stored: stopped when the recorded process is gone (or
    /// its pid now belongs to a process that started at another time).
    static func status(_ r: ContainerRecord) -> ContainerStatus {
        guard let st = Proc.stat(r.pid), st.startTime == r.startTime, st.state != "Z", st.state != "X",
            inRecordedNamespace(r)
        else {
            return .stopped
        }
        guard r.started else { return .created }
        if let cg = cgroup(r), cg.canFreeze, cg.isFrozen { return .paused }
        return .running
    }

    /// The cgroup a record names, if it checks out.
    static func cgroup(_ r: ContainerRecord) -> Cgroup? {
        guard let paths = r.cgroupPaths, !paths.isEmpty else { return nil }
        var cg = Cgroup.recorded(version: r.cgroupVersion ?? 1, paths: paths, adopted: r.cgroupAdopted ?? [])
        cg?.foreign = (r.cgroupForeign ?? []).compactMap { f in
            f.count == 2 ? Cgroup.ForeignProcess(pid: Int32(truncatingIfNeeded: f[0]), startTime: f[1]) : nil
        }
        cg?.pidNamespace = r.ownPidNamespace ? r.pidNamespace : nil
        if let name = r.systemdUnit, SystemdNames.isUnitName(name) {
            cg?.unit = SystemdUnit(name: name, user: r.systemdUser ?? false)
        }
        return cg
    }

    /// A container with a pid namespace of its own: its process is still in
    /// the one recorded at create, which is not skiff's. A state file that
    /// names some other process of the host is not believed.
    static func inRecordedNamespace(_ r: ContainerRecord) -> Bool {
        guard r.ownPidNamespace else { return true }
        if let ns = Proc.namespaceInode(r.pid, "pid") {
            return ns != Proc.namespaceInode(getpid(), "pid") && r.pidNamespace.map { $0 == ns } ?? true
        }
        // An unprivileged caller cannot read the namespace of a process that
        // is not dumpable (one waiting for start): it must at least be pid 1
        // of a pid namespace below ours.
        guard let theirs = Proc.namespacePids(r.pid), let ours = Proc.namespacePids(getpid()) else { return false }
        return theirs.count > ours.count && theirs.last == 1
    }

    /// A pidfd for the container's process, or nil if it is not the same
    /// process any more. The pidfd pins the pid, so a check after opening it
    /// cannot be raced by pid reuse.
    static func pidfd(_ r: ContainerRecord) -> FileDescriptor? {
        guard let fd = try? Sys.pidfdOpen(r.pid) else { return nil }
        guard let st = Proc.stat(r.pid), st.startTime == r.startTime, st.state != "Z", st.state != "X",
            inRecordedNamespace(r)
        else {
            return nil
        }
        return fd
    }
}
