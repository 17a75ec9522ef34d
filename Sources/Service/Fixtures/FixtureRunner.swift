import Foundation

/// One reason a fixture case failed: the line it points at (when it names one) and what went wrong.
/// `entitlements test` reports a case at the line of its first failure, else at the case's own line.
struct FixtureFailure: Error, CustomStringConvertible {
    var line: Int?
    var message: String
    /// For a result that did not match: what the case expected and the whole result (with its trace).
    var expected: JSONValue?
    var actual: JSONValue?
    /// Each mismatching key (`allowed: expected true, got false`), when `message` names the check or snapshot.
    var details: [String] = []

    init(
        line: Int? = nil, _ message: String, details: [String] = [], expected: JSONValue? = nil,
        actual: JSONValue? = nil
    ) {
        self.line = line
        self.message = message
        self.details = details
        self.expected = expected
        self.actual = actual
    }

    /// The one-line form (`test` when piped, JUnit).
    var description: String { line.map { "line \($0): " + unlocated } ?? unlocated }

    /// The one-line form without the line (when the caller already printed it).
    var unlocated: String {
        var s = details.isEmpty ? message : message + ": " + details.joined(separator: "; ")
        if let expected { s += "; expected \(JSONWriter.string(expected))" }
        if let actual { s += ", actual \(JSONWriter.string(actual))" }
        return s
    }
}

/// Where cases are judged when not in-process: a running service answering `POST path` with JSON (the CLI passes
/// its HTTP client). Keeps the runner free of any transport.
protocol FixtureService {
    func post(_ path: String, json body: [UInt8]) throws -> (status: Int, body: [UInt8])
}

/// Runs policy fixtures (SPEC §5): each case's checks are judged as one `/v1/check` request, in order;
/// `expect` and `snapshot` are partial matches compared by JSON type.
struct FixtureRunner {
    struct CaseResult {
        var file: String
        var line: Int
        var name: String
        var failures: [FixtureFailure]
        var passed: Bool { failures.isEmpty }
    }

    let program: Program?
    let decoder: RequestDecoder?
    var filter: String?
    /// When set, cases are judged through a running service (`/v1/check`, `/v1/entitlements`) instead of in-process.
    var service: (any FixtureService)?
    /// When set (in-process only), every evaluation records what it exercised (`test --coverage`).
    var coverage: CoverageRecorder?

    init(program: Program?, filter: String? = nil, service: (any FixtureService)? = nil) {
        self.program = program
        self.decoder = program.map { RequestDecoder(program: $0) }
        self.filter = filter
        self.service = service
    }

    /// Fixture files below `DIR/tests`, in bytewise path order (paths relative to DIR).
    static func discover(_ dir: String) -> [String] {
        let testsDir = dir + "/tests"
        guard let rel = try? BundleFiles.discover(directory: testsDir, excludingTests: false) else { return [] }
        return rel.map { "tests/" + $0 }
    }

    func run(file: String, bytes: [UInt8]) -> [CaseResult] {
        var findings: [Diagnostic] = []
        let root: YAMLNode?
        do {
            root = try YAMLLoader.load(bytes, file: file, findings: &findings)
        } catch {
            return [
                CaseResult(
                    file: file, line: error.location.line, name: "(file)",
                    failures: [FixtureFailure("[\(error.code)] \(error.message)")])
            ]
        }
        if let d = findings.first {
            return [
                CaseResult(
                    file: file, line: d.location.line, name: "(file)",
                    failures: [FixtureFailure("[\(d.code)] \(d.message)")])
            ]
        }
        guard let root, case .mapping(let pairs) = root.kind else {
            return [
                CaseResult(
                    file: file, line: 1, name: "(file)",
                    failures: [FixtureFailure("a fixture file must be a mapping with 'cases'")])
            ]
        }
        let (fields, fileErrors) = Self.fields(
            pairs, allowed: FixtureShape.fileKeys, in: "")
        let suite = fields["name"]?.scalarText ?? file
        guard fileErrors.isEmpty else {
            return [CaseResult(file: file, line: 1, name: suite, failures: fileErrors)]
        }
        guard let casesNode = fields["cases"], case .sequence(let cases) = casesNode.kind else {
            return [
                CaseResult(
                    file: file, line: 1, name: suite, failures: [FixtureFailure("'cases' must be a list of cases")])
            ]
        }
        // Named accounts and users; errors are kept and reported by the cases that use them.
        var accounts: [String: JSONValue] = [:]
        var users: [String: JSONValue] = [:]
        for (section, store) in [("accounts", 0), ("users", 1)] {
            guard let node = fields[section] else { continue }
            guard case .mapping(let entries) = node.kind else {
                return [
                    CaseResult(
                        file: file, line: node.start.line, name: suite,
                        failures: [FixtureFailure("'\(section)' must be a mapping")])
                ]
            }
            for (k, v) in entries {
                let key = k.scalarText ?? ""
                var json = YAMLJSON.convert(v)
                if case .object(var m) = json, !m.contains(where: { $0.0 == "id" }) {
                    m.insert(("id", .string(key)), at: 0)  // a fixture account or user without id takes its key
                    json = .object(m)
                }
                if store == 0 { accounts[key] = json } else { users[key] = json }
            }
        }
        var defaultNow: Result<Timestamp?, FixtureError> = .success(nil)
        if let n = fields["now"] { defaultNow = Self.timestamp(n, "now").map { $0 } }
        var results: [CaseResult] = []
        for (i, c) in cases.enumerated() {
            let name = Self.caseName(c) ?? "case \(i + 1)"
            if let filter, !name.contains(filter), !file.contains(filter), !suite.contains(filter) { continue }
            var r = CaseResult(file: file, line: c.start.line, name: name, failures: [])
            r.failures = runCase(c, accounts: accounts, users: users, defaultNow: defaultNow)
            results.append(r)
        }
        return results
    }

