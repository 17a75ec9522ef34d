import Foundation
import Synchronization

/// Where the CLI writes: stdout and stderr in the binary, buffers in tests.
struct CLIOutput: Sendable {
    var out: @Sendable (String) -> Void
    var err: @Sendable (String) -> Void
    /// Whether standard output is a terminal: readable multi-line forms by default, JSON when piped.
    var isTerminal = false

    static let standard = CLIOutput(
        out: { FileDescriptor.writeAll(1, $0) }, err: { FileDescriptor.writeAll(2, $0) }, isTerminal: isatty(1) == 1)

    /// Collects everything written, for tests.
    final class Buffer: Sendable {
        private let text = Mutex((out: "", err: ""))
        var out: String { text.withLock { $0.out } }
        var err: String { text.withLock { $0.err } }
        func append(out s: String) { text.withLock { $0.out += s } }
        func append(err s: String) { text.withLock { $0.err += s } }
    }
    static func capturing(_ b: Buffer) -> CLIOutput {
        CLIOutput(out: { b.append(out: $0) }, err: { b.append(err: $0) })
    }

    func line(_ s: String) { out(s + "\n") }
    func error(_ s: String) { err(s + "\n") }
}

/// Exit codes of SPEC §8.
enum ExitCode {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
}

/// A command-line mistake; printed with the usage and exit code 2.
struct UsageError: Error {
    var message: String
}

/// The `entitlements` command line as a function: tested in-process, wrapped by `main.swift`.
enum CLI {
    static let usage = """
        usage: entitlements <command> [options]

        commands:
          validate [DIR] [--strict]                        compile the bundle and print diagnostics
                                                           (--strict / --deny-warnings: warnings fail too)
          test [DIR] [--junit FILE] [--filter TEXT] [--http URL [--ignore-digest]] [--allow-empty]
                [--coverage] [--min-coverage PCT] [--coverage-json FILE] [--format text|json]
                                                           run the policy fixtures in DIR/tests (in-process, or
                                                           through a running service with --http, which must serve
                                                           the same bundle); zero cases run fail unless
                                                           --allow-empty
          check [DIR] --input FILE|- [--now T] [--explain] [--format text|json]
                                                           evaluate a /v1/check request body offline (--now: the
                                                           instant to decide at, RFC 3339, when the body has no
                                                           "now"; --explain: traces with the values each step
                                                           compared)
          routes [DIR] --manifest FILE [--expect FILE]     which guards protect, skip or ignore each app route
          diff OLD_DIR NEW_DIR | REV [REV2] [DIR] [--accounts FILE [--manifest FILE]] [--now T]
                [--exit-code] [--format text|markdown]
                                                           what a policy change changes (and for which accounts,
                                                           routes); REV: a git revision of the bundle folder
          schema policy|fixtures                           the JSON Schema of policy or fixture files (for editors)
          timeline [DIR] --account FILE [--user FILE] [--from T] [--to T] [--manifest FILE] [--format text|json]
                                                           every boundary of an account's lifecycle (trial stages,
                                                           lock, grace and read-only ends, override expiries) and
                                                           what changes there, guards included; the account and
                                                           user files are YAML (as in fixtures) or JSON
          serve [DIR] [--listen HOST:PORT] [--database-url URL | --data-dir DIR | --stateless]
                [--db-connections N] [--cache-size N] [--database-read-url URL …] [--warm N]
                [--keys-file FILE] [--threads N] [--no-watch]
                [--head-timeout S] [--request-timeout S] [--idle-timeout S] [--max-connections N]
                [--per-address-limit N] [--body-memory MIB]
                                                           run the HTTP service (default store: a private
                                                           PostgreSQL cluster under .data/postgres). API keys:
                                                           ENTITLEMENTS_CHECK_KEYS and ENTITLEMENTS_ADMIN_KEYS
                                                           (comma-separated name=key, or bare keys) and/or
                                                           --keys-file FILE (lines 'check|admin NAME KEY');
                                                           clients send 'Authorization: Bearer KEY'. Without
                                                           keys it serves loopback only, without auth.
                                                           ENTITLEMENTS_STRIPE_WEBHOOK_SECRETS (whsec_…, comma-
                                                           separated) turns on POST /v1/billing/stripe
          billing replay FILE [DIR] [--dry-run] [--database-url URL | --data-dir DIR]
                                                           apply Stripe events (JSON lines, as exported) through the
                                                           webhook's code, oldest first; --dry-run prints what would
                                                           change per account and stores nothing

        COMMAND --help prints that command's usage; --version the release and commit.
        DIR defaults to ./Policies. Exit codes: 0 ok, 1 policy or test failure, 2 usage error.
        """

