/// A request-level error: the whole request fails (SPEC §6.5). A typed value; the service chooses the status.
public struct RequestError: Error, Sendable, Equatable {
    /// `invalid_request` for every malformed body.
    public var code: String
    public var detail: String
    /// The innermost field at fault, written like `checks[0].usage`.
    public var path: String?

    public init(code: String = "invalid_request", detail: String, path: String? = nil) {
        self.code = code
        self.detail = detail
        self.path = path
    }
}

/// A check-level error: that check's result says so; the other checks are answered.
public struct CheckError: Error, Sendable {
    public var code: String
    public var detail: String
    public var path: String

    public var json: JSONValue {
        .object([
            ("allowed", .bool(false)), ("error", .string(code)), ("status", .int(400)), ("detail", .string(detail)),
            ("path", .string(path)),
        ])
    }
}

/// Whose account a request is about: inline state, or an id for the store.
public enum AccountReference: Sendable {
    case inline(Account)
    case id(String)
}

/// A decoded `POST /v1/check` body.
public struct CheckRequest: Sendable {
    public var account: AccountReference
    public var user: User?
    public var now: Timestamp?
    public var explain: Bool
    public var checks: [Result<Check, CheckError>]
}

/// Decodes request JSON into evaluator inputs, validating every field (SPEC §6.1, §6.2, §6.5, §9).
public struct RequestDecoder: Sendable {
    public let program: Program
    public init(program: Program) { self.program = program }

    var policy: Policy { program.policy }

    public static func members(_ v: JSONValue, _ path: String, allowed: [String]) throws(RequestError) -> [String:
        JSONValue]
    {
        guard case .object(let ms) = v else {
            throw RequestError(detail: "\(path) must be an object, got \(v.typeName)", path: path)
        }
        var out: [String: JSONValue] = [:]
        for (k, val) in ms {
            guard allowed.contains(k) else {
                throw RequestError(
                    detail: "unknown field '\(k)'"
                        + (Suggest.closest(to: k, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""),
                    path: path.isEmpty ? k : "\(path).\(k)")
            }
            if case .null = val { continue }  // null in an optional field is the same as absent
            out[k] = val
        }
        return out
    }

    /// A request body that must be a JSON object: its members (null ones left out), each among `allowed`.
    public static func bodyMembers(_ body: [UInt8], allowed: [String]) throws(RequestError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw RequestError(detail: "body is not valid JSON: \(error)")
        }
        guard case .object = value else { throw RequestError(detail: "the request body must be a JSON object") }
        return try members(value, "", allowed: allowed)
    }

    public static func string(_ v: JSONValue?, _ path: String) throws(RequestError) -> String? {
        guard let v else { return nil }
        guard case .string(let s) = v else {
            throw RequestError(detail: "\(path) must be a string, got \(v.typeName)", path: path)
        }
        return s
    }

    public static func timestamp(_ v: JSONValue?, _ path: String) throws(RequestError) -> Timestamp? {
        guard let s = try string(v, path) else { return nil }
        guard let t = Timestamp.parse(s) else {
            throw RequestError(detail: "\(path) must be an RFC 3339 timestamp with offset, got '\(s)'", path: path)
        }
        return t
    }

    static func int(_ v: JSONValue?, _ path: String, min: Int64 = 0) throws(RequestError) -> Int64? {
        guard let v else { return nil }
        guard case .int(let i) = v else {
            throw RequestError(
                detail: "\(path) must be an integer without fraction or exponent within signed 64-bit", path: path)
        }
        guard i >= min else { throw RequestError(detail: "\(path) must be at least \(min), got \(i)", path: path) }
        return i
    }

