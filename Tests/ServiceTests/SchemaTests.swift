import Evaluator
import Foundation
import Rules
import Testing

@testable import Service

/// The editor schemas come from the shapes the compiler and the fixture runner check keys against.
@Suite struct SchemaTests {
    @Test func everyRequestMemberHasAType() {
        for name in RequestKeys.account + RequestKeys.subscription + RequestKeys.override + RequestKeys.user
            + RequestKeys.grant
        {
            let typed =
                FixtureShape.memberShapes[name] != nil || ["subscription", "overrides", "grants"].contains(name)
            #expect(typed, "give '\(name)' a shape in FixtureShape.memberShapes")
        }
    }

    /// Each key the schema offers is one the compiler accepts: a bundle using every feature, plan and guard key
    /// compiles, and a key the schema does not list is an unknown_key.
    @Test func schemaKeysAreTheCompilersKeys() throws {
        let text = """
            features:
              sso: { type: boolean, description: d, default: false }
              seats: { type: limit, default: 1, period: month, notify_at: [80, 100], rollover: { max: 1, expires_after: 1d } }
              formats: { type: set, values: [pdf], default: [pdf] }
            plans:
              base: {}
              pro: { display_name: P, description: d, assignable_via: [admin], extends: base, grants: { sso: true },
                     price: { monthly_cents: 1, annual_cents: 2, currency: USD }, public: true, sort: 1, aliases: [team] }
            guards:
              - { name: g, description: d, applies_to: [/a/**], requires: "true", deny: no_subscription,
                  allow: [/a/b, { route: /a/c, when: "true" }] }
            """
        let out = PolicyCompiler.compile(files: [SourceFile(path: "a.yaml", text: text)])
        #expect(out.diagnostics.filter { $0.code == .unknown_key }.isEmpty, "\(out.diagnostics)")
        let used = Set(["type", "description", "default", "period", "values", "notify_at", "rollover"])
        #expect(Set(PolicyShape.feature.names) == used)
        let bad = PolicyCompiler.compile(files: [SourceFile(path: "a.yaml", text: "features:\n  x: { typ: boolean }\n")]
        )
        #expect(bad.diagnostics.contains { $0.code == .unknown_key })
    }

    @Test func schemaCommandPrintsJSON() throws {
        for which in ["policy", "fixtures"] {
            let text = SchemaCommand.render(which == "policy" ? PolicyShape.file : FixtureShape.file, id: which)
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            #expect(parsed?["$schema"] as? String == "http://json-schema.org/draft-07/schema#")
            #expect((parsed?["properties"] as? [String: Any])?.isEmpty == false)
        }
    }
}
