import Foundation
import Testing

@testable import Service

@Suite struct FixtureRunnerTests {
    static let bundle = CLITests.repo.appendingPathComponent("Tests/Fixtures/fixture-runner/bundle").path

    func run(_ args: [String]) -> (Int32, String) {
        let b = CLIOutput.Buffer()
        let code = CLI.run(arguments: args, output: .capturing(b))
        return (code, b.out + b.err)
    }

    /// The sample bundle's own fixtures all pass (CI runs the same through `entitlements test`).
    @Test func sampleBundleFixturesPass() {
        let (code, out) = run(["test", CLITests.policies])
        #expect(code == 0, "\(out)")
        let last = out.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasSuffix(" passed, 0 failed"))
        #expect((Int(last.split(separator: " ")[0]) ?? 0) >= 70)
    }

    @Test func failuresAreReportedWithPositionsAndCounted() {
        let (code, out) = run(["test", Self.bundle])
        #expect(code == 1)
        #expect(out.hasSuffix("2 passed, 5 failed\n"), "\(out)")
        // The line once: `file:15: FAIL name: checks[1] …`, not `file:15: … line 15: …`.
        #expect(out.contains("\(Self.bundle)/tests/mixed.yaml:15: FAIL wrong expectation: checks[1]"))
        // One line per failing case.
        #expect(out.split(separator: "\n").count == 6)
        #expect(
            out.contains("checks[1] {\"feature\":\"seats\",\"usage\":5}: allowed: expected true, got false"))
        #expect(out.contains("value: expected 1, got true"))
        #expect(out.contains("limit: expected null, but the result has no 'limit'"))
        #expect(out.contains("fixture error: account: account.subscription.period_end must be an RFC 3339 timestamp"))
        #expect(out.contains("unknown key 'chek' in a case (did you mean 'check'?)"))
        #expect(!out.contains("FAIL passes"))
    }

    /// On a terminal (here forced with --format text) a failure spans lines: what differed, the expectation, the
    /// result's verdict and the whole result.
    @Test func textFormatSpreadsAFailureOverLines() {
        let (code, out) = run(["test", Self.bundle, "--format", "text"])
        #expect(code == 1)
        let lines = out.split(separator: "\n").map(String.init)
        let at = lines.firstIndex { $0.hasSuffix("mixed.yaml:15: FAIL wrong expectation") }
        #expect(at != nil, "\(out)")
        if let at {
            // The line once, then each mismatching key on its own line.
            #expect(lines[at + 1] == "  checks[1] {\"feature\":\"seats\",\"usage\":5}")
            #expect(lines[at + 2] == "    allowed: expected true, got false")
            #expect(lines[at + 3].hasPrefix("    expected: {"))
            #expect(lines[at + 4].hasPrefix("    result: denied limit_exceeded (402)"))
        }
        #expect(out.hasSuffix("2 passed, 5 failed\n"))
    }

    /// Every mismatching key is listed, a misspelt expect key gets a did-you-mean, and a check the engine rejected
    /// says so (not just `allowed: expected true, got false`).
    @Test func failuresNameEveryKeyAndRejectedChecks() throws {
        let fixture = """
            cases:
              - name: slips
                account: { subscription: { plan: pro, status: active } }
                checks:
                  - { check: { feature: sso }, expect: { allowd: true, value: true } }
                  - { check: { feature: ssso }, expect: { allowed: true } }

            """
        let dir = try CLITests.makeBundle([
            "a.yaml": "features:\n  sso: { type: boolean }\nplans:\n  pro: {}\n", "tests/t.yaml": fixture,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let (code, out) = run(["test", dir.path])
        #expect(code == 1)
        #expect(
            out.contains(
                "allowd: expected true, but the result has no 'allowd' (did you mean 'allowed'?); "
                    + "value: expected true, got false"), "\(out)")
        #expect(out.contains("line 6: checks[1] {\"feature\":\"ssso\"}: the check was rejected: unknown_feature"))
    }

    /// A fixture account with an unknown plan is a fixture error, not a silent run on the defaults (with a did-you-mean
    /// when a known name is close); so is a status close to a declared one. A case asserting the matching warning, and
    /// an unlisted status far from every declared one (the bundle says how those behave), are left alone.
    @Test func unknownFixtureAccounts() throws {
        let fixture = """
            cases:
              - name: typo plan
                account: { subscription: { plan: enterprize, status: active } }
                check: { feature: sso }
                expect: { allowed: true }
              - name: typo status
                account: { subscription: { plan: enterprise, status: actve } }
                check: { feature: sso }
                expect: { allowed: false }
              - name: asserted unknown plan
                account: { subscription: { plan: enterprize, status: active } }
                check: { feature: sso }
                expect: { allowed: false, warnings: [unknown_plan] }
              - name: an unlisted status on purpose
                account: { subscription: { plan: enterprise, status: paused } }
                check: { feature: sso }
                expect: { allowed: false, error: subscription_inactive, warnings: [unknown_status] }
              - name: a renamed plan left behind
                account: { subscription: { plan: team, status: active } }
                check: { feature: sso }
                expect: { allowed: false }
              - name: a null plan
                account: { subscription: { plan: null, status: active } }
                check: { feature: sso }
                expect: { allowed: false }
              - name: an unlisted status unasserted
                account: { subscription: { plan: enterprise, status: paused } }
                check: { feature: sso }
                expect: { allowed: false }

            """
        let dir = try CLITests.makeBundle([
            "a.yaml": "features:\n  sso: { type: boolean }\nplans:\n  enterprise: { grants: { sso: true } }\n",
            "tests/t.yaml": fixture,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let (code, out) = run(["test", dir.path])
        #expect(code == 1)
        #expect(
            out.contains(
                "t.yaml:3: FAIL typo plan: fixture error: account plan 'enterprize' is not a plan or alias (did you mean 'enterprise'?)"
            ), "\(out)")
        #expect(out.contains("t.yaml:7: FAIL typo status: fixture error: account status 'actve'"))
        #expect(
            out.contains(
                "t.yaml:19: FAIL a renamed plan left behind: fixture error: account plan 'team' is not a plan or alias; an unknown plan gets only the feature defaults"
            ), "\(out)")
        #expect(out.contains("t.yaml:23: FAIL a null plan: fixture error: account plan is null;"))
        #expect(out.hasSuffix("3 passed, 4 failed\n"))
    }

    @Test func filterSelectsCases() {
        let (code, out) = run(["test", Self.bundle, "--filter", "passes"])
        #expect(code == 0)
        #expect(out == "1 passed, 0 failed\n")
    }

    @Test func junitReport() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("junit-\(UUID()).xml").path
        _ = run(["test", Self.bundle, "--junit", path])
        let xml = try String(contentsOfFile: path, encoding: .utf8)
        #expect(xml.contains("<testsuites name=\"entitlements\" tests=\"7\" failures=\"5\">"))
        #expect(xml.contains("<testcase classname=\"\(Self.bundle)/tests/mixed.yaml\" name=\"passes\""))
        #expect(xml.contains("<failure message="))
    }

    @Test func brokenBundleFailsTheRun() {
        let (code, out) = run(["test", CLITests.invalid + "/unknown_extends"])
        #expect(code == 1)
        #expect(out.contains("[unknown_plan]"))
        #expect(out.hasSuffix("0 passed, 0 failed\n"))
    }

    @Test func checkCommandEvaluatesABody() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("req-\(UUID()).json").path
        try
            #"{"account":{"subscription":{"plan":"pro","status":"active"}},"now":"2026-05-10T12:00:00Z","checks":[{"feature":"psa_integration"}]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (code, out) = run(["check", CLITests.policies, "--input", path])
        #expect(code == 0)
        #expect(out.contains(#""results":[{"allowed":true,"reason":"plan","value":true}]"#))
        let (_, explained) = run(["check", CLITests.policies, "--input", path, "--explain"])
        #expect(explained.contains("\"trace\""))
    }
}
