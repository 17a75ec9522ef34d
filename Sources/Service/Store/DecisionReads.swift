/// A stored account as a decision needs it: prepared for the very program that answers (SPEC §7 "Policy reloads"),
/// with the usage of the limit features asked about in the period containing the decision's `now`.
struct DecisionState: Sendable {
    let prepared: PreparedAccount
    /// Recorded usage by limit feature id (SPEC §6.3: a limit check without `usage` on a stored account).
    let usage: [Int: Int64]
    /// False for an id that is not stored (it answers as an account without a subscription).
    let known: Bool
    /// True when the database did not answer and a cached entry the cache did not vouch for was used (SPEC §9,
    /// "Cache and faults").
    var stale = false
}

/// What this replica's cache can say about an account without waiting on anything.
enum CacheLookup: Sendable {
    /// Cached, trusted and covering the usage asked for: answer now.
    case cached(DecisionState)
    /// Not cached, not trusted, or not covering the usage: `AccountStore.load` (which waits on the database).
    case load
}

/// The read-through for decisions on stored accounts: the cache first (`lookup`, never waits), then the database
/// (`load`, on a thread that may wait). The handlers ask these two and nothing else of the cache.
extension AccountStore {
    /// From the cache when it is trusted (notifications are flowing) and its entry covers the usage of every limit
    /// feature in `limits` at `now`; else `.load`.
    func lookup(_ id: String, program: Program, now: Timestamp, limits: [Int]) -> CacheLookup {
        guard let cache, cache.trusted.load(ordering: .relaxed),
            let found = Self.cached(cache, id, program, now, limits)
        else { return .load }
        cache.hits.add(1, ordering: .relaxed)
        return .cached(found)
    }

    /// Reads the account through the database and caches it. While the database does not answer, a cached entry
    /// is used even when the cache is not trusted (marked `stale`); without one the error is thrown.
    func load(_ id: String, program: Program, now: Timestamp, limits: [Int]) throws(StoreError) -> DecisionState {
        // The same one-statement read with or without a cache; only a cache keeps what was read.
        func state(_ entry: CachedAccount) -> DecisionState {
            var used: [Int: Int64] = [:]
            for f in limits { used[f] = entry.usage(of: f, at: now, program: program) ?? 0 }
            return DecisionState(prepared: entry.prepared, usage: used, known: entry.exists)
        }
        guard let cache else { return state(try cachedAccount(id, program: program, now: now)) }
        cache.misses.add(1, ordering: .relaxed)
        let since = cache.generation
        do {
            let entry = try cachedAccount(id, program: program, now: now)
            cache.insert(id, entry, loadedSince: since)
            return state(entry)
        } catch {
            guard var stale = Self.cached(cache, id, program, now, limits) else { throw error }
            stale.stale = true
            return stale
        }
    }

    /// From the cache, when the entry covers the usage of every limit in `limits` at `now`.
    private static func cached(
        _ cache: AccountCache, _ id: String, _ program: Program, _ now: Timestamp, _ limits: [Int]
    ) -> DecisionState? {
        guard let entry = cache.lookup(id, program: program) else { return nil }
        if limits.isEmpty { return DecisionState(prepared: entry.prepared, usage: [:], known: entry.exists) }
        var used: [Int: Int64] = [:]
        for f in limits {
            guard let value = entry.usage(of: f, at: now, program: program) else { return nil }
            used[f] = value
        }
        return DecisionState(prepared: entry.prepared, usage: used, known: entry.exists)
    }
}
