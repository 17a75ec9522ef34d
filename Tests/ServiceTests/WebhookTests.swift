import Evaluator
import Foundation
import Rules
import Testing

@testable import Service

/// The parts of lifecycle webhooks that need no database: signatures (against the Standard Webhooks reference
/// vector; HMAC itself has RFC 4231's in its own tests), secrets, the retry schedule and receiver URLs. The rest is tested against a
/// real receiver and PostgreSQL in Tests/HTTP/test_webhooks.py.
@Suite struct WebhookTests {
    @Test func signatureMatchesTheStandardWebhooksReference() throws {
        // The vector the standardwebhooks libraries test with.
        let key = try #require(Signature.key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        #expect(
            Signature.header(
                key: key, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                body: Array(#"{"test": 2432232314}"#.utf8)) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func secrets() {
        #expect(Signature.key("whsec_AAAA") == [0, 0, 0])
        #expect(Signature.key("whsec_AAE") == [0, 1])  // unpadded base64, as the libraries accept
        #expect(Signature.key("AAAA") == nil)
        #expect(Signature.key("whsec_") == nil)
        #expect(Signature.key("whsec_!!!!") == nil)
        #expect(Signature.key("whsec_" + Data(count: 65).base64EncodedString()) == nil)
    }

    @Test func retrySchedule() throws {
        let p = RetryPolicy()
        #expect(p.baseMilliseconds == 1_000 && p.windowMilliseconds == 86_400_000 && p.timeoutSeconds == 10)
        // Delays double from the base to the cap, within the jitter.
        for (attempts, nominal) in [(1, 1_000.0), (2, 2_000), (3, 4_000), (13, 3_600_000), (40, 3_600_000)] {
            let next = try #require(p.next(attempts: attempts, now: 1_000_000, windowStart: 1_000_000))
            #expect(Double(next - 1_000_000) >= nominal * 0.75 && Double(next - 1_000_000) < nominal * 1.25)
        }
        // The last attempt is at the window's end; after it, the delivery has failed.
        #expect(p.next(attempts: 30, now: 86_399_000, windowStart: 0) == 86_400_000)
        #expect(p.next(attempts: 31, now: 86_400_000, windowStart: 0) == nil)
        // Retrying for 24 h takes more than a handful of attempts (the schedule does not give up early).
        var now: Int64 = 0
        var attempts = 0
        while let next = p.next(attempts: attempts + 1, now: now, windowStart: 0) {
            attempts += 1
            now = next
        }
        #expect(now >= 86_400_000 && attempts > 20)

        let short = try RetryPolicy.parse("100ms,400ms,10m,1s")
        #expect(short.baseMilliseconds == 100 && short.capMilliseconds == 400 && short.windowMilliseconds == 600_000)
        #expect(short.timeoutSeconds == 1)
        for bad in ["", "1s", "1s,2s", "2s,1s,1h", "1x,2s,3s", "0s,1s,1h", "1s,2s,3s,4s,5s"] {
            #expect(throws: RetryPolicy.Invalid.self) { try RetryPolicy.parse(bad) }
        }
    }

    @Test func receiverURLs() throws {
        let a = try HTTPClient(url: "http://hooks.internal:9000/in/entitlements?x=1")
        #expect(a.host == "hooks.internal" && a.port == 9000 && a.path == "/in/entitlements?x=1")
        let b = try HTTPClient(url: "http://127.0.0.1")
        #expect(b.port == 80 && b.path == "/")
        let c = try HTTPClient(url: "http://[::1]:8080/h")
        #expect(c.host == "::1" && c.port == 8080 && c.path == "/h")
        for bad in ["https://x/", "ftp://x", "http://", "http://x:notaport/", "http://x/a b"] {
            #expect(throws: HTTPClient.ClientFailure.self) { try HTTPClient(url: bad) }
        }
    }

    /// `changes` lists exactly what differs, in the new state's order, then what left.
    @Test func changesListOnlyWhatDiffers() {
        let old: Outbox.State = [("a", .int(1)), ("b", .bool(true)), ("gone", .string("x"))]
        let new: Outbox.State = [("a", .int(1)), ("b", .bool(false)), ("new", .null), ("added", .int(2))]
        let c = Outbox.changes(from: old, to: new).map { JSONWriter.string($0) }
        #expect(
            c == [
                #"{"path":"b","from":true,"to":false}"#, #"{"path":"new","from":null,"to":null}"#,
                #"{"path":"added","from":null,"to":2}"#, #"{"path":"gone","from":"x","to":null}"#,
            ])
        #expect(Outbox.changes(from: old, to: old).isEmpty)
    }
}
