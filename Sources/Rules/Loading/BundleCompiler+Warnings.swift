/// A string literal an expression compares with `subscription.plan` or `subscription.status`, kept until plans and
/// statuses are all known.
struct NameComparison {
    var field: SubscriptionField
    var op: BinaryOp
    /// Each string and where it is written.
    var values: [(value: String, location: SourceLocation)]
    /// Where the literal (or the list) starts.
    var location: SourceLocation
    var isList: Bool
    var path: String
}

/// The warnings pass: mistakes that compile but almost certainly do not mean what the author meant. Runs only on a
/// bundle without errors, so a warning never stands in for (or piles onto) an error. The pairwise checks (plan lists
/// against the plan tree, allowlist entries against each other) share a budget of steps, so a hostile bundle cannot
/// make `validate` quadratic: past it those checks stop, and the compile result is the same.
extension BundleCompiler {
    static let warningBudget = 4_000_000

    mutating func warn() {
        warnNameComparisons()
        warnNullInDenials()
        warnAllowlists()
        warnUngrantedFeatures()
        warnUnreachableFlagRules()
    }

    /// Remembers `subscription.plan|status` compared (`==`, `!=`, `in`, `not in`) with string literals.
    mutating func recordNameComparisons(_ e: Expr, text: String, path: String, node: YAMLNode, base: Int) {
        let bytes = Array(text.utf8)
        e.walk { n in
            guard case .binary(let op, let a, let b) = n.kind else { return }
            var field: SubscriptionField?
            var literal: Expr?
            for (x, y) in [(a, b), (b, a)] {
                if case .name(.subscription(let f)) = x.kind, f == .plan || f == .status { field = f; literal = y }
            }
            guard let field, let literal else { return }
            switch (op, literal.kind) {
            case (.eq, .literal(.string(let s))), (.ne, .literal(.string(let s))):
                let at = location(node, base + literal.offset)
                nameComparisons.append(
                    NameComparison(
                        field: field, op: op, values: [(s, at)], location: at, isList: false, path: path))
            case (.in, .literal(.list(let items))), (.notIn, .literal(.list(let items))):
                guard case .name = a.kind else { return }
                var values: [(String, SourceLocation)] = []
                var from: Int? = literal.offset
                for item in items {
                    // Point at the item itself when it is written plainly ("pro"); else (an escape) at the list, and
                    // stop searching so a long list of escaped items stays linear.
                    let quoted = Array("\"\(item)\"".utf8)
                    if let start = from, start <= bytes.count,
                        let hit = bytes[start...].firstRange(of: quoted)?.lowerBound
                    {
                        values.append((item, location(node, base + hit + 1)))
                        from = hit + quoted.count
                    } else {
                        values.append((item, location(node, base + literal.offset)))
                        from = nil
                    }
                }
                nameComparisons.append(
                    NameComparison(
                        field: field, op: op, values: values, location: location(node, base + literal.offset),
                        isList: true, path: path))
            default: return
            }
        }
    }