    /// A fixture account whose plan is unknown would otherwise run silently on the defaults (an unknown plan grants
    /// only feature defaults), so it is a fixture error unless the case asserts the `unknown_plan` warning anywhere in
    /// its expectations: a typo or a plan renamed without an alias never passes unnoticed, and a case that tests an
    /// unknown plan says so. A null plan is an unknown plan (SPEC §9). So is a status the bundle does not declare
    /// (a typo like `actve`, or a status renamed in the bundle): the case must assert `unknown_status` to test how
    /// `subscription.unknown_status` treats one.
    static func unknownSubscription(_ account: Account, _ p: Policy, case c: YAMLNode) -> String? {
        guard let sub = account.subscription else { return nil }
        func asserts(_ warning: String) -> Bool { JSONWriter.string(YAMLJSON.convert(c)).contains(warning) }
        if sub.plan.map({ p.planLookup[$0] == nil }) ?? true, !asserts("unknown_plan") {
            let named =
                sub.plan.map { "'\($0)' is not a plan or alias" + Suggest.hint($0, p.planLookup.keys) } ?? "is null"
            return "fixture error: account plan \(named); an unknown plan gets only the feature defaults — "
                + "assert `warnings: [unknown_plan]` if the case tests that"
        }
        let statuses = p.subscription.statuses.map(\.name)
        if let status = sub.status, !statuses.contains(status), !asserts("unknown_status") {
            return "fixture error: account status '\(status)' is not a declared status" + Suggest.hint(status, statuses)
                + "; "
                + "assert `warnings: [unknown_status]` if the case tests an unlisted status"
        }
        return nil
    }

    /// An `assign` case: may `source` put an account on `plan` (a key or alias)? The result is what the store
    /// decides for the same write: `{allowed: true, plan}` with the plan key, or `{allowed: false, error:
    /// plan_not_assignable, plan, assignable_via}`, or `{allowed: false, error: unknown_plan}`.
    static func assignCase(
        _ q: YAMLNode, expect: YAMLNode?, fields f: [String: YAMLNode], line: Int, policy: Policy
    ) -> [FixtureFailure] {
        let others = ["account", "user", "now", "explain", "check", "checks", "snapshot"].filter { f[$0] != nil }
        guard others.isEmpty else {
            return [
                FixtureFailure(
                    line: line, "an 'assign' case takes only 'expect' (not \(others.joined(separator: ", ")))")
            ]
        }
        guard let expect else { return [FixtureFailure(line: q.start.line, "'assign' needs 'expect'")] }
        guard case .mapping(let pairs) = q.kind else {
            return [FixtureFailure(line: q.start.line, "'assign' must be a mapping with 'plan' and 'source'")]
        }
        let (a, errors) = fields(pairs, allowed: FixtureShape.assignKeys, in: " in 'assign'")
        guard errors.isEmpty else { return errors }
        guard let planNode = a["plan"], case .string(let planName)? = planNode.resolved,
            let sourceNode = a["source"], case .string(let sourceName)? = sourceNode.resolved
        else { return [FixtureFailure(line: q.start.line, "'assign' needs 'plan' and 'source' (strings)")] }
        let sources = AssignSource.allCases.map(\.rawValue)
        guard let source = AssignSource(rawValue: sourceName) else {
            return [
                FixtureFailure(
                    line: sourceNode.start.line,
                    "fixture error: unknown source '\(sourceName)'" + Suggest.hint(sourceName, sources)
                        + "; sources are \(sources.joined(separator: ", "))")
            ]
        }
        let actual: JSONValue
        if let i = policy.planLookup[planName] {
            let plan = policy.plans[i]
            if plan.isAssignable(via: source) {
                actual = .object([("allowed", .bool(true)), ("plan", .string(plan.name))])
            } else {
                let via = AssignSource.allCases.filter { plan.assignableVia?.contains($0) ?? true }
                actual = .object([
                    ("allowed", .bool(false)), ("error", .string("plan_not_assignable")), ("plan", .string(plan.name)),
                    ("assignable_via", .array(via.map { .string($0.rawValue) })),
                ])
            }
        } else {
            actual = .object([("allowed", .bool(false)), ("error", .string("unknown_plan"))])
        }
        let expected = YAMLJSON.convert(expect)
        let mismatches = PartialMatch.mismatches(expected: expected, actual: actual, path: "")
        guard !mismatches.isEmpty else { return [] }
        return [
            FixtureFailure(
                line: q.start.line, "assign \(JSONWriter.string(YAMLJSON.convert(q)))", details: mismatches,
                expected: expected, actual: actual)
        ]
    }

