/// One endpoint, declared once in `App.routes`: its path pattern, methods, role, body kind, metrics label and
/// handler. Adding an endpoint is one entry there and one handler file in `HTTP/Handlers/`.
struct Route: Sendable {
    /// What a request body must be before the handler sees it.
    enum Body: Sendable {
        /// No body is read (a body, if sent, is ignored).
        case none
        /// `application/json` (charset utf-8 if given); checked by `ContentTypeStep`.
        case json
    }

    /// A handler: the request and its context in, the response out, or an error the service answers with.
    typealias Handler = @Sendable (HTTPRequest, inout RequestContext) throws(HTTPError) -> HTTPResponse

    enum Segment: Sendable, Equatable {
        case literal(String)
        /// `{name}`: exactly one non-empty segment, handed to the handler in `RequestContext.parameters`.
        case parameter(String)
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
    /// The UTF-8 bytes of each literal segment (empty for parameters), for matching without decoding.
    private let literalBytes: [[UInt8]]

    init(
        _ pattern: String, _ methods: [String], role: Auth.Role?, body: Body = .none, label: String? = nil,
        _ handler: @escaping Handler
    ) {
        self.pattern = pattern
        segments = pattern.split(separator: "/").map {
            $0.hasPrefix("{") && $0.hasSuffix("}")
                ? .parameter(String($0.dropFirst().dropLast())) : .literal(String($0))
        }
        literalBytes = segments.map { if case .literal(let l) = $0 { Array(l.utf8) } else { [] } }
        self.methods = methods
        self.role = role
        self.body = body
        self.label = label ?? pattern
        self.handler = handler
    }

    /// The parameters when `path` matches the pattern (segment by segment over the path's bytes; allocates only
    /// for the parameters), else nil.
    func match(_ path: String) -> [Substring]? {
        var ranges: [Range<Int>] = []
        let matched =
            path.utf8.withContiguousStorageIfAvailable { matchBytes($0, &ranges) }
            ?? Array(path.utf8).withUnsafeBufferPointer { matchBytes($0, &ranges) }
        guard matched else { return nil }
        let utf8 = path.utf8
        return ranges.map { r in
            let from = utf8.index(utf8.startIndex, offsetBy: r.lowerBound)
            return path[from..<utf8.index(from, offsetBy: r.count)]
        }
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
            }
        }
        return i == bytes.count
    }
}

/// What a handler gets besides the request: the serving program and its holder, the clock, the metrics, the path
/// parameters, and where to put the decisions it made (for metrics).
struct RequestContext {
    let policy: PolicyHolder
    /// The program serving this request (one whole program, even when a reload swaps in another meanwhile).
    let program: Program
    let metrics: Metrics
    let clock: @Sendable () -> Timestamp
    var parameters: [Substring] = []
    var tally: DecisionTally?

    /// The clock for requests without `now`.
    func now() -> Timestamp { clock() }
}

/// The routes in declaration order, with their metrics labels interned to integers.
struct RouteTable: Sendable {
    let routes: [Route]
    /// Distinct labels in declaration order, then "other" (unrouted requests).
    let labels: [String]
    /// `labelIndex[route]` into `labels`.
    let labelIndex: [Int]
    var otherLabel: Int { labels.count - 1 }

    init(_ routes: [Route]) {
        self.routes = routes
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

    /// The first route whose pattern matches, with its index and parameters.
    func find(_ path: String) -> (index: Int, parameters: [Substring])? {
        for (i, r) in routes.enumerated() {
            if let p = r.match(path) { return (i, p) }
        }
        return nil
    }
}
