import CSeccomp
import CShim
import Glibc
import LinuxSys
import OCISpec

/// An OCI seccomp profile compiled to a classic BPF program with
/// libseccomp, in the parent: the container's process only loads it.
public struct SeccompProgram: Sendable, Equatable {
    /// `struct sock_filter` instructions, 8 bytes each.
    public var instructions: [UInt64]
    /// SECCOMP_FILTER_FLAG_* for seccomp(2).
    public var flags: UInt32
    /// What was skipped as runc skips it (syscall names this libseccomp
    /// does not know), for the debug log.
    public var notes: [String]
}

public enum SeccompCompiler {
    static let path = "linux.seccomp"

    /// The action word libseccomp takes (and the kernel returns).
    static func action(_ a: SeccompAction, errnoRet: UInt32?) -> UInt32 {
        switch a {
        case .kill, .killThread: return skiff_scmp_act_kill_thread
        case .killProcess: return skiff_scmp_act_kill_process
        case .trap: return skiff_scmp_act_trap
        case .errno: return skiff_scmp_act_errno(errnoRet ?? UInt32(EPERM))
        case .trace: return skiff_scmp_act_trace(errnoRet ?? UInt32(EPERM))
        case .allow: return skiff_scmp_act_allow
        case .log: return skiff_scmp_act_log
        case .notify: return skiff_scmp_act_notify
        }
    }

    static func comparison(_ op: SeccompOperator) -> scmp_compare {
        switch op {
        case .ne: return SCMP_CMP_NE
        case .lt: return SCMP_CMP_LT
        case .le: return SCMP_CMP_LE
        case .eq: return SCMP_CMP_EQ
        case .ge: return SCMP_CMP_GE
        case .gt: return SCMP_CMP_GT
        case .maskedEq: return SCMP_CMP_MASKED_EQ
        }
    }

    static func flag(_ f: SeccompFlag) -> UInt32 {
        switch f {
        case .tsync: return 1  // SECCOMP_FILTER_FLAG_TSYNC
        case .log: return 2  // SECCOMP_FILTER_FLAG_LOG
        case .specAllow: return 4  // SECCOMP_FILTER_FLAG_SPEC_ALLOW
        case .waitKillableRecv: return 32  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        }
    }

    public static func compile(_ s: Seccomp) throws(SpecError) -> SeccompProgram {
        let defaultAction = action(s.defaultAction, errnoRet: s.defaultErrnoRet)
        guard let ctx = seccomp_init(defaultAction) else {
            throw SpecError(path: "\(path).defaultAction", "libseccomp refused `\(s.defaultAction.rawValue)`")
        }
        defer { seccomp_release(ctx) }
        // skiff sets no_new_privs itself (process.noNewPrivileges), and
        // loads the filter itself: libseccomp only builds it.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)

        for (i, arch) in (s.architectures ?? []).enumerated() {
            let name = String(arch.rawValue.dropFirst("SCMP_ARCH_".count)).lowercased()
            let token = seccomp_arch_resolve_name(name)
            guard token != 0 else {
                throw SpecError(path: "\(path).architectures[\(i)]", "`\(arch.rawValue)` is not known to libseccomp")
            }
            let r = seccomp_arch_add(ctx, token)
            if r != 0 && r != -EEXIST {
                throw SpecError(path: "\(path).architectures[\(i)]", "add `\(arch.rawValue)`: \(Errno(-r))")
            }
        }

        var notes: [String] = []
        var highest: Int32 = -1
        for (i, rule) in (s.syscalls ?? []).enumerated() {
            let rulePath = "\(path).syscalls[\(i)]"
            let act = action(rule.action, errnoRet: rule.errnoRet)
            for (j, name) in rule.names.enumerated() {
                let nr = seccomp_syscall_resolve_name(name)
                guard nr != __NR_SCMP_ERROR else {
                    // runc: a profile names syscalls of every kernel; one
                    // this libseccomp does not know is skipped.
                    notes.append("\(rulePath).names[\(j)]: `\(name)` is not known to libseccomp here; skipped")
                    continue
                }
                if nr >= 0 { highest = max(highest, nr) }
                // libseccomp refuses a rule that repeats the default action.
                if act == defaultAction { continue }
                let args = rule.args ?? []
                // libseccomp ANDs the comparisons of one rule, but cannot
                // compare one argument twice: then each is a rule of its own
                // (runc does the same).
                let indices = args.map(\.index)
                let groups: [[SeccompArg]] = Set(indices).count == indices.count ? [args] : args.map { [$0] }
                for group in groups {
                    var cmps = group.map { a in
                        scmp_arg_cmp(arg: a.index, op: comparison(a.op), datum_a: a.value, datum_b: a.valueTwo ?? 0)
                    }
                    let r = cmps.withUnsafeMutableBufferPointer { buf in
                        seccomp_rule_add_array(ctx, act, nr, UInt32(buf.count), buf.baseAddress)
                    }
                    if r != 0 {
                        throw SpecError(path: rulePath, "add `\(name)` (\(rule.action.rawValue)): \(Errno(-r))")
                    }
                }
            }
        }

        var program = try export(ctx)
        // Syscalls newer than any the profile names fail with ENOSYS, not
        // with the default action: glibc then falls back (clone3 -> clone
        // under profiles written before clone3), as with runc.
        if highest >= 0, s.defaultAction != .allow, s.defaultAction != .log {
            program = enosysStub(above: UInt32(highest)) + program
        }
        let flags = (s.flags ?? []).reduce(UInt32(0)) { $0 | flag($1) }
        return SeccompProgram(instructions: program, flags: flags, notes: notes)
    }

