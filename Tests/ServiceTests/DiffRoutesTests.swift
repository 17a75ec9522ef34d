import Foundation
import Testing

@testable import Service

@Suite struct DiffRoutesTests {
    static let dir = CLITests.repo.appendingPathComponent("Tests/Fixtures/diff").path

    func run(_ args: [String]) -> (Int32, String) {
        let b = CLIOutput.Buffer()
        let code = CLI.run(arguments: args, output: .capturing(b))
        return (code, b.out + b.err)
    }

    @Test func diffNamesEveryKindOfChange() {
        let (code, out) = run([
            "diff", Self.dir + "/old", Self.dir + "/new", "--accounts", Self.dir + "/accounts.yaml", "--now",
            "2026-05-10T12:00:00Z",
        ])
        #expect(code == 0)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.contains("feature audit: added (boolean)"))
        #expect(lines.contains("feature audit: default (none) -> false"), "a new entry's values are listed")
        #expect(lines.contains("plan free: seats 1 -> 2"))
        #expect(lines.contains("plan pro: audit (none) -> true"))
        #expect(!lines.contains { $0.hasPrefix("plan pro: seats") })
        #expect(lines.contains("guard live: allowlist - GET /api/docs/* when facts.paid"))
        #expect(lines.contains("guard live: allowlist + /api/status"))
        #expect(lines.contains("flag beta: default false -> true"))
        #expect(lines.contains("flag beta: rule - when facts.paid -> true"))
        #expect(lines.contains(#"fact paid: 'subscription.plan == "pro"' -> 'subscription.plan in ["pro"]'"#))
        #expect(
            lines.contains(
                #"account a_free: features.seats {"value":1,"source":"plan:free"} -> {"value":2,"source":"plan:free"}"#)
        )
        #expect(lines.contains("account a_free: flags.beta false -> true"))
        #expect(!lines.contains { $0.hasPrefix("account a_pro: flags") })
        #expect(lines.last == "\(lines.count - 1) changes")
    }

