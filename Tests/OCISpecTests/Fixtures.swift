import Foundation

/// spec-fixtures/, found from this file's path.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("spec-fixtures")

    static func names(_ dir: String, ext: String = "json") -> [String] {
        let url = root.appendingPathComponent(dir)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return files.filter { $0.hasSuffix("." + ext) }.map { String($0.dropLast(ext.count + 1)) }.sorted()
    }

    static func bytes(_ dir: String, _ name: String, ext: String = "json") -> [UInt8] {
        let url = root.appendingPathComponent(dir).appendingPathComponent("\(name).\(ext)")
        return (try? [UInt8](Data(contentsOf: url))) ?? []
    }
}
