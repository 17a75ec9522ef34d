/// The in-process API: JSON in, JSON out, exactly as `POST /v1/check` and `POST /v1/entitlements` answer
/// without a store. Services embedding `Rules` + `Evaluator` can also use `Program` and `Evaluation` directly.
public enum Engine {
    /// Answers a `/v1/check` body. Returns the HTTP status and the response JSON.
    public static func check(_ program: Program, body: [UInt8], now clock: Timestamp) -> (status: Int, json: JSONValue)
    {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            return (400, RequestError(detail: "body is not valid JSON: \(error)").json)
        }
        let request: CheckRequest
        do {
            request = try RequestDecoder(program: program).checkRequest(value)
        } catch {
            return (error.status, error.json)
        }
        guard case .inline(let account) = request.account else {
            return (
                503,
                RequestError(
                    status: 503, code: "store_unavailable",
                    detail: "account ids need the account store; this service runs stateless"
                ).json
            )
        }
        return (200, respond(program, request, account: account, now: request.now ?? clock))
    }

    /// The response object for a decoded request and its account.
    public static func respond(_ program: Program, _ request: CheckRequest, account: Account, now: Timestamp)
        -> JSONValue
    {
        var ev = Evaluation(
            program: program, account: program.prepare(account), user: request.user, now: now, explain: request.explain)
        var results: [JSONValue] = []
        results.reserveCapacity(request.checks.count)
        for c in request.checks {
            switch c {
            case .success(let check): results.append(ev.result(for: check))
            case .failure(let e): results.append(e.json)
            }
        }
        return .object([
            ("policy", .string(program.digest)), ("now", .string(now.rfc3339)), ("results", .array(results)),
        ])
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
