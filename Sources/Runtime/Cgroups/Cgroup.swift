import CShim
import Glibc
import LinuxSys
import Planning

/// A systemd unit that owns a container's cgroup, and whose manager.
struct SystemdUnit: Equatable {
    var name: String
    /// The user's manager, not the system's.
    var user: Bool
}

/// A container's cgroup on the host: one directory per hierarchy (v1 and
/// hybrid hosts) or one (v2). Made before the clone (v1 hierarchies:
/// during the child's first mounts), removed at delete or by a failed
/// create. Only directories skiff made, or that a state record
/// names and that are checked to be cgroups below /sys/fs/cgroup, are
/// ever written or removed.
struct Cgroup {
    let version: CgroupPlan.Version
    let dirs: [CgroupDir]
    /// --systemd-cgroup: the scope systemd made, stopped before the
    /// directories go.
    var unit: SystemdUnit? = nil
    /// Directories that existed before the container (a cgroupsPath it
    /// joined): never removed, and what runs in them is not assumed to be
    /// the container's.
    var adopted: [String] = []
    /// Processes that were in an adopted directory before the container
    /// (pid and start time): never signalled.
    var foreign: [ForeignProcess] = []
    /// The container's own pid namespace: only processes in it are the
    /// container's.
    var pidNamespace: UInt64? = nil
    /// Made in part (v1: the hierarchies come after the clone, and they
    /// did not come): nothing in it is the container's.
    var partial = false

    struct ForeignProcess: Equatable {
        var pid: Int32
        var startTime: UInt64
    }

    static let cgroupMagic = 0x27e0eb, cgroup2Magic = 0x63677270

    /// The v2 directory (on a hybrid host the `unified` one), if any.
    var unified: CgroupDir? { dirs.first { $0.hierarchy.isEmpty || $0.hierarchy == "unified" } }

    /// The directory of the v1 hierarchy that has `controller`.
    func v1Dir(_ controller: String) -> CgroupDir? {
        dirs.first { d in d.hierarchy != "unified" && d.hierarchy.pieces(UInt8(ascii: ",")).contains(controller) }
    }

    /// Where the processes are listed: the v2 directory or the first v1 one.
    var procsDir: CgroupDir? { version == .v2 ? unified : dirs.first { $0.hierarchy != "unified" } }

    // MARK: making

    /// Makes every directory (parents too, remembered for a failed
    /// create), enables v2 controllers down the path, and applies the
    /// limits. On failure what was made is removed.
    static func make(_ plan: CgroupPlan, log: Log) throws(RuntimeError) -> Cgroup {
        var cg = Cgroup(version: plan.version, dirs: plan.dirs)
        try cg.make(plan, plan.dirs, log: log)
        return cg
    }

    /// v1 in two steps around the clone, so that the child makes its first
    /// mounts while the hierarchies are made: a hybrid host's unified
    /// directory first (the child is born in it), the rest (`finish`)
    /// after the clone. `adopted`: what existed before.
    static func start(_ plan: CgroupPlan, adopted: [String]) throws(RuntimeError) -> Cgroup {
        var cg = Cgroup(version: plan.version, dirs: plan.dirs)
        cg.adopted = adopted
        cg.partial = true
        if let u = cg.unified {
            var made: [String] = []
            try makeDir(u, needed: [], made: &made)
        }
        return cg
    }

    /// The second step: every hierarchy but the unified one.
    mutating func finish(_ plan: CgroupPlan, log: Log) throws(RuntimeError) {
        let unifiedPath = unified?.hostPath
        try make(plan, plan.dirs.filter { $0.hostPath != unifiedPath }, log: log)
        partial = false
    }

