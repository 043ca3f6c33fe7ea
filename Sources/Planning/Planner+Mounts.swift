import Glibc
import OCISpec

extension Planner {
    static func lowerMounts(
        _ spec: Spec, bundle: String, _ host: HostFacts,
        _ plan: inout LaunchPlan
    ) throws(SpecError) {
        let inUserNS = plan.userNamespace != nil || plan.namespaces.contains { $0.type == .user }
        let idmapped = (spec.mounts ?? []).filter { $0.uidMappings != nil || ($0.options ?? []).contains { $0 == "idmap" || $0 == "ridmap" } }
        if idmapped.count > 64 {
            throw SpecError(path: "mounts", "at most 64 idmapped mounts are supported, not \(idmapped.count)")
        }
        for (i, m) in (spec.mounts ?? []).enumerated() {
            let path = "mounts[\(i)]"
            guard ContainerPath.isAbsolute(m.destination) else {
                throw SpecError(path: "\(path).destination", "must be an absolute path, got `\(m.destination)`")
            }
            let target = ContainerPath.relative(m.destination)
            let opts = try ParsedMountOptions(m.options ?? [], path: "\(path).options")
            let isBind = opts.bind != nil || m.type == "bind"
            // A bind onto / replaces the rootfs (runc, newer crun); any other
            // filesystem there would hide it.
            if target.isEmpty && !isBind {
                throw SpecError(path: "\(path).destination", "only a bind mount may replace the container's root (root.path sets it)")
            }
            let procAllowed = try checkProcDestination(m, target: target, isBind: isBind, path: path)
            let first = plan.mounts.count
            defer {
                for j in first..<plan.mounts.count {
                    plan.mounts[j].procAllowed = procAllowed
                    plan.mounts[j].noSymlinks = kernelTrees.contains { t in
                        plan.mounts[j].target == t || plan.mounts[j].target.hasPrefix(t + "/")
                    }
                }
            }
            let idmap = try lowerIDMap(m, opts, path: path, plan, host)
            if isBind && opts.copyUp {
                throw SpecError(path: "\(path).options", "`tmpcopyup` applies to a tmpfs only, not to a bind mount")
            }
            if isBind {
                if !opts.dataIndex.isEmpty {
                    // The kernel ignores data on a bind (runc passes it and
                    // nothing happens); skiff never passes it, so the source's
                    // superblock is never changed.
                    let names = opts.dataIndex.map { "`\((m.options ?? [])[$0])`" }.joined(by: ", ")
                    plan.notes.append("\(path).options: \(names) ignored: a bind mount takes no filesystem options")
                }
                var bind = try lowerBind(
                    m, opts, target: target, idmap: idmap, bundle: bundle,
                    keepLocked: inUserNS, path: path)
                let cgroupCover = inUserNS ? readonlyCgroups(bind) : nil
                if let cover = cgroupCover, cover.isEmpty { bind.recursiveAttrSet |= UInt64(MOUNT_ATTR_RDONLY) }
                plan.mounts.append(bind)
                if let cover = cgroupCover, !cover.isEmpty {
                    var ro = MountPlan(
                        kind: .attributes, target: "\(target)/\(cover)", destination: m.destination,
                        origin: path)
                    ro.recursiveAttrSet = UInt64(MOUNT_ATTR_RDONLY)
                    plan.mounts.append(ro)
                }
            } else if m.type == "cgroup" {
                try lowerCgroup(m, opts, target: target, host, &plan, path: path)
            } else {
                guard let type = m.type, !type.isEmpty else {
                    throw SpecError(path: "\(path).type", "required for a mount that is not a bind mount")
                }
                if opts.remount {
                    throw SpecError(path: "\(path).options", "`remount` applies to bind mounts only")
                }
                if opts.copyUp && (type != "tmpfs" || idmap != nil) {
                    throw SpecError(path: "\(path).options", "`tmpcopyup` applies to a tmpfs (without idmap) only, not to `\(type)`")
                }
                // A read-only tmpfs gets what goes below it first (runc: /dev ro).
                let lateRO = type == "tmpfs" && idmap == nil && opts.flagsSet & UInt(MS_RDONLY) != 0
                var mp = MountPlan(
                    kind: .filesystem(
                        type: type, source: m.source ?? type,
                        flags: lateRO ? opts.flagsSet & ~UInt(MS_RDONLY) : opts.flagsSet,
                        data: opts.data.isEmpty ? nil : opts.data.joined(by: ",")),
                    target: target, destination: m.destination, origin: path)
                if lateRO { plan.lateReadonly.append(plan.mounts.count) }
                mp.idmap = idmap
                mp.recursiveAttrSet = opts.recursiveSet
                mp.recursiveAttrClear = opts.recursiveClear
                mp.propagation = opts.propagation
                mp.propagationRecursive = opts.propagationRecursive
                // runc: a tmpfs over an existing directory keeps its mode
                // unless `mode=` says otherwise.
                mp.keepTargetMode = type == "tmpfs" && !opts.data.contains { $0.hasPrefix("mode=") }
                mp.copyUp = opts.copyUp
                plan.mounts.append(mp)
            }
        }
    }

