extension Evaluation {
    /// Answers one check (SPEC §4). Allocates nothing unless explain is on or the route path needs decoding.
    public mutating func decide(_ check: Check) -> Decision {
        guard coverage == nil else {
            let d = decision(check)
            recordCoverage(check, d)
            return d
        }
        // Returned straight from the check: a decision held in a local and then returned is moved field by field.
        return decision(check)
    }

    @inline(__always) mutating func decision(_ check: Check) -> Decision {
        switch check {
        case .boolean(let f): return booleanCheck(f)
        case .limit(let f, let usage, let amount): return limitCheck(f, usage: usage ?? 0, amount: amount)
        case .set(let f, let v): return setCheck(f, v)
        case .route(let method, let path): return routeCheck(method: method, path: path)
        case .flag(let i): return flagCheck(i)
        }
    }

    static func reason(_ s: Source) -> Reason {
        switch s {
        case .plan: .plan
        case .default: .default
        case .override: .override
        }
    }

    mutating func traceGrant(_ f: Int, _ source: Source) {
        guard let tracer else { return }
        let feature = program.policy.features[f]
        switch source {
        case .plan(let p):
            let loc = program.policy.plans[p].grants.last { $0.feature == f }?.location
            tracer.add(
                "grant", "plans.\(program.policy.plans[p].name).grants.\(feature.name)", loc,
                "granted by plan '\(program.policy.plans[p].name)'")
        case .default:
            tracer.add(
                "grant", "features.\(feature.name).default", feature.location,
                "no plan grants it; the feature default applies")
        case .override(let exp):
            tracer.add("grant", "override", nil, "account override" + (exp.map { " until \($0.rfc3339)" } ?? ""))
        }
    }

    mutating func traceSubscription() {
        guard let tracer else { return }
        guard let sub = prepared.account.subscription else {
            tracer.add("subscription", nil, nil, "the account has no subscription")
            return
        }
        let status = sub.status ?? "null"
        if prepared.status >= 0 {
            let s = program.policy.subscription.statuses[prepared.status]
            var loc = s.location
            if case .rule(_, let at) = s.live { loc = at }
            let values = explainValues(program.statusRoots[prepared.status])
            tracer.add(
                "subscription", "subscription.statuses.\(s.name).live", loc,
                "status '\(status)' is \(subscription.live ? "live" : "not live")", values: values)
        } else {
            tracer.add(
                "subscription", "subscription.unknown_status", program.policy.subscription.location,
                "status '\(status)' is not listed: \(subscription.live ? "live" : "not live")")
        }
        if !subscription.live, let lp = program.policy.subscription.lockedGrants {
            tracer.add(
                "subscription", "subscription.locked_grants", program.policy.subscription.location,
                "locked: grants of plan '\(program.policy.plans[lp].name)' apply")
        }
        if sub.plan != nil || subscription.live, prepared.plan == nil {
            tracer.add("subscription", nil, nil, "plan '\(sub.plan ?? "null")' is unknown: feature defaults only")
        }
    }

    /// A denied feature check for a locked or subscription-less account carries the zero value.
    /// (Decisions are built in one expression at the end: one built and then changed is copied whole on return.)
    mutating func lockedDecision(_ f: Int, usage: Int64? = nil, amount: Int64? = nil) -> Decision {
        let isLimit = program.policy.features[f].kind == .limit
        tracer?.add(
            "decision", nil, nil, "denied: \(subscription.exists ? "subscription is not live" : "no subscription")")
        return Decision(
            allowed: false, reason: nil, denial: denialForLock(), featureValue: program.policy.features[f].zero,
            hasLimit: isLimit, limit: isLimit ? 0 : nil, remaining: isLimit ? 0 : nil, usage: usage, amount: amount)
    }

    /// The trace step of a feature check's decision (`result` is built only when tracing).
    func traceFeatureDecision(_ f: Int, _ result: @autoclosure () -> String) {
        guard let tracer else { return }
        tracer.add(
            "decision", "features.\(program.policy.features[f].name)", program.policy.features[f].location, result())
    }

    /// A boolean or set check's decision: allowed for the grant's reason, or denied as `feature_not_in_plan`.
    @inline(__always) func featureDecision(_ allowed: Bool, _ source: Source, _ v: FeatureValue) -> Decision {
        Decision(
            allowed: allowed, reason: allowed ? Self.reason(source) : nil, denial: allowed ? -1 : program.denyFeature,
            featureValue: v)
    }

