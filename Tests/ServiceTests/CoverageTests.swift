import Foundation
import Testing

@testable import Service

/// `test --coverage` on the quickstart bundle, against a count by hand (see each line).
@Suite struct CoverageTests {
    static let quickstart = CLITests.repo.appendingPathComponent("docs/examples/quickstart").path

    func run(_ args: [String]) -> (Int32, String, String) {
        let b = CLIOutput.Buffer()
        let code = CLI.run(arguments: args, output: .capturing(b))
        return (code, b.out, b.err)
    }

    @Test func numbersMatchAHandCount() {
        let (code, out, _) = run(["test", Self.quickstart, "--coverage"])
        #expect(code == 0)
        let lines = out.split(separator: "\n").map(String.init)
        // 3 plans × 4 features; the fixtures check projects, exports and sso on a live pro account (the trial that
        // ended is locked without locked_grants: no cell).
        #expect(lines.contains("  plan × feature: 3 of 12"))
        // active (pro) and trialing (trial_over) of active, past_due, trialing, canceled.
        #expect(lines.contains("  status: 2 of 4"))
        // expired (June 10) and warning (the snapshot 1.5 days before the end) of the four stages.
        #expect(lines.contains("  trial stage: 2 of 4"))
        // live_subscription denied POST /api/projects; no route check passed it.
        #expect(lines.contains("  guard: 1 of 2"))
        // /api/billing/** matched; GET /api/projects/** matched with its when true, never false.
        #expect(lines.contains("  allowlist: 2 of 3"))
        // no flag check at all: two rules and the default.
        #expect(lines.contains("  flag rule: 0 of 3"))
        // feature_not_in_plan (sso) and subscription_inactive returned; limit_exceeded, no_subscription never.
        #expect(lines.contains("  denial: 2 of 4"))
        #expect(lines.first == "coverage: 12 of 32 (37.5%)")
        #expect(out.contains("guards.yaml:8:9: guard live_subscription allows GET /api/projects/** when "))
        #expect(lines.last == "3 passed, 0 failed")
    }

    @Test func minimumGatesTheRun() {
        #expect(run(["test", Self.quickstart, "--min-coverage", "30"]).0 == 0)
        let (code, _, err) = run(["test", Self.quickstart, "--min-coverage", "40%"])
        #expect(code == 1)
        #expect(err.contains("coverage 37.5% is below --min-coverage 40%"), "\(err)")
        #expect(run(["test", Self.quickstart, "--min-coverage", "abc"]).0 == 2)
        #expect(run(["test", Self.quickstart, "--coverage", "--http", "http://127.0.0.1:1"]).0 == 2)
    }

    @Test func jsonForTools() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("coverage-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(run(["test", Self.quickstart, "--coverage-json", file.path]).0 == 0)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        #expect(json?["covered"] as? Int == 12)
        #expect(json?["total"] as? Int == 32)
        let items = json?["items"] as? [[String: Any]] ?? []
        #expect(items.count == 32)
        #expect(items.contains { $0["what"] as? String == "plan pro × sso" && $0["covered"] as? Bool == true })
    }
}
