/// The service as a function from request to response (SPEC §6): route, run the middleware steps, call the
/// handler, record metrics and log errors. The socket layer calls `respond(to:)`; tests call it directly.
final class App: Sendable {
    let policy: PolicyHolder
    let auth: Auth
    let metrics: Metrics
    /// Clock for requests without `now` (injectable for tests).
    let clock: @Sendable () -> Timestamp
    /// Between routing and the handler, in this order: 405, 401/403, 413, 415.
    let steps: [any Middleware]

    static let table = RouteTable(routes)

    init(policy: PolicyHolder, auth: Auth, clock: @escaping @Sendable () -> Timestamp = { Clock.now() }) {
        self.policy = policy
        self.auth = auth
        self.clock = clock
        metrics = Metrics(labels: Self.table.labels)
        steps = [MethodStep(), AuthStep(auth: auth), BodySizeStep(), ContentTypeStep()]
    }

    func respond(to req: HTTPRequest) -> HTTPResponse {
        let start = Clock.monotonicSeconds()
        let found = Self.table.find(req.path)
        var context = RequestContext(
            policy: policy, program: policy.program, metrics: metrics, clock: clock, parameters: found?.parameters ?? []
        )
        let res: HTTPResponse
        do throws(HTTPError) {
            res = try handle(req, found.map { Self.table.routes[$0.index] }, &context)
        } catch {
            res = error.response
        }
        metrics.record(
            route: found.map { Self.table.labelIndex[$0.index] } ?? Self.table.otherLabel, status: res.status,
            seconds: Clock.monotonicSeconds() - start, decisions: context.tally)
        if res.status >= 400 {
            var fields: [(String, JSONValue)] = [
                ("method", .string(req.method)), ("path", .string(String(req.path.prefix(200)))),
                ("status", .int(Int64(res.status))),
            ]
            if let code = res.errorCode { fields.append(("error", .string(code))) }
            Log.line(res.status >= 500 ? "error" : "warn", "request_error", fields)
        }
        return res
    }

    private func handle(_ req: HTTPRequest, _ route: Route?, _ context: inout RequestContext) throws(HTTPError)
        -> HTTPResponse
    {
        guard let route else { throw HTTPError(404, "not_found", "no endpoint at \(String(req.path.prefix(200)))") }
        for step in steps { try step.handle(req, route) }
        return try route.handler(req, &context)
    }
}
