import Evaluator
import Foundation
import Rules

/// `entitlements billing replay FILE [DIR] [--dry-run] [--database-url URL | --data-dir DIR]`: Stripe events as
/// exported (JSON lines, any order) applied through the webhook's own code, oldest `created` first — for backfills
/// and for moving from a hand-written handler. `--dry-run` prints what would change per account and stores nothing.
enum BillingCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(
            args, valued: ["--database-url", "--data-dir", "--db-connections"], switches: ["--dry-run"])
        guard parsed.positional.first == "replay" else {
            throw UsageError(message: "billing takes one subcommand: replay FILE [DIR]")
        }
        guard parsed.positional.count >= 2 else { throw UsageError(message: "billing replay needs FILE") }
        let file = parsed.positional[1]
        var rest = parsed
        rest.positional = Array(parsed.positional.dropFirst(2))
        let dir = try rest.directory()
        guard let data = FileManager.default.contents(atPath: file) else {
            throw UsageError(message: "cannot read '\(file)'")
        }
        // Every line is checked before anything is applied.
        var events: [(line: Int, event: StripeEvent)] = []
        var failed = false
        for (n, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { continue }
            do {
                events.append((n + 1, try StripeEvent(try JSONParser.parse(Array(line)))))
            } catch let e as StripeEvent.Malformed {
                output.error("\(file):\(n + 1): error: \(e.detail)")
                failed = true
            } catch {
                output.error("\(file):\(n + 1): error: not JSON: \(error)")
                failed = true
            }
        }
        if failed { return ExitCode.failure }
        let program = try loadProgram(dir, output: output)
        if program.policy.stripe == nil {
            output.error(
                "warning: the bundle has no billing.stripe section: every subscription event is unmapped_price")
        }
        events.sort { ($0.event.created, $0.line) < ($1.event.created, $1.line) }
        var options = rest
        options.flags.remove("--dry-run")
        let setup: StoreSetup
        do {
            setup = try StoreSetup.open(options, threads: 1, holder: PolicyHolder(directory: dir, program: program))
        } catch {
            output.error("error: \(error.description)")
            return ExitCode.failure
        }
        defer {
            setup.store?.listener?.stop()
            setup.embedded?.stop()
        }
        guard let store = setup.store else { return ExitCode.failure }
        let dry = parsed.flags.contains("--dry-run")
        let outcomes: [BillingOutcome]
        do {
            outcomes = try store.replayStripe(events.map(\.event), program: program, now: Clock.now(), commit: !dry)
        } catch {
            output.error("error: \(error.description)")
            return ExitCode.failure
        }
        var counts: [String: Int] = [:]
        for (e, o) in zip(events, outcomes) {
            counts[o.reason, default: 0] += 1
            output.line("\(e.event.id) \(e.event.type) \(o.account ?? "-"): \(o.reason)")
            if o.applied, let old = o.old, let new = o.new {
                for line in changes(old, new) { output.line("    \(line)") }
            }
        }
        let summary = BillingOutcome.reasons.compactMap { r in counts[r].map { "\($0) \(r)" } }
        output.line(
            "\(dry ? "dry run, nothing stored" : "replayed"): \(events.count) events"
                + (summary.isEmpty ? "" : ": " + summary.joined(separator: ", ")))
        return ExitCode.ok
    }

    /// `subscription.seats: 2 → 6`, one line per field that differs (JSON values as written).
    static func changes(_ old: JSONValue, _ new: JSONValue) -> [String] {
        var out: [String] = []
        func walk(_ a: JSONValue?, _ b: JSONValue?, _ path: String) {
            if case .object(let am)? = a, case .object(let bm)? = b {
                var keys = am.map(\.0)
                for (k, _) in bm where !keys.contains(k) { keys.append(k) }
                for k in keys { walk(a?[k], b?[k], path.isEmpty ? k : "\(path).\(k)") }
                return
            }
            if case .object(let bm)? = b, a == nil || a == .null {
                for (k, v) in bm { walk(nil, v, path.isEmpty ? k : "\(path).\(k)") }
                return
            }
            let from = a.map { JSONWriter.string($0) } ?? "null"
            let to = b.map { JSONWriter.string($0) } ?? "null"
            if from != to { out.append("\(path): \(from) → \(to)") }
        }
        walk(old, new, "")
        return out
    }
}
