import Foundation

/// One policy file: its bundle-relative path and bytes.
public struct SourceFile: Sendable {
    public var path: String
    public var bytes: [UInt8]
    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }
    public init(path: String, text: String) { self.init(path: path, bytes: Array(text.utf8)) }
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Finds and reads a bundle's files: `*.yaml` / `*.yml` below the root, sub-directories included,
/// the top-level `tests/` folder excluded, in bytewise order of the relative path.
public enum BundleFiles {
    /// A bundle directory that cannot be read (a usage error, not a diagnostic).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func isPolicyFile(_ name: String) -> Bool { name.hasSuffix(".yaml") || name.hasSuffix(".yml") }

    /// Relative paths of the bundle's files. Throws when the directory cannot be read.
    public static func discover(directory: String, excludingTests: Bool = true) throws(Failure) -> [String] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw Failure(description: "bundle directory '\(directory)' does not exist or is not a directory")
        }
        var found: [String] = []
        var stack = [""]
        var visited = Set<String>()
        while let rel = stack.popLast() {
            let abs = rel.isEmpty ? directory : directory + "/" + rel
            let real = (try? fm.destinationOfSymbolicLink(atPath: abs)) ?? abs
            guard visited.insert(real + "|" + rel).inserted, visited.count < 100_000 else { continue }
            guard let names = try? fm.contentsOfDirectory(atPath: abs) else {
                if rel.isEmpty { throw Failure(description: "cannot read bundle directory '\(directory)'") }
                continue
            }
            for name in names where !name.hasPrefix(".") {
                let childRel = rel.isEmpty ? name : rel + "/" + name
                if excludingTests && rel.isEmpty && name == "tests" { continue }
                var childIsDir: ObjCBool = false
                guard fm.fileExists(atPath: abs + "/" + name, isDirectory: &childIsDir) else {
                    // A policy file that is a broken symbolic link is listed, so reading it reports it
                    // (unreadable_file) instead of the bundle silently losing it.
                    if isPolicyFile(name), (try? fm.destinationOfSymbolicLink(atPath: abs + "/" + name)) != nil {
                        found.append(childRel)
                    }
                    continue
                }
                if childIsDir.boolValue {
                    if childRel.split(separator: "/").count < 32 { stack.append(childRel) }
                } else if isPolicyFile(name) {
                    found.append(childRel)
                }
            }
        }
        return found.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Reads the files, refusing any over the 4 MiB cap without reading it.
    public static func read(directory: String, paths: [String]) -> ([SourceFile], [Diagnostic]) {
        var files: [SourceFile] = []
        var diags: [Diagnostic] = []
        for rel in paths {
            let abs = directory + "/" + rel
            let size = (try? FileManager.default.attributesOfItem(atPath: abs)[.size] as? NSNumber)?.intValue ?? 0
            let origin = SourceLocation(file: rel, line: 1, column: 1)
            if size > YAMLLoader.maxFileBytes {
                diags.append(
                    Diagnostic(
                        code: .file_too_large,
                        "file is \(size) bytes; the limit is \(YAMLLoader.maxFileBytes) (4 MiB)", at: origin))
                files.append(SourceFile(path: rel, bytes: []))
                continue
            }
            guard let data = FileManager.default.contents(atPath: abs) else {
                let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: abs)).map {
                    ": it is a symbolic link to '\($0)', which does not exist"
                }
                diags.append(Diagnostic(code: .unreadable_file, "cannot read file" + (link ?? ""), at: origin))
                continue
            }
            files.append(SourceFile(path: rel, bytes: [UInt8](data)))
        }
        return (files, diags)
    }
}
