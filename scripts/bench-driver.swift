// The measuring half of scripts/bench (compiled by it with swiftc -O).
// Runs every runtime round by round, interleaved (the order rotates each
// round), so machine noise hits all alike; ratios are taken per round and
// their median quoted with min and max. Times are wall clock around
// posix_spawn + wait4; peak RSS is wait4's ru_maxrss, the number
// /usr/bin/time prints.
//
//   bench-driver MODE WORK ROUNDS PAUSE_MS skiff=PATH [skiffro=PATH] runc=PATH crun=PATH floor=PATH
import Glibc

let args = CommandLine.arguments
guard args.count >= 9 else {
    print("usage: bench-driver root|rootless WORK ROUNDS PAUSE_MS skiff=P runc=P crun=P floor=P")
    exit(2)
}
let mode = args[1]
let rootless = mode == "rootless"
let work = args[2]
let rounds = Int(args[3]) ?? 11
let pauseMicros = UInt32((Int(args[4]) ?? 300) * 1000)
var paths: [String: String] = [:]
for a in args.dropFirst(5) {
    let kv = a.split(separator: "=", maxSplits: 1).map(String.init)
    if kv.count == 2 { paths[kv[0]] = kv[1] }
}
let bundle = work + "/bundle-\(mode)"
// Where the runtimes keep their state: a tmpfs, as /run and /run/user are on
// a standard host (scripts/bench mounts it); the work dir if not given.
let stateBase = getenv("BENCH_STATE").map { String(cString: $0) } ?? work
let rootfs = bundle + "/rootfs"

struct Entry {
    let name: String
    let prefix: [String]
    let floor: Bool
}

var entries = [Entry(name: "skiff", prefix: [paths["skiff"] ?? "skiff", "--root", "\(stateBase)/state-\(mode)-skiff"], floor: false)]
// The same binary on a read-only mount: skiff then need not re-execute
// itself from a read-only copy (CVE-2019-5736), so the two rows show what
// that protection costs. As the user nobody neither re-executes (root's
// 0755 binary cannot be written by a rootless container).
if !rootless, let ro = paths["skiffro"] {
    entries.append(Entry(name: "skiff (binary on a read-only mount)", prefix: [ro, "--root", "\(stateBase)/state-\(mode)-skiffro"],
                         floor: false))
}
entries.append(Entry(name: "crun (no cgroups)",
                     prefix: [paths["crun"] ?? "crun", "--cgroup-manager=disabled", "--root", "\(stateBase)/state-\(mode)-crun"],
                     floor: false))
if !rootless {
    entries.append(Entry(name: "crun (cgroupfs)", prefix: [paths["crun"] ?? "crun", "--root", "\(stateBase)/state-\(mode)-crun-cg"],
                         floor: false))
}
entries.append(Entry(name: "runc", prefix: [paths["runc"] ?? "runc", "--root", "\(stateBase)/state-\(mode)-runc"], floor: false))
entries.append(Entry(name: "floor", prefix: [paths["floor"] ?? "bench-floor"] + (rootless ? ["--rootless"] : []), floor: true))
let runtimes = entries.filter { !$0.floor }

struct Sample {
    var ms: Double
    var rssKB: Int
    var ok: Bool
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let devnull = open("/dev/null", O_RDWR)
let errlog = open(work + "/bench-\(mode).stderr", O_WRONLY | O_CREAT | O_APPEND, 0o644)

func start(_ argv: [String]) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, devnull, 0)
    posix_spawn_file_actions_adddup2(&actions, devnull, 1)
    posix_spawn_file_actions_adddup2(&actions, errlog, 2)
    let c = argv.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, nil, c, environ)
    for p in c { free(p) }
    posix_spawn_file_actions_destroy(&actions)
    return rc == 0 ? pid : -1
}

func finish(_ pid: pid_t) -> (ok: Bool, rss: Int) {
    var status: Int32 = 0
    var ru = rusage()
    while wait4(pid, &status, 0, &ru) < 0 && errno == EINTR {}
    return ((status & 0x7f) == 0 && (status >> 8) & 0xff == 0, Int(ru.ru_maxrss))
}

func run(_ argv: [String]) -> Sample {
    let t0 = now()
    let pid = start(argv)
    guard pid > 0 else { return Sample(ms: 0, rssKB: 0, ok: false) }
    let r = finish(pid)
    return Sample(ms: (now() - t0) * 1000, rssKB: r.rss, ok: r.ok)
}

/// Containers whose `create` exited are reparented to us (a subreaper):
/// reap them so that no zombie is left and `delete` sees them stopped.
_ = bench_set_subreaper()
func reapAll() {
    var status: Int32 = 0
    while waitpid(-1, &status, WNOHANG) > 0 {}
}

