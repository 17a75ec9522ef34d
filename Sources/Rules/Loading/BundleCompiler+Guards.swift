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
                    let guardPath = path
                    func ipath() -> String { "\(guardPath).allow[\(j)]" }
                    if case .mapping = item.kind {
                        guard
                            let ef = fields(
                                item, ipath(), allowed: PolicyShape.allowEntry.names,
                                required: PolicyShape.allowEntry.required),
                            let r = ef["route"], let p = routePattern(r.value, "\(ipath()).route")
                        else {
                            ok = false
                            continue
                        }
                        var when: (Expr, ExprReads)?
                        if let w = ef["when"] {
                            when = expression(w.value, "\(ipath()).when", context: .guardRule)
                            if when == nil { ok = false }
                        }
                        allow.append(
                            .init(
                                pattern: p, when: when?.0, whenText: ef["when"].map { expressionText($0.value) },
                                whenReads: closedReads(when?.1 ?? ExprReads()), location: item.start))
                    } else if let p = routePattern(item, ipath()) {
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
    mutating func routePattern(_ node: YAMLNode, _ path: @autoclosure () -> String) -> RoutePattern? {
        guard let text = string(node, path()) else { return nil }
        // Worked on bytes (spaces, tabs and '/' are ASCII): no grapheme breaking per pattern.
        let u = text.utf8
        let space = UInt8(ascii: " ")
        var lo = u.startIndex
        var hi = u.endIndex
        while lo < hi && (u[lo] == space || u[lo] == UInt8(ascii: "\t")) { lo = u.index(after: lo) }
        while lo < hi, case let last = u.index(before: hi), u[last] == space || u[last] == UInt8(ascii: "\t") {
            hi = last
        }
        let trimmed = text[lo..<hi]
        var method: String?
        var rawPath = trimmed
        var pathOffset = u.prefix { $0 == space }.count
        let gapOffset = trimmed.utf8.withContiguousStorageIfAvailable { $0.firstIndex(of: space) }
        let gap =
            gapOffset.map { $0.map { trimmed.utf8.index(trimmed.startIndex, offsetBy: $0) } }
            ?? trimmed.utf8.firstIndex(of: space)
        if let gap {
            let m = String(trimmed[..<gap])
            var start = gap
            while start < trimmed.endIndex && trimmed.utf8[start] == space { start = trimmed.utf8.index(after: start) }
            rawPath = trimmed[start...]
            pathOffset += trimmed.utf8.distance(from: trimmed.startIndex, to: rawPath.startIndex)
            guard BundleCompiler.httpMethods.contains(m) else {
                diags.error(
                    .invalid_route,
                    "\(path()): unknown HTTP method '\(m)' in route '\(text)'"
                        + Suggest.hint(m.uppercased() == m ? m : m.uppercased(), BundleCompiler.httpMethods),
                    at: node.start)
                return nil
            }
            method = m
        } else if trimmed.utf8.first != UInt8(ascii: "/"),
            BundleCompiler.httpMethods.contains(where: { $0.utf8.elementsEqual(trimmed.utf8) })
        {
            diags.error(.invalid_route, "\(path()): route '\(text)' has a method but no path", at: node.start)
            return nil
        }
        // Where the path starts, for an error (worked out only when there is one).
        guard rawPath.utf8.first == UInt8(ascii: "/") else {
            diags.error(
                .invalid_route, "\(path()): route path must start with '/', got '\(rawPath)'",
                at: location(node, pathOffset))
            return nil
        }
        if rawPath.utf8.contains(where: {
            $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: " ")
        }) {
            diags.error(
                .invalid_route, "\(path()): route '\(text)' may not contain '?', '#' or spaces in its path",
                at: location(node, pathOffset))
            return nil
        }
        let decoded: Substring
        switch PathNormalizer.decode(rawPath.utf8) {
        case .success(let d): decoded = d
        case .failure(let failure):
            diags.error(
                .invalid_route, "\(path()): route '\(text)' is not allowed: \(failure.detail)",
                at: location(node, pathOffset))
            return nil
        }
        // Segments cut on the '/' byte (ASCII: always a scalar boundary), judged by their bytes.
        let result =
            decoded.utf8.withContiguousStorageIfAvailable { Self.segments($0) }
            ?? Array(decoded.utf8).withUnsafeBufferPointer { Self.segments($0) }
        let segments: [RoutePattern.Segment]
        switch result {
        case .success(let s): segments = s
        case .failure(let problem):
            let message: String
            switch problem {
            case .dots(let seg): message = "route '\(text)' may not contain a '\(seg)' segment"
            case .restNotLast: message = "'**' may only be the last segment of route '\(text)'"
            case .mixed(let seg):
                message =
                    "segment '\(seg)' of route '\(text)' mixes a wildcard with text; use '*', '{name}' or '**' as a whole segment"
            }
            diags.error(.invalid_route, "\(path()): \(message)", at: location(node, pathOffset))
            return nil
        }
        return RoutePattern(method: method, segments: segments, text: text, location: node.start)
    }

    enum SegmentProblem: Error {
        case dots(String), restNotLast, mixed(String)
    }

    /// A decoded route path's segments: `*` and `{name}` one segment, a final `**` the rest, anything else literal.
    static func segments(_ b: UnsafeBufferPointer<UInt8>) -> Result<[RoutePattern.Segment], SegmentProblem> {
        let slash = UInt8(ascii: "/")
        var segments: [RoutePattern.Segment] = []
        segments.reserveCapacity(b.reduce(0) { $0 + ($1 == slash ? 1 : 0) })
        var i = 0
        while i < b.count {
            if b[i] == slash {
                i += 1
                continue
            }
            var end = i
            while end < b.count && b[end] != slash { end += 1 }
            let seg = UnsafeBufferPointer(rebasing: b[i..<end])
            let n = seg.count
            let text = { String(decoding: seg, as: UTF8.self) }
            var rest = end
            while rest < b.count && b[rest] == slash { rest += 1 }
            if n <= 2 && seg.allSatisfy({ $0 == UInt8(ascii: ".") }) { return .failure(.dots(text())) }
            if n == 2 && seg[0] == UInt8(ascii: "*") && seg[1] == UInt8(ascii: "*") {
                guard rest == b.count else { return .failure(.restNotLast) }
                segments.append(.rest)
            } else if n == 1 && seg[0] == UInt8(ascii: "*") {
                segments.append(.one)
            } else if n > 2 && seg[0] == UInt8(ascii: "{") && seg[n - 1] == UInt8(ascii: "}")
                && seg[1..<(n - 1)].allSatisfy({
                    ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z"))
                        || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                        || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_")
                })
            {
                segments.append(.one)
            } else if seg.contains(where: {
                $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}")
            }) {
                return .failure(.mixed(text()))
            } else {
                segments.append(.literal(text()))
            }
            i = end
        }
        return .success(segments)
    }

    /// A `deny:` reference: a denial of the bundle or a built-in one.
    mutating func denialReference(_ node: YAMLNode, _ path: @autoclosure () -> String) -> Int? {
        guard let name = string(node, path()) else { return nil }
        if let i = policy.denialLookup[name] { return i }
        diags.error(
            .unknown_denial, "\(path()): unknown denial '\(name)'" + Suggest.hint(name, policy.denialLookup.keys),
            at: node.start)
        return nil
    }
}
