/// Route path normalization of SPEC §2.7 — a security boundary, applied to request paths and pattern literals.
public enum PathNormalizer {
    /// Why a path is `invalid_path` (SPEC §2.7 step 2 and 5).
    public enum Failure: Error, Equatable, Sendable {
        case notAbsolute, forbiddenCharacter(String), malformedEscape, escapesRoot
        public var detail: String {
            switch self {
            case .notAbsolute: return "path must start with '/'"
            case .forbiddenCharacter(let c): return "path contains \(c)"
            case .malformedEscape: return "path contains a '%' not followed by two hex digits"
            case .escapesRoot: return "path climbs above the root with '..'"
            }
        }
    }

    /// Normalizes `raw` into its segments (steps 1–5). Join with `/` behind a leading `/` for step 6.
    public static func segments(_ raw: Substring.UTF8View) -> Result<[Substring], Failure> {
        var out: [Substring] = []
        switch normalize(raw, into: &out) {
        case nil: return .success(out)
        case let f?: return .failure(f)
        }
    }

    public static func normalize(_ path: String) -> Result<String, Failure> {
        segments(Substring(path).utf8).map { "/" + $0.joined(separator: "/") }
    }

    /// Core of the normalization; appends segments to `out` and returns a failure or nil.
    public static func normalize(_ raw: Substring.UTF8View, into out: inout [Substring]) -> Failure? {
        // 1. cut at the first ? or #
        var end = raw.endIndex
        if let q = raw.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { end = q }
        let decoded: Substring
        switch decode(raw[raw.startIndex..<end]) {
        case .success(let d): decoded = d
        case .failure(let f): return f
        }
        // 4–5. split, drop empty segments, resolve . and ..
        // Split on the byte '/', never on grapheme clusters ("/" + a combining mark is still a separator).
        let base = out.count
        for bytes in decoded.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if bytes.count == 1 && bytes.first == UInt8(ascii: ".") { continue }
            if bytes.count == 2 && bytes.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                guard out.count > base else { return .escapesRoot }
                out.removeLast()
                continue
            }
            out.append(Substring(bytes))
        }
        return nil
    }

    /// Steps 2–3: reject what is forbidden, decode unreserved escapes, upper-case the hex of the others.
    /// Route pattern literals get exactly these steps.
    public static func decode(_ p: Substring.UTF8View) -> Result<Substring, Failure> {
        // 2. must start with /; no NUL, %00, \, %2F, %5C; every % followed by two hex digits
        guard p.first == UInt8(ascii: "/") else { return .failure(.notAbsolute) }
        // Most paths and patterns have nothing to reject or decode: one scan of their contiguous bytes says so.
        let plain = p.withContiguousStorageIfAvailable { b in
            !b.contains { $0 == 0 || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "%") }
        }
        if plain == true { return .success(Substring(p)) }
        var needsDecode = false
        var i = p.startIndex
        while i < p.endIndex {
            let c = p[i]
            if c == 0 { return .failure(.forbiddenCharacter("a NUL byte")) }
            if c == UInt8(ascii: "\\") { return .failure(.forbiddenCharacter("a backslash")) }
            if c == UInt8(ascii: "%") {
                let a = p.index(after: i)
                guard a < p.endIndex, let h1 = hexValue(p[a]) else { return .failure(.malformedEscape) }
                let b = p.index(after: a)
                guard b < p.endIndex, let h2 = hexValue(p[b]) else { return .failure(.malformedEscape) }
                let v = h1 << 4 | h2
                if v == 0 { return .failure(.forbiddenCharacter("%00")) }
                if v == 0x2F { return .failure(.forbiddenCharacter("an encoded '/' (%2F)")) }
                if v == 0x5C { return .failure(.forbiddenCharacter("an encoded '\\' (%5C)")) }
                needsDecode = true
                i = p.index(after: b)
                continue
            }
            i = p.index(after: i)
        }
        // 3. decode unreserved escapes, upper-case the hex of the others
        if needsDecode {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(p.count)
            var j = p.startIndex
            while j < p.endIndex {
                let c = p[j]
                if c == UInt8(ascii: "%") {
                    let a = p.index(after: j)
                    let b = p.index(after: a)
                    let v = hexValue(p[a])! << 4 | hexValue(p[b])!
                    if isUnreserved(v) {
                        bytes.append(v)
                    } else {
                        bytes.append(c)
                        bytes.append(upperHex(v >> 4))
                        bytes.append(upperHex(v & 15))
                    }
                    j = p.index(after: b)
                } else {
                    bytes.append(c)
                    j = p.index(after: j)
                }
            }
            return .success(Substring(String(decoding: bytes, as: UTF8.self)))
        }
        return .success(Substring(p))
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }
    @inline(__always) static func upperHex(_ v: UInt8) -> UInt8 { v < 10 ? v + 48 : v + 55 }
    @inline(__always) static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 || c == 46 || c == 95
            || c == 126
    }
}

