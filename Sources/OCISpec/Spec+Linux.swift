// config.json of the OCI runtime spec v1.3.0: the `linux` object (config-linux.md).

public struct Linux: Codable, Sendable, Equatable {
    public var uidMappings: [IDMapping]?
    public var gidMappings: [IDMapping]?
    public var sysctl: OrderedMap<String>?
    public var resources: Resources?
    public var cgroupsPath: String?
    public var namespaces: [Namespace]?
    public var devices: [Device]?
    public var netDevices: OrderedMap<NetDevice>?
    public var seccomp: Seccomp?
    public var rootfsPropagation: Propagation?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var mountLabel: String?
    public var intelRdt: IntelRdt?
    public var personality: Personality?
    public var timeOffsets: OrderedMap<TimeOffset>?
    public var memoryPolicy: MemoryPolicy?
}

public enum NamespaceType: String, SpecEnum {
    public static let what = "namespace type"
    case pid, network, mount, ipc, uts, user, cgroup, time
}

public struct Namespace: Codable, Sendable, Equatable {
    public var type: NamespaceType
    public var path: String?
    public init(type: NamespaceType, path: String? = nil) {
        self.type = type
        self.path = path
    }
}

public struct IDMapping: Codable, Sendable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32
    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

public struct TimeOffset: Codable, Sendable, Equatable {
    public var secs: Int64?
    public var nanosecs: UInt32?
}

public enum DeviceType: String, SpecEnum {
    public static let what = "device type"
    case char = "c", block = "b", unbuffered = "u", fifo = "p"
}

public struct Device: Codable, Sendable, Equatable {
    public var path: String
    public var type: DeviceType
    public var major: Int64?
    public var minor: Int64?
    public var fileMode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
}

public struct NetDevice: Codable, Sendable, Equatable {
    public var name: String?
}

public enum Propagation: String, SpecEnum {
    public static let what = "rootfs propagation"
    case shared, slave, `private`, unbindable
    /// runc's and crun's recursive spellings, common in configs written for
    /// them; skiff applies every propagation recursively anyway.
    case rshared, rslave, rprivate, runbindable
}

public struct IntelRdt: Codable, Sendable, Equatable {
    public var closID: String?
    public var l3CacheSchema: String?
    public var memBwSchema: String?
    public var schemata: [String]?
    public var enableMonitoring: Bool?
}

public enum PersonalityDomain: String, SpecEnum {
    public static let what = "personality domain"
    case linux = "LINUX", linux32 = "LINUX32"
}

public struct Personality: Codable, Sendable, Equatable {
    public var domain: PersonalityDomain
    public var flags: [String]?
}

public enum MemoryPolicyMode: String, SpecEnum {
    public static let what = "memory policy mode"
    case `default` = "MPOL_DEFAULT", bind = "MPOL_BIND", interleave = "MPOL_INTERLEAVE"
    case weightedInterleave = "MPOL_WEIGHTED_INTERLEAVE", preferred = "MPOL_PREFERRED"
    case preferredMany = "MPOL_PREFERRED_MANY", local = "MPOL_LOCAL"
}

public enum MemoryPolicyFlag: String, SpecEnum {
    public static let what = "memory policy flag"
    case numaBalancing = "MPOL_F_NUMA_BALANCING", relativeNodes = "MPOL_F_RELATIVE_NODES"
    case staticNodes = "MPOL_F_STATIC_NODES"
}

public struct MemoryPolicy: Codable, Sendable, Equatable {
    public var mode: MemoryPolicyMode
    public var nodes: String?
    public var flags: [MemoryPolicyFlag]?
}

// MARK: - resources (cgroups)

public struct Resources: Codable, Sendable, Equatable {
    public var devices: [DeviceRule]?
    public var memory: Memory?
    public var cpu: CPU?
    public var pids: Pids?
    public var blockIO: BlockIO?
    public var hugepageLimits: [HugepageLimit]?
    public var network: Network?
    public var rdma: OrderedMap<Rdma>?
    public var unified: OrderedMap<String>?
}

public struct DeviceRule: Codable, Sendable, Equatable {
    public var allow: Bool
    public var type: String?
    public var major: Int64?
    public var minor: Int64?
    public var access: String?
}

public struct Memory: Codable, Sendable, Equatable {
    public var limit: Int64?
    public var reservation: Int64?
    public var swap: Int64?
    public var kernel: Int64?
    public var kernelTCP: Int64?
    public var swappiness: UInt64?
    public var disableOOMKiller: Bool?
    public var useHierarchy: Bool?
    public var checkBeforeUpdate: Bool?
}

public struct CPU: Codable, Sendable, Equatable {
    public var shares: UInt64?
    public var quota: Int64?
    public var burst: UInt64?
    public var period: UInt64?
    public var realtimeRuntime: Int64?
    public var realtimePeriod: UInt64?
    public var cpus: String?
    public var mems: String?
    public var idle: Int64?
}

