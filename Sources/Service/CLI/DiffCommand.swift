import Foundation

/// `entitlements diff OLD NEW | REV [REV2] [DIR] [--accounts FILE [--manifest FILE]] [--now T] [--exit-code]
/// [--format text|markdown]`: what a policy change changes — every compiled value of the bundle (`PolicyDump`: plans
/// and their effective grants, features, subscription, facts, lists, guards, flags, denials and any later section);
/// with sample accounts, whose decisions change (and with a route manifest, which route decisions). OLD and NEW are bundle folders, or git revisions of the bundle folder DIR (default ./Policies).
enum DiffCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(
            args, valued: ["--accounts", "--now", "--manifest", "--format"], switches: ["--exit-code"])
        let format = parsed.options["--format"] ?? "text"
        guard ["text", "markdown"].contains(format) else {
            throw UsageError(message: "--format must be text or markdown")
        }
        let sides = try GitBundle.sides(parsed.positional)
        defer { sides.cleanup() }
        let old = try loadProgram(sides.old, output: output)
        let new = try loadProgram(sides.new, output: output)
        var lines = policyChanges(old, new)
        var now = Clock.now()
        if let n = parsed.options["--now"] {
            guard let t = Timestamp.parse(n) else { throw UsageError(message: "--now must be an RFC 3339 timestamp") }
            now = t
        }
        var routes: [String] = []
        if let manifest = parsed.options["--manifest"] {
            guard parsed.options["--accounts"] != nil else { throw UsageError(message: "--manifest needs --accounts") }
            guard let text = try? String(contentsOfFile: manifest, encoding: .utf8) else {
                throw UsageError(message: "cannot read manifest '\(manifest)'")
            }
            guard let r = RoutesCommand.readManifest(text, path: manifest, output: output) else {
                return ExitCode.failure
            }
            routes = r
        }
        if let path = parsed.options["--accounts"] {
            lines += try accountChanges(old, new, accountsFile: path, now: now, routes: routes)
        }
        if format == "markdown" {
            output.out(markdown(lines, old: sides.oldLabel, new: sides.newLabel))
        } else {
            for l in lines { output.line(l.line) }
            output.line(lines.isEmpty ? "no changes" : "\(lines.count) change\(lines.count == 1 ? "" : "s")")
        }
        return parsed.flags.contains("--exit-code") && !lines.isEmpty ? ExitCode.failure : ExitCode.ok
    }

    /// A pull-request comment: a heading with the two sides, then one table per section (name, key, old, new).
    static func markdown(_ changes: [PolicyDump.Change], old: String, new: String) -> String {
        var out = "### Entitlements policy diff: `\(old)` → `\(new)`\n\n"
        if changes.isEmpty { return out + "No changes.\n" }
        var groups: [(String, [PolicyDump.Change])] = []
        for c in changes {
            if let i = groups.firstIndex(where: { $0.0 == c.section }) {
                groups[i].1.append(c)
            } else {
                groups.append((c.section, [c]))
            }
        }
        for (section, items) in groups {
            out += "**\(section)** (\(items.count))\n\n| name | key | old | new |\n|---|---|---|---|\n"
            for c in items {
                let (o, n) = c.columns
                out += "| \(code(c.name ?? "")) | \(code(c.key)) | \(cell(o)) | \(cell(n)) |\n"
            }
            out += "\n"
        }
        return out + "\(changes.count) change\(changes.count == 1 ? "" : "s").\n"
    }

    /// A table cell: escaped, and never empty (a dash for "nothing").
    static func cell(_ s: String) -> String { s.isEmpty ? "—" : markdownEscape(s) }
    static func code(_ s: String) -> String { s.isEmpty ? "" : "`\(s.replacingOccurrences(of: "`", with: "'"))`" }

    static func markdownEscape(_ s: String) -> String {
        var o = ""
        for c in s {
            if "\\`*_[]<|".contains(c) { o.append("\\") }
            o.append(c)
        }
        return o
    }

    static func text(_ j: JSONValue) -> String { JSONWriter.string(j) }

    /// `allowed (allowlisted)`, `denied subscription_inactive by active_subscription`.
    static func summary(_ d: Decision, _ p: Program) -> String {
        if d.allowed { return "allowed (\(d.reason.map { "\($0)" } ?? ""))" }
        if let detail = d.invalidPath { return "invalid_path (\(detail))" }
        var s = "denied " + (d.denial >= 0 ? p.policy.denials[d.denial].name : "?")
        if d.guardIndex >= 0 { s += " by \(p.policy.guards[d.guardIndex].name)" }
        return s
    }

    /// Changes between two bundles, in a stable order: every compiled value, compared key by key (`PolicyDump`).
    static func policyChanges(_ a: Program, _ b: Program) -> [PolicyDump.Change] {
        PolicyDump.changes(PolicyDump(program: a), PolicyDump(program: b))
    }

    /// Sample accounts (a YAML or JSON mapping of name to account, or a list of accounts with ids): whose snapshot
    /// (features, facts, flags, liveness) differs between the two bundles at `now`.
    static func accountChanges(
        _ a: Program, _ b: Program, accountsFile: String, now: Timestamp, routes: [String] = []
    ) throws -> [PolicyDump.Change] {
        var samples: [(String, JSONValue)] = []
        switch try readYAMLOrJSON(accountsFile, what: "accounts file ") {
        case .object(let m):
            for (k, v) in m {
                if case .object(var o) = v, !o.contains(where: { $0.0 == "id" }) {
                    o.insert(("id", .string(k)), at: 0); samples.append((k, .object(o)))
                } else {
                    samples.append((k, v))
                }
            }
        case .array(let items):
            for (i, v) in items.enumerated() {
                if case .string(let id)? = v["id"] { samples.append((id, v)) } else { samples.append(("#\(i)", v)) }
            }
        default:
            throw UsageError(message: "\(accountsFile): expected a mapping of name to account, or a list of accounts")
        }
        var out: [PolicyDump.Change] = []
        func change(_ name: String, _ key: String, _ old: String, _ new: String) {
            out.append(PolicyDump.Change(section: "account", name: name, key: key, kind: .changed(old, new)))
        }
        let (decodeA, decodeB) = (RequestDecoder(program: a), RequestDecoder(program: b))
        // Route decisions for a signed-in user with a verified e-mail (the common case a widened or narrowed
        // allowlist changes).
        let reviewer = User(
            id: "diff", email: "diff@example.com", emailVerifiedAt: Timestamp(seconds: 0),
            createdAt: Timestamp(seconds: 0), attributes: [:])
        let routeChecks = routes.map { route in
            let (method, path) = Evaluation.splitRoute(route)!
            return (route, Check.route(method: method, path: String(path)))
        }
        for (name, json) in samples {
            let px: PreparedAccount
            let py: PreparedAccount
            do throws(RequestError) {
                px = a.prepare(try decodeA.account(json))
                py = b.prepare(try decodeB.account(json))
            } catch {
                out.append(
                    PolicyDump.Change(
                        section: "account", name: name, key: "", kind: .note("cannot be read: \(error.detail)")))
                continue
            }
            var ea = Evaluation(program: a, account: px, user: nil, now: now)
            var eb = Evaluation(program: b, account: py, user: nil, now: now)
            var ra = Evaluation(program: a, account: px, user: reviewer, now: now)
            var rb = Evaluation(program: b, account: py, user: reviewer, now: now)
            for (route, check) in routeChecks {
                let (x, y) = (ra.decide(check), rb.decide(check))
                // The outcome (allowed, or which denial by which guard); a changed reason alone is not a change.
                if x.allowed && y.allowed { continue }
                let da = summary(x, a)
                let db = summary(y, b)
                if da != db { change(name, "route \(route)", da, db) }
            }
            let sa = ea.snapshot()
            let sb = eb.snapshot()
            for section in ["subscription", "features", "facts", "flags"] {
                guard case .object(let ma)? = sa[section], case .object(let mb)? = sb[section] else { continue }
                for (k, v) in ma {
                    let w = mb.first { $0.0 == k }?.1
                    if w == nil {
                        change(name, "\(section).\(k)", text(v), "(none)")
                    } else if w! != v {
                        change(name, "\(section).\(k)", text(v), text(w!))
                    }
                }
                for (k, w) in mb where !ma.contains(where: { $0.0 == k }) {
                    change(name, "\(section).\(k)", "(none)", text(w))
                }
            }
        }
        return out
    }
}
