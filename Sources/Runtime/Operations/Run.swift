import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

extension Runtime {
    public struct RunOptions {
        public var create: CreateOptions
        public var detach: Bool
        /// Keep the container, stopped, once it exits (runc's --keep).
        public var keep: Bool
        public init(create: CreateOptions, detach: Bool, keep: Bool = false) {
            self.create = create
            self.detach = detach
            self.keep = keep
        }
    }

    /// create + start + wait. Returns the container's exit status (128+N when
    /// killed by signal N), forwarding SIGTERM, SIGINT and friends meanwhile.
    public func run(id: String, _ options: RunOptions) throws(RuntimeError) -> Int32 {
        var launch = try launch(id: id, options.create, command: "run", detached: options.detach)
        try runPoststart(launch.record)
        if options.detach { return 0 }
        launch.dir = nil  // unlock: kill, state and delete work while we wait

        let status = try wait(launch.child, id: id, signals: launch.signals, proxy: launch.proxy)
        // runc run removes the container once it has exited, unless --keep.
        if !options.keep, let d = try? store.open(id) {
            if let cg = launch.cgroup { try removeCgroup(cg, id: id) }
            try d.remove()
            runPoststop(launch.record)
        }
        return status
    }
}
