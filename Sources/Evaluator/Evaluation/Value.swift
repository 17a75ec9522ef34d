/// A run-time value of the expression language.
enum Value {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case timestamp(Timestamp)
    case duration(Int64)
    case list([String])
    /// A dynamic attribute of a JSON type the language has no literal for (object, decimal number).
    case other(JSONValue)

    @inline(__always) var truthy: Bool {
        if case .bool(true) = self { return true }
        return false
    }

    /// Converts a dynamic attribute from JSON.
    static func dynamic(_ j: JSONValue?) -> Value {
        guard let j else { return .null }
        switch j {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .string(let s): return .string(s)
        case .array(let items):
            var out: [String] = []
            out.reserveCapacity(items.count)
            for i in items {
                guard case .string(let s) = i else { return .other(j) }
                out.append(s)
            }
            return .list(out)
        default: return .other(j)
        }
    }

    var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .string(let s): .string(s)
        case .timestamp(let t): .string(t.rfc3339)
        case .duration: .null
        case .list(let l): .array(l.map { .string($0) })
        case .other(let j): j
        }
    }

    /// The mixed-string rendering of SPEC §9: null is empty, lists join with `,`.
    var text: String {
        switch self {
        case .null: ""
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .string(let s): s
        case .timestamp(let t): t.rfc3339
        case .duration(let d): PolicyDuration(seconds: d).description
        case .list(let l): l.joined(separator: ",")
        case .other(let j): JSONWriter.string(j)
        }
    }
}

/// Strings compare by Unicode scalars, never by canonical equivalence (SPEC §2.1).
@inline(__always) func scalarsEqual(_ a: String, _ b: String) -> Bool {
    a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
}

/// Full Unicode lowercase mapping of each scalar, without context- or locale-sensitive rules (SPEC §9).
func unicodeLower(_ s: String) -> String {
    if s.utf8.allSatisfy({ $0 < 0x80 && !($0 >= 65 && $0 <= 90) }) { return s }
    var out = String.UnicodeScalarView()
    for scalar in s.unicodeScalars {
        if scalar.isASCII {
            let v = scalar.value
            out.append(v >= 65 && v <= 90 ? Unicode.Scalar(v + 32)! : scalar)
        } else {
            out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
    }
    return String(out)
}
