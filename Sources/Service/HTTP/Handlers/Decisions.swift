/// `POST /v1/check` and `POST /v1/entitlements` (SPEC §6.1, §6.2): decode the body, resolve its account, answer.
/// An account given by id is read from the store (an unknown id is an account without a subscription); without a
/// store it is 503 `store_unavailable`.
enum Decisions {
    static let statelessDetail = "account ids need the account store; this service runs stateless"

    static func check(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        var tally = DecisionTally()
        defer { context.tally = tally }
        let program = context.program
        switch Engine.decodeCheck(program, body: req.body) {
        case .failure(let e): throw HTTPError(e)
        case .success(var request):
            let now = request.now ?? context.now()
            let account: PreparedAccount
            switch request.account {
            case .inline(let a): account = program.prepare(a)
            case .id(let id): account = try stored(id, filling: &request, context, now: now)
            }
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
            let account: PreparedAccount
            switch r.account {
            case .inline(let a): account = program.prepare(a)
            case .id(let id): account = try stored(id, context, now: now)
            }
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
        guard let (account, usage) = try load(id, context, now: now, limits: limits) else {
            return context.program.prepare(Account(id: id))
        }
        for (k, c) in request.checks.enumerated() {
            if case .success(.limit(let f, nil, let amount)) = c {
                request.checks[k] = .success(.limit(feature: f, usage: usage[f] ?? 0, amount: amount))
            }
        }
        return context.program.prepare(account)
    }

    static func stored(_ id: String, _ context: RequestContext, now: Timestamp) throws(HTTPError) -> PreparedAccount {
        let account = try load(id, context, now: now, limits: [])?.account ?? Account(id: id)
        return context.program.prepare(account)
    }

    static func load(_ id: String, _ context: RequestContext, now: Timestamp, limits: [Int]) throws(HTTPError) -> (
        account: Account, usage: [Int: Int64]
    )? {
        guard let store = context.store else { throw .storeUnavailable(statelessDetail) }
        do {
            return try store.loadForDecision(id, program: context.program, now: now, limitFeatures: limits)
        } catch {
            context.metrics.storeErrors.add(1, ordering: .relaxed)
            throw .storeUnavailable(error.description)
        }
    }
}
