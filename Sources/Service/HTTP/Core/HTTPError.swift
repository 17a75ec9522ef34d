/// Every error the service answers with (SPEC §6.5): a status, a stable code, a detail and the field at fault.
/// Handlers and middleware throw it; `App` turns it into the response. OFREP endpoints use the protocol's own body
/// shape (`{key?, errorCode, errorDetails}`) through the same type.
struct HTTPError: Error {
    enum Shape {
        /// `{"error", "detail", "path"?}` plus `extra` members.
        case standard
        /// OFREP's error body, with the flag key when the request named one.
        case ofrep(key: String?)
    }

    var status: Int
    var code: String
    var detail: String
    var path: String?
    var headers: [(String, String)] = []
    var shape = Shape.standard
    /// Further members of a standard body (the diagnostics of a rejected reload).
    var extra: [(String, JSONValue)] = []
    /// Close the connection after the answer (framing errors).
    var close = false

    init(
        _ status: Int, _ code: String, _ detail: String, path: String? = nil, headers: [(String, String)] = [],
        extra: [(String, JSONValue)] = []
    ) {
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.headers = headers
        self.extra = extra
    }

    /// An OFREP error (`FLAG_NOT_FOUND`, `PARSE_ERROR`, `TARGETING_KEY_MISSING`, `INVALID_CONTEXT`).
    static func ofrep(_ status: Int, key: String?, _ code: String, _ details: String) -> HTTPError {
        var e = HTTPError(status, code, details)
        e.shape = .ofrep(key: key)
        return e
    }

    /// A request-level error of the evaluator: 400 with its code, detail and path.
    init(_ e: RequestError) { self.init(400, e.code, e.detail, path: e.path) }

    /// 503 `store_unavailable`: account state needs the account store, and this service runs stateless.
    static func storeUnavailable(_ detail: String) -> HTTPError { HTTPError(503, "store_unavailable", detail) }

    var response: HTTPResponse {
        var m: [(String, JSONValue)] = []
        switch shape {
        case .standard:
            m = [("error", .string(code)), ("detail", .string(detail))]
            if let path { m.append(("path", .string(path))) }
            m += extra
        case .ofrep(let key):
            if let key { m.append(("key", .string(key))) }
            m += [("errorCode", .string(code)), ("errorDetails", .string(detail))]
        }
        var r = HTTPResponse.json(status, .object(m), headers: headers)
        r.errorCode = code
        r.close = close
        return r
    }
}
