import Synchronization

/// An account as stored: its subscription and attributes as they were sent (JSON), and its overrides.
struct StoredAccount: Sendable {
    var id: String
    /// The §6.1 subscription object, or `.null` when the account has none.
    var subscription: JSONValue
    /// An object.
    var attributes: JSONValue
    var overrides: [StoredOverride]
    /// Unvoided grants, with what is left of each now (decisions on stored accounts count the active ones).
    var grants: [StoredGrant] = []

    /// The §6.1 account with its overrides.
    var json: JSONValue {
        .object([
            ("id", .string(id)), ("subscription", subscription), ("overrides", .array(overrides.map(\.json))),
            ("attributes", attributes),
        ])
    }

    /// The account as the evaluator sees it under `program`. Overrides of features the bundle no longer has, or
    /// whose value no longer fits the feature, are left out (a reload may remove or retype a feature).
    func account(_ program: Program) -> Account {
        let decoder = RequestDecoder(program: program)
        var a = Account(id: id)
        if case .object = subscription { a.subscription = try? decoder.subscription(subscription, "subscription") }
        for o in overrides {
            if let ov = try? decoder.override(o.json, "override") { a.overrides.append(ov) }
        }
        for g in grants {
            guard let f = program.featureID(g.feature), program.policy.features[f].kind == .limit else { continue }
            a.grants.append(
                AccountGrant(
                    feature: f, amount: g.amount, remaining: g.remaining, expiresAt: g.expiresAt,
                    createdAt: g.createdAt, voidedAt: g.voidedAt))
        }
        if case .object(let m) = attributes {
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(m.count)
            for (k, v) in m { out[k] = v }
            a.attributes = out
        }
        return a
    }

    /// `{subscription, attributes}`: what account audit entries record as old and new.
    var state: JSONValue { .object([("subscription", subscription), ("attributes", attributes)]) }
}

/// A per-account override as stored (SPEC §6.3).
struct StoredOverride: Sendable {
    var feature: String
    var value: JSONValue
    /// An RFC 3339 string, or `.null`.
    var expiresAt: JSONValue
    var reason: String
    var actor: String

    var json: JSONValue {
        .object([
            ("feature", .string(feature)), ("value", value), ("expires_at", expiresAt), ("reason", .string(reason)),
            ("actor", .string(actor)),
        ])
    }
    /// `{value, expires_at}`: what override audit entries record.
    var auditValue: JSONValue { .object([("value", value), ("expires_at", expiresAt)]) }
}

/// The half-open window `[start, end)` of instants a usage period covers; nil bounds are open (lifetime).
struct UsageWindow: Sendable {
    var start: Timestamp?
    var end: Timestamp?
    /// The period's dates as answered (`period_start`, `period_end`): null for lifetime usage.
    var shownStart: Timestamp?
    var shownEnd: Timestamp?

    /// The period of `feature` containing `now` (SPEC §6.3): the calendar month (UTC); the subscription's billing
    /// period when both its dates are set and contain now, else the calendar month; the rolling `(now − 24h, now]`;
    /// or the whole lifetime.
    static func containing(_ now: Timestamp, period: Feature.Period, subscription: SubscriptionState?) -> UsageWindow {
        switch period {
        case .none: return UsageWindow()
        case .rolling24h:
            // (now − 24h, now] on the half-open clock: [now − 24h + 1 ns, now + 1 ns).
            let start = now.subtracting(PolicyDuration(seconds: 86_400)).map { $0.plusOneNanosecond }
            return UsageWindow(
                start: start, end: now.plusOneNanosecond, shownStart: now.subtracting(PolicyDuration(seconds: 86_400)),
                shownEnd: now)
        case .billing:
            if let s = subscription?.periodStart, let e = subscription?.periodEnd, s <= now, now < e {
                return UsageWindow(start: s, end: e, shownStart: s, shownEnd: e)
            }
            fallthrough
        case .month:
            let (s, e) = now.calendarMonth
            return UsageWindow(start: s, end: e, shownStart: s, shownEnd: e)
        }
    }
}

extension UsageWindow {
    func contains(_ t: Timestamp) -> Bool { (start.map { t >= $0 } ?? true) && (end.map { t < $0 } ?? true) }

    /// `period_start`, `period_end` as answered.
    var periodFields: [(String, JSONValue)] {
        [
            ("period_start", shownStart.map { .string($0.rfc3339) } ?? .null),
            ("period_end", shownEnd.map { .string($0.rfc3339) } ?? .null),
        ]
    }
}

extension Timestamp {
    var plusOneNanosecond: Timestamp {
        nanos == 999_999_999 ? Timestamp(seconds: seconds + 1, nanos: 0) : Timestamp(seconds: seconds, nanos: nanos + 1)
    }
    /// `(seconds, nanoseconds)` as statement parameters.
    var parameters: [String?] { [String(seconds), String(nanos)] }
}