    /// Where the kernel's trees go: reached with no symlink on the way.
    static let kernelTrees = ["proc", "sys", "dev"]

    /// The files inside /proc that may be bound over (what lxcfs provides).
    public static let procBindAllowlist = [
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
        "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid",
    ]

    /// Only procfs goes on /proc (a bind of the host's procfs too: the
    /// runtime checks the source), and inside /proc only binds over the
    /// allowlisted files, as runc allows. Returns whether the mount may land
    /// in /proc (the shim checks where its target really resolved).
    static func checkProcDestination(_ m: Mount, target: String, isBind: Bool, path: String) throws(SpecError) -> Bool {
        if target == "proc" {
            if isBind || m.type == "proc" { return true }
            throw SpecError(path: "\(path).type", "only procfs may be mounted at `/proc`, not `\(m.type ?? "")`")
        }
        guard target.hasPrefix("proc/") else { return false }
        let dest = "/" + target
        if isBind, procBindAllowlist.contains(dest) { return true }
        throw SpecError(
            path: "\(path).destination", "`\(m.destination)` is inside /proc: only binds over \(procBindAllowlist.joined(by: ", ")) may be mounted there")
    }

    /// A bind that shows the host's cgroups to a container in a user
    /// namespace must show them read-only (CVE-2023-25809; with a cgroup
    /// namespace too: a bound mount shows the host's whole hierarchy). Returns nil if the bind does not carry
    /// /sys/fs/cgroup; "" if it is (below) it; else the path of
    /// /sys/fs/cgroup below the bind's target.
    static func readonlyCgroups(_ bind: MountPlan) -> String? {
        guard case let .bind(source, recursive) = bind.kind else { return nil }
        let src = ContainerPath.relative(source)
        let cgroup = "sys/fs/cgroup"
        if src == cgroup || src.hasPrefix(cgroup + "/") { return "" }
        guard recursive else { return nil }
        if src.isEmpty { return cgroup }
        if cgroup.hasPrefix(src + "/") { return String(cgroup.dropFirst(src.count + 1)) }
        return nil
    }

    static func lowerIDMap(
        _ m: Mount, _ opts: ParsedMountOptions, path: String,
        _ plan: LaunchPlan, _ host: HostFacts
    ) throws(SpecError) -> IDMapPlan? {
        let hasMaps = m.uidMappings != nil || m.gidMappings != nil
        if (m.uidMappings == nil) != (m.gidMappings == nil) {
            throw SpecError(
                path: m.uidMappings == nil ? "\(path).uidMappings" : "\(path).gidMappings",
                "uidMappings and gidMappings must be given together")
        }
        guard opts.idmap != nil || hasMaps else { return nil }
        if hasMaps && opts.idmap == nil {
            throw SpecError(path: "\(path).options", "mount uidMappings/gidMappings need the `idmap` or `ridmap` option")
        }
        if let u = m.uidMappings { try Validation.checkMappings(u, path: "\(path).uidMappings") }
        if let g = m.gidMappings { try Validation.checkMappings(g, path: "\(path).gidMappings") }
        let uids = m.uidMappings ?? []
        let gids = m.gidMappings ?? []
        if uids.isEmpty || gids.isEmpty {
            // No mappings of its own: the container's user namespace mapping.
            guard plan.creates(.user) else {
                throw SpecError(path: "\(path).options", "`idmap` without mappings needs a new user namespace for the container")
            }
            return IDMapPlan(uidMappings: [], gidMappings: [], recursive: opts.idmap == true, containerNamespace: true)
        }
        if host.rootless {
            throw SpecError(
                path: "\(path).uidMappings",
                "an unprivileged user can idmap a mount only with the container's own mapping (`idmap` without uidMappings and gidMappings)")
        }
        return IDMapPlan(uidMappings: uids, gidMappings: gids, recursive: opts.idmap == true, containerNamespace: false)
    }

