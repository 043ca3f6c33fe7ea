import OCISpec

/// Everything the container's first process will do, decided before the
/// clone. Runtime turns it into the C shim's flat plan; each step keeps
/// where it came from (`origin`, a JSON path) so a failure names it.
public struct LaunchPlan: Sendable {
    public var namespaces: [NamespacePlan] = []
    public var userNamespace: UserNamespacePlan?
    public var timeOffsets: String?

    public var rootfs: String = ""
    public var rootPropagation: UInt = 0
    public var rootfsPropagation: UInt = 0
    /// Bind mounts are cloned before "/" is made a slave: a bind of a
    /// shared host mount is then a peer of it (rootfsPropagation shared).
    public var bindsKeepHostPeers = false
    public var readonlyRootfs = false
    public var mounts: [MountPlan] = []
    public var devices: [DevicePlan] = []
    public var symlinks: [SymlinkPlan] = []
    public var directories: [String] = []
    public var sysctls: [SysctlPlan] = []
    public var maskedPaths: [String] = []
    public var readonlyPaths: [String] = []

    public var hostname: String?
    public var domainname: String?
    public var loopbackUp = false

    public var rlimits: [RlimitPlan] = []
    public var personality: PersonalityDomain?
    /// Written to /proc/self/attr/...exec before execve: "exec <profile>"
    /// for AppArmor, the SELinux label.
    public var apparmorExec: String?
    public var selinuxExec: String?
    /// linux.netDevices: host interfaces moved into the container's new
    /// network namespace under `name`.
    public var netDevices: [(host: String, name: String)] = []
    /// The container's cgroup; nil: it stays in the caller's.
    public var cgroup: CgroupPlan?
    /// process.scheduler, for sched_setattr.
    public var scheduler: SchedulerPlan?
    /// process.ioPriority as ioprio_set's value.
    public var ioPriority: Int32?
    /// linux.memoryPolicy, for set_mempolicy.
    public var memoryPolicy: MemoryPolicyPlan?
    /// process.execCPUAffinity: CPU masks (64 CPUs a word) set at the
    /// clone and just before execve.
    public var cpusInitial: [UInt64]?
    public var cpusFinal: [UInt64]?
    public var oomScoreAdj: Int?

    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var additionalGids: [UInt32] = []
    public var setGroups = true
    public var umask: UInt32 = 0o022
    public var capabilities = CapabilitySets()
    public var noNewPrivileges = false

    public var cwd = "/"
    public var args: [String] = []
    public var env: [String] = []
    /// Full paths to try for args[0], in PATH order.
    public var execPaths: [String] = []

    public var hooks = HooksPlan()
    /// process.terminal: a pty from the container's devpts, its master sent
    /// to the console socket; /dev/console bound to it.
    public var terminal = false
    public var consoleSize: (rows: UInt32, cols: UInt32)?

    public var annotations: OrderedMap<String>?
    /// Things the spec says to warn about (capabilities the kernel lacks).
    public var warnings: [String] = []
    /// linux.seccomp, compiled by the runtime (libseccomp is not pure).
    public var seccomp: Seccomp?
    /// Mounts (indices) made read-only only after everything below them is
    /// in place: a `ro` tmpfs, typically /dev, must first get its mount
    /// points, devices and links.
    public var lateReadonly: [Int] = []
    /// What was accepted and ignored as runc does, for the debug log.
    public var notes: [String] = []

    public init() {}

    public func has(_ type: NamespaceType) -> Bool { namespaces.contains { $0.type == type } }
    public func creates(_ type: NamespaceType) -> Bool { namespaces.contains { $0.type == type && $0.path == nil } }
}

public struct NamespacePlan: Sendable, Equatable {
    public var type: NamespaceType
    /// Join the namespace at this path; nil: create one.
    public var path: String?
    public var origin: String
}

public struct UserNamespacePlan: Sendable, Equatable {
    public enum Writer: Sendable, Equatable {
        /// skiff writes /proc/PID/{uid,gid}_map itself (root, or a single
        /// mapping of the caller's own ids).
        case direct
        /// newuidmap/newgidmap write ranges from /etc/subuid and /etc/subgid.
        case helpers
    }

    public var uidMappings: [IDMapping]
    public var gidMappings: [IDMapping]
    public var writer: Writer
    /// setgroups must be denied before an unprivileged gid map is written.
    public var denySetgroups: Bool
    /// Container root (0) is mapped: the first process becomes root in it.
    public var rootMapped: Bool