/// Why a write was refused (the handlers answer these as errors; nothing was written).
enum StoreRefusal: Error {
    case unknownAccount
    case unknownPlan(String?)
    case planNotAssignable(plan: String, source: String)
    case noTrial
    case trialAlreadyUsed
    case overrideNotFound
    case notALimit(String)
    /// An idempotency key first used with another request body (feature, amount).
    case idempotencyKeyReused
    case grantNotFound
}

/// The outcome of `PUT /v1/accounts/{id}`.
enum PutOutcome {
    case applied(created: Bool, StoredAccount)
    /// A duplicate or stale event: acknowledged, nothing changed. The account as it is (nil: none).
    case ignored(reason: String, StoredAccount?)
}

/// A change to an account's state (`PUT /v1/accounts/{id}`), validated by the handler.
struct AccountChange {
    /// nil: leave the stored subscription; `.null`: remove it; an object: replace it.
    var subscription: JSONValue?
    /// The plan of a replacing subscription (for the assignability check).
    var plan: String?
    /// nil: leave the stored attributes.
    var attributes: JSONValue?
    var source: AssignSource
    var event: (id: String, time: Timestamp)?
    var actor: String

    var withoutEvent: AccountChange {
        var c = self
        c.event = nil
        return c
    }
}

/// The PostgreSQL account store (SPEC §6.3, §7): accounts, overrides, the audit log, usage records, processed event
/// ids and trial history. Every write is one transaction holding the account's advisory lock, so writes to one
/// account are serialized across replicas (and usage can never pass a limit); a 2xx is answered only after the
/// commit.
final class AccountStore: Sendable {
    let pool: ConnectionPool
    /// This replica's account cache, kept fresh by NOTIFY (nil: every decision reads the database).
    let cache: AccountCache?
    let listener: StoreListener?
    let batcher: UsageBatcher
    /// Standbys for reads (`--database-read-url`), and what this replica has acknowledged or been notified of, so
    /// that a read there is never older than that; nil without standbys.
    let standbys: Standbys?
    let positions: CommitPositions?
    /// Cache misses, read in one statement per group of waiting requests.
    let coldReader: ColdReader
    /// The cache's warm-up, when `serve --warm` asked for one.
    let warming = Mutex<Warmup?>(nil)
    let billing: BillingBatcher
    /// Signalled after a commit that wrote outbox rows: wakes this replica's delivery workers.
    let outbox = OutboxSignal()
    /// The NOTIFY channel every write announces its account on.
    static let channel = "entitlements_accounts"

    init(pool: ConnectionPool, cache: AccountCache? = nil, listener: StoreListener? = nil, standbys: Standbys? = nil) {
        self.pool = pool
        self.cache = cache
        self.listener = listener
        self.standbys = standbys
        positions = standbys == nil ? nil : CommitPositions()
        listener?.positions = positions
        batcher = UsageBatcher(pool: pool, writers: max(1, pool.size / 2), outbox: outbox)
        coldReader = ColdReader(primary: pool, standbys: standbys, readers: max(1, pool.size / 4))
        billing = BillingBatcher(pool: pool, writers: max(1, pool.size / 4))
    }

    /// The pool a read about `id` (nil: about many accounts) goes to: a standby that has replayed everything this
    /// replica knows of, else the primary.
    func readPool(for id: String?) -> ConnectionPool {
        guard let standbys, let positions else { return pool }
        let required = id.map { positions.required($0) } ?? positions.highest
        return standbys.pick(required: required)?.pool ?? pool
    }

