import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Cache misses, read in one statement (docs/STORE.md, "Cold reads"). An account's whole decision state — the
/// account, its overrides, the usage sum of every fixed-period limit feature in the period containing the decision's
/// `now`, the records of rolling ones — comes from one statement, and the misses of every request waiting at that
/// moment (up to `batchSize`) share that statement: a reader thread takes them all. With standbys
/// (`--database-read-url`) the statement runs on a healthy one, and the accounts it had not yet replayed far enough
/// for (`CommitPositions`) are read again on the primary; a standby that fails is skipped from then on.
final class ColdReader: Sendable {
    struct Job: Sendable {
        let id: String
        let program: Program
        let now: Timestamp
        /// The position a standby must have replayed to answer (0 without standbys).
        let required: UInt64
    }

    let primary: ConnectionPool
    let standbys: Standbys?
    /// The misses waiting at a moment, taken together by a few reader threads (`GroupQueue`).
    private let queue: GroupQueue<Job, Result<CachedAccount, StoreError>>
    init(primary: ConnectionPool, standbys: Standbys?, readers: Int, batchSize: Int = 64) {
        self.primary = primary
        self.standbys = standbys
        queue = GroupQueue(name: "cold-reader", workers: readers, batchSize: batchSize) { jobs in
            // One statement per program (the features' periods belong to it), in the order the programs came.
            var results = [Result<CachedAccount, StoreError>](
                repeating: .failure(.unavailable("not run")), count: jobs.count)
            var serials: [UInt64] = []
            for j in jobs where !serials.contains(j.program.serial) { serials.append(j.program.serial) }
            for serial in serials {
                let indexes = jobs.indices.filter { jobs[$0].program.serial == serial }
                let answers = Self.read(indexes.map { jobs[$0] }, primary: primary, standbys: standbys)
                for (i, a) in zip(indexes, answers) { results[i] = a }
            }
            return results
        }
    }

    /// Reads one account, waiting for the statement its group runs.
    func read(_ job: Job) throws(StoreError) -> CachedAccount {
        try queue.submit(job).get()
    }

    /// The jobs of one program: on a standby that has replayed far enough, then what is left on the primary.
    private static func read(
        _ batch: [Job], primary: ConnectionPool, standbys: Standbys?
    ) -> [Result<CachedAccount, StoreError>] {
        var results = [Result<CachedAccount, StoreError>](
            repeating: .failure(.unavailable("not run")), count: batch.count)
        var left = Array(batch.indices)
        if let standby = standbys?.pick(required: batch.map(\.required).min() ?? 0) {
            do {
                let (entries, replayed) = try standby.pool.withConnection { (db) throws(StoreError) in
                    try read(batch, db)
                }
                standby.reads.add(1, ordering: .relaxed)
                standby.sawReplay(replayed)
                // Not replayed far enough for an account: the primary answers it.
                left = batch.indices.filter { batch[$0].required > replayed }
                for i in batch.indices where !left.contains(i) { results[i] = .success(entries[i]) }
            } catch {
                standby.failed(error)
            }
        }
        guard !left.isEmpty else { return results }
        do {
            let (entries, _) = try primary.withConnection { (db) throws(StoreError) in
                try read(left.map { batch[$0] }, db)
            }
            for (i, entry) in zip(left, entries) { results[i] = .success(entry) }
        } catch {
            for i in left { results[i] = .failure(error) }
        }
        return results
    }

