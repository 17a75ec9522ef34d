import Foundation
import Rules
import Testing

@testable import Service

/// The reference's examples are the quickstart bundle, which validates clean and passes its fixtures; the docs
/// link only to files in the repository.
@Suite struct DocsTests {
    static let docs = CLITests.repo.appendingPathComponent("docs")
    static let quickstart = docs.appendingPathComponent("examples/quickstart").path

    static func read(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    /// Fenced blocks of a Markdown text: (info string, lines).
    static func blocks(_ text: String) -> [(String, [String])] {
        var out: [(String, [String])] = []
        var current: (String, [String])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let c = current {
                    out.append(c)
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)), [])
                }
            } else if current != nil {
                current!.1.append(line)
            }
        }
        return out
    }

    func run(_ args: [String]) -> (Int32, String) {
        let b = CLIOutput.Buffer()
        let code = CLI.run(arguments: args, output: .capturing(b))
        return (code, b.out + b.err)
    }

    @Test func referenceExamplesAreTheQuickstartFiles() throws {
        let text = try Self.read(Self.docs.appendingPathComponent("REFERENCE.md"))
        var checked = 0
        for (info, lines) in Self.blocks(text) where info == "yaml" {
            guard let first = lines.first, first.hasPrefix("# file: ") else { continue }
            let path = String(first.dropFirst("# file: ".count))
            let file = try Self.read(Self.docs.appendingPathComponent(path))
            #expect(lines.dropFirst().joined(separator: "\n") + "\n" == file, "\(path) differs from REFERENCE.md")
            checked += 1
        }
        #expect(checked >= 5)
    }

    @Test func referenceExplainOutputIsWhatTheCommandPrints() throws {
        let text = try Self.read(Self.docs.appendingPathComponent("REFERENCE.md"))
        let block = try #require(
            Self.blocks(text).first { $0.0 == "text" && $0.1.first?.hasPrefix("$ entitlements check") == true })
        let (code, out) = run([
            "check", Self.quickstart, "--input", Self.quickstart + "/request.json", "--explain", "--format", "text",
        ])
        #expect(code == 0)
        for line in block.1.dropFirst() { #expect(out.contains(line + "\n"), "not printed: \(line)") }
    }

    @Test func quickstartValidatesCleanAndPasses() {
        let (v, vout) = run(["validate", Self.quickstart, "--strict"])
        #expect(v == 0, "\(vout)")
        #expect(!vout.contains("warning"))
        let (t, tout) = run(["test", Self.quickstart])
        #expect(t == 0, "\(tout)")
        #expect(tout.hasSuffix("3 passed, 0 failed\n"))
    }

    /// Relative links in README.md and docs/*.md point at files that exist; nothing points outside the repository.
    @Test func docsLinkOnlyInsideTheRepository() throws {
        var pages = [CLITests.repo.appendingPathComponent("README.md")]
        pages += try FileManager.default.contentsOfDirectory(atPath: Self.docs.path).filter { $0.hasSuffix(".md") }
            .map { Self.docs.appendingPathComponent($0) }
        for page in pages {
            let text = try Self.read(page)
            #expect(!text.contains("../shared"), "\(page.lastPathComponent) refers outside the repository")
            var rest = Substring(text)
            while let open = rest.range(of: "](") {
                rest = rest[open.upperBound...]
                guard let close = rest.firstIndex(of: ")") else { break }
                let target = String(rest[..<close])
                rest = rest[close...]
                if target.hasPrefix("http") || target.hasPrefix("#") { continue }
                let path = String(target.split(separator: "#", maxSplits: 1).first ?? "")
                let url = page.deletingLastPathComponent().appendingPathComponent(path).standardized
                #expect(url.path.hasPrefix(CLITests.repo.standardized.path), "\(page.lastPathComponent): \(target)")
                #expect(FileManager.default.fileExists(atPath: url.path), "\(page.lastPathComponent): \(target)")
            }
        }
    }
}