extension PathNormalizer {
    /// Normalizes `path` into stack buffers sized as `normalize(bytes:into:segments:)` needs and gives `body` the
    /// decoded bytes, each segment's `[start, end)` in them, and the segment count or the failure (nothing is
    /// allocated; the buffers live until `body` returns).
    @inlinable
    public static func withNormalized<R>(
        _ path: String,
        _ body: (
            _ bytes: UnsafePointer<UInt8>, _ segments: UnsafePointer<(start: Int32, end: Int32)>,
            _ count: Result<Int, Failure>
        ) throws -> R
    ) rethrows -> R {
        var raw = path
        return try raw.withUTF8 { bytes in
            try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, bytes.count)) { out in
                try withUnsafeTemporaryAllocation(of: (start: Int32, end: Int32).self, capacity: bytes.count / 2 + 1) {
                    segs in
                    try body(
                        out.baseAddress!, segs.baseAddress!,
                        normalize(bytes: bytes, into: out.baseAddress!, segments: segs.baseAddress!))
                }
            }
        }
    }

    /// Allocation-free normalization for the hot path. Decoded bytes go to `out` (capacity ≥ `raw.count`); segment
    /// `[start, end)` offsets into `out` go to `segments` (capacity ≥ `raw.count / 2 + 1`). Returns the segment count.
    /// Agrees with `normalize(_:)` on every input (the fuzz target checks this).
    public static func normalize(
        bytes raw: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>,
        segments: UnsafeMutablePointer<(start: Int32, end: Int32)>
    ) -> Result<Int, Failure> {
        var end = raw.count
        for k in 0..<raw.count where raw[k] == UInt8(ascii: "?") || raw[k] == UInt8(ascii: "#") {
            end = k
            break
        }
        guard end > 0, raw[0] == UInt8(ascii: "/") else { return .failure(.notAbsolute) }
        // Steps 2–3 into `out`.
        var n = 0
        var i = 0
        while i < end {
            let c = raw[i]
            if c == 0 { return .failure(.forbiddenCharacter("a NUL byte")) }
            if c == UInt8(ascii: "\\") { return .failure(.forbiddenCharacter("a backslash")) }
            if c == UInt8(ascii: "%") {
                guard i + 2 < end, let h1 = hexValue(raw[i + 1]), let h2 = hexValue(raw[i + 2]) else {
                    return .failure(.malformedEscape)
                }
                let v = h1 << 4 | h2
                if v == 0 { return .failure(.forbiddenCharacter("%00")) }
                if v == 0x2F { return .failure(.forbiddenCharacter("an encoded '/' (%2F)")) }
                if v == 0x5C { return .failure(.forbiddenCharacter("an encoded '\\' (%5C)")) }
                if isUnreserved(v) {
                    out[n] = v
                    n += 1
                } else {
                    out[n] = c
                    out[n + 1] = upperHex(v >> 4)
                    out[n + 2] = upperHex(v & 15)
                    n += 3
                }
                i += 3
                continue
            }
            out[n] = c
            n += 1
            i += 1
        }
        // Steps 4–5 over `out`.
        var count = 0
        var s = 0
        while s < n {
            while s < n && out[s] == UInt8(ascii: "/") { s += 1 }
            guard s < n else { break }
            var e = s
            while e < n && out[e] != UInt8(ascii: "/") { e += 1 }
            let len = e - s
            if len == 1 && out[s] == UInt8(ascii: ".") {
                // skip
            } else if len == 2 && out[s] == UInt8(ascii: ".") && out[s + 1] == UInt8(ascii: ".") {
                guard count > 0 else { return .failure(.escapesRoot) }
                count -= 1
            } else {
                segments[count] = (Int32(s), Int32(e))
                count += 1
            }
            s = e
        }
        return .success(count)
    }
}
