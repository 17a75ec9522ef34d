/// `GET /healthz`, `GET /readyz` and `GET /metrics` (SPEC §6.5): no key needed.
enum Operations {
    static func healthz(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        .json(200, .object([("status", .string("ok"))]))
    }

    static func readyz(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        .json(
            200,
            .object([
                ("status", .string("ready")), ("policy", .string(context.program.digest)),
                ("store", .string("stateless")),
            ]))
    }

    static func metrics(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        HTTPResponse(
            status: 200, body: Array(context.metrics.render(policy: context.policy).utf8),
            contentType: "text/plain; version=0.0.4")
    }
}
