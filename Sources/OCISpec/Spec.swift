// config.json of the OCI runtime spec v1.3.0 (config.md): the platform
// independent part. Field names are the JSON member names.

public let ociVersion = "1.3.0"

public struct Spec: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var domainname: String?
    public var mounts: [Mount]?
    public var hooks: Hooks?
    public var annotations: OrderedMap<String>?
    public var linux: Linux?
    /// Other platforms: kept as written, never applied on Linux.
    public var solaris: JSONValue?
    public var windows: JSONValue?
    public var vm: JSONValue?
    public var zos: JSONValue?
    public var freebsd: JSONValue?
}

public struct Root: Codable, Sendable, Equatable {
    public var path: String
    public var readonly: Bool?
    public init(path: String, readonly: Bool? = nil) {
        self.path = path
        self.readonly = readonly
    }
}

public struct Mount: Codable, Sendable, Equatable {
    public var destination: String
    public var type: String?
    public var source: String?
    public var options: [String]?
    public var uidMappings: [IDMapping]?
    public var gidMappings: [IDMapping]?

    public init(destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil) {
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
    }
}

public struct Process: Codable, Sendable, Equatable {
    public var terminal: Bool?
    public var consoleSize: Box?
    public var user: User
    public var args: [String]?
    public var commandLine: String?
    public var env: [String]?
    public var cwd: String
    public var capabilities: Capabilities?
    public var rlimits: [Rlimit]?
    public var noNewPrivileges: Bool?
    public var apparmorProfile: String?
    public var oomScoreAdj: Int?
    public var scheduler: Scheduler?
    public var selinuxLabel: String?
    public var ioPriority: IOPriority?
    public var execCPUAffinity: ExecCPUAffinity?
}

public struct Box: Codable, Sendable, Equatable {
    public var height: UInt
    public var width: UInt
}

public struct User: Codable, Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var umask: UInt32?
    public var additionalGids: [UInt32]?
    public var username: String?
}

public struct Capabilities: Codable, Sendable, Equatable {
    public var bounding: [String]?
    public var effective: [String]?
    public var inheritable: [String]?
    public var permitted: [String]?
    public var ambient: [String]?

    public init(
        bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
        permitted: [String]? = nil, ambient: [String]? = nil
    ) {
        self.bounding = bounding
        self.effective = effective
        self.inheritable = inheritable
        self.permitted = permitted
        self.ambient = ambient
    }

    /// The five sets with their member names, for checks that treat them alike.
    public var sets: [(name: String, values: [String]?)] {
        [
            ("bounding", bounding), ("effective", effective), ("inheritable", inheritable),
            ("permitted", permitted), ("ambient", ambient),
        ]
    }
}

public struct Rlimit: Codable, Sendable, Equatable {
    public var type: String
    public var hard: UInt64
    public var soft: UInt64
}

public enum SchedulerPolicy: String, SpecEnum {
    public static let what = "scheduler policy"
    case other = "SCHED_OTHER", fifo = "SCHED_FIFO", rr = "SCHED_RR", batch = "SCHED_BATCH"
    case iso = "SCHED_ISO", idle = "SCHED_IDLE", deadline = "SCHED_DEADLINE"
}

public enum SchedulerFlag: String, SpecEnum {
    public static let what = "scheduler flag"
    case resetOnFork = "SCHED_FLAG_RESET_ON_FORK", reclaim = "SCHED_FLAG_RECLAIM"
    case dlOverrun = "SCHED_FLAG_DL_OVERRUN", keepPolicy = "SCHED_FLAG_KEEP_POLICY"
    case keepParams = "SCHED_FLAG_KEEP_PARAMS", utilClampMin = "SCHED_FLAG_UTIL_CLAMP_MIN"
    case utilClampMax = "SCHED_FLAG_UTIL_CLAMP_MAX"
}

public struct Scheduler: Codable, Sendable, Equatable {
    public var policy: SchedulerPolicy
    public var nice: Int32?
    public var priority: Int32?
    public var flags: [SchedulerFlag]?
    public var runtime: UInt64?
    public var deadline: UInt64?
    public var period: UInt64?
}

public enum IOPriorityClass: String, SpecEnum {
    public static let what = "I/O priority class"
    case rt = "IOPRIO_CLASS_RT", be = "IOPRIO_CLASS_BE", idle = "IOPRIO_CLASS_IDLE"
}

public struct IOPriority: Codable, Sendable, Equatable {
    public var `class`: IOPriorityClass
    /// Required but for IOPRIO_CLASS_IDLE, which has none (crun reads 0).
    public var priority: Int?
}

public struct ExecCPUAffinity: Codable, Sendable, Equatable {
    public var initial: String?
    public var final: String?
}

public struct Hook: Codable, Sendable, Equatable {
    public var path: String
    public var args: [String]?
    public var env: [String]?
    public var timeout: Int?

    public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }
}

public struct Hooks: Codable, Sendable, Equatable {
    public var prestart: [Hook]?
    public var createRuntime: [Hook]?
    public var createContainer: [Hook]?
    public var startContainer: [Hook]?
    public var poststart: [Hook]?
    public var poststop: [Hook]?

    public init(
        prestart: [Hook]? = nil, createRuntime: [Hook]? = nil, createContainer: [Hook]? = nil,
        startContainer: [Hook]? = nil, poststart: [Hook]? = nil, poststop: [Hook]? = nil
    ) {
        self.prestart = prestart
        self.createRuntime = createRuntime
        self.createContainer = createContainer
        self.startContainer = startContainer
        self.poststart = poststart
        self.poststop = poststop
    }

    /// Hook lists with their member names.
    public var all: [(name: String, hooks: [Hook]?)] {
        [
            ("prestart", prestart), ("createRuntime", createRuntime), ("createContainer", createContainer),
            ("startContainer", startContainer), ("poststart", poststart), ("poststop", poststop),
        ]
    }
}