    mutating func booleanCheck(_ f: Int) -> Decision {
        if tracer != nil { traceSubscription() }
        guard case .value(let v, let source) = effective(f) else { return lockedDecision(f) }
        if tracer != nil { traceGrant(f, source) }
        let allowed: Bool
        if case .bool(true) = v { allowed = true } else { allowed = false }
        traceFeatureDecision(f, allowed ? "allowed: value is true" : "denied: value is false")
        return featureDecision(allowed, source, v)
    }

    mutating func limitCheck(_ f: Int, usage: Int64, amount: Int64) -> Decision {
        if tracer != nil { traceSubscription() }
        guard case .value(let v, let source) = effective(f) else {
            return lockedDecision(f, usage: usage, amount: amount)
        }
        if tracer != nil { traceGrant(f, source) }
        guard case .limit(let limit) = v else { return lockedDecision(f) }
        let allowed: Bool
        let remaining: Int64?
        var shownLimit = limit
        if let limit, let (granted, left) = activeGrants(f) {
            // The allowance left, then the active grants' remaining amounts (SPEC §7 "Grants").
            let balance = Self.saturatingAdd(max(0, limit - usage), left)
            allowed = amount <= balance
            remaining = allowed ? balance - amount : balance
            shownLimit = Self.saturatingAdd(limit, granted)
            traceFeatureDecision(
                f,
                "\(allowed ? "allowed" : "denied"): amount \(amount) against a balance of \(balance) (allowance \(limit), "
                    + "usage \(usage), grants \(left) left)")
        } else if let limit {
            let (total, overflow) = usage.addingReportingOverflow(amount)
            allowed = !overflow && total <= limit
            remaining = allowed ? limit - total : max(0, limit - usage)
            traceFeatureDecision(
                f, "\(allowed ? "allowed" : "denied"): usage \(usage) + amount \(amount) against limit \(limit)")
        } else {
            allowed = true
            remaining = nil
            traceFeatureDecision(f, "allowed: unlimited")
        }
        return Decision(
            allowed: allowed, reason: allowed ? Self.reason(source) : nil, denial: allowed ? -1 : program.denyLimit,
            featureValue: v, hasLimit: true, limit: shownLimit, remaining: remaining, usage: usage, amount: amount)
    }

    /// The amounts and remaining amounts of the account's grants on `f` active at now; nil when it has none.
    func activeGrants(_ f: Int) -> (amount: Int64, remaining: Int64)? {
        var any = false
        var amount: Int64 = 0
        var remaining: Int64 = 0
        for g in prepared.account.grants where g.feature == f && g.isActive(at: now) {
            any = true
            amount = Self.saturatingAdd(amount, g.amount)
            remaining = Self.saturatingAdd(remaining, max(0, g.remaining))
        }
        return any ? (amount, remaining) : nil
    }

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? Int64.max : s
    }

    mutating func setCheck(_ f: Int, _ value: Int) -> Decision {
        if tracer != nil { traceSubscription() }
        guard case .value(let v, let source) = effective(f) else { return lockedDecision(f) }
        if tracer != nil { traceGrant(f, source) }
        let allowed: Bool
        if case .set(let members) = v, members.contains(value) { allowed = true } else { allowed = false }
        traceFeatureDecision(
            f,
            allowed
                ? "allowed: '\(program.policy.features[f].values[value])' is in the set"
                : "denied: '\(program.policy.features[f].values[value])' is not in the set")
        return featureDecision(allowed, source, v)
    }

    mutating func flagCheck(_ i: Int) -> Decision {
        let flag = program.policy.flags[i]
        var d = Decision.allow(.flag_default)
        d.flagValue = flag.defaultValue
        let rules = program.flagRules[i]
        for k in 0..<rules.count {
            let rule = rules[k]
            if rule.readsUser && user == nil {
                tracer?.add(
                    "flag_rule", "flags.\(flag.name).rules[\(k)]", flag.rules[k].location,
                    "skipped: reads user.* and the caller is anonymous")
                continue
            }
            let matched = holds(rule.root)
            let values = explainValues(rule.root)
            tracer?.add(
                "flag_rule", "flags.\(flag.name).rules[\(k)]", flag.rules[k].location,
                matched ? "matched" : "did not match", values: values)
            if matched {
                coverage?.flagRules.insert([i, k])
                d.reason = .flag_rule
                d.flagValue = rule.value
                return d
            }
        }
        tracer?.add("flag_default", "flags.\(flag.name).default", flag.location, "no rule matched: the default applies")
        coverage?.flagDefaults.insert(i)
        return d
    }
}
