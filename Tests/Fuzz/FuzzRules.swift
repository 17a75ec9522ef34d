// libFuzzer entry point over the parsers of Rules, built by scripts/fuzz (not part of the package build).
// The first input byte picks the target; the rest is the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 4 {
    case 0:
        // A whole bundle file: loader, every section pass, expression compiler, templates.
        let out = PolicyCompiler.compile(files: [SourceFile(path: "fuzz.yaml", bytes: bytes)])
        for d in out.diagnostics { precondition(d.location.line >= 0 && d.location.column >= 0) }
        // A bundle that compiles: its route automaton and the guard-by-guard reference decide routes alike.
        if let policy = out.policy, !policy.guards.isEmpty {
            let fast = Program(policy, routeMatcher: true)
            let slow = Program(policy, routeMatcher: false)
            var routes = ["/", "/api/v1/x", "/a/b/c/d"]
            for g in policy.guards {
                for p in g.appliesTo + g.allow.map(\.pattern) {
                    routes.append(
                        p.text.replacingOccurrences(of: "**", with: "x/y").replacingOccurrences(of: "*", with: "z"))
                }
            }
            for route in routes.prefix(64) {
                let (m, path) = Evaluation.splitRoute(route).map { ($0.method, String($0.path)) } ?? (nil, route)
                agreeOnRoute(fast, slow, method: m, path: path)
            }
        }
    case 1:
        var env = ExprEnvironment()
        env.features = ["sso": (0, .boolean), "seats": (1, .limit)]
        env.facts = ["f": 0]
        env.lists = ["l": 0]
        let text = String(decoding: bytes, as: UTF8.self)
        for ctx in [ExprContext.live, .fact, .guardRule, .flagRule, .denialTemplate] {
            _ = ExpressionCompiler.compile(text, in: ctx, env: env)
        }
    case 3:
        // A /v1/check body: the fast byte-level path and the generic path give the same bytes or the same error.
        let now = Timestamp(seconds: 1_778_400_000)
        let fast = Engine.answerInline(fuzzProgram, body: bytes, now: now)
        let slow = Engine.answerInline(fuzzProgram, body: bytes, now: now, fastPath: false)
        precondition(fast == slow, "fast and generic paths disagree")
    default:
        let text = String(decoding: bytes, as: UTF8.self)
        // Differential: the allocation-free byte normalizer agrees with the reference one.
        let utf8 = Array(text.utf8)
        let fast: Result<String, PathNormalizer.Failure> = utf8.withUnsafeBufferPointer { raw in
            let out = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, raw.count))
            let segs = UnsafeMutablePointer<(start: Int32, end: Int32)>.allocate(capacity: raw.count / 2 + 1)
            defer {
                out.deallocate()
                segs.deallocate()
            }
            return PathNormalizer.normalize(bytes: raw, into: out, segments: segs).map { count in
                "/"
                    + (0..<count).map { k in
                        String(
                            decoding: UnsafeBufferPointer(
                                start: out + Int(segs[k].start), count: Int(segs[k].end - segs[k].start)), as: UTF8.self
                        )
                    }.joined(separator: "/")
            }
        }
        precondition(fast == PathNormalizer.normalize(text), "byte normalizer disagrees on \(text.debugDescription)")
        if case .success(let p) = PathNormalizer.normalize(text) {
            // Normalization is idempotent and never leaves dot segments or empty segments.
            precondition(PathNormalizer.normalize(p) == .success(p))
            precondition(!p.split(separator: "/").contains { $0 == "." || $0 == ".." })
        }
        _ = Timestamp.parse(text)
        for method in [nil, "GET", "POST"] { agreeOnRoute(fuzzProgram, fuzzReference, method: method, path: text) }
    }
    return 0
}

/// The sample bundle, compiled once (scripts/fuzz runs from the repository root).
let fuzzProgram: Program = try! Program(PolicyCompiler.load(directory: "Policies"))

/// The same bundle matching routes guard by guard: the reference for the route automaton.
let fuzzReference = Program(fuzzProgram.policy, routeMatcher: false)

/// Differential: the route automaton and the guard-by-guard reference reach the same decision.
func agreeOnRoute(_ fast: Program, _ slow: Program, method: String?, path: String) {
    let account = Account(id: "a", subscription: SubscriptionState(plan: "pro", status: "active"))
    let user = User(id: "u", email: "u@example.com", emailVerifiedAt: nil, createdAt: nil)
    let now = Timestamp(seconds: 1_778_400_000)
    var a = Evaluation(program: fast, account: fast.prepare(account), user: user, now: now)
    var b = Evaluation(program: slow, account: slow.prepare(account), user: user, now: now)
    let x = a.decide(.route(method: method, path: path))
    let y = b.decide(.route(method: method, path: path))
    precondition(
        x.allowed == y.allowed && x.reason == y.reason && x.denial == y.denial && x.guardIndex == y.guardIndex,
        "route automaton and reference disagree on \(method ?? "") \(path.debugDescription)")
}
