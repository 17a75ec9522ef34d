import Evaluator
import Foundation
import Rules
import Testing

@testable import Service

@Suite struct CLITests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let policies = repo.appendingPathComponent("Policies").path
    static let invalid = repo.appendingPathComponent("Tests/Fixtures/invalid").path

    /// A throwaway bundle: `files` maps relative paths (folders created) to their text; removed by the caller.
    static func makeBundle(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bundle-\(UUID())")
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    func run(_ args: [String]) -> (Int32, String, String) {
        let b = CLIOutput.Buffer()
        let code = CLI.run(arguments: args, output: .capturing(b))
        return (code, b.out, b.err)
    }

    @Test func validateSampleBundleIsCleanEvenStrict() {
        let (code, out, _) = run(["validate", Self.policies])
        #expect(code == 0)
        // The sample warns about nothing (docs/examples/warnings is the bundle that warns on purpose).
        #expect(out.hasPrefix("ok: 8 files") && !out.contains("warning"), "\(out)")
        #expect(run(["validate", Self.policies, "--strict"]).0 == 0)
    }

    @Test func theWarningExampleWarnsAsDocumented() throws {
        let dir = Self.repo.appendingPathComponent("docs/examples/warnings").path
        let (code, out, _) = run(["validate", dir])
        #expect(code == 0)
        let expected = try String(contentsOfFile: dir + "/expected.txt", encoding: .utf8)
        #expect(out.replacingOccurrences(of: dir + "/", with: "docs/examples/warnings/") == expected)
        #expect(run(["validate", dir, "--strict"]).0 == 1)
    }

    @Test func validateBrokenBundleExitsOneWithPositions() {
        let (code, out, _) = run(["validate", Self.invalid + "/unknown_extends"])
        #expect(code == 1)
        #expect(
            out.contains(
                "/unknown_extends/a.yaml:3:23: error: [unknown_plan] plans.starter.extends: unknown plan 'fre'"))
        #expect(out.hasSuffix("1 error, 0 warnings\n"))
    }

    /// `entitlements timeline` on the fixture account (a Pro trial with an sso override, an unverified user, four
    /// routes): the boundaries and changes in Tests/Fixtures/timeline/expected.txt, reviewed by hand — the e-mail
    /// grace end (day 8), the trial's warning and urgent stages, the lock at the period's end (the override stops
    /// counting there, so its own expiry on June 1 changes nothing and is no boundary), the read-only window's end 30
    /// days after the lock.
    @Test func timelineCommand() throws {
        let dir = Self.repo.appendingPathComponent("Tests/Fixtures/timeline").path
        let (code, out, err) = run([
            "timeline", Self.policies, "--account", dir + "/account.json", "--user", dir + "/user.json", "--manifest",
            dir + "/manifest.txt", "--from", "2026-05-01T00:00:00Z", "--to", "2026-07-01T00:00:00Z",
        ])
        #expect(code == 0, "\(err)")
        let expected = try String(contentsOfFile: dir + "/expected.txt", encoding: .utf8)
        #expect(out == expected, "\(out)")
        let (bad, _, message) = run(["timeline", Self.policies, "--account", dir + "/account.json", "--from", "soon"])
        #expect(bad == 2 && message.contains("--from must be an RFC 3339 timestamp"))
    }

    /// The account and user may be YAML as in fixtures; without a manifest the guards still show: the unverified
    /// user's e-mail grace ends on day 8, where `verified_email` starts to deny.
    @Test func timelineReadsYAMLAndFollowsGuardsWithoutAManifest() throws {
        let dir = Self.repo.appendingPathComponent("Tests/Fixtures/timeline").path
        func timeline(_ ext: String) -> (Int32, String, String) {
            run([
                "timeline", Self.policies, "--account", dir + "/account." + ext, "--user", dir + "/user." + ext,
                "--from", "2026-05-01T00:00:00Z", "--to", "2026-07-01T00:00:00Z",
            ])
        }
        let (code, out, err) = timeline("yaml")
        #expect(code == 0, "\(err)")
        #expect(out == timeline("json").1)
        #expect(
            out.contains(
                "\n2026-05-14T12:00:00Z  guards.verified_email.requires: user.email_verified or now < user.created_at + 7d\n"
                    + "    guards.verified_email: passes → denies (email_not_verified)\n"), "\(out)")
        #expect(!out.contains("routes."))
    }

    @Test func helpAndVersion() {
        for command in ["validate", "test", "check", "routes", "diff", "serve", "schema", "timeline"] {
            let (code, out, _) = run([command, "--help"])
            #expect(code == 0, "\(command) --help")
            #expect(out.hasPrefix("usage: entitlements \(command)"), "\(out)")
        }
        let (code, out, _) = run(["--version"])
        #expect(code == 0 && out.hasPrefix("entitlements 0.") && out.contains("(commit "), "\(out)")
        // The test command stamps the build (scripts/build-stamp), so the commit is known.
        if ProcessInfo.processInfo.environment["ENTITLEMENTS_STAMPED"] != nil {
            #expect(!out.contains("(commit unknown)"), "\(out)")
        }
    }

    /// Zero cases is a failure with the reason (an empty folder, a filter matching nothing) unless --allow-empty.
    @Test func emptyRunsFail() throws {
        let dir = try Self.makeBundle(["a.yaml": "features:\n  sso: { type: boolean }\n", "fixtures/README": ""])
        defer { try? FileManager.default.removeItem(at: dir) }
        var (code, out, err) = run(["test", dir.path])
        #expect(code == 1 && out.hasSuffix("0 passed, 0 failed\n"))
        #expect(err.contains("no fixture cases ran") && err.contains("fixtures are read from tests/ only"), "\(err)")
        #expect(run(["test", dir.path, "--allow-empty"]).0 == 0)
        (code, out, err) = run(["test", Self.policies, "--filter", "no case is called this"])
        #expect(code == 1 && err.contains("--filter 'no case is called this' matched no case"), "\(err)")
    }

    @Test func unreachableServiceIsOneError() {
        let (code, out, err) = run(["test", Self.policies, "--http", "http://127.0.0.1:1"])
        #expect(code == 1)
        #expect(out.isEmpty)
        #expect(err.hasPrefix("error: cannot reach the service at http://127.0.0.1:1"), "\(err)")
    }

    @Test func usageErrorsExitTwo() {
        #expect(run([]).0 == 2)
        #expect(run(["valdate"]).0 == 2)
        #expect(run(["valdate"]).2.contains("did you mean 'validate'"))
        #expect(run(["validate", "--bogus"]).0 == 2)
        #expect(run(["validate", "/nonexistent/dir"]).0 == 2)
        #expect(run(["validate", "a", "b"]).0 == 2)
    }

    @Test func binarySmokeTest() throws {
        let bin = Self.repo.appendingPathComponent(".build/debug/entitlements")
        try #require(
            FileManager.default.isExecutableFile(atPath: bin.path),
            "the binary \(bin.path) is missing: build it first (swift build)")
        let p = Process()
        p.executableURL = bin
        p.arguments = ["validate", Self.policies]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(out.contains("ok: 8 files"))
    }
}