func pause(_ cold: Bool) { if cold { usleep(pauseMicros) } }

func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 64)
    let n = read(fd, &buf, 64)
    return n > 0 ? Array(buf[0..<n]) : []
}

extension String {
    func trimmed() -> String { String(filter { !$0.isWhitespace }) }

    func replacingAll(_ a: String, with b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: a) {
            out += rest[..<r.lowerBound] + b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

func readWhole(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var all: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        all += buf[0..<n]
    }
    return all
}

func writeWhole(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

var counter = 0
func nextID() -> String {
    counter += 1
    return "b\(getpid())-\(counter)"
}

func runCommand(_ e: Entry) -> [String] {
    e.floor ? e.prefix + [rootfs, "/bin/true"] : e.prefix + ["run", "--bundle", bundle, nextID()]
}

var failures: [String: Int] = [:]
func note(_ e: Entry, _ s: Sample) {
    if !s.ok { failures[e.name, default: 0] += 1 }
}

// MARK: statistics

func median(_ a: [Double]) -> Double {
    let s = a.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ x: Double, _ digits: Int = 2) -> String {
    guard x.isFinite else { return "–" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let v = (x * p).rounded() / p
    var s = "\(v)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    } else {
        s += "." + String(repeating: "0", count: digits)
    }
    return s
}

/// Per-round ratios; a failed sample (NaN) drops its round.
func ratioCell(_ a: [Double], _ b: [Double]) -> String {
    let r = zip(a, b).filter { $0.0.isFinite && $0.1.isFinite }.map { $0 / $1 }
    guard !r.isEmpty else { return "–" }
    return "\(fmt(median(r))) [\(fmt(r.min() ?? .nan))–\(fmt(r.max() ?? .nan))]"
}

func msCell(_ all: [Double]) -> String {
    let a = all.filter { $0.isFinite }
    return a.isEmpty ? "–" : "\(fmt(median(a))) [\(fmt(a.min() ?? .nan))–\(fmt(a.max() ?? .nan))]"
}

var out = ""
func line(_ s: String = "") { out += s + "\n" }

func ratiosTable(_ title: String, _ columns: [(String, [String: [Double]])], against others: [Entry]) {
    line("| \(title) | " + columns.map { $0.0 }.joined(separator: " | ") + " |")
    line("|---|" + columns.map { _ in "---|" }.joined())
    for other in others where other.name != "skiff" {
        let cells = columns.map { col -> String in
            guard let a = col.1["skiff"], let b = col.1[other.name], !b.isEmpty else { return "–" }
            return ratioCell(a, b)
        }
        line("| skiff / \(other.name) | " + cells.joined(separator: " | ") + " |")
    }
    line()
}

// MARK: (a) run, cold and warm

var runMs: [Bool: [String: [Double]]] = [true: [:], false: [:]]
for cold in [true, false] {
    for r in 0..<rounds {
        for i in 0..<entries.count {
            let e = entries[(i + r) % entries.count]
            pause(cold)
            let s = run(runCommand(e))
            note(e, s)
            runMs[cold]?[e.name, default: []].append(s.ms)
        }
        reapAll()
    }
}

// MARK: (b) create, start, delete

var phases: [Bool: [String: [String: [Double]]]] = [true: [:], false: [:]]
for cold in [true, false] {
    for r in 0..<rounds {
        for i in 0..<runtimes.count {
            let e = runtimes[(i + r) % runtimes.count]
            let id = nextID()
            let pidFile = "\(work)/\(id).pid"
            pause(cold)
            let c = run(e.prefix + ["create", "--bundle", bundle, "--pid-file", pidFile, id])
            note(e, c)
            pause(cold)
            let s = run(e.prefix + ["start", id])
            note(e, s)
            // /bin/true exits at once; wait for it (we are its subreaper).
            if case let text = String(decoding: readFile(pidFile), as: UTF8.self), let pid = Int32(text.trimmed()) {
                var st: Int32 = 0
                while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
            }
            pause(cold)
            let d = run(e.prefix + ["delete", id])
            note(e, d)
            for (op, sample) in [("create", c), ("start", s), ("delete", d)] {
                phases[cold]?[op, default: [:]][e.name, default: []].append(sample.ms)
            }
            unlink(pidFile)
        }
        reapAll()
    }
}


// MARK: (d) peak RSS, through /usr/bin/time (posix_spawn's vfork would
// charge the child with this driver's own memory: exec records the old
// address space's high-water mark)

var rss: [String: [String: [Int]]] = [:]
func timed(_ argv: [String]) -> Int? {
    let out = "\(work)/rss-\(getpid()).txt"
    unlink(out)
    guard run(["/usr/bin/time", "-f", "%M", "-o", out] + argv).ok else { return nil }
    return Int(String(decoding: readFile(out), as: UTF8.self).trimmed())
}
// Peak RSS counts the binary's pages mapped at faults, and fault-around maps
// the neighbours that are in the page cache in the same folio: a binary
// just written by the linker (or by dpkg) maps more than one read from
// disk. Every binary's cached pages are dropped first, so that each is
// measured as a host that has booted since it was installed meets it.
for e in runtimes {
    let fd = open(e.prefix[0], O_RDONLY | O_CLOEXEC)
    if fd >= 0 { _ = fsync(fd); _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); close(fd) }
}
for _ in 0..<max(3, rounds / 3) {
    for e in runtimes {
        let id = nextID()
        let pidFile = "\(work)/\(id).pid"
        if let k = timed(e.prefix + ["run", "--bundle", bundle, nextID()]) { rss[e.name, default: [:]]["run", default: []].append(k) }
        if let k = timed(e.prefix + ["create", "--bundle", bundle, "--pid-file", pidFile, id]) {
            rss[e.name, default: [:]]["create", default: []].append(k)
        }
        if let k = timed(e.prefix + ["start", id]) { rss[e.name, default: [:]]["start", default: []].append(k) }
        if case let text = String(decoding: readFile(pidFile), as: UTF8.self), let pid = Int32(text.trimmed()) {
            var st: Int32 = 0
            while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        }
        if let k = timed(e.prefix + ["delete", id]) { rss[e.name, default: [:]]["delete", default: []].append(k) }
        unlink(pidFile)
        reapAll()
    }
}

// MARK: (c) 100 in sequence

let seqRounds = max(3, rounds / 3)
var seq: [String: [Double]] = [:]
for r in 0..<seqRounds {
    for i in 0..<entries.count {
        let e = entries[(i + r) % entries.count]
        let t0 = now()
        for _ in 0..<100 { note(e, run(runCommand(e))) }
        seq[e.name, default: []].append((now() - t0) * 1000)
        reapAll()
    }
}

// MARK: (e) 20 created and deleted in parallel

var par: [String: [Double]] = [:]
var parFailures: [String: Int] = [:]
for r in 0..<seqRounds {
    for i in 0..<runtimes.count {
        let e = runtimes[(i + r) % runtimes.count]
        let ids = (0..<20).map { _ in nextID() }
        let t0 = now()
        // One bundle (one cgroupsPath) per container where scripts/bench made them.
        let creates = ids.enumerated().map { k, id in
            let own = bundle + "-p\(k)"
            return start(e.prefix + ["create", "--bundle", access(own, F_OK) == 0 ? own : bundle, id])
        }
        let created = creates.map { $0 > 0 && finish($0).ok }
        let deletes = ids.map { start(e.prefix + ["delete", "--force", $0]) }
        let deleted = deletes.map { $0 > 0 && finish($0).ok }
        par[e.name, default: []].append((now() - t0) * 1000)
        parFailures[e.name, default: 0] += created.filter { !$0 }.count + deleted.filter { !$0 }.count
        reapAll()
    }
}

// MARK: (f) what engines call on a running container, again and again

// One container per runtime from the long-running bundle (sleep), each with
// a cgroupsPath of its own; a failed operation counts as NaN (its round
// drops out of the ratios) and in the failures.
let operations = ["exec", "state", "kill 0", "pause+resume", "ps --format json", "events --stats"]
var opsMs: [String: [String: [Double]]] = [:]
var opsFailures: [String: [String: Int]] = [:]
let longBundle = bundle + "-long"
var running: [(Entry, String)] = []
if access(longBundle + "/config.json", F_OK) == 0 {
    let config = String(decoding: readWhole(longBundle + "/config.json"), as: UTF8.self)
    for (k, e) in runtimes.enumerated() {
        let dir = longBundle + "-\(k)"
        mkdir(dir, 0o755)
        let own = config.replacingAll("\"/skiff-bench/long\"", with: "\"/skiff-bench/long-\(k)\"")
            .replacingAll("\"path\": \"rootfs\"", with: "\"path\": \"\(longBundle)/rootfs\"")
        writeWhole(dir + "/config.json", own)
        let id = nextID()
        if run(e.prefix + ["run", "--detach", "--bundle", dir, id]).ok { running.append((e, id)) } else { opsFailures[e.name, default: [:]]["run -d", default: 0] += 1 }
    }
    for r in 0..<rounds {
        for op in operations {
            for i in 0..<running.count {
                let (e, id) = running[(i + r) % running.count]
                var sample: Sample
                switch op {
                case "exec": sample = run(e.prefix + ["exec", id, "/bin/true"])
                case "state": sample = run(e.prefix + ["state", id])
                case "kill 0": sample = run(e.prefix + ["kill", id, "0"])
                case "pause+resume":
                    let p = run(e.prefix + ["pause", id])
                    let q = run(e.prefix + ["resume", id])
                    sample = Sample(ms: p.ms + q.ms, rssKB: 0, ok: p.ok && q.ok)
                case "ps --format json": sample = run(e.prefix + ["ps", "--format", "json", id])
                default: sample = run(e.prefix + ["events", "--stats", id])
                }
                opsMs[op, default: [:]][e.name, default: []].append(sample.ok ? sample.ms : .nan)
                if !sample.ok { opsFailures[e.name, default: [:]][op, default: 0] += 1 }
            }
            reapAll()
        }
    }
    for (e, id) in running {
        _ = run(e.prefix + ["kill", id, "KILL"])
        usleep(50_000)
        reapAll()
        _ = run(e.prefix + ["delete", "--force", id])
    }
    reapAll()
}

// MARK: report

line("### \(mode): (a) `run` of /bin/true, end to end")
line()
line("| runtime | cold ms, median [min–max] | warm ms, median [min–max] |")
line("|---|---|---|")
for e in entries {
    line("| \(e.name) | \(msCell(runMs[true]?[e.name] ?? [])) | \(msCell(runMs[false]?[e.name] ?? [])) |")
}
line()
ratiosTable("ratio (per round)", [("cold", runMs[true] ?? [:]), ("warm", runMs[false] ?? [:])], against: entries)

line("### \(mode): (b) `create`, `start`, `delete` separately")
line()
line("| runtime | create cold | create warm | start cold | start warm | delete cold | delete warm |")
line("|---|---|---|---|---|---|---|")
for e in runtimes {
    var cells: [String] = []
    for op in ["create", "start", "delete"] {
        for cold in [true, false] { cells.append(fmt(median(phases[cold]?[op]?[e.name] ?? []))) }
    }
    line("| \(e.name) (ms, median) | " + cells.joined(separator: " | ") + " |")
}
line()
var phaseColumns: [(String, [String: [Double]])] = []
for op in ["create", "start", "delete"] {
    for cold in [true, false] { phaseColumns.append(("\(op) \(cold ? "cold" : "warm")", phases[cold]?[op] ?? [:])) }
}
ratiosTable("ratio (per round)", phaseColumns, against: runtimes)

line("### \(mode): (c) 100 containers in sequence (`run`, warm)")
line()
line("| runtime | total ms, median [min–max] |")
line("|---|---|")
for e in entries { line("| \(e.name) | \(msCell(seq[e.name] ?? [])) |") }
line()
ratiosTable("ratio (per round)", [("100 in sequence", seq)], against: entries)

line("### \(mode): (d) peak RSS of the runtime process (KB, median; `/usr/bin/time -f %M`; each binary dropped from the page cache first)")
line()
line("| runtime | run | create | start | delete |")
line("|---|---|---|---|---|")
for e in runtimes {
    let cells = ["run", "create", "start", "delete"].map { op -> String in
        let v = (rss[e.name]?[op] ?? []).map(Double.init)
        return v.isEmpty ? "–" : "\(Int(median(v)))"
    }
    line("| \(e.name) | " + cells.joined(separator: " | ") + " |")
}
line()

line("### \(mode): (e) 20 containers created and deleted in parallel")
line()
line("| runtime | total ms, median [min–max] | failures |")
line("|---|---|---|")
for e in runtimes { line("| \(e.name) | \(msCell(par[e.name] ?? [])) | \(parFailures[e.name] ?? 0) |") }
line()
ratiosTable("ratio (per round)", [("20 in parallel", par)], against: runtimes)

if !opsMs.isEmpty {
    line("### \(mode): (f) operations on a running container, as engines call them (ms, median [min–max])")
    line()
    line("| runtime | " + operations.joined(separator: " | ") + " |")
    line("|---|" + operations.map { _ in "---|" }.joined())
    for (e, _) in running {
        line("| \(e.name) | " + operations.map { msCell(opsMs[$0]?[e.name] ?? []) }.joined(separator: " | ") + " |")
    }
    line()
    ratiosTable("ratio (per round)", operations.map { ($0, opsMs[$0] ?? [:]) }, against: running.map { $0.0 })
    let opsFailed = opsFailures.filter { !$0.value.isEmpty }
    if !opsFailed.isEmpty {
        line("Not supported or failed (a dash above): " + opsFailed.map { name, ops in
            "\(name): " + ops.map { "\($0.key) \($0.value)x" }.sorted().joined(separator: ", ")
        }.sorted().joined(separator: "; "))
        line()
    }
}

let failed = failures.filter { $0.value > 0 }
if !failed.isEmpty {
    line("**Failures** (see \(work)/bench-\(mode).stderr): " + failed.map { "\($0.key): \($0.value)" }.sorted().joined(separator: ", "))
    line()
}
print(out, terminator: "")