    /// Runs a read on a standby when one is fresh enough for `id`, else (or when the standby fails) on the primary.
    func read<T>(about id: String?, _ body: (DatabaseConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        let chosen = readPool(for: id)
        if chosen !== pool {
            do {
                return try chosen.withConnection(body)
            } catch {
                standbys?.all.first { $0.pool === chosen }?.failed(error)
            }
        }
        return try pool.withConnection(body)
    }

    /// After a commit that changed `ids`: where the primary's log is now (at or after that commit), so that reads on
    /// standbys about these accounts wait for it to be replayed. Only with standbys.
    func noteCommit(_ ids: [String], on connection: DatabaseConnection? = nil) {
        guard let positions else { return }
        let sql = "SELECT pg_current_wal_insert_lsn()::text"
        let row: [String?]?
        if let connection {
            row = try? connection.execute(sql).first
        } else {
            row = try? pool.withConnection { (db) throws(StoreError) in try db.execute(sql).first }
        }
        if let lsn = CommitPositions.parse(row?[0] ?? nil) {
            positions.committed(ids, at: lsn)
        } else {
            // Not learnt: no standby answers until the listener reconnects and learns where the log is.
            positions.raiseFloor(to: .max)
        }
    }

    /// What health and metrics show of the store.
    var health: StoreHealth {
        StoreHealth(
            connected: pool.reachable.load(ordering: .relaxed), listening: listener?.listening ?? false,
            cachedAccounts: cache?.count ?? 0, hitRatio: cache?.hitRatio ?? 0,
            lastLagSeconds: Double(listener?.lastLagMicros.load(ordering: .relaxed) ?? 0) / 1e6,
            maxLagSeconds: Double(listener?.maxLagMicros.load(ordering: .relaxed) ?? 0) / 1e6,
            notifications: listener?.notifications.load(ordering: .relaxed) ?? 0,
            standbys: standbys?.all.map(\.json) ?? [], warmup: warming.withLock { $0 }?.json)
    }

    func migrate() throws(StoreError) { try Schema.migrate(pool) }

    /// Whether the database answers.
    func ping() -> Bool { (try? pool.withConnection { (db) throws(StoreError) in try db.execute("SELECT 1") }) != nil }

    // MARK: - Reads

    func load(_ id: String) throws(StoreError) -> StoredAccount? {
        try read(about: id) { (db) throws(StoreError) in try Self.load(db, id) }
    }

    static func load(_ db: DatabaseConnection, _ id: String) throws(StoreError) -> StoredAccount? {
        guard
            let row = try db.execute(
                "SELECT subscription, attributes FROM ent_accounts WHERE account_id = $1", [id]
            ).first
        else { return nil }
        var account = StoredAccount(
            id: id, subscription: withEndedAt(json(row[0]) ?? .null), attributes: json(row[1]) ?? .object([]),
            overrides: [])
        for o in try db.execute(
            "SELECT feature, value, expires_at, reason, actor FROM ent_overrides WHERE account_id = $1 ORDER BY feature COLLATE \"C\"",
            [id]
        ).values {
            account.overrides.append(
                StoredOverride(
                    feature: o[0] ?? "", value: json(o[1]) ?? .null, expiresAt: o[2].map { .string($0) } ?? .null,
                    reason: o[3] ?? "", actor: o[4] ?? ""))
        }
        account.grants = try db.execute(GrantLedger.unvoidedSQL, [id]).values.map(GrantLedger.grant)
        return account
    }

    /// A subscription stored before `ended_at` existed reads back with it, null, before `seats` (SPEC §6.1's shape).
    static func withEndedAt(_ subscription: JSONValue) -> JSONValue {
        guard case .object(var members) = subscription, !members.contains(where: { $0.0 == "ended_at" }) else {
            return subscription
        }
        members.insert(("ended_at", .null), at: members.firstIndex { $0.0 == "seats" } ?? members.endIndex)
        return .object(members)
    }

    /// The usage recorded in window `w`.
    static func used(_ db: DatabaseConnection, _ id: String, _ feature: String, _ w: UsageWindow) throws(StoreError)
        -> Int64
    {
        try usedParts(db, id, feature, w).used
    }

    /// The usage recorded in window `w`, and the part of it grants covered.
    static func usedParts(_ db: DatabaseConnection, _ id: String, _ feature: String, _ w: UsageWindow)
        throws(StoreError) -> (used: Int64, granted: Int64)
    {
        let s = usedStatement(id, feature, w)
        return usedParts(try db.execute(s.sql, s.parameters))
    }

    /// Reads a window's usage from the running totals: the total of the last record before the window's end minus
    /// that of the last record before its start (two index probes however many records the account has).
    static func usedStatement(_ id: String, _ feature: String, _ w: UsageWindow) -> (sql: String, parameters: [String?])
    {
        let s = usedStatement([(id, feature, w)])
        return (s.sql, s.parameters)
    }

    /// The same for many windows at once: rows `(ordinal, used, granted)`, ordinal 1-based.
    static func usedStatement(_ windows: [(id: String, feature: String, w: UsageWindow)]) -> (
        sql: String, parameters: [String?]
    ) {
        // Open bounds become bounds past every record (an open end) or before every record (an open start), so
        // both probes stay index range scans.
        (
            """
            SELECT w.i, coalesce(hi.total, 0) - coalesce(lo.total, 0),
              coalesce(hi.granted_total, 0) - coalesce(lo.granted_total, 0)
            FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::bigint[], $6::integer[])
              WITH ORDINALITY w(id, feature, lo_s, lo_n, hi_s, hi_n, i)
            LEFT JOIN LATERAL (
              SELECT total, granted_total FROM ent_usage
              WHERE account_id = w.id AND feature = w.feature
                AND (at_s, at_n) < (coalesce(w.hi_s, 9223372036854775807), coalesce(w.hi_n, 0))
              ORDER BY at_s DESC, at_n DESC, total DESC LIMIT 1) hi ON true
            LEFT JOIN LATERAL (
              SELECT total, granted_total FROM ent_usage
              WHERE account_id = w.id AND feature = w.feature
                AND (at_s, at_n) < (coalesce(w.lo_s, -9223372036854775808), coalesce(w.lo_n, 0))
              ORDER BY at_s DESC, at_n DESC, total DESC LIMIT 1) lo ON true
            """,
            [
                pgArray(windows.map(\.id)), pgArray(windows.map(\.feature)),
                pgArray(windows.map { $0.w.start.map { String($0.seconds) } }),
                pgArray(windows.map { $0.w.start.map { String($0.nanos) } }),
                pgArray(windows.map { $0.w.end.map { String($0.seconds) } }),
                pgArray(windows.map { $0.w.end.map { String($0.nanos) } }),
            ]
        )
    }

    static func usedParts(_ rows: Rows) -> (used: Int64, granted: Int64) {
        let row = rows.first ?? []
        guard row.count == 3 else { return (0, 0) }
        return (Int64(row[1] ?? "0") ?? 0, Int64(row[2] ?? "0") ?? 0)
    }

    /// Accounts by id (bytewise order), after `after`, at most `limit`; whether more follow.
    func list(after: String?, limit: Int) throws(StoreError) -> ([(id: String, subscription: JSONValue)], Bool) {
        try read(about: nil) { (db) throws(StoreError) in
            let rows = try db.execute(
                """
                SELECT account_id, subscription FROM ent_accounts
                WHERE $1::text IS NULL OR account_id COLLATE "C" > $1::text COLLATE "C"
                ORDER BY account_id COLLATE "C" LIMIT $2
                """, [after, String(limit + 1)]
            ).values
            let page = rows.prefix(limit).map { (id: $0[0] ?? "", subscription: Self.json($0[1]) ?? .null) }
            return (Array(page), rows.count > limit)
        }
    }

    /// Audit entries of an account, newest first, strictly before `before`; whether more follow. nil when the
    /// account never had an entry and does not exist.
    func audit(_ id: String, before: Timestamp?, limit: Int) throws(StoreError) -> ([JSONValue], Bool)? {
        try read(about: id) { (db) throws(StoreError) in
            let b = before?.parameters ?? [nil, nil]
            let rows = try db.execute(
                """
                SELECT entry FROM ent_audit
                WHERE account_id = $1 AND ($2::bigint IS NULL OR (at_s, at_n) < ($2::bigint, $3::integer))
                ORDER BY seq DESC LIMIT $4
                """, [id] + b + [String(limit + 1)]
            ).values
            if rows.isEmpty {
                let any = try db.execute(
                    "SELECT 1 FROM ent_accounts WHERE account_id = $1 UNION ALL SELECT 1 FROM ent_audit WHERE account_id = $1 LIMIT 1",
                    [id])
                if any.isEmpty { return nil }
            }
            let entries = rows.prefix(limit).map { Self.json($0[0]) ?? .null }
            return (Array(entries), rows.count > limit)
        }
    }

    // MARK: - Writes (each one transaction under the account's lock)

    /// One write transaction on one account, under its advisory lock, announced to every replica with NOTIFY
    /// (delivered at commit) and dropped from this replica's cache as soon as it committed. The payload is the
    /// writer's clock in nanoseconds, a tab, and the account id (the lag is measured from it).
    /// (`notifies: false`: the body sends the notification itself, with `notifyParameters`, when it changed
    /// something.)
    func write<T>(_ id: String, notifies: Bool = true, _ body: (DatabaseConnection) throws(StoreError) -> T)
        throws(StoreError) -> T
    {
        let value = try pool.withConnection(locking: true) { (db) throws(StoreError) in
            db.outboxRows = 0
            let value = try db.transaction { (db) throws(StoreError) in
                try db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [id])
                let value = try body(db)
                if notifies { try db.execute("SELECT pg_notify($1, $2)", Self.notifyParameters(id)) }
                return value
            }
            // With standbys: where the log is after the commit, on the same connection, before the 2xx.
            noteCommit([id], on: db)
            if db.outboxRows > 0 { outbox.signal() }
            return value
        }
        cache?.invalidate(id)
        return value
    }

