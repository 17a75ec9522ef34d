import Synchronization

/// Counters for `/metrics` (Prometheus text format), updated once per request under one lock.
final class Metrics: Sendable {
    static let buckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1]

    static let statuses = [200, 304, 400, 401, 403, 404, 405, 413, 415, 422, 500, 503]

    /// The `route` label of each route index (`RouteTable.labels`).
    let labels: [String]

    struct State {
        /// `requests[label * (statuses.count + 1) + status index]`; the last status slot is "other".
        var requests: [Int]
        var otherStatuses: [Int: Int] = [:]
        var allowed = 0
        var denied: [String: Int] = [:]
        var latency = [Int](repeating: 0, count: Metrics.buckets.count + 1)
        var latencySum = 0.0
        var latencyCount = 0
        /// Usage consumptions recorded, and those refused by their denial (SPEC §9: answered 200 with `error`).
        var usageConsumed = 0
        var usageRefused: [String: Int] = [:]
    }
    private let state: Mutex<State>
    let storeErrors = Atomic<Int>(0)
    /// Stripe events by outcome (SPEC §6.6), plus `invalid_signature` and `malformed` refusals.
    private let billingOutcomes = Mutex<[String: Int]>([:])
    /// Responses the socket layer could not queue (not counted as answered).
    let unqueuedResponses = Atomic<Int>(0)
    /// What the socket layer refused on its own (deadlines, evictions, body memory); set once the server runs.
    let edge = Mutex<(@Sendable () -> EdgeStats)?>(nil)
    /// The account store's state, when the service has one.
    let store = Mutex<AccountStore?>(nil)
    /// More lines for `/metrics` from parts the HTTP layer does not know (webhook deliveries), set at start.
    let sections = Mutex<[@Sendable () -> String]>([])

    init(labels: [String]) {
        self.labels = labels
        state = Mutex(State(requests: [Int](repeating: 0, count: labels.count * (Metrics.statuses.count + 1))))
    }

    func unqueued() { unqueuedResponses.add(1, ordering: .relaxed) }

    func billing(_ outcome: String) { billingOutcomes.withLock { $0[outcome, default: 0] += 1 } }

    func record(route: Int, status: Int, seconds: Double, decisions: DecisionTally?) {
        var b = 0
        while b < Metrics.buckets.count && seconds > Metrics.buckets[b] { b += 1 }
        let s = Metrics.statuses.firstIndex(of: status) ?? Metrics.statuses.count
        state.withLock { m in
            m.requests[route * (Metrics.statuses.count + 1) + s] += 1
            if s == Metrics.statuses.count { m.otherStatuses[route * 1000 + status, default: 0] += 1 }
            m.latency[b] += 1
            m.latencySum += seconds
            m.latencyCount += 1
            if let decisions {
                m.allowed += decisions.allowed
                for (error, n) in decisions.denied { m.denied[error, default: 0] += n }
            }
        }
    }

    /// One usage consumption: recorded (nil) or refused with its denial.
    func recordUsage(refused error: String?) {
        state.withLock { m in
            if let error { m.usageRefused[error, default: 0] += 1 } else { m.usageConsumed += 1 }
        }
    }

    func render(policy: PolicyHolder) -> String {
        let s = state.withLock { $0 }
        let loaded = policy.loaded
        var o = ""
        o += "# HELP entitlements_http_requests_total HTTP requests by route and status.\n"
        o += "# TYPE entitlements_http_requests_total counter\n"
        for (label, name) in labels.enumerated() {
            for (k, status) in Metrics.statuses.enumerated() {
                let v = s.requests[label * (Metrics.statuses.count + 1) + k]
                if v > 0 { o += "entitlements_http_requests_total{route=\"\(name)\",status=\"\(status)\"} \(v)\n" }
            }
        }
        for (key, v) in s.otherStatuses.sorted(by: { $0.key < $1.key }) {
            o += "entitlements_http_requests_total{route=\"\(labels[key / 1000])\",status=\"\(key % 1000)\"} \(v)\n"
        }
        o += "# HELP entitlements_decisions_total Check results by outcome and error.\n"
        o += "# TYPE entitlements_decisions_total counter\n"
        o += "entitlements_decisions_total{result=\"allowed\",error=\"\"} \(s.allowed)\n"
        for (error, v) in s.denied.sorted(by: { $0.key < $1.key }) {
            o += "entitlements_decisions_total{result=\"denied\",error=\"\(error)\"} \(v)\n"
        }
        o += "# HELP entitlements_usage_consumptions_total Usage consumptions by result (refused: by denial).\n"
        o += "# TYPE entitlements_usage_consumptions_total counter\n"
        o += "entitlements_usage_consumptions_total{result=\"recorded\",error=\"\"} \(s.usageConsumed)\n"
        for (error, v) in s.usageRefused.sorted(by: { $0.key < $1.key }) {
            o += "entitlements_usage_consumptions_total{result=\"refused\",error=\"\(error)\"} \(v)\n"
        }
        o += "# HELP entitlements_request_duration_seconds Time from complete request to response.\n"
        o += "# TYPE entitlements_request_duration_seconds histogram\n"
        var cumulative = 0
        for (i, b) in Metrics.buckets.enumerated() {
            cumulative += s.latency[i]
            o += "entitlements_request_duration_seconds_bucket{le=\"\(b)\"} \(cumulative)\n"
        }
        cumulative += s.latency[Metrics.buckets.count]
        o += "entitlements_request_duration_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        o += "entitlements_request_duration_seconds_sum \(s.latencySum)\n"
        o += "entitlements_request_duration_seconds_count \(s.latencyCount)\n"
        func single(_ name: String, _ type: String, _ help: String, _ sample: String) {
            o += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name)\(sample)\n"
        }
        single(
            "entitlements_policy_info", "gauge", "The serving bundle's digest.",
            "{digest=\"\(loaded.program.digest)\"} 1")
        single(
            "entitlements_policy_loaded_timestamp_seconds", "gauge", "When the serving bundle was loaded.",
            " \(loaded.loadedAt.seconds)")
        single(
            "entitlements_policy_reloads_total", "counter", "Bundles swapped in by reloads.",
            " \(policy.reloads.load(ordering: .relaxed))")
        single(
            "entitlements_policy_reload_failures_total", "counter",
            "Reloads rejected because the bundle did not compile.",
            " \(policy.reloadFailures.load(ordering: .relaxed))")
        let health = store.withLock { $0 }?.health
        single(
            "entitlements_cache_hit_ratio", "gauge", "Account cache hit ratio (0 without a store or cache).",
            " \(health?.hitRatio ?? 0)")
        if let health {
            single(
                "entitlements_store_connected", "gauge", "Whether the last statement reached the database.",
                " \(health.connected ? 1 : 0)")
            single(
                "entitlements_store_listening", "gauge", "Whether the LISTEN connection is up (the cache is trusted).",
                " \(health.listening ? 1 : 0)")
            single(
                "entitlements_cache_accounts", "gauge", "Accounts in this replica's cache.", " \(health.cachedAccounts)"
            )
            single(
                "entitlements_store_notifications_total", "counter", "Account notifications received.",
                " \(health.notifications)")
            single(
                "entitlements_notification_lag_seconds", "gauge",
                "From a write's commit (writer's clock) to this replica dropping the account: the last one.",
                " \(health.lastLagSeconds)")
            single(
                "entitlements_notification_lag_max_seconds", "gauge", "The largest notification lag seen.",
                " \(health.maxLagSeconds)")
        }
        single(
            "entitlements_store_errors_total", "counter", "Account store errors.",
            " \(storeErrors.load(ordering: .relaxed))")
        let billing = billingOutcomes.withLock { $0 }
        o += "# HELP entitlements_billing_events_total Stripe webhook deliveries by outcome.\n"
        o += "# TYPE entitlements_billing_events_total counter\n"
        for outcome in BillingOutcome.reasons + ["invalid_signature", "malformed"] {
            o +=
                "entitlements_billing_events_total{provider=\"stripe\",outcome=\"\(outcome)\"} \(billing[outcome] ?? 0)\n"
        }
        single(
            "entitlements_http_unqueued_responses_total", "counter",
            "Responses the HTTP layer could not queue (the client was gone); not counted as answered.",
            " \(unqueuedResponses.load(ordering: .relaxed))")
        if let stats = edge.withLock({ $0 })?() {
            single(
                "entitlements_http_head_timeouts_total", "counter",
                "Connections closed because a request head did not arrive in time.", " \(stats.headTimeouts)")
            single(
                "entitlements_http_request_timeouts_total", "counter",
                "Requests answered 408 because the whole request did not arrive in time.", " \(stats.requestTimeouts)")
            single(
                "entitlements_http_connections_evicted_total", "counter",
                "Connections waiting for a request head closed to make room for new ones.", " \(stats.evicted)")
            single(
                "entitlements_http_connections_refused_total", "counter",
                "New connections closed at once because no room could be made.", " \(stats.refused)")
            single(
                "entitlements_http_body_bytes", "gauge", "Bytes of request bodies held right now.",
                " \(stats.bodyBytes)")
        }
        for section in sections.withLock({ $0 }) { o += section() }
        return o
    }
}

/// Counters the socket layer keeps of what it refused on its own.
struct EdgeStats: Sendable {
    var headTimeouts = 0
    var requestTimeouts = 0
    var evicted = 0
    var refused = 0
    var bodyBytes = 0
}
