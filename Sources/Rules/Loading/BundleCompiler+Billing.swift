extension BundleCompiler {
    /// `billing.stripe` (SPEC §6.6), merged across files: one `account_id`, each price mapped once, each Stripe
    /// status mapped once; every plan and status named must exist.
    mutating func compileBilling() {
        var mapping: StripeMapping?
        var accountIDAt: SourceLocation?
        var priceAt: [String: SourceLocation] = [:]
        var statusAt: [String: SourceLocation] = [:]
        let bundleStatuses = policy.subscription.statuses.map(\.name)
        for node in billingNodes {
            guard let b = fields(node, "billing", allowed: PolicyShape.billing.names),
                let s = b["stripe"], s.value.resolved != .null,
                let f = fields(s.value, "billing.stripe", allowed: PolicyShape.stripe.names)
            else { continue }
            var m = mapping ?? StripeMapping(location: s.key.start)
            if let a = f["account_id"], let text = string(a.value, "billing.stripe.account_id") {
                let allowed = StripeMapping.AccountID.allCases.map(\.rawValue)
                if let first = accountIDAt {
                    diags.error(
                        .duplicate_definition,
                        "billing.stripe.account_id is defined twice (first at \(first))", at: a.key.start,
                        related: [first])
                } else if let source = StripeMapping.AccountID(rawValue: text) {
                    m.accountID = source
                    accountIDAt = a.key.start
                } else {
                    diags.error(
                        .invalid_value,
                        "billing.stripe.account_id must be one of \(allowed.joined(separator: ", ")), got '\(text)'"
                            + Suggest.hint(text, allowed), at: a.value.start)
                }
            }
            if let p = f["prices"], p.value.resolved != .null {
                if case .mapping(let pairs) = p.value.kind {
                    for (k, v) in pairs {
                        guard let price = string(k, "billing.stripe.prices key") else { continue }
                        let path = "billing.stripe.prices.\(price)"
                        if let first = priceAt[price] {
                            diags.error(
                                .duplicate_definition,
                                "\(path): price '\(price)' is mapped twice (first at \(first)); a price puts an "
                                    + "account on one plan", at: k.start, related: [first])
                            continue
                        }
                        priceAt[price] = k.start
                        guard let plan = planKey(v, path) else { continue }
                        m.prices.append((price, plan))
                        m.planOfPrice[price] = plan
                    }
                } else {
                    diags.error(
                        .invalid_type,
                        "billing.stripe.prices must be a mapping of Stripe price id or lookup_key to plan key, got "
                            + describe(p.value), at: p.value.start)
                }
            }
            if let st = f["statuses"], st.value.resolved != .null {
                if case .mapping(let pairs) = st.value.kind {
                    for (k, v) in pairs {
                        guard let from = string(k, "billing.stripe.statuses key") else { continue }
                        let path = "billing.stripe.statuses.\(from)"
                        if let first = statusAt[from] {
                            diags.error(
                                .duplicate_definition, "\(path) is defined twice (first at \(first))", at: k.start,
                                related: [first])
                            continue
                        }
                        statusAt[from] = k.start
                        if !StripeMapping.stripeStatuses.contains(from) {
                            diags.error(
                                .invalid_value,
                                "\(path): '\(from)' is not a Stripe subscription status"
                                    + Suggest.hint(from, StripeMapping.stripeStatuses) + "; Stripe's are "
                                    + StripeMapping.stripeStatuses.joined(separator: ", "), at: k.start)
                            continue
                        }
                        guard let to = string(v, path) else { continue }
                        guard bundleStatuses.contains(to) else {
                            diags.error(
                                .invalid_value,
                                "\(path): unknown status '\(to)'" + Suggest.hint(to, bundleStatuses)
                                    + "; the bundle's statuses are " + bundleStatuses.joined(separator: ", "),
                                at: v.start)
                            continue
                        }
                        if to != from { m.statuses[from] = to }
                    }
                } else {
                    diags.error(
                        .invalid_type,
                        "billing.stripe.statuses must be a mapping of Stripe status to bundle status, got "
                            + describe(st.value), at: st.value.start)
                }
            }
            mapping = m
        }
        policy.stripe = mapping
    }
}