    /// A mapping's known fields, and an error line for each unknown key (fixtures reject unknown keys).
    static func fields(
        _ pairs: [(key: YAMLNode, value: YAMLNode)], allowed: [String], in place: String
    ) -> ([String: YAMLNode], [FixtureFailure]) {
        var fields: [String: YAMLNode] = [:]
        var errors: [FixtureFailure] = []
        for (k, v) in pairs {
            let key = k.scalarText ?? ""
            if allowed.contains(key) {
                fields[key] = v
            } else {
                errors.append(
                    FixtureFailure(line: k.start.line, "unknown key '\(key)'\(place)" + Suggest.hint(key, allowed)))
            }
        }
        return (fields, errors)
    }

    struct FixtureError: Error {
        var message: String
    }

    static func caseName(_ c: YAMLNode) -> String? {
        guard case .mapping(let pairs) = c.kind else { return nil }
        return pairs.first { $0.key.scalarText == "name" }?.value.scalarText
    }

    static func timestamp(_ n: YAMLNode, _ what: String) -> Result<Timestamp?, FixtureError> {
        guard case .string(let s)? = n.resolved, let t = Timestamp.parse(s) else {
            if n.resolved == .null { return .success(nil) }
            return .failure(FixtureError(message: "line \(n.start.line): \(what) must be an RFC 3339 timestamp"))
        }
        return .success(t)
    }

    /// A case's account or user: a name from the file's section or an inline mapping, then decoded. A malformed
    /// one is a fixture error, not a check result.
    func subject<T>(
        _ node: YAMLNode, _ what: String, named: [String: JSONValue], _ decode: (JSONValue) throws(RequestError) -> T
    ) -> Result<(JSONValue, T), FixtureFailure> {
        let json: JSONValue
        if case .string(let key)? = node.resolved {
            guard let found = named[key] else {
                return .failure(
                    FixtureFailure(line: node.start.line, "unknown \(what) '\(key)'" + Suggest.hint(key, named.keys)))
            }
            json = found
        } else {
            json = YAMLJSON.convert(node)
        }
        do {
            return .success((json, try decode(json)))
        } catch {
            return .failure(
                FixtureFailure("fixture error: \(what): \(error.detail)" + (error.path.map { " (\($0))" } ?? "")))
        }
    }

    /// POSTs to the service; a non-200 answer is a failure of the case.
    static func ask(_ service: any FixtureService, _ path: String, _ body: JSONValue) -> Result<
        JSONValue, FixtureFailure
    > {
        do {
            let (status, bytes) = try service.post(path, json: JSONWriter.serialize(body))
            guard status == 200, let json = try? JSONParser.parse(bytes) else {
                return .failure(
                    FixtureFailure("\(path) answered \(status): \(String(decoding: bytes.prefix(500), as: UTF8.self))"))
            }
            return .success(json)
        } catch {
            return .failure(FixtureFailure("\(path): \(error)"))
        }
    }

