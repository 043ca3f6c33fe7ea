import CShim
import Glibc
import LinuxSys
import OCISpec

/// What skiff records about a container, in `<root>/<id>/state.json`.
/// The status is never stored: it is derived from the process (see
/// `Runtime.status`, Operations/Status.swift), so it cannot go stale.
struct ContainerRecord: Codable {
    var ociVersion: String
    var id: String
    var pid: Int32
    /// Start time of `pid` in clock ticks after boot: a pid reused by another
    /// process has another start time, and is never signalled.
    var startTime: UInt64
    var bundle: String
    var rootfs: String
    var created: String
    var annotations: OrderedMap<String>?
    /// `start` (or `run`) released the process to execve.
    var started: Bool
    /// The container has a pid namespace of its own (kill --all walks it).
    var ownPidNamespace: Bool
    /// Its inode, recorded at create: kill --all checks the process is
    /// still in it.
    var pidNamespace: UInt64?
    /// linux.netDevices moved in, [host name, container name]: moved back
    /// at delete.
    var netDevices: [[String]]?
    /// The container's cgroup (Cgroup.recorded checks it before use):
    /// 1 or 2, and a directory per hierarchy.
    var cgroupVersion: Int?
    var cgroupPaths: [String]?
    /// Those of them that existed before the container (never removed),
    /// and the processes that were in them then, [pid, start time] (never
    /// signalled).
    var cgroupAdopted: [String]? = nil
    var cgroupForeign: [[UInt64]]? = nil
    /// The container has a session keyring of its own ("_ses.<id>"):
    /// exec'd processes join it (false or absent: --no-new-keyring).
    var sessionKeyring: Bool? = nil
    /// --systemd-cgroup: the scope systemd made, and whether the user's
    /// manager made it.
    var systemdUnit: String? = nil
    var systemdUser: Bool? = nil
    /// For messages about an execve that fails after `start`.
    var args: [String]
    var execPaths: [String]
    /// startContainer (for messages), poststart and poststop.
    var hooks: Hooks? = nil
    /// Where the process's stdin, stdout and stderr led when it was made
    /// (`pipe:[N]`, a path): checkpoint writes them to descriptors.json,
    /// restore reconnects the pipes (runc's external descriptors).
    var stdio: [String]? = nil
}

extension ContainerRecord {
    /// The record as JSON, built directly (Codable's encoder would pay the
    /// run-time generic machinery on every create).
    var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("ociVersion", .string(ociVersion)), ("id", .string(id)), ("pid", .int(Int64(pid))),
            ("startTime", startTime > UInt64(Int64.max) ? .uint(startTime) : .int(Int64(startTime))),
            ("bundle", .string(bundle)), ("rootfs", .string(rootfs)), ("created", .string(created)),
        ]
        if let annotations { members.append(("annotations", .object(annotations.entries.map { ($0.key, .string($0.value)) }))) }
        members += [("started", .bool(started)), ("ownPidNamespace", .bool(ownPidNamespace))]
        if let netDevices { members.append(("netDevices", .array(netDevices.map { .array($0.map { .string($0) }) }))) }
        if let pidNamespace { members.append(("pidNamespace", pidNamespace > UInt64(Int64.max) ? .uint(pidNamespace) : .int(Int64(pidNamespace)))) }
        if let cgroupVersion { members.append(("cgroupVersion", .int(Int64(cgroupVersion)))) }
        if let cgroupPaths { members.append(("cgroupPaths", .array(cgroupPaths.map { .string($0) }))) }
        if let cgroupAdopted { members.append(("cgroupAdopted", .array(cgroupAdopted.map { .string($0) }))) }
        if let cgroupForeign {
            members.append(("cgroupForeign", .array(cgroupForeign.map { .array($0.map { .int(Int64(clamping: $0)) }) })))
        }
        if let sessionKeyring { members.append(("sessionKeyring", .bool(sessionKeyring))) }
        if let systemdUnit { members.append(("systemdUnit", .string(systemdUnit))) }
        if let systemdUser { members.append(("systemdUser", .bool(systemdUser))) }
        members += [
            ("args", .array(args.map { .string($0) })), ("execPaths", .array(execPaths.map { .string($0) })),
        ]
        if let hooks { members.append(("hooks", SpecEncoder.encode(hooks))) }
        if let stdio { members.append(("stdio", .array(stdio.map { .string($0) }))) }
        return .object(members)
    }
}

