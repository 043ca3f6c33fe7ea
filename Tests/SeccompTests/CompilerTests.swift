import OCISpec
import Seccomp
import Testing

@Suite struct CompilerTests {
    func profile(_ json: String) throws -> Seccomp {
        try JSONDecoding.decode(Seccomp.self, json: Array(json.utf8))
    }

    @Test("a profile compiles to BPF that starts with the ENOSYS stub for syscalls newer than it names")
    func enosysStub() throws {
        let p = try SeccompCompiler.compile(
            try profile(#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","mkdir"],"action":"SCMP_ACT_ALLOW"}]}"#))
        #expect(p.instructions.count > 6)
        // jgt highest: k (the upper 32 bits) is mkdir's number, the newest named (83 on x86_64).
        #expect(p.instructions[4] >> 32 == 83)
        #expect(p.instructions[5] >> 32 == 0x0005_0000 | 38)
    }

    @Test("with a default that allows, there is no stub; unknown names are skipped with a note")
    func allowDefault() throws {
        let p = try SeccompCompiler.compile(
            try profile(
                #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_syscall","mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}],"flags":["SECCOMP_FILTER_FLAG_LOG"]}"#
            ))
        #expect(p.instructions.first.map { $0 & 0xffff } == 0x20)
        #expect(p.instructions[1] >> 32 != 0, "starts with libseccomp's arch check, not the stub's")
        #expect(p.notes == ["linux.seccomp.syscalls[0].names[0]: `no_such_syscall` is not known to libseccomp here; skipped"])
        #expect(p.flags == 2)
    }

    @Test("a rule libseccomp refuses is an error with its JSON path")
    func refused() throws {
        #expect(throws: SpecError.self) {
            try SeccompCompiler.compile(
                try profile(
                    #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":7,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#
                ))
        }
    }
}
