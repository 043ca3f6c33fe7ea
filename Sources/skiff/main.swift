import Glibc
import Runtime

// skiff: parses runc's command line, logs once, maps errors to exit codes.
// All the work is in the Runtime module.

let globalOptions: [Option] = [
    .value("root", help: "directory for container state (default /run/skiff, or $XDG_RUNTIME_DIR/skiff)"),
    .value("log", help: "append log messages to this file"),
    .value("log-format", help: "log format: text or json"),
    .flag("debug", help: "log debug messages"),
    .flag("systemd-cgroup", help: "have systemd make each container's cgroup, a scope (cgroupsPath slice:prefix:name)"),
    .flag("help", "h", help: "show help"),
    .flag("version", "v", help: "show the version"),
]

/// A command of the table. Its options are built only when asked for: the
/// whole table of every command's options cost each invocation 0.1–0.2 ms
/// at start-up (allocations and run-time type metadata), a tenth of `state`.
struct Command {
    let name: String
    let arguments: String
    let summary: String
    private let makeOptions: @Sendable () -> [Option]
    let positionals: ClosedRange<Int>
    var options: [Option] { makeOptions() }

    init(
        name: String, arguments: String, summary: String, options: @autoclosure @escaping @Sendable () -> [Option],
        positionals: ClosedRange<Int>
    ) {
        self.name = name
        self.arguments = arguments
        self.summary = summary
        self.makeOptions = options
        self.positionals = positionals
    }
}

var createOptions: [Option] {
    [
        .value("bundle", "b", help: "bundle directory (default: the current directory)"),
        .value("pid-file", help: "write the container's pid to this file"),
        .value("preserve-fds", help: "pass this many fds after stdio (3, 4, ...) to the container"),
        .value("console-socket", help: "unix socket that receives the terminal's master (process.terminal)"),
        .flag("no-pivot", help: "move the rootfs onto / and chroot instead of pivot_root (a rootfs on ramfs; weaker isolation)"),
        .flag("no-new-keyring", help: "keep the caller's session keyring instead of a new one for the container"),
        .value("pidfd-socket", help: "unix socket that receives a pidfd of the container's process"),
    ]
}

/// checkpoint's and restore's common options (runc's).
var criuOptions: [Option] {
    [
        .value("image-path", help: "directory of the CRIU images (default ./checkpoint)"),
        .value("work-path", help: "directory of CRIU's log (default: the image path)"),
        .flag("tcp-established", help: "allow open TCP connections"),
        .flag("ext-unix-sk", help: "allow external unix sockets"),
        .flag("shell-job", help: "allow a shell job (a terminal of the caller's)"),
        .flag("file-locks", help: "handle file locks"),
        .value("manage-cgroups-mode", help: "soft (default), full, strict or ignore"),
        .value("empty-ns", help: "make this namespace empty instead (network)"),
        .flag("auto-dedup", help: "deduplicate the previous images' pages"),
    ]
}

