import Dispatch

/// One entry of a mapping section (`features`, `plans`, …) merged across files.
struct SectionEntry {
    var key: String
    var keyNode: YAMLNode
    var value: YAMLNode
}

/// The state of one bundle compile: the files, the diagnostics collected so far and the policy being built.
/// Each section's pass lives in `BundleCompiler+<Section>.swift`; the shared field readers stay here.
struct BundleCompiler {
    let files: [SourceFile]
    let locator: Locator
    var diags = Diagnostics()
    var policy = Policy()
    var env = ExprEnvironment()
    /// Guard expressions compiled so far, by text: guards repeat the same `requires` and `when` (a bundle's names are
    /// all known by the time guards compile, so the result depends on the text alone).
    var guardExpressions: [String: Result<(Expr, ExprReads), ExprProblem>] = [:]

    // Raw sections, merged across files in reading order.
    var sections: [String: [SectionEntry]] = [:]
    /// Where each name sits in its section's entries (duplicate definitions found in constant time).
    var sectionIndex: [String: [String: Int]] = [:]
    var guardNodes: [YAMLNode] = []
    var subscriptionNode: YAMLNode?
    /// Every file's `billing` section, in reading order (merged by `compileBilling`).
    var billingNodes: [YAMLNode] = []
    var subscriptionKey: SourceLocation?
    /// Where each compiled guard's `deny:` is, and the plan/status names expressions compare with (for warnings).
    var guardDenyLocations: [SourceLocation] = []
    var nameComparisons: [NameComparison] = []
    /// Files that did not parse (their definitions are missing, not wrong).
    var unparsed: [String] = []

    /// One file as YAML: its tree (nil for an empty document) and findings, or why it did not parse.
    struct Loaded: @unchecked Sendable {
        var root: YAMLNode?
        var findings: [Diagnostic] = []
        var failure: Diagnostic?
    }

    /// A bundle of several files totalling 128 KiB or more: read on all cores, and freed off the caller's path.
    static func isLarge(_ files: [SourceFile]) -> Bool {
        files.count > 1 && files.reduce(0, { $0 + $1.bytes.count }) >= 128 * 1024
    }

    /// Parses every file and digests the bundle (SHA-256 over each path, a NUL, its bytes, a NUL, in order). Files
    /// are independent, so a large bundle parses them, and the digest, on all cores; results are used in file order
    /// either way, so diagnostics and the policy do not depend on it.
    static func read(_ files: [SourceFile]) -> ([Loaded], digest: String) {
        @Sendable func load(_ f: SourceFile) -> Loaded {
            var l = Loaded()
            do {
                l.root = try YAMLLoader.load(f.bytes, file: f.path, findings: &l.findings)
            } catch {
                l.failure = error.diagnostic
            }
            return l
        }
        @Sendable func digest() -> String {
            var d = SHA256()
            for f in files {
                d.update(f.path.utf8)
                d.update([0])
                d.update(f.bytes)
                d.update([0])
            }
            return SHA256.hex(d.finalize())
        }
        guard isLarge(files) else {
            return (files.map(load), digest())
        }
        // Each iteration writes its own slot (the last one the digest); nothing is shared while they run.
        let slots = UnsafeMutablePointer<Loaded>.allocate(capacity: files.count)
        let hex = UnsafeMutablePointer<String>.allocate(capacity: 1)
        defer {
            slots.deallocate()
            hex.deallocate()
        }
        nonisolated(unsafe) let (out, outHex) = (slots, hex)
        DispatchQueue.concurrentPerform(iterations: files.count + 1) { i in
            if i == files.count {
                outHex.initialize(to: digest())
            } else {
                (out + i).initialize(to: load(files[i]))
            }
        }
        let loaded = Array(UnsafeMutableBufferPointer(start: slots, count: files.count))
        slots.deinitialize(count: files.count)
        let d = hex.move()
        return (loaded, d)
    }

    static let mappingSections = ["features", "plans", "facts", "lists", "flags", "denials"]
    static let topLevelKeys = PolicyShape.file.names

    /// Whether the warnings pass runs (`PolicyCompiler.compile(…, warnings:)`).
    var warnings = true
    /// The parsed documents, kept after the run so that `PolicyCompiler` decides where they are freed.
    var parsed: [Loaded] = []

