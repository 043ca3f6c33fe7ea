import Glibc
import LinuxSys
import OCISpec

/// What skiff records about a container, in `<root>/<id>/state.json`.
/// The status is never stored: it is derived from the process (see
/// `Container.status`), so it cannot go stale.
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
    /// For messages about an execve that fails after `start`.
    var args: [String]
    var execPaths: [String]
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
        members += [("started", .bool(started)), ("ownPidNamespace", .bool(ownPidNamespace)),
                    ("args", .array(args.map { .string($0) })), ("execPaths", .array(execPaths.map { .string($0) }))]
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
        args = try o.required("args")
        execPaths = try o.required("execPaths")
    }
}

/// The directory of containers under `--root`.
struct StateStore {
    let root: String

    static let stateFile = "state.json"
    static let startSocket = "start.sock"

    /// Container ids: runc's alphabet, and a single path component.
    static func checkID(_ id: String) throws(RuntimeError) {
        let ok = !id.isEmpty && id.utf8.count <= 255 && id != "." && id != ".."
            && id.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                    || b == UInt8(ascii: "_") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
            }
        if !ok {
            throw .message("invalid container id `\(id)`: use 1 to 255 of the characters a-z A-Z 0-9 _ + - .")
        }
    }

    func path(_ id: String) -> String { root + "/" + id }

    /// Makes the directory of a new container and locks it.
    func create(_ id: String) throws(RuntimeError) -> ContainerDir {
        try StateStore.checkID(id)
        try sys { () throws(SysError) in try Sys.mkdirAll(root, 0o700) }
        let p = path(id)
        if Glibc.mkdir(p, 0o700) != 0 {
            let e = Errno.current
            if e == .EEXIST { throw .message("container `\(id)` already exists") }
            throw .system(SysError("mkdir", p, errno: e))
        }
        return try ContainerDir(id: id, path: p)
    }

    /// Opens and locks the directory of an existing container.
    func open(_ id: String) throws(RuntimeError) -> ContainerDir {
        try StateStore.checkID(id)
        return try ContainerDir(id: id, path: path(id))
    }

    func ids() -> [String] {
        ((try? Sys.listDirectory(root)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}

/// A container's state directory, locked (flock) while this object lives:
/// every operation on one container holds the lock.
final class ContainerDir {
    let id: String
    let path: String
    let fd: FileDescriptor

    init(id: String, path: String) throws(RuntimeError) {
        self.id = id
        self.path = path
        do {
            fd = try Sys.open(path, O_RDONLY | O_DIRECTORY)
            try Sys.flock(fd.raw, LOCK_EX, path)
        } catch {
            if error.errno == .ENOENT { throw .message("container `\(id)` does not exist") }
            if error.errno == .EACCES {
                throw .message("container `\(id)`: permission denied on \(path) (it belongs to another user)")
            }
            throw .system(error)
        }
    }

    var statePath: String { path + "/" + StateStore.stateFile }

    func read() throws(RuntimeError) -> ContainerRecord {
        let bytes: [UInt8]
        do {
            bytes = try Sys.readFileAt(fd.raw, StateStore.stateFile, display: statePath)
        } catch {
            if error.errno == .ENOENT {
                throw .message("container `\(id)` is being created (or its creation failed): \(statePath) does not exist yet")
            }
            throw .system(error)
        }
        do {
            return try JSONDecoding.decode(ContainerRecord.self, json: bytes)
        } catch {
            throw .context(statePath, .spec(error))
        }
    }

    func write(_ record: ContainerRecord) throws(RuntimeError) {
        let bytes = Array(record.json.serialized(pretty: false).utf8)
        try sys { () throws(SysError) in
            try Sys.writeAtomically(fd.raw, StateStore.stateFile, bytes, mode: 0o600, display: statePath)
        }
    }

    /// The owner of the container: the owner of its state directory.
    var ownerUID: UInt32? {
        guard let st = try? Sys.fstat(fd.raw) else { return nil }
        return UInt32(st.st_uid)
    }

    func remove() throws(RuntimeError) {
        try sys { () throws(SysError) in try Sys.removeDirectory(path) }
    }
}
