/// One endpoint, declared once in `App.routes`: its path pattern, methods, role, body kind, metrics label and
/// handler. Adding an endpoint is one entry there and one handler file in `HTTP/Handlers/`.
struct Route: Sendable {
    /// What a request body must be before the handler sees it.
    enum Body: Sendable {
        /// No body is read (a body, if sent, is ignored).
        case none
        /// `application/json` (charset utf-8 if given); checked by `ContentTypeStep`.
        case json
        /// An optional JSON body: `ContentTypeStep` checks its Content-Type only when there is a body.
        case optionalJSON
    }

    /// A handler: the request and its context in, the response out (now, or as work that waits on the database),
    /// or an error the service answers with.
    typealias Handler = @Sendable (HTTPRequest, inout RequestContext) throws(HTTPError) -> Reply
    /// A handler that always answers at once.
    typealias Answer = @Sendable (HTTPRequest, inout RequestContext) throws(HTTPError) -> HTTPResponse
    /// A check of the path parameters that runs before the body is read (after auth).
    typealias Precheck = @Sendable (HTTPRequest, inout RequestContext) throws(HTTPError) -> Void

    enum Segment: Sendable, Equatable {
        case literal(String)
        /// `{name}`: exactly one non-empty segment, handed to the handler in `RequestContext.parameters`.
        case parameter(String)
        /// `{name...}`, last: the rest of the path after its slash, segments and all (possibly empty).
        case rest(String)
    }

    let pattern: String
    let segments: [Segment]
    let methods: [String]
    /// The role a key needs; nil for endpoints that need no key (health, readiness, metrics).
    let role: Auth.Role?
    let body: Body
    /// The `route` label of `/metrics` (several routes may share one).
    let label: String
    let handler: Handler
    let precheck: Precheck?
    /// The handler waits on the account store from its start (the account endpoints): with a store, the socket
    /// layer runs it on the blocking pool straight away.
    let waits: Bool
    /// The methods an `Allow` header lists: the route's own, with `HEAD` after `GET`.
    var allowedMethods: [String] {
        methods.flatMap { $0 == "GET" ? ["GET", "HEAD"] : [$0] }
    }
    /// The UTF-8 bytes of each literal segment (empty for parameters), for matching without decoding.
    private let literalBytes: [[UInt8]]

    init(
        _ pattern: String, _ methods: [String], role: Auth.Role?, body: Body = .none, label: String? = nil,
        precheck: Precheck? = nil, waits: Bool = false, reply handler: @escaping Handler
    ) {
        self.pattern = pattern
        segments = pattern.split(separator: "/").map {
            guard $0.hasPrefix("{") && $0.hasSuffix("}") else { return .literal(String($0)) }
            let name = $0.dropFirst().dropLast()
            return name.hasSuffix("...") ? .rest(String(name.dropLast(3))) : .parameter(String(name))
        }
        literalBytes = segments.map { if case .literal(let l) = $0 { Array(l.utf8) } else { [] } }
        self.methods = methods
        self.role = role
        self.body = body
        self.label = label ?? pattern
        self.handler = handler
        self.precheck = precheck
        self.waits = waits
    }

    /// A route whose handler answers at once (or, with `waits`, after waiting on the store from its start).
    init(
        _ pattern: String, _ methods: [String], role: Auth.Role?, body: Body = .none, label: String? = nil,
        precheck: Precheck? = nil, waits: Bool = false, _ handler: @escaping Answer
    ) {
        self.init(
            pattern, methods, role: role, body: body, label: label, precheck: precheck, waits: waits,
            reply: { (req, context) throws(HTTPError) in .response(try handler(req, &context)) })
    }

