import Glibc
import OCISpec
import Planning
import Testing

/// A config with `linux` and `mounts` members merged in.
func spec(_ extra: String = "", linux: String = "", process: String = "") throws -> Spec {
    let json = """
        {"ociVersion":"1.3.0","root":{"path":"rootfs"},
         "process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/"\(process.isEmpty ? "" : "," + process)},
         "linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]\(linux.isEmpty ? "" : "," + linux)}
         \(extra.isEmpty ? "" : "," + extra)}
        """
    return try SpecDecoder.decode(Spec.self, json: Array(json.utf8))
}

func plan(_ s: Spec, host: HostFacts = rootHost, image: ImageFacts = ImageFacts()) throws -> LaunchPlan {
    try Planner.plan(s, bundle: "/b", host: host, image: image, id: "t")
}

func rootless(subUIDs: [SubordinateRange] = [], helpers: Bool = true) -> HostFacts {
    HostFacts(
        euid: 1000, egid: 1000, userName: "alice", capLast: 40, umask: 0o022, cgroups: rootHost.cgroups,
        subUIDs: subUIDs, subGIDs: subUIDs, haveIDMapHelpers: helpers)
}

@Suite struct ProgramLookupTests {
    @Test("a program without a slash is looked up along the config's PATH, in order; an empty entry is the cwd")
    func path() throws {
        let p = try plan(spec(process: #""env":["PATH=/a:/b/::/c"]"#))
        #expect(p.execPaths == ["/a/sh", "/b/sh", "sh", "/c/sh"])
        let q = try plan(spec(process: #""env":["PATH=/x","PATH=/é/bin"]"#))
        #expect(q.execPaths == ["/é/bin/sh"], "the last PATH counts")
    }
}

@Suite struct MountLoweringTests {
    @Test("bind options become mount attributes on the top mount, r* options recursive ones")
    func bindAttributes() throws {
        let p = try plan(spec(#""mounts":[{"destination":"/d","source":"data","options":["rbind","ro","nosuid","noatime","rnodev","rprivate"]}]"#))
        let m = try #require(p.mounts.first)
        #expect(m.kind == .bind(source: "/b/data", recursive: true))
        #expect(m.target == "d")
        #expect(m.attrSet == UInt64(MOUNT_ATTR_RDONLY) | UInt64(MOUNT_ATTR_NOSUID) | UInt64(MOUNT_ATTR_NOATIME))
        #expect(m.attrClear == UInt64(MOUNT_ATTR__ATIME))
        #expect(m.recursiveAttrSet == UInt64(MOUNT_ATTR_NODEV))
        #expect(m.propagation == UInt64(MS_PRIVATE) && m.propagationRecursive)
        #expect(!m.keepLocked)
    }

    @Test("filesystem mounts take mount(2) flags and pass unknown options as data")
    func filesystem() throws {
        let p = try plan(
            spec(#""mounts":[{"destination":"/t/../tmp//x","type":"tmpfs","source":"tmpfs","options":["nosuid","ro","mode=1777","size=1m","rshared"]}]"#))
        let m = try #require(p.mounts.first)
        // A read-only tmpfs is mounted read-write and made read-only after
        // what goes below it (runc: a `ro` /dev).
        #expect(m.kind == .filesystem(type: "tmpfs", source: "tmpfs", flags: UInt(MS_NOSUID), data: "mode=1777,size=1m"))
        #expect(p.lateReadonly == [0])
        #expect(!m.keepTargetMode, "mode= is given")
        #expect(m.target == "tmp/x")
        #expect(m.propagation == UInt64(MS_SHARED) && m.propagationRecursive)
    }

    @Test("a later atime option replaces an earlier one")
    func atime() throws {
        let p = try plan(spec(#""mounts":[{"destination":"/t","type":"tmpfs","source":"t","options":["noatime","strictatime"]}]"#))
        #expect(p.mounts.first?.kind == .filesystem(type: "tmpfs", source: "t", flags: UInt(MS_STRICTATIME), data: nil))
    }

    @Test("a cgroup mount on a hybrid host without a cgroup namespace: tmpfs, the container's own directory of each hierarchy, read-only")
    func cgroupHybrid() throws {
        let p = try plan(spec(#""mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","ro"]}]"#))
        #expect(p.mounts.map(\.target) == ["sys/fs/cgroup", "sys/fs/cgroup/cpu", "sys/fs/cgroup/systemd", "sys/fs/cgroup/unified"])
        #expect(p.mounts[2].kind == .bind(source: "/sys/fs/cgroup/systemd/t", recursive: false))
        #expect(p.mounts[2].attrSet & UInt64(MOUNT_ATTR_RDONLY) != 0)
        #expect(p.mounts[3].kind == .bind(source: "/sys/fs/cgroup/unified/t", recursive: false))
        // The tmpfs turns read-only once what is in it is made.
        #expect(p.lateReadonly == [0])
    }

    @Test("with a cgroup namespace of its own, each hierarchy is mounted fresh inside it; co-mounted controllers get links")
    func cgroupHybridNamespace() throws {
        var host = rootHost
        host.cgroups = .hybrid(
            v1: [
                CgroupHierarchy(name: "cpu,cpuacct", options: "cpu,cpuacct"),
                CgroupHierarchy(name: "systemd", options: "none,name=systemd"),
            ], unified: true)
        let p = try plan(
            spec(
                #""mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","ro"]}]"#,
                linux: #""namespaces":[{"type":"mount"},{"type":"cgroup"}]"#), host: host)
        #expect(p.mounts.map(\.target) == ["sys/fs/cgroup", "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/systemd", "sys/fs/cgroup/unified"])
        #expect(p.mounts[2].kind == .filesystem(type: "cgroup", source: "cgroup", flags: UInt(MS_NOSUID) | UInt(MS_RDONLY), data: "none,name=systemd"))
        #expect(p.lateReadonly == [0])
        #expect(
            p.symlinks.filter { $0.path.hasPrefix("sys/") } == [
                SymlinkPlan(target: "cpu,cpuacct", path: "sys/fs/cgroup/cpu"),
                SymlinkPlan(target: "cpu,cpuacct", path: "sys/fs/cgroup/cpuacct"),
            ])
    }

    @Test("on a cgroup v2 host: the container's directory bound, or cgroup2 inside a cgroup namespace")
    func cgroupUnified() throws {
        var host = rootHost
        host.cgroups = .unified
        host.ownCgroups = [OwnCgroup(controllers: "", path: "/user.slice/session-1.scope")]
        let m = #""mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}]"#
        let p = try plan(spec(m), host: host)
        #expect(p.mounts.count == 1)
        // Relative on v2: below the parent of the caller's cgroup (runc).
        #expect(p.mounts[0].kind == .bind(source: "/sys/fs/cgroup/user.slice/t", recursive: false))
        let q = try plan(spec(m, linux: #""namespaces":[{"type":"mount"},{"type":"cgroup"}]"#), host: host)
        #expect(q.mounts.count == 1)
        #expect(q.mounts[0].kind == .filesystem(type: "cgroup2", source: "cgroup2", flags: UInt(MS_RDONLY), data: nil))
    }

    @Test(
        "a fresh cgroup2 where a recursive bind of /sys brought the host's cgroup2 goes on a tmpfs (the kernel refuses the same superblock on its own mount point)"
    )
    func cgroup2OverHostCgroup2() throws {
        var host = rootless()
        host.cgroups = .unified
        let s = try spec(
            #""mounts":[{"destination":"/sys","type":"none","source":"/sys","options":["rbind","nosuid","ro"]},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}]"#,
            linux:
                #""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces":[{"type":"mount"},{"type":"user"},{"type":"cgroup"}]"#
        )
        let p = try plan(s, host: host)
        // The bind, its host cgroups made read-only (CVE-2023-25809), then a
        // tmpfs and the cgroup namespace's own cgroup2 over them.
        #expect(p.mounts.map(\.target) == ["sys", "sys/fs/cgroup", "sys/fs/cgroup", "sys/fs/cgroup"])
        #expect(p.mounts[1].kind == .attributes)
        #expect(p.mounts[2].kind == .filesystem(type: "tmpfs", source: "cgroup", flags: UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC), data: "mode=755"))
        #expect(p.mounts[3].kind == .filesystem(type: "cgroup2", source: "cgroup2", flags: UInt(MS_RDONLY), data: nil))
        // Without the bind below it, no tmpfs.
        let plain = try plan(
            spec(
                #""mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"}]"#,
                linux: #""namespaces":[{"type":"mount"},{"type":"cgroup"}]"#),
            host: HostFacts(euid: 0, egid: 0, userName: "root", capLast: 40, umask: 0o022, cgroups: .unified))
        #expect(plain.mounts.count == 1)
    }

    @Test("in a user namespace with a cgroup namespace, cgroups are mounted as root mounts them")
    func cgroupRootlessWithNamespace() throws {
        let s = try spec(
            #""mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}]"#,
            linux:
                #""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces":[{"type":"mount"},{"type":"user"},{"type":"cgroup"}]"#
        )
        let p = try plan(s, host: rootless())
        #expect(p.mounts.count == 4 && p.lateReadonly == [0])
        #expect(p.mounts[1].kind == .filesystem(type: "cgroup", source: "cgroup", flags: UInt(MS_RDONLY), data: "cpu"))
    }

    @Test("in a user namespace a bind of /sys makes the cgroups below it read-only (CVE-2023-25809)")
    func sysBindRootless() throws {
        let s = try spec(
            #""mounts":[{"destination":"/sys","source":"/sys","options":["rbind","ro"]},{"destination":"/c","source":"/sys/fs/cgroup/cpu","options":["bind"]}]"#,
            linux:
                #""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces":[{"type":"mount"},{"type":"user"}]"#
        )
        let p = try plan(s, host: rootless())
        #expect(p.mounts.map(\.target) == ["sys", "sys/fs/cgroup", "c"])
        #expect(p.mounts[1].kind == .attributes && p.mounts[1].recursiveAttrSet == UInt64(MOUNT_ATTR_RDONLY))
        #expect(p.mounts[2].recursiveAttrSet == UInt64(MOUNT_ATTR_RDONLY))
    }

    @Test("in a user namespace without a cgroup namespace a hybrid host's cgroups are bound read-only all the way down (CVE-2023-25809)")
    func cgroupRootless() throws {
        let s = try spec(
            #""mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}]"#,
            linux:
                #""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces":[{"type":"mount"},{"type":"user"}]"#
        )
        let p = try plan(s, host: rootless())
        #expect(p.mounts.count == 1)
        #expect(p.mounts[0].kind == .bind(source: "/sys/fs/cgroup", recursive: true))
        #expect(p.mounts[0].recursiveAttrSet & UInt64(MOUNT_ATTR_RDONLY) != 0)
    }
}

@Suite struct DeviceTests {
    @Test("default devices, links and directories when /dev is not bound from the host")
    func defaults() throws {
        let p = try plan(spec())
        #expect(p.devices.map(\.path) == ["dev/null", "dev/zero", "dev/full", "dev/random", "dev/urandom", "dev/tty"])
        #expect(p.devices[0].mode == UInt32(S_IFCHR) | 0o666 && p.devices[0].major == 1 && p.devices[0].minor == 3)
        #expect(p.devices.allSatisfy { $0.bindFromHost == nil })
        #expect(p.symlinks.contains { $0.target == "pts/ptmx" && $0.path == "dev/ptmx" })
        #expect(p.directories == ["dev/pts", "dev/shm"])
    }

    @Test("no default devices over a bind-mounted /dev")
    func boundDev() throws {
        let p = try plan(spec(#""mounts":[{"destination":"/dev","source":"/dev","options":["rbind"]}]"#))
        #expect(p.devices.isEmpty && p.symlinks.isEmpty)
    }

    @Test("a config device replaces a default one at the same path and keeps its mode")
    func override() throws {
        let p = try plan(spec(linux: #""devices":[{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384,"uid":5},{"path":"/dev/q","type":"p"}]"#))
        let null = try #require(p.devices.first { $0.path == "dev/null" })
        #expect(null.mode == UInt32(S_IFCHR) | 0o600 && null.uid == 5 && null.origin == "linux.devices[0]")
        #expect(p.devices.last?.mode == UInt32(S_IFIFO) | 0o666)
    }

    @Test("in a user namespace devices are bound from the host")
    func userns() throws {
        let s = try spec(
            linux:
                #""uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"namespaces":[{"type":"mount"},{"type":"user"}]"#
        )
        let p = try plan(s, host: rootless())
        #expect(p.devices.allSatisfy { $0.bindFromHost == "/" + $0.path })
    }
}

@Suite struct ProcessTests {
    @Test(
        "PATH lookup candidates in order; an empty entry means the cwd; a slash means no lookup",
        arguments: [
            ("sh", ["PATH=/usr/bin::/bin/"], ["/usr/bin/sh", "sh", "/bin/sh"]),
            ("./x", ["PATH=/bin"], ["./x"]),
            ("ls", ["A=1"], ["/usr/local/sbin/ls", "/usr/local/bin/ls", "/usr/sbin/ls", "/usr/bin/ls", "/sbin/ls", "/bin/ls"]),
        ])
    func path(arg0: String, env: [String], expected: [String]) throws {
        let envJSON = env.map { "\"\($0)\"" }.joined(separator: ",")
        let p = try plan(spec(process: #""args":["\#(arg0)"],"env":[\#(envJSON)]"#))
        #expect(p.execPaths == expected)
    }

    @Test("HOME comes from the image's passwd, else /")
    func home() throws {
        #expect(try plan(spec(), image: ImageFacts(homes: [(0, "/root")])).env.contains("HOME=/root"))
        #expect(try plan(spec()).env.contains("HOME=/"))
        #expect(try plan(spec(process: #""env":["HOME=/x"]"#)).env == ["HOME=/x"])
    }

    @Test("capability sets become bit masks")
    func caps() throws {
        let p = try plan(
            spec(
                process:
                    #""capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"],"inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]}"#
            ))
        #expect(p.capabilities.bounding == (1 << 0) | (1 << 21))
        #expect(p.capabilities.effective == 1 << 5)
        #expect(p.capabilities.ambient == 1 << 5)
        #expect(p.warnings.isEmpty)
    }

    @Test("capabilities the kernel lacks are warnings; ambient ones that cannot be raised are debug notes (runc compat #6: runc spec's own config has them)")
    func capWarnings() throws {
        var host = rootHost
        host.capLast = 37
        let p = try plan(spec(process: #""capabilities":{"bounding":["CAP_BPF"],"permitted":["CAP_KILL"],"ambient":["CAP_KILL"]}"#), host: host)
        #expect(p.capabilities.bounding == 0)
        #expect(p.capabilities.ambient == 0)
        #expect(p.warnings == ["process.capabilities.bounding[0]: `CAP_BPF` is not known to this kernel; ignored"])
        #expect(p.notes.contains("process.capabilities.ambient[0]: `CAP_KILL` is not both permitted and inheritable, so it cannot be ambient; ignored"))
    }

    @Test("rlimits map to resource numbers; umask defaults to the caller's")
    func rlimits() throws {
        let p = try plan(spec(process: #""rlimits":[{"type":"RLIMIT_NOFILE","hard":20,"soft":10},{"type":"RLIMIT_CORE","hard":0,"soft":0}]"#))
        #expect(p.rlimits.map(\.resource) == [Int32(RLIMIT_NOFILE.rawValue), Int32(RLIMIT_CORE.rawValue)])
        #expect(p.umask == 0o022)
    }
}

@Suite struct NamespaceTests {
    @Test("sysctl keys become paths under /proc/sys; time offsets become timens_offsets text")
    func sysctlAndTime() throws {
        let s = try spec(
            linux:
                #""namespaces":[{"type":"mount"},{"type":"network"},{"type":"time"}],"sysctl":{"net.ipv4.ip_forward":"1"},"timeOffsets":{"monotonic":{"secs":86400},"boottime":{"secs":-5,"nanosecs":7}}"#
        )
        let p = try plan(s)
        #expect(p.sysctls.map { [$0.key, $0.path, $0.value] } == [["net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward", "1"]])
        #expect(p.timeOffsets == "monotonic 86400 0\nboottime -5 7\n")
        #expect(p.loopbackUp)
    }

    @Test(
        "rootfsPropagation: / is made slave or private first, the choice goes on after pivot_root",
        arguments: [
            ("shared", UInt(MS_SLAVE) | UInt(MS_REC), UInt(MS_SHARED) | UInt(MS_REC)),
            ("private", UInt(MS_PRIVATE) | UInt(MS_REC), UInt(0)),
            ("unbindable", UInt(MS_PRIVATE) | UInt(MS_REC), UInt(MS_UNBINDABLE) | UInt(MS_REC)),
        ])
    func propagation(value: String, root: UInt, after: UInt) throws {
        let p = try plan(spec(linux: #""rootfsPropagation":"\#(value)""#))
        #expect(p.rootPropagation == root && p.rootfsPropagation == after)
    }

    @Test("an unprivileged user mapping only itself writes the maps directly, setgroups denied")
    func selfMapping() throws {
        let s = try spec(
            linux:
                #""namespaces":[{"type":"mount"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]"#
        )
        let u = try #require(try plan(s, host: rootless()).userNamespace)
        #expect(u.writer == .direct && u.denySetgroups && u.rootMapped)
    }

    @Test("ranges need /etc/subuid: the error names the user, the range and the file")
    func subordinate() throws {
        let s = try spec(
            linux:
                #""namespaces":[{"type":"mount"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":200000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]"#
        )
        #expect { try plan(s, host: rootless()) } throws: { e in
            "\(e)"
                == "linux.uidMappings[1]: user `alice` may not map host ids 200000-265535: they are not in /etc/subuid; add a line `alice:200000:65536` to /etc/subuid (as root); `skiff check` shows your ranges"
        }
        let allowed = rootless(subUIDs: [SubordinateRange(start: 200000, count: 65536)])
        #expect(try plan(s, host: allowed).userNamespace?.writer == .helpers)
        let noHelpers = rootless(subUIDs: [SubordinateRange(start: 200000, count: 65536)], helpers: false)
        #expect { try plan(s, host: noHelpers) } throws: { e in "\(e)".contains("newuidmap and newgidmap") }
    }

    @Test("supplementary groups cannot be set when setgroups is denied")
    func deniedGroups() throws {
        let s = try spec(
            linux:
                #""namespaces":[{"type":"mount"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]"#,
            process: #""user":{"uid":0,"gid":0,"additionalGids":[0]}"#)
        #expect { try plan(s, host: rootless()) } throws: { e in "\(e)".hasPrefix("process.user.additionalGids: supplementary groups cannot be set") }
    }

    @Test("an unprivileged user needs a user namespace")
    func rootlessNeedsUserNS() throws {
        #expect { try plan(spec(), host: rootless()) } throws: { e in
            "\(e)".hasPrefix("linux.namespaces: an unprivileged user (uid 1000) needs a user namespace")
        }
    }

    @Test("a limit without a delegated cgroup says how to delegate")
    func rootlessLimits() throws {
        let s = try spec(
            linux:
                #""namespaces":[{"type":"mount"},{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}],"resources":{"pids":{"limit":10}}"#
        )
        #expect { try plan(s, host: rootless()) } throws: { e in
            "\(e)".hasPrefix("linux.resources.pids: cannot be applied for user `alice`: this host has no cgroup v2 hierarchy that can be delegated")
        }
    }
}

@Suite struct PathTests {
    @Test(
        "container paths are normalised lexically",
        arguments: [
            ("/", ""), ("/dev//pts/", "dev/pts"), ("/a/./b/../c", "a/c"), ("/../../etc", "etc"),
        ])
    func relative(input: String, expected: String) {
        #expect(ContainerPath.relative(input) == expected)
    }

    @Test("every validation check has a name")
    func checks() {
        #expect(Validation.checks.map(\.name).allSatisfy { !$0.isEmpty })
        #expect(Set(Validation.checks.map(\.name)).count == Validation.checks.count)
    }
}

@Suite struct LSMPlanningTests {
    @Test("an AppArmor profile is applied where AppArmor has it loaded, refused by name otherwise")
    func apparmor() throws {
        let s = try spec(process: #""apparmorProfile": "docker-default""#)
        var host = rootHost
        #expect(throws: SpecError.self) { try plan(s, host: host) }
        host.apparmorEnabled = true
        host.apparmorProfiles = ["docker-default", "other"]
        #expect(try plan(s, host: host).apparmorExec == "exec docker-default")
        host.apparmorProfiles = ["other"]
        do {
            _ = try plan(s, host: host)
            Issue.record("a profile that is not loaded was accepted")
        } catch {
            #expect("\(error)".contains("process.apparmorProfile: `docker-default` is not loaded"))
        }
    }

    @Test("SELinux labels apply where SELinux is enabled: the process label, context= on the filesystems that take it")
    func selinux() throws {
        let s = try spec(
            #""mounts":[{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["mode=755"]},{"destination":"/proc","type":"proc","source":"proc"}]"#,
            linux: #""mountLabel": "system_u:object_r:container_file_t:s0""#,
            process: #""selinuxLabel": "system_u:system_r:container_t:s0""#)
        let off = try plan(s)
        #expect(off.selinuxExec == nil && off.notes.count == 2)
        var host = rootHost
        host.selinuxEnabled = true
        let on = try plan(s, host: host)
        #expect(on.selinuxExec == "system_u:system_r:container_t:s0")
        #expect(
            on.mounts[0].kind
                == .filesystem(
                    type: "tmpfs", source: "tmpfs", flags: 0,
                    data: #"mode=755,context="system_u:object_r:container_file_t:s0""#))
        if case let .filesystem(_, _, _, data) = on.mounts[1].kind { #expect(data == nil, "proc takes no context=") }
    }
}