let commands: [Command] = [
    Command(
        name: "create", arguments: "<container-id>", summary: "create a container; its process waits for `start`",
        options: createOptions, positionals: 1...1),
    Command(
        name: "start", arguments: "<container-id>", summary: "start a created container", options: [],
        positionals: 1...1),
    Command(
        name: "state", arguments: "<container-id>", summary: "print the state of a container", options: [],
        positionals: 1...1),
    Command(
        name: "kill", arguments: "<container-id> [signal]", summary: "send a signal (default TERM)",
        options: [.flag("all", "a", help: "signal every process of the container")], positionals: 1...2),
    Command(
        name: "delete", arguments: "<container-id>", summary: "delete a stopped container",
        options: [.flag("force", "f", help: "kill the container first if it runs")], positionals: 1...1),
    Command(
        name: "run", arguments: "<container-id>", summary: "create, start and wait for a container",
        options: createOptions + [
            .flag("detach", "d", help: "return once the container runs"),
            .flag("keep", help: "keep the container, stopped, after it exits"),
        ],
        positionals: 1...1),
    Command(
        name: "exec", arguments: "<container-id> <command> [args...]", summary: "run a new process in a container",
        options: [
            .value("process", "p", help: "a JSON file with the process (config.json's `process`)"),
            .value("console-socket", help: "unix socket that receives the terminal's master (with --tty --detach)"),
            .value("cwd", help: "working directory in the container"),
            .value("env", "e", help: "KEY=value to add to the environment (repeatable)"),
            .flag("tty", "t", help: "give the process a terminal"),
            .value("user", "u", help: "uid[:gid] to run as"),
            .value("additional-gids", "g", help: "a supplementary gid (repeatable)"),
            .flag("detach", "d", help: "return once the process runs"),
            .value("pid-file", help: "write the process's pid to this file"),
            .value("pidfd-socket", help: "unix socket that receives a pidfd of the process"),
            .value("process-label", help: "SELinux label of the process"),
            .value("apparmor", help: "AppArmor profile of the process"),
            .flag("no-new-privs", help: "set no_new_privs"),
            .value("cap", "c", help: "a capability to add (repeatable)"),
            .value("preserve-fds", help: "pass this many fds after stdio (3, 4, ...) to the process"),
            .value("cgroup", help: "a sub-cgroup to run in: path, or controller[,controller]:path on v1 (repeatable)"),
            .flag("ignore-paused", help: "exec even into a paused container"),
        ], positionals: 1...4096),
    Command(
        name: "list", arguments: "", summary: "list containers",
        options: [.value("format", "f", help: "table or json"), .flag("quiet", "q", help: "ids only")],
        positionals: 0...0),
    Command(
        name: "pause", arguments: "<container-id>", summary: "freeze every process of the container", options: [],
        positionals: 1...1),
    Command(
        name: "resume", arguments: "<container-id>", summary: "thaw a paused container", options: [],
        positionals: 1...1),
    Command(
        name: "update", arguments: "<container-id>", summary: "change the cgroup limits of a running container",
        options: UpdateFlags.options, positionals: 1...1),
    Command(
        name: "ps", arguments: "<container-id> [-- ps options]", summary: "list the container's processes",
        options: [.value("format", "f", help: "table (ps output) or json (pids)")], positionals: 1...64),
    Command(
        name: "events", arguments: "<container-id>", summary: "print the container's statistics and OOM events",
        options: [
            .flag("stats", help: "print statistics once and exit"),
            .value("interval", help: "time between statistics (default 5s)"),
        ], positionals: 1...1),
    Command(
        name: "checkpoint", arguments: "<container-id>", summary: "dump a running container with CRIU",
        options: criuOptions + [
            .value("parent-path", help: "a previous (pre-)dump, relative to the image path"),
            .flag("leave-running", help: "leave the container running after the dump"),
            .flag("pre-dump", help: "dump memory only, for a later dump with --parent-path"),
            .flag("lazy-pages", help: "(not supported: needs a page server)"),
            .value("status-fd", help: "(with --lazy-pages only)"),
            .value("page-server", help: "(not supported: images go to --image-path)"),
        ],
        positionals: 1...1),
    Command(
        name: "restore", arguments: "<container-id>", summary: "make a container again from a checkpoint",
        options: criuOptions + [
            .value("bundle", "b", help: "bundle directory (default: the current directory)"),
            .flag("detach", "d", help: "return once the container runs"),
            .value("pid-file", help: "write the container's pid to this file"),
            .value("console-socket", help: "unix socket that receives the restored terminal's master"),
            .flag("no-subreaper", help: "(skiff never becomes a subreaper: the restored process is its child)"),
            .flag("no-pivot", help: "(refused: CRIU pivots into the root itself)"),
            .value("lsm-profile", help: "LSM profile for the restored process (TYPE:NAME)"),
            .value("lsm-mount-context", help: "SELinux mount context for the restored mounts"),
        ],
        positionals: 1...1),
    Command(
        name: "spec", arguments: "", summary: "write a default config.json",
        options: [
            .value("bundle", "b", help: "bundle directory (default: the current directory)"),
            .flag("rootless", help: "a config for an unprivileged user"),
            .flag("skiff-defaults", help: "no terminal, a cgroup namespace, no ambient capabilities (runc spec's otherwise)"),
        ],
        positionals: 0...0),
    Command(
        name: "features", arguments: "", summary: "print the features document", options: [],
        positionals: 0...0),
    Command(
        name: "check", arguments: "", summary: "can this host run containers for you, and what to fix",
        options: [.flag("json", help: "print the items as JSON")], positionals: 0...0),
]

