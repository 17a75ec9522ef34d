/// When a failed delivery is tried again (SPEC §6.7): after `base`, doubling up to `cap`, each delay scaled by a
/// random factor in [0.75, 1.25) (jitter, so receivers coming back are not hit by every replica at once), until
/// `window` has passed since the first attempt was due; one last attempt at the window's end, then `failed`.
/// The defaults (1 s doubling to 1 h, 24 h, 10 s per attempt) try 35-odd times. `ENTITLEMENTS_WEBHOOK_RETRY`
/// (`BASE,CAP,WINDOW[,TIMEOUT]`, durations with `ms`, `s`, `m`, `h`) changes them, for tests that cannot wait a day.
struct RetryPolicy: Sendable {
    var baseMilliseconds: Int64 = 1_000
    var capMilliseconds: Int64 = 3_600_000
    var windowMilliseconds: Int64 = 86_400_000
    /// Seconds one attempt may take (connect, send, answer).
    var timeoutSeconds: Double = 10

    struct Invalid: Error, CustomStringConvertible { var description: String }

    /// Parses `BASE,CAP,WINDOW[,TIMEOUT]`.
    static func parse(_ text: String) throws(Invalid) -> RetryPolicy {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let ms = parts.map(milliseconds)
        guard (3...4).contains(parts.count), ms.allSatisfy({ ($0 ?? 0) > 0 }), ms[0]! <= ms[1]! else {
            throw Invalid(
                description:
                    "ENTITLEMENTS_WEBHOOK_RETRY takes BASE,CAP,WINDOW[,TIMEOUT] (durations like 500ms, 5s, 1h; BASE ≤ CAP), got '\(text)'"
            )
        }
        var p = RetryPolicy(baseMilliseconds: ms[0]!, capMilliseconds: ms[1]!, windowMilliseconds: ms[2]!)
        if parts.count == 4 { p.timeoutSeconds = Double(ms[3]!) / 1000 }
        return p
    }

    static func milliseconds(_ s: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (unit, factor) in units where s.hasSuffix(unit) {
            guard let n = Int64(s.dropLast(unit.count)), n >= 0, n <= Int64.max / factor else { return nil }
            return n * factor
        }
        return nil
    }

    /// After failed attempt number `attempts` (1-based) at `now`, for a delivery whose window opened at
    /// `windowStart`: the time of the next attempt, or nil when the delivery has failed for good.
    func next(attempts: Int, now: Int64, windowStart: Int64) -> Int64? {
        let end = windowStart + windowMilliseconds
        guard now < end else { return nil }
        let doubling = baseMilliseconds << Int64(min(max(0, attempts - 1), 20))
        let delay = Double(min(capMilliseconds, max(baseMilliseconds, doubling))) * Double.random(in: 0.75..<1.25)
        return min(end, now + Int64(delay))
    }
}
