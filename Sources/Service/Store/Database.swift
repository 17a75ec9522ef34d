internal import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// What went wrong talking to PostgreSQL.
enum StoreError: Error, CustomStringConvertible {
    /// No connection could be had, or it broke: the store is unavailable (503 `store_unavailable`).
    case unavailable(String)
    /// The server refused a statement (SQLSTATE and message): a bug or a schema problem, not the client's fault.
    case failed(sqlstate: String, message: String)

    var description: String {
        switch self {
        case .unavailable(let m): "account store unavailable: \(m)"
        case .failed(let state, let m): "account store error \(state): \(m)"
        }
    }
}

/// The rows of a result, as text (libpq's text format); nil is SQL NULL.
struct Rows {
    var values: [[String?]]
    /// Rows changed by an INSERT, UPDATE or DELETE.
    var affected: Int

    var first: [String?]? { values.first }
    var isEmpty: Bool { values.isEmpty }
}

/// One connection to PostgreSQL, the only owner of its `PGconn` (closed in deinit). Used by one thread at a time:
/// the pool hands it out. Every statement is parameterized; no SQL is built from input.
final class DatabaseConnection {
    private let raw: OpaquePointer
    /// Statements that reached the server on this connection (a failure before the first one is safe to retry).
    private(set) var statements = 0
    /// Outbox rows written by the current transaction (`Outbox.enqueue`): the delivery workers are woken after the
    /// commit when there are some.
    var outboxRows = 0

