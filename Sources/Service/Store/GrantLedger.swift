/// A grant on a limit feature (SPEC §7 "Grants"): an amount on top of the period's plan allowance, with an optional
/// expiry and a priority, drawn on by consumption once the allowance is used up.
struct StoredGrant: Sendable {
    var id: String
    var feature: String
    var amount: Int64
    /// What is left of it (at the instant it was read for).
    var remaining: Int64
    var priority: Int64
    var expiresAt: Timestamp?
    var createdAt: Timestamp
    /// Creation order within the account (ties of `createdAt`).
    var seq: Int64
    var voidedAt: Timestamp?
    var reason: String
    var actor: String
    /// Where it came from, when not from `POST …/grants` (a rollover: `{"rollover": {period_start, period_end}}`).
    var source: JSONValue? = nil

    /// Usable at `t`: created at or before it, not voided at or before it, and `t` before its expiry.
    func isActive(at t: Timestamp) -> Bool {
        createdAt <= t && (voidedAt.map { t < $0 } ?? true) && (expiresAt.map { t < $0 } ?? true)
    }

    var json: JSONValue {
        .object(
            [
                ("id", .string(id)), ("feature", .string(feature)), ("amount", .int(amount)),
                ("remaining", .int(remaining)), ("expires_at", expiresAt.map { .string($0.rfc3339) } ?? .null),
                ("priority", .int(priority)), ("reason", .string(reason)), ("actor", .string(actor)),
                ("created_at", .string(createdAt.rfc3339)),
                ("voided_at", voidedAt.map { .string($0.rfc3339) } ?? .null),
            ] + (source.map { [("source", $0)] } ?? []))
    }
}

/// How consumption draws on a limit's allowance and grants, and the balance at an instant. The period's allowance
/// is used first, then active grants by priority (higher first), then earliest expiry (none last), then oldest; a
/// consumption that needs more than one grant draws on each in that order, all or nothing.
enum GrantLedger {
    /// The columns `grant(_:)` reads (each name after `prefix`, a table alias).
    static func columns(prefix: String = "") -> String {
        [
            "grant_id", "feature", "amount", "used", "priority", "expires_s", "expires_n", "created_s", "created_n",
            "seq", "voided_s", "voided_n", "reason", "actor",
        ].map { prefix + $0 }.joined(separator: ", ")
    }

    static let columns = columns()

    /// Every unvoided grant of an account with what is left of it now (the state decisions read).
    static let unvoidedSQL = """
        SELECT \(columns) FROM ent_grants WHERE account_id = $1 AND voided_s IS NULL ORDER BY seq
        """

    static func grant(_ r: [String?]) -> StoredGrant {
        func int(_ i: Int) -> Int64 { Int64(r[i] ?? "0") ?? 0 }
        func at(_ i: Int) -> Timestamp? {
            guard let s = r[i].flatMap({ Int64($0) }), let n = r[i + 1].flatMap({ Int32($0) }) else { return nil }
            return Timestamp(seconds: s, nanos: n)
        }
        return StoredGrant(
            id: r[0] ?? "", feature: r[1] ?? "", amount: int(2), remaining: int(2) - int(3), priority: int(4),
            expiresAt: at(5), createdAt: at(7) ?? Timestamp(seconds: 0, nanos: 0), seq: int(9), voidedAt: at(10),
            reason: r[12] ?? "", actor: r[13] ?? "")
    }

    static func active(_ rows: Rows) -> [StoredGrant] { rows.values.map(grant) }

    /// An account's grants of `feature` (every feature when nil), each with what was left of it at `at` (draws
    /// after `at` not counted), in creation order.
    static func grants(_ db: DatabaseConnection, _ id: String, feature: String?, at: Timestamp) throws(StoreError)
        -> [StoredGrant]
    {
        try db.execute(
            """
            SELECT \(columns), (SELECT coalesce(sum(d.amount), 0) FROM ent_grant_draws d
              WHERE d.account_id = g.account_id AND d.grant_id = g.grant_id
                AND (d.at_s, d.at_n) <= ($3::bigint, $4::integer))
            FROM ent_grants g WHERE account_id = $1 AND ($2::text IS NULL OR feature = $2)
            ORDER BY seq
            """, [id, feature] + at.parameters
        ).values.map { r in
            var g = grant(r)
            g.remaining = g.amount - (Int64(r[14] ?? "0") ?? 0)
            return g
        }
    }

