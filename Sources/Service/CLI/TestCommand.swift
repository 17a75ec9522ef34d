import Foundation

/// `entitlements test [DIR] [--junit FILE] [--filter TEXT] [--format text|json] [--http URL [--ignore-digest]]
/// [--allow-empty]`: runs DIR/tests/**/*.yaml. Failures print in the per-key form on a terminal and in a CI log
/// alike (`--format json`: one JSON object per failing case). A run of zero cases fails unless `--allow-empty`; `--http` first checks that the service is
/// reachable and serves the same bundle (digest) as DIR.
enum TestCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(
            args, valued: ["--junit", "--filter", "--http", "--format", "--min-coverage", "--coverage-json"],
            switches: ["--allow-empty", "--ignore-digest", "--coverage"])
        var minimum: Double?
        if let m = parsed.options["--min-coverage"] {
            guard let v = Double(m.hasSuffix("%") ? String(m.dropLast()) : m), v >= 0, v <= 100 else {
                throw UsageError(message: "--min-coverage takes a percentage from 0 to 100, got '\(m)'")
            }
            minimum = v
        }
        let wantsCoverage =
            parsed.flags.contains("--coverage") || minimum != nil || parsed.options["--coverage-json"] != nil
        if wantsCoverage && parsed.options["--http"] != nil {
            throw UsageError(message: "coverage is recorded in-process; drop --http to measure it")
        }
        let format = parsed.options["--format"] ?? "text"
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
            if let service, let problem = serviceProblem(service, url: url, local: compiled.policy?.digest) {
                if !(problem.digest && parsed.flags.contains("--ignore-digest")) {
                    output.error("error: \(problem.message)")
                    return ExitCode.failure
                }
            }
        }
        var runner = FixtureRunner(
            program: compiled.policy.map(Program.init), filter: parsed.options["--filter"], service: service)
        let recorder = wantsCoverage ? CoverageRecorder() : nil
        runner.coverage = recorder
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
        if compiled.policy == nil {
            // Said once, not once per case: no case can run on a bundle that does not compile.
            let notRun = results.isEmpty ? "" : "; \(results.count) case\(results.count == 1 ? "" : "s") not run"
            output.line("error: the policy bundle does not compile" + notRun)
        } else {
            for r in results where !r.passed {
                if format == "json" {
                    output.line(JSONWriter.string(caseJSON(r, prefix: prefix)))
                } else {
                    for l in caseLines(r, prefix: prefix) { output.line(l) }
                }
            }
        }
        let passed = results.filter(\.passed).count
        let failed = results.count - passed
        let empty = results.isEmpty && compiled.policy != nil && !parsed.flags.contains("--allow-empty")
        if empty { output.error("error: " + emptyRunMessage(dir, filter: parsed.options["--filter"])) }
        var belowMinimum = false
        if let recorder, let policy = compiled.policy {
            let report = CoverageReport(policy: policy, recorder)
            if parsed.flags.contains("--coverage") || minimum != nil {
                for l in report.text(prefix: prefix) { output.line(l) }
            }
            if let path = parsed.options["--coverage-json"] {
                try String(decoding: JSONWriter.serialize(report.json), as: UTF8.self)
                    .write(toFile: path, atomically: true, encoding: .utf8)
            }
            if let minimum, report.percent < minimum {
                belowMinimum = true
                output.error(
                    String(format: "error: coverage %.1f%% is below --min-coverage %g%%", report.percent, minimum))
            }
        }
        if let junit = parsed.options["--junit"] {
            try junitXML(results, prefix: prefix).write(toFile: junit, atomically: true, encoding: .utf8)
        }
        output.line("\(passed) passed, \(failed) failed")
        return failed == 0 && compiled.policy != nil && !empty && !belowMinimum ? ExitCode.ok : ExitCode.failure
    }

    /// Why zero cases ran: no fixture files (and where they may be instead), or a filter that matched none.
    static func emptyRunMessage(_ dir: String, filter: String?) -> String {
        if let filter, !FixtureRunner.discover(dir).isEmpty {
            return
                "--filter '\(filter)' matched no case (it selects cases whose name, file or suite name contains it); "
                + "--allow-empty permits an empty run"
        }
        var message = "no fixture cases ran: \(dir)/tests/ has no .yaml files with cases"
        let elsewhere = ["test", "fixtures", "Tests", "spec"].filter { name in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir) && isDir.boolValue
        }
        if let other = elsewhere.first { message += " (found \(dir)/\(other)/: fixtures are read from tests/ only)" }
        return message + "; --allow-empty permits an empty run"
    }

    /// Nil when the service answers and serves the local bundle; else what is wrong (`digest`: only the bundle).
    static func serviceProblem(_ service: HTTPClient, url: String, local: String?) -> (message: String, digest: Bool)? {
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try service.get("/v1/policy")
        } catch {
            return ("cannot reach the service at \(url): \(error.description)", false)
        }
        guard answer.status == 200, case .string(let remote)? = (try? JSONParser.parse(answer.body))?["digest"] else {
            return ("the service at \(url) answered GET /v1/policy with \(answer.status), not a policy", false)
        }
        guard let local, local != remote else { return nil }
        return (
            "the service at \(url) serves bundle \(remote.prefix(12)), the local bundle is \(local.prefix(12)): "
                + "reload the service or pass --ignore-digest", true
        )
    }

    /// The widest line the per-key form prints (SPEC §5: about 120 characters); longer ones wrap.
    static let width = 120

    /// A failing case, as a terminal and a CI log show it alike: `file:line: FAIL name`, then one line per
    /// mismatching key (`allowed: expected true, got false`) under the check it belongs to, a rejected check on a
    /// line of its own, and fixture errors; no line wider than `width`.
    static func caseLines(_ r: FixtureRunner.CaseResult, prefix: String) -> [String] {
        let line = failureLine(r)
        var out = ["\(prefix)\(r.file):\(line): FAIL \(r.name)"]
        for f in r.failures {
            let at = f.line.flatMap { $0 == line ? nil : "line \($0): " } ?? ""
            if f.details.isEmpty {
                out += wrap(at + f.message, indent: "  ")
            } else {
                out += wrap(at + f.message, indent: "  ")
                for d in f.details { out += wrap(d, indent: "    ") }
            }
        }
        return out
    }

    /// `text` cut at spaces into lines of at most `width` characters, each starting with `indent` (continuations
    /// indented two more); a word longer than a line is cut where it must be.
    static func wrap(_ text: String, indent: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        var lead = indent
        while lead.count + rest.count > width {
            let room = width - lead.count
            let window = rest.prefix(room)
            let cut = window.lastIndex(of: " ").flatMap { $0 > window.startIndex ? $0 : nil } ?? window.endIndex
            out.append(lead + rest[..<cut])
            rest = rest[cut...].drop { $0 == " " }
            lead = indent + "  "
        }
        out.append(lead + rest)
        return out
    }

    /// `--format json`: one JSON object per failing case, every failure with its expected and actual values whole.
    static func caseJSON(_ r: FixtureRunner.CaseResult, prefix: String) -> JSONValue {
        .object([
            ("file", .string(prefix + r.file)), ("line", .int(Int64(failureLine(r)))), ("name", .string(r.name)),
            (
                "failures",
                .array(
                    r.failures.map { f in
                        var o: [(String, JSONValue)] = [("message", .string(f.message))]
                        if let l = f.line { o.append(("line", .int(Int64(l)))) }
                        if !f.details.isEmpty { o.append(("mismatches", .array(f.details.map { .string($0) }))) }
                        if let e = f.expected { o.append(("expected", e)) }
                        if let a = f.actual { o.append(("actual", a)) }
                        return .object(o)
                    })
            ),
        ])
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
                    // The same lines as the terminal and the CI log, without the heading the testcase already is.
                    let lines = caseLines(c, prefix: prefix).dropFirst().map { String($0.dropFirst(2)) }
                    x += ">\n      <failure message=\"\(esc(c.failures.first?.message ?? "failed"))\">"
                    x += esc(lines.joined(separator: "\n")) + "</failure>\n    </testcase>\n"
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
