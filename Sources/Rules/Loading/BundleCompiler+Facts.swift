extension BundleCompiler {
    /// Facts may reference facts declared later, so names are declared before any expression compiles.
    mutating func declareFacts() {
        for e in sections["facts"] ?? [] where checkKeyName(e.key, "fact", at: e.keyNode.start) {
            env.facts[e.key] = policy.facts.count
            policy.facts.append(
                Fact(
                    name: e.key, expr: Expr(.literal(.bool(false)), offset: 0, type: .bool), reads: ExprReads(),
                    description: nil,
                    location: e.keyNode.start))
        }
    }

    mutating func compileFacts() {
        for e in sections["facts"] ?? [] {
            guard let index = env.facts[e.key] else { continue }
            let path = "facts.\(e.key)"
            var exprNode = e.value
            if case .mapping = e.value.kind {
                guard
                    let f = fields(e.value, path, allowed: PolicyShape.fact.names, required: PolicyShape.fact.required)
                else {
                    continue
                }
                if let d = f["description"] { policy.facts[index].description = string(d.value, "\(path).description") }
                guard let x = f["expr"] else { continue }
                exprNode = x.value
            }
            env.definingFact = e.key
            defer { env.definingFact = nil }
            guard let (expr, reads) = expression(exprNode, path, context: .fact) else { continue }
            if ![.bool, .null, .dynamic].contains(expr.type) {
                diags.error(
                    .type_mismatch, "\(path): a fact must be a bool expression, got \(expr.type)", at: exprNode.start)
                continue
            }
            policy.facts[index].expr = expr
            policy.facts[index].text = expressionText(exprNode)
            policy.facts[index].reads = reads
            policy.facts[index].location = exprNode.start
        }
        reportFactCycles()
        // Close reads over facts so "reads user.* through facts" is a lookup.
        var closed: [ExprReads?] = Array(repeating: nil, count: policy.facts.count)
        func close(_ i: Int, _ visiting: inout Set<Int>) -> ExprReads {
            if let c = closed[i] { return c }
            var r = policy.facts[i].reads
            visiting.insert(i)
            for j in policy.facts[i].reads.facts where !visiting.contains(j) {
                let inner = close(j, &visiting)
                r.user = r.user || inner.user
                r.subscription = r.subscription || inner.subscription
                r.facts.formUnion(inner.facts)
            }
            visiting.remove(i)
            closed[i] = r
            return r
        }
        for i in policy.facts.indices {
            var visiting = Set<Int>()
            policy.facts[i].reads = close(i, &visiting)
        }
    }

    mutating func reportFactCycles() {
        var state = [Int](repeating: 0, count: policy.facts.count)  // 0 new, 1 on stack, 2 done
        var stack: [Int] = []
        var reported = Set<Int>()
        func visit(_ i: Int, _ s: inout BundleCompiler) {
            state[i] = 1
            stack.append(i)
            for j in s.policy.facts[i].reads.facts.sorted() {
                if state[j] == 1 {
                    let cycle = Array(stack[stack.firstIndex(of: j)!...])
                    if reported.isDisjoint(with: cycle) {
                        reported.formUnion(cycle)
                        let names = (cycle + [j]).map { s.policy.facts[$0].name }.joined(separator: " -> ")
                        s.diags.error(
                            .fact_cycle, "facts.\(s.policy.facts[j].name): fact cycle \(names)",
                            at: s.policy.facts[j].location,
                            related: cycle.dropFirst().map { s.policy.facts[$0].location })
                    }
                } else if state[j] == 0 {
                    visit(j, &s)
                }
            }
            stack.removeLast()
            state[i] = 2
        }
        for i in policy.facts.indices where state[i] == 0 { visit(i, &self) }
        // Cut cycles so evaluation terminates even in tools that ignore errors.
        for i in reported { policy.facts[i].reads.facts.subtract(reported) }
    }

    /// `reads` widened by what the facts it reads read.
    func closedReads(_ reads: ExprReads) -> ExprReads {
        var r = reads
        for f in reads.facts where f < policy.facts.count {
            let inner = policy.facts[f].reads
            r.user = r.user || inner.user
            r.subscription = r.subscription || inner.subscription
            r.facts.formUnion(inner.facts)
        }
        return r
    }
}