    /// Grants in the order consumption draws on them.
    static func burnOrder(_ grants: [StoredGrant]) -> [StoredGrant] {
        grants.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            switch (a.expiresAt, b.expiresAt) {
            case (let x?, let y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: break
            }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.seq < b.seq
        }
    }

    /// A limit's figures at an instant: the allowance (nil: unlimited), `limit` = allowance + active grants'
    /// amounts, and the balance (what can still be consumed; nil: unlimited). An account the limit is denied to
    /// (no subscription, not live) has a balance of 0 whatever its grants.
    struct View {
        var allowance: Int64?
        var limit: Int64?
        var balance: Int64?
        var entitled: Bool
    }

    /// `used`: the period's usage up to the instant; `granted`: the part of it grants covered; `grants`: the
    /// grants active at the evaluation's instant.
    static func balance(_ ev: inout Evaluation, feature f: Int, used: Int64, granted: Int64, grants: [StoredGrant])
        -> View
    {
        let d = ev.decide(.limit(feature: f, usage: 0, amount: 0))
        guard let allowance = d.limit else { return View(allowance: nil, limit: nil, balance: nil, entitled: true) }
        var limit = allowance
        var left: Int64 = 0
        for g in grants {
            limit = add(limit, g.amount)
            left = add(left, max(0, g.remaining))
        }
        guard d.allowed else { return View(allowance: allowance, limit: allowance, balance: 0, entitled: false) }
        let allowanceLeft = max(0, allowance - (used - granted))
        return View(allowance: allowance, limit: limit, balance: add(allowanceLeft, left), entitled: true)
    }

    /// The outcome of one consumption.
    struct Consumption {
        var decision: Decision
        /// The period's usage after it.
        var used: Int64
        var limit: Int64?
        /// The balance after it (nil: unlimited).
        var remaining: Int64?
        /// How much of it grants covered, and by which.
        var fromGrants: Int64 = 0
        var draws: [(grant: String, amount: Int64)] = []
    }

    /// Decides one consumption at the evaluation's instant against the period's usage (`used`, of which `granted`
    /// came from grants) and the account's grants (their `remaining` is reduced by what it draws).
    static func consume(
        _ ev: inout Evaluation, feature f: Int, amount: Int64, used: Int64, granted: Int64,
        grants: inout [StoredGrant], now: Timestamp
    ) -> Consumption {
        let allowanceUsed = used - granted
        let d = ev.decide(.limit(feature: f, usage: allowanceUsed, amount: amount))
        let active = grants.indices.filter { grants[$0].isActive(at: now) }
        guard let allowance = d.limit else {
            // Unlimited.
            return Consumption(decision: d, used: d.allowed ? add(used, amount) : used, limit: nil, remaining: nil)
        }
        let view = balance(
            &ev, feature: f, used: used, granted: granted, grants: active.map { grants[$0] })
        guard view.entitled else {
            return Consumption(decision: d, used: used, limit: allowance, remaining: max(0, allowance - allowanceUsed))
        }
        let limit = view.limit
        let balanceBefore = view.balance ?? 0
        guard amount <= balanceBefore else {
            return Consumption(decision: d, used: used, limit: limit, remaining: balanceBefore)
        }
        // Allowed: the allowance first, then the grants in burn order.
        let fromAllowance = min(amount, max(0, allowance - allowanceUsed))
        var need = amount - fromAllowance
        var draws: [(grant: String, amount: Int64)] = []
        let order = burnOrder(active.map { grants[$0] }).map(\.id)
        for id in order where need > 0 {
            guard let i = grants.firstIndex(where: { $0.id == id }), grants[i].remaining > 0 else { continue }
            let take = min(need, grants[i].remaining)
            grants[i].remaining -= take
            need -= take
            draws.append((id, take))
        }
        let decision = d.allowed ? d : ev.decide(.limit(feature: f, usage: 0, amount: 0))
        return Consumption(
            decision: decision, used: add(used, amount), limit: limit, remaining: balanceBefore - amount,
            fromGrants: amount - fromAllowance, draws: draws)
    }

