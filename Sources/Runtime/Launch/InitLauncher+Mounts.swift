import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// The init launcher's helpers for namespaces and mounts: idmapped trees
/// the parent makes, namespaces opened by path.
extension InitLauncher {
    /// Makes the binds the child cannot make (root's idmapped ones on host
    /// filesystems, and every one of a container in its own user
    /// namespace) and hands them over with SKIFF_SYNC_MOUNTFDS.
    static func sendParentTrees(
        _ plan: LaunchPlan, _ indices: [Int], to child: Launched, arena: Arena,
        log: Log
    ) throws(RuntimeError) {
        let trees = FileDescriptorSet()
        let namespaces = FileDescriptorSet()
        var byMapping: [String: Int32] = [:]
        for i in indices {
            let m = plan.mounts[i]
            var cm = CPlanBuilder.cMount(m, arena)
            cm.userns_fd = -1
            if let idmap = m.idmap {
                let userns: Int32
                if idmap.containerNamespace {
                    userns = try sys { () throws(SysError) in namespaces.adopt(try Sys.open("/proc/\(child.pid)/ns/user", O_RDONLY)) }
                } else {
                    let key = IDMaps.text(idmap.uidMappings) + "|" + IDMaps.text(idmap.gidMappings)
                    if let fd = byMapping[key] {
                        userns = fd
                    } else {
                        userns = namespaces.adopt(try userNamespace(idmap, origin: m.origin, log: log))
                        byMapping[key] = userns
                    }
                }
                cm.userns_fd = userns
                cm.idmap_recursive = idmap.recursive ? 1 : 0
            }
            var step: UInt32 = 0
            let tree = skiff_make_tree(&cm, &step)
            if tree < 0 {
                throw child.failure(skiff_msg(type: SKIFF_SYNC_ERROR.rawValue, step: step, error: -tree, index: Int32(i)))
            }
            _ = trees.adopt(FileDescriptor(adopting: tree))
        }
        log.debug("sending \(trees.fds.count) bind mount(s) made here to the container process")
        try child.sync.send(SKIFF_SYNC_MOUNTFDS, fds: trees.fds, what: "bind mounts")
    }

    /// A user namespace with a mount's own mappings: made by a process that
    /// only waits, whose maps are written and whose namespace is kept.
    static func userNamespace(_ idmap: IDMapPlan, origin: String, log: Log) throws(RuntimeError) -> FileDescriptor {
        var pidfdRaw: Int32 = -1
        let pid = skiff_spawn_userns_holder(&pidfdRaw)
        guard pid > 0 else { throw .context(origin, .system(SysError("clone3 (user namespace for idmap)", nil, errno: Errno(-pid)))) }
        let pidfd = FileDescriptor(adopting: pidfdRaw)
        defer {
            _ = try? Sys.pidfdSendSignal(pidfd.raw, SIGKILL, "idmap helper")
            _ = try? Sys.waitExit(pidfd: pidfd.raw, "idmap helper")
        }
        let maps = UserNamespacePlan(
            uidMappings: idmap.uidMappings, gidMappings: idmap.gidMappings, writer: .direct,
            denySetgroups: false, rootMapped: false)
        try IDMaps.write(maps, pid: pid, log: log)
        return try sys { () throws(SysError) in try Sys.open("/proc/\(pid)/ns/user", O_RDONLY) }
    }

    /// A mount namespace joined by path gets the rootfs made in it (runc's
    /// meaning: a namespace the caller prepared). skiff's own is the
    /// host's: building the rootfs there would pivot_root the host.
    static func checkNotOurMountNamespace(_ fd: Int32, _ ns: NamespacePlan) throws(RuntimeError) {
        guard let theirs = try? Sys.fstat(fd), let ours = try? Sys.stat("/proc/self/ns/mnt") else { return }
        if theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev {
            throw .message(
                "\(ns.origin).path: `\(ns.path ?? "")` is skiff's own mount namespace: the rootfs would be built and pivot_root'ed in it; join a mount namespace made for the container (e.g. by `unshare -m`)"
            )
        }
    }

    static func openNamespace(_ path: String, _ ns: NamespacePlan, _ flag: Int32) throws(RuntimeError) -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try Sys.open(path, O_RDONLY)
        } catch {
            throw .context("\(ns.origin).path", .system(error))
        }
        let type: Int32
        do {
            type = try Sys.namespaceType(fd.raw, path)
        } catch {
            throw .context("\(ns.origin).path", .system(error))
        }
        if type != flag {
            let actual = NamespaceType.allCases.first { CPlanBuilder.cloneFlag($0) == type }?.rawValue ?? "unknown"
            throw .message("\(ns.origin).path: `\(path)` is a \(actual) namespace, not \(ns.type.rawValue)")
        }
        return fd
    }
}
