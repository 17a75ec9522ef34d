import Foundation
import Rules
import Testing

/// Every directory under Tests/Fixtures/invalid is a broken bundle with the exact diagnostics it must produce
/// in `expected.txt`. `UPDATE_GOLDEN=1 swift test` rewrites them (review the diff!). A file too big for git is a
/// recipe, `NAME.repeat`: a count on the first line, then the text written that many times as NAME.
@Suite struct GoldenDiagnosticsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/invalid")

    /// The case folders; a missing corpus yields no arguments here, and `everyCodeHasAGoldenCase` fails on it.
    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
    }

    @Test(arguments: cases)
    func brokenBundle(_ name: String) throws {
        let dir = try Self.materialized(Self.root.appendingPathComponent(name))
        defer {
            if dir.path.hasPrefix(FileManager.default.temporaryDirectory.path) {
                try? FileManager.default.removeItem(at: dir)
            }
        }
        let out = try PolicyCompiler.compile(directory: dir.path)
        #expect(out.policy == nil, "a broken bundle must not compile")
        #expect(out.diagnostics.contains { $0.severity == .error })
        try Self.compareWithGolden(out, dir: Self.root.appendingPathComponent(name), name: name)
    }

    /// The case folder itself, or a temporary copy with its `NAME.repeat` recipes written out as NAME.
    static func materialized(_ dir: URL) throws -> URL {
        let fm = FileManager.default
        let recipes = try fm.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".repeat") }
        guard !recipes.isEmpty else { return dir }
        let copy = fm.temporaryDirectory.appendingPathComponent("golden-\(UUID())")
        try fm.copyItem(at: dir, to: copy)
        for r in recipes {
            let text = try String(contentsOf: dir.appendingPathComponent(r), encoding: .utf8)
            let firstLine = text.prefix { $0 != "\n" }
            let count = try #require(Int(firstLine), "\(r): the first line is a count")
            let unit = text.dropFirst(firstLine.count + 1)
            try String(repeating: String(unit), count: count).write(
                to: copy.appendingPathComponent(String(r.dropLast(".repeat".count))), atomically: true,
                encoding: .utf8)
            try fm.removeItem(at: copy.appendingPathComponent(r))
        }
        return copy
    }

    /// The rendered diagnostics must equal `dir/expected.txt` (`UPDATE_GOLDEN=1` rewrites it).
    static func compareWithGolden(_ out: PolicyCompiler.Output, dir: URL, name: String) throws {
        var sources: [String: String] = [:]
        for f in out.files { sources[f.path] = f.text }
        let renderer = DiagnosticRenderer(sources: sources, pathPrefix: "")
        let actual = out.diagnostics.map { renderer.render($0) }.joined(separator: "\n") + "\n"
        let goldenURL = dir.appendingPathComponent("expected.txt")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try actual.write(to: goldenURL, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: goldenURL, encoding: .utf8)
        #expect(actual == expected, "diagnostics of \(name) differ from expected.txt:\n\(lineDiff(expected, actual))")
    }

    static let warningsRoot = root.deletingLastPathComponent().appendingPathComponent("warnings")
    static var warningCases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: warningsRoot.path)) ?? []).sorted()
    }

    /// Every directory under Tests/Fixtures/warnings compiles, with exactly the warnings in `expected.txt`; the
    /// directory is named after the warning code it shows.
    @Test(arguments: warningCases)
    func bundleWithWarnings(_ name: String) throws {
        let dir = Self.warningsRoot.appendingPathComponent(name)
        let out = try PolicyCompiler.compile(directory: dir.path)
        #expect(out.policy != nil, "a bundle with only warnings compiles")
        #expect(out.diagnostics.allSatisfy { $0.severity == .warning })
        #expect(out.diagnostics.contains { $0.code.rawValue == name })
        try Self.compareWithGolden(out, dir: dir, name: name)
    }

    /// Realistic bundles that must stay silent: statuses not declared (every other status is a locked one), a
    /// conditional allowlist entry before a wider one, plan lists that include every child.
    @Test func noFalseWarnings() {
        let text = """
            plans:
              pro: {}
              enterprise: { extends: pro }
            facts:
              gone: subscription.status == "canceled"
              paid: subscription.plan in ["pro", "enterprise"]
            guards:
              - name: g
                applies_to: ["/api/**"]
                requires: subscription.live
                deny: subscription_inactive
                allow:
                  - route: GET /api/projects/**
                    when: facts.gone
                  - /api/projects/**
            """
        let out = PolicyCompiler.compile(files: [SourceFile(path: "a.yaml", text: text)])
        #expect(out.policy != nil)
        #expect(out.diagnostics.isEmpty, "\(out.diagnostics)")
    }

    /// Each warning code has its golden case.
    @Test func everyWarningHasACase() {
        let warnings = DiagnosticCode.allCases.filter(\.isWarning)
        #expect(warnings.count == 8)
        #expect(Set(Self.warningCases) == Set(warnings.map(\.rawValue)))
    }

    @Test func corpusCoversManyErrorKinds() {
        #expect(Self.cases.count >= 30)
    }

    /// DiagnosticCode's promise: every code has a golden case whose expected output shows it. The folders are read
    /// with errors thrown, so a moved or empty corpus fails here instead of running zero cases; so does a case
    /// folder without a policy file or an `expected.txt`.
    @Test func everyCodeHasAGoldenCase() throws {
        let fm = FileManager.default
        var shown = Set<String>()
        for (root, minimum) in [(Self.root, 30), (Self.warningsRoot, 8)] {
            let names = try fm.contentsOfDirectory(atPath: root.path)
            #expect(names.count >= minimum, "\(root.path) holds \(names.count) cases")
            for name in names {
                let files = try fm.contentsOfDirectory(atPath: root.appendingPathComponent(name).path)
                #expect(files.contains("expected.txt"), "\(name) has no expected.txt")
                #expect(files.contains { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }, "\(name) has no policy file")
                let expected = try String(
                    contentsOf: root.appendingPathComponent(name).appendingPathComponent("expected.txt"),
                    encoding: .utf8)
                for code in DiagnosticCode.allCases where expected.contains("[\(code.rawValue)]") {
                    shown.insert(code.rawValue)
                }
            }
        }
        let missing = DiagnosticCode.allCases.map(\.rawValue).filter { !shown.contains($0) }
        #expect(missing.isEmpty, "codes without a golden case: \(missing)")
    }
}

/// A minimal line diff for failure messages.
func lineDiff(_ a: String, _ b: String) -> String {
    let x = a.split(separator: "\n", omittingEmptySubsequences: false)
    let y = b.split(separator: "\n", omittingEmptySubsequences: false)
    var out: [String] = []
    for i in 0..<max(x.count, y.count) {
        let l = i < x.count ? String(x[i]) : nil
        let r = i < y.count ? String(y[i]) : nil
        if l != r {
            if let l { out.append("- \(l)") }
            if let r { out.append("+ \(r)") }
        }
    }
    return out.joined(separator: "\n")
}
