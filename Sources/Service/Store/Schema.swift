/// The store's tables, created and migrated at start-up (SPEC §7). Idempotent, and run under an advisory lock, so
/// several replicas starting at once on an empty database all come up. Every table is keyed by account id first,
/// so the schema can be distributed by account (docs/STORE.md).
enum Schema {
    /// Bump with every migration appended to `migrations`.
    static let version = 4

    /// Instants are kept as whole seconds plus nanoseconds (`timestamptz` keeps microseconds only), and JSON
    /// documents as the text we wrote (exact, unlike `jsonb`'s normalized numbers).
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE IF NOT EXISTS ent_accounts (
                account_id text PRIMARY KEY,
                subscription text,
                attributes text NOT NULL DEFAULT '{}',
                last_event_s bigint,
                last_event_n integer,
                created_at text NOT NULL,
                updated_at text NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_overrides (
                account_id text NOT NULL,
                feature text NOT NULL,
                value text NOT NULL,
                expires_at text,
                reason text NOT NULL,
                actor text NOT NULL,
                PRIMARY KEY (account_id, feature))
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_audit (
                account_id text NOT NULL,
                seq bigint NOT NULL,
                at_s bigint NOT NULL,
                at_n integer NOT NULL,
                entry text NOT NULL,
                PRIMARY KEY (account_id, seq))
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_events (
                account_id text NOT NULL,
                event_id text NOT NULL,
                seen_s bigint NOT NULL,
                PRIMARY KEY (account_id, event_id))
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_trials (
                account_id text PRIMARY KEY,
                started_at text NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_usage (
                account_id text NOT NULL,
                feature text NOT NULL,
                idempotency_key text NOT NULL,
                at_s bigint NOT NULL,
                at_n integer NOT NULL,
                amount bigint NOT NULL,
                answer text NOT NULL,
                PRIMARY KEY (account_id, feature, idempotency_key))
            """,
            "CREATE INDEX IF NOT EXISTS ent_usage_window ON ent_usage (account_id, feature, at_s, at_n)",
        ],
        // 2: Stripe's webhooks (SPEC §6.6). Every delivery and its outcome, in arrival order (the payload is kept
        // only while the event waits for its customer to be linked to an account), and the customers
        // `checkout.session.completed` linked.
        [
            """
            CREATE TABLE IF NOT EXISTS ent_billing_events (
                seq bigserial PRIMARY KEY,
                provider text NOT NULL,
                event_id text NOT NULL,
                type text NOT NULL,
                account_id text,
                customer_id text,
                outcome text NOT NULL,
                created_s bigint NOT NULL,
                received_at text NOT NULL,
                payload text)
            """,
            "CREATE INDEX IF NOT EXISTS ent_billing_events_outcome ON ent_billing_events (outcome, seq)",
            """
            CREATE INDEX IF NOT EXISTS ent_billing_events_waiting ON ent_billing_events (customer_id, created_s)
            WHERE payload IS NOT NULL
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_stripe_customers (
                customer_id text PRIMARY KEY,
                account_id text NOT NULL,
                linked_at text NOT NULL)
            """,
        ],
        // 3: lifecycle webhooks (SPEC §6.7). Each account keeps the state its last notification described (the
        // timeline's paths, as a JSON object, and the digest of the program that computed it) and the instant it
        // next changes by time alone; endpoints; the outbox of deliveries (one row per event and endpoint, written
        // in the transaction of the change that caused it; `next_ms` is null while an earlier delivery of the same
        // endpoint and account is pending, so only the head of each chain is ever due); the usage thresholds already
        // announced.
        [
            "ALTER TABLE ent_accounts ADD COLUMN IF NOT EXISTS notified text",
            "ALTER TABLE ent_accounts ADD COLUMN IF NOT EXISTS notified_digest text",
            "ALTER TABLE ent_accounts ADD COLUMN IF NOT EXISTS next_change_s bigint",
            "ALTER TABLE ent_accounts ADD COLUMN IF NOT EXISTS next_change_n integer",
            """
            CREATE INDEX IF NOT EXISTS ent_accounts_next_change ON ent_accounts (next_change_s, next_change_n)
            WHERE next_change_s IS NOT NULL
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_webhooks (
                name text PRIMARY KEY,
                url text NOT NULL,
                secret text NOT NULL,
                events text[] NOT NULL,
                created_at text NOT NULL,
                updated_at text NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_deliveries (
                id bigserial PRIMARY KEY,
                endpoint text NOT NULL REFERENCES ent_webhooks (name) ON DELETE CASCADE,
                msg_id text NOT NULL,
                account_id text NOT NULL,
                type text NOT NULL,
                payload text NOT NULL,
                status text NOT NULL DEFAULT 'pending',
                attempts integer NOT NULL DEFAULT 0,
                created_ms bigint NOT NULL,
                window_ms bigint NOT NULL,
                next_ms bigint,
                last_ms bigint,
                last_status integer,
                last_error text,
                done_ms bigint)
            """,
            "CREATE INDEX IF NOT EXISTS ent_deliveries_due ON ent_deliveries (next_ms) WHERE status = 'pending'",
            """
            CREATE INDEX IF NOT EXISTS ent_deliveries_chain ON ent_deliveries (endpoint, account_id, id)
            WHERE status = 'pending'
            """,
            "CREATE INDEX IF NOT EXISTS ent_deliveries_list ON ent_deliveries (endpoint, status, id)",
            "CREATE INDEX IF NOT EXISTS ent_deliveries_failed ON ent_deliveries (id) WHERE status = 'failed'",
            """
            CREATE INDEX IF NOT EXISTS ent_deliveries_done ON ent_deliveries (done_ms) WHERE status = 'succeeded'
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_thresholds (
                account_id text NOT NULL,
                feature text NOT NULL,
                period text NOT NULL,
                threshold integer NOT NULL,
                PRIMARY KEY (account_id, feature, period, threshold))
            """,
        ],
        // 4: usage running totals (a period's usage is two index probes, not a sum over every record), the body
        // an idempotency key was first used with, and grants (SPEC §7 "Grants") with the draws consumption made
        // on them. Existing records get their running totals in time order; their body is unknown (NULL).
        [
            "ALTER TABLE ent_usage ADD COLUMN IF NOT EXISTS total bigint",
            "ALTER TABLE ent_usage ADD COLUMN IF NOT EXISTS granted bigint NOT NULL DEFAULT 0",
            "ALTER TABLE ent_usage ADD COLUMN IF NOT EXISTS granted_total bigint NOT NULL DEFAULT 0",
            "ALTER TABLE ent_usage ADD COLUMN IF NOT EXISTS request text",
            """
            UPDATE ent_usage u SET total = s.total
            FROM (SELECT account_id, feature, idempotency_key,
                    sum(amount) OVER (PARTITION BY account_id, feature
                                      ORDER BY at_s, at_n, idempotency_key COLLATE "C" ROWS UNBOUNDED PRECEDING)
                      AS total
                  FROM ent_usage) s
            WHERE u.account_id = s.account_id AND u.feature = s.feature AND u.idempotency_key = s.idempotency_key
            """,
            "ALTER TABLE ent_usage ALTER COLUMN total SET NOT NULL",
            "CREATE INDEX IF NOT EXISTS ent_usage_totals ON ent_usage (account_id, feature, at_s, at_n, total)",
            "DROP INDEX IF EXISTS ent_usage_window",
            "CREATE INDEX IF NOT EXISTS ent_usage_key ON ent_usage (account_id, idempotency_key)",
            """
            CREATE TABLE IF NOT EXISTS ent_grants (
                account_id text NOT NULL,
                grant_id text NOT NULL,
                feature text NOT NULL,
                amount bigint NOT NULL CHECK (amount > 0),
                used bigint NOT NULL DEFAULT 0,
                priority integer NOT NULL DEFAULT 0,
                expires_s bigint,
                expires_n integer,
                created_s bigint NOT NULL,
                created_n integer NOT NULL,
                seq bigint NOT NULL,
                voided_s bigint,
                voided_n integer,
                reason text NOT NULL,
                actor text NOT NULL,
                source text,
                idempotency_key text NOT NULL,
                request text NOT NULL,
                PRIMARY KEY (account_id, grant_id),
                UNIQUE (account_id, idempotency_key))
            """,
            """
            CREATE TABLE IF NOT EXISTS ent_grant_draws (
                account_id text NOT NULL,
                grant_id text NOT NULL,
                at_s bigint NOT NULL,
                at_n integer NOT NULL,
                amount bigint NOT NULL,
                usage_key text NOT NULL,
                PRIMARY KEY (account_id, grant_id, usage_key))
            """,
        ],
    ]

    /// An arbitrary constant naming our advisory lock.
    static let lockKey = "4471290133"

    static func migrate(_ pool: ConnectionPool) throws(StoreError) {
        try pool.withConnection { (db) throws(StoreError) in
            try db.transaction { (db) throws(StoreError) in
                try db.execute("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey])
                try db.execute("CREATE TABLE IF NOT EXISTS ent_schema (version integer NOT NULL)")
                let current = Int(try db.execute("SELECT max(version) FROM ent_schema").first?[0] ?? "0") ?? 0
                for (i, statements) in migrations.enumerated() where i + 1 > current {
                    for sql in statements { try db.execute(sql) }
                    try db.execute("INSERT INTO ent_schema (version) VALUES ($1)", [String(i + 1)])
                }
            }
        }
    }
}
