/// A canonical, path-keyed dump of every compiled value of a bundle, for `diff`.
///
/// It walks the compiled `Policy` generically (by reflection), so a section or field another change adds to the
/// model is compared without new code here. The conventions it relies on, kept by the model:
/// - an array whose elements have a `name` is keyed by name (and its order compared); other arrays of structures
///   are compared as lists of items (added, removed, reordered); arrays and sets of scalars are one value;
/// - an `Int` that refers to another part of the bundle is labelled `plan`, `parent`, `lockedGrants` (or ends in
///   `Plan`: a plan), `feature` (a feature) or `deny` (a denial), and is shown and compared by name;
/// - source positions (`SourceLocation`), read-sets (`ExprReads`), `…Lookup`/`…Index` tables, the file list and
///   the digest are not part of the meaning; neither is an expression's source text (`text`, `…Text`) beside its
///   `Expr`, which compares by its checked tree (whitespace and parentheses do not count);
/// - a plan's grants are its effective values along `extends` (every feature, inherited or its own).
struct PolicyDump {
    /// A compiled value: a scalar's canonical text, a keyed map, or a list of item texts.
    indirect enum Node: Equatable {
        case leaf(String)
        /// `ordered`: built from an array, so the order of its keys means something.
        case map([Entry], ordered: Bool)
        case items([String])

        static func == (a: Node, b: Node) -> Bool { a.compact == b.compact }

        /// One line for the whole value.
        var compact: String {
            switch self {
            case .leaf(let s): s
            case .map(let entries, _):
                "{" + entries.map { "\($0.key): \($0.node.compact)" }.joined(separator: ", ") + "}"
            case .items(let xs): "[" + xs.joined(separator: ", ") + "]"
            }
        }
    }
    struct Entry {
        var key: String
        var node: Node
    }

    let program: Program
    var policy: Policy { program.policy }

    /// The whole bundle: one entry per section of `Policy`.
    var root: [Entry] {
        var out: [Entry] = []
        for child in Mirror(reflecting: policy).children {
            guard let label = child.label, !Self.skipped(label: label, value: child.value) else { continue }
            if label == "plans" {
                out.append(Entry(key: label, node: plansNode))
            } else if let n = node(child.value, label: label, feature: nil) {
                out.append(Entry(key: Self.key(label), node: n))
            }
        }
        return out
    }

    /// Plans with their effective grants in place of their own (a change to a parent shows on every child).
    var plansNode: Node {
        var plans: [Entry] = []
        for (i, plan) in policy.plans.enumerated() {
            guard case .map(var entries, _)? = structNode(plan, feature: nil) else { continue }
            let own = Set(entries.map(\.key))
            for (f, feature) in policy.features.enumerated() {
                let value = JSONWriter.string(program.grantJSON(plan: i, feature: f))
                entries.append(
                    Entry(key: own.contains(feature.name) ? "grants.\(feature.name)" : feature.name, node: .leaf(value))
                )
            }
            plans.append(Entry(key: plan.name, node: .map(entries, ordered: false)))
        }
        return .map(plans, ordered: true)
    }

    static func skipped(label: String, value: Any) -> Bool {
        if ["files", "digest", "name"].contains(label) || label.hasSuffix("Lookup") || label.hasSuffix("Index") {
            return true
        }
        let t = type(of: value)
        return value is SourceLocation || t == SourceLocation?.self || value is ExprReads
    }

    /// The YAML spelling of a model field.
    static func key(_ label: String) -> String {
        switch label {
        case "defaultValue": return "default"
        case "isPublic": return "public"
        case "parent": return "extends"
        case "kind": return "type"
        case "allow": return "allowlist"
        case "rules": return "rule"
        case "unknownStatusLive": return "unknown_status"
        default:
            var o = ""
            for c in label {
                if c.isUppercase { o += "_" + c.lowercased() } else { o.append(c) }
            }
            return o
        }
    }

