/// runc's command line, parsed by hand: swift-argument-parser links
/// FoundationEssentials, which alone costs more resident memory than a whole
/// `crun run` (docs/design-notes.md, "The command line").
///
/// Accepted forms, as urfave/cli (runc) accepts them: `--name value`,
/// `--name=value`, `-name value`, short aliases (`-b dir`), boolean flags
/// (`--detach`, `--detach=false`), `--` to end options.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

struct Option {
    let names: [String]
    let takesValue: Bool
    let help: String
    var canonical: String { names[0] }

    static func value(_ names: String..., help: String) -> Option { Option(names: names, takesValue: true, help: help) }
    static func flag(_ names: String..., help: String) -> Option { Option(names: names, takesValue: false, help: help) }
}

struct Parsed {
    /// Option values by canonical name, last one wins (an array: a
    /// Dictionary costs a run-time conformance lookup at start-up).
    var values: [(String, String)] = []
    var positionals: [String] = []

    func value(_ name: String) -> String? { values.last { $0.0 == name }?.1 }
    /// Every value of a repeatable option, in order.
    func values(_ name: String) -> [String] { values.filter { $0.0 == name }.map(\.1) }
    func flag(_ name: String) -> Bool { value(name) == "true" }
    mutating func set(_ name: String, _ value: String) { values.append((name, value)) }
}

enum Arguments {
    /// Parses options and positionals of one command (or the global ones,
    /// with `stopAtPositional`: the first positional is the command name).
    static func parse(
        _ args: ArraySlice<String>, _ options: [Option], command: String,
        stopAtPositional: Bool
    ) throws(UsageError) -> (Parsed, rest: ArraySlice<String>) {
        var parsed = Parsed()
        var i = args.startIndex
        while i < args.endIndex {
            let arg = args[i]
            if arg == "--" {
                parsed.positionals += args[(i + 1)...]
                return (parsed, [])
            }
            guard arg.hasPrefix("-"), arg != "-" else {
                if stopAtPositional { return (parsed, args[i...]) }
                parsed.positionals.append(arg)
                i += 1
                continue
            }
            // On bytes: Character-wise drop and firstIndex page in the
            // stdlib's grapheme breaking for every argument.
            var bytes = arg.utf8[...]
            while bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            var name = String(decoding: bytes, as: UTF8.self)
            var inline: String?
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                inline = String(decoding: bytes[bytes.index(after: eq)...], as: UTF8.self)
                name = String(decoding: bytes[..<eq], as: UTF8.self)
            }
            guard let option = options.first(where: { $0.names.contains(name) }) else {
                throw UsageError("\(command): unknown option `\(arg)`")
            }
            if option.takesValue {
                if let inline {
                    parsed.set(option.canonical, inline)
                } else {
                    i += 1
                    guard i < args.endIndex else { throw UsageError("\(command): option --\(option.canonical) needs a value") }
                    parsed.set(option.canonical, args[i])
                }
            } else {
                switch inline {
                case nil, "true"?: parsed.set(option.canonical, "true")
                case "false"?: parsed.set(option.canonical, "false")
                case let v?: throw UsageError("\(command): option --\(option.canonical) takes true or false, not `\(v)`")
                }
            }
            i += 1
        }
        return (parsed, [])
    }
}
