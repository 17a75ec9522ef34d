import Foundation
import Testing

@testable import Evaluator

let policiesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Policies").path
let sample: Program = try! Program(PolicyCompiler.load(directory: policiesDir))
let clock = Timestamp.parse("2026-05-10T12:00:00Z")!

/// A body's answer as a status and JSON, the way the stateless service writes it: 200 and the response, or 400 and
/// the request-level error. An account given by id is the caller's to resolve: 0 and the id.
func answer(_ program: Program, _ bytes: [UInt8]) -> (Int, JSONValue) {
    switch Engine.answerInline(program, body: bytes, now: clock) {
    case .success(let response): return (200, (try? JSONParser.parse(response)) ?? .null)
    case .failure(.invalid(let e)):
        var m: [(String, JSONValue)] = [("error", .string(e.code)), ("detail", .string(e.detail))]
        if let path = e.path { m.append(("path", .string(path))) }
        return (400, .object(m))
    case .failure(.accountID(let id)): return (0, .string(id))
    }
}

func check(_ body: String) -> (Int, JSONValue) { answer(sample, Array(body.utf8)) }

func check(bytes: [UInt8]) -> (Int, JSONValue) { answer(sample, bytes) }

let pro = #""account":{"id":"a1","subscription":{"plan":"pro","status":"active"}}"#

@Suite struct RequestLevelErrorTests {
    @Test(arguments: [
        ("not json", "{"), ("top level array", "[]"), ("top level string", "\"x\""),
        ("unknown field", "{\(pro),\"checks\":[{\"feature\":\"sso\"}],\"bogus\":1}"),
        ("duplicate key", "{\(pro),\"checks\":[{\"feature\":\"sso\"}],\"checks\":[]}"),
        ("checks missing", "{\(pro)}"), ("checks empty", "{\(pro),\"checks\":[]}"),
        ("checks not array", "{\(pro),\"checks\":{}}"),
        ("account missing", "{\"checks\":[{\"feature\":\"sso\"}]}"),
        ("account wrong type", "{\"account\":3,\"checks\":[{\"feature\":\"sso\"}]}"),
        ("user wrong type", "{\(pro),\"user\":\"x\",\"checks\":[{\"feature\":\"sso\"}]}"),
        ("bad now", "{\(pro),\"now\":\"yesterday\",\"checks\":[{\"feature\":\"sso\"}]}"),
        ("explain wrong type", "{\(pro),\"explain\":\"yes\",\"checks\":[{\"feature\":\"sso\"}]}"),
        (
            "bad period_end",
            "{\"account\":{\"subscription\":{\"plan\":\"pro\",\"status\":\"active\",\"period_end\":\"2026-13-01T00:00:00Z\"}},\"checks\":[{\"feature\":\"sso\"}]}"
        ),
        (
            "two overrides",
            "{\"account\":{\"subscription\":{\"plan\":\"pro\",\"status\":\"active\"},\"overrides\":[{\"feature\":\"sso\",\"value\":true},{\"feature\":\"sso\",\"value\":false}]},\"checks\":[{\"feature\":\"sso\"}]}"
        ),
        (
            "override wrong type",
            "{\"account\":{\"overrides\":[{\"feature\":\"max_trees\",\"value\":true}]},\"checks\":[{\"feature\":\"sso\"}]}"
        ),
        ("lone surrogate", "{\(pro),\"checks\":[{\"feature\":\"\\ud800\"}]}"),
        ("unknown account field", "{\"account\":{\"plan\":\"pro\"},\"checks\":[{\"feature\":\"sso\"}]}"),
        (
            "seconds fraction too long",
            "{\(pro),\"now\":\"2026-05-10T12:00:00.1234567891Z\",\"checks\":[{\"feature\":\"sso\"}]}"
        ),
    ])
    func invalidRequest(_ name: String, _ body: String) {
        let (status, json) = check(body)
        #expect(status == 400, "\(name)")
        #expect(json["error"] == .string("invalid_request"), "\(name)")
        #expect(json["detail"] != nil)
    }

    @Test func paths() {
        #expect(check("{\(pro),\"checks\":[{\"feature\":\"sso\"}],\"bogus\":1}").1["path"] == .string("bogus"))
        let (_, j) = check(
            "{\"account\":{\"subscription\":{\"plan\":\"pro\",\"status\":\"active\",\"seats\":-1}},\"checks\":[{\"feature\":\"sso\"}]}"
        )
        #expect(j["path"] == .string("account.subscription.seats"))
    }

