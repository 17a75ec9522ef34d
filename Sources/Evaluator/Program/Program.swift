import Synchronization

/// Serial numbers of programs: one per `Program` made in this process, never repeated (unlike an object's address,
/// which a later program may reuse once an earlier one is freed).
private let programSerials = Atomic<UInt64>(0)

/// The compiled, immutable form of a policy bundle: names interned to integer ids, each plan's effective
/// grants resolved along `extends` once, route patterns ready to match. Evaluation never re-parses
/// or looks anything up by string except stored status and plan names (resolved once per account).
public final class Program: @unchecked Sendable {
    // @unchecked: `code` is a buffer this class allocates in init, never mutates after, and frees in deinit.
    public let policy: Policy
    /// This program's serial number: unique in the process for its whole life (SPEC §7 "Policy reloads": an account
    /// prepared for one program is never answered by another; `PreparedAccount.programSerial` names its program).
    public let serial: UInt64
    /// Effective value of each feature for each plan: `planValues[plan][feature]`.
    let planValues: [[FeatureValue]]
    /// Which plan granted it (`-1`: the feature default): `planSources[plan][feature]`.
    let planSources: [[Int32]]
    /// The expression root of each plan's limit granted by an expression (`seats: subscription.seats + 5`), or -1:
    /// `planExprs[plan][feature]`, resolved along `extends` like the values.
    let planExprs: [[Int32]]
    /// The text of each expression grant, by the plan that wrote it and the feature (catalog, diff).
    let planExprTexts: [[String?]]
    let defaults: [FeatureValue]
    /// Names interned: features, flags, plans with their aliases, statuses — found from a string or raw request bytes.
    let featureIndex: NameIndex
    let flagIndex: NameIndex
    let planIndex: NameIndex
    let statusIndex: NameIndex
    /// The index of the `trialing` status, or -1 when the bundle does not list it.
    let trialingStatus: Int
    /// Lists as arrays of strings, by list id.
    let lists: [[String]]
    let guards: [CompiledGuard]
    /// All guards' route patterns as one automaton; nil when built without (the reference, guard by guard).
    let routeMatcher: RouteMatcher?
    let lockedGrants: Int?
    // Denial ids of the built-in denials, resolved once.
    let denyNoSubscription: Int
    let denyInactive: Int
    let denyFeature: Int
    let denyLimit: Int
    let denyUnauthenticated: Int
    /// Compiled expression code and its constant pools; `code` points into storage owned by this program.
    let exprs: ExprCode
    @usableFromInline let code: UnsafeBufferPointer<Instr>
    let factRoots: [Int32]
    /// Root of each status's live rule, or -1 when it is a constant (`statusAlways`).
    let statusRoots: [Int32]
    let statusAlways: [Bool]
    /// Root of the `X` of each status whose live rule is `now < X` (or `X > now`), else -1: the instant such an
    /// account stopped being live, its `locked_at` when the subscription has no `ended_at` (SPEC §2.4).
    let statusLockRoots: [Int32]
    let flagRules: [[(root: Int32, readsUser: Bool, value: FlagValue)]]
    let denialBodies: [CompiledTemplate]
    /// Where the policy's comparisons with `now` can change their answer (for timelines).
    let instantRules: [InstantRule]
    /// `{"policy":"<digest>","now":` — the fixed start of every response.
    let responsePrefix: [UInt8]
    /// Per denial: `,"error":"<name>","status":<status>,"body":` — the fixed start of its result members.
    let denialPrefixes: [[UInt8]]
    /// Per guard: `,"guard":"<name>"`.
    let guardMembers: [[UInt8]]

    /// Compiles a validated policy. The passes: intern names, resolve grants along `extends`, index statuses, merge
    /// the route patterns into one automaton.
    public convenience init(_ policy: Policy) { self.init(policy, routeMatcher: true) }