    /// Makes `which` of the plan's directories, then applies the plan.
    private mutating func make(_ plan: CgroupPlan, _ which: [CgroupDir], log: Log) throws(RuntimeError) {
        var made: [String] = []
        do throws(RuntimeError) {
            for d in which {
                try Cgroup.makeDir(d, needed: plan.version == .v2 ? Cgroup.controllersNeeded(plan) : [], made: &made)
            }
            let paths = which.map(\.hostPath)
            adopted = paths.filter { !made.contains($0) } + adopted.filter { !paths.contains($0) }
            // A process moved into a frozen cgroup freezes at once, in the
            // kernel, where not even SIGKILL reaches it: the container's, and
            // skiff itself while it sets the container up (runc refuses too).
            if let frozen = frozenDir {
                throw .message("linux.cgroupsPath: container's cgroup unexpectedly frozen: \(frozen) is frozen (thaw it, or choose another cgroupsPath)")
            }
            // A directory made just now has no processes and no children.
            let fresh = procsDir.map { made.contains($0.hostPath) } ?? true
            foreign = fresh ? [] : pids().compactMap { pid in Proc.stat(pid).map { ForeignProcess(pid: pid, startTime: $0.startTime) } }
            if !foreign.isEmpty {
                // runc's warning: the container shares its cgroup.
                log.warn("container's cgroup is not empty: \(foreign.count) process(es) found")
            }
            try apply(plan.writes, log: log)
            if let rules = plan.devices { try applyDevices(rules) }
        } catch {
            for path in made.reversed() { _ = Glibc.rmdir(path) }
            throw error
        }
        log.debug("cgroup: \(which.map(\.hostPath)) (made \(made.count) directories)")
    }

    static func controllersNeeded(_ plan: CgroupPlan) -> [String] {
        var s: [String] = []
        for w in plan.writes where !w.controller.isEmpty && !s.contains(w.controller) { s.append(w.controller) }
        return s
    }

    static func makeDir(_ d: CgroupDir, needed: [String], onlyNeeded: Bool = false, made: inout [String]) throws(RuntimeError) {
        let base = d.hierarchy.isEmpty ? CgroupDir.mountPoint : CgroupDir.mountPoint + "/" + d.hierarchy
        let v2 = d.hierarchy.isEmpty || d.hierarchy == "unified"
        let cpuset = d.hierarchy.pieces(UInt8(ascii: ",")).contains("cpuset")
        // The leaf first: its parents usually exist (a v1 host has ten
        // hierarchies, each lookup from /). Not where something must be
        // done on the way down: v2 controllers, cpuset's cpus and mems.
        if !cpuset && !(v2 && d.hierarchy.isEmpty) && d.path != "/" {
            let leaf = d.hostPath
            if Glibc.mkdir(leaf, 0o755) == 0 {
                made.append(leaf)
                return
            }
            if Errno.current == .EEXIST { return }
        }
        var path = base
        // cpuset: the values the level above has (read once, then carried).
        var inherited: [String]? = nil
        for part in d.path.pieces(UInt8(ascii: "/")) {
            if v2 && d.hierarchy.isEmpty { try enableControllers(path, needed: needed, onlyNeeded: onlyNeeded) }
            let parent = path
            path += "/" + part
            if Glibc.mkdir(path, 0o755) == 0 {
                made.append(path)
            } else {
                let e = Errno.current
                guard e == .EEXIST else {
                    throw .context("linux.cgroupsPath", .system(SysError("mkdir", path, errno: e)))
                }
            }
            // A new cpuset cgroup has no cpus and no memory nodes, nor may an
            // existing one on the way (made by hand): each gets its parent's,
            // as runc and crun fill them, or nothing below could be joined
            // (ENOSPC).
            if cpuset { inherited = try inheritCpuset(parent, path, parentValues: inherited) }
        }
    }

    static let cpusetFiles = ["cpuset.cpus", "cpuset.mems"]

    /// v1: a cpuset cgroup with no cpus or memory nodes gets its parent's
    /// (`parentValues` when the caller has them). Returns its values now.
    @discardableResult
    static func inheritCpuset(_ parent: String, _ path: String, parentValues: [String]? = nil) throws(RuntimeError) -> [String] {
        var now: [String] = []
        for (i, file) in cpusetFiles.enumerated() {
            var text = Cgroup.value(path + "/" + file)
            if text.isEmpty {
                text = parentValues?[i] ?? Cgroup.value(parent + "/" + file)
                if !text.isEmpty { try write(path + "/" + file, text, origin: "linux.cgroupsPath") }
            }
            now.append(text)
        }
        return now
    }

