import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// Gathers HostFacts and ImageFacts: the only inputs of planning that come
/// from the system. Each fact is read only when the spec needs it.
enum HostProbe {
    static func facts(for spec: Spec) -> HostFacts {
        let euid = UInt32(Sys.euid)
        let egid = UInt32(Sys.egid)
        let needsCgroups = (spec.mounts ?? []).contains { $0.type == "cgroup" }
        let userNS = spec.linux?.namespaces?.contains { $0.type == .user && $0.path == nil } ?? false
        let name = userName(euid)
        var facts = HostFacts(euid: euid, egid: egid, userName: name, capLast: capLast(), umask: currentUmask(),
                              cgroups: needsCgroups ? cgroupLayout() : .none)
        if euid != 0 && userNS {
            facts.subUIDs = subordinate("/etc/subuid", user: name, id: euid)
            facts.subGIDs = subordinate("/etc/subgid", user: name, id: euid)
            facts.haveIDMapHelpers = access("/usr/bin/newuidmap", X_OK) == 0 && access("/usr/bin/newgidmap", X_OK) == 0
        }
        return facts
    }

    static func currentUmask() -> UInt32 {
        let m = umask(0o022)
        umask(m)
        return UInt32(m)
    }

    static func capLast() -> Int {
        guard let b = try? Sys.readFile("/proc/sys/kernel/cap_last_cap"),
              let n = Int(String(decoding: b, as: UTF8.self).trimmingWhitespace()) else { return 40 }
        return n
    }

    /// The user name of a uid, from /etc/passwd (no NSS: one static binary).
    static func userName(_ uid: UInt32) -> String {
        guard let b = try? Sys.readFile("/etc/passwd") else { return "\(uid)" }
        for line in b.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            if f.count > 2, UInt32(String(decoding: f[2], as: UTF8.self)) == uid {
                return String(decoding: f[0], as: UTF8.self)
            }
        }
        return "\(uid)"
    }

    /// Home directories from a passwd file's bytes.
    static func homes(passwd: [UInt8]) -> [UInt32: String] {
        var homes: [UInt32: String] = [:]
        for line in passwd.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard f.count > 5, let uid = UInt32(String(decoding: f[2], as: UTF8.self)) else { continue }
            if homes[uid] == nil { homes[uid] = String(decoding: f[5], as: UTF8.self) }
        }
        return homes
    }

    /// The image's /etc/passwd, read inside the rootfs (a symlink in the
    /// image cannot send the read to the host's file).
    static func imageFacts(rootfs: String, needHome: Bool) -> ImageFacts {
        guard needHome, let root = try? Sys.open(rootfs, skiff_O_PATH | O_DIRECTORY),
              let fd = try? Sys.openat2(root.raw, "etc/passwd", O_RDONLY,
                                        resolve: UInt64(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)),
              let bytes = try? Sys.read(fd) else { return ImageFacts() }
        return ImageFacts(homes: homes(passwd: bytes))
    }

    /// Lines `user:start:count` (or `uid:start:count`) of /etc/subuid or /etc/subgid.
    static func subordinate(_ file: String, user: String, id: UInt32) -> [SubordinateRange] {
        guard let b = try? Sys.readFile(file) else { return [] }
        var ranges: [SubordinateRange] = []
        for line in b.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: ":")).map { String(decoding: $0, as: UTF8.self) }
            guard f.count == 3, f[0] == user || f[0] == "\(id)",
                  let start = UInt32(f[1]), let count = UInt32(f[2]) else { continue }
            ranges.append(SubordinateRange(start: start, count: count))
        }
        return ranges
    }

    /// Where cgroup filesystems are mounted, from /proc/self/mountinfo.
    static func cgroupLayout() -> CgroupLayout {
        guard let b = try? Sys.readFile("/proc/self/mountinfo") else { return .none }
        var v1: [CgroupHierarchy] = []
        var unifiedAtRoot = false, unifiedBelow = false
        let notControllers: Set<String> = ["rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
                                           "favordynmods", "nsdelegate"]
        for line in b.split(separator: UInt8(ascii: "\n")) {
            let text = String(decoding: line, as: UTF8.self)
            let halves = text.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = String(left[4])
            switch right[0] {
            case "cgroup2":
                if mountPoint == "/sys/fs/cgroup" { unifiedAtRoot = true }
                if mountPoint == "/sys/fs/cgroup/unified" { unifiedBelow = true }
            case "cgroup":
                guard mountPoint.hasPrefix("/sys/fs/cgroup/") else { continue }
                let name = String(mountPoint.dropFirst("/sys/fs/cgroup/".count))
                guard !name.isEmpty, !name.contains("/"), !v1.contains(where: { $0.name == name }) else { continue }
                var controllers: [String] = []
                var named: String?
                for o in right[2].split(separator: ",") {
                    if o.hasPrefix("name=") { named = String(o) }
                    else if !o.contains("="), !notControllers.contains(String(o)) { controllers.append(String(o)) }
                }
                var options = controllers
                if let named { options.append(named) }
                if controllers.isEmpty { options.insert("none", at: 0) }
                v1.append(CgroupHierarchy(name: name, options: options.joined(separator: ",")))
            default:
                continue
            }
        }
        if unifiedAtRoot && v1.isEmpty { return .unified }
        if !v1.isEmpty { return .hybrid(v1: v1, unified: unifiedBelow) }
        return .none
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
