/// The type checker behind `ExpressionCompiler`: resolves names for one context and types every node.
struct Checker {
    let context: ExprContext
    let env: ExprEnvironment
    var reads = ExprReads()

    func fail(_ code: DiagnosticCode, _ message: String, _ offset: Int) -> ExprProblem {
        ExprProblem(code: code, message: message, offset: offset)
    }

    mutating func check(_ s: Syntax) throws(ExprProblem) -> Expr {
        switch s {
        case .literal(let l, let o):
            let t: ExprType
            switch l {
            case .null: t = .null
            case .bool: t = .bool
            case .int: t = .int
            case .string: t = .string
            case .duration: t = .duration
            case .list: t = .list
            }
            return Expr(.literal(l), offset: o, type: t)
        case .badList(let o, let m):
            throw fail(.type_mismatch, m, o)
        case .name(let n, let o):
            let name = try resolve(n, o)
            return Expr(.name(name), offset: o, type: type(of: name))
        case .not(let inner, let o):
            let e = try check(inner)
            try requireBool(e, "not", o)
            return Expr(.not(e), offset: o, type: .bool)
        case .binary(let op, let ls, let rs, let o):
            let l = try check(ls)
            let r = try check(rs)
            return Expr(.binary(op, l, r), offset: o, type: try binaryType(op, l.type, r.type, o))
        case .call(let fname, let args, let o):
            return try call(fname, args, o)
        }
    }

    func type(of n: Name) -> ExprType {
        switch n {
        case .now: .timestamp
        case .accountID: .string
        case .accountAttribute, .userAttribute: .dynamic
        case .subscription(let f): f.type
        case .user(let f): f.type
        case .request: .string
        case .check(let f): f.type
        case .fact: .bool
        case .list: .list
        }
    }

    func requireBool(_ e: Expr, _ op: String, _ o: Int) throws(ExprProblem) {
        guard [.bool, .null, .dynamic].contains(e.type) else {
            throw fail(.type_mismatch, "operator '\(op)' needs a bool operand, got \(e.type)", o)
        }
    }

    func binaryType(_ op: BinaryOp, _ a: ExprType, _ b: ExprType, _ o: Int) throws(ExprProblem) -> ExprType {
        let mismatch = fail(.type_mismatch, "operator '\(op.rawValue)' cannot take \(a) and \(b)", o)
        switch op {
        case .and, .or:
            for t in [a, b] where ![.bool, .null, .dynamic].contains(t) {
                throw fail(.type_mismatch, "operator '\(op.rawValue)' needs bool operands, got \(a) and \(b)", o)
            }
            return .bool
        case .eq, .ne:
            if a == b || a == .null || b == .null || a == .dynamic || b == .dynamic { return .bool }
            throw mismatch
        case .lt, .le, .gt, .ge:
            if a == .string || b == .string {
                throw fail(.type_mismatch, "operator '\(op.rawValue)' cannot order strings (got \(a) and \(b))", o)
            }
            let ordered: Set<ExprType> = [.int, .timestamp, .duration]
            if a == b && ordered.contains(a) { return .bool }
            if (a == .dynamic || a == .null) && (ordered.contains(b) || b == .dynamic || b == .null) { return .bool }
            if (b == .dynamic || b == .null) && ordered.contains(a) { return .bool }
            throw mismatch
        case .in, .notIn:
            guard [.string, .dynamic, .null].contains(a), [.list, .dynamic, .null].contains(b) else {
                throw fail(
                    .type_mismatch,
                    "operator '\(op.rawValue)' needs a string on the left and a list on the right, got \(a) and \(b)", o
                )
            }
            return .bool
        case .add, .sub:
            switch (a, b) {
            case (.int, .int), (.int, .dynamic), (.dynamic, .int), (.int, .null), (.null, .int): return .int
            case (.timestamp, .duration), (.null, .duration), (.timestamp, .null), (.dynamic, .duration):
                return .timestamp
            case (.dynamic, .dynamic), (.dynamic, .null), (.null, .dynamic), (.null, .null): return .dynamic
            default:
                throw fail(
                    .type_mismatch,
                    "operator '\(op.rawValue)' takes int \(op.rawValue) int or timestamp \(op.rawValue) duration, got \(a) and \(b)",
                    o)
            }
        }
    }

    mutating func call(_ fname: String, _ args: [Syntax], _ o: Int) throws(ExprProblem) -> Expr {
        if context == .planGrant {
            throw fail(
                .name_not_allowed,
                "\(fname)() cannot be used in a plan grant (it reads only stored subscription fields)", o)
        }
        guard let f = Function(rawValue: fname) else {
            throw fail(
                .unknown_function,
                "unknown function '\(fname)'" + Suggest.hint(fname, Function.allCases.map(\.rawValue)), o)
        }
        guard args.count == f.arity else {
            throw fail(
                .invalid_argument, "\(fname)() takes \(f.arity) argument\(f.arity == 1 ? "" : "s"), got \(args.count)",
                o)
        }
        switch f {
        case .feature, .limit:
            if context == .live {
                throw fail(
                    .name_not_allowed,
                    "\(fname)() cannot be used in a live rule (live reads only now, account.*, lists.* and stored subscription fields)",
                    o)
            }
            guard case .literal(.string(let key), let ko) = args[0] else {
                var hint = ""
                if case .name(let n, _) = args[0], !n.contains(".") { hint = "; write \(fname)(\"\(n)\")" }
                throw fail(
                    .invalid_argument, "\(fname)() takes a feature key as a string literal\(hint)", args[0].offset)
            }
            guard let (index, kind) = env.features[key] else {
                if env.flagNames.contains(key) {
                    throw fail(
                        .unknown_feature,
                        "'\(key)' is a flag, not a feature; \(fname)() reads features only (a flag is asked for by a "
                            + "{\"flag\": \"\(key)\"} check or over OFREP)", ko)
                }
                throw fail(
                    .unknown_feature, "unknown feature '\(key)' in \(fname)()" + Suggest.hint(key, env.features.keys),
                    ko)
            }
            let wanted: FeatureKind = f == .feature ? .boolean : .limit
            guard kind == wanted else {
                throw fail(
                    .type_mismatch, "\(fname)() takes a \(wanted.rawValue) feature; '\(key)' is a \(kind.rawValue)", ko
                )
            }
            reads.subscription = true
            return Expr(.featureCall(f, index), offset: o, type: f == .feature ? .bool : .int)
        case .lower, .starts_with, .ends_with, .rollout:
            var checked: [Expr] = []
            for a in args {
                let e = try check(a)
                guard [.string, .dynamic, .null].contains(e.type) else {
                    throw fail(.type_mismatch, "\(fname)() takes string arguments, got \(e.type)", a.offset)
                }
                checked.append(e)
            }
            let t: ExprType = f == .lower ? .string : f == .rollout ? .int : .bool
            return Expr(.call(f, checked), offset: o, type: t)
        }
    }