    init(files: [SourceFile]) {
        self.files = files
        self.locator = Locator(files: files)
    }

    mutating func run() {
        let (loaded, digest) = Self.read(files)
        defer { parsed = loaded }
        for (f, l) in zip(files, loaded) {
            policy.files.append(f.path)
            diags.append(contentsOf: l.findings)
            if let failure = l.failure {
                diags.append(failure)
                unparsed.append(f.path)
                continue
            }
            if let root = l.root { collect(root) }
        }
        policy.digest = digest
        compileFeatures()
        env.flagNames = Set((sections["flags"] ?? []).map(\.key))
        env.valueWords = Set((sections["plans"] ?? []).map(\.key)).union(policy.features.flatMap(\.values))
            .union(["active", "trialing", "past_due", "canceled", "complimentary", "incomplete", "paused", "unpaid"])
        compileLists()
        compilePlans()
        declareFacts()
        declareDenials()
        compileFacts()
        compileSubscription()
        compileGuards()
        compileFlags()
        compileDenialBodies()
        compileBilling()
        if warnings && !diags.hasErrors { warn() }
        if !unparsed.isEmpty { dropReferencesIntoUnparsedFiles() }
    }

    /// A file that does not parse defines nothing, so every reference to what it would have defined looks broken.
    /// Those follow-on errors are dropped; the parse error says once that references were not checked.
    mutating func dropReferencesIntoUnparsedFiles() {
        let references: Set<DiagnosticCode> = [
            .unknown_plan, .unknown_feature, .unknown_fact, .unknown_list, .unknown_denial,
        ]
        let dropped = diags.removeAll { references.contains($0.code) && !unparsed.contains($0.location.file) }
        guard dropped > 0 else { return }
        diags.update(where: { $0.code == .yaml_syntax && unparsed.contains($0.location.file) }) {
            $0.message +=
                "; names this file defines are unknown until it parses, so references to them in other "
                + "files were not checked"
        }
    }

    /// Splits one file's top level into sections; reports unknown keys and definitions made twice.
    mutating func collect(_ root: YAMLNode) {
        if case .scalar(_, _, _) = root.kind, root.resolved == .null { return }
        guard case .mapping(let pairs) = root.kind else {
            diags.error(
                .invalid_type, "the top level of a policy file must be a mapping of sections, got \(root.typeName)",
                at: root.start)
            return
        }
        for (k, v) in pairs {
            let key = k.scalarText ?? ""
            switch key {
            case "version":
                if v.resolved != .int(1) {
                    diags.error(.invalid_version, "version must be 1, got \(describe(v))", at: v.start)
                }
            case "subscription":
                if let first = subscriptionKey {
                    diags.error(
                        .duplicate_definition,
                        "section 'subscription' is defined twice (first at \(first)); at most one file may define it",
                        at: k.start, related: [first])
                } else if v.resolved != .null {
                    subscriptionNode = v
                    subscriptionKey = k.start
                }
            case "billing":
                if v.resolved != .null { billingNodes.append(v) }
            case "guards":
                if v.resolved == .null { continue }
                guard case .sequence(let items) = v.kind else {
                    diags.error(.invalid_type, "guards must be a list, got \(v.typeName)", at: v.start)
                    continue
                }
                guardNodes += items
            case _ where BundleCompiler.mappingSections.contains(key):
                if v.resolved == .null { continue }
                guard case .mapping(let entries) = v.kind else {
                    diags.error(.invalid_type, "\(key) must be a mapping, got \(v.typeName)", at: v.start)
                    continue
                }
                for (n, (ek, ev)) in entries.enumerated() {
                    let name = ek.scalarText ?? ""
                    if n > 0, let hint = Self.outdentedKey(key, name, ev, after: entries[n - 1].key) {
                        diags.error(.invalid_type, hint, at: ek.start)
                        continue
                    }
                    if let hint = Self.entryOfAnotherSection(key, name, ev) {
                        diags.error(.unknown_key, hint, at: ek.start)
                        continue
                    }
                    if let i = sectionIndex[key]?[name], let first = sections[key]?[i] {
                        diags.error(
                            .duplicate_definition,
                            "\(singular(key)) '\(name)' is defined twice (first at \(first.keyNode.start))",
                            at: ek.start, related: [first.keyNode.start])
                        continue
                    }
                    sectionIndex[key, default: [:]][name] = sections[key]?.count ?? 0
                    sections[key, default: []].append(SectionEntry(key: name, keyNode: ek, value: ev))
                }
            case "cases", "accounts", "users":
                // A fixture file outside `tests/` is read as policy.
                unknownKey(
                    key, at: k.start, in: "the top level", allowed: BundleCompiler.topLevelKeys,
                    note: ": this looks like a fixture file; fixtures are read from the bundle's tests/ folder only "
                        + "(move it there)")
            default:
                unknownKey(key, at: k.start, in: "the top level", allowed: BundleCompiler.topLevelKeys)
            }
        }
    }

