import Evaluator
import Rules

/// What the playground page (`GET /ui`) reads beyond decisions and the catalog: the bundle's outline (statuses,
/// guards with their patterns and conditions, flags) and the route matrix for a list of the app's routes. Both are
/// documented endpoints any tool can use.
enum Playground {
    /// `GET /v1/outline`.
    static func outline(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let p = context.program.policy
        let statuses: [JSONValue] = p.subscription.statuses.map { s in
            let live: JSONValue
            switch s.live {
            case .always(let b): live = .bool(b)
            case .rule: live = .string("rule")
            }
            return .object([("key", .string(s.name)), ("live", live)])
        }
        let guards: [JSONValue] = p.guards.map { g in
            .object([
                ("name", .string(g.name)), ("description", g.description.map { .string($0) } ?? .null),
                ("applies_to", .array(g.appliesTo.map { .string($0.text) })),
                ("requires", .string(g.requiresText)), ("deny", .string(p.denials[g.deny].name)),
                (
                    "allow",
                    .array(
                        g.allow.map { a in
                            .object([
                                ("route", .string(a.pattern.text)), ("when", a.whenText.map { .string($0) } ?? .null),
                                ("at", .string(a.location.description)),
                            ])
                        })
                ),
                ("at", .string(g.location.description)),
            ])
        }
        let flags: [JSONValue] = p.flags.map { f in
            .object([("key", .string(f.name)), ("description", f.description.map { .string($0) } ?? .null)])
        }
        return .json(
            200,
            .object([
                ("policy", .string(p.digest)), ("statuses", .array(statuses)),
                (
                    "trial",
                    p.subscription.trial.map {
                        .object([
                            ("plan", .string(p.plans[$0.plan].name)), ("length", .string($0.length.description)),
                            ("warning", $0.warning.map { .string($0.description) } ?? .null),
                            ("urgent", $0.urgent.map { .string($0.description) } ?? .null),
                        ])
                    } ?? .null
                ),
                ("guards", .array(guards)), ("flags", .array(flags)),
            ]))
    }

    /// `POST /v1/routes` `{routes: ["METHOD /path", …]}`: per route, how each guard treats it — `protect`, `skip`
    /// (allowlisted), `skip-if` (allowlisted when the entry's `when` holds) or `-` (does not apply), as
    /// `entitlements routes` prints.
    static func routes(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let program = context.program
        let routes: [Timeline.Route]
        do throws(RequestError) {
            let m = try RequestDecoder.bodyMembers(req.body, allowed: ["routes"])
            guard let r = m["routes"] else {
                throw RequestError(detail: "routes must be an array of 'METHOD /path' strings", path: "routes")
            }
            routes = try Timeline.routes(r)
        } catch {
            throw HTTPError(error)
        }
        let rows: [JSONValue] = routes.map { r in
            let cells = program.coverage(method: r.method, path: r.path)?.map { JSONValue.string($0.word) } ?? []
            return .object([("route", .string(r.label)), ("guards", .array(cells))])
        }
        return .json(
            200,
            .object([
                ("policy", .string(program.digest)),
                ("guards", .array(program.policy.guards.map { .string($0.name) })), ("routes", .array(rows)),
            ]))
    }
}