public struct Pids: Codable, Sendable, Equatable {
    public var limit: Int64?
}

public struct WeightDevice: Codable, Sendable, Equatable {
    public var major: Int64
    public var minor: Int64
    public var weight: UInt16?
    public var leafWeight: UInt16?
}

public struct ThrottleDevice: Codable, Sendable, Equatable {
    public var major: Int64
    public var minor: Int64
    public var rate: UInt64
}

public struct BlockIO: Codable, Sendable, Equatable {
    public var weight: UInt16?
    public var leafWeight: UInt16?
    public var weightDevice: [WeightDevice]?
    public var throttleReadBpsDevice: [ThrottleDevice]?
    public var throttleWriteBpsDevice: [ThrottleDevice]?
    public var throttleReadIOPSDevice: [ThrottleDevice]?
    public var throttleWriteIOPSDevice: [ThrottleDevice]?
}

public struct HugepageLimit: Codable, Sendable, Equatable {
    public var pageSize: String
    public var limit: UInt64
}

public struct InterfacePriority: Codable, Sendable, Equatable {
    public var name: String
    public var priority: UInt32
}

public struct Network: Codable, Sendable, Equatable {
    public var classID: UInt32?
    public var priorities: [InterfacePriority]?
}

public struct Rdma: Codable, Sendable, Equatable {
    public var hcaHandles: UInt32?
    public var hcaObjects: UInt32?
}

// MARK: - seccomp

public enum SeccompAction: String, SpecEnum {
    public static let what = "seccomp action"
    case kill = "SCMP_ACT_KILL", killProcess = "SCMP_ACT_KILL_PROCESS", killThread = "SCMP_ACT_KILL_THREAD"
    case trap = "SCMP_ACT_TRAP", errno = "SCMP_ACT_ERRNO", trace = "SCMP_ACT_TRACE"
    case allow = "SCMP_ACT_ALLOW", log = "SCMP_ACT_LOG", notify = "SCMP_ACT_NOTIFY"
}

public enum SeccompArch: String, SpecEnum {
    public static let what = "seccomp architecture"
    case x86 = "SCMP_ARCH_X86", x86_64 = "SCMP_ARCH_X86_64", x32 = "SCMP_ARCH_X32"
    case arm = "SCMP_ARCH_ARM", aarch64 = "SCMP_ARCH_AARCH64"
    case mips = "SCMP_ARCH_MIPS", mips64 = "SCMP_ARCH_MIPS64", mips64n32 = "SCMP_ARCH_MIPS64N32"
    case mipsel = "SCMP_ARCH_MIPSEL", mipsel64 = "SCMP_ARCH_MIPSEL64", mipsel64n32 = "SCMP_ARCH_MIPSEL64N32"
    case ppc = "SCMP_ARCH_PPC", ppc64 = "SCMP_ARCH_PPC64", ppc64le = "SCMP_ARCH_PPC64LE"
    case s390 = "SCMP_ARCH_S390", s390x = "SCMP_ARCH_S390X"
    case parisc = "SCMP_ARCH_PARISC", parisc64 = "SCMP_ARCH_PARISC64"
    case riscv64 = "SCMP_ARCH_RISCV64", loongarch64 = "SCMP_ARCH_LOONGARCH64"
    case m68k = "SCMP_ARCH_M68K", sh = "SCMP_ARCH_SH", sheb = "SCMP_ARCH_SHEB"
}

public enum SeccompFlag: String, SpecEnum {
    public static let what = "seccomp flag"
    case tsync = "SECCOMP_FILTER_FLAG_TSYNC", log = "SECCOMP_FILTER_FLAG_LOG"
    case specAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    case waitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
}

public enum SeccompOperator: String, SpecEnum {
    public static let what = "seccomp operator"
    case ne = "SCMP_CMP_NE", lt = "SCMP_CMP_LT", le = "SCMP_CMP_LE", eq = "SCMP_CMP_EQ"
    case ge = "SCMP_CMP_GE", gt = "SCMP_CMP_GT", maskedEq = "SCMP_CMP_MASKED_EQ"
}

public struct SeccompArg: Codable, Sendable, Equatable {
    public var index: UInt32
    public var value: UInt64
    public var valueTwo: UInt64?
    public var op: SeccompOperator
}

public struct SeccompSyscall: Codable, Sendable, Equatable {
    public var names: [String]
    public var action: SeccompAction
    public var errnoRet: UInt32?
    public var args: [SeccompArg]?
}

public struct Seccomp: Codable, Sendable, Equatable {
    public var defaultAction: SeccompAction
    public var defaultErrnoRet: UInt32?
    public var architectures: [SeccompArch]?
    public var flags: [SeccompFlag]?
    public var listenerPath: String?
    public var listenerMetadata: String?
    public var syscalls: [SeccompSyscall]?
}