    /// One statement for every job of `batch` (one program): the entries in order, and the position the server had
    /// replayed (`pg_last_wal_replay_lsn()`; the maximum on a primary, which has everything).
    static func read(_ batch: [Job], _ db: DatabaseConnection) throws(StoreError) -> ([CachedAccount], UInt64) {
        let program = batch[0].program
        let limits = program.policy.features.filter { $0.kind == .limit }
        // The windows, job by job and feature by feature (a billing period is taken as the calendar month here and
        // summed again below when the stored subscription's period differs).
        var job: [String?] = []
        var feature: [String?] = []
        var lo: [String?] = []
        var loN: [String?] = []
        var hi: [String?] = []
        var hiN: [String?] = []
        var rolling: [String?] = []
        for (k, j) in batch.enumerated() {
            for f in limits {
                let w = UsageWindow.containing(j.now, period: f.period, subscription: nil)
                job.append(String(k + 1))
                feature.append(f.name)
                lo.append(w.start.map { String($0.seconds) })
                loN.append(w.start.map { String($0.nanos) })
                hi.append(w.end.map { String($0.seconds) })
                hiN.append(w.end.map { String($0.nanos) })
                rolling.append(f.period == .rolling24h ? "t" : "f")
            }
        }
        // The replay position first, as a statement of its own: replay only moves forward, so what it says is at or
        // before the snapshot of the read that follows (read within the same statement, it could be later).
        let results = try db.pipeline([
            ("SELECT coalesce(pg_last_wal_replay_lsn()::text, '')", []),
            (
                """
                WITH ids AS (SELECT * FROM unnest($1::text[]) WITH ORDINALITY AS i(account_id, k)),
                w AS (SELECT w.*, ids.account_id FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::integer[],
                        $6::bigint[], $7::integer[], $8::boolean[]) AS w(k, feature, lo_s, lo_n, hi_s, hi_n, rolling)
                      JOIN ids ON ids.k = w.k),
                sums AS (SELECT w.k, json_agg(json_build_array(w.feature, t.total)) AS used
                         -- The running totals (docs/STORE.md): the last record before the window's end minus
                         -- the last before its start, two index probes however many records there are.
                         FROM w CROSS JOIN LATERAL (SELECT
                             coalesce((SELECT u.total FROM ent_usage u
                               WHERE u.account_id = w.account_id AND u.feature = w.feature
                                 AND (u.at_s, u.at_n) < (coalesce(w.hi_s, 9223372036854775807), coalesce(w.hi_n, 0))
                               ORDER BY u.at_s DESC, u.at_n DESC, u.total DESC LIMIT 1), 0)
                             - coalesce((SELECT u.total FROM ent_usage u
                               WHERE u.account_id = w.account_id AND u.feature = w.feature
                                 AND (u.at_s, u.at_n) < (coalesce(w.lo_s, -9223372036854775808), coalesce(w.lo_n, 0))
                               ORDER BY u.at_s DESC, u.at_n DESC, u.total DESC LIMIT 1), 0) AS total) t
                         WHERE NOT w.rolling AND t.total <> 0
                         GROUP BY w.k),
                recs AS (SELECT w.k, json_agg(json_build_array(u.feature, u.at_s, u.at_n, u.amount)) AS records
                         FROM w JOIN ent_usage u ON u.account_id = w.account_id AND u.feature = w.feature
                         WHERE w.rolling AND u.amount > 0 AND (u.at_s, u.at_n) >= (w.lo_s, w.lo_n)
                         GROUP BY w.k)
                SELECT ids.k, a.account_id IS NOT NULL, a.subscription, a.attributes,
                  (SELECT json_agg(json_build_array(o.feature, o.value, o.expires_at, o.reason, o.actor)
                                   ORDER BY o.feature COLLATE "C")
                     FROM ent_overrides o WHERE a.account_id IS NOT NULL AND o.account_id = ids.account_id),
                  sums.used, recs.records,
                  (SELECT json_agg(json_build_array(\(GrantLedger.columns(prefix: "g."))) ORDER BY g.seq)
                     FROM ent_grants g
                    WHERE a.account_id IS NOT NULL AND g.account_id = ids.account_id AND g.voided_s IS NULL)
                FROM ids LEFT JOIN ent_accounts a ON a.account_id = ids.account_id
                  LEFT JOIN sums ON sums.k = ids.k LEFT JOIN recs ON recs.k = ids.k
                ORDER BY ids.k
                """,
                [
                    pgArray(batch.map(\.id)), pgArray(job), pgArray(feature), pgArray(lo), pgArray(loN), pgArray(hi),
                    pgArray(hiN), pgArray(rolling),
                ]
            ),
        ])
        let rows = results[1].values
        guard rows.count == batch.count else {
            throw .failed(sqlstate: "XX000", message: "a cold read returned \(rows.count) rows for \(batch.count)")
        }
        // A primary replays nothing: it has every commit.
        let replayed = CommitPositions.parse(results[0].first?[0] ?? nil) ?? .max
        var entries: [CachedAccount] = []
        for (j, row) in zip(batch, rows) {
            entries.append(try entry(j, row, program, db))
        }
        return (entries, replayed)
    }

    private static func entry(_ j: Job, _ row: [String?], _ program: Program, _ db: DatabaseConnection)
        throws(StoreError) -> CachedAccount
    {
        guard row[1] == "t" else {
            return CachedAccount(
                exists: false, stored: nil, prepared: program.prepare(Account(id: j.id), precomputeRollouts: true),
                loadedAt: j.now, usageProgram: program.serial, used: [], records: [])
        }
        var stored = StoredAccount(
            id: j.id, subscription: AccountStore.json(row[2]) ?? .null,
            attributes: AccountStore.json(row[3]) ?? .object([]), overrides: [])
        for o in elements(row[4]) {
            guard case .array(let v) = o, v.count == 5 else { continue }
            stored.overrides.append(
                StoredOverride(
                    feature: string(v[0]), value: AccountStore.json(string(v[1])) ?? .null,
                    expiresAt: v[2] == .null ? .null : .string(string(v[2])), reason: string(v[3]),
                    actor: string(v[4])))
        }
        for g in elements(row[7]) {
            guard case .array(let v) = g else { continue }
            stored.grants.append(GrantLedger.grant(v.map { $0 == .null ? nil : string($0) }))
        }
        let account = stored.account(program)
        var used: [(feature: String, amount: Int64)] = []
        for s in elements(row[5]) {
            guard case .array(let v) = s, v.count == 2, case .int(let total) = v[1] else { continue }
            used.append((string(v[0]), total))
        }
        var records: [(feature: String, at: Timestamp, amount: Int64)] = []
        for r in elements(row[6]) {
            guard case .array(let v) = r, v.count == 4, case .int(let s) = v[1], case .int(let n) = v[2],
                case .int(let amount) = v[3]
            else { continue }
            records.append((string(v[0]), Timestamp(seconds: s, nanos: Int32(clamping: n)), amount))
        }
        // A billing period other than the calendar month: summed again over the subscription's own period.
        for f in program.policy.features where f.kind == .limit && f.period == .billing {
            let own = UsageWindow.containing(j.now, period: .billing, subscription: account.subscription)
            let month = UsageWindow.containing(j.now, period: .month, subscription: nil)
            guard own.start != month.start || own.end != month.end else { continue }
            used.removeAll { $0.feature == f.name }
            let sum = try AccountStore.used(db, j.id, f.name, own)
            if sum != 0 { used.append((f.name, sum)) }
        }
        return CachedAccount(
            exists: true, stored: stored, prepared: program.prepare(account, precomputeRollouts: true),
            loadedAt: j.now, usageProgram: program.serial, used: used, records: records)
    }

