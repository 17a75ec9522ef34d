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

    /// `entitlements test` on a bundle made of `files` (paths to text), removed afterwards.
    func test(_ files: [String: String]) throws -> (Int32, String) {
        let dir = try CLITests.makeBundle(files)
        defer { try? FileManager.default.removeItem(at: dir) }
        return run(["test", dir.path])
    }

    /// The sample bundle's own fixtures all pass (CI runs the same through `entitlements test`).
    @Test func sampleBundleFixturesPass() {
        let (code, out) = run(["test", CLITests.policies])
        #expect(code == 0, "\(out)")
        let last = out.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasSuffix(" passed, 0 failed"))
        #expect((Int(last.split(separator: " ")[0]) ?? 0) >= 70)
    }

    /// SPEC §5: the same per-key form on a terminal and in a CI log (piped, as here): the case's file:line and
    /// name, then one line per mismatching key under its check; no line wider than about 120 characters.
    @Test func failuresAreReportedWithPositionsAndCounted() {
        let (code, out) = run(["test", Self.bundle])
        #expect(code == 1)
        #expect(out.hasSuffix("2 passed, 5 failed\n"), "\(out)")
        #expect(
            out.contains(
                "\(Self.bundle)/tests/mixed.yaml:15: FAIL wrong expectation\n"
                    + "  checks[1] {\"feature\":\"seats\",\"usage\":5}\n    allowed: expected true, got false\n"),
            "\(out)")
        #expect(out.contains("\n    value: expected 1, got true\n"))
        #expect(out.contains("\n    limit: expected null, but the result has no 'limit'\n"))
        #expect(
            out.contains("\n  fixture error: account: account.subscription.period_end must be an RFC 3339 timestamp"))
        #expect(out.contains("\n  unknown key 'chek' in a case (did you mean 'check'?)\n"))
        #expect(!out.contains("FAIL passes"))
        #expect(out.split(separator: "\n").filter { $0.contains(": FAIL ") }.count == 5)
        #expect(out.split(separator: "\n").allSatisfy { $0.count <= TestCommand.width }, "\(out)")
        // --format text is the same form.
        #expect(run(["test", Self.bundle, "--format", "text"]) == (code, out))
    }

    /// `--format json`: one JSON object per failing case with the expected and actual values whole.
    @Test func jsonFormatIsOneObjectPerFailingCase() throws {
        let (code, out) = run(["test", Self.bundle, "--format", "json"])
        #expect(code == 1)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 6 && lines.last == "2 passed, 5 failed")
        let first = try JSONParser.parse(Array(lines[0].utf8))
        #expect(first["line"] == .int(15))
        #expect(first["name"] == .string("wrong expectation"))
        guard case .array(let failures)? = first["failures"] else {
            Issue.record("no failures in \(lines[0])")
            return
        }
        #expect(failures.first?["mismatches"] == .array([.string("allowed: expected true, got false")]))
        #expect(failures.first?["actual"]?["error"] == .string("limit_exceeded"))
    }

    /// Every mismatching key is listed, a misspelt expect key gets a did-you-mean, and a check the engine rejected
    /// says so on a line of its own with its did-you-mean (not just `allowed: expected true, got false`).
    @Test func failuresNameEveryKeyAndRejectedChecks() throws {
        let fixture = """
            cases:
              - name: slips
                account: { subscription: { plan: pro, status: active } }
                checks:
                  - { check: { feature: psa_integration }, expect: { allowd: true, value: true } }
                  - { check: { feature: psa_intergration }, expect: { allowed: true } }

            """
        let (code, out) = try test([
            "a.yaml": "features:\n  psa_integration: { type: boolean }\nplans:\n  pro: {}\n", "tests/t.yaml": fixture,
        ])
        #expect(code == 1)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(
            lines.contains("    allowd: expected true, but the result has no 'allowd' (did you mean 'allowed'?)"),
            "\(out)")
        #expect(lines.contains("    value: expected true, got false"))
        #expect(lines.contains("  line 6: checks[1] {\"feature\":\"psa_intergration\"}"))
        #expect(
            lines.contains(
                "    the check was rejected (unknown_feature): unknown feature 'psa_intergration' "
                    + "(did you mean 'psa_integration'?)"), "\(out)")
    }

    /// A bundle that does not compile is said once, not once per case; its cases count as failed.
    @Test func aBrokenBundleIsReportedOnce() throws {
        let fixture =
            "cases:\n"
            + String(
                repeating:
                    "  - { account: { subscription: null }, check: { feature: x }, expect: { allowed: true } }\n",
                count: 3)
        let (code, out) = try test(["a.yaml": "plans:\n  pro: { extends: nope }\n", "tests/t.yaml": fixture])
        #expect(code == 1)
        #expect(out.components(separatedBy: "does not compile").count == 2, "\(out)")
        #expect(
            out.hasSuffix("error: the policy bundle does not compile; 3 cases not run\n0 passed, 3 failed\n"), "\(out)")
    }

    /// A fixture account with an unknown plan is a fixture error, not a silent run on the defaults (with a did-you-mean
    /// when a known name is close); so is a status the bundle does not declare, near miss or not. A case asserting the
    /// matching warning is left alone.
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
        let (code, out) = try test([
            "a.yaml": "features:\n  sso: { type: boolean }\nplans:\n  enterprise: { grants: { sso: true } }\n",
            "tests/t.yaml": fixture,
        ])
        #expect(code == 1)
        #expect(
            out.contains(
                "t.yaml:3: FAIL typo plan\n  fixture error: account plan 'enterprize' is not a plan or alias (did you mean "
                    + "'enterprise'?); an"), "\(out)")
        #expect(
            out.contains(
                "t.yaml:7: FAIL typo status\n  fixture error: account status 'actve' is not a declared status (did you mean"
            ))
        #expect(
            out.contains(
                "t.yaml:19: FAIL a renamed plan left behind\n  fixture error: account plan 'team' is not a plan or alias; an "
                    + "unknown plan gets only the feature defaults"), "\(out)")
        #expect(out.contains("t.yaml:23: FAIL a null plan\n  fixture error: account plan is null;"))
        #expect(
            out.contains(
                "t.yaml:27: FAIL an unlisted status unasserted\n  fixture error: account status 'paused' is not a declared "
                    + "status;"), "\(out)")
        #expect(!out.contains("FAIL asserted") && !out.contains("FAIL an unlisted status on purpose"))
        #expect(out.hasSuffix("2 passed, 5 failed\n"))
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
        // The failure's text is the per-key lines the log shows.
        #expect(
            xml.contains(
                "<failure message=\"checks[1] {&quot;feature&quot;:&quot;seats&quot;,&quot;usage&quot;:5}\">"
                    + "checks[1] {&quot;feature&quot;:&quot;seats&quot;,&quot;usage&quot;:5}\n"
                    + "  allowed: expected true, got false</failure>"), "\(xml)")
    }

    /// `assign` cases: the assignable_via rules with aliases resolved, a mismatch reported per key, an unknown source
    /// with a did-you-mean, and a case mixing `assign` with an account rejected.
    @Test func assignCases() throws {
        let fixture = """
            cases:
              - name: enterprise is not self-serve
                assign: { plan: enterprise, source: signup }
                expect: { allowed: false, error: plan_not_assignable, assignable_via: [admin] }
              - name: alias
                assign: { plan: team, source: checkout }
                expect: { allowed: true, plan: pro }
              - name: wrong belief
                assign: { plan: enterprise, source: checkout }
                expect: { allowed: true }
              - name: typo source
                assign: { plan: pro, source: chekout }
                expect: { allowed: true }
              - name: mixed
                account: { subscription: { plan: pro, status: active } }
                assign: { plan: pro, source: admin }
                expect: { allowed: true }
              - name: unknown plan
                assign: { plan: platinum, source: admin }
                expect: { allowed: false, error: unknown_plan }

            """
        let (code, out) = try test([
            "a.yaml": "plans:\n  pro: { aliases: [team], assignable_via: [checkout, admin] }\n"
                + "  enterprise: { assignable_via: [admin] }\n",
            "tests/t.yaml": fixture,
        ])
        #expect(code == 1)
        #expect(
            out.contains(
                "t.yaml:9: FAIL wrong belief\n  assign {\"plan\":\"enterprise\",\"source\":\"checkout\"}\n"
                    + "    allowed: expected true, got false\n"), "\(out)")
        #expect(out.contains("FAIL typo source\n  fixture error: unknown source 'chekout' (did you mean 'checkout'?)"))
        #expect(out.contains("FAIL mixed\n  an 'assign' case takes only 'expect' (not account)"))
        #expect(out.hasSuffix("3 passed, 3 failed\n"), "\(out)")
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
