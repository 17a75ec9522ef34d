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
                    if var m = method {
                        var d = m.withUTF8 { mb in
                            guardDecision(method: method, methodBytes: mb, out.baseAddress!, segs.baseAddress!, count)
                        }
                        if !RoutePattern.httpMethods.contains(where: { $0 == m }) {
                            d.unknownMethod = true
                            tracer?.add("method", nil, nil, "unknown_method: '\(m)' is not an upper-case HTTP method")
                        }
                        return d
                    }
                    return guardDecision(method: nil, methodBytes: nil, out.baseAddress!, segs.baseAddress!, count)
                }
            }
        }
    }

    private mutating func guardDecision(
        method: String?, methodBytes: UnsafeBufferPointer<UInt8>?, _ path: UnsafePointer<UInt8>,
        _ segs: UnsafePointer<(start: Int32, end: Int32)>, _ count: Int
    ) -> Decision {
        request = (method, "")
        requestPath = (path, segs, count)
        defer {
            request = nil
            requestPath = nil
        }
        if let tracer {
            if case .string(let p) = requestField(.path) {
                tracer.add("normalize", nil, nil, "path normalized to \(p)")
            }
        }
        var skipped = false
        let guards = program.guards
        for gi in 0..<guards.count {
            let g = guards[gi]
            if !g.appliesTo.isEmpty {
                var applies = false
                for p in g.appliesTo where p.matches(method: methodBytes, path: path, segs, count) {
                    applies = true
                    break
                }
                if !applies {
                    tracer?.add(
                        "guard", "guards.\(policy.guards[gi].name).applies_to", policy.guards[gi].location,
                        "does not apply")
                    continue
                }
            }
            var allowedBy = -1
            for (k, entry) in g.allow.enumerated()
            where entry.pattern.matches(method: methodBytes, path: path, segs, count) {
                let when = entry.when >= 0 ? eval(entry.when).truthy : nil
                coverage?.allowlist.insert(.init(guardIndex: gi, entry: k, when: when))
                if when == false {
                    let values = explainValues(entry.when)
                    tracer?.add(
                        "allowlist", "guards.\(policy.guards[gi].name).allow", policy.guards[gi].allow[k].location,
                        "'\(policy.guards[gi].allow[k].pattern.text)' matches but its when is false", values: values)
                    continue
                }
                allowedBy = k
                break
            }
            if allowedBy >= 0 {
                skipped = true
                let values = explainValues(g.allow[allowedBy].when)
                tracer?.add(
                    "allowlist", "guards.\(policy.guards[gi].name).allow", policy.guards[gi].allow[allowedBy].location,
                    "skipped: route allowlisted by '\(policy.guards[gi].allow[allowedBy].pattern.text)'", values: values
                )
                continue
            }
            if user == nil && g.readsUser {
                tracer?.add(
                    "guard", "guards.\(policy.guards[gi].name).requires", policy.guards[gi].requiresLocation,
                    "denied: requires reads user.* and there is no user")
                var d = Decision.deny(program.denyUnauthenticated)
                d.guardIndex = gi
                coverage?.guardsDenied.insert(gi)
                return d
            }
            let values = explainValues(g.requires)
            if eval(g.requires).truthy {
                coverage?.guardsPassed.insert(gi)
                tracer?.add(
                    "guard", "guards.\(policy.guards[gi].name).requires", policy.guards[gi].requiresLocation, "passed",
                    values: values)
                continue
            }
            var d: Decision
            if !subscription.exists && g.readsSubscription {
                d = .deny(program.denyNoSubscription)
                tracer?.add(
                    "guard", "guards.\(policy.guards[gi].name).requires", policy.guards[gi].requiresLocation,
                    "denied: no subscription", values: values)
            } else {
                d = .deny(g.deny)
                tracer?.add(
                    "guard", "guards.\(policy.guards[gi].name).requires", policy.guards[gi].requiresLocation,
                    "denied: \(policy.denials[g.deny].name)", values: values)
            }
            d.guardIndex = gi
            coverage?.guardsDenied.insert(gi)
            return d
        }
        tracer?.add("decision", nil, nil, skipped ? "allowed: allowlisted" : "allowed: every applicable guard passed")
        return .allow(skipped ? .allowlisted : .guards_passed)
    }
}
