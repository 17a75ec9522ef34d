/// Serializes JSON compactly and deterministically (members in order, UTF-8 as is, minimal escapes).
public struct JSONWriter {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

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
        case .number(let s): bytes.append(contentsOf: s.utf8)
        case .string(let s): string(s)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                write(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (k, m) in members.enumerated() {
                if k > 0 { bytes.append(UInt8(ascii: ",")) }
                string(m.0)
                bytes.append(UInt8(ascii: ":"))
                write(m.1)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    @inline(__always) public mutating func raw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func int(_ v: Int64) {
        if v == 0 {
            bytes.append(48)
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
            if v < 0 { bytes.append(UInt8(ascii: "-")) }
            while n > 0 {
                n -= 1
                bytes.append(d[n])
            }
        }
    }

    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        stringBody(s)
        bytes.append(UInt8(ascii: "\""))
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
                if run < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<i])) }
                escape(c)
                run = i + 1
            }
            if run < u.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<u.count])) }
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
            bytes.append(hex.utf8Start[Int(c >> 4)])
            bytes.append(hex.utf8Start[Int(c & 15)])
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
            bytes.append(UInt8(ascii: "\""))
            digits(y, 4)
            bytes.append(UInt8(ascii: "-"))
            digits(m, 2)
            bytes.append(UInt8(ascii: "-"))
            digits(d, 2)
            bytes.append(UInt8(ascii: "T"))
            digits(secOfDay / 3600, 2)
            bytes.append(UInt8(ascii: ":"))
            digits(secOfDay / 60 % 60, 2)
            bytes.append(UInt8(ascii: ":"))
            digits(secOfDay % 60, 2)
            fraction(t.nanos)
            bytes.append(UInt8(ascii: "Z"))
            bytes.append(UInt8(ascii: "\""))
            return
        }
        // `"YYYY-MM-DDTHH:MM:SS` laid out in a stack buffer and appended once.
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &buf) { p in
            @inline(__always) func two(_ v: Int64, _ at: Int) {
                p[at] = UInt8(48 + v / 10)
                p[at + 1] = UInt8(48 + v % 10)
            }
            p[0] = UInt8(ascii: "\"")
            two(y / 100, 1)
            two(y % 100, 3)
            p[5] = UInt8(ascii: "-")
            two(m, 6)
            p[8] = UInt8(ascii: "-")
            two(d, 9)
            p[11] = UInt8(ascii: "T")
            two(secOfDay / 3600, 12)
            p[14] = UInt8(ascii: ":")
            two(secOfDay / 60 % 60, 15)
            p[17] = UInt8(ascii: ":")
            two(secOfDay % 60, 18)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[0..<20]))
        }
        fraction(t.nanos)
        bytes.append(UInt8(ascii: "Z"))
        bytes.append(UInt8(ascii: "\""))
    }

    /// `.` and the nanoseconds without trailing zeros; nothing for a whole second.
    private mutating func fraction(_ nanos: Int32) {
        guard nanos != 0 else { return }
        bytes.append(UInt8(ascii: "."))
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
            bytes.append(UInt8(48 + (x / p) % 10))
            x %= p
            p /= 10
        }
    }
}