    /// `routeMatcher: false` matches routes guard by guard, pattern by pattern: the reference the tests compare the
    /// automaton with, and the baseline `entitlements bench --scale` reports beside it.
    public init(_ policy: Policy, routeMatcher: Bool) {
        self.policy = policy
        serial = programSerials.add(1, ordering: .relaxed).newValue
        defaults = policy.features.map(\.defaultValue)
        // Each plan's row is its parent's row plus its own grants: parents first, every plan resolved once, so the
        // pass is linear in plans × features however long the `extends` chains (cycles were cut by the compiler).
        var values = [[FeatureValue]?](repeating: nil, count: policy.plans.count)
        var sources = [[Int32]?](repeating: nil, count: policy.plans.count)
        for p in policy.plans.indices where values[p] == nil {
            var pending: [Int] = []
            var at: Int? = p
            while let i = at, values[i] == nil {
                pending.append(i)
                at = policy.plans[i].parent
            }
            for i in pending.reversed() {
                let parent = policy.plans[i].parent
                var v = parent.flatMap { values[$0] } ?? defaults
                var s = parent.flatMap { sources[$0] } ?? [Int32](repeating: -1, count: policy.features.count)
                for g in policy.plans[i].grants {
                    v[g.feature] = g.value
                    s[g.feature] = Int32(i)
                }
                values[i] = v
                sources[i] = s
            }
        }
        planValues = values.map { $0! }
        planSources = sources.map { $0! }
        lists = policy.lists.map(\.values)
        featureIndex = NameIndex(policy.features.enumerated().map { ($1.name, $0) })
        flagIndex = NameIndex(policy.flags.enumerated().map { ($1.name, $0) })
        planIndex = NameIndex(policy.planLookup.map { ($0.key, $0.value) })
        statusIndex = NameIndex(policy.subscription.statuses.enumerated().map { ($1.name, $0) })
        trialingStatus = policy.subscription.statuses.firstIndex { $0.name == "trialing" } ?? -1
        var exprs = ExprCode()
        var grantRoots: [Int: Int32] = [:]  // by (granting plan × features + feature)
        var texts = [[String?]](repeating: [], count: policy.plans.count)
        var exprRows = [[Int32]](repeating: [], count: policy.plans.count)
        let nf = policy.features.count
        for p in policy.plans.indices {
            var row = [Int32](repeating: -1, count: nf)
            var text = [String?](repeating: nil, count: nf)
            for f in 0..<nf {
                let s = planSources[p][f]
                guard s >= 0, let g = policy.plans[Int(s)].grants.last(where: { $0.feature == f }), let e = g.expr
                else { continue }
                let key = Int(s) * nf + f
                if grantRoots[key] == nil { grantRoots[key] = exprs.compile(e) }
                row[f] = grantRoots[key]!
                text[f] = g.exprText
            }
            exprRows[p] = row
            texts[p] = text
        }
        planExprs = exprRows
        planExprTexts = texts
        factRoots = policy.facts.map { exprs.compile($0.expr) }
        var roots: [Int32] = []
        var always: [Bool] = []
        var lockRoots: [Int32] = []
        for s in policy.subscription.statuses {
            switch s.live {
            case .always(let b):
                roots.append(-1)
                always.append(b)
                lockRoots.append(-1)
            case .rule(let e, _):
                roots.append(exprs.compile(e))
                always.append(false)
                lockRoots.append(InstantRuleFinder.liveUntil(e).map { exprs.compile($0) } ?? -1)
            }
        }
        statusRoots = roots
        statusAlways = always
        statusLockRoots = lockRoots
        let matcher = routeMatcher ? RouteMatcher(policy.guards) : nil
        // Without the automaton (asked for, or too large), guards match pattern by pattern.
        guards = policy.guards.map { CompiledGuard($0, &exprs, patterns: matcher == nil) }
        self.routeMatcher = matcher
        flagRules = policy.flags.map { f in f.rules.map { (exprs.compile($0.when), $0.reads.user, $0.value) } }
        denialBodies = policy.denials.map { CompiledTemplate($0.body, &exprs) }
        var finder = InstantRuleFinder()
        finder.find(in: policy, &exprs)
        instantRules = finder.rules
        self.exprs = exprs
        var prefix = JSONWriter()
        prefix.raw("{\"policy\":")
        prefix.string(policy.digest)
        prefix.raw(",\"now\":")
        responsePrefix = prefix.bytes
        denialPrefixes = policy.denials.map { denial in
            var w = JSONWriter()
            w.raw(",\"error\":")
            w.string(denial.name)
            w.raw(",\"status\":")
            w.int(Int64(denial.status))
            w.raw(",\"body\":")
            return w.bytes
        }
        guardMembers = policy.guards.map { g in
            var w = JSONWriter()
            w.raw(",\"guard\":")
            w.string(g.name)
            return w.bytes
        }
        let buffer = UnsafeMutableBufferPointer<Instr>.allocate(capacity: max(1, exprs.instrs.count))
        _ = buffer.initialize(from: exprs.instrs)
        code = UnsafeBufferPointer(buffer)
        lockedGrants = policy.subscription.lockedGrants
        denyNoSubscription = policy.denialLookup["no_subscription"]!
        denyInactive = policy.denialLookup["subscription_inactive"]!
        denyFeature = policy.denialLookup["feature_not_in_plan"]!
        denyLimit = policy.denialLookup["limit_exceeded"]!
        denyUnauthenticated = policy.denialLookup["unauthenticated"]!
    }