func usage() -> String {
    var s = "usage: skiff [global options] <command> [options] [arguments]\n\ncommands:\n"
    for c in commands {
        s += "  \(c.name) \(c.arguments)".padding(34) + c.summary + "\n"
    }
    s += "\nglobal options:\n"
    for o in globalOptions { s += "  --\(o.names[0])\(o.takesValue ? " VALUE" : "")".padding(34) + o.help + "\n" }
    return s
}

func commandHelp(_ command: Command) -> String {
    var s = "usage: skiff \(command.name) [options] \(command.arguments)\n\n\(command.summary)\n\n"
    for o in command.options {
        s += "  --\(o.names.joined(separator: ", -"))\(o.takesValue ? " VALUE" : "")".padding(34) + o.help + "\n"
    }
    return s
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}

func fail(_ message: String, _ code: Int32 = 1, log: Log? = nil) -> Never {
    if let log { log.error(message) } else { _ = write(2, message + "\n", (message + "\n").utf8.count) }
    exit(code)
}

/// One invocation: the global options, the command and its options.
struct Invocation {
    let global: Parsed
    let name: String
    let command: Command
    let parsed: Parsed
    let log: Log

    static func parse(_ argv: [String]) -> Invocation {
        let global: Parsed
        let rest: ArraySlice<String>
        do {
            (global, rest) = try Arguments.parse(argv.dropFirst(), globalOptions, command: "skiff", stopAtPositional: true)
        } catch {
            fail("\(error)")
        }
        if global.flag("version") {
            // runc's lines: version, commit, spec, libseccomp.
            print("skiff version \(skiffVersion)\ncommit: \(skiffVersion)\nspec: \(ociVersionSupported)\nlibseccomp: \(Runtime.libseccompVersion)")
            exit(0)
        }
        // No command, --help, -h and `help`: the usage on stdout, exit 0
        // (as runc); `help COMMAND` is that command's.
        guard let name = rest.first, !global.flag("help") else {
            print(usage(), terminator: "")
            exit(0)
        }
        if name == "help" {
            if let topic = rest.dropFirst().first {
                guard let c = commands.first(where: { $0.name == topic }) else { fail("skiff: no help topic for `\(topic)`") }
                print(commandHelp(c), terminator: "")
            } else {
                print(usage(), terminator: "")
            }
            exit(0)
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            fail("skiff: unknown command `\(name)` (see skiff --help)")
        }
        let log: Log
        do {
            let format: Log.Format
            switch global.value("log-format") ?? "text" {
            case "text": format = .text
            case "json": format = .json
            case let other: fail("--log-format: must be `text` or `json`, not `\(other)`")
            }
            if let path = global.value("log") {
                log = try Log(path: path, format: format, debug: global.flag("debug"))
            } else {
                log = Log(debug: global.flag("debug"), format: format)
            }
        } catch {
            fail("\(error)")
        }
        var parsed: Parsed
        do {
            // exec: options end at the command (`exec ID sh -c ...`); ps:
            // at the id, and what follows goes to ps (`ps ID -e -x`, or
            // `ps ID -- -e -x`), as with runc.
            let (p, tail) = try Arguments.parse(
                rest.dropFirst(), command.options + [.flag("help", "h", help: "")],
                command: name, stopAtPositional: name == "exec" || name == "ps")
            parsed = p
            if name == "exec" || name == "ps", !tail.isEmpty {
                var t = tail
                if t.first == "--" { t = t.dropFirst() }
                parsed.positionals += Array(t.prefix(1))
                var rest = t.dropFirst()
                if rest.first == "--" { rest = rest.dropFirst() }
                parsed.positionals += rest
            }
        } catch {
            fail("\(error)", name == "exec" ? 255 : 1, log: log)
        }
        if parsed.flag("help") {
            print(commandHelp(command), terminator: "")
            exit(0)
        }
        if !command.positionals.contains(parsed.positionals.count) {
            let what = command.arguments.isEmpty ? "no arguments" : command.arguments
            fail(
                "\(name): expected \(what), got \(parsed.positionals.count) argument(s) (see skiff \(name) --help)",
                name == "exec" ? 255 : 1, log: log)
        }
        return Invocation(global: global, name: name, command: command, parsed: parsed, log: log)
    }

