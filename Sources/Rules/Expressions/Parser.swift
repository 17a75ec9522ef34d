/// Untyped syntax tree produced by the parser; the type checker turns it into `Expr`.
indirect enum Syntax {
    case literal(Literal, offset: Int)
    case name(String, offset: Int)
    case not(Syntax, offset: Int)
    case binary(BinaryOp, Syntax, Syntax, opOffset: Int)
    case call(String, [Syntax], offset: Int)
    /// A list literal whose elements are not all string literals (reported by the checker).
    case badList(offset: Int, message: String)

    var offset: Int {
        switch self {
        case .literal(_, let o), .name(_, let o), .not(_, let o), .call(_, _, let o), .badList(let o, _): o
        case .binary(_, _, _, let o): o
        }
    }
}

/// Recursive-descent parser for SPEC §3. Precedence, lowest first: or; and; not; comparisons (non-associative); + -.
struct Parser {
    var tokens: [LexedToken]
    var p = 0
    var depth = 0

    static func parse(_ text: String) throws(ExprSyntaxError) -> Syntax {
        var lexer = Lexer(text)
        var parser = Parser(tokens: try lexer.tokenize())
        if case .end = parser.peek.token {
            throw ExprSyntaxError(message: "empty expression", offset: 0)
        }
        let e = try parser.orExpr()
        guard case .end = parser.peek.token else {
            if let hint = parser.durationSlip() { throw hint }
            throw ExprSyntaxError(
                message: "unexpected \(parser.describe(parser.peek.token)) after a complete expression",
                offset: parser.peek.offset)
        }
        return e
    }

    /// `7 days`, `24 hours`: a number followed by a unit word. Durations are written `7d`, `24h`.
    func durationSlip() -> ExprSyntaxError? {
        guard p > 0, case .int(let n) = tokens[p - 1].token, case .ident(let word) = peek.token else { return nil }
        guard let unit = PolicyDuration.unit(forWord: word) else { return nil }
        return ExprSyntaxError(
            message:
                "durations are written without a space and with a one-letter unit: write \(n)\(unit), not '\(n) \(word)'",
            offset: tokens[p - 1].offset)
    }

    var peek: LexedToken { tokens[p] }
    mutating func advance() -> LexedToken {
        let t = tokens[p]
        if p < tokens.count - 1 { p += 1 }
        return t
    }
    func isKeyword(_ k: String, at index: Int? = nil) -> Bool {
        if case .ident(let n) = tokens[min(index ?? p, tokens.count - 1)].token { return n == k }
        return false
    }
    func isOp(_ o: String) -> Bool { peek.token == .op(o) }

    /// Words that are operators or literals, never a string missing its quotes.
    static let keywords: Set<String> = ["and", "or", "not", "in", "true", "false", "null", "now"]

