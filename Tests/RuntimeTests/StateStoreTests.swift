import Foundation
import Testing

@testable import LinuxSys
@testable import Runtime

/// The state store without a container: what it accepts as --root and as an
/// id, how it reports a container whose state is missing, forged or torn.
/// Runs as any user, in a directory of its own.
@Suite struct StateStoreTests {
    /// A directory of this test's own, removed by `cleanup`.
    let base = NSTemporaryDirectory() + "skiff-statestore-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    func makeBase() throws {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        chmod(base, 0o700)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: base) }

    func message(_ body: () throws(RuntimeError) -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return error.description
        }
    }

    @Test(
        "container ids: runc's alphabet in one path component",
        arguments: [
            ("abc-1_2+3.4", true), ("", false), (".", false), ("..", false), ("a/b", false), ("a b", false),
            (String(repeating: "x", count: 255), true), (String(repeating: "x", count: 256), false), ("ü", false),
        ])
    func ids(_ c: (id: String, valid: Bool)) {
        let m = message { () throws(RuntimeError) in try StateStore.checkID(c.id) }
        #expect((m == nil) == c.valid, "\(c.id): \(m ?? "accepted")")
        if !c.valid { #expect(m?.contains("invalid container id") == true) }
    }

    @Test("an atomic write leaves only the file: its temporary name (sixteen hex digits) is gone")
    func atomicWrite() throws {
        #expect(Sys.hex(0xdead_beef) == "00000000deadbeef" && Sys.hex(.max) == "ffffffffffffffff" && Sys.hex(0) == "0000000000000000")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let dir = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(dir) }
        try Sys.writeAtomically(dir, "state.json", Array("{}".utf8), display: base + "/state.json")
        try Sys.writeAtomically(dir, "state.json", Array("{\"a\":1}".utf8), display: base + "/state.json")
        #expect(try FileManager.default.contentsOfDirectory(atPath: base) == ["state.json"])
        #expect(try String(contentsOfFile: base + "/state.json", encoding: .utf8) == "{\"a\":1}")
    }

    @Test("a --root that is a symlink, or writable by others, is refused; a missing one is made 0700 by create")
    func root() throws {
        try makeBase()
        defer { cleanup() }
        let real = base + "/real"
        try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: false)
        symlink(real, base + "/link")
        let link = message { () throws(RuntimeError) in _ = try StateStore(root: base + "/link").openRoot(create: false) }
        #expect(link?.contains("is a symlink or not a directory") == true, "\(link ?? "accepted")")

        chmod(real, 0o777)
        let open = message { () throws(RuntimeError) in _ = try StateStore(root: real).openRoot(create: false) }
        #expect(open?.contains("may be written by group or others (mode 777)") == true, "\(open ?? "accepted")")

        let fresh = StateStore(root: base + "/new/root")
        #expect(try fresh.openRoot(create: false) == nil)
        _ = try fresh.create("c1")
        var st = stat()
        #expect(stat(base + "/new/root", &st) == 0 && st.st_mode & 0o777 == 0o700)
    }

    @Test("create locks the directory: peek sees it being created, then left by a failed create; ids lists it")
    func lifecycle() throws {
        try makeBase()
        defer { cleanup() }
        let store = StateStore(root: base + "/root")
        do {
            let dir = try store.create("c1")
            _ = dir
            guard case .incomplete(_, let creating, _) = try store.peek("c1") else { Issue.record("no state yet"); return }
            #expect(creating, "locked while create holds it")
            let again = message { () throws(RuntimeError) in _ = try store.create("c1") }
            #expect(again == "container `c1` already exists")
        }
        guard case .incomplete(_, let creating, _) = try store.peek("c1") else { Issue.record("no state yet"); return }
        #expect(!creating, "released: what a create that died leaves")
        try FileManager.default.createDirectory(atPath: base + "/root/.hidden", withIntermediateDirectories: false)
        #expect(try store.ids() == ["c1"])
        #expect(try store.exists("c1") && !(try store.exists("c2")))
        let missing = message { () throws(RuntimeError) in _ = try store.open("c2") }
        #expect(missing == "container `c2` does not exist")
    }

    @Test("a state.json that is a symlink, too large, torn, or another container's is refused, naming the file")
    func forged() throws {
        try makeBase()
        defer { cleanup() }
        let store = StateStore(root: base + "/root")
        _ = try store.create("c1")
        let state = base + "/root/c1/state.json"
        func readError() -> String? {
            message { () throws(RuntimeError) in _ = try store.open("c1").read() }
        }
        symlink("/etc/passwd", state)
        #expect(readError()?.contains("\(state) is a symlink") == true, "\(readError() ?? "read")")
        unlink(state)
        try Data(count: StateStore.maxStateSize + 1).write(to: URL(fileURLWithPath: state))
        #expect(readError()?.contains("more than a state file") == true, "\(readError() ?? "read")")
        try #"{"ociVersion": "1.3.0", "id": "c1""#.write(toFile: state, atomically: true, encoding: .utf8)
        #expect(readError()?.hasPrefix(state) == true, "\(readError() ?? "read")")
        mkfifo(base + "/root/c1/fifo", 0o600)
        unlink(state)
        rename(base + "/root/c1/fifo", state)
        #expect(readError()?.contains("is not a regular file") == true, "\(readError() ?? "read")")
    }
}
