import Foundation

/// The service as a function from request to response (SPEC §6): routing, auth, the §6.5 error rules, handlers.
/// The socket layer calls `respond(to:)`; tests call it directly.
final class App: Sendable {
    let policy: PolicyHolder
    let auth: Auth
    let metrics = Metrics()
    /// Clock for requests without `now` (injectable for tests).
    let clock: @Sendable () -> Timestamp

    init(policy: PolicyHolder, auth: Auth, clock: @escaping @Sendable () -> Timestamp = { Clock.now() }) {
        self.policy = policy
        self.auth = auth
        self.clock = clock
    }

    /// What a path names: the endpoint, the methods it allows, the role it needs, a metrics label.
    enum Endpoint: Equatable {
        case healthz, readyz, metrics, check, entitlements, catalog, policyInfo, policyReload
        case ofrepFlag(String), ofrepBulk, ofrepConfiguration
        /// Account-state endpoints of §6.3 (store-backed): `role` is what the method needs.
        case accountState(snapshot: Bool)
    }

    struct Route {
        var endpoint: Endpoint
        var methods: [String]
        /// Index into `App.labels` (the metrics label).
        var label: Int
    }

    static let labels = [
        "/healthz", "/readyz", "/metrics", "/v1/check", "/v1/entitlements", "/v1/catalog", "/v1/policy",
        "/v1/policy/reload",
        "/ofrep/v1/evaluate/flags", "/ofrep/v1/configuration", "/ofrep/v1/evaluate/flags/{key}", "/v1/accounts",
        "other",
    ]
    static let otherLabel = labels.count - 1
    static let post = ["POST"]
    static let get = ["GET"]
    static let getPost = ["GET", "POST"]
    static let putDelete = ["PUT", "DELETE"]
    static let getPutDelete = ["GET", "PUT", "DELETE"]

