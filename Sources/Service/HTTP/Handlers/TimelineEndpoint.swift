import Evaluator
import Rules

/// `POST /v1/timeline`: an account's lifecycle boundaries (inline, or stored by id) and what changes at each.
enum TimelineEndpoint {
    static func handle(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> Reply {
        let program = context.program
        switch Timeline.decode(program, body: req.body) {
        case .failure(let e): throw HTTPError(e)
        case .success(let r):
            let now = context.now()
            return try Decisions.withAccount(r.account, context, now: now) { (state, _) in
                timeline(program, r, state.prepared, now: now)
            }
        }
    }

    static func timeline(_ program: Program, _ r: Timeline.Request, _ account: PreparedAccount, now: Timestamp)
        -> HTTPResponse
    {
        let span = Timeline.defaultSpan(account: account.account, user: r.user, now: now)
        let from =
            r.from
            ?? (r.to.map { min(span.from, $0.subtracting(PolicyDuration(seconds: 86_400)) ?? $0) } ?? span.from)
        let to = r.to ?? max(span.to, from.adding(PolicyDuration(seconds: 86_400)) ?? from)
        return .json(
            200,
            Timeline.compute(program, account: account, user: r.user, from: from, to: to, routes: r.routes))
    }
}
