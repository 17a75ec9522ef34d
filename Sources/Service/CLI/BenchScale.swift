import Evaluator
import Foundation
import Rules

/// `entitlements bench --scale [DIR]`: how cost grows with the policy. Generated bundles (written to a temporary
/// folder and compiled like any other): the sample bundle with N generated guards in front of its own (each with two
/// `applies_to` patterns and five allowlist entries, none matching the checked route), and a catalogue of 10,000
/// features over 1,000 plans in one `extends` chain. Reports compile time, one route check, and a snapshot's cost
/// per feature.
enum BenchScale {
    static let guardCounts = [0, 100, 1_000, 5_000]

    static func run(_ dir: String, samples: Int, output: CLIOutput) throws {
        let base = try loadProgram(dir, output: output)
        let now = Timestamp.parse("2026-05-19T12:00:00Z")!
        let account = base.prepare(
            Account(
                id: "acc_1",
                subscription: SubscriptionState(
                    plan: "pro", status: "active", periodStart: Timestamp.parse("2026-05-07T12:00:00Z"),
                    periodEnd: Timestamp.parse("2026-06-07T12:00:00Z"))), precomputeRollouts: true)
        let user = User(
            id: "u1", email: "someone@example.com", emailVerifiedAt: Timestamp.parse("2026-05-01T00:00:00Z"),
            createdAt: Timestamp.parse("2026-04-01T00:00:00Z"))
        output.line("")
        output.line("guards  compile ms  route check: median ns  p99 ns  allocs/op  × smallest  guard by guard ns")
        var first: Double?
        for n in guardCounts {
            let bundle = try generatedGuards(n, from: dir)
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            let (program, compile) = try timedCompile(bundle, output: output, runs: n >= 1_000 ? 3 : 10)
            let check = Check.route(method: "GET", path: "/api/v1/sessions/abc/steps")
            var ev = Evaluation(program: program, account: program.prepare(account.account), user: user, now: now)
            let stats = BenchCommand.measure(samples: samples, batch: 16) { _ = ev.decide(check) }
            let allocs = BenchCommand.allocations { _ = ev.decide(check) }
            // The same check matched guard by guard (the reference), in the same run.
            let reference = Program(program.policy, routeMatcher: false)
            var slow = Evaluation(
                program: reference, account: reference.prepare(account.account), user: user, now: now)
            let baseline = BenchCommand.measure(samples: max(50, samples / max(1, n / 10)), batch: 4) {
                _ = slow.decide(check)
            }
            first = first ?? stats.median
            output.line(
                BenchCommand.pad(String(n + base.policy.guards.count), 6)
                    + BenchCommand.pad(BenchCommand.fmt(compile / 1e6), 12)
                    + BenchCommand.pad(BenchCommand.fmt(stats.median), 24)
                    + BenchCommand.pad(BenchCommand.fmt(stats.p99), 8)
                    + BenchCommand.pad(allocs.map { BenchCommand.fmt($0) } ?? "n/a", 11)
                    + BenchCommand.pad(String(format: "%.2f", stats.median / first!), 12)
                    + BenchCommand.pad(BenchCommand.fmt(baseline.median), 19))
        }
        let catalogue = try generatedCatalogue(features: 10_000, plans: 1_000)
        defer { try? FileManager.default.removeItem(atPath: catalogue) }
        let (program, compile) = try timedCompile(catalogue, output: output, runs: 3)
        output.line("")
        output.line("10,000 features × 1,000 plans (one extends chain): compile \(BenchCommand.fmt(compile / 1e6)) ms")
        var ev = Evaluation(
            program: program,
            account: program.prepare(Account(id: "a", subscription: SubscriptionState(plan: "p999", status: "active"))),
            user: nil, now: now)
        let feature = program.featureID("f9999")!
        let check = BenchCommand.measure(samples: samples, batch: 16) { _ = ev.decide(.boolean(feature: feature)) }
        let snapshot = BenchCommand.measure(samples: 20, batch: 1) { _ = ev.snapshot() }
        output.line(
            "  feature check median \(BenchCommand.fmt(check.median)) ns; snapshot median "
                + "\(BenchCommand.fmt(snapshot.median / 1e3)) µs = \(BenchCommand.fmt(snapshot.median / 10_000)) ns per feature"
        )
    }

    /// Best of `runs` full compiles (read, parse, validate, compile) of the bundle in `dir`. The programs are kept
    /// until the end, so freeing one is not timed as part of the next compile.
    static func timedCompile(_ dir: String, output: CLIOutput, runs: Int) throws -> (Program, Double) {
        var best = Double.infinity
        var programs: [Program] = []
        for _ in 0..<runs {
            let t0 = BenchCommand.monotonicNanos()
            let program = try loadProgram(dir, output: output)
            best = min(best, Double(BenchCommand.monotonicNanos() - t0))
            programs.append(program)
        }
        return (programs[0], best)
    }

    /// A copy of the bundle in `dir` (without its fixtures) with `n` generated guards in front of its own: files
    /// `0-area-K.yaml` of 500 guards each (a document may hold 100,000 nodes), which sort before the bundle's own.
    static func generatedGuards(_ n: Int, from dir: String) throws -> String {
        let out = try temporaryFolder()
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: dir) where name.hasSuffix(".yaml") {
            try fm.copyItem(atPath: dir + "/" + name, toPath: out + "/" + name)
        }
        for file in stride(from: 0, to: n, by: 500) {
            var text = "guards:\n"
            for i in file..<min(n, file + 500) {
                text += """
                      - name: area_\(i)
                        applies_to: ["/api/v1/area\(i)/**", "GET /api/v2/area\(i)/{id}/items"]
                        requires: feature("psa_integration")
                        deny: feature_not_in_plan
                        allow:
                          - /api/v1/area\(i)/public
                          - /api/v1/area\(i)/docs/**
                          - GET /api/v1/area\(i)/health
                          - /api/v1/area\(i)/{id}/open
                          - route: POST /api/v1/area\(i)/hooks/*
                            when: user.email_verified

                    """
            }
            try text.write(toFile: out + "/0-area-\(1000 + file / 500).yaml", atomically: false, encoding: .utf8)
        }
        return out
    }

    /// `features` features (booleans and limits) and `plans` plans, each extending the previous and granting ten.
    static func generatedCatalogue(features: Int, plans: Int) throws -> String {
        let out = try temporaryFolder()
        var f = "features:\n"
        for i in 0..<features {
            f += i % 2 == 0 ? "  f\(i): { type: boolean }\n" : "  f\(i): { type: limit, default: 0 }\n"
        }
        var p = "plans:\n"
        for i in 0..<plans {
            p += "  p\(i):\n" + (i > 0 ? "    extends: p\(i - 1)\n" : "") + "    grants:\n"
            for k in 0..<10 {
                let feature = (i * 10 + k) % features
                p += feature % 2 == 0 ? "      f\(feature): true\n" : "      f\(feature): \(i + k)\n"
            }
        }
        try f.write(toFile: out + "/features.yaml", atomically: false, encoding: .utf8)
        try p.write(toFile: out + "/plans.yaml", atomically: false, encoding: .utf8)
        return out
    }

    static func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("entitlements-scale-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
