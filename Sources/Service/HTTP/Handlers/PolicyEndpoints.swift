/// `GET /v1/policy` (digest, load time, files, last reload error) and `POST /v1/policy/reload` (SPEC §6.5).
enum PolicyEndpoints {
    static func info(_ req: HTTPRequest, _ context: inout RequestContext) -> HTTPResponse {
        .json(200, info(context.policy))
    }

    static func reload(_ req: HTTPRequest, _ context: inout RequestContext) throws(HTTPError) -> HTTPResponse {
        let holder = context.policy
        let outcome = holder.reload()
        outcome.log(trigger: "endpoint")
        switch outcome {
        case .swapped, .unchanged: return .json(200, info(holder))
        case .rejected(let f):
            throw HTTPError(
                422, "policy_invalid", f.message,
                extra: [("diagnostics", .array(f.diagnostics.map { .string($0.description) }))])
        }
    }

    static func info(_ policy: PolicyHolder) -> JSONValue {
        let loaded = policy.loaded
        var failure: JSONValue = .null
        if let f = policy.failure {
            failure = .object([
                ("at", .string(f.at.rfc3339)), ("message", .string(f.message)),
                ("diagnostics", .array(f.diagnostics.map { .string($0.description) })),
            ])
        }
        return .object([
            ("digest", .string(loaded.program.digest)), ("loaded_at", .string(loaded.loadedAt.rfc3339)),
            ("directory", .string(policy.directory)),
            ("files", .array(loaded.program.policy.files.map { .string($0) })),
            ("last_reload_error", failure),
        ])
    }
}