    /// With a route manifest, the route outcomes that change per account: a widened allowlist shows for the lapsed
    /// account it now lets through.
    @Test func diffShowsRouteDecisionsPerAccount() {
        let (code, out) = run([
            "diff", Self.dir + "/old", Self.dir + "/new", "--accounts", Self.dir + "/accounts.yaml", "--manifest",
            Self.dir + "/manifest.txt", "--now", "2026-05-10T12:00:00Z", "--exit-code",
        ])
        #expect(code == 1, "--exit-code: something changed")
        #expect(
            out.contains(
                "account a_lapsed: route GET /api/status denied subscription_inactive by live -> allowed (allowlisted)")
        )
        #expect(
            out.contains(
                "account a_lapsed: route GET /api/docs/intro allowed (allowlisted) -> denied subscription_inactive by live"
            ))
        #expect(!out.contains("account a_pro: route"), "a changed reason alone is not a change")
    }

    @Test func diffAsMarkdown() {
        let (code, out) = run(["diff", Self.dir + "/old", Self.dir + "/new", "--format", "markdown"])
        #expect(code == 0)
        #expect(out.hasPrefix("### Entitlements policy diff: `\(Self.dir)/old` → `\(Self.dir)/new`\n"))
        #expect(
            out.contains(
                "**plan** (3)\n\n| name | key | old | new |\n|---|---|---|---|\n| `free` | `seats` | 1 | 2 |\n"))
        #expect(out.contains("| `live` | `allowlist` | - GET /api/docs/\\* when facts.paid | — |\n"))
        #expect(out.contains("| `audit` |  | — | added (boolean) |\n"))
        #expect(out.hasSuffix("\n11 changes.\n"))
    }

    /// Git revisions of the bundle folder: the bundle as of each commit.
    @Test func diffBetweenGitRevisions() throws {
        let repo = FileManager.default.temporaryDirectory.appendingPathComponent("diff-git-\(UUID())")
        let bundle = repo.appendingPathComponent("Policies")
        try FileManager.default.createDirectory(at: bundle, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: repo) }
        func git(_ args: String...) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", repo.path, "-c", "user.name=t", "-c", "user.email=t@example.com"] + args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try? p.run()
            p.waitUntilExit()
        }
        let file = bundle.appendingPathComponent("a.yaml")
        git("init", "-q")
        try "features:\n  sso: { type: boolean }\nplans:\n  pro: { grants: { sso: true } }\n".write(
            to: file, atomically: true, encoding: .utf8)
        git("add", ".")
        git("commit", "-qm", "one")
        try "features:\n  sso: { type: boolean }\nplans:\n  pro: { grants: { sso: false } }\n".write(
            to: file, atomically: true, encoding: .utf8)
        var (code, out) = run(["diff", "HEAD", bundle.path, "--exit-code"])
        #expect(code == 1 && out.contains("plan pro: sso true -> false"), "\(out)")
        git("commit", "-qam", "two")
        (code, out) = run(["diff", "HEAD~1", "HEAD", bundle.path])
        #expect(code == 0 && out.contains("plan pro: sso true -> false"), "\(out)")
        (code, out) = run(["diff", "HEAD", "HEAD", bundle.path, "--exit-code"])
        #expect(code == 0 && out.hasSuffix("no changes\n"))
        (code, out) = run(["diff", "no-such-revision", bundle.path])
        #expect(code == 2 && out.contains("unknown git revision 'no-such-revision'"))
    }

    /// Each review-worthy change made alone to a copy of the sample bundle: the line `diff` prints for it, and
    /// `--exit-code` fails. (Values that used to pass as "no changes".)
    @Test(arguments: [
        ("plans.yaml", "monthly_cents: 9900", "monthly_cents: 12900", "plan pro: price.monthly_cents 9900 -> 12900"),
        (
            "plans.yaml", "assignable_via: [admin]", "assignable_via: [signup, checkout, admin]",
            "plan enterprise: assignable_via [admin] -> [admin, checkout, signup]"
        ),
        ("plans.yaml", "aliases: [team]", "aliases: []", #"plan pro: aliases ["team"] -> []"#),
        ("plans.yaml", "public: false", "public: true", "plan enterprise: public false -> true"),
        ("plans.yaml", "display_name: Pro", "display_name: Pro Plus", #"plan pro: display_name "Pro" -> "Pro Plus""#),
        ("plans.yaml", "extends: starter", "extends: free", "plan pro: extends starter -> free"),
        ("subscription.yaml", "length: 14d", "length: 7d", "subscription: trial.length 14d -> 7d"),
        (
            "subscription.yaml", "past_due:      { live: true }", "past_due:      { live: false }",
            "subscription: statuses.past_due.live true -> false"
        ),
        ("subscription.yaml", "warning: 3d", "warning: 5d", "subscription: trial.warning 3d -> 5d"),
        (
            "subscription.yaml", "unknown_status: locked", "unknown_status: live",
            "subscription: unknown_status locked -> live"
        ),
        (
            "subscription.yaml", "locked_grants: none", "locked_grants: free",
            "subscription: locked_grants (none) -> free"
        ),
        (
            "denials.yaml", "upgrade_url: /account/billing/select-plan\n  no_subscription",
            "upgrade_url: /billing\n  no_subscription",
            #"denial subscription_inactive: body.upgrade_url "/account/billing/select-plan" -> "/billing""#
        ),
        ("denials.yaml", "status: 403", "status: 401", "denial email_not_verified: status 403 -> 401"),
    ])
    func diffReportsEachChangeAlone(file: String, old: String, new: String, expected: String) throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("diff-alone-\(UUID())")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try FileManager.default.copyItem(atPath: CLITests.policies, toPath: tmp.path)
        let path = tmp.appendingPathComponent(file)
        let text = try String(contentsOf: path, encoding: .utf8)
        #expect(text.contains(old), "the sample bundle has \(old)")
        try text.replacingOccurrences(of: old, with: new).write(to: path, atomically: true, encoding: .utf8)
        let (code, out) = run(["diff", CLITests.policies, tmp.path, "--exit-code"])
        #expect(code == 1)
        #expect(out.split(separator: "\n").map(String.init).contains(expected), "\(out)")
    }

    /// Expressions compare by meaning: whitespace and redundant parentheses are not changes.
    @Test func expressionsCompareByTheirCheckedTree() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("diff-expr-\(UUID())")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try FileManager.default.copyItem(atPath: CLITests.policies, toPath: tmp.path)
        let path = tmp.appendingPathComponent("subscription.yaml")
        let text = try String(contentsOf: path, encoding: .utf8)
        try text.replacingOccurrences(
            of: #""now < subscription.period_end""#, with: #""(now  <  (subscription.period_end))""#
        )
        .write(to: path, atomically: true, encoding: .utf8)
        #expect(run(["diff", CLITests.policies, tmp.path, "--exit-code"]) == (0, "no changes\n"))
    }

    @Test func diffOfABundleWithItselfIsEmpty() {
        #expect(run(["diff", Self.dir + "/old", Self.dir + "/old"]) == (0, "no changes\n"))
        #expect(run(["diff", Self.dir + "/old"]).0 == 2)
    }

    @Test func routesMatrixAndDrift() throws {
        let (code, out) = run(["routes", Self.dir + "/old", "--manifest", Self.dir + "/manifest.txt"])
        #expect(code == 0)
        let matrix = [
            "route                  live", "GET /api/things        protect", "GET /api/docs/intro    skip-if",
            "POST /api/billing/pay  skip", "GET /api/status        protect", "GET /home              -",
            "GET /api/../x          -",
        ]
        #expect(out == matrix.joined(separator: "\n") + "\n")
        let expected = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID()).txt").path
        try out.write(toFile: expected, atomically: true, encoding: .utf8)
        #expect(
            run(["routes", Self.dir + "/old", "--manifest", Self.dir + "/manifest.txt", "--expect", expected]).0 == 0)
        let (drift, report) = run([
            "routes", Self.dir + "/new", "--manifest", Self.dir + "/manifest.txt", "--expect", expected,
        ])
        #expect(drift == 1)
        #expect(report.contains("+ GET /api/status"))
        #expect(report.contains("skip"))
    }
}