    func node(_ value: Any, label: String, feature: Int?) -> Node? {
        if let t = value as? Template, case .object(let fields) = t {
            // A denial body: one key per field, so a changed field shows as `body.upgrade_url`.
            return .map(
                fields.map {
                    Entry(key: $0.key, node: node($0.value, label: label, feature: feature) ?? .leaf("null"))
                },
                ordered: false)
        }
        if let s = leaf(value, label: label, feature: feature) { return .leaf(s) }
        let m = Mirror(reflecting: value)
        switch m.displayStyle {
        case .optional:
            guard let inner = m.children.first?.value else {
                return .leaf(label == "assignableVia" ? "(every source)" : "(none)")
            }
            return node(inner, label: label, feature: feature)
        case .collection:
            let items = m.children.map(\.value)
            if items.allSatisfy({ Self.name(of: $0) != nil }) && !items.isEmpty {
                return .map(
                    items.compactMap { x in
                        node(x, label: "", feature: featureContext(x) ?? feature).map {
                            Entry(key: Self.name(of: x)!, node: $0)
                        }
                    }, ordered: true)
            }
            // Empty: a list of nothing, equal to an empty list of either kind.
            if items.isEmpty { return .items([]) }
            let nodes = items.compactMap { node($0, label: label, feature: feature) }
            if nodes.allSatisfy({ if case .leaf = $0 { true } else { false } }) {
                return .leaf("[" + nodes.map(\.compact).joined(separator: ", ") + "]")
            }
            return .items(items.map { item($0, feature: feature) })
        case .set:
            let nodes = m.children.compactMap { node($0.value, label: label, feature: feature)?.compact }
            return .leaf("[" + nodes.sorted().joined(separator: ", ") + "]")
        case .dictionary:
            var entries: [Entry] = []
            for pair in m.children {
                let kv = Array(Mirror(reflecting: pair.value).children)
                guard kv.count == 2, let n = node(kv[1].value, label: label, feature: feature) else { continue }
                entries.append(Entry(key: "\(kv[0].value)", node: n))
            }
            return .map(entries.sorted { $0.key < $1.key }, ordered: false)
        case .enum:
            guard let payload = m.children.first else { return .leaf("\(value)") }
            return node(payload.value, label: label, feature: feature)
        case .tuple:
            let parts = m.children.filter { !Self.skipped(label: "", value: $0.value) }
            if parts.count == 1 { return node(parts[0].value, label: label, feature: feature) }
            return .leaf(
                parts.compactMap { node($0.value, label: label, feature: feature)?.compact }.joined(separator: " "))
        case .struct, .class:
            return structNode(value, feature: featureContext(value) ?? feature)
        default:
            return .leaf("\(value)")
        }
    }

    /// A structure's fields as a map (its `name` is its key one level up).
    func structNode(_ value: Any, feature: Int?) -> Node? {
        let children = Mirror(reflecting: value).children
        let hasExpr = children.contains { $0.value is Expr || type(of: $0.value) == Expr?.self }
        var entries: [Entry] = []
        for child in children {
            guard let label = child.label, !Self.skipped(label: label, value: child.value) else { continue }
            if hasExpr && child.value is String? && (label == "text" || label.hasSuffix("Text")) { continue }
            if value is Plan && label == "grants" { continue }  // replaced by the effective grants
            if let n = node(child.value, label: label, feature: feature) {
                entries.append(Entry(key: Self.key(label), node: n))
            }
        }
        return .map(entries, ordered: false)
    }

    /// The feature a value's `FeatureValue`s belong to: a feature itself, or a grant's `feature`.
    func featureContext(_ value: Any) -> Int? {
        if let f = value as? Feature { return policy.feature(named: f.name) }
        for c in Mirror(reflecting: value).children where c.label == "feature" { return c.value as? Int }
        return nil
    }

    static func name(of value: Any) -> String? {
        for c in Mirror(reflecting: value).children where c.label == "name" { return c.value as? String }
        return nil
    }