    deinit { UnsafeMutableBufferPointer(mutating: code).deallocate() }

    public var digest: String { policy.digest }

    /// A plan's effective value for a feature (defaults, then grants along `extends`) and the plan that granted it.
    public func grant(plan: Int, feature: Int) -> (value: FeatureValue, grantedBy: Int?) {
        let s = planSources[plan][feature]
        return (planValues[plan][feature], s < 0 ? nil : Int(s))
    }

    /// A plan's grant of a feature as the catalog shows it: the value, or an expression grant's text
    /// (`"subscription.seats + 5"`).
    public func grantJSON(plan: Int, feature: Int) -> JSONValue {
        if let text = planExprTexts[plan][feature] { return .string(text) }
        return json(planValues[plan][feature], feature: feature)
    }

    /// JSON of a feature value: boolean; limit as integer or `"unlimited"`; set as a list in vocabulary order.
    public func json(_ v: FeatureValue, feature f: Int) -> JSONValue {
        switch v {
        case .bool(let b): return .bool(b)
        case .limit(let l): return l.map { .int($0) } ?? .string("unlimited")
        case .set(let members): return .array(members.map { .string(policy.features[f].values[$0]) })
        }
    }
    public func featureID(_ name: String) -> Int? { featureIndex.lookup(name) }
    public func flagID(_ name: String) -> Int? { flagIndex.lookup(name) }

    /// Resolves an account's stored names once (plan key or alias, status), so checks run on ids.
    /// `precomputeRollouts` also hashes the account-keyed `rollout` buckets now (for accounts kept in a cache);
    /// otherwise each evaluation hashes them on first use.
    public func prepare(_ account: consuming Account, precomputeRollouts: Bool = false) -> PreparedAccount {
        var plan: Int?
        var status = -1
        // Field by field: binding the whole subscription would copy it.
        if let name = account.subscription?.plan { plan = planIndex.lookup(name) }
        if let name = account.subscription?.status, let s = statusIndex.lookup(name) { status = s }
        // Account-keyed rollout buckets depend on the account alone: hash them once here, not per check.
        var buckets: [Int64] = []
        if precomputeRollouts, let id = account.id, !exprs.accountRolloutSalts.isEmpty {
            buckets = exprs.accountRolloutSalts.map { rolloutBucket(salt: $0, key: id) }
        }
        return PreparedAccount(
            account: account, plan: plan, status: status, rolloutBuckets: buckets, programSerial: serial)
    }

    /// `prepare` for an account whose plan and status the caller already resolved against this program.
    func prepare(_ account: consuming Account, plan: Int?, status: Int) -> PreparedAccount {
        PreparedAccount(account: account, plan: plan, status: status, rolloutBuckets: [], programSerial: serial)
    }
}

/// An account with its plan and status resolved against one program (its plan, status and overrides are that
/// program's indexes: evaluating it with any other program is refused, see `Evaluation.init`).
public struct PreparedAccount: Sendable {
    public let account: Account
    /// The `serial` of the program it was prepared for.
    public let programSerial: UInt64
    /// Plan index, or nil when the stored plan is neither a plan key nor an alias (or null).
    public let plan: Int?
    /// Status index into the subscription config, or -1 for a status not listed.
    public let status: Int
    /// `rollout("salt", account.id)` buckets by slot; empty when the account has no id (the call is null).
    let rolloutBuckets: [Int64]

    /// The `unknown_plan` warning: a subscription whose plan is null or unknown.
    public let unknownPlan: Bool
    /// The `unknown_status` warning: a subscription whose status the bundle does not list (or none).
    public let unknownStatus: Bool

    init(account: Account, plan: Int?, status: Int, rolloutBuckets: [Int64], programSerial: UInt64) {
        self.account = account
        self.programSerial = programSerial
        self.plan = plan
        self.status = status
        self.rolloutBuckets = rolloutBuckets
        // A pattern, not `!= nil`: `SubscriptionState` is Equatable, and `!=` between optionals would copy it.
        let hasSubscription: Bool
        if case .some = account.subscription { hasSubscription = true } else { hasSubscription = false }
        unknownPlan = hasSubscription && plan == nil
        unknownStatus = hasSubscription && status < 0
    }
    /// The result and snapshot warnings, in the order SPEC §9 gives them.
    public var warnings: [String] {
        (unknownPlan ? ["unknown_plan"] : []) + (unknownStatus ? ["unknown_status"] : [])
    }
}
