import Foundation

/// A step between routing and the handler: lets the request through or answers it with an error. Steps run in
/// the order `App.headSteps` and `App.bodySteps` list them; the head steps read only the request head, so they
/// answer before any byte of the body is read.
protocol Middleware: Sendable {
    func handle(_ req: HTTPRequest, _ route: Route, _ context: inout RequestContext) throws(HTTPError)
}

/// The route's methods, and `HEAD` wherever `GET` is (RFC 9110 §9.3.2; `App` answers it as the `GET` without the
/// body): 405 with `Allow` otherwise.
struct MethodStep: Middleware {
    func handle(_ req: HTTPRequest, _ route: Route, _ context: inout RequestContext) throws(HTTPError) {
        guard route.methods.contains(req.method) else {
            let allowed = route.allowedMethods.joined(separator: ", ")
            throw HTTPError(
                405, "method_not_allowed", "\(route.label) allows \(allowed)", headers: [("Allow", allowed)])
        }
    }
}

/// Bearer keys and roles (SPEC §6.5): 401 without a valid key, 403 when its role is not enough.
struct AuthStep: Middleware {
    let auth: Auth

    func handle(_ req: HTTPRequest, _ route: Route, _ context: inout RequestContext) throws(HTTPError) {
        guard let role = route.role else { return }
        switch auth.authorize(req.authorization, needs: role) {
        case .allowed: return
        case .unauthenticated:
            // RFC 9110 §11.6.1 and RFC 6750 §3: a 401 names the scheme; a key that was sent and refused is
            // `invalid_token`.
            let challenge =
                req.authorization == nil
                ? "Bearer realm=\"entitlements\""
                : "Bearer realm=\"entitlements\", error=\"invalid_token\""
            throw HTTPError(
                401, "unauthorized", "a valid 'Authorization: Bearer <key>' is required",
                headers: [("WWW-Authenticate", challenge)])
        case .forbidden: throw HTTPError(403, "forbidden", "this key's role cannot use \(route.label)")
        }
    }
}

/// 413 for a body over the cap (the socket layer did not keep it).
struct BodySizeStep: Middleware {
    func handle(_ req: HTTPRequest, _ route: Route, _ context: inout RequestContext) throws(HTTPError) {
        if req.bodyTooLarge { throw HTTPError(413, "payload_too_large", "the request body is over 1 MiB") }
    }
}

/// The route's own check of its path parameters before anything else (an unknown OFREP flag key is
/// `FLAG_NOT_FOUND` before any content check, SPEC §9).
struct PrecheckStep: Middleware {
    func handle(_ req: HTTPRequest, _ route: Route, _ context: inout RequestContext) throws(HTTPError) {
        try route.precheck?(req, &context)
    }
}

/// 503 when the body cannot be held within the budget for bodies in flight (the socket layer flags it).
struct BudgetStep: Middleware {
    func handle(_ req: HTTPRequest, _ route: Route, _ context: inout RequestContext) throws(HTTPError) {
        guard req.overBudget else { return }
        throw HTTPError(
            503, "server_busy", "too many request bodies in flight; retry shortly", headers: [("Retry-After", "1")])
    }
}

/// 415 unless a POST or PUT to a JSON endpoint, or any request with a body to an endpoint whose body is optional,
/// comes with `application/json` (no charset, or charset utf-8; SPEC §6.5, §9).
struct ContentTypeStep: Middleware {
    func handle(_ req: HTTPRequest, _ route: Route, _ context: inout RequestContext) throws(HTTPError) {
        let checked =
            switch route.body {
            case .none: false
            case .json: req.method == "POST" || req.method == "PUT"
            case .optionalJSON: req.hasBody
            }
        guard checked, let problem = Self.problem(req.contentType) else { return }
        throw HTTPError(415, "unsupported_media_type", problem)
    }

    /// The values nearly every client sends, compared without allocating (ASCII case-insensitively).
    static let common: [[UInt8]] = [Array("application/json".utf8), Array("application/json; charset=utf-8".utf8)]

    /// nil when the Content-Type is acceptable, else what is wrong with it.
    static func problem(_ value: String?) -> String? {
        guard let value else { return "Content-Type must be application/json" }
        if common.contains(where: { asciiCaseInsensitiveEqual(value.utf8, $0) }) { return nil }
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
}

/// Whether `a` equals `b` byte for byte, ignoring ASCII case.
func asciiCaseInsensitiveEqual(_ a: String.UTF8View, _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var i = 0
    for c in a {
        let x = c | (c >= 0x41 && c <= 0x5A ? 0x20 : 0)
        if x != b[i] { return false }
        i += 1
    }
    return true
}