    static func lowerBind(
        _ m: Mount, _ opts: ParsedMountOptions, target: String, idmap: IDMapPlan?,
        bundle: String, keepLocked: Bool, path: String
    ) throws(SpecError) -> MountPlan {
        guard let source = m.source, !source.isEmpty else {
            throw SpecError(path: "\(path).source", "a bind mount needs a source")
        }
        if opts.flagsSet & MountOption.superblockFlags != 0 {
            let name =
                (m.options ?? []).first { o in
                    if case let .flag(set, _)? = MountOption.named(o) { return set & MountOption.superblockFlags != 0 }
                    return false
                } ?? "?"
            throw SpecError(path: "\(path).options", "`\(name)` is a filesystem flag; a bind mount cannot change it")
        }
        var mp = MountPlan(
            kind: .bind(source: hostPath(source, relativeTo: bundle), recursive: opts.bind == true),
            target: target, destination: m.destination, origin: path)
        (mp.attrSet, mp.attrClear) = bindAttributes(opts)
        mp.recursiveAttrSet = opts.recursiveSet
        mp.recursiveAttrClear = opts.recursiveClear
        mp.propagation = opts.propagation
        mp.propagationRecursive = opts.propagationRecursive
        mp.keepLocked = keepLocked
        mp.idmap = idmap
        return mp
    }

    /// Per-mount flags as mount attributes (set, clear), for mount_setattr
    /// and fsmount.
    static func bindAttributes(_ opts: ParsedMountOptions) -> (UInt64, UInt64) {
        mountAttributes(set: opts.flagsSet, clear: opts.flagsClear)
    }

    static func mountAttributes(set flagsSet: UInt, clear flagsClear: UInt) -> (UInt64, UInt64) {
        var set: UInt64 = 0, clear: UInt64 = 0
        for (ms, attr) in MountOption.bindAttributes {
            if flagsSet & ms != 0 { set |= attr }
            if flagsClear & ms != 0 { clear |= attr }
        }
        let atime = flagsSet & MountOption.atimeFlags
        if atime != 0 {
            clear |= UInt64(MOUNT_ATTR__ATIME)
            if atime & UInt(MS_NOATIME) != 0 {
                set |= UInt64(MOUNT_ATTR_NOATIME)
            } else if atime & UInt(MS_STRICTATIME) != 0 {
                set |= UInt64(MOUNT_ATTR_STRICTATIME)
            }
        }
        return (set, clear)
    }