    private static func elements(_ text: String?) -> [JSONValue] {
        guard let text, case .array(let items)? = AccountStore.json(text) else { return [] }
        return items
    }

    private static func string(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): s
        case .int(let i): String(i)
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: ""
        }
    }
}

/// A PostgreSQL array literal of text elements (`{"a","b\"c",NULL}`), for one array parameter instead of one
/// parameter per element.
func pgArray(_ items: [String?]) -> String {
    var out = "{"
    for (i, item) in items.enumerated() {
        if i > 0 { out += "," }
        guard let item else {
            out += "NULL"
            continue
        }
        out += "\""
        for c in item.unicodeScalars {
            if c == "\"" || c == "\\" { out += "\\" }
            out.unicodeScalars.append(c)
        }
        out += "\""
    }
    return out + "}"
}

/// Warm-up (`serve --warm N`): a replica that starts fills its cache with the N most recently written accounts,
/// read in groups of 500 with the same statement as cache misses (on a standby when one is usable), on a thread of
/// its own; `/healthz` shows its progress and `/readyz` answers 503 `warming_up` until it is done.
final class Warmup: Sendable {
    let target: Int
    let loaded = Atomic<Int>(0)
    let done = Atomic<Bool>(false)
    let failed = Atomic<Bool>(false)
    let startedAt = Clock.monotonicSeconds()

    init(target: Int) { self.target = target }

    var json: JSONValue {
        .object([
            ("target", .int(Int64(target))), ("loaded", .int(Int64(loaded.load(ordering: .relaxed)))),
            ("done", .bool(done.load(ordering: .relaxed))), ("failed", .bool(failed.load(ordering: .relaxed))),
        ])
    }
}

extension AccountStore {
    /// Starts the warm-up of `count` accounts for the program `program()` serves (see `Warmup`).
    func warm(_ count: Int, program: @escaping @Sendable () -> Program) {
        let warmup = Warmup(target: count)
        warming.withLock { $0 = warmup }
        let t = Thread { [self] in
            // Entries loaded before the listener LISTENs would be dropped when it does (each could be older than its
            // first notification): start once it listens (or after 10 s, then as a cache that is not trusted yet).
            var waited = 0
            while let listener, !listener.listening, waited < 200 {
                usleep(50_000)
                waited += 1
            }
            do throws(StoreError) {
                let ids = try read(about: nil) { (db) throws(StoreError) in
                    try db.execute(
                        "SELECT account_id FROM ent_accounts ORDER BY updated_at DESC LIMIT $1", [String(count)]
                    ).values.compactMap { $0[0] }
                }
                var i = 0
                while i < ids.count {
                    let group = Array(ids[i..<min(ids.count, i + 500)])
                    let p = program()
                    let since = cache?.generation ?? 0
                    let now = Clock.now()
                    let jobs = group.map {
                        ColdReader.Job(id: $0, program: p, now: now, required: positions?.required($0) ?? 0)
                    }
                    let (entries, _) = try read(about: nil) { (db) throws(StoreError) in try ColdReader.read(jobs, db) }
                    for (id, entry) in zip(group, entries) { cache?.insert(id, entry, loadedSince: since) }
                    i += group.count
                    warmup.loaded.store(i, ordering: .relaxed)
                }
            } catch {
                warmup.failed.store(true, ordering: .relaxed)
                Log.line("warn", "warmup_failed", [("detail", .string(error.description))])
            }
            warmup.done.store(true, ordering: .relaxed)
            Log.line(
                "info", "warmup_done",
                [
                    ("accounts", .int(Int64(warmup.loaded.load(ordering: .relaxed)))),
                    ("seconds", .number(String(Clock.monotonicSeconds() - warmup.startedAt))),
                ])
        }
        t.name = "cache-warmup"
        t.start()
    }
}
