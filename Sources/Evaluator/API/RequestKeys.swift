/// The member names of a `/v1/check` body (SPEC §6.2), shared by both decoders and by the fixture schema.
public enum RequestKeys {
    public static let request = ["account", "user", "now", "explain", "checks"]
    public static let account = ["id", "subscription", "overrides", "attributes", "grants"]
    public static let subscription = [
        "plan", "status", "period_start", "period_end", "past_due_since", "seats", "ended_at",
    ]
    public static let override = ["feature", "value", "expires_at", "reason", "actor"]
    /// A grant as `GET /v1/accounts/{id}/grants` answers it (fixtures may copy one).
    public static let grant = [
        "id", "feature", "amount", "remaining", "expires_at", "priority", "reason", "actor", "created_at", "voided_at",
    ]
    public static let user = ["id", "email", "email_verified_at", "created_at", "attributes"]
    public static let check = ["feature", "route", "flag", "usage", "amount", "value"]
}
