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

    /// Changes between two bundles, one line each, in a stable order.
    static func policyChanges(_ a: Program, _ b: Program) -> [String] {
        var out: [String] = []
        let pa = a.policy
        let pb = b.policy
        func keyed<T>(_ xs: [T], _ name: (T) -> String) -> [String: T] {
            Dictionary(xs.map { (name($0), $0) }, uniquingKeysWith: { x, _ in x })
        }
        func names(_ x: [String], _ y: [String]) -> [String] { x + y.filter { !x.contains($0) } }
        // Features.
        let fa = keyed(pa.features, \.name)
        let fb = keyed(pb.features, \.name)
        for n in names(pa.features.map(\.name), pb.features.map(\.name)) {
            switch (fa[n], fb[n]) {
            case (nil, let f?): out.append("feature \(n): added (\(f.kind.rawValue))")
            case (_?, nil): out.append("feature \(n): removed")
            case (let x?, let y?):
                if x.kind != y.kind { out.append("feature \(n): type \(x.kind.rawValue) -> \(y.kind.rawValue)") }
                let dx = text(a.json(x.defaultValue, feature: a.featureID(n)!))
                let dy = text(b.json(y.defaultValue, feature: b.featureID(n)!))
                if dx != dy { out.append("feature \(n): default \(dx) -> \(dy)") }
                if x.values != y.values { out.append("feature \(n): values \(x.values) -> \(y.values)") }
                if x.period != y.period {
                    out.append("feature \(n): period \(x.period.rawValue) -> \(y.period.rawValue)")
                }
            default: break
            }
        }
        // (plan, feature) values, with the granting plan.
        let planNames = names(pa.plans.map(\.name), pb.plans.map(\.name))
        for p in planNames {
            let ia = pa.plans.firstIndex { $0.name == p }
            let ib = pb.plans.firstIndex { $0.name == p }
            switch (ia, ib) {
            case (nil, _?): out.append("plan \(p): added")
            case (_?, nil): out.append("plan \(p): removed")
            case (let x?, let y?):
                for f in names(pa.features.map(\.name), pb.features.map(\.name)) {
                    let vx =
                        a.featureID(f).map { text(a.json(a.grant(plan: x, feature: $0).value, feature: $0)) }
                        ?? "(none)"
                    let vy =
                        b.featureID(f).map { text(b.json(b.grant(plan: y, feature: $0).value, feature: $0)) }
                        ?? "(none)"
                    if vx != vy { out.append("plan \(p): \(f) \(vx) -> \(vy)") }
                }
                let ex = pa.plans[x].parent.map { pa.plans[$0].name }
                let ey = pb.plans[y].parent.map { pb.plans[$0].name }
                if ex != ey { out.append("plan \(p): extends \(ex ?? "(none)") -> \(ey ?? "(none)")") }
            default: break
            }
        }
        // Guards and their allowlists (order matters: guards run in order).
        let ga = keyed(pa.guards, \.name)
        let gb = keyed(pb.guards, \.name)
        for n in names(pa.guards.map(\.name), pb.guards.map(\.name)) {
            switch (ga[n], gb[n]) {
            case (nil, _?): out.append("guard \(n): added")
            case (_?, nil): out.append("guard \(n): removed")
            case (let x?, let y?):
                if x.requiresText != y.requiresText {
                    out.append("guard \(n): requires '\(x.requiresText)' -> '\(y.requiresText)'")
                }
                if pa.denials[x.deny].name != pb.denials[y.deny].name {
                    out.append("guard \(n): deny \(pa.denials[x.deny].name) -> \(pb.denials[y.deny].name)")
                }
                let ax = x.appliesTo.map(\.text)
                let ay = y.appliesTo.map(\.text)
                if ax != ay { out.append("guard \(n): applies_to \(ax) -> \(ay)") }
                let entry = { (e: Guard.AllowEntry) in e.pattern.text + (e.whenText.map { " when \($0)" } ?? "") }
                let lx = x.allow.map(entry)
                let ly = y.allow.map(entry)
                for e in lx where !ly.contains(e) { out.append("guard \(n): allowlist - \(e)") }
                for e in ly where !lx.contains(e) { out.append("guard \(n): allowlist + \(e)") }
            default: break
            }
        }
        if pa.guards.map(\.name).filter({ gb[$0] != nil }) != pb.guards.map(\.name).filter({ ga[$0] != nil }) {
            out.append("guards: order \(pa.guards.map(\.name)) -> \(pb.guards.map(\.name))")
        }
        // Flags.
        let xa = keyed(pa.flags, \.name)
        let xb = keyed(pb.flags, \.name)
        for n in names(pa.flags.map(\.name), pb.flags.map(\.name)) {
            switch (xa[n], xb[n]) {
            case (nil, _?): out.append("flag \(n): added")
            case (_?, nil): out.append("flag \(n): removed")
            case (let x?, let y?):
                if x.defaultValue != y.defaultValue {
                    out.append(
                        "flag \(n): default \(text(Evaluation.json(x.defaultValue))) -> \(text(Evaluation.json(y.defaultValue)))"
                    )
                }
                let rule = { (r: Flag.Rule) in "when \(r.whenText) -> \(text(Evaluation.json(r.value)))" }
                let rx = x.rules.map(rule)
                let ry = y.rules.map(rule)
                if rx != ry {
                    for r in rx where !ry.contains(r) { out.append("flag \(n): rule - \(r)") }
                    for r in ry where !rx.contains(r) { out.append("flag \(n): rule + \(r)") }
                    if Set(rx) == Set(ry) { out.append("flag \(n): rules reordered") }
                }
            default: break
            }
        }
        // Facts.
        let ka = keyed(pa.facts, \.name)
        let kb = keyed(pb.facts, \.name)
        for n in names(pa.facts.map(\.name), pb.facts.map(\.name)) {
            switch (ka[n], kb[n]) {
            case (nil, _?): out.append("fact \(n): added")
            case (_?, nil): out.append("fact \(n): removed")
            case (let x?, let y?) where x.text != y.text: out.append("fact \(n): '\(x.text)' -> '\(y.text)'")
            default: break
            }
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
