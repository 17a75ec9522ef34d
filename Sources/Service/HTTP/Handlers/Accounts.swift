/// The account-state endpoints of SPEC §6.3, over the account store (`Sources/Service/Store/`). Bodies are
/// validated here; the store applies each change in one transaction. Without a store they answer 503
/// `store_unavailable`.
enum Accounts {
    static func store(_ context: RequestContext) throws(HTTPError) -> AccountStore {
        guard let store = context.store else {
            throw .storeUnavailable("this service runs stateless: account state needs the account store")
        }
        return store
    }

    /// Runs a store call; a database failure is 503 `store_unavailable` (counted in metrics).
    static func run<T>(_ context: RequestContext, _ body: () throws(StoreError) -> T) throws(HTTPError) -> T {
        do {
            return try body()
        } catch {
            context.metrics.storeErrors.add(1, ordering: .relaxed)
            throw .storeUnavailable(error.description)
        }
    }

    /// The account id of the path: 1–255 Unicode scalars without control characters (SPEC §9).
    static func accountID(_ context: RequestContext) throws(HTTPError) -> String {
        let id = context.parameters[0]
        guard RequestDecoder.validAccountID(id) else {
            throw HTTPError(
                400, "invalid_request", "an account id is 1–255 characters without control characters", path: "id")
        }
        return id
    }

    /// The feature of the path, or 400 `unknown_feature`.
    static func feature(_ context: RequestContext) throws(HTTPError) -> Int {
        let name = context.parameters[1]
        guard let f = context.program.featureID(name) else {
            throw HTTPError(
                400, "unknown_feature",
                "unknown feature '\(String(name.prefix(200)))'"
                    + Suggest.hint(name, context.program.policy.features.map(\.name)), path: "feature")
        }
        return f
    }

    /// The body's members (an empty body is an empty object when `optional`), unknown fields refused.
    static func members(_ req: HTTPRequest, allowed: [String], optional: Bool = false) throws(HTTPError) -> [String:
        JSONValue]
    {
        if optional && req.body.isEmpty { return [:] }
        let value: JSONValue
        do {
            value = try JSONParser.parse(req.body)
        } catch {
            throw HTTPError(400, "invalid_request", "body is not valid JSON: \(error)")
        }
        do {
            return try RequestDecoder.members(value, "", allowed: allowed)
        } catch {
            throw HTTPError(error)
        }
    }

    /// A required string of 1…`max` Unicode scalars without U+0000 (reason, actor, idempotency key): PostgreSQL's
    /// text cannot hold U+0000, and a text is stored exactly or refused, never cut short.
    static func text(_ m: [String: JSONValue], _ key: String, max: Int, required: Bool = true) throws(HTTPError)
        -> String?
    {
        guard let v = m[key] else {
            if required { throw HTTPError(400, "invalid_request", "\(key) is required", path: key) }
            return nil
        }
        guard case .string(let s) = v, (1...max).contains(s.unicodeScalars.count) else {
            throw HTTPError(400, "invalid_request", "\(key) must be a string of 1 to \(max) characters", path: key)
        }
        guard !s.utf8.contains(0) else {
            throw HTTPError(400, "invalid_request", "\(key) may not contain U+0000", path: key)
        }
        return s
    }

    static func now(_ req: HTTPRequest, _ m: [String: JSONValue] = [:], _ context: RequestContext) throws(HTTPError)
        -> Timestamp
    {
        do {
            if let t = try RequestDecoder.timestamp(m["now"], "now") { return t }
        } catch {
            throw HTTPError(error)
        }
        guard let text = req.query["now"] else { return context.now() }
        guard let t = Timestamp.parse(text) else {
            throw HTTPError(400, "invalid_request", "now must be an RFC 3339 timestamp with offset", path: "now")
        }
        return t
    }

