/// The stable code of every diagnostic `validate` can print; what each means is `meaning` below. This is the one
/// catalogue: docs/POLICY.md lists the same codes and their meanings (tests keep the two in step), and each has a
/// golden case in `Tests/Fixtures/invalid/` (errors) or `Tests/Fixtures/warnings/` (warnings).
public enum DiagnosticCode: String, Sendable, CaseIterable, CustomStringConvertible {
    // Reading files (SPEC §2.1).
    case yaml_syntax
    case yaml_too_deep
    case duplicate_key
    case too_many_nodes
    case file_too_large
    case not_utf8
    case multiple_documents
    case unsupported_tag
    case recursive_alias
    case unknown_anchor
    case invalid_key
    case unreadable_file

    // Structure of sections (SPEC §2).
    case unknown_key
    case missing_key
    case invalid_type
    case invalid_value
    case invalid_name
    case invalid_version
    case duplicate_definition
    case duplicate_value
    case not_applicable
    case integer_overflow
    case invalid_duration

    // Features and plans (SPEC §2.2, §2.3).
    case unknown_feature
    case value_not_in_set
    case unknown_plan
    case inheritance_cycle
    case alias_conflict

    // Expressions (SPEC §3).
    case expr_syntax
    case unknown_name
    case unknown_function
    case unknown_fact
    case unknown_list
    case name_not_allowed
    case invalid_argument
    case type_mismatch
    case fact_cycle

    // Guards and denials (SPEC §2.7, §2.9).
    case invalid_route
    case unknown_denial
    case reserved_denial
    case invalid_template
    case invalid_interpolation

    // Warnings: the bundle compiles, but something in it is almost certainly a mistake.
    case unknown_plan_literal
    case unknown_status_literal
    case plan_list_misses_child
    case null_in_denial
    case shadowed_allow
    case unreachable_allow
    case ungranted_feature
    case unreachable_rule

    public var description: String { rawValue }
}

extension DiagnosticCode {
    /// What the code means, for docs/POLICY.md's table (a test keeps the table equal to this).
    public var meaning: String {
        switch self {
        case .yaml_syntax: "The YAML parser rejected the text."
        case .yaml_too_deep: "Nesting deeper than the loader accepts."
        case .duplicate_key: "A mapping key written twice in one mapping."
        case .too_many_nodes: "The document expands (aliases included) beyond 100,000 nodes."
        case .file_too_large: "A file over 4 MiB."
        case .not_utf8: "A file that is not UTF-8."
        case .multiple_documents: "More than one YAML document in a file."
        case .unsupported_tag: "A tag other than the core schema's."
        case .recursive_alias: "An alias that refers to itself through its own anchor."
        case .unknown_anchor: "An alias to an anchor not defined before it."
        case .invalid_key: "A mapping key that is not a plain scalar."
        case .unreadable_file: "A file that could not be read."
        case .unknown_key: "A key no section allows (typos, merge keys), with a \"did you mean\"."
        case .missing_key: "A required key is absent."
        case .invalid_type: "A value of the wrong YAML type."
        case .invalid_value: "A value of the right type outside what the key accepts."
        case .invalid_name: "A feature, plan, guard, flag, list, fact or denial key not matching `[a-z][a-z0-9_]*`."
        case .invalid_version: "`version` other than 1."
        case .duplicate_definition:
            "A plan, feature, guard, flag, list, fact or denial defined twice (names both places)."
        case .duplicate_value: "The same value twice in a list that must not repeat."
        case .not_applicable: "A key that does not apply to this kind of thing (a `period` on a boolean feature, say)."
        case .integer_overflow: "An integer outside the signed 64-bit range."
        case .invalid_duration: "A duration that is not `<int><unit>` or not positive."
        case .unknown_feature: "A name that is not a feature of the bundle."
        case .value_not_in_set: "A set value outside the feature's `values`."
        case .unknown_plan: "A name that is neither a plan key nor an alias where a plan is expected."
        case .inheritance_cycle: "`extends` that loops (names the cycle)."
        case .alias_conflict: "A plan alias that collides with a plan key or belongs to two plans."
        case .expr_syntax: "An expression that does not parse."
        case .unknown_name: "A name the language does not know."
        case .unknown_function: "A function the language does not have."
        case .unknown_fact: "`facts.X` where no fact X is declared."
        case .unknown_list: "`lists.X` where no list X is declared."
        case .name_not_allowed: "A name that this place may not read (a fact inside a `live` rule, say)."
        case .invalid_argument: "A function called with the wrong number or kind of arguments."
        case .type_mismatch: "Operand types an operator or function cannot take (names both)."
        case .fact_cycle: "Facts that depend on themselves (names the cycle)."
        case .invalid_route: "A route pattern that is malformed or contains what path normalization rejects."
        case .unknown_denial: "`deny:` naming a denial that does not exist."
        case .reserved_denial: "A denial name the bundle may not redefine (`invalid_path`)."
        case .invalid_template: "A denial body string whose `${…}` is malformed."
        case .invalid_interpolation: "A `${…}` whose value cannot be interpolated (a duration)."
        case .unknown_plan_literal:
            "A string compared with `subscription.plan` that is neither a plan key nor an alias."
        case .unknown_status_literal:
            "A string compared with `subscription.status` that `subscription.statuses` does not declare."
        case .plan_list_misses_child:
            "A `subscription.plan in [...]` list naming a plan but not a plan that extends it."
        case .null_in_denial: "A guard whose denial body interpolates `check.*`, which is null on every route check."
        case .shadowed_allow: "An allowlist entry an earlier unconditional entry already covers."
        case .unreachable_allow: "An allowlist entry that matches no route the guard's `applies_to` covers."
        case .ungranted_feature:
            "A feature no plan grants whose default is its type's zero: every check of it is denied."
        case .unreachable_rule: "A flag rule after a rule that always matches."
        }
    }

    /// Whether diagnostics with this code are warnings (the bundle still compiles).
    public var isWarning: Bool {
        switch self {
        case .null_in_denial, .plan_list_misses_child, .shadowed_allow, .ungranted_feature, .unknown_plan_literal,
            .unknown_status_literal, .unreachable_allow, .unreachable_rule:
            true
        default: false
        }
    }
}
