import Foundation
import OCISpec
import Planning
import Testing

let rootHost = HostFacts(
    euid: 0, egid: 0, userName: "root", capLast: 40, umask: 0o022,
    cgroups: .hybrid(
        v1: [
            CgroupHierarchy(name: "cpu", options: "cpu"),
            CgroupHierarchy(name: "systemd", options: "none,name=systemd"),
        ],
        unified: true))

enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("spec-fixtures")

    static func names(_ dir: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(dir).path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    static func text(_ dir: String, _ file: String) -> String {
        (try? String(contentsOf: root.appendingPathComponent(dir).appendingPathComponent(file), encoding: .utf8)) ?? ""
    }

    static func plan(_ dir: String, _ name: String, host: HostFacts = rootHost) throws -> LaunchPlan {
        let spec = try SpecDecoder.decode(Spec.self, json: Array(text(dir, name + ".json").utf8))
        return try Planner.plan(spec, bundle: "/bundle", host: host, id: "fixture")
    }
}

@Suite struct FixtureTests {
    @Test("valid fixtures plan", arguments: Fixtures.names("valid"))
    func valid(name: String) throws {
        let plan = try Fixtures.plan("valid", name)
        #expect(plan.rootfs == "/bundle/rootfs")
        #expect(!plan.args.isEmpty)
    }

    @Test("invalid fixtures fail with their expected error", arguments: Fixtures.names("invalid"))
    func invalid(name: String) {
        let expected = Fixtures.text("invalid", name + ".error").trimmingCharacters(in: .newlines)
        #expect(!expected.isEmpty, "spec-fixtures/invalid/\(name).error is missing")
        do {
            _ = try Fixtures.plan("invalid", name)
            Issue.record("\(name): no error, expected: \(expected)")
        } catch {
            #expect("\(error)" == expected)
        }
    }

    @Test("the model fixture decodes but names the first field skiff does not apply")
    func model() {
        do {
            _ = try Fixtures.plan("model", "everything-v1.3.0")
            Issue.record("planned")
        } catch {
            #expect("\(error)" == "`linux.intelRdt` is not supported yet")
        }
    }
}

@Suite struct FuzzCorpusTests {
    /// The inputs scripts/fuzz kept (they reach the most code): decoding and
    /// planning may refuse them, never trap on them.
    @Test("the fuzz corpus decodes and plans or is refused, without a crash")
    func replay() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("spec-fixtures/fuzz")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names.count > 100)
        let host = HostFacts(euid: 0, egid: 0, userName: "root", capLast: 40, umask: 0o022, cgroups: .none)
        var planned = 0
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            guard let spec = try? JSONDecoding.decode(Spec.self, json: bytes) else { continue }
            if (try? Planner.plan(spec, bundle: "/bundle", host: host, image: ImageFacts(), id: "fixture")) != nil { planned += 1 }
        }
        #expect(planned > 0, "none of the corpus plans: the harness no longer reaches the planner")
    }
}
