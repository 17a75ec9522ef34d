import Foundation

/// Group commit for usage consumption. Every consumption must NOTIFY in its transaction, and PostgreSQL serializes
/// the commits of notifying transactions, so one transaction per consumption caps throughput at one commit at a
/// time. The batcher's writer threads take the consumptions waiting at that moment (up to `batchSize`) and decide
/// them all in one transaction, in two round trips: BEGIN, every account's lock (in id order, so batches never
/// deadlock) and every consumption's read; then the records, one NOTIFY per account, COMMIT. Each consumption is
/// still decided under its account's lock with the usage recorded before it — including earlier ones of the same
/// batch — so the recorded usage never passes a limit. Every caller waits for the commit before it answers.
final class UsageBatcher: Sendable {
    struct Job: Sendable {
        let id: String
        let feature: Int
        let amount: Int64
        let key: String
        let program: Program
        let now: Timestamp
    }

    private let queue: GroupQueue<Job, Result<JSONValue, StoreRefusal>>

    init(pool: ConnectionPool, writers: Int, batchSize: Int = 64, outbox: OutboxSignal) {
        queue = GroupQueue(name: "usage-writer", workers: writers, batchSize: batchSize) { (batch) throws(StoreError) in
            try pool.withConnection(locking: true) { (db) throws(StoreError) in
                db.outboxRows = 0
                let results = try Self.apply(batch, db)
                // usage.threshold events were written: wake this replica's delivery workers.
                if db.outboxRows > 0 { outbox.signal() }
                return results
            }
        }
    }

    /// Consumes, waiting for the batch it joins to commit.
    func consume(_ job: Job) throws(StoreError) -> Result<JSONValue, StoreRefusal> { try queue.submit(job) }

