/// A YAML node with its source position. Aliases share the anchored node's storage (no expansion).
public struct YAMLNode: Sendable {
    /// How a scalar was written (plain scalars alone get core-schema typing).
    public enum ScalarStyle: Sendable { case plain, singleQuoted, doubleQuoted, literal, folded }

    /// Scalar, sequence or mapping.
    public enum Kind: Sendable {
        case scalar(String, ScalarStyle, tag: String?)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    public var kind: Kind
    public var start: SourceLocation
    /// End position (exclusive) of the node in the source.
    public var end: SourceLocation

    /// The scalar resolved with YAML 1.2 core-schema rules.
    public enum Resolved: Equatable, Sendable {
        case null
        case bool(Bool)
        case int(Int64)
        /// An integer literal outside signed 64-bit.
        case intOverflow(String)
        case float(String)
        case string(String)
    }

    public var resolved: Resolved? {
        guard case .scalar(let text, let style, let tag) = kind else { return nil }
        return YAMLNode.resolve(text, style: style, tag: tag)
    }

    public var isScalar: Bool { if case .scalar = kind { true } else { false } }

    /// A short name of the node's type, for messages ("a mapping", "the integer 3").
    public var typeName: String {
        switch kind {
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        case .scalar:
            switch resolved! {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int, .intOverflow: return "an integer"
            case .float: return "a float"
            case .string: return "a string"
            }
        }
    }

    /// The raw scalar text, if this is a scalar.
    public var scalarText: String? {
        if case .scalar(let t, _, _) = kind { t } else { nil }
    }

    static func resolve(_ text: String, style: ScalarStyle, tag: String?) -> Resolved {
        if let tag {
            switch tag {
            case "tag:yaml.org,2002:str", "!": return .string(text)
            case "tag:yaml.org,2002:null": return .null
            case "tag:yaml.org,2002:bool":
                return text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(text)
            case "tag:yaml.org,2002:int": return resolveInt(text) ?? .string(text)
            default: break
            }
        }
        guard style == .plain else { return .string(text) }
        // Most plain scalars are names and routes: a first byte that starts no null, bool, int or float settles it,
        // and a word starting with a letter is a string unless it is one of the null and bool spellings.
        if let b = text.utf8.first {
            if !Self.mayStartNonString[Int(b)] { return .string(text) }
            if (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") {
                switch text {
                case "null", "Null", "NULL": return .null
                case "true", "True", "TRUE": return .bool(true)
                case "false", "False", "FALSE": return .bool(false)
                default: return .string(text)
                }
            }
        }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let i = resolveInt(text) { return i }
        if isFloat(text) { return .float(text) }
        return .string(text)
    }

    /// First bytes a plain null, bool, int or float can start with: digits, sign, '.', '~', and n/N/t/T/f/F.
    private static let mayStartNonString: [Bool] = (0..<256).map { b in
        (48...57).contains(b) || "+-.~nNtTfF".utf8.contains(UInt8(b))
    }

    /// Core-schema integers: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
    static func resolveInt(_ text: String) -> Resolved? {
        let u = Array(text.utf8)
        guard !u.isEmpty else { return nil }
        if u.count > 2, u[0] == UInt8(ascii: "0"), u[1] == UInt8(ascii: "o") || u[1] == UInt8(ascii: "x") {
            let radix = u[1] == UInt8(ascii: "o") ? 8 : 16
            let digits = String(decoding: u[2...], as: UTF8.self)
            guard digits.allSatisfy({ $0.isHexDigit && Int(String($0), radix: radix) != nil }) else { return nil }
            if let v = Int64(digits, radix: radix) { return .int(v) }
            return .intOverflow(text)
        }
        var i = 0
        if u[0] == UInt8(ascii: "-") || u[0] == UInt8(ascii: "+") { i = 1 }
        guard i < u.count, u[i...].allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        if let v = Int64(text) { return .int(v) }
        return .intOverflow(text)
    }

    static func isFloat(_ text: String) -> Bool {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
            return true
        default: break
        }
        // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var s = Substring(text)
        if let f = s.first, f == "-" || f == "+" { s = s.dropFirst() }
        let digits: (Character) -> Bool = { $0.isASCII && $0.isNumber }
        let intPart = s.prefix(while: digits)
        s = s.dropFirst(intPart.count)
        var frac = Substring("")
        var sawDot = false
        if s.first == "." {
            sawDot = true
            s = s.dropFirst()
            frac = s.prefix(while: digits)
            s = s.dropFirst(frac.count)
        }
        if intPart.isEmpty && frac.isEmpty { return false }
        var sawExp = false
        if let e = s.first, e == "e" || e == "E" {
            sawExp = true
            s = s.dropFirst()
            if let sign = s.first, sign == "-" || sign == "+" { s = s.dropFirst() }
            let exp = s.prefix(while: digits)
            if exp.isEmpty { return false }
            s = s.dropFirst(exp.count)
        }
        return s.isEmpty && (sawDot || sawExp)
    }
}
