/// An instant with nanosecond precision, parsed from RFC 3339 and rendered in UTC.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int64
    /// 0 ..< 1_000_000_000.
    public var nanos: Int32

    public init(seconds: Int64, nanos: Int32 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        a.seconds != b.seconds ? a.seconds < b.seconds : a.nanos < b.nanos
    }

    /// `self + d`, or nil on overflow or outside years 0000–9999.
    public func adding(_ d: PolicyDuration) -> Timestamp? {
        let (s, o) = seconds.addingReportingOverflow(d.seconds)
        guard !o, s >= Timestamp.minSeconds, s <= Timestamp.maxSeconds else { return nil }
        return Timestamp(seconds: s, nanos: nanos)
    }

    public func subtracting(_ d: PolicyDuration) -> Timestamp? {
        guard d.seconds != .min else { return nil }
        return adding(PolicyDuration(seconds: -d.seconds))
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    static let minSeconds: Int64 = -62_167_219_200
    static let maxSeconds: Int64 = 253_402_300_799

    /// The RFC 3339 form in UTC, fraction only when non-zero and without trailing zeros.
    public var description: String { rfc3339 }

    public var rfc3339: String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secOfDay = seconds - days * 86_400
        let (y, m, d) = Timestamp.civil(fromDays: days)
        var out = ""
        out.reserveCapacity(30)
        func pad(_ v: Int64, _ width: Int) {
            let s = String(v)
            if s.count < width { out += String(repeating: "0", count: width - s.count) }
            out += s
        }
        pad(y, 4)
        out += "-"
        pad(m, 2)
        out += "-"
        pad(d, 2)
        out += "T"
        pad(secOfDay / 3600, 2)
        out += ":"
        pad(secOfDay / 60 % 60, 2)
        out += ":"
        pad(secOfDay % 60, 2)
        if nanos != 0 {
            var frac = String(nanos)
            frac = String(repeating: "0", count: 9 - frac.count) + frac
            while frac.hasSuffix("0") { frac.removeLast() }
            out += "." + frac
        }
        out += "Z"
        return out
    }

    /// Parses RFC 3339 with a mandatory offset: `2026-05-10T12:00:00Z`, `…T12:00:00.5+02:00`.
    /// At most nine fraction digits.
    public static func parse(_ text: String) -> Timestamp? {
        var t = text
        return t.withUTF8 { parse(utf8: $0) }
    }

    /// The common form, `YYYY-MM-DDTHH:MM:SSZ` (20 bytes), read at fixed positions: the timestamp, or nil for
    /// anything else (which `parse(utf8:)` then reads in full — an invalid date in this form is nil there too).
    @inlinable
    public static func parseCommonForm(_ u: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        guard u.count == 20, let p = u.baseAddress else { return nil }
        // Three little-endian words: bytes 0–7 `YYYY-MM-`, 8–15 `DDTHH:MM`, 12–19 `HH:MM:SSZ`'s tail.
        let r = UnsafeRawPointer(p)
        let a = UInt64(littleEndian: r.loadUnaligned(as: UInt64.self))
        let b = UInt64(littleEndian: r.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let c = UInt64(littleEndian: r.loadUnaligned(fromByteOffset: 12, as: UInt64.self))
        // The separators: `-` at 4 and 7, `T` at 10, `:` at 13 and 16, `Z` at 19.
        guard a & 0xFF00_00FF_0000_0000 == 0x2D00_002D_0000_0000, b & 0x0000_FF00_00FF_0000 == 0x0000_3A00_0054_0000,
            c & 0xFF00_00FF_0000_0000 == 0x5A00_003A_0000_0000
        else { return nil }
        // The digit bytes minus "0" (by xor: exactly "0"..."9" give 0...9); every other byte gives a lane of 10 or
        // more, which plus 0x76 sets the lane's high bit (or has it set already).
        let da: UInt64 = 0x00FF_FF00_FFFF_FFFF
        let db: UInt64 = 0xFFFF_00FF_FF00_FFFF
        let dc: UInt64 = 0x00FF_FF00_0000_0000
        let x = (a ^ 0x3030_3030_3030_3030) & da
        let y = (b ^ 0x3030_3030_3030_3030) & db
        let z = (c ^ 0x3030_3030_3030_3030) & dc
        let high: UInt64 = 0x8080_8080_8080_8080
        guard (((x &+ 0x7676_7676_7676_7676 & da) | x) & da & high) == 0,
            (((y &+ 0x7676_7676_7676_7676 & db) | y) & db & high) == 0,
            (((z &+ 0x7676_7676_7676_7676 & dc) | z) & dc & high) == 0
        else { return nil }
        @inline(__always) func lane(_ w: UInt64, _ k: UInt64) -> Int64 { Int64((w >> (8 * k)) & 0xFF) }
        let year = lane(x, 0) * 1000 + lane(x, 1) * 100 + lane(x, 2) * 10 + lane(x, 3)
        let mo = lane(x, 5) * 10 + lane(x, 6)
        let d = lane(y, 0) * 10 + lane(y, 1)
        let h = lane(y, 3) * 10 + lane(y, 4)
        let mi = lane(y, 6) * 10 + lane(y, 7)
        let s = lane(z, 5) * 10 + lane(z, 6)
        guard mo >= 1, mo <= 12, d >= 1, d <= daysIn(month: mo, year: year), h <= 23, mi <= 59, s <= 59 else {
            return nil
        }
        return Timestamp(seconds: daysFromCivil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + s, nanos: 0)
    }

    /// `parse` on UTF-8 bytes (request decoders read timestamps straight from the body). Inlinable, so a decoder
    /// reads the common form without a call; every other form takes `parseAnyForm`.
    @inlinable
    public static func parse(utf8 u: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        parseCommonForm(u) ?? parseAnyForm(u)
    }

    /// The full reader of `parse(utf8:)`, for every form it accepts.
    @usableFromInline
    static func parseAnyForm(_ u: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= u.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + n) {
                let c = u[k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < u.count, u[i] == c else { return false }
            i += 1
            return true
        }
        guard let y = digits(4), expect(UInt8(ascii: "-")), let mo = digits(2), expect(UInt8(ascii: "-")),
            let d = digits(2)
        else { return nil }
        guard i < u.count, u[i] == UInt8(ascii: "T") || u[i] == UInt8(ascii: "t") else { return nil }
        i += 1
        guard let h = digits(2), expect(UInt8(ascii: ":")), let mi = digits(2), expect(UInt8(ascii: ":")),
            let s = digits(2)
        else { return nil }
        var nanos: Int64 = 0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            var n = 0
            while i < u.count, u[i] >= 48, u[i] <= 57 {
                n += 1
                guard n <= 9 else { return nil }
                nanos = nanos * 10 + Int64(u[i] - 48)
                i += 1
            }
            guard n > 0 else { return nil }
            for _ in n..<9 { nanos *= 10 }
        }
        guard i < u.count else { return nil }
        var offset: Int64 = 0
        if u[i] == UInt8(ascii: "Z") || u[i] == UInt8(ascii: "z") {
            i += 1
        } else if u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            let sign: Int64 = u[i] == UInt8(ascii: "+") ? 1 : -1
            i += 1
            guard let oh = digits(2), expect(UInt8(ascii: ":")), let om = digits(2), oh <= 23, om <= 59 else {
                return nil
            }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == u.count else { return nil }
        guard mo >= 1, mo <= 12, d >= 1, d <= daysIn(month: mo, year: y), h <= 23, mi <= 59, s <= 59 else {
            return nil
        }
        let days = daysFromCivil(y, mo, d)
        let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset
        return Timestamp(seconds: secs, nanos: Int32(nanos))
    }

    @usableFromInline
    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    @inlinable @inline(__always)
    public static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    @inlinable @inline(__always)
    public static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// Start of the calendar month (UTC) containing this instant, and the start of the next one.
    /// The same day and time one calendar month earlier (the day clamped to that month's length): the start of the
    /// billing period before one that starts here.
    public var oneCalendarMonthEarlier: Timestamp {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = Timestamp.civil(fromDays: days)
        let (py, pm) = m == 1 ? (y - 1, Int64(12)) : (y, m - 1)
        let length = Timestamp.daysFromCivil(y, m, 1) - Timestamp.daysFromCivil(py, pm, 1)
        let day = Swift.min(d, length)
        return Timestamp(seconds: Timestamp.daysFromCivil(py, pm, day) * 86_400 + secondOfDay, nanos: nanos)
    }

    public var calendarMonth: (start: Timestamp, end: Timestamp) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (y, m, _) = Timestamp.civil(fromDays: days)
        let start = Timestamp.daysFromCivil(y, m, 1) * 86_400
        let (ny, nm) = m == 12 ? (y + 1, Int64(1)) : (y, m + 1)
        let end = Timestamp.daysFromCivil(ny, nm, 1) * 86_400
        return (Timestamp(seconds: start), Timestamp(seconds: end))
    }
}