    /// The text of a scalar the model holds, or nil for a structure.
    func leaf(_ value: Any, label: String, feature: Int?) -> String? {
        switch value {
        case let e as Expr: return "'" + ExprText.render(e, policy) + "'"
        case let p as RoutePattern: return ExprText.pattern(p)
        case let v as FeatureValue:
            guard let f = feature else { return "\(v)" }
            return JSONWriter.string(program.json(v, feature: f))
        case let v as FlagValue: return JSONWriter.string(Evaluation.json(v))
        case let t as Template:
            if case .object = t { return nil }
            return ExprText.template(t, policy)
        case let d as PolicyDuration: return d.description
        case let t as Timestamp: return t.description
        case let s as String: return JSONWriter.string(.string(s))
        case let b as Bool: return label == "unknownStatusLive" ? (b ? "live" : "locked") : "\(b)"
        case let i as Int:
            switch label {
            case "plan", "parent", "lockedGrants",
                _ where label.hasSuffix("Plan"):
                return policy.plans.indices.contains(i) ? policy.plans[i].name : "\(i)"
            case "feature": return policy.features.indices.contains(i) ? policy.features[i].name : "\(i)"
            case "deny": return policy.denials.indices.contains(i) ? policy.denials[i].name : "\(i)"
            default: return "\(i)"
            }
        case let i as Int64: return "\(i)"
        case let i as Int32: return "\(i)"
        case let d as Double: return "\(d)"
        default:
            if Mirror(reflecting: value).displayStyle == .enum, Mirror(reflecting: value).children.isEmpty {
                if let r = value as? any RawRepresentable, let s = r.rawValue as? String { return s }
                return "\(value)"
            }
            return nil
        }
    }

    /// One item of a list of structures, as one line: an allowlist entry as written, a flag rule as
    /// `when X -> V`, anything else as `{key: value, …}`.
    func item(_ value: Any, feature: Int?) -> String {
        switch value {
        case let e as Guard.AllowEntry:
            return ExprText.pattern(e.pattern) + (e.when.map { " when " + ExprText.render($0, policy) } ?? "")
        case let r as Flag.Rule:
            return "when \(ExprText.render(r.when, policy)) -> \(JSONWriter.string(Evaluation.json(r.value)))"
        default:
            return node(value, label: "", feature: featureContext(value) ?? feature)?.compact ?? "\(value)"
        }
    }

    // MARK: - Comparing two dumps

    /// One difference between two bundles (or, for `--accounts`, between an account's two decisions).
    struct Change: Equatable {
        enum Kind: Equatable {
            case changed(String, String)
            /// A whole entry appeared; the detail is its `type` when it has one.
            case added(String?)
            case removed
            case itemAdded(String)
            case itemRemoved(String)
            case reordered(String, String)
            case note(String)
        }
        /// `plan`, `guard`, `subscription`, `account`…; `name` is the keyed entry inside it, when there is one.
        var section: String
        var name: String?
        var key: String
        var kind: Kind

        /// `plan pro: max_trees 25 -> 30`, `guard live: allowlist + /api/status`, `subscription: trial.length 14d -> 7d`.
        var line: String {
            let head = name.map { "\(section) \($0)" } ?? section
            let k = key.isEmpty ? "" : key + " "
            switch kind {
            case .changed(let o, let n): return "\(head): \(k)\(o) -> \(n)"
            case .added(let type): return "\(head): \(k)added" + (type.map { " (\($0))" } ?? "")
            case .removed: return "\(head): \(k)removed"
            case .itemAdded(let x): return "\(head): \(k)+ \(x)"
            case .itemRemoved(let x): return "\(head): \(k)- \(x)"
            case .reordered(let o, let n): return "\(head): \(k)order \(o) -> \(n)"
            case .note(let s): return "\(head): \(k)\(s)"
            }
        }
        /// Old and new value columns for a table.
        var columns: (old: String, new: String) {
            switch kind {
            case .changed(let o, let n): (o, n)
            case .added(let type): ("", "added" + (type.map { " (\($0))" } ?? ""))
            case .removed: ("", "removed")
            case .itemAdded(let x): ("", "+ " + x)
            case .itemRemoved(let x): ("- " + x, "")
            case .reordered(let o, let n): ("order " + o, "order " + n)
            case .note(let s): ("", s)
            }
        }
    }

