import OCISpec

/// process.scheduler, process.ioPriority, process.execCPUAffinity and
/// linux.memoryPolicy: checked here, applied by the shim with
/// sched_setattr, ioprio_set, sched_setaffinity and set_mempolicy.
extension Planner {
    static func lowerScheduling(_ spec: Spec, _ plan: inout LaunchPlan) throws(SpecError) {
        if let s = spec.process?.scheduler { plan.scheduler = try lowerScheduler(s) }
        if let io = spec.process?.ioPriority {
            // The idle class has no levels: a missing priority is 0 there.
            guard let priority = io.priority ?? (io.class == .idle ? 0 : nil) else {
                throw SpecError(path: "process.ioPriority.priority", "required for `\(io.class.rawValue)`")
            }
            guard (0...7).contains(priority) else {
                throw SpecError(path: "process.ioPriority.priority", "\(priority) is not an I/O priority (0 to 7)")
            }
            let cls: Int32 =
                switch io.class {
                case .rt: 1
                case .be: 2
                case .idle: 3
                }
            plan.ioPriority = cls << 13 | Int32(priority)
        }
        if let a = spec.process?.execCPUAffinity {
            if let list = a.initial { plan.cpusInitial = try mask(list, path: "process.execCPUAffinity.initial", limit: 1024) }
            if let list = a.final { plan.cpusFinal = try mask(list, path: "process.execCPUAffinity.final", limit: 1024) }
        }
        if let m = spec.linux?.memoryPolicy { plan.memoryPolicy = try lowerMemoryPolicy(m) }
    }

