/// `POST /v1/check` and `POST /v1/entitlements` (SPEC §6.1, §6.2): decode the body, resolve its account, answer.
/// Without a store an account given by id cannot be resolved: 503 `store_unavailable`.
enum Decisions {
    static let statelessDetail = "account ids need the account store; this service runs stateless"

    static func check(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        var tally = DecisionTally()
        defer { context.tally = tally }
        return try answerCheck(context.program, body: req.body, now: context.now(), tally: &tally)
    }

    /// The `/v1/check` answer for a body (also what `entitlements check` prints).
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
            guard case .inline(let account) = r.account else { throw .storeUnavailable(statelessDetail) }
            return .json(
                200,
                Engine.snapshot(program, account: program.prepare(account), user: r.user, now: r.now ?? context.now()))
        }
    }
}
