import Synchronization

/// `GET /healthz`, `GET /readyz` and `GET /metrics` (SPEC §6.5): no key needed.
enum Operations {
    /// The process is up: always 200; with a store, also its state (connected, listening, cache, lag).
    static func healthz(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        var m: [(String, JSONValue)] = [("status", .string("ok"))]
        if let store = context.store { m.append(("store", store.health.json)) }
        return .json(200, .object(m))
    }

    /// Ready: a bundle is loaded and, when the service has an account store, the database answers (SPEC §6.5).
    static func readyz(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        var store = "stateless"
        if let s = context.store {
            guard s.ping() else { throw .storeUnavailable("the account store does not answer") }
            if let w = s.warming.withLock({ $0 }), !w.done.load(ordering: .relaxed) {
                throw HTTPError(
                    503, "warming_up",
                    "the cache is being warmed: \(w.loaded.load(ordering: .relaxed)) of \(w.target) accounts loaded")
            }
            store = "postgresql"
        }
        return .json(
            200,
            .object([
                ("status", .string("ready")), ("policy", .string(context.program.digest)), ("store", .string(store)),
            ]))
    }

    static func metrics(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        HTTPResponse(
            status: 200, body: Array(context.metrics.render(policy: context.policy).utf8),
            contentType: "text/plain; version=0.0.4")
    }
}