    /// The channel and payload announcing a change to account `id`.
    static func notifyParameters(_ id: String) -> [String?] {
        let now = Clock.now()
        return [channel, "\(now.seconds * 1_000_000_000 + Int64(now.nanos))\t\(id)"]
    }

    /// An account as the cache keeps it: prepared for `program`, with the usage of every limit feature around
    /// `now` (an id that is not stored gives an entry that says so). One statement, shared with the other misses
    /// waiting at the same moment, on a standby when one has replayed far enough (`ColdReader`).
    func cachedAccount(_ id: String, program: Program, now: Timestamp) throws(StoreError) -> CachedAccount {
        try coldReader.read(
            ColdReader.Job(id: id, program: program, now: now, required: positions?.required(id) ?? 0))
    }

    func put(_ id: String, _ change: AccountChange, program: Program, now: Timestamp) throws(StoreError) -> Result<
        PutOutcome, StoreRefusal
    > {
        try write(id) { (db) throws(StoreError) in
            let current = try Self.load(db, id)
            if let event = change.event, let reason = try Self.ignoredEvent(db, id, event) {
                return .success(.ignored(reason: reason, current))
            }
            if case .object = change.subscription,
                let refusal = Self.planRefusal(current, change.plan, change.source, program)
            {
                return .failure(refusal)
            }
            let next = try Self.apply(db, id, current, change, program: program, now: now)
            return .success(.applied(created: current == nil, next))
        }
    }