extension ContainerRecord: JSONDecodable {
    init(json: JSONValue, at node: JSONPathNode) throws(SpecError) {
        let o = try JSONMembers(json, node)
        ociVersion = try o.required("ociVersion")
        id = try o.required("id")
        pid = try o.required("pid")
        startTime = try o.required("startTime")
        bundle = try o.required("bundle")
        rootfs = try o.required("rootfs")
        created = try o.required("created")
        annotations = try o.optional("annotations")
        started = try o.required("started")
        ownPidNamespace = try o.required("ownPidNamespace")
        pidNamespace = try o.optional("pidNamespace")
        netDevices = try o.optional("netDevices")
        cgroupVersion = try o.optional("cgroupVersion")
        cgroupPaths = try o.optional("cgroupPaths")
        cgroupAdopted = try o.optional("cgroupAdopted")
        cgroupForeign = try o.optional("cgroupForeign")
        sessionKeyring = try o.optional("sessionKeyring")
        systemdUnit = try o.optional("systemdUnit")
        systemdUser = try o.optional("systemdUser")
        args = try o.required("args")
        execPaths = try o.required("execPaths")
        hooks = try o.optional("hooks")
        stdio = try o.optional("stdio")
    }
}

/// The directory of containers under `--root`. Nothing in it is trusted
/// by path: the root is opened once (never through a symlink) and must be
/// the caller's and writable by no one else, since whoever can write it can
/// forge state that root's `kill` and `delete` act on. Every container
/// path is opened relative to directory fds with O_NOFOLLOW, and removal
/// is `unlinkat` on those fds.
struct StateStore {
    let root: String

    static let stateFile = "state.json"
    static let startSocket = "start.sock"
    /// A state.json is a few hundred bytes; a larger one is not ours.
    static let maxStateSize = 1 << 20

