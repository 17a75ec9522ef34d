import Foundation

/// `entitlements routes [DIR] --manifest FILE [--expect FILE]`: for the app's routes (`METHOD /path` lines), which
/// guards protect, skip (allowlisted) or do not apply to each; `--expect` fails when the matrix drifted.
enum RoutesCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(args, valued: ["--manifest", "--expect"], switches: [])
        let dir = try parsed.directory()
        guard let manifest = parsed.options["--manifest"] else {
            throw UsageError(message: "routes needs --manifest FILE")
        }
        guard let text = try? String(contentsOfFile: manifest, encoding: .utf8) else {
            throw UsageError(message: "cannot read manifest '\(manifest)'")
        }
        let program = try loadProgram(dir, output: output)
        guard let routes = readManifest(text, path: manifest, output: output) else { return ExitCode.failure }
        let table = matrix(program, routes)
        if let expectPath = parsed.options["--expect"] {
            guard let expected = try? String(contentsOfFile: expectPath, encoding: .utf8) else {
                throw UsageError(message: "cannot read expected matrix '\(expectPath)'")
            }
            if expected == table {
                output.line("routes: no drift (\(routes.count) routes, \(program.policy.guards.count) guards)")
                return ExitCode.ok
            }
            output.line("routes: the guard matrix drifted from \(expectPath):")
            let old = expected.split(separator: "\n").map(String.init)
            let new = table.split(separator: "\n").map(String.init)
            for l in old where !new.contains(l) { output.line("- \(l)") }
            for l in new where !old.contains(l) { output.line("+ \(l)") }
            return ExitCode.failure
        }
        output.out(table)
        return ExitCode.ok
    }

    /// The `METHOD /path` lines of a route manifest (blank lines and `#` comments skipped); nil (and an error on
    /// standard error) at the first malformed line.
    static func readManifest(_ text: String, path: String, output: CLIOutput) -> [String]? {
        var routes: [String] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard Evaluation.splitRoute(line)?.method != nil else {
                output.error("\(path):\(n + 1): expected 'METHOD /path', got '\(line)'")
                return nil
            }
            routes.append(line)
        }
        return routes
    }

    /// One row per route: `protect`, `skip` (allowlisted), `skip-if` (allowlisted when its `when` holds) or `-`.
    static func matrix(_ program: Program, _ routes: [String]) -> String {
        let guards = program.policy.guards
        let width = max(5, routes.map(\.count).max() ?? 0)
        let cols = guards.map { max($0.name.count, 7) }
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        var out = pad("route", width)
        for (g, c) in zip(guards, cols) { out += "  " + pad(g.name, c) }
        out = out.trimmingCharacters(in: .whitespaces) + "\n"
        for route in routes {
            let (method, path) = Evaluation.splitRoute(route)!
            var line = pad(route, width)
            let coverage = program.coverage(method: method, path: String(path))
            for (k, c) in cols.enumerated() { line += "  " + pad(coverage?[k].word ?? "invalid", c) }
            out += line.trimmingCharacters(in: .whitespaces) + "\n"
        }
        return out
    }
}