    /// Account ids are 1–255 Unicode scalars without control characters.
    public static func validAccountID(_ s: String) -> Bool {
        let u = s.utf8
        if u.count >= 1 && u.count <= 255 && u.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return true }
        let n = s.unicodeScalars.count
        return n >= 1 && n <= 255 && !s.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    public func account(_ v: JSONValue, _ path: String = "account") throws(RequestError) -> Account {
        let m = try Self.members(v, path, allowed: RequestKeys.account)
        var a = Account()
        if let id = try Self.string(m["id"], "\(path).id") {
            guard Self.validAccountID(id) else {
                throw RequestError(
                    detail: "\(path).id must be 1–255 characters without control characters", path: "\(path).id")
            }
            a.id = id
        }
        if let s = m["subscription"] { a.subscription = try subscription(s, "\(path).subscription") }
        if let o = m["overrides"] {
            guard case .array(let items) = o else {
                throw RequestError(
                    detail: "\(path).overrides must be an array, got \(o.typeName)", path: "\(path).overrides")
            }
            for (i, item) in items.enumerated() {
                let ov = try override(item, "\(path).overrides[\(i)]")
                if a.overrides.contains(where: { $0.feature == ov.feature }) {
                    throw RequestError(
                        detail: "two overrides for feature '\(policy.features[ov.feature].name)'",
                        path: "\(path).overrides[\(i)].feature")
                }
                a.overrides.append(ov)
            }
        }
        if let at = m["attributes"] { a.attributes = try attributes(at, "\(path).attributes") }
        if let g = m["grants"] {
            guard case .array(let items) = g else {
                throw RequestError(detail: "\(path).grants must be an array, got \(g.typeName)", path: "\(path).grants")
            }
            for (i, item) in items.enumerated() { a.grants.append(try grant(item, "\(path).grants[\(i)]")) }
        }
        return a
    }

    /// A grant of an inline account, in the shape `GET /v1/accounts/{id}/grants` answers (`remaining` defaults to
    /// `amount`; `id`, `priority`, `reason` and `actor` are checked but do not change a decision).
    public func grant(_ v: JSONValue, _ path: String) throws(RequestError) -> AccountGrant {
        let m = try Self.members(v, path, allowed: RequestKeys.grant)
        guard let name = try Self.string(m["feature"], "\(path).feature") else {
            throw RequestError(detail: "\(path).feature is required", path: "\(path).feature")
        }
        guard let f = program.featureID(name), policy.features[f].kind == .limit else {
            throw RequestError(detail: "'\(name)' is not a limit feature", path: "\(path).feature")
        }
        guard let amount = try Self.int(m["amount"], "\(path).amount", min: 1) else {
            throw RequestError(detail: "\(path).amount is required", path: "\(path).amount")
        }
        let remaining = try Self.int(m["remaining"], "\(path).remaining") ?? amount
        guard remaining <= amount else {
            throw RequestError(detail: "\(path).remaining may not exceed amount", path: "\(path).remaining")
        }
        _ = try Self.string(m["id"], "\(path).id")
        _ = try Self.int(m["priority"], "\(path).priority", min: Int64.min)
        _ = try Self.string(m["reason"], "\(path).reason")
        _ = try Self.string(m["actor"], "\(path).actor")
        return AccountGrant(
            feature: f, amount: amount, remaining: remaining,
            expiresAt: try Self.timestamp(m["expires_at"], "\(path).expires_at"),
            createdAt: try Self.timestamp(m["created_at"], "\(path).created_at"),
            voidedAt: try Self.timestamp(m["voided_at"], "\(path).voided_at"))
    }

    public func attributes(_ v: JSONValue, _ path: String) throws(RequestError) -> [String: JSONValue] {
        guard case .object(let ms) = v else {
            throw RequestError(detail: "\(path) must be an object, got \(v.typeName)", path: path)
        }
        guard let out = Self.attributeMap(ms) else {
            throw RequestError(
                detail: "\(path) has two names that differ only in Unicode normalization (names compare exactly)",
                path: path)
        }
        return out
    }

