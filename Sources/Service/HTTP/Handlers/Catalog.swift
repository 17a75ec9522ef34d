/// `GET /v1/catalog`: plans with catalog metadata and resolved grants, and features — what a pricing page needs.
enum Catalog {
    static func json(_ program: Program) -> JSONValue {
        let p = program.policy
        let order = p.plans.indices.sorted {
            let (a, b) = (p.plans[$0].sort ?? Int64.max, p.plans[$1].sort ?? Int64.max)
            return a != b ? a < b : $0 < $1
        }
        let plans: [JSONValue] = order.map { i in
            let plan = p.plans[i]
            var m: [(String, JSONValue)] = [("key", .string(plan.name))]
            m.append(("display_name", plan.displayName.map { .string($0) } ?? .null))
            m.append(("description", plan.description.map { .string($0) } ?? .null))
            m.append(("public", plan.isPublic.map { .bool($0) } ?? .null))
            m.append(("sort", plan.sort.map { .int($0) } ?? .null))
            if let price = plan.price {
                m.append(
                    (
                        "price",
                        .object([
                            ("monthly_cents", price.monthlyCents.map { .int($0) } ?? .null),
                            ("annual_cents", price.annualCents.map { .int($0) } ?? .null),
                            ("currency", price.currency.map { .string($0) } ?? .null),
                        ])
                    ))
            } else {
                m.append(("price", .null))
            }
            m.append(("extends", plan.parent.map { .string(p.plans[$0].name) } ?? .null))
            m.append(("aliases", .array(plan.aliases.map { .string($0) })))
            let via =
                plan.assignableVia.map { set in AssignSource.allCases.filter(set.contains) } ?? AssignSource.allCases
            m.append(("assignable_via", .array(via.map { .string($0.rawValue) })))
            // The Stripe prices (ids or lookup keys) that put an account on this plan (SPEC §6.6).
            m.append(
                ("stripe_prices", .array((p.stripe?.prices ?? []).filter { $0.plan == i }.map { .string($0.price) })))
            m.append(
                (
                    "grants",
                    .object(
                        p.features.indices.map { f in
                            (p.features[f].name, program.grantJSON(plan: i, feature: f))
                        })
                ))
            return .object(m)
        }
        let features: [JSONValue] = p.features.enumerated().map { (f, feature) in
            var m: [(String, JSONValue)] = [
                ("key", .string(feature.name)), ("type", .string(feature.kind.rawValue)),
                ("description", feature.description.map { .string($0) } ?? .null),
                ("default", program.json(feature.defaultValue, feature: f)),
            ]
            if feature.kind == .limit { m.append(("period", .string(feature.period.rawValue))) }
            if feature.kind == .set { m.append(("values", .array(feature.values.map { .string($0) }))) }
            return .object(m)
        }
        var billing: [(String, JSONValue)] = []
        if let s = p.stripe {
            billing.append(
                (
                    "stripe",
                    .object([
                        ("account_id", .string(s.accountID.rawValue)),
                        ("prices", .object(s.prices.map { ($0.price, .string(p.plans[$0.plan].name)) })),
                        (
                            "statuses",
                            .object(StripeMapping.stripeStatuses.map { ($0, .string(s.status($0))) })
                        ),
                    ])
                ))
        }
        return .object([
            ("policy", .string(program.digest)), ("plans", .array(plans)), ("features", .array(features)),
            ("billing", .object(billing)),
        ])
    }
}

extension Catalog {
    static func handle(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        .json(200, json(context.program))
    }
}
