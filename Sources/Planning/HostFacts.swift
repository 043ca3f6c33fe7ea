/// What the planner needs to know about the host. Gathered by Runtime, so
/// that planning stays a pure function of (spec, host facts, image facts).
public struct HostFacts: Sendable, Equatable {
    public var euid: UInt32
    public var egid: UInt32
    /// The caller's user name (for messages about /etc/subuid).
    public var userName: String
    /// Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
    public var capLast: Int
    /// The caller's umask, kept when `process.user.umask` is unset.
    public var umask: UInt32
    public var cgroups: CgroupLayout
    /// Ranges of /etc/subuid and /etc/subgid that belong to the caller.
    public var subUIDs: [SubordinateRange]
    public var subGIDs: [SubordinateRange]
    /// newuidmap and newgidmap are installed.
    public var haveIDMapHelpers: Bool
    /// AppArmor is enabled, and the profiles it has loaded (nil: unknown).
    public var apparmorEnabled = false
    public var apparmorProfiles: [String]?
    /// SELinux is enabled (selinuxfs is mounted).
    public var selinuxEnabled = false
    /// The caller's cgroups from /proc/self/cgroup: "" for v2, else the
    /// hierarchy's controllers ("cpu,cpuacct", "name=systemd").
    /// (Pairs, not a Dictionary: this is on every create, and a Dictionary
    /// costs run-time metadata and a hash seed at start-up.)
    public var ownCgroups: [OwnCgroup] = []
    /// An unprivileged caller owns the v2 cgroup skiff would make its
    /// containers' cgroups in (it has been delegated).
    public var cgroupDelegated = false
    /// skiff runs in a user namespace that does not map every id (as
    /// rootless podman, Docker and containerd run their runtime): root
    /// there is not root of the host.
    public var userNamespaced = false
    /// /proc/self/setgroups says `deny` (unshare --map-root-user writes
    /// it): setgroups fails here and in every user namespace below.
    public var setgroupsDenied = false
    /// --systemd-cgroup: the systemd that makes the container's cgroup;
    /// nil: skiff makes it (cgroupfs).
    public var systemd: SystemdFacts?

    public init(
        euid: UInt32, egid: UInt32, userName: String, capLast: Int, umask: UInt32,
        cgroups: CgroupLayout, subUIDs: [SubordinateRange] = [], subGIDs: [SubordinateRange] = [],
        haveIDMapHelpers: Bool = false
    ) {
        self.euid = euid
        self.egid = egid
        self.userName = userName
        self.capLast = capLast
        self.umask = umask
        self.cgroups = cgroups
        self.subUIDs = subUIDs
        self.subGIDs = subGIDs
        self.haveIDMapHelpers = haveIDMapHelpers
    }

    /// Not privileged over the host: an unprivileged user, or root of a
    /// user namespace (runc's rootless mode covers both).
    public var rootless: Bool { euid != 0 || userNamespaced }
}

/// One line of /etc/subuid or /etc/subgid: `count` ids from `start`.
public struct SubordinateRange: Sendable, Equatable {
    public var start: UInt32
    public var count: UInt32
    public init(start: UInt32, count: UInt32) {
        self.start = start
        self.count = count
    }

    public func contains(_ first: UInt32, size: UInt32) -> Bool {
        UInt64(first) >= UInt64(start) && UInt64(first) + UInt64(size) <= UInt64(start) + UInt64(count)
    }
}

/// One line of /proc/self/cgroup.
public struct OwnCgroup: Sendable, Equatable {
    public var controllers: String
    public var path: String
    public init(controllers: String, path: String) {
        self.controllers = controllers
        self.path = path
    }
}

/// How the host mounts cgroups.
public enum CgroupLayout: Sendable, Equatable {
    /// cgroup2 alone at /sys/fs/cgroup.
    case unified
    /// v1 hierarchies under /sys/fs/cgroup, and cgroup2 at /sys/fs/cgroup/unified if `unified`.
    case hybrid(v1: [CgroupHierarchy], unified: Bool)
    /// No cgroup filesystem mounted.
    case none
}

/// A cgroup v1 hierarchy: its directory under /sys/fs/cgroup and the mount
/// data that names it ("cpu", "none,name=systemd").
public struct CgroupHierarchy: Sendable, Equatable {
    public var name: String
    public var options: String
    public init(name: String, options: String) {
        self.name = name
        self.options = options
    }
}

/// What the planner learns from the image.
public struct ImageFacts: Sendable {
    /// Home directories by uid, from the image's /etc/passwd, first entry first.
    public var homes: [(uid: UInt32, home: String)]
    public init(homes: [(uid: UInt32, home: String)] = []) { self.homes = homes }

    public func home(of uid: UInt32) -> String? { homes.first { $0.uid == uid }?.home }
}
