/// The values behind an explain step: every comparison of an expression with both sides and their values at `now`,
/// and every other name, fact or feature call it read. Only runs when `explain` is on.
extension Evaluation {
    mutating func explainValues(_ root: Int32) -> [String] {
        guard tracer != nil, root >= 0 else { return [] }
        var out: [String] = []
        explain(root, into: &out)
        return out
    }

    private mutating func explain(_ i: Int32, into out: inout [String]) {
        let ins = code[Int(i)]
        switch ins.op {
        case .not:
            explain(ins.a, into: &out)
        case .and, .or:
            explain(ins.a, into: &out)
            explain(ins.b, into: &out)
        case .eq, .ne, .lt, .le, .gt, .ge, .in, .notIn:
            let result = eval(i)
            out.append("\(side(ins.a)) \(Self.symbol(ins.op)) \(side(ins.b)) → \(Self.show(result))")
            names(ins.a, into: &out)
            names(ins.b, into: &out)
        case .null, .true, .false, .int, .string, .duration, .list:
            break
        default:
            add("\(source(i)) = \(Self.show(eval(i)))", &out)
        }
    }

    /// One side of a comparison: its text, and its value when that is not the text itself.
    private mutating func side(_ i: Int32) -> String {
        let text = source(i)
        switch code[Int(i)].op {
        case .null, .true, .false, .int, .string, .duration, .list: return text
        default: return "\(text) (\(Self.show(eval(i))))"
        }
    }

    /// The names inside a computed side (`user.created_at` in `user.created_at + 7d`), each with its value.
    private mutating func names(_ i: Int32, into out: inout [String]) {
        let ins = code[Int(i)]
        switch ins.op {
        case .add, .sub, .lower, .startsWith, .endsWith, .rollout:
            for operand in [ins.a, ins.b] where operand >= 0 {
                let op = code[Int(operand)].op
                if [.now, .accountID, .accountAttribute, .subscription, .user, .userAttribute, .request, .check]
                    .contains(op)
                {
                    add("\(source(operand)) = \(Self.show(eval(operand)))", &out)
                } else {
                    names(operand, into: &out)
                }
            }
        default: break
        }
    }

    private func add(_ line: String, _ out: inout [String]) {
        if !out.contains(line) { out.append(line) }
    }

    /// The expression rooted at `i`, written back as source.
    func source(_ i: Int32) -> String {
        let ins = code[Int(i)]
        let strings = program.exprs.strings
        func operand(_ j: Int32) -> String {
            switch code[Int(j)].op {
            case .and, .or: "(\(source(j)))"
            default: source(j)
            }
        }
        switch ins.op {
        case .null: return "null"
        case .true: return "true"
        case .false: return "false"
        case .int: return String(ins.k)
        case .string: return Self.quote(strings[Int(ins.k)])
        case .duration: return PolicyDuration(seconds: ins.k).description
        case .list: return "[" + program.exprs.lists[Int(ins.k)].map(Self.quote).joined(separator: ", ") + "]"
        case .namedList: return "lists.\(program.policy.lists[Int(ins.k)].name)"
        case .now: return "now"
        case .accountID: return "account.id"
        case .accountAttribute: return "account.attributes.\(strings[Int(ins.k)])"
        case .userAttribute: return "user.attributes.\(strings[Int(ins.k)])"
        case .subscription: return "subscription.\(subscriptionFields[Int(ins.k)].rawValue)"
        case .user: return "user.\(userFields[Int(ins.k)].rawValue)"
        case .request: return ins.k == 0 ? "request.method" : "request.path"
        case .check: return "check.\(checkFields[Int(ins.k)].rawValue)"
        case .fact: return "facts.\(program.policy.facts[Int(ins.k)].name)"
        case .not: return "not \(operand(ins.a))"
        case .and: return "\(operand(ins.a)) and \(operand(ins.b))"
        case .or: return "\(source(ins.a)) or \(source(ins.b))"
        case .eq, .ne, .lt, .le, .gt, .ge, .in, .notIn, .add, .sub:
            return "\(operand(ins.a)) \(Self.symbol(ins.op)) \(operand(ins.b))"
        case .featureBool: return "feature(\(Self.quote(program.policy.features[Int(ins.k)].name)))"
        case .featureLimit: return "limit(\(Self.quote(program.policy.features[Int(ins.k)].name)))"
        case .lower: return "lower(\(source(ins.a)))"
        case .startsWith: return "starts_with(\(source(ins.a)), \(source(ins.b)))"
        case .endsWith: return "ends_with(\(source(ins.a)), \(source(ins.b)))"
        case .rollout: return "rollout(\(source(ins.a)), \(source(ins.b)))"
        case .rolloutAccount:
            return "rollout(\(Self.quote(program.exprs.accountRolloutSalts[Int(ins.k)])), account.id)"
        }
    }

    static func symbol(_ op: Instr.Op) -> String {
        switch op {
        case .eq: "=="
        case .ne: "!="
        case .lt: "<"
        case .le: "<="
        case .gt: ">"
        case .ge: ">="
        case .in: "in"
        case .notIn: "not in"
        case .add: "+"
        case .sub: "-"
        default: "\(op)"
        }
    }

    static func quote(_ s: String) -> String {
        String(decoding: JSONWriter.serialize(.string(s)), as: UTF8.self)
    }

    static func show(_ v: Value) -> String {
        switch v {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .string(let s): quote(s)
        case .timestamp(let t): t.description
        case .duration(let d): PolicyDuration(seconds: d).description
        case .list(let l): "[" + l.map(quote).joined(separator: ", ") + "]"
        case .other(let j): String(decoding: JSONWriter.serialize(j), as: UTF8.self)
        }
    }
}