    /// `unknown_plan_literal`, `unknown_status_literal`, `plan_list_misses_child`.
    mutating func warnNameComparisons() {
        var budget = Self.warningBudget
        let statuses = policy.subscription.statuses.map(\.name)
        // Without a declared `subscription.statuses` every other status is a legitimate (locked) one: no warning.
        let statusesDeclared = policy.subscription.statuses.contains { $0.location != nil }
        let planNames = policy.planLookup.keys.sorted()
        for c in nameComparisons {
            let outcome: String
            switch c.op {
            case .eq: outcome = "this comparison is always false"
            case .ne: outcome = "this comparison is always true"
            default: outcome = "this entry never matches"
            }
            for (value, at) in c.values {
                if c.field == .plan, policy.planLookup[value] == nil {
                    diags.warning(
                        .unknown_plan_literal,
                        "\(c.path): '\(value)' is not a plan or an alias; \(outcome)"
                            + Suggest.hint(value, planNames),
                        at: at)
                } else if c.field == .status, statusesDeclared, !statuses.contains(value) {
                    diags.warning(
                        .unknown_status_literal,
                        "\(c.path): '\(value)' is not a status declared in subscription.statuses; \(outcome)"
                            + Suggest.hint(value, statuses),
                        at: at)
                }
            }
            guard c.field == .plan, c.isList else { continue }
            var listed = Set(c.values.compactMap { policy.planLookup[$0.value] })
            // A misspelt entry already has its warning (with the plan it probably means): count that plan as listed.
            for (value, _) in c.values where policy.planLookup[value] == nil {
                if let meant = Suggest.closest(to: value, in: planNames), let i = policy.planLookup[meant] {
                    listed.insert(i)
                }
            }
            for (i, plan) in policy.plans.enumerated() where !listed.contains(i) {
                var ancestor = plan.parent
                var seen = 0
                while let a = ancestor, !listed.contains(a), seen < policy.plans.count {
                    ancestor = policy.plans[a].parent
                    seen += 1
                }
                budget -= seen + 1
                if budget < 0 { return }
                guard let a = ancestor, listed.contains(a) else { continue }
                diags.warning(
                    .plan_list_misses_child,
                    "\(c.path): plan '\(plan.name)' extends '\(policy.plans[a].name)' but is not in this list, so "
                        + "'\(plan.name)' accounts are treated unlike '\(policy.plans[a].name)' here; add \"\(plan.name)\" "
                        + "if they should match",
                    at: c.location)
            }
        }
    }

    /// `null_in_denial`: a denial body interpolating a `check.*` field where that field is null. A route check sets
    /// none, so each guard whose denial reads one is warned at its `deny:`; `feature_not_in_plan` (boolean and set
    /// checks) sets only `check.feature`, so those denials' bodies are warned for the others. (`limit_exceeded`
    /// sets all four.)
    mutating func warnNullInDenials() {
        func reads(_ denial: Denial) -> [CheckField] {
            var fields: [CheckField] = []
            denial.body.walkExprs { e in
                e.walk { n in
                    if case .name(.check(let f)) = n.kind, !fields.contains(f) { fields.append(f) }
                }
            }
            return fields
        }
        let read = policy.denials.map(reads)
        for (g, at) in zip(policy.guards, guardDenyLocations) where !read[g.deny].isEmpty {
            let names = read[g.deny].map { "${check.\($0.rawValue)}" }.joined(separator: ", ")
            diags.warning(
                .null_in_denial,
                "guard '\(g.name)' denies with '\(policy.denials[g.deny].name)', whose body interpolates \(names): "
                    + "null on a route check (check.* describes feature checks only); give the guard a denial of its own",
                at: at)
        }
        for (d, denial) in policy.denials.enumerated() where denial.name == "feature_not_in_plan" {
            guard let at = denial.location else { continue }
            let unset = read[d].filter { $0 != .feature }
            guard !unset.isEmpty else { continue }
            diags.warning(
                .null_in_denial,
                "denial 'feature_not_in_plan' interpolates "
                    + unset.map { "${check.\($0.rawValue)}" }.joined(separator: ", ")
                    + ", which is null wherever it is used (boolean and set checks set only check.feature)",
                at: at)
        }
    }

    /// `shadowed_allow` and `unreachable_allow`.
    mutating func warnAllowlists() {
        var budget = Self.warningBudget
        for gi in policy.guards.indices {
            // The guard's arrays, not a copy of the whole guard per iteration.
            let allow = policy.guards[gi].allow
            let appliesTo = policy.guards[gi].appliesTo
            let name = policy.guards[gi].name
            for (j, entry) in allow.enumerated() {
                budget -= j + appliesTo.count + 1
                if budget < 0 { return }
                if let earlier = allow[..<j].first(where: { $0.when == nil && $0.pattern.covers(entry.pattern) }) {
                    diags.warning(
                        .shadowed_allow,
                        "guard '\(name)': allowlist entry '\(entry.pattern.text)' is already covered by "
                            + "'\(earlier.pattern.text)' (\(earlier.location)); it never decides anything",
                        at: entry.location, related: [earlier.location])
                } else if !appliesTo.isEmpty, !appliesTo.contains(where: { $0.overlaps(entry.pattern) }) {
                    diags.warning(
                        .unreachable_allow,
                        "guard '\(name)': allowlist entry '\(entry.pattern.text)' matches no route the guard "
                            + "applies to (\(appliesTo.map(\.text).joined(separator: ", ")))",
                        at: entry.location)
                }
            }
        }
    }

