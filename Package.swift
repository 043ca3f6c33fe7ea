// swift-tools-version:6.0
// skiff: a daemonless OCI container runtime.
//
// Dependencies point down:  skiff -> Runtime -> Planning -> OCISpec
//                                    Runtime -> LinuxSys -> CShim
//                                    Runtime -> Seccomp -> OCISpec, LinuxSys
//                                    Runtime -> CDBus (libdbus: --systemd-cgroup)
// System libraries are Debian's static archives (`-l:libX.a`); the skiff
// binary is linked fully static.
import PackageDescription

// The skiff binary: fully static and stripped (no dynamic loader, no
// relocation of a PIE at start, no libstdc++.so; nothing is needed at run
// time), linked by lld with the functions the lifecycle commands execute laid
// out together, in the order they first run (Sources/skiff/symbol-order.txt,
// written by scripts/order-symbols). The kernel maps the text around each
// fault, so scattered hot code made most of the binary resident; packed, it
// is not (figures in docs/design-notes.md). The list ends with
// skiff_hot_text_end and then the functions that sit in large sections
// (the Swift standard library's .text is one 1.5 MB section): the text
// before the marker keeps the kernel's fault-around (faultaround.c). A
// stale list costs only memory: names it lists that no longer exist are
// skipped. SKIFF_KEEP_SYMBOLS=1 keeps the symbols (scripts/order-symbols).
var skiffLinkerFlags = [
    "-static-executable", "-use-ld=lld",
    // libdbus's EXTERNAL identity, for root of a user namespace (CDBusIdentity).
    "-Xlinker", "--wrap=geteuid",
    "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/skiff/symbol-order.txt",
    "-Xlinker", "--no-warn-symbol-ordering",
]
if Context.environment["SKIFF_KEEP_SYMBOLS"] == nil {
    skiffLinkerFlags += ["-Xlinker", "--strip-all"]
}
// The linker's map (which input section holds each symbol, and its size):
// scripts/order-symbols reads it to put whole large sections last.
if let map = Context.environment["SKIFF_LINK_MAP"] {
    skiffLinkerFlags += ["-Xlinker", "-Map=\(map)"]
}

let package = Package(
    name: "skiff",
    products: [
        .executable(name: "skiff", targets: ["skiff"])
    ],
    targets: [
        // C: child/ runs between clone and execve (the only code there: see
        // docs/design.md); host/ is the parent's C (start-up, BPF, netlink,
        // idmapped trees, probes); common/ is what both call (the wire's fd
        // passing, hooks, raw syscalls). include/shim.h is the only
        // definition of the wire.
        .target(
            name: "CShim",
            cSettings: [
                .define("_GNU_SOURCE"), .headerSearchPath("."), .unsafeFlags(["-O2", "-Wall", "-Wextra", "-Werror"]),
            ]
        ),
        .systemLibrary(name: "CJSONC", path: "Sources/CJSONC"),
        .systemLibrary(name: "CCap", path: "Sources/CCap"),
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp"),
        // libdbus, the reference D-Bus client, for --systemd-cgroup only
        // (static: Debian's libdbus-1-dev ships libdbus-1.a).
        .systemLibrary(name: "CDBus", path: "Sources/CDBus", pkgConfig: "dbus-1"),
        // The uid libdbus authenticates with (geteuid, wrapped at the link).
        .target(name: "CDBusIdentity", cSettings: [.unsafeFlags(["-O2", "-Wall", "-Wextra", "-Werror"])]),

        // Typed syscall wrappers; errors keep errno, operation and path.
        .target(name: "LinuxSys", dependencies: ["CShim"]),

        // Codable runtime-spec types and the JSON layer over json-c.
        .target(
            name: "OCISpec",
            dependencies: ["CJSONC"],
            linkerSettings: [.linkedLibrary(":libjson-c.a")]
        ),

        // Pure: validation checks and lowering of a spec to a launch plan.
        .target(
            name: "Planning",
            dependencies: ["OCISpec", "CCap"],
            linkerSettings: [.linkedLibrary(":libcap.a")]
        ),

        // OCI seccomp profile -> BPF with libseccomp, in the parent.
        .target(
            name: "Seccomp",
            dependencies: ["OCISpec", "LinuxSys", "CShim", "CSeccomp"],
            linkerSettings: [.linkedLibrary(":libseccomp.a")]
        ),

        // Parent side of launch, lifecycle operations, state store.
        .target(
            name: "Runtime",
            dependencies: ["Planning", "OCISpec", "LinuxSys", "CShim", "CSeccomp", "Seccomp", "CDBus", "CDBusIdentity"],
            linkerSettings: [.linkedLibrary(":libdbus-1.a")]
        ),

        // Start-up time and peak RSS are features: see skiffLinkerFlags.
        .executableTarget(
            name: "skiff",
            dependencies: ["Runtime"],
            exclude: ["symbol-order.txt"],
            linkerSettings: [.unsafeFlags(skiffLinkerFlags)]
        ),

        .testTarget(name: "OCISpecTests", dependencies: ["OCISpec"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "OCISpec"]),
        .testTarget(name: "SeccompTests", dependencies: ["Seccomp", "OCISpec"]),
        // Runtime's parts that need no container and no root (state store,
        // ...); linked like the binary (libdbus's identity wraps geteuid).
        .testTarget(
            name: "RuntimeTests",
            dependencies: ["Runtime"],
            linkerSettings: [.unsafeFlags(["-Xlinker", "--wrap=geteuid"])]
        ),
        .testTarget(name: "IntegrationTests", dependencies: ["OCISpec"]),
    ]
)

// The product's Swift modules import neither _StringProcessing (Regex)
// nor _Concurrency: nothing in them uses either. Each function in a
// section of its own: --gc-sections drops the unused ones, and the symbol
// order places each hot function, not the whole file it is in. (The
// compiler skips writing an object whose IR did not change: after
// changing only these flags, remove .build's *.o files.)
for target in package.targets where target.type != .test && target.type != .system {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .unsafeFlags([
                "-Xfrontend", "-disable-implicit-string-processing-module-import",
                "-Xfrontend", "-disable-implicit-concurrency-module-import",
                "-Xfrontend", "-function-sections",
                // Generic types' metadata through their accessors, not
                // demangled from a name at first use (docs/design-notes.md).
                "-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors",
            ])
        ]
}