    /// Every difference between two bundles, in a stable order (the old bundle's order, then what only the new has).
    static func changes(_ a: PolicyDump, _ b: PolicyDump) -> [Change] {
        var out: [Change] = []
        let sa = a.root
        let sb = b.root
        for (key, x, y) in paired(sa, sb) {
            if case .map(let ex, true)? = x, case .map(let ey, true)? = y {
                // A named section: `plan pro: …`.
                let kind = key.hasSuffix("s") ? String(key.dropLast()) : key
                for (name, u, v) in paired(ex, ey) {
                    compare(u, v, section: kind, name: name, path: [], into: &out)
                }
                orderChange(ex, ey, section: key, name: nil, path: [], into: &out)
            } else {
                compare(x ?? .leaf("(none)"), y ?? .leaf("(none)"), section: key, name: nil, path: [], into: &out)
            }
        }
        return out
    }

    /// The keys of both sides in a stable order (the old side's, then those only the new one has), each with its
    /// node on either side (nil where absent).
    static func paired(_ a: [Entry], _ b: [Entry]) -> [(String, Node?, Node?)] {
        let na = Dictionary(a.map { ($0.key, $0.node) }, uniquingKeysWith: { first, _ in first })
        let nb = Dictionary(b.map { ($0.key, $0.node) }, uniquingKeysWith: { first, _ in first })
        var seen = Set<String>()
        var out: [(String, Node?, Node?)] = []
        for e in a + b where seen.insert(e.key).inserted { out.append((e.key, na[e.key], nb[e.key])) }
        return out
    }

    static func compare(
        _ x: Node?, _ y: Node?, section: String, name: String?, path: [String], into out: inout [Change]
    ) {
        // A fact's (or any entry's) `expr` is the entry's own value: `fact paid: 'a' -> 'b'`.
        let key = path.filter { $0 != "expr" }.joined(separator: ".")
        func emit(_ k: Change.Kind) { out.append(Change(section: section, name: name, key: key, kind: k)) }
        switch (x, y) {
        case (nil, nil): return
        case (nil, .leaf(let n)?): emit(.changed("(none)", n))
        case (.leaf(let o)?, nil): emit(.changed(o, "(none)"))
        case (nil, let n?):
            // What a new entry holds is what a reviewer reads: the `added` line, then each of its values.
            emit(.added(typeDetail(n)))
            if case .map(let entries, _) = n {
                for e in entries where e.key != "type" && e.node != .leaf("(none)") && e.node != .items([]) {
                    compare(nil, e.node, section: section, name: name, path: path + [e.key], into: &out)
                }
            } else if case .items(let items) = n {
                for i in items { out.append(Change(section: section, name: name, key: key, kind: .itemAdded(i))) }
            }
        case (_?, nil): emit(.removed)
        case (.map(let ex, let ordered)?, .map(let ey, _)?):
            for (k, u, v) in paired(ex, ey) {
                compare(u, v, section: section, name: name, path: path + [k], into: &out)
            }
            if ordered { orderChange(ex, ey, section: section, name: name, path: path, into: &out) }
        case (.items(let ix)?, .items(let iy)?):
            var remaining = iy
            var removed: [String] = []
            for i in ix {
                if let j = remaining.firstIndex(of: i) { remaining.remove(at: j) } else { removed.append(i) }
            }
            for i in removed { emit(.itemRemoved(i)) }
            for i in remaining { emit(.itemAdded(i)) }
            if removed.isEmpty && remaining.isEmpty && ix != iy {
                emit(.reordered("[" + ix.joined(separator: ", ") + "]", "[" + iy.joined(separator: ", ") + "]"))
            }
        case (let a?, let b?):
            // Two scalars, or a value whose shape changed (`price` absent → present).
            if a.compact != b.compact {
                if case .items(let iy) = b, case .leaf("(none)") = a {
                    for i in iy { emit(.itemAdded(i)) }
                } else if case .items(let ix) = a, case .leaf("(none)") = b {
                    for i in ix { emit(.itemRemoved(i)) }
                } else {
                    emit(.changed(a.compact, b.compact))
                }
            }
        }
    }

    static func typeDetail(_ n: Node) -> String? {
        guard case .map(let entries, _) = n, case .leaf(let t)? = entries.first(where: { $0.key == "type" })?.node
        else { return nil }
        return t
    }