    init(_ conninfo: String) throws(StoreError) {
        guard let c = PQconnectdb(conninfo) else { throw .unavailable("out of memory") }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = Self.message(c)
            PQfinish(c)
            throw .unavailable(message)
        }
        raw = c
        // Quiet NOTICEs (CREATE ... IF NOT EXISTS says "already exists") instead of printing them on stderr.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
    }

    deinit { PQfinish(raw) }

    /// Whether the connection is still usable (a dropped one is replaced by the pool).
    var isHealthy: Bool { PQstatus(raw) == CONNECTION_OK }

    /// libpq takes parameters as C strings: a U+0000 would silently cut one short. The handlers refuse such
    /// texts with 400; this is the net under them (a text is stored exactly or not at all).
    static func refuseNUL(_ parameters: [String?]) throws(StoreError) {
        for p in parameters where p?.utf8.contains(0) == true {
            throw .failed(
                sqlstate: "22021", message: "a text parameter contains U+0000, which PostgreSQL text cannot hold")
        }
    }

    /// Runs one statement with text parameters.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> Rows {
        try Self.refuseNUL(parameters)
        let result: OpaquePointer? = withCStringArray(parameters) { values in
            PQexecParams(raw, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        let rows = try Self.rows(result, raw)
        statements += 1
        return rows
    }

    /// Waits up to `milliseconds` for NOTIFY payloads on this (LISTENing) connection and returns them in order;
    /// throws `.unavailable` when the connection is gone.
    func notifications(waitingUpTo milliseconds: Int32) throws(StoreError) -> [String] {
        var payloads = drainNotifications()
        if !payloads.isEmpty { return payloads }
        let fd = PQsocket(raw)
        guard fd >= 0 else { throw .unavailable(Self.message(raw)) }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, milliseconds)
        if ready < 0 && errno != EINTR { throw .unavailable("poll failed") }
        if ready > 0 {
            guard PQconsumeInput(raw) == 1, PQstatus(raw) == CONNECTION_OK else {
                throw .unavailable(Self.message(raw))
            }
            payloads = drainNotifications()
        }
        return payloads
    }

    private func drainNotifications() -> [String] {
        var out: [String] = []
        while let n = PQnotifies(raw) {
            out.append(n.pointee.extra.map { String(cString: $0) } ?? "")
            PQfreemem(n)
        }
        return out
    }

    /// The server process serving this connection (what `pg_terminate_backend` takes).
    var backendPID: Int32 { PQbackendPID(raw) }

    /// Sends several statements at once (libpq's pipeline mode: one round trip) and returns their rows in order.
    /// The server runs them one after the other, each with its own snapshot, as if sent one by one; when one fails,
    /// the ones after it are skipped and its error is thrown.
    func pipeline(_ batch: [(sql: String, parameters: [String?])]) throws(StoreError) -> [Rows] {
        guard PQenterPipelineMode(raw) == 1 else { throw .unavailable(Self.message(raw)) }
        defer { _ = PQexitPipelineMode(raw) }
        for (_, parameters) in batch { try Self.refuseNUL(parameters) }
        for (sql, parameters) in batch {
            let sent = withCStringArray(parameters) { values in
                PQsendQueryParams(raw, sql, Int32(parameters.count), nil, values, nil, nil, 0)
            }
            guard sent == 1 else { throw .unavailable(Self.message(raw)) }
        }
        guard PQpipelineSync(raw) == 1 else { throw .unavailable(Self.message(raw)) }
        var out: [Rows] = []
        var failure: StoreError?
        for _ in batch {
            let result = PQgetResult(raw)
            if result == nil { throw .unavailable(Self.message(raw)) }
            if failure == nil {
                do {
                    out.append(try Self.rows(result, raw))
                } catch {
                    failure = error
                }
            } else {
                PQclear(result)
            }
            // Each statement's results end with a NULL.
            while let extra = PQgetResult(raw) { PQclear(extra) }
        }
        // The sync point.
        while let r = PQgetResult(raw) {
            let done = PQresultStatus(r) == PGRES_PIPELINE_SYNC
            PQclear(r)
            if done { break }
        }
        if let failure { throw failure }
        statements += batch.count
        return out
    }

    /// Runs `body` inside one transaction: committed when it returns, rolled back when it throws.
    /// `commit: false` rolls back what `body` did (a dry run).
    func transaction<T>(commit: Bool = true, _ body: (DatabaseConnection) throws(StoreError) -> T) throws(StoreError)
        -> T
    {
        try execute("BEGIN")
        do {
            let value = try body(self)
            try execute(commit ? "COMMIT" : "ROLLBACK")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// The one place a `PGresult` becomes rows or a Swift error; the result is always cleared.
    private static func rows(_ result: OpaquePointer?, _ conn: OpaquePointer) throws(StoreError) -> Rows {
        guard let result else { throw .unavailable(message(conn)) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            let n = Int(PQntuples(result))
            let m = Int(PQnfields(result))
            var values: [[String?]] = []
            values.reserveCapacity(n)
            for r in 0..<n {
                var row: [String?] = []
                row.reserveCapacity(m)
                for c in 0..<m {
                    if PQgetisnull(result, Int32(r), Int32(c)) != 0 {
                        row.append(nil)
                    } else {
                        let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                        let bytes = PQgetvalue(result, Int32(r), Int32(c))!
                        row.append(String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self))
                    }
                }
                values.append(row)
            }
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return Rows(values: values, affected: affected)
        default:
            if PQstatus(conn) != CONNECTION_OK { throw .unavailable(message(conn)) }
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let text = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            // No SQLSTATE (libpq's own error: the server closed the connection), class 08 (connection exception)
            // and 57P (operator intervention: shutdown) mean the server went away.
            if state.isEmpty || state.hasPrefix("08") || state.hasPrefix("57P") { throw .unavailable(text) }
            throw .failed(sqlstate: state, message: text.trimmingSpaces)
        }
    }

    private static func message(_ c: OpaquePointer) -> String {
        PQerrorMessage(c).map { String(cString: $0).trimmingSpaces } ?? "unknown error"
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}

/// A `const char *const *` of NUL-terminated copies (nil stays NULL) for the duration of `body`.
private func withCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    if strings.isEmpty { return body(nil) }
    let owned: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for p in owned { free(p) } }
    return owned.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { body($0) }
    }
}
