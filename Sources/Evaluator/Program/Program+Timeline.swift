/// An instant a rule of the policy turns on: where a comparison with `now` can change its answer. Found once at
/// compile time (every status rule, fact, guard rule, allowlist `when` and flag rule); its instant is an expression
/// of the account and user alone, compiled to a root and evaluated per timeline.
struct InstantRule: Sendable {
    /// Evaluates to the instant (a timestamp), or null when the account or user lacks the field.
    var root: Int32
    /// The answer changes one nanosecond after the instant (`now <= X`, `now > X`) rather than at it.
    var after: Bool
    /// Where the rule is and what it compares (`guards.verified_email.requires: now < user.created_at + 7d`).
    var origin: String
}

/// Extracts the instant rules from a policy's expressions.
struct InstantRuleFinder {
    var rules: [InstantRule] = []

    mutating func find(in policy: Policy, _ code: inout ExprCode) {
        for s in policy.subscription.statuses {
            if case .rule(let e, _) = s.live { scan(e, "subscription.statuses.\(s.name).live", &code) }
        }
        for f in policy.facts { scan(f.expr, "facts.\(f.name): \(f.text)", &code) }
        for g in policy.guards {
            scan(g.requires, "guards.\(g.name).requires: \(g.requiresText)", &code)
            for (k, a) in g.allow.enumerated() {
                if let w = a.when { scan(w, "guards.\(g.name).allow[\(k)].when: \(a.whenText ?? "")", &code) }
            }
        }
        for flag in policy.flags {
            for (k, r) in flag.rules.enumerated() {
                scan(r.when, "flags.\(flag.name).rules[\(k)]: \(r.whenText)", &code)
            }
        }
    }

    static func readsNow(_ e: Expr) -> Bool {
        var found = false
        e.walk { if case .name(.now) = $0.kind { found = true } }
        return found
    }

    /// The `X` of a live rule that is exactly `now < X` or `X > now` (X free of `now`): the instant it stops holding.
    static func liveUntil(_ e: Expr) -> Expr? {
        guard case .binary(let op, let a, let b) = e.kind else { return nil }
        if op == .lt, isNow(a), !readsNow(b), b.type == .timestamp { return b }
        if op == .gt, isNow(b), !readsNow(a), a.type == .timestamp { return a }
        return nil
    }

    static func isNow(_ e: Expr) -> Bool {
        if case .name(.now) = e.kind { return true }
        return false
    }

    /// `now - E` with E free of `now`: E.
    static func nowMinus(_ e: Expr) -> Expr? {
        if case .binary(.sub, let a, let b) = e.kind, isNow(a), !readsNow(b) { return b }
        return nil
    }

    mutating func scan(_ root: Expr, _ origin: String, _ code: inout ExprCode) {
        root.walk { e in
            guard case .binary(let op, let a, let b) = e.kind, op.isComparison else { return }
            // `now OP X`, `X OP now`: the instant is X.
            if Self.isNow(a), !Self.readsNow(b) {
                add(b, op, origin, &code)
            } else if Self.isNow(b), !Self.readsNow(a) {
                add(a, op.mirrored, origin, &code)
            } else if let base = Self.nowMinus(a), !Self.readsNow(b), b.type == .duration {
                // `now - E OP D`: the instant is E + D.
                add(Expr(.binary(.add, base, b), offset: 0, type: .timestamp), op, origin, &code)
            } else if let base = Self.nowMinus(b), !Self.readsNow(a), a.type == .duration {
                add(Expr(.binary(.add, base, a), offset: 0, type: .timestamp), op.mirrored, origin, &code)
            } else if case .name(.subscription(.days_remaining)) = a.kind, case .literal(.int(let n)) = b.kind {
                daysRemaining(n, origin, &code)
            } else if case .name(.subscription(.days_remaining)) = b.kind, case .literal(.int(let n)) = a.kind {
                daysRemaining(n, origin, &code)
            }
        }
    }

    /// `days_remaining OP N` changes when N or N - 1 whole days remain before the period's end.
    mutating func daysRemaining(_ n: Int64, _ origin: String, _ code: inout ExprCode) {
        let end = Expr(.name(.subscription(.period_end)), offset: 0, type: .timestamp)
        for d in [n, n - 1] where d >= 0 {
            let offset = Expr(.literal(.duration(PolicyDuration(seconds: d * 86_400))), offset: 0, type: .duration)
            rules.append(
                InstantRule(
                    root: code.compile(Expr(.binary(.sub, end, offset), offset: 0, type: .timestamp)), after: false,
                    origin: origin))
        }
    }

    mutating func add(_ instant: Expr, _ op: BinaryOp, _ origin: String, _ code: inout ExprCode) {
        guard instant.type == .timestamp || instant.type == .dynamic else { return }
        let root = code.compile(instant)
        switch op {
        case .lt, .ge: rules.append(InstantRule(root: root, after: false, origin: origin))
        case .le, .gt: rules.append(InstantRule(root: root, after: true, origin: origin))
        default:
            rules.append(InstantRule(root: root, after: false, origin: origin))
            rules.append(InstantRule(root: root, after: true, origin: origin))
        }
    }
}

extension BinaryOp {
    /// The operator with its sides swapped: `X < now` is `now > X`.
    var mirrored: BinaryOp {
        switch self {
        case .lt: .gt
        case .le: .ge
        case .gt: .lt
        case .ge: .le
        default: self
        }
    }
}
