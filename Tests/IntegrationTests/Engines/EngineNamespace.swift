import Foundation

/// A mount namespace for an engine and everything it starts (daemons,
/// shims, conmon, skiff, the engine's cleanup processes): the fixed places
/// of the host an engine writes to whatever flags it is given (containerd's
/// /run/containerd, dockerd's /run/docker, skiff's default root /run/skiff,
/// podman's /var/lib/containers and /run/netns, CNI's /var/lib/cni) are
/// empty tmpfs-backed directories there; everything else in /run and
/// /var/lib is the host's own, bound back (systemd's and D-Bus's sockets
/// among it). The host's directories of those names, if any, are neither
/// seen nor changed, and what the engine leaves in them goes with the
/// namespace.
///
/// A holder process (a shell that did the mounts, then sleeps) keeps the
/// namespace; engine commands enter it with nsenter, which execs them (the
/// pid is the engine's).
final class EngineNamespace: @unchecked Sendable {
    static let privateEntries = [
        "/run/containerd", "/run/docker", "/run/docker.sock", "/run/docker.pid", "/run/skiff", "/run/runc", "/run/crun",
        "/run/containers", "/run/libpod", "/run/netns", "/run/cni", "/run/podman",
        "/var/lib/containers", "/var/lib/cni", "/var/lib/docker", "/var/lib/containerd",
    ]

    let pid: pid_t
    private var alive = true

    init(dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ready = dir + "/namespace.ready"
        unlink(ready)
        // For /run and /var/lib: the host's tree kept aside (a recursive
        // bind), a tmpfs in its place, each entry bound back but the private
        // ones (made empty), the aside copy detached.
        let script = #"""
            set -eu
            d=$1; shift
            for top in /run /var/lib; do
                aside=$d/host$(echo $top | tr / -)
                mkdir -p "$aside"
                mount --rbind "$top" "$aside"
                mount -t tmpfs -o mode=755 skiff-test-engine "$top"
                for e in "$aside"/* "$aside"/.[!.]*; do
                    [ -e "$e" ] || [ -L "$e" ] || continue
                    n=${e##*/}
                    case " $* " in *" $top/$n "*) continue ;; esac
                    if [ -L "$e" ]; then cp -P "$e" "$top/"
                    elif [ -d "$e" ]; then mkdir -p "$top/$n"; mount --rbind "$e" "$top/$n"
                    else : > "$top/$n"; mount --bind "$e" "$top/$n"; fi
                done
                umount -l "$aside"
            done
            : > "$d/namespace.ready"
            exec sleep 2147483647
            """#
        let log = dir + "/namespace.log"
        pid = try Engines.spawnDetached(
            "/usr/bin/unshare",
            ["-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", dir]
                + Self.privateEntries, log: log)
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: ready) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid || Date() > deadline {
                alive = false
                kill(pid, SIGKILL)
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw HarnessError("the engines' mount namespace was not made: \(text.suffix(2000))")
            }
            usleep(10_000)
        }
    }

    /// `path args` run inside the namespace.
    func enter(_ path: String, _ args: [String]) -> (path: String, args: [String]) {
        ("/usr/bin/nsenter", ["--mount=/proc/\(pid)/ns/mnt", "--", path] + args)
    }

    /// A path as the namespace sees it, from the host.
    func inside(_ path: String) -> String { "/proc/\(pid)/root" + path }

    var mountinfo: String { (try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8)) ?? "" }

    /// Ends the holder; the namespace goes when the last process in it does.
    func stop() {
        guard alive else { return }
        alive = false
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}
