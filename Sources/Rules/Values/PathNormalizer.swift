/// Route path normalization of SPEC §2.7 — a security boundary, applied to request paths and pattern literals.
public enum PathNormalizer {
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
        let base = out.count
        for seg in decoded.split(separator: "/", omittingEmptySubsequences: true) {
            if seg == "." { continue }
            if seg == ".." {
                guard out.count > base else { return .escapesRoot }
                out.removeLast()
                continue
            }
            out.append(seg)
        }
        return nil
    }

    /// Steps 2–3: reject what is forbidden, decode unreserved escapes, upper-case the hex of the others.
    /// Route pattern literals get exactly these steps.
    public static func decode(_ p: Substring.UTF8View) -> Result<Substring, Failure> {
        // 2. must start with /; no NUL, %00, \, %2F, %5C; every % followed by two hex digits
        guard p.first == UInt8(ascii: "/") else { return .failure(.notAbsolute) }
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
