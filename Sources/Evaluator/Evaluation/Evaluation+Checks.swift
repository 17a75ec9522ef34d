extension Evaluation {
    /// Answers one check (SPEC §4). Allocates nothing unless explain is on or the route path needs decoding.
    public mutating func decide(_ check: Check) -> Decision {
        let d: Decision
        switch check {
        case .boolean(let f): d = booleanCheck(f)
        case .limit(let f, let usage, let amount): d = limitCheck(f, usage: usage ?? 0, amount: amount)
        case .set(let f, let v): d = setCheck(f, v)
        case .route(let method, let path): d = routeCheck(method: method, path: path)
        case .flag(let i): d = flagCheck(i)
        }
        if coverage != nil { recordCoverage(check, d) }
        return d
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
    mutating func lockedDecision(_ f: Int) -> Decision {
        var d = Decision.deny(denialForLock())
        d.featureValue = program.policy.features[f].zero
        if program.policy.features[f].kind == .limit {
            d.hasLimit = true
            d.limit = 0
            d.remaining = 0
        }
        tracer?.add(
            "decision", nil, nil, "denied: \(subscription.exists ? "subscription is not live" : "no subscription")")
        return d
    }

    mutating func booleanCheck(_ f: Int) -> Decision {
        traceSubscription()
        guard case .value(let v, let source) = effective(f) else { return lockedDecision(f) }
        traceGrant(f, source)
        var d: Decision
        if case .bool(true) = v {
            d = .allow(Self.reason(source))
        } else {
            d = .deny(program.denyFeature)
        }
        d.featureValue = v
        tracer?.add(
            "decision", "features.\(program.policy.features[f].name)", program.policy.features[f].location,
            d.allowed ? "allowed: value is true" : "denied: value is false")
        return d
    }

    mutating func limitCheck(_ f: Int, usage: Int64, amount: Int64) -> Decision {
        traceSubscription()
        guard case .value(let v, let source) = effective(f) else {
            var d = lockedDecision(f)
            d.usage = usage
            d.amount = amount
            return d
        }
        traceGrant(f, source)
        guard case .limit(let limit) = v else { return lockedDecision(f) }
        var d: Decision
        if let limit {
            let (total, overflow) = usage.addingReportingOverflow(amount)
            if !overflow && total <= limit {
                d = .allow(Self.reason(source))
                d.remaining = limit - total
            } else {
                d = .deny(program.denyLimit)
                d.remaining = max(0, limit - usage)
            }
            tracer?.add(
                "decision", "features.\(program.policy.features[f].name)", program.policy.features[f].location,
                "\(d.allowed ? "allowed" : "denied"): usage \(usage) + amount \(amount) against limit \(limit)")
        } else {
            d = .allow(Self.reason(source))
            d.remaining = nil
            tracer?.add(
                "decision", "features.\(program.policy.features[f].name)", program.policy.features[f].location,
                "allowed: unlimited")
        }
        d.featureValue = v
        d.hasLimit = true
        d.limit = limit
        d.usage = usage
        d.amount = amount
        return d
    }

    mutating func setCheck(_ f: Int, _ value: Int) -> Decision {
        traceSubscription()
        guard case .value(let v, let source) = effective(f) else { return lockedDecision(f) }
        traceGrant(f, source)
        var d: Decision
        if case .set(let members) = v, members.contains(value) {
            d = .allow(Self.reason(source))
        } else {
            d = .deny(program.denyFeature)
        }
        d.featureValue = v
        let word = program.policy.features[f].values[value]
        tracer?.add(
            "decision", "features.\(program.policy.features[f].name)", program.policy.features[f].location,
            d.allowed ? "allowed: '\(word)' is in the set" : "denied: '\(word)' is not in the set")
        return d
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
            let matched = eval(rule.root).truthy
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