    /// The parameters when the raw `path` (no percent-escapes in it) matches the pattern, else nil. Segment by
    /// segment over the path's bytes; allocates only for the parameters.
    func match(_ path: String) -> [String]? {
        var ranges: [Range<Int>] = []
        let matched =
            path.utf8.withContiguousStorageIfAvailable { matchBytes($0, &ranges) }
            ?? Array(path.utf8).withUnsafeBufferPointer { matchBytes($0, &ranges) }
        guard matched else { return nil }
        if ranges.isEmpty { return [] }
        let bytes = Array(path.utf8)
        return ranges.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    private func matchBytes(_ bytes: UnsafeBufferPointer<UInt8>, _ parameters: inout [Range<Int>]) -> Bool {
        var i = 0
        for (k, segment) in segments.enumerated() {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "/") else { return false }
            i += 1
            let start = i
            while i < bytes.count && bytes[i] != UInt8(ascii: "/") { i += 1 }
            switch segment {
            case .literal:
                let l = literalBytes[k]
                guard i - start == l.count else { return false }
                var j = 0
                while j < l.count {
                    if bytes[start + j] != l[j] { return false }
                    j += 1
                }
            case .parameter:
                guard i > start else { return false }
                parameters.append(start..<i)
            case .rest:
                parameters.append(start..<bytes.count)
                return true
            }
        }
        return i == bytes.count
    }

    /// The parameters when the percent-decoded segments match the pattern, else nil.
    func match(decoded: [[UInt8]]) -> [String]? {
        let rest = segments.last.map { if case .rest = $0 { true } else { false } } ?? false
        guard rest ? decoded.count >= segments.count : decoded.count == segments.count else { return nil }
        var parameters: [String] = []
        for (k, segment) in segments.enumerated() {
            switch segment {
            case .literal: guard decoded[k] == literalBytes[k] else { return nil }
            case .parameter:
                guard !decoded[k].isEmpty else { return nil }
                parameters.append(String(decoding: decoded[k], as: UTF8.self))
            case .rest:
                let tail = decoded[k...].joined(separator: [UInt8(ascii: "/")])
                parameters.append(String(decoding: Array(tail), as: UTF8.self))
            }
        }
        return parameters
    }
}

