/// Tokens of the expression language.
enum Token: Equatable {
    case ident(String)  // a dotted path: `subscription.plan`, `facts.is_paid`, `and`, …
    case int(Int64)
    case intOverflow
    case duration(PolicyDuration)
    case string(String)
    case op(String)  // == != < <= > >= + - ( ) [ ] ,
    case end
}

struct LexedToken {
    var token: Token
    var offset: Int
}

struct ExprSyntaxError: Error {
    var message: String
    var offset: Int
}

/// Splits an expression into tokens. A `-` glued to a digit is a negative literal only where an operand is expected.
struct Lexer {
    let bytes: [UInt8]
    var i = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    static func isIdentStart(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 }
    static func isIdent(_ c: UInt8) -> Bool { isIdentStart(c) || (c >= 48 && c <= 57) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    mutating func tokenize() throws(ExprSyntaxError) -> [LexedToken] {
        var out: [LexedToken] = []
        var operandExpected = true
        while true {
            while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
            let start = i
            guard i < bytes.count else {
                out.append(LexedToken(token: .end, offset: i))
                return out
            }
            let c = bytes[i]
            let tok: Token
            if Lexer.isDigit(c)
                || (c == UInt8(ascii: "-") && operandExpected && i + 1 < bytes.count && Lexer.isDigit(bytes[i + 1]))
            {
                tok = try number()
            } else if Lexer.isIdentStart(c) {
                tok = try ident()
            } else if c == UInt8(ascii: "\"") {
                tok = .string(try string())
            } else {
                let two = i + 1 < bytes.count ? String(decoding: bytes[i...i + 1], as: UTF8.self) : ""
                if ["==", "!=", "<=", ">="].contains(two) {
                    tok = .op(two)
                    i += 2
                } else if "<>+-()[],".utf8.contains(c) {
                    tok = .op(String(UnicodeScalar(c)))
                    i += 1
                } else {
                    let scalar =
                        String(decoding: bytes[i...].prefix(4), as: UTF8.self).unicodeScalars.first.map(String.init)
                        ?? "?"
                    if c == UInt8(ascii: "=") {
                        throw ExprSyntaxError(message: "unexpected '='; use '==' to compare", offset: i)
                    }
                    if c == UInt8(ascii: "&") || c == UInt8(ascii: "|") || c == UInt8(ascii: "!") {
                        throw ExprSyntaxError(message: "unexpected '\(scalar)'; use 'and', 'or' and 'not'", offset: i)
                    }
                    if c == UInt8(ascii: "'") {
                        throw ExprSyntaxError(message: "strings are written in double quotes", offset: i)
                    }
                    throw ExprSyntaxError(message: "unexpected character '\(scalar)'", offset: i)
                }
            }
            out.append(LexedToken(token: tok, offset: start))
            switch tok {
            case .op(let o): operandExpected = !(o == ")" || o == "]")
            case .ident(let n): operandExpected = ["and", "or", "not", "in"].contains(n)
            default: operandExpected = false
            }
        }
    }

    private mutating func number() throws(ExprSyntaxError) -> Token {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        while i < bytes.count, Lexer.isDigit(bytes[i]) { i += 1 }
        let digits = String(decoding: bytes[start..<i], as: UTF8.self)
        if i < bytes.count, Lexer.isIdentStart(bytes[i]) {
            let unitStart = i
            while i < bytes.count, Lexer.isIdent(bytes[i]) { i += 1 }
            let text = digits + String(decoding: bytes[unitStart..<i], as: UTF8.self)
            let negative = digits.hasPrefix("-")
            guard let d = PolicyDuration.parse(negative ? String(text.dropFirst()) : text) else {
                throw ExprSyntaxError(
                    message: "invalid duration '\(text)'; write <int><unit> with unit s, m, h, d or w", offset: start)
            }
            return .duration(negative ? PolicyDuration(seconds: -d.seconds) : d)
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            throw ExprSyntaxError(message: "only integers are supported, not decimal numbers", offset: start)
        }
        guard let v = Int64(digits) else { return .intOverflow }
        return .int(v)
    }

    private mutating func ident() throws(ExprSyntaxError) -> Token {
        let start = i
        while true {
            while i < bytes.count, Lexer.isIdent(bytes[i]) { i += 1 }
            if i + 1 < bytes.count, bytes[i] == UInt8(ascii: "."), Lexer.isIdentStart(bytes[i + 1]) {
                i += 1
                continue
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                throw ExprSyntaxError(message: "expected a name after '.'", offset: i + 1)
            }
            break
        }
        return .ident(String(decoding: bytes[start..<i], as: UTF8.self))
    }

    /// A double-quoted string with JSON escapes.
    private mutating func string() throws(ExprSyntaxError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw ExprSyntaxError(message: "unterminated string", offset: start) }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw ExprSyntaxError(message: "control character in string; use an escape", offset: i) }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            let escStart = i
            i += 1
            guard i < bytes.count else { throw ExprSyntaxError(message: "unterminated string", offset: start) }
            switch UnicodeEscape.decodeEscape(bytes, at: i, into: &out) {
            case .success(let next): i = next
            case .failure(.invalidEscape):
                throw ExprSyntaxError(
                    message: "invalid escape '\\\(UnicodeScalar(bytes[i]))' in string", offset: escStart)
            case .failure(.badHex): throw ExprSyntaxError(message: "\\u needs four hex digits", offset: escStart)
            case .failure(.loneSurrogate):
                throw ExprSyntaxError(message: "lone surrogate in \\u escape", offset: escStart)
            }
        }
    }
}
