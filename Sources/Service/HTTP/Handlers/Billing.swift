import Evaluator
import Rules

/// Stripe's webhooks (SPEC §6.6): `POST /v1/billing/stripe`, authenticated by the `Stripe-Signature` header alone,
/// and `GET /v1/billing/events` (admin), the recorded deliveries and their outcomes.
enum Billing {
    /// 404 before the body is read when no webhook secret is configured.
    static func configured(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) {
        guard !context.auth.stripeSecrets.isEmpty else {
            throw HTTPError(
                404, "not_found",
                "Stripe webhooks are off: no secret is configured (ENTITLEMENTS_STRIPE_WEBHOOK_SECRETS)")
        }
    }

    static func stripe(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let now = context.now()
        if let problem = StripeSignature.problem(
            req.stripeSignature, body: req.body, secrets: context.auth.stripeSecrets, now: now)
        {
            context.metrics.billing("invalid_signature")
            throw HTTPError(400, "invalid_signature", problem)
        }
        let event: StripeEvent
        do {
            event = try StripeEvent(try JSONParser.parse(req.body))
        } catch let e as StripeEvent.Malformed {
            context.metrics.billing("malformed")
            throw HTTPError(400, "invalid_request", "signed, but not a Stripe event: \(e.detail)")
        } catch {
            context.metrics.billing("malformed")
            throw HTTPError(400, "invalid_request", "signed, but not JSON: \(error)")
        }
        let program = context.program
        let outcome = try Accounts.run(context) { () throws(StoreError) in
            try store.applyStripe(event, program: program, now: now)
        }
        context.metrics.billing(outcome.reason)
        return .json(200, outcome.json)
    }

    /// `GET /v1/billing/events[?outcome=&limit=&before=]` → `{events: [...], next_before?}`, newest first.
    static func events(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let store = try Accounts.store(context)
        let limit = try Accounts.limitParameter(req)
        let outcome = req.query["outcome"]
        if let outcome, !BillingOutcome.reasons.contains(outcome) {
            throw HTTPError(
                400, "invalid_request",
                "outcome must be one of \(BillingOutcome.reasons.joined(separator: ", "))"
                    + Suggest.hint(outcome, BillingOutcome.reasons), path: "outcome")
        }
        var before: Int64?
        if let text = req.query["before"] {
            guard let n = Int64(text), n > 0 else {
                throw HTTPError(400, "invalid_request", "before must be a positive integer (a seq)", path: "before")
            }
            before = n
        }
        let (events, more) = try Accounts.run(context) { () throws(StoreError) in
            try store.billingEvents(outcome: outcome, before: before, limit: limit)
        }
        var m: [(String, JSONValue)] = [("events", .array(events))]
        if more, let seq = events.last?["seq"] { m.append(("next_before", seq)) }
        return .json(200, .object(m))
    }
}

/// Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
/// (several `v1` allowed, other schemes ignored), within 300 s of now, compared in constant time with every
/// configured secret (several during a rotation).
enum StripeSignature {
    static let tolerance: Int64 = 300

    /// Why the header does not authenticate the body, or nil when it does.
    static func problem(_ header: String?, body: [UInt8], secrets: [[UInt8]], now: Timestamp) -> String? {
        guard let header, !header.isEmpty else { return "the Stripe-Signature header is missing" }
        var t: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let key = kv[0].trimmingCharacters(in: .whitespaces)
            let value = kv[1].trimmingCharacters(in: .whitespaces)
            if key == "t" {
                t = Int64(value)
            } else if key == "v1" {
                signatures.append(Array(value.lowercased().utf8))
            }
        }
        guard let t else { return "the Stripe-Signature header has no timestamp (t=…)" }
        guard !signatures.isEmpty else { return "the Stripe-Signature header has no v1 signature" }
        guard abs(now.seconds - t) <= tolerance else {
            return "the signature's timestamp is more than \(tolerance) s from now (a replay, or a clock far off)"
        }
        let signed = Array("\(t).".utf8) + body
        var matched = false
        for secret in secrets {
            let expected = Array(SHA256.hex(HMAC.sha256(key: secret, message: signed)).utf8)
            // Every candidate is compared, so the time taken does not tell which one matched.
            for s in signatures where HMAC.constantTimeEqual(s, expected) { matched = true }
        }
        return matched ? nil : "no v1 signature matches a configured secret"
    }
}
