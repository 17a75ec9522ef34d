import Foundation
import Testing

@testable import Service

/// The HTTP handlers without a socket: `App.respond(to:)` on hand-built requests.
@Suite struct AppTests {
    static let program = try! Program(PolicyCompiler.load(directory: CLITests.policies))
    static let now = Timestamp.parse("2026-05-10T12:00:00Z")!

    func app(_ auth: Auth = Auth()) -> App {
        App(policy: PolicyHolder(directory: CLITests.policies, program: Self.program), auth: auth, clock: { Self.now })
    }

    func post(_ path: String, _ body: String, contentType: String? = "application/json", key: String? = nil)
        -> HTTPRequest
    {
        var r = HTTPRequest(method: "POST", path: path, contentType: contentType, body: Array(body.utf8))
        if let key { r.authorization = "Bearer \(key)" }
        return r
    }

    func json(_ r: HTTPResponse) -> JSONValue { (try? JSONParser.parse(r.body)) ?? .null }

    @Test func checkUsesTheInjectedClock() {
        let r = app().respond(to: post("/v1/check", #"{"account":{},"checks":[{"feature":"sso"}]}"#))
        #expect(r.status == 200)
        #expect(json(r)["now"] == .string("2026-05-10T12:00:00Z"))
    }

    @Test func routingErrors() {
        let a = app()
        #expect(a.respond(to: HTTPRequest(method: "GET", path: "/nope")).status == 404)
        let r = a.respond(to: HTTPRequest(method: "PUT", path: "/v1/check"))
        #expect(r.status == 405)
        #expect(r.headers.contains { $0 == ("Allow", "POST") })
        #expect(a.respond(to: HTTPRequest(method: "GET", path: "/v1/accounts/a/usage/max_trees")).status == 503)
        #expect(a.respond(to: HTTPRequest(method: "GET", path: "/v1/accounts/a/bogus")).status == 404)
    }

    /// The playground's policy names its one inline style and one inline script by their SHA-256 and allows nothing
    /// inline otherwise; HEAD answers as GET does.
    @Test func playgroundPolicyHashesItsInlineScriptAndStyle() throws {
        let r = app().respond(to: HTTPRequest(method: "GET", path: "/ui"))
        #expect(r.status == 200)
        let page = String(decoding: r.body, as: UTF8.self)
        let policy = try #require(r.headers.first { $0.0 == "Content-Security-Policy" }?.1)
        #expect(!policy.contains("unsafe-inline"))
        func inline(_ tag: String) throws -> String {
            let open = try #require(page.range(of: "<\(tag)>"))
            let close = try #require(page.range(of: "</\(tag)>", range: open.upperBound..<page.endIndex))
            return String(page[open.upperBound..<close.lowerBound])
        }
        for (tag, directive) in [("script", "script-src"), ("style", "style-src")] {
            let text = try inline(tag)
            #expect(text.count > 1000, "the \(tag) is filled in from its asset file")
            let digest = Data(SHA256.hash(text.utf8)).base64EncodedString()
            #expect(policy.contains("\(directive) 'sha256-\(digest)';"), "\(policy)")
        }
        #expect(page.components(separatedBy: "<script").count == 2 && !page.contains("{{"))
        let head = app().respond(to: HTTPRequest(method: "HEAD", path: "/ui"))
        #expect(head.status == 200 && head.headers.contains { $0 == ("Content-Security-Policy", policy) })
    }

    @Test func accountIDsNeedTheStore() {
        for path in ["/v1/check", "/v1/entitlements"] {
            let body =
                path == "/v1/check" ? #"{"account":"acc_1","checks":[{"feature":"sso"}]}"# : #"{"account":"acc_1"}"#
            let r = app().respond(to: post(path, body))
            #expect(r.status == 503)
            #expect(json(r)["error"] == .string("store_unavailable"))
            #expect(r.errorCode == "store_unavailable")
        }
    }

    /// `POST /v1/timeline`: boundaries for an inline account, the routes it follows, and request errors.
    @Test func timeline() {
        let body = #"""
            {"account":{"subscription":{"plan":"pro","status":"trialing","period_start":"2026-05-07T12:00:00Z",
             "period_end":"2026-05-21T12:00:00Z"}},"user":{"created_at":"2026-05-07T12:00:00Z"},
             "routes":["GET /api/v1/trees"],"from":"2026-05-10T00:00:00Z","to":"2026-05-25T00:00:00Z"}
            """#
        let r = app().respond(to: post("/v1/timeline", body))
        #expect(r.status == 200)
        guard case .array(let bs) = json(r)["boundaries"] else {
            Issue.record("no boundaries: \(json(r))")
            return
        }
        #expect(
            bs.map { $0["at"] }
                == [
                    "2026-05-14T12:00:00Z", "2026-05-18T12:00:00Z", "2026-05-20T12:00:00Z", "2026-05-21T12:00:00Z",
                ].map { .string($0) })
        #expect(json(r)["start"]?["routes.GET /api/v1/trees"] == .string("allowed (guards_passed)"))
        for (bad, path) in [
            (#"{"account":{},"routes":["trees"]}"#, "routes[0]"),
            (#"{"account":{},"from":"2026-01-02T00:00:00Z","to":"2026-01-01T00:00:00Z"}"#, "from"),
            (#"{"account":{},"bogus":1}"#, "bogus"),
        ] {
            let e = app().respond(to: post("/v1/timeline", bad))
            #expect(e.status == 400 && json(e)["path"] == .string(path), "\(bad): \(json(e))")
        }
        #expect(app().respond(to: post("/v1/timeline", #"{"account":"acc_1"}"#)).status == 503)
    }

    @Test func everyEndpointIsDeclaredOnce() throws {
        let patterns = App.routes.map(\.pattern)
        #expect(Set(patterns).count == patterns.count)
        // Each route's own pattern, with parameters filled in, finds that route.
        for (i, r) in App.routes.enumerated() {
            let path = r.segments.map { if case .literal(let l) = $0 { l } else { "x" } }.joined(separator: "/")
            #expect(try App.table.find("/" + path)?.index == i, "\(r.pattern)")
        }
        #expect(try App.table.find("/v1/accounts/a/overrides/sso")?.parameters == ["a", "sso"])
        #expect(try App.table.find("/v1/accounts//trial") == nil)
        #expect(try App.table.find("/v1/check/") == nil)
        #expect(App.table.labels.last == "other")
    }

    /// The exact-path table routes as trying every pattern in declaration order does, for every route's path and
    /// near misses of it (trailing slash, doubled slash, a segment more or less, another case).
    @Test func exactPathsRouteAsThePatternsDo() throws {
        var paths: [String] = []
        for r in App.routes {
            let path = "/" + r.segments.map { if case .literal(let l) = $0 { l } else { "x" } }.joined(separator: "/")
            paths += [path, path + "/", path.replacingOccurrences(of: "/", with: "//"), path + "/y", path.uppercased()]
            paths.append(String(path.dropLast()))
        }
        #expect(!App.table.exact.isEmpty)
        for path in paths {
            let byPatterns = App.routes.firstIndex { $0.match(path) != nil }
            #expect(try App.table.find(path)?.index == byPatterns, "\(path)")
        }
    }

    @Test func pathsAreCheckedAndDecodedPerSegment() throws {
        // Escapes decode inside their segment: an encoded slash can be part of a parameter, never a separator.
        #expect(try App.table.find("/ofrep/v1/evaluate/flags/a%2Fb")?.parameters == ["a/b"])
        // An OFREP key is the rest of the path: extra segments are part of it, so they are FLAG_NOT_FOUND too.
        #expect(try App.table.find("/ofrep/v1/evaluate/flags/a/b")?.parameters == ["a/b"])
        #expect(try App.table.find("/ofrep/v1/evaluate/flags/a%2F/b")?.parameters == ["a//b"])
        #expect(try App.table.find("/ofrep/v1/evaluate/flags/")?.parameters == [""])
        #expect(try App.table.find("/ofrep/v1/evaluate/flags")?.parameters == [])
        #expect(try App.table.find("/ofrep/v1/evaluate/flags/%CC%81x")?.parameters == ["\u{301}x"])
        #expect(try App.table.find("/ofrep/v1/evaluate/flags/\u{301}x")?.parameters == ["\u{301}x"])
        #expect(try App.table.find("/v1/%63heck")?.index == App.routes.firstIndex { $0.pattern == "/v1/check" })
        for bad in [
            "/v1%2Fpolicy", "/v1/policy%00x", "/v1%5Cpolicy", "/v1/pol\ricy", "/v1/po licy", "/v1/%zz", "/v1/%4",
            "/v1/%FF",
        ] {
            #expect(throws: HTTPError.self, "\(bad)") { try App.table.find(bad) }
        }
        let r = app().respond(to: HTTPRequest(method: "GET", path: "/v1%2Fpolicy"))
        #expect(r.status == 400)
        #expect(json(r)["error"] == .string("bad_request"))
    }

    /// Random request paths (a seeded generator, 20,000 of them): checking never traps, a path without escapes is
    /// matched raw, and decoding agrees with re-encoding every byte of the decoded segments.
    @Test func requestTargetsUnderRandomInput() throws {
        var rng = SplitMix(seed: 42)
        var decodedPaths = 0
        // Pieces of paths; the ones every check refuses (a bare %, a bad escape, a space, CR, NUL) are rare.
        let common = ["/", "/", "a", "Z", "0", ".", "-", "~", "é", "%2F", "%2f", "%5C", "%41", "%C3%A9", "%00", "%25"]
        let rare = ["%", "%zz", "%4", " ", "\r", "\u{0}", "%FF"]
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 12)
            var bytes = [UInt8(ascii: "/")]
            for _ in 0..<n {
                let pick = rng.next() % 100
                let piece = pick < 97 ? common[Int(pick) % common.count] : rare[Int(rng.next() % UInt64(rare.count))]
                bytes += Array(piece.utf8)
            }
            guard let path = String(validating: bytes, as: UTF8.self) else { continue }
            let decoded: [[UInt8]]?
            do { decoded = try RequestTarget.check(path) } catch { continue }
            guard let decoded else {
                #expect(!path.utf8.contains(UInt8(ascii: "%")))
                continue
            }
            decodedPaths += 1
            let reencoded =
                "/" + decoded.map { $0.map { String(format: "%%%02X", $0) }.joined() }.joined(separator: "/")
            #expect(try RequestTarget.check(reencoded) == decoded, "\(path)")
        }
        #expect(decodedPaths > 1000)
    }

    @Test func contentTypeRules() {
        #expect(ContentTypeStep.problem(nil) != nil)
        #expect(ContentTypeStep.problem("text/json") != nil)
        #expect(ContentTypeStep.problem("application/json; charset=iso-8859-1") != nil)
        #expect(ContentTypeStep.problem("application/json") == nil)
        #expect(ContentTypeStep.problem("application/json;charset=UTF-8") == nil)
        #expect(ContentTypeStep.problem("application/json; boundary=x") == nil)
        // The allocation-free fast path agrees with the general rule.
        #expect(ContentTypeStep.problem("Application/JSON") == nil)
        #expect(ContentTypeStep.problem("application/json; charset=UTF-8") == nil)
        #expect(ContentTypeStep.problem("application/jsonx") != nil)
        #expect(ContentTypeStep.problem("application/json; charset=utf-16") != nil)
        #expect(app().respond(to: post("/v1/check", "{}", contentType: nil)).status == 415)
    }

    @Test func oversizeBodyIs413() {
        var r = post("/v1/check", "")
        r.bodyTooLarge = true
        let res = app().respond(to: r)
        #expect(res.status == 413)
        #expect(json(res)["error"] == .string("payload_too_large"))
    }

    @Test func authRoles() throws {
        let auth = try Auth.load(
            environment: ["ENTITLEMENTS_CHECK_KEYS": "svc=c1, bare", "ENTITLEMENTS_ADMIN_KEYS": "a1"], keysFile: nil)
        #expect(auth.keys.map(\.name) == ["svc", "key1", "key2"])
        let a = app(auth)
        let body = #"{"account":{},"checks":[{"feature":"sso"}]}"#
        #expect(a.respond(to: post("/v1/check", body)).status == 401)
        #expect(a.respond(to: post("/v1/check", body, key: "nope")).status == 401)
        #expect(a.respond(to: post("/v1/check", body, key: "bare")).status == 200)
        #expect(a.respond(to: post("/v1/policy/reload", "", key: "c1")).status == 403)
        #expect(a.respond(to: post("/v1/policy/reload", "", key: "a1")).status == 200)
        #expect(a.respond(to: HTTPRequest(method: "GET", path: "/healthz")).status == 200)
        #expect(auth.authorize("bearer a1", needs: .admin) == .allowed(name: "key2"))
    }

    @Test func keysAreTrimmedOrRefusedAtStart() throws {
        let auth = try Auth.load(environment: ["ENTITLEMENTS_CHECK_KEYS": "svc = spaced ,\tbare\t"], keysFile: nil)
        #expect(auth.keys.map(\.name) == ["svc", "key1"])
        #expect(auth.authorize("Bearer spaced", needs: .check) == .allowed(name: "svc"))
        #expect(auth.authorize("Bearer bare", needs: .check) == .allowed(name: "key1"))
        #expect(throws: Auth.ConfigError.self) {
            try Auth.load(environment: ["ENTITLEMENTS_CHECK_KEYS": "svc=two words"], keysFile: nil)
        }
        #expect(throws: Auth.ConfigError.self) {
            try Auth.load(environment: ["ENTITLEMENTS_ADMIN_KEYS": "svc=  "], keysFile: nil)
        }
    }

    @Test func metricsCountRequestsAndDecisions() {
        let a = app()
        _ = a.respond(to: post("/v1/check", #"{"account":{},"checks":[{"feature":"sso"},{"route":"GET /x"}]}"#))
        let text = String(decoding: a.respond(to: HTTPRequest(method: "GET", path: "/metrics")).body, as: UTF8.self)
        #expect(text.contains(#"entitlements_http_requests_total{route="/v1/check",status="200"} 1"#))
        #expect(text.contains(#"entitlements_decisions_total{result="denied",error="no_subscription"} 1"#))
        #expect(text.contains(#"entitlements_decisions_total{result="allowed",error=""} 1"#))
    }

    @Test func ofrepOverTheHandler() {
        let a = app()
        let r = a.respond(
            to: post(
                "/ofrep/v1/evaluate/flags/max_trees",
                #"{"context":{"targetingKey":"e","account":{"subscription":{"plan":"enterprise","status":"active"}}}}"#)
        )
        #expect(json(r)["value"] == .int(-1))
        #expect(json(r)["variant"] == .string("plan:enterprise"))
    }
}

/// A small seeded generator for repeatable random tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
