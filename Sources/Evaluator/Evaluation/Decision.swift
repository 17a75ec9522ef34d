/// Why an allowed result was allowed (SPEC §4).
public enum Reason: String, Sendable {
    case plan, override, `default`, guards_passed, allowlisted, flag_rule, flag_default
}

/// The outcome of one check, before it is rendered to JSON. Computing it allocates nothing.
public struct Decision: Sendable {
    public var allowed: Bool
    public var reason: Reason?
    /// Denial index into `policy.denials`, or -1.
    public var denial: Int = -1
    public var featureValue: FeatureValue?
    public var flagValue: FlagValue?
    /// For limit checks: the limit (`nil` = unlimited) and what remains.
    public var hasLimit = false
    public var limit: Int64?
    public var remaining: Int64?
    /// The guard that denied a route, or -1.
    public var guardIndex: Int = -1
    /// Set for a route whose path failed normalization.
    public var invalidPath: String?
    /// A route check whose method is not an upper-case HTTP method (`get`, `FETCH`): judged as written, warned.
    public var unknownMethod = false
    /// `check.usage` / `check.amount` seen by denial bodies.
    public var usage: Int64?
    public var amount: Int64?

    static func allow(_ r: Reason) -> Decision { Decision(allowed: true, reason: r) }
    static func deny(_ d: Int) -> Decision { Decision(allowed: false, reason: nil, denial: d) }
}

/// Derived subscription values (SPEC §2.4).
public struct DerivedSubscription: Sendable {
    /// The trial stage of SPEC §2.4 (`none` outside a trial; `status` carries a non-trial status string).
    public enum Stage: Sendable, Equatable { case none, pristine, warning, urgent, expired, status }
    public var exists = false
    public var live = false
    public var lockedAt: Timestamp?
    public var stage: Stage = .none
    public var daysRemaining: Int64?
}

/// One step of an explain trace: what was decided, by which rule, where it is written.
public struct TraceStep: Sendable {
    public var step: String
    public var rule: String?
    public var at: SourceLocation?
    public var result: String
    /// What the step's expression compared, with the values at `now` (`now (…) < user.created_at + 7d (…) → false`).
    public var values: [String] = []

    public var json: JSONValue {
        var m: [(String, JSONValue)] = [("step", .string(step))]
        if let rule { m.append(("rule", .string(rule))) }
        if let at { m.append(("at", .string(at.description))) }
        m.append(("result", .string(result)))
        if !values.isEmpty { m.append(("values", .array(values.map { .string($0) }))) }
        return .object(m)
    }
}

/// Collects trace steps when `explain` is on.
public final class Tracer {
    public var steps: [TraceStep] = []
    public init() {}
    func add(_ step: String, _ rule: String?, _ at: SourceLocation?, _ result: String, values: [String] = []) {
        steps.append(TraceStep(step: step, rule: rule, at: at, result: result, values: values))
    }
}