    /// The keys both sides have, if they come in another order (guards run in order; flag rules too).
    static func orderChange(
        _ ex: [Entry], _ ey: [Entry], section: String, name: String?, path: [String], into out: inout [Change]
    ) {
        let ka = ex.map(\.key)
        let kb = ey.map(\.key)
        let common = Set(ka).intersection(kb)
        let oa = ka.filter(common.contains)
        let ob = kb.filter(common.contains)
        guard oa != ob else { return }
        out.append(
            Change(
                section: section, name: name, key: path.joined(separator: "."),
                kind: .reordered("[" + ka.joined(separator: ", ") + "]", "[" + kb.joined(separator: ", ") + "]")))
    }
}

/// Expressions, route patterns and denial templates in one canonical spelling: the same text for the same checked
/// tree, whatever the whitespace and redundant parentheses of the source.
enum ExprText {
    static func render(_ e: Expr, _ p: Policy) -> String { go(e, p, 0) }

    static func precedence(_ op: BinaryOp) -> Int {
        switch op {
        case .or: 1
        case .and: 2
        case .add, .sub: 5
        default: 4
        }
    }

    static func go(_ e: Expr, _ p: Policy, _ min: Int) -> String {
        let text: String
        let prec: Int
        switch e.kind {
        case .literal(let l):
            (text, prec) = (literal(l), 6)
        case .name(let n):
            switch n {
            case .fact(let i): text = "facts." + (p.facts.indices.contains(i) ? p.facts[i].name : "#\(i)")
            case .list(let i): text = "lists." + (p.lists.indices.contains(i) ? p.lists[i].name : "#\(i)")
            default: text = n.description
            }
            prec = 6
        case .not(let x):
            (text, prec) = ("not " + go(x, p, 3), 3)
        case .binary(let op, let a, let b):
            prec = precedence(op)
            switch op {
            case .or, .and: text = "\(go(a, p, prec)) \(op.rawValue) \(go(b, p, prec + 1))"
            case .add, .sub: text = "\(go(a, p, 5)) \(op.rawValue) \(go(b, p, 6))"
            default: text = "\(go(a, p, 5)) \(op.rawValue) \(go(b, p, 5))"
            }
        case .featureCall(let f, let i):
            let name = p.features.indices.contains(i) ? p.features[i].name : "#\(i)"
            (text, prec) = ("\(f.rawValue)(\(JSONWriter.string(.string(name))))", 6)
        case .call(let f, let args):
            (text, prec) = ("\(f.rawValue)(" + args.map { go($0, p, 0) }.joined(separator: ", ") + ")", 6)
        }
        return prec < min ? "(\(text))" : text
    }

    static func literal(_ l: Literal) -> String {
        switch l {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .string(let s): JSONWriter.string(.string(s))
        case .duration(let d): d.description
        case .list(let xs): "[" + xs.map { JSONWriter.string(.string($0)) }.joined(separator: ", ") + "]"
        }
    }

    /// `GET /api/v1/*/x/**`: `{name}` and `*` are the same segment.
    static func pattern(_ r: RoutePattern) -> String {
        let path = r.segments.map { s -> String in
            switch s {
            case .literal(let l): l
            case .one: "*"
            case .rest: "**"
            }
        }
        return (r.method.map { $0 + " " } ?? "") + "/" + path.joined(separator: "/")
    }

    static func template(_ t: Template, _ p: Policy) -> String {
        switch t {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .int(let i): return "\(i)"
        case .string(let s): return JSONWriter.string(.string(s.replacingOccurrences(of: "${", with: "$${")))
        case .expr(let e): return "\"${" + render(e, p) + "}\""
        case .interpolated(let parts):
            var s = ""
            for part in parts {
                switch part {
                case .text(let x): s += x.replacingOccurrences(of: "${", with: "$${")
                case .expr(let e): s += "${" + render(e, p) + "}"
                }
            }
            return JSONWriter.string(.string(s))
        case .list(let xs): return "[" + xs.map { template($0, p) }.joined(separator: ", ") + "]"
        case .object(let kv):
            return "{" + kv.map { "\($0.key): \(template($0.value, p))" }.joined(separator: ", ") + "}"
        }
    }
}
