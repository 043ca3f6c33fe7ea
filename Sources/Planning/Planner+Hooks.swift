import OCISpec

/// One hook, checked: an absolute path, argv (args, or the path alone),
/// its environment, and its timeout in milliseconds (0: none).
public struct HookPlan: Sendable, Equatable {
    public var path: String
    public var argv: [String]
    /// nil: the hook gets the environment of whoever runs it (as runc and
    /// crun run hooks without `env`): skiff's own for the hooks of the
    /// runtime namespace, the container process's for those in the
    /// container (never the caller's environment inside the container).
    public var env: [String]?
    public var timeoutMillis: Int32
    /// "hooks.prestart[0]", for messages.
    public var origin: String
}

/// The hooks of runtime-spec's lifecycle, in the order they run.
public struct HooksPlan: Sendable, Equatable {
    /// Deprecated, still run: with createRuntime, in the runtime namespace
    /// once the container's namespaces and mounts exist, before pivot_root.
    public var prestart: [HookPlan] = []
    public var createRuntime: [HookPlan] = []
    /// Run by the container's process, in its namespaces, before pivot_root.
    public var createContainer: [HookPlan] = []
    /// Run by the container's process at `start`, before its program.
    public var startContainer: [HookPlan] = []
    /// In the runtime namespace: after start, after delete. Failures warn.
    public var poststart: [HookPlan] = []
    public var poststop: [HookPlan] = []

    public init() {}

    public var isEmpty: Bool {
        prestart.isEmpty && createRuntime.isEmpty && createContainer.isEmpty && startContainer.isEmpty
            && poststart.isEmpty && poststop.isEmpty
    }
    /// The container's process stops before pivot_root for these.
    public var needsCreateSync: Bool {
        !(prestart.isEmpty && createRuntime.isEmpty && createContainer.isEmpty && startContainer.isEmpty)
    }
}

extension Planner {
    /// The longest timeout taken: a day (the spec sets no bound; an hour is
    /// already far beyond what engines use, this keeps it in an Int32 of ms).
    static let maxHookTimeout = 86_400

    static func lowerHooks(_ spec: Spec, _ plan: inout LaunchPlan) throws(SpecError) {
        if let hooks = spec.hooks { plan.hooks = try lowerHooks(hooks) }
    }

    /// Also for the hooks a container's record keeps for start and delete.
    public static func lowerHooks(_ hooks: Hooks) throws(SpecError) -> HooksPlan {
        var plan = HooksPlan()
        func lower(_ list: [Hook]?, _ name: String) throws(SpecError) -> [HookPlan] {
            var out: [HookPlan] = []
            for (i, h) in (list ?? []).enumerated() {
                let origin = "hooks.\(name)[\(i)]"
                guard ContainerPath.isAbsolute(h.path) else {
                    throw SpecError(path: "\(origin).path", "must be an absolute path, got `\(h.path)`")
                }
                var timeout: Int32 = 0
                if let t = h.timeout {
                    guard t > 0, t <= maxHookTimeout else {
                        throw SpecError(path: "\(origin).timeout", "must be a number of seconds greater than zero (at most \(maxHookTimeout)), got \(t)")
                    }
                    timeout = Int32(t) * 1000
                }
                for (k, e) in (h.env ?? []).enumerated() where !e.contains("=") {
                    throw SpecError(path: "\(origin).env[\(k)]", "must be KEY=value, got `\(e)`")
                }
                let args = h.args ?? []
                out.append(
                    HookPlan(
                        path: h.path, argv: args.isEmpty ? [h.path] : args, env: h.env,
                        timeoutMillis: timeout, origin: origin))
            }
            return out
        }
        plan.prestart = try lower(hooks.prestart, "prestart")
        plan.createRuntime = try lower(hooks.createRuntime, "createRuntime")
        plan.createContainer = try lower(hooks.createContainer, "createContainer")
        plan.startContainer = try lower(hooks.startContainer, "startContainer")
        plan.poststart = try lower(hooks.poststart, "poststart")
        plan.poststop = try lower(hooks.poststop, "poststop")
        return plan
    }
}
