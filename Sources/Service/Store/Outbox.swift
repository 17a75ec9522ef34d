import Foundation

/// The outbox of lifecycle webhooks (SPEC §6.7): events are rows of `ent_deliveries`, one per subscribed endpoint,
/// written in the transaction of the change that causes them, so an acknowledged write never loses its
/// notification and a rolled-back one never sends one. The delivery workers (`Notify/`) send them.
///
/// `entitlements.changed` compares what an account gets (its timeline state: `Timeline.state`) with the state its
/// last notification described, kept on the account's row (`notified`), and lists only the paths that differ. The
/// same row keeps the instant the state next changes by time alone (`next_change_s/_n`, from the timeline engine),
/// recomputed on every write and reload, so the scheduler finds due accounts by an index.
enum Outbox {
    enum Cause: String { case write, time, reload }

    /// How far ahead the next change is looked for; an account with none in this span is looked at again on its
    /// next write or reload (a span this long has no practical end).
    static let horizonSeconds: Int64 = 5 * 366 * 86_400
    /// At most this many past boundaries are sent for one account at once (a service down for a long time
    /// catches up in steps of this size).
    static let catchUpLimit = 100

    typealias State = [(String, JSONValue)]

    /// What the account's row says was last notified, and when it next changes.
    struct Tracked {
        var notified: State?
        var digest: String?
        var next: Timestamp?
    }

    static func tracked(_ db: DatabaseConnection, _ id: String) throws(StoreError) -> Tracked? {
        guard
            let row = try db.execute(
                "SELECT notified, notified_digest, next_change_s, next_change_n FROM ent_accounts WHERE account_id = $1",
                [id]
            ).first
        else { return nil }
        return tracked(row[0], row[1], row[2], row[3])
    }

    static func tracked(_ notified: String?, _ digest: String?, _ s: String?, _ n: String?) -> Tracked {
        var t = Tracked(notified: nil, digest: digest, next: nil)
        if case .object(let members)? = AccountStore.json(notified) { t.notified = members }
        if let s = s.flatMap({ Int64($0) }), let n = n.flatMap({ Int32($0) }) {
            t.next = Timestamp(seconds: s, nanos: n)
        }
        return t
    }

    /// The state of a stored account (nil: none, as after a deletion) under `program` at `now`.
    static func state(_ program: Program, _ stored: StoredAccount?, _ id: String, at now: Timestamp) -> State {
        Timeline.state(program, account: prepared(program, stored, id), user: nil, at: now)
    }

    static func prepared(_ program: Program, _ stored: StoredAccount?, _ id: String) -> PreparedAccount {
        program.prepare(stored?.account(program) ?? Account(id: id))
    }

    /// The first instant after `after` where the account's state changes by time alone.
    static func nextChange(_ program: Program, _ stored: StoredAccount?, _ id: String, after: Timestamp) -> Timestamp? {
        guard let stored else { return nil }
        let horizon = Timestamp(seconds: after.seconds + horizonSeconds, nanos: 0)
        return Timeline.nextChange(program, account: prepared(program, stored, id), after: after, horizon: horizon)
    }

    /// The `changes` of an `entitlements.changed` event: every path whose value differs, `from` → `to` (a path
    /// present on one side only has null on the other), in the new state's order, then the paths that left.
    static func changes(from old: State, to new: State) -> [JSONValue] {
        Timeline.differences(from: old, to: new).map {
            .object([("path", .string($0.path)), ("from", $0.from), ("to", $0.to)])
        }
    }

    /// The baseline a write compares with: first every time-caused change due by `now` is sent (cause `time`, at
    /// its instant), so a write never swallows a boundary the scheduler had not reached yet. Runs under the
    /// account's lock, before the write changes the account.
    static func begin(
        _ db: DatabaseConnection, _ id: String, _ current: StoredAccount?, program: Program, now: Timestamp
    )
        throws(StoreError) -> State
    {
        guard let current, let tracked = try tracked(db, id) else { return state(program, current, id, at: now) }
        return try catchUp(db, current, tracked, program: program, now: now).state
    }

    /// Sends the time-caused changes due by `now` from `tracked`; the state after them and the next change.
    /// An account never notified before (a row from before notifications existed) starts from its state at `now`
    /// without an event.
    static func catchUp(
        _ db: DatabaseConnection, _ stored: StoredAccount, _ tracked: Tracked, program: Program, now: Timestamp
    ) throws(StoreError) -> (state: State, next: Timestamp?) {
        guard var baseline = tracked.notified else { return (state(program, stored, stored.id, at: now), nil) }
        var next = tracked.next
        var sent = 0
        while let at = next, !(now < at), sent < catchUpLimit {
            let s = state(program, stored, stored.id, at: at)
            try changed(db, stored.id, from: baseline, to: s, cause: .time, at: at, program: program)
            baseline = s
            next = nextChange(program, stored, stored.id, after: at)
            sent += 1
        }
        return (baseline, next)
    }