    func runCase(
        _ c: YAMLNode, accounts: [String: JSONValue],
        users: [String: JSONValue],
        defaultNow: Result<Timestamp?, FixtureError>
    ) -> [FixtureFailure] {
        guard let program, let decoder else { return [FixtureFailure("the policy bundle does not compile")] }
        guard case .mapping(let pairs) = c.kind else { return [FixtureFailure("a case must be a mapping")] }
        var (f, errors) = Self.fields(
            pairs,
            allowed: FixtureShape.caseKeys,
            in: " in a case")
        if let question = f["assign"] {
            guard errors.isEmpty else { return errors }
            return Self.assignCase(question, expect: f["expect"], fields: f, line: c.start.line, policy: program.policy)
        }
        if f["check"] != nil && f["expect"] == nil {
            errors.append(FixtureFailure(line: c.start.line, "'check' needs 'expect'"))
        }
        if f["expect"] != nil && f["check"] == nil {
            errors.append(FixtureFailure(line: c.start.line, "'expect' needs 'check' or 'assign'"))
        }
        if f["check"] == nil && f["checks"] == nil && f["snapshot"] == nil {
            errors.append(
                FixtureFailure(line: c.start.line, "a case needs 'check' + 'expect', 'checks', 'snapshot' or 'assign'"))
        }
        guard errors.isEmpty else { return errors }
        // The subject: account, user, now (a malformed one is a fixture error, not a check result).
        guard let a = f["account"] else { return [FixtureFailure(line: c.start.line, "a case needs 'account'")] }
        let account: Account
        let accountJSON: JSONValue
        switch subject(a, "account", named: accounts, { (j) throws(RequestError) in try decoder.account(j) }) {
        case .success(let (j, x)): (accountJSON, account) = (j, x)
        case .failure(let failure): return [failure]
        }
        if let slip = Self.unknownSubscription(account, program.policy, case: c) {
            return [FixtureFailure(line: a.start.line, slip)]
        }
        var user: User?
        var userJSON: JSONValue?
        if let u = f["user"], u.resolved != .null {
            switch subject(u, "user", named: users, { (j) throws(RequestError) in try decoder.user(j) }) {
            case .success(let (j, x)): (userJSON, user) = (j, x)
            case .failure(let failure): return [failure]
            }
        }
        var now: Timestamp
        switch f["now"].map({ Self.timestamp($0, "now") }) ?? defaultNow {
        case .failure(let e): return [FixtureFailure("fixture error: \(e.message)")]
        case .success(let t?): now = t
        case .success(nil): now = Clock.now()  // neither the case nor the file pins the clock
        }
        var explain = false
        if let e = f["explain"], case .bool(let b)? = e.resolved { explain = b }
        // The checks, judged as one request.
        var pairsToJudge: [(check: YAMLNode, expect: YAMLNode)] = []
        if let ch = f["check"], let ex = f["expect"] { pairsToJudge.append((ch, ex)) }
        if let list = f["checks"] {
            guard case .sequence(let items) = list.kind else {
                return [FixtureFailure(line: list.start.line, "'checks' must be a list")]
            }
            for item in items {
                guard case .mapping(let ps) = item.kind,
                    let ch = ps.first(where: { $0.key.scalarText == "check" })?.value,
                    let ex = ps.first(where: { $0.key.scalarText == "expect" })?.value,
                    ps.count == 2
                else {
                    return [
                        FixtureFailure(line: item.start.line, "each entry of 'checks' has exactly 'check' and 'expect'")
                    ]
                }
                pairsToJudge.append((ch, ex))
            }
        }
        var failures: [FixtureFailure] = []
        if !pairsToJudge.isEmpty {
            if pairsToJudge.count > 100 {
                return [FixtureFailure(line: c.start.line, "a case may hold at most 100 checks (one request)")]
            }
            var actuals: [JSONValue] = []
            if let service {
                var body: [(String, JSONValue)] = [("account", accountJSON)]
                if let userJSON { body.append(("user", userJSON)) }
                body += [
                    ("now", .string(now.rfc3339)), ("explain", .bool(explain)),
                    ("checks", .array(pairsToJudge.map { YAMLJSON.convert($0.check) })),
                ]
                switch Self.ask(service, "/v1/check", .object(body)) {
                case .failure(let failure): return [failure]
                case .success(let r):
                    guard case .array(let results)? = r["results"], results.count == pairsToJudge.count else {
                        return [
                            FixtureFailure("the service answered without one result per check: \(JSONWriter.string(r))")
                        ]
                    }
                    actuals = results
                }
            } else {
                var ev = Evaluation(
                    program: program, account: program.prepare(account), user: user, now: now, explain: explain)
                ev.coverage = coverage
                for (k, p) in pairsToJudge.enumerated() {
                    switch decoder.check(YAMLJSON.convert(p.check), "checks[\(k)]") {
                    case .success(let check): actuals.append(ev.result(for: check))
                    case .failure(let e): actuals.append(e.json)
                    }
                }
            }
            for (k, p) in pairsToJudge.enumerated() {
                let actual = actuals[k]
                let expected = YAMLJSON.convert(p.expect)
                var mismatches = PartialMatch.mismatches(
                    expected: expected, actual: actual, path: "", keys: PartialMatch.resultKeys)
                guard !mismatches.isEmpty else { continue }
                // A check the engine rejected (unknown feature or flag, malformed) says so first, in its words.
                if case .string(let error)? = actual["error"], expected["error"] == nil,
                    ["unknown_feature", "invalid_request", "invalid_path"].contains(error)
                {
                    let detail = actual["detail"].flatMap { if case .string(let d) = $0 { d } else { nil } }
                    mismatches.insert("the check was rejected (\(error))" + (detail.map { ": \($0)" } ?? ""), at: 0)
                }
                failures.append(
                    FixtureFailure(
                        line: p.check.start.line, "checks[\(k)] \(JSONWriter.string(YAMLJSON.convert(p.check)))",
                        details: mismatches, expected: expected, actual: actual))
            }
        }
        if let snap = f["snapshot"] {
            let actual: JSONValue
            if let service {
                var body: [(String, JSONValue)] = [("account", accountJSON)]
                if let userJSON { body.append(("user", userJSON)) }
                body.append(("now", .string(now.rfc3339)))
                switch Self.ask(service, "/v1/entitlements", .object(body)) {
                case .failure(let failure): return failures + [failure]
                case .success(let r): actual = r
                }
            } else {
                var ev = Evaluation(program: program, account: program.prepare(account), user: user, now: now)
                // A snapshot covers the account's status and trial stage only: it computes every feature and flag,
                // whether or not the case asserts them.
                if let coverage { ev.recordSubscriptionCoverage(into: coverage) }
                actual = ev.snapshot()
            }
            let expected = YAMLJSON.convert(snap)
            let mismatches = PartialMatch.mismatches(expected: expected, actual: actual, path: "snapshot")
            if !mismatches.isEmpty {
                failures.append(
                    FixtureFailure(line: snap.start.line, "snapshot", details: mismatches, expected: expected))
            }
        }
        return failures
    }
}