/// The path of a request target, checked before routing. Raw control characters and spaces are refused (400),
/// and so are malformed percent-escapes. Escapes are decoded segment by segment, so an encoded slash stays inside
/// its segment: it can be part of a path parameter (an OFREP flag key) but never separates segments, and a path
/// that matches no route because of an encoded slash, backslash or NUL is refused (400) rather than not found.
enum RequestTarget {
    /// nil when the path has no escapes (its raw bytes are its segments), else the decoded segments.
    static func check(_ path: String) throws(HTTPError) -> [[UInt8]]? {
        var escaped = false
        for b in path.utf8 {
            if b < 0x21 || b == 0x7F {
                throw HTTPError(400, "bad_request", "the request path contains a control character or a space")
            }
            if b == UInt8(ascii: "%") { escaped = true }
        }
        guard escaped else { return nil }
        var segments: [[UInt8]] = []
        for raw in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var i = raw.startIndex
            while i < raw.endIndex {
                if raw[i] == UInt8(ascii: "%") {
                    let h = raw.index(after: i)
                    guard h < raw.endIndex, raw.index(after: h) < raw.endIndex,
                        let hi = hexValue(raw[h]), let lo = hexValue(raw[raw.index(after: h)])
                    else { throw HTTPError(400, "bad_request", "the request path has a malformed percent-escape") }
                    out.append(hi << 4 | lo)
                    i = raw.index(h, offsetBy: 2)
                } else {
                    out.append(raw[i])
                    i = raw.index(after: i)
                }
            }
            guard String(validating: out, as: UTF8.self) != nil else {
                throw HTTPError(400, "bad_request", "the request path does not decode to UTF-8")
            }
            segments.append(out)
        }
        return segments
    }

    /// Whether a decoded segment holds what only a path parameter may hold: a slash, a backslash or a NUL.
    static func hasEncodedSeparator(_ segments: [[UInt8]]) -> Bool {
        segments.contains { $0.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") || $0 == 0 } }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// What a handler gets besides the request: the serving program and its holder, the clock, the metrics, the path
/// parameters, and where to put the decisions it made (for metrics).
struct RequestContext: Sendable {
    let policy: PolicyHolder
    /// The program serving this request (one whole program, even when a reload swaps in another meanwhile).
    let program: Program
    let metrics: Metrics
    let clock: @Sendable () -> Timestamp
    /// The account store; nil when the service runs stateless.
    let store: AccountStore?
    var parameters: [String] = []
    var tally: DecisionTally?

    /// The keys and the request's `Authorization`, for `actor`.
    var auth = Auth()
    var authorization: String?

    /// The clock for requests without `now`.
    func now() -> Timestamp { clock() }

    /// Who is acting, for the audit log: the API key's name (`anonymous` when the service runs without keys).
    var actor: String {
        if case .allowed(let name?) = auth.authorize(authorization, needs: .check) { return name }
        return "anonymous"
    }
}

/// What a handler answers: a response now, or the rest of its work when that must wait on the database. The socket
/// layer's worker threads never wait: they hand `wait`'s work, with what the handler already decoded, to the
/// blocking pool, which runs it with the request's context.
enum Reply {
    case response(HTTPResponse)
    case wait(@Sendable (inout RequestContext) throws(HTTPError) -> HTTPResponse)
}

/// The routes in declaration order, with their metrics labels interned to integers.
struct RouteTable: Sendable {
    let routes: [Route]
    /// Distinct labels in declaration order, then "other" (unrouted requests).
    let labels: [String]
    /// `labelIndex[route]` into `labels`.
    let labelIndex: [Int]
    var otherLabel: Int { labels.count - 1 }
    /// Routes without parameters by their exact path, where no earlier route matches that path too: most requests
    /// are routed by one lookup instead of trying every pattern in turn (which cost ~2,500 instructions a request).
    let exact: [String: Int]

    init(_ routes: [Route]) {
        self.routes = routes
        var exact: [String: Int] = [:]
        for (i, r) in routes.enumerated() {
            let literals = r.segments.compactMap { if case .literal(let l) = $0 { l } else { nil } }
            guard literals.count == r.segments.count else { continue }
            let path = "/" + literals.joined(separator: "/")
            guard exact[path] == nil, r.match(path) != nil, !routes[..<i].contains(where: { $0.match(path) != nil })
            else { continue }
            exact[path] = i
        }
        self.exact = exact
        var labels: [String] = []
        var index: [Int] = []
        for r in routes {
            if let i = labels.firstIndex(of: r.label) {
                index.append(i)
            } else {
                index.append(labels.count)
                labels.append(r.label)
            }
        }
        self.labels = labels + ["other"]
        labelIndex = index
    }

    /// The first route whose pattern matches, with its index and (decoded) parameters; nil when none does (404).
    /// Throws 400 for a path that fails `RequestTarget.check`, or matches nothing because of an encoded separator.
    func find(_ path: String) throws(HTTPError) -> (index: Int, parameters: [String])? {
        guard let decoded = try RequestTarget.check(path) else {
            if let i = exact[path] { return (i, []) }
            for i in routes.indices {
                if let p = routes[i].match(path) { return (i, p) }
            }
            return nil
        }
        for i in routes.indices {
            if let p = routes[i].match(decoded: decoded) { return (i, p) }
        }
        if RequestTarget.hasEncodedSeparator(decoded) {
            throw HTTPError(
                400, "bad_request", "an encoded slash, backslash or NUL is allowed only inside a path parameter")
        }
        return nil
    }

    /// The parameters of a path that `find` already matched to route `index`.
    func parameters(of index: Int, in path: String) -> [String] {
        let route = routes[index]
        guard route.segments.contains(where: { if case .literal = $0 { false } else { true } }) else { return [] }
        guard let decoded = try? RequestTarget.check(path) else { return route.match(path) ?? [] }
        return route.match(decoded: decoded) ?? []
    }
}
