import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// Gathers HostFacts and ImageFacts: the only inputs of planning that come
/// from the system. Each fact is read only when the spec needs it.
enum HostProbe {
    static func facts(for spec: Spec, systemd: Bool = false) -> HostFacts {
        var facts = processFacts(for: spec)
        let euid = facts.euid
        // root's containers always get a cgroup (as runc's); an unprivileged
        // caller's only when it asks for limits or has a delegated one.
        let linux = spec.linux
        let wantsCgroup = linux?.resources != nil || !(linux?.cgroupsPath ?? "").isEmpty
        // --systemd-cgroup always makes a scope, for root and anyone else.
        let needsCgroups = euid == 0 || systemd || wantsCgroup || (spec.mounts ?? []).contains { $0.type == "cgroup" }
        let userNS = spec.linux?.namespaces?.contains { $0.type == .user && $0.path == nil } ?? false
        // The name only appears in messages for unprivileged users.
        let name = euid == 0 ? "root" : userName(euid)
        facts.userName = name
        facts.cgroups = needsCgroups || facts.userNamespaced ? cgroupLayout() : .none
        if needsCgroups && facts.cgroups != .none {
            facts.ownCgroups = ownCgroups()
            if facts.rootless, !systemd, case .unified = facts.cgroups, let own = facts.ownV2Cgroup {
                facts.cgroupDelegated = delegated(CgroupLowering.parent(own), euid)
            }
        }
        // Subordinate ids only matter for maps beyond the caller's own ids.
        if euid != 0 && userNS && !Planner.mapsOnlyOwnIDs(spec, euid: euid, egid: facts.egid) {
            facts.subUIDs = subordinate("/etc/subuid", user: name, id: euid)
            facts.subGIDs = subordinate("/etc/subgid", user: name, id: euid)
            facts.haveIDMapHelpers = access("/usr/bin/newuidmap", X_OK) == 0 && access("/usr/bin/newgidmap", X_OK) == 0
        }
        return facts
    }

    /// What planning a process reads (exec's: its namespaces, cgroup and
    /// root are the container's): the caller's ids and umask, the
    /// capabilities the kernel knows, setgroups, the LSMs the process asks
    /// for. Not what making a container reads (the cgroup layout from
    /// mountinfo, subordinate ids, the user's name).
    static func processFacts(for spec: Spec) -> HostFacts {
        let euid = UInt32(Sys.euid)
        let egid = UInt32(Sys.egid)
        let userNamespaced = euid == 0 && Proc.inUserNamespace()
        var facts = HostFacts(
            euid: euid, egid: egid, userName: euid == 0 ? "root" : "\(euid)", capLast: capLast(), umask: currentUmask(),
            cgroups: .none)
        facts.userNamespaced = userNamespaced
        if userNamespaced || euid != 0, let b = try? Sys.readFile("/proc/self/setgroups") {
            facts.setgroupsDenied = b.starts(with: Array("deny".utf8))
        }
        let p = spec.process
        if !(p?.apparmorProfile ?? "").isEmpty {
            let enabled = (try? Sys.readFile("/sys/module/apparmor/parameters/enabled"))?.first == UInt8(ascii: "Y")
            facts.apparmorEnabled = enabled
            if enabled, let list = try? Sys.readFile("/sys/kernel/security/apparmor/profiles") {
                // Lines "name (mode)".
                facts.apparmorProfiles = String(decoding: list, as: UTF8.self).split(separator: "\n").map { line in
                    line.offset(of: " (").map { String(decoding: line.utf8.prefix($0), as: UTF8.self) } ?? String(line)
                }
            }
        }
        if !(p?.selinuxLabel ?? "").isEmpty || !(spec.linux?.mountLabel ?? "").isEmpty {
            facts.selinuxEnabled = (try? Sys.stat("/sys/fs/selinux/enforce")) != nil
        }
        return facts
    }

    static func currentUmask() -> UInt32 {
        let m = umask(0o022)
        umask(m)
        return UInt32(m)
    }