    /// Attributes by name; nil when two names differ only in Unicode normalization (`"é"` and `"e\u{301}"`): the
    /// JSON parser takes them as two names (they compare by scalars), but a `String` key would merge them.
    static func attributeMap(_ ms: [(String, JSONValue)]) -> [String: JSONValue]? {
        var out: [String: JSONValue] = [:]
        out.reserveCapacity(ms.count)
        for (k, val) in ms { out[k] = val }
        return out.count == ms.count ? out : nil
    }

    public func subscription(_ v: JSONValue, _ path: String) throws(RequestError) -> SubscriptionState {
        let m = try Self.members(
            v, path, allowed: RequestKeys.subscription)
        return SubscriptionState(
            plan: try Self.string(m["plan"], "\(path).plan"),
            status: try Self.string(m["status"], "\(path).status"),
            periodStart: try Self.timestamp(m["period_start"], "\(path).period_start"),
            periodEnd: try Self.timestamp(m["period_end"], "\(path).period_end"),
            pastDueSince: try Self.timestamp(m["past_due_since"], "\(path).past_due_since"),
            seats: try Self.int(m["seats"], "\(path).seats"),
            endedAt: try Self.timestamp(m["ended_at"], "\(path).ended_at"))
    }

    public func override(_ v: JSONValue, _ path: String) throws(RequestError) -> Override {
        let m = try Self.members(v, path, allowed: RequestKeys.override)
        guard let name = try Self.string(m["feature"], "\(path).feature") else {
            throw RequestError(detail: "\(path).feature is required", path: "\(path).feature")
        }
        guard let f = program.featureID(name) else {
            throw RequestError(detail: "unknown feature '\(name)'", path: "\(path).feature")
        }
        guard let raw = m["value"] else {
            throw RequestError(detail: "\(path).value is required", path: "\(path).value")
        }
        let value = try featureValue(raw, f, "\(path).value")
        return Override(
            feature: f, value: value, expiresAt: try Self.timestamp(m["expires_at"], "\(path).expires_at"),
            reason: try Self.string(m["reason"], "\(path).reason"), actor: try Self.string(m["actor"], "\(path).actor"))
    }

    /// A value for feature `f`, type-checked: boolean; integer ≥ 0 or "unlimited"; list of vocabulary values.
    public func featureValue(_ v: JSONValue, _ f: Int, _ path: String) throws(RequestError) -> FeatureValue {
        let feature = policy.features[f]
        switch (feature.kind, v) {
        case (.boolean, .bool(let b)): return .bool(b)
        case (.limit, .int(let i)) where i >= 0: return .limit(i)
        case (.limit, .string("unlimited")): return .limit(nil)
        case (.set, .array(let items)):
            var idx: [Int] = []
            for (k, item) in items.enumerated() {
                guard case .string(let s) = item, let i = feature.values.firstIndex(where: { scalarsEqual($0, s) })
                else {
                    throw RequestError(
                        detail: "\(path)[\(k)] is not a value of set feature '\(feature.name)'", path: "\(path)[\(k)]")
                }
                if !idx.contains(i) { idx.append(i) }
            }
            return .set(idx.sorted())
        default:
            let wanted = [
                "boolean": "true or false", "limit": "a non-negative integer or \"unlimited\"",
                "set": "a list of values",
            ]
            throw RequestError(
                detail:
                    "\(path) for \(feature.kind.rawValue) feature '\(feature.name)' must be \(wanted[feature.kind.rawValue]!)",
                path: path)
        }
    }

    public func user(_ v: JSONValue, _ path: String = "user") throws(RequestError) -> User {
        let m = try Self.members(v, path, allowed: RequestKeys.user)
        var u = User()
        u.id = try Self.string(m["id"], "\(path).id")
        u.email = try Self.string(m["email"], "\(path).email")
        u.emailVerifiedAt = try Self.timestamp(m["email_verified_at"], "\(path).email_verified_at")
        u.createdAt = try Self.timestamp(m["created_at"], "\(path).created_at")
        if let at = m["attributes"] { u.attributes = try attributes(at, "\(path).attributes") }
        return u
    }