    /// One transaction for the whole batch; rolled back (every job fails) when a statement fails.
    static func apply(_ batch: [Job], _ db: DatabaseConnection) throws(StoreError) -> [Result<JSONValue, StoreRefusal>]
    {
        // Distinct by bytes (two ids that differ only in Unicode normalization are two accounts, two locks).
        let accounts = Set(batch.map { ScalarKey($0.id) }).map(\.string).sorted {
            $0.utf8.lexicographicallyPrecedes($1.utf8)
        }
        var statements: [(sql: String, parameters: [String?])] = [("BEGIN", [])]
        for id in accounts { statements.append(("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [id])) }
        var windows: [UsageWindow] = []
        for job in batch {
            let feature = job.program.policy.features[job.feature]
            // The window of periods that do not depend on the subscription; a billing period is summed below.
            let w = UsageWindow.containing(job.now, period: feature.period, subscription: nil)
            windows.append(w)
            statements.append(
                (
                    """
                    SELECT a.account_id, a.subscription, a.attributes,
                      (SELECT value FROM ent_overrides o WHERE o.account_id = $1 AND o.feature = $2),
                      (SELECT expires_at FROM ent_overrides o WHERE o.account_id = $1 AND o.feature = $2),
                      (SELECT answer FROM ent_usage u WHERE u.account_id = $1 AND u.feature = $2
                         AND u.idempotency_key = $3),
                      (SELECT coalesce(sum(amount), 0) FROM ent_usage u WHERE u.account_id = $1 AND u.feature = $2
                         AND ($4::bigint IS NULL OR (u.at_s, u.at_n) >= ($4::bigint, $5::integer))
                         AND ($6::bigint IS NULL OR (u.at_s, u.at_n) < ($6::bigint, $7::integer)))
                    FROM (SELECT 1) one LEFT JOIN ent_accounts a ON a.account_id = $1
                    """,
                    [job.id, feature.name, job.key] + (w.start?.parameters ?? [nil, nil])
                        + (w.end?.parameters ?? [nil, nil])
                ))
        }
        do throws(StoreError) {
            let rows = try db.pipeline(statements)
            var results: [Result<JSONValue, StoreRefusal>] = []
            var writes: [(sql: String, parameters: [String?])] = []
            // Within the batch: amounts recorded so far per (account, feature, window start), answers per key.
            // (Keyed by bytes: ids and idempotency keys that differ only in normalization are different.)
            var recorded: [ScalarKey: Int64] = [:]
            var answered: [ScalarKey: JSONValue] = [:]
            var touched: [String] = []
            for (k, job) in batch.enumerated() {
                let row = rows[1 + accounts.count + k].first ?? []
                let feature = job.program.policy.features[job.feature]
                let replayKey = ScalarKey("\(job.id)\u{0}\(feature.name)\u{0}\(job.key)")
                if let earlier = answered[replayKey] {
                    results.append(.success(earlier))
                    continue
                }
                guard row.count == 7, row[0] != nil else {
                    results.append(.failure(.unknownAccount))
                    continue
                }
                if let first = row[5] {
                    results.append(.success(AccountStore.json(first) ?? .null))
                    continue
                }
                var stored = StoredAccount(
                    id: job.id, subscription: AccountStore.json(row[1]) ?? .null,
                    attributes: AccountStore.json(row[2]) ?? .object([]), overrides: [])
                if let value = row[3] {
                    stored.overrides.append(
                        StoredOverride(
                            feature: feature.name, value: AccountStore.json(value) ?? .null,
                            expiresAt: row[4].map { .string($0) } ?? .null, reason: "-", actor: "-"))
                }
                let account = stored.account(job.program)
                var window = windows[k]
                var base = Int64(row[6] ?? "0") ?? 0
                if feature.period == .billing {
                    let billing = UsageWindow.containing(job.now, period: .billing, subscription: account.subscription)
                    if billing.start != window.start || billing.end != window.end {
                        window = billing
                        base = try AccountStore.used(db, job.id, feature.name, window)
                    }
                }
                let slot = ScalarKey(
                    "\(job.id)\u{0}\(feature.name)\u{0}\(window.start?.rfc3339 ?? "")\u{0}\(window.end?.rfc3339 ?? "")")
                let used = base + (recorded[slot] ?? 0)
                var ev = Evaluation(
                    program: job.program, account: job.program.prepare(account), user: nil, now: job.now)
                let d = ev.decide(.limit(feature: job.feature, usage: used, amount: job.amount))
                let answer = AccountStore.usageAnswer(
                    job.program, d, used: d.allowed ? used + job.amount : used, window)
                if d.allowed { recorded[slot, default: 0] += job.amount }
                answered[replayKey] = answer
                writes.append(
                    (
                        """
                        INSERT INTO ent_usage (account_id, feature, idempotency_key, at_s, at_n, amount, answer)
                        VALUES ($1, $2, $3, $4, $5, $6, $7)
                        """,
                        [job.id, feature.name, job.key] + job.now.parameters
                            + [String(d.allowed ? job.amount : 0), AccountStore.text(answer)]
                    ))
                if d.allowed, let limit = d.limit {
                    writes += Self.thresholds(job, feature, used: used + job.amount, limit: limit, window)
                }
                if !touched.contains(where: { $0.utf8.elementsEqual(job.id.utf8) }) { touched.append(job.id) }
                results.append(.success(answer))
            }
            for id in touched { writes.append(("SELECT pg_notify($1, $2)", AccountStore.notifyParameters(id))) }
            writes.append(("COMMIT", []))
            let done = try db.pipeline(writes)
            for (k, statement) in writes.enumerated() where statement.sql.hasPrefix(Self.thresholdSQLPrefix) {
                db.outboxRows += done[k].affected
            }
            return results
        } catch {
            _ = try? db.execute("ROLLBACK")
            throw error
        }
    }
}

extension UsageBatcher {
    static let thresholdSQLPrefix = "WITH first_time AS"

    /// The `usage.threshold` events (SPEC §6.7) a consumption that brought the period's usage to `used` raises:
    /// one statement per percentage of `notify_at` reached, which records the (account, feature, period,
    /// threshold) and writes the outbox rows only the first time. The period is named by its start (lifetime
    /// usage: `none`; a rolling 24 h window, which has no fixed start: the UTC day of the consumption).
    static func thresholds(_ job: Job, _ feature: Feature, used: Int64, limit: Int64, _ w: UsageWindow)
        -> [(sql: String, parameters: [String?])]
    {
        guard limit > 0 else { return [] }
        let period: String
        switch feature.period {
        case .none: period = "none"
        case .rolling24h: period = "24h:" + String(job.now.rfc3339.prefix(10))
        default: period = w.start?.rfc3339 ?? "none"
        }
        var out: [(sql: String, parameters: [String?])] = []
        for p in feature.notifyAt where Int128(used) * 100 >= Int128(p) * Int128(limit) {
            let msg = Outbox.messageID()
            let payload = JSONValue.object([
                ("type", .string("usage.threshold")), ("id", .string(msg)), ("account", .string(job.id)),
                ("at", .string(job.now.rfc3339)), ("feature", .string(feature.name)), ("threshold", .int(Int64(p))),
                ("used", .int(used)), ("limit", .int(limit)),
                ("period_start", w.shownStart.map { .string($0.rfc3339) } ?? .null),
                ("period_end", w.shownEnd.map { .string($0.rfc3339) } ?? .null),
            ])
            out.append(
                (
                    thresholdSQLPrefix + """
                         (
                          INSERT INTO ent_thresholds (account_id, feature, period, threshold) VALUES ($1, $2, $3, $4)
                          ON CONFLICT DO NOTHING RETURNING 1)
                        INSERT INTO ent_deliveries
                          (endpoint, msg_id, account_id, type, payload, created_ms, window_ms, next_ms)
                        SELECT w.name, $5, $1, 'usage.threshold', $6, $7::bigint, $7::bigint,
                          CASE WHEN EXISTS (
                            SELECT 1 FROM ent_deliveries p
                            WHERE p.endpoint = w.name AND p.account_id = $1 AND p.status = 'pending')
                          THEN NULL ELSE $7::bigint END
                        FROM ent_webhooks w, first_time WHERE 'usage.threshold' = ANY (w.events)
                        """,
                    [
                        job.id, feature.name, period, String(p), msg, AccountStore.text(payload),
                        String(Clock.milliseconds()),
                    ]
                ))
        }
        return out
    }
}
