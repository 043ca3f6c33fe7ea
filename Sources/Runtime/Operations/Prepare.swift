import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Seccomp

/// From a bundle to a plan: config.json read and decoded, the host probed,
/// the plan made, seccomp compiled, host paths checked; every error names
/// the JSON path.
extension Runtime {
    /// Loads, checks and plans a bundle: every error here names the JSON path.
    func prepare(_ bundleArg: String, id: String, preserveFds: UInt32) throws(RuntimeError)
        -> (bundle: String, plan: LaunchPlan, seccomp: SeccompProgram?, config: [UInt8], systemd: SystemdManager?)
    {
        let bundle = absolute(bundleArg)
        let configPath = bundle.hasSuffix("/") ? bundle + "config.json" : bundle + "/config.json"
        let bytes: [UInt8]
        do {
            let fd = try Sys.open(configPath, O_RDONLY)
            bytes = try Sys.read(fd, configPath, limit: Runtime.maxConfigSize)
        } catch {
            if error.errno == Errno(EFBIG) {
                throw .message("\(configPath): larger than skiff reads (\(Runtime.maxConfigSize >> 20) MiB); a config is a few KB")
            }
            throw .context("bundle `\(bundle)`", .system(error))
        }
        let spec: Spec
        do {
            spec = try JSONDecoding.decode(Spec.self, json: bytes)
        } catch {
            throw .context(configPath, .spec(error))
        }
        var host = HostProbe.facts(for: spec, systemd: systemdCgroup)
        // --systemd-cgroup: the manager is asked where its cgroups are before
        // planning, and makes the scope once the process exists.
        var systemd: SystemdManager? = nil
        if systemdCgroup {
            let m = try SystemdManager.connect(user: host.rootless)
            let facts = try m.facts()
            log.debug("systemd \(facts.version) at \(m.bus.address)\(m.bus.viaBus ? " (a bus)" : ""), its cgroup \(facts.managerCgroup)")
            try m.checkCanAdopt(from: host.ownV2Cgroup, facts)
            host.systemd = facts
            systemd = m
        }
        let needHome = !(spec.process?.env ?? []).contains { $0.hasPrefix("HOME=") }
        let image = HostProbe.imageFacts(rootfs: hostPath(spec.root?.path ?? "", relativeTo: bundle), needHome: needHome)
        let plan: LaunchPlan
        do {
            plan = try Planner.plan(spec, bundle: bundle, host: host, image: image, id: id)
        } catch {
            throw .context(configPath, .spec(error))
        }
        for w in plan.warnings { log.warn(w) }
        for n in plan.notes { log.debug(n) }
        let seccomp = try compileSeccomp(plan, context: configPath)
        try checkHostPaths(plan)
        for fd in 0..<Int32(preserveFds) where Sys.fcntlFlags(3 + fd) == nil {
            throw .message("--preserve-fds \(preserveFds): fd \(3 + fd) is not open")
        }
        return (bundle, plan, seccomp, bytes, systemd)
    }

    /// linux.seccomp, compiled in the parent; the process only loads it.
    func compileSeccomp(_ plan: LaunchPlan, context: String) throws(RuntimeError) -> SeccompProgram? {
        guard let profile = plan.seccomp else { return nil }
        let program: SeccompProgram
        do {
            program = try SeccompCompiler.compile(profile)
        } catch {
            throw .context(context, .spec(error))
        }
        for n in program.notes { log.debug(n) }
        return program
    }

    /// The rootfs and bind sources exist: found now, before anything is made.
    func checkHostPaths(_ plan: LaunchPlan) throws(RuntimeError) {
        for node in plan.memoryPolicy?.nodeList ?? [] where (try? Sys.stat("/sys/devices/system/node/node\(node)")) == nil {
            throw .message("linux.memoryPolicy.nodes: node \(node) does not exist on this host (see /sys/devices/system/node)")
        }
        let st: stat
        do {
            st = try Sys.stat(plan.rootfs)
        } catch {
            throw .context("root.path", .system(error))
        }
        if st.st_mode & S_IFMT != S_IFDIR {
            throw .message("root.path: `\(plan.rootfs)` is not a directory")
        }
        let cgroupDirs = plan.cgroup?.dirs.map(\.hostPath) ?? []
        for m in plan.mounts {
            guard case let .bind(source, _) = m.kind, !cgroupDirs.contains(source) else { continue }
            do {
                _ = try Sys.stat(source)
            } catch {
                throw .context("\(m.origin).source", .system(error))
            }
            if m.target == "proc" {
                if skiff_fs_magic(source) != SKIFF_PROC_SUPER_MAGIC {
                    throw .message("\(m.origin).source: `\(source)` is not procfs: only procfs may be mounted at `/proc`")
                }
            }
        }
    }
}
