/// The stored subscription of an account (SPEC §6.1).
public struct SubscriptionState: Sendable, Equatable {
    public var plan: String?
    public var status: String?
    public var periodStart: Timestamp?
    public var periodEnd: Timestamp?
    public var pastDueSince: Timestamp?
    /// When the subscription ended (a cancellation), if known: `locked_at` once it is not live (SPEC §2.4).
    public var endedAt: Timestamp?
    public var seats: Int64?

    public init(
        plan: String? = nil, status: String? = nil, periodStart: Timestamp? = nil, periodEnd: Timestamp? = nil,
        pastDueSince: Timestamp? = nil, seats: Int64? = nil, endedAt: Timestamp? = nil
    ) {
        self.plan = plan
        self.status = status
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.pastDueSince = pastDueSince
        self.seats = seats
        self.endedAt = endedAt
    }
}

/// A per-account override of one feature's value, optionally expiring (SPEC §4).
public struct Override: Sendable, Equatable {
    public var feature: Int
    public var value: FeatureValue
    public var expiresAt: Timestamp?
    public var reason: String?
    public var actor: String?

    public init(
        feature: Int, value: FeatureValue, expiresAt: Timestamp? = nil, reason: String? = nil, actor: String? = nil
    ) {
        self.feature = feature
        self.value = value
        self.expiresAt = expiresAt
        self.reason = reason
        self.actor = actor
    }
}

/// A grant on a limit feature (SPEC §7 "Grants"): an amount on top of the plan's allowance, usable while active.
public struct AccountGrant: Sendable, Equatable {
    public var feature: Int
    public var amount: Int64
    /// What is left of it.
    public var remaining: Int64
    public var expiresAt: Timestamp?
    public var createdAt: Timestamp?
    public var voidedAt: Timestamp?

    public init(
        feature: Int, amount: Int64, remaining: Int64, expiresAt: Timestamp? = nil, createdAt: Timestamp? = nil,
        voidedAt: Timestamp? = nil
    ) {
        self.feature = feature
        self.amount = amount
        self.remaining = remaining
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.voidedAt = voidedAt
    }

    /// Usable at `t`: created at or before it, not voided at or before it, and `t` before its expiry.
    public func isActive(at t: Timestamp) -> Bool {
        (createdAt.map { $0 <= t } ?? true) && (voidedAt.map { t < $0 } ?? true) && (expiresAt.map { t < $0 } ?? true)
    }
}

/// An account as the evaluator sees it: inline in a request or loaded from the store.
public struct Account: Sendable {
    public var id: String?
    public var subscription: SubscriptionState?
    public var overrides: [Override]
    public var attributes: [String: JSONValue]
    /// Grants on limit features: a limit check counts the active ones (`limit` = allowance + their amounts,
    /// `remaining` = the balance).
    public var grants: [AccountGrant] = []

    public init(
        id: String? = nil, subscription: SubscriptionState? = nil, overrides: [Override] = [],
        attributes: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.subscription = subscription
        self.overrides = overrides
        self.attributes = attributes
    }
}

/// The signed-in user making the request, if any.
public struct User: Sendable {
    public var id: String?
    public var email: String?
    public var emailVerifiedAt: Timestamp?
    public var createdAt: Timestamp?
    public var attributes: [String: JSONValue]

    public init(
        id: String? = nil, email: String? = nil, emailVerifiedAt: Timestamp? = nil, createdAt: Timestamp? = nil,
        attributes: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.email = email
        self.emailVerifiedAt = emailVerifiedAt
        self.createdAt = createdAt
        self.attributes = attributes
    }
}

/// One question asked of the evaluator, with names already resolved to ids.
public enum Check: Sendable {
    /// A boolean feature.
    case boolean(feature: Int)
    /// A limit feature: usage so far (nil = 0, or the store's recorded usage) and amount (default 1).
    case limit(feature: Int, usage: Int64?, amount: Int64)
    /// A set feature and the vocabulary index asked about.
    case set(feature: Int, value: Int)
    /// A route: method as written (nil when absent) and the raw path.
    case route(method: String?, path: String)
    case flag(Int)
}