    static func err(_ detail: String, _ p: String, _ code: String = "invalid_request") -> Result<Check, CheckError> {
        .failure(CheckError(code: code, detail: detail, path: p))
    }

    /// The fields of one check after its shape was read: present kinds and typed values.
    public struct CheckFields {
        public var feature: String?
        public var route: String?
        public var flag: String?
        public var usage: Int64?
        public var amount: Int64?
        public var value: String?
        public init() {}
    }

    /// One check object. Shape first (fields, kinds, types), then the key, then the fit to the feature's type.
    public func check(_ v: JSONValue, _ path: String) -> Result<Check, CheckError> {
        guard case .object(let ms) = v else { return Self.err("a check must be an object, got \(v.typeName)", path) }
        let allowed = RequestKeys.check
        var m: [String: JSONValue] = [:]
        for (k, val) in ms {
            guard allowed.contains(k) else {
                return Self.err(
                    "unknown field '\(k)'"
                        + (Suggest.closest(to: k, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""), "\(path).\(k)"
                )
            }
            if case .null = val { continue }
            m[k] = val
        }
        let kinds = ["feature", "route", "flag"].filter { m[$0] != nil }
        guard kinds.count == 1, let kind = kinds.first else {
            return kinds.isEmpty
                ? Self.err("a check names one of feature, route or flag", path)
                : Self.err("a check names one kind, got \(kinds.joined(separator: " and "))", "\(path).\(kinds[1])")
        }
        if kind != "feature" {
            for extra in ["usage", "amount", "value"] where m[extra] != nil {
                return Self.err("'\(extra)' applies only to feature checks", "\(path).\(extra)")
            }
        }
        guard case .string(let key) = m[kind]! else {
            return Self.err("\(kind) must be a string, got \(m[kind]!.typeName)", "\(path).\(kind)")
        }
        var f = CheckFields()
        switch kind {
        case "route": f.route = key
        case "flag": f.flag = key
        default: f.feature = key
        }
        for (field, slot) in [("usage", 0), ("amount", 1)] {
            guard let raw = m[field] else { continue }
            guard case .int(let i) = raw else {
                return Self.err(
                    "\(field) must be a non-negative integer without fraction or exponent within signed 64-bit",
                    "\(path).\(field)")
            }
            guard i >= 0 else {
                return Self.err("\(field) must be a non-negative integer, got \(i)", "\(path).\(field)")
            }
            if slot == 0 { f.usage = i } else { f.amount = i }
        }
        if let raw = m["value"] {
            guard case .string(let s) = raw else {
                return Self.err("value must be a string, got \(raw.typeName)", "\(path).value")
            }
            f.value = s
        }
        return resolve(f, path)
    }

    /// Resolves a well-shaped check: looks up its key, then fits the fields to the feature's type.
    public func resolve(_ f: CheckFields, _ path: String) -> Result<Check, CheckError> {
        if let route = f.route {
            // Not `[METHOD ]/path`: the path does not start with '/', so it is an invalid_path decision.
            guard let (method, p) = Evaluation.splitRoute(route) else {
                return .success(.route(method: nil, path: route))
            }
            return .success(.route(method: method, path: String(p)))
        }
        if let key = f.flag {
            guard let i = program.flagID(key) else {
                // A feature asked for as a flag: say what it is and how to ask for it.
                if program.featureID(key) != nil {
                    return Self.err(
                        "'\(key)' is a feature, not a flag: ask {\"feature\": \"\(key)\"}", "\(path).flag",
                        "unknown_feature")
                }
                return Self.err(
                    "unknown flag '\(key)'" + Suggest.hint(key, policy.flags.map(\.name)), "\(path).flag",
                    "unknown_feature")
            }
            return .success(.flag(i))
        }
        let key = f.feature ?? ""
        guard let id = program.featureID(key) else {
            // A flag asked for as a feature: "did you mean 'x'?" with the same name would be no help.
            if program.flagID(key) != nil {
                return Self.err(
                    "'\(key)' is a flag, not a feature: ask {\"flag\": \"\(key)\"}", "\(path).feature",
                    "unknown_feature")
            }
            let candidates = policy.features.map(\.name) + policy.flags.map(\.name)
            return Self.err(
                "unknown feature '\(key)'" + Suggest.hint(key, candidates), "\(path).feature", "unknown_feature")
        }
        let feature = policy.features[id]
        switch feature.kind {
        case .boolean:
            if f.usage != nil { return Self.err("'usage' does not apply to boolean feature '\(key)'", "\(path).usage") }
            if f.amount != nil {
                return Self.err("'amount' does not apply to boolean feature '\(key)'", "\(path).amount")
            }
            if f.value != nil { return Self.err("'value' does not apply to boolean feature '\(key)'", "\(path).value") }
            return .success(.boolean(feature: id))
        case .limit:
            if f.value != nil { return Self.err("'value' does not apply to limit feature '\(key)'", "\(path).value") }
            return .success(.limit(feature: id, usage: f.usage, amount: f.amount ?? 1))
        case .set:
            if f.usage != nil { return Self.err("'usage' does not apply to set feature '\(key)'", "\(path).usage") }
            if f.amount != nil { return Self.err("'amount' does not apply to set feature '\(key)'", "\(path).amount") }
            guard let value = f.value else {
                return Self.err("a check of set feature '\(key)' needs 'value'", "\(path).value")
            }
            guard let i = feature.values.firstIndex(where: { scalarsEqual($0, value) }) else {
                return Self.err(
                    "'\(value)' is not a value of set feature '\(key)'; allowed: \(feature.values.joined(separator: ", "))",
                    "\(path).value")
            }
            return .success(.set(feature: id, value: i))
        }
    }

    /// A whole `POST /v1/check` body.
    public func checkRequest(_ v: JSONValue) throws(RequestError) -> CheckRequest {
        guard case .object = v else {
            throw RequestError(detail: "the request body must be a JSON object, got \(v.typeName)")
        }
        let m = try Self.members(v, "", allowed: RequestKeys.request)
        guard let checksValue = m["checks"] else { throw RequestError(detail: "checks is required", path: "checks") }
        guard case .array(let items) = checksValue else {
            throw RequestError(detail: "checks must be an array, got \(checksValue.typeName)", path: "checks")
        }
        guard !items.isEmpty else { throw RequestError(detail: "checks must not be empty", path: "checks") }
        guard items.count <= 100 else {
            throw RequestError(detail: "at most 100 checks per request, got \(items.count)", path: "checks")
        }
        let (account, user, now) = try subject(m)
        var explain = false
        if let e = m["explain"] {
            guard case .bool(let b) = e else {
                throw RequestError(detail: "explain must be a boolean, got \(e.typeName)", path: "explain")
            }
            explain = b
        }
        let checks = items.enumerated().map { check($1, "checks[\($0)]") }
        return CheckRequest(account: account, user: user, now: now, explain: explain, checks: checks)
    }

    /// `account`, `user` and `now` of a request.
    public func subject(_ m: [String: JSONValue]) throws(RequestError) -> (AccountReference, User?, Timestamp?) {
        guard let a = m["account"] else { throw RequestError(detail: "account is required", path: "account") }
        let account: AccountReference
        switch a {
        case .string(let id):
            guard Self.validAccountID(id) else {
                throw RequestError(
                    detail: "account id must be 1–255 characters without control characters", path: "account")
            }
            account = .id(id)
        case .object: account = .inline(try self.account(a))
        default:
            throw RequestError(
                detail: "account must be an id string or an account object, got \(a.typeName)", path: "account")
        }
        let user = try m["user"].map { (u) throws(RequestError) in try self.user(u) }
        let now = try Self.timestamp(m["now"], "now")
        return (account, user, now)
    }
}
