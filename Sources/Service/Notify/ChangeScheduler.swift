import Foundation

/// The thread that sends the changes no write causes (SPEC §6.7), on its own database connection:
///
/// - **time**: every stored account keeps the instant its state next changes (`next_change_s/_n`, from the
///   timeline engine, recomputed on every write and reload). Due accounts are claimed with `FOR UPDATE SKIP LOCKED`
///   and the account's lock (tried, never waited for: a write holding it sends the due change itself), so exactly
///   one replica emits each boundary, at or after its instant (never before) and within a poll interval of it.
/// - **reload**: when the serving program changes (and at start-up), every account whose notified state was
///   computed by another program is recomputed in the background, in batches under the accounts' locks; an account
///   whose entitlements are the same gets no event, only its new next change.
///
/// It also refreshes the pending and failed delivery counts for `/metrics`, and removes succeeded deliveries once
/// they are `retentionDays` old (failed ones stay until retried or their endpoint is removed).
final class ChangeScheduler: Sendable {
    let conninfo: String
    let program: @Sendable () -> Program
    let outbox: OutboxSignal
    let stats: DeliveryStats
    /// The most accounts one transaction handles (due ones, or one batch of a reload).
    static let batchSize = 500
    /// The longest the thread sleeps when nothing is due (another replica's write may schedule an earlier change).
    static let pollSeconds = 0.1
    static let retentionDays: Int64 = 7