    /// The BPF libseccomp generated, read back from a memfd.
    static func export(_ ctx: scmp_filter_ctx) throws(SpecError) -> [UInt64] {
        let fd = skiff_memfd("seccomp")
        guard fd >= 0 else { throw SpecError(path: path, "memfd_create: \(Errno.current)") }
        defer { close(fd) }
        let r = seccomp_export_bpf(ctx, fd)
        guard r == 0 else { throw SpecError(path: path, "export the filter: \(Errno(-r))") }
        let size = Int(lseek(fd, 0, SEEK_END))
        guard size > 0, size % 8 == 0, size / 8 <= Int(UInt16.max) else {
            throw SpecError(path: path, "the filter has \(size) bytes: not a program the kernel takes")
        }
        var out = [UInt64](repeating: 0, count: size / 8)
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        guard n == size else { throw SpecError(path: path, "read the filter back: \(Errno.current)") }
        return out
    }

    /// Instructions put before libseccomp's program: on the native
    /// architecture, a syscall number above `highest` returns ENOSYS.
    /// BPF jumps are relative, so the program after it is unchanged.
    static func enosysStub(above highest: UInt32) -> [UInt64] {
        #if arch(x86_64)
            let auditArch: UInt32 = 0xc000_003e  // AUDIT_ARCH_X86_64
            let x32Bit: UInt32 = 0x4000_0000  // __X32_SYSCALL_BIT: x32 has its own numbers
            func insn(_ code: UInt16, _ jt: UInt8, _ jf: UInt8, _ k: UInt32) -> UInt64 {
                UInt64(code) | UInt64(jt) << 16 | UInt64(jf) << 24 | UInt64(k) << 32
            }
            let ldAbs: UInt16 = 0x20, jeq: UInt16 = 0x15, jset: UInt16 = 0x45, jgt: UInt16 = 0x25, ret: UInt16 = 0x06
            return [
                insn(ldAbs, 0, 0, 4),  // A = arch
                insn(jeq, 0, 4, auditArch),  // not native: to the program
                insn(ldAbs, 0, 0, 0),  // A = nr
                insn(jset, 2, 0, x32Bit),  // x32: to the program
                insn(jgt, 0, 1, highest),  // above the profile's newest:
                insn(ret, 0, 0, 0x0005_0000 | UInt32(ENOSYS)),  //   ENOSYS
            ]
        #else
            return []
        #endif
    }
}
