/// Serializes JSON compactly and deterministically (members in order, UTF-8 as is, minimal escapes).
///
/// The writer owns a byte buffer and appends with a bounds check and a copy — no `Array` growth or uniqueness check
/// per append. A response on the hot path is written into stack scratch (`withScratch`) and becomes one `[UInt8]`
/// at the end (the request's one allocation); past the scratch the writer moves to the heap. Not copyable: one
/// writer, one buffer.
public struct JSONWriter: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written so far.
    public private(set) var count = 0
    /// Whether `base` was allocated here (and is freed here).
    private var onHeap: Bool

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        onHeap = true
    }

    /// A writer over caller-owned scratch (which must outlive the writer).
    init(scratch: UnsafeMutableBufferPointer<UInt8>) {
        base = scratch.baseAddress!
        capacity = scratch.count
        onHeap = false
    }

    deinit { if onHeap { base.deallocate() } }

    /// Runs `body` with a writer over `size` bytes of stack scratch.
    static func withScratch<R>(_ size: Int, _ body: (inout JSONWriter) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { buf in
            var w = JSONWriter(scratch: buf)
            return body(&w)
        }
    }

    /// What was written.
    public var bytes: [UInt8] {
        // `reserveCapacity` + `append` are specialized here; `init(unsafeUninitializedCapacity:)` goes through the
        // runtime's generic array allocation (several hundred instructions more per response).
        var out: [UInt8] = []
        out.reserveCapacity(count)
        out.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
        return out
    }

    private mutating func grow(_ n: Int) {
        var c = capacity * 2
        while c < count + n { c *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        nb.update(from: base, count: count)
        if onHeap { base.deallocate() }
        base = nb
        capacity = c
        onHeap = true
    }

    @inline(__always) public mutating func append(_ c: UInt8) {
        if count == capacity { grow(1) }
        base[count] = c
        count += 1
    }

    @inline(__always) public mutating func append(_ p: UnsafeBufferPointer<UInt8>) {
        let n = p.count
        if capacity - count < n { grow(n) }
        if n > 0 { (base + count).update(from: p.baseAddress!, count: n) }
        count += n
    }

    @inline(__always) public mutating func append(_ p: UnsafeRawBufferPointer) {
        append(p.bindMemory(to: UInt8.self))
    }

    @inline(__always) public mutating func append(_ a: [UInt8]) { a.withUnsafeBufferPointer { append($0) } }

    public static func serialize(_ v: JSONValue) -> [UInt8] {
        var w = JSONWriter()
        w.write(v)
        return w.bytes
    }

    public static func string(_ v: JSONValue) -> String { String(decoding: serialize(v), as: UTF8.self) }

    public mutating func write(_ v: JSONValue) {
        switch v {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .int(let i): int(i)
        case .number(let s):
            var s = s
            s.withUTF8 { append($0) }
        case .string(let s): string(s)
        case .array(let items):
            append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { append(UInt8(ascii: ",")) }
                write(item)
            }
            append(UInt8(ascii: "]"))
        case .object(let members):
            append(UInt8(ascii: "{"))
            for (k, m) in members.enumerated() {
                if k > 0 { append(UInt8(ascii: ",")) }
                string(m.0)
                append(UInt8(ascii: ":"))
                write(m.1)
            }
            append(UInt8(ascii: "}"))
        }
    }

    @inline(__always) public mutating func raw(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func int(_ v: Int64) {
        if v == 0 {
            append(48)
            return
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var m = v.magnitude
        withUnsafeMutableBytes(of: &digits) { d in
            while m > 0 {
                d[n] = UInt8(m % 10) + 48
                m /= 10
                n += 1
            }
            if v < 0 { append(UInt8(ascii: "-")) }
            while n > 0 {
                n -= 1
                append(d[n])
            }
        }
    }

    public mutating func string(_ s: String) {
        append(UInt8(ascii: "\""))
        stringBody(s)
        append(UInt8(ascii: "\""))
    }

    /// The escaped contents of a JSON string, without the quotes.
    public mutating func stringBody(_ s: String) {
        var s = s
        s.withUTF8 { u in
            // Copy runs that need no escaping in bulk.
            var run = 0
            for i in 0..<u.count {
                let c = u[i]
                guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
                if run < i { append(UnsafeBufferPointer(rebasing: u[run..<i])) }
                escape(c)
                run = i + 1
            }
            if run < u.count { append(UnsafeBufferPointer(rebasing: u[run..<u.count])) }
        }
    }

    mutating func escape(_ c: UInt8) {
        switch c {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case 0x0A: raw("\\n")
        case 0x0D: raw("\\r")
        case 0x09: raw("\\t")
        case 0x08: raw("\\b")
        case 0x0C: raw("\\f")
        default:
            raw("\\u00")
            let hex: StaticString = "0123456789abcdef"
            append(hex.utf8Start[Int(c >> 4)])
            append(hex.utf8Start[Int(c & 15)])
        }
    }
}

extension JSONWriter {
    /// A timestamp as a JSON string in the SPEC's UTC form, without building an intermediate `String`.
    public mutating func timestamp(_ t: Timestamp) {
        let days = t.seconds >= 0 ? t.seconds / 86_400 : (t.seconds - 86_399) / 86_400
        let secOfDay = t.seconds - days * 86_400
        let (y, m, d) = Timestamp.civil(fromDays: days)
        guard y >= 0 && y <= 9999 else {
            // Outside four-digit years: the general path.
            append(UInt8(ascii: "\""))
            digits(y, 4)
            append(UInt8(ascii: "-"))
            digits(m, 2)
            append(UInt8(ascii: "-"))
            digits(d, 2)
            append(UInt8(ascii: "T"))
            digits(secOfDay / 3600, 2)
            append(UInt8(ascii: ":"))
            digits(secOfDay / 60 % 60, 2)
            append(UInt8(ascii: ":"))
            digits(secOfDay % 60, 2)
            fraction(t.nanos)
            append(UInt8(ascii: "Z"))
            append(UInt8(ascii: "\""))
            return
        }
        // `"YYYY-MM-DDTHH:MM:SS` written in place.
        if capacity - count < 32 { grow(32) }
        let p = base + count
        @inline(__always) func two(_ v: Int64, _ at: Int) {
            let tens = v / 10
            p[at] = UInt8(truncatingIfNeeded: 48 + tens)
            p[at + 1] = UInt8(truncatingIfNeeded: 48 + v - tens * 10)
        }
        p[0] = UInt8(ascii: "\"")
        two(y / 100, 1)
        two(y % 100, 3)
        p[5] = UInt8(ascii: "-")
        two(m, 6)
        p[8] = UInt8(ascii: "-")
        two(d, 9)
        p[11] = UInt8(ascii: "T")
        let hour = secOfDay / 3600
        let rest = secOfDay - hour * 3600
        let minute = rest / 60
        two(hour, 12)
        p[14] = UInt8(ascii: ":")
        two(minute, 15)
        p[17] = UInt8(ascii: ":")
        two(rest - minute * 60, 18)
        count += 20
        fraction(t.nanos)
        append(UInt8(ascii: "Z"))
        append(UInt8(ascii: "\""))
    }

    /// `.` and the nanoseconds without trailing zeros; nothing for a whole second.
    private mutating func fraction(_ nanos: Int32) {
        guard nanos != 0 else { return }
        append(UInt8(ascii: "."))
        var n = Int64(nanos)
        var width = 9
        while n % 10 == 0 {
            n /= 10
            width -= 1
        }
        digits(n, width)
    }

    /// `v` zero-padded to `width` digits (v ≥ 0).
    mutating func digits(_ v: Int64, _ width: Int) {
        var p: Int64 = 1
        for _ in 1..<max(1, width) { p *= 10 }
        var x = v
        if x >= p * 10 {
            int(x)
            return
        }
        while p > 0 {
            append(UInt8(48 + (x / p) % 10))
            x %= p
            p /= 10
        }
    }
}
