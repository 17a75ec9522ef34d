import Synchronization

/// One account as a replica keeps it in memory, immutable (a change replaces the entry whole): its stored state,
/// the account prepared for one program, and the usage of its limit features around the instant it was loaded.
/// Compact on purpose (a few hundred bytes for an account without usage or overrides): only non-zero usage sums,
/// and the records of rolling periods, are kept.
final class CachedAccount: Sendable {
    /// False for an id that is not stored (cached too: the no-subscription answer).
    let exists: Bool
    /// What of the stored account depends on the program (nil when not stored): its overrides and grants, by
    /// feature name, to prepare it again after a reload. The subscription and attributes are not kept twice: they are
    /// the prepared account's, which no program changes (an entry is ~530 bytes without overrides or usage).
    let stored: StoredAccount?
    /// The account prepared for the program whose `serial` it carries (`prepared.programSerial`).
    let prepared: PreparedAccount
    /// When it was loaded, and the serial of the program whose limit features' periods the usage below follows.
    let loadedAt: Timestamp
    let usageProgram: UInt64
    /// Non-zero sums over each fixed-window or lifetime limit feature's period containing `loadedAt`.
    let used: [(feature: String, amount: Int64)]
    /// Rolling-period features: every record from the window's start on.
    let records: [(feature: String, at: Timestamp, amount: Int64)]
    /// The cache's clock when it was last used (for eviction).
    let lastUsed = Atomic<UInt64>(0)

    init(
        exists: Bool, stored: StoredAccount?, prepared: PreparedAccount, loadedAt: Timestamp, usageProgram: UInt64,
        used: [(feature: String, amount: Int64)], records: [(feature: String, at: Timestamp, amount: Int64)]
    ) {
        self.exists = exists
        self.stored = stored.map {
            var s = $0
            s.subscription = .null
            s.attributes = .object([])
            return s
        }
        self.prepared = prepared
        self.loadedAt = loadedAt
        self.usageProgram = usageProgram
        self.used = used
        self.records = records
    }

    /// The same stored state and usage, prepared for `program` (after a reload).
    func prepared(for program: Program) -> CachedAccount {
        var account = stored?.account(program) ?? Account(id: prepared.account.id)
        account.subscription = prepared.account.subscription
        account.attributes = prepared.account.attributes
        return CachedAccount(
            exists: exists, stored: stored, prepared: program.prepare(account, precomputeRollouts: true),
            loadedAt: loadedAt, usageProgram: usageProgram, used: used, records: records)
    }

    /// The usage of limit feature `f` of `program` in the period containing `now`, when the cached figures cover it
    /// (nil: read the database). Figures loaded under another program (a reload may change periods) are not used.
    func usage(of f: Int, at now: Timestamp, program: Program) -> Int64? {
        guard exists else { return 0 }
        guard program.serial == usageProgram else { return nil }
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
}

/// Each replica's in-memory copy of stored accounts (SPEC §7): decisions on a cached account need no database round
/// trip. Kept fresh by `StoreListener` (a NOTIFY drops an entry); while the listener is down the cache is not trusted
/// (decisions read through the database, and fall back to cached entries only while the database does not answer).
/// Bounded: past `capacity` the least recently used tenth goes. Entries are immutable and keyed by the id's bytes;
/// an entry found prepared for another program is prepared again outside the lock and replaced whole.
final class AccountCache: Sendable {
    struct State {
        var entries: [ScalarKey: CachedAccount] = [:]
        /// Bumped by every invalidation; `recent` remembers when each account was last invalidated, and `floor`
        /// stands in for everything older that `recent` no longer holds.
        var generation = 0
        var recent: [ScalarKey: Int] = [:]
        var floor = 0
    }

    let capacity: Int
    private let state = Locked(State())
    private let tick = Atomic<UInt64>(0)
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

    /// The cached entry for `id`, prepared for `program`; nil when not cached.
    func lookup(_ id: String, program: Program) -> CachedAccount? {
        let key = ScalarKey(id)
        guard let found = state.withLock({ $0.entries[key] }) else { return nil }
        found.lastUsed.store(tick.add(1, ordering: .relaxed).newValue, ordering: .relaxed)
        if found.prepared.programSerial == program.serial { return found }
        // Prepared for another program (a reload swapped it in): prepare it for this one, outside the lock, and
        // replace the entry if it is still the one we found (else an invalidation or another request came first;
        // the entry made here is still right for this request).
        let again = found.prepared(for: program)
        again.lastUsed.store(found.lastUsed.load(ordering: .relaxed), ordering: .relaxed)
        state.withLock { s in
            if let index = s.entries.index(forKey: key), s.entries.values[index] === found {
                s.entries.values[index] = again
            }
        }
        return again
    }

    /// The mark to take before loading an account from the database (see `insert`).
    var generation: Int { state.withLock { $0.generation } }

    /// Caches an account whose load started at mark `since`; when the account was invalidated meanwhile, what was
    /// loaded may already be stale and is not kept.
    func insert(_ id: String, _ entry: CachedAccount, loadedSince since: Int) {
        let key = ScalarKey(id)
        entry.lastUsed.store(tick.add(1, ordering: .relaxed).newValue, ordering: .relaxed)
        state.withLock { s in
            guard since >= s.floor, (s.recent[key] ?? 0) <= since else { return }
            s.entries[key] = entry
            if s.entries.count > capacity { evict(&s) }
        }
    }

    /// Drops one account (a NOTIFY, or this replica's own write).
    func invalidate(_ id: String) {
        let key = ScalarKey(id)
        state.withLock { s in
            s.generation += 1
            s.recent[key] = s.generation
            if s.recent.count > 10_000 {
                s.recent.removeAll(keepingCapacity: true)
                s.floor = s.generation
            }
            s.entries[key] = nil
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
        let cut = s.entries.values.map { $0.lastUsed.load(ordering: .relaxed) }.sorted()[min(n, s.entries.count) - 1]
        s.entries = s.entries.filter { $0.value.lastUsed.load(ordering: .relaxed) > cut }
    }
}
