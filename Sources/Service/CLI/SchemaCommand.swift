import Evaluator
import Rules

/// `entitlements schema policy|fixtures`: the JSON Schema of policy or fixture files, for editors
/// (yaml-language-server). Rendered from the same shapes the compiler and the fixture runner check keys against.
enum SchemaCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        guard args.count == 1, let which = args.first, ["policy", "fixtures"].contains(which) else {
            throw UsageError(message: "schema takes one argument: policy or fixtures")
        }
        output.line(render(which == "policy" ? PolicyShape.file : FixtureShape.file, id: which))
        return ExitCode.ok
    }

    /// The schema document, pretty-printed (two-space indent, keys in a fixed order), ending without a newline.
    static func render(_ root: ShapeObject, id: String) -> String {
        var doc = object(root, allowNullSections: id == "policy")
        if case .object(var members) = doc {
            members.insert(("$schema", .string("http://json-schema.org/draft-07/schema#")), at: 0)
            members.insert(("title", .string(root.description)), at: 1)
            doc = .object(members)
        }
        var out = ""
        pretty(doc, indent: 0, into: &out)
        return out
    }

    static func schema(_ shape: ValueShape) -> JSONValue {
        switch shape {
        case .string: return .object([("type", .string("string"))])
        case .expression:
            return .object([
                ("type", .array([.string("string"), .string("boolean")])),
                ("description", .string("An expression, e.g. subscription.plan == \"pro\" and feature(\"sso\")")),
            ])
        case .duration:
            return .object([("type", .string("string")), ("pattern", .string("^[0-9]+[smhdw]$"))])
        case .route:
            return .object([("type", .string("string")), ("pattern", .string("^([A-Z]+ +)?/"))])
        case .timestamp:
            return .object([("type", .string("string")), ("format", .string("date-time"))])
        case .integer(let min, let max):
            var m: [(String, JSONValue)] = [("type", .string("integer"))]
            if let min { m.append(("minimum", .int(min))) }
            if let max { m.append(("maximum", .int(max))) }
            return .object(m)
        case .boolean: return .object([("type", .string("boolean"))])
        case .null: return .object([("type", .string("null"))])
        case .oneOf(let values): return .object([("enum", .array(values.map { .string($0) }))])
        case .list(let item): return .object([("type", .string("array")), ("items", schema(item))])
        case .object(let o): return object(o, allowNullSections: false)
        case .names(let value):
            return .object([
                ("type", .string("object")),
                ("propertyNames", .object([("pattern", .string("^[a-z][a-z0-9_]*$"))])),
                ("additionalProperties", schema(value)),
            ])
        case .map(let value):
            return .object([("type", .string("object")), ("additionalProperties", schema(value))])
        case .anyOf(let shapes): return .object([("anyOf", .array(shapes.map(schema)))])
        case .any: return .object([])
        }
    }

    /// A mapping with fixed keys; policy sections may also be empty (`features:` with nothing under it).
    static func object(_ o: ShapeObject, allowNullSections: Bool) -> JSONValue {
        var properties: [(String, JSONValue)] = []
        for k in o.keys {
            var s = schema(k.shape)
            if allowNullSections && k.name != "version" {
                s = .object([("anyOf", .array([s, .object([("type", .string("null"))])]))])
            }
            if !k.description.isEmpty, case .object(var m) = s {
                m.insert(("description", .string(k.description)), at: 0)
                s = .object(m)
            }
            properties.append((k.name, s))
        }
        var m: [(String, JSONValue)] = [
            ("type", .string("object")), ("description", .string(o.description)), ("properties", .object(properties)),
        ]
        if !o.required.isEmpty { m.append(("required", .array(o.required.map { .string($0) }))) }
        m.append(("additionalProperties", .bool(o.open)))
        return .object(m)
    }

    static func pretty(_ v: JSONValue, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let end = String(repeating: "  ", count: indent)
        switch v {
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            for (i, (k, value)) in members.enumerated() {
                out += pad + compact(.string(k)) + ": "
                pretty(value, indent: indent + 1, into: &out)
                out += i == members.count - 1 ? "\n" : ",\n"
            }
            out += end + "}"
        case .array(let items) where items.contains(where: { if case .object = $0 { true } else { false } }):
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                pretty(item, indent: indent + 1, into: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += end + "]"
        default:
            out += compact(v)
        }
    }

    static func compact(_ v: JSONValue) -> String {
        String(decoding: JSONWriter.serialize(v), as: UTF8.self)
    }
}
