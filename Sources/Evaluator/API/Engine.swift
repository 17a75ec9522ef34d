/// How many results of a request were allowed, and denied by which error (for metrics).
public struct DecisionTally: Sendable {
    public var allowed = 0
    public var denied: [(String, Int)] = []
    public init() {}

    mutating func deny(_ error: String) {
        if let i = denied.firstIndex(where: { $0.0 == error }) {
            denied[i].1 += 1
        } else {
            denied.append((error, 1))
        }
    }
}

/// The in-process API: JSON in, JSON out, exactly as `POST /v1/check` and `POST /v1/entitlements` answer
/// without a store. Services embedding `Rules` + `Evaluator` can also use `Program` and `Evaluation` directly.
public enum Engine {
    /// Answers a `/v1/check` body: the HTTP status and the response bytes. Well-formed bodies take the byte-level
    /// fast path; everything else goes through the generic parser and decoder (same answers, exact errors).
    /// `fastPath: false` forces the generic path (tests compare both).
    public static func checkBytes(
        _ program: Program, body: [UInt8], now clock: Timestamp, fastPath: Bool = true, tally: inout DecisionTally
    ) -> (status: Int, body: [UInt8]) {
        let decoder = RequestDecoder(program: program)
        let fast = fastPath ? body.withUnsafeBufferPointer { FastCheckDecoder.decode($0, decoder) } : nil
        let request: CheckRequest
        if let fast {
            request = fast
        } else {
            let value: JSONValue
            do {
                value = try JSONParser.parse(body)
            } catch {
                return (400, JSONWriter.serialize(RequestError(detail: "body is not valid JSON: \(error)").json))
            }
            do {
                request = try decoder.checkRequest(value)
            } catch {
                return (error.status, JSONWriter.serialize(error.json))
            }
        }
        guard case .inline(let account) = request.account else {
            let e = RequestError(
                status: 503, code: "store_unavailable",
                detail: "account ids need the account store; this service runs stateless")
            return (503, JSONWriter.serialize(e.json))
        }
        return (
            200, respond(program, request, account: program.prepare(account), now: request.now ?? clock, tally: &tally)
        )
    }

    public static func checkBytes(
        _ program: Program, body: [UInt8], now clock: Timestamp, fastPath: Bool = true
    ) -> (status: Int, body: [UInt8]) {
        var tally = DecisionTally()
        return checkBytes(program, body: body, now: clock, fastPath: fastPath, tally: &tally)
    }

    /// Answers a `/v1/check` body as a JSON value (tests and tools; services use `checkBytes`).
    public static func check(_ program: Program, body: [UInt8], now clock: Timestamp) -> (status: Int, json: JSONValue)
    {
        let (status, bytes) = checkBytes(program, body: body, now: clock)
        return (status, (try? JSONParser.parse(bytes)) ?? .null)
    }

    /// The response bytes for a decoded request and its prepared account.
    public static func respond(
        _ program: Program, _ request: CheckRequest, account: PreparedAccount, now: Timestamp,
        tally: inout DecisionTally
    ) -> [UInt8] {
        var ev = Evaluation(program: program, account: account, user: request.user, now: now, explain: request.explain)
        var w = JSONWriter(capacity: 128 + 96 * request.checks.count)
        w.bytes.append(contentsOf: program.responsePrefix)
        w.timestamp(now)
        w.raw(",\"results\":[")
        for (k, c) in request.checks.enumerated() {
            if k > 0 { w.bytes.append(UInt8(ascii: ",")) }
            switch c {
            case .success(let check):
                let d = ev.writeResult(for: check, into: &w)
                if d.allowed {
                    tally.allowed += 1
                } else {
                    tally.deny(
                        d.invalidPath != nil
                            ? "invalid_path" : d.denial >= 0 ? program.policy.denials[d.denial].name : "invalid_request"
                    )
                }
            case .failure(let e):
                w.write(e.json)
                tally.deny(e.code)
            }
        }
        w.raw("]}")
        return w.bytes
    }

    /// Answers a `/v1/entitlements` body (`{account, user?, now?}`) with a snapshot.
    public static func snapshot(_ program: Program, body: [UInt8], now clock: Timestamp) -> (
        status: Int, json: JSONValue
    ) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            return (400, RequestError(detail: "body is not valid JSON: \(error)").json)
        }
        do throws(RequestError) {
            let decoder = RequestDecoder(program: program)
            guard case .object = value else { throw RequestError(detail: "the request body must be a JSON object") }
            let m = try RequestDecoder.members(value, "", allowed: ["account", "user", "now"])
            let (ref, user, now) = try decoder.subject(m)
            guard case .inline(let account) = ref else {
                throw RequestError(
                    status: 503, code: "store_unavailable",
                    detail: "account ids need the account store; this service runs stateless")
            }
            var ev = Evaluation(program: program, account: program.prepare(account), user: user, now: now ?? clock)
            return (200, ev.snapshot())
        } catch {
            return (error.status, error.json)
        }
    }
}
