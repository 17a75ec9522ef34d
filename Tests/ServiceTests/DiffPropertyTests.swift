import Foundation
import Testing

@testable import Service

/// "No changes" is a promise: every scalar of the sample bundle, changed alone to another value that still
/// compiles, is reported by `diff`, and `diff --exit-code` exits 1.
@Suite struct DiffPropertyTests {
    /// The sample bundle's files as JSON (YAML 1.2 reads JSON), so a mutated tree can be written back as text.
    static func sampleFiles() throws -> [(path: String, json: JSONValue)] {
        let dir = CLITests.policies
        var out: [(String, JSONValue)] = []
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        for name in names {
            let bytes = [UInt8](FileManager.default.contents(atPath: dir + "/" + name)!)
            var findings: [Diagnostic] = []
            let node = try YAMLLoader.load(bytes, file: name, findings: &findings)
            out.append((name, node.map(YAMLJSON.convert) ?? .null))
        }
        return out
    }

    /// Every scalar's place in a tree, as a path of object keys and array indexes.
    enum Step: Equatable {
        case key(String)
        case index(Int)
    }

    static func scalars(_ v: JSONValue, at path: [Step] = []) -> [([Step], JSONValue)] {
        switch v {
        case .object(let fields): return fields.flatMap { scalars($0.1, at: path + [.key($0.0)]) }
        case .array(let items):
            return items.enumerated().flatMap { scalars($0.element, at: path + [.index($0.offset)]) }
        case .null: return []
        default: return [(path, v)]
        }
    }

    static func replacing(_ v: JSONValue, at path: [Step], with new: JSONValue) -> JSONValue {
        guard let first = path.first else { return new }
        let rest = Array(path.dropFirst())
        switch (v, first) {
        case (.object(var fields), .key(let k)):
            let i = fields.firstIndex { $0.0 == k }!
            fields[i].1 = replacing(fields[i].1, at: rest, with: new)
            return .object(fields)
        case (.array(var items), .index(let i)):
            items[i] = replacing(items[i], at: rest, with: new)
            return .array(items)
        default: return v
        }
    }

    /// Other values for a scalar, most specific first; the first that still compiles is the mutation.
    static func candidates(_ v: JSONValue, vocabulary: [String]) -> [JSONValue] {
        switch v {
        case .bool(let b): return [.bool(!b)]
        case .int(let i): return [.int(i + 1), .int(i - 1), .string("unlimited")]
        case .string(let s):
            var out: [JSONValue] = []
            if let unit = s.last, "smhdw".contains(unit), let n = Int(s.dropLast()) {
                out.append(.string("\(n + 1)\(unit)"))
            }
            if s == "unlimited" { out.append(.int(1_000_000)) }
            out += [.string("(\(s)) and true"), .string(s + "x"), .string("${" + s + "}")]
            out += (["live", "locked", "none", "billing"] + vocabulary).filter { $0 != s }.prefix(24).map {
                JSONValue.string($0)
            }
            return out
        default: return []
        }
    }

    @Test func everyScalarOfTheSampleBundleIsReported() throws {
        let files = try Self.sampleFiles()
        let sources = files.map { SourceFile(path: $0.path, text: JSONWriter.string($0.json)) }
        let base = try #require(PolicyCompiler.compile(files: sources, warnings: false).policy, "the sample compiles")
        let baseProgram = Program(base)
        func strings(_ v: JSONValue) -> [String] {
            Array(Set(Self.scalars(v).compactMap { if case .string(let s) = $0.1 { s } else { nil } })).sorted()
        }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("diff-property-\(UUID())")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let (oldDir, newDir) = (tmp.appendingPathComponent("old"), tmp.appendingPathComponent("new"))
        for dir in [oldDir, newDir] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for s in sources {
                try s.text.write(to: dir.appendingPathComponent(s.path), atomically: true, encoding: .utf8)
            }
        }

        var mutated = 0
        var unmutable: [String] = []
        for (f, file) in files.enumerated() {
            for (path, value) in Self.scalars(file.json) {
                let keys = path.map { step in
                    switch step {
                    case .key(let k): k
                    case .index(let i): "\(i)"
                    }
                }
                let place = "\(file.path) \(keys.joined(separator: ".")) = \(JSONWriter.string(value))"
                var compiled: (Program, String)?
                for candidate in Self.candidates(value, vocabulary: strings(file.json)) {
                    var trial = sources
                    trial[f] = SourceFile(
                        path: file.path, text: JSONWriter.string(Self.replacing(file.json, at: path, with: candidate)))
                    if let p = PolicyCompiler.compile(files: trial, warnings: false).policy {
                        compiled = (Program(p), trial[f].text)
                        break
                    }
                }
                guard let (program, text) = compiled else {
                    unmutable.append(place)
                    continue
                }
                mutated += 1
                let changes = DiffCommand.policyChanges(baseProgram, program)
                #expect(!changes.isEmpty, "diff reports nothing for a change of \(place)")
                // The command itself, as CI runs it.
                let target = newDir.appendingPathComponent(file.path)
                try text.write(to: target, atomically: true, encoding: .utf8)
                let b = CLIOutput.Buffer()
                let code = CLI.run(arguments: ["diff", oldDir.path, newDir.path, "--exit-code"], output: .capturing(b))
                #expect(code == 1 && !b.out.contains("no changes"), "\(place): \(b.out)\(b.err)")
                try sources[f].text.write(to: target, atomically: true, encoding: .utf8)
            }
        }
        #expect(mutated > 150, "the sample bundle has this many scalars that can change alone")
        // A scalar that no other value keeps compiling (`version`, a feature's `type` its grants depend on, a set's
        // vocabulary its grants use) cannot be a "no changes" risk.
        #expect(unmutable.count * 4 < mutated, "\(unmutable)")
        let b = CLIOutput.Buffer()
        #expect(CLI.run(arguments: ["diff", oldDir.path, newDir.path, "--exit-code"], output: .capturing(b)) == 0)
        #expect(b.out == "no changes\n")
    }
}
