import Glibc
import OCISpec

extension Planner {
    /// RLIMIT_* names (getrlimit(2)) and their resource numbers.
    static let rlimitNames: [(String, Int32)] = [
        ("RLIMIT_CPU", Int32(RLIMIT_CPU.rawValue)), ("RLIMIT_FSIZE", Int32(RLIMIT_FSIZE.rawValue)),
        ("RLIMIT_DATA", Int32(RLIMIT_DATA.rawValue)), ("RLIMIT_STACK", Int32(RLIMIT_STACK.rawValue)),
        ("RLIMIT_CORE", Int32(RLIMIT_CORE.rawValue)), ("RLIMIT_RSS", Int32(__RLIMIT_RSS.rawValue)),
        ("RLIMIT_NPROC", Int32(__RLIMIT_NPROC.rawValue)), ("RLIMIT_NOFILE", Int32(RLIMIT_NOFILE.rawValue)),
        ("RLIMIT_MEMLOCK", Int32(__RLIMIT_MEMLOCK.rawValue)), ("RLIMIT_AS", Int32(RLIMIT_AS.rawValue)),
        ("RLIMIT_LOCKS", Int32(__RLIMIT_LOCKS.rawValue)), ("RLIMIT_SIGPENDING", Int32(__RLIMIT_SIGPENDING.rawValue)),
        ("RLIMIT_MSGQUEUE", Int32(__RLIMIT_MSGQUEUE.rawValue)), ("RLIMIT_NICE", Int32(__RLIMIT_NICE.rawValue)),
        ("RLIMIT_RTPRIO", Int32(__RLIMIT_RTPRIO.rawValue)), ("RLIMIT_RTTIME", Int32(__RLIMIT_RTTIME.rawValue)),
    ]

