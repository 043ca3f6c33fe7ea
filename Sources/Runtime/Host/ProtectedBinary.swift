import CShim
import Glibc
import LinuxSys

/// The binary that create, run and exec run from is one the container
/// cannot write (CVE-2019-5736): the container's first process is a clone
/// of skiff, reachable through /proc/<pid>/exe until it execs.
public enum ProtectedBinary {
    /// Set across the re-exec, so that a copy that is still writable is an
    /// error rather than a loop.
    static let marker = "_SKIFF_PROTECTED_EXE"

    /// Returns when skiff runs from a read-only or sealed binary, or when
    /// nothing in a container could write the file anyway (an unprivileged
    /// caller's binary that is root's); otherwise re-executes skiff from a
    /// read-only copy and does not return.
    public static func ensure(log: Log) throws(RuntimeError) {
        let kind = skiff_exe_kind()
        // Ours only if it names this pid (execve keeps it): a marker
        // inherited from elsewhere is dropped and not believed.
        let reexecuted = skiff_reexecuted() != 0
        if Sys.environment(marker) != nil { unsetenv(marker) }
        let st = try? Sys.stat("/proc/self/exe")
        let decision = decide(
            kind: kind, reexecuted: reexecuted, hostRoot: Sys.euid == 0 && !Proc.inUserNamespace(), euid: Sys.euid,
            exeOwner: st?.st_uid, exeMode: st.map { UInt32($0.st_mode) })
        switch decision {
        case .runs:
            return
        case let .fails(error):
            throw error
        case .reexecutes:
            break
        }
        setenv(marker, "\(getpid())", 1)
        var usedMemfd: Int32 = 0
        log.debug("re-executing from a read-only overlay of the binary (CVE-2019-5736)")
        let r = skiff_exec_protected(CommandLine.unsafeArgv, environ, 1, &usedMemfd)
        unsetenv(marker)
        throw .system(
            SysError(
                usedMemfd != 0 ? "exec skiff from a sealed memfd copy" : "exec skiff from a read-only overlay",
                nil, errno: Errno(-r)))
    }

    enum Decision {
        /// The binary is safe to run containers from.
        case runs
        /// Re-execute from a read-only copy.
        case reexecutes
        case fails(RuntimeError)
    }

    /// What ensure does, from the facts: what /proc/self/exe is
    /// (skiff_exe_kind), whether this is skiff's own re-exec, the caller,
    /// the binary's owner and mode.
    static func decide(kind: Int32, reexecuted: Bool, hostRoot: Bool, euid: UInt32, exeOwner: UInt32?, exeMode: UInt32?)
        -> Decision
    {
        if kind < 0 { return .fails(.system(SysError("open", "/proc/self/exe", errno: Errno(-kind)))) }
        if kind == Int32(SKIFF_EXE_READONLY.rawValue) || kind == Int32(SKIFF_EXE_SEALED.rawValue) { return .runs }
        if !hostRoot, let owner = exeOwner, let mode = exeMode, owner != euid, mode & 0o022 == 0 {
            // A rootless container's ids are ours or our subordinate ids
            // (or, for root of a user namespace, ids mapped in it): none of
            // them can write a file of another owner's that is 0755.
            return .runs
        }
        if reexecuted {
            return .fails(
                .message("skiff re-executed itself from a read-only copy, but /proc/self/exe is still writable: refusing to start a container"))
        }
        return .reexecutes
    }
}
