extension BundleCompiler {
    mutating func compileFlags() {
        for e in sections["flags"] ?? [] {
            guard checkKeyName(e.key, "flag", at: e.keyNode.start) else { continue }
            let path = "flags.\(e.key)"
            guard let f = fields(e.value, path, allowed: PolicyShape.flag.names) else { continue }
            var type: FlagType?
            if let t = f["type"], let s = string(t.value, "\(path).type") {
                type = FlagType(rawValue: s)
                if type == nil {
                    diags.error(
                        .invalid_value,
                        "\(path).type: unknown flag type '\(s)'" + Suggest.hint(s, ["boolean", "string", "integer"])
                            + "; allowed: boolean, string, integer", at: t.value.start)
                    continue
                }
            }
            guard let d = f["default"] else {
                diags.error(.missing_key, "\(path) is missing required key 'default'", at: e.value.start)
                continue
            }
            if type == nil {
                // Without `type`, the default's YAML type decides.
                switch d.value.resolved {
                case .bool?: type = .boolean
                case .int?: type = .integer
                case .string?: type = .string
                default: break
                }
            }
            guard let type, let defaultValue = flagValue(d.value, type, "\(path).default", flag: e.key) else {
                if type == nil {
                    diags.error(
                        .invalid_value,
                        "\(path).default must be a boolean, string or integer, got \(describe(d.value))",
                        at: d.value.start)
                }
                continue
            }
            var flag = Flag(
                name: e.key, type: type, description: nil, defaultValue: defaultValue, rules: [],
                location: e.keyNode.start)
            if let desc = f["description"] { flag.description = string(desc.value, "\(path).description") }
            var ok = true
            if let r = f["rules"], r.value.resolved != .null {
                guard case .sequence(let items) = r.value.kind else {
                    diags.error(
                        .invalid_type, "\(path).rules must be a list, got \(describe(r.value))", at: r.value.start)
                    continue
                }
                for (i, item) in items.enumerated() {
                    let rpath = "\(path).rules[\(i)]"
                    guard
                        let rf = fields(
                            item, rpath, allowed: PolicyShape.flagRule.names, required: PolicyShape.flagRule.required),
                        let w = rf["when"], let v = rf["value"]
                    else {
                        ok = false
                        continue
                    }
                    if let dd = rf["description"] { _ = string(dd.value, "\(rpath).description") }
                    let value = flagValue(v.value, type, "\(rpath).value", flag: e.key)
                    guard let (expr, reads) = expression(w.value, "\(rpath).when", context: .flagRule), let value else {
                        ok = false
                        continue
                    }
                    if ![.bool, .null, .dynamic].contains(expr.type) {
                        diags.error(
                            .type_mismatch, "\(rpath).when must be a bool expression, got \(expr.type)",
                            at: w.value.start)
                        ok = false
                        continue
                    }
                    flag.rules.append(
                        .init(
                            when: expr, whenText: expressionText(w.value), reads: closedReads(reads), value: value,
                            location: item.start))
                }
            }
            if ok { policy.flags.append(flag) }
        }
    }

    mutating func flagValue(_ node: YAMLNode, _ type: FlagType, _ path: String, flag: String) -> FlagValue? {
        switch (type, node.resolved) {
        case (.boolean, .bool(let b)?): return .bool(b)
        case (.string, .string(let s)?): return .string(s)
        case (.integer, .int(let i)?): return .int(i)
        case (.integer, .intOverflow(let s)?):
            diags.error(.integer_overflow, "\(path): integer \(s) is outside the signed 64-bit range", at: node.start)
        default:
            diags.error(
                .type_mismatch, "\(path): flag '\(flag)' is \(type.rawValue), got \(describe(node))", at: node.start)
        }
        return nil
    }
}
