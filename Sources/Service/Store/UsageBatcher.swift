import Foundation

/// Group commit for usage consumption. Every consumption must NOTIFY in its transaction, and PostgreSQL serializes
/// the commits of notifying transactions, so one transaction per consumption caps throughput at one commit at a
/// time. The batcher's writer threads take the consumptions waiting at that moment (up to `batchSize`) and decide
/// them all in one transaction, in two round trips: BEGIN, every account's lock (in id order, so batches never
/// deadlock) and every read; then the records, one NOTIFY per account, COMMIT. Each consumption is still decided
/// under its account's lock with the usage recorded before it — including earlier ones of the same batch — so the
/// recorded usage never passes a limit. Every caller waits for the commit before it answers; a waiting caller holds
/// no database connection.
///
/// A hot account: an account is in at most one batch at a time. While its batch commits, its new consumptions wait
/// in the queue, and the next batch takes all of them at once (one lock acquisition, one read of its state), so 64
/// clients on one account share one commit instead of queueing on the account's lock one by one.
final class UsageBatcher: Sendable {
    struct Job: Sendable {
        let id: String
        let feature: Int
        let amount: Int64
        let key: String
        /// What the idempotency key names: the request's feature and amount (JSON), compared on a repeated key.
        let request: String
        let program: Program
        let now: Timestamp

        init(id: String, feature: Int, amount: Int64, key: String, program: Program, now: Timestamp) {
            self.id = id
            self.feature = feature
            self.amount = amount
            self.key = key
            self.program = program
            self.now = now
            request = JSONWriter.string(
                .object([("feature", .string(program.policy.features[feature].name)), ("amount", .int(amount))]))
        }
    }

    private let queue: GroupQueue<Job, Result<JSONValue, StoreRefusal>>