    /// Digits read as bytes: Character.isWhitespace would page in the
    /// stdlib's Unicode property tables for one number.
    static func capLast() -> Int { hostCapLast }
    /// Read once per invocation (it is the kernel's).
    private static let hostCapLast: Int = {
        guard let b = try? Sys.readFile("/proc/sys/kernel/cap_last_cap") else { return 40 }
        var n = 0, digits = 0
        for c in b {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { break }
            n = n * 10 + Int(c - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 && digits < 4 ? n : 40
    }()

    /// The user name of a uid, from /etc/passwd (no NSS: one static binary).
    static func userName(_ uid: UInt32) -> String {
        guard let b = try? Sys.readFile("/etc/passwd") else { return "\(uid)" }
        // "name:password:uid:...", line by line; a scan, not split: every
        // unprivileged create reads this file.
        let colon = UInt8(ascii: ":")
        var start = 0
        while start < b.count {
            let end = b[start...].firstIndex(of: UInt8(ascii: "\n")) ?? b.count
            if let c1 = b[start..<end].firstIndex(of: colon), let c2 = b[(c1 + 1)..<end].firstIndex(of: colon) {
                let c3 = b[(c2 + 1)..<end].firstIndex(of: colon) ?? end
                if Proc.decimal(b[(c2 + 1)..<c3]) == UInt64(uid) { return String(decoding: b[start..<c1], as: UTF8.self) }
            }
            start = end + 1
        }
        return "\(uid)"
    }

    /// Home directories from a passwd file's bytes.
    static func homes(passwd: [UInt8]) -> [(uid: UInt32, home: String)] {
        var homes: [(uid: UInt32, home: String)] = []
        for line in passwd.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard f.count > 5, let uid = UInt32(String(decoding: f[2], as: UTF8.self)) else { continue }
            homes.append((uid, String(decoding: f[5], as: UTF8.self)))
        }
        return homes
    }

    /// The image's /etc/passwd, read inside the rootfs (a symlink in the
    /// image cannot send the read to the host's file) and only if it is a
    /// regular file of sensible size: the image may make it a FIFO, which
    /// would hang skiff, or a device node, which root must never open.
    static let maxPasswdSize = 4 << 20

    static func imageFacts(rootfs: String, needHome: Bool) -> ImageFacts {
        guard needHome, let root = try? Sys.open(rootfs, skiff_O_PATH | O_DIRECTORY),
            let bytes = try? Sys.readRegularFile(
                at: root.raw, "etc/passwd",
                resolve: UInt64(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
                limit: maxPasswdSize, display: rootfs + "/etc/passwd")
        else { return ImageFacts() }
        return ImageFacts(homes: homes(passwd: bytes))
    }

    /// Lines `user:start:count` (or `uid:start:count`) of /etc/subuid or /etc/subgid.
    static func subordinate(_ file: String, user: String, id: UInt32) -> [SubordinateRange] {
        guard let b = try? Sys.readFile(file) else { return [] }
        var ranges: [SubordinateRange] = []
        for line in b.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: ":")).map { String(decoding: $0, as: UTF8.self) }
            guard f.count == 3, f[0] == user || f[0] == "\(id)",
                let start = UInt32(f[1]), let count = UInt32(f[2])
            else { continue }
            ranges.append(SubordinateRange(start: start, count: count))
        }
        return ranges
    }

    /// /proc/self/cgroup: "ID:CONTROLLERS:PATH" lines, keyed by controllers.
    static func ownCgroups() -> [OwnCgroup] { ownCgroups(of: nil) }

    /// The same of another process (nil: this one).
    static func ownCgroups(of pid: Int32?) -> [OwnCgroup] {
        guard let b = try? Sys.readFile(pid.map { "/proc/\($0)/cgroup" } ?? "/proc/self/cgroup") else { return [] }
        var out: [OwnCgroup] = []
        for line in b.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            out.append(OwnCgroup(controllers: String(decoding: f[1], as: UTF8.self), path: String(decoding: f[2], as: UTF8.self)))
        }
        return out
    }

    /// A v2 cgroup is delegated to `uid` when its cgroup.procs and
    /// cgroup.subtree_control are the user's (what systemd's Delegate=yes
    /// and a `chown` give).
    static func delegated(_ path: String, _ uid: UInt32) -> Bool {
        let dir = "/sys/fs/cgroup" + (path == "/" ? "" : path)
        for f in ["cgroup.procs", "cgroup.subtree_control", ""] {
            guard let st = try? Sys.stat(f.isEmpty ? dir : dir + "/" + f), st.st_uid == uid else { return false }
        }
        return true
    }

    /// Where cgroup filesystems are mounted, from /proc/self/mountinfo.
    /// Parsed as bytes: this runs on every create. A cgroup2 filesystem on
    /// /sys/fs/cgroup itself (the standard host) is all there is to know,
    /// and one statfs tells it: mountinfo costs 30 µs and more the more
    /// mounts the host has.
    static func cgroupLayout() -> CgroupLayout {
        if skiff_fs_magic("/sys/fs/cgroup") == Cgroup.cgroup2Magic { return .unified }
        guard let b = try? Sys.readFile("/proc/self/mountinfo") else { return .none }
        return cgroupLayout(mountinfo: b)
    }

    static func cgroupLayout(mountinfo b: [UInt8]) -> CgroupLayout {
        var v1: [CgroupHierarchy] = []
        var unifiedAtRoot = false, unifiedBelow = false
        let prefix = Array("/sys/fs/cgroup".utf8)
        let space = UInt8(ascii: " "), newline = UInt8(ascii: "\n")
        b.withUnsafeBufferPointer { buf in
            var lineStart = 0
            while lineStart < buf.count {
                var lineEnd = lineStart
                while lineEnd < buf.count && buf[lineEnd] != newline { lineEnd += 1 }
                defer { lineStart = lineEnd + 1 }
                // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
                // Field bounds as (start, end): Range<Int> would need a run-time
                // Comparable conformance lookup to instantiate.
                var fields: [(start: Int, end: Int)] = []
                var i = lineStart
                while i < lineEnd {
                    while i < lineEnd && buf[i] == space { i += 1 }
                    let f = i
                    while i < lineEnd && buf[i] != space { i += 1 }
                    if f < i { fields.append((f, i)) }
                    if fields.count == 5 {
                        // Only mount points under /sys/fs/cgroup matter: skip the rest early.
                        let mp = fields[4]
                        var under = mp.end - mp.start >= prefix.count
                        var k = 0
                        while under && k < prefix.count {
                            under = buf[mp.start + k] == prefix[k]
                            k += 1
                        }
                        if !under { break }
                    }
                }
                guard fields.count >= 10,
                    let dash = fields.firstIndex(where: { $0.end - $0.start == 1 && buf[$0.start] == UInt8(ascii: "-") }),
                    dash + 3 < fields.count
                else { continue }
                func text(_ f: (start: Int, end: Int)) -> String {
                    String(decoding: UnsafeBufferPointer(start: buf.baseAddress.map { $0 + f.start }, count: f.end - f.start), as: UTF8.self)
                }
                let rest = text((fields[4].start + prefix.count, fields[4].end))
                let fstype = text(fields[dash + 1])
                if fstype == "cgroup2" {
                    if rest.isEmpty { unifiedAtRoot = true }
                    if rest == "/unified" { unifiedBelow = true }
                } else if fstype == "cgroup", rest.hasPrefix("/"), rest.count > 1 {
                    let name = String(rest.dropFirst())
                    guard !name.utf8.contains(UInt8(ascii: "/")), !v1.contains(where: { $0.name == name }) else { continue }
                    v1.append(CgroupHierarchy(name: name, options: hierarchyOptions(text(fields[dash + 3]))))
                }
            }
        }
        if unifiedAtRoot && v1.isEmpty { return .unified }
        if !v1.isEmpty { return .hybrid(v1: v1, unified: unifiedBelow) }
        return .none
    }
}

extension HostProbe {
    /// The mount data naming a v1 hierarchy, from its super options:
    /// "rw,cpu,cpuacct" -> "cpu,cpuacct"; "rw,name=systemd" -> "none,name=systemd".
    static func hierarchyOptions(_ superOptions: String) -> String {
        let notControllers = [
            "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods",
            "nsdelegate",
        ]
        var controllers: [String] = []
        var named: String?
        // Byte-wise pieces: this runs for every v1 hierarchy on every create.
        for o in superOptions.pieces(UInt8(ascii: ",")) {
            if o.hasPrefix("name=") { named = o } else if !o.utf8.contains(UInt8(ascii: "=")), !notControllers.contains(o) { controllers.append(o) }
        }
        var options = controllers
        if let named { options.append(named) }
        if controllers.isEmpty { options.insert("none", at: 0) }
        return options.joined(by: ",")
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
