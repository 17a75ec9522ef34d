extension BundleCompiler {

    mutating func compileFeatures() {
        for e in sections["features"] ?? [] {
            guard checkKeyName(e.key, "feature", at: e.keyNode.start) else { continue }
            let path = "features.\(e.key)"
            guard
                let f = fields(
                    e.value, path, allowed: PolicyShape.feature.names, required: PolicyShape.feature.required)
            else {
                continue
            }
            guard let typeNode = f["type"]?.value, let typeName = string(typeNode, "\(path).type") else { continue }
            guard let kind = FeatureKind(rawValue: typeName) else {
                diags.error(
                    .invalid_value,
                    "\(path).type: unknown feature type '\(typeName)'"
                        + Suggest.hint(typeName, ["boolean", "limit", "set"])
                        + "; allowed: boolean, limit, set", at: typeNode.start)
                continue
            }
            var feature = Feature(
                name: e.key, kind: kind, description: nil, defaultValue: .bool(false), period: .none, values: [],
                location: e.keyNode.start)
            feature.defaultValue = feature.zero
            if let d = f["description"] { feature.description = string(d.value, "\(path).description") }
            if let p = f["period"] {
                if kind != .limit {
                    diags.error(
                        .not_applicable,
                        "\(path).period applies only to limit features; '\(e.key)' is a \(kind.rawValue)",
                        at: p.key.start)
                } else if let s = string(p.value, "\(path).period") {
                    if let period = Feature.Period(rawValue: s) {
                        feature.period = period
                    } else {
                        let allowed = Feature.Period.allCases.map(\.rawValue)
                        diags.error(
                            .invalid_value,
                            "\(path).period: unknown period '\(s)'" + Suggest.hint(s, allowed)
                                + "; allowed: \(allowed.joined(separator: ", "))",
                            at: p.value.start)
                    }
                }
            }
            if let r = f["rollover"] {
                if kind != .limit {
                    diags.error(
                        .not_applicable,
                        "\(path).rollover applies only to limit features; '\(e.key)' is a \(kind.rawValue)",
                        at: r.key.start)
                } else if feature.period != .month && feature.period != .billing {
                    diags.error(
                        .not_applicable,
                        "\(path).rollover needs a fixed period (month or billing); '\(e.key)' has period \(feature.period.rawValue)",
                        at: r.key.start)
                } else if let rf = fields(
                    r.value, "\(path).rollover", allowed: PolicyShape.rollover.names,
                    required: PolicyShape.rollover.required),
                    let max = rf["max"].flatMap({ int($0.value, "\(path).rollover.max", min: 1) })
                {
                    var roll = Feature.Rollover(max: max, expiresAfter: nil)
                    if let x = rf["expires_after"] {
                        roll.expiresAfter = duration(x.value, "\(path).rollover.expires_after")
                    }
                    if rf["expires_after"] == nil || roll.expiresAfter != nil { feature.rollover = roll }
                }
            }
            if let v = f["values"] {
                if kind != .set {
                    diags.error(
                        .not_applicable,
                        "\(path).values applies only to set features; '\(e.key)' is a \(kind.rawValue)", at: v.key.start
                    )
                } else if let items = stringList(v.value, "\(path).values") {
                    var seen = Set<String>()
                    for (s, node) in items {
                        if !seen.insert(s).inserted {
                            diags.error(.duplicate_value, "\(path).values lists '\(s)' twice", at: node.start)
                        } else {
                            feature.values.append(s)
                        }
                    }
                }
            } else if kind == .set {
                diags.error(
                    .missing_key, "\(path) is a set feature and needs 'values' (its closed vocabulary)",
                    at: e.value.start)
            }
            if let n = f["notify_at"] {
                if kind != .limit {
                    diags.error(
                        .not_applicable,
                        "\(path).notify_at applies only to limit features; '\(e.key)' is a \(kind.rawValue)",
                        at: n.key.start)
                } else {
                    feature.notifyAt = thresholds(n.value, "\(path).notify_at")
                }
            }
            if let d = f["default"], let v = featureValue(d.value, feature, "\(path).default") {
                feature.defaultValue = v
            }
            env.features[e.key] = (policy.features.count, kind)
            policy.features.append(feature)
        }
    }

    /// `notify_at`: a non-empty list of distinct percentages 1–100, kept ascending.
    mutating func thresholds(_ node: YAMLNode, _ path: String) -> [Int] {
        guard case .sequence(let items) = node.kind, !items.isEmpty else {
            diags.error(
                .invalid_type, "\(path) must be a non-empty list of percentages (1 to 100), got \(describe(node))",
                at: node.start)
            return []
        }
        var out: [Int] = []
        for (i, item) in items.enumerated() {
            guard let p = int(item, "\(path)[\(i)]", min: 1, max: 100) else { continue }
            if out.contains(Int(p)) {
                diags.error(.duplicate_value, "\(path) lists \(p) twice", at: item.start)
            } else {
                out.append(Int(p))
            }
        }
        return out.sorted()
    }

    /// Decodes a value for `feature`: a boolean, a non-negative integer or `unlimited`, or a list of vocabulary values.
    mutating func featureValue(_ node: YAMLNode, _ feature: Feature, _ path: String) -> FeatureValue? {
        switch feature.kind {
        case .boolean:
            if case .bool(let b)? = node.resolved { return .bool(b) }
            diags.error(
                .invalid_value,
                "\(path): boolean feature '\(feature.name)' takes true or false, got \(describe(node))",
                at: node.start)
        case .limit:
            switch node.resolved {
            case .int(let i)? where i >= 0: return .limit(i)
            case .string("unlimited")?: return .limit(nil)
            case .intOverflow(let s)?:
                diags.error(
                    .integer_overflow, "\(path): integer \(s) is outside the signed 64-bit range", at: node.start)
            default:
                var hint = ""
                if case .string(let s)? = node.resolved { hint = Suggest.hint(s, ["unlimited"]) }
                diags.error(
                    .invalid_value,
                    "\(path): limit feature '\(feature.name)' takes a non-negative integer or 'unlimited', got \(describe(node))\(hint)",
                    at: node.start)
            }
        case .set:
            guard case .sequence(let items) = node.kind else {
                diags.error(
                    .invalid_value,
                    "\(path): set feature '\(feature.name)' takes a list of values, got \(describe(node))",
                    at: node.start)
                return nil
            }
            var indexes: [Int] = []
            var ok = true
            for item in items {
                guard case .string(let s)? = item.resolved else {
                    diags.error(
                        .invalid_value, "\(path): set values must be strings, got \(describe(item))", at: item.start)
                    ok = false
                    continue
                }
                guard let i = feature.values.firstIndex(of: s) else {
                    diags.error(
                        .value_not_in_set,
                        "\(path): '\(s)' is not a value of set feature '\(feature.name)'"
                            + Suggest.hint(s, feature.values)
                            + "; allowed: \(feature.values.joined(separator: ", "))", at: item.start)
                    ok = false
                    continue
                }
                if indexes.contains(i) {
                    diags.error(.duplicate_value, "\(path) lists '\(s)' twice", at: item.start)
                    ok = false
                    continue
                }
                indexes.append(i)
            }
            return ok ? .set(indexes.sorted()) : nil
        }
        return nil
    }

    mutating func compileLists() {
        for e in sections["lists"] ?? [] {
            guard checkKeyName(e.key, "list", at: e.keyNode.start) else { continue }
            guard let items = stringList(e.value, "lists.\(e.key)") else { continue }
            env.lists[e.key] = policy.lists.count
            policy.lists.append(NamedList(name: e.key, values: items.map(\.0), location: e.keyNode.start))
        }
    }
}
