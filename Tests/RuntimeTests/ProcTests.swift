import Glibc
import LinuxSys
import Testing

@testable import Runtime

/// /proc/PID/stat as status, kill, exec and create read it: the fields
/// after the command name, whatever the name holds.
@Suite struct ProcTests {
    @Test("fields are counted after the last ')': a name with spaces and parentheses, a truncated line, a bad number")
    func statFields() {
        let line = Array("4242 (a) b (c d) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 10\n".utf8)
        #expect(Proc.statField(3, line).map { Array($0) } == Array("S".utf8))
        #expect(Proc.statField(20, line).flatMap(Proc.decimal) == 3)
        #expect(Proc.statField(22, line).flatMap(Proc.decimal) == 987_654)
        #expect(Proc.statField(24, line).flatMap(Proc.decimal) == 10, "the last field ends at the newline")
        #expect(Proc.statField(25, line) == nil)
        #expect(Proc.statField(3, Array("4242 no parenthesis S 1".utf8)) == nil)
        #expect(Proc.decimal(Array("12x".utf8)[...]) == nil && Proc.decimal([][...]) == nil)
        #expect(Proc.decimal(Array("18446744073709551615".utf8)[...]) == nil, "20 digits refused, never wrapped")
        #expect(Proc.decimal(Array("9999999999999999999".utf8)[...]) == 9_999_999_999_999_999_999)
    }

    @Test("this process: running or sleeping, its start time as /proc says, at least one thread; a pid that cannot exist has none")
    func ownStat() throws {
        let st = try #require(Proc.stat(getpid()))
        let text = String(decoding: try Sys.readFile("/proc/self/stat"), as: UTF8.self)
        let after = text[text.index(after: try #require(text.lastIndex(of: ")")))...].split(separator: " ")
        #expect(UInt64(after[19]) == st.startTime && "RS".contains(st.state))
        #expect(Proc.threadCount() >= 1)
        #expect(Proc.stat(-1) == nil)
    }
}
