extension App {
    /// Every endpoint of the service, each declared once (SPEC §6). The order is the order of `/metrics` labels
    /// and of matching (the first pattern that matches wins).
    static let routes: [Route] = [
        Route("/healthz", ["GET"], role: nil, Operations.healthz),
        Route("/readyz", ["GET"], role: nil, waits: true, Operations.readyz),
        Route("/metrics", ["GET"], role: nil, Operations.metrics),
        Route("/v1/check", ["POST"], role: .check, body: .json, reply: Decisions.check),
        Route("/v1/entitlements", ["POST"], role: .check, body: .json, reply: Decisions.entitlements),
        Route("/v1/timeline", ["POST"], role: .check, body: .json, reply: TimelineEndpoint.handle),
        Route("/v1/outline", ["GET"], role: .check, Playground.outline),
        Route("/v1/routes", ["POST"], role: .check, body: .json, Playground.routes),
        Route("/ui", ["GET"], role: nil, PlaygroundPage.handle),
        Route("/v1/catalog", ["GET"], role: .check, Catalog.handle),
        Route("/v1/policy", ["GET"], role: .check, PolicyEndpoints.info),
        Route("/v1/policy/reload", ["POST"], role: .admin, PolicyEndpoints.reload),
        Route("/ofrep/v1/evaluate/flags", ["POST"], role: .check, body: .json, reply: OFREP.bulk),
        Route("/ofrep/v1/configuration", ["GET"], role: .check, OFREP.configuration),
        Route(
            "/ofrep/v1/evaluate/flags/{key...}", ["POST"], role: .check, body: .json,
            label: "/ofrep/v1/evaluate/flags/{key}", precheck: OFREP.knownKey,
            reply: OFREP.single),
        // Account state (SPEC §6.3); each labelled by its own pattern in /metrics.
        Route("/v1/accounts", ["GET"], role: .admin, waits: true, Accounts.list),
        Route(
            "/v1/accounts/{id}", ["GET", "PUT", "DELETE"], role: .admin, body: .json,
            waits: true, Accounts.account),
        Route(
            "/v1/accounts/{id}/entitlements", ["GET"], role: .check, reply: Accounts.entitlements
        ),
        Route(
            "/v1/accounts/{id}/trial", ["POST"], role: .admin, body: .optionalJSON,
            waits: true, Accounts.trial),
        Route("/v1/accounts/{id}/audit", ["GET"], role: .admin, waits: true, Accounts.audit),
        Route(
            "/v1/accounts/{id}/overrides/{feature}", ["PUT", "DELETE"], role: .admin, body: .json,
            waits: true, Accounts.override),
        Route(
            "/v1/accounts/{id}/usage/{feature}", ["GET", "POST"], role: .admin, body: .json,
            waits: true, Accounts.usage),
        Route(
            "/v1/accounts/{id}/grants", ["GET", "POST"], role: .admin, body: .json, label: "/v1/accounts",
            waits: true, Grants.collection),
        Route(
            "/v1/accounts/{id}/grants/{grant}", ["DELETE"], role: .admin, body: .json, label: "/v1/accounts",
            waits: true, Grants.void),
        // Billing in (SPEC §6.6): Stripe authenticates with its signature, not a key.
        Route(
            "/v1/billing/stripe", ["POST"], role: nil, body: .json, precheck: Billing.configured, waits: true,
            Billing.stripe),
        Route("/v1/billing/events", ["GET"], role: .admin, waits: true, Billing.events),
        // Lifecycle webhooks (SPEC §6.7), one metrics label for all of them.
        Route("/v1/webhooks", ["GET"], role: .admin, label: "/v1/webhooks", waits: true, Webhooks.list),
        Route(
            "/v1/webhooks/{name}", ["GET", "PUT", "DELETE"], role: .admin, body: .json, label: "/v1/webhooks",
            waits: true, Webhooks.endpoint),
        Route(
            "/v1/webhooks/{name}/deliveries", ["GET"], role: .admin, label: "/v1/webhooks", waits: true,
            Webhooks.deliveries),
        Route(
            "/v1/webhooks/{name}/deliveries/{id}/retry", ["POST"], role: .admin, body: .optionalJSON,
            label: "/v1/webhooks", waits: true, Webhooks.retry),
    ]
}