    static func refusal(_ r: StoreRefusal) -> HTTPError {
        switch r {
        case .unknownAccount: HTTPError(404, "unknown_account", "no account with this id")
        case .unknownPlan(let p):
            HTTPError(
                400, "unknown_plan", "'\(p.map { String($0.prefix(200)) } ?? "null")' is neither a plan nor an alias",
                path: "subscription.plan")
        case .planNotAssignable(let plan, let source):
            HTTPError(403, "plan_not_assignable", "plan '\(plan)' cannot be assigned via '\(source)'")
        case .noTrial: HTTPError(409, "no_trial", "the policy bundle declares no trial")
        case .trialAlreadyUsed: HTTPError(409, "trial_already_used", "this account has already had its trial")
        case .overrideNotFound: HTTPError(404, "not_found", "the account has no override for this feature")
        case .notALimit(let f): HTTPError(400, "invalid_request", "'\(f)' is not a limit feature", path: "feature")
        case .idempotencyKeyReused:
            HTTPError(
                409, "idempotency_key_reused",
                "this idempotency key was first used with another request body; a key names one request",
                path: "idempotency_key")
        case .grantNotFound: HTTPError(404, "not_found", "the account has no grant with this id")
        }
    }

    // MARK: - /v1/accounts

    /// `GET /v1/accounts[?limit=&after=]`: `{accounts: [{id, plan, status, live}], next_after?}` by id.
    static func list(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try store(context)
        let limit = try limitParameter(req)
        let (page, more) = try run(context) { () throws(StoreError) in
            try store.list(after: req.query["after"], limit: limit)
        }
        let program = context.program
        let now = context.now()
        let decoder = RequestDecoder(program: program)
        let accounts: [JSONValue] = page.map { entry in
            var a = Account(id: entry.id)
            if case .object = entry.subscription { a.subscription = try? decoder.subscription(entry.subscription, "") }
            let ev = Evaluation(program: program, account: program.prepare(a), user: nil, now: now)
            return .object([
                ("id", .string(entry.id)), ("plan", entry.subscription["plan"] ?? .null),
                ("status", entry.subscription["status"] ?? .null), ("live", .bool(ev.subscription.live)),
            ])
        }
        var m: [(String, JSONValue)] = [("accounts", .array(accounts))]
        if more, let last = page.last { m.append(("next_after", .string(last.id))) }
        return .json(200, .object(m))
    }

    static func limitParameter(_ req: HTTPRequest) throws(HTTPError) -> Int {
        guard let text = req.query["limit"] else { return 100 }
        guard let n = Int(text), (1...1000).contains(n) else {
            throw HTTPError(400, "invalid_request", "limit must be an integer from 1 to 1000", path: "limit")
        }
        return n
    }

    // MARK: - /v1/accounts/{id}

    static func account(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try store(context)
        let id = try accountID(context)
        switch req.method {
        case "PUT": return try put(req, context, store, id)
        case "DELETE":
            let m = try members(req, allowed: ["reason", "actor"], optional: true)
            let reason = try text(m, "reason", max: 500, required: false)
            let actor = try text(m, "actor", max: 500, required: false) ?? context.actor
            let now = context.now()
            guard
                let old = try run(
                    context,
                    { () throws(StoreError) in
                        try store.delete(id, actor: actor, reason: reason, program: context.program, now: now)
                    })
            else { throw refusal(.unknownAccount) }
            return .json(200, .object([("deleted", .bool(true)), ("account", old.json)]))
        default:
            guard let a = try run(context, { () throws(StoreError) in try store.load(id) }) else {
                throw refusal(.unknownAccount)
            }
            return .json(200, a.json)
        }
    }

