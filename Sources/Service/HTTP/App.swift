/// The service as a function from request to response (SPEC §6), in the two steps the socket layer drives:
/// `admit` once the request head is in (framing, path, route, and every check that needs no body: 400, 404, 405,
/// 401/403, FLAG_NOT_FOUND, 413, 415, 503 — before a byte of the body is read), then `respond` with the whole
/// request, then `finish` once the response was queued (metrics, request log). Tests call `respond(to:)`.
final class App: HTTPResponder {
    let policy: PolicyHolder
    let auth: Auth
    /// The account store; nil when the service runs stateless (SPEC §7).
    let store: AccountStore?
    let metrics: Metrics
    /// Clock for requests without `now` (injectable for tests).
    let clock: @Sendable () -> Timestamp
    /// What `admit` runs after routing, in this order: 405, 401/403, the route's precheck, 413, 415, 503.
    let headSteps: [any Middleware]
    /// What `respond` runs before the handler: the limits a body can cross while it streams in (413, 503).
    let bodySteps: [any Middleware]

    static let table = RouteTable(routes)
    /// Makes the request ids of requests that came without one.
    let requestIDs = RequestID.Generator()

    init(
        policy: PolicyHolder, auth: Auth, store: AccountStore? = nil,
        clock: @escaping @Sendable () -> Timestamp = { Clock.now() }
    ) {
        self.policy = policy
        self.auth = auth
        self.store = store
        self.clock = clock
        metrics = Metrics(labels: Self.table.labels)
        metrics.store.withLock { $0 = store }
        headSteps = [
            MethodStep(), AuthStep(auth: auth), PrecheckStep(), BodySizeStep(), ContentTypeStep(), BudgetStep(),
        ]
        bodySteps = [BodySizeStep(), BudgetStep()]
    }

    private func context(_ parameters: [String] = [], _ req: HTTPRequest) -> RequestContext {
        RequestContext(
            policy: policy, program: policy.program, metrics: metrics, clock: clock, store: store,
            parameters: parameters, auth: auth, authorization: req.authorization)
    }

    /// The one outcome of a request (made either by `admit` or by `respond`, never both), with its request id in
    /// an `X-Request-Id` header: the caller's own when it sent a usable one, else one made here. `method` is the
    /// method as sent (a `HEAD` answered as its `GET`), for the log.
    private func exchange(
        _ req: HTTPRequest, _ response: consuming HTTPResponse, label: Int, tally: DecisionTally?, _ t: Double,
        method: String? = nil
    ) -> Exchange {
        var response = response
        let id = RequestID.accepted(req.requestID) ?? requestIDs.next()
        response.headers.append(("X-Request-Id", id))
        return Exchange(
            response: response, label: label, tally: tally, started: t, method: method ?? req.method, path: req.path,
            requestID: id)
    }

    /// `HEAD` is answered as the `GET` of the same route (the socket layer sends the head of that answer only, with
    /// its `Content-Length`; RFC 9110 §9.3.2): the request the middleware and the handler see says `GET`.
    private static func asGet(_ req: HTTPRequest, _ route: Route) -> HTTPRequest {
        guard req.method == "HEAD", route.methods.contains("GET") else { return req }
        var get = req
        get.method = "GET"
        return get
    }

    func admit(_ req: HTTPRequest) -> Admission {
        let start = Clock.monotonicSeconds()
        var label = Self.table.otherLabel
        do throws(HTTPError) {
            if let (status, detail) = req.framingError {
                var e = HTTPError(status, Self.edgeCode(status), detail)
                if status == 503 { e.headers = [("Retry-After", "1")] }
                e.close = true
                throw e
            }
            guard let (index, parameters) = try Self.table.find(req.path) else {
                if let e = OFREP.notFound(req.path) { throw e }
                throw HTTPError(404, "not_found", "no endpoint at \(String(req.path.prefix(200)))")
            }
            label = Self.table.labelIndex[index]
            let route = Self.table.routes[index]
            let req = Self.asGet(req, route)
            var context = context(parameters, req)
            for step in headSteps { try step.handle(req, route, &context) }
            return .proceed(route: index)
        } catch {
            return .answer(exchange(req, error.response, label: label, tally: nil, start))
        }
    }

    /// The code of an error the socket layer found in the request head (framing, limits).
    static func edgeCode(_ status: Int) -> String {
        switch status {
        case 501: "not_implemented"
        case 503: "server_busy"
        case 414: "uri_too_long"
        case 431: "header_fields_too_large"
        default: "bad_request"
        }
    }

    func respond(to sent: HTTPRequest, route index: Int) -> Responded {
        let start = Clock.monotonicSeconds()
        let route = Self.table.routes[index]
        let req = Self.asGet(sent, route)
        let method = sent.method
        let label = Self.table.labelIndex[index]
        // The route matched in `admit`; its parameters (if it has any) are read again from the same path.
        let parameters = Self.table.parameters(of: index, in: req.path)
        var context = context(parameters, req)
        let response: HTTPResponse
        do throws(HTTPError) {
            for step in bodySteps { try step.handle(req, route, &context) }
            if route.waits && store != nil {
                let handler = route.handler
                return wait(req, method, label, start, context) { (context) throws(HTTPError) in
                    switch try handler(req, &context) {
                    case .response(let r): return r
                    case .wait(let work): return try work(&context)
                    }
                }
            }
            switch try route.handler(req, &context) {
            case .response(let r): response = r
            case .wait(let work): return wait(req, method, label, start, context, work)
            }
        } catch {
            response = error.response
        }
        return .exchange(exchange(req, response, label: label, tally: context.tally, start, method: method))
    }

    /// The rest of a request that waits on the database, as work for a thread that may wait.
    private func wait(
        _ req: HTTPRequest, _ method: String, _ label: Int, _ start: Double, _ context: RequestContext,
        _ work: @escaping @Sendable (inout RequestContext) throws(HTTPError) -> HTTPResponse
    ) -> Responded {
        .wait { [self] in
            var context = context
            let response: HTTPResponse
            do throws(HTTPError) {
                response = try work(&context)
            } catch {
                response = error.response
            }
            return exchange(req, response, label: label, tally: context.tally, start, method: method)
        }
    }

    func finish(_ e: Exchange, queued: Bool) {
        guard queued else {
            metrics.unqueued()
            Log.line(
                "error", "response_not_queued",
                [
                    ("method", .string(e.method)), ("path", .string(String(e.path.prefix(200)))),
                    ("status", .int(Int64(e.response.status))), ("request_id", .string(e.requestID)),
                ])
            return
        }
        metrics.record(
            route: e.label, status: e.response.status, seconds: Clock.monotonicSeconds() - e.started,
            decisions: e.tally)
        if e.response.status >= 400 {
            var fields: [(String, JSONValue)] = [
                ("method", .string(e.method)), ("path", .string(String(e.path.prefix(200)))),
                ("status", .int(Int64(e.response.status))), ("request_id", .string(e.requestID)),
            ]
            if let code = e.response.errorCode { fields.append(("error", .string(code))) }
            Log.line(e.response.status >= 500 ? "error" : "warn", "request_error", fields)
        }
    }

    /// The whole pipeline for a request already in memory (tests, tools): admit, respond, finish.
    func respond(to req: HTTPRequest) -> HTTPResponse {
        let e: Exchange
        switch admit(req) {
        case .answer(let answer): e = answer
        case .proceed(let route):
            switch respond(to: req, route: route) {
            case .exchange(let answered): e = answered
            case .wait(let work): e = work()
            }
        }
        finish(e, queued: true)
        return e.response
    }
}