/// Converts fixture YAML to JSON values with core-schema typing.
enum YAMLJSON {
    static func convert(_ n: YAMLNode) -> JSONValue {
        switch n.kind {
        case .scalar:
            switch n.resolved! {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .intOverflow(let s), .float(let s): return .number(s)
            case .string(let s): return .string(s)
            }
        case .sequence(let items): return .array(items.map(convert))
        case .mapping(let pairs): return .object(pairs.map { ($0.key.scalarText ?? "", convert($0.value)) })
        }
    }
}

/// Partial matching of SPEC §5: listed keys must equal, mappings recurse, values compare by JSON type.
/// Partial matching of SPEC §5: listed keys must be present and equal (nested mappings recursively, by JSON type;
/// timestamps equal when they name the same instant).
enum PartialMatch {
    /// Keys a check result can carry: the did-you-mean candidates for a misspelt `expect` key.
    static let resultKeys = [
        "allowed", "reason", "error", "status", "body", "guard", "value", "limit", "remaining", "warnings", "detail",
        "trace",
    ]

    /// Every mismatching key, each as `path: expected X, got Y`.
    static func mismatches(expected: JSONValue, actual: JSONValue, path: String, keys: [String] = []) -> [String] {
        var out: [String] = []
        collect(expected: expected, actual: actual, path: path, keys: keys, into: &out)
        return out
    }

    private static func collect(
        expected: JSONValue, actual: JSONValue, path: String, keys: [String], into out: inout [String]
    ) {
        switch (expected, actual) {
        case (.object(let em), .object(let am)):
            for (k, ev) in em {
                let p = path.isEmpty ? k : "\(path).\(k)"
                guard let av = am.first(where: { $0.0 == k })?.1 else {
                    let candidates = Set(am.map(\.0)).union(path.isEmpty ? keys : [])
                    out.append(
                        "\(p): expected \(JSONWriter.string(ev)), but the result has no '\(k)'"
                            + Suggest.hint(k, candidates.subtracting([k])))
                    continue
                }
                collect(expected: ev, actual: av, path: p, keys: [], into: &out)
            }
        case (.string(let e), .string(let a)):
            if e == a { return }
            if let te = Timestamp.parse(e), let ta = Timestamp.parse(a), te == ta { return }
            out.append("\(path): expected \(JSONWriter.string(expected)), got \(JSONWriter.string(actual))")
        default:
            if expected != actual {
                out.append("\(path): expected \(JSONWriter.string(expected)), got \(JSONWriter.string(actual))")
            }
        }
    }
}
