/// `POST /v1/check` and `POST /v1/entitlements` (SPEC §6.1, §6.2): decode the body, resolve its account, answer.
/// An account given by id is read from the store (an unknown id is an account without a subscription); without a
/// store it is 503 `store_unavailable`.
enum Decisions {
    static let statelessDetail = "account ids need the account store; this service runs stateless"

    static func check(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> Reply {
        var tally = DecisionTally()
        defer { context.tally = tally }
        let program = context.program
        // An inline account is answered straight from the body's bytes; an account by id is read from the store.
        let clock = context.now()
        switch Engine.answerCheck(program, body: req.body, now: clock, tally: &tally) {
        case .response(let bytes): return .response(HTTPResponse(status: 200, body: bytes))
        case .invalid(let e): throw HTTPError(e)
        case .needsAccount(var request, let id):
            guard let store = context.store else { throw .storeUnavailable(statelessDetail) }
            let now = request.now ?? clock
            let limits = limitFeatures(request)
            switch store.lookup(id, program: program, now: now, limits: limits) {
            case .cached(let state):
                return .response(answer(program, &request, state, now: now, tally: &tally))
            case .load:
                // The decoded request goes to the blocking pool with the load: nothing is decoded twice.
                return .wait { [request] (context) throws(HTTPError) in
                    var request = request
                    let state = try load(store, id, context, now: now, limits: limits)
                    var tally = DecisionTally()
                    defer { context.tally = tally }
                    return answer(program, &request, state, now: now, tally: &tally)
                }
            }
        }
    }

    /// The limit features of `request`'s checks that name no `usage` (they get the recorded usage, SPEC §6.3).
    static func limitFeatures(_ request: CheckRequest) -> [Int] {
        var limits: [Int] = []
        for c in request.checks {
            if case .success(.limit(let f, nil, _)) = c { limits.append(f) }
        }
        return limits
    }

    /// The `/v1/check` answer for a stored account: limit checks without `usage` get the recorded usage.
    static func answer(
        _ program: Program, _ request: inout CheckRequest, _ state: DecisionState, now: Timestamp,
        tally: inout DecisionTally
    ) -> HTTPResponse {
        if !state.usage.isEmpty {
            for (k, c) in request.checks.enumerated() {
                if case .success(.limit(let f, nil, let amount)) = c {
                    request.checks[k] = .success(.limit(feature: f, usage: state.usage[f] ?? 0, amount: amount))
                }
            }
        }
        return HTTPResponse(
            status: 200, body: Engine.respond(program, request, account: state.prepared, now: now, tally: &tally))
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

    static func entitlements(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> Reply {
        let program = context.program
        switch Engine.decodeSnapshot(program, body: req.body) {
        case .failure(let e): throw HTTPError(e)
        case .success(let r):
            let now = r.now ?? context.now()
            return try withAccount(r.account, context, now: now) { (account, _) in
                .json(200, Engine.snapshot(program, account: account.prepared, user: r.user, now: now))
            }
        }
    }

    /// Answers with an account: an inline one prepared at once; a stored one from this replica's cache at once, or
    /// else read through the database on the blocking pool (`Reply.wait`). `answer` gets the account and whether it
    /// is stored (an unknown id answers as an account without a subscription).
    static func withAccount(
        _ account: AccountReference, _ context: RequestContext, now: Timestamp,
        _ answer: @escaping @Sendable (DecisionState, RequestContext) throws(HTTPError) -> HTTPResponse
    ) throws(HTTPError) -> Reply {
        switch account {
        case .inline(let a):
            return .response(
                try answer(DecisionState(prepared: context.program.prepare(a), usage: [:], known: true), context))
        case .id(let id): return try withStored(id, context, now: now, answer)
        }
    }

    /// `withAccount` for an account id.
    static func withStored(
        _ id: String, _ context: RequestContext, now: Timestamp,
        _ answer: @escaping @Sendable (DecisionState, RequestContext) throws(HTTPError) -> HTTPResponse
    ) throws(HTTPError) -> Reply {
        guard let store = context.store else { throw .storeUnavailable(statelessDetail) }
        let program = context.program
        switch store.lookup(id, program: program, now: now, limits: []) {
        case .cached(let state): return .response(try answer(state, context))
        case .load:
            return .wait { (context) throws(HTTPError) in
                try answer(try load(store, id, context, now: now, limits: []), context)
            }
        }
    }

    /// A stored account read through the database (on a thread that may wait); a database that does not answer is
    /// 503 `store_unavailable` unless a cached entry can stand in (both counted in metrics).
    static func load(_ store: AccountStore, _ id: String, _ context: RequestContext, now: Timestamp, limits: [Int])
        throws(HTTPError) -> DecisionState
    {
        do {
            let state = try store.load(id, program: context.program, now: now, limits: limits)
            if state.stale { context.metrics.storeErrors.add(1, ordering: .relaxed) }
            return state
        } catch {
            context.metrics.storeErrors.add(1, ordering: .relaxed)
            throw .storeUnavailable(error.description)
        }
    }
}
