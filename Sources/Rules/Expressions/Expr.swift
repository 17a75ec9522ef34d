/// The static types of the expression language (SPEC §3).
public enum ExprType: String, Sendable, Hashable, CustomStringConvertible {
    case bool, int, string, timestamp, duration, list, null
    /// `account.attributes.K` / `user.attributes.K`: typed at run time; a mismatch makes comparisons false.
    case dynamic
    public var description: String { self == .list ? "list of strings" : rawValue }
}

/// The `subscription.*` names: stored fields and derived values (SPEC §2.4).
public enum SubscriptionField: String, Sendable, CaseIterable {
    case status, plan, period_start, period_end, past_due_since, ended_at, seats, live, locked_at, stage, days_remaining
    /// Stored fields (readable by `live` rules); the rest are derived.
    public var isStored: Bool {
        switch self {
        case .status, .plan, .period_start, .period_end, .past_due_since, .ended_at, .seats: true
        default: false
        }
    }
    public var type: ExprType {
        switch self {
        case .status, .plan, .stage: .string
        case .period_start, .period_end, .past_due_since, .ended_at, .locked_at: .timestamp
        case .seats, .days_remaining: .int
        case .live: .bool
        }
    }
}

/// The `user.*` names other than `user.attributes.K`.
public enum UserField: String, Sendable, CaseIterable {
    case id, email, email_verified, email_verified_at, created_at, authenticated
    public var type: ExprType {
        switch self {
        case .id, .email: .string
        case .email_verified, .authenticated: .bool
        case .email_verified_at, .created_at: .timestamp
        }
    }
}

/// The `request.*` names of a route check.
public enum RequestField: String, Sendable, CaseIterable { case method, path }
/// The `check.*` names a denial body can interpolate.
public enum CheckField: String, Sendable, CaseIterable {
    case feature, usage, amount, limit
    public var type: ExprType { self == .feature ? .string : .int }
}

/// A resolved name of the language.
public enum Name: Hashable, Sendable, CustomStringConvertible {
    case now
    case accountID
    case accountAttribute(String)
    case subscription(SubscriptionField)
    case user(UserField)
    case userAttribute(String)
    case request(RequestField)
    case check(CheckField)
    case fact(Int)
    case list(Int)

    public var description: String {
        switch self {
        case .now: "now"
        case .accountID: "account.id"
        case .accountAttribute(let k): "account.attributes.\(k)"
        case .subscription(let f): "subscription.\(f.rawValue)"
        case .user(let f): "user.\(f.rawValue)"
        case .userAttribute(let k): "user.attributes.\(k)"
        case .request(let f): "request.\(f.rawValue)"
        case .check(let f): "check.\(f.rawValue)"
        case .fact(let i): "facts#\(i)"
        case .list(let i): "lists#\(i)"
        }
    }
}

/// The binary operators of SPEC §3, spelled as written.
public enum BinaryOp: String, Sendable {
    case or, and
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case `in` = "in", notIn = "not in"
    case add = "+", sub = "-"
    public var isComparison: Bool {
        switch self {
        case .eq, .ne, .lt, .le, .gt, .ge, .in, .notIn: true
        default: false
        }
    }
}

/// The built-in functions of SPEC §3.
public enum Function: String, Sendable, CaseIterable {
    case feature, limit, lower, starts_with, ends_with, rollout
    var arity: Int {
        switch self {
        case .feature, .limit, .lower: 1
        case .starts_with, .ends_with, .rollout: 2
        }
    }
}

/// A literal as written: null, boolean, integer, string, duration or list of strings.
public enum Literal: Hashable, Sendable {
    case null, bool(Bool), int(Int64), string(String), duration(PolicyDuration), list([String])
}

/// A type-checked expression node. `offset` is the byte offset of the node inside its source text.
public struct Expr: Sendable {
    /// The node kinds of a checked expression.
    public indirect enum Kind: Sendable {
        case literal(Literal)
        case name(Name)
        case not(Expr)
        case binary(BinaryOp, Expr, Expr)
        /// `feature("k")` / `limit("k")` carry the feature index; other functions their arguments.
        case featureCall(Function, Int)
        case call(Function, [Expr])
    }
    public var kind: Kind
    public var offset: Int
    public var type: ExprType

    public init(_ kind: Kind, offset: Int, type: ExprType = .null) {
        self.kind = kind
        self.offset = offset
        self.type = type
    }

    /// Visits this node and every node below it.
    public func walk(_ visit: (Expr) -> Void) {
        visit(self)
        switch kind {
        case .literal, .name, .featureCall: break
        case .not(let e): e.walk(visit)
        case .binary(_, let a, let b):
            a.walk(visit)
            b.walk(visit)
        case .call(_, let args): for a in args { a.walk(visit) }
        }
    }
}
