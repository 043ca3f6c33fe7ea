// The runtime's decoding of config.json (see JSONDecodable.swift): one
// initializer per type, member by member, in declaration order.

extension Spec: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        ociVersion = try o.required("ociVersion")
        process = try o.optional("process")
        root = try o.optional("root")
        hostname = try o.optional("hostname")
        domainname = try o.optional("domainname")
        mounts = try o.optional("mounts")
        hooks = try o.optional("hooks")
        annotations = try o.optional("annotations")
        linux = try o.optional("linux")
        solaris = try o.optional("solaris")
        windows = try o.optional("windows")
        vm = try o.optional("vm")
        zos = try o.optional("zos")
        freebsd = try o.optional("freebsd")
    }
}

extension Root: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        path = try o.required("path")
        readonly = try o.optional("readonly")
    }
}

extension Mount: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        destination = try o.required("destination")
        type = try o.optional("type")
        source = try o.optional("source")
        options = try o.optional("options")
        uidMappings = try o.optional("uidMappings")
        gidMappings = try o.optional("gidMappings")
    }
}

extension Process: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        terminal = try o.optional("terminal")
        consoleSize = try o.optional("consoleSize")
        user = try o.required("user")
        args = try o.optional("args")
        commandLine = try o.optional("commandLine")
        env = try o.optional("env")
        cwd = try o.required("cwd")
        capabilities = try o.optional("capabilities")
        rlimits = try o.optional("rlimits")
        noNewPrivileges = try o.optional("noNewPrivileges")
        apparmorProfile = try o.optional("apparmorProfile")
        oomScoreAdj = try o.optional("oomScoreAdj")
        scheduler = try o.optional("scheduler")
        selinuxLabel = try o.optional("selinuxLabel")
        ioPriority = try o.optional("ioPriority")
        execCPUAffinity = try o.optional("execCPUAffinity")
    }
}

extension Box: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        height = try o.required("height")
        width = try o.required("width")
    }
}

extension User: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        uid = try o.required("uid")
        gid = try o.required("gid")
        umask = try o.optional("umask")
        additionalGids = try o.optional("additionalGids")
        username = try o.optional("username")
    }
}

extension Capabilities: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        bounding = try o.optional("bounding")
        effective = try o.optional("effective")
        inheritable = try o.optional("inheritable")
        permitted = try o.optional("permitted")
        ambient = try o.optional("ambient")
    }
}

extension Rlimit: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        type = try o.required("type")
        hard = try o.required("hard")
        soft = try o.required("soft")
    }
}

extension Scheduler: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        policy = try o.required("policy")
        nice = try o.optional("nice")
        priority = try o.optional("priority")
        flags = try o.optional("flags")
        runtime = try o.optional("runtime")
        deadline = try o.optional("deadline")
        period = try o.optional("period")
    }
}

extension IOPriority: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        self.class = try o.required("class")
        priority = try o.optional("priority")
    }
}

extension ExecCPUAffinity: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        initial = try o.optional("initial")
        final = try o.optional("final")
    }
}

extension Hook: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        path = try o.required("path")
        args = try o.optional("args")
        env = try o.optional("env")
        timeout = try o.optional("timeout")
    }
}

extension Hooks: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        prestart = try o.optional("prestart")
        createRuntime = try o.optional("createRuntime")
        createContainer = try o.optional("createContainer")
        startContainer = try o.optional("startContainer")
        poststart = try o.optional("poststart")
        poststop = try o.optional("poststop")
    }
}

extension Linux: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        uidMappings = try o.optional("uidMappings")
        gidMappings = try o.optional("gidMappings")
        sysctl = try o.optional("sysctl")
        resources = try o.optional("resources")
        cgroupsPath = try o.optional("cgroupsPath")
        namespaces = try o.optional("namespaces")
        devices = try o.optional("devices")
        netDevices = try o.optional("netDevices")
        seccomp = try o.optional("seccomp")
        rootfsPropagation = try o.optional("rootfsPropagation")
        maskedPaths = try o.optional("maskedPaths")
        readonlyPaths = try o.optional("readonlyPaths")
        mountLabel = try o.optional("mountLabel")
        intelRdt = try o.optional("intelRdt")
        personality = try o.optional("personality")
        timeOffsets = try o.optional("timeOffsets")
        memoryPolicy = try o.optional("memoryPolicy")
    }
}

extension Namespace: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        type = try o.required("type")
        path = try o.optional("path")
    }
}

extension IDMapping: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        containerID = try o.required("containerID")
        hostID = try o.required("hostID")
        size = try o.required("size")
    }
}

extension TimeOffset: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        secs = try o.optional("secs")
        nanosecs = try o.optional("nanosecs")
    }
}

extension Device: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        path = try o.required("path")
        type = try o.required("type")
        major = try o.optional("major")
        minor = try o.optional("minor")
        fileMode = try o.optional("fileMode")
        uid = try o.optional("uid")
        gid = try o.optional("gid")
    }
}

