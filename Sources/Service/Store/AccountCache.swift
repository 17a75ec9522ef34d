import Synchronization

/// The usage of one limit feature as cached: the sum over a fixed window, or (for a rolling 24h period) the records
/// themselves, so the sum can be taken at any later `now`.
struct CachedUsage: Sendable {
    var period: Feature.Period
    var window: UsageWindow
    var used: Int64
    /// Rolling periods: every record from the window's start on (instant, amount).
    var records: [(at: Timestamp, amount: Int64)]

    /// The usage of the period containing `now`, when the cached figures cover it (nil: read the database).
    func used(at now: Timestamp, loadedAt: Timestamp, subscription: SubscriptionState?) -> Int64? {
        switch period {
        case .none: return used
        case .rolling24h:
            // Records after the load arrive as notifications (which drop the entry), so the cached records cover
            // every window that starts after the load's window did.
            guard now >= loadedAt, let start = now.subtracting(PolicyDuration(seconds: 86_400)) else { return nil }
            var sum: Int64 = 0
            for r in records where r.at > start && r.at <= now { sum &+= r.amount }
            return sum
        case .month, .billing:
            let w = UsageWindow.containing(now, period: period, subscription: subscription)
            return w.start == window.start && w.end == window.end ? used : nil
        }
    }
}

/// An account as loaded from the store for the cache: its stored state (nil: no account under this id, which is
/// cached too) and the usage of every limit feature, by feature name. Independent of any program.
struct AccountSnapshot: Sendable {
    var stored: StoredAccount?
    var usage: [String: CachedUsage]
    var loadedAt: Timestamp
}

/// Each replica's in-memory copy of stored accounts (SPEC §7): decisions on a cached account need no database round
/// trip. Entries are program-independent snapshots, prepared for the serving program on first use after a reload.
/// Kept fresh by `StoreListener` (NOTIFY drops an entry); while the listener is down the cache is not trusted
/// (decisions read through the database, and fall back to cached entries only while the database does not answer).
/// Bounded: past `capacity` the least recently used entries go.
final class AccountCache: Sendable {
    struct Entry {
        var snapshot: AccountSnapshot
        var lastUsed: UInt64
        /// The snapshot prepared for one program (identified by its address while it serves).
        var preparedFor: ObjectIdentifier?
        var prepared: PreparedAccount?
    }

    struct State {
        var entries: [String: Entry] = [:]
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

    /// The cached account prepared for `program`, and its snapshot; nil when not cached.
    func lookup(_ id: String, program: Program) -> (PreparedAccount, AccountSnapshot)? {
        state.withLock { s -> (PreparedAccount, AccountSnapshot)? in
            guard var e = s.entries[id] else { return nil }
            s.tick &+= 1
            e.lastUsed = s.tick
            let key = ObjectIdentifier(program)
            if e.preparedFor != key || e.prepared == nil {
                let account = e.snapshot.stored?.account(program) ?? Account(id: id)
                e.prepared = program.prepare(account, precomputeRollouts: true)
                e.preparedFor = key
            }
            s.entries[id] = e
            return (e.prepared!, e.snapshot)
        }
    }

    /// The mark to take before loading an account from the database (see `insert`).
    var generation: Int { state.withLock { $0.generation } }

    /// Caches a snapshot whose load started at mark `since`; when the account was invalidated meanwhile, the
    /// snapshot may already be stale and is not kept.
    func insert(_ id: String, _ snapshot: AccountSnapshot, loadedSince since: Int) {
        state.withLock { s in
            guard since >= s.floor, (s.recent[id] ?? 0) <= since else { return }
            s.tick &+= 1
            s.entries[id] = Entry(snapshot: snapshot, lastUsed: s.tick)
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