    /// `ungranted_feature`.
    mutating func warnUngrantedFeatures() {
        var granted = Set<Int>()
        for p in policy.plans { for g in p.grants { granted.insert(g.feature) } }
        for (i, f) in policy.features.enumerated() where !granted.contains(i) && f.defaultValue == f.zero {
            diags.warning(
                .ungranted_feature,
                "feature '\(f.name)' is granted by no plan and its default is \(f.kind == .boolean ? "false" : f.kind == .limit ? "0" : "the empty set"); every account is "
                    + "denied it (grant it in a plan, or give it a default)",
                at: f.location)
        }
    }

    /// `unreachable_rule`: first match wins, so nothing after a rule whose `when` is always true is ever used.
    mutating func warnUnreachableFlagRules() {
        for flag in policy.flags {
            guard let i = flag.rules.firstIndex(where: { $0.when.isAlwaysTrue }), i + 1 < flag.rules.count else {
                continue
            }
            for r in flag.rules[(i + 1)...] {
                diags.warning(
                    .unreachable_rule,
                    "flag '\(flag.name)': this rule is never reached; the rule before it (\(flag.rules[i].location)) "
                        + "always matches",
                    at: r.location, related: [flag.rules[i].location])
            }
        }
    }
}

extension Expr {
    /// True when the expression is true whatever the request: `true`, `not false`, `true or x`, `true and true`.
    var isAlwaysTrue: Bool {
        switch kind {
        case .literal(.bool(true)): true
        case .not(let e): e.isAlwaysFalse
        case .binary(.or, let a, let b): a.isAlwaysTrue || b.isAlwaysTrue
        case .binary(.and, let a, let b): a.isAlwaysTrue && b.isAlwaysTrue
        default: false
        }
    }
    var isAlwaysFalse: Bool {
        switch kind {
        case .literal(.bool(false)), .literal(.null): true
        case .not(let e): e.isAlwaysTrue
        case .binary(.and, let a, let b): a.isAlwaysFalse || b.isAlwaysFalse
        case .binary(.or, let a, let b): a.isAlwaysFalse && b.isAlwaysFalse
        default: false
        }
    }
}

extension Template {
    /// Visits every expression the template interpolates.
    func walkExprs(_ visit: (Expr) -> Void) {
        switch self {
        case .null, .bool, .int, .string: break
        case .expr(let e): visit(e)
        case .interpolated(let parts):
            for case .expr(let e) in parts { visit(e) }
        case .list(let items): for t in items { t.walkExprs(visit) }
        case .object(let pairs): for p in pairs { p.value.walkExprs(visit) }
        }
    }
}

extension RoutePattern {
    /// Whether every request this pattern matches is also matched by `self` (method and path).
    func covers(_ other: RoutePattern) -> Bool {
        if let m = method, m != other.method { return false }
        return Self.covers(segments[...], other.segments[...])
    }

    /// Whether some request matches both patterns.
    func overlaps(_ other: RoutePattern) -> Bool {
        if let a = method, let b = other.method, a != b { return false }
        return Self.overlaps(segments[...], other.segments[...])
    }

    private static func covers(_ a: ArraySlice<Segment>, _ b: ArraySlice<Segment>) -> Bool {
        guard let x = a.first else { return b.isEmpty }
        if x == .rest { return true }
        guard let y = b.first, y != .rest else { return false }
        switch (x, y) {
        case (.one, _): return covers(a.dropFirst(), b.dropFirst())
        case (.literal(let l), .literal(let r)) where l == r: return covers(a.dropFirst(), b.dropFirst())
        default: return false
        }
    }

    private static func overlaps(_ a: ArraySlice<Segment>, _ b: ArraySlice<Segment>) -> Bool {
        guard let x = a.first, let y = b.first else {
            // One side ended: the other must be able to match nothing more.
            return (a.first ?? .rest) == .rest && (b.first ?? .rest) == .rest
        }
        if x == .rest || y == .rest { return true }
        switch (x, y) {
        case (.literal(let l), .literal(let r)) where l != r: return false
        default: return overlaps(a.dropFirst(), b.dropFirst())
        }
    }
}
