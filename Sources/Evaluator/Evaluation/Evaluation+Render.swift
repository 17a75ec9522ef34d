extension Evaluation {
    /// JSON of a feature value: boolean; limit as integer or `"unlimited"`; set as a list in vocabulary order.
    func json(_ v: FeatureValue, feature f: Int) -> JSONValue {
        switch v {
        case .bool(let b): return .bool(b)
        case .limit(let l): return l.map { .int($0) } ?? .string("unlimited")
        case .set(let members): return .array(members.map { .string(policy.features[f].values[$0]) })
        }
    }

    static func json(_ v: FlagValue) -> JSONValue {
        switch v {
        case .bool(let b): .bool(b)
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        }
    }

    /// The body of a denial, with `${…}` evaluated against this account, user, request and check.
    mutating func body(_ t: CompiledTemplate) -> JSONValue {
        switch t {
        case .constant(let j): return j
        case .expr(let root): return eval(root).json
        case .interpolated(let parts):
            var s = ""
            for p in parts { s += p.text ?? eval(p.expr).text }
            return .string(s)
        case .list(let items): return .array(items.map { body($0) })
        case .object(let members): return .object(members.map { ($0.key, body($0.value)) })
        }
    }

    /// Renders a decision as the result object of SPEC §4.
    public mutating func render(_ d: Decision, for check: Check) -> JSONValue {
        var m: [(String, JSONValue)] = [("allowed", .bool(d.allowed))]
        if let detail = d.invalidPath {
            m += [
                ("error", .string("invalid_path")), ("status", .int(400)), ("body", .object([])),
                ("detail", .string(detail)),
            ]
            return finish(m)
        }
        var feature: Int?
        switch check {
        case .boolean(let f), .limit(let f, _, _), .set(let f, _): feature = f
        default: break
        }
        if d.allowed, let r = d.reason {
            m.append(("reason", .string(r.rawValue)))
        } else if d.denial >= 0 {
            let denial = policy.denials[d.denial]
            checkFeature = feature
            checkUsage = d.usage ?? (d.hasLimit ? 0 : nil)
            checkAmount = d.amount
            checkLimit = d.hasLimit ? d.limit : nil
            if case .route(let method, let path) = check {
                var segs: [Substring] = []
                _ = PathNormalizer.normalize(Substring(path).utf8, into: &segs)
                request = (method, "/" + segs.joined(separator: "/"))
            }
            let b = body(program.denialBodies[d.denial])
            checkFeature = nil
            checkUsage = nil
            checkAmount = nil
            checkLimit = nil
            request = nil
            m += [("error", .string(denial.name)), ("status", .int(Int64(denial.status))), ("body", b)]
            if d.guardIndex >= 0 { m.append(("guard", .string(policy.guards[d.guardIndex].name))) }
        }
        if let v = d.featureValue, let f = feature { m.append(("value", json(v, feature: f))) }
        if let v = d.flagValue { m.append(("value", Self.json(v))) }
        if d.hasLimit {
            m.append(("limit", d.limit.map { .int($0) } ?? .string("unlimited")))
            m.append(("remaining", d.remaining.map { .int($0) } ?? .null))
        }
        return finish(m)
    }

    func finish(_ members: [(String, JSONValue)]) -> JSONValue {
        var m = members
        if prepared.unknownPlan { m.append(("warnings", .array([.string("unknown_plan")]))) }
        if let tracer { m.append(("trace", .array(tracer.steps.map(\.json)))) }
        return .object(m)
    }

    /// Decides and renders one check; with explain on, the trace covers this check only.
    public mutating func result(for check: Check) -> JSONValue {
        tracer?.steps.removeAll()
        let d = decide(check)
        return render(d, for: check)
    }

    // MARK: - Snapshot (SPEC §6.2)

    public mutating func snapshot() -> JSONValue {
        let sub = prepared.account.subscription
        func ts(_ t: Timestamp?) -> JSONValue { t.map { .string($0.rfc3339) } ?? .null }
        let subscriptionJSON: JSONValue = .object([
            ("status", sub?.status.map { .string($0) } ?? .null),
            ("plan", planName.map { .string($0) } ?? .null),
            ("live", .bool(subscription.live)),
            ("stage", stageName.map { .string($0) } ?? .null),
            ("days_remaining", subscription.daysRemaining.map { .int($0) } ?? .null),
            ("period_start", ts(sub?.periodStart)),
            ("period_end", ts(sub?.periodEnd)),
            ("locked_at", ts(subscription.lockedAt)),
        ])
        var features: [(String, JSONValue)] = []
        features.reserveCapacity(policy.features.count)
        for (f, feature) in policy.features.enumerated() {
            switch effective(f) {
            case .noSubscription:
                features.append(
                    (
                        feature.name,
                        .object([("value", json(feature.zero, feature: f)), ("source", .string("no_subscription"))])
                    ))
            case .inactive:
                features.append(
                    (feature.name, .object([("value", json(feature.zero, feature: f)), ("source", .string("locked"))])))
            case .value(let v, let source):
                var m: [(String, JSONValue)] = [("value", json(v, feature: f))]
                switch source {
                case .plan(let p): m.append(("source", .string("plan:" + policy.plans[p].name)))
                case .default: m.append(("source", .string("default")))
                case .override(let exp):
                    m.append(("source", .string("override")))
                    if let exp { m.append(("expires_at", .string(exp.rfc3339))) }
                }
                features.append((feature.name, .object(m)))
            }
        }
        let facts = self.facts().map { ($0.0, JSONValue.bool($0.1)) }
        var flags: [(String, JSONValue)] = []
        for i in policy.flags.indices {
            let d = flagCheck(i)
            flags.append((policy.flags[i].name, d.flagValue.map(Self.json) ?? .null))
        }
        var m: [(String, JSONValue)] = [
            ("policy", .string(program.digest)), ("now", .string(now.rfc3339)),
            ("account", prepared.account.id.map { .string($0) } ?? .null),
            ("subscription", subscriptionJSON), ("facts", .object(facts)), ("features", .object(features)),
            ("flags", .object(flags)),
        ]
        if prepared.unknownPlan { m.append(("warnings", .array([.string("unknown_plan")]))) }
        return .object(m)
    }
}
