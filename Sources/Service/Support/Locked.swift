#if canImport(Glibc)
    import Glibc
#endif

/// A value behind a pthread mutex. `Synchronization.Mutex` would do as well, but it waits on futexes that
/// ThreadSanitizer does not see, so every access it guards looks like a race; this lock's happens-before edges are
/// seen, and the account cache's concurrency tests run clean in the ThreadSanitizer build of `scripts/test`.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched between lock and unlock.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
