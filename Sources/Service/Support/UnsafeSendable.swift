/// A value handed between threads by hand-over (never used by two threads at once).
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
