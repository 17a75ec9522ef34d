import Foundation

/// `entitlements diff OLD_DIR NEW_DIR [--accounts FILE] [--now T]`: what a policy change changes — (plan, feature)
/// values, features, guards, allowlist entries, flags and facts; with sample accounts, whose decisions change.
enum DiffCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(args, valued: ["--accounts", "--now"], switches: [])
        guard parsed.positional.count == 2 else { throw UsageError(message: "diff takes OLD_DIR NEW_DIR") }
        let old = try loadProgram(parsed.positional[0], output: output)
        let new = try loadProgram(parsed.positional[1], output: output)
        var lines = policyChanges(old, new)
        if let path = parsed.options["--accounts"] {
            var now = Clock.now()
            if let n = parsed.options["--now"] {
                guard let t = Timestamp.parse(n) else {
                    throw UsageError(message: "--now must be an RFC 3339 timestamp")
                }
                now = t
            }
            lines += try accountChanges(old, new, accountsFile: path, now: now)
        }
        for l in lines { output.line(l) }
        output.line(lines.isEmpty ? "no changes" : "\(lines.count) change\(lines.count == 1 ? "" : "s")")
        return ExitCode.ok
    }

    static func text(_ j: JSONValue) -> String { JSONWriter.string(j) }

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
    static func accountChanges(_ a: Program, _ b: Program, accountsFile: String, now: Timestamp) throws -> [String] {
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
        for (name, json) in samples {
            let x: Account
            let y: Account
            do throws(RequestError) {
                x = try RequestDecoder(program: a).account(json)
                y = try RequestDecoder(program: b).account(json)
            } catch {
                out.append("account \(name): cannot be read: \(error.detail)")
                continue
            }
            var ea = Evaluation(program: a, account: a.prepare(x), user: nil, now: now)
            var eb = Evaluation(program: b, account: b.prepare(y), user: nil, now: now)
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
