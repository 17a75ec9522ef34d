import Foundation

/// `entitlements check [DIR] --input FILE|- [--explain] [--format json|text]`: evaluates a `/v1/check` body
/// offline. JSON by default; with `--explain` on a terminal, the readable form (`--format` chooses).
enum CheckCommand {
    static func run(_ args: [String], output: CLIOutput, stdin: () -> [UInt8] = readStandardInput) throws -> Int32 {
        let parsed = try Arguments(args, valued: ["--input", "--now", "--format"], switches: ["--explain"])
        let format =
            parsed.options["--format"] ?? (parsed.flags.contains("--explain") && output.isTerminal ? "text" : "json")
        guard ["json", "text"].contains(format) else { throw UsageError(message: "--format must be json or text") }
        let dir = try parsed.directory()
        guard let input = parsed.options["--input"] else {
            throw UsageError(message: "check needs --input FILE (or - for standard input)")
        }
        let bytes: [UInt8]
        if input == "-" {
            bytes = stdin()
        } else {
            guard let data = FileManager.default.contents(atPath: input) else {
                throw UsageError(message: "cannot read input file '\(input)'")
            }
            bytes = [UInt8](data)
        }
        let program = try loadProgram(dir, output: output)
        var body = bytes
        if parsed.flags.contains("--explain"), case .object(var m)? = try? JSONParser.parse(bytes) {
            m.removeAll { $0.0 == "explain" }
            m.append(("explain", .bool(true)))
            body = JSONWriter.serialize(.object(m))
        }
        var clock = Clock.now()
        if let n = parsed.options["--now"] {
            guard let t = Timestamp.parse(n) else { throw UsageError(message: "--now must be an RFC 3339 timestamp") }
            clock = t
        }
        var tally = DecisionTally()
        let response: HTTPResponse
        do {
            response = try Decisions.answerCheck(program, body: body, now: clock, tally: &tally)
        } catch {
            response = error.response
        }
        if format == "text", response.status == 200,
            case .array(let results)? = (try? JSONParser.parse(response.body))?["results"]
        {
            var checks: [JSONValue] = []
            if case .array(let c)? = (try? JSONParser.parse(body))?["checks"] { checks = c }
            for (i, r) in results.enumerated() {
                let what = i < checks.count ? " " + ExplainText.describe(checks[i]) : ""
                for l in ExplainText.result(r, label: "checks[\(i)]\(what)") { output.line(l) }
            }
        } else {
            output.line(String(decoding: response.body, as: UTF8.self))
        }
        return response.status == 200 ? ExitCode.ok : ExitCode.failure
    }

    static func readStandardInput() -> [UInt8] {
        [UInt8](FileHandle.standardInput.readDataToEndOfFile())
    }
}