    func makeRuntime() throws(RuntimeError) -> Runtime {
        let root: String
        if let given = global.value("root") { root = given } else { root = try Runtime.defaultRoot() }
        var runtime = Runtime(root: root, log: log)
        runtime.systemdCgroup = global.flag("systemd-cgroup")
        return runtime
    }

    func createOptions() -> Runtime.CreateOptions {
        var preserve: UInt32 = 0
        if let v = parsed.value("preserve-fds") {
            guard let n = UInt32(v), n < 1 << 20 else {
                fail("\(name): --preserve-fds: `\(v)` is not a number of fds", name == "exec" ? 255 : 1, log: log)
            }
            preserve = n
        }
        return Runtime.CreateOptions(
            bundle: parsed.value("bundle") ?? ".", pidFile: parsed.value("pid-file"),
            preserveFds: preserve, noPivot: parsed.flag("no-pivot"),
            consoleSocket: parsed.value("console-socket"),
            noNewKeyring: parsed.flag("no-new-keyring"), pidfdSocket: parsed.value("pidfd-socket"))
    }

    func execOptions() -> Runtime.ExecOptions {
        var o = Runtime.ExecOptions()
        o.processFile = parsed.value("process")
        o.args = Array(parsed.positionals.dropFirst())
        o.env = parsed.values("env")
        o.cwd = parsed.value("cwd")
        o.user = parsed.value("user")
        o.additionalGids = parsed.values("additional-gids")
        o.caps = parsed.values("cap")
        o.noNewPrivs = parsed.flag("no-new-privs")
        o.apparmor = parsed.value("apparmor")
        o.processLabel = parsed.value("process-label")
        o.tty = parsed.flag("tty")
        o.consoleSocket = parsed.value("console-socket")
        o.detach = parsed.flag("detach")
        o.pidFile = parsed.value("pid-file")
        o.pidfdSocket = parsed.value("pidfd-socket")
        o.preserveFds = createOptions().preserveFds
        o.ignorePaused = parsed.flag("ignore-paused")
        o.cgroup = parsed.values("cgroup")
        return o
    }

    /// checkpoint's and restore's common flags.
    func criuFlags() -> Runtime.CriuFlags {
        var f = Runtime.CriuFlags()
        f.imagePath = parsed.value("image-path")
        f.workPath = parsed.value("work-path")
        f.tcpEstablished = parsed.flag("tcp-established")
        f.extUnixSk = parsed.flag("ext-unix-sk")
        f.shellJob = parsed.flag("shell-job")
        f.fileLocks = parsed.flag("file-locks")
        f.manageCgroupsMode = parsed.value("manage-cgroups-mode")
        f.emptyNamespaces = parsed.values("empty-ns")
        f.autoDedup = parsed.flag("auto-dedup")
        return f
    }

    func checkpointOptions() throws(RuntimeError) -> Runtime.CheckpointOptions {
        if parsed.flag("lazy-pages") || parsed.value("status-fd") != nil {
            throw .message("checkpoint --lazy-pages (and its --status-fd): not supported: lazy migration needs CRIU's page server on both hosts")
        }
        if parsed.value("page-server") != nil {
            throw .message("checkpoint --page-server: not supported: the images go to --image-path")
        }
        var o = Runtime.CheckpointOptions()
        o.criu = criuFlags()
        o.parentPath = parsed.value("parent-path")
        o.leaveRunning = parsed.flag("leave-running")
        o.preDump = parsed.flag("pre-dump")
        return o
    }

    func restoreOptions() -> Runtime.RestoreOptions {
        var o = Runtime.RestoreOptions(bundle: parsed.value("bundle") ?? ".")
        o.criu = criuFlags()
        o.detach = parsed.flag("detach")
        o.pidFile = parsed.value("pid-file")
        o.consoleSocket = parsed.value("console-socket")
        o.noSubreaper = parsed.flag("no-subreaper")
        o.noPivot = parsed.flag("no-pivot")
        o.lsmProfile = parsed.value("lsm-profile")
        o.lsmMountContext = parsed.value("lsm-mount-context")
        return o
    }

