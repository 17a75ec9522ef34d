import Synchronization

/// One account as a replica keeps it in memory: prepared for the program it was last used with, its overrides as
/// stored (by feature name, to prepare it again after a reload), and the usage of its limit features around the
/// instant it was loaded. Compact on purpose (a few hundred bytes for an account without usage or overrides): only
/// non-zero usage sums, and the records of rolling periods, are kept.
final class CachedAccount: @unchecked Sendable {
    // @unchecked: mutated only under `AccountCache`'s lock (`prepared`, `program`, `lastUsed`).
    /// False for an id that is not stored (cached too: the no-subscription answer).
    let exists: Bool
    var prepared: PreparedAccount
    var program: ObjectIdentifier
    let overrides: [StoredOverride]
    /// When it was loaded, and the program whose limit features' periods the usage below follows.
    let loadedAt: Timestamp
    let usageProgram: ObjectIdentifier
    /// Non-zero sums over each fixed-window or lifetime limit feature's period containing `loadedAt`.
    let used: [(feature: String, amount: Int64)]
    /// Rolling-period features: every record from the window's start on.
    let records: [(feature: String, at: Timestamp, amount: Int64)]
    var lastUsed: UInt64 = 0

    init(
        exists: Bool, prepared: PreparedAccount, program: Program, overrides: [StoredOverride], loadedAt: Timestamp,
        used: [(feature: String, amount: Int64)], records: [(feature: String, at: Timestamp, amount: Int64)]
    ) {
        self.exists = exists
        self.prepared = prepared
        self.program = ObjectIdentifier(program)
        self.overrides = overrides
        self.loadedAt = loadedAt
        usageProgram = ObjectIdentifier(program)
        self.used = used
        self.records = records
    }

    /// The usage of limit feature `f` in the period containing `now`, when the cached figures cover it (nil: read
    /// the database). Figures loaded under another program (a reload may change periods) are not used.
    func usage(of f: Int, at now: Timestamp, program: Program) -> Int64? {
        guard exists else { return 0 }
        guard ObjectIdentifier(program) == usageProgram else { return nil }
        let feature = program.policy.features[f]
        switch feature.period {
        case .none:
            return used.first { $0.feature == feature.name }?.amount ?? 0
        case .rolling24h:
            // Records after the load arrive as notifications (which drop this entry), so the records cover every
            // window that starts after the load's did.
            guard now >= loadedAt, let start = now.subtracting(PolicyDuration(seconds: 86_400)) else { return nil }
            var sum: Int64 = 0
            for r in records where r.feature == feature.name && r.at > start && r.at <= now { sum &+= r.amount }
            return sum
        case .month, .billing:
            let subscription = prepared.account.subscription
            let w = UsageWindow.containing(now, period: feature.period, subscription: subscription)
            let loaded = UsageWindow.containing(loadedAt, period: feature.period, subscription: subscription)
            guard w.start == loaded.start && w.end == loaded.end else { return nil }
            return used.first { $0.feature == feature.name }?.amount ?? 0
        }
    }

    /// The account prepared for `program` (prepared again, from the stored overrides, after a reload).
    func prepared(for program: Program) -> PreparedAccount {
        let key = ObjectIdentifier(program)
        if key != self.program {
            var account = prepared.account
            account.overrides = []
            let decoder = RequestDecoder(program: program)
            for o in overrides {
                if let ov = try? decoder.override(o.json, "override") { account.overrides.append(ov) }
            }
            prepared = program.prepare(account, precomputeRollouts: true)
            self.program = key
        }
        return prepared
    }
}

/// Each replica's in-memory copy of stored accounts (SPEC §7): decisions on a cached account need no database round
/// trip. Kept fresh by `StoreListener` (a NOTIFY drops an entry); while the listener is down the cache is not trusted
/// (decisions read through the database, and fall back to cached entries only while the database does not answer).
/// Bounded: past `capacity` the least recently used tenth goes.
final class AccountCache: Sendable {
    struct State {
        var entries: [String: CachedAccount] = [:]
        var tick: UInt64 = 0
        /// Bumped by every invalidation; `recent` remembers when each account was last invalidated, and `floor`
        /// stands in for everything older that `recent` no longer holds.
        var generation = 0
        var recent: [String: Int] = [:]
        var floor = 0
    }

    let capacity: Int
    private let state = Mutex(State())
    /// Whether notifications are flowing (the listener is connected and LISTENing).
    let trusted = Atomic<Bool>(false)
    let hits = Atomic<Int>(0)
    let misses = Atomic<Int>(0)

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { state.withLock { $0.entries.count } }

    var hitRatio: Double {
        let h = hits.load(ordering: .relaxed)
        let m = misses.load(ordering: .relaxed)
        return h + m == 0 ? 0 : Double(h) / Double(h + m)
    }

    /// The cached account, prepared for `program`; nil when not cached.
    func lookup(_ id: String, program: Program) -> (PreparedAccount, CachedAccount)? {
        state.withLock { s -> (PreparedAccount, CachedAccount)? in
            guard let e = s.entries[id] else { return nil }
            s.tick &+= 1
            e.lastUsed = s.tick
            return (e.prepared(for: program), e)
        }
    }

    /// The mark to take before loading an account from the database (see `insert`).
    var generation: Int { state.withLock { $0.generation } }

    /// Caches an account whose load started at mark `since`; when the account was invalidated meanwhile, what was
    /// loaded may already be stale and is not kept.
    func insert(_ id: String, _ entry: CachedAccount, loadedSince since: Int) {
        state.withLock { s in
            guard since >= s.floor, (s.recent[id] ?? 0) <= since else { return }
            s.tick &+= 1
            entry.lastUsed = s.tick
            s.entries[id] = entry
            if s.entries.count > capacity { evict(&s) }
        }
    }

    /// Drops one account (a NOTIFY, or this replica's own write).
    func invalidate(_ id: String) {
        state.withLock { s in
            s.generation += 1
            s.recent[id] = s.generation
            if s.recent.count > 10_000 {
                s.recent.removeAll(keepingCapacity: true)
                s.floor = s.generation
            }
            s.entries[id] = nil
        }
    }

    /// Drops everything (the listener reconnected: every entry is older than its last good notification).
    func clear() {
        state.withLock { s in
            s.generation += 1
            s.recent.removeAll(keepingCapacity: true)
            s.floor = s.generation
            s.entries.removeAll(keepingCapacity: true)
        }
    }

    /// Removes the least recently used tenth.
    private func evict(_ s: inout State) {
        let n = max(1, capacity / 10)
        let cut = s.entries.values.map(\.lastUsed).sorted()[min(n, s.entries.count) - 1]
        s.entries = s.entries.filter { $0.value.lastUsed > cut }
    }
}
