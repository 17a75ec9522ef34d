extension BundleCompiler {
    mutating func compileSubscription() {
        guard let node = subscriptionNode else { return }
        var config = SubscriptionConfig.defaults
        config.location = node.start
        guard let f = fields(node, "subscription", allowed: PolicyShape.subscription.names)
        else { return }
        if let s = f["statuses"] {
            guard case .mapping(let pairs) = s.value.kind else {
                diags.error(
                    .invalid_type,
                    "subscription.statuses must be a mapping of status to {live}, got \(describe(s.value))",
                    at: s.value.start)
                return
            }
            config.statuses = []
            for (k, v) in pairs {
                let name = k.scalarText ?? ""
                guard checkKeyName(name, "status", at: k.start) else { continue }
                let path = "subscription.statuses.\(name)"
                guard let sf = fields(v, path, allowed: PolicyShape.status.names, required: PolicyShape.status.required)
                else { continue }
                if let d = sf["description"] { _ = string(d.value, "\(path).description") }
                guard let live = sf["live"]?.value else { continue }
                if case .bool(let b)? = live.resolved {
                    config.statuses.append(.init(name: name, live: .always(b), location: k.start))
                } else if let (expr, _) = expression(live, "\(path).live", context: .live) {
                    if ![.bool, .null, .dynamic].contains(expr.type) {
                        diags.error(
                            .type_mismatch, "\(path).live must be a bool expression, got \(expr.type)", at: live.start)
                        continue
                    }
                    config.statuses.append(.init(name: name, live: .rule(expr, live.start), location: k.start))
                }
            }
        }
        if let u = f["unknown_status"], let s = string(u.value, "subscription.unknown_status") {
            switch s {
            case "locked": config.unknownStatusLive = false
            case "live": config.unknownStatusLive = true
            default:
                diags.error(
                    .invalid_value,
                    "subscription.unknown_status must be 'locked' or 'live', got '\(s)'"
                        + Suggest.hint(s, ["locked", "live"]),
                    at: u.value.start)
            }
        }
        if let t = f["trial"],
            let tf = fields(
                t.value, "subscription.trial", allowed: PolicyShape.trial.names, required: PolicyShape.trial.required)
        {
            let plan = tf["plan"].flatMap { planKey($0.value, "subscription.trial.plan") }
            let length = tf["length"].flatMap { duration($0.value, "subscription.trial.length") }
            var warning: PolicyDuration?
            var urgent: PolicyDuration?
            if let st = tf["stages"],
                let sf = fields(st.value, "subscription.trial.stages", allowed: PolicyShape.stages.names)
            {
                warning = sf["warning"].flatMap { duration($0.value, "subscription.trial.stages.warning") }
                urgent = sf["urgent"].flatMap { duration($0.value, "subscription.trial.stages.urgent") }
                if let w = warning, let u = urgent, u > w, let un = sf["urgent"] {
                    diags.error(
                        .invalid_value,
                        "subscription.trial.stages.urgent (\(u)) must not be longer than warning (\(w))",
                        at: un.value.start)
                }
                if let w = warning, let l = length, w > l, let wn = sf["warning"] {
                    diags.error(
                        .invalid_value, "subscription.trial.stages.warning (\(w)) is longer than the trial (\(l))",
                        at: wn.value.start)
                }
            }
            if let plan, let length {
                config.trial = .init(
                    plan: plan, length: length, warning: warning, urgent: urgent, location: t.key.start)
            }
        }
        if let l = f["locked_grants"], let s = string(l.value, "subscription.locked_grants"), s != "none" {
            config.lockedGrants = planKey(l.value, "subscription.locked_grants")
        }
        policy.subscription = config
    }
}