    /// The keys an entry of each mapping section may have (facts: in their `{expr, description}` form).
    static let entryShapes: [(section: String, shape: ShapeObject)] = [
        ("features", PolicyShape.feature), ("plans", PolicyShape.plan), ("facts", PolicyShape.fact),
        ("flags", PolicyShape.flag), ("denials", PolicyShape.denial),
    ]

    /// A key of an entry indented as an entry of its own (`assignable_via` outdented to the plans' level under the
    /// last plan): it would become a plan named `assignable_via` and fail as one. Said at its own line, with the
    /// entry it belongs to. Only for a value that cannot be an entry (a plan, feature, flag or denial is a mapping).
    static func outdentedKey(_ section: String, _ name: String, _ value: YAMLNode, after previous: YAMLNode) -> String?
    {
        guard section != "facts" && section != "lists",
            let shape = entryShapes.first(where: { $0.section == section })?.shape, shape.names.contains(name),
            value.resolved != .null
        else { return nil }
        if case .mapping = value.kind { return nil }
        let owner = previous.scalarText ?? ""
        let kind = BundleCompiler.singularName(section)
        return "\(section).\(name): '\(name)' is a key of a \(kind), but it is indented like the \(section) "
            + "themselves, so it reads as a \(kind) named '\(name)'; indent it under '\(owner)' "
            + "(line \(previous.start.line)) like that \(kind)'s other keys"
    }

    /// An entry whose keys all belong to another section's entries, and not all to this one's (a denial appended
    /// under `flags:`): says where it seems to belong instead of listing its keys as unknown.
    static func entryOfAnotherSection(_ section: String, _ name: String, _ value: YAMLNode) -> String? {
        guard case .mapping(let pairs) = value.kind, !pairs.isEmpty,
            let own = entryShapes.first(where: { $0.section == section })?.shape
        else { return nil }
        let keys = pairs.map { $0.key.scalarText ?? "" }
        guard !keys.allSatisfy(own.names.contains) else { return nil }
        let others = entryShapes.filter { $0.section != section } + [("guards", PolicyShape.guardRule)]
        guard let (other, _) = others.first(where: { o in keys.allSatisfy(o.shape.names.contains) }) else {
            return nil
        }
        let kind = singularName(section)
        let where_ = other == "guards" ? "as an item of the 'guards:' list" : "under '\(other):'"
        return "\(section).\(name) looks like a \(singularName(other)) (it has \(keys.joined(separator: ", "))), "
            + "not a \(kind): move it \(where_)"
    }

    static func singularName(_ section: String) -> String {
        switch section {
        case "features": "feature"
        case "plans": "plan"
        case "facts": "fact"
        case "lists": "list"
        case "flags": "flag"
        case "denials": "denial"
        case "guards": "guard"
        default: section
        }
    }

    func singular(_ section: String) -> String { Self.singularName(section) }

    // MARK: - Helpers shared by the section passes

    /// `note` (said instead of a "did you mean") explains a key that is not a typo.
    mutating func unknownKey(
        _ key: String, at loc: SourceLocation, in what: String, allowed: [String], note: String? = nil
    ) {
        var message = "unknown key '\(key)' in \(what)"
        if key == "<<" {
            message += " (YAML merge keys are not supported)"
        } else if let note {
            message += note
        } else {
            message += Suggest.hint(key, allowed)
        }
        message += "; allowed: \(allowed.joined(separator: ", "))"
        diags.error(.unknown_key, message, at: loc)
    }