    /// A `cgroup` mount: the host's layout, read from inside the container.
    static func lowerCgroup(
        _ m: Mount, _ opts: ParsedMountOptions, target: String, _ host: HostFacts,
        _ plan: inout LaunchPlan, path: String
    ) throws(SpecError) {
        let readonly = opts.flagsSet & UInt(MS_RDONLY) != 0
        let ro = readonly ? UInt64(MOUNT_ATTR_RDONLY) : 0
        // MS_RDONLY on a new mount of a v1 hierarchy the host has mounted
        // makes that mount read-only; the shared superblock stays read-write.
        func fs(_ type: String, _ sub: String, _ data: String?) -> MountPlan {
            MountPlan(
                kind: .filesystem(type: type, source: type, flags: opts.flagsSet, data: data),
                target: sub.isEmpty ? target : "\(target)/\(sub)", destination: m.destination, origin: path)
        }
        // A cgroup namespace of its own: fresh mounts, made inside it, show
        // the container's cgroup as the root, and do not touch the host's
        // cgroup2 options (the kernel applies mount options only from the
        // init cgroup namespace). Without one (runc spec's config), runc's
        // layout: the container's own directories bound from the host
        // (a fresh cgroup2 mount from the init namespace reconfigures the
        // host's hierarchy and cost 14 ms here; a bind costs what a bind does).
        // The tmpfs holding the hierarchies turns read-only after the mounts
        // and links in it are made (as a `ro` /dev does).
        func tmpfsReadonly() { if readonly { plan.lateReadonly.append(plan.mounts.count - 1) } }
        // A hierarchy with several controllers ("cpu,cpuacct") is also
        // reached by each controller's name, as on the host.
        func controllerLinks(_ names: [String]) {
            for (link, name) in cgroupControllerLinks(names) {
                plan.symlinks.append(SymlinkPlan(target: name, path: "\(target)/\(link)"))
            }
        }
        func tmpfs() -> MountPlan {
            var t = MountPlan(
                kind: .filesystem(
                    type: "tmpfs", source: "cgroup",
                    flags: UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC),
                    data: "mode=755"),
                target: target, destination: m.destination, origin: path)
            t.propagation = opts.propagation
            return t
        }
        func bind(_ source: String, _ sub: String) -> MountPlan {
            var b = MountPlan(
                kind: .bind(source: source, recursive: false),
                target: sub.isEmpty ? target : "\(target)/\(sub)", destination: m.destination, origin: path)
            b.attrSet = UInt64(MOUNT_ATTR_NOSUID) | UInt64(MOUNT_ATTR_NODEV) | UInt64(MOUNT_ATTR_NOEXEC) | ro
            return b
        }
        let ownNamespace = plan.creates(.cgroup)
        switch host.cgroups {
        case .unified where ownNamespace:
            // The kernel refuses a filesystem on a mount point of the same
            // superblock (EBUSY): where an earlier recursive bind (a
            // rootless config's /sys) brought the host's cgroup2 to this
            // target, a tmpfs goes between them.
            let hostCgroupHere = plan.mounts.contains { mp in
                guard let cover = readonlyCgroups(mp) else { return false }
                return (cover.isEmpty ? mp.target : mp.target.isEmpty ? cover : mp.target + "/" + cover) == target
            }
            if hostCgroupHere { plan.mounts.append(tmpfs()) }
            plan.mounts.append(fs("cgroup2", "", nil))
        case let .hybrid(v1, unified) where ownNamespace:
            plan.mounts.append(tmpfs())
            tmpfsReadonly()
            for h in v1 { plan.mounts.append(fs("cgroup", h.name, h.options)) }
            if unified { plan.mounts.append(fs("cgroup2", "unified", nil)) }
            controllerLinks(v1.map(\.name))
        case .unified where plan.cgroup != nil:
            plan.mounts.append(bind(plan.cgroup!.dirs[0].hostPath, ""))
        case .hybrid where plan.cgroup != nil:
            plan.mounts.append(tmpfs())
            tmpfsReadonly()
            for d in plan.cgroup!.dirs { plan.mounts.append(bind(d.hostPath, d.hierarchy)) }
            controllerLinks(plan.cgroup!.dirs.map(\.hierarchy))
        case .unified, .hybrid:
            // No cgroup of its own and no namespace: the host's, read-only
            // all the way down (CVE-2023-25809).
            var mp = MountPlan(
                kind: .bind(source: "/sys/fs/cgroup", recursive: true), target: target,
                destination: m.destination, origin: path)
            mp.recursiveAttrSet =
                UInt64(MOUNT_ATTR_RDONLY) | UInt64(MOUNT_ATTR_NOSUID) | UInt64(MOUNT_ATTR_NODEV)
                | UInt64(MOUNT_ATTR_NOEXEC)
            mp.keepLocked = true
            plan.mounts.append(mp)
        case .none:
            throw SpecError(path: path, "the host has no cgroup filesystem to show in the container")
        }
    }

    // MARK: devices

    static let defaultDevices: [(String, UInt32, UInt32)] = [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ]

    static func lowerDevices(_ spec: Spec, _ host: HostFacts, _ plan: inout LaunchPlan) throws(SpecError) {
        // Without mknod (a user namespace) nodes are bind-mounted from the host.
        let bind = plan.creates(.user) || plan.namespaces.contains { $0.type == .user } || host.userNamespaced
        let devBound = plan.mounts.contains { mp in
            if case .bind = mp.kind { return mp.target == "dev" }
            return false
        }
        if !devBound {
            for (name, major, minor) in defaultDevices {
                plan.devices.append(
                    DevicePlan(
                        path: "dev/\(name)", mode: UInt32(S_IFCHR) | 0o666, major: major,
                        minor: minor, uid: 0, gid: 0,
                        bindFromHost: bind ? "/dev/\(name)" : nil, origin: "default device /dev/\(name)"))
            }
            plan.directories = ["dev/pts", "dev/shm"]
            plan.symlinks += [
                SymlinkPlan(target: "/proc/self/fd", path: "dev/fd"),
                SymlinkPlan(target: "/proc/self/fd/0", path: "dev/stdin"),
                SymlinkPlan(target: "/proc/self/fd/1", path: "dev/stdout"),
                SymlinkPlan(target: "/proc/self/fd/2", path: "dev/stderr"),
                SymlinkPlan(target: "pts/ptmx", path: "dev/ptmx"),
            ]
        }
        for (i, d) in (spec.linux?.devices ?? []).enumerated() {
            let path = "linux.devices[\(i)]"
            guard ContainerPath.isAbsolute(d.path) else {
                throw SpecError(path: "\(path).path", "must be an absolute path, got `\(d.path)`")
            }
            let rel = ContainerPath.relative(d.path)
            if rel.isEmpty || rel == "dev" { throw SpecError(path: "\(path).path", "`\(d.path)` is not a device path") }
            var major: UInt32 = 0, minor: UInt32 = 0
            if d.type != .fifo {
                guard let ma = d.major else { throw SpecError(path: "\(path).major", "required for a `\(d.type.rawValue)` device") }
                guard let mi = d.minor else { throw SpecError(path: "\(path).minor", "required for a `\(d.type.rawValue)` device") }
                guard let ma32 = UInt32(exactly: ma), ma32 < 1 << 12 else {
                    throw SpecError(path: "\(path).major", "\(ma) is not a device major number (0...4095)")
                }
                guard let mi32 = UInt32(exactly: mi), mi32 < 1 << 20 else {
                    throw SpecError(path: "\(path).minor", "\(mi) is not a device minor number (0...1048575)")
                }
                major = ma32
                minor = mi32
            }
            let perm = d.fileMode ?? 0o666
            guard perm <= 0o7777 else { throw SpecError(path: "\(path).fileMode", "\(perm) is not a file mode") }
            let type: UInt32 =
                switch d.type {
                case .char, .unbuffered: UInt32(S_IFCHR)
                case .block: UInt32(S_IFBLK)
                case .fifo: UInt32(S_IFIFO)
                }
            let dev = DevicePlan(
                path: rel, mode: type | perm, major: major, minor: minor, uid: d.uid ?? 0,
                gid: d.gid ?? 0, bindFromHost: bind ? "/" + rel : nil, origin: path)
            if let j = plan.devices.firstIndex(where: { $0.path == rel }) {
                plan.devices[j] = dev
            } else {
                plan.devices.append(dev)
            }
        }
    }
}

/// The links a v1 cgroup tmpfs holds besides its hierarchies: each
/// controller of a hierarchy with several ("cpu,cpuacct") by its own name,
/// as on the host. (link name, hierarchy it points to)
public func cgroupControllerLinks(_ names: [String]) -> [(link: String, target: String)] {
    var out: [(String, String)] = []
    for name in names where name.contains(",") {
        for c in name.pieces(UInt8(ascii: ",")) where !names.contains(c) { out.append((c, name)) }
    }
    return out
}