    @Test func byteLevelRejections() {
        var bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        bom += Array("{\(pro),\"checks\":[{\"feature\":\"sso\"}]}".utf8)
        #expect(check(bytes: bom).0 == 400)
        var bad = Array("{\(pro),\"checks\":[{\"feature\":\"".utf8)
        bad += [0xC3, 0x28]
        bad += Array("\"}]}".utf8)
        #expect(check(bytes: bad).0 == 400)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(check("{\(pro),\"checks\":[{\"feature\":\"sso\"}],\"x\":\(deep)}").0 == 400)
        let deepOK =
            "{\"account\":{\"attributes\":{\"a\":" + String(repeating: "[", count: 60)
            + String(repeating: "]", count: 60)
            + "}},\"checks\":[{\"feature\":\"sso\"}]}"
        #expect(check(deepOK).0 == 200)
    }

    @Test func over100Checks() {
        let checks = Array(repeating: "{\"feature\":\"sso\"}", count: 101).joined(separator: ",")
        #expect(check("{\(pro),\"checks\":[\(checks)]}").0 == 400)
        let ok = Array(repeating: "{\"feature\":\"sso\"}", count: 100).joined(separator: ",")
        #expect(check("{\(pro),\"checks\":[\(ok)]}").0 == 200)
    }

    @Test func accountIDIsLeftToTheCaller() {
        let body = Array("{\"account\":\"acc_1\",\"checks\":[{\"feature\":\"sso\"}]}".utf8)
        #expect(Engine.answerInline(sample, body: body, now: clock) == .failure(.accountID("acc_1")))
        guard case .success(let request) = Engine.decodeCheck(sample, body: body),
            case .id(let id) = request.account
        else {
            Issue.record("an account id must decode as .id")
            return
        }
        #expect(id == "acc_1")
        #expect(request.checks.count == 1)
    }

    @Test func nullOptionalFieldsAreAbsent() {
        let (status, json) = check(
            "{\(pro),\"user\":null,\"now\":null,\"explain\":null,\"checks\":[{\"feature\":\"max_trees\",\"usage\":null,\"value\":null}]}"
        )
        #expect(status == 200)
        guard case .array(let results)? = json["results"] else {
            Issue.record("no results")
            return
        }
        #expect(results[0]["allowed"] == .bool(true))
    }
}

@Suite struct CheckLevelErrorTests {
    func results(_ checks: String) -> [JSONValue] {
        let (status, json) = check("{\(pro),\"checks\":[\(checks)]}")
        #expect(status == 200)
        guard case .array(let r)? = json["results"] else { return [] }
        return r
    }

    @Test(arguments: [
        "1e2", "2.0", "18446744073709551616", "-1", "1e400", String(repeating: "9", count: 1000), "\"3\"", "true",
    ])
    func nonIntegerUsage(_ n: String) {
        let r = results("{\"feature\":\"max_trees\",\"usage\":\(n)},{\"feature\":\"sso\"}")
        #expect(r[0]["error"] == .string("invalid_request"))
        #expect(r[0]["path"] == .string("checks[0].usage"))
        #expect(r[1]["error"] == .string("feature_not_in_plan"))
    }

    @Test func errorResultsCarryExactlyTheFiveKeys() {
        let r = results("{\"feature\":\"nope\",\"bogus\":1},{\"feature\":\"nope\"},3")
        for x in r {
            guard case .object(let m) = x else { continue }
            #expect(m.map(\.0) == ["allowed", "error", "status", "detail", "path"])
        }
        #expect(r[0]["error"] == .string("invalid_request"))
        #expect(r[1]["error"] == .string("unknown_feature"))
        #expect(r[2]["path"] == .string("checks[2]"))
    }

    /// A flag asked for as a feature (and the other way round) says what it is and how to ask, instead of "did you
    /// mean" the very same name.
    @Test func aFlagAskedForAsAFeatureSaysHowToAskForIt() {
        let r = results("{\"feature\":\"self_serve_enabled\"},{\"flag\":\"sso\"},{\"feature\":\"ssp\"}")
        #expect(r[0]["error"] == .string("unknown_feature"))
        #expect(
            r[0]["detail"]
                == .string("'self_serve_enabled' is a flag, not a feature: ask {\"flag\": \"self_serve_enabled\"}"))
        #expect(r[0]["path"] == .string("checks[0].feature"))
        #expect(r[1]["detail"] == .string("'sso' is a feature, not a flag: ask {\"feature\": \"sso\"}"))
        #expect(r[2]["detail"] == .string("unknown feature 'ssp' (did you mean 'sso'?)"))
    }
}

