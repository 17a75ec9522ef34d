/// A strict JSON parser (RFC 8259): UTF-8 only (no BOM), duplicate keys rejected, lone surrogates rejected,
/// nesting bounded, integers kept exactly and every other number kept as text.
public struct JSONParser {
    /// Why a body is not strict JSON, with the byte offset where the parser stopped.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var offset: Int
        public var description: String { "\(message) at byte \(offset)" }
    }

    public static let maxDepth = 64
    /// Objects with more members than this check duplicate keys with a hash set instead of a scan.
    static let scanLimit = 8

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.i == bytes.count else { throw Failure(message: "unexpected data after the JSON value", offset: p.i) }
        return v
    }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        var result: Result<JSONValue, Failure> = .failure(Failure(message: "empty", offset: 0))
        bytes.withUnsafeBufferPointer { buf in
            do throws(Failure) { result = .success(try parse(buf)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ text: String) throws(Failure) -> JSONValue { try parse(Array(text.utf8)) }

    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    func fail(_ m: String) -> Failure { Failure(message: m, offset: i) }

    mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            guard depth < JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth) levels") }
            i += 1
            var members: [(String, JSONValue)] = []
            // Duplicate keys: a scan of the few members small objects have; past `scanLimit` members a hash set
            // (hashing is seeded per process), so an object of n keys costs O(n), never O(n²). Keys compare by
            // their Unicode scalars, as SPEC §2.1 says strings compare (a `String` would also equate canonically
            // equivalent keys, `"é"` and `"e\u{301}"`).
            var keys = Set<ScalarKey>()
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyAt = i
                let key = try string()
                let duplicate: Bool
                if members.count < JSONParser.scanLimit {
                    duplicate = members.contains { $0.0.utf8.elementsEqual(key.utf8) }
                } else {
                    if keys.isEmpty { keys = Set(members.map { ScalarKey($0.0) }) }
                    // Grow fourfold rather than twofold: each growth rehashes every key.
                    if keys.count == keys.capacity { keys.reserveCapacity(keys.count * 4) }
                    duplicate = !keys.insert(ScalarKey(key)).inserted
                }
                if duplicate { throw Failure(message: "duplicate key \"\(key)\"", offset: keyAt) }
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipWhitespace()
                members.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input in an object") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(members)
                }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            guard depth < JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth) levels") }
            i += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard i < bytes.count else { throw fail("unexpected end of input in an array") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        default:
            throw fail(i == 0 && bytes[i] == 0xEF ? "a byte-order mark is not allowed" : "unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw fail("invalid literal") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
        i += n
    }

    mutating func number() throws(Failure) -> JSONValue {
        let start = i
        var isInt = true
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("invalid number") }
        if bytes[i] == 48 {
            i += 1
        } else {
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInt = false
            i += 1
            guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("invalid number") }
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInt = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("invalid number") }
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        }
        let slice = UnsafeBufferPointer(rebasing: bytes[start..<i])
        if isInt, slice.count <= 20 {
            var v: Int64 = 0
            var neg = false
            var ok = true
            for (k, c) in slice.enumerated() {
                if k == 0 && c == UInt8(ascii: "-") {
                    neg = true
                    continue
                }
                let d = Int64(c - 48)
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = neg ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
                if o1 || o2 {
                    ok = false
                    break
                }
                v = s
            }
            if ok { return .int(v) }
        }
        return .number(String(decoding: slice, as: UTF8.self))
    }

    mutating func string() throws(Failure) -> String {
        i += 1
        let start = i
        // Fast path: no escapes, ASCII or valid UTF-8.
        var simple = true
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                simple = false
                break
            }
            if c < 0x20 { throw fail("control character in a string") }
            if c >= 0x80 {
                simple = false
                break
            }
            i += 1
        }
        if simple {
            guard i < bytes.count else { throw fail("unterminated string") }
            let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        i = start
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw fail("control character in a string") }
            if c >= 0x80 {
                let n = try utf8Sequence()
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[(i - n)..<i]))
                continue
            }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw fail("unterminated escape") }
            switch UnicodeEscape.decodeEscape(bytes, at: i, into: &out) {
            case .success(let next): i = next
            case .failure(.invalidEscape): throw fail("invalid escape")
            case .failure(.badHex): throw fail("\\u needs four hex digits")
            case .failure(.loneSurrogate): throw fail("lone surrogate in \\u escape")
            }
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `i` and advances past it; returns its length.
    mutating func utf8Sequence() throws(Failure) -> Int {
        let c = bytes[i]
        let n: Int
        var min: UInt32
        var v: UInt32
        switch c {
        case 0xC2...0xDF: (n, v, min) = (2, UInt32(c & 0x1F), 0x80)
        case 0xE0...0xEF: (n, v, min) = (3, UInt32(c & 0x0F), 0x800)
        case 0xF0...0xF4: (n, v, min) = (4, UInt32(c & 0x07), 0x10000)
        default: throw fail("invalid UTF-8")
        }
        guard i + n <= bytes.count else { throw fail("invalid UTF-8") }
        for k in 1..<n {
            let b = bytes[i + k]
            guard b & 0xC0 == 0x80 else { throw fail("invalid UTF-8") }
            v = v << 6 | UInt32(b & 0x3F)
        }
        guard v >= min, v <= 0x10FFFF, !(v >= 0xD800 && v < 0xE000) else { throw fail("invalid UTF-8") }
        i += n
        return n
    }
}

/// A string compared and hashed by its Unicode scalars (its UTF-8 bytes), not by canonical equivalence as a Swift
/// `String` is: how SPEC §2.1 compares strings and §9 compares ids ("compared exactly"), and how PostgreSQL stores
/// them. For JSON member names here, and in the service for every map of client-supplied names (account ids,
/// idempotency keys), so that `"zoë"` composed (NFC) and decomposed (NFD) are two keys.
public struct ScalarKey: Hashable, Sendable {
    public let string: String

    public init(_ string: String) { self.string = string }

    public static func == (a: ScalarKey, b: ScalarKey) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }

    public func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
