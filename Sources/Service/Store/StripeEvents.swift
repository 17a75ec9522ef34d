import Evaluator
import Rules

/// A Stripe event as the service reads it (SPEC §6.6): its id, type, `created` instant and `data.object`.
struct StripeEvent: Sendable {
    /// The event types the service applies; any other signed event is acknowledged as `ignored_type`.
    static let handled: Set<String> = [
        "checkout.session.completed", "customer.subscription.created", "customer.subscription.updated",
        "customer.subscription.deleted", "customer.subscription.paused", "customer.subscription.resumed",
        "customer.subscription.trial_will_end", "invoice.paid", "invoice.payment_failed",
    ]

    var id: String
    var type: String
    var created: Timestamp
    var object: JSONValue
    /// The whole event as received (kept while it waits for its customer to be linked to an account).
    var raw: JSONValue

    /// Why a signed body is not a Stripe event: the 400's detail.
    struct Malformed: Error { var detail: String }

    init(_ raw: JSONValue) throws(Malformed) {
        guard case .object = raw else { throw Malformed(detail: "the event must be a JSON object") }
        guard case .string(let id)? = raw["id"], (1...255).contains(id.unicodeScalars.count) else {
            throw Malformed(detail: "the event has no id (a string of 1 to 255 characters)")
        }
        guard case .string(let type)? = raw["type"], !type.isEmpty else {
            throw Malformed(detail: "the event has no type")
        }
        guard case .int(let created)? = raw["created"], created >= 0, created < 253_402_300_800 else {
            throw Malformed(detail: "the event's created must be a Unix time in seconds")
        }
        guard let data = raw["data"], case .object? = data["object"], let object = data["object"] else {
            throw Malformed(detail: "the event has no data.object")
        }
        self.id = id
        self.type = type
        self.created = Timestamp(seconds: created, nanos: 0)
        self.object = object
        self.raw = raw
    }

    var isSubscriptionEvent: Bool { type.hasPrefix("customer.subscription.") }
    var isInvoiceEvent: Bool { type.hasPrefix("invoice.") }
    var isCheckout: Bool { type == "checkout.session.completed" }

    /// The Stripe customer id the object belongs to (`customer` is an id, or an expanded object).
    var customer: String? {
        switch object["customer"] {
        case .string(let s)?: s
        case .object?: object["customer"]?["id"].flatMap(Self.string)
        default: nil
        }
    }

    /// The account id the event names itself, as the mapping's `account_id` says; nil: look the customer up.
    func accountID(_ source: StripeMapping.AccountID) -> String? {
        let id: String?
        switch source {
        case .clientReferenceID:
            id = isCheckout ? object["client_reference_id"].flatMap(Self.string) : nil
        case .customerMetadata:
            id = object["customer"]?["metadata"]?["account_id"].flatMap(Self.string)
        case .subscriptionMetadata:
            if isSubscriptionEvent {
                id = object["metadata"]?["account_id"].flatMap(Self.string)
            } else if isInvoiceEvent {
                // Older API versions: `subscription_details`; newer: `parent.subscription_details`.
                id =
                    (object["parent"]?["subscription_details"] ?? object["subscription_details"])?["metadata"]?[
                        "account_id"
                    ].flatMap(Self.string)
            } else {
                // A checkout session carries the metadata it was created with (and, expanded, its subscription's).
                id =
                    object["subscription"]?["metadata"]?["account_id"].flatMap(Self.string)
                    ?? object["metadata"]?["account_id"].flatMap(Self.string)
            }
        }
        guard let id, RequestDecoder.validAccountID(id) else { return nil }
        return id
    }

    static func string(_ v: JSONValue) -> String? {
        if case .string(let s) = v, !s.isEmpty { return s }
        return nil
    }

    static func instant(_ v: JSONValue?) -> Timestamp? {
        if case .int(let s)? = v, s >= 0, s < 253_402_300_800 { return Timestamp(seconds: s, nanos: 0) }
        return nil
    }
}

/// What a Stripe subscription object becomes: the §6.1 subscription (plan key, status, period, seats, ended_at),
/// or why it cannot.
enum StripeState {
    case subscription(JSONValue, plan: String)
    case unmappedPrice

    /// The subscription of `object` under `mapping`. `past_due_since` is kept from `stored` while Stripe still
    /// says the payments are failing, set to `at` when it starts saying so, and cleared otherwise.
    static func of(_ object: JSONValue, _ mapping: StripeMapping, _ program: Program, stored: JSONValue?, at: Timestamp)
        -> StripeState
    {
        var found: (item: JSONValue, plan: Int)?
        if case .array(let items)? = object["items"]?["data"] {
            for item in items {
                let price = item["price"] ?? item["plan"]
                for key in [price?["id"], price?["lookup_key"]] {
                    if let k = key.flatMap(StripeEvent.string), let plan = mapping.planOfPrice[k] {
                        found = (item, plan)
                        break
                    }
                }
                if found != nil { break }
            }
        }
        guard let (item, plan) = found else { return .unmappedPrice }
        let stripeStatus = object["status"].flatMap(StripeEvent.string) ?? "incomplete"
        let status = mapping.status(stripeStatus)
        // API versions before 2025-03-31 give the period on the subscription, later ones on each item.
        let start =
            StripeEvent.instant(object["current_period_start"]) ?? StripeEvent.instant(item["current_period_start"])
        let end = StripeEvent.instant(object["current_period_end"]) ?? StripeEvent.instant(item["current_period_end"])
        var ended = StripeEvent.instant(object["ended_at"])
        if ended == nil, stripeStatus == "canceled" { ended = StripeEvent.instant(object["canceled_at"]) }
        var pastDueSince: JSONValue = .null
        if stripeStatus == "past_due" || stripeStatus == "unpaid" {
            if case .string? = stored?["past_due_since"] {
                pastDueSince = stored!["past_due_since"]!
            } else {
                pastDueSince = .string(at.rfc3339)
            }
        }
        let seats: JSONValue
        if case .int(let q)? = item["quantity"], q >= 0 { seats = .int(q) } else { seats = .null }
        let name = program.policy.plans[plan].name
        func t(_ v: Timestamp?) -> JSONValue { v.map { .string($0.rfc3339) } ?? .null }
        return .subscription(
            .object([
                ("plan", .string(name)), ("status", .string(status)), ("period_start", t(start)),
                ("period_end", t(end)), ("past_due_since", pastDueSince), ("ended_at", t(ended)), ("seats", seats),
            ]), plan: name)
    }
}

/// The answer to one Stripe event (SPEC §6.6).
struct BillingOutcome: Sendable {
    var applied: Bool
    var account: String?
    /// `applied`, `duplicate`, `stale`, `ignored_type`, `unmapped_price`, `no_account_id`, `plan_not_assignable`.
    var reason: String
    /// The account's state before and after (`{subscription, attributes}`), when it was applied: what a dry run
    /// prints.
    var old: JSONValue? = nil
    var new: JSONValue? = nil
    /// The applied event's write, not yet sent: `AccountStore.record` sends it with the outcome's record.
    var pending: (sql: String, parameters: [String?])? = nil

    static let reasons = [
        "applied", "duplicate", "stale", "ignored_type", "unmapped_price", "no_account_id", "plan_not_assignable",
    ]

    var json: JSONValue {
        .object([
            ("received", .bool(true)), ("applied", .bool(applied)), ("account", account.map { .string($0) } ?? .null),
            ("reason", .string(reason)),
        ])
    }
}