    /// The pairs of a mapping node, with unknown keys reported. Nil (and an error) when not a mapping.
    mutating func fields(
        _ node: YAMLNode, _ path: @autoclosure () -> String, allowed: [String], required: [String] = []
    ) -> [String: (key: YAMLNode, value: YAMLNode)]? {
        guard case .mapping(let pairs) = node.kind else {
            diags.error(.invalid_type, "\(path()) must be a mapping, got \(describe(node))", at: node.start)
            return nil
        }
        var out: [String: (key: YAMLNode, value: YAMLNode)] = [:]
        for (i, (k, v)) in pairs.enumerated() {
            let key = k.scalarText ?? ""
            if allowed.contains(key) {
                out[key] = (k, v)
            } else if i > 0, let hint = Self.commaInValue(pairs[i - 1], k, v) {
                diags.error(.unknown_key, "unknown key '\(key)' in \(path()); \(hint)", at: k.start)
            } else {
                unknownKey(key, at: k.start, in: path(), allowed: allowed)
            }
        }
        for r in required where out[r] == nil {
            diags.error(.missing_key, "\(path()) is missing required key '\(r)'", at: node.start)
        }
        return out
    }

    /// In a `{ }` mapping a comma ends the value: `{ description: Storage per month, in GB }` reads `in GB` as a key
    /// of its own (with no value), right after the plain text it was part of on the same line. Then the hint says to
    /// quote the text, written as it was meant.
    static func commaInValue(
        _ previous: (key: YAMLNode, value: YAMLNode), _ key: YAMLNode, _ value: YAMLNode
    ) -> String? {
        guard case .scalar(let text, .plain, nil) = previous.value.kind, case .string? = previous.value.resolved,
            case .scalar(let word, .plain, nil) = key.kind, case .null? = value.resolved,
            value.scalarText == "", previous.value.end.line == key.start.line,
            previous.value.end.column < key.start.column, let name = previous.key.scalarText
        else { return nil }
        return "a comma ends a value inside { }: to keep it in the text, quote it: \(name): \"\(text), \(word)\""
    }

    /// A short rendering of a node for messages: `'yes'`, `42`, `a list`.
    func describe(_ node: YAMLNode) -> String {
        switch node.resolved {
        case .string(let s)?: return "the string '\(s)'"
        case .int(let i)?: return "the integer \(i)"
        case .intOverflow(let s)?: return "the integer \(s)"
        case .float(let s)?: return "the number \(s)"
        case .bool(let b)?: return "the boolean \(b)"
        case .null?: return "null"
        case nil: return node.typeName
        }
    }

    mutating func string(_ node: YAMLNode, _ path: @autoclosure () -> String) -> String? {
        if case .string(let s)? = node.resolved { return s }
        var hint = ""
        switch node.resolved {
        case .int?, .intOverflow?, .float?, .bool?:
            // YAML read `2024`, `1.0` or `true` as a number or boolean: quotes keep it a string.
            if let text = node.scalarText { hint = " (to use it as text, quote it: \"\(text)\")" }
        default: break
        }
        diags.error(.invalid_type, "\(path()) must be a string, got \(describe(node))\(hint)", at: node.start)
        return nil
    }

    mutating func bool(_ node: YAMLNode, _ path: String) -> Bool? {
        if case .bool(let b)? = node.resolved { return b }
        diags.error(.invalid_type, "\(path) must be true or false, got \(describe(node))", at: node.start)
        return nil
    }

    mutating func int(_ node: YAMLNode, _ path: String, min: Int64? = nil, max: Int64? = nil) -> Int64? {
        switch node.resolved {
        case .int(let i)?:
            if let min, i < min {
                diags.error(.invalid_value, "\(path) must be at least \(min), got \(i)", at: node.start)
                return nil
            }
            if let max, i > max {
                diags.error(.invalid_value, "\(path) must be at most \(max), got \(i)", at: node.start)
                return nil
            }
            return i
        case .intOverflow(let s)?:
            diags.error(.integer_overflow, "\(path): integer \(s) is outside the signed 64-bit range", at: node.start)
        default:
            diags.error(.invalid_type, "\(path) must be an integer, got \(describe(node))", at: node.start)
        }
        return nil
    }

