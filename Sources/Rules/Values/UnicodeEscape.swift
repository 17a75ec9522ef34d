/// Decoding of JSON string escapes, shared by the expression lexer and the JSON parser.
public enum UnicodeEscape {
    /// Why a `\u` escape is not a Unicode scalar.
    public enum Failure: Error, Sendable { case invalidEscape, badHex, loneSurrogate }

    /// Decodes the escape whose letter is at `i` (just after the backslash), appending its UTF-8 to `out`.
    /// Returns the index after the escape.
    public static func decodeEscape<C: RandomAccessCollection<UInt8>>(
        _ bytes: C, at i: Int, into out: inout [UInt8]
    ) -> Result<Int, Failure> where C.Index == Int {
        guard i < bytes.endIndex else { return .failure(.invalidEscape) }
        switch bytes[i] {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            return decode(bytes, at: i + 1).map { (scalar, next) in
                out.append(contentsOf: String(scalar).utf8)
                return next
            }
        default: return .failure(.invalidEscape)
        }
        return .success(i + 1)
    }

    /// Decodes the escape whose `u` is at `i - 1` (so `i` is the first hex digit), joining a surrogate pair
    /// written as two escapes. Returns the scalar and the index after the escape(s).
    public static func decode<C: RandomAccessCollection<UInt8>>(_ bytes: C, at i: Int) -> Result<
        (Unicode.Scalar, Int), Failure
    >
    where C.Index == Int {
        guard let hi = hex4(bytes, i) else { return .failure(.badHex) }
        if hi >= 0xD800 && hi < 0xDC00 {
            let j = i + 4
            guard j + 1 < bytes.endIndex, bytes[j] == UInt8(ascii: "\\"), bytes[j + 1] == UInt8(ascii: "u") else {
                return .failure(.loneSurrogate)
            }
            guard let lo = hex4(bytes, j + 2) else { return .failure(.badHex) }
            guard lo >= 0xDC00 && lo < 0xE000 else { return .failure(.loneSurrogate) }
            return .success((Unicode.Scalar(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))!, j + 6))
        }
        guard let scalar = Unicode.Scalar(hi) else { return .failure(.loneSurrogate) }
        return .success((scalar, i + 4))
    }

    static func hex4<C: RandomAccessCollection<UInt8>>(_ bytes: C, _ i: Int) -> UInt32? where C.Index == Int {
        guard i >= bytes.startIndex, i + 4 <= bytes.endIndex else { return nil }
        var v: UInt32 = 0
        for k in i..<(i + 4) {
            guard let h = PathNormalizer.hexValue(bytes[k]) else { return nil }
            v = v << 4 | UInt32(h)
        }
        return v
    }
}
