/// One account, user and instant evaluated against a program. Create one per request; ask it any number of
/// checks. Evaluation is a pure function of program + inputs + `now`.
public struct Evaluation: ~Copyable {
    public let program: Program
    public let prepared: PreparedAccount
    public let user: User?
    public let now: Timestamp
    /// The program's compiled expression code.
    @usableFromInline let code: UnsafeBufferPointer<Instr>
    public private(set) var subscription = DerivedSubscription()
    /// `request.*` during a route check; the normalized path string is built only when read.
    var inRoute = false
    /// The method's bytes (the caller's string, alive for the route check or the denial body that reads it): no
    /// `String` field to release with every evaluation.
    var requestMethod: UnsafeBufferPointer<UInt8>?
    var requestPath: (bytes: UnsafePointer<UInt8>, segments: UnsafePointer<(start: Int32, end: Int32)>, count: Int)?
    /// The route check's raw path while its denial body renders (normalized when `request.path` is read).
    var renderedRoute: UnsafeBufferPointer<UInt8>?
    /// `check.*` while rendering a denial body.
    var checkFeature: Int?
    var checkUsage: Int64?
    var checkAmount: Int64?
    var checkLimit: Int64?
    // Fact memo for the first 64 facts (no allocation).
    var factKnown: UInt64 = 0
    var factValue: UInt64 = 0
    // Memo of account-keyed rollout buckets (8 slots, no allocation).
    var rolloutKnown: UInt8 = 0
    var rolloutMemo: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0, 0)
    public var tracer: Tracer?
    /// Set by the fixture runner for `test --coverage`; nil on every service path.
    public var coverage: CoverageRecorder?

    /// Inlinable, so a caller in another module builds the evaluation in place (no move of the whole value).
    @inlinable
    public init(program: Program, account: PreparedAccount, user: User?, now: Timestamp, explain: Bool = false) {
        // Plan, status and override indexes belong to the program the account was prepared for: answered by another
        // they would name other plans and features (a wrong answer, or an index out of range). Never reached by a
        // correct caller; a stop here is a bug in the caller, never a wrong answer.
        precondition(account.programSerial == program.serial, "an account prepared for another program")
        self.program = program
        self.prepared = account
        self.user = user
        self.now = now
        self.code = program.code
        if explain { tracer = Tracer() }
        deriveSubscription()
    }

    // MARK: - Subscription (SPEC §2.4)

    /// Sets `subscription` from the account's stored subscription and the bundle's subscription config.
    @usableFromInline mutating func deriveSubscription() {
        subscription = derivedSubscription()
    }

    mutating func derivedSubscription() -> DerivedSubscription {
        var d = DerivedSubscription()
        // Field by field, in place: binding the whole subscription (`guard let sub`) copies it.
        guard case .some = prepared.account.subscription else { return d }
        d.exists = true
        if prepared.status >= 0 {
            let root = program.statusRoots[prepared.status]
            d.live = root < 0 ? program.statusAlways[prepared.status] : holds(root)
        } else {
            d.live = program.policy.subscription.unknownStatusLive
        }
        // `trialing` by its index when the bundle lists it (no string compare per request).
        let trialing =
            prepared.status >= 0
            ? prepared.status == program.trialingStatus
            : prepared.account.subscription?.status.map { scalarsEqual($0, "trialing") } ?? false
        if trialing {
            if !d.live {
                d.stage = .expired
                d.lockedAt = prepared.account.subscription?.periodEnd ?? lockInstant()
                d.daysRemaining = 0
            } else if let end = prepared.account.subscription?.periodEnd {
                // remaining = end - now, in whole seconds plus nanoseconds.
                var secs = end.seconds &- now.seconds
                var nanos = Int64(end.nanos) - Int64(now.nanos)
                if nanos < 0 {
                    secs -= 1
                    nanos += 1_000_000_000
                }
                let remainingPositive = secs > 0 || (secs == 0 && nanos > 0)
                let atMost: (PolicyDuration?) -> Bool = { limit in
                    guard let limit else { return false }
                    return secs < limit.seconds || (secs == limit.seconds && nanos == 0)
                }
                let trial = program.policy.subscription.trial
                if atMost(trial?.urgent) {
                    d.stage = .urgent
                } else if atMost(trial?.warning) {
                    d.stage = .warning
                } else {
                    d.stage = .pristine
                }
                if remainingPositive {
                    d.daysRemaining = secs / 86_400 + ((secs % 86_400 != 0 || nanos != 0) ? 1 : 0)
                } else {
                    d.daysRemaining = 0
                }
            } else {
                d.stage = .pristine
            }
        } else {
            d.stage = prepared.account.subscription?.status == nil ? .none : .status
            if !d.live { d.lockedAt = lockInstant() }
        }
        return d
    }

    /// When a subscription that is not live stopped being live, past a trial's end (SPEC §2.4): its `ended_at`,
    /// else the `X` of its status's `now < X` live rule, else unknown.
    mutating func lockInstant() -> Timestamp? {
        if let ended = prepared.account.subscription?.endedAt { return ended }
        guard prepared.status >= 0 else { return nil }
        let root = program.statusLockRoots[prepared.status]
        guard root >= 0, case .timestamp(let t) = eval(root) else { return nil }
        return t
    }

    /// `subscription.stage` as a string.
    public var stageName: String? {
        switch subscription.stage {
        case .none: nil
        case .pristine: "pristine"
        case .warning: "warning"
        case .urgent: "urgent"
        case .expired: "expired"
        case .status: prepared.account.subscription?.status
        }
    }

    /// `subscription.plan`: the plan key after alias resolution, else the stored string.
    public var planName: String? {
        if let p = prepared.plan { return program.policy.plans[p].name }
        return prepared.account.subscription?.plan
    }

    // MARK: - Effective grants (SPEC §4)

    /// Where an effective feature value came from: a plan (by index), the feature default, or an override.
    public enum Source: Sendable, Equatable {
        case plan(Int)
        case `default`
        case override(expiresAt: Timestamp?)
    }

    /// A feature as the account has it: denied for want of a live subscription, or a value and its source.
    public enum Effective: Sendable {
        case noSubscription
        case inactive
        case value(FeatureValue, Source)
    }

    public mutating func effective(_ f: Int) -> Effective {
        guard subscription.exists else { return .noSubscription }
        let base: (FeatureValue, Source)
        if subscription.live {
            if let p = prepared.plan {
                base = planValue(p, f)
            } else {
                base = (program.defaults[f], .default)
            }
        } else if let lp = program.lockedGrants {
            base = planValue(lp, f)
        } else {
            return .inactive
        }
        for o in prepared.account.overrides where o.feature == f {
            if let exp = o.expiresAt, !(now < exp) { continue }
            return .value(o.value, .override(expiresAt: o.expiresAt))
        }
        return .value(base.0, base.1)
    }

    @inline(__always) mutating func planValue(_ p: Int, _ f: Int) -> (FeatureValue, Source) {
        let s = program.planSources[p][f]
        let e = program.planExprs[p][f]
        if e >= 0 { return (grantValue(e, f), .plan(Int(s))) }
        return (program.planValues[p][f], s < 0 ? .default : .plan(Int(s)))
    }

    /// A limit granted by an expression over the subscription (SPEC §2.3): its value for this account; null (a
    /// null operand, an overflow) gives the feature's default, a negative result 0.
    mutating func grantValue(_ e: Int32, _ f: Int) -> FeatureValue {
        guard case .int(let n) = eval(e) else { return program.defaults[f] }
        return .limit(max(0, n))
    }

    mutating func denialForLock() -> Int {
        subscription.exists ? program.denyInactive : program.denyNoSubscription
    }

    // MARK: - Facts

    mutating func fact(_ i: Int) -> Bool {
        if i < 64 {
            let bit: UInt64 = 1 << UInt64(i)
            if factKnown & bit != 0 { return factValue & bit != 0 }
            let v = holds(program.factRoots[i])
            factKnown |= bit
            if v { factValue |= bit }
            return v
        }
        return holds(program.factRoots[i])
    }

    /// Evaluates every fact (for snapshots).
    public mutating func facts() -> [(String, Bool)] {
        program.policy.facts.indices.map { (program.policy.facts[$0].name, fact($0)) }
    }
}