    static func route(_ path: String) -> Route? {
        switch path {
        case "/v1/check": return Route(endpoint: .check, methods: Self.post, label: 3)
        case "/healthz": return Route(endpoint: .healthz, methods: Self.get, label: 0)
        case "/readyz": return Route(endpoint: .readyz, methods: Self.get, label: 1)
        case "/metrics": return Route(endpoint: .metrics, methods: Self.get, label: 2)
        case "/v1/entitlements": return Route(endpoint: .entitlements, methods: Self.post, label: 4)
        case "/v1/catalog": return Route(endpoint: .catalog, methods: Self.get, label: 5)
        case "/v1/policy": return Route(endpoint: .policyInfo, methods: Self.get, label: 6)
        case "/v1/policy/reload": return Route(endpoint: .policyReload, methods: Self.post, label: 7)
        case "/ofrep/v1/evaluate/flags": return Route(endpoint: .ofrepBulk, methods: Self.post, label: 8)
        case "/ofrep/v1/configuration": return Route(endpoint: .ofrepConfiguration, methods: Self.get, label: 9)
        default: break
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        if parts.count == 5, parts[0] == "ofrep", parts[1] == "v1", parts[2] == "evaluate", parts[3] == "flags",
            !parts[4].isEmpty
        {
            return Route(endpoint: .ofrepFlag(parts[4]), methods: Self.post, label: 10)
        }
        guard parts.first == "v1", parts.count >= 2, parts[1] == "accounts" else { return nil }
        let label = 11
        switch parts.count {
        case 2: return Route(endpoint: .accountState(snapshot: false), methods: Self.get, label: label)
        case 3 where !parts[2].isEmpty:
            return Route(endpoint: .accountState(snapshot: false), methods: Self.getPutDelete, label: label)
        case 4 where !parts[2].isEmpty:
            switch parts[3] {
            case "entitlements": return Route(endpoint: .accountState(snapshot: true), methods: Self.get, label: label)
            case "trial": return Route(endpoint: .accountState(snapshot: false), methods: Self.post, label: label)
            case "audit": return Route(endpoint: .accountState(snapshot: false), methods: Self.get, label: label)
            default: return nil
            }
        case 5 where !parts[2].isEmpty && !parts[4].isEmpty:
            switch parts[3] {
            case "overrides":
                return Route(endpoint: .accountState(snapshot: false), methods: Self.putDelete, label: label)
            case "usage": return Route(endpoint: .accountState(snapshot: false), methods: Self.getPost, label: label)
            default: return nil
            }
        default: return nil
        }
    }

    func respond(to req: HTTPRequest) -> HTTPResponse {
        let start = monotonicSeconds()
        var tally: DecisionTally?
        let route = Self.route(req.path)
        let res = handle(req, route, &tally)
        metrics.record(
            route: route?.label ?? Self.otherLabel, status: res.status, seconds: monotonicSeconds() - start,
            decisions: tally)
        if res.status >= 400 {
            var fields: [(String, JSONValue)] = [
                ("method", .string(req.method)), ("path", .string(String(req.path.prefix(200)))),
                ("status", .int(Int64(res.status))),
            ]
            if case .object(let m)? = try? JSONParser.parse(res.body),
                let e = m.first(where: { $0.0 == "error" || $0.0 == "errorCode" })
            {
                fields.append(("error", e.1))
            }
            Log.line(res.status >= 500 ? "error" : "warn", "request_error", fields)
        }
        return res
    }

    private func handle(_ req: HTTPRequest, _ route: Route?, _ tally: inout DecisionTally?) -> HTTPResponse {
        guard let route else { return .error(404, "not_found", "no endpoint at \(String(req.path.prefix(200)))") }
        guard route.methods.contains(req.method) else {
            return .error(
                405, "method_not_allowed",
                "\(Self.labels[route.label]) allows \(route.methods.joined(separator: ", "))",
                headers: [("Allow", route.methods.joined(separator: ", "))])
        }
        // Role: health, readiness and metrics need no key; decisions need `check`; state and reload need `admin`.
        let role: Auth.Role?
        switch route.endpoint {
        case .healthz, .readyz, .metrics: role = nil
        case .policyReload: role = .admin
        case .accountState(let snapshot): role = snapshot ? .check : .admin
        default: role = .check
        }
        if let role {
            switch auth.authorize(req.authorization, needs: role) {
            case .allowed: break
            case .unauthenticated:
                return .error(401, "unauthorized", "a valid 'Authorization: Bearer <key>' is required")
            case .forbidden: return .error(403, "forbidden", "this key's role cannot use \(Self.labels[route.label])")
            }
        }
        if req.bodyTooLarge { return .error(413, "payload_too_large", "the request body is over 1 MiB") }
        switch route.endpoint {
        case .check, .entitlements, .ofrepFlag, .ofrepBulk:
            if let problem = Self.contentTypeProblem(req.contentType) {
                return .error(415, "unsupported_media_type", problem)
            }
        default: break
        }
        let program = policy.program
        switch route.endpoint {
        case .healthz: return .json(200, .object([("status", .string("ok"))]))
        case .readyz:
            return .json(
                200,
                .object([
                    ("status", .string("ready")), ("policy", .string(program.digest)), ("store", .string("stateless")),
                ]))
        case .metrics:
            return HTTPResponse(
                status: 200, body: Array(metrics.render(policy: policy).utf8), contentType: "text/plain; version=0.0.4")
        case .check:
            var t = DecisionTally()
            let (status, body) = Engine.checkBytes(program, body: req.body, now: clock(), tally: &t)
            tally = t
            return HTTPResponse(status: status, body: body)
        case .entitlements:
            let (status, json) = Engine.snapshot(program, body: req.body, now: clock())
            return .json(status, json)
        case .catalog: return .json(200, Catalog.json(program))
        case .policyInfo: return .json(200, policyInfo())
        case .policyReload:
            let outcome = policy.reload()
            Self.logReload(outcome, trigger: "endpoint")
            switch outcome {
            case .swapped, .unchanged: return .json(200, policyInfo())
            case .rejected(let f):
                return .json(
                    422,
                    .object([
                        ("error", .string("policy_invalid")), ("detail", .string(f.message)),
                        ("diagnostics", .array(f.diagnostics.map { .string($0.description) })),
                    ]))
            }
        case .ofrepFlag(let key): return OFREP.single(program, key: key, body: req.body, now: clock())
        case .ofrepBulk:
            return OFREP.bulk(program, body: req.body, ifNoneMatch: req.ifNoneMatch, now: clock())
        case .ofrepConfiguration: return OFREP.configuration(program, ifNoneMatch: req.ifNoneMatch)
        case .accountState:
            return .error(
                503, "store_unavailable", "this service runs stateless: account state needs the account store")
        }
    }

    /// nil when the Content-Type is `application/json` with no charset or charset utf-8 (SPEC §6.5, §9).
    static func contentTypeProblem(_ value: String?) -> String? {
        guard let value else { return "Content-Type must be application/json" }
        let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "application/json" else {
            return "Content-Type must be application/json, got '\(String(value.prefix(100)))'"
        }
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, kv[0].lowercased() == "charset" else { continue }
            let charset = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
            if charset != "utf-8" && charset != "utf8" { return "only charset=utf-8 is accepted, got '\(kv[1])'" }
        }
        return nil
    }

    func policyInfo() -> JSONValue {
        let loaded = policy.loaded
        var failure: JSONValue = .null
        if let f = policy.failure {
            failure = .object([
                ("at", .string(f.at.rfc3339)), ("message", .string(f.message)),
                ("diagnostics", .array(f.diagnostics.map { .string($0.description) })),
            ])
        }
        return .object([
            ("digest", .string(loaded.program.digest)), ("loaded_at", .string(loaded.loadedAt.rfc3339)),
            ("directory", .string(policy.directory)),
            ("files", .array(loaded.program.policy.files.map { .string($0) })),
            ("last_reload_error", failure),
        ])
    }

    static func logReload(_ outcome: PolicyHolder.Outcome, trigger: String) {
        switch outcome {
        case .swapped(let l):
            Log.line(
                "info", "reload",
                [("trigger", .string(trigger)), ("result", .string("swapped")), ("digest", .string(l.program.digest))])
        case .unchanged(let l):
            Log.line(
                "info", "reload",
                [
                    ("trigger", .string(trigger)), ("result", .string("unchanged")),
                    ("digest", .string(l.program.digest)),
                ])
        case .rejected(let f):
            Log.line(
                "error", "reload",
                [
                    ("trigger", .string(trigger)), ("result", .string("rejected")), ("detail", .string(f.message)),
                    ("diagnostics", .array(f.diagnostics.map { .string($0.description) })),
                ])
        }
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
