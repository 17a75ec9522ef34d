import Foundation

/// The queue behind group commit: callers submit a job and wait for its answer; worker threads take the jobs
/// waiting at that moment (up to `batchSize`, in arrival order) and answer them all with one call of `work`, which
/// gives one answer per job, in order, or fails them all.
final class GroupQueue<Job: Sendable, Output: Sendable>: @unchecked Sendable {
    // @unchecked: `queue` is guarded by `condition`; a slot's result is written once, before its semaphore signals.
    private final class Slot: @unchecked Sendable {
        let job: Job
        var result: Result<Output, StoreError> = .failure(.unavailable("not run"))
        let done = DispatchSemaphore(value: 0)
        init(_ job: Job) { self.job = job }
    }

    let batchSize: Int
    private let work: @Sendable ([Job]) throws(StoreError) -> [Output]
    /// When set, jobs of one group (an account) are in at most one batch at a time: while a batch holding the
    /// group runs, the group's newer jobs wait, and the next batch takes them all.
    private let group: (@Sendable (Job) -> ScalarKey)?
    private let condition = NSCondition()
    private var queue: [Slot] = []
    private var busy = Set<ScalarKey>()

    init(
        name: String, workers: Int, batchSize: Int = 64, group: (@Sendable (Job) -> ScalarKey)? = nil,
        _ work: @escaping @Sendable ([Job]) throws(StoreError) -> [Output]
    ) {
        self.batchSize = batchSize
        self.work = work
        self.group = group
        for i in 0..<max(1, workers) {
            let t = Thread { [self] in run() }
            t.name = "\(name)-\(i)"
            t.start()
        }
    }

    /// Runs `job` in the group it joins, waiting for the group's answer.
    func submit(_ job: Job) throws(StoreError) -> Output {
        let slot = Slot(job)
        condition.lock()
        queue.append(slot)
        condition.signal()
        condition.unlock()
        slot.done.wait()
        return try slot.result.get()
    }

    /// The waiting jobs to run now, oldest first (up to `batchSize`), skipping groups in a running batch; their
    /// groups become busy. Called with `condition` locked.
    private func take() -> [Slot] {
        guard let group else {
            let batch = Array(queue.prefix(batchSize))
            queue.removeFirst(batch.count)
            return batch
        }
        var batch: [Slot] = []
        var rest: [Slot] = []
        var taken = Set<ScalarKey>()
        for slot in queue {
            let g = group(slot.job)
            if batch.count < batchSize && !busy.contains(g) {
                batch.append(slot)
                taken.insert(g)
            } else {
                rest.append(slot)
            }
        }
        guard !batch.isEmpty else { return [] }
        queue = rest
        busy.formUnion(taken)
        return batch
    }

    private func run() {
        while true {
            condition.lock()
            var batch = take()
            while batch.isEmpty {
                condition.wait()
                batch = take()
            }
            condition.unlock()
            do {
                let answers = try work(batch.map(\.job))
                for (slot, a) in zip(batch, answers) { slot.result = .success(a) }
            } catch {
                for slot in batch { slot.result = .failure(error) }
            }
            if let group {
                condition.lock()
                for slot in batch { busy.remove(group(slot.job)) }
                // Jobs of those groups may be waiting: any worker may take them now.
                condition.broadcast()
                condition.unlock()
            }
            for slot in batch { slot.done.signal() }
        }
    }
}
