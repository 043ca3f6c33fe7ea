// swift-tools-version:6.0
// skiff: a daemonless OCI container runtime.
//
// Dependencies point down:  skiff -> Runtime -> Planning -> OCISpec
//                                    Runtime -> LinuxSys -> CShim
// System libraries are Debian's static archives (`-l:libX.a`); the skiff
// binary is linked fully static.
import PackageDescription

let package = Package(
    name: "skiff",
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
    ],
    targets: [
        // C: the child's steps between clone and execve, the sync protocol,
        // raw syscalls glibc does not wrap. The only definition of the wire.
        .target(
            name: "CShim",
            cSettings: [.define("_GNU_SOURCE"), .unsafeFlags(["-O2", "-Wall", "-Wextra", "-Werror"])]
        ),
        .systemLibrary(name: "CJSONC", path: "Sources/CJSONC"),
        .systemLibrary(name: "CCap", path: "Sources/CCap"),
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp"),

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

        // Parent side of launch, lifecycle operations, state store. libseccomp
        // only reports its version in `features` until seccomp profiles are
        // applied (they are refused as not supported yet).
        .target(
            name: "Runtime",
            dependencies: ["Planning", "OCISpec", "LinuxSys", "CShim", "CSeccomp"],
            linkerSettings: [.linkedLibrary(":libseccomp.a")]
        ),

        // Fully static and stripped: no dynamic loader, no relocation of a
        // PIE at start, no libstdc++.so; nothing is needed at run time.
        // Start-up time and peak RSS are features (docs/design-notes.md).
        .executableTarget(
            name: "skiff",
            dependencies: ["Runtime"],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--strip-all"])]
        ),

        .testTarget(name: "OCISpecTests", dependencies: ["OCISpec"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "OCISpec"]),
        .testTarget(name: "IntegrationTests", dependencies: ["OCISpec"]),
    ]
)