    mutating func resolve(_ n: String, _ o: Int) throws(ExprProblem) -> Name {
        let parts = n.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let roots = ["now", "account", "subscription", "user", "request", "check", "facts", "lists"]
        func unknown(_ candidates: [String]) -> ExprProblem {
            fail(.unknown_name, "unknown name '\(n)'" + Suggest.hint(n, candidates), o)
        }
        func notAllowed(_ why: String = "") -> ExprProblem {
            fail(.name_not_allowed, "'\(n)' cannot be used in \(context.name)\(why)", o)
        }
        let name: Name
        if context == .planGrant && parts[0] != "subscription" && roots.contains(parts[0]) {
            throw notAllowed(" (a plan grant reads only stored subscription fields, such as subscription.seats)")
        }
        switch parts[0] {
        case "now" where parts.count == 1:
            return .now
        case "account":
            if parts.count == 2 && parts[1] == "id" {
                name = .accountID
            } else if parts.count == 3 && parts[1] == "attributes" {
                name = .accountAttribute(parts[2])
            } else {
                throw unknown(["account.id", "account.attributes." + (parts.last ?? "")])
            }
        case "subscription":
            guard parts.count == 2, let f = SubscriptionField(rawValue: parts[1]) else {
                throw unknown(SubscriptionField.allCases.map { "subscription.\($0.rawValue)" })
            }
            if (context == .live || context == .planGrant) && !f.isStored {
                throw notAllowed(
                    " (live reads only stored subscription fields: status, plan, period_start, period_end, past_due_since, ended_at, seats)"
                )
            }
            reads.subscription = true
            name = .subscription(f)
        case "user":
            if parts.count == 3 && parts[1] == "attributes" {
                name = .userAttribute(parts[2])
            } else if parts.count == 2, let f = UserField(rawValue: parts[1]) {
                name = .user(f)
            } else {
                throw unknown(
                    UserField.allCases.map { "user.\($0.rawValue)" } + ["user.attributes." + (parts.last ?? "")])
            }
            if context == .live {
                throw notAllowed(" (live reads only now, account.*, lists.* and stored subscription fields)")
            }
            reads.user = true
        case "request":
            guard parts.count == 2, let f = RequestField(rawValue: parts[1]) else {
                throw unknown(RequestField.allCases.map { "request.\($0.rawValue)" })
            }
            switch context {
            case .guardRule, .denialTemplate: break
            default: throw notAllowed(" (request.* exists only for route checks)")
            }
            name = .request(f)
        case "check":
            guard parts.count == 2, let f = CheckField(rawValue: parts[1]) else {
                throw unknown(CheckField.allCases.map { "check.\($0.rawValue)" })
            }
            guard context == .denialTemplate else { throw notAllowed(" (check.* exists only in denial bodies)") }
            name = .check(f)
        case "facts":
            guard parts.count == 2 else { throw unknown(env.facts.keys.map { "facts.\($0)" }) }
            guard let i = env.facts[parts[1]] else {
                throw fail(.unknown_fact, "unknown fact '\(parts[1])'" + Suggest.hint(parts[1], env.facts.keys), o)
            }
            if context == .live { throw notAllowed(" (live cannot read facts)") }
            reads.facts.insert(i)
            name = .fact(i)
        case "lists":
            guard parts.count == 2 else { throw unknown(env.lists.keys.map { "lists.\($0)" }) }
            guard let i = env.lists[parts[1]] else {
                throw fail(.unknown_list, "unknown list '\(parts[1])'" + Suggest.hint(parts[1], env.lists.keys), o)
            }
            name = .list(i)
        default:
            var candidates = roots
            candidates += SubscriptionField.allCases.map { "subscription.\($0.rawValue)" }
            candidates += UserField.allCases.map { "user.\($0.rawValue)" }
            candidates += ["account.id"] + env.facts.keys.map { "facts.\($0)" } + env.lists.keys.map { "lists.\($0)" }
            let closest = Suggest.closest(to: n, in: candidates)
            if parts.count == 1,
                closest == nil || env.valueWords.contains(n) || closest == env.definingFact.map({ "facts.\($0)" })
            {
                // A bare word where a value belongs: almost always a string missing its quotes.
                throw fail(
                    .unknown_name,
                    "unknown name '\(n)'; strings need double quotes: did you mean \"\(n)\"?", o)
            }
            throw unknown(candidates)
        }
        return name
    }
}
