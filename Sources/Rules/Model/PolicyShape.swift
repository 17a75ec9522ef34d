/// The shape of policy files: every section, its keys, which are required and what each holds. The compiler takes
/// its allowed and required keys from here, and `entitlements schema policy` renders the same values as a JSON
/// Schema for editors, so the two cannot drift apart.
public indirect enum ValueShape: Sendable {
    case string
    /// An expression (SPEC §3): a string, or a YAML boolean for the constant rules.
    case expression
    /// `14d`, `24h`, `30m` (units s, m, h, d, w).
    case duration
    /// `[METHOD ]/path` with `*`, `{name}` and a final `**`.
    case route
    case integer(min: Int64?, max: Int64?)
    case boolean
    case oneOf([String])
    case list(ValueShape)
    /// A mapping with known keys.
    case object(ShapeObject)
    /// A mapping from `[a-z][a-z0-9_]*` keys (features, plans, …) to that shape.
    case names(ValueShape)
    /// A mapping from any string key to that shape (attributes, expected results).
    case map(ValueShape)
    case anyOf([ValueShape])
    /// An RFC 3339 timestamp string.
    case timestamp
    case null
    /// Anything YAML can hold (a denial body, a feature default checked against its type).
    case any
}

/// A mapping with fixed keys.
public struct ShapeObject: Sendable {
    public struct Member: Sendable {
        public var name: String
        public var shape: ValueShape
        public var required: Bool
        public var description: String
        public init(_ name: String, _ shape: ValueShape, required: Bool = false, _ description: String) {
            self.name = name
            self.shape = shape
            self.required = required
            self.description = description
        }
    }
    public let description: String
    public let keys: [Member]
    /// Whether other keys are allowed too (a fixture check may be malformed on purpose).
    public var open = false

    /// The keys in declaration order (what `unknown_key` lists); kept, not derived per call (the compiler asks for
    /// them for every mapping it reads).
    public let names: [String]
    public let required: [String]

    public init(_ description: String, _ keys: [Member]) {
        self.description = description
        self.keys = keys
        names = keys.map(\.name)
        required = keys.filter(\.required).map(\.name)
    }
}

func key(_ name: String, _ shape: ValueShape, required: Bool = false, _ description: String) -> ShapeObject.Member {
    ShapeObject.Member(name, shape, required: required, description)
}

/// The policy file format (SPEC §2), section by section.
public enum PolicyShape {
    public static let feature = ShapeObject(
        "A feature: a boolean, a numeric limit or a set of values",
        [
            key("type", .oneOf(["boolean", "limit", "set"]), required: true, "boolean, limit or set"),
            key("description", .string, "What the feature is, for people"),
            key(
                "default", .anyOf([.boolean, .integer(min: 0, max: nil), .oneOf(["unlimited"]), .list(.string)]),
                "The value for plans that do not grant it (false, 0 or the empty set when absent)"),
            key("period", .oneOf(Feature.Period.allCases.map(\.rawValue)), "Limits only: when usage resets"),
            key("values", .list(.string), "Sets only (required): the closed vocabulary"),
            key(
                "notify_at", .list(.integer(min: 1, max: 100)),
                "Limits only: percentages of the limit whose reaching sends a usage.threshold webhook"),
            key(
                "rollover", .object(rollover),
                "Limits with a month or billing period only: unused allowance carried into the next period as a grant"),
        ])

    public static let rollover = ShapeObject(
        "Rollover of unused allowance",
        [
            key("max", .integer(min: 1, max: nil), required: true, "The most that carries into the next period"),
            key("expires_after", .string, "How long a rolled-over amount lasts from the period's start (e.g. 30d)"),
        ])

    public static let price = ShapeObject(
        "A plan's price",
        [
            key("monthly_cents", .integer(min: 0, max: nil), "Monthly price in cents"),
            key("annual_cents", .integer(min: 0, max: nil), "Annual price in cents"),
            key("currency", .string, "ISO 4217 code, e.g. USD"),
        ])

    public static let plan = ShapeObject(
        "A plan: its grants, what it extends and who may assign it",
        [
            key("display_name", .string, "Name shown to customers"),
            key("description", .string, "What the plan is for"),
            key(
                "assignable_via", .list(.oneOf(AssignSource.allCases.map(\.rawValue))),
                "Who may put an account on this plan (all when absent)"),
            key("extends", .string, "A plan key whose grants this plan inherits"),
            key(
                "grants",
                .names(.anyOf([.boolean, .integer(min: 0, max: nil), .string, .list(.string)])),
                "Feature key → value; replaces the inherited value per feature. A limit is an integer, `unlimited`, or "
                    + "an integer expression over stored subscription fields (`subscription.seats + 5`)"),
            key("price", .object(price), "The plan's price"),
            key("public", .boolean, "Listed on the pricing page"),
            key("sort", .integer(min: nil, max: nil), "Order on the pricing page"),
            key("aliases", .list(.string), "Old plan names that resolve to this plan"),
        ])

