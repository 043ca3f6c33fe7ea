import Foundation
import Testing

/// Runs the real skiff binary against real bundles. Tests need root (they
/// are the project's CI); rootless ones switch to an unprivileged user.
enum Harness {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// SKIFF_BIN, or the debug build of this checkout.
    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["SKIFF_BIN"], !b.isEmpty { return b }
        return packageRoot.appendingPathComponent(".build/debug/skiff").path
    }()

    static let busybox = "/bin/busybox"

    /// A scratch directory for this test process, removed when it exits.
    static let scratch: String = {
        let dir = scratchPath()
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o755)
        atexit {
            Harness.deleteLeftoverContainers()
            try? FileManager.default.removeItem(atPath: scratchPath())
        }
        return dir
    }()

    static func scratchPath() -> String { "/tmp/skiff-it-\(getpid())" }

    /// A test that fails half-way can leave a container behind; removing its
    /// state directory alone would strand a created container blocked before
    /// execve. `delete --force` every container still recorded under a
    /// test's --root (as root, which may delete rootless ones too).
    static func deleteLeftoverContainers() {
        let fm = FileManager.default
        let scratch = scratchPath()
        for name in (try? fm.contentsOfDirectory(atPath: scratch)) ?? [] where name.hasPrefix("root-") {
            // A rootless default root is $XDG_RUNTIME_DIR/skiff (root-…-xdg/skiff).
            let root = scratch + "/" + name + (name.hasSuffix("-xdg") ? "/skiff" : "")
            // skiff refuses a --root that is not the caller's: delete as its owner.
            var st = stat()
            guard lstat(root, &st) == 0 else { continue }
            let asOwner = st.st_uid == 0 ? [] : ["/usr/bin/setpriv", "--reuid=\(st.st_uid)", "--regid=\(st.st_gid)", "--clear-groups"]
            for id in (try? fm.contentsOfDirectory(atPath: root)) ?? [] {
                let argv = asOwner + [binary, "--root", root, "delete", "--force", id]
                _ = try? exec(argv[0], Array(argv.dropFirst()))
            }
        }
    }

    /// A busybox rootfs shared read-only by the tests (root.readonly).
    static let sharedRootfs: String = makeRootfs(at: scratch + "/rootfs")

    static func makeRootfs(at path: String) -> String {
        let fm = FileManager.default
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "out"] {
            try? fm.createDirectory(atPath: "\(path)/\(d)", withIntermediateDirectories: true)
        }
        chmod("\(path)/tmp", 0o1777)
        chmod(path, 0o755)
        if !fm.fileExists(atPath: "\(path)/bin/busybox") {
            try? fm.copyItem(atPath: busybox, toPath: "\(path)/bin/busybox")
        }
        let applets = (try? sh("\(busybox) --list").stdout) ?? ""
        for a in applets.split(separator: "\n") where !fm.fileExists(atPath: "\(path)/bin/\(a)") {
            try? fm.createSymbolicLink(atPath: "\(path)/bin/\(a)", withDestinationPath: "busybox")
        }
        try? "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
            .write(toFile: "\(path)/etc/passwd", atomically: true, encoding: .utf8)
        try? "root:x:0:\nnogroup:x:65534:\n".write(toFile: "\(path)/etc/group", atomically: true, encoding: .utf8)
        return path
    }

    static let counter = Atomic()

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(getpid())-\(counter.next())"
    }

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "status \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// Runs a program to completion. Output goes to files, not pipes: a
    /// created container keeps skiff's stdout open until it exits.
    @discardableResult
    static func exec(_ path: String, _ args: [String], env: [String: String]? = nil, stdin: String? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let env { p.environment = env }
        let base = scratch + "/" + uniqueName("io")
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        guard let out = FileHandle(forWritingAtPath: base + ".out"), let err = FileHandle(forWritingAtPath: base + ".err") else {
            throw HarnessError("cannot create \(base).out")
        }
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            let inPipe = Pipe()
            p.standardInput = inPipe
            try p.run()
            inPipe.fileHandleForWriting.write(stdin.data(using: .utf8) ?? Data())
            try inPipe.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        p.waitUntilExit()
        try out.close()
        try err.close()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return Result(
            status: status, stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }

    @discardableResult
    static func sh(_ script: String) throws -> Result { try exec("/bin/sh", ["-c", script]) }

    /// Processes whose command line mentions `marker` (a container id):
    /// the container's first process is a clone of skiff and keeps its argv.
    static func processes(mentioning marker: String) -> [Int32] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let pid = Int32(name), pid != me,
                let cmd = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
            else { return nil }
            let text = String(decoding: cmd.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return text.contains(marker) ? pid : nil
        }
    }

    static func hostMountinfo() -> String {
        (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    }
}

/// A counter shared by parallel tests.
final class Atomic: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
    var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// One test's skiff: its own --root, its own bundle directory.