    /// Why an event is acknowledged without applying it (SPEC §6.3, §9): `duplicate` when its id was applied to
    /// this account before, else `stale` when it is older than the last applied event; nil: apply it.
    static func ignoredEvent(_ db: DatabaseConnection, _ id: String, _ event: (id: String, time: Timestamp))
        throws(StoreError) -> String?
    {
        // Duplicates first, then staleness, both before the plan is validated (SPEC §9).
        if !(try db.execute("SELECT 1 FROM ent_events WHERE account_id = $1 AND event_id = $2", [id, event.id])
            .isEmpty)
        {
            return "duplicate"
        }
        let last = try db.execute("SELECT last_event_s, last_event_n FROM ent_accounts WHERE account_id = $1", [id])
            .first
        if let s = last?[0].flatMap({ Int64($0) }), let n = last?[1].flatMap({ Int32($0) }),
            event.time < Timestamp(seconds: s, nanos: n)
        {
            return "stale"
        }
        return nil
    }

    /// Why a replacing subscription's plan may not be stored: checked on creation and whenever the plan changes
    /// (compared after alias resolution).
    static func planRefusal(_ current: StoredAccount?, _ plan: String?, _ source: AssignSource, _ program: Program)
        -> StoreRefusal?
    {
        let lookup = program.policy.planLookup
        let old = current.flatMap { $0.subscription["plan"] }.flatMap { p -> Int? in
            if case .string(let s) = p { return lookup[s] }
            return nil
        }
        let new = plan.flatMap { lookup[$0] }
        guard current == nil || old == nil || new != old else { return nil }
        guard let new else { return .unknownPlan(plan) }
        if !program.policy.plans[new].isAssignable(via: source) {
            return .planNotAssignable(plan: plan ?? "", source: source.rawValue)
        }
        return nil
    }

    /// Stores a validated change: the account, the event it came with (remembered, and its time as the last
    /// applied), the trial it started, and its audit entry. The account as stored.
    static func apply(
        _ db: DatabaseConnection, _ id: String, _ current: StoredAccount?, _ change: AccountChange, program: Program,
        now: Timestamp, complete: Bool = true
    ) throws(StoreError) -> StoredAccount {
        // The webhook outbox (SPEC §6.7) compares whole accounts: a caller that read the account without its
        // overrides (`complete: false`, the Stripe path) has them read here.
        let whole = complete ? current : try current.flatMap { _ throws(StoreError) in try Self.load(db, id) }
        let baseline = try Outbox.begin(db, id, whole, program: program, now: now)
        let (next, statement) = applying(id, current, change, program: program, now: now)
        try db.execute(statement.sql, statement.parameters)
        var after = next
        after.overrides = whole?.overrides ?? []
        try Outbox.finish(db, id, after, baseline: baseline, program: program, now: now)
        return next
    }

    /// `apply`'s account as stored and its one statement, for a caller that sends it with others.
    static func applying(
        _ id: String, _ current: StoredAccount?, _ change: AccountChange, program: Program, now: Timestamp
    ) -> (StoredAccount, (sql: String, parameters: [String?])) {
        var next = current ?? StoredAccount(id: id, subscription: .null, attributes: .object([]), overrides: [])
        if let s = change.subscription {
            next.subscription = Self.endedAt(s, replacing: current, program: program, now: now)
        }
        if let a = change.attributes { next.attributes = a }
        var entry: [(String, JSONValue)] = [
            ("action", .string(current == nil ? "account.create" : "account.update")),
            ("actor", .string(change.actor)), ("source", .string(change.source.rawValue)),
            ("old", current?.state ?? .null), ("new", next.state),
        ]
        if let event = change.event { entry.append(("event_id", .string(event.id))) }
        // One statement: the account (with the event's time as the last applied, if newer), the event id, the
        // trial it started, the audit entry.
        let stamp = now.rfc3339
        let eventTime = change.event?.time.parameters ?? [nil, nil]
        let trial = next.subscription["status"] == .string("trialing")
        let sql = """
            WITH account AS (
              INSERT INTO ent_accounts
                (account_id, subscription, attributes, created_at, updated_at, last_event_s, last_event_n)
              VALUES ($1, $2, $3, $4, $4, $5::bigint, $6::integer)
              ON CONFLICT (account_id) DO UPDATE SET subscription = $2, attributes = $3, updated_at = $4,
                (last_event_s, last_event_n) = (
                  SELECT CASE WHEN $5::bigint IS NOT NULL AND (ent_accounts.last_event_s IS NULL
                      OR (ent_accounts.last_event_s, ent_accounts.last_event_n) < ($5::bigint, $6::integer))
                    THEN $5::bigint ELSE ent_accounts.last_event_s END,
                  CASE WHEN $5::bigint IS NOT NULL AND (ent_accounts.last_event_s IS NULL
                      OR (ent_accounts.last_event_s, ent_accounts.last_event_n) < ($5::bigint, $6::integer))
                    THEN $6::integer ELSE ent_accounts.last_event_n END)
              RETURNING 1),
            event AS (
              INSERT INTO ent_events (account_id, event_id, seen_s) SELECT $1, $7, $8 WHERE $7::text IS NOT NULL
              RETURNING 1),
            trial AS (
              INSERT INTO ent_trials (account_id, started_at) SELECT $1, $4 WHERE $9::boolean
              ON CONFLICT (account_id) DO NOTHING RETURNING 1)
            INSERT INTO ent_audit (account_id, seq, at_s, at_n, entry)
            SELECT $1, coalesce(max(seq), 0) + 1, $10, $11, $12 FROM ent_audit WHERE account_id = $1
            """
        let parameters: [String?] =
            [id, Self.text(next.subscription), Self.text(next.attributes), stamp] + eventTime
            + [change.event?.id, String(now.seconds), trial ? "true" : "false"] + now.parameters
            + [Self.text(.object([("at", .string(now.rfc3339))] + entry))]
        return (next, (sql, parameters))
    }

