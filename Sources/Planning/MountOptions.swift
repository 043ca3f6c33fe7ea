import Glibc
import OCISpec

/// One option string of `mounts[].options`, as the spec's table defines it.
enum MountOption: Equatable {
    /// A mount(2) flag set or cleared (per-mount flags and superblock flags).
    case flag(set: UInt, clear: UInt)
    /// An `r*` option: mount_setattr with AT_RECURSIVE.
    case recursive(set: UInt64, clear: UInt64)
    case propagation(UInt64, recursive: Bool)
    case bind(recursive: Bool)
    case idmap(recursive: Bool)
    case remount
    /// runc's and crun's extension: a tmpfs starts with a copy of what the
    /// directory it covers holds (podman's --tmpfs and --read-only use it).
    case copyUp
    /// "defaults": nothing beyond what the kernel does anyway.
    case none

    static let atime = UInt64(MOUNT_ATTR__ATIME)

    /// Looked up linearly: a Dictionary would cost a run-time conformance lookup.
    static let table: [(String, MountOption)] = [
        ("defaults", .none),
        ("ro", .flag(set: UInt(MS_RDONLY), clear: 0)), ("rw", .flag(set: 0, clear: UInt(MS_RDONLY))),
        ("nosuid", .flag(set: UInt(MS_NOSUID), clear: 0)), ("suid", .flag(set: 0, clear: UInt(MS_NOSUID))),
        ("nodev", .flag(set: UInt(MS_NODEV), clear: 0)), ("dev", .flag(set: 0, clear: UInt(MS_NODEV))),
        ("noexec", .flag(set: UInt(MS_NOEXEC), clear: 0)), ("exec", .flag(set: 0, clear: UInt(MS_NOEXEC))),
        ("sync", .flag(set: UInt(MS_SYNCHRONOUS), clear: 0)), ("async", .flag(set: 0, clear: UInt(MS_SYNCHRONOUS))),
        ("dirsync", .flag(set: UInt(MS_DIRSYNC), clear: 0)),
        ("mand", .flag(set: UInt(MS_MANDLOCK), clear: 0)), ("nomand", .flag(set: 0, clear: UInt(MS_MANDLOCK))),
        ("noatime", .flag(set: UInt(MS_NOATIME), clear: 0)), ("atime", .flag(set: 0, clear: UInt(MS_NOATIME))),
        ("nodiratime", .flag(set: UInt(MS_NODIRATIME), clear: 0)), ("diratime", .flag(set: 0, clear: UInt(MS_NODIRATIME))),
        ("relatime", .flag(set: UInt(MS_RELATIME), clear: 0)), ("norelatime", .flag(set: 0, clear: UInt(MS_RELATIME))),
        ("strictatime", .flag(set: UInt(MS_STRICTATIME), clear: 0)), ("nostrictatime", .flag(set: 0, clear: UInt(MS_STRICTATIME))),
        ("lazytime", .flag(set: UInt(MS_LAZYTIME), clear: 0)), ("nolazytime", .flag(set: 0, clear: UInt(MS_LAZYTIME))),
        ("iversion", .flag(set: UInt(MS_I_VERSION), clear: 0)), ("noiversion", .flag(set: 0, clear: UInt(MS_I_VERSION))),
        ("silent", .flag(set: UInt(MS_SILENT), clear: 0)), ("loud", .flag(set: 0, clear: UInt(MS_SILENT))),
        ("nosymfollow", .flag(set: UInt(MS_NOSYMFOLLOW), clear: 0)), ("symfollow", .flag(set: 0, clear: UInt(MS_NOSYMFOLLOW))),
        ("remount", .remount), ("tmpcopyup", .copyUp),
        ("bind", .bind(recursive: false)), ("rbind", .bind(recursive: true)),
        ("private", .propagation(UInt64(MS_PRIVATE), recursive: false)), ("rprivate", .propagation(UInt64(MS_PRIVATE), recursive: true)),
        ("shared", .propagation(UInt64(MS_SHARED), recursive: false)), ("rshared", .propagation(UInt64(MS_SHARED), recursive: true)),
        ("slave", .propagation(UInt64(MS_SLAVE), recursive: false)), ("rslave", .propagation(UInt64(MS_SLAVE), recursive: true)),
        ("unbindable", .propagation(UInt64(MS_UNBINDABLE), recursive: false)),
        ("runbindable", .propagation(UInt64(MS_UNBINDABLE), recursive: true)),
        ("rro", .recursive(set: UInt64(MOUNT_ATTR_RDONLY), clear: 0)), ("rrw", .recursive(set: 0, clear: UInt64(MOUNT_ATTR_RDONLY))),
        ("rnosuid", .recursive(set: UInt64(MOUNT_ATTR_NOSUID), clear: 0)), ("rsuid", .recursive(set: 0, clear: UInt64(MOUNT_ATTR_NOSUID))),
        ("rnodev", .recursive(set: UInt64(MOUNT_ATTR_NODEV), clear: 0)), ("rdev", .recursive(set: 0, clear: UInt64(MOUNT_ATTR_NODEV))),
        ("rnoexec", .recursive(set: UInt64(MOUNT_ATTR_NOEXEC), clear: 0)), ("rexec", .recursive(set: 0, clear: UInt64(MOUNT_ATTR_NOEXEC))),
        ("rnodiratime", .recursive(set: UInt64(MOUNT_ATTR_NODIRATIME), clear: 0)),
        ("rdiratime", .recursive(set: 0, clear: UInt64(MOUNT_ATTR_NODIRATIME))),
        ("rnosymfollow", .recursive(set: UInt64(MOUNT_ATTR_NOSYMFOLLOW), clear: 0)),
        ("rsymfollow", .recursive(set: 0, clear: UInt64(MOUNT_ATTR_NOSYMFOLLOW))),
        // The atime mode is one field: set it with the whole field cleared.
        ("rnoatime", .recursive(set: UInt64(MOUNT_ATTR_NOATIME), clear: atime)),
        ("rstrictatime", .recursive(set: UInt64(MOUNT_ATTR_STRICTATIME), clear: atime)),
        ("rrelatime", .recursive(set: UInt64(MOUNT_ATTR_RELATIME), clear: atime)),
        ("ratime", .recursive(set: UInt64(MOUNT_ATTR_RELATIME), clear: atime)),
        ("rnostrictatime", .recursive(set: UInt64(MOUNT_ATTR_RELATIME), clear: atime)),
        ("rnorelatime", .recursive(set: UInt64(MOUNT_ATTR_STRICTATIME), clear: atime)),
        ("idmap", .idmap(recursive: false)), ("ridmap", .idmap(recursive: true)),
    ]

