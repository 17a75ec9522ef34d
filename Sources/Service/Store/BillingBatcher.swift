import Foundation

/// Group commit for Stripe's webhooks (the reason is `UsageBatcher`'s: PostgreSQL serializes the commits of
/// notifying transactions, so one transaction per event would cap the service at one commit at a time). Writer
/// threads take the events waiting at that moment (up to `batchSize`) and apply them in one transaction: first the
/// locks of every account and customer the batch names, in bytewise order (so batches on several replicas never
/// deadlock), then each event exactly as alone (`AccountStore.process`: under its account's lock, seeing the events
/// before it, recording its outcome). Every caller waits for the commit before it answers, so a 2xx still means
/// committed; a failed statement fails the whole batch (503: Stripe retries each event).
final class BillingBatcher: @unchecked Sendable {
    // @unchecked: `queue` is guarded by `condition`; a job's result is written once, before its semaphore signals.
    final class Job: @unchecked Sendable {
        let event: StripeEvent
        let program: Program
        let now: Timestamp
        var result: Result<BillingOutcome, StoreError> = .failure(.unavailable("not run"))
        let done = DispatchSemaphore(value: 0)

        init(_ event: StripeEvent, _ program: Program, _ now: Timestamp) {
            self.event = event
            self.program = program
            self.now = now
        }
    }

    let pool: ConnectionPool
    let batchSize: Int
    private let condition = NSCondition()
    private var queue: [Job] = []

    init(pool: ConnectionPool, writers: Int, batchSize: Int = 64) {
        self.pool = pool
        self.batchSize = batchSize
        for i in 0..<max(1, writers) {
            let t = Thread { [self] in run() }
            t.name = "billing-writer-\(i)"
            t.start()
        }
    }

    /// Applies one event, waiting for the batch it joins to commit.
    func apply(_ job: Job) throws(StoreError) -> BillingOutcome {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
        job.done.wait()
        return try job.result.get()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let batch = Array(queue.prefix(batchSize))
            queue.removeFirst(batch.count)
            condition.unlock()
            do {
                let outcomes = try pool.withConnection(locking: true) { (db) throws(StoreError) in
                    try db.transaction { (db) throws(StoreError) in
                        try Self.lock(batch, db)
                        var outcomes: [BillingOutcome] = []
                        for job in batch {
                            outcomes.append(try AccountStore.process(db, job.event, job.program, job.now))
                        }
                        return outcomes
                    }
                }
                for (job, o) in zip(batch, outcomes) { job.result = .success(o) }
            } catch {
                for job in batch { job.result = .failure(error) }
            }
            for job in batch { job.done.signal() }
        }
    }

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