    static func rlimit(_ name: String) -> Int32? { rlimitNames.first { $0.0 == name }?.1 }

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    static func lowerProcess(
        _ spec: Spec, _ host: HostFacts, _ image: ImageFacts,
        _ plan: inout LaunchPlan
    ) throws(SpecError) {
        guard let p = spec.process, let args = p.args else {
            throw SpecError(path: "process", "required to create a container")
        }
        plan.args = args
        plan.cwd = p.cwd
        plan.uid = p.user.uid
        plan.gid = p.user.gid
        plan.additionalGids = p.user.additionalGids ?? []
        plan.umask = p.user.umask ?? host.umask
        plan.noNewPrivileges = p.noNewPrivileges ?? false
        plan.oomScoreAdj = p.oomScoreAdj
        if p.terminal == true {
            plan.terminal = true
            if let size = p.consoleSize {
                guard size.height <= 0xffff, size.width <= 0xffff else {
                    throw SpecError(path: "process.consoleSize", "\(size.height)x\(size.width) is larger than a terminal can be (65535x65535)")
                }
                plan.consoleSize = (rows: UInt32(size.height), cols: UInt32(size.width))
            }
        }

        if let userns = plan.userNamespace {
            try checkMapped(p.user.uid, in: userns.uidMappings, path: "process.user.uid", maps: "linux.uidMappings")
            try checkMapped(p.user.gid, in: userns.gidMappings, path: "process.user.gid", maps: "linux.gidMappings")
            for (i, g) in plan.additionalGids.enumerated() {
                try checkMapped(g, in: userns.gidMappings, path: "process.user.additionalGids[\(i)]", maps: "linux.gidMappings")
            }
            if userns.denySetgroups {
                plan.setGroups = false
                if !plan.additionalGids.isEmpty {
                    throw SpecError(
                        path: "process.user.additionalGids",
                        "supplementary groups cannot be set: with only your own gid mapped, setgroups is denied in the user namespace (map a range from /etc/subgid instead)"
                    )
                }
            }
        }

        if host.setgroupsDenied {
            plan.setGroups = false
            if !plan.additionalGids.isEmpty {
                throw SpecError(
                    path: "process.user.additionalGids",
                    "supplementary groups cannot be set: setgroups is denied in the user namespace skiff runs in (/proc/self/setgroups)")
            }
        }

        var env = p.env ?? []
        if !env.contains(where: { $0.hasPrefix("HOME=") }) {
            env.append("HOME=" + (image.home(of: p.user.uid) ?? "/"))
        }
        plan.env = env
        plan.execPaths = execCandidates(args[0], env: env)

        for (i, r) in (p.rlimits ?? []).enumerated() {
            let path = "process.rlimits[\(i)]"
            guard let resource = rlimit(r.type) else {
                throw SpecError(path: "\(path).type", "unknown rlimit `\(r.type)`")
            }
            guard !plan.rlimits.contains(where: { $0.resource == resource }) else {
                throw SpecError(path: "\(path).type", "duplicate rlimit `\(r.type)`")
            }
            if r.soft > r.hard {
                throw SpecError(path: "\(path).soft", "soft limit \(r.soft) is above the hard limit \(r.hard)")
            }
            plan.rlimits.append(RlimitPlan(name: r.type, resource: resource, soft: r.soft, hard: r.hard))
        }

        if let caps = p.capabilities {
            for (name, values) in caps.sets {
                var bits: UInt64 = 0
                for (i, cap) in (values ?? []).enumerated() {
                    guard let n = Capability.number(cap) else {
                        throw SpecError(path: "process.capabilities.\(name)[\(i)]", "unknown capability `\(cap)`")
                    }
                    // The spec: a capability the kernel cannot grant is a warning.
                    if n > host.capLast {
                        let w = "process.capabilities.\(name)[\(i)]: `\(cap)` is not known to this kernel; ignored"
                        if !plan.warnings.contains(w) { plan.warnings.append(w) }
                        continue
                    }
                    bits |= 1 << UInt64(n)
                }
                switch name {
                case "bounding": plan.capabilities.bounding = bits
                case "effective": plan.capabilities.effective = bits
                case "inheritable": plan.capabilities.inheritable = bits
                case "permitted": plan.capabilities.permitted = bits
                default: plan.capabilities.ambient = bits
                }
            }
            // The kernel raises an ambient capability only if it is permitted
            // and inheritable: one that is not cannot be granted, a warning.
            let caps = plan.capabilities
            for (i, cap) in (p.capabilities?.ambient ?? []).enumerated() {
                guard let n = Capability.number(cap), n <= host.capLast else { continue }
                let bit: UInt64 = 1 << UInt64(n)
                if caps.permitted & bit == 0 || caps.inheritable & bit == 0 {
                    plan.capabilities.ambient &= ~bit
                    // runc's own `spec` writes such a set: said at debug level, as runc says nothing.
                    plan.notes.append("process.capabilities.ambient[\(i)]: `\(cap)` is not both permitted and inheritable, so it cannot be ambient; ignored")
                }
            }
        }
    }

    static func checkMapped(_ id: UInt32, in maps: [IDMapping], path: String, maps name: String) throws(SpecError) {
        let mapped = maps.contains { UInt64(id) >= UInt64($0.containerID) && UInt64(id) < UInt64($0.containerID) + UInt64($0.size) }
        if !mapped { throw SpecError(path: path, "\(id) is not mapped in \(name)") }
    }

    /// execvp's search, decided here: args[0] with a slash is used as is;
    /// otherwise each PATH entry (the container's PATH, or the default) in order.
    static func execCandidates(_ arg0: String, env: [String]) -> [String] {
        if arg0.utf8.contains(UInt8(ascii: "/")) { return [arg0] }
        // On bytes: Character-wise dropFirst and split page in grapheme breaking.
        let path = env.last(where: { $0.hasPrefix("PATH=") }).map { String(decoding: $0.utf8.dropFirst(5), as: UTF8.self) } ?? defaultPath
        return path.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map { bytes in
            let dir = String(decoding: bytes, as: UTF8.self)
            return dir.isEmpty ? arg0 : (bytes.last == UInt8(ascii: "/") ? dir + arg0 : dir + "/" + arg0)
        }
    }
}
