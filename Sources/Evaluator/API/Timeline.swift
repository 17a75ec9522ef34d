/// An account's lifecycle over a span of time: every instant in it where what the account gets changes, each with
/// the rules that put a boundary there and what changed (subscription state, features, facts, flags, guards,
/// routes). A guard is followed as on a route it applies to and does not allowlist: `passes` or `denies (DENIAL)`.
///
/// Boundaries are computed, not sampled: the candidates are every instant a rule of the policy compares `now`
/// with (found at compile time, evaluated for this account and user), the trial stages (period end minus the
/// warning and urgent lengths), the stored period and past-due instants, the overrides' expiries and the user's
/// instants; each candidate is evaluated, and only those where the state differs from the one before are kept.
/// Between two boundaries nothing changes but `subscription.days_remaining`, which counts down daily and is left out.
public enum Timeline {
    /// One route to follow along the timeline: `METHOD /path` (or a path alone).
    public struct Route: Sendable {
        public var method: String?
        public var path: String
        public var label: String
        public init(method: String?, path: String, label: String) {
            self.method = method
            self.path = path
            self.label = label
        }
    }

    /// A decoded `POST /v1/timeline` body: `{account, user?, from?, to?, routes?}`.
    public struct Request: Sendable {
        public var account: AccountReference
        public var user: User?
        public var from: Timestamp?
        public var to: Timestamp?
        public var routes: [Route]
    }

    /// At most this many routes are followed in one request.
    public static let maxRoutes = 200

    /// A request's `routes` member: at most `maxRoutes` strings, each `METHOD /path` or `/path`.
    public static func routes(_ value: JSONValue) throws(RequestError) -> [Route] {
        guard case .array(let items) = value else {
            throw RequestError(detail: "routes must be an array of 'METHOD /path' strings", path: "routes")
        }
        guard items.count <= maxRoutes else {
            throw RequestError(detail: "at most \(maxRoutes) routes", path: "routes")
        }
        return try items.enumerated().map { (k, item) throws(RequestError) in
            guard case .string(let line) = item, let (method, path) = Evaluation.splitRoute(line) else {
                throw RequestError(
                    detail: "routes[\(k)] must be a 'METHOD /path' or '/path' string", path: "routes[\(k)]")
            }
            return Route(method: method, path: String(path), label: line)
        }
    }

    /// Decodes a `POST /v1/timeline` body; errors as for `/v1/check` bodies.
    public static func decode(_ program: Program, body: [UInt8]) -> Result<Request, RequestError> {
        do throws(RequestError) {
            let m = try RequestDecoder.bodyMembers(body, allowed: ["account", "user", "from", "to", "routes"])
            let (account, user, _) = try RequestDecoder(program: program).subject(
                m.filter { $0.key == "account" || $0.key == "user" })
            let from = try RequestDecoder.timestamp(m["from"], "from")
            let to = try RequestDecoder.timestamp(m["to"], "to")
            if let from, let to, !(from < to) { throw RequestError(detail: "from must be before to", path: "from") }
            let routes = try m["routes"].map { (r) throws(RequestError) in try Self.routes(r) } ?? []
            return .success(Request(account: account, user: user, from: from, to: to, routes: routes))
        } catch {
            return .failure(error)
        }
    }

    /// The state at `from` and every boundary in `(from, to]`, as JSON (the `POST /v1/timeline` answer).
    public static func compute(
        _ program: Program, account: PreparedAccount, user: User?, from: Timestamp, to: Timestamp, routes: [Route]
    ) -> JSONValue {
        let candidates = Self.candidates(program, account: account, user: user, from: from, to: to)
        func state(_ now: Timestamp) -> [(String, JSONValue)] {
            var out = Self.state(program, account: account, user: user, at: now)
            var ev = Evaluation(program: program, account: account, user: user, now: now)
            for r in routes {
                let d = ev.decide(.route(method: r.method, path: r.path))
                out.append(("routes.\(r.label)", routeOutcome(program, d)))
            }
            return out
        }

        let start = state(from)
        var previous = start
        var boundaries: [JSONValue] = []
        var i = 0
        while i < candidates.count {
            let at = candidates[i].at
            var causes: [String] = []
            while i < candidates.count && candidates[i].at == at {
                if !causes.contains(candidates[i].cause) { causes.append(candidates[i].cause) }
                i += 1
            }
            let now = state(at)
            let changes: [JSONValue] = differences(from: previous, to: now).map {
                .object([("what", .string($0.path)), ("before", $0.from), ("after", $0.to)])
            }
            previous = now
            guard !changes.isEmpty else { continue }
            boundaries.append(
                .object([
                    ("at", .string(at.rfc3339)), ("causes", .array(causes.map { .string($0) })),
                    ("changes", .array(changes)), ("notifies", .bool(notifies(program, account: account, at: at))),
                ]))
        }
        return .object([
            ("policy", .string(program.digest)), ("from", .string(from.rfc3339)), ("to", .string(to.rfc3339)),
            ("start", .object(start)), ("boundaries", .array(boundaries)),
        ])
    }

