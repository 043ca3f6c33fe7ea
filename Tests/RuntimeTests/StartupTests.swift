import CShim
import Foundation
import Glibc
import LinuxSys
import Testing

@testable import Runtime

/// The start-up's decisions (host/startup/startup.c, before Swift starts)
/// and ProtectedBinary's (after): which argument is the command, for every
/// global option the Swift parser has and every form it accepts; which
/// commands are protected; swap, re-exec or nothing. Runs as any user.
@Suite struct StartupTests {
    /// The built skiff beside this test binary.
    static let skiff = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/skiff").path

    /// `skiff --help`: the Swift parser's own tables, as it prints them.
    static func help() throws -> (options: [(name: String, takesValue: Bool)], commands: [String]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: skiff)
        p.arguments = ["--help"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        var options: [(String, Bool)] = []
        var commands: [String] = []
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasSuffix(":") && !line.hasPrefix(" ") {
                section = String(line)
                continue
            }
            let words = line.split(separator: " ")
            guard let first = words.first, line.hasPrefix("  ") else { continue }
            if section == "commands:" { commands.append(String(first)) }
            if section == "global options:", first.hasPrefix("--") {
                options.append((String(first.dropFirst(2)), words.count > 1 && words[1] == "VALUE"))
            }
        }
        return (options, commands)
    }

    static func commandIndex(_ argv: [String]) -> Int32 {
        var cStrings = argv.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        return cStrings.withUnsafeMutableBufferPointer { buf in
            skiff_startup_command(Int32(argv.count), UnsafePointer(buf.baseAddress!))
        }
    }

    @Test("the command is found after every global option the Swift parser has, in every form it accepts")
    func agreesWithTheParser() throws {
        let (options, commands) = try Self.help()
        #expect(options.contains { $0.name == "root" && $0.takesValue } && options.contains { $0.name == "debug" && !$0.takesValue })
        #expect(commands.contains("create") && commands.contains("exec"))
        for o in options {
            let forms: [[String]] =
                o.takesValue
                ? [["--\(o.name)", "x"], ["--\(o.name)=x"], ["-\(o.name)", "x"], ["-\(o.name)=create"]]
                : [["--\(o.name)"], ["-\(o.name)"], ["--\(o.name)=false"]]
            for form in forms {
                // Before and after another option, and with a value that is
                // itself a command's name.
                for argv in [["skiff"] + form + ["create", "id"], ["skiff", "--debug"] + form + ["create", "id"]] {
                    #expect(Self.commandIndex(argv) == Int32(argv.firstIndex(of: "create")!), "\(argv)")
                }
                if o.takesValue {
                    let argv = ["skiff"] + (form.count == 2 ? [form[0], "run"] : form) + ["create", "id"]
                    #expect(Self.commandIndex(argv) == Int32(argv.lastIndex(of: "create")!), "a value named like a command: \(argv)")
                }
            }
        }
        #expect(Self.commandIndex(["skiff", "--", "create", "id"]) == -1, "`--` ends the options: no command")
        #expect(Self.commandIndex(["skiff", "--root", "r"]) == -1)
    }

    @Test("Swift's CommandLine is the argv the kernel gave, kept by the start-up (argv.c), whatever the arguments hold")
    func commandLine() throws {
        let cmdline = try Sys.readFile("/proc/self/cmdline")
        let kernel = cmdline.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
        #expect(CommandLine.arguments == kernel)
        #expect(Int(CommandLine.argc) == kernel.count)
        // The binary: spaces and non-ASCII reach the parser as given (the id
        // is echoed in its refusal), and an empty argument is one.
        func refusal(_ args: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.skiff)
            p.arguments = ["--root", "/nonexistent-root-\(getpid())", "state"] + args
            let err = Pipe()
            p.standardError = err
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return p.terminationStatus != 0 ? text : "status 0: \(text)"
        }
        let spaced = try refusal(["a b\u{e9}"])
        #expect(spaced.hasPrefix("invalid container id `a b\u{e9}`"), "\(spaced)")
        let empty = try refusal(["x", ""])
        #expect(empty.contains("got 2 argument(s)"), "\(empty)")
    }

    @Test("create, run and exec are protected, every other command is not")
    func protectedCommands() throws {
        // A new command whose process a container can reach (a clone of
        // skiff) must be added to startup.c's table and to main.swift's
        // ProtectedBinary.ensure call.
        let protected = ["create", "run", "exec"]
        for c in try Self.help().commands {
            #expect((skiff_startup_protects(c) == 1) == protected.contains(c), "\(c)")
        }
    }

    @Test("root's writable binary: swapped in place on x86-64, re-executed with SKIFF_NO_EXESWAP=1; nothing otherwise")
    func startupAction() {
        let writable = Int32(SKIFF_EXE_WRITABLE.rawValue)
        let swap = skiff_startup_swap_supported() == 1 ? SKIFF_STARTUP_SWAP : SKIFF_STARTUP_REEXEC
        #expect(skiff_startup_action(1, 0, 0, 0, writable, 1) == Int32(swap.rawValue))
        #expect(skiff_startup_action(1, 0, 0, 0, writable, 0) == Int32(SKIFF_STARTUP_REEXEC.rawValue))
        let none = Int32(SKIFF_STARTUP_NONE.rawValue)
        #expect(skiff_startup_action(0, 0, 0, 0, writable, 1) == none, "not a protected command")
        #expect(skiff_startup_action(1, 1, 0, 0, writable, 1) == none, "already re-executed")
        #expect(skiff_startup_action(1, 0, 1000, 0, writable, 1) == none, "unprivileged: ProtectedBinary decides")
        #expect(skiff_startup_action(1, 0, 0, 1, writable, 1) == none, "root of a user namespace: ProtectedBinary decides")
        #expect(skiff_startup_action(1, 0, 0, 0, Int32(SKIFF_EXE_READONLY.rawValue), 1) == none)
        #expect(skiff_startup_action(1, 0, 0, 0, Int32(SKIFF_EXE_SEALED.rawValue), 1) == none)
        #if arch(x86_64)
            #expect(skiff_startup_swap_supported() == 1)
        #else
            #expect(skiff_startup_swap_supported() == 0)
        #endif
    }

    @Test("ProtectedBinary: read-only and sealed run; another owner's 0755 binary runs for the unprivileged; a re-exec still writable fails")
    func protectedBinary() {
        func decide(_ kind: SKIFF_EXE_KIND_T, reexecuted: Bool = false, hostRoot: Bool, owner: UInt32 = 0, mode: UInt32 = 0o100755)
            -> String
        {
            switch ProtectedBinary.decide(
                kind: Int32(kind.rawValue), reexecuted: reexecuted, hostRoot: hostRoot, euid: hostRoot ? 0 : 1000, exeOwner: owner,
                exeMode: mode)
            {
            case .runs: return "runs"
            case .reexecutes: return "reexecutes"
            case let .fails(e): return "fails: \(e)"
            }
        }
        #expect(decide(SKIFF_EXE_READONLY, hostRoot: true) == "runs")
        #expect(decide(SKIFF_EXE_SEALED, hostRoot: true) == "runs")
        #expect(decide(SKIFF_EXE_WRITABLE, hostRoot: true) == "reexecutes")
        #expect(decide(SKIFF_EXE_WRITABLE, hostRoot: false) == "runs", "root's 0755 binary: no id of a rootless container writes it")
        #expect(decide(SKIFF_EXE_WRITABLE, hostRoot: false, owner: 1000) == "reexecutes", "the caller's own binary")
        #expect(decide(SKIFF_EXE_WRITABLE, hostRoot: false, mode: 0o100775) == "reexecutes", "group-writable")
        #expect(decide(SKIFF_EXE_WRITABLE, reexecuted: true, hostRoot: true).hasPrefix("fails: skiff re-executed itself"))
        if case .fails(let e) = ProtectedBinary.decide(
            kind: -ENOENT, reexecuted: false, hostRoot: true, euid: 0, exeOwner: nil, exeMode: nil)
        {
            #expect("\(e)".contains("/proc/self/exe"))
        } else {
            Issue.record("an unreadable /proc/self/exe must fail")
        }
    }
}

typealias SKIFF_EXE_KIND_T = skiff_exe_kind