    /// The rollover grant of limit feature `f` for the period containing `now` (SPEC: `rollover: {max,
    /// expires_after?}`): the allowance the previous period left unused, up to `max`, as a grant created at this
    /// period's start that lasts until its end (or `expires_after` from its start, when sooner). Computed from the
    /// records, never stored: the allowance is the account's at the previous period's last instant, its usage the
    /// records in it minus what grants covered; draws on it are recorded like any grant's (up to `drawsUpTo`).
    /// None for an account that was not there before this period (created after its start and no usage before it).
    static func rollover(
        _ db: DatabaseConnection, _ id: String, feature f: Int, program: Program, prepared: PreparedAccount,
        subscription: SubscriptionState?, createdAt: Timestamp?, now: Timestamp, drawsUpTo: Timestamp?
    ) throws(StoreError) -> StoredGrant? {
        let feature = program.policy.features[f]
        guard let rule = feature.rollover else { return nil }
        let current = UsageWindow.containing(now, period: feature.period, subscription: subscription)
        guard let start = current.start, let end = current.end else { return nil }
        let previousStart = start.oneCalendarMonthEarlier
        var existed = createdAt.map { $0 < start } ?? false
        if !existed {
            existed = try !db.execute(
                """
                SELECT 1 FROM ent_usage WHERE account_id = $1 AND feature = $2
                  AND (at_s, at_n) < ($3::bigint, $4::integer) LIMIT 1
                """, [id, feature.name] + start.parameters
            ).values.isEmpty
        }
        guard existed else { return nil }
        let lastInstant =
            start.nanos == 0
            ? Timestamp(seconds: start.seconds - 1, nanos: 999_999_999)
            : Timestamp(seconds: start.seconds, nanos: start.nanos - 1)
        var ev = Evaluation(program: program, account: prepared, user: nil, now: lastInstant)
        let d = ev.decide(.limit(feature: f, usage: 0, amount: 0))
        guard d.allowed, let allowance = d.limit else { return nil }
        let previous = UsageWindow(start: previousStart, end: start, shownStart: previousStart, shownEnd: start)
        let (used, granted) = try AccountStore.usedParts(db, id, feature.name, previous)
        let amount = min(rule.max, max(0, allowance - (used - granted)))
        guard amount > 0 else { return nil }
        let grantID = "rollover_\(feature.name)_\(start.rfc3339)"
        let drawn =
            Int64(
                try db.execute(
                    """
                    SELECT coalesce(sum(amount), 0) FROM ent_grant_draws WHERE account_id = $1 AND grant_id = $2
                      AND ($3::bigint IS NULL OR (at_s, at_n) <= ($3::bigint, $4::integer))
                    """, [id, grantID] + (drawsUpTo?.parameters ?? [nil, nil])
                ).first?[0] ?? "0") ?? 0
        var expires = end
        if let after = rule.expiresAfter, let e = start.adding(after), e < end { expires = e }
        return StoredGrant(
            id: grantID, feature: feature.name, amount: amount, remaining: amount - drawn, priority: 0,
            expiresAt: expires, createdAt: start, seq: 0, voidedAt: nil,
            reason: "allowance unused from \(previousStart.rfc3339) to \(start.rfc3339)", actor: "rollover",
            source: .object([
                (
                    "rollover",
                    .object([
                        ("period_start", .string(previousStart.rfc3339)), ("period_end", .string(start.rfc3339)),
                    ])
                )
            ]))
    }

    /// Addition that stops at Int64.max.
    static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (s, o) = a.addingReportingOverflow(b)
        return o ? Int64.max : s
    }
}

