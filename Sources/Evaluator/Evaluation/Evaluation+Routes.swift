extension Evaluation {
    /// Splits `[METHOD ]/path`; nil when the route is not of that shape (`""`, `"GET"`).
    public static func splitRoute(_ route: String) -> (method: String?, path: Substring)? {
        let s = Substring(route)
        if s.first == "/" { return (nil, s) }
        guard let space = s.firstIndex(of: " ") else { return nil }
        let method = s[..<space]
        let rest = s[s.index(after: space)...]
        guard !method.isEmpty, rest.first == "/" else { return nil }
        return (String(method), rest)
    }

    /// Route check (SPEC §2.7): normalize, then run the guards in declaration order. The path is normalized into
    /// stack buffers and matched byte-wise; nothing is allocated unless a rule reads `request.path` or explain is on.
    /// (`PathNormalizer.withNormalized` does the same set-up for colder callers; written out here, the hot path
    /// switches on the normalizer's result in place — through the helper a route check cost 3 % more instructions.)
    mutating func routeCheck(method: String?, path rawPath: String) -> Decision {
        var raw = rawPath
        return raw.withUTF8 { rawBytes in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, rawBytes.count)) { out in
                withUnsafeTemporaryAllocation(of: (start: Int32, end: Int32).self, capacity: rawBytes.count / 2 + 1) {
                    segs in
                    let count: Int
                    switch PathNormalizer.normalize(
                        bytes: rawBytes, into: out.baseAddress!, segments: segs.baseAddress!)
                    {
                    case .failure(let failure):
                        var d = Decision(allowed: false, reason: nil)
                        d.invalidPath = failure.detail
                        tracer?.add("normalize", nil, nil, "invalid_path: \(failure.detail)")
                        return d
                    case .success(let c): count = c
                    }
                    var d = Self.withMethodBytes(method) {
                        guardDecision(methodBytes: $0, out.baseAddress!, segs.baseAddress!, count)
                    }
                    if let m = method, !RoutePattern.httpMethods.contains(where: { $0 == m }) {
                        d.unknownMethod = true
                        tracer?.add("method", nil, nil, "unknown_method: '\(m)' is not an upper-case HTTP method")
                    }
                    return d
                }
            }
        }
    }

    /// Runs `body` with the UTF-8 bytes of a route's method (nil when the route has none); the bytes live as long
    /// as the call.
    @inline(__always)
    static func withMethodBytes<R>(_ method: String?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard var m = method else { return body(nil) }
        return m.withUTF8 { body($0) }
    }

    private mutating func guardDecision(
        methodBytes: UnsafeBufferPointer<UInt8>?, _ path: UnsafePointer<UInt8>,
        _ segs: UnsafePointer<(start: Int32, end: Int32)>, _ count: Int
    ) -> Decision {
        inRoute = true
        requestMethod = methodBytes
        requestPath = (path, segs, count)
        defer {
            inRoute = false
            requestMethod = nil
            requestPath = nil
        }
        if let tracer {
            if case .string(let p) = requestField(.path) {
                tracer.add("normalize", nil, nil, "path normalized to \(p)")
            }
        }
        var skipped = false
        let guards = program.guards
        // Which guards apply and which of their allowlist entries match: one walk of the bundle's route automaton,
        // then only the applying guards, in declaration order (or guard by guard when the bundle has no automaton).
        guard let matcher = program.routeMatcher else {
            for gi in 0..<guards.count {
                let g = guards[gi]
                if !g.appliesEverywhere
                    && !g.appliesTo.contains(where: { $0.matches(method: methodBytes, path: path, segs, count) })
                {
                    traceNotApplying(gi..<gi + 1)
                    continue
                }
                var k = 0
                let outcome = runGuard(gi) {
                    while k < g.allowPatterns.count {
                        k += 1
                        if g.allowPatterns[k - 1].matches(method: methodBytes, path: path, segs, count) { return k - 1 }
                    }
                    return nil
                }
                switch outcome {
                case .denied(let d): return d
                case .skipped: skipped = true
                case .passed: break
                }
            }
            return traceDecision(skipped)
        }
        var items = matcher.matches(matcher.run(method: methodBytes, path: path, segs, count))
        let everywhere = matcher.everywhere
        var nextEverywhere = 0
        var traced = 0
        while true {
            var gi = Int.max
            if !items.isEmpty { gi = Int(matcher.match(at: items.lowerBound).guardIndex) }
            if nextEverywhere < everywhere.count { gi = min(gi, Int(everywhere[nextEverywhere])) }
            if gi == Int.max { break }
            if nextEverywhere < everywhere.count && Int(everywhere[nextEverywhere]) == gi { nextEverywhere += 1 }
            // This guard's matches: "applies" (entry -1) first, then its matching allowlist entries in order.
            var entries = items.lowerBound..<items.lowerBound
            while entries.upperBound < items.upperBound
                && Int(matcher.match(at: entries.upperBound).guardIndex) == gi
            {
                entries = entries.lowerBound..<entries.upperBound + 1
            }
            items = entries.upperBound..<items.upperBound
            traceNotApplying(traced..<gi)
            traced = gi + 1
            var e = entries.lowerBound
            let outcome = runGuard(gi) {
                while e < entries.upperBound {
                    e += 1
                    let m = matcher.match(at: e - 1)
                    if m.entry >= 0 { return Int(m.entry) }
                }
                return nil
            }
            switch outcome {
            case .denied(let d): return d
            case .skipped: skipped = true
            case .passed: break
            }
        }
        traceNotApplying(traced..<guards.count)
        return traceDecision(skipped)
    }

    private enum GuardOutcome {
        case passed, skipped
        case denied(Decision)
    }

    /// Explain: the guards in `range` do not apply to this route.
    @inline(__always)
    private mutating func traceNotApplying(_ range: Range<Int>) {
        guard let tracer else { return }
        for gi in range {
            tracer.add(
                "guard", "guards.\(program.policy.guards[gi].name).applies_to", program.policy.guards[gi].location,
                "does not apply")
        }
    }

    private mutating func traceDecision(_ skipped: Bool) -> Decision {
        tracer?.add("decision", nil, nil, skipped ? "allowed: allowlisted" : "allowed: every applicable guard passed")
        return .allow(skipped ? .allowlisted : .guards_passed)
    }

    /// Each guard's verdict for this account and user, routes aside — `passes`, or `denies (DENIAL)` — as the
    /// `guards.NAME` paths of the timeline and of webhook changes (on a route it applies to and does not allowlist).
    public mutating func guardStates() -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        for (gi, g) in program.policy.guards.enumerated() {
            let verdict = guardDenial(gi).map { "denies (\(program.policy.denials[$0].name))" } ?? "passes"
            out.append(("guards." + g.name, .string(verdict)))
        }
        return out
    }

    /// A guard's verdict for this account and user on a route it applies to and does not allowlist (SPEC §2.7's
    /// three steps): nil when it passes, else the denial it gives. What the timeline follows for every guard.
    mutating func guardDenial(_ gi: Int) -> Int? {
        let g = program.guards[gi]
        if user == nil && g.readsUser { return program.denyUnauthenticated }
        if holds(g.requires) { return nil }
        return !subscription.exists && g.readsSubscription ? program.denyNoSubscription : g.deny
    }

    /// One applying guard (SPEC §2.7): the first matching allowlist entry whose `when` is not false skips it;
    /// otherwise its `requires` decides. `nextEntry` yields the matching allowlist entries in order.
    @inline(__always)
    private mutating func runGuard(_ gi: Int, nextEntry: () -> Int?) -> GuardOutcome {
        let g = program.guards[gi]
        var allowedBy = -1
        while let k = nextEntry() {
            let whenRoot = g.allowWhen[k]
            let when = whenRoot >= 0 ? holds(whenRoot) : nil
            coverage?.allowlist.insert(.init(guardIndex: gi, entry: k, when: when))
            if when == false {
                let values = explainValues(whenRoot)
                tracer?.add(
                    "allowlist", "guards.\(program.policy.guards[gi].name).allow",
                    program.policy.guards[gi].allow[k].location,
                    "'\(program.policy.guards[gi].allow[k].pattern.text)' matches but its when is false", values: values
                )
                continue
            }
            allowedBy = k
            break
        }
        if allowedBy >= 0 {
            let values = explainValues(g.allowWhen[allowedBy])
            tracer?.add(
                "allowlist", "guards.\(program.policy.guards[gi].name).allow",
                program.policy.guards[gi].allow[allowedBy].location,
                "skipped: route allowlisted by '\(program.policy.guards[gi].allow[allowedBy].pattern.text)'",
                values: values
            )
            return .skipped
        }
        if user == nil && g.readsUser {
            tracer?.add(
                "guard", "guards.\(program.policy.guards[gi].name).requires",
                program.policy.guards[gi].requiresLocation,
                "denied: requires reads user.* and there is no user")
            var d = Decision.deny(program.denyUnauthenticated)
            d.guardIndex = gi
            coverage?.guardsDenied.insert(gi)
            return .denied(d)
        }
        let values = explainValues(g.requires)
        if holds(g.requires) {
            coverage?.guardsPassed.insert(gi)
            tracer?.add(
                "guard", "guards.\(program.policy.guards[gi].name).requires",
                program.policy.guards[gi].requiresLocation, "passed",
                values: values)
            return .passed
        }
        var d: Decision
        if !subscription.exists && g.readsSubscription {
            d = .deny(program.denyNoSubscription)
            tracer?.add(
                "guard", "guards.\(program.policy.guards[gi].name).requires",
                program.policy.guards[gi].requiresLocation,
                "denied: no subscription", values: values)
        } else {
            d = .deny(g.deny)
            tracer?.add(
                "guard", "guards.\(program.policy.guards[gi].name).requires",
                program.policy.guards[gi].requiresLocation,
                "denied: \(program.policy.denials[g.deny].name)", values: values)
        }
        d.guardIndex = gi
        coverage?.guardsDenied.insert(gi)
        return .denied(d)
    }
}
