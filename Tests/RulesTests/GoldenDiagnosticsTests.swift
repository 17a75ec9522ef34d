import Foundation
import Rules
import Testing

/// Every directory under Tests/Fixtures/invalid is a broken bundle with the exact diagnostics it must produce
/// in `expected.txt`. `UPDATE_GOLDEN=1 swift test` rewrites them (review the diff!).
@Suite struct GoldenDiagnosticsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/invalid")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
    }

    @Test(arguments: cases)
    func brokenBundle(_ name: String) throws {
        let dir = Self.root.appendingPathComponent(name)
        let out = try PolicyCompiler.compile(directory: dir.path)
        #expect(out.policy == nil, "a broken bundle must not compile")
        #expect(out.diagnostics.contains { $0.severity == .error })
        try Self.compareWithGolden(out, dir: dir, name: name)
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
