import Foundation

/// The OpenFeature Remote Evaluation Protocol (SPEC §6.4): a key names a flag or a feature; the context's
/// `targetingKey` is the account id; `email`, `email_verified_at` and `created_at` fill the user; without a store
/// the context carries the account itself.
enum OFREP {
    enum Key {
        case flag(Int)
        case feature(Int)
    }

    static func lookup(_ program: Program, _ key: String) -> Key? {
        if let f = program.flagID(key) { return .flag(f) }
        if let f = program.featureID(key) { return .feature(f) }
        return nil
    }

    /// The evaluation subject from a request body, or the OFREP error response (PARSE_ERROR, then
    /// TARGETING_KEY_MISSING, then INVALID_CONTEXT).
    static func subject(_ rc: RequestContext, _ body: [UInt8], key: String?, now: Timestamp) throws(HTTPError)
        -> (AccountReference, User?)
    {
        let program = rc.program
        let value: JSONValue
        do {
            value = body.isEmpty ? .object([]) : try JSONParser.parse(body)
        } catch {
            throw .ofrep(400, key: key, "PARSE_ERROR", "the body is not valid JSON: \(error)")
        }
        guard case .object = value else {
            throw .ofrep(400, key: key, "PARSE_ERROR", "the body must be a JSON object")
        }
        var context: [(String, JSONValue)] = []
        switch value["context"] {
        case nil, .null?: break
        case .object(let m)?: context = m
        default: throw .ofrep(400, key: key, "INVALID_CONTEXT", "context must be an object")
        }
        func field(_ k: String) -> JSONValue? {
            guard let v = context.first(where: { $0.0 == k })?.1 else { return nil }
            if case .null = v { return nil }
            return v
        }
        guard case .string(let targetingKey)? = field("targetingKey"), !targetingKey.isEmpty else {
            throw .ofrep(400, key: key, "TARGETING_KEY_MISSING", "the context needs a targetingKey (the account id)")
        }
        guard RequestDecoder.validAccountID(targetingKey) else {
            throw .ofrep(
                400, key: key, "INVALID_CONTEXT", "targetingKey must be 1–255 characters without control characters")
        }
        let decoder = RequestDecoder(program: program)
        let subject: AccountReference
        if let accountJSON = field("account") {
            var account: Account
            do {
                account = try decoder.account(accountJSON, "context.account")
            } catch {
                throw .ofrep(400, key: key, "INVALID_CONTEXT", error.detail)
            }
            if let id = account.id, !id.utf8.elementsEqual(targetingKey.utf8) {
                throw .ofrep(400, key: key, "INVALID_CONTEXT", "context.account.id differs from targetingKey")
            }
            account.id = targetingKey
            subject = .inline(account)
        } else if rc.store != nil {
            // The stored account (an unknown id has no subscription).
            subject = .id(targetingKey)
        } else {
            throw .ofrep(400, key: key, "INVALID_CONTEXT", "without an account store the context must carry 'account'")
        }
        var user: User?
        if field("email") != nil || field("email_verified_at") != nil || field("created_at") != nil {
            var u = User()
            do throws(RequestError) {
                u.email = try RequestDecoder.string(field("email"), "context.email")
                u.emailVerifiedAt = try RequestDecoder.timestamp(
                    field("email_verified_at"), "context.email_verified_at")
                u.createdAt = try RequestDecoder.timestamp(field("created_at"), "context.created_at")
            } catch {
                throw .ofrep(400, key: key, "INVALID_CONTEXT", error.detail)
            }
            user = u
        }
        return (subject, user)
    }

    /// Answers with the subject's account (a stored one through the cache, or the database on the blocking pool); a
    /// store that does not answer is OFREP's 503 `GENERAL`.
    static func withSubject(
        _ subject: AccountReference, _ context: RequestContext, key: String?, now: Timestamp,
        _ answer: @escaping @Sendable (PreparedAccount) -> HTTPResponse
    ) throws(HTTPError) -> Reply {
        let reply: Reply
        do {
            reply = try Decisions.withAccount(subject, context, now: now) { (state, _) in answer(state.prepared) }
        } catch {
            throw .ofrep(503, key: key, "GENERAL", "the account store is unavailable")
        }
        guard case .wait(let work) = reply else { return reply }
        return .wait { (context) throws(HTTPError) in
            do {
                return try work(&context)
            } catch {
                throw .ofrep(503, key: key, "GENERAL", "the account store is unavailable")
            }
        }
    }

