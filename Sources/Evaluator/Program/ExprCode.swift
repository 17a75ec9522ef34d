/// One instruction of the compiled expression code. Operands are indexes of other instructions (`a`, `b`) or an
/// immediate (`k`: an integer, a constant-pool index, a field ordinal, a feature/fact/list id).
@usableFromInline struct Instr: Sendable {
    enum Op: UInt8, Sendable {
        case null, `true`, `false`, int, string, duration, list
        case now, accountID, accountAttribute, subscription, user, userAttribute, request, check, fact, namedList
        case not, and, or, eq, ne, lt, le, gt, ge, `in`, notIn, add, sub
        case featureBool, featureLimit, lower, startsWith, endsWith, rollout
        /// `rollout("salt", account.id)`: bucket precomputed per prepared account, slot `k`.
        case rolloutAccount
    }
    var op: Op
    var a: Int32 = -1
    var b: Int32 = -1
    var k: Int64 = 0
}

/// Flat code for every expression of a program, with its constant pools. Built once by `Program.init`.
struct ExprCode: Sendable {
    var instrs: [Instr] = []
    var strings: [String] = []
    /// Where each string sits in `strings`, by its exact bytes (strings equal only canonically stay apart).
    private var stringIndex: [[UInt8]: Int] = [:]
    var lists: [[String]] = []
    /// Salts of the `rollout("salt", account.id)` calls, by slot.
    var accountRolloutSalts: [String] = []

    /// Appends the code of `e`; returns its root instruction.
    mutating func compile(_ e: Expr) -> Int32 {
        var ins: Instr
        switch e.kind {
        case .literal(let l):
            switch l {
            case .null: ins = Instr(op: .null)
            case .bool(let b): ins = Instr(op: b ? .true : .false)
            case .int(let i): ins = Instr(op: .int, k: i)
            case .string(let s): ins = Instr(op: .string, k: Int64(intern(s)))
            case .duration(let d): ins = Instr(op: .duration, k: d.seconds)
            case .list(let l):
                lists.append(l)
                ins = Instr(op: .list, k: Int64(lists.count - 1))
            }
        case .name(let n):
            switch n {
            case .now: ins = Instr(op: .now)
            case .accountID: ins = Instr(op: .accountID)
            case .accountAttribute(let key): ins = Instr(op: .accountAttribute, k: Int64(intern(key)))
            case .subscription(let f):
                ins = Instr(op: .subscription, k: Int64(subscriptionFields.firstIndex(of: f)!))
            case .user(let f): ins = Instr(op: .user, k: Int64(userFields.firstIndex(of: f)!))
            case .userAttribute(let key): ins = Instr(op: .userAttribute, k: Int64(intern(key)))
            case .request(let f): ins = Instr(op: .request, k: f == .method ? 0 : 1)
            case .check(let f): ins = Instr(op: .check, k: Int64(checkFields.firstIndex(of: f)!))
            case .fact(let i): ins = Instr(op: .fact, k: Int64(i))
            case .list(let i): ins = Instr(op: .namedList, k: Int64(i))
            }
        case .not(let x):
            ins = Instr(op: .not, a: compile(x))
        case .binary(let op, let l, let r):
            let a = compile(l)
            let b = compile(r)
            let code: Instr.Op
            switch op {
            case .and: code = .and
            case .or: code = .or
            case .eq: code = .eq
            case .ne: code = .ne
            case .lt: code = .lt
            case .le: code = .le
            case .gt: code = .gt
            case .ge: code = .ge
            case .in: code = .in
            case .notIn: code = .notIn
            case .add: code = .add
            case .sub: code = .sub
            }
            ins = Instr(op: code, a: a, b: b)
        case .featureCall(let f, let index):
            ins = Instr(op: f == .feature ? .featureBool : .featureLimit, k: Int64(index))
        case .call(let f, let args):
            let a = compile(args[0])
            let b = args.count > 1 ? compile(args[1]) : -1
            let code: Instr.Op
            switch f {
            case .lower: code = .lower
            case .starts_with: code = .startsWith
            case .ends_with: code = .endsWith
            case .rollout: code = .rollout
            case .feature, .limit: code = .null
            }
            ins = Instr(op: code, a: a, b: b)
            if code == .rollout, instrs[Int(a)].op == .string, instrs[Int(b)].op == .accountID {
                let salt = strings[Int(instrs[Int(a)].k)]
                let slot =
                    accountRolloutSalts.firstIndex { $0.utf8.elementsEqual(salt.utf8) } ?? accountRolloutSalts.count
                if slot == accountRolloutSalts.count { accountRolloutSalts.append(salt) }
                ins = Instr(op: .rolloutAccount, a: a, b: b, k: Int64(slot))
            }
        }
        instrs.append(ins)
        return Int32(instrs.count - 1)
    }