    /// A replacing subscription with its `ended_at` filled in when it names none (SPEC §2.4, §9): a write that moves
    /// a live account to a status that is not live records its own instant; a write that keeps an account that is
    /// not live so keeps the stored instant (a later sync of a canceled subscription must not move or erase when it
    /// ended, and with it the policy's read-only window).
    static func endedAt(_ new: JSONValue, replacing current: StoredAccount?, program: Program, now: Timestamp)
        -> JSONValue
    {
        guard case .object(var members) = new, let current, case .object = current.subscription,
            new["ended_at"] == nil || new["ended_at"] == .null
        else { return new }
        func live(_ subscription: JSONValue) -> Bool {
            var a = current.account(program)
            a.subscription = try? RequestDecoder(program: program).subscription(subscription, "subscription")
            return Evaluation(program: program, account: program.prepare(a), user: nil, now: now).subscription.live
        }
        guard !live(new) else { return new }
        let wasLive = live(current.subscription)
        let ended: JSONValue
        if wasLive {
            ended = .string(now.rfc3339)
        } else if let stored = current.subscription["ended_at"], case .string = stored {
            ended = stored
        } else {
            return new
        }
        if let i = members.firstIndex(where: { $0.0 == "ended_at" }) {
            members[i].1 = ended
        } else {
            let at = (members.firstIndex { $0.0 == "seats" }) ?? members.endIndex
            members.insert(("ended_at", ended), at: at)
        }
        return .object(members)
    }

    func delete(_ id: String, actor: String, reason: String?, program: Program, now: Timestamp) throws(StoreError)
        -> StoredAccount?
    {
        try write(id) { (db) throws(StoreError) in
            guard let current = try Self.load(db, id) else { return nil }
            let baseline = try Outbox.begin(db, id, current, program: program, now: now)
            for table in ["ent_overrides", "ent_usage", "ent_grants", "ent_grant_draws", "ent_accounts"] {
                try db.execute("DELETE FROM \(table) WHERE account_id = $1", [id])
            }
            var entry: [(String, JSONValue)] = [
                ("action", .string("account.delete")), ("actor", .string(actor)), ("old", current.state),
                ("new", .null),
            ]
            if let reason { entry.append(("reason", .string(reason))) }
            try Self.appendAudit(db, id, now, entry)
            try Outbox.finish(db, id, nil, baseline: baseline, program: program, now: now)
            return current
        }
    }

    /// Starts the trial: plan, `trialing`, `[now, now + length)`; once per account, ever.
    func startTrial(_ id: String, actor: String, reason: String?, program: Program, now: Timestamp) throws(StoreError)
        -> Result<(created: Bool, account: StoredAccount), StoreRefusal>
    {
        guard let trial = program.policy.subscription.trial, let end = now.adding(trial.length) else {
            return .failure(.noTrial)
        }
        return try write(id) { (db) throws(StoreError) in
            if !(try db.execute("SELECT 1 FROM ent_trials WHERE account_id = $1", [id]).isEmpty) {
                return .failure(.trialAlreadyUsed)
            }
            let current = try Self.load(db, id)
            let baseline = try Outbox.begin(db, id, current, program: program, now: now)
            var next = current ?? StoredAccount(id: id, subscription: .null, attributes: .object([]), overrides: [])
            next.subscription = .object([
                ("plan", .string(program.policy.plans[trial.plan].name)), ("status", .string("trialing")),
                ("period_start", .string(now.rfc3339)), ("period_end", .string(end.rfc3339)),
                ("past_due_since", .null), ("ended_at", .null), ("seats", next.subscription["seats"] ?? .null),
            ])
            let stamp = now.rfc3339
            try db.execute(
                """
                INSERT INTO ent_accounts (account_id, subscription, attributes, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $4)
                ON CONFLICT (account_id) DO UPDATE SET subscription = $2, updated_at = $4
                """, [id, Self.text(next.subscription), Self.text(next.attributes), stamp])
            try Self.rememberTrial(db, id, stamp)
            var entry: [(String, JSONValue)] = [
                ("action", .string("trial.start")), ("actor", .string(actor)), ("old", current?.state ?? .null),
                ("new", next.state),
            ]
            if let reason { entry.append(("reason", .string(reason))) }
            try Self.appendAudit(db, id, now, entry)
            try Outbox.finish(db, id, next, baseline: baseline, program: program, now: now)
            return .success((current == nil, next))
        }
    }