    init(pool: ConnectionPool, writers: Int, batchSize: Int = 512, outbox: OutboxSignal) {
        // Grouped by account: an account is in one batch at a time (the hot account's consumptions pile up while
        // its batch commits, and the next batch takes them all).
        queue = GroupQueue(
            name: "usage-writer", workers: writers, batchSize: batchSize, group: { ScalarKey($0.id) }
        ) { (batch) throws(StoreError) in
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

    /// One transaction for the whole batch, in two round trips of a few set-based statements (a statement per
    /// consumption would cost its parse and plan each time); rolled back (every job fails) when a statement fails.
    static func apply(_ batch: [Job], _ db: DatabaseConnection) throws(StoreError) -> [Result<JSONValue, StoreRefusal>]
    {
        // Distinct by bytes (two ids that differ only in Unicode normalization are two accounts, two locks).
        let accounts = Set(batch.map { ScalarKey($0.id) }).map(\.string).sorted {
            $0.utf8.lexicographicallyPrecedes($1.utf8)
        }
        // One read of each (account, feature) pair's state and of each job's idempotency key.
        var pairs: [ScalarKey: Int] = [:]
        var pairJobs: [Job] = []
        for job in batch where pairs[pairKey(job)] == nil {
            pairs[pairKey(job)] = pairJobs.count
            pairJobs.append(job)
        }
        let pairIDs = pgArray(pairJobs.map(\.id))
        let pairFeatures = pgArray(pairJobs.map { $0.program.policy.features[$0.feature].name })
        // Each job's usage window as far as it is known before the subscription is read (a billing period is
        // read again below when the subscription has its own dates): one read per distinct window.
        var windowRead: [ScalarKey: Int] = [:]
        var windows: [(id: String, feature: String, w: UsageWindow)] = []
        for job in batch {
            let feature = job.program.policy.features[job.feature]
            let w = UsageWindow.containing(job.now, period: feature.period, subscription: nil)
            let slot = slotKey(job, w)
            guard windowRead[slot] == nil else { continue }
            windowRead[slot] = windows.count
            windows.append((job.id, feature.name, w))
        }
        let statements: [(sql: String, parameters: [String?])] = [
            ("BEGIN", []),
            // The locks in id order (unnest yields the array in order), so batches never deadlock.
            (
                "SELECT pg_advisory_xact_lock(hashtextextended(id, 0)) FROM unnest($1::text[]) WITH ORDINALITY t(id, i)",
                [pgArray(accounts)]
            ),
            (
                """
                SELECT p.i, a.account_id, a.subscription, a.attributes, o.value, o.expires_at, a.created_at
                FROM unnest($1::text[], $2::text[]) WITH ORDINALITY p(id, feature, i)
                LEFT JOIN ent_accounts a ON a.account_id = p.id
                LEFT JOIN ent_overrides o ON o.account_id = p.id AND o.feature = p.feature
                """, [pairIDs, pairFeatures]
            ),
            (
                """
                SELECT p.i, \(GrantLedger.columns(prefix: "g."))
                FROM unnest($1::text[], $2::text[]) WITH ORDINALITY p(id, feature, i)
                JOIN ent_grants g ON g.account_id = p.id AND g.feature = p.feature AND g.voided_s IS NULL
                ORDER BY p.i, g.seq
                """, [pairIDs, pairFeatures]
            ),
            (
                // The last record of each pair: where the running totals of new records start.
                """
                SELECT p.i, l.at_s, l.at_n, l.total, l.granted_total
                FROM unnest($1::text[], $2::text[]) WITH ORDINALITY p(id, feature, i)
                JOIN LATERAL (
                  SELECT at_s, at_n, total, granted_total FROM ent_usage
                  WHERE account_id = p.id AND feature = p.feature
                  ORDER BY at_s DESC, at_n DESC, total DESC LIMIT 1) l ON true
                """, [pairIDs, pairFeatures]
            ),
            AccountStore.usedStatement(windows),
            (
                """
                SELECT k.i, u.request, u.answer, u.feature
                FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY k(id, key, feature, i)
                JOIN LATERAL (
                  SELECT request, answer, feature FROM ent_usage
                  WHERE account_id = k.id AND idempotency_key = k.key
                  ORDER BY (feature = k.feature) DESC LIMIT 1) u ON true
                """,
                [
                    pgArray(batch.map(\.id)), pgArray(batch.map(\.key)),
                    pgArray(batch.map { $0.program.policy.features[$0.feature].name }),
                ]
            ),
        ]
        do throws(StoreError) {
            let rows = try db.pipeline(statements)
            // Rows by the 1-based ordinal in their first column.
            func byOrdinal(_ r: Rows) -> [Int: [[String?]]] {
                var out: [Int: [[String?]]] = [:]
                for row in r.values { out[Int(row[0] ?? "0") ?? 0, default: []].append(Array(row.dropFirst())) }
                return out
            }
            let pairState = byOrdinal(rows[2])
            let pairGrants = byOrdinal(rows[3])
            let lastRecord = byOrdinal(rows[4])
            let windowUsage = byOrdinal(rows[5])
            let firstUse = byOrdinal(rows[6])
            var results: [Result<JSONValue, StoreRefusal>] = []
            // Within the batch: what it recorded per pair so far, the grants of each pair as drawn so far, the
            // requests and answers per key, and each pair's account as prepared. (Keyed by bytes: ids and
            // idempotency keys that differ only in normalization are different.)
            var recordedInBatch: [ScalarKey: [(at: Timestamp, amount: Int64, granted: Int64)]] = [:]
            var grants: [ScalarKey: [StoredGrant]] = [:]
            var answered: [ScalarKey: (request: String, answer: JSONValue)] = [:]
            var prepared: [ScalarKey: (serial: UInt64, account: Account, prepared: PreparedAccount)] = [:]
            var records: [Record] = []
            var draws: [(id: String, grant: String, at: Timestamp, amount: Int64, key: String)] = []
            var touched: [String] = []
            var thresholdWrites: [(sql: String, parameters: [String?])] = []
            for (k, job) in batch.enumerated() {
                let feature = job.program.policy.features[job.feature]
                let replayKey = ScalarKey("\(job.id)\u{0}\(job.key)")
                if let earlier = answered[replayKey] {
                    results.append(Self.replay(earlier.request, earlier.answer, job))
                    continue
                }
                if let first = firstUse[k + 1]?.first, first.count == 3 {
                    // A record of a release before request bodies were kept names its feature only.
                    let request =
                        first[0]
                        ?? (first[2] == feature.name
                            ? job.request : JSONWriter.string(.object([("feature", .string(first[2] ?? ""))])))
                    results.append(Self.replay(request, AccountStore.json(first[1]) ?? .null, job))
                    continue
                }
                let pair = pairKey(job)
                let p = pairs[pair]!
                let row = pairState[p + 1]?.first ?? []
                guard row.count == 6, row[0] != nil else {
                    results.append(.failure(.unknownAccount))
                    continue
                }
                if prepared[pair]?.serial != job.program.serial {
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
                    prepared[pair] = (job.program.serial, account, job.program.prepare(account))
                }
                let (_, account, preparedAccount) = prepared[pair]!
                let window = UsageWindow.containing(job.now, period: feature.period, subscription: account.subscription)
                var read: (used: Int64, granted: Int64)
                if let i = windowRead[slotKey(job, window)], let r = windowUsage[i + 1]?.first, r.count == 2 {
                    read = (Int64(r[0] ?? "0") ?? 0, Int64(r[1] ?? "0") ?? 0)
                } else {
                    read = try AccountStore.usedParts(db, job.id, feature.name, window)
                }
                // What this batch recorded so far in the window (the read above does not see it).
                for r in recordedInBatch[pair] ?? [] where window.contains(r.at) {
                    read.used += r.amount
                    read.granted += r.granted
                }
                if grants[pair] == nil { grants[pair] = (pairGrants[p + 1] ?? []).map(GrantLedger.grant) }
                if feature.rollover != nil, let start = window.start,
                    !grants[pair]!.contains(where: { $0.source != nil && $0.createdAt == start }),
                    let g = try GrantLedger.rollover(
                        db, job.id, feature: job.feature, program: job.program, prepared: preparedAccount,
                        subscription: account.subscription, createdAt: row[5].flatMap { Timestamp.parse($0) },
                        now: job.now, drawsUpTo: nil)
                {
                    grants[pair]!.append(g)
                }
                var ev = Evaluation(program: job.program, account: preparedAccount, user: nil, now: job.now)
                let outcome = GrantLedger.consume(
                    &ev, feature: job.feature, amount: job.amount, used: read.used, granted: read.granted,
                    grants: &grants[pair]!, now: job.now)
                let answer = AccountStore.usageAnswer(job.program, outcome, window)
                let allowed = outcome.decision.allowed
                if allowed { recordedInBatch[pair, default: []].append((job.now, job.amount, outcome.fromGrants)) }
                answered[replayKey] = (job.request, answer)
                records.append(
                    Record(
                        pair: p, id: job.id, feature: feature.name, key: job.key, at: job.now,
                        amount: allowed ? job.amount : 0, granted: allowed ? outcome.fromGrants : 0,
                        answer: AccountStore.text(answer), request: job.request))
                for d in outcome.draws { draws.append((job.id, d.grant, job.now, d.amount, job.key)) }
                // usage.threshold (SPEC §6.7): in this transaction, once per account, feature, period and threshold.
                if allowed, let limit = outcome.decision.limit {
                    thresholdWrites += Self.thresholds(job, feature, used: read.used + job.amount, limit: limit, window)
                }
                if !touched.contains(where: { $0.utf8.elementsEqual(job.id.utf8) }) { touched.append(job.id) }
                results.append(.success(answer))
            }
            var writes = Self.recordWrites(records, last: lastRecord)
            if !draws.isEmpty {
                writes.append(
                    (
                        """
                        UPDATE ent_grants g SET used = g.used + d.amount
                        FROM (SELECT id, grant_id, sum(amount) AS amount
                              FROM unnest($1::text[], $2::text[], $3::bigint[]) d(id, grant_id, amount)
                              GROUP BY id, grant_id) d
                        WHERE g.account_id = d.id AND g.grant_id = d.grant_id
                        """,
                        [
                            pgArray(draws.map(\.id)), pgArray(draws.map(\.grant)),
                            pgArray(draws.map { String($0.amount) }),
                        ]
                    ))
                writes.append(
                    (
                        """
                        INSERT INTO ent_grant_draws (account_id, grant_id, at_s, at_n, amount, usage_key)
                        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::bigint[],
                          $6::text[])
                        """,
                        [
                            pgArray(draws.map(\.id)), pgArray(draws.map(\.grant)),
                            pgArray(draws.map { String($0.at.seconds) }),
                            pgArray(draws.map { String($0.at.nanos) }),
                            pgArray(draws.map { String($0.amount) }), pgArray(draws.map(\.key)),
                        ]
                    ))
            }
            writes += thresholdWrites
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

    /// One consumption's record.
    struct Record {
        var pair: Int
        var id: String
        var feature: String
        var key: String
        var at: Timestamp
        var amount: Int64
        var granted: Int64
        var answer: String
        var request: String
    }

    /// The statements that insert the batch's records with their running totals. A pair whose records all fall at
    /// or after its last stored record (the normal case: consumptions at the clock) gets its totals computed here,
    /// in time order, and all records go in one INSERT; a record before a stored one (an explicit past `now`) is
    /// inserted on its own with its total read at its instant, and the totals after it raised.
    static func recordWrites(_ records: [Record], last: [Int: [[String?]]]) -> [(sql: String, parameters: [String?])] {
        var inOrder: [Record] = []
        var totals: [(Int64, Int64)] = []
        var writes: [(sql: String, parameters: [String?])] = []
        var byPair: [Int: [Record]] = [:]
        for r in records { byPair[r.pair, default: []].append(r) }
        for (p, rs) in byPair.sorted(by: { $0.key < $1.key }) {
            let row = last[p + 1]?.first ?? []
            var lastAt: Timestamp?
            var total: Int64 = 0
            var granted: Int64 = 0
            if row.count == 4, let s = row[0].flatMap({ Int64($0) }), let n = row[1].flatMap({ Int32($0) }) {
                lastAt = Timestamp(seconds: s, nanos: n)
                total = Int64(row[2] ?? "0") ?? 0
                granted = Int64(row[3] ?? "0") ?? 0
            }
            if let lastAt, rs.contains(where: { $0.at < lastAt }) {
                for r in rs { writes += outOfOrder(r) }
                continue
            }
            // Stable: records at one instant keep their order.
            for r in rs.enumerated().sorted(by: { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }).map(
                \.element)
            {
                total = GrantLedger.add(total, r.amount)
                granted = GrantLedger.add(granted, r.granted)
                inOrder.append(r)
                totals.append((total, granted))
            }
        }
        guard !inOrder.isEmpty else { return writes }
        let insert: (sql: String, parameters: [String?]) = (
            """
            INSERT INTO ent_usage (account_id, feature, idempotency_key, at_s, at_n, amount, answer, granted, request,
              total, granted_total)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::integer[], $6::bigint[],
              $7::text[], $8::bigint[], $9::text[], $10::bigint[], $11::bigint[])
            """,
            [
                pgArray(inOrder.map(\.id)), pgArray(inOrder.map(\.feature)),
                pgArray(inOrder.map(\.key)), pgArray(inOrder.map { String($0.at.seconds) }),
                pgArray(inOrder.map { String($0.at.nanos) }), pgArray(inOrder.map { String($0.amount) }),
                pgArray(inOrder.map(\.answer)), pgArray(inOrder.map { String($0.granted) }),
                pgArray(inOrder.map(\.request)), pgArray(totals.map { String($0.0) }),
                pgArray(totals.map { String($0.1) }),
            ]
        )
        return [insert] + writes
    }

    /// A record inserted before later ones: its totals are those at its instant plus its amounts, and every later
    /// record's totals grow by them.
    static func outOfOrder(_ r: Record) -> [(sql: String, parameters: [String?])] {
        var out: [(sql: String, parameters: [String?])] = [
            (
                """
                INSERT INTO ent_usage (account_id, feature, idempotency_key, at_s, at_n, amount, answer, granted,
                  request, total, granted_total)
                SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9,
                  coalesce(last.total, 0) + $6, coalesce(last.granted_total, 0) + $8
                FROM (SELECT 1) one LEFT JOIN LATERAL (
                  SELECT total, granted_total FROM ent_usage
                  WHERE account_id = $1 AND feature = $2 AND (at_s, at_n) <= ($4::bigint, $5::integer)
                  ORDER BY at_s DESC, at_n DESC, total DESC LIMIT 1) last ON true
                """,
                [r.id, r.feature, r.key] + r.at.parameters + [String(r.amount), r.answer, String(r.granted), r.request]
            )
        ]
        if r.amount > 0 {
            out.append(
                (
                    """
                    UPDATE ent_usage SET total = total + $5, granted_total = granted_total + $6
                    WHERE account_id = $1 AND feature = $2 AND (at_s, at_n) > ($3::bigint, $4::integer)
                    """, [r.id, r.feature] + r.at.parameters + [String(r.amount), String(r.granted)]
                ))
        }
        return out
    }

    private static func slotKey(_ job: Job, _ w: UsageWindow) -> ScalarKey {
        let name = job.program.policy.features[job.feature].name
        return ScalarKey("\(job.id)\u{0}\(name)\u{0}\(w.start?.rfc3339 ?? "")\u{0}\(w.end?.rfc3339 ?? "")")
    }

    private static func pairKey(_ job: Job) -> ScalarKey {
        ScalarKey("\(job.id)\u{0}\(job.program.policy.features[job.feature].name)")
    }

    /// A repeated idempotency key: the first answer, marked `replayed`, when the request is the same; refused when
    /// the key was first used for another feature or amount (it names one request).
    private static func replay(_ request: String, _ answer: JSONValue, _ job: Job) -> Result<JSONValue, StoreRefusal> {
        guard request.utf8.elementsEqual(job.request.utf8) else { return .failure(.idempotencyKeyReused) }
        guard case .object(var m) = answer else { return .success(answer) }
        m.removeAll { $0.0 == "replayed" }
        m.append(("replayed", .bool(true)))
        return .success(.object(m))
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
