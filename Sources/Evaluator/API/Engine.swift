/// How many results of a request were allowed, and denied by which error (for metrics). The first error is kept
/// inline, so tallying a one-check request allocates nothing (and tearing the tally down is one string and one array).
public struct DecisionTally: Sendable {
    public var allowed = 0
    private var firstError: String?
    private var firstCount = 0
    private var more: [(String, Int)] = []
    public init() {}

    /// Each error with its count, in the order first seen.
    public var denied: [(String, Int)] {
        (firstError.map { [($0, firstCount)] } ?? []) + more
    }

    mutating func deny(_ error: String) {
        guard let first = firstError else {
            firstError = error
            firstCount = 1
            return
        }
        if first == error {
            firstCount += 1
            return
        }
        if let i = more.firstIndex(where: { $0.0 == error }) {
            more[i].1 += 1
        } else {
            more.append((error, 1))
        }
    }
}

/// A decoded `POST /v1/entitlements` body: whose snapshot, for which user, at which instant.
public struct SnapshotRequest: Sendable {
    public var account: AccountReference
    public var user: User?
    public var now: Timestamp?
}

/// A `/v1/check` body as the fast decoder reads it: the fields of `CheckRequest`, filled in place, with the first
/// check kept inline (a one-check body allocates no array). Not copyable, so its parts move into the evaluation.
struct DecodedCheck: ~Copyable {
    /// The inline account (nil when `accountID` is set).
    var account: Account?
    var accountID: String?
    var user: User?
    var now: Timestamp?
    var explain = false
    var first: Result<Check, CheckError>?
    var more: [Result<Check, CheckError>] = []
    /// The inline account's plan and status, resolved while decoding.
    var plan: Int?
    var status = -1

    /// The public form (`first` is set on every body the decoder accepts).
    var request: CheckRequest {
        CheckRequest(
            account: accountID.map { .id($0) } ?? .inline(account!), user: user, now: now, explain: explain,
            checks: [first!] + more)
    }
}

/// Why `Engine.answerInline` could not answer a body by itself.
public enum InlineAnswerFailure: Error, Sendable, Equatable {
    /// The request is malformed (SPEC §6.5 request-level errors).
    case invalid(RequestError)
    /// The body names its account by id: the caller resolves it (from a store) and calls `Engine.respond`.
    case accountID(String)
}

/// The in-process API over request bodies: decode a body into evaluator inputs, then respond for resolved inputs.
/// Nothing here knows HTTP or a store: errors are typed values (`RequestError`: code, detail, path), and an account
/// given by id comes back as `AccountReference.id` for the caller to resolve. Services embedding `Rules` +
/// `Evaluator` can also use `Program` and `Evaluation` directly.
public enum Engine {
    /// Decodes a `/v1/check` body. Well-formed bodies take the byte-level fast path; everything else goes through
    /// the generic parser and decoder (same requests, exact errors). `fastPath: false` forces the generic path
    /// (tests and the fuzzer compare both).
    public static func decodeCheck(
        _ program: Program, body: [UInt8], fastPath: Bool = true
    ) -> Result<CheckRequest, RequestError> {
        let decoder = RequestDecoder(program: program)
        if fastPath,
            let fast = body.withUnsafeBufferPointer({ bytes -> CheckRequest? in
                var d = DecodedCheck()
                return FastCheckDecoder.decode(bytes, decoder, into: &d) ? d.request : nil
            })
        {
            return .success(fast)
        }
        return decodeGeneric(decoder, body: body)
    }

