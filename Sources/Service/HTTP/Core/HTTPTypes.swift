/// An HTTP request as the handlers see it: the socket layer fills it, tests build it by hand.
struct HTTPRequest {
    var method: String
    /// The path of the request target exactly as sent: not percent-decoded, without the query.
    var path: String
    /// The query-string arguments, percent-decoded (a name given twice keeps its first value).
    var query: [String: String] = [:]
    /// The request headers the service reads.
    var contentType: String?
    var authorization: String?
    var ifNoneMatch: String?
    /// `Stripe-Signature`: the only authentication of `POST /v1/billing/stripe`.
    var stripeSignature: String?
    /// The caller's `X-Request-Id`, if it sent one (`RequestID.accepted` decides whether it is used).
    var requestID: String?
    var body: [UInt8] = []
    /// Whether the head announces a body (a `Content-Length` over 0, or `Transfer-Encoding`); nil: judge by `body`.
    var declaresBody: Bool?
    var hasBody: Bool { declaresBody ?? !body.isEmpty }
    /// The body was over the cap and was not kept.
    var bodyTooLarge = false
    /// The body could not be held within the budget for bodies in flight.
    var overBudget = false
    /// A framing problem the socket layer found in the head (RFC 9112): the status (400 or 501) and why.
    var framingError: (status: Int, detail: String)?
}

/// An HTTP response: status, body and headers.
struct HTTPResponse {
    var status: Int
    var body: [UInt8]
    var contentType: String? = "application/json"
    var headers: [(String, String)] = []
    /// The error code of an error response (for the request log), without parsing the body back.
    var errorCode: String?
    /// Close the connection after this response.
    var close = false

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, body: JSONWriter.serialize(value), headers: headers)
    }
}

/// One request's outcome as the service records it: the response, the metrics label it counts under, the decisions
/// it made and when it started.
struct Exchange {
    var response: HTTPResponse
    var label: Int
    var tally: DecisionTally?
    var started: Double
    var method: String
    var path: String
    /// The request id (the `X-Request-Id` of the response and the request's log line).
    var requestID: String
}

/// What the service says once a request's head is in: answer now (the body is never read), or read the body and
/// come back with the route that was matched.
enum Admission {
    case answer(Exchange)
    case proceed(route: Int)
}

/// What `respond` gives the socket layer: the exchange, or work that waits on the database (run it on a thread that
/// may wait; it gives the exchange).
enum Responded {
    case exchange(Exchange)
    case wait(@Sendable () -> Exchange)
}

/// What the socket layer drives: the head of a request, then (if admitted) the whole request, then the outcome once
/// the response was queued or could not be. `respond` runs on a worker thread that never waits on the database: a
/// request that must wait comes back as `.wait`, for the blocking pool.
protocol HTTPResponder: Sendable {
    func admit(_ req: HTTPRequest) -> Admission
    func respond(to req: HTTPRequest, route: Int) -> Responded
    func finish(_ exchange: Exchange, queued: Bool)
}
