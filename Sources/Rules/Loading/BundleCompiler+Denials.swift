extension BundleCompiler {
    /// Denial names are known before guards reference them; bodies compile after facts.
    mutating func declareDenials() {
        for (name, status) in Denial.builtIn {
            policy.denialLookup[name] = policy.denials.count
            policy.denials.append(
                Denial(name: name, status: status, body: .object([]), description: nil, location: nil))
        }
        for e in sections["denials"] ?? [] {
            guard checkKeyName(e.key, "denial", at: e.keyNode.start) else { continue }
            if e.key == "invalid_path" {
                diags.error(
                    .reserved_denial, "denials.invalid_path is built in (400) and cannot be redefined",
                    at: e.keyNode.start)
                continue
            }
            if policy.denialLookup[e.key] == nil {
                policy.denialLookup[e.key] = policy.denials.count
                policy.denials.append(
                    Denial(name: e.key, status: 0, body: .object([]), description: nil, location: e.keyNode.start))
            } else {
                policy.denials[policy.denialLookup[e.key]!].location = e.keyNode.start
            }
        }
    }

    mutating func compileDenialBodies() {
        for e in sections["denials"] ?? [] {
            guard let index = policy.denialLookup[e.key], e.key != "invalid_path" else { continue }
            let path = "denials.\(e.key)"
            let builtIn = Denial.builtIn.contains { $0.0 == e.key }
            guard
                let f = fields(
                    e.value, path, allowed: PolicyShape.denial.names, required: builtIn ? [] : ["status"])
            else {
                continue
            }
            if let s = f["status"], let status = int(s.value, "\(path).status") {
                if (400...599).contains(status) {
                    policy.denials[index].status = Int(status)
                } else {
                    diags.error(
                        .invalid_value, "\(path).status must be an HTTP error status (400–599), got \(status)",
                        at: s.value.start)
                }
            }
            if let d = f["description"] { policy.denials[index].description = string(d.value, "\(path).description") }
            if let b = f["body"], let body = template(b.value, "\(path).body") { policy.denials[index].body = body }
        }
    }

    /// Converts a YAML value into a JSON template, compiling every `${…}`.
    mutating func template(_ node: YAMLNode, _ path: String) -> Template? {
        switch node.kind {
        case .mapping(let pairs):
            var out: [(key: String, value: Template)] = []
            var ok = true
            for (k, v) in pairs {
                guard case .string(let key)? = k.resolved else {
                    diags.error(.invalid_type, "\(path): body keys must be strings, got \(describe(k))", at: k.start)
                    ok = false
                    continue
                }
                if let t = template(v, "\(path).\(key)") { out.append((key, t)) } else { ok = false }
            }
            return ok ? .object(out) : nil
        case .sequence(let items):
            var out: [Template] = []
            for (i, item) in items.enumerated() {
                guard let t = template(item, "\(path)[\(i)]") else { return nil }
                out.append(t)
            }
            return .list(out)
        case .scalar:
            switch node.resolved! {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .intOverflow(let s):
                diags.error(
                    .integer_overflow, "\(path): integer \(s) is outside the signed 64-bit range", at: node.start)
                return nil
            case .float(let s):
                diags.error(
                    .invalid_value, "\(path): decimal numbers are not supported in bodies, got \(s)", at: node.start)
                return nil
            case .string(let s): return interpolation(s, node, path)
            }
        }
    }

    /// Splits a string on `${…}` (with `$${` as a literal `${`) and compiles each expression.
    mutating func interpolation(_ s: String, _ node: YAMLNode, _ path: String) -> Template? {
        let u = Array(s.utf8)
        var parts: [TemplatePart] = []
        var text: [UInt8] = []
        var i = 0
        var ok = true
        while i < u.count {
            if u[i] == UInt8(ascii: "$"), i + 2 < u.count, u[i + 1] == UInt8(ascii: "$"), u[i + 2] == UInt8(ascii: "{")
            {
                text += Array("${".utf8)
                i += 3
                continue
            }
            guard u[i] == UInt8(ascii: "$"), i + 1 < u.count, u[i + 1] == UInt8(ascii: "{") else {
                text.append(u[i])
                i += 1
                continue
            }
            // Find the closing brace outside string literals.
            var j = i + 2
            var inString = false
            while j < u.count {
                if inString {
                    if u[j] == UInt8(ascii: "\\") { j += 1 } else if u[j] == UInt8(ascii: "\"") { inString = false }
                } else if u[j] == UInt8(ascii: "\"") {
                    inString = true
                } else if u[j] == UInt8(ascii: "}") {
                    break
                }
                j += 1
            }
            guard j < u.count else {
                diags.error(.invalid_template, "\(path): '${' is not closed by '}'", at: location(node, i))
                return nil
            }
            let exprText = String(decoding: u[(i + 2)..<j], as: UTF8.self)
            if !text.isEmpty {
                parts.append(.text(String(decoding: text, as: UTF8.self)))
                text = []
            }
            if let (e, _) = expression(exprText, path, context: .denialTemplate, node: node, base: i + 2) {
                if e.type == .duration {
                    diags.error(
                        .invalid_interpolation,
                        "\(path): a duration cannot be interpolated ('${\(exprText)}' is a duration)",
                        at: location(node, i))
                    ok = false
                } else {
                    parts.append(.expr(e))
                }
            } else {
                ok = false
            }
            i = j + 1
        }
        if !text.isEmpty { parts.append(.text(String(decoding: text, as: UTF8.self))) }
        guard ok else { return nil }
        if parts.count == 1, case .expr(let e) = parts[0] { return .expr(e) }
        if parts.allSatisfy({ if case .text = $0 { true } else { false } }) {
            return .string(parts.map { if case .text(let t) = $0 { t } else { "" } }.joined())
        }
        return .interpolated(parts)
    }
}
