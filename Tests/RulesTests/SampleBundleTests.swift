import Foundation
import Rules
import Testing

/// The sample bundle in Policies/ must compile and model the whole domain of SPEC §1.
@Suite struct SampleBundleTests {
    static let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Policies").path

    /// Loading a program to serve skips the warnings pass: the same policy (digest, plans, guards), no warnings. The
    /// bundle that warns on purpose (docs/examples/warnings) shows the pass runs only when asked.
    @Test func compilesTheSamePolicyWithoutTheWarningsPass() throws {
        let warning = URL(fileURLWithPath: Self.policies).deletingLastPathComponent()
            .appendingPathComponent("docs/examples/warnings").path
        #expect(try !PolicyCompiler.compile(directory: warning).diagnostics.isEmpty)
        #expect(try PolicyCompiler.compile(directory: warning, warnings: false).diagnostics.isEmpty)
        let with = try PolicyCompiler.compile(directory: Self.policies)
        let without = try PolicyCompiler.compile(directory: Self.policies, warnings: false)
        #expect(without.diagnostics.isEmpty, "\(without.diagnostics)")
        let a = try #require(with.policy)
        let b = try #require(without.policy)
        #expect(a.digest == b.digest)
        #expect(a.plans.map(\.name) == b.plans.map(\.name))
        #expect(a.guards.map(\.name) == b.guards.map(\.name))
        #expect(a.features.map(\.name) == b.features.map(\.name))
    }

    @Test func compilesWithoutErrors() throws {
        let out = try PolicyCompiler.compile(directory: Self.policies)
        // No warning either: `validate Policies --strict` passes.
        #expect(out.diagnostics.isEmpty, "\(out.diagnostics)")
        let p = try #require(out.policy)
        #expect(p.plans.map(\.name) == ["free", "starter", "pro", "enterprise"])
        #expect(p.planLookup["team"] == p.planLookup["pro"])
        #expect(p.features.count >= 12)
        #expect(Set(p.features.map(\.kind)) == [.boolean, .limit, .set])
        #expect(
            Set(p.subscription.statuses.map(\.name)) == [
                "active", "complimentary", "past_due", "trialing", "canceled", "incomplete",
            ])
        #expect(p.subscription.trial?.length == PolicyDuration.parse("14d"))
        #expect(p.facts.map(\.name).contains("is_paid"))
        #expect(p.facts.map(\.name).contains("has_pro_entitlement"))
        #expect(p.guards.map(\.name).prefix(2) == ["active_subscription", "verified_email"])
        #expect(p.denials[p.denialLookup["email_not_verified"]!].status == 403)
        #expect(p.flags.contains { $0.name == "self_serve_enabled" })
        #expect(!p.files.contains { $0.hasPrefix("tests/") })
    }

    @Test func inMemoryCompileMatchesFileOrder() {
        let out = PolicyCompiler.compile(files: [
            SourceFile(path: "b.yaml", text: "features:\n  b: { type: boolean }\n"),
            SourceFile(path: "a.yaml", text: "features:\n  a: { type: boolean }\n"),
        ])
        #expect(out.policy?.features.map(\.name) == ["a", "b"])
    }

    @Test func guardsOrderedBySortedFilePathThenPosition() {
        let g = "guards:\n  - { name: NAME, requires: true, deny: unauthenticated }\n"
        let out = PolicyCompiler.compile(files: [
            SourceFile(path: "z.yaml", text: g.replacingOccurrences(of: "NAME", with: "last")),
            SourceFile(path: "sub/a.yaml", text: g.replacingOccurrences(of: "NAME", with: "middle")),
            SourceFile(path: "a.yaml", text: g.replacingOccurrences(of: "NAME", with: "first")),
        ])
        #expect(out.policy?.guards.map(\.name) == ["first", "middle", "last"])
    }

    @Test func factsMayReferenceLaterFactsAndReadsAreTransitive() throws {
        let out = PolicyCompiler.compile(files: [
            SourceFile(
                path: "a.yaml",
                text:
                    "facts:\n  a: facts.b\n  b: user.authenticated\nguards:\n  - { name: g, requires: facts.a, deny: unauthenticated }\n"
            )
        ])
        let p = try #require(out.policy, "\(out.diagnostics)")
        #expect(p.guards[0].requiresReads.user)
        #expect(p.facts[0].reads.user)
    }
}

@Suite struct DiagnosticCatalogTests {
    /// docs/POLICY.md lists exactly the codes of `DiagnosticCode`, so the catalogue and the docs cannot drift.
    @Test func docsListEveryCode() throws {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/POLICY.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Diagnostic codes").dropFirst().first)
        let listed = section.components(separatedBy: "\n\n").dropFirst().first ?? ""
        let codes = Set(listed.split(whereSeparator: { ", .`\n".contains($0) }).map(String.init))
        #expect(codes == Set(DiagnosticCode.allCases.map(\.rawValue)))
    }

    /// The table of meanings in docs/POLICY.md is the catalogue's, row for row.
    @Test func docsTableIsTheCatalogue() throws {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/POLICY.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        let rows = DiagnosticCode.allCases.map { "| `\($0)` | \($0.isWarning ? "warning" : "error") | \($0.meaning) |" }
        let table = "| code | kind | meaning |\n|---|---|---|\n" + rows.joined(separator: "\n") + "\n"
        #expect(text.contains("### What each code means\n\n" + table), "regenerate the table from DiagnosticCode")
    }
}
