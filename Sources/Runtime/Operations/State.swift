import CShim
import Glibc
import LinuxSys
import OCISpec
import Planning

/// `state` and `list`.
extension Runtime {
    /// The state document. A directory without a record is a create still
    /// under way (`creating`) or one that died (`stopped`, pid 0: nothing
    /// of it runs, and `delete` removes it).
    func state(_ p: StateStore.Peeked) -> State {
        switch p {
        case let .record(r, owner):
            let status = Runtime.status(r)
            return State(
                ociVersion: r.ociVersion, id: r.id, status: status, pid: status == .stopped ? 0 : r.pid,
                bundle: r.bundle, rootfs: r.rootfs, created: r.created, owner: HostProbe.userName(owner),
                annotations: r.annotations)
        case let .incomplete(id, creating, owner):
            return State(
                ociVersion: OCISpec.ociVersion, id: id, status: creating ? .creating : .stopped, pid: 0,
                bundle: "", rootfs: nil, created: nil, owner: HostProbe.userName(owner), annotations: nil)
        }
    }

    public func state(id: String) throws(RuntimeError) -> String {
        state(try store.peek(id)).json.serialized(pretty: true)
    }

    public enum ListFormat: String { case table, json }

    public func ids() throws(RuntimeError) -> [String] { try store.ids() }

    public func list(format: ListFormat) throws(RuntimeError) -> String {
        // An entry that cannot be read is shown, as stopped with no process
        // (as a create that died), and why is logged: never left out.
        let states = try store.ids().map { id -> State in
            do {
                return state(try store.peek(id))
            } catch {
                log.warn("list: container `\(id)`: \(error)")
                return State(
                    ociVersion: OCISpec.ociVersion, id: id, status: .stopped, pid: 0, bundle: "", rootfs: nil,
                    created: nil, owner: nil, annotations: nil)
            }
        }
        switch format {
        case .json:
            return JSONValue.array(states.map(\.json)).serialized(pretty: false)
        case .table:
            var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
            for s in states {
                rows.append([s.id, "\(s.pid ?? 0)", s.status.rawValue, s.bundle, s.created ?? "", s.owner ?? ""])
            }
            var widths = [Int](repeating: 12, count: 6)
            for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count + 3) } }
            return rows.map { row in
                row.enumerated().map { i, c in i == row.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                    .joined(by: "")
            }.joined(by: "\n")
        }
    }
}
