import Testing

@testable import Evaluator

/// The bundle's one route automaton against the straightforward matcher it replaced (kept as the reference: every
/// guard, every pattern, in order), over random bundles and random routes.
@Suite struct RouteMatcherTests {
    /// A small deterministic generator, so a failure names its seed.
    struct Random {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        mutating func pick<T>(_ xs: [T]) -> T { xs[next(xs.count)] }
    }

    static let words = ["a", "b", "api", "v1", "x-y", "users", "me"]

    static func pattern(_ r: inout Random) -> String {
        var segs: [String] = []
        for _ in 0..<r.next(4) { segs.append(r.pick(words + ["*", "{id}", "a", "b"])) }
        if r.next(3) == 0 { segs.append("**") }
        let method = r.pick(["", "", "GET ", "POST ", "DELETE "])
        return method + "/" + segs.joined(separator: "/")
    }

    static func route(_ r: inout Random) -> (String?, String) {
        var segs: [String] = []
        for _ in 0..<r.next(6) { segs.append(r.pick(words + ["zz", "a", "GET"])) }
        return (r.pick([nil, "GET", "POST", "PUT", "get"]), "/" + segs.joined(separator: "/"))
    }

    static func bundle(_ r: inout Random) -> String {
        var y = "features:\n  f: { type: boolean }\nplans:\n  p: { grants: { f: true } }\nguards:\n"
        for g in 0..<(1 + r.next(12)) {
            y += "  - name: g\(g)\n"
            if r.next(4) != 0 {
                y +=
                    "    applies_to: [" + (0...r.next(3)).map { _ in "\"\(pattern(&r))\"" }.joined(separator: ", ")
                    + "]\n"
            }
            y += "    requires: " + r.pick(["feature(\"f\")", "false", "true", "user.email_verified"]) + "\n"
            y += "    deny: feature_not_in_plan\n"
            let entries = r.next(5)
            if entries > 0 {
                y += "    allow:\n"
                for _ in 0..<entries {
                    if r.next(3) == 0 {
                        y +=
                            "      - route: \"\(pattern(&r))\"\n        when: "
                            + r.pick(["false", "true", "feature(\"f\")"]) + "\n"
                    } else {
                        y += "      - \"\(pattern(&r))\"\n"
                    }
                }
            }
        }
        return y
    }

    /// What the reference finds for a route: per guard, "applies" then each matching allowlist entry.
    static func referenceMatches(_ p: Program, method: String?, path: String) -> [RouteMatcher.Match]? {
        PathNormalizer.withNormalized(path) { bytes, segs, normalized in
            guard case .success(let count) = normalized else { return nil }
            var m = method.map { Array($0.utf8) }
            let run = { (mb: UnsafeBufferPointer<UInt8>?) -> ([RouteMatcher.Match], [RouteMatcher.Match]) in
                var found: [RouteMatcher.Match] = []
                for (gi, g) in p.policy.guards.enumerated() {
                    let hits = { (r: RoutePattern) in
                        CompiledPattern(r).matches(method: mb, path: bytes, segs, count)
                    }
                    let applies = g.appliesTo.contains(where: hits)
                    if !g.appliesTo.isEmpty && !applies { continue }
                    if applies { found.append(.init(guardIndex: Int32(gi), entry: -1)) }
                    for (k, a) in g.allow.enumerated() where hits(a.pattern) {
                        found.append(.init(guardIndex: Int32(gi), entry: Int32(k)))
                    }
                }
                let matcher = p.routeMatcher!
                let range = matcher.matches(matcher.run(method: mb, path: bytes, segs, count))
                return (found, range.map { matcher.match(at: $0) })
            }
            let (reference, automaton) = m == nil ? run(nil) : m!.withUnsafeBufferPointer { run($0) }
            m = nil
            return reference == automaton ? reference : nil
        }
    }

    @Test func automatonMatchesTheReference() throws {
        let user = User(id: "u", email: "u@example.com", emailVerifiedAt: nil, createdAt: nil)
        let now = Timestamp.parse("2026-05-10T12:00:00Z")!
        for seed in 0..<300 {
            var r = Random(state: UInt64(seed) &* 2_654_435_761 &+ 1)
            let text = Self.bundle(&r)
            let out = PolicyCompiler.compile(files: [SourceFile(path: "a.yaml", bytes: Array(text.utf8))])
            let policy = try #require(out.policy, "seed \(seed): \(out.diagnostics)\n\(text)")
            let fast = Program(policy, routeMatcher: true)
            let slow = Program(policy, routeMatcher: false)
            #expect(fast.routeMatcher != nil)
            for _ in 0..<60 {
                let (method, path) = Self.route(&r)
                // The match sets, then the whole decision with its explain trace.
                if Self.referenceMatches(fast, method: method, path: path) == nil {
                    Issue.record("seed \(seed): \(method ?? "") \(path) matches differ\n\(text)")
                }
                let account = Account(id: "a", subscription: SubscriptionState(plan: "p", status: "active"))
                for u in [user, nil] {
                    var a = Evaluation(program: fast, account: fast.prepare(account), user: u, now: now, explain: true)
                    var b = Evaluation(program: slow, account: slow.prepare(account), user: u, now: now, explain: true)
                    let x = a.decide(.route(method: method, path: path))
                    let y = b.decide(.route(method: method, path: path))
                    #expect(
                        x.allowed == y.allowed && x.reason == y.reason && x.denial == y.denial
                            && x.guardIndex == y.guardIndex,
                        "seed \(seed): \(method ?? "") \(path)\n\(text)")
                    #expect(
                        a.tracer!.steps.map { "\($0.step) \($0.rule ?? "") \($0.result)" }
                            == b.tracer!.steps.map { "\($0.step) \($0.rule ?? "") \($0.result)" })
                }
            }
        }
    }

    /// The sample bundle's guards through the automaton: a route under `/api/v1/**` meets both subscription and
    /// e-mail guards, their allowlists included.
    @Test func sampleBundle() {
        for (method, path, expected) in [
            ("GET", "/api/v1/trees", [(0, -1), (1, -1)]),
            ("GET", "/api/v1/billing/state", [(0, -1), (0, 3), (1, -1), (1, 2)]),
            ("POST", "/api/v1/billing/checkout-session", [(0, -1), (0, 2), (0, 3), (1, -1), (1, 2)]),
            ("GET", "/api/v1/integrations/halo/sync", [(0, -1), (1, -1), (2, -1)]),
            ("GET", "/healthz", []),
        ] {
            let found = Self.referenceMatches(sample, method: method, path: path)
            #expect(
                found?.map { [Int($0.guardIndex), Int($0.entry)] } == expected.map { [$0.0, $0.1] }, "\(method) \(path)"
            )
        }
    }
}
