// The state of a container (runtime.md "State") and the features document
// (features.md, features-linux.md).

public enum ContainerStatus: String, SpecEnum {
    public static let what = "container status"
    case creating, created, running, paused, stopped
}

/// What `skiff state` prints: the spec's state plus runc's `rootfs`,
/// `created` and `owner`, in the order runc prints them (some callers
/// compare text).
public struct State: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    public var pid: Int32?
    public var status: ContainerStatus
    public var bundle: String
    public var rootfs: String?
    public var created: String?
    public var annotations: OrderedMap<String>?
    public var owner: String?

    public init(
        ociVersion: String, id: String, status: ContainerStatus, pid: Int32?, bundle: String,
        rootfs: String?, created: String?, owner: String?, annotations: OrderedMap<String>?
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.owner = owner
        self.annotations = annotations
    }
}

extension State {
    /// The document as JSON, built directly, members in declaration order
    /// (what the synthesized Encodable writes; `nil` members left out).
    /// Encodable's generic path looks protocol conformances up at run
    /// time, and engines call `state` after every operation.
    public var json: JSONValue {
        var m: [(String, JSONValue)] = [("ociVersion", .string(ociVersion)), ("id", .string(id))]
        if let pid { m.append(("pid", .int(Int64(pid)))) }
        m += [("status", .string(status.rawValue)), ("bundle", .string(bundle))]
        if let rootfs { m.append(("rootfs", .string(rootfs))) }
        if let created { m.append(("created", .string(created))) }
        if let annotations { m.append(("annotations", .object(annotations.entries.map { ($0.key, .string($0.value)) }))) }
        if let owner { m.append(("owner", .string(owner))) }
        return .object(m)
    }
}

public struct Features: Codable, Sendable, Equatable {
    public var ociVersionMin: String
    public var ociVersionMax: String
    public var hooks: [String]?
    public var mountOptions: [String]?
    public var linux: LinuxFeatures?
    public var annotations: OrderedMap<String>?
    public var potentiallyUnsafeConfigAnnotations: [String]?

    public init(
        ociVersionMin: String, ociVersionMax: String, hooks: [String]?, mountOptions: [String]?,
        linux: LinuxFeatures?, annotations: OrderedMap<String>?
    ) {
        self.ociVersionMin = ociVersionMin
        self.ociVersionMax = ociVersionMax
        self.hooks = hooks
        self.mountOptions = mountOptions
        self.linux = linux
        self.annotations = annotations
    }
}

public struct Enabled: Codable, Sendable, Equatable {
    public var enabled: Bool?
    public init(_ enabled: Bool) { self.enabled = enabled }
}

public struct LinuxFeatures: Codable, Sendable, Equatable {
    public struct Cgroup: Codable, Sendable, Equatable {
        public var v1: Bool?
        public var v2: Bool?
        public var systemd: Bool?
        public var systemdUser: Bool?
        public var rdma: Bool?
        public init(v1: Bool, v2: Bool, systemd: Bool, systemdUser: Bool, rdma: Bool) {
            self.v1 = v1
            self.v2 = v2
            self.systemd = systemd
            self.systemdUser = systemdUser
            self.rdma = rdma
        }
    }

    public struct SeccompFeatures: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public var actions: [String]?
        public var operators: [String]?
        public var archs: [String]?
        public var knownFlags: [String]?
        public var supportedFlags: [String]?
        public init(
            enabled: Bool, actions: [String], operators: [String], archs: [String],
            knownFlags: [String], supportedFlags: [String]
        ) {
            self.enabled = enabled
            self.actions = actions
            self.operators = operators
            self.archs = archs
            self.knownFlags = knownFlags
            self.supportedFlags = supportedFlags
        }
    }

    public struct IntelRdtFeatures: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public var schemata: Bool?
        public var monitoring: Bool?
        public init(enabled: Bool, schemata: Bool, monitoring: Bool) {
            self.enabled = enabled
            self.schemata = schemata
            self.monitoring = monitoring
        }
    }

    public struct MountExtensions: Codable, Sendable, Equatable {
        public var idmap: Enabled?
        public init(idmap: Enabled) { self.idmap = idmap }
    }

    public struct MemoryPolicyFeatures: Codable, Sendable, Equatable {
        public var modes: [String]?
        public var flags: [String]?
        public init(modes: [String], flags: [String]) {
            self.modes = modes
            self.flags = flags
        }
    }

    public var namespaces: [String]?
    public var capabilities: [String]?
    public var cgroup: Cgroup?
    public var seccomp: SeccompFeatures?
    public var apparmor: Enabled?
    public var selinux: Enabled?
    public var intelRdt: IntelRdtFeatures?
    public var mountExtensions: MountExtensions?
    public var netDevices: Enabled?
    public var memoryPolicy: MemoryPolicyFeatures?

    public init(
        namespaces: [String], capabilities: [String], cgroup: Cgroup, seccomp: SeccompFeatures,
        apparmor: Enabled, selinux: Enabled, intelRdt: IntelRdtFeatures,
        mountExtensions: MountExtensions, netDevices: Enabled, memoryPolicy: MemoryPolicyFeatures?
    ) {
        self.namespaces = namespaces
        self.capabilities = capabilities
        self.cgroup = cgroup
        self.seccomp = seccomp
        self.apparmor = apparmor
        self.selinux = selinux
        self.intelRdt = intelRdt
        self.mountExtensions = mountExtensions
        self.netDevices = netDevices
        self.memoryPolicy = memoryPolicy
    }
}
