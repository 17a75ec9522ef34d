/// The webhook endpoints API of SPEC §6.7 (admin): endpoints stored in the account store, shared by every
/// replica; their deliveries, listed and retried. A secret is taken, never answered.
enum Webhooks {
    /// `PUT`, `GET`, `DELETE /v1/webhooks/{name}`.
    static func endpoint(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let name = try name(context)
        switch req.method {
        case "PUT":
            let m = try Accounts.members(req, allowed: ["url", "secret", "events"])
            guard case .string(let url)? = m["url"] else {
                throw HTTPError(400, "invalid_request", "url is required: an http:// URL", path: "url")
            }
            do {
                _ = try HTTPClient(url: url)
            } catch {
                throw HTTPError(
                    400, "invalid_request",
                    "url must be http://HOST[:PORT][/PATH] (\(error.description); https receivers are reached through a local TLS proxy, see docs/API.md)",
                    path: "url")
            }
            guard case .string(let secret)? = m["secret"], Signature.key(secret) != nil else {
                throw HTTPError(
                    400, "invalid_request", "secret is required: whsec_ followed by base64 of 1 to 64 bytes",
                    path: "secret")
            }
            let events = try events(m["events"])
            let now = context.now()
            let (created, answer) = try Accounts.run(context) { () throws(StoreError) in
                try store.putWebhook(name: name, url: url, secret: secret, events: events, now: now)
            }
            return .json(created ? 201 : 200, answer)
        case "DELETE":
            guard let old = try Accounts.run(context, { () throws(StoreError) in try store.deleteWebhook(name) }) else {
                throw notFound(name)
            }
            return .json(200, .object([("deleted", .bool(true)), ("webhook", old)]))
        default:
            guard let e = try Accounts.run(context, { () throws(StoreError) in try store.webhook(name) }) else {
                throw notFound(name)
            }
            return .json(200, e)
        }
    }

    /// `GET /v1/webhooks`: `{webhooks: [...]}` by name.
    static func list(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let all = try Accounts.run(context) { () throws(StoreError) in try store.webhooks() }
        return .json(200, .object([("webhooks", .array(all))]))
    }

    /// `GET /v1/webhooks/{name}/deliveries[?status=pending|succeeded|failed&limit=&before=]`: newest first,
    /// `{deliveries: [...], next_before?}`.
    static func deliveries(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let name = try name(context)
        let status = req.query["status"]
        if let status, !["pending", "succeeded", "failed"].contains(status) {
            throw HTTPError(
                400, "invalid_request", "status must be pending, succeeded or failed", path: "status")
        }
        var before: Int64?
        if let b = req.query["before"] {
            guard let n = Int64(b), n > 0 else {
                throw HTTPError(400, "invalid_request", "before must be a delivery id", path: "before")
            }
            before = n
        }
        let limit = try Accounts.limitParameter(req)
        guard
            let (page, more) = try Accounts.run(
                context,
                { () throws(StoreError) in try store.deliveries(name, status: status, before: before, limit: limit) })
        else { throw notFound(name) }
        var m: [(String, JSONValue)] = [("deliveries", .array(page))]
        if more, case .object(let last)? = page.last, let id = last.first(where: { $0.0 == "id" })?.1 {
            m.append(("next_before", id))
        }
        return .json(200, .object(m))
    }

    /// `POST /v1/webhooks/{name}/deliveries/{id}/retry`: the delivery, pending and due now.
    static func retry(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let name = try name(context)
        guard let id = Int64(context.parameters[1]), id > 0,
            let d = try Accounts.run(context, { () throws(StoreError) in try store.retryDelivery(name, id: id) })
        else {
            throw HTTPError(404, "not_found", "webhook '\(name)' has no delivery '\(context.parameters[1].prefix(40))'")
        }
        return .json(200, d)
    }

    /// An endpoint's name: 1–100 of `A-Z a-z 0-9 _ - .`.
    static func name(_ context: RequestContext) throws(HTTPError) -> String {
        let name = context.parameters[0]
        let ok =
            (1...100).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
                    || c == 0x2D || c == 0x2E
            }
        guard ok else {
            throw HTTPError(
                400, "invalid_request", "a webhook name is 1 to 100 letters, digits, '_', '-' or '.'", path: "name")
        }
        return name
    }

    /// `events`: a non-empty list of distinct event types; absent or null means every type.
    static func events(_ value: JSONValue?) throws(HTTPError) -> [String] {
        guard let value, value != .null else { return AccountStore.webhookEvents }
        let allowed = AccountStore.webhookEvents.joined(separator: ", ")
        guard case .array(let items) = value, !items.isEmpty else {
            throw HTTPError(400, "invalid_request", "events must be a non-empty list of: \(allowed)", path: "events")
        }
        var out: [String] = []
        for (k, item) in items.enumerated() {
            guard case .string(let s) = item, AccountStore.webhookEvents.contains(s), !out.contains(s) else {
                throw HTTPError(
                    400, "invalid_request", "events[\(k)] must be one of \(allowed), each once", path: "events[\(k)]")
            }
            out.append(s)
        }
        return out
    }

    static func notFound(_ name: String) -> HTTPError {
        HTTPError(404, "not_found", "no webhook named '\(name)'")
    }
}