    public init(
        uidMappings: [IDMapping], gidMappings: [IDMapping], writer: Writer, denySetgroups: Bool,
        rootMapped: Bool
    ) {
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
        self.writer = writer
        self.denySetgroups = denySetgroups
        self.rootMapped = rootMapped
    }
}

public struct MountPlan: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A new filesystem, made detached (fsopen, fsmount) and attached
        /// once it is complete; `flags` are mount(2)'s, as the options
        /// said (`detachedForm` is what the shim gets).
        case filesystem(type: String, source: String, flags: UInt, data: String?)
        /// A bind mount of a host path (absolute).
        case bind(source: String, recursive: Bool)
        /// Attributes on the mount already at the target.
        case attributes
    }

    public var kind: Kind
    /// Below the rootfs, normalised, without a leading slash ("dev/pts").
    public var target: String
    /// The destination as the config wrote it, for messages.
    public var destination: String
    public var attrSet: UInt64 = 0
    public var attrClear: UInt64 = 0
    public var recursiveAttrSet: UInt64 = 0
    public var recursiveAttrClear: UInt64 = 0
    public var propagation: UInt64 = 0
    public var propagationRecursive = false
    /// Keep flags the kernel locks on inherited mounts (user namespaces).
    public var keepLocked = false
    public var idmap: IDMapPlan?
    /// /proc, /sys, /dev or below: the target is reached with no symlink.
    public var noSymlinks = false
    /// tmpcopyup: the new tmpfs gets a copy of the directory it covers.
    public var copyUp = false
    /// May land inside /proc: procfs at /proc, or a bind over one of the
    /// files lxcfs provides, exactly at its destination.
    public var procAllowed = false
    /// A tmpfs without `mode=`: it takes the mode of the directory it covers.
    public var keepTargetMode = false
    /// JSON path of the config entry this comes from.
    public var origin: String

    public var source: String {
        switch kind {
        case let .filesystem(type, source, _, _): return source.isEmpty ? type : source
        case let .bind(source, _): return source
        case .attributes: return destination
        }
    }
}

/// An idmapped mount: the mappings of a user namespace made for it.
public struct IDMapPlan: Sendable, Equatable {
    public var uidMappings: [IDMapping]
    public var gidMappings: [IDMapping]
    public var recursive: Bool
    /// Use the container's own user namespace (no mappings on the mount).
    public var containerNamespace: Bool
}

public struct DevicePlan: Sendable, Equatable {
    /// Below the rootfs, normalised ("dev/null").
    public var path: String
    /// S_IF* type and permission bits.
    public var mode: UInt32
    public var major: UInt32
    public var minor: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Bind-mount the host's node (no mknod in a user namespace).
    public var bindFromHost: String?
    public var origin: String
}

public struct SymlinkPlan: Sendable, Equatable {
    public var target: String
    public var path: String
    public init(target: String, path: String) {
        self.target = target
        self.path = path
    }
}

public struct SysctlPlan: Sendable, Equatable {
    public var key: String
    /// Absolute path inside the container ("/proc/sys/net/ipv4/ip_forward").
    public var path: String
    public var value: String
}

public struct RlimitPlan: Sendable, Equatable {
    public var name: String
    public var resource: Int32
    public var soft: UInt64
    public var hard: UInt64
}

public struct CapabilitySets: Sendable, Equatable {
    public var bounding: UInt64 = 0
    public var effective: UInt64 = 0
    public var permitted: UInt64 = 0
    public var inheritable: UInt64 = 0
    public var ambient: UInt64 = 0
    public init() {}
}

public struct SchedulerPlan: Sendable, Equatable {
    public var policy: UInt32
    public var flags: UInt64
    public var nice: Int32
    public var priority: UInt32
    public var runtime: UInt64
    public var deadline: UInt64
    public var period: UInt64
}

public struct MemoryPolicyPlan: Sendable, Equatable {
    /// MPOL_* with its MPOL_F_* flags.
    public var mode: Int32
    /// Node mask, 64 nodes a word; empty for MPOL_DEFAULT and MPOL_LOCAL.
    public var nodes: [UInt64]
    /// The nodes named, for the runtime to check they exist.
    public var nodeList: [Int]
}