    /// Sets an override; whether it replaced one.
    func setOverride(_ id: String, _ o: StoredOverride, program: Program, now: Timestamp) throws(StoreError)
        -> Result<Bool, StoreRefusal>
    {
        try write(id) { (db) throws(StoreError) in
            guard let current = try Self.load(db, id) else { return .failure(.unknownAccount) }
            let baseline = try Outbox.begin(db, id, current, program: program, now: now)
            let old = current.overrides.first { $0.feature == o.feature }
            try db.execute(
                """
                INSERT INTO ent_overrides (account_id, feature, value, expires_at, reason, actor)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (account_id, feature) DO UPDATE SET value = $3, expires_at = $4, reason = $5, actor = $6
                """,
                [id, o.feature, Self.text(o.value), Self.string(o.expiresAt), o.reason, o.actor])
            try db.execute("UPDATE ent_accounts SET updated_at = $2 WHERE account_id = $1", [id, now.rfc3339])
            try Self.appendAudit(
                db, id, now,
                [
                    ("action", .string("override.set")), ("actor", .string(o.actor)), ("feature", .string(o.feature)),
                    ("old", old?.auditValue ?? .null), ("new", o.auditValue), ("reason", .string(o.reason)),
                ])
            var next = current
            next.overrides.removeAll { $0.feature == o.feature }
            next.overrides.append(o)
            try Outbox.finish(db, id, next, baseline: baseline, program: program, now: now)
            return .success(old != nil)
        }
    }

    func deleteOverride(
        _ id: String, feature: String, actor: String, reason: String, program: Program, now: Timestamp
    ) throws(StoreError) -> Result<StoredOverride, StoreRefusal> {
        try write(id) { (db) throws(StoreError) in
            guard let current = try Self.load(db, id) else { return .failure(.unknownAccount) }
            guard let old = current.overrides.first(where: { $0.feature == feature }) else {
                return .failure(.overrideNotFound)
            }
            let baseline = try Outbox.begin(db, id, current, program: program, now: now)
            try db.execute("DELETE FROM ent_overrides WHERE account_id = $1 AND feature = $2", [id, feature])
            try db.execute("UPDATE ent_accounts SET updated_at = $2 WHERE account_id = $1", [id, now.rfc3339])
            try Self.appendAudit(
                db, id, now,
                [
                    ("action", .string("override.delete")), ("actor", .string(actor)), ("feature", .string(feature)),
                    ("old", old.auditValue), ("new", .null), ("reason", .string(reason)),
                ])
            var next = current
            next.overrides.removeAll { $0.feature == feature }
            try Outbox.finish(db, id, next, baseline: baseline, program: program, now: now)
            return .success(old)
        }
    }

    /// Consumes usage: decided under the account's lock with the usage recorded before it (the check and the
    /// record in one transaction, so the recorded usage never passes the limit under any concurrency), recorded
    /// only when allowed; a repeated idempotency key answers the first answer. Runs in a group commit
    /// (`UsageBatcher`).
    func consume(
        _ id: String, feature f: Int, amount: Int64, key: String, program: Program, now: Timestamp
    ) throws(StoreError) -> Result<JSONValue, StoreRefusal> {
        let job = UsageBatcher.Job(id: id, feature: f, amount: amount, key: key, program: program, now: now)
        let result = try batcher.consume(job)
        noteCommit([id])
        cache?.invalidate(id)
        return result
    }

