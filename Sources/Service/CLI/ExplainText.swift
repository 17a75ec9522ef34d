import Evaluator

/// The readable, multi-line form of results and traces that `check` and `test` print on a terminal
/// (`--format json` keeps the machine form).
enum ExplainText {
    /// One result: the verdict line, then the trace steps with the values each compared.
    static func result(_ r: JSONValue, label: String, indent: String = "") -> [String] {
        var lines: [String] = []
        var verdict: String
        if case .bool(true)? = r["allowed"] {
            verdict = "allowed"
            if case .string(let reason)? = r["reason"] { verdict += " (\(reason))" }
        } else {
            verdict = "denied"
            if case .string(let e)? = r["error"] { verdict += " \(e)" }
            if case .int(let s)? = r["status"] { verdict += " (\(s))" }
            if case .string(let g)? = r["guard"] { verdict += " by guard \(g)" }
        }
        if let v = r["value"] { verdict += ", value \(JSONWriter.string(v))" }
        if let l = r["limit"] { verdict += ", limit \(JSONWriter.string(l))" }
        if let rem = r["remaining"] { verdict += ", remaining \(JSONWriter.string(rem))" }
        lines.append("\(indent)\(label): \(verdict)")
        if case .string(let d)? = r["detail"] { lines.append("\(indent)  \(d)") }
        if case .array(let w)? = r["warnings"] {
            lines.append("\(indent)  warnings: " + w.map { JSONWriter.string($0) }.joined(separator: ", "))
        }
        if let body = r["body"], body != .object([]) { lines.append("\(indent)  body: \(JSONWriter.string(body))") }
        if case .array(let steps)? = r["trace"] { lines += trace(steps, indent: indent + "  ") }
        return lines
    }

    /// Trace steps: `step  rule  (file:line:col)  result`, then each compared value on its own line.
    static func trace(_ steps: [JSONValue], indent: String) -> [String] {
        var lines: [String] = []
        for s in steps {
            var parts: [String] = []
            if case .string(let step)? = s["step"] { parts.append(step) }
            if case .string(let rule)? = s["rule"] { parts.append(rule) }
            if case .string(let at)? = s["at"] { parts.append("(\(at))") }
            var line = indent + parts.joined(separator: " ")
            if case .string(let result)? = s["result"] { line += ": \(result)" }
            lines.append(line)
            if case .array(let values)? = s["values"] {
                for case .string(let v) in values { lines.append(indent + "    " + v) }
            }
        }
        return lines
    }

    /// `GET /api/v1/trees`, `feature max_trees usage 30`, `flag beta`.
    static func describe(_ check: JSONValue) -> String {
        if case .string(let route)? = check["route"] { return route }
        if case .string(let flag)? = check["flag"] { return "flag \(flag)" }
        guard case .object(let members) = check else { return JSONWriter.string(check) }
        return members.map { k, v in
            if case .string(let s) = v { return k == "feature" ? "feature \(s)" : "\(k) \(s)" }
            return "\(k) \(JSONWriter.string(v))"
        }.joined(separator: " ")
    }
}
