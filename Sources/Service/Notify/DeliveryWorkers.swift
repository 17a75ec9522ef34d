import Foundation
import Synchronization

/// The threads that send webhook deliveries (SPEC §6.7). Each has its own database connection (never the pool's,
/// never an HTTP worker or the BlockingPool), so a slow or dead receiver can hold up only these threads.
///
/// A worker claims one due delivery with `FOR UPDATE SKIP LOCKED` and keeps the row locked while it sends: two
/// workers (of any replica) never send the same row at once, and a replica killed mid-delivery releases its lock
/// with its connection, so another sends it again (at-least-once; the receiver dedupes by `webhook-id`). Only the
/// oldest pending delivery of each (endpoint, account) is ever due (the others wait with no `next_ms` until it is
/// done), which keeps each account's events in order per endpoint: a delivery waiting for its retry holds back the
/// ones after it, and claiming never scans the waiting ones. When a retry succeeds, the endpoint's other waiting
/// retries are made due at once (the receiver is back). The threads run at nice 10, so decisions get most of a
/// busy machine's CPU.
final class DeliveryWorkers: Sendable {
    let conninfo: String
    let outbox: OutboxSignal
    let retry: RetryPolicy
    let stats = DeliveryStats()
    /// How long an idle worker waits before looking for deliveries written by other replicas.
    static let idleSeconds = 0.2

    init(conninfo: String, outbox: OutboxSignal, retry: RetryPolicy) {
        self.conninfo = conninfo
        self.outbox = outbox
        self.retry = retry
    }

    func start(workers: Int) {
        for i in 0..<max(1, workers) {
            let t = Thread { [self] in run() }
            t.name = "webhook-delivery-\(i)"
            t.start()
        }
    }

    private func run() {
        Self.lowerPriority()
        var db: DatabaseConnection?
        while true {
            do {
                if db?.isHealthy != true { db = try DatabaseConnection(conninfo) }
                if try !deliverOne(db!) { outbox.wait(seconds: Self.idleSeconds) }
            } catch {
                db = nil
                stats.storeErrors.add(1, ordering: .relaxed)
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    /// Nice 10 for the calling thread (Linux: a thread is a task, and PRIO_PROCESS with its id sets that thread's
    /// nice value; the id is read from /proc/thread-self, as Swift's Glibc module has no gettid). Deliveries still
    /// progress on a saturated machine, at about a tenth of the CPU share of a normal thread.
    static func lowerPriority() {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard n > 0, let tid = Int32(String(cString: buffer).split(separator: "/").last ?? "") else { return }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), 10)
    }

    /// Claims and sends one due delivery; false when none is due.
    func deliverOne(_ db: DatabaseConnection) throws(StoreError) -> Bool {
        try db.transaction { (db) throws(StoreError) in
            guard
                let row = try db.execute(
                    """
                    SELECT d.id, d.msg_id, d.payload, d.attempts, d.window_ms, d.created_ms, w.url, w.secret,
                      d.endpoint, d.account_id
                    FROM ent_deliveries d JOIN ent_webhooks w ON w.name = d.endpoint
                    WHERE d.status = 'pending' AND d.next_ms <= $1
                    ORDER BY d.next_ms LIMIT 1
                    FOR UPDATE OF d SKIP LOCKED
                    """, [String(Clock.milliseconds())]
                ).first
            else { return false }
            let id = row[0] ?? ""
            let attempts = (Int(row[3] ?? "0") ?? 0) + 1
            let windowStart = Int64(row[4] ?? "0") ?? 0
            let created = Int64(row[5] ?? "0") ?? 0
            let outcome = send(
                url: row[6] ?? "", secret: row[7] ?? "", msg: row[1] ?? "", body: Array((row[2] ?? "").utf8))
            let now = Clock.milliseconds()
            if attempts == 1 { stats.firstAttempt(seconds: Double(now - created) / 1000) }
            let (endpoint, account) = (row[8] ?? "", row[9] ?? "")
            switch outcome {
            case .success(let status):
                try Self.lockAccount(db, account)
                try db.execute(
                    """
                    UPDATE ent_deliveries SET status = 'succeeded', attempts = $2, last_ms = $3, done_ms = $3,
                      last_status = $4, last_error = NULL WHERE id = $1
                    """, [id, String(attempts), String(now), String(status)])
                try Self.promote(db, endpoint, account, now)
                stats.delivered(seconds: Double(now - created) / 1000)
                // A retry went through: the receiver is back, so its other waiting retries go now rather than at
                // their backed-off times.
                if attempts > 1 {
                    try db.execute(
                        """
                        UPDATE ent_deliveries SET next_ms = $2
                        WHERE endpoint = $1 AND status = 'pending' AND attempts > 0 AND next_ms > $2
                        """, [endpoint, String(now)])
                }
            case .failure(let status, let error):
                let next = retry.next(attempts: attempts, now: now, windowStart: windowStart)
                if next == nil { try Self.lockAccount(db, account) }
                try db.execute(
                    """
                    UPDATE ent_deliveries SET status = $2, attempts = $3, last_ms = $4, next_ms = coalesce($5, next_ms),
                      done_ms = CASE WHEN $5::bigint IS NULL THEN $4::bigint END, last_status = $6, last_error = $7
                    WHERE id = $1
                    """,
                    [
                        id, next == nil ? "failed" : "pending", String(attempts), String(now), next.map { String($0) },
                        status.map { String($0) }, String(error.prefix(500)),
                    ])
                if next == nil { try Self.promote(db, endpoint, account, now) }
                stats.failedAttempt(gaveUp: next == nil)
            }
            return true
        }
    }

    /// The account's lock, taken before a chain's head is done: a writer adding to the chain holds it, so the next
    /// delivery is committed (and found by `promote`) or will see the chain empty.
    static func lockAccount(_ db: DatabaseConnection, _ account: String) throws(StoreError) {
        try db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [account])
    }

