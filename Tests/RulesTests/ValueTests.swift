import Rules
import Testing

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2026-05-10T12:00:00Z", "2026-05-10T12:00:00Z"),
        ("2026-05-10T14:00:00+02:00", "2026-05-10T12:00:00Z"),
        ("2026-05-10T12:00:00.500Z", "2026-05-10T12:00:00.5Z"),
        ("2026-05-10T12:00:00.123456789Z", "2026-05-10T12:00:00.123456789Z"),
        ("2026-05-10t12:00:00z", "2026-05-10T12:00:00Z"),
        ("1969-12-31T23:59:59.9Z", "1969-12-31T23:59:59.9Z"),
        ("2024-02-29T00:00:00-00:30", "2024-02-29T00:30:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ])
    func roundTrip(_ input: String, _ output: String) {
        #expect(Timestamp.parse(input)?.rfc3339 == output)
    }

    @Test(arguments: [
        "2026-05-10", "2026-05-10T12:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-05-10T24:00:00Z",
        "2026-05-10T12:00:00.1234567890Z", "2026-05-10T12:00:00.Z", "2026-05-10 12:00:00Z", " 2026-05-10T12:00:00Z",
        "2026-05-10T12:00:60Z", "2026-05-10T12:00:00+24:00",
    ])
    func rejects(_ input: String) {
        #expect(Timestamp.parse(input) == nil)
    }

    @Test func epochAndOrdering() {
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == Timestamp(seconds: 0))
        let a = Timestamp.parse("2026-05-10T12:00:00.000000001Z")!
        let b = Timestamp.parse("2026-05-10T12:00:00Z")!
        #expect(b < a)
        #expect(b.adding(PolicyDuration.parse("1d")!)?.rfc3339 == "2026-05-11T12:00:00Z")
    }

    /// The fixed-position reader of `YYYY-MM-DDTHH:MM:SSZ` agrees with the full parser on every one-byte change of
    /// a few dates (leap days, month ends): the full parser reads `t` for `T` without the fixed-position path.
    @Test func commonFormAgreesWithTheFullParser() {
        for base in ["2024-02-29T23:59:59Z", "2026-05-07T12:00:00Z", "2100-02-28T00:00:00Z", "0000-01-01T00:00:00Z"] {
            for k in 0..<20 {
                for byte in 0...255 {
                    var bytes = Array(base.utf8)
                    bytes[k] = UInt8(byte)
                    let fast = bytes.withUnsafeBufferPointer { Timestamp.parseCommonForm($0) }
                    guard bytes[10] == UInt8(ascii: "T") else {
                        #expect(fast == nil)
                        continue
                    }
                    bytes[10] = UInt8(ascii: "t")
                    let full = bytes.withUnsafeBufferPointer { Timestamp.parse(utf8: $0) }
                    if bytes[19] == UInt8(ascii: "Z") {
                        #expect(fast == full, "\(base) byte \(k) = \(byte)")
                    } else {
                        #expect(fast == nil)
                    }
                }
            }
        }
    }

    @Test func calendarMonth() {
        let t = Timestamp.parse("2026-12-15T10:00:00Z")!
        #expect(t.calendarMonth.start.rfc3339 == "2026-12-01T00:00:00Z")
        #expect(t.calendarMonth.end.rfc3339 == "2027-01-01T00:00:00Z")
    }

    @Test func durations() {
        #expect(PolicyDuration.parse("14d")?.seconds == Int64(14 * 86_400))
        #expect(PolicyDuration.parse("2w")?.seconds == Int64(14 * 86_400))
        #expect(PolicyDuration.parse("90s")?.seconds == 90)
        #expect(PolicyDuration.parse("1y") == nil)
        #expect(PolicyDuration.parse("d") == nil)
        #expect(PolicyDuration.parse("-1d") == nil)
        #expect(PolicyDuration.parse("99999999999999999w") == nil)
    }
}

@Suite struct PathNormalizerTests {
    @Test(
        arguments: [
            ("/api/v1/billing/../trees", "/api/v1/trees"),
            ("/api/v1/sessions//../trees", "/api/v1/trees"),
            ("/api/v1/billing/%2e%2e/trees", "/api/v1/trees"),
            ("/api/v1/billing/%2E%2E/trees", "/api/v1/trees"),
            ("/api/v1/trees/", "/api/v1/trees"),
            ("//api///v1", "/api/v1"),
            ("/api/./v1/.", "/api/v1"),
            ("/api/v1?x=../..", "/api/v1"),
            ("/api/v1#frag", "/api/v1"),
            ("/a/%7e%41", "/a/~A"),
            ("/a/%c3%a9", "/a/%C3%A9"),
            ("/a/%20b", "/a/%20b"),
            ("/", "/"),
            ("/..?x", "/..?x"),
        ] as [(String, String)])
    func normalizes(_ input: String, _ expected: String) {
        if expected == "/..?x" {
            #expect(PathNormalizer.normalize(input) == .failure(.escapesRoot))
            return
        }
        #expect(PathNormalizer.normalize(input) == .success(expected))
    }

    @Test(arguments: [
        "api/v1", "", "/a\\b", "/a%5cb", "/a%5Cb", "/a%2fb", "/a%2Fb", "/a%00b", "/a\u{0}b", "/..", "/a/../..", "/a%zz",
        "/a%4", "/a%",
    ])
    func rejects(_ input: String) {
        guard case .failure = PathNormalizer.normalize(input) else {
            Issue.record("\(input) should be invalid_path")
            return
        }
    }
}

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "The quick brown fox jumps over the lazy dog",
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"
        ),
    ])
    func knownVectors(_ input: String, _ hex: String) {
        #expect(SHA256.hex(SHA256.hash(input.utf8)) == hex)
    }

    @Test func millionAs() {
        #expect(
            SHA256.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Whole blocks are compressed straight from contiguous input; any split of the input gives the same digest.
    @Test func piecesGiveTheSameDigest() {
        let data = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = SHA256.hash(data)
        for cut in [1, 63, 64, 65, 130, 999] {
            var s = SHA256()
            s.update(Array(data[..<cut]))
            s.update(data[cut...].lazy.map { $0 })  // not contiguous: byte by byte
            #expect(s.finalize() == whole, "cut at \(cut)")
        }
    }

    @Test func rolloutIsUnsignedBigEndianModulo100() {
        // SHA-256("self_serve:acc_1") first 8 bytes, big-endian, mod 100 — computed independently.
        let d = SHA256.hash("self_serve:acc_1".utf8)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(d[i]) }
        #expect(rolloutBucket(salt: "self_serve", key: "acc_1") == Int64(v % 100))
        for k in 0..<200 { #expect((0..<100).contains(rolloutBucket(salt: "s", key: "k\(k)"))) }
    }
}

@Suite struct SuggestTests {
    @Test func suggestions() {
        #expect(Suggest.closest(to: "featurs", in: ["features", "plans"]) == "features")
        #expect(Suggest.closest(to: "bool", in: ["boolean", "limit", "set"]) == "boolean")
        #expect(Suggest.closest(to: "zzz", in: ["features", "plans"]) == nil)
    }
}

@Suite struct PathSplittingTests {
    @Test func combiningMarkAfterSlashStillSplits() {
        #expect(PathNormalizer.normalize("/a/\u{301}b/..") == .success("/a"))
        #expect(PathNormalizer.normalize("/a/.\u{301}") == .success("/a/.\u{301}"))
    }
}