    static func put(_ req: HTTPRequest, _ context: RequestContext, _ store: AccountStore, _ id: String)
        throws(HTTPError) -> HTTPResponse
    {
        let program = context.program
        let value: JSONValue
        do {
            value = try JSONParser.parse(req.body)
        } catch {
            throw HTTPError(400, "invalid_request", "body is not valid JSON: \(error)")
        }
        guard case .object(let raw) = value else {
            throw HTTPError(400, "invalid_request", "the request body must be a JSON object")
        }
        let m = try members(req, allowed: ["subscription", "attributes", "source", "event"])
        var change = AccountChange(source: .admin, actor: context.actor)
        // `stripe` is the webhook's own source (SPEC §6.6), not one a caller may claim.
        guard case .string(let s)? = m["source"], let source = AssignSource(rawValue: s), source != .stripe else {
            throw HTTPError(
                400, "invalid_request", "source is required: one of signup, checkout, admin, billing_sync",
                path: "source")
        }
        change.source = source
        // `subscription: null` removes it (SPEC §9), unlike other optional fields; `members` dropped nulls.
        if let sub = raw.first(where: { $0.0 == "subscription" })?.1 {
            if case .null = sub {
                change.subscription = .null
            } else {
                do {
                    let state = try RequestDecoder(program: program).subscription(sub, "subscription")
                    change.subscription = subscriptionJSON(state)
                    change.plan = state.plan
                } catch {
                    throw HTTPError(error)
                }
            }
        }
        if let a = m["attributes"] {
            guard case .object = a else {
                throw HTTPError(400, "invalid_request", "attributes must be an object", path: "attributes")
            }
            do throws(RequestError) {
                _ = try RequestDecoder(program: context.program).attributes(a, "attributes")
            } catch {
                throw HTTPError(error)
            }
            change.attributes = a
        }
        if let e = m["event"] {
            do throws(RequestError) {
                let em = try RequestDecoder.members(e, "event", allowed: ["id", "time"])
                guard case .string(let eid)? = em["id"], (1...255).contains(eid.unicodeScalars.count),
                    !eid.utf8.contains(0)
                else {
                    throw RequestError(
                        detail: "event.id must be a string of 1 to 255 characters without U+0000", path: "event.id")
                }
                guard let time = try RequestDecoder.timestamp(em["time"], "event.time") else {
                    throw RequestError(detail: "event.time is required", path: "event.time")
                }
                change.event = (eid, time)
            } catch {
                throw HTTPError(error)
            }
        }
        let now = context.now()
        let outcome = try run(context) { () throws(StoreError) in
            try store.put(id, change, program: program, now: now)
        }
        switch outcome {
        case .failure(let r): throw refusal(r)
        case .success(.ignored(let reason, let account)):
            return .json(
                200,
                .object([("applied", .bool(false)), ("reason", .string(reason)), ("account", account?.json ?? .null)]))
        case .success(.applied(let created, let account)):
            return .json(created ? 201 : 200, .object([("applied", .bool(true)), ("account", account.json)]))
        }
    }

    /// A subscription as stored and answered: every field, timestamps in UTC.
    static func subscriptionJSON(_ s: SubscriptionState) -> JSONValue {
        func t(_ v: Timestamp?) -> JSONValue { v.map { .string($0.rfc3339) } ?? .null }
        return .object([
            ("plan", s.plan.map { .string($0) } ?? .null), ("status", s.status.map { .string($0) } ?? .null),
            ("period_start", t(s.periodStart)), ("period_end", t(s.periodEnd)),
            ("past_due_since", t(s.pastDueSince)), ("ended_at", t(s.endedAt)),
            ("seats", s.seats.map { .int($0) } ?? .null),
        ])
    }

    // MARK: - /v1/accounts/{id}/entitlements, /trial, /audit

