extension BundleCompiler {
    static let httpMethods = RoutePattern.httpMethods

    mutating func compileGuards() {
        var names: [String: SourceLocation] = [:]
        for (i, node) in guardNodes.enumerated() {
            var path = "guards[\(i)]"
            guard
                let f = fields(
                    node, path, allowed: PolicyShape.guardRule.names, required: PolicyShape.guardRule.required)
            else { continue }
            guard let nameNode = f["name"]?.value, let name = string(nameNode, "\(path).name") else { continue }
            guard checkKeyName(name, "guard", at: nameNode.start) else { continue }
            if let first = names[name] {
                diags.error(
                    .duplicate_definition, "guard '\(name)' is defined twice (first at \(first))", at: nameNode.start,
                    related: [first])
                continue
            }
            names[name] = nameNode.start
            path = "guards.\(name)"
            var ok = true
            var description: String?
            if let d = f["description"] { description = string(d.value, "\(path).description") }
            var appliesTo: [RoutePattern] = []
            if let a = f["applies_to"] {
                let items: [YAMLNode]
                if case .sequence(let s) = a.value.kind { items = s } else { items = [a.value] }
                for (j, item) in items.enumerated() {
                    if let p = routePattern(item, "\(path).applies_to[\(j)]") {
                        appliesTo.append(p)
                    } else {
                        ok = false
                    }
                }
            }
            var requires: (Expr, ExprReads)?
            if let r = f["requires"] {
                requires = expression(r.value, "\(path).requires", context: .guardRule)
                if let (e, _) = requires, ![.bool, .null, .dynamic].contains(e.type) {
                    diags.error(
                        .type_mismatch, "\(path).requires must be a bool expression, got \(e.type)", at: r.value.start)
                    requires = nil
                }
            }
            let deny = f["deny"].flatMap { denialReference($0.value, "\(path).deny") }
            var allow: [Guard.AllowEntry] = []
            if let a = f["allow"], a.value.resolved != .null {
                guard case .sequence(let items) = a.value.kind else {
                    diags.error(
                        .invalid_type, "\(path).allow must be a list of routes, got \(describe(a.value))",
                        at: a.value.start)
                    continue
                }
                for (j, item) in items.enumerated() {
                    let ipath = "\(path).allow[\(j)]"
                    if case .mapping = item.kind {
                        guard
                            let ef = fields(
                                item, ipath, allowed: PolicyShape.allowEntry.names,
                                required: PolicyShape.allowEntry.required),
                            let r = ef["route"], let p = routePattern(r.value, "\(ipath).route")
                        else {
                            ok = false
                            continue
                        }
                        var when: (Expr, ExprReads)?
                        if let w = ef["when"] {
                            when = expression(w.value, "\(ipath).when", context: .guardRule)
                            if when == nil { ok = false }
                        }
                        allow.append(
                            .init(
                                pattern: p, when: when?.0, whenText: ef["when"].map { expressionText($0.value) },
                                whenReads: closedReads(when?.1 ?? ExprReads()), location: item.start))
                    } else if let p = routePattern(item, ipath) {
                        allow.append(
                            .init(pattern: p, when: nil, whenText: nil, whenReads: ExprReads(), location: item.start))
                    } else {
                        ok = false
                    }
                }
            }
            guard ok, let (expr, reads) = requires, let deny, let requiresNode = f["requires"]?.value else { continue }
            policy.guards.append(
                Guard(
                    name: name, description: description, appliesTo: appliesTo, requires: expr,
                    requiresText: expressionText(requiresNode),
                    requiresReads: closedReads(reads),
                    deny: deny, allow: allow, location: nameNode.start, requiresLocation: requiresNode.start))
            guardDenyLocations.append(f["deny"]?.value.start ?? nameNode.start)
        }
    }

