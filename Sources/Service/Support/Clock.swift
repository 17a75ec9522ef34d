#if canImport(Glibc)
    import Glibc
#endif

/// The wall clock as a `Timestamp` (requests without `now`, log lines, load times).
enum Clock {
    static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), nanos: Int32(ts.tv_nsec))
    }

    /// Milliseconds since the epoch on the wall clock (webhook delivery times, shared by every replica).
    static func milliseconds() -> Int64 {
        let t = now()
        return t.seconds * 1000 + Int64(t.nanos / 1_000_000)
    }

    /// Seconds on the monotonic clock, for measuring durations (request latency).
    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
