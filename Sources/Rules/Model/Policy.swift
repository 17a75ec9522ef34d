/// A validated policy bundle: every name resolved to an index, every expression type-checked.
/// Produced by `PolicyCompiler`; consumed by the Evaluator's compiler. Holds source locations for traces.
public struct Policy: Sendable {
    public var features: [Feature] = []
    public var plans: [Plan] = []
    /// Plan keys and aliases to plan indexes.
    public var planLookup: [String: Int] = [:]
    public var subscription = SubscriptionConfig.defaults
    public var facts: [Fact] = []
    public var lists: [NamedList] = []
    public var guards: [Guard] = []
    public var flags: [Flag] = []
    public var denials: [Denial] = []
    public var denialLookup: [String: Int] = [:]
    /// `billing.stripe`: how Stripe's webhooks map onto accounts (SPEC §6.6); nil when no file declares it.
    public var stripe: StripeMapping?
    /// Bundle-relative paths of the files read, in reading order.
    public var files: [String] = []
    /// Lower-case hex SHA-256 over the files' paths and contents.
    public var digest: String = ""

    public init() {}

    public func feature(named n: String) -> Int? { features.firstIndex { $0.name == n } }

    /// The plan and its ancestors along `extends`, the plan first, stopping before a plan repeats.
    /// `repeated` is the plan at which a cycle closed, if any.
    public func extendsChain(of plan: Int) -> (chain: [Int], repeated: Int?) {
        var chain: [Int] = []
        var seen = Set<Int>()
        var at: Int? = plan
        while let i = at, seen.insert(i).inserted {
            chain.append(i)
            at = plans[i].parent
        }
        return (chain, at)
    }
    public func flag(named n: String) -> Int? { flags.firstIndex { $0.name == n } }
}

/// The three kinds of feature (SPEC §2.2), used by the model and the expression checker alike.
public enum FeatureKind: String, Sendable { case boolean, limit, set }

/// A feature's value: a boolean, a limit (`nil` = unlimited), or a set as sorted vocabulary indexes.
public enum FeatureValue: Hashable, Sendable {
    case bool(Bool)
    case limit(Int64?)
    case set([Int])
}

/// A declared feature: its kind, default, usage period and (for sets) vocabulary.
public struct Feature: Sendable {
    /// When a limit feature's usage resets (SPEC §2.2, §6.3).
    public enum Period: String, Sendable, CaseIterable {
        case month, billing, rolling24h = "24h", none
    }
    public var name: String
    public var kind: FeatureKind
    public var description: String?
    /// `default`, or the type's zero.
    public var defaultValue: FeatureValue
    public var period: Period
    /// Unused allowance of a fixed period carried into the next as a grant (`rollover: {max, expires_after?}`).
    public struct Rollover: Sendable, Hashable {
        public var max: Int64
        public var expiresAfter: PolicyDuration?
    }
    public var rollover: Rollover? = nil
    /// The closed vocabulary of a set feature, in declaration order.
    public var values: [String]
    /// Limits only: the percentages of the period's limit whose reaching is announced as a `usage.threshold`
    /// webhook (SPEC §6.7), ascending, each 1–100.
    public var notifyAt: [Int] = []
    public var location: SourceLocation

    public var zero: FeatureValue {
        switch kind {
        case .boolean: .bool(false)
        case .limit: .limit(0)
        case .set: .set([])
        }
    }
}

/// Who may put an account on a plan (`assignable_via`, SPEC §2.3).
public enum AssignSource: String, Sendable, CaseIterable { case signup, checkout, admin, billing_sync, stripe }

/// The `billing.stripe` section (SPEC §6.6): where an event's account id is read, which Stripe price (id or
/// `lookup_key`) puts an account on which plan, and which bundle status each Stripe status becomes.
public struct StripeMapping: Sendable {
    /// Where the account id of an event is read.
    public enum AccountID: String, Sendable, CaseIterable {
        case subscriptionMetadata = "subscription.metadata.account_id"
        case customerMetadata = "customer.metadata.account_id"
        case clientReferenceID = "client_reference_id"
    }
    /// The statuses Stripe gives a subscription; each maps to the bundle status of the same name unless `statuses`
    /// says otherwise.
    public static let stripeStatuses = [
        "trialing", "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "paused",
    ]
    public var accountID: AccountID = .subscriptionMetadata
    /// Price id or lookup key → plan index, in declaration order.
    public var prices: [(price: String, plan: Int)] = []
    public var planOfPrice: [String: Int] = [:]
    /// Stripe status → bundle status, only where they differ.
    public var statuses: [String: String] = [:]
    /// Where the section is (nil: the empty mapping of a bundle without one).
    public var location: SourceLocation?

    public init(location: SourceLocation?) { self.location = location }

    /// The bundle status a Stripe status becomes.
    public func status(_ stripe: String) -> String { statuses[stripe] ?? stripe }
}

/// A plan: catalog metadata, `extends`, aliases, assignability and its own grants.
public struct Plan: Sendable {
    /// Catalog price metadata, returned by `GET /v1/catalog`.
    public struct Price: Sendable, Hashable {
        public var monthlyCents: Int64?
        public var annualCents: Int64?
        public var currency: String?
    }
    /// One feature value a plan grants (its own, before inheritance).
    public struct Grant: Sendable {
        public var feature: Int
        /// The value; for an expression grant, the feature's default (what a null operand gives).
        public var value: FeatureValue
        public var location: SourceLocation
        /// A limit granted by an integer expression over stored subscription fields (`subscription.seats + 5`),
        /// type-checked; evaluated per account.
        public var expr: Expr? = nil
        /// The expression as written (catalog, diff).
        public var exprText: String? = nil
    }
    public var name: String
    public var displayName: String?
    public var description: String?
    /// nil: assignable via every source.
    public var assignableVia: Set<AssignSource>?
    public var parent: Int?
    public var aliases: [String]
    public var price: Price?
    public var isPublic: Bool?
    public var sort: Int64?
    public var grants: [Grant]
    public var location: SourceLocation

