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
        #expect(out.contains("**plan** (3)\n\n- `free`: seats 1 → 2\n"))
        #expect(out.contains("- `live`: allowlist - GET /api/docs/\\* when facts.paid\n"))
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
