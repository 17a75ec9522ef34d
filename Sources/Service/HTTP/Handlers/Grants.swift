/// `/v1/accounts/{id}/grants` (SPEC §7 "Grants"): create, list and void an account's grants.
enum Grants {
    /// `POST` creates (201; a replayed idempotency key 200 with `replayed: true`), `GET` lists (`?now=`).
    static func collection(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let id = try Accounts.accountID(context)
        if req.method == "GET" {
            let now = try Accounts.now(req, [:], context)
            guard let grants = try Accounts.run(context, { () throws(StoreError) in try store.grants(id, now: now) })
            else { throw Accounts.refusal(.unknownAccount) }
            return .json(200, .object([("grants", .array(grants.map(\.json)))]))
        }
        let m = try Accounts.members(
            req,
            allowed: ["feature", "amount", "expires_at", "priority", "reason", "actor", "idempotency_key", "now"])
        guard case .string(let name)? = m["feature"] else {
            throw HTTPError(400, "invalid_request", "feature is required (a limit feature)", path: "feature")
        }
        guard let f = context.program.featureID(name) else {
            throw HTTPError(
                400, "unknown_feature",
                "unknown feature '\(String(name.prefix(200)))'"
                    + Suggest.hint(name, context.program.policy.features.map(\.name)), path: "feature")
        }
        guard context.program.policy.features[f].kind == .limit else { throw Accounts.refusal(.notALimit(name)) }
        guard case .int(let amount)? = m["amount"], amount >= 1 else {
            throw HTTPError(400, "invalid_request", "amount must be an integer of at least 1", path: "amount")
        }
        var priority: Int64 = 0
        if let p = m["priority"], p != .null {
            guard case .int(let v) = p, (-1_000_000...1_000_000).contains(v) else {
                throw HTTPError(
                    400, "invalid_request", "priority must be an integer from -1000000 to 1000000", path: "priority")
            }
            priority = v
        }
        let expires: Timestamp?
        do {
            expires = try RequestDecoder.timestamp(m["expires_at"], "expires_at")
        } catch {
            throw HTTPError(error)
        }
        let reason = try Accounts.text(m, "reason", max: 500)!
        let actor = try Accounts.text(m, "actor", max: 500)!
        let key = try Accounts.text(m, "idempotency_key", max: 200)!
        let now = try Accounts.now(req, m, context)
        // What the key names: everything but the key itself and `now`.
        let request = JSONWriter.string(
            .object([
                ("feature", .string(name)), ("amount", .int(amount)),
                ("expires_at", expires.map { .string($0.rfc3339) } ?? .null), ("priority", .int(priority)),
                ("reason", .string(reason)), ("actor", .string(actor)),
            ]))
        let g = AccountStore.GrantRequest(
            feature: name, amount: amount, expiresAt: expires, priority: priority, reason: reason, actor: actor,
            key: key, request: request)
        let outcome = try Accounts.run(context) { () throws(StoreError) in try store.createGrant(id, g, now: now) }
        switch outcome {
        case .failure(let r): throw Accounts.refusal(r)
        case .success(let (grant, replayed)):
            guard replayed, case .object(var body) = grant.json else { return .json(201, grant.json) }
            body.append(("replayed", .bool(true)))
            return .json(200, .object(body))
        }
    }

    /// `DELETE …/grants/{grant}` with `{actor, reason}`: voids the grant (200 with it), 404 `not_found` when none.
    static func void(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let id = try Accounts.accountID(context)
        let grantID = context.parameters[1]
        let m = try Accounts.members(req, allowed: ["actor", "reason", "now"])
        let actor = try Accounts.text(m, "actor", max: 500)!
        let reason = try Accounts.text(m, "reason", max: 500)!
        let now = try Accounts.now(req, m, context)
        let outcome = try Accounts.run(context) { () throws(StoreError) in
            try store.voidGrant(id, grant: grantID, actor: actor, reason: reason, now: now)
        }
        switch outcome {
        case .failure(let r): throw Accounts.refusal(r)
        case .success(let grant): return .json(200, grant.json)
        }
    }
}