    /// After a write: the account's new state at `now` against `baseline`; an event when they differ; the row
    /// keeps the new state and its next change (a deleted account has no row left).
    static func finish(
        _ db: DatabaseConnection, _ id: String, _ next: StoredAccount?, baseline: State, program: Program,
        now: Timestamp, cause: Cause = .write
    ) throws(StoreError) {
        let s = state(program, next, id, at: now)
        try changed(db, id, from: baseline, to: s, cause: cause, at: now, program: program)
        guard next != nil else { return }
        try remember(db, id, s, program: program, next: nextChange(program, next, id, after: now))
    }

    /// Stores the notified state, its program's digest and the next change on the account's row.
    static func remember(_ db: DatabaseConnection, _ id: String, _ s: State, program: Program, next: Timestamp?)
        throws(StoreError)
    {
        try db.execute(
            """
            UPDATE ent_accounts SET notified = $2, notified_digest = $3, next_change_s = $4, next_change_n = $5
            WHERE account_id = $1
            """, [id, AccountStore.text(.object(s)), program.digest] + (next?.parameters ?? [nil, nil]))
    }

    /// Writes an `entitlements.changed` event when `from` and `to` differ.
    static func changed(
        _ db: DatabaseConnection, _ id: String, from: State, to: State, cause: Cause, at: Timestamp, program: Program
    ) throws(StoreError) {
        let changes = changes(from: from, to: to)
        guard !changes.isEmpty else { return }
        let msg = messageID()
        let payload = JSONValue.object([
            ("type", .string("entitlements.changed")), ("id", .string(msg)), ("account", .string(id)),
            ("at", .string(at.rfc3339)), ("cause", .string(cause.rawValue)), ("policy", .string(program.digest)),
            ("changes", .array(changes)),
        ])
        try enqueue(db, msg, id, "entitlements.changed", payload)
    }

    /// One delivery row per endpoint subscribed to `type`; none when no endpoint is.
    static func enqueue(_ db: DatabaseConnection, _ msg: String, _ id: String, _ type: String, _ payload: JSONValue)
        throws(StoreError)
    {
        let rows = try db.execute(
            enqueueSQL, [msg, id, type, AccountStore.text(payload), String(Clock.milliseconds())])
        db.outboxRows += rows.affected
    }

    /// The outbox insert, `$1` message id, `$2` account, `$3` type, `$4` payload, `$5` now (ms). A delivery is due
    /// at once when it heads its chain (no earlier pending delivery of the same endpoint and account); otherwise it
    /// waits (`next_ms` null) until the one before it is done (`DeliveryWorkers` promotes it). Writers of an account
    /// hold its lock, so a chain only grows under it.
    static let enqueueSQL = """
        INSERT INTO ent_deliveries (endpoint, msg_id, account_id, type, payload, created_ms, window_ms, next_ms)
        SELECT w.name, $1, $2, $3, $4, $5::bigint, $5::bigint,
          CASE WHEN EXISTS (
            SELECT 1 FROM ent_deliveries p WHERE p.endpoint = w.name AND p.account_id = $2 AND p.status = 'pending')
          THEN NULL ELSE $5::bigint END
        FROM ent_webhooks w WHERE $3 = ANY (w.events)
        """

    /// Whether any endpoint takes `type` (a pass over many accounts skips building events nobody gets).
    static func subscribed(_ db: DatabaseConnection, _ type: String) throws(StoreError) -> Bool {
        !(try db.execute("SELECT 1 FROM ent_webhooks WHERE $1 = ANY (events) LIMIT 1", [type]).isEmpty)
    }

    /// A fresh `webhook-id`: `msg_` and 128 random bits in hex (the same id on every attempt and endpoint).
    static func messageID() -> String {
        var g = SystemRandomNumberGenerator()
        let a = g.next() as UInt64
        let b = g.next() as UInt64
        return "msg_" + hex(a) + hex(b)
    }

    private static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// Wakes this replica's delivery workers after a commit that wrote outbox rows (they also look every
/// `idleSeconds`, for rows written by other replicas).
final class OutboxSignal: @unchecked Sendable {
    // @unchecked: `pending` is guarded by `condition`.
    private let condition = NSCondition()
    private var pending = 0

    func signal() {
        condition.lock()
        pending += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until signalled or `seconds` pass.
    func wait(seconds: Double) {
        condition.lock()
        if pending == 0 { _ = condition.wait(until: Date(timeIntervalSinceNow: seconds)) }
        pending = 0
        condition.unlock()
    }
}