    /// Every controller of `path`'s cgroup.controllers that its children
    /// may need goes into its cgroup.subtree_control (as runc: all of them,
    /// so stats work too; in systemd's tree only those the limits need).
    /// One that is needed and cannot be enabled is an error naming it and
    /// the file.
    static func enableControllers(_ path: String, needed: [String], onlyNeeded: Bool = false) throws(RuntimeError) {
        let available = words(path + "/cgroup.controllers")
        let enabled = words(path + "/cgroup.subtree_control")
        let missing = available.filter { !enabled.contains($0) && (!onlyNeeded || needed.contains($0)) }
        if missing.isEmpty { return }
        let file = path + "/cgroup.subtree_control"
        guard let fd = try? Sys.open(file, O_WRONLY) else {
            if let first = missing.first(where: needed.contains) {
                throw .message("cgroup controller `\(first)` is not enabled in \(file) and skiff cannot write it: enable it there (echo +\(first) > \(file))")
            }
            return
        }
        if (try? Sys.write(fd.raw, missing.map { "+" + $0 }.joined(by: " "), file)) != nil { return }
        for c in missing {
            do {
                try Sys.write(fd.raw, "+" + c, file)
            } catch {
                guard needed.contains(c) else { continue }
                var why = ""
                if error.errno == .EBUSY { why = " (the cgroup has processes of its own, or a child of it is threaded)" }
                throw .message(
                    "cannot enable the cgroup controller `\(c)` in \(file): \(error.errno)\(why); enable it there (echo +\(c) > \(file)) or remove the limits that need it"
                )
            }
        }
        for c in needed where !available.contains(c) && !c.isEmpty {
            throw .message("the cgroup controller `\(c)` is not available in \(path) (see \(path)/cgroup.controllers)")
        }
    }

    /// A one-value cgroup file without its newline (bytes: no Unicode tables).
    static func value(_ file: String) -> String { value((try? Sys.readFile(file)) ?? []) }
    static func value(_ bytes: [UInt8]) -> String {
        var b = bytes[...]
        while let l = b.last, l == 10 || l == 32 { b = b.dropLast() }
        return String(decoding: b, as: UTF8.self)
    }