    /// Runs the command; returns skiff's exit status.
    func run() throws(RuntimeError) -> Int32 {
        let id = parsed.positionals.first ?? ""
        switch name {
        case "create", "run", "exec":
            // Before anything else: a container can reach the binary that
            // creates it, so that binary must be one it cannot write.
            try ProtectedBinary.ensure(log: log)
        default:
            break
        }
        switch name {
        case "create":
            try makeRuntime().create(id: id, createOptions())
        case "start":
            try makeRuntime().start(id: id)
        case "state":
            print(try makeRuntime().state(id: id))
        case "kill":
            let text = parsed.positionals.count > 1 ? parsed.positionals[1] : "TERM"
            guard let signal = Signals.parse(text) else { throw .message("kill: unknown signal `\(text)`") }
            try makeRuntime().kill(id: id, signal: signal, all: parsed.flag("all"))
        case "delete":
            try makeRuntime().delete(id: id, force: parsed.flag("force"))
        case "run":
            return try makeRuntime().run(
                id: id,
                .init(
                    create: createOptions(), detach: parsed.flag("detach"),
                    keep: parsed.flag("keep")))
        case "exec":
            return try makeRuntime().exec(id: id, execOptions())
        case "list":
            let format = parsed.value("format") ?? "table"
            guard let f = Runtime.ListFormat(rawValue: format) else {
                throw .message("list: --format must be `table` or `json`, not `\(format)`")
            }
            let runtime = try makeRuntime()
            if parsed.flag("quiet") {
                for id in try runtime.ids() { print(id) }
            } else {
                print(try runtime.list(format: f))
            }
        case "pause":
            try makeRuntime().pause(id: id)
        case "resume":
            try makeRuntime().resume(id: id)
        case "update":
            let (resources, origins) = try UpdateFlags.resources(parsed)
            try makeRuntime().update(id: id, resources, origins: origins)
        case "ps":
            let format = parsed.value("format") ?? "table"
            guard let f = Runtime.PsFormat(rawValue: format) else {
                throw .message("ps: --format must be `table` or `json`, not `\(format)`")
            }
            print(try makeRuntime().ps(id: id, format: f, psArgs: Array(parsed.positionals.dropFirst())))
        case "events":
            let interval = try UpdateFlags.duration(parsed.value("interval") ?? "5s", flag: "--interval")
            try makeRuntime().events(id: id, stats: parsed.flag("stats"), intervalMillis: interval) { line in
                let text = line + "\n"
                _ = write(1, text, text.utf8.count)
            }
        case "checkpoint":
            try makeRuntime().checkpoint(id: id, try checkpointOptions())
        case "restore":
            return try makeRuntime().restore(id: id, restoreOptions())
        case "spec":
            try Runtime.writeSpec(
                bundle: parsed.value("bundle") ?? ".", rootless: parsed.flag("rootless"),
                skiffDefaults: parsed.flag("skiff-defaults"))
        case "features":
            print(Runtime.features())
        case "check":
            let items = HostCheck.run()
            print(parsed.flag("json") ? HostCheck.json(items) : HostCheck.text(items), terminator: parsed.flag("json") ? "\n" : "")
            return HostCheck.passes(items) ? 0 : 1
        default:
            throw .message("skiff: unknown command `\(name)`")
        }
        return 0
    }
}

/// fds 0-2 are open: nothing skiff opens may land on stdio.
for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 {
    _ = open("/dev/null", O_RDWR)
}

/// The command line run; a local, not a top-level global (without
/// _Concurrency's import a global would have to be Sendable).
func main() -> Never {
    let invocation = Invocation.parse(CommandLine.arguments)
    do {
        exit(try invocation.run())
    } catch {
        // exec: every failure of the runtime's exits 255, never a status the
        // process itself could have returned (runc's rule).
        fail(error.description, invocation.name == "exec" ? 255 : error.exitCode, log: invocation.log)
    }
}
main()
