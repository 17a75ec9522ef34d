import Foundation
import Testing

@testable import Service

/// Explanations with values: `check --explain` shows what each step compared, readable on a terminal.
@Suite struct ExplainTextTests {
    static let input = """
        {"account": {"id": "a", "subscription": {"plan": "pro", "status": "active"}},
         "user": {"id": "u", "email": "x@y.com", "created_at": "2026-05-14T12:00:00Z"},
         "now": "2026-05-22T00:00:00Z", "checks": [{"route": "GET /api/v1/trees"}]}
        """

    func check(_ extra: [String]) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID()).json")
        try Self.input.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let b = CLIOutput.Buffer()
        let code = CLI.run(
            arguments: ["check", CLITests.policies, "--input", file.path, "--explain"] + extra, output: .capturing(b))
        #expect(code == 0, "\(b.err)")
        return b.out
    }

    @Test func textFormShowsTheValuesEachStepCompared() throws {
        let out = try check(["--format", "text"])
        #expect(out.contains("checks[0] GET /api/v1/trees: denied email_not_verified (403) by guard verified_email"))
        #expect(out.contains("guard guards.verified_email.requires (guards.yaml:19:15): denied: email_not_verified"))
        #expect(out.contains("user.email_verified = false"))
        #expect(out.contains("now (2026-05-22T00:00:00Z) < user.created_at + 7d (2026-05-21T12:00:00Z) → false"))
        #expect(out.contains("user.created_at = 2026-05-14T12:00:00Z"))
    }

    @Test func jsonFormCarriesTheSameValues() throws {
        let out = try check([])  // not a terminal: JSON
        #expect(out.hasPrefix("{\"policy\""))
        #expect(
            out.contains(
                "\"values\":[\"user.email_verified = false\",\"now (2026-05-22T00:00:00Z) < user.created_at + 7d (2026-05-21T12:00:00Z) → false\""
            ))
    }

    @Test func badFormatIsAUsageError() {
        let b = CLIOutput.Buffer()
        #expect(CLI.run(arguments: ["test", CLITests.policies, "--format", "yaml"], output: .capturing(b)) == 2)
    }
}