    mutating func intern(_ s: String) -> Int {
        let bytes = Array(s.utf8)
        if let i = stringIndex[bytes] { return i }
        strings.append(s)
        stringIndex[bytes] = strings.count - 1
        return strings.count - 1
    }
}

/// A denial body with its `${…}` expressions compiled to roots in `ExprCode`, laid out flat: everything constant
/// (punctuation, keys, literal values, the text between interpolations) is serialized once into `pool` and merged
/// into runs, so writing a body is one loop over `pieces` — a run of bytes, an expression written as a JSON value,
/// or an expression written into a string being built — with no recursion and no per-member bookkeeping.
struct CompiledTemplate: Sendable {
    enum Kind: UInt8, Sendable {
        /// `pool[start..<end]` as is.
        case bytes
        /// The expression's value as JSON.
        case value
        /// The expression's text, escaped, inside a string the surrounding runs open and close.
        case text
    }
    struct Piece: Sendable {
        var kind: Kind
        var start: Int32
        var end: Int32
        var expr: Int32
    }
    private(set) var pool: [UInt8] = []
    private(set) var pieces: [Piece] = []

    init(_ t: Template, _ code: inout ExprCode) {
        add(t, &code)
    }

    /// Appends constant bytes, extending the previous run when it ends where these start.
    private mutating func constant(_ b: [UInt8]) {
        let start = Int32(pool.count)
        pool.append(contentsOf: b)
        if let last = pieces.last, last.kind == .bytes, last.end == start {
            pieces[pieces.count - 1].end = Int32(pool.count)
        } else {
            pieces.append(Piece(kind: .bytes, start: start, end: Int32(pool.count), expr: -1))
        }
    }

    private mutating func add(_ t: Template, _ code: inout ExprCode) {
        switch t {
        case .null: constant(Array("null".utf8))
        case .bool(let b): constant(Array((b ? "true" : "false").utf8))
        case .int(let i): constant(JSONWriter.serialize(.int(i)))
        case .string(let s): constant(JSONWriter.serialize(.string(s)))
        case .expr(let e): pieces.append(Piece(kind: .value, start: 0, end: 0, expr: code.compile(e)))
        case .interpolated(let parts):
            constant([UInt8(ascii: "\"")])
            for part in parts {
                switch part {
                case .text(let s):
                    var w = JSONWriter()
                    w.stringBody(s)
                    constant(w.bytes)
                case .expr(let e): pieces.append(Piece(kind: .text, start: 0, end: 0, expr: code.compile(e)))
                }
            }
            constant([UInt8(ascii: "\"")])
        case .list(let items):
            constant([UInt8(ascii: "[")])
            for (k, item) in items.enumerated() {
                if k > 0 { constant([UInt8(ascii: ",")]) }
                add(item, &code)
            }
            constant([UInt8(ascii: "]")])
        case .object(let members):
            constant([UInt8(ascii: "{")])
            for (k, m) in members.enumerated() {
                var w = JSONWriter()
                if k > 0 { w.append(UInt8(ascii: ",")) }
                w.string(m.key)
                w.append(UInt8(ascii: ":"))
                constant(w.bytes)
                add(m.value, &code)
            }
            constant([UInt8(ascii: "}")])
        }
    }
}