    /// What an account gets at `now`, by timeline path (`subscription.stage`, `features.sso.value`, `facts.X`,
    /// `flags.X`, `guards.X`, ...): the snapshot's leaves without `now`, `policy` and the daily
    /// `subscription.days_remaining`, then whether each guard's `requires` holds.
    /// Two states differ exactly when a boundary lies between their instants.
    public static func state(_ program: Program, account: PreparedAccount, user: User?, at now: Timestamp)
        -> [(String, JSONValue)]
    {
        var ev = Evaluation(program: program, account: account, user: user, now: now)
        var out: [(String, JSONValue)] = []
        flatten(ev.snapshot(), "", &out)
        out.removeAll { $0.0 == "now" || $0.0 == "policy" || $0.0 == "subscription.days_remaining" }
        // A limit's active grants add to it (their expiries and voids are boundaries).
        var granted: [(Int, Int64)] = []
        for g in account.account.grants {
            let add = g.isActive(at: now) ? g.remaining : 0
            if let k = granted.firstIndex(where: { $0.0 == g.feature }) {
                granted[k].1 = Evaluation.saturatingAdd(granted[k].1, add)
            } else {
                granted.append((g.feature, add))
            }
        }
        for (f, left) in granted { out.append(("grants.\(program.policy.features[f].name).remaining", .int(left))) }
        return out + ev.guardStates()
    }

    /// The first boundary strictly after `after` and no later than `horizon`: the instant the account's state
    /// (as `state` shows it) next changes, or nil when it does not change in that span. This is what the
    /// notifier keeps per stored account to send time-caused changes at their instant.
    public static func nextChange(
        _ program: Program, account: PreparedAccount, after: Timestamp, horizon: Timestamp
    ) -> Timestamp? {
        guard after < horizon else { return nil }
        var previous = state(program, account: account, user: nil, at: after)
        var last: Timestamp?
        for c in candidates(program, account: account, user: nil, from: after, to: horizon) where c.at != last {
            last = c.at
            let now = state(program, account: account, user: nil, at: c.at)
            if !same(now, previous) { return c.at }
            previous = now
        }
        return nil
    }

    /// Whether a stored account's webhooks announce a change at `at` (an `entitlements.changed` with cause `time`):
    /// its state without a user differs just before and at `at`. Route outcomes and user instants alone do not
    /// notify.
    public static func notifies(_ program: Program, account: PreparedAccount, at: Timestamp) -> Bool {
        let before =
            at.nanos == 0
            ? Timestamp(seconds: at.seconds - 1, nanos: 999_999_999)
            : Timestamp(
                seconds: at.seconds, nanos: at.nanos - 1)
        return !same(
            state(program, account: account, user: nil, at: before), state(program, account: account, user: nil, at: at)
        )
    }

    /// Every path whose value differs between two states, in the new state's order, then the paths that left (a
    /// path on one side only has null on the other).
    public static func differences(from old: [(String, JSONValue)], to new: [(String, JSONValue)]) -> [(
        path: String, from: JSONValue, to: JSONValue
    )] {
        let before = Dictionary(old, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new, uniquingKeysWith: { a, _ in a })
        var out: [(path: String, from: JSONValue, to: JSONValue)] = []
        for (path, v) in new where before[path] != v { out.append((path, before[path] ?? .null, v)) }
        for (path, v) in old where after[path] == nil { out.append((path, v, .null)) }
        return out
    }

