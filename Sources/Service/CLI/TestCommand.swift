import Foundation

/// `entitlements test [DIR] [--junit FILE] [--filter TEXT]`: runs DIR/tests/**/*.yaml.
enum TestCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(args, valued: ["--junit", "--filter", "--http", "--format"], switches: [])
        let format = parsed.options["--format"] ?? (output.isTerminal ? "text" : "json")
        guard ["json", "text"].contains(format) else { throw UsageError(message: "--format must be json or text") }
        let dir = try parsed.directory()
        let compiled = try compileBundle(dir)
        if compiled.policy == nil { ValidateCommand.report(compiled, directory: dir, output: output) }
        var service: HTTPClient?
        if let url = parsed.options["--http"] {
            do {
                service = try HTTPClient(url: url)
            } catch {
                throw UsageError(message: error.description)
            }
        }
        let runner = FixtureRunner(
            program: compiled.policy.map(Program.init), filter: parsed.options["--filter"], service: service)
        var results: [FixtureRunner.CaseResult] = []
        for file in FixtureRunner.discover(dir) {
            guard let data = FileManager.default.contents(atPath: dir + "/" + file) else {
                results.append(
                    .init(file: file, line: 1, name: "(file)", failures: [FixtureFailure("cannot read file")]))
                continue
            }
            results += runner.run(file: file, bytes: [UInt8](data))
        }
        let prefix = dir == "." ? "" : dir + "/"
        // Piped: one line per failing case: file:line (of its first failing check), the case, expected and actual.
        // On a terminal (or --format text): the case, then each failure with the result's verdict and trace.
        for r in results where !r.passed {
            if format == "text" {
                output.line("\(prefix)\(r.file):\(failureLine(r)): FAIL \(r.name)")
                for f in r.failures {
                    output.line("  " + (f.line.map { "line \($0): " } ?? "") + f.message)
                    if let e = f.expected { output.line("    expected: \(JSONWriter.string(e))") }
                    if let a = f.actual {
                        for l in ExplainText.result(a, label: "result", indent: "    ") { output.line(l) }
                        output.line("    actual: \(JSONWriter.string(a))")
                    }
                }
                continue
            }
            output.line(
                "\(prefix)\(r.file):\(failureLine(r)): FAIL \(r.name): \(r.failures.map(\.description).joined(separator: " | "))"
            )
        }
        let passed = results.filter(\.passed).count
        let failed = results.count - passed
        if let junit = parsed.options["--junit"] {
            try junitXML(results, prefix: prefix).write(toFile: junit, atomically: true, encoding: .utf8)
        }
        output.line("\(passed) passed, \(failed) failed")
        return failed == 0 && compiled.policy != nil ? ExitCode.ok : ExitCode.failure
    }

    /// The line of the first failure when it names one, else the case's line.
    static func failureLine(_ r: FixtureRunner.CaseResult) -> Int { r.failures.first?.line ?? r.line }

    static func junitXML(_ results: [FixtureRunner.CaseResult], prefix: String) -> String {
        func esc(_ s: String) -> String {
            var o = ""
            for c in s.unicodeScalars {
                switch c {
                case "&": o += "&amp;"
                case "<": o += "&lt;"
                case ">": o += "&gt;"
                case "\"": o += "&quot;"
                case "\n", "\t": o.unicodeScalars.append(c)
                default:
                    if c.value < 0x20 { continue }
                    o.unicodeScalars.append(c)
                }
            }
            return o
        }
        var files: [String] = []
        for r in results where !files.contains(r.file) { files.append(r.file) }
        let failures = results.filter { !$0.passed }.count
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"entitlements\" tests=\"\(results.count)\" failures=\"\(failures)\">\n"
        for f in files {
            let cases = results.filter { $0.file == f }
            x +=
                "  <testsuite name=\"\(esc(prefix + f))\" tests=\"\(cases.count)\" failures=\"\(cases.filter { !$0.passed }.count)\">\n"
            for c in cases {
                x +=
                    "    <testcase classname=\"\(esc(prefix + f))\" name=\"\(esc(c.name))\" file=\"\(esc(prefix + f))\" line=\"\(c.line)\""
                if c.passed {
                    x += "/>\n"
                } else {
                    x +=
                        ">\n      <failure message=\"\(esc(c.failures.first?.description.split(separator: "\n").first.map(String.init) ?? "failed"))\">"
                    x += esc(c.failures.map(\.description).joined(separator: "\n")) + "</failure>\n    </testcase>\n"
                }
            }
            x += "  </testsuite>\n"
        }
        return x + "</testsuites>\n"
    }
}

/// The service client judges fixtures through a running service (`test --http`).
extension HTTPClient: FixtureService {
    func post(_ path: String, json body: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        try post(path, json: body, headers: [])
    }
}
