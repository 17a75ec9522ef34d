import Foundation
import Testing

@testable import Service

/// The account cache alone (no database): entries are tied to a program by its serial, replaced whole, keyed by the
/// id's bytes. `scripts/test` also runs this suite in a ThreadSanitizer build.
@Suite struct AccountCacheTests {
    /// Two bundles whose plans and features come in opposite orders, so every index means something else in each.
    static func program(reversed: Bool, proTrees: Int) -> Program {
        var features = [
            "psa: { type: boolean }", "sso: { type: boolean }", "trees: { type: limit, default: 0 }",
        ]
        var plans = [
            "free: { grants: { trees: 3 } }", "pro: { extends: free, grants: { psa: true, trees: \(proTrees) } }",
            "enterprise: { extends: pro, grants: { sso: true, trees: unlimited } }",
        ]
        if reversed {
            features.reverse()
            plans.reverse()
        }
        let text =
            "features:\n" + features.map { "  \($0)\n" }.joined() + "plans:\n" + plans.map { "  \($0)\n" }.joined()
        let out = PolicyCompiler.compile(files: [SourceFile(path: "policy.yaml", text: text)], warnings: false)
        return Program(out.policy!)
    }

    static let now = Timestamp.parse("2026-05-10T12:00:00Z")!

    static func entry(_ id: String, plan: String, _ program: Program, overrides: [StoredOverride] = []) -> CachedAccount
    {
        let stored = StoredAccount(
            id: id, subscription: .object([("plan", .string(plan)), ("status", .string("active"))]),
            attributes: .object([]), overrides: overrides)
        return CachedAccount(
            exists: true, stored: stored, prepared: program.prepare(stored.account(program), precomputeRollouts: true),
            loadedAt: now, usageProgram: program.serial, used: [], records: [])
    }

    /// What the evaluator answers for `trees`, `psa` and `sso` with `prepared` under `program`.
    static func answers(_ program: Program, _ prepared: PreparedAccount) -> [String] {
        var ev = Evaluation(program: program, account: prepared, user: nil, now: now)
        return ["trees", "psa", "sso"].map { name in
            let f = program.featureID(name)!
            let check: Check =
                program.policy.features[f].kind == .limit
                ? .limit(feature: f, usage: 0, amount: 1) : .boolean(feature: f)
            let d = ev.decide(check)
            return "\(name)=\(d.allowed):\(d.limit.map(String.init) ?? "-")"
        }
    }

    @Test func everyProgramHasItsOwnSerialEvenAtAReusedAddress() {
        var seen = Set<UInt64>()
        var addresses = Set<ObjectIdentifier>()
        for _ in 0..<200 {
            let p = Self.program(reversed: false, proTrees: 25)
            seen.insert(p.serial)
            addresses.insert(ObjectIdentifier(p))
        }
        #expect(seen.count == 200)
        // Freed programs' addresses are reused (what made an address an unsafe key); serials never are.
        #expect(addresses.count < 200)
    }

    @Test func anEntryIsPreparedAgainForAnotherProgramAndAnswersAsFresh() {
        let a = Self.program(reversed: false, proTrees: 25)
        let b = Self.program(reversed: true, proTrees: 40)
        let cache = AccountCache(capacity: 100)
        let override = StoredOverride(
            feature: "sso", value: .bool(true), expiresAt: .null, reason: "pilot", actor: "ana")
        cache.insert("acc", Self.entry("acc", plan: "pro", a, overrides: [override]), loadedSince: cache.generation)
        let underB = cache.lookup("acc", program: b)!
        #expect(underB.prepared.programSerial == b.serial)
        let fresh = Self.entry("acc", plan: "pro", b, overrides: [override])
        #expect(Self.answers(b, underB.prepared) == Self.answers(b, fresh.prepared))
        #expect(Self.answers(b, underB.prepared) == ["trees=true:40", "psa=true:-", "sso=true:-"])
        // The entry was replaced whole; asking under the first program again prepares it back.
        #expect(cache.lookup("acc", program: b) === underB)
        #expect(
            Self.answers(a, cache.lookup("acc", program: a)!.prepared) == ["trees=true:25", "psa=true:-", "sso=true:-"])
        // Usage figures follow the program they were loaded under only.
        #expect(underB.usage(of: b.featureID("trees")!, at: Self.now, program: b) == nil)
    }

    @Test func idsThatDifferOnlyInNormalizationAreTwoAccounts() {
        let p = Self.program(reversed: false, proTrees: 25)
        let cache = AccountCache(capacity: 100)
        let composed = "zo\u{EB}-7"
        let decomposed = "zoe\u{308}-7"
        #expect(composed == decomposed)  // what Swift's String says; the cache must not
        cache.insert(composed, Self.entry(composed, plan: "pro", p), loadedSince: cache.generation)
        #expect(cache.lookup(decomposed, program: p) == nil)
        cache.insert(decomposed, Self.entry(decomposed, plan: "free", p), loadedSince: cache.generation)
        #expect(cache.count == 2)
        #expect(cache.lookup(composed, program: p)!.prepared.account.subscription?.plan == "pro")
        #expect(cache.lookup(decomposed, program: p)!.prepared.account.subscription?.plan == "free")
        cache.invalidate(decomposed)
        #expect(cache.lookup(composed, program: p) != nil)
        #expect(cache.lookup(decomposed, program: p) == nil)
        #expect(ScalarKey(composed) != ScalarKey(decomposed))
    }

    @Test func aLoadThatRacedAnInvalidationIsNotKept() {
        let p = Self.program(reversed: false, proTrees: 25)
        let cache = AccountCache(capacity: 100)
        let since = cache.generation
        cache.invalidate("acc")
        cache.insert("acc", Self.entry("acc", plan: "pro", p), loadedSince: since)
        #expect(cache.lookup("acc", program: p) == nil)
    }

    /// Many threads look up, insert, invalidate and switch programs at once: every entry handed out is prepared
    /// for the program asked for and answers as a freshly prepared account would (and, under ThreadSanitizer, no
    /// data race).
    @Test func concurrentLookupsAcrossProgramsNeverServeAnotherProgramsAccount() async {
        let programs = (0..<3).map { Self.program(reversed: $0 % 2 == 1, proTrees: 25 + $0 * 5) }
        let expected = programs.map { p in
            ["free", "pro", "enterprise"].map { Self.answers(p, Self.entry("x", plan: $0, p).prepared) }
        }
        let cache = AccountCache(capacity: 50)
        let ids = (0..<40).map { "acc\($0)" }
        let plans = ["free", "pro", "enterprise"]
        let failures = await withTaskGroup(of: Int.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var rng = SystemRandomNumberGenerator()
                    var failures = 0
                    for i in 0..<3_000 {
                        let k = Int.random(in: 0..<ids.count, using: &rng)
                        let which = (t + i) % programs.count
                        let program = programs[which]
                        let plan = k % 3
                        switch Int.random(in: 0..<10, using: &rng) {
                        case 0: cache.invalidate(ids[k])
                        case 1, 2:
                            let since = cache.generation
                            cache.insert(ids[k], Self.entry(ids[k], plan: plans[plan], program), loadedSince: since)
                        default:
                            guard let e = cache.lookup(ids[k], program: program) else { continue }
                            if e.prepared.programSerial != program.serial
                                || Self.answers(program, e.prepared) != expected[which][plan]
                            {
                                failures += 1
                            }
                        }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
        #expect(cache.count <= 50)
    }
}
