import Evaluator
import Rules
import Testing

/// The timeline of a Pro trial account with an unverified user, on the sample bundle: every boundary the policy
/// implies, at its exact instant, and what changes there — each checked against a decision at that instant.
@Suite struct TimelineTests {
    static let account = Account(
        id: "acc_trial",
        subscription: SubscriptionState(
            plan: "pro", status: "trialing", periodStart: Timestamp.parse("2026-05-07T12:00:00Z"),
            periodEnd: Timestamp.parse("2026-05-21T12:00:00Z")),
        overrides: [
            Override(
                feature: sample.featureID("max_trees")!, value: .limit(100),
                expiresAt: Timestamp.parse("2026-05-16T00:00:00Z"))
        ])
    static let user = User(id: "u1", email: "new@example.com", createdAt: Timestamp.parse("2026-05-07T12:00:00Z"))

    func boundaries(_ v: JSONValue) -> [(at: String, causes: [String], changes: [String: (JSONValue, JSONValue)])] {
        guard case .object(let m) = v, case .array(let bs)? = m.first(where: { $0.0 == "boundaries" })?.1 else {
            return []
        }
        return bs.compactMap { b in
            guard case .object(let bm) = b, case .string(let at)? = bm.first(where: { $0.0 == "at" })?.1,
                case .array(let cs)? = bm.first(where: { $0.0 == "causes" })?.1,
                case .array(let ch)? = bm.first(where: { $0.0 == "changes" })?.1
            else { return nil }
            var changes: [String: (JSONValue, JSONValue)] = [:]
            for c in ch {
                guard case .object(let cm) = c, case .string(let what)? = cm.first(where: { $0.0 == "what" })?.1 else {
                    continue
                }
                changes[what] = (cm.first { $0.0 == "before" }!.1, cm.first { $0.0 == "after" }!.1)
            }
            return (at, cs.compactMap { if case .string(let s) = $0 { s } else { nil } }, changes)
        }
    }

