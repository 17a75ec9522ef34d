import Foundation

/// Webhook endpoints and their deliveries in PostgreSQL (SPEC §6.7), shared by every replica. Secrets are stored
/// (the delivery workers sign with them) and never answered.
extension AccountStore {
    /// The event types an endpoint may subscribe to.
    static let webhookEvents = ["entitlements.changed", "usage.threshold"]

    /// Creates or replaces an endpoint; whether it was created, and the endpoint as answered.
    func putWebhook(name: String, url: String, secret: String, events: [String], now: Timestamp)
        throws(StoreError) -> (created: Bool, endpoint: JSONValue)
    {
        try pool.withConnection(locking: true) { (db) throws(StoreError) in
            let row = try db.execute(
                """
                INSERT INTO ent_webhooks (name, url, secret, events, created_at, updated_at)
                VALUES ($1, $2, $3, $4::text[], $5, $5)
                ON CONFLICT (name) DO UPDATE SET url = $2, secret = $3, events = $4::text[], updated_at = $5
                RETURNING name, url, events, created_at, updated_at, (xmax = 0)
                """, [name, url, secret, Self.textArray(events), now.rfc3339]
            ).first
            return (row?[5] == "t", Self.endpoint(row ?? []))
        }
    }

    func webhook(_ name: String) throws(StoreError) -> JSONValue? {
        try pool.withConnection { (db) throws(StoreError) in
            try db.execute(
                "SELECT name, url, events, created_at, updated_at FROM ent_webhooks WHERE name = $1", [name]
            ).first.map(Self.endpoint)
        }
    }

    func webhooks() throws(StoreError) -> [JSONValue] {
        try pool.withConnection { (db) throws(StoreError) in
            try db.execute(
                "SELECT name, url, events, created_at, updated_at FROM ent_webhooks ORDER BY name COLLATE \"C\""
            ).values.map(Self.endpoint)
        }
    }

    /// Removes an endpoint and its deliveries (pending ones are not sent); the endpoint as it was, nil when none.
    func deleteWebhook(_ name: String) throws(StoreError) -> JSONValue? {
        try pool.withConnection(locking: true) { (db) throws(StoreError) in
            try db.execute(
                "DELETE FROM ent_webhooks WHERE name = $1 RETURNING name, url, events, created_at, updated_at", [name]
            ).first.map(Self.endpoint)
        }
    }

    /// An endpoint's deliveries, newest first, with ids below `before`, optionally of one status; whether more
    /// follow. nil when the endpoint does not exist.
    func deliveries(_ name: String, status: String?, before: Int64?, limit: Int) throws(StoreError)
        -> ([JSONValue], Bool)?
    {
        try pool.withConnection { (db) throws(StoreError) in
            if try db.execute("SELECT 1 FROM ent_webhooks WHERE name = $1", [name]).isEmpty { return nil }
            let rows = try db.execute(
                """
                SELECT \(Self.deliveryColumns) FROM ent_deliveries
                WHERE endpoint = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3)
                ORDER BY id DESC LIMIT $4
                """, [name, status, before.map { String($0) }, String(limit + 1)]
            ).values
            return (rows.prefix(limit).map(Self.delivery), rows.count > limit)
        }
    }

    /// Sends a delivery again, now (whatever its status): pending, due now, its retry window restarted. nil when
    /// the endpoint has no such delivery.
    func retryDelivery(_ name: String, id: Int64) throws(StoreError) -> JSONValue? {
        let row = try pool.withConnection(locking: true) { (db) throws(StoreError) in
            try db.execute(
                """
                UPDATE ent_deliveries SET status = 'pending', next_ms = $3, window_ms = $3, done_ms = NULL
                WHERE endpoint = $1 AND id = $2 RETURNING \(Self.deliveryColumns)
                """, [name, String(id), String(Clock.milliseconds())]
            ).first
        }
        if row != nil { outbox.signal() }
        return row.map(Self.delivery)
    }

    static let deliveryColumns =
        "id, msg_id, type, account_id, status, attempts, created_ms, next_ms, last_ms, last_status, last_error, done_ms, payload"

    static func delivery(_ r: [String?]) -> JSONValue {
        func instant(_ ms: String??) -> JSONValue {
            guard let ms = ms.flatMap({ $0 }).flatMap({ Int64($0) }) else { return .null }
            return .string(Self.instant(milliseconds: ms).rfc3339)
        }
        let status = r[4] ?? ""
        return .object([
            ("id", .string(r[0] ?? "")), ("webhook_id", .string(r[1] ?? "")), ("type", .string(r[2] ?? "")),
            ("account", .string(r[3] ?? "")), ("status", .string(status)),
            ("attempts", .int(Int64(r[5] ?? "0") ?? 0)), ("created_at", instant(r[6])),
            ("next_attempt_at", status == "pending" ? instant(r[7]) : .null), ("last_attempt_at", instant(r[8])),
            ("last_status", r[9].flatMap { Int64($0) }.map { .int($0) } ?? .null),
            ("last_error", r[10].map { .string($0) } ?? .null), ("done_at", instant(r[11])),
            ("payload", json(r[12]) ?? .null),
        ])
    }

    static func instant(milliseconds ms: Int64) -> Timestamp {
        Timestamp(seconds: ms / 1000, nanos: Int32(ms % 1000) * 1_000_000)
    }

    /// `{name, url, events, created_at, updated_at}`: never the secret.
    static func endpoint(_ r: [String?]) -> JSONValue {
        .object([
            ("name", .string(r[0] ?? "")), ("url", .string(r[1] ?? "")),
            ("events", .array(parseTextArray(r[2] ?? "{}").map { .string($0) })),
            ("created_at", .string(r[3] ?? "")), ("updated_at", .string(r[4] ?? "")),
        ])
    }

    /// A `text[]` parameter: every element quoted, `"` and `\` escaped; nil elements are NULL.
    static func textArray(_ items: [String?]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(items.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (k, item) in items.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            guard let item else {
                out += Array("NULL".utf8)
                continue
            }
            out.append(UInt8(ascii: "\""))
            for b in item.utf8 {
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(b)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// A `text[]` of plain words (event types) as PostgreSQL prints it.
    static func parseTextArray(_ text: String) -> [String] {
        text.dropFirst().dropLast().split(separator: ",").map {
            String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
    }
}
