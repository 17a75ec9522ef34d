import Evaluator

/// What `test --coverage` counts, item by item, from what the fixtures exercised (docs/REFERENCE.md, "Coverage"):
/// plan × feature cells, statuses, trial stages, guards (denied and passed), allowlist entries (conditional ones on
/// both sides of their `when`), flag rules and defaults, and the denials checks can return.
struct CoverageReport {
    struct Item {
        var kind: String
        var what: String
        var location: SourceLocation?
        var covered: Bool
    }

    var items: [Item] = []

    var covered: Int { items.filter(\.covered).count }
    var percent: Double { items.isEmpty ? 100 : Double(covered) * 100 / Double(items.count) }

    init(policy p: Policy, _ r: CoverageRecorder) {
        func add(_ kind: String, _ what: String, _ at: SourceLocation?, _ covered: Bool) {
            items.append(Item(kind: kind, what: what, location: at, covered: covered))
        }
        for (pi, plan) in p.plans.enumerated() {
            for (fi, feature) in p.features.enumerated() {
                let at = plan.grants.last { $0.feature == fi }?.location ?? plan.location
                add(
                    "plan × feature", "plan \(plan.name) × \(feature.name)", at,
                    r.cells.contains(pi * p.features.count + fi))
            }
        }
        for (si, status) in p.subscription.statuses.enumerated() {
            add("status", "status \(status.name)", status.location, r.statuses.contains(si))
        }
        if let trial = p.subscription.trial {
            var stages = ["pristine"]
            if trial.warning != nil { stages.append("warning") }
            if trial.urgent != nil { stages.append("urgent") }
            stages.append("expired")
            for s in stages { add("trial stage", "trial stage \(s)", trial.location, r.stages.contains(s)) }
        }
        for (gi, g) in p.guards.enumerated() {
            add("guard", "guard \(g.name) denied", g.location, r.guardsDenied.contains(gi))
            add("guard", "guard \(g.name) passed", g.location, r.guardsPassed.contains(gi))
            for (k, e) in g.allow.enumerated() {
                if e.when == nil {
                    add(
                        "allowlist", "guard \(g.name) allows \(e.pattern.text)", e.location,
                        r.allowlist.contains(.init(guardIndex: gi, entry: k, when: nil)))
                } else {
                    for side in [true, false] {
                        add(
                            "allowlist", "guard \(g.name) allows \(e.pattern.text) when \(e.whenText ?? "") is \(side)",
                            e.location, r.allowlist.contains(.init(guardIndex: gi, entry: k, when: side)))
                    }
                }
            }
        }
        for (fi, flag) in p.flags.enumerated() {
            for (k, rule) in flag.rules.enumerated() {
                add(
                    "flag rule", "flag \(flag.name) rule \(k + 1) (when \(rule.whenText))", rule.location,
                    r.flagRules.contains([fi, k]))
            }
            add("flag rule", "flag \(flag.name) default", flag.location, r.flagDefaults.contains(fi))
        }
        for (di, d) in p.denials.enumerated() where Self.reachable(d.name, di, p) {
            add("denial", "denial \(d.name)", d.location, r.denials.contains(di))
        }
    }

    /// Denials some check can return: each guard's `deny`, `unauthenticated` when a guard reads the user, and the
    /// feature-check denials when there are features of their kind.
    static func reachable(_ name: String, _ index: Int, _ p: Policy) -> Bool {
        switch name {
        case "feature_not_in_plan": return p.features.contains { $0.kind != .limit }
        case "limit_exceeded": return p.features.contains { $0.kind == .limit }
        case "no_subscription", "subscription_inactive":
            return !p.features.isEmpty || p.guards.contains { $0.deny == index || $0.requiresReads.subscription }
        case "unauthenticated": return p.guards.contains { $0.deny == index || $0.requiresReads.user }
        default: return p.guards.contains { $0.deny == index }
        }
    }

    /// Totals per kind, then every item never exercised with where it is written.
    func text(prefix: String) -> [String] {
        var lines = [String(format: "coverage: %d of %d (%.1f%%)", covered, items.count, percent)]
        var kinds: [String] = []
        for i in items where !kinds.contains(i.kind) { kinds.append(i.kind) }
        for k in kinds {
            let of = items.filter { $0.kind == k }
            lines.append("  \(k): \(of.filter(\.covered).count) of \(of.count)")
        }
        let missing = items.filter { !$0.covered }
        if !missing.isEmpty { lines.append("not exercised:") }
        for i in missing {
            lines.append("  " + (i.location.map { "\(prefix)\($0): " } ?? "") + i.what)
        }
        return lines
    }

    var json: JSONValue {
        .object([
            ("covered", .int(Int64(covered))), ("total", .int(Int64(items.count))),
            ("percent", .number(String(format: "%.1f", percent))),
            (
                "items",
                .array(
                    items.map { i in
                        .object([
                            ("kind", .string(i.kind)), ("what", .string(i.what)),
                            ("at", i.location.map { .string($0.description) } ?? .null), ("covered", .bool(i.covered)),
                        ])
                    })
            ),
        ])
    }
}