    /// Whether `source` may put an account on this plan (`assignable_via`; a plan without it: every source).
    public func isAssignable(via source: AssignSource) -> Bool { assignableVia?.contains(source) ?? true }
}

/// The `subscription` section: statuses and their liveness, the trial, `locked_grants` (SPEC §2.4).
public struct SubscriptionConfig: Sendable {
    /// A status's `live`: a constant or an expression evaluated at `now`.
    public enum Liveness: Sendable {
        case always(Bool)
        case rule(Expr, SourceLocation)
    }
    /// One runtime status string and whether it is live.
    public struct Status: Sendable {
        public var name: String
        public var live: Liveness
        public var location: SourceLocation?
    }
    /// The trial: its plan, length and stage thresholds.
    public struct Trial: Sendable {
        public var plan: Int
        public var length: PolicyDuration
        public var warning: PolicyDuration?
        public var urgent: PolicyDuration?
        public var location: SourceLocation
    }
    public var statuses: [Status]
    /// Whether a status not listed is live (`unknown_status: live`); the default is locked.
    public var unknownStatusLive: Bool
    public var trial: Trial?
    public var lockedGrants: Int?
    public var location: SourceLocation?

    /// A bundle without a `subscription` section (SPEC §2.4).
    public static var defaults: SubscriptionConfig {
        let end = Expr(
            .binary(
                .lt, Expr(.name(.now), offset: 0, type: .timestamp),
                Expr(.name(.subscription(.period_end)), offset: 6, type: .timestamp)),
            offset: 4, type: .bool)
        let here = SourceLocation(file: "<built-in>", line: 0, column: 0)
        return SubscriptionConfig(
            statuses: [
                Status(name: "active", live: .always(true)),
                Status(name: "past_due", live: .always(true)),
                Status(name: "trialing", live: .rule(end, here)),
            ], unknownStatusLive: false, trial: nil, lockedGrants: nil, location: nil)
    }
}

/// A named boolean expression evaluated per account (SPEC §2.5).
public struct Fact: Sendable {
    public var name: String
    public var expr: Expr
    /// The expression as written (for diffs and traces).
    public var text: String = ""
    public var reads: ExprReads
    public var description: String?
    public var location: SourceLocation
}

/// A named list of strings for `in` tests (SPEC §2.6).
public struct NamedList: Sendable {
    public var name: String
    public var values: [String]
    public var location: SourceLocation
}

/// A route pattern: optional method, then segments.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    /// One segment of a route pattern.
    public enum Segment: Sendable, Hashable {
        case literal(String)
        /// `*` or `{name}`: exactly one segment.
        case one
        /// Final `**`: zero or more segments.
        case rest
    }
    /// The methods a route pattern may name (upper case; SPEC §2.7 compares methods case-sensitively).
    public static let httpMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
    public var method: String?
    public var segments: [Segment]
    public var text: String
    public var location: SourceLocation
    public var description: String { text }
}

/// A route guard: where it applies, what it requires, its denial and its allowlist (SPEC §2.7).
public struct Guard: Sendable {
    /// An allowlist entry: a route pattern and an optional `when`.
    public struct AllowEntry: Sendable {
        public var pattern: RoutePattern
        public var when: Expr?
        public var whenText: String?
        public var whenReads: ExprReads
        public var location: SourceLocation
    }
    public var name: String
    public var description: String?
    /// Empty: applies to every route.
    public var appliesTo: [RoutePattern]
    public var requires: Expr
    public var requiresText: String
    /// Direct and through facts.
    public var requiresReads: ExprReads
    public var deny: Int
    public var allow: [AllowEntry]
    public var location: SourceLocation
    public var requiresLocation: SourceLocation
}

/// The value type of a flag (SPEC §2.8).
public enum FlagType: String, Sendable { case boolean, string, integer }
/// A flag's value, of its declared type.
public enum FlagValue: Hashable, Sendable {
    case bool(Bool), string(String), int(Int64)
}

/// A flag: its default and its rules, first match wins (SPEC §2.8).
public struct Flag: Sendable {
    /// One flag rule: a condition and the value it gives.
    public struct Rule: Sendable {
        public var when: Expr
        public var whenText: String
        public var reads: ExprReads
        public var value: FlagValue
        public var location: SourceLocation
    }
    public var name: String
    public var type: FlagType
    public var description: String?
    public var defaultValue: FlagValue
    public var rules: [Rule]
    public var location: SourceLocation
}

/// A JSON template with `${…}` interpolations (SPEC §2.9).
public indirect enum Template: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    /// A string that is exactly one `${…}`: takes the expression's JSON type.
    case expr(Expr)
    /// A mixed string: literal pieces and interpolations, rendered as a string.
    case interpolated([TemplatePart])
    case list([Template])
    case object([(key: String, value: Template)])
}

/// A piece of a mixed template string: literal text or an interpolation.
public enum TemplatePart: Sendable {
    case text(String)
    case expr(Expr)
}

/// A denial: the HTTP status and body template a denied check carries (SPEC §2.9).
public struct Denial: Sendable {
    public static let builtIn: [(String, Int)] = [
        ("no_subscription", 402), ("subscription_inactive", 402), ("feature_not_in_plan", 402),
        ("limit_exceeded", 402), ("unauthenticated", 401),
    ]
    public var name: String
    public var status: Int
    public var body: Template
    public var description: String?
    /// nil for a built-in default.
    public var location: SourceLocation?
}
