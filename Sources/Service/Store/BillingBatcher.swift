/// Group commit for Stripe's webhooks (the reason is `UsageBatcher`'s: PostgreSQL serializes the commits of
/// notifying transactions, so one transaction per event would cap the service at one commit at a time). The events
/// waiting at a moment (up to 64) are applied in one transaction: first the locks of every account and customer the
/// batch names, in bytewise order (so batches on several replicas never deadlock), then each event exactly as alone
/// (`AccountStore.process`: under its account's lock, seeing the events before it, recording its outcome). Every
/// caller waits for the commit before it answers, so a 2xx still means committed; a failed statement fails the
/// whole batch (503: Stripe retries each event).
final class BillingBatcher: Sendable {
    struct Job: Sendable {
        let event: StripeEvent
        let program: Program
        let now: Timestamp

        init(_ event: StripeEvent, _ program: Program, _ now: Timestamp) {
            self.event = event
            self.program = program
            self.now = now
        }
    }

    private let queue: GroupQueue<Job, BillingOutcome>

    init(pool: ConnectionPool, writers: Int) {
        queue = GroupQueue(name: "billing-writer", workers: writers) { (batch) throws(StoreError) in
            try pool.withConnection(locking: true) { (db) throws(StoreError) in
                try db.transaction { (db) throws(StoreError) in
                    let locked = try Self.lock(batch, db)
                    var outcomes: [BillingOutcome] = []
                    for job in batch {
                        outcomes.append(try AccountStore.process(db, job.event, job.program, job.now, locked: locked))
                    }
                    return outcomes
                }
            }
        }
    }

    /// Applies one event, waiting for the batch it joins to commit.
    func apply(_ job: Job) throws(StoreError) -> BillingOutcome { try queue.submit(job) }

    /// Takes the locks of every account id and customer the batch's events name, in bytewise order, in one round
    /// trip; the keys it holds. (An account found only through its customer is locked when its event runs.)
    static func lock(_ batch: [Job], _ db: DatabaseConnection) throws(StoreError) -> Set<String> {
        var keys = Set<String>()
        for job in batch {
            let mapping = job.program.policy.stripe ?? StripeMapping(location: nil)
            let id = job.event.accountID(mapping.accountID)
            if let id { keys.insert(id) }
            if let c = job.event.customer, id == nil || job.event.isCheckout {
                keys.insert(AccountStore.customerLockKey(c))
            }
        }
        let sorted = keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        if !sorted.isEmpty {
            _ = try db.pipeline(sorted.map { ("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [$0]) })
        }
        return keys
    }
}
