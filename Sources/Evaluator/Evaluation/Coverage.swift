/// What evaluations exercised, for `entitlements test --coverage`: plain sets of ids filled in while deciding (no
/// I/O; nothing is recorded unless an `Evaluation` is given a recorder).
public final class CoverageRecorder {
    /// (plan, feature) cells: `plan * featureCount + feature`, for feature checks decided on that plan's grants.
    public var cells = Set<Int>()
    /// Indexes into `subscription.statuses` of the accounts evaluated.
    public var statuses = Set<Int>()
    /// Trial stages seen: `pristine`, `warning`, `urgent`, `expired`.
    public var stages = Set<String>()
    public var guardsPassed = Set<Int>()
    public var guardsDenied = Set<Int>()
    /// Allowlist entries that matched a route: `(guard, entry, when)`; `when` is nil for an unconditional entry.
    public var allowlist = Set<AllowHit>()
    /// Flag rules that matched: `(flag, rule)`; and flags whose default applied.
    public var flagRules = Set<[Int]>()
    public var flagDefaults = Set<Int>()
    /// Denials returned by some check.
    public var denials = Set<Int>()

    /// One allowlist entry matching a route, and how its `when` came out (nil: it has none).
    public struct AllowHit: Hashable, Sendable {
        public var guardIndex: Int
        public var entry: Int
        public var when: Bool?
        public init(guardIndex: Int, entry: Int, when: Bool?) {
            self.guardIndex = guardIndex
            self.entry = entry
            self.when = when
        }
    }

    public init() {}
}

extension Evaluation {
    /// Records the account's status and trial stage (for a snapshot, or with each check).
    public func recordSubscriptionCoverage(into coverage: CoverageRecorder) {
        if prepared.account.subscription != nil, prepared.status >= 0 { coverage.statuses.insert(prepared.status) }
        switch subscription.stage {
        case .pristine: coverage.stages.insert("pristine")
        case .warning: coverage.stages.insert("warning")
        case .urgent: coverage.stages.insert("urgent")
        case .expired: coverage.stages.insert("expired")
        case .none, .status: break
        }
    }

    /// Records what one decided check exercised: its plan cell, its denial.
    func recordCoverage(_ check: Check, _ d: Decision) {
        guard let coverage else { return }
        recordSubscriptionCoverage(into: coverage)
        if d.denial >= 0 { coverage.denials.insert(d.denial) }
        let feature: Int
        switch check {
        case .boolean(let f), .limit(let f, _, _), .set(let f, _): feature = f
        default: return
        }
        let plan: Int? = subscription.live ? prepared.plan : program.policy.subscription.lockedGrants
        if let plan, prepared.account.subscription != nil {
            coverage.cells.insert(plan * program.policy.features.count + feature)
        }
    }
}
