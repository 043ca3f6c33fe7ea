/// Device rules compiled to a BPF_PROG_TYPE_CGROUP_DEVICE program, cgroup
/// v2's device controller. Pure: instructions only; Runtime loads and
/// attaches them.
///
/// The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
/// u32 minor; }` (access in the low 16 bits of access_type, the device type
/// in the high 16) and returns 1 to allow. Rules apply in order, the last
/// match wins (as v1's lists and runc's emulator), so they are tested from
/// the last one back, and the first match decides; nothing matched: deny.
public enum DeviceProgram {
    // Opcodes (linux/bpf.h, bpf_common.h).
    static let ldxMemW: UInt8 = 0x61  // BPF_LDX | BPF_MEM | BPF_W
    static let alu32AndK: UInt8 = 0x54  // BPF_ALU | BPF_AND | BPF_K
    static let alu32RshK: UInt8 = 0x74  // BPF_ALU | BPF_RSH | BPF_K
    static let alu32MovX: UInt8 = 0xbc  // BPF_ALU | BPF_MOV | BPF_X
    static let alu64MovK: UInt8 = 0xb7  // BPF_ALU64 | BPF_MOV | BPF_K
    static let jmp32JneK: UInt8 = 0x56  // BPF_JMP32 | BPF_JNE | BPF_K
    static let exit: UInt8 = 0x95  // BPF_JMP | BPF_EXIT

    /// BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR.
    static let typeBlock: Int32 = 1, typeChar: Int32 = 2

    /// One `struct bpf_insn`, as the kernel lays it out on little-endian.
    public static func insn(_ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(code) | UInt64(dst & 0xf | (src & 0xf) << 4) << 8 | UInt64(UInt16(bitPattern: off)) << 16
            | UInt64(UInt32(bitPattern: imm)) << 32
    }

    public static func instructions(_ rules: [DeviceAccessRule]) -> [UInt64] {
        var prog: [UInt64] = [
            insn(ldxMemW, dst: 2, src: 1, off: 0),  // w2 = access_type
            insn(alu32MovX, dst: 3, src: 2),  // w3 = w2
            insn(alu32RshK, dst: 3, imm: 16),  // w3 = access
            insn(alu32AndK, dst: 2, imm: 0xffff),  // w2 = type
            insn(ldxMemW, dst: 4, src: 1, off: 4),  // w4 = major
            insn(ldxMemW, dst: 5, src: 1, off: 8),  // w5 = minor
        ]
        var decided = false
        for rule in rules.reversed() {
            var checks: [(code: UInt8, dst: UInt8, imm: Int32, pre: [UInt64])] = []
            switch rule.kind {
            case .all: break
            case .char: checks.append((jmp32JneK, 2, typeChar, []))
            case .block: checks.append((jmp32JneK, 2, typeBlock, []))
            }
            if rule.access & DeviceAccessRule.rwm != DeviceAccessRule.rwm {
                // Every access asked for must be in the rule.
                let outside = Int32(~rule.access & DeviceAccessRule.rwm)
                checks.append((jmp32JneK, 1, 0, [insn(alu32MovX, dst: 1, src: 3), insn(alu32AndK, dst: 1, imm: outside)]))
            }
            if let m = rule.major { checks.append((jmp32JneK, 4, Int32(truncatingIfNeeded: m), [])) }
            if let m = rule.minor { checks.append((jmp32JneK, 5, Int32(truncatingIfNeeded: m), [])) }
            let tail = [insn(alu64MovK, dst: 0, imm: rule.allow ? 1 : 0), insn(exit)]
            var block: [UInt64] = []
            // Lay the block out back to front so each jump knows how far the end is.
            var after = tail.count
            var pieces: [[UInt64]] = []
            for c in checks.reversed() {
                let piece = c.pre + [insn(c.code, dst: c.dst, off: Int16(after), imm: c.imm)]
                pieces.insert(piece, at: 0)
                after += piece.count
            }
            for p in pieces { block += p }
            block += tail
            prog += block
            if checks.isEmpty {
                decided = true  // matches everything: earlier rules never decide
                break
            }
        }
        if !decided { prog += [insn(alu64MovK, dst: 0, imm: 0), insn(exit)] }
        return prog
    }
}
