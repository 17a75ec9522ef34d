/// `POST /v1/check` and `POST /v1/entitlements` (SPEC §6.1, §6.2): decode the body, resolve its account, answer.
/// An account given by id is read from the store (an unknown id is an account without a subscription); without a
/// store it is 503 `store_unavailable`.
enum Decisions {
    static let statelessDetail = "account ids need the account store; this service runs stateless"

    static func check(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        var tally = DecisionTally()
        defer { context.tally = tally }
        let program = context.program
        // An inline account is answered straight from the body's bytes; an account by id is read from the store.
        let clock = context.now()
        switch Engine.answerCheck(program, body: req.body, now: clock, tally: &tally) {
        case .response(let bytes): return HTTPResponse(status: 200, body: bytes)
        case .invalid(let e): throw HTTPError(e)
        case .needsAccount(var request, let id):
            let now = request.now ?? clock
            let account = try stored(id, filling: &request, context, now: now)
            return HTTPResponse(
                status: 200, body: Engine.respond(program, request, account: account, now: now, tally: &tally))
        }
    }

    /// The `/v1/check` answer for a body whose account is inline (what `entitlements check` prints).
    static func answerCheck(_ program: Program, body: [UInt8], now: Timestamp, tally: inout DecisionTally)
        throws(HTTPError) -> HTTPResponse
    {
        switch Engine.answerInline(program, body: body, now: now, tally: &tally) {
        case .success(let bytes): return HTTPResponse(status: 200, body: bytes)
        case .failure(.invalid(let e)): throw HTTPError(e)
        case .failure(.accountID): throw .storeUnavailable(statelessDetail)
        }
    }

    static func entitlements(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let program = context.program
        switch Engine.decodeSnapshot(program, body: req.body) {
        case .failure(let e): throw HTTPError(e)
        case .success(let r):
            let now = r.now ?? context.now()
            let account = try prepared(r.account, context, now: now)
            return .json(200, Engine.snapshot(program, account: account, user: r.user, now: now))
        }
    }

    /// A stored account, prepared; an unknown id is an account without a subscription. Limit checks of `request`
    /// that name no `usage` get the usage recorded in the period containing `now` (SPEC §6.3).
    static func stored(
        _ id: String, filling request: inout CheckRequest, _ context: RequestContext, now: Timestamp
    ) throws(HTTPError) -> PreparedAccount {
        var limits: [Int] = []
        for c in request.checks {
            if case .success(.limit(let f, nil, _)) = c { limits.append(f) }
        }
        let found = try resolve(id, context, now: now, limits: limits)
        if !limits.isEmpty {
            for (k, c) in request.checks.enumerated() {
                if case .success(.limit(let f, nil, let amount)) = c {
                    request.checks[k] = .success(.limit(feature: f, usage: found.usage[f] ?? 0, amount: amount))
                }
            }
        }
        return found.prepared
    }

    static func stored(_ id: String, _ context: RequestContext, now: Timestamp) throws(HTTPError) -> PreparedAccount {
        try resolve(id, context, now: now, limits: []).prepared
    }

    /// An inline account prepared, or a stored one by id.
    static func prepared(_ account: AccountReference, _ context: RequestContext, now: Timestamp) throws(HTTPError)
        -> PreparedAccount
    {
        switch account {
        case .inline(let a): return context.program.prepare(a)
        case .id(let id): return try stored(id, context, now: now)
        }
    }

    /// A stored account for a decision: from this replica's cache when it is trusted and covers the usage asked
    /// for (no database round trip), else read through the database (and cached); while the database does not
    /// answer, a cached entry is used even when the cache is not trusted. `known` is false for an id that is not
    /// stored.
    static func resolve(_ id: String, _ context: RequestContext, now: Timestamp, limits: [Int]) throws(HTTPError) -> (
        prepared: PreparedAccount, usage: [Int: Int64], known: Bool
    ) {
        guard let store = context.store else { throw .storeUnavailable(statelessDetail) }
        let program = context.program
        guard let cache = store.cache else {
            try context.waitAllowed()
            do {
                let found = try store.loadForDecision(id, program: program, now: now, limitFeatures: limits)
                return (program.prepare(found?.account ?? Account(id: id)), found?.usage ?? [:], found != nil)
            } catch {
                context.metrics.storeErrors.add(1, ordering: .relaxed)
                throw .storeUnavailable(error.description)
            }
        }
        if cache.trusted.load(ordering: .relaxed), let hit = fromCache(cache, id, program, now, limits) {
            cache.hits.add(1, ordering: .relaxed)
            return hit
        }
        try context.waitAllowed()
        cache.misses.add(1, ordering: .relaxed)
        let since = cache.generation
        do {
            let entry = try store.cachedAccount(id, program: program, now: now)
            cache.insert(id, entry, loadedSince: since)
            var used: [Int: Int64] = [:]
            for f in limits { used[f] = entry.usage(of: f, at: now, program: program) ?? 0 }
            return (entry.prepared, used, entry.exists)
        } catch {
            context.metrics.storeErrors.add(1, ordering: .relaxed)
            if let stale = fromCache(cache, id, program, now, limits) { return stale }
            throw .storeUnavailable(error.description)
        }
    }

    /// From the cache, when the entry covers the usage of every limit in `limits` at `now`.
    private static func fromCache(
        _ cache: AccountCache, _ id: String, _ program: Program, _ now: Timestamp, _ limits: [Int]
    ) -> (prepared: PreparedAccount, usage: [Int: Int64], known: Bool)? {
        guard let (prepared, entry) = cache.lookup(id, program: program) else { return nil }
        if limits.isEmpty { return (prepared, [:], entry.exists) }
        var used: [Int: Int64] = [:]
        for f in limits {
            guard let value = entry.usage(of: f, at: now, program: program) else { return nil }
            used[f] = value
        }
        return (prepared, used, entry.exists)
    }
}