    static func run(arguments: [String], output: CLIOutput) -> Int32 {
        guard let command = arguments.first else {
            output.error(usage)
            return ExitCode.usage
        }
        let rest = Array(arguments.dropFirst())
        if ["--version", "version"].contains(command) {
            output.line(Version.line)
            return ExitCode.ok
        }
        if rest.contains("--help") || rest.contains("-h"), let help = help(for: command) {
            output.line(help)
            return ExitCode.ok
        }
        do {
            switch command {
            case "validate": return try ValidateCommand.run(rest, output: output)
            case "check": return try CheckCommand.run(rest, output: output)
            case "test": return try TestCommand.run(rest, output: output)
            case "bench": return try BenchCommand.run(rest, output: output)
            case "timeline": return try TimelineCommand.run(rest, output: output)
            case "serve": return try ServeCommand.run(rest, output: output)
            case "routes": return try RoutesCommand.run(rest, output: output)
            case "diff": return try DiffCommand.run(rest, output: output)
            case "schema": return try SchemaCommand.run(rest, output: output)
            case "billing": return try BillingCommand.run(rest, output: output)
            case "help", "--help", "-h":
                output.line(usage)
                return ExitCode.ok
            default:
                let known = [
                    "validate", "test", "check", "serve", "routes", "diff", "schema", "timeline", "bench", "billing",
                    "help", "version",
                ]
                throw UsageError(message: "unknown command '\(command)'" + hint(command, known))
            }
        } catch is PolicyLoadFailed {
            return ExitCode.failure
        } catch let e as UsageError {
            output.error("error: \(e.message)")
            output.error(usage)
            return ExitCode.usage
        } catch {
            output.error("error: \(error)")
            return ExitCode.failure
        }
    }

    /// `entitlements COMMAND --help`: that command's lines of the usage.
    static func help(for command: String) -> String? {
        let lines = usage.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("  \(command) ") || $0 == "  \(command)" }) else {
            return nil
        }
        var block = ["usage: entitlements " + lines[start].trimmingCharacters(in: .whitespaces)]
        for line in lines[(start + 1)...] {
            guard line.hasPrefix("        ") else { break }
            block.append(line)
        }
        return block.joined(separator: "\n") + "\n\n" + (lines.last { $0.hasPrefix("DIR defaults") } ?? "")
    }

    static func hint(_ word: String, _ candidates: [String]) -> String {
        Suggest.closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }
}

/// Parsed arguments: one optional positional DIR plus named options.
struct Arguments {
    var positional: [String] = []
    /// The last value of each valued option; `all` has every value of one given several times.
    var options: [String: String] = [:]
    var all: [String: [String]] = [:]
    var flags: Set<String> = []

    /// `valued` options take the next argument; `switches` take none.
    init(_ args: [String], valued: Set<String>, switches: Set<String>) throws {
        var i = 0
        while i < args.count {
            let a = args[i]
            if a.hasPrefix("--") && a.count > 2 {
                var name = a
                var inline: String?
                if let eq = a.firstIndex(of: "=") {
                    name = String(a[..<eq])
                    inline = String(a[a.index(after: eq)...])
                }
                if valued.contains(name) {
                    if let inline {
                        options[name] = inline
                    } else {
                        guard i + 1 < args.count else { throw UsageError(message: "\(name) needs a value") }
                        options[name] = args[i + 1]
                        i += 1
                    }
                    all[name, default: []].append(options[name]!)
                } else if switches.contains(name), inline == nil {
                    flags.insert(name)
                } else {
                    throw UsageError(
                        message: "unknown option '\(name)'" + CLI.hint(name, Array(valued.union(switches))))
                }
            } else {
                positional.append(a)
            }
            i += 1
        }
    }

    func directory() throws -> String {
        guard positional.count <= 1 else {
            throw UsageError(message: "expected at most one bundle directory, got \(positional.joined(separator: " "))")
        }
        var dir = positional.first ?? "./Policies"
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        return dir
    }
}