@Suite struct DeterminismTests {
    @Test func sameInputSameBytes() {
        let body =
            "{\(pro),\"now\":\"2026-05-10T12:00:00Z\",\"explain\":true,\"checks\":[{\"feature\":\"sso\"},{\"route\":\"GET /api/v1/trees\"},{\"flag\":\"self_serve_enabled\"}]}"
        let a = JSONWriter.serialize(check(body).1)
        let b = JSONWriter.serialize(
            answer(try! Program(PolicyCompiler.load(directory: policiesDir)), Array(body.utf8)).1)
        #expect(a == b)
    }

    @Test func timestampsRenderInUTC() {
        let (_, j) = check("{\(pro),\"now\":\"2026-05-10T14:00:00.120+02:00\",\"checks\":[{\"feature\":\"sso\"}]}")
        #expect(j["now"] == .string("2026-05-10T12:00:00.12Z"))
    }
}

@Suite struct ExplainTests {
    @Test func traceNamesRulesAndLocations() throws {
        let body =
            "{\"account\":{\"subscription\":{\"plan\":\"starter\",\"status\":\"canceled\"}},\"explain\":true,\"checks\":[{\"feature\":\"psa_integration\"},{\"route\":\"GET /api/v1/billing/state\"},{\"route\":\"GET /api/v1/trees\"},{\"flag\":\"self_serve_enabled\"}]}"
        let (_, j) = check(body)
        guard case .array(let results)? = j["results"] else { throw CancellationError() }
        for r in results {
            guard case .array(let steps)? = r["trace"] else {
                Issue.record("no trace in \(JSONWriter.string(r))")
                continue
            }
            #expect(!steps.isEmpty)
        }
        let routeTrace = JSONWriter.string(results[1]["trace"]!)
        #expect(routeTrace.contains("guards.active_subscription.allow"))
        #expect(routeTrace.contains("guards.yaml:"))
        let denyTrace = JSONWriter.string(results[2]["trace"]!)
        #expect(denyTrace.contains("\"rule\":\"guards.active_subscription.requires\""))
        #expect(denyTrace.contains("\"at\":\"guards.yaml:6:15\""))
        let featureTrace = JSONWriter.string(results[0]["trace"]!)
        #expect(featureTrace.contains("subscription.statuses.canceled.live"))
        #expect(featureTrace.contains("\"at\":\"subscription.yaml:"))
    }

    @Test func noTraceWithoutExplain() {
        let (_, j) = check("{\(pro),\"checks\":[{\"feature\":\"sso\"}]}")
        #expect(!JSONWriter.string(j).contains("trace"))
    }
}

@Suite struct SemanticsTests {
    func ev(
        _ policyYAML: String, account: Account = Account(subscription: SubscriptionState(plan: "p", status: "active")),
        user: User? = nil
    ) throws -> Evaluation {
        let out = PolicyCompiler.compile(files: [SourceFile(path: "p.yaml", text: policyYAML)])
        let policy = try #require(out.policy, "\(out.diagnostics)")
        let program = Program(policy)
        return Evaluation(program: program, account: program.prepare(account), user: user, now: clock)
    }

    func fact(
        _ expr: String, account: Account = Account(subscription: SubscriptionState(plan: "p", status: "active")),
        user: User? = nil
    ) throws -> Bool {
        var e = try ev(
            "plans: { p: {} }\nfacts:\n  f: '\(expr.replacingOccurrences(of: "'", with: "''"))'\n", account: account,
            user: user)
        return e.facts()[0].1
    }

