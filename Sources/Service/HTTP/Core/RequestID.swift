import Synchronization

/// Request ids: each response carries one in `X-Request-Id`, and so does the request's log line, so a caller's
/// report and the service's log meet. A caller that sends its own id (a proxy's or a tracing system's) gets it back.
enum RequestID {
    /// The caller's id when it is usable: 1 to 128 visible ASCII characters (anything else could forge or break a
    /// log line, and is replaced by a fresh id).
    static func accepted(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= 128,
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        return value
    }

    /// Fresh ids: a random prefix per process (so replicas and restarts do not repeat each other) and a counter,
    /// as 24 hex digits; one atomic add per request, no locking.
    final class Generator: Sendable {
        private let prefix: String
        private let counter = Atomic<UInt64>(0)

        init() {
            let p = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            prefix = String(repeating: "0", count: 16 - p.count) + p
        }

        func next() -> String {
            let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
            let hex = String(n, radix: 16)
            return prefix + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
        }
    }
}
