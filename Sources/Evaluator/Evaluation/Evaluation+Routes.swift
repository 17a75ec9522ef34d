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

    /// Route check (SPEC §2.7): normalize, then run the guards in declaration order.
    mutating func routeCheck(method: String?, path rawPath: String) -> Decision {
        var segments: [Substring] = []
        segments.reserveCapacity(8)
        if let failure = PathNormalizer.normalize(Substring(rawPath).utf8, into: &segments) {
            var d = Decision(allowed: false, reason: nil)
            d.invalidPath = failure.detail
            tracer?.add("normalize", nil, nil, "invalid_path: \(failure.detail)")
            return d
        }
        let normalized = "/" + segments.joined(separator: "/")
        request = (method, normalized)
        defer { request = nil }
        tracer?.add("normalize", nil, nil, "path normalized to \(normalized)")
        var skipped = false
        for (gi, g) in policy.guards.enumerated() {
            if !g.appliesTo.isEmpty && !g.appliesTo.contains(where: { matches($0, method, segments) }) {
                tracer?.add("guard", "guards.\(g.name).applies_to", g.location, "does not apply")
                continue
            }
            if let entry = allowlisted(g, method, segments) {
                skipped = true
                tracer?.add(
                    "allowlist", "guards.\(g.name).allow", g.allow[entry].location,
                    "skipped: route allowlisted by '\(g.allow[entry].pattern.text)'")
                continue
            }
            if user == nil && g.requiresReads.user {
                tracer?.add(
                    "guard", "guards.\(g.name).requires", g.requiresLocation,
                    "denied: requires reads user.* and there is no user")
                var d = Decision.deny(policy.denialLookup["unauthenticated"]!)
                d.guardIndex = gi
                return d
            }
            if eval(g.requires).truthy {
                tracer?.add("guard", "guards.\(g.name).requires", g.requiresLocation, "passed")
                continue
            }
            var d: Decision
            if !subscription.exists && g.requiresReads.subscription {
                d = .deny(policy.denialLookup["no_subscription"]!)
                tracer?.add("guard", "guards.\(g.name).requires", g.requiresLocation, "denied: no subscription")
            } else {
                d = .deny(g.deny)
                tracer?.add(
                    "guard", "guards.\(g.name).requires", g.requiresLocation, "denied: \(policy.denials[g.deny].name)")
            }
            d.guardIndex = gi
            return d
        }
        tracer?.add("decision", nil, nil, skipped ? "allowed: allowlisted" : "allowed: every applicable guard passed")
        return .allow(skipped ? .allowlisted : .guards_passed)
    }

    mutating func allowlisted(_ g: Guard, _ method: String?, _ segments: [Substring]) -> Int? {
        for (k, entry) in g.allow.enumerated() where matches(entry.pattern, method, segments) {
            if let when = entry.when {
                guard eval(when).truthy else {
                    tracer?.add(
                        "allowlist", "guards.\(g.name).allow", entry.location,
                        "'\(entry.pattern.text)' matches but its when is false")
                    continue
                }
            }
            return k
        }
        return nil
    }

    func matches(_ p: RoutePattern, _ method: String?, _ segments: [Substring]) -> Bool {
        if let m = p.method {
            guard let method, scalarsEqual(m, method) else { return false }
        }
        var i = 0
        for seg in p.segments {
            switch seg {
            case .rest: return true
            case .one:
                guard i < segments.count else { return false }
            case .literal(let l):
                guard i < segments.count, segments[i].utf8.elementsEqual(l.utf8) else { return false }
            }
            i += 1
        }
        return i == segments.count
    }
}
