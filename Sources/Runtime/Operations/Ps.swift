import Glibc
import LinuxSys
import OCISpec
import Planning

/// `ps`: the processes in the container's cgroup.
extension Runtime {
    public enum PsFormat: String { case table, json }

    /// The container's processes: pids as JSON, or ps(1)'s lines for them.
    public func ps(id: String, format: PsFormat, psArgs: [String]) throws(RuntimeError) -> String {
        let (_, _, cg) = try runningCgroup(id, for: "ps")
        let pids = cg.pids()
        if format == .json { return JSONValue.array(pids.map { JSONValue.int(Int64($0)) }).serialized(pretty: false) }
        let args = psArgs.isEmpty ? ["-ef"] : psArgs
        let command =
            "ps " + args.map { "'" + $0.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'" }.joined(separator: " ")
        guard let f = popen(command, "r") else { throw .system(SysError("run", command)) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        let status = pclose(f)
        guard status == 0 else { throw .message("ps: `\(command)` failed (status \(status))") }
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n")
        guard let header = lines.first,
            let column = header.split(separator: " ").firstIndex(of: "PID")
        else {
            throw .message("ps: `\(command)` printed no PID column")
        }
        var text = String(header)
        for line in lines.dropFirst() {
            let f = line.split(separator: " ")
            if column < f.count, let pid = Int32(f[column]), pids.contains(pid) { text += "\n" + line }
        }
        return text
    }
}
