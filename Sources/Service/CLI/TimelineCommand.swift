import Evaluator
import Foundation
import Rules

/// A YAML or JSON file as a JSON value (YAML read with the fixtures' core-schema typing), or a usage error naming the
/// file and line. `what` names the file's role in messages ("accounts file ").
func readYAMLOrJSON(_ path: String, what: String) throws -> JSONValue {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UsageError(message: "cannot read \(what)'\(path)'")
    }
    var findings: [Diagnostic] = []
    let root: YAMLNode?
    do {
        root = try YAMLLoader.load([UInt8](data), file: path, findings: &findings)
    } catch {
        throw UsageError(message: "\(path):\(error.location.line): \(error.message)")
    }
    return root.map(YAMLJSON.convert) ?? .null
}

/// `entitlements timeline [DIR] --account FILE [--user FILE] [--from T] [--to T] [--manifest FILE]
/// [--format text|json]`: every boundary of an account's lifecycle the policy implies, and what changes there
/// (the computation behind `POST /v1/timeline` and the playground's timeline).
enum TimelineCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(
            args, valued: ["--account", "--user", "--from", "--to", "--manifest", "--format"], switches: [])
        let format = parsed.options["--format"] ?? "text"
        guard ["json", "text"].contains(format) else { throw UsageError(message: "--format must be json or text") }
        let dir = try parsed.directory()
        guard let accountPath = parsed.options["--account"] else {
            throw UsageError(
                message:
                    "timeline needs --account FILE (an account in YAML as in fixtures, or JSON as in a /v1/check body)"
            )
        }
        let program = try loadProgram(dir, output: output)
        let decoder = RequestDecoder(program: program)
        let account: Account
        let user: User?
        do {
            account = try decoder.account(try json(accountPath))
            user = try parsed.options["--user"].map { try decoder.user(try json($0)) }
        } catch let e as RequestError {
            output.error("error: \(e.detail)")
            return ExitCode.usage
        }
        var routes: [Timeline.Route] = []
        if let m = parsed.options["--manifest"] {
            guard let text = try? String(contentsOfFile: m, encoding: .utf8) else {
                throw UsageError(message: "cannot read manifest '\(m)'")
            }
            guard let lines = RoutesCommand.readManifest(text, path: m, output: output) else { return ExitCode.usage }
            routes = lines.map { line in
                let (method, path) = Evaluation.splitRoute(line)!
                return Timeline.Route(method: method, path: String(path), label: line)
            }
        }
        var (from, to) = Timeline.defaultSpan(account: account, user: user, now: Clock.now())
        if let f = parsed.options["--from"] {
            guard let t = Timestamp.parse(f) else { throw UsageError(message: "--from must be an RFC 3339 timestamp") }
            from = t
        }
        if let t = parsed.options["--to"] {
            guard let v = Timestamp.parse(t) else { throw UsageError(message: "--to must be an RFC 3339 timestamp") }
            to = v
        }
        guard from < to else { throw UsageError(message: "--from must be before --to") }
        let result = Timeline.compute(
            program, account: program.prepare(account), user: user, from: from, to: to, routes: routes)
        output.line(format == "json" ? JSONWriter.string(result) : text(result))
        return ExitCode.ok
    }

    /// An account or user file: YAML (as in fixtures) or JSON, which is YAML too.
    static func json(_ path: String) throws -> JSONValue {
        try readYAMLOrJSON(path, what: "")
    }

    /// One block per boundary: the instant and its causes, then each change as `what: before → after`.
    static func text(_ v: JSONValue) -> String {
        guard case .object(let m) = v else { return "" }
        func field(_ o: [(String, JSONValue)], _ k: String) -> JSONValue? { o.first { $0.0 == k }?.1 }
        func show(_ v: JSONValue?) -> String {
            guard let v else { return "null" }
            if case .string(let s) = v { return s }
            return JSONWriter.string(v)
        }
        var out = "from \(show(field(m, "from"))) to \(show(field(m, "to")))\n"
        guard case .array(let boundaries)? = field(m, "boundaries") else { return out }
        if boundaries.isEmpty { out += "no boundary: nothing changes in this span\n" }
        for b in boundaries {
            guard case .object(let bm) = b else { continue }
            var causes: [String] = []
            if case .array(let c)? = field(bm, "causes") { causes = c.map { show($0) } }
            let mark = field(bm, "notifies") == .bool(true) ? "  [webhook: entitlements.changed]" : ""
            out += "\n\(show(field(bm, "at")))  \(causes.joined(separator: "; "))\(mark)\n"
            if case .array(let changes)? = field(bm, "changes") {
                for c in changes {
                    guard case .object(let cm) = c else { continue }
                    out +=
                        "    \(show(field(cm, "what"))): \(show(field(cm, "before"))) → \(show(field(cm, "after")))\n"
                }
            }
        }
        return String(out.dropLast())
    }
}