    init(conninfo: String, program: @escaping @Sendable () -> Program, outbox: OutboxSignal, stats: DeliveryStats) {
        self.conninfo = conninfo
        self.program = program
        self.outbox = outbox
        self.stats = stats
    }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "change-scheduler"
        t.start()
    }

    private func run() {
        var db: DatabaseConnection?
        var scanned: String?
        var cursor = ""
        var counted = 0.0
        while true {
            do {
                if db?.isHealthy != true { db = try DatabaseConnection(conninfo) }
                let conn = db!
                let program = program()
                var busy = false
                if scanned != program.digest {
                    let n = try Self.reloadBatch(conn, program, after: &cursor)
                    if n == 0 {
                        scanned = program.digest
                        cursor = ""
                    }
                    busy = n > 0
                }
                busy = try Self.due(conn, program) == Self.batchSize || busy
                if conn.outboxRows > 0 {
                    conn.outboxRows = 0
                    outbox.signal()
                }
                if Clock.monotonicSeconds() - counted > 2 {
                    counted = Clock.monotonicSeconds()
                    try refreshCounts(conn)
                    try conn.execute(
                        "DELETE FROM ent_deliveries WHERE status = 'succeeded' AND done_ms < $1",
                        [String(Clock.milliseconds() - Self.retentionDays * 86_400_000)])
                }
                if !busy { Thread.sleep(forTimeInterval: try Self.untilNext(conn)) }
            } catch {
                db = nil
                stats.storeErrors.add(1, ordering: .relaxed)
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    /// Sends every time-caused change due now; how many accounts were claimed.
    static func due(_ db: DatabaseConnection, _ program: Program) throws(StoreError) -> Int {
        try db.transaction { (db) throws(StoreError) in
            let now = Clock.now()
            let ids = try db.execute(
                """
                SELECT account_id FROM ent_accounts
                WHERE next_change_s IS NOT NULL AND (next_change_s, next_change_n) <= ($1::bigint, $2::integer)
                ORDER BY next_change_s, next_change_n LIMIT $3
                FOR UPDATE SKIP LOCKED
                """, now.parameters + [String(batchSize)]
            ).values.compactMap { $0[0] }
            for id in ids {
                guard
                    try db.execute("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", [id]).first?[0]
                        == "t",
                    let stored = try AccountStore.load(db, id), let tracked = try Outbox.tracked(db, id)
                else { continue }
                let (state, next) = try Outbox.catchUp(db, stored, tracked, program: program, now: now)
                let after = tracked.notified == nil ? Outbox.nextChange(program, stored, id, after: now) : next
                try Outbox.remember(db, id, state, program: program, next: after)
            }
            return ids.count
        }
    }

    /// One batch of the scan after a reload: the next accounts (by id, after `cursor`) whose notified state another
    /// program computed, each compared under this program (cause `reload`) and rescheduled. How many it handled.
    static func reloadBatch(_ db: DatabaseConnection, _ program: Program, after cursor: inout String) throws(StoreError)
        -> Int
    {
        // In the primary key's order (its collation), so each batch is one index range, not a sort of the table.
        let scanned = try db.execute(
            """
            SELECT account_id FROM ent_accounts
            WHERE account_id > $1 AND notified_digest IS DISTINCT FROM $2
            ORDER BY account_id LIMIT $3
            """, [cursor, program.digest, String(batchSize)]
        ).values.compactMap { $0[0] }
        guard let last = scanned.last else { return 0 }
        cursor = last
        // Locked in bytewise id order, as the usage batcher locks, so two batches never deadlock.
        let ids = scanned.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let array = AccountStore.textArray(ids)
        try db.transaction { (db) throws(StoreError) in
            // The accounts' locks in id order (as the usage batcher takes them: no deadlock).
            try db.execute(
                """
                SELECT pg_advisory_xact_lock(hashtextextended(x, 0))
                FROM unnest($1::text[]) WITH ORDINALITY AS t(x, i) ORDER BY i
                """, [array])
            var accounts: [String: (StoredAccount, Outbox.Tracked)] = [:]
            for r in try db.execute(
                """
                SELECT account_id, subscription, attributes, notified, notified_digest, next_change_s, next_change_n
                FROM ent_accounts WHERE account_id = ANY ($1::text[])
                """, [array]
            ).values {
                let id = r[0] ?? ""
                let stored = StoredAccount(
                    id: id, subscription: AccountStore.json(r[1]) ?? .null,
                    attributes: AccountStore.json(r[2]) ?? .object([]), overrides: [])
                accounts[id] = (stored, Outbox.tracked(r[3], r[4], r[5], r[6]))
            }
            for o in try db.execute(
                """
                SELECT account_id, feature, value, expires_at, reason, actor FROM ent_overrides
                WHERE account_id = ANY ($1::text[]) ORDER BY account_id, feature COLLATE "C"
                """, [array]
            ).values {
                accounts[o[0] ?? ""]?.0.overrides.append(
                    StoredOverride(
                        feature: o[1] ?? "", value: AccountStore.json(o[2]) ?? .null,
                        expiresAt: o[3].map { .string($0) } ?? .null, reason: o[4] ?? "", actor: o[5] ?? ""))
            }
            var columns: [[String?]] = [[], [], [], []]
            let now = Clock.now()
            let subscribed = try Outbox.subscribed(db, "entitlements.changed")
            for id in ids {
                // Written meanwhile under this program (or deleted): nothing to do.
                guard let (stored, tracked) = accounts[id], tracked.digest != program.digest else { continue }
                let state = Outbox.state(program, stored, id, at: now)
                if subscribed, let old = tracked.notified {
                    try Outbox.changed(db, id, from: old, to: state, cause: .reload, at: now, program: program)
                }
                let next = Outbox.nextChange(program, stored, id, after: now)
                columns[0].append(id)
                columns[1].append(AccountStore.text(.object(state)))
                columns[2].append(next.map { String($0.seconds) })
                columns[3].append(next.map { String($0.nanos) })
            }
            try db.execute(
                """
                UPDATE ent_accounts a SET notified = v.notified, notified_digest = $5, next_change_s = v.s,
                  next_change_n = v.n
                FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[]) AS v(id, notified, s, n)
                WHERE a.account_id = v.id
                """, columns.map { AccountStore.textArray($0) } + [program.digest])
        }
        return ids.count
    }

    /// Seconds until the earliest scheduled change, at most `pollSeconds`.
    static func untilNext(_ db: DatabaseConnection) throws(StoreError) -> Double {
        guard
            let row = try db.execute(
                """
                SELECT next_change_s, next_change_n FROM ent_accounts WHERE next_change_s IS NOT NULL
                ORDER BY next_change_s, next_change_n LIMIT 1
                """
            ).first, let s = row[0].flatMap({ Int64($0) }), let n = row[1].flatMap({ Int64($0) })
        else { return pollSeconds }
        let now = Clock.now()
        let wait = Double(s - now.seconds) + Double(n - Int64(now.nanos)) / 1e9
        return min(pollSeconds, max(0.001, wait))
    }

    func refreshCounts(_ db: DatabaseConnection) throws(StoreError) {
        let row = try db.execute(
            """
            SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed')
            FROM ent_deliveries WHERE status IN ('pending', 'failed')
            """
        ).first
        stats.pending.store(Int(row?[0] ?? "0") ?? 0, ordering: .relaxed)
        stats.failed.store(Int(row?[1] ?? "0") ?? 0, ordering: .relaxed)
    }
}