    /// The instant a stored account (no user) next changes, boundary after boundary: what the webhook scheduler
    /// keeps per account. The e-mail grace of the user is not one (notifications have no user).
    @Test func nextChangeWalksTheBoundaries() {
        let account = sample.prepare(Self.account)
        var at = Timestamp.parse("2026-05-06T00:00:00Z")!
        var seen: [String] = []
        while let next = Timeline.nextChange(
            sample, account: account, after: at, horizon: Timestamp.parse("2027-01-01T00:00:00Z")!)
        {
            #expect(at < next)
            seen.append(next.rfc3339)
            at = next
        }
        #expect(
            seen == [
                "2026-05-16T00:00:00Z", "2026-05-18T12:00:00Z", "2026-05-20T12:00:00Z", "2026-05-21T12:00:00Z",
                "2026-06-20T12:00:00Z",
            ], "\(seen)")
        // Each is a real change of the state, and nothing changes between them.
        #expect(
            !Timeline.same(
                Timeline.state(sample, account: account, user: nil, at: Timestamp.parse("2026-05-21T11:59:59Z")!),
                Timeline.state(sample, account: account, user: nil, at: Timestamp.parse("2026-05-21T12:00:00Z")!)))
        #expect(
            Timeline.same(
                Timeline.state(sample, account: account, user: nil, at: Timestamp.parse("2026-05-21T12:00:00Z")!),
                Timeline.state(sample, account: account, user: nil, at: Timestamp.parse("2026-06-20T11:59:59Z")!)))
    }

    /// A boundary notifies when the account's own state (without the user) changes there: the e-mail grace
    /// changes routes only, so it does not.
    @Test func boundariesSayWhetherTheyNotify() {
        let result = Timeline.compute(
            sample, account: sample.prepare(Self.account), user: Self.user,
            from: Timestamp.parse("2026-05-06T00:00:00Z")!, to: Timestamp.parse("2026-07-01T00:00:00Z")!,
            routes: [Timeline.Route(method: "GET", path: "/api/v1/trees", label: "GET /api/v1/trees")])
        guard case .object(let m) = result, case .array(let bs)? = m.first(where: { $0.0 == "boundaries" })?.1 else {
            Issue.record("no boundaries")
            return
        }
        var marks: [String] = []
        for b in bs {
            guard case .object(let bm) = b, case .string(let at)? = bm.first(where: { $0.0 == "at" })?.1,
                case .bool(let n)? = bm.first(where: { $0.0 == "notifies" })?.1
            else { continue }
            marks.append("\(at) \(n)")
        }
        #expect(
            marks == [
                "2026-05-14T12:00:00Z false", "2026-05-16T00:00:00Z true", "2026-05-18T12:00:00Z true",
                "2026-05-20T12:00:00Z true", "2026-05-21T12:00:00Z true", "2026-06-20T12:00:00Z true",
            ], "\(marks)")
    }

    @Test func trialLifecycle() {
        let routes = ["GET /api/v1/trees", "GET /api/v1/sessions/s1/steps", "GET /api/v1/billing/state"].map {
            let (m, p) = Evaluation.splitRoute($0)!
            return Timeline.Route(method: m, path: String(p), label: $0)
        }
        let result = Timeline.compute(
            sample, account: sample.prepare(Self.account), user: Self.user,
            from: Timestamp.parse("2026-05-06T00:00:00Z")!, to: Timestamp.parse("2026-07-01T00:00:00Z")!,
            routes: routes)
        let bs = boundaries(result)
        #expect(
            bs.map(\.at) == [
                "2026-05-14T12:00:00Z",  // the e-mail grace ends (7 days after created_at)
                "2026-05-16T00:00:00Z",  // the max_trees override expires
                "2026-05-18T12:00:00Z",  // trial warning stage (3 days left)
                "2026-05-20T12:00:00Z",  // trial urgent stage (1 day left)
                "2026-05-21T12:00:00Z",  // the trial ends: locked
                "2026-06-20T12:00:00Z",  // the 30-day read-only window after the lock ends
            ], "\(bs.map(\.at))")
        let byAt = Dictionary(uniqueKeysWithValues: bs.map { ($0.at, $0) })
        #expect(
            byAt["2026-05-14T12:00:00Z"]?.changes["routes.GET /api/v1/trees"]?.1
                == .string("denied: email_not_verified by verified_email"))
        #expect(byAt["2026-05-14T12:00:00Z"]?.changes["routes.GET /api/v1/billing/state"] == nil)  // allowlisted
        #expect(
            byAt["2026-05-16T00:00:00Z"]?.changes["features.max_trees.value"].map { [$0.0, $0.1] } == [
                .int(100), .int(25),
            ])
        #expect(byAt["2026-05-18T12:00:00Z"]?.changes["subscription.stage"]?.1 == .string("warning"))
        #expect(byAt["2026-05-21T12:00:00Z"]?.changes["subscription.live"]?.1 == .bool(false))
        #expect(byAt["2026-05-21T12:00:00Z"]?.changes["features.psa_integration.value"]?.1 == .bool(false))
        #expect(byAt["2026-06-20T12:00:00Z"]?.changes["facts.in_read_only_window"]?.1 == .bool(false))
        #expect(byAt["2026-06-20T12:00:00Z"]?.causes.contains { $0.hasPrefix("facts.in_read_only_window") } == true)
        // Each boundary agrees with a decision at that instant and differs from one a nanosecond before.
        for b in bs {
            let at = Timestamp.parse(b.at)!
            var ev = Evaluation(program: sample, account: sample.prepare(Self.account), user: Self.user, now: at)
            var before = Evaluation(
                program: sample, account: sample.prepare(Self.account), user: Self.user,
                now: Timestamp(seconds: at.seconds - 1, nanos: 999_999_999))
            for r in routes where b.changes["routes.\(r.label)"] != nil {
                let d = ev.decide(.route(method: r.method, path: r.path))
                let e = before.decide(.route(method: r.method, path: r.path))
                #expect(
                    d.allowed != e.allowed || d.denial != e.denial || d.guardIndex != e.guardIndex, "\(b.at) \(r.label)"
                )
            }
        }
    }

    @Test func nothingChangesForAStableAccount() {
        let a = Account(id: "a", subscription: SubscriptionState(plan: "enterprise", status: "active"))
        let result = Timeline.compute(
            sample, account: sample.prepare(a), user: nil, from: Timestamp.parse("2026-01-01T00:00:00Z")!,
            to: Timestamp.parse("2026-03-01T00:00:00Z")!, routes: [])
        #expect(boundaries(result).isEmpty)
    }

    @Test func defaultSpanCoversThePeriodAndAfter() {
        let span = Timeline.defaultSpan(account: Self.account, user: Self.user, now: Timestamp(seconds: 0))
        #expect(span.from.rfc3339 == "2026-05-06T12:00:00Z")
        #expect(span.to.rfc3339 == "2026-07-05T12:00:00Z")
    }
}