    static func words(_ file: String) -> [String] {
        guard let b = try? Sys.readFile(file) else { return [] }
        return String(decoding: b, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    // MARK: writing

    static func write(_ path: String, _ value: String, origin: String) throws(RuntimeError) {
        do {
            let fd = try Sys.open(path, O_WRONLY)
            try Sys.write(fd.raw, value, path)
        } catch {
            throw writeError(path, value, error, origin: origin)
        }
    }

    static func writeError(_ path: String, _ value: String, _ error: SysError, origin: String) -> RuntimeError {
        var hint = ""
        switch error.errno {
        case .ENOENT: hint = ": this kernel has no such cgroup file (is the controller enabled for this cgroup?)"
        case .EINVAL: hint = ": the kernel refused `\(value)`"
        case .EBUSY: hint = ": the kernel refused `\(value)` while the cgroup is in use (e.g. a limit below current usage)"
        case .ERANGE: hint = ": `\(value)` is out of range"
        default: break
        }
        return .context(origin, .message("write \(path): \(error.errno)\(hint)"))
    }

    func dir(for w: CgroupWrite) throws(RuntimeError) -> CgroupDir {
        if version == .v2 { return dirs[0] }
        guard let d = v1Dir(w.controller) else {
            throw .message("\(w.origin): this host has no `\(w.controller)` cgroup v1 hierarchy mounted under /sys/fs/cgroup")
        }
        return d
    }

    func apply(_ writes: [CgroupWrite], log: Log) throws(RuntimeError) {
        var done: [Int] = []
        for (i, w) in writes.enumerated() where !done.contains(i) {
            let d = try dir(for: w)
            let path = d.hostPath + "/" + w.file
            if w.ifExists && access(path, F_OK) != 0 { continue }
            if let other = w.unlessExists, access(d.hostPath + "/" + other, F_OK) == 0 { continue }
            do {
                try Cgroup.write(path, w.value, origin: w.origin)
            } catch {
                // v1: memory+swap must stay >= memory; lowering both means
                // swap first.
                guard w.file == "memory.limit_in_bytes",
                    let j = writes.indices.first(where: { $0 > i && writes[$0].file == "memory.memsw.limit_in_bytes" })
                else {
                    if w.file == "memory.limit_in_bytes", let b = try? Sys.readFile(d.hostPath + "/memory.memsw.limit_in_bytes"),
                        let memsw = Int64(Cgroup.value(b)), let v = Int64(w.value),
                        v > memsw || v == -1
                    {
                        throw .message(
                            "\(w.origin): \(w.value) is above the container's memory+swap limit (\(memsw)): raise linux.resources.memory.swap (--memory-swap) with it"
                        )
                    }
                    throw error
                }
                try Cgroup.write(d.hostPath + "/" + writes[j].file, writes[j].value, origin: writes[j].origin)
                try Cgroup.write(path, w.value, origin: w.origin)
                done.append(j)
            }
            log.debug("cgroup: \(path) = \(w.value)")
        }
    }

    func applyDevices(_ rules: [DeviceAccessRule]) throws(RuntimeError) {
        if version == .v1 {
            guard let d = v1Dir("devices") else { return }
            // Each line is its own write (the kernel takes one rule per
            // write), through one open file per run of lines to that file.
            let lines = CgroupLowering.v1DeviceLines(rules)
            var i = 0
            while i < lines.count {
                let path = d.hostPath + "/" + lines[i].file
                var line = lines[i].line
                do {
                    let fd = try Sys.open(path, O_WRONLY)
                    repeat {
                        line = lines[i].line
                        try Sys.write(fd.raw, line, path)
                        i += 1
                    } while i < lines.count && lines[i].file == lines[i - 1].file
                } catch {
                    throw Cgroup.writeError(path, line, error, origin: "linux.resources.devices")
                }
            }
            return
        }
        guard let d = unified else { return }
        try DeviceController.attach(DeviceProgram.instructions(rules), to: d.hostPath)
    }

    // MARK: processes

    /// Moves `pid` into every directory (v1; and v2 when it was not cloned
    /// into its cgroup).
    func attach(_ pid: Int32, skipUnified: Bool) throws(RuntimeError) {
        for d in dirs {
            if skipUnified && (d.hierarchy.isEmpty || d.hierarchy == "unified") { continue }
            try Cgroup.write(d.hostPath + "/cgroup.procs", "\(pid)", origin: "linux.cgroupsPath")
        }
    }

    /// The `tasks` file of every v1 directory, which the child writes itself
    /// into (the unified one too on a hybrid host, unless it is cloned there).
    func v1TasksFiles(skipUnified: Bool) -> [String] {
        dirs.filter { !(skipUnified && ($0.hierarchy.isEmpty || $0.hierarchy == "unified")) }
            .map { $0.hierarchy.isEmpty || $0.hierarchy == "unified" ? $0.hostPath + "/cgroup.procs" : $0.hostPath + "/tasks" }
    }

    /// Every process of the container: its cgroup's and its sub-cgroups'
    /// (exec --cgroup, or what the container made where it may).
    func pids() -> [Int32] {
        guard let d = procsDir else { return [] }
        var out: [Int32] = []
        for dir in [d.hostPath] + Cgroup.descendants(d.hostPath) { out += Cgroup.procs(dir) }
        return out
    }

    static func procs(_ dir: String) -> [Int32] {
        guard let b = try? Sys.readFile(dir + "/cgroup.procs") else { return [] }
        return b.split(separator: UInt8(ascii: "\n")).compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
    }

    /// The directories below `path`, deepest first (cgroup directories
    /// only hold control files and sub-cgroups; links are not followed).
    static func descendants(_ path: String) -> [String] {
        guard let fd = try? Sys.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW),
            let names = try? Sys.listDirectory(fd: fd.raw, directoriesOnly: true)
        else { return [] }
        var out: [String] = []
        for n in names where n != "." && n != ".." {
            out += descendants(path + "/" + n)
            out.append(path + "/" + n)
        }
        return out
    }

    /// Removes the directories the container made and the sub-cgroups in
    /// them (the leaves: parents may be shared, as runc). A process still
    /// leaving makes rmdir EBUSY for a moment: retried for up to a second.
    /// A directory that still holds processes that are not the container's
    /// is left: it is returned, for a warning.
    func remove() throws(RuntimeError) -> [String] {
        var left: [String] = []
        for d in dirs where !adopted.contains(d.hostPath) {
            // Most often empty and without sub-cgroups: one rmdir.
            if Glibc.rmdir(d.hostPath) == 0 || Errno.current == .ENOENT { continue }
            for path in Cgroup.descendants(d.hostPath) + [d.hostPath] {
                var tries = 0
                while Glibc.rmdir(path) != 0 {
                    let e = Errno.current
                    if e == .ENOENT { break }
                    if e == .EBUSY, Cgroup.procs(path).contains(where: { !isContainers($0) }) {
                        left.append(path)
                        break
                    }
                    guard e == .EBUSY, tries < 100 else {
                        throw .message("remove cgroup \(path): \(e)")
                    }
                    tries += 1
                    var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
                    nanosleep(&ts, nil)
                }
            }
        }
        return left
    }

    /// Whether a process in the cgroup is the container's: in its pid
    /// namespace when it has one of its own; otherwise any that was not
    /// there before it. Only these are ever signalled.
    func isContainers(_ pid: Int32) -> Bool {
        if let ns = pidNamespace {
            if let inode = Proc.namespaceInode(pid, "pid") { return inode == ns }
            // Unreadable to an unprivileged caller (not dumpable): at least
            // in a pid namespace below ours.
            guard let theirs = Proc.namespacePids(pid), let ours = Proc.namespacePids(getpid()) else { return false }
            return theirs.count > ours.count
        }
        return !foreign.contains { $0.pid == pid && Proc.stat(pid)?.startTime == $0.startTime }
    }

    // MARK: a systemd scope

    /// systemd made the scope with `pid` in it; what systemd does not do
    /// is done here, as runc's systemd driver does: the v1 hierarchies
    /// systemd does not manage get the scope's directory and the process,
    /// v2 controllers only skiff's limits need are enabled down the path,
    /// and every limit is written to the files.
    static func adopt(_ plan: CgroupPlan, unit: SystemdUnit, pid: Int32, log: Log) throws(RuntimeError) -> Cgroup {
        let cg = Cgroup(version: plan.version, dirs: plan.dirs, unit: unit)
        try cg.checkPlaced(pid)
        var made: [String] = []
        do throws(RuntimeError) {
            for d in plan.dirs {
                if plan.version == .v2 {
                    // The scope's own directory holds the process: only its
                    // ancestors get controllers.
                    var parent = d
                    parent.path = CgroupLowering.parent(d.path)
                    try makeDir(parent, needed: controllersNeeded(plan), onlyNeeded: true, made: &made)
                    continue
                }
                // systemd's own hierarchy (name=systemd, at /sys/fs/cgroup/systemd)
                // and the unified one are systemd's to place the process in.
                if d.hierarchy == "unified" || d.hierarchy == "systemd" { continue }
                try makeDir(d, needed: [], made: &made)
                try write(d.hostPath + "/cgroup.procs", "\(pid)", origin: "linux.cgroupsPath")
            }
            try cg.apply(plan.writes, log: log)
            if let rules = plan.devices { try cg.applyDevices(rules) }
        } catch {
            for path in made.reversed() { _ = Glibc.rmdir(path) }
            // A user manager gets the controllers user@.service's Delegate=
            // names (Debian: pids memory cpu), nothing else.
            if unit.user, case let .message(m) = error, m.includes("controller") {
                throw .message(
                    m
                        + "; a user's systemd has only the controllers user@.service delegates: add the others with `systemctl edit user@.service` ([Service] Delegate=cpu cpuset io memory pids), or remove the limits that need them"
                )
            }
            throw error
        }
        log.debug("cgroup: systemd scope \(unit.name): \(plan.dirs.map(\.hostPath)) (made \(made.count) directories)")
        return cg
    }

    /// The process is where the plan says the scope is (on v2, or on v1
    /// in systemd's own hierarchy): a manager that placed it elsewhere (a
    /// different slice layout than expected) is an error, not a surprise.
    func checkPlaced(_ pid: Int32) throws(RuntimeError) {
        let own = HostProbe.ownCgroups(of: pid)
        let want: (controllers: String, path: String)?
        if version == .v2 {
            want = dirs.first.map { ("", $0.path) }
        } else {
            want = dirs.first { $0.hierarchy == "systemd" }.map { ("name=systemd", $0.path) }
        }
        guard let want else { return }
        guard let got = own.first(where: { $0.controllers == want.controllers })?.path else {
            throw .message("--systemd-cgroup: /proc/\(pid)/cgroup has no line for \(want.controllers.isEmpty ? "cgroup v2" : want.controllers)")
        }
        if got != want.path {
            throw .message("--systemd-cgroup: systemd put the container's process in \(got), not in \(want.path) where skiff expected the scope")
        }
    }

    // MARK: from a state record

    /// The cgroup a state record names, believed only for directories below
    /// /sys/fs/cgroup on a cgroup filesystem, without `..`.
    static func recorded(version: Int, paths: [String], adopted: [String] = []) -> Cgroup? {
        var dirs: [CgroupDir] = []
        let prefix = CgroupDir.mountPoint + "/"
        for p in paths {
            let parts = p.pieces(UInt8(ascii: "/"))
            guard p.hasPrefix(prefix), !parts.contains(".."), !parts.contains(".") else { return nil }
            let magic = skiff_fs_magic(p)
            if magic < 0 { continue }  // gone already
            guard magic == cgroupMagic || magic == cgroup2Magic else { return nil }
            // Bytes, not Characters (grapheme breaking on every delete and exec).
            let restBytes = p.utf8.dropFirst(prefix.utf8.count)
            let rest = String(decoding: restBytes, as: UTF8.self)
            // Never a hierarchy's root: that would be every process.
            let depth = rest.pieces(UInt8(ascii: "/")).count
            guard depth >= (magic == cgroup2Magic && !rest.hasPrefix("unified") ? 1 : 2) else { return nil }
            if magic == cgroup2Magic && !rest.hasPrefix("unified/") && rest != "unified" {
                dirs.append(CgroupDir(hierarchy: "", path: "/" + rest))
            } else {
                let slash = restBytes.firstIndex(of: UInt8(ascii: "/")) ?? restBytes.endIndex
                let sub = String(decoding: restBytes[slash...], as: UTF8.self)
                dirs.append(CgroupDir(hierarchy: String(decoding: restBytes[..<slash], as: UTF8.self), path: sub.isEmpty ? "/" : sub))
            }
        }
        return Cgroup(version: version == 2 ? .v2 : .v1, dirs: dirs, adopted: adopted)
    }
}

extension Cgroup {
    /// exec --cgroup: existing sub-cgroups of this one, runc's forms: `path`
    /// (v2; or every v1 hierarchy) and `controller[,controller]:path` (v1).
    /// A path stays below the container's cgroup (cleaned as a path inside it).
    func sub(_ specs: [String]) throws(RuntimeError) -> Cgroup {
        func below(_ d: CgroupDir, _ sub: String) throws(RuntimeError) -> CgroupDir {
            // Strictly below the container's cgroup, as runc requires: no
            // `..`, and not the container's own cgroup again.
            let rel = ContainerPath.relative(sub)
            if rel.isEmpty || sub.pieces(UInt8(ascii: "/")).contains("..") {
                throw .message("--cgroup: `\(sub)` is not a sub cgroup path (a cgroup below the container's)")
            }
            let out = CgroupDir(hierarchy: d.hierarchy, path: (d.path == "/" ? "" : d.path) + "/" + rel)
            guard let st = try? Sys.stat(out.hostPath), st.st_mode & S_IFMT == S_IFDIR else {
                throw .message("--cgroup: `\(out.hostPath)` does not exist: a sub-cgroup must be made first")
            }
            return out
        }
        if version == .v2 {
            guard specs.count == 1, let u = unified else {
                throw .message("--cgroup: cgroup v2 has one hierarchy: give one path")
            }
            let parts = specs[0].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 1 || parts[0].isEmpty else {
                throw .message("--cgroup: `\(specs[0])`: cgroup v2 has no per-controller paths; give a path only")
            }
            return Cgroup(version: .v2, dirs: [try below(u, String(parts.last ?? ""))])
        }
        var dirs = self.dirs
        for spec in specs {
            let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts.last ?? "")
            let controllers = parts.count == 2 ? parts[0].split(separator: ",").map(String.init) : []
            var matched = false
            for (i, d) in self.dirs.enumerated() where d.hierarchy != "unified" {
                let names = d.hierarchy.pieces(UInt8(ascii: ","))
                guard controllers.isEmpty || controllers.contains(where: { names.contains($0) }) else { continue }
                dirs[i] = try below(d, path)
                matched = true
            }
            if !matched { throw .message("--cgroup: `\(spec)`: the container has no cgroup for \(controllers.joined(separator: ","))") }
        }
        return Cgroup(version: .v1, dirs: dirs)
    }
}
