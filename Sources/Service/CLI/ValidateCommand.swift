/// `entitlements validate [DIR]`: compile and print every diagnostic like a compiler.
enum ValidateCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(args, valued: [], switches: ["--quiet", "--strict", "--deny-warnings"])
        let strict = parsed.flags.contains("--strict") || parsed.flags.contains("--deny-warnings")
        let dir = try parsed.directory()
        let result = try compileBundle(dir)
        report(result, directory: dir, output: output)
        let errors = result.diagnostics.filter { $0.severity == .error }.count
        let warnings = result.diagnostics.count - errors
        if errors > 0 || (strict && warnings > 0) {
            output.line("\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
            return ExitCode.failure
        }
        if !parsed.flags.contains("--quiet"), let p = result.policy {
            output.line(
                "ok: \(p.files.count) files, \(p.features.count) features, \(p.plans.count) plans, \(p.guards.count) guards, "
                    + "\(p.flags.count) flags, \(p.facts.count) facts; digest \(p.digest.prefix(12))"
                    + (warnings > 0 ? "; \(warnings) warning\(warnings == 1 ? "" : "s")" : ""))
        }
        return ExitCode.ok
    }

    /// Prints each diagnostic with its source line and caret.
    static func report(_ result: PolicyCompiler.Output, directory: String, output: CLIOutput) {
        var sources: [String: String] = [:]
        for f in result.files { sources[f.path] = f.text }
        let renderer = DiagnosticRenderer(sources: sources, pathPrefix: directory == "." ? "" : directory)
        for d in result.diagnostics { output.line(renderer.render(d)) }
    }
}
