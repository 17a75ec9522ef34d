import Evaluator
import Rules

/// Stripe's webhooks applied to the account store (SPEC §6.6): each event is a §6.3 event with `source: stripe`,
/// applied under its account's lock in one transaction together with the record of its outcome, so two replicas
/// given the same event apply it once and an acknowledged event is committed.
extension AccountStore {
    /// Applies `event` and records its outcome, in the transaction of the batch it joins (SPEC §6.6: 2xx only
    /// after the commit).
    func applyStripe(_ event: StripeEvent, program: Program, now: Timestamp) throws(StoreError) -> BillingOutcome {
        let outcome = try billing.apply(BillingBatcher.Job(event, program, now))
        if let id = outcome.account {
            if outcome.applied { noteCommit([id]) }
            cache?.invalidate(id)
        }
        return outcome
    }

    /// The advisory lock key of a Stripe customer: taken before its link is read (by an event without an account id
    /// of its own) or written (by a checkout), so an event that finds no link and the checkout that creates it
    /// never miss each other.
    static func customerLockKey(_ customer: String) -> String { "stripe-customer\t" + customer }

    /// `entitlements billing replay`: each event applied as the webhook applies it, in the order given; with
    /// `commit: false` all of them in one transaction that is rolled back (so later events see what earlier ones
    /// would have done, and nothing is stored).
    func replayStripe(_ events: [StripeEvent], program: Program, now: Timestamp, commit: Bool) throws(StoreError)
        -> [BillingOutcome]
    {
        if commit {
            var outcomes: [BillingOutcome] = []
            for e in events { outcomes.append(try applyStripe(e, program: program, now: now)) }
            return outcomes
        }
        return try pool.withConnection(locking: true) { (db) throws(StoreError) in
            try db.transaction(commit: false) { (db) throws(StoreError) in
                var outcomes: [BillingOutcome] = []
                for e in events { outcomes.append(try Self.process(db, e, program, now)) }
                return outcomes
            }
        }
    }

