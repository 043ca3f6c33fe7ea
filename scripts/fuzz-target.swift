// libFuzzer entry point for scripts/fuzz: config.json decoding, validation
// and planning (everything skiff does with config bytes before any
// syscall). A crash, a trap or a sanitizer report is a bug; an error
// thrown is the expected answer to bad input.
import OCISpec
import Planning

let host = HostFacts(euid: 0, egid: 0, userName: "root", capLast: 40, umask: 0o022, cgroups: .none)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let spec = try? JSONDecoding.decode(Spec.self, json: bytes) else { return 0 }
    _ = try? Planner.plan(spec, bundle: "/bundle", host: host, image: ImageFacts(), id: "fuzz")
    return 0
}