    /// A stored account's snapshot (through the cache, like every decision); 404 when it is not stored.
    static func entitlements(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> Reply {
        guard context.store != nil else {
            throw .storeUnavailable("this service runs stateless: account state needs the account store")
        }
        let id = try accountID(context)
        let now = try now(req, [:], context)
        return try Decisions.withStored(id, context, now: now) { (found, context) throws(HTTPError) in
            guard found.known else { throw refusal(.unknownAccount) }
            return .json(200, Engine.snapshot(context.program, account: found.prepared, user: nil, now: now))
        }
    }

    static func trial(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try store(context)
        let id = try accountID(context)
        let m = try members(req, allowed: ["actor", "reason"], optional: true)
        let actor = try text(m, "actor", max: 500, required: false) ?? context.actor
        let reason = try text(m, "reason", max: 500, required: false)
        let program = context.program
        let now = context.now()
        let outcome = try run(context) { () throws(StoreError) in
            try store.startTrial(id, actor: actor, reason: reason, program: program, now: now)
        }
        switch outcome {
        case .failure(let r): throw refusal(r)
        case .success(let (created, account)):
            return .json(created ? 201 : 200, .object([("applied", .bool(true)), ("account", account.json)]))
        }
    }

    static func audit(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try store(context)
        let id = try accountID(context)
        let limit = try limitParameter(req)
        var before: Timestamp?
        if let text = req.query["before"] {
            guard let t = Timestamp.parse(text) else {
                throw HTTPError(
                    400, "invalid_request", "before must be an RFC 3339 timestamp with offset", path: "before")
            }
            before = t
        }
        guard
            let (entries, more) = try run(
                context,
                { () throws(StoreError) in
                    try store.audit(id, before: before, limit: limit)
                })
        else { throw refusal(.unknownAccount) }
        var m: [(String, JSONValue)] = [("entries", .array(entries))]
        if more, let at = entries.last?["at"] { m.append(("next_before", at)) }
        return .json(200, .object(m))
    }

    // MARK: - /v1/accounts/{id}/overrides/{feature}

    static func override(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try store(context)
        let id = try accountID(context)
        let f = try feature(context)
        let name = context.program.policy.features[f].name
        let now = context.now()
        if req.method == "DELETE" {
            let m = try members(req, allowed: ["actor", "reason"])
            let actor = try text(m, "actor", max: 500)!
            let reason = try text(m, "reason", max: 500)!
            let outcome = try run(context) { () throws(StoreError) in
                try store.deleteOverride(
                    id, feature: name, actor: actor, reason: reason, program: context.program, now: now)
            }
            switch outcome {
            case .failure(let r): throw refusal(r)
            case .success(let old): return .json(200, .object([("deleted", .bool(true)), ("override", old.json)]))
            }
        }
        let m = try members(req, allowed: ["value", "expires_at", "reason", "actor"])
        let actor = try text(m, "actor", max: 500)!
        let reason = try text(m, "reason", max: 500)!
        guard let value = m["value"] else {
            throw HTTPError(400, "invalid_request", "value is required", path: "value")
        }
        let expires: Timestamp?
        do {
            // The value is type-checked against the feature exactly as an inline override is.
            _ = try RequestDecoder(program: context.program).featureValue(value, f, "value")
            expires = try RequestDecoder.timestamp(m["expires_at"], "expires_at")
        } catch {
            throw HTTPError(error)
        }
        let o = StoredOverride(
            feature: name, value: value, expiresAt: expires.map { .string($0.rfc3339) } ?? .null, reason: reason,
            actor: actor)
        let outcome = try run(context) { () throws(StoreError) in
            try store.setOverride(id, o, program: context.program, now: now)
        }
        switch outcome {
        case .failure(let r): throw refusal(r)
        case .success(let replaced): return .json(replaced ? 200 : 201, o.json)
        }
    }

    // MARK: - /v1/accounts/{id}/usage/{feature}

    static func usage(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try store(context)
        let id = try accountID(context)
        let f = try feature(context)
        let program = context.program
        guard program.policy.features[f].kind == .limit else {
            throw refusal(.notALimit(program.policy.features[f].name))
        }
        if req.method == "GET" {
            let now = try now(req, [:], context)
            let outcome = try run(context) { () throws(StoreError) in
                try store.usage(id, feature: f, program: program, now: now, asOf: req.query["now"] != nil)
            }
            switch outcome {
            case .failure(let r): throw refusal(r)
            case .success(let answer): return .json(200, answer)
            }
        }
        let m = try members(req, allowed: ["amount", "idempotency_key", "now"])
        guard case .int(let amount)? = m["amount"], amount >= 1 else {
            throw HTTPError(400, "invalid_request", "amount must be an integer of at least 1", path: "amount")
        }
        let key = try text(m, "idempotency_key", max: 200)!
        let now = try now(req, m, context)
        let outcome = try run(context) { () throws(StoreError) in
            try store.consume(id, feature: f, amount: amount, key: key, program: program, now: now)
        }
        switch outcome {
        case .failure(let r): throw refusal(r)
        case .success(let answer):
            var refused: String?
            if case .object(let members) = answer, case .string(let e)? = members.first(where: { $0.0 == "error" })?.1 {
                refused = e
            }
            context.metrics.recordUsage(refused: refused)
            return .json(200, answer)
        }
    }
}
