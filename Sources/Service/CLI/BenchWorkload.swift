/// The mixed JSON workload `entitlements bench` measures (`JSON mixed workload` row): 10,000 pre-built one-check
/// `/v1/check` bodies with inline accounts — about 60 % boolean, 20 % limit and 20 % route checks, over 32 accounts
/// across the four plans and the subscription statuses, about 15 % of them carrying one or two overrides. Built
/// deterministically, so every run (and every build compared) answers the same bodies.
enum BenchWorkload {
    static let plans = ["free", "starter", "pro", "enterprise"]
    static let statuses = [
        "active", "active", "trialing", "past_due", "complimentary", "canceled", "active", "trialing",
    ]
    static let booleans = ["psa_integration", "sso", "api_access", "audit_log", "custom_branding", "priority_support"]
    static let limits = ["max_trees", "seats", "ai_suggestions"]
    static let routes = [
        "GET /api/v1/trees", "POST /api/v1/trees", "GET /api/v1/billing/state", "GET /api/v1/psa/tickets",
        "GET /api/v1/sessions/s1/steps", "GET /api/v1/users/me", "DELETE /api/v1/tokens/t1",
    ]

    static func accounts() -> [String] {
        var out: [String] = []
        for i in 0..<32 {
            let plan = plans[i % 4]
            let status = statuses[(i / 4) % statuses.count]
            var sub = #""plan":"\#(plan)","status":"\#(status)""#
            if status == "trialing" {
                sub += #","period_start":"2026-05-07T12:00:00Z","period_end":"2026-05-21T12:00:00Z""#
            } else {
                sub += #","period_start":"2026-05-01T00:00:00Z","period_end":"2026-06-01T00:00:00Z""#
            }
            var account = #"{"id":"acc_\#(i)","subscription":{\#(sub)}"#
            if i % 8 == 3 {
                account += #","overrides":[{"feature":"sso","value":true,"expires_at":"2026-12-31T00:00:00Z"}]"#
            } else if i == 21 {
                account +=
                    #","overrides":[{"feature":"max_trees","value":500},{"feature":"api_access","value":true,"reason":"pilot"}]"#
            }
            out.append(account + "}")
        }
        return out
    }

    static let user =
        #""user":{"id":"u1","email":"someone@example.com","email_verified_at":"2026-05-01T00:00:00Z","created_at":"2026-04-01T00:00:00Z"}"#

    /// The 10,000 bodies.
    static func bodies(count: Int = 10_000) -> [[UInt8]] {
        let accounts = accounts()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let account = accounts[next(accounts.count)]
            let kind = next(10)
            let body: String
            if kind < 6 {
                body = #"{"account":\#(account),"checks":[{"feature":"\#(booleans[next(booleans.count)])"}]}"#
            } else if kind < 8 {
                body =
                    #"{"account":\#(account),"checks":[{"feature":"\#(limits[next(limits.count)])","usage":\#(next(40))}]}"#
            } else {
                body = #"{"account":\#(account),\#(user),"checks":[{"route":"\#(routes[next(routes.count)])"}]}"#
            }
            out.append(Array(body.utf8))
        }
        return out
    }
}