    /// A denial body reading `request.*` on a route check gets the normalized path and the method as written (the
    /// path is normalized only when the body reads it); in a body rendered for a feature check both are null.
    @Test func denialBodyReadsTheRequest() throws {
        var e = try ev(
            #"""
            features: { f: { type: boolean } }
            plans: { p: {} }
            denials:
              blocked: { status: 403, body: { path: "${request.path}", method: "${request.method}", feature: "${check.feature}" } }
            guards:
              - name: g
                applies_to: ["/api/**"]
                requires: feature("f")
                deny: blocked
            """#)
        let route = e.result(for: .route(method: "get", path: "/api/./x/%7euser/../y//z"))
        #expect(
            route["body"] == .object([("path", .string("/api/x/y/z")), ("method", .string("get")), ("feature", .null)]))
        let again = e.result(for: .route(method: nil, path: "/api/q"))
        #expect(again["body"] == .object([("path", .string("/api/q")), ("method", .null), ("feature", .null)]))
    }

    @Test func lowerHasNoFinalSigmaRule() throws {
        let u = User(email: "ΣΑΣ")
        #expect(try fact(#"lower(user.email) == "σασ""#, user: u))
        #expect(try fact(#"lower(user.email) == "i̇""#, user: User(email: "İ")))
    }

    @Test func stringsCompareByScalars() throws {
        #expect(try !fact(#"user.email == "e\u0301""#, user: User(email: "é")))
        #expect(try fact(#"user.email == "é""#, user: User(email: "é")))
        #expect(try !fact(#"starts_with(user.email, "e")"#, user: User(email: "é")))
    }

    /// Comparisons of two instants are decided without the interpreter (`Evaluation.holds`); each answer equals the
    /// interpreter's, reached by nesting the left side two durations deep (`x + 0d + 0d` is not a direct instant).
    @Test func instantComparisonsMatchTheInterpreter() throws {
        let t = { (s: String) in Timestamp.parse(s)! }
        let accounts = [
            Account(subscription: SubscriptionState(plan: "p", status: "active")),
            Account(
                subscription: SubscriptionState(
                    plan: "p", status: "trialing", periodStart: t("2026-05-01T00:00:00Z"),
                    periodEnd: clock, pastDueSince: t("2026-05-09T12:00:00.5Z"))),
            Account(),
        ]
        let users: [User?] = [nil, User(createdAt: t("2026-05-03T12:00:00Z")), User(emailVerifiedAt: clock)]
        let pairs = [
            ("now", "subscription.period_end"), ("subscription.period_start + 9d", "now"),
            ("now", "user.created_at + 7d"), ("user.email_verified_at", "now - 1d"),
            ("subscription.past_due_since + 12h", "now"), ("now", "subscription.locked_at"),
            ("now", "user.created_at + 9999999999999w"), ("now", "account.attributes.renews_at"),
        ]
        for account in accounts {
            for user in users {
                for (l, r) in pairs {
                    for op in ["<", "<=", ">", ">="] {
                        let direct = try fact("\(l) \(op) \(r)", account: account, user: user)
                        let interpreted = try fact("\(l) + 0d + 0d \(op) \(r)", account: account, user: user)
                        #expect(direct == interpreted, "\(l) \(op) \(r)")
                    }
                }
            }
        }
    }

    @Test func nullSemantics() throws {
        #expect(try fact("user.email == null"))
        #expect(try !fact("user.email != null"))
        #expect(try !fact("now < user.created_at + 7d"))
        #expect(try !fact("user.created_at + 7d >= now"))
        #expect(try !fact("user.email in [\"a\"]"))
        #expect(try !fact("user.email not in [\"a\"]"))
        #expect(try !fact("starts_with(user.email, \"a\")"))
        #expect(try fact("lower(user.email) == null"))
        #expect(try fact("not user.authenticated and not user.email_verified"))
    }

    @Test func dynamicMismatchIsFalseAndNotEqualTrue() throws {
        let a = Account(
            subscription: SubscriptionState(plan: "p", status: "active"),
            attributes: ["n": .string("3"), "obj": .object([])])
        #expect(try !fact("account.attributes.n == 3", account: a))
        #expect(try fact("account.attributes.n != 3", account: a))
        #expect(try !fact("account.attributes.n > 2", account: a))
        #expect(try !fact("account.attributes.n in [\"3\", \"4\"] and account.attributes.obj == null", account: a))
        #expect(try fact("account.attributes.n in [\"3\", \"4\"]", account: a))
        #expect(try fact("account.attributes.missing == null", account: a))
    }

    @Test func integerOverflowGivesNull() throws {
        let a = Account(subscription: SubscriptionState(plan: "p", status: "active", seats: 9_223_372_036_854_775_807))
        #expect(try fact("subscription.seats + 1 == null", account: a))
        #expect(try !fact("subscription.seats + 1 > 0", account: a))
    }

    @Test func rolloutOfNullIsNull() throws {
        #expect(try fact("rollout(\"s\", user.id) == null"))
        #expect(try fact("rollout(\"s\", account.id) == null"))
    }

    @Test func lockedGrantsApplyWithOverrides() throws {
        let yaml = """
            features: { a: { type: boolean }, n: { type: limit } }
            plans: { free: { grants: { n: 3 } }, pro: { extends: free, grants: { a: true, n: 10 } } }
            subscription: { locked_grants: free }
            """
        var ev = try ev(
            yaml,
            account: Account(
                subscription: SubscriptionState(plan: "pro", status: "canceled"),
                overrides: [Override(feature: 0, value: .bool(true))]))
        let d = ev.decide(.limit(feature: 1, usage: 2, amount: 1))
        #expect(d.allowed && d.limit == 3 && d.reason == .plan)
        let a = ev.decide(.boolean(feature: 0))
        #expect(a.allowed && a.reason == .override)
        let snap = JSONWriter.string(ev.snapshot())
        #expect(snap.contains(#""n":{"value":3,"source":"plan:free"}"#))
    }

    @Test func bundleWithoutSubscriptionSection() throws {
        let yaml = "features: { a: { type: boolean } }\nplans: { p: { grants: { a: true } } }\n"
        for (status, live) in [("active", true), ("past_due", true), ("canceled", false), ("complimentary", false)] {
            var e = try ev(yaml, account: Account(subscription: SubscriptionState(plan: "p", status: status)))
            #expect(e.decide(.boolean(feature: 0)).allowed == live, "\(status)")
        }
    }

    @Test func anonymousFlagRulesThroughFactsNeverMatch() throws {
        let yaml = """
            plans: { p: {} }
            facts: { anyone: "user.id == null" }
            flags: { f: { default: false, rules: [ { when: facts.anyone, value: true } ] } }
            """
        var e = try ev(yaml)
        #expect(e.decide(.flag(0)).flagValue == .bool(false))
    }

    @Test func routeMethodsAreCaseSensitiveAndPatternsMatchSegments() throws {
        let yaml = """
            plans: { p: {} }
            guards:
              - { name: g, applies_to: ["GET /a/*/c", "/b/{id}", "/r/**"], requires: "false", deny: unauthenticated }
            """
        var e = try ev(yaml, user: User(id: "u"))
        let cases: [(String?, String, Bool)] = [
            ("GET", "/a/x/c", false), ("get", "/a/x/c", true), ("POST", "/a/x/c", true), ("GET", "/a/x/y/c", true),
            (nil, "/b/1", false), (nil, "/b", true), (nil, "/b/1/2", true), (nil, "/r", false), (nil, "/r/a/b", false),
            (nil, "/rr", true), (nil, "/a/%78/c", true), ("GET", "/a/%78/c", false),
        ]
        for (m, p, allowed) in cases {
            #expect(e.decide(.route(method: m, path: p)).allowed == allowed, "\(m ?? "-") \(p)")
        }
    }
}

/// The byte-level fast path and the generic path give the same bytes for every body.
@Suite struct FastPathParityTests {
    static let bodies: [String] = [
        "{\(pro),\"checks\":[{\"feature\":\"psa_integration\"}]}",
        "{\"checks\":[{\"feature\":\"max_trees\",\"usage\":3,\"amount\":2},{\"route\":\"GET /api/v1/trees\"},{\"flag\":\"self_serve_enabled\"}],\(pro)}",
        "{\"account\":{\"id\":\"acc_27\",\"subscription\":{\"plan\":\"team\",\"status\":\"trialing\",\"period_start\":\"2026-05-01T00:00:00Z\",\"period_end\":\"2026-05-12T00:00:00.5+02:00\",\"past_due_since\":null,\"seats\":3},\"overrides\":[{\"feature\":\"sso\",\"value\":true,\"expires_at\":\"2026-06-01T00:00:00Z\"}],\"attributes\":{\"region\":\"eu\",\"n\":[1,{\"x\":null}]}},\"user\":{\"id\":\"u\",\"email\":\"OPS@example.com\",\"email_verified_at\":null,\"created_at\":\"2026-05-09T00:00:00Z\",\"attributes\":{}},\"now\":\"2026-05-10T12:00:00Z\",\"explain\":true,\"checks\":[{\"feature\":\"sso\"},{\"route\":\"GET /api/v1/billing/%2e%2e/trees\"},{\"flag\":\"editor_version\"},{\"feature\":\"export_formats\",\"value\":\"pdf\"}]}",
        "{\(pro),\"checks\":[{\"feature\":\"nope\"},{\"feature\":\"export_formats\"},{\"feature\":\"sso\",\"usage\":1},{\"route\":\"\"},{\"route\":null,\"flag\":\"nope\"}]}",
        "{\(pro),\"checks\":[{\"feature\":\"max_trees\",\"usage\":-1},{\"feature\":\"max_trees\",\"usage\":1.0},{\"bogus\":1},{}]}",
        "{\(pro),\"checks\":[{\"feature\":\"sso\"}],\"checks\":[{\"feature\":\"sso\"}]}",
        "{\"account\":\"acc_1\",\"checks\":[{\"feature\":\"sso\"}]}",
        "{\"account\":{\"overrides\":[{\"feature\":\"sso\",\"value\":true},{\"feature\":\"sso\",\"value\":true}]},\"checks\":[{\"feature\":\"sso\"}]}",
        "{\(pro),\"user\":null,\"now\":null,\"explain\":false,\"checks\":[{\"feature\":\"sso\",\"usage\":null}]} ",
        "{\(pro),\"checks\":[{\"feature\":\"s\\u0073o\"}]}",
        "[]", "{}", "", "{\(pro),\"checks\":[]}",
    ]

    @Test(arguments: bodies)
    func sameBytes(_ body: String) {
        let fast = Engine.answerInline(sample, body: Array(body.utf8), now: clock)
        let slow = Engine.answerInline(sample, body: Array(body.utf8), now: clock, fastPath: false)
        #expect(fast == slow)
        if case .success(let a) = fast, case .success(let b) = slow {
            #expect(String(decoding: a, as: UTF8.self) == String(decoding: b, as: UTF8.self))
        }
    }
}

@Suite struct JSONTests {
    /// Duplicate keys are found wherever they are, in small objects (a scan) and large ones (a hash set), and reported
    /// at the second occurrence.
    @Test(arguments: [2, 8, 9, 10, 100, 5000])
    func duplicateKeysInObjectsOfAnySize(_ n: Int) throws {
        let members = (0..<n).map { "\"k\($0)\":\($0)" }
        let unique = "{" + members.joined(separator: ",") + "}"
        guard case .object(let parsed) = try JSONParser.parse(Array(unique.utf8)) else {
            Issue.record("not an object")
            return
        }
        #expect(parsed.count == n)
        let dup = "{" + members.joined(separator: ",") + ",\"k\(n / 2)\":0}"
        let at = dup.utf8.count - "\"k\(n / 2)\":0}".utf8.count
        let failure = #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(dup.utf8)) }
        #expect(failure?.message == "duplicate key \"k\(n / 2)\"")
        #expect(failure?.offset == at)
    }

    /// Member names compare by Unicode scalars (SPEC §2.1): `"é"` and `"e\u0301"` are two names, in small objects
    /// (the scan) and large ones (the hash set).
    @Test(arguments: [1, 100])
    func membersThatDifferOnlyInNormalizationAreNotDuplicates(_ filler: Int) throws {
        let members = (0..<filler).map { "\"f\($0)\":0" } + [#""\#u{e9}":1"#, #""e\u0301":2"#]
        guard case .object(let parsed) = try JSONParser.parse(Array(("{" + members.joined(separator: ",") + "}").utf8))
        else {
            Issue.record("not an object")
            return
        }
        #expect(parsed.count == filler + 2)
        #expect(JSONValue.object(parsed)["e\u{301}"] == .int(2))
        #expect(JSONValue.object(parsed)["\u{e9}"] == .int(1))
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f} é 😀 </script>"
        let bytes = JSONWriter.serialize(.string(s))
        #expect(String(decoding: bytes, as: UTF8.self) == #""a\"b\\c\n\r\t\b\f\u0001\u001f é 😀 </script>""#)
        #expect(try JSONParser.parse(bytes) == .string(s))
    }

    @Test func parserIntegersAndNumbers() throws {
        #expect(try JSONParser.parse("-9223372036854775808") == .int(.min))
        #expect(try JSONParser.parse("9223372036854775808") == .number("9223372036854775808"))
        #expect(try JSONParser.parse("1e2") == .number("1e2"))
        #expect(try JSONParser.parse("-0") == .int(0))
        for bad in ["01", "1.", ".5", "+1", "1e", "--1", "NaN", "[1,]", "{\"a\":1,}", "\"\\x\"", "\"\t\""] {
            #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(bad) }
        }
    }

    @Test func timestampWriterMatchesRFC3339() {
        for t in [
            "2026-05-10T12:00:00Z", "1969-12-31T23:59:59.9Z", "2026-05-10T12:00:00.000000001Z", "0001-01-01T00:00:00Z",
        ] {
            var w = JSONWriter()
            w.timestamp(Timestamp.parse(t)!)
            #expect(String(decoding: w.bytes, as: UTF8.self) == "\"\(t)\"")
        }
    }
}

/// A name looked up as a `String` is found whatever its storage — inline (up to 15 bytes), from bytes, from a
/// substring, long — and only when spelled exactly: the same answer as the byte lookup.
@Suite struct NameIndexTests {
    @Test func stringLookupsMatchByteLookups() {
        let names = ["pro", "enterprise", "a_plan_name_longer_than_fifteen", "é", "e\u{301}", ""]
        let index = NameIndex(names.enumerated().map { (name: $1, id: $0) })
        var queries: [String] = []
        for n in names + ["pr", "pro ", "Pro", "a_plan_name_longer_than_fifteeN", "nope"] {
            queries.append(n)
            queries.append(String(decoding: Array(n.utf8), as: UTF8.self))
            queries.append(String(Substring("x" + n).dropFirst()))
            queries.append(String(n.utf8.map { Character(UnicodeScalar($0)) }).isEmpty ? n : n + "")
        }
        for q in queries {
            var copy = q
            let byBytes = copy.withUTF8 { index.lookup($0) }
            #expect(index.lookup(q) == byBytes, "\(q)")
            #expect(byBytes == names.firstIndex { Array($0.utf8) == Array(q.utf8) }, "\(q)")
        }
    }
}

/// The fast decoder's static key tables spell the request keys exactly.
@Suite struct KeyTableTests {
    @Test func tablesMatchRequestKeys() {
        #expect(KeyTable.request.strings == RequestKeys.request)
        #expect(KeyTable.account.strings == RequestKeys.account)
        #expect(KeyTable.subscription.strings == RequestKeys.subscription)
        #expect(KeyTable.override.strings == RequestKeys.override)
        #expect(KeyTable.user.strings == RequestKeys.user)
        #expect(KeyTable.check.strings == RequestKeys.check)
    }

    /// Each table's word constants find exactly its own names: every request key, each shortened, lengthened or
    /// with one byte changed, is found in a table only where that table lists it.
    @Test func wordConstantsMatchTheirNamesOnly() {
        let tables: [KeyTable] = [.request, .account, .subscription, .override, .user, .check]
        var candidates = Set(tables.flatMap(\.strings))
        for name in Array(candidates) {
            candidates.insert(String(name.dropLast()))
            candidates.insert(name + "s")
            candidates.insert(name.uppercased())
            for k in name.indices {
                var changed = name
                changed.replaceSubrange(k...k, with: "x")
                candidates.insert(changed)
            }
        }
        for table in tables {
            for candidate in candidates {
                let bytes = Array(candidate.utf8)
                #expect(
                    table.index(bytes.count, bytes.withUnsafeBufferPointer { KeyTable.words(of: $0) })
                        == table.strings.firstIndex(of: candidate),
                    "\(table) \(candidate)")
            }
        }
    }
}

@Suite struct CheckBytesTests {
    @Test func statusAndBody() {
        let ok = Engine.checkBytes(sample, body: Array(#"{\#(pro),"checks":[{"feature":"sso"}]}"#.utf8), now: clock)
        #expect(ok.status == 200)
        let bad = Engine.checkBytes(sample, body: Array("{".utf8), now: clock)
        #expect(bad.status == 400 && String(decoding: bad.body, as: UTF8.self).contains("invalid_request"))
        let byID = Engine.checkBytes(
            sample, body: Array(#"{"account":"acc_1","checks":[{"feature":"sso"}]}"#.utf8), now: clock)
        #expect(byID.status == 400)
    }
}
