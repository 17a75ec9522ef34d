import Evaluator
import Rules

/// The shape of fixture files (SPEC §5): the runner takes its allowed keys from here, the request parts come from
/// the decoders' own key lists, and `entitlements schema fixtures` renders it as a JSON Schema.
enum FixtureShape {
    static let fileKeys = ["name", "description", "now", "accounts", "users", "cases"]
    static let caseKeys = [
        "name", "description", "account", "user", "now", "explain", "check", "expect", "checks", "snapshot", "assign",
    ]
    /// The keys of an `assign` case's question.
    static let assignKeys = ["plan", "source"]

    /// The type of every account, subscription, override and user member, by name; a test checks each decoder key
    /// has one.
    static let memberShapes: [String: ValueShape] = [
        "id": .string, "attributes": .map(.any), "plan": .anyOf([.string, .null]), "status": .anyOf([.string, .null]),
        "period_start": .anyOf([.timestamp, .null]), "period_end": .anyOf([.timestamp, .null]),
        "past_due_since": .anyOf([.timestamp, .null]), "ended_at": .anyOf([.timestamp, .null]),
        "seats": .anyOf([.integer(min: 0, max: nil), .null]),
        "feature": .string, "value": .any, "expires_at": .anyOf([.timestamp, .null]), "reason": .string,
        "actor": .string, "email": .anyOf([.string, .null]), "email_verified_at": .anyOf([.timestamp, .null]),
        "created_at": .anyOf([.timestamp, .null]), "amount": .integer(min: 1, max: nil),
        "remaining": .integer(min: 0, max: nil), "priority": .anyOf([.integer(min: nil, max: nil), .null]),
        "voided_at": .anyOf([.timestamp, .null]),
    ]

    static func object(_ description: String, _ names: [String]) -> ShapeObject {
        ShapeObject(description, names.map { ShapeObject.Member($0, shape(of: $0), "") })
    }

    /// A member's shape; the nested objects are built here (not in `memberShapes`, which they read).
    static func shape(of name: String) -> ValueShape {
        switch name {
        case "subscription": .anyOf([.object(subscription), .null])
        case "overrides": .list(.object(override))
        case "grants": .list(.object(grant))
        default: memberShapes[name] ?? .any
        }
    }

    static var subscription: ShapeObject { object("The account's subscription", RequestKeys.subscription) }
    static var override: ShapeObject { object("A per-account override", RequestKeys.override) }
    static var grant: ShapeObject {
        object("A grant on a limit feature (as GET …/grants answers it)", RequestKeys.grant)
    }
    static var account: ShapeObject { object("An account, as in a /v1/check body", RequestKeys.account) }
    static var user: ShapeObject { object("The user, as in a /v1/check body", RequestKeys.user) }
    /// Open and loosely typed: a fixture may send a malformed check on purpose (`expect: {error: invalid_request}`).
    static var check: ShapeObject {
        var o = ShapeObject(
            "One check: feature, route or flag", RequestKeys.check.map { ShapeObject.Member($0, .any, "") })
        o.open = true
        return o
    }

    /// What a result must contain (a partial match: only the keys written are compared).
    static var expect: ValueShape { .map(.any) }

    /// An assignment question: the `assignable_via` rules, aliases resolved, as the store applies them.
    static var assign: ShapeObject {
        ShapeObject(
            "A plan assignment",
            [
                .init("plan", .string, required: true, "A plan key or alias"),
                .init(
                    "source", .oneOf(AssignSource.allCases.map(\.rawValue)), required: true,
                    "Who assigns it: signup, checkout, admin or billing_sync"),
            ])
    }

    static var checkPair: ShapeObject {
        ShapeObject(
            "A check and what its result must contain",
            [
                .init("check", .object(check), required: true, "The check"),
                .init("expect", expect, required: true, "Keys the result must have, with their values"),
            ])
    }

    static var testCase: ShapeObject {
        let shapes: [String: (ValueShape, String)] = [
            "name": (.string, "The case's name (failures print it)"),
            "description": (.string, "Why the case exists"),
            "account": (.anyOf([.string, .object(account)]), "A named account of this file, or an account"),
            "user": (.anyOf([.string, .object(user), .null]), "A named user of this file, or a user"),
            "now": (.timestamp, "The evaluation instant"),
            "explain": (.boolean, "Ask for traces"),
            "check": (.object(check), "One check (with expect)"),
            "expect": (expect, "What the one check's (or the assignment's) result must contain"),
            "checks": (.list(.object(checkPair)), "Several checks, each with expect"),
            "snapshot": (.map(.any), "What the account's snapshot must contain"),
            "assign": (.object(assign), "May this source put an account on this plan? (with expect)"),
        ]
        return ShapeObject("A fixture case", caseKeys.map { ShapeObject.Member($0, shapes[$0]!.0, shapes[$0]!.1) })
    }

    static var file: ShapeObject {
        let shapes: [String: (ValueShape, String)] = [
            "name": (.string, "The suite's name"),
            "description": (.string, "What the file covers"),
            "now": (.timestamp, "The default evaluation instant of its cases"),
            "accounts": (.names(.object(account)), "Named accounts the cases use"),
            "users": (.names(.object(user)), "Named users the cases use"),
            "cases": (.list(.object(testCase)), "The cases"),
        ]
        return ShapeObject(
            "An Entitlements fixture file", fileKeys.map { ShapeObject.Member($0, shapes[$0]!.0, shapes[$0]!.1) })
    }
}