    /// `s` as a double-quoted string literal of the expression language.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    func describe(_ t: Token) -> String {
        switch t {
        case .ident(let n): return "'\(n)'"
        case .int(let v): return "number \(v)"
        case .intOverflow: return "number"
        case .duration(let d): return "duration \(d)"
        case .string: return "string"
        case .op(let o): return "'\(o)'"
        case .end: return "end of expression"
        }
    }

    mutating func orExpr() throws(ExprSyntaxError) -> Syntax {
        var left = try andExpr()
        while isKeyword("or") {
            let o = advance().offset
            left = .binary(.or, left, try andExpr(), opOffset: o)
        }
        return left
    }

    mutating func andExpr() throws(ExprSyntaxError) -> Syntax {
        var left = try notExpr()
        while isKeyword("and") {
            let o = advance().offset
            left = .binary(.and, left, try notExpr(), opOffset: o)
        }
        return left
    }

    mutating func notExpr() throws(ExprSyntaxError) -> Syntax {
        if isKeyword("not") && !isKeyword("in", at: p + 1) {
            let o = advance().offset
            depth += 1
            defer { depth -= 1 }
            guard depth < 200 else { throw ExprSyntaxError(message: "expression nested too deeply", offset: o) }
            return .not(try notExpr(), offset: o)
        }
        return try comparison()
    }

    mutating func comparisonOp() -> (BinaryOp, Int)? {
        let t = peek
        switch t.token {
        case .op("=="): return (.eq, t.offset)
        case .op("!="): return (.ne, t.offset)
        case .op("<"): return (.lt, t.offset)
        case .op("<="): return (.le, t.offset)
        case .op(">"): return (.gt, t.offset)
        case .op(">="): return (.ge, t.offset)
        case .ident("in"): return (.in, t.offset)
        case .ident("not") where isKeyword("in", at: p + 1): return (.notIn, t.offset)
        default: return nil
        }
    }

    mutating func comparison() throws(ExprSyntaxError) -> Syntax {
        let left = try additive()
        guard let (op, o) = comparisonOp() else { return left }
        _ = advance()
        if op == .notIn { _ = advance() }
        let right = try additive()
        if let (op2, o2) = comparisonOp() {
            throw ExprSyntaxError(
                message:
                    "comparisons cannot be chained ('\(op.rawValue)' then '\(op2.rawValue)'); combine them with 'and'",
                offset: o2)
        }
        return .binary(op, left, right, opOffset: o)
    }

    mutating func additive() throws(ExprSyntaxError) -> Syntax {
        var left = try primary()
        while isOp("+") || isOp("-") {
            let t = advance()
            left = .binary(t.token == .op("+") ? .add : .sub, left, try primary(), opOffset: t.offset)
        }
        return left
    }

    mutating func primary() throws(ExprSyntaxError) -> Syntax {
        let t = advance()
        switch t.token {
        case .int(let v): return .literal(.int(v), offset: t.offset)
        case .intOverflow:
            throw ExprSyntaxError(message: "integer literal out of the signed 64-bit range", offset: t.offset)
        case .duration(let d): return .literal(.duration(d), offset: t.offset)
        case .string(let s): return .literal(.string(s), offset: t.offset)
        case .ident(let n):
            switch n {
            case "true": return .literal(.bool(true), offset: t.offset)
            case "false": return .literal(.bool(false), offset: t.offset)
            case "null": return .literal(.null, offset: t.offset)
            case "and", "or", "not", "in":
                throw ExprSyntaxError(message: "expected an operand, found '\(n)'", offset: t.offset)
            default: break
            }
            if isOp("(") {
                _ = advance()
                var args: [Syntax] = []
                if !isOp(")") {
                    while true {
                        depth += 1
                        defer { depth -= 1 }
                        guard depth < 200 else {
                            throw ExprSyntaxError(message: "expression nested too deeply", offset: t.offset)
                        }
                        args.append(try orExpr())
                        if isOp(",") {
                            _ = advance()
                            continue
                        }
                        break
                    }
                }
                guard isOp(")") else {
                    if let hint = durationSlip() { throw hint }
                    throw ExprSyntaxError(
                        message: "expected ')' to close the call of \(n)(), found \(describe(peek.token))",
                        offset: peek.offset)
                }
                _ = advance()
                return .call(n, args, offset: t.offset)
            }
            return .name(n, offset: t.offset)
        case .op("("):
            depth += 1
            defer { depth -= 1 }
            guard depth < 200 else { throw ExprSyntaxError(message: "expression nested too deeply", offset: t.offset) }
            let e = try orExpr()
            guard isOp(")") else {
                if let hint = durationSlip() { throw hint }
                throw ExprSyntaxError(message: "expected ')', found \(describe(peek.token))", offset: peek.offset)
            }
            _ = advance()
            return e
        case .op("["):
            var items: [String] = []
            var bad: (Int, String)?
            // The list as it should have been written, while every element is a string or a bare word.
            var fixed: [String]? = []
            if !isOp("]") {
                while true {
                    let e = advance()
                    switch e.token {
                    case .string(let s):
                        items.append(s)
                        fixed?.append(Self.quoted(s))
                    case .end, .op("]"), .op(","):
                        throw ExprSyntaxError(
                            message: "expected a string in the list, found \(describe(e.token))", offset: e.offset)
                    default:
                        if case .ident(let word) = e.token, !word.contains("."), !Self.keywords.contains(word) {
                            fixed?.append(Self.quoted(word))
                        } else {
                            fixed = nil
                        }
                        if bad == nil {
                            bad = (e.offset, "list elements must be string literals, found \(describe(e.token))")
                        }
                    }
                    if isOp(",") {
                        _ = advance()
                        continue
                    }
                    break
                }
            }
            guard isOp("]") else {
                throw ExprSyntaxError(
                    message: "expected ']' or ',' in the list, found \(describe(peek.token))", offset: peek.offset)
            }
            _ = advance()
            if let (o, m) = bad {
                // Bare words in a list are strings missing their quotes: show the list fixed.
                let hint = fixed.map { "; strings need double quotes: write [\($0.joined(separator: ", "))]" } ?? ""
                return .badList(offset: o, message: m + hint)
            }
            return .literal(.list(items), offset: t.offset)
        case .op("-"):
            throw ExprSyntaxError(
                message: "unary '-' is not supported; write a negative literal like -1", offset: t.offset)
        case .end:
            throw ExprSyntaxError(message: "unexpected end of expression; an operand is missing", offset: t.offset)
        default:
            throw ExprSyntaxError(message: "expected an operand, found \(describe(t.token))", offset: t.offset)
        }
    }
}