    /// One evaluation as an OFREP success object.
    static func evaluate(_ ev: inout Evaluation, _ key: String, _ k: Key) -> JSONValue {
        let program = ev.program
        switch k {
        case .flag(let i):
            let d = ev.decide(.flag(i))
            let matched = d.reason == .flag_rule
            return .object([
                ("key", .string(key)), ("value", d.flagValue.map(Evaluation.json) ?? .null),
                ("reason", .string(matched ? "TARGETING_MATCH" : "STATIC")),
                ("variant", .string(matched ? "rule" : "default")),
                ("metadata", .object([("kind", .string("flag"))])),
            ])
        case .feature(let f):
            let feature = program.policy.features[f]
            func ofrepValue(_ v: FeatureValue) -> JSONValue {
                switch v {
                case .bool(let b): return .bool(b)
                case .limit(let l): return .int(l ?? -1)
                case .set(let members):
                    return .object([("values", .array(members.map { .string(feature.values[$0]) }))])
                }
            }
            switch ev.effective(f) {
            case .noSubscription, .inactive:
                let denial = ev.subscription.exists ? "subscription_inactive" : "no_subscription"
                return .object([
                    ("key", .string(key)), ("value", ofrepValue(feature.zero)), ("reason", .string("DISABLED")),
                    ("variant", .string(ev.subscription.exists ? "locked" : "no_subscription")),
                    ("metadata", .object([("kind", .string("feature")), ("denial", .string(denial))])),
                ])
            case .value(let v, let source):
                let sourceName: String
                switch source {
                case .plan(let p): sourceName = "plan:" + program.policy.plans[p].name
                case .default: sourceName = "default"
                case .override: sourceName = "override"
                }
                var metadata: [(String, JSONValue)] = [("kind", .string("feature")), ("source", .string(sourceName))]
                // A boolean feature that is off is what a check would deny as feature_not_in_plan.
                if case .bool(false) = v { metadata.append(("denial", .string("feature_not_in_plan"))) }
                return .object([
                    ("key", .string(key)), ("value", ofrepValue(v)), ("reason", .string("TARGETING_MATCH")),
                    ("variant", .string(sourceName)), ("metadata", .object(metadata)),
                ])
            }
        }
    }

    /// A path under `/ofrep/v1/evaluate/` that no route takes is a flag key the client's URL handling made vanish
    /// (`…/flags/..` arrives as `/ofrep/v1/evaluate/`): an OFREP SDK reads only OFREP's error shape, so it gets
    /// `FLAG_NOT_FOUND` for the key that is left (often none) instead of the generic 404.
    static func notFound(_ path: String) -> HTTPError? {
        let prefix = "/ofrep/v1/evaluate"
        guard path.hasPrefix(prefix) else { return nil }
        var rest = path.dropFirst(prefix.count)
        guard rest.isEmpty || rest.first == "/" else { return nil }
        if rest.hasPrefix("/flags") { rest = rest.dropFirst("/flags".count) }
        let key = String(rest.drop(while: { $0 == "/" }).prefix(200))
        return .ofrep(404, key: key, "FLAG_NOT_FOUND", "no flag or feature named '\(key)'")
    }

    /// An unknown key is `FLAG_NOT_FOUND` before the body or its Content-Type is looked at (SPEC §9).
    static func knownKey(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) {
        let key = context.parameters[0]
        if lookup(context.program, key) == nil {
            throw .ofrep(404, key: key, "FLAG_NOT_FOUND", "no flag or feature named '\(key)'")
        }
    }

    static func single(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> Reply {
        let program = context.program
        let key = context.parameters[0]
        guard let k = lookup(program, key) else {
            throw .ofrep(404, key: key, "FLAG_NOT_FOUND", "no flag or feature named '\(key)'")
        }
        let now = context.now()
        let (account, user) = try subject(context, req.body, key: key, now: now)
        return try withSubject(account, context, key: key, now: now) { account in
            var ev = Evaluation(program: program, account: account, user: user, now: now)
            return .json(200, evaluate(&ev, key, k))
        }
    }

    /// Every flag and every feature; `ETag` over the answer, `If-None-Match` → 304.
    static func bulk(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> Reply {
        let program = context.program
        let now = context.now()
        let (account, user) = try subject(context, req.body, key: nil, now: now)
        let ifNoneMatch = req.ifNoneMatch
        return try withSubject(account, context, key: nil, now: now) { account in
            var ev = Evaluation(program: program, account: account, user: user, now: now)
            var flags: [JSONValue] = []
            for (i, f) in program.policy.flags.enumerated() { flags.append(evaluate(&ev, f.name, .flag(i))) }
            for (i, f) in program.policy.features.enumerated() { flags.append(evaluate(&ev, f.name, .feature(i))) }
            let bytes = JSONWriter.serialize(.object([("flags", .array(flags))]))
            return withETag("\"" + SHA256.hex(SHA256.hash(bytes)).prefix(32) + "\"", bytes, ifNoneMatch)
        }
    }

    static func configuration(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        let bytes = JSONWriter.serialize(
            .object([
                ("name", .string("entitlements")),
                (
                    "capabilities",
                    .object([
                        (
                            "cacheInvalidation",
                            .object([
                                ("polling", .object([("enabled", .bool(true)), ("minPollingIntervalMs", .int(1000))]))
                            ])
                        ),
                        (
                            "flagEvaluation",
                            .object([
                                ("supportedTypes", .array(["boolean", "string", "int", "object"].map { .string($0) }))
                            ])
                        ),
                    ])
                ),
            ]))
        return withETag("\"" + context.program.digest.prefix(32) + "\"", bytes, req.ifNoneMatch)
    }

    static func withETag(_ etag: String, _ bytes: [UInt8], _ ifNoneMatch: String?) -> HTTPResponse {
        if let inm = ifNoneMatch {
            let tags = inm.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if tags.contains("*") || tags.contains(where: { $0 == etag || $0 == "W/" + etag }) {
                return HTTPResponse(status: 304, body: [], contentType: nil, headers: [("ETag", etag)])
            }
        }
        return HTTPResponse(status: 200, body: bytes, headers: [("ETag", etag)])
    }
}
