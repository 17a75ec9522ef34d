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
