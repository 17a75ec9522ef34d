import Foundation

/// `entitlements diff OLD NEW | REV [REV2] [DIR] [--accounts FILE [--manifest FILE]] [--now T] [--exit-code]
/// [--format text|markdown]`: what a policy change changes — (plan, feature) values, features, guards, allowlist
/// entries, flags and facts; with sample accounts, whose decisions change (and with a route manifest, which route
/// decisions). OLD and NEW are bundle folders, or git revisions of the bundle folder DIR (default ./Policies).
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
            for l in lines { output.line(l) }
            output.line(lines.isEmpty ? "no changes" : "\(lines.count) change\(lines.count == 1 ? "" : "s")")
        }
        return parsed.flags.contains("--exit-code") && !lines.isEmpty ? ExitCode.failure : ExitCode.ok
    }

    /// A pull-request comment: a heading with the two sides, then the changes grouped by what they are about.
    static func markdown(_ lines: [String], old: String, new: String) -> String {
        var out = "### Entitlements policy diff: `\(old)` → `\(new)`\n\n"
        if lines.isEmpty { return out + "No changes.\n" }
        var groups: [(String, [String])] = []
        for l in lines {
            let kind = String(l.prefix { $0 != " " && $0 != ":" })
            if let i = groups.firstIndex(where: { $0.0 == kind }) {
                groups[i].1.append(l)
            } else {
                groups.append((kind, [l]))
            }
        }
        for (kind, items) in groups {
            out += "**\(kind)** (\(items.count))\n\n"
            for l in items {
                let rest = l.dropFirst(kind.count).drop { $0 == " " }
                if let colon = rest.range(of: ": ") {
                    let change = markdownEscape(String(rest[colon.upperBound...])).replacingOccurrences(
                        of: " -> ", with: " → ")
                    out += "- `\(rest[..<colon.lowerBound])`: \(change)\n"
                } else {
                    out += "- \(markdownEscape(String(rest)))\n"
                }
            }
            out += "\n"
        }
        return out + "\(lines.count) change\(lines.count == 1 ? "" : "s").\n"
    }

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

    /// Walks two name-keyed lists in a stable order (the old order, then names only the new one has): one line
    /// `KIND NAME: added|removed`, or one per change `changes` reports for a name in both.
    static func compare<T>(
        _ kind: String, _ xs: [T], _ ys: [T], _ name: (T) -> String, added: (T) -> String = { _ in "added" },
        _ changes: (T, T) -> [String]
    ) -> [String] {
        let na = xs.map(name)
        let nb = ys.map(name)
        var out: [String] = []
        for n in na + nb.filter({ !na.contains($0) }) {
            switch (na.firstIndex(of: n), nb.firstIndex(of: n)) {
            case (nil, let j?): out.append("\(kind) \(n): \(added(ys[j]))")
            case (_?, nil): out.append("\(kind) \(n): removed")
            case (let i?, let j?): out += changes(xs[i], ys[j]).map { "\(kind) \(n): \($0)" }
            default: break
            }
        }
        return out
    }

    /// Changes between two bundles, one line each, in a stable order.
    static func policyChanges(_ a: Program, _ b: Program) -> [String] {
        let pa = a.policy
        let pb = b.policy
        var out = compare("feature", pa.features, pb.features, \.name, added: { "added (\($0.kind.rawValue))" }) {
            x, y in
            var c: [String] = []
            if x.kind != y.kind { c.append("type \(x.kind.rawValue) -> \(y.kind.rawValue)") }
            let dx = text(a.json(x.defaultValue, feature: a.featureID(x.name)!))
            let dy = text(b.json(y.defaultValue, feature: b.featureID(y.name)!))
            if dx != dy { c.append("default \(dx) -> \(dy)") }
            if x.values != y.values { c.append("values \(x.values) -> \(y.values)") }
            if x.period != y.period { c.append("period \(x.period.rawValue) -> \(y.period.rawValue)") }
            return c
        }
        // Each plan's effective value of each feature (along `extends`).
        let featureNames = pa.features.map(\.name) + pb.features.map(\.name).filter { a.featureID($0) == nil }
        out += compare(
            "plan", pa.plans.enumerated().map { ($0.offset, $0.element) },
            pb.plans.enumerated().map { ($0.offset, $0.element) },
            \.1.name
        ) { x, y in
            var c: [String] = []
            for f in featureNames {
                let vx =
                    a.featureID(f).map { text(a.json(a.grant(plan: x.0, feature: $0).value, feature: $0)) } ?? "(none)"
                let vy =
                    b.featureID(f).map { text(b.json(b.grant(plan: y.0, feature: $0).value, feature: $0)) } ?? "(none)"
                if vx != vy { c.append("\(f) \(vx) -> \(vy)") }
            }
            let ex = x.1.parent.map { pa.plans[$0].name }
            let ey = y.1.parent.map { pb.plans[$0].name }
            if ex != ey { c.append("extends \(ex ?? "(none)") -> \(ey ?? "(none)")") }
            return c
        }
        // Guards and their allowlists (order matters: guards run in order).
        out += compare("guard", pa.guards, pb.guards, \.name) { x, y in
            var c: [String] = []
            if x.requiresText != y.requiresText { c.append("requires '\(x.requiresText)' -> '\(y.requiresText)'") }
            if pa.denials[x.deny].name != pb.denials[y.deny].name {
                c.append("deny \(pa.denials[x.deny].name) -> \(pb.denials[y.deny].name)")
            }
            let ax = x.appliesTo.map(\.text)
            let ay = y.appliesTo.map(\.text)
            if ax != ay { c.append("applies_to \(ax) -> \(ay)") }
            let entry = { (e: Guard.AllowEntry) in e.pattern.text + (e.whenText.map { " when \($0)" } ?? "") }
            let lx = x.allow.map(entry)
            let ly = y.allow.map(entry)
            c += lx.filter { !ly.contains($0) }.map { "allowlist - \($0)" }
            c += ly.filter { !lx.contains($0) }.map { "allowlist + \($0)" }
            return c
        }
        let ga = pa.guards.map(\.name)
        let gb = pb.guards.map(\.name)
        if ga.filter(gb.contains) != gb.filter(ga.contains) { out.append("guards: order \(ga) -> \(gb)") }
        out += compare("flag", pa.flags, pb.flags, \.name) { x, y in
            var c: [String] = []
            if x.defaultValue != y.defaultValue {
                c.append("default \(text(Evaluation.json(x.defaultValue))) -> \(text(Evaluation.json(y.defaultValue)))")
            }
            let rule = { (r: Flag.Rule) in "when \(r.whenText) -> \(text(Evaluation.json(r.value)))" }
            let rx = x.rules.map(rule)
            let ry = y.rules.map(rule)
            guard rx != ry else { return c }
            c += rx.filter { !ry.contains($0) }.map { "rule - \($0)" }
            c += ry.filter { !rx.contains($0) }.map { "rule + \($0)" }
            if Set(rx) == Set(ry) { c.append("rules reordered") }
            return c
        }
        out += compare("fact", pa.facts, pb.facts, \.name) { x, y in
            x.text != y.text ? ["'\(x.text)' -> '\(y.text)'"] : []
        }
        return out
    }

    /// Sample accounts (a YAML or JSON mapping of name to account, or a list of accounts with ids): whose snapshot
    /// (features, facts, flags, liveness) differs between the two bundles at `now`.
    static func accountChanges(
        _ a: Program, _ b: Program, accountsFile: String, now: Timestamp, routes: [String] = []
    ) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: accountsFile) else {
            throw UsageError(message: "cannot read accounts file '\(accountsFile)'")
        }
        var findings: [Diagnostic] = []
        let root: YAMLNode?
        do {
            root = try YAMLLoader.load([UInt8](data), file: accountsFile, findings: &findings)
        } catch {
            throw UsageError(message: "\(accountsFile):\(error.location.line): \(error.message)")
        }
        var samples: [(String, JSONValue)] = []
        switch root.map(YAMLJSON.convert) {
        case .object(let m)?:
            for (k, v) in m {
                if case .object(var o) = v, !o.contains(where: { $0.0 == "id" }) {
                    o.insert(("id", .string(k)), at: 0); samples.append((k, .object(o)))
                } else {
                    samples.append((k, v))
                }
            }
        case .array(let items)?:
            for (i, v) in items.enumerated() {
                if case .string(let id)? = v["id"] { samples.append((id, v)) } else { samples.append(("#\(i)", v)) }
            }
        default:
            throw UsageError(message: "\(accountsFile): expected a mapping of name to account, or a list of accounts")
        }
        var out: [String] = []
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
                out.append("account \(name): cannot be read: \(error.detail)")
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
                if da != db { out.append("account \(name): route \(route) \(da) -> \(db)") }
            }
            let sa = ea.snapshot()
            let sb = eb.snapshot()
            for section in ["subscription", "features", "facts", "flags"] {
                guard case .object(let ma)? = sa[section], case .object(let mb)? = sb[section] else { continue }
                for (k, v) in ma {
                    let w = mb.first { $0.0 == k }?.1
                    if w == nil {
                        out.append("account \(name): \(section).\(k) \(text(v)) -> (none)")
                    } else if w! != v {
                        out.append("account \(name): \(section).\(k) \(text(v)) -> \(text(w!))")
                    }
                }
                for (k, w) in mb where !ma.contains(where: { $0.0 == k }) {
                    out.append("account \(name): \(section).\(k) (none) -> \(text(w))")
                }
            }
        }
        return out
    }
}
