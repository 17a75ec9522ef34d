import Testing

@testable import Evaluator

/// `subscription.locked_at` (SPEC §2.4, §9): one case per branch of the rule, on a bundle whose `canceled` status
/// stays live until the period's end and whose `churned` status is never live, read through both request decoders.
@Suite struct LockInstantTests {
    static let policy = """
        plans: { p: {} }
        subscription:
          statuses:
            active: { live: true }
            trialing: { live: "now < subscription.period_end" }
            canceled: { live: "now < subscription.period_end" }
            mirrored: { live: "subscription.period_start + 30d > now" }
            churned: { live: false }
            windowed: { live: "now < subscription.period_end and subscription.seats != null" }
        facts:
          read_only: subscription.locked_at != null and now < subscription.locked_at + 30d
        flags:
          read_only: { default: false, rules: [{ when: facts.read_only, value: true }] }
        """
    static let program: Program = {
        let out = PolicyCompiler.compile(files: [SourceFile(path: "p.yaml", text: policy)])
        return Program(out.policy!)
    }()

    /// `locked_at` and the read-only fact of a snapshot (the generic decoder), and the same fact as a flag answered
    /// by `/v1/check` on the fast decoder and on the generic one (both must read `ended_at` the same way).
    func lockedAt(_ subscription: String, now: String = "2026-05-10T12:00:00Z") -> (JSONValue?, JSONValue?) {
        let account = #"{"account":{"id":"a","subscription":\#(subscription)},"now":"\#(now)""#
        guard case .success(let request) = Engine.decodeSnapshot(Self.program, body: Array((account + "}").utf8)),
            case .inline(let inline) = request.account
        else {
            Issue.record("snapshot body refused: \(subscription)")
            return (nil, nil)
        }
        let snapshot = Engine.snapshot(
            Self.program, account: Self.program.prepare(inline), user: nil, now: request.now ?? clock)
        let body = Array((account + #","checks":[{"flag":"read_only"}]}"#).utf8)
        var flags: [JSONValue?] = []
        for fast in [true, false] {
            if case .success(let bytes) = Engine.answerInline(Self.program, body: body, now: clock, fastPath: fast) {
                if case .array(let results)? = (try? JSONParser.parse(bytes))?["results"] {
                    flags.append(results[0]["value"])
                }
            }
        }
        #expect(flags.count == 2 && flags[0] == flags[1] && flags[0] == snapshot["facts"]?["read_only"])
        return (snapshot["subscription"]?["locked_at"], snapshot["facts"]?["read_only"])
    }

    @Test func trialingLocksAtItsPeriodEnd() {
        let (at, ro) = lockedAt(
            #"{"plan":"p","status":"trialing","period_end":"2026-05-01T00:00:00Z","ended_at":"2026-04-20T00:00:00Z"}"#)
        #expect(at == .string("2026-05-01T00:00:00Z"))
        #expect(ro == .bool(true))
    }

    @Test func endedAtWinsOverTheLiveRule() {
        let (at, _) = lockedAt(
            #"{"plan":"p","status":"canceled","period_end":"2026-05-01T00:00:00Z","ended_at":"2026-04-20T00:00:00Z"}"#)
        #expect(at == .string("2026-04-20T00:00:00Z"))
    }

    @Test func endedAtOfAStatusThatIsNeverLive() {
        let (at, ro) = lockedAt(#"{"plan":"p","status":"churned","ended_at":"2026-05-09T00:00:00Z"}"#)
        #expect(at == .string("2026-05-09T00:00:00Z"))
        #expect(ro == .bool(true))
        let (late, lateRO) = lockedAt(
            #"{"plan":"p","status":"churned","ended_at":"2026-05-09T00:00:00Z"}"#, now: "2026-06-09T00:00:00Z")
        #expect(late == .string("2026-05-09T00:00:00Z"))
        #expect(lateRO == .bool(false))
    }

    @Test func theXOfANowLessThanXRule() {
        let (at, ro) = lockedAt(#"{"plan":"p","status":"canceled","period_end":"2026-05-01T00:00:00Z"}"#)
        #expect(at == .string("2026-05-01T00:00:00Z"))
        #expect(ro == .bool(true))
        // `X > now` is the same rule written the other way round.
        let (mirrored, _) = lockedAt(#"{"plan":"p","status":"mirrored","period_start":"2026-04-01T00:00:00Z"}"#)
        #expect(mirrored == .string("2026-05-01T00:00:00Z"))
    }

    @Test func nullWhenUnknowable() {
        // Never live and no ended_at; a rule that is not `now < X`; an X that is null.
        #expect(lockedAt(#"{"plan":"p","status":"churned"}"#).0 == .null)
        #expect(lockedAt(#"{"plan":"p","status":"windowed","period_end":"2026-05-01T00:00:00Z"}"#).0 == .null)
        #expect(lockedAt(#"{"plan":"p","status":"canceled"}"#).0 == .null)
        #expect(lockedAt(#"{"plan":"p","status":"unlisted"}"#).0 == .null)
    }

    @Test func alwaysNullWhileLive() {
        #expect(lockedAt(#"{"plan":"p","status":"active","ended_at":"2026-05-01T00:00:00Z"}"#).0 == .null)
        #expect(
            lockedAt(
                #"{"plan":"p","status":"canceled","period_end":"2026-06-01T00:00:00Z","ended_at":"2026-05-01T00:00:00Z"}"#
            )
            .0 == .null)
    }

    @Test func liveRulesMayReadEndedAt() {
        let out = PolicyCompiler.compile(
            files: [
                SourceFile(
                    path: "p.yaml",
                    text:
                        "plans: { p: {} }\nsubscription:\n  statuses:\n    canceled: { live: \"now < subscription.ended_at + 3d\" }\n"
                )
            ])
        #expect(out.policy != nil, "\(out.diagnostics)")
    }

    @Test func bothDecodersReadEndedAt() {
        let body = Array(
            #"{"account":{"subscription":{"plan":"p","status":"churned","ended_at":"2026-05-09T00:00:00Z"}},"checks":[{"route":"GET /x"}]}"#
                .utf8)
        let (status, j) = answer(Self.program, body)
        #expect(status == 200, "\(j)")
        let bad = Array(
            #"{"account":{"subscription":{"plan":"p","status":"churned","ended_at":"yesterday"}},"checks":[{"route":"GET /x"}]}"#
                .utf8)
        let (badStatus, badJ) = answer(Self.program, bad)
        #expect(badStatus == 400)
        #expect(badJ["path"] == .string("account.subscription.ended_at"))
    }
}
