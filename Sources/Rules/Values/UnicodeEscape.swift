/// Decoding of JSON-style `\\uXXXX` escapes, shared by the expression lexer and the JSON parser.
public enum UnicodeEscape {
    public enum Failure: Error, Sendable { case badHex, loneSurrogate }

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
