extension Evaluation {
    func json(_ v: FeatureValue, feature f: Int) -> JSONValue { program.json(v, feature: f) }

    public static func json(_ v: FlagValue) -> JSONValue {
        switch v {
        case .bool(let b): .bool(b)
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        }
    }

    /// The body of a denial, with `${…}` evaluated against this account, user, request and check.
    mutating func writeBody(_ t: CompiledTemplate, _ w: inout JSONWriter) {
        for p in t.pieces {
            switch p.kind {
            case .bytes:
                t.pool.withUnsafeBufferPointer {
                    w.append(UnsafeBufferPointer(rebasing: $0[Int(p.start)..<Int(p.end)]))
                }
            case .value:
                let v = eval(p.expr)
                Self.write(v, &w)
            case .text:
                // Straight into the output, escaped as it goes: no intermediate string.
                let v = eval(p.expr)
                w.stringBody(v.text)
            }
        }
    }

    static func write(_ v: Value, _ w: inout JSONWriter) {
        switch v {
        case .timestamp(let t): w.timestamp(t)
        case .string(let s): w.string(s)
        case .int(let i): w.int(i)
        case .bool(let b): w.raw(b ? "true" : "false")
        case .null: w.raw("null")
        default: w.write(v.json)
        }
    }

    mutating func write(_ v: FeatureValue, feature f: Int, _ w: inout JSONWriter) {
        switch v {
        case .bool(let b): w.raw(b ? "true" : "false")
        case .limit(let l?): w.int(l)
        case .limit(nil): w.raw("\"unlimited\"")
        case .set(let members):
            w.append(UInt8(ascii: "["))
            for (k, m) in members.enumerated() {
                if k > 0 { w.append(UInt8(ascii: ",")) }
                w.string(program.policy.features[f].values[m])
            }
            w.append(UInt8(ascii: "]"))
        }
    }

    static func write(_ v: FlagValue, _ w: inout JSONWriter) {
        switch v {
        case .bool(let b): w.raw(b ? "true" : "false")
        case .string(let s): w.string(s)
        case .int(let i): w.int(i)
        }
    }

    /// Writes a decision as the result object of SPEC §4.
    public mutating func write(_ d: Decision, for check: Check, into w: inout JSONWriter) {
        w.raw(d.allowed ? "{\"allowed\":true" : "{\"allowed\":false")
        if let detail = d.invalidPath {
            w.raw(",\"error\":")
            w.raw("\"invalid_path\"")
            w.raw(",\"status\":")
            w.raw("400")
            w.raw(",\"body\":")
            w.raw("{}")
            w.raw(",\"detail\":")
            w.string(detail)
            finish(&w, d)
            return
        }
        var feature: Int?
        switch check {
        case .boolean(let f), .limit(let f, _, _), .set(let f, _): feature = f
        default: break
        }
        if d.allowed, let r = d.reason {
            switch r {
            case .plan: w.raw(",\"reason\":\"plan\"")
            case .override: w.raw(",\"reason\":\"override\"")
            case .default: w.raw(",\"reason\":\"default\"")
            case .guards_passed: w.raw(",\"reason\":\"guards_passed\"")
            case .allowlisted: w.raw(",\"reason\":\"allowlisted\"")
            case .flag_rule: w.raw(",\"reason\":\"flag_rule\"")
            case .flag_default: w.raw(",\"reason\":\"flag_default\"")
            }
        } else if d.denial >= 0 {
            w.append(program.denialPrefixes[d.denial])
            checkFeature = feature
            checkUsage = d.usage ?? (d.hasLimit ? 0 : nil)
            checkAmount = d.amount
            checkLimit = d.hasLimit ? d.limit : nil
            if case .route(let method, let path) = check {
                // The path is normalized only if the body reads `request.path` (most bodies do not). The method and
                // path are read through their bytes, alive while the body renders.
                inRoute = true
                var p = path
                p.withUTF8 { pathBytes in
                    renderedRoute = pathBytes
                    Self.withMethodBytes(method) { methodBytes in
                        requestMethod = methodBytes
                        writeBody(program.denialBodies[d.denial], &w)
                    }
                }
            } else {
                writeBody(program.denialBodies[d.denial], &w)
            }
            checkFeature = nil
            checkUsage = nil
            checkAmount = nil
            checkLimit = nil
            inRoute = false
            requestMethod = nil
            renderedRoute = nil
            if d.guardIndex >= 0 { w.append(program.guardMembers[d.guardIndex]) }
        }
        if let v = d.featureValue, let f = feature {
            w.raw(",\"value\":")
            write(v, feature: f, &w)
        }
        if let v = d.flagValue {
            w.raw(",\"value\":")
            Self.write(v, &w)
        }
        if d.hasLimit {
            w.raw(",\"limit\":")
            if let l = d.limit { w.int(l) } else { w.raw("\"unlimited\"") }
            w.raw(",\"remaining\":")
            if let r = d.remaining { w.int(r) } else { w.raw("null") }
        }
        finish(&w, d)
    }

