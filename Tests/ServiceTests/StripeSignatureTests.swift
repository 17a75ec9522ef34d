import Testing

@testable import Evaluator
@testable import Service

/// HMAC-SHA-256 against RFC 4231's vectors, and Stripe's signature header (the HTTP suite checks the same against
/// Stripe's own library).
@Suite struct StripeSignatureTests {
    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    @Test func hmacMatchesRFC4231() {
        // Test case 1: a 20-byte key of 0x0b, "Hi There".
        #expect(
            hex(HMAC.sha256(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // Test case 2: "Jefe", "what do ya want for nothing?".
        #expect(
            hex(HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a 131-byte key (longer than the block: hashed first).
        #expect(
            hex(
                HMAC.sha256(
                    key: [UInt8](repeating: 0xaa, count: 131),
                    message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func headers() {
        let body = Array(#"{"id":"evt_1"}"#.utf8)
        let secret = Array("whsec_test".utf8)
        let now = Timestamp(seconds: 1_800_000_000, nanos: 0)
        func header(_ t: Int64, _ key: [UInt8] = secret) -> String {
            "t=\(t),v1=" + hex(HMAC.sha256(key: key, message: Array("\(t).".utf8) + body))
        }
        let p = { (h: String?) in
            StripeSignature.problem(h, body: body, secrets: [Array("whsec_old".utf8), secret], now: now)
        }
        #expect(p(header(now.seconds)) == nil)
        #expect(p(header(now.seconds - 300)) == nil)
        #expect(p(header(now.seconds - 301)) != nil)
        #expect(p(header(now.seconds + 301)) != nil)
        #expect(p("t=\(now.seconds),v1=00,v0=ff," + header(now.seconds).dropFirst("t=\(now.seconds),".count)) == nil)
        #expect(p(header(now.seconds, Array("whsec_other".utf8))) != nil)
        // Hex digits in either case.
        let upper = "t=\(now.seconds),v1=" + header(now.seconds).split(separator: "=").last!.uppercased()
        #expect(p(upper) == nil)
        #expect(p(nil) != nil)
        #expect(p("v1=abc") != nil)
        #expect(p("t=\(now.seconds)") != nil)
    }
}