    static func named(_ name: String) -> MountOption? { table.first { $0.0 == name }?.1 }

    /// Per-mount flags that a bind mount can change, as mount attributes.
    static let bindAttributes: [(UInt, UInt64)] = [
        (UInt(MS_RDONLY), UInt64(MOUNT_ATTR_RDONLY)), (UInt(MS_NOSUID), UInt64(MOUNT_ATTR_NOSUID)),
        (UInt(MS_NODEV), UInt64(MOUNT_ATTR_NODEV)), (UInt(MS_NOEXEC), UInt64(MOUNT_ATTR_NOEXEC)),
        (UInt(MS_NODIRATIME), UInt64(MOUNT_ATTR_NODIRATIME)), (UInt(MS_NOSYMFOLLOW), UInt64(MOUNT_ATTR_NOSYMFOLLOW)),
    ]
    static let atimeFlags = UInt(MS_NOATIME) | UInt(MS_RELATIME) | UInt(MS_STRICTATIME)
    /// Superblock flags: a bind mount cannot change them.
    static let superblockFlags =
        UInt(MS_SYNCHRONOUS) | UInt(MS_DIRSYNC) | UInt(MS_MANDLOCK) | UInt(MS_LAZYTIME)
        | UInt(MS_I_VERSION) | UInt(MS_SILENT)
}

/// The parsed options of one mount.
struct ParsedMountOptions {
    var flagsSet: UInt = 0
    var flagsClear: UInt = 0
    var recursiveSet: UInt64 = 0
    var recursiveClear: UInt64 = 0
    var propagation: UInt64 = 0
    var propagationRecursive = false
    var bind: Bool? = nil
    var idmap: Bool? = nil
    var remount = false
    var copyUp = false
    /// Options the table does not know: filesystem-specific, for mount(2)'s data.
    var data: [String] = []
    /// Index of each unknown option, for messages.
    var dataIndex: [Int] = []

    init(_ options: [String], path: String) throws(SpecError) {
        for (i, o) in options.enumerated() {
            if o.isEmpty { throw SpecError(path: "\(path)[\(i)]", "empty mount option") }
            guard let option = MountOption.named(o) else {
                data.append(o)
                dataIndex.append(i)
                continue
            }
            switch option {
            case let .flag(set, clear):
                // The atime mode is one choice: a later one replaces an earlier one.
                if set & MountOption.atimeFlags != 0 { flagsSet &= ~MountOption.atimeFlags }
                flagsSet = (flagsSet & ~clear) | set
                flagsClear = (flagsClear & ~set) | clear
            case let .recursive(set, clear):
                recursiveSet = (recursiveSet & ~clear) | set
                recursiveClear = (recursiveClear & ~set) | clear
            case let .propagation(p, recursive):
                propagation = p
                propagationRecursive = recursive
            case let .bind(recursive):
                bind = recursive || (bind ?? false)
            case let .idmap(recursive):
                idmap = recursive || (idmap ?? false)
            case .remount:
                remount = true
            case .copyUp:
                copyUp = true
            case .none:
                break
            }
        }
    }
}

extension MountPlan {
    /// A filesystem is made with fsopen/fsconfig/fsmount: its mount(2)
    /// flags become fsconfig flags (the superblock's) and mount attributes
    /// (the rest, with the plan's own). nil for a bind.
    public var detachedForm: (data: String?, attrSet: UInt64, attrClear: UInt64)? {
        guard case let .filesystem(_, _, flags, data) = kind else { return nil }
        var options = data.map { [$0] } ?? []
        for (name, option) in MountOption.table {
            if case let .flag(set, _) = option, set & MountOption.superblockFlags & flags != 0, set != UInt(MS_SILENT) {
                options.append(name)
            }
        }
        let (set, clear) = Planner.mountAttributes(set: flags, clear: 0)
        return (options.isEmpty ? nil : options.joined(by: ","), set | attrSet, clear | attrClear)
    }
}

/// The option strings skiff recognises, for `skiff features`.
public enum MountOptionNames {
    public static var all: [String] { MountOption.table.map(\.0).sorted() }
}
