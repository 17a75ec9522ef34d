/// The compiled, immutable form of a policy bundle: names interned to integer ids, each plan's effective
/// grants resolved along `extends` once, route patterns ready to match. Evaluation never re-parses
/// or looks anything up by string except stored status and plan names (resolved once per account).
public final class Program: Sendable {
    public let policy: Policy
    /// Effective value of each feature for each plan: `planValues[plan][feature]`.
    let planValues: [[FeatureValue]]
    /// Which plan granted it (`-1`: the feature default): `planSources[plan][feature]`.
    let planSources: [[Int32]]
    let defaults: [FeatureValue]
    let statusLookup: [String: Int]
    let featureLookup: [String: Int]
    let flagLookup: [String: Int]
    /// Lists as arrays of strings, by list id.
    let lists: [[String]]
    let guards: [CompiledGuard]
    let lockedGrants: Int?
    // Denial ids of the built-in denials, resolved once.
    let denyNoSubscription: Int
    let denyInactive: Int
    let denyFeature: Int
    let denyLimit: Int
    let denyUnauthenticated: Int

    /// Compiles a validated policy. The passes: intern names, resolve grants along `extends`, index statuses.
    public init(_ policy: Policy) {
        self.policy = policy
        defaults = policy.features.map(\.defaultValue)
        var values: [[FeatureValue]] = []
        var sources: [[Int32]] = []
        for p in policy.plans.indices {
            var chain: [Int] = []
            var at: Int? = p
            while let i = at, !chain.contains(i) {
                chain.append(i)
                at = policy.plans[i].parent
            }
            var v = policy.features.map(\.defaultValue)
            var s = [Int32](repeating: -1, count: policy.features.count)
            for planIndex in chain.reversed() {
                for g in policy.plans[planIndex].grants {
                    v[g.feature] = g.value
                    s[g.feature] = Int32(planIndex)
                }
            }
            values.append(v)
            sources.append(s)
        }
        planValues = values
        planSources = sources
        var statuses: [String: Int] = [:]
        for (i, s) in policy.subscription.statuses.enumerated() { statuses[s.name] = i }
        statusLookup = statuses
        featureLookup = Dictionary(policy.features.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        flagLookup = Dictionary(policy.flags.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        lists = policy.lists.map(\.values)
        guards = policy.guards.map(CompiledGuard.init)
        lockedGrants = policy.subscription.lockedGrants
        denyNoSubscription = policy.denialLookup["no_subscription"]!
        denyInactive = policy.denialLookup["subscription_inactive"]!
        denyFeature = policy.denialLookup["feature_not_in_plan"]!
        denyLimit = policy.denialLookup["limit_exceeded"]!
        denyUnauthenticated = policy.denialLookup["unauthenticated"]!
    }

    /// Loads and compiles a bundle directory. Throws `PolicyError` with every diagnostic when it does not compile.
    public static func load(directory: String) throws -> Program {
        let out = try PolicyCompiler.compile(directory: directory)
        guard let p = out.policy else { throw PolicyError(out.diagnostics) }
        return Program(p)
    }

    public var digest: String { policy.digest }
    public func featureID(_ name: String) -> Int? { featureLookup[name] }
    public func flagID(_ name: String) -> Int? { flagLookup[name] }

    /// Resolves an account's stored names once (plan key or alias, status), so checks run on ids.
    public func prepare(_ account: Account) -> PreparedAccount {
        var plan: Int?
        var status = -1
        if let sub = account.subscription {
            if let name = sub.plan { plan = policy.planLookup[name] }
            if let name = sub.status, let s = statusLookup[name] { status = s }
        }
        return PreparedAccount(account: account, plan: plan, status: status)
    }
}

/// An account with its plan and status resolved against one program.
public struct PreparedAccount: Sendable {
    public let account: Account
    /// Plan index, or nil when the stored plan is neither a plan key nor an alias (or null).
    public let plan: Int?
    /// Status index into the subscription config, or -1 for a status not listed.
    public let status: Int

    /// The `unknown_plan` warning: a subscription whose plan is null or unknown.
    public var unknownPlan: Bool { account.subscription != nil && plan == nil }
}