    /// Container ids: runc's alphabet, and a single path component.
    static func checkID(_ id: String) throws(RuntimeError) {
        let ok =
            !id.isEmpty && id.utf8.count <= 255 && id != "." && id != ".."
            && id.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                    || b == UInt8(ascii: "_") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
            }
        if !ok {
            throw .message("invalid container id `\(id)`: use 1 to 255 of the characters a-z A-Z 0-9 _ + - .")
        }
    }

    func path(_ id: String) -> String { root + "/" + id }

    /// The root, checked; nil when it does not exist (and `create` is false).
    func openRoot(create: Bool) throws(RuntimeError) -> FileDescriptor? {
        if create {
            // Missing parents are made 0700 as well; an existing root keeps its mode.
            try sys { () throws(SysError) in try Sys.mkdirAll(root, 0o700) }
        }
        func open() throws(RuntimeError) -> FileDescriptor? {
            do {
                return try Sys.open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            } catch {
                if error.errno == .ENOENT && !create { return nil }
                if error.errno == Errno(ELOOP) || error.errno == Errno(ENOTDIR) {
                    throw .message("--root `\(root)` is a symlink or not a directory: give the state directory itself")
                }
                throw .context("--root", .system(error))
            }
        }
        guard let fd = try open() else { return nil }
        let st = try sys { () throws(SysError) in try Sys.fstat(fd.raw, root) }
        if st.st_uid != Sys.euid {
            throw .message(
                "--root `\(root)` belongs to uid \(st.st_uid), not to uid \(Sys.euid): skiff keeps state only in a directory of its caller's (whoever can write it can forge state); use another --root"
            )
        }
        if st.st_mode & 0o022 != 0 {
            throw .message("--root `\(root)` may be written by group or others (mode \(String(st.st_mode & 0o7777, radix: 8))): run `chmod go-w \(root)`")
        }
        return fd
    }

    /// Makes the directory of a new container and locks it.
    func create(_ id: String) throws(RuntimeError) -> ContainerDir {
        try StateStore.checkID(id)
        guard let rootfd = try openRoot(create: true) else { throw .message("--root `\(root)` does not exist") }
        if Glibc.mkdirat(rootfd.raw, id, 0o700) != 0 {
            let e = Errno.current
            if e == .EEXIST { throw .message("container `\(id)` already exists") }
            throw .system(SysError("mkdir", path(id), errno: e))
        }
        return try ContainerDir(root: rootfd, id: id, path: path(id))
    }

    /// Opens and locks the directory of an existing container.
    func open(_ id: String) throws(RuntimeError) -> ContainerDir {
        try StateStore.checkID(id)
        guard let rootfd = try openRoot(create: false) else { throw .message("container `\(id)` does not exist") }
        return try ContainerDir(root: rootfd, id: id, path: path(id))
    }

    /// Whether a container of that id has a directory (not following links).
    func exists(_ id: String) throws(RuntimeError) -> Bool {
        try StateStore.checkID(id)
        guard let rootfd = try openRoot(create: false) else { return false }
        var st = stat()
        return Glibc.fstatat(rootfd.raw, id, &st, AT_SYMLINK_NOFOLLOW) == 0 || Errno.current != .ENOENT
    }

    /// What `state` and `list` see, without taking the lock: the record, or,
    /// for a directory that has none yet, whether a create still holds it.
    enum Peeked {
        case record(ContainerRecord, owner: UInt32)
        /// No state.json: being created (locked), or left by a create that
        /// died (`delete` removes it).
        case incomplete(id: String, creating: Bool, owner: UInt32)
    }

    func peek(_ id: String) throws(RuntimeError) -> Peeked {
        try StateStore.checkID(id)
        guard let rootfd = try openRoot(create: false) else { throw .message("container `\(id)` does not exist") }
        let dir = try ContainerDir.openChecked(rootfd.raw, id, path(id))
        let owner = UInt32((try? Sys.fstat(dir.raw))?.st_uid ?? 0)
        do {
            return .record(try ContainerDir.readRecord(dir.raw, id: id, path: path(id)), owner: owner)
        } catch let e as ContainerDir.Missing {
            _ = e
            let creating = skiff_flock(dir.raw, LOCK_SH | LOCK_NB) != 0
            return .incomplete(id: id, creating: creating, owner: owner)
        } catch let e as RuntimeError {
            throw e
        } catch {
            throw .message("\(error)")
        }
    }

    /// The ids of the containers: the directories in the root.
    func ids() throws(RuntimeError) -> [String] {
        guard let rootfd = try openRoot(create: false) else { return [] }
        let names = try sys { () throws(SysError) in try Sys.listDirectory(fd: rootfd.raw, directoriesOnly: true) }
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }
}

/// A container's state directory, locked (flock) while this object lives:
/// every operation on one container holds the lock.
final class ContainerDir {
    let id: String
    let path: String
    let root: FileDescriptor
    let fd: FileDescriptor

    struct Missing: Error {}

    init(root: consuming FileDescriptor, id: String, path: String) throws(RuntimeError) {
        self.id = id
        self.path = path
        let dir = try ContainerDir.openChecked(root.raw, id, path)
        do {
            try Sys.flock(dir.raw, LOCK_EX, path)
        } catch {
            throw .system(error)
        }
        self.root = root
        self.fd = dir
    }