    /// The warnings (account ones first, in SPEC §9's order, then `unknown_method`) and the trace.
    mutating func finish(_ w: inout JSONWriter, _ d: Decision) {
        if prepared.unknownPlan || prepared.unknownStatus || d.unknownMethod {
            w.raw(",\"warnings\":")
            w.write(.array((prepared.warnings + (d.unknownMethod ? ["unknown_method"] : [])).map { .string($0) }))
        }
        if let tracer {
            w.raw(",\"trace\":")
            w.write(.array(tracer.steps.map(\.json)))
        }
        w.append(UInt8(ascii: "}"))
    }

    /// Decides one check and writes its result; with explain on, the trace covers this check only.
    @discardableResult
    public mutating func writeResult(for check: Check, into w: inout JSONWriter) -> Decision {
        tracer?.steps.removeAll()
        let d = decide(check)
        write(d, for: check, into: &w)
        return d
    }

    /// Writes one result of a `/v1/check` response — a decision, or a check-level error — and tallies it.
    mutating func answer(
        _ c: borrowing Result<Check, CheckError>, _ program: Program, into w: inout JSONWriter,
        tally: inout DecisionTally
    ) {
        switch c {
        case .success(let check):
            let d = writeResult(for: check, into: &w)
            if d.allowed {
                tally.allowed += 1
            } else {
                tally.deny(
                    d.invalidPath != nil
                        ? "invalid_path" : d.denial >= 0 ? program.policy.denials[d.denial].name : "invalid_request")
            }
        case .failure(let e):
            w.write(e.json)
            tally.deny(e.code)
        }
    }

    /// Decides and renders one check as a JSON value (the bytes of `writeResult`, parsed).
    public mutating func result(for check: Check) -> JSONValue {
        var w = JSONWriter()
        writeResult(for: check, into: &w)
        return try! JSONParser.parse(w.bytes)
    }

    /// Decides and renders a decision as a JSON value.
    public mutating func render(_ d: Decision, for check: Check) -> JSONValue {
        var w = JSONWriter()
        write(d, for: check, into: &w)
        return try! JSONParser.parse(w.bytes)
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
        features.reserveCapacity(program.policy.features.count)
        for (f, feature) in program.policy.features.enumerated() {
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
                case .plan(let p): m.append(("source", .string("plan:" + program.policy.plans[p].name)))
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
        for i in program.policy.flags.indices {
            let d = flagCheck(i)
            flags.append((program.policy.flags[i].name, d.flagValue.map(Self.json) ?? .null))
        }
        var m: [(String, JSONValue)] = [
            ("policy", .string(program.digest)), ("now", .string(now.rfc3339)),
            ("account", prepared.account.id.map { .string($0) } ?? .null),
            ("subscription", subscriptionJSON), ("facts", .object(facts)), ("features", .object(features)),
            ("flags", .object(flags)),
        ]
        if prepared.unknownPlan || prepared.unknownStatus {
            m.append(("warnings", .array(prepared.warnings.map { .string($0) })))
        }
        return .object(m)
    }
}