    /// Parses `[METHOD ]/path` with `*`, `{name}` and a final `**` (SPEC §2.7, §9).
    mutating func routePattern(_ node: YAMLNode, _ path: String) -> RoutePattern? {
        guard let text = string(node, path) else { return nil }
        let trimmed = text.trimmingSpaces
        var method: String?
        var rawPath = Substring(trimmed)
        var pathOffset = text.utf8.count - text.drop(while: { $0 == " " }).utf8.count
        if let space = trimmed.firstIndex(of: " ") {
            let m = String(trimmed[..<space])
            rawPath = trimmed[space...].drop(while: { $0 == " " })
            pathOffset += trimmed.utf8.distance(from: trimmed.startIndex, to: rawPath.startIndex)
            guard BundleCompiler.httpMethods.contains(m) else {
                diags.error(
                    .invalid_route,
                    "\(path): unknown HTTP method '\(m)' in route '\(text)'"
                        + Suggest.hint(m.uppercased() == m ? m : m.uppercased(), BundleCompiler.httpMethods),
                    at: node.start)
                return nil
            }
            method = m
        } else if BundleCompiler.httpMethods.contains(String(trimmed)) {
            diags.error(.invalid_route, "\(path): route '\(text)' has a method but no path", at: node.start)
            return nil
        }
        let at = location(node, pathOffset)
        guard rawPath.first == "/" else {
            diags.error(.invalid_route, "\(path): route path must start with '/', got '\(rawPath)'", at: at)
            return nil
        }
        if rawPath.utf8.contains(where: {
            $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: " ")
        }) {
            diags.error(
                .invalid_route, "\(path): route '\(text)' may not contain '?', '#' or spaces in its path", at: at)
            return nil
        }
        let decoded: Substring
        switch PathNormalizer.decode(rawPath.utf8) {
        case .success(let d): decoded = d
        case .failure(let failure):
            diags.error(.invalid_route, "\(path): route '\(text)' is not allowed: \(failure.detail)", at: at)
            return nil
        }
        var segments: [RoutePattern.Segment] = []
        // Segments cut on the '/' byte (ASCII: always a scalar boundary), judged by their bytes.
        let parts = decoded.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        for (k, bytes) in parts.enumerated() {
            let seg = Substring(bytes)
            let dots = bytes.allSatisfy { $0 == UInt8(ascii: ".") }
            if dots && bytes.count <= 2 {
                diags.error(.invalid_route, "\(path): route '\(text)' may not contain a '\(seg)' segment", at: at)
                return nil
            }
            if bytes.elementsEqual("**".utf8) {
                guard k == parts.count - 1 else {
                    diags.error(
                        .invalid_route, "\(path): '**' may only be the last segment of route '\(text)'", at: at)
                    return nil
                }
                segments.append(.rest)
            } else if bytes.elementsEqual("*".utf8) {
                segments.append(.one)
            } else if bytes.first == UInt8(ascii: "{") && bytes.last == UInt8(ascii: "}") && bytes.count > 2
                && bytes.dropFirst().dropLast().allSatisfy({
                    ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                        || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                        || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_")
                })
            {
                segments.append(.one)
            } else if bytes.contains(where: {
                $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}")
            }) {
                diags.error(
                    .invalid_route,
                    "\(path): segment '\(seg)' of route '\(text)' mixes a wildcard with text; use '*', '{name}' or '**' as a whole segment",
                    at: at)
                return nil
            } else {
                segments.append(.literal(String(seg)))
            }
        }
        return RoutePattern(method: method, segments: segments, text: text, location: node.start)
    }

    /// A `deny:` reference: a denial of the bundle or a built-in one.
    mutating func denialReference(_ node: YAMLNode, _ path: String) -> Int? {
        guard let name = string(node, path) else { return nil }
        if let i = policy.denialLookup[name] { return i }
        diags.error(
            .unknown_denial, "\(path): unknown denial '\(name)'" + Suggest.hint(name, policy.denialLookup.keys),
            at: node.start)
        return nil
    }
}

extension String {
    var trimmingSpaces: Substring {
        let s = drop { $0 == " " || $0 == "\t" }
        return s.dropLast(s.reversed().prefix { $0 == " " || $0 == "\t" }.count)
    }
}