    mutating func stringList(_ node: YAMLNode, _ path: String) -> [(String, YAMLNode)]? {
        guard case .sequence(let items) = node.kind else {
            diags.error(.invalid_type, "\(path) must be a list, got \(describe(node))", at: node.start)
            return nil
        }
        var out: [(String, YAMLNode)] = []
        for (i, item) in items.enumerated() {
            if let s = string(item, "\(path)[\(i)]") { out.append((s, item)) }
        }
        return out
    }

    mutating func duration(_ node: YAMLNode, _ path: String, positive: Bool = true) -> PolicyDuration? {
        guard case .string(let s)? = node.resolved, let d = PolicyDuration.parse(s) else {
            var hint = ""
            if case .string(let s)? = node.resolved, let meant = PolicyDuration.suggestion(for: s) {
                hint = " (write \(meant))"
            }
            diags.error(
                .invalid_duration,
                "\(path) must be a duration like 14d or 24h (units s, m, h, d, w), got \(describe(node))\(hint)",
                at: node.start)
            return nil
        }
        if positive && d.seconds <= 0 {
            diags.error(.invalid_duration, "\(path) must be longer than zero, got \(s)", at: node.start)
            return nil
        }
        return d
    }

    static func isValidKey(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let f = u.first, f >= 97 && f <= 122 else { return false }
        return u.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    /// Reports a key that does not follow `[a-z][a-z0-9_]*`. Returns whether it is valid.
    @discardableResult
    mutating func checkKeyName(_ name: String, _ kind: String, at loc: SourceLocation) -> Bool {
        if BundleCompiler.isValidKey(name) { return true }
        var message = "\(kind) key '\(name)' must match [a-z][a-z0-9_]*"
        if name == "<<" { message = "unknown key '<<' (YAML merge keys are not supported)" }
        diags.error(name == "<<" ? .unknown_key : .invalid_name, message, at: loc)
        return false
    }

    /// Parses and type-checks an expression held by `node` (a string, or a boolean literal).
    mutating func expression(_ node: YAMLNode, _ path: String, context: ExprContext) -> (Expr, ExprReads)? {
        let text: String
        switch node.resolved {
        case .string(let s)?: text = s
        case .bool(let b)?: return (Expr(.literal(.bool(b)), offset: 0, type: .bool), ExprReads())
        default:
            diags.error(.invalid_type, "\(path) must be an expression string, got \(describe(node))", at: node.start)
            return nil
        }
        return expression(text, path, context: context, node: node, base: 0)
    }

    /// Compiles `text`, which sits at byte `base` of the scalar `node`.
    mutating func expression(
        _ text: String, _ path: String, context: ExprContext, node: YAMLNode, base: Int
    ) -> (Expr, ExprReads)? {
        let compiled: Result<(Expr, ExprReads), ExprProblem>
        if case .guardRule = context {
            if let known = guardExpressions[text] {
                compiled = known
            } else {
                compiled = ExpressionCompiler.compile(text, in: context, env: env)
                guardExpressions[text] = compiled
            }
        } else {
            compiled = ExpressionCompiler.compile(text, in: context, env: env)
        }
        switch compiled {
        case .success(let r):
            recordNameComparisons(r.0, text: text, path: path, node: node, base: base)
            return r
        case .failure(let p):
            diags.error(p.code, "\(path): \(p.message)", at: locator.location(in: node, offset: base + p.offset))
            return nil
        }
    }

    /// The text of an expression scalar as written (`true`/`false` for boolean literals).
    func expressionText(_ node: YAMLNode) -> String {
        switch node.resolved {
        case .string(let t)?: t
        case .bool(let b)?: b ? "true" : "false"
        default: node.scalarText ?? ""
        }
    }

    /// Position of byte `offset` in the scalar `node`.
    func location(_ node: YAMLNode, _ offset: Int) -> SourceLocation { locator.location(in: node, offset: offset) }
}
