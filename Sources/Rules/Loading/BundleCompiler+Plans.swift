extension BundleCompiler {

    mutating func compilePlans() {
        let entries = (sections["plans"] ?? []).filter { checkKeyName($0.key, "plan", at: $0.keyNode.start) }
        var extendsNodes: [Int: YAMLNode] = [:]
        var aliasNodes: [(alias: String, plan: Int, node: YAMLNode)] = []
        for e in entries {
            let path = "plans.\(e.key)"
            let index = policy.plans.count
            var plan = Plan(
                name: e.key, displayName: nil, description: nil, assignableVia: nil, parent: nil, aliases: [],
                price: nil,
                isPublic: nil, sort: nil, grants: [], location: e.keyNode.start)
            policy.planLookup[e.key] = index
            defer { policy.plans.append(plan) }
            guard e.value.resolved != .null else { continue }
            guard let f = fields(e.value, path, allowed: PolicyShape.plan.names) else { continue }
            if let n = f["display_name"] { plan.displayName = string(n.value, "\(path).display_name") }
            if let n = f["description"] { plan.description = string(n.value, "\(path).description") }
            if let n = f["public"] { plan.isPublic = bool(n.value, "\(path).public") }
            if let n = f["sort"] { plan.sort = int(n.value, "\(path).sort") }
            if let n = f["extends"], string(n.value, "\(path).extends") != nil { extendsNodes[index] = n.value }
            if let n = f["assignable_via"], let items = stringList(n.value, "\(path).assignable_via") {
                var set = Set<AssignSource>()
                for (s, node) in items {
                    if let src = AssignSource(rawValue: s) {
                        set.insert(src)
                    } else {
                        let allowed = AssignSource.allCases.map(\.rawValue)
                        diags.error(
                            .invalid_value,
                            "\(path).assignable_via: unknown source '\(s)'" + Suggest.hint(s, allowed)
                                + "; allowed: \(allowed.joined(separator: ", "))",
                            at: node.start)
                    }
                }
                plan.assignableVia = set
            }
            if let n = f["aliases"], let items = stringList(n.value, "\(path).aliases") {
                for (s, node) in items where checkKeyName(s, "plan alias", at: node.start) {
                    plan.aliases.append(s)
                    aliasNodes.append((s, index, node))
                }
            }
            if let n = f["price"],
                let pf = fields(n.value, "\(path).price", allowed: PolicyShape.price.names)
            {
                var price = Plan.Price()
                if let m = pf["monthly_cents"] {
                    price.monthlyCents = int(m.value, "\(path).price.monthly_cents", min: 0)
                }
                if let a = pf["annual_cents"] { price.annualCents = int(a.value, "\(path).price.annual_cents", min: 0) }
                if let c = pf["currency"], let s = string(c.value, "\(path).price.currency") {
                    if s.count == 3 && s.allSatisfy({ $0.isASCII && $0.isLetter }) {
                        price.currency = s
                    } else {
                        diags.error(
                            .invalid_value, "\(path).price.currency must be a 3-letter ISO 4217 code, got '\(s)'",
                            at: c.value.start)
                    }
                }
                plan.price = price
            }
            if let g = f["grants"], g.value.resolved != .null {
                guard case .mapping(let pairs) = g.value.kind else {
                    diags.error(
                        .invalid_type,
                        "\(path).grants must be a mapping of feature to value, got \(describe(g.value))",
                        at: g.value.start)
                    continue
                }
                for (k, v) in pairs {
                    let fname = k.scalarText ?? ""
                    guard let (fi, _) = env.features[fname] else {
                        diags.error(
                            .unknown_feature,
                            "\(path).grants: unknown feature '\(fname)'" + Suggest.hint(fname, env.features.keys),
                            at: k.start)
                        continue
                    }
                    if policy.features[fi].kind == .limit, case .string(let text)? = v.resolved,
                        text.contains(where: { ".()+-".contains($0) })
                    {
                        // A bare word (`lots`, `unlimted`) is a value with a slip, reported as one; anything with
                        // a name path, call or operator is an expression.
                        // A limit from the subscription: an integer expression over its stored fields.
                        let gpath = "\(path).grants.\(fname)"
                        guard let (e, _) = expression(v, gpath, context: .planGrant) else { continue }
                        guard e.type == .int || e.type == .null else {
                            diags.error(
                                .type_mismatch,
                                "\(gpath): a limit grant must be a non-negative integer, `unlimited`, or an integer expression over subscription fields (such as subscription.seats + 5); this expression is \(e.type)",
                                at: v.start)
                            continue
                        }
                        plan.grants.append(
                            Plan.Grant(
                                feature: fi, value: policy.features[fi].defaultValue, location: k.start, expr: e,
                                exprText: text))
                    } else if let value = featureValue(v, policy.features[fi], "\(path).grants.\(fname)") {
                        plan.grants.append(Plan.Grant(feature: fi, value: value, location: k.start))
                    }
                }
            }
        }
        // Aliases: unique, and never a plan key.
        var aliasOwner: [String: (Int, SourceLocation)] = [:]
        for (alias, plan, node) in aliasNodes {
            if let other = policy.planLookup[alias], aliasOwner[alias] == nil {
                diags.error(
                    .alias_conflict,
                    "plans.\(policy.plans[plan].name).aliases: alias '\(alias)' collides with plan '\(policy.plans[other].name)'",
                    at: node.start, related: [policy.plans[other].location])
            } else if let (owner, loc) = aliasOwner[alias] {
                diags.error(
                    .alias_conflict,
                    "plans.\(policy.plans[plan].name).aliases: alias '\(alias)' already belongs to plan '\(policy.plans[owner].name)'",
                    at: node.start, related: [loc])
            } else {
                aliasOwner[alias] = (plan, node.start)
            }
        }
        // extends: plan keys only.
        for (index, node) in extendsNodes.sorted(by: { $0.key < $1.key }) {
            let target = node.scalarText ?? ""
            let path = "plans.\(policy.plans[index].name).extends"
            if let (owner, _) = aliasOwner[target] {
                diags.error(
                    .unknown_plan,
                    "\(path): '\(target)' is an alias of plan '\(policy.plans[owner].name)'; extends names plan keys",
                    at: node.start)
            } else if let parent = policy.planLookup[target] {
                policy.plans[index].parent = parent
            } else {
                diags.error(
                    .unknown_plan, "\(path): unknown plan '\(target)'" + Suggest.hint(target, policy.planLookup.keys),
                    at: node.start)
            }
        }
        for (alias, (plan, _)) in aliasOwner where policy.planLookup[alias] == nil { policy.planLookup[alias] = plan }
        reportInheritanceCycles()
    }

    /// Names each `extends` cycle once and cuts it so later passes terminate. One walk over the plans: each plan is
    /// visited once (a walk stops at a plan an earlier walk finished), so the pass is linear in the number of plans.
    mutating func reportInheritanceCycles() {
        // 0: not visited, 1: on the current walk, 2: finished.
        var state = [UInt8](repeating: 0, count: policy.plans.count)
        for start in policy.plans.indices where state[start] == 0 {
            var walk: [Int] = []
            var at: Int? = start
            while let i = at, state[i] == 0 {
                state[i] = 1
                walk.append(i)
                at = policy.plans[i].parent
            }
            for i in walk { state[i] = 2 }
            guard let repeatAt = at, let from = walk.firstIndex(of: repeatAt) else { continue }
            let cycle = Array(walk[from...])
            // Report at the plan declared first in the cycle, starting the walk there.
            let first = cycle.min { policy.plans[$0].location < policy.plans[$1].location }!
            let rotated = Array(cycle[cycle.firstIndex(of: first)!...] + cycle[..<cycle.firstIndex(of: first)!])
            let names = (rotated + [first]).map { policy.plans[$0].name }.joined(separator: " -> ")
            diags.error(
                .inheritance_cycle, "plans.\(policy.plans[first].name).extends: inheritance cycle \(names)",
                at: policy.plans[first].location, related: rotated.dropFirst().map { policy.plans[$0].location })
            policy.plans[first].parent = nil
        }
    }

    /// Resolves a plan name that must be a plan key (not an alias), reporting otherwise.
    mutating func planKey(_ node: YAMLNode, _ path: String) -> Int? {
        guard let name = string(node, path) else { return nil }
        if let i = policy.planLookup[name] {
            if policy.plans[i].name == name { return i }
            diags.error(
                .unknown_plan, "\(path): '\(name)' is an alias of plan '\(policy.plans[i].name)'; use the plan key",
                at: node.start)
            return nil
        }
        diags.error(
            .unknown_plan, "\(path): unknown plan '\(name)'" + Suggest.hint(name, policy.plans.map(\.name)),
            at: node.start)
        return nil
    }
}
