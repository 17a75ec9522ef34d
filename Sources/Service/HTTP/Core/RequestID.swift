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
    /// as 24 hex digits written straight into the string's storage; one atomic add per request, no locking.
    final class Generator: Sendable {
        private let prefix: UInt64
        private let counter = Atomic<UInt32>(0)

        init() { prefix = UInt64.random(in: 0...UInt64.max) }

        func next() -> String {
            let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
            return String(unsafeUninitializedCapacity: 24) { out in
                let digits: StaticString = "0123456789abcdef"
                let hex = digits.utf8Start
                for i in 0..<16 { out[i] = hex[Int((prefix >> UInt64(60 - 4 * i)) & 0xF)] }
                for i in 0..<8 { out[16 + i] = hex[Int((n >> UInt32(28 - 4 * i)) & 0xF)] }
                return 24
            }
        }
    }
}
