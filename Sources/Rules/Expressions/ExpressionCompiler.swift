/// Where an expression appears; decides which names it may read (SPEC §2.4, §3, §9).
public enum ExprContext: Sendable {
    /// `subscription.statuses.*.live`: now, account.*, stored subscription fields, lists.*.
    case live
    case fact
    /// Guard `requires` and allowlist `when`.
    case guardRule
    case flagRule
    /// `${…}` in a denial body.
    case denialTemplate
    /// A plan's limit grant written as an integer expression (`seats: subscription.seats + 5`): stored subscription
    /// fields, integer literals and `+`/`-` only.
    case planGrant

    var name: String {
        switch self {
        case .live: "a live rule"
        case .fact: "a fact"
        case .guardRule: "a guard"
        case .flagRule: "a flag rule"
        case .denialTemplate: "a denial body"
        case .planGrant: "a plan grant"
        }
    }
}

/// A problem found in an expression, at a byte offset inside it.
public struct ExprProblem: Error, Sendable {
    public var code: DiagnosticCode
    public var message: String
    public var offset: Int
}

/// What an expression reads, for the guard decision order (§2.7) and flag rules (§2.8).
public struct ExprReads: Sendable, Equatable {
    public var user = false
    public var subscription = false
    public var facts: Set<Int> = []
    public init() {}
}

/// Names the checker can resolve: features, facts and lists of the bundle.
public struct ExprEnvironment: Sendable {
    public var features: [String: (index: Int, kind: FeatureKind)] = [:]
    public var facts: [String: Int] = [:]
    public var lists: [String: Int] = [:]
    /// The bundle's flag names: only for hints (expressions cannot read flags), so `feature("a_flag")` says what it is.
    public var flagNames: Set<String> = []
    /// Words that are values, not names: plan keys, set features' values and the usual subscription statuses. Only
    /// for hints: a bare one in an expression is a string missing its quotes.
    public var valueWords: Set<String> = []
    /// The fact being compiled, if any: a bare word that would name it is no reference to it (a fact cannot read
    /// itself), so the hint is the quoted string.
    public var definingFact: String?
    public init() {}
}

/// Parses and type-checks one expression.
public enum ExpressionCompiler {
    public static func compile(
        _ text: String, in context: ExprContext, env: ExprEnvironment
    ) -> Result<(Expr, ExprReads), ExprProblem> {
        let syntax: Syntax
        do {
            syntax = try Parser.parse(text)
        } catch {
            return .failure(ExprProblem(code: .expr_syntax, message: error.message, offset: error.offset))
        }
        var checker = Checker(context: context, env: env)
        do {
            let e = try checker.check(syntax)
            return .success((e, checker.reads))
        } catch {
            return .failure(error)
        }
    }
}