/// The grant writes and reads of `/v1/accounts/{id}/grants` (each write one transaction under the account's lock,
/// NOTIFYing like every other write so that other replicas drop the account).
extension AccountStore {
    /// A grant to create (validated by the handler); `request` is its body as the idempotency key names it.
    struct GrantRequest {
        var feature: String
        var amount: Int64
        var expiresAt: Timestamp?
        var priority: Int64
        var reason: String
        var actor: String
        var key: String
        var request: String
    }

    /// Creates a grant; a repeated idempotency key with the same body answers the first grant (`replayed`), with
    /// another body is refused.
    func createGrant(_ id: String, _ g: GrantRequest, now: Timestamp) throws(StoreError) -> Result<
        (grant: StoredGrant, replayed: Bool), StoreRefusal
    > {
        try write(id) { (db) throws(StoreError) in
            guard try !db.execute("SELECT 1 FROM ent_accounts WHERE account_id = $1", [id]).values.isEmpty else {
                return .failure(.unknownAccount)
            }
            if let first = try db.execute(
                "SELECT grant_id, request FROM ent_grants WHERE account_id = $1 AND idempotency_key = $2", [id, g.key]
            ).first {
                guard first[1].map({ $0.utf8.elementsEqual(g.request.utf8) }) ?? false else {
                    return .failure(.idempotencyKeyReused)
                }
                let grant = try GrantLedger.grants(db, id, feature: nil, at: now).first { $0.id == first[0] }
                guard let grant else { return .failure(.grantNotFound) }
                return .success((grant, true))
            }
            let grantID = "grt_" + String(UInt64.random(in: 1...UInt64.max), radix: 16)
            try db.execute(
                """
                INSERT INTO ent_grants (account_id, grant_id, feature, amount, priority, expires_s, expires_n,
                  created_s, created_n, seq, reason, actor, idempotency_key, request)
                SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce(max(seq), 0) + 1, $10, $11, $12, $13
                FROM ent_grants WHERE account_id = $1
                """,
                [id, grantID, g.feature, String(g.amount), String(g.priority)]
                    + (g.expiresAt?.parameters ?? [nil, nil]) + now.parameters
                    + [g.reason, g.actor, g.key, g.request])
            guard let grant = try GrantLedger.grants(db, id, feature: nil, at: now).first(where: { $0.id == grantID })
            else { return .failure(.grantNotFound) }
            try Self.appendAudit(
                db, id, now,
                [
                    ("action", .string("grant.create")), ("actor", .string(g.actor)), ("feature", .string(g.feature)),
                    ("old", .null), ("new", grant.json), ("reason", .string(g.reason)),
                ])
            return .success((grant, false))
        }
    }

    /// Voids a grant: what is left of it is gone from `now` on (audited). Voiding a voided grant changes nothing.
    func voidGrant(_ id: String, grant grantID: String, actor: String, reason: String, now: Timestamp)
        throws(StoreError) -> Result<StoredGrant, StoreRefusal>
    {
        try write(id) { (db) throws(StoreError) in
            guard let old = try GrantLedger.grants(db, id, feature: nil, at: now).first(where: { $0.id == grantID })
            else { return .failure(.grantNotFound) }
            if old.voidedAt != nil { return .success(old) }
            try db.execute(
                "UPDATE ent_grants SET voided_s = $3, voided_n = $4 WHERE account_id = $1 AND grant_id = $2",
                [id, grantID] + now.parameters)
            var voided = old
            voided.voidedAt = now
            try Self.appendAudit(
                db, id, now,
                [
                    ("action", .string("grant.void")), ("actor", .string(actor)), ("feature", .string(old.feature)),
                    ("old", old.json), ("new", voided.json), ("reason", .string(reason)),
                ])
            return .success(voided)
        }
    }

    /// Every grant of an account, what was left of each at `now`, in creation order; nil for an unknown account.
    func grants(_ id: String, now: Timestamp) throws(StoreError) -> [StoredGrant]? {
        try pool.withConnection { (db) throws(StoreError) in
            guard try !db.execute("SELECT 1 FROM ent_accounts WHERE account_id = $1", [id]).values.isEmpty else {
                return nil
            }
            return try GrantLedger.grants(db, id, feature: nil, at: now)
        }
    }
}
