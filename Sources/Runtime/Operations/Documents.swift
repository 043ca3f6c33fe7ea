import CSeccomp
import Glibc
import LinuxSys
import OCISpec
import Planning

/// The documents skiff writes: `spec` (a default config.json) and `features`.
extension Runtime {
    static let defaultConfig = """
        {
          "ociVersion": "\(OCISpec.ociVersion)",
          "process": {
            "terminal": true,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
              "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
              "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
              "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
              "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
          },
          "root": { "path": "rootfs", "readonly": true },
          "hostname": "skiff",
          "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
          ],
          "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
              { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
              "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
              "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
          }
        }
        """

    /// The default config: what `runc spec` writes (harnesses make bundles
    /// with `$RUNTIME spec` and then pass --console-socket), ociVersion
    /// aside. `rootless` makes it work as is for the calling user, as
    /// `runc spec --rootless`: its own ids mapped to 0, no network
    /// namespace, /sys bound from the host (recursively read-only, where
    /// runc leaves the mounts below it writable), no group 5 on devpts, no
    /// resources. `skiffDefaults`: no terminal (a plain `skiff run` works
    /// without one), a cgroup namespace of its own, no ambient capabilities.
    public static func defaultSpec(rootless: Bool, skiffDefaults: Bool = false) -> Spec {
        var spec: Spec
        do {
            spec = try SpecDecoder.decode(Spec.self, json: Array(defaultConfig.utf8))
        } catch {
            preconditionFailure("the built-in default config does not decode: \(error)")
        }
        if skiffDefaults {
            spec.process?.terminal = false
            spec.process?.capabilities?.ambient = nil
            let namespaces = spec.linux?.namespaces ?? []
            spec.linux?.namespaces = namespaces + [Namespace(type: .cgroup)]
        }
        guard rootless else { return spec }
        var linux = spec.linux
        linux?.resources = nil
        let namespaces = (linux?.namespaces ?? []).filter { $0.type != .network } + [Namespace(type: .user)]
        linux?.namespaces = namespaces
        linux?.uidMappings = [IDMapping(containerID: 0, hostID: UInt32(Sys.euid), size: 1)]
        linux?.gidMappings = [IDMapping(containerID: 0, hostID: UInt32(Sys.egid), size: 1)]
        spec.linux = linux
        spec.mounts = (spec.mounts ?? []).map { m in
            var m = m
            if m.destination == "/sys" {
                // rro: the host's mounts below /sys (its cgroups) come along
                // and must be read-only too (CVE-2023-25809).
                m = Mount(
                    destination: "/sys", type: "none", source: "/sys",
                    options: ["rbind", "nosuid", "noexec", "nodev", "rro"])
            }
            if m.type == "devpts" { m.options = m.options?.filter { $0 != "gid=5" } }
            return m
        }
        return spec
    }

    /// Writes config.json into `bundle`; an existing one is never overwritten.
    public static func writeSpec(bundle: String, rootless: Bool, skiffDefaults: Bool = false) throws(RuntimeError) {
        let text = SpecEncoder.serialize(defaultSpec(rootless: rootless, skiffDefaults: skiffDefaults)) + "\n"
        let path = (bundle.hasSuffix("/") ? bundle : bundle + "/") + "config.json"
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            let e = Errno.current
            if e == .EEXIST { throw .message("\(path) exists already: remove it first") }
            throw .system(SysError("create", path, errno: e))
        }
        let owned = FileDescriptor(adopting: fd)
        try sys { () throws(SysError) in try Sys.write(owned.raw, text, path) }
    }

    public static func features() -> String {
        let mountOptions = MountOptionNames.all
        let linux = LinuxFeatures(
            namespaces: NamespaceType.names,
            capabilities: Capability.allNames,
            cgroup: .init(v1: true, v2: true, systemd: true, systemdUser: true, rdma: true),
            seccomp: .init(
                enabled: true, actions: SeccompAction.names,
                operators: SeccompOperator.names, archs: SeccompArch.names, knownFlags: SeccompFlag.names,
                supportedFlags: [SeccompFlag.tsync, .log, .specAllow].map(\.rawValue)),
            apparmor: Enabled(false), selinux: Enabled(false),
            intelRdt: .init(enabled: false, schemata: false, monitoring: false),
            mountExtensions: .init(idmap: Enabled(true)), netDevices: Enabled(true), memoryPolicy: nil)
        var annotations = OrderedMap([("io.github.skiff.version", skiffVersion)])
        // As runc's document says it: checkpoint and restore are built in
        // (whether CRIU works on this host is `skiff check`'s question).
        let criu = Criu.find() != nil ? "true" : "false"
        annotations["io.github.skiff.checkpoint.enabled"] = criu
        annotations["org.opencontainers.runc.checkpoint.enabled"] = criu
        if let v = seccomp_version() {
            annotations["io.github.seccomp.libseccomp.version"] = "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
        }
        let f = Features(
            ociVersionMin: "1.0.0", ociVersionMax: OCISpec.ociVersion,
            hooks: Hooks().all.map(\.name),
            mountOptions: mountOptions, linux: linux, annotations: annotations)
        return SpecEncoder.serialize(f)
    }
}

public let skiffVersion = "0.1.0"

extension Runtime {
    /// libseccomp's version, as `--version` prints it.
    public static var libseccompVersion: String {
        guard let v = seccomp_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
    }
}
public let ociVersionSupported = OCISpec.ociVersion