    /// One event, inside the caller's transaction: its account found (from the event, else through its linked
    /// customer) and locked, the event applied, its outcome recorded, the change announced.
    /// (`locked`: lock keys the caller already holds in this transaction.)
    static func process(
        _ db: DatabaseConnection, _ event: StripeEvent, _ program: Program, _ now: Timestamp, locked: Set<String> = []
    ) throws(StoreError) -> BillingOutcome {
        let mapping = program.policy.stripe ?? StripeMapping(location: nil)
        guard StripeEvent.handled.contains(event.type) else {
            let outcome = BillingOutcome(applied: false, reason: "ignored_type")
            try record(db, event, outcome, now: now)
            return outcome
        }
        let customer = event.customer
        var found = event.accountID(mapping.accountID)
        if let customer, found == nil || event.isCheckout, !locked.contains(customerLockKey(customer)) {
            try db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [customerLockKey(customer)])
        }
        if found == nil, let customer {
            found =
                try db.execute("SELECT account_id FROM ent_stripe_customers WHERE customer_id = $1", [customer])
                .first?[0] ?? nil
        }
        guard let account = found else {
            // Kept, so the checkout that links its customer applies it then.
            let outcome = BillingOutcome(applied: false, reason: "no_account_id")
            try record(db, event, outcome, now: now, keep: event.isSubscriptionEvent || event.isInvoiceEvent)
            return outcome
        }
        if !locked.contains(account) {
            try db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [account])
        }
        var changed = false
        var after: JSONValue?
        if event.isCheckout, let customer {
            try db.execute(
                """
                INSERT INTO ent_stripe_customers (customer_id, account_id, linked_at) VALUES ($1, $2, $3)
                ON CONFLICT (customer_id) DO UPDATE SET account_id = $2, linked_at = $3
                """, [customer, account, now.rfc3339])
            // The customer's events that arrived before the link, oldest first, through the same rules.
            let waiting = try db.execute(
                """
                SELECT created_s, seq, payload FROM ent_billing_events
                WHERE customer_id = $1 AND payload IS NOT NULL ORDER BY created_s, seq FOR UPDATE
                """, [customer]
            ).values
            try db.execute(
                "UPDATE ent_billing_events SET payload = NULL WHERE customer_id = $1 AND payload IS NOT NULL",
                [customer])
            for row in waiting {
                let earlier: StripeEvent
                do {
                    earlier = try StripeEvent(try JSONParser.parse(row[2] ?? ""))
                } catch {
                    Log.line(
                        "warn", "billing_event_unreadable",
                        [("customer", .string(customer)), ("detail", .string("\(error)"))])
                    continue
                }
                let o = try applyStripe(db, account, earlier, mapping, program, now)
                try record(db, earlier, o, now: now)
                if o.applied {
                    changed = true
                    after = o.new
                }
            }
        }
        var outcome = try applyStripe(db, account, event, mapping, program, now)
        try record(db, event, outcome, now: now, notify: outcome.applied || changed)
        if outcome.new == nil { outcome.new = after }
        return outcome
    }

    /// Records the outcome, after the write it still has to make (one round trip for both); with `notify`,
    /// announces the account's change in the same statement.
    static func record(
        _ db: DatabaseConnection, _ event: StripeEvent, _ outcome: BillingOutcome, now: Timestamp, keep: Bool = false,
        notify: Bool = false
    ) throws(StoreError) {
        let announce = notify && outcome.account != nil ? notifyParameters(outcome.account!) : [nil, nil]
        let statement: (sql: String, parameters: [String?]) = (
            """
            WITH recorded AS (
              INSERT INTO ent_billing_events
                (provider, event_id, type, account_id, customer_id, outcome, created_s, received_at, payload)
              VALUES ('stripe', $1, $2, $3, $4, $5, $6, $7, $8) RETURNING 1)
            SELECT pg_notify($9, $10) WHERE $9::text IS NOT NULL
            """,
            [
                event.id, event.type, outcome.account, event.customer, outcome.reason, String(event.created.seconds),
                now.rfc3339, keep ? text(event.raw) : nil,
            ] + announce
        )
        if let pending = outcome.pending {
            _ = try db.pipeline([pending, statement])
        } else {
            try db.execute(statement.sql, statement.parameters)
        }
    }

    /// One event on one account, under its lock: duplicate and stale first (SPEC §9), then the state the event
    /// carries, then plan assignability; applied as a §6.3 event with source `stripe`.
    static func applyStripe(
        _ db: DatabaseConnection, _ id: String, _ event: StripeEvent, _ mapping: StripeMapping, _ program: Program,
        _ now: Timestamp
    ) throws(StoreError) -> BillingOutcome {
        // One read: the account (its overrides are not needed here), whether the event was applied, the last time.
        let row = try db.execute(
            """
            SELECT a.account_id IS NOT NULL, a.subscription, a.attributes, a.last_event_s, a.last_event_n,
              EXISTS (SELECT 1 FROM ent_events WHERE account_id = $1 AND event_id = $2)
            FROM (SELECT 1) one LEFT JOIN ent_accounts a ON a.account_id = $1
            """, [id, event.id]
        ).first
        let current =
            row?[0] == "t"
            ? StoredAccount(
                id: id, subscription: withEndedAt(json(row?[1] ?? nil) ?? .null),
                attributes: json(row?[2] ?? nil) ?? .object([]), overrides: []) : nil
        let stamp = (id: event.id, time: event.created)
        // Duplicates first, then staleness (SPEC §9).
        if row?[5] == "t" { return BillingOutcome(applied: false, account: id, reason: "duplicate") }
        if let s = row?[3].flatMap({ Int64($0) }), let n = row?[4].flatMap({ Int32($0) }),
            stamp.time < Timestamp(seconds: s, nanos: n)
        {
            return BillingOutcome(applied: false, account: id, reason: "stale")
        }
        var change = AccountChange(source: .stripe, actor: "stripe")
        change.event = stamp
        var subscription: JSONValue?
        if event.isInvoiceEvent {
            // An invoice changes when payments started failing, on the subscription the account has.
            guard case .object(var members)? = current?.subscription else {
                return BillingOutcome(applied: false, account: id, reason: "ignored_type")
            }
            let failing = event.type == "invoice.payment_failed"
            let since = members.firstIndex { $0.0 == "past_due_since" }
            let value: JSONValue =
                failing
                ? (since.map { members[$0].1 }.flatMap { $0 == .null ? nil : $0 } ?? .string(event.created.rfc3339))
                : .null
            if let since { members[since].1 = value } else { members.append(("past_due_since", value)) }
            subscription = .object(members)
            change.plan = current?.subscription["plan"].flatMap(StripeEvent.string)
        } else if event.isSubscriptionEvent || (event.isCheckout && event.object["subscription"]?["object"] != nil) {
            let object = event.isCheckout ? event.object["subscription"]! : event.object
            switch StripeState.of(object, mapping, program, stored: current?.subscription, at: event.created) {
            case .unmappedPrice: return BillingOutcome(applied: false, account: id, reason: "unmapped_price")
            case .subscription(let s, let plan):
                subscription = s
                change.plan = plan
            }
        }
        if event.isCheckout && subscription == nil {
            // A checkout without its subscription expanded links the customer (done by the caller) and creates the
            // account if needed; it carries no state, so it does not make later subscription events stale.
            let next =
                current == nil
                ? try apply(db, id, nil, change.withoutEvent, program: program, now: now, complete: false) : current!
            try db.execute(
                "INSERT INTO ent_events (account_id, event_id, seen_s) VALUES ($1, $2, $3)",
                [id, event.id, String(now.seconds)])
            return BillingOutcome(
                applied: true, account: id, reason: "applied", old: current?.state ?? .null, new: next.state)
        }
        change.subscription = subscription
        if subscription != nil, planRefusal(current, change.plan, .stripe, program) != nil {
            return BillingOutcome(applied: false, account: id, reason: "plan_not_assignable")
        }
        let next = try apply(db, id, current, change, program: program, now: now, complete: false)
        return BillingOutcome(
            applied: true, account: id, reason: "applied", old: current?.state ?? .null, new: next.state)
    }

    /// Recorded deliveries, newest first, strictly before `before` (a sequence number), optionally of one outcome;
    /// whether more follow.
    func billingEvents(outcome: String?, before: Int64?, limit: Int) throws(StoreError) -> ([JSONValue], Bool) {
        try pool.withConnection { (db) throws(StoreError) in
            let rows = try db.execute(
                """
                SELECT seq, event_id, type, account_id, customer_id, outcome, created_s, received_at
                FROM ent_billing_events
                WHERE ($1::text IS NULL OR outcome = $1) AND ($2::bigint IS NULL OR seq < $2::bigint)
                ORDER BY seq DESC LIMIT $3
                """, [outcome, before.map { String($0) }, String(limit + 1)]
            ).values
            let page = rows.prefix(limit).map { r -> JSONValue in
                let created = Timestamp(seconds: Int64(r[6] ?? "0") ?? 0, nanos: 0)
                return .object([
                    ("seq", .int(Int64(r[0] ?? "0") ?? 0)), ("provider", .string("stripe")),
                    ("event_id", .string(r[1] ?? "")), ("type", .string(r[2] ?? "")),
                    ("account", r[3].map { .string($0) } ?? .null), ("customer", r[4].map { .string($0) } ?? .null),
                    ("outcome", .string(r[5] ?? "")), ("created", .string(created.rfc3339)),
                    ("received_at", .string(r[7] ?? "")),
                ])
            }
            return (Array(page), rows.count > limit)
        }
    }
}