extension NetDevice: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        name = try o.optional("name")
    }
}

extension IntelRdt: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        closID = try o.optional("closID")
        l3CacheSchema = try o.optional("l3CacheSchema")
        memBwSchema = try o.optional("memBwSchema")
        schemata = try o.optional("schemata")
        enableMonitoring = try o.optional("enableMonitoring")
    }
}

extension Personality: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        domain = try o.required("domain")
        flags = try o.optional("flags")
    }
}

extension MemoryPolicy: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        mode = try o.required("mode")
        nodes = try o.optional("nodes")
        flags = try o.optional("flags")
    }
}

extension Resources: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        devices = try o.optional("devices")
        memory = try o.optional("memory")
        cpu = try o.optional("cpu")
        pids = try o.optional("pids")
        blockIO = try o.optional("blockIO")
        hugepageLimits = try o.optional("hugepageLimits")
        network = try o.optional("network")
        rdma = try o.optional("rdma")
        unified = try o.optional("unified")
    }
}

extension DeviceRule: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        allow = try o.required("allow")
        type = try o.optional("type")
        major = try o.optional("major")
        minor = try o.optional("minor")
        access = try o.optional("access")
    }
}

extension Memory: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        limit = try o.optional("limit")
        reservation = try o.optional("reservation")
        swap = try o.optional("swap")
        kernel = try o.optional("kernel")
        kernelTCP = try o.optional("kernelTCP")
        swappiness = try o.optional("swappiness")
        disableOOMKiller = try o.optional("disableOOMKiller")
        useHierarchy = try o.optional("useHierarchy")
        checkBeforeUpdate = try o.optional("checkBeforeUpdate")
    }
}

extension CPU: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        shares = try o.optional("shares")
        quota = try o.optional("quota")
        burst = try o.optional("burst")
        period = try o.optional("period")
        realtimeRuntime = try o.optional("realtimeRuntime")
        realtimePeriod = try o.optional("realtimePeriod")
        cpus = try o.optional("cpus")
        mems = try o.optional("mems")
        idle = try o.optional("idle")
    }
}

extension Pids: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        limit = try o.optional("limit")
    }
}

extension WeightDevice: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        major = try o.required("major")
        minor = try o.required("minor")
        weight = try o.optional("weight")
        leafWeight = try o.optional("leafWeight")
    }
}

extension ThrottleDevice: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        major = try o.required("major")
        minor = try o.required("minor")
        rate = try o.required("rate")
    }
}

extension BlockIO: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        weight = try o.optional("weight")
        leafWeight = try o.optional("leafWeight")
        weightDevice = try o.optional("weightDevice")
        throttleReadBpsDevice = try o.optional("throttleReadBpsDevice")
        throttleWriteBpsDevice = try o.optional("throttleWriteBpsDevice")
        throttleReadIOPSDevice = try o.optional("throttleReadIOPSDevice")
        throttleWriteIOPSDevice = try o.optional("throttleWriteIOPSDevice")
    }
}

extension HugepageLimit: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        pageSize = try o.required("pageSize")
        limit = try o.required("limit")
    }
}

extension InterfacePriority: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        name = try o.required("name")
        priority = try o.required("priority")
    }
}

extension Network: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        classID = try o.optional("classID")
        priorities = try o.optional("priorities")
    }
}

extension Rdma: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        hcaHandles = try o.optional("hcaHandles")
        hcaObjects = try o.optional("hcaObjects")
    }
}

extension SeccompArg: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        index = try o.required("index")
        value = try o.required("value")
        valueTwo = try o.optional("valueTwo")
        op = try o.required("op")
    }
}

extension SeccompSyscall: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        names = try o.required("names")
        action = try o.required("action")
        errnoRet = try o.optional("errnoRet")
        args = try o.optional("args")
    }
}

extension Seccomp: JSONDecodable {
    public init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        defaultAction = try o.required("defaultAction")
        defaultErrnoRet = try o.optional("defaultErrnoRet")
        architectures = try o.optional("architectures")
        flags = try o.optional("flags")
        listenerPath = try o.optional("listenerPath")
        listenerMetadata = try o.optional("listenerMetadata")
        syscalls = try o.optional("syscalls")
    }
}

extension SchedulerPolicy: JSONDecodable {}
extension SchedulerFlag: JSONDecodable {}
extension IOPriorityClass: JSONDecodable {}
extension NamespaceType: JSONDecodable {}
extension DeviceType: JSONDecodable {}
extension Propagation: JSONDecodable {}
extension PersonalityDomain: JSONDecodable {}
extension MemoryPolicyMode: JSONDecodable {}
extension MemoryPolicyFlag: JSONDecodable {}
extension SeccompAction: JSONDecodable {}
extension SeccompArch: JSONDecodable {}
extension SeccompFlag: JSONDecodable {}
extension SeccompOperator: JSONDecodable {}