    /// The generic parser and decoder (every body; the exact errors).
    static func decodeGeneric(_ decoder: RequestDecoder, body: [UInt8]) -> Result<CheckRequest, RequestError> {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            return .failure(RequestError(detail: "body is not valid JSON: \(error)"))
        }
        do {
            return .success(try decoder.checkRequest(value))
        } catch {
            return .failure(error)
        }
    }

    /// Decodes a `/v1/entitlements` body (`{account, user?, now?}`).
    public static func decodeSnapshot(_ program: Program, body: [UInt8]) -> Result<SnapshotRequest, RequestError> {
        do throws(RequestError) {
            let m = try RequestDecoder.bodyMembers(body, allowed: ["account", "user", "now"])
            let (account, user, now) = try RequestDecoder(program: program).subject(m)
            return .success(SnapshotRequest(account: account, user: user, now: now))
        } catch {
            return .failure(error)
        }
    }

    /// The `/v1/check` response bytes for a decoded request and its resolved, prepared account.
    public static func respond(
        _ program: Program, _ request: CheckRequest, account: consuming PreparedAccount, now: Timestamp,
        tally: inout DecisionTally
    ) -> [UInt8] {
        respond(
            program, user: request.user, explain: request.explain, first: request.checks[0],
            more: request.checks.dropFirst(), account: account, now: now, tally: &tally)
    }

    /// The response for the checks `first` and `more` (the public form's array, or a decoded body's inline first
    /// check and the rest).
    static func respond<More: Collection<Result<Check, CheckError>>>(
        _ program: Program, user: consuming User?, explain: Bool, first: borrowing Result<Check, CheckError>,
        more: More, account: consuming PreparedAccount, now: Timestamp, tally: inout DecisionTally
    ) -> [UInt8] {
        var ev = Evaluation(program: program, account: account, user: user, now: now, explain: explain)
        // Written in stack scratch with room for a denial body or two per check; the response array is the one
        // allocation.
        return JSONWriter.withScratch(min(384 + 256 * (1 + more.count), 16_384)) { w in
            w.append(program.responsePrefix)
            w.timestamp(now)
            w.raw(",\"results\":[")
            ev.answer(first, program, into: &w, tally: &tally)
            for c in more {
                w.append(UInt8(ascii: ","))
                ev.answer(c, program, into: &w, tally: &tally)
            }
            w.raw("]}")
            return w.bytes
        }
    }

    /// The `/v1/entitlements` snapshot for a resolved, prepared account.
    public static func snapshot(_ program: Program, account: PreparedAccount, user: User?, now: Timestamp) -> JSONValue
    {
        var ev = Evaluation(program: program, account: account, user: user, now: now)
        return ev.snapshot()
    }

    /// Decodes and answers a `/v1/check` body whose account is inline (tools, tests, benchmarks): `now` from the
    /// body, else `clock`.
    public static func answerInline(
        _ program: Program, body: [UInt8], now clock: Timestamp, fastPath: Bool = true, tally: inout DecisionTally
    ) -> Result<[UInt8], InlineAnswerFailure> {
        switch answerCheck(program, body: body, now: clock, fastPath: fastPath, tally: &tally) {
        case .response(let bytes): return .success(bytes)
        case .invalid(let e): return .failure(.invalid(e))
        case .needsAccount(_, let id): return .failure(.accountID(id))
        }
    }

    /// What `answerCheck` made of a body.
    public enum CheckAnswer: Sendable {
        /// The response bytes: the account was inline.
        case response([UInt8])
        /// The decoded request, whose account is given by `id`: the caller resolves it and calls `respond`.
        case needsAccount(CheckRequest, id: String)
        /// The request-level error (SPEC §6.5).
        case invalid(RequestError)
    }

    /// Decodes a `/v1/check` body and, when its account is inline, answers it (`now` from the body, else `clock`).
    /// The usual shapes go byte-level from decoding to the response, their parts moved into the evaluation (no
    /// request value in between); the rest take the generic decoder. A service calls this first and resolves only
    /// `needsAccount`.
    public static func answerCheck(
        _ program: Program, body: [UInt8], now clock: Timestamp, fastPath: Bool = true, tally: inout DecisionTally
    ) -> CheckAnswer {
        let decoder = RequestDecoder(program: program)
        var byID: CheckRequest?
        if fastPath, let bytes = answerFast(program, decoder, body: body, now: clock, byID: &byID, tally: &tally) {
            return .response(bytes)
        }
        if let byID, case .id(let id) = byID.account { return .needsAccount(byID, id: id) }
        return answerGeneric(program, decoder, body: body, now: clock, tally: &tally)
    }

    /// The generic path of `answerCheck`: every body, with the exact errors.
    static func answerGeneric(
        _ program: Program, _ decoder: RequestDecoder, body: [UInt8], now clock: Timestamp,
        tally: inout DecisionTally
    ) -> CheckAnswer {
        switch decodeGeneric(decoder, body: body) {
        case .failure(let e): return .invalid(e)
        case .success(let request):
            switch request.account {
            case .id(let id): return .needsAccount(request, id: id)
            case .inline(let account):
                return .response(
                    respond(
                        program, request, account: program.prepare(account), now: request.now ?? clock, tally: &tally)
                )
            }
        }
    }

    /// The byte-level path of `answerCheck`: the response for an inline account; nil otherwise, with `byID` set when
    /// the body was read and names its account by id (small results: the common case moves no request value).
    static func answerFast(
        _ program: Program, _ decoder: RequestDecoder, body: [UInt8], now clock: Timestamp,
        byID: inout CheckRequest?, tally: inout DecisionTally
    ) -> [UInt8]? {
        body.withUnsafeBufferPointer { bytes -> [UInt8]? in
            var d = DecodedCheck()
            guard FastCheckDecoder.decode(bytes, decoder, into: &d) else { return nil }
            if d.accountID != nil {
                byID = d.request
                return nil
            }
            return respond(
                program, user: d.user.take(), explain: d.explain, first: d.first!, more: d.more,
                account: program.prepare(d.account.take()!, plan: d.plan, status: d.status), now: d.now ?? clock,
                tally: &tally)
        }
    }

    /// `answerInline` as an HTTP-like pair for tools and harnesses that embed the engine: 200 and the response, or
    /// 400 and the request-level error body (an account given by id is a 400 here too: without a store there is
    /// nothing to resolve it from).
    public static func checkBytes(
        _ program: Program, body: [UInt8], now clock: Timestamp, fastPath: Bool = true
    ) -> (status: Int, body: [UInt8]) {
        var tally = DecisionTally()
        // The byte-level path first, as `answerCheck` does (its small result keeps the common case lean).
        var byID: CheckRequest?
        if fastPath,
            let bytes = answerFast(
                program, RequestDecoder(program: program), body: body, now: clock, byID: &byID, tally: &tally)
        {
            return (200, bytes)
        }
        if byID != nil { return checkBytesError(nil) }
        switch answerGeneric(program, RequestDecoder(program: program), body: body, now: clock, tally: &tally) {
        case .response(let bytes): return (200, bytes)
        case .invalid(let e): return checkBytesError(e)
        case .needsAccount: return checkBytesError(nil)
        }
    }

    /// `checkBytes`' 400: the request-level error body for `e`, or for an account given by id when `e` is nil.
    private static func checkBytesError(_ e: RequestError?) -> (status: Int, body: [UInt8]) {
        let e = e ?? RequestError(detail: "an account given by id needs the account store", path: "account")
        var m: [(String, JSONValue)] = [("error", .string(e.code)), ("detail", .string(e.detail))]
        if let path = e.path { m.append(("path", .string(path))) }
        return (400, JSONWriter.serialize(.object(m)))
    }

    public static func answerInline(
        _ program: Program, body: [UInt8], now clock: Timestamp, fastPath: Bool = true
    ) -> Result<[UInt8], InlineAnswerFailure> {
        var tally = DecisionTally()
        return answerInline(program, body: body, now: clock, fastPath: fastPath, tally: &tally)
    }
}