/// A length of time in whole seconds, written `<int><unit>` with unit `s`, `m`, `h`, `d` or `w`.
public struct PolicyDuration: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seconds: Int64
    public init(seconds: Int64) { self.seconds = seconds }
    public static func < (a: PolicyDuration, b: PolicyDuration) -> Bool { a.seconds < b.seconds }
    public static let day = PolicyDuration(seconds: 86_400)

    /// The one-letter unit for a unit word people write (`days` → `d`), for hints.
    public static func unit(forWord word: String) -> String? {
        switch word.lowercased() {
        case "s", "sec", "secs", "second", "seconds": "s"
        case "m", "min", "mins", "minute", "minutes": "m"
        case "h", "hr", "hrs", "hour", "hours": "h"
        case "d", "day", "days": "d"
        case "w", "week", "weeks": "w"
        default: nil
        }
    }

    /// `14d` for `14 days`, `24h` for `24 hours`: what was probably meant, or nil.
    public static func suggestion(for text: String) -> String? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            let unit = unit(forWord: String(parts[1]))
        else { return nil }
        return "\(parts[0])\(unit)"
    }

    /// Parses `14d`, `24h`, `90s`… (a day is exactly 86,400 s). Nil when malformed or out of range.
    public static func parse(_ text: String) -> PolicyDuration? {
        guard let unit = text.last, text.count >= 2 else { return nil }
        let num = text.dropLast()
        guard num.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(num) else { return nil }
        let factor: Int64
        switch unit {
        case "s": factor = 1
        case "m": factor = 60
        case "h": factor = 3600
        case "d": factor = 86_400
        case "w": factor = 604_800
        default: return nil
        }
        let (v, o) = n.multipliedReportingOverflow(by: factor)
        return o ? nil : PolicyDuration(seconds: v)
    }

    public var description: String {
        for (f, u) in [(Int64(86_400), "d"), (3600, "h"), (60, "m")] where seconds != 0 && seconds % f == 0 {
            return "\(seconds / f)\(u)"
        }
        return "\(seconds)s"
    }
}