    /// Whether two states hold the same paths with the same values (in any order).
    public static func same(_ a: [(String, JSONValue)], _ b: [(String, JSONValue)]) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x.0 != y.0 || x.1 != y.1 {
            let other = Dictionary(b, uniquingKeysWith: { v, _ in v })
            return a.allSatisfy { other[$0.0] == $0.1 }
        }
        return true
    }

    /// Every instant in `(from, to]` where something may change for this account and user, with its cause, sorted.
    static func candidates(
        _ program: Program, account: PreparedAccount, user: User?, from: Timestamp, to: Timestamp
    ) -> [(at: Timestamp, cause: String)] {
        var candidates: [(at: Timestamp, cause: String)] = []
        func add(_ t: Timestamp?, _ cause: String) {
            guard let t, from < t, !(to < t) else { return }
            candidates.append((t, cause))
        }
        let sub = account.account.subscription
        let config = program.policy.subscription
        add(sub?.periodStart, "subscription.period_start")
        add(sub?.periodEnd, "subscription.period_end")
        add(sub?.pastDueSince, "subscription.past_due_since")
        add(sub?.endedAt, "subscription.ended_at")
        if let end = sub?.periodEnd, let trial = config.trial {
            if let w = trial.warning { add(end.subtracting(w), "trial warning stage (period_end - \(w))") }
            if let u = trial.urgent { add(end.subtracting(u), "trial urgent stage (period_end - \(u))") }
        }
        for o in account.account.overrides {
            add(o.expiresAt, "overrides.\(program.policy.features[o.feature].name) expires")
        }
        for g in account.account.grants {
            let name = program.policy.features[g.feature].name
            add(g.createdAt, "grants.\(name) (\(g.amount)) starts")
            add(g.expiresAt, "grants.\(name) (\(g.amount)) expires")
            add(g.voidedAt, "grants.\(name) (\(g.amount)) voided")
        }
        add(user?.createdAt, "user.created_at")
        add(user?.emailVerifiedAt, "user.email_verified_at")
        // Instants the policy's rules compare `now` with, for this account and user. A rule may compare with a
        // derived value (`subscription.locked_at + 30d`) that itself changes over time, so the rules are evaluated
        // at the span's ends and at every candidate found so far, until no new instant appears.
        var probed = Set<Timestamp>()
        var probes = [from, to] + candidates.map(\.at)
        for _ in 0..<4 where !probes.isEmpty {
            var next: [Timestamp] = []
            for at in probes where probed.insert(at).inserted {
                var probe = Evaluation(program: program, account: account, user: user, now: at)
                for r in program.instantRules {
                    guard case .timestamp(let t) = probe.eval(r.root) else { continue }
                    let instant = r.after ? Self.nanosecond(after: t) : t
                    if !candidates.contains(where: { $0.at == instant && $0.cause == r.origin }) {
                        add(instant, r.origin)
                        next.append(instant)
                    }
                }
            }
            probes = next
        }
        candidates.sort { $0.at < $1.at }
        return candidates
    }

    /// The span shown when none is asked for: from a day before the earliest of the account's and user's instants
    /// (or `now`) to 45 days after the latest (a 30-day window after the period's end fits), at least 60 days.
    public static func defaultSpan(account: Account, user: User?, now: Timestamp) -> (from: Timestamp, to: Timestamp) {
        let s = account.subscription
        let instants =
            [s?.periodStart, s?.periodEnd, s?.pastDueSince, s?.endedAt, user?.createdAt, user?.emailVerifiedAt]
            .compactMap { $0 } + account.overrides.compactMap(\.expiresAt) + account.grants.compactMap(\.expiresAt)
        let day = PolicyDuration(seconds: 86_400)
        let first = instants.min() ?? now
        let last = instants.max() ?? now
        let from = first.subtracting(day) ?? first
        var to = last.adding(PolicyDuration(seconds: 45 * 86_400)) ?? last
        if let least = from.adding(PolicyDuration(seconds: 60 * 86_400)), to < least { to = least }
        return (from, to)
    }

    static func nanosecond(after t: Timestamp) -> Timestamp {
        t.nanos == 999_999_999
            ? Timestamp(seconds: t.seconds + 1, nanos: 0) : Timestamp(seconds: t.seconds, nanos: t.nanos + 1)
    }

    /// `allowed` (with the reason), or `denied: ERROR` and the deciding guard.
    static func routeOutcome(_ program: Program, _ d: Decision) -> JSONValue {
        if d.allowed { return .string("allowed (\(d.reason?.rawValue ?? ""))") }
        if let detail = d.invalidPath { return .string("denied: invalid_path (\(detail))") }
        let error = d.denial >= 0 ? program.policy.denials[d.denial].name : "denied"
        let by = d.guardIndex >= 0 ? " by \(program.policy.guards[d.guardIndex].name)" : ""
        return .string("denied: \(error)\(by)")
    }

    /// Leaves of a JSON value by dotted path (`features.sso.value`); lists stay whole.
    static func flatten(_ v: JSONValue, _ prefix: String, _ out: inout [(String, JSONValue)]) {
        if case .object(let members) = v {
            for (k, x) in members { flatten(x, prefix.isEmpty ? k : "\(prefix).\(k)", &out) }
        } else {
            out.append((prefix, v))
        }
    }
}