    /// The container's directory: a directory (not a link) of the caller's.
    static func openChecked(_ rootfd: Int32, _ id: String, _ path: String) throws(RuntimeError) -> FileDescriptor {
        func open() throws(RuntimeError) -> FileDescriptor {
            do {
                return try Sys.openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, display: path)
            } catch {
                if error.errno == .ENOENT { throw .message("container `\(id)` does not exist") }
                if error.errno == Errno(ELOOP) || error.errno == Errno(ENOTDIR) {
                    throw .message("container `\(id)`: \(path) is not a directory skiff made (a symlink or a file): remove it by hand")
                }
                if error.errno == .EACCES {
                    throw .message("container `\(id)`: permission denied on \(path) (it belongs to another user)")
                }
                throw .system(error)
            }
        }
        let dir = try open()
        let st = try sys { () throws(SysError) in try Sys.fstat(dir.raw, path) }
        if st.st_uid != Sys.euid {
            throw .message("container `\(id)`: \(path) belongs to uid \(st.st_uid), not to uid \(Sys.euid)")
        }
        return dir
    }

    var statePath: String { path + "/" + StateStore.stateFile }

    /// state.json: a regular file of the caller's, at most maxStateSize
    /// bytes (never a link, a FIFO or a device: opened O_NOFOLLOW and
    /// O_NONBLOCK, checked before it is read). Throws Missing if absent.
    static func readRecord(_ dirfd: Int32, id: String, path: String) throws -> ContainerRecord {
        let statePath = path + "/" + StateStore.stateFile
        func open() throws -> FileDescriptor {
            do {
                return try Sys.openat(dirfd, StateStore.stateFile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, display: statePath)
            } catch {
                if error.errno == .ENOENT { throw Missing() }
                if error.errno == Errno(ELOOP) { throw RuntimeError.message("\(statePath) is a symlink: not a state file skiff wrote") }
                throw RuntimeError.system(error)
            }
        }
        let fd = try open()
        let st = try sys { () throws(SysError) in try Sys.fstat(fd.raw, statePath) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw RuntimeError.message("\(statePath) is not a regular file: not a state file skiff wrote")
        }
        guard st.st_uid == Sys.euid else {
            throw RuntimeError.message("\(statePath) belongs to uid \(st.st_uid), not to uid \(Sys.euid): not a state file skiff wrote")
        }
        guard st.st_size <= StateStore.maxStateSize else {
            throw RuntimeError.message("\(statePath) has \(st.st_size) bytes: more than a state file (at most \(StateStore.maxStateSize))")
        }
        let bytes = try sys { () throws(SysError) in try Sys.read(fd, statePath, limit: StateStore.maxStateSize) }
        do {
            let r = try JSONDecoding.decode(ContainerRecord.self, json: bytes)
            guard r.id == id else { throw RuntimeError.message("\(statePath) describes container `\(r.id)`, not `\(id)`") }
            return r
        } catch let e as RuntimeError {
            throw e
        } catch let e as SpecError {
            throw RuntimeError.context(statePath, .spec(e))
        }
    }

    func read() throws(RuntimeError) -> ContainerRecord {
        do {
            return try ContainerDir.readRecord(fd.raw, id: id, path: path)
        } catch is Missing {
            throw .message("container `\(id)` is being created (or its creation failed): \(statePath) does not exist yet")
        } catch let e as RuntimeError {
            throw e
        } catch {
            throw .message("\(error)")
        }
    }

    func write(_ record: ContainerRecord) throws(RuntimeError) {
        let bytes = Array(record.json.serialized(pretty: false).utf8)
        try sys { () throws(SysError) in
            try Sys.writeAtomically(fd.raw, StateStore.stateFile, bytes, mode: 0o600, display: statePath)
        }
    }

    /// The cgroup a create made before its state was written (so that the
    /// delete of a create that died finds it): `cgroups`, the version on
    /// the first line and a directory per line after it.
    static let cgroupsFile = "cgroups"

    func writeCgroups(_ version: Int, _ paths: [String], adopted: [String]) throws(RuntimeError) {
        var text = "\(version)\n"
        // An adopted directory (one that existed before): "adopted PATH".
        for p in paths { text += (adopted.contains(p) ? "adopted " : "") + p + "\n" }  // not joined(): a run-time conformance lookup
        try sys { () throws(SysError) in
            try Sys.writeAtomically(
                fd.raw, ContainerDir.cgroupsFile, Array(text.utf8), mode: 0o600,
                display: path + "/" + ContainerDir.cgroupsFile)
        }
    }

    /// Read as state.json is: a regular file of the caller's, bounded.
    func readCgroups() -> (version: Int, paths: [String], adopted: [String])? {
        guard
            let f = try? Sys.openat(
                fd.raw, ContainerDir.cgroupsFile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK,
                display: ContainerDir.cgroupsFile),
            let st = try? Sys.fstat(f.raw), st.st_mode & S_IFMT == S_IFREG, st.st_uid == Sys.euid,
            let bytes = try? Sys.read(f, ContainerDir.cgroupsFile, limit: 1 << 16)
        else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        guard let first = lines.first, let v = Int(first), v == 1 || v == 2 else { return nil }
        let paths = lines.dropFirst().map { $0.hasPrefix("adopted ") ? String($0.dropFirst(8)) : $0 }
        let adopted = lines.dropFirst().filter { $0.hasPrefix("adopted ") }.map { String($0.dropFirst(8)) }
        return (v, paths, adopted)
    }

    /// The container's config.json as create read it: exec plans its
    /// processes from it (changes to the bundle after create do not count,
    /// as the spec says of every operation after create).
    static let configFile = "config.json"

    func writeConfig(_ bytes: [UInt8]) throws(RuntimeError) {
        try sys { () throws(SysError) in
            try Sys.writeAtomically(
                fd.raw, ContainerDir.configFile, bytes, mode: 0o600,
                display: path + "/" + ContainerDir.configFile)
        }
    }

    /// Read as state.json is: a regular file of the caller's, bounded.
    func readConfig() throws(RuntimeError) -> [UInt8] {
        let display = path + "/" + ContainerDir.configFile
        do {
            let f = try Sys.openat(fd.raw, ContainerDir.configFile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, display: display)
            let st = try Sys.fstat(f.raw, display)
            guard st.st_mode & S_IFMT == S_IFREG, st.st_uid == Sys.euid else {
                throw RuntimeError.message("\(display) is not a file skiff wrote")
            }
            return try Sys.read(f, display, limit: Runtime.maxConfigSize)
        } catch let e as SysError {
            throw .system(e)
        } catch let e as RuntimeError {
            throw e
        } catch {
            throw .message("\(error)")
        }
    }

    /// The owner of the container: the owner of its state directory.
    var ownerUID: UInt32? {
        guard let st = try? Sys.fstat(fd.raw) else { return nil }
        return UInt32(st.st_uid)
    }

    /// Removes what skiff made: the files in the directory (unlinkat never
    /// follows a link: a link is removed, not what it points to), then the
    /// directory. A directory inside it is not skiff's: refused.
    func remove() throws(RuntimeError) {
        try sys { () throws(SysError) in
            for name in try Sys.listDirectory(fd: fd.raw, directoriesOnly: false) {
                if Glibc.unlinkat(fd.raw, name, 0) != 0 {
                    let e = Errno.current
                    if e == .ENOENT { continue }
                    if e == Errno(EISDIR) {
                        throw SysError("remove", path + "/" + name + " (a directory skiff did not make)", errno: e)
                    }
                    throw SysError("remove", path + "/" + name, errno: e)
                }
            }
            if Glibc.unlinkat(root.raw, id, AT_REMOVEDIR) != 0 {
                let e = Errno.current
                if e != .ENOENT { throw SysError("remove", path, errno: e) }
            }
        }
    }
}
