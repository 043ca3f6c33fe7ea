import CShim
import Glibc
import LinuxSys
import Planning

/// Freezing, signalling every process, and the v2 device program.
extension Cgroup {
    // MARK: freezer

    var canFreeze: Bool {
        version == .v2 ? unified.map { access($0.hostPath + "/cgroup.freeze", F_OK) == 0 } ?? false : v1Dir("freezer") != nil
    }

    var isFrozen: Bool {
        if version == .v2 {
            guard let d = unified, let b = try? Sys.readFile(d.hostPath + "/cgroup.freeze") else { return false }
            return b.first == UInt8(ascii: "1")
        }
        guard let d = v1Dir("freezer"), let b = try? Sys.readFile(d.hostPath + "/freezer.state") else { return false }
        return String(decoding: b, as: UTF8.self).hasPrefix("FROZEN")
    }

    /// The directory whose freezer holds the container's cgroup (its own or
    /// an ancestor's): v1 freezer.state, v2 cgroup.events' `frozen`.
    var frozenDir: String? {
        if version == .v2 {
            guard let d = unified, let b = try? Sys.readFile(d.hostPath + "/cgroup.events") else { return nil }
            return String(decoding: b, as: UTF8.self).split(separator: "\n").contains("frozen 1") ? d.hostPath : nil
        }
        guard let d = v1Dir("freezer"), let b = try? Sys.readFile(d.hostPath + "/freezer.state") else { return nil }
        return String(decoding: b, as: UTF8.self).hasPrefix("THAWED") ? nil : d.hostPath
    }

    /// Freezes (or thaws) and returns once the kernel says every process is.
    func setFrozen(_ frozen: Bool) throws(RuntimeError) {
        if version == .v2 {
            guard let d = unified else { throw .message("the container has no cgroup v2 directory to freeze") }
            try Cgroup.write(d.hostPath + "/cgroup.freeze", frozen ? "1" : "0", origin: frozen ? "pause" : "resume")
            try waitEvents(d.hostPath + "/cgroup.events", key: "frozen", value: frozen ? "1" : "0")
            return
        }
        guard let d = v1Dir("freezer") else {
            throw .message("this host has no freezer cgroup hierarchy mounted under /sys/fs/cgroup")
        }
        let want = frozen ? "FROZEN" : "THAWED"
        // v1 moves through FREEZING; writing again retries tasks that were
        // busy in the kernel (as runc does).
        for _ in 0..<1000 {
            try Cgroup.write(d.hostPath + "/freezer.state", want, origin: frozen ? "pause" : "resume")
            if let b = try? Sys.readFile(d.hostPath + "/freezer.state"),
                String(decoding: b, as: UTF8.self).hasPrefix(want)
            {
                return
            }
            var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&ts, nil)
        }
        throw .message("\(d.hostPath)/freezer.state did not become \(want) within a second")
    }

    /// Waits, with poll(2) on the file (kernfs wakes POLLPRI on change),
    /// until a `key value` line of cgroup.events shows `value`.
    func waitEvents(_ path: String, key: String, value: String, timeoutMillis: Int32 = 5000) throws(RuntimeError) {
        let fd: FileDescriptor
        do { fd = try Sys.open(path, O_RDONLY) } catch { throw .system(error) }
        var left = timeoutMillis
        while true {
            _ = lseek(fd.raw, 0, SEEK_SET)
            var buf = [UInt8](repeating: 0, count: 512)
            let n = read(fd.raw, &buf, buf.count)
            if n > 0 {
                for line in String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n") where line == "\(key) \(value)" {
                    return
                }
            }
            guard left > 0 else { throw .message("\(path): `\(key)` did not become \(value) within \(timeoutMillis / 1000) s") }
            var p = pollfd(fd: fd.raw, events: Int16(POLLPRI), revents: 0)
            let step: Int32 = 100
            _ = poll(&p, 1, step)
            left -= step
        }
    }

    // MARK: signals

    /// Every process of the container in the cgroup gets `signal` (never
    /// one that is not the container's: see isContainers). SIGKILL on v2
    /// uses cgroup.kill where the cgroup holds only the container's
    /// (nothing can fork away); otherwise the cgroup is frozen, each process
    /// signalled through a pidfd checked after it is opened, and thawed, so
    /// none forks a child between the listing and the signal. Where other
    /// processes share the cgroup nothing is frozen, and SIGKILL is sent
    /// again until none of the container's is left.
    func signalAll(_ signal: Int32) throws(RuntimeError) {
        let all = pids()
        let onlyOurs = adopted.isEmpty && all.allSatisfy(isContainers)
        if onlyOurs, version == .v2, signal == SIGKILL, let d = unified, access(d.hostPath + "/cgroup.kill", F_OK) == 0 {
            try Cgroup.write(d.hostPath + "/cgroup.kill", "1", origin: "kill")
            return
        }
        let freeze = onlyOurs && canFreeze && !isFrozen
        if freeze { try setFrozen(true) }
        var rounds = signal == SIGKILL && !freeze ? 20 : 1
        var targets = all
        while rounds > 0 && !targets.isEmpty {
            for pid in targets {
                guard let fd = try? Sys.pidfdOpen(pid), isContainers(pid) else { continue }
                _ = try? Sys.pidfdSendSignal(fd.raw, signal, "pid \(pid)")
            }
            rounds -= 1
            if rounds > 0 {
                var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
                nanosleep(&ts, nil)
                targets = pids().filter(isContainers)
            }
        }
        if freeze { try setFrozen(false) }
    }
}

/// cgroup v2's device controller: a BPF program attached to the cgroup.
enum DeviceController {
    static func attach(_ program: [UInt64], to dir: String) throws(RuntimeError) {
        let cg: FileDescriptor
        do { cg = try Sys.open(dir, O_RDONLY | O_DIRECTORY) } catch { throw .context("linux.resources.devices", .system(error)) }
        var log = [CChar](repeating: 0, count: 4096)
        let prog = program.withUnsafeBufferPointer { p in
            skiff_bpf_device_program(p.baseAddress, UInt32(p.count), &log, UInt32(log.count))
        }
        if prog < 0 {
            let verifier = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingWhitespace()
            throw .message("linux.resources.devices: load the device program (BPF_PROG_LOAD): \(Errno(-prog))\(verifier.isEmpty ? "" : ": " + verifier)")
        }
        let progFd = FileDescriptor(adopting: prog)
        // Programs already attached (an existing cgroup joined again) go
        // after the new one is in place: there is never a moment without.
        var ids = [UInt32](repeating: 0, count: 64)
        let old = skiff_bpf_device_programs(cg.raw, &ids, UInt32(ids.count))
        let r = skiff_bpf_attach_device(cg.raw, progFd.raw)
        if r < 0 {
            throw .message("linux.resources.devices: attach the device program to \(dir): \(Errno(-r))")
        }
        if old > 0 {
            for id in ids.prefix(Int(old)) { _ = skiff_bpf_detach_device(cg.raw, id) }
        }
    }
}
