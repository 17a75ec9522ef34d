import Rules
import Testing

@Suite struct ExpressionTests {
    var env: ExprEnvironment {
        var e = ExprEnvironment()
        e.features = ["sso": (0, .boolean), "seats": (1, .limit), "formats": (2, .set)]
        e.facts = ["is_paid": 0]
        e.lists = ["testers": 0]
        return e
    }

    func compile(_ text: String, _ ctx: ExprContext = .guardRule) -> Result<(Expr, ExprReads), ExprProblem> {
        ExpressionCompiler.compile(text, in: ctx, env: env)
    }

    func problem(_ text: String, _ ctx: ExprContext = .guardRule) -> ExprProblem? {
        if case .failure(let p) = compile(text, ctx) { return p }
        return nil
    }

    func shape(_ e: Expr) -> String {
        switch e.kind {
        case .literal(let l):
            switch l {
            case .int(let i): return "\(i)"
            case .bool(let b): return "\(b)"
            case .null: return "null"
            case .string(let s): return "\"\(s)\""
            case .duration(let d): return d.description
            case .list(let l): return "[\(l.joined(separator: ","))]"
            }
        case .name(let n): return n.description
        case .not(let x): return "(not \(shape(x)))"
        case .binary(let op, let a, let b): return "(\(shape(a)) \(op.rawValue) \(shape(b)))"
        case .featureCall(let f, let i): return "\(f.rawValue)#\(i)"
        case .call(let f, let args): return "\(f.rawValue)(\(args.map(shape).joined(separator: ",")))"
        }
    }

    func parsed(_ text: String) -> String? {
        if case .success(let (e, _)) = compile(text) { return shape(e) }
        return nil
    }

    @Test func precedence() {
        #expect(parsed("true or false and not true") == "(true or (false and (not true)))")
        #expect(parsed("not subscription.seats > 3") == "(not (subscription.seats > 3))")
        #expect(parsed("(true or false) and true") == "((true or false) and true)")
        #expect(parsed("subscription.seats - 1 - 2 == 0") == "(((subscription.seats - 1) - 2) == 0)")
        #expect(parsed("subscription.plan not in [\"a\", \"b\"]") == "(subscription.plan not in [a,b])")
    }

    @Test func negativeLiteralVersusSubtraction() {
        #expect(parsed("subscription.seats == -1") == "(subscription.seats == -1)")
        #expect(parsed("subscription.seats - 1 > 0") == "((subscription.seats - 1) > 0)")
        #expect(parsed("subscription.seats -1 > 0") == "((subscription.seats - 1) > 0)")
        #expect(problem("- 1 == subscription.seats")?.code.rawValue == "expr_syntax")
    }

    @Test func durationsAndTimestamps() {
        #expect(parsed("now < user.created_at + 7d") == "(now < (user.created_at + 7d))")
        #expect(problem("now < user.created_at + 7x")?.code.rawValue == "expr_syntax")
        #expect(problem("7d + 1")?.code.rawValue == "type_mismatch")
    }

    @Test func stringEscapes() {
        #expect(parsed(#"user.email == "a\"b\u00e9\ud83d\ude00""#) == "(user.email == \"a\"bé😀\")")
        #expect(problem(#"user.email == "\ud800""#)?.code.rawValue == "expr_syntax")
        #expect(problem(#"user.email == 'x'"#)?.code.rawValue == "expr_syntax")
    }

    @Test func typeErrorsNameOperatorAndTypes() {
        let p = problem("subscription.plan < \"x\"")
        #expect(p?.code.rawValue == "type_mismatch")
        #expect(p?.message.contains("'<'") == true)
        #expect(p?.offset == 18)
        #expect(problem("subscription.seats == \"3\"")?.message == "operator '==' cannot take int and string")
        #expect(problem("1 in [\"a\"]")?.code.rawValue == "type_mismatch")
        #expect(problem("[1, 2] == null")?.code.rawValue == "type_mismatch")
    }

    @Test func dynamicAttributesCompareWithAnything() {
        #expect(parsed("account.attributes.region == \"eu\"") != nil)
        #expect(parsed("account.attributes.size > 3") != nil)
        #expect(parsed("user.attributes.role in [\"admin\"]") != nil)
    }

    @Test func nullIsComparable() {
        #expect(parsed("subscription.locked_at != null") != nil)
        #expect(parsed("null == null") != nil)
    }

    @Test func chainedComparisonIsASyntaxError() {
        #expect(problem("1 < 2 < 3")?.code.rawValue == "expr_syntax")
        #expect(problem("1 == 2 == true")?.code.rawValue == "expr_syntax")
    }

    @Test func functions() {
        #expect(parsed("feature(\"sso\")") == "feature#0")
        #expect(parsed("limit(\"seats\") > 3") == "(limit#1 > 3)")
        #expect(problem("feature(\"seats\")")?.code.rawValue == "type_mismatch")
        #expect(problem("limit(\"formats\")")?.code.rawValue == "type_mismatch")
        #expect(problem("feature(\"nope\")")?.code.rawValue == "unknown_feature")
        #expect(problem("lower(1) == \"a\"")?.code.rawValue == "type_mismatch")
        #expect(problem("lowr(user.email) == \"a\"")?.message.contains("did you mean 'lower'") == true)
        #expect(parsed("rollout(\"s\", account.id) < 10") == "(rollout(\"s\",account.id) < 10)")
        #expect(problem("starts_with(user.email)")?.code.rawValue == "invalid_argument")
    }

    @Test func contexts() {
        #expect(problem("subscription.live", .live)?.code.rawValue == "name_not_allowed")
        #expect(problem("facts.is_paid", .live)?.code.rawValue == "name_not_allowed")
        #expect(problem("user.email == \"a\"", .live)?.code.rawValue == "name_not_allowed")
        #expect(parsed("now < subscription.period_end") != nil)
        #expect(problem("check.usage > 1", .guardRule)?.code.rawValue == "name_not_allowed")
        #expect(problem("request.path == \"/\"", .flagRule)?.code.rawValue == "name_not_allowed")
        if case .success = compile("check.limit", .denialTemplate) {} else { Issue.record("check.* in a denial") }
        if case .success = compile("lower(account.id) in lists.testers", .live) {
        } else {
            Issue.record("lists in live")
        }
    }

    @Test func readsAreTracked() throws {
        let (_, r1) = try compile("user.authenticated and facts.is_paid").get()
        #expect(r1.user && !r1.subscription && r1.facts == [0])
        let (_, r2) = try compile("feature(\"sso\")").get()
        #expect(r2.subscription && !r2.user)
    }

    @Test func syntaxErrorOffsets() {
        #expect(problem("subscription.live and")?.offset == 21)
        #expect(problem("a = b")?.offset == 2)
        #expect(problem("")?.code.rawValue == "expr_syntax")
        #expect(problem("(true")?.code.rawValue == "expr_syntax")
        #expect(problem("true true")?.code.rawValue == "expr_syntax")
        #expect(problem("99999999999999999999 > 1")?.code.rawValue == "expr_syntax")
        #expect(problem("1.5 > 1")?.code.rawValue == "expr_syntax")
    }

    @Test func deepNestingIsBounded() {
        let deep = String(repeating: "(", count: 5000) + "true" + String(repeating: ")", count: 5000)
        #expect(problem(deep)?.code.rawValue == "expr_syntax")
        let nots = String(repeating: "not ", count: 5000) + "true"
        #expect(problem(nots)?.code.rawValue == "expr_syntax")
    }
}
