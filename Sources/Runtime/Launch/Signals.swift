import CShim
import Glibc
import LinuxSys

public enum Signals {
    static let names: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP), ("ABRT", SIGABRT),
        ("IOT", SIGIOT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL), ("USR1", SIGUSR1), ("SEGV", SIGSEGV),
        ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT),
        ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU),
        ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF),
        ("WINCH", SIGWINCH), ("IO", SIGIO), ("POLL", SIGPOLL), ("PWR", SIGPWR), ("SYS", SIGSYS),
    ]

    /// A signal from `kill`'s argument: `TERM`, `SIGTERM`, `term`, `15`,
    /// `RTMIN+3`; 0 checks that the container is alive, as with kill(2).
    public static func parse(_ text: String) -> Int32? {
        let rtmin = __libc_current_sigrtmin(), rtmax = __libc_current_sigrtmax()
        if let n = Int32(text) { return n >= 0 && n <= rtmax ? n : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let n = names.first(where: { $0.0 == name })?.1 { return n }
        if name == "RTMIN" { return rtmin }
        if name == "RTMAX" { return rtmax }
        if name.hasPrefix("RTMIN+"), let k = Int32(name.dropFirst(6)), rtmin + k <= rtmax, k >= 0 { return rtmin + k }
        if name.hasPrefix("RTMAX-"), let k = Int32(name.dropFirst(6)), rtmax - k >= rtmin, k >= 0 { return rtmax - k }
        return nil
    }

    /// Signals `run` passes on to the container while it waits.
    static let forwarded: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGALRM, SIGWINCH, SIGCONT]

    /// Blocks the forwarded signals (so that none arrives unhandled between
    /// spawn and the wait loop) and returns a signalfd that receives them.
    /// The container's process resets its mask before execve.
    static func blockForwarded() throws(RuntimeError) -> FileDescriptor {
        var set = sigset_t()
        sigemptyset(&set)
        for s in forwarded { sigaddset(&set, s) }
        if sigprocmask(SIG_BLOCK, &set, nil) != 0 { throw .system(SysError("sigprocmask")) }
        let fd = skiff_signalfd(&set)
        if fd < 0 { throw .system(SysError("signalfd")) }
        return FileDescriptor(adopting: fd)
    }

    /// Reads one signal from a signalfd.
    static func read(_ fd: Int32) -> Int32? {
        let s = skiff_signalfd_read(fd)
        return s > 0 ? s : nil
    }
}