    /// An interface name the kernel takes: 1 to 15 bytes, no slash, colon
    /// or white space, not `.` or `..`.
    static func isInterfaceName(_ n: String) -> Bool {
        n.utf8.count >= 1 && n.utf8.count <= 15 && n != "." && n != ".."
            && !n.utf8.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 || $0 == 0x7f }
    }

    static func lowerNetDevices(_ spec: Spec, _ host: HostFacts, _ plan: inout LaunchPlan) throws(SpecError) {
        guard let devices = spec.linux?.netDevices, !devices.entries.isEmpty else { return }
        if host.rootless {
            throw SpecError(path: "linux.netDevices", "moving a host interface needs CAP_NET_ADMIN on the host: run as root")
        }
        guard plan.creates(.network) else {
            throw SpecError(path: "linux.netDevices", "needs a new network namespace in linux.namespaces to move the interfaces into")
        }
        var names: [String] = []
        for (hostName, device) in devices.entries {
            let path = JSONPath.member("linux.netDevices", hostName)
            guard isInterfaceName(hostName) else { throw SpecError(path: path, "`\(hostName)` is not an interface name") }
            let name = device.name ?? hostName
            guard isInterfaceName(name) else { throw SpecError(path: "\(path).name", "`\(name)` is not an interface name (1 to 15 bytes)") }
            if names.contains(name) { throw SpecError(path: "\(path).name", "`\(name)` is the name of another interface already") }
            names.append(name)
            plan.netDevices.append((host: hostName, name: name))
        }
    }

    /// AppArmor as runc: a profile that cannot be applied is an error
    /// naming it. SELinux as runc: labels apply where SELinux is enabled
    /// and are ignored (debug line) where it is not, which podman relies on.
    static func lowerLSM(_ spec: Spec, _ host: HostFacts, _ plan: inout LaunchPlan) throws(SpecError) {
        if let profile = spec.process?.apparmorProfile, !profile.isEmpty {
            guard host.apparmorEnabled else {
                throw SpecError(path: "process.apparmorProfile", "`\(profile)` is asked for, but AppArmor is not enabled on this host")
            }
            if profile != "unconfined", let loaded = host.apparmorProfiles, !loaded.contains(profile) {
                throw SpecError(path: "process.apparmorProfile", "`\(profile)` is not loaded (see /sys/kernel/security/apparmor/profiles)")
            }
            plan.apparmorExec = "exec " + profile
        }
        if let label = spec.process?.selinuxLabel, !label.isEmpty {
            if host.selinuxEnabled {
                plan.selinuxExec = label
            } else {
                plan.notes.append("process.selinuxLabel: SELinux is not enabled here; `\(label)` ignored")
            }
        }
        if let label = spec.linux?.mountLabel, !label.isEmpty {
            guard host.selinuxEnabled else {
                plan.notes.append("linux.mountLabel: SELinux is not enabled here; `\(label)` ignored")
                return
            }
            // The filesystems that take a context= option get the label.
            let labelled: Set<String> = ["tmpfs", "devpts", "mqueue", "shm"]
            for i in plan.mounts.indices {
                guard case let .filesystem(type, source, flags, data) = plan.mounts[i].kind, labelled.contains(type) else { continue }
                let context = "context=\"\(label)\""
                plan.mounts[i].kind = .filesystem(
                    type: type, source: source, flags: flags,
                    data: data.map { $0 + "," + context } ?? context)
            }
        }
    }

    static func lowerScheduler(_ s: Scheduler) throws(SpecError) -> SchedulerPlan {
        let path = "process.scheduler"
        let policy: UInt32
        switch s.policy {
        case .other: policy = 0
        case .fifo: policy = 1
        case .rr: policy = 2
        case .batch: policy = 3
        case .iso: throw SpecError(path: "\(path).policy", "SCHED_ISO is not implemented by Linux")
        case .idle: policy = 5
        case .deadline: policy = 6
        }
        let nice = s.nice ?? 0
        guard (-20...19).contains(nice) else { throw SpecError(path: "\(path).nice", "\(nice) is not a nice value (-20 to 19)") }
        let realtime = s.policy == .fifo || s.policy == .rr
        let priority = s.priority ?? 0
        if realtime && !(1...99).contains(priority) {
            throw SpecError(path: "\(path).priority", "\(s.policy.rawValue) takes a priority of 1 to 99, not \(priority)")
        }
        if !realtime && priority != 0 {
            throw SpecError(path: "\(path).priority", "only SCHED_FIFO and SCHED_RR take a priority, not \(s.policy.rawValue)")
        }
        let deadline = s.policy == .deadline
        if deadline {
            guard let r = s.runtime, let d = s.deadline, r > 0, d >= r, (s.period ?? d) >= d else {
                throw SpecError(path: path, "SCHED_DEADLINE needs runtime <= deadline <= period (ns), runtime above 0")
            }
        } else if s.runtime != nil || s.deadline != nil || s.period != nil {
            throw SpecError(path: path, "runtime, deadline and period go with SCHED_DEADLINE only")
        }
        var flags: UInt64 = 0
        for f in s.flags ?? [] {
            switch f {
            case .resetOnFork: flags |= 0x01
            case .reclaim: flags |= 0x02
            case .dlOverrun: flags |= 0x04
            case .keepPolicy: flags |= 0x08
            case .keepParams: flags |= 0x10
            case .utilClampMin: flags |= 0x20
            case .utilClampMax: flags |= 0x40
            }
        }
        return SchedulerPlan(
            policy: policy, flags: flags, nice: nice, priority: UInt32(priority),
            runtime: s.runtime ?? 0, deadline: s.deadline ?? 0, period: s.period ?? 0)
    }

    static func lowerMemoryPolicy(_ m: MemoryPolicy) throws(SpecError) -> MemoryPolicyPlan {
        let path = "linux.memoryPolicy"
        var mode: Int32 =
            switch m.mode {
            case .default: 0
            case .preferred: 1
            case .bind: 2
            case .interleave: 3
            case .local: 4
            case .preferredMany: 5
            case .weightedInterleave: 6
            }
        let takesNodes = m.mode != .default && m.mode != .local
        var nodes: [UInt64] = []
        var list: [Int] = []
        if let text = m.nodes, !text.isEmpty {
            guard takesNodes else { throw SpecError(path: "\(path).nodes", "\(m.mode.rawValue) takes no nodes") }
            nodes = try mask(text, path: "\(path).nodes", limit: 1024)
            list = (0..<nodes.count * 64).filter { nodes[$0 / 64] & (1 << UInt64($0 % 64)) != 0 }
        } else if takesNodes && m.mode != .preferred {
            throw SpecError(path: "\(path).nodes", "\(m.mode.rawValue) needs nodes")
        }
        for f in m.flags ?? [] {
            switch f {
            case .staticNodes: mode |= 1 << 15
            case .relativeNodes: mode |= 1 << 14
            case .numaBalancing: mode |= 1 << 13
            }
        }
        return MemoryPolicyPlan(mode: mode, nodes: nodes, nodeList: list)
    }

    /// A Linux list ("0-3,8,10-11") as a bit mask, 64 a word.
    static func mask(_ text: String, path: String, limit: Int) throws(SpecError) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: limit / 64)
        var any = false
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let lo = Int(bounds[0]), let hi = Int(bounds[bounds.count - 1]),
                lo >= 0, lo <= hi, hi < limit
            else {
                throw SpecError(path: path, "`\(text)` is not a list like `0-3,8` (numbers below \(limit))")
            }
            for n in lo...hi { words[n / 64] |= 1 << UInt64(n % 64) }
            any = true
        }
        guard any else { throw SpecError(path: path, "`\(text)` names nothing") }
        while words.count > 1 && words.last == 0 { words.removeLast() }
        return words
    }
}