    public static let status = ShapeObject(
        "A subscription status and whether it is live",
        [
            key("live", .expression, required: true, "true, false or an expression over stored fields"),
            key("description", .string, "What the status means"),
        ])

    public static let stages = ShapeObject(
        "Trial stages by time remaining",
        [
            key("warning", .duration, "Stage `warning` when this much or less remains"),
            key("urgent", .duration, "Stage `urgent` when this much or less remains"),
        ])

    public static let trial = ShapeObject(
        "The reverse trial",
        [
            key("plan", .string, required: true, "The plan key a trial runs on"),
            key("length", .duration, required: true, "How long a trial lasts, e.g. 14d"),
            key("stages", .object(stages), "warning / urgent thresholds"),
        ])

    public static let subscription = ShapeObject(
        "The subscription lifecycle",
        [
            key("statuses", .names(.object(status)), "Status name → liveness"),
            key("unknown_status", .oneOf(["locked", "live"]), "How a status not listed is treated (locked)"),
            key("trial", .object(trial), "The reverse trial"),
            key("locked_grants", .string, "A plan key whose grants locked accounts keep, or none"),
        ])

    public static let fact = ShapeObject(
        "A named boolean",
        [
            key("expr", .expression, required: true, "A bool expression"),
            key("description", .string, "What the fact means"),
        ])

    public static let allowEntry = ShapeObject(
        "A conditional allowlist entry",
        [
            key("route", .route, required: true, "The route pattern the guard skips"),
            key("when", .expression, "Skip only when this is true"),
        ])

    public static let guardRule = ShapeObject(
        "A route guard",
        [
            key("name", .string, required: true, "The guard's name (results carry it)"),
            key("description", .string, "What the guard protects"),
            key("applies_to", .list(.route), "Route patterns it applies to (all routes when absent)"),
            key("requires", .expression, required: true, "What a request needs to pass"),
            key("deny", .string, required: true, "The denial a failed request gets"),
            key("allow", .list(.anyOf([.route, .object(allowEntry)])), "Routes the guard skips"),
        ])

    public static let flagRule = ShapeObject(
        "A flag rule: first match wins",
        [
            key("when", .expression, required: true, "The condition"),
            key("value", .anyOf([.boolean, .integer(min: nil, max: nil), .string]), required: true, "The flag value"),
            key("description", .string, "Why the rule exists"),
        ])

    public static let flag = ShapeObject(
        "A flag: a default and rules",
        [
            key("type", .oneOf(["boolean", "string", "integer"]), "The value type"),
            key("description", .string, "What the flag controls"),
            key(
                "default", .anyOf([.boolean, .integer(min: nil, max: nil), .string]), required: true,
                "The value when no rule matches"),
            key("rules", .list(.object(flagRule)), "Rules in order; the first match wins"),
        ])

    public static let denial = ShapeObject(
        "A denial: HTTP status and JSON body",
        [
            key("status", .integer(min: 400, max: 599), "HTTP status (required for denials that are not built in)"),
            key("body", .any, "The JSON body; ${…} interpolates an expression"),
            key("description", .string, "When the denial happens"),
        ])

    public static let stripe = ShapeObject(
        "How Stripe's webhooks map onto accounts (POST /v1/billing/stripe)",
        [
            key(
                "account_id", .oneOf(StripeMapping.AccountID.allCases.map(\.rawValue)),
                "Where an event's account id is read (subscription.metadata.account_id)"),
            key("prices", .map(.string), "Stripe price id or lookup_key → plan key"),
            key("statuses", .map(.string), "Stripe status → bundle status, where they differ"),
        ])

    public static let billing = ShapeObject(
        "Billing providers whose webhooks the service takes",
        [key("stripe", .object(stripe), "Stripe (sections merge across files; a price may be mapped once)")])

    /// The top level of a policy file; every section is optional in any one file.
    public static let file = ShapeObject(
        "An Entitlements policy file",
        [
            key("version", .integer(min: 1, max: 1), "Always 1"),
            key("features", .names(.object(feature)), "Feature key → feature"),
            key("plans", .names(.object(plan)), "Plan key → plan"),
            key("subscription", .object(subscription), "The lifecycle (at most one file)"),
            key("facts", .names(.anyOf([.expression, .object(fact)])), "Fact name → bool expression"),
            key("lists", .names(.list(.string)), "List name → strings"),
            key("guards", .list(.object(guardRule)), "Route guards, in order"),
            key("flags", .names(.object(flag)), "Flag key → flag"),
            key("denials", .names(.object(denial)), "Denial name → status and body"),
            key("billing", .object(billing), "Billing webhooks: the Stripe mapping"),
        ])
}