    /// Makes the next pending delivery of the endpoint and account due now (it was waiting behind the one done).
    static func promote(_ db: DatabaseConnection, _ endpoint: String, _ account: String, _ now: Int64)
        throws(StoreError)
    {
        try db.execute(
            """
            UPDATE ent_deliveries SET next_ms = $3
            WHERE id = (
              SELECT id FROM ent_deliveries
              WHERE endpoint = $1 AND account_id = $2 AND status = 'pending' ORDER BY id LIMIT 1)
              AND next_ms IS NULL
            """, [endpoint, account, String(now)])
    }

    enum Attempt {
        case success(Int)
        case failure(Int?, String)
    }

    /// One attempt: a POST with the Standard Webhooks headers; a 2xx is success.
    func send(url: String, secret: String, msg: String, body: [UInt8]) -> Attempt {
        guard let key = Signature.key(secret) else {
            return .failure(nil, "the endpoint's secret is not whsec_<base64>")
        }
        let timestamp = Clock.now().seconds
        do {
            let client = try HTTPClient(url: url, timeout: retry.timeoutSeconds)
            let (status, _) = try client.post(
                client.path, json: body,
                headers: [
                    ("webhook-id", msg), ("webhook-timestamp", String(timestamp)),
                    ("webhook-signature", Signature.header(key: key, id: msg, timestamp: timestamp, body: body)),
                    ("User-Agent", "entitlements-webhooks"),
                ])
            return (200..<300).contains(status) ? .success(status) : .failure(status, "HTTP \(status)")
        } catch {
            return .failure(nil, error.description)
        }
    }
}

/// What `/metrics` shows of deliveries: attempts by outcome, the time from an event's commit to its first
/// attempt and to its successful delivery (histograms), and the pending and failed counts (refreshed by the
/// scheduler every few seconds).
final class DeliveryStats: Sendable {
    static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600]

    struct Histogram {
        var counts = [Int](repeating: 0, count: DeliveryStats.buckets.count + 1)
        var sum = 0.0
        var count = 0

        mutating func add(_ seconds: Double) {
            var b = 0
            while b < DeliveryStats.buckets.count && seconds > DeliveryStats.buckets[b] { b += 1 }
            counts[b] += 1
            sum += seconds
            count += 1
        }
    }
    struct State {
        var firstAttempt = Histogram()
        var delivered = Histogram()
        var succeeded = 0
        var failedAttempts = 0
        var gaveUp = 0
    }
    let state = Mutex(State())
    let pending = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let storeErrors = Atomic<Int>(0)

    func firstAttempt(seconds: Double) { state.withLock { $0.firstAttempt.add(seconds) } }

    func delivered(seconds: Double) {
        state.withLock {
            $0.delivered.add(seconds)
            $0.succeeded += 1
        }
    }

    func failedAttempt(gaveUp: Bool) {
        state.withLock {
            $0.failedAttempts += 1
            if gaveUp { $0.gaveUp += 1 }
        }
    }

    /// The Prometheus text of these figures.
    func render() -> String {
        let s = state.withLock { $0 }
        var o = ""
        o += "# HELP entitlements_webhook_deliveries_pending Webhook deliveries waiting to be sent (all replicas).\n"
        o += "# TYPE entitlements_webhook_deliveries_pending gauge\n"
        o += "entitlements_webhook_deliveries_pending \(pending.load(ordering: .relaxed))\n"
        o += "# HELP entitlements_webhook_deliveries_failed Webhook deliveries given up after their retry window.\n"
        o += "# TYPE entitlements_webhook_deliveries_failed gauge\n"
        o += "entitlements_webhook_deliveries_failed \(failed.load(ordering: .relaxed))\n"
        o += "# HELP entitlements_webhook_attempts_total Delivery attempts by this replica, by outcome.\n"
        o += "# TYPE entitlements_webhook_attempts_total counter\n"
        o += "entitlements_webhook_attempts_total{outcome=\"succeeded\"} \(s.succeeded)\n"
        o += "entitlements_webhook_attempts_total{outcome=\"failed\"} \(s.failedAttempts)\n"
        o += "entitlements_webhook_attempts_total{outcome=\"gave_up\"} \(s.gaveUp)\n"
        for (name, help, h) in [
            (
                "entitlements_webhook_first_attempt_seconds", "From an event's commit to its first delivery attempt.",
                s.firstAttempt
            ),
            (
                "entitlements_webhook_delivery_seconds", "From an event's commit to its successful delivery.",
                s.delivered
            ),
        ] {
            o += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            var cumulative = 0
            for (i, b) in DeliveryStats.buckets.enumerated() {
                cumulative += h.counts[i]
                o += "\(name)_bucket{le=\"\(b)\"} \(cumulative)\n"
            }
            o += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(h.sum)\n\(name)_count \(h.count)\n"
        }
        return o
    }
}