    /// A limit feature's usage at `now` (any instant, past ones included), computed from the records: `{used,
    /// limit, remaining, allowance, balance, grants, period_start, period_end}` (SPEC §7 "Grants"). Records and
    /// draws after `now` do not count; the account's state is the one stored now.
    /// (`asOf`: `now` was asked for, so records after it are left out; else every record of the period counts,
    /// as a consumption decided at the clock counts them.)
    func usage(_ id: String, feature f: Int, program: Program, now: Timestamp, asOf: Bool) throws(StoreError) -> Result<
        JSONValue, StoreRefusal
    > {
        let feature = program.policy.features[f]
        return try read(about: id) { (db) throws(StoreError) in
            guard var stored = try Self.load(db, id) else { return .failure(.unknownAccount) }
            // The grants as they were at `now` are read below; the evaluator sees the allowance alone.
            stored.grants = []
            let account = stored.account(program)
            let window = UsageWindow.containing(now, period: feature.period, subscription: account.subscription)
            var upTo = window
            if asOf, upTo.end.map({ $0 > now.plusOneNanosecond }) ?? true { upTo.end = now.plusOneNanosecond }
            let (used, granted) = try Self.usedParts(db, id, feature.name, upTo)
            var grants = try GrantLedger.grants(db, id, feature: feature.name, at: now).filter { $0.isActive(at: now) }
            if feature.rollover != nil {
                let created = try db.execute("SELECT created_at FROM ent_accounts WHERE account_id = $1", [id])
                    .first?[0].flatMap { Timestamp.parse($0) }
                if let g = try GrantLedger.rollover(
                    db, id, feature: f, program: program, prepared: program.prepare(account),
                    subscription: account.subscription, createdAt: created, now: now, drawsUpTo: asOf ? now : nil),
                    g.isActive(at: now)
                {
                    grants.append(g)
                }
            }
            var ev = Evaluation(program: program, account: program.prepare(account), user: nil, now: now)
            let view = GrantLedger.balance(&ev, feature: f, used: used, granted: granted, grants: grants)
            var m: [(String, JSONValue)] = [
                ("used", .int(used)), ("limit", view.limit.map { .int($0) } ?? .string("unlimited")),
                ("remaining", view.balance.map { .int($0) } ?? .null),
                ("allowance", view.allowance.map { .int($0) } ?? .string("unlimited")),
                ("balance", view.balance.map { .int($0) } ?? .null),
                ("grants", .array(GrantLedger.burnOrder(grants).map { $0.json })),
            ]
            m += window.periodFields
            return .success(.object(m))
        }
    }

    /// A consumption's answer: `{allowed, error?, status?, used, limit, remaining, period_start, period_end}`.
    static func usageAnswer(_ program: Program, _ o: GrantLedger.Consumption, _ w: UsageWindow) -> JSONValue {
        var m: [(String, JSONValue)] = [("allowed", .bool(o.decision.allowed))]
        if !o.decision.allowed, o.decision.denial >= 0 {
            let denial = program.policy.denials[o.decision.denial]
            m += [("error", .string(denial.name)), ("status", .int(Int64(denial.status)))]
        }
        m += [
            ("used", .int(o.used)), ("limit", o.limit.map { .int($0) } ?? .string("unlimited")),
            ("remaining", o.remaining.map { .int($0) } ?? .null),
        ]
        m += w.periodFields
        return .object(m)
    }

    // MARK: - Helpers

    static func rememberTrial(_ db: DatabaseConnection, _ id: String, _ at: String) throws(StoreError) {
        try db.execute(
            "INSERT INTO ent_trials (account_id, started_at) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING",
            [id, at])
    }

    static func appendAudit(_ db: DatabaseConnection, _ id: String, _ now: Timestamp, _ fields: [(String, JSONValue)])
        throws(StoreError)
    {
        let entry = JSONValue.object([("at", .string(now.rfc3339))] + fields)
        try db.execute(
            """
            INSERT INTO ent_audit (account_id, seq, at_s, at_n, entry)
            SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4 FROM ent_audit WHERE account_id = $1
            """, [id] + now.parameters + [text(entry)])
    }

    static func text(_ v: JSONValue) -> String { JSONWriter.string(v) }

    static func string(_ v: JSONValue) -> String? {
        if case .string(let s) = v { return s }
        return nil
    }

    static func json(_ text: String?) -> JSONValue? {
        guard let text else { return nil }
        return try? JSONParser.parse(Array(text.utf8))
    }
}

/// The store's state as health checks and metrics show it.
struct StoreHealth: Sendable {
    var connected: Bool
    var listening: Bool
    var cachedAccounts: Int
    var hitRatio: Double
    var lastLagSeconds: Double
    var maxLagSeconds: Double
    var notifications: Int
    /// Each standby's state (`Standbys.Standby.json`); empty without standbys.
    var standbys: [JSONValue] = []
    /// The cache's warm-up (`--warm N`), when one was asked for.
    var warmup: JSONValue?

    var json: JSONValue {
        var m: [(String, JSONValue)] = [
            ("connected", .bool(connected)), ("listening", .bool(listening)),
            ("cached_accounts", .int(Int64(cachedAccounts))), ("cache_hit_ratio", .number(String(hitRatio))),
            ("notification_lag_seconds", .number(String(lastLagSeconds))),
            ("notification_lag_max_seconds", .number(String(maxLagSeconds))),
        ]
        if !standbys.isEmpty { m.append(("standbys", .array(standbys))) }
        if let warmup { m.append(("warmup", warmup)) }
        return .object(m)
    }
}
