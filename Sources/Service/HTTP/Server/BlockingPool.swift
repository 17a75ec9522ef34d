import Foundation

/// Threads that run the requests which wait on the database, so the socket layer's workers never do: a worker
/// defers such a request (its connection is suspended, the worker goes on serving cached decisions) and a thread
/// of this pool answers it. Bounded: past `maxQueued` waiting jobs, new ones are refused (the caller answers 503).
final class BlockingPool: @unchecked Sendable {
    // @unchecked: `jobs` and `stopping` are guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var stopping = false
    let maxQueued: Int

    init(threads: Int, maxQueued: Int = 10_000) {
        self.maxQueued = maxQueued
        for i in 0..<max(1, threads) {
            let t = Thread { [self] in run() }
            t.name = "blocking-\(i)"
            t.start()
        }
    }

    /// Queues a job; false when the queue is full.
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, jobs.count - head < maxQueued else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Lets the threads finish the queued jobs and end.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            if head == jobs.count {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