/// The benchmark's mixed workload is what the fast decoder is tuned for: every body is answered (no 400), and the
/// byte-level path and the generic parser give the same bytes.
@Suite struct BenchWorkloadTests {
    @Test func everyBodyAnswersAlikeOnBothPaths() throws {
        let program = try Program(PolicyCompiler.load(directory: CLITests.policies))
        let now = Timestamp.parse("2026-05-19T12:00:00Z")!
        let bodies = BenchWorkload.bodies(count: 2_000)
        var overrides = 0
        var kinds: [String: Int] = [:]
        for body in bodies {
            let fast = Engine.answerInline(program, body: body, now: now)
            let slow = Engine.answerInline(program, body: body, now: now, fastPath: false)
            guard case .success(let a) = fast, case .success(let b) = slow else {
                Issue.record("not answered: \(String(decoding: body, as: UTF8.self))")
                continue
            }
            #expect(a == b, "\(String(decoding: body, as: UTF8.self))")
            let text = String(decoding: body, as: UTF8.self)
            if text.contains("overrides") { overrides += 1 }
            let kind = text.contains("\"route\"") ? "route" : text.contains("\"usage\"") ? "limit" : "boolean"
            kinds[kind, default: 0] += 1
        }
        // The shape the workload promises: ~60/20/20, ~15 % with overrides.
        #expect((1_000...1_400).contains(kinds["boolean"] ?? 0), "\(kinds)")
        #expect((250...550).contains(kinds["limit"] ?? 0) && (250...550).contains(kinds["route"] ?? 0), "\(kinds)")
        #expect((150...450).contains(overrides), "\(overrides)")
    }
}