struct Skiff {
    let root: String
    let bundle: String
    var config: [String: Any]
    var user: String? = nil
    /// The skiff binary this container is handled with (a decoy copy in the
    /// attack tests, so that a successful attack damages only the copy).
    var binary = Harness.binary

    /// A bundle whose config comes from `skiff spec` (optionally --rootless),
    /// with the shared read-only busybox rootfs and `args`.
    init(_ args: [String], rootless: Bool = false, rootfs: String? = nil) throws {
        let name = Harness.uniqueName("t")
        root = Harness.scratch + "/root-" + name
        bundle = Harness.scratch + "/bundle-" + name
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        chmod(bundle, 0o755)
        let r = try Harness.exec(Harness.binary, ["spec", "--skiff-defaults", "--bundle", bundle] + (rootless ? ["--rootless"] : []))
        guard r.status == 0 else { throw HarnessError("skiff spec failed: \(r)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json"))
        config = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        self["root"] = ["path": rootfs ?? Harness.sharedRootfs, "readonly": rootfs == nil]
        self["process", "args"] = args
    }

    subscript(_ keys: String...) -> Any? {
        get {
            var v: Any? = config
            for k in keys { v = (v as? [String: Any])?[k] }
            return v
        }
        set { Skiff.set(&config, keys[...], newValue) }
    }

    private static func set(_ dict: inout [String: Any], _ keys: ArraySlice<String>, _ value: Any?) {
        guard let first = keys.first else { return }
        if keys.count == 1 {
            dict[first] = value
        } else {
            var inner = dict[first] as? [String: Any] ?? [:]
            set(&inner, keys.dropFirst(), value)
            dict[first] = inner
        }
    }

    var mounts: [[String: Any]] {
        get { config["mounts"] as? [[String: Any]] ?? [] }
        set { config["mounts"] = newValue }
    }

    var namespaces: [[String: Any]] {
        get { self["linux", "namespaces"] as? [[String: Any]] ?? [] }
        set { self["linux", "namespaces"] = newValue }
    }

    func writeConfig() throws {
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: bundle + "/config.json"))
    }

    /// Runs `skiff --root R <args>`, writing the config first.
    @discardableResult
    func callAsFunction(_ args: String..., global: [String] = [], stdin: String? = nil) throws -> Harness.Result {
        try writeConfig()
        return try skiff(global + ["--root", root] + args, stdin: stdin)
    }

    func skiff(_ args: [String], stdin: String? = nil) throws -> Harness.Result {
        if let user {
            let env = ["PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": root + "-xdg", "HOME": "/"]
            return try Harness.exec(
                "/usr/sbin/runuser", ["-u", user, "--", binary] + args,
                env: env, stdin: stdin)
        }
        return try Harness.exec(binary, args, stdin: stdin)
    }

    /// `run` with the bundle; the container's output.
    func run(_ id: String? = nil, extra: [String] = []) throws -> Harness.Result {
        try self(["run", "--bundle", bundle] + extra + [id ?? Harness.uniqueName("c")])
    }

    func callAsFunction(_ args: [String]) throws -> Harness.Result {
        try writeConfig()
        return try skiff(["--root", root] + args)
    }

    /// `skiff run` in the background, returned once the container runs.
    func runInBackground(_ id: String) throws -> Process {
        try writeConfig()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["--root", root, "run", "--bundle", bundle, id]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        try waitFor { (try? state(id)["status"] as? String) == "running" }
        return p
    }

    /// The state document of a container, parsed.
    func state(_ id: String) throws -> [String: Any] {
        let r = try skiff(["--root", root, "state", id])
        guard r.status == 0 else { throw HarnessError("state \(id): \(r)") }
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// Nothing of container `id` is left: no state directory, no process.
    func expectNothingLeft(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            !FileManager.default.fileExists(atPath: root + "/" + id), "state directory left behind",
            sourceLocation: sourceLocation)
        #expect(Harness.processes(mentioning: " \(id)").isEmpty, "process left behind", sourceLocation: sourceLocation)
        #expect(!Harness.hostMountinfo().contains(bundle), "mount left behind", sourceLocation: sourceLocation)
    }

    /// `run` (or `create`) of a new container is refused: exit 1, `message`
    /// on stderr, and nothing of the container left behind.
    @discardableResult
    func expectRefused(
        _ message: String, create: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Harness.Result {
        let id = Harness.uniqueName("refused")
        let r = create ? try self("create", "--bundle", bundle, id) : try run(id)
        #expect(r.status == 1, "\(r)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(message), "expected: \(message)\n\(r)", sourceLocation: sourceLocation)
        expectNothingLeft(id, sourceLocation: sourceLocation)
        return r
    }

    /// A directory on the host, bind-mounted at `/out` in the container.
    func outDir() throws -> String {
        let dir = bundle + "/out"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o777)
        return dir
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The first line of /proc/self/status inside that starts with `key`.
func statusField(_ status: String, _ key: String) -> String? {
    status.split(separator: "\n").first { $0.hasPrefix(key + ":") }
        .map { $0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
}
