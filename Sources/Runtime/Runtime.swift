import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning
import Seccomp

/// The lifecycle operations (runtime.md "Operations") and runc's
/// extensions. The CLI parses; this does the work.
public struct Runtime {
    let store: StateStore
    public let log: Log
    /// --systemd-cgroup: new containers get their cgroup from systemd.
    public var systemdCgroup = false

    public init(root: String, log: Log) {
        self.store = StateStore(root: root)
        self.log = log
    }

    /// `--root` when none is given: /run/skiff for root; for anyone else
    /// $XDG_RUNTIME_DIR/skiff, and an error that says what to set otherwise.
    public static func defaultRoot() throws(RuntimeError) -> String {
        let xdg = Sys.environment("XDG_RUNTIME_DIR").flatMap { $0.isEmpty ? nil : $0 }
        // runc's rule: root of the host uses /run; root of a user namespace
        // (rootless podman, Docker, containerd) uses XDG_RUNTIME_DIR when
        // set, unless USER is root.
        if Sys.euid == 0 {
            guard let xdg, Proc.inUserNamespace(), Sys.environment("USER") != "root" else { return "/run/skiff" }
            return xdg + "/skiff"
        }
        guard let xdg else {
            throw .message(
                "XDG_RUNTIME_DIR is not set: set it to a directory you own (e.g. export XDG_RUNTIME_DIR=/run/user/\(Sys.euid), or a private directory) or pass --root DIR (`skiff check` lists what this host and user lack)"
            )
        }
        guard access(xdg, W_OK | X_OK) == 0 else {
            throw .message("XDG_RUNTIME_DIR `\(xdg)` is not writable by uid \(Sys.euid): set XDG_RUNTIME_DIR to a directory you own or pass --root DIR")
        }
        return xdg + "/skiff"
    }

    /// config.json is read up to this size (nesting depth is json-c's limit).
    static let maxConfigSize = 16 << 20

    static func sessionKeyringName(_ id: String) -> String { "_ses." + id }

    func writePidFile(_ path: String, _ pid: Int32) throws(RuntimeError) {
        let full = absolute(path)
        let slash = full.lastIndex(of: "/") ?? full.startIndex
        let dirPath = full[..<slash].isEmpty ? "/" : String(full[..<slash])
        let name = String(full[full.index(after: slash)...])
        do {
            let d = try Sys.open(dirPath, skiff_O_PATH | O_DIRECTORY)
            try Sys.writeAtomically(d.raw, name, Array("\(pid)".utf8), display: full)
        } catch {
            throw .context("--pid-file", .system(error))
        }
    }

    func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return path }
        let cwd = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if path.isEmpty || path == "." { return cwd }
        return (cwd == "/" ? "" : cwd) + "/" + path
    }

    /// The config create kept.
    func keptConfig(_ dir: ContainerDir) throws(RuntimeError) -> Spec {
        let path = dir.path + "/" + ContainerDir.configFile
        do {
            return try JSONDecoding.decode(Spec.self, json: try dir.readConfig())
        } catch let e as SpecError {
            throw .context(path, .spec(e))
        } catch let e as RuntimeError {
            throw e
        } catch {
            throw .message("\(error)")
        }
    }
}
