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
    private let condition = NSCondition()
    private var queue: [Slot] = []

    init(
        name: String, workers: Int, batchSize: Int = 64,
        _ work: @escaping @Sendable ([Job]) throws(StoreError) -> [Output]
    ) {
        self.batchSize = batchSize
        self.work = work
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

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let batch = Array(queue.prefix(batchSize))
            queue.removeFirst(batch.count)
            condition.unlock()
            do {
                let answers = try work(batch.map(\.job))
                for (slot, a) in zip(batch, answers) { slot.result = .success(a) }
            } catch {
                for slot in batch { slot.result = .failure(error) }
            }
            for slot in batch { slot.done.signal() }
        }
    }
}
