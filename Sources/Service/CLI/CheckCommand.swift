import Foundation

/// `entitlements check [DIR] --input FILE|- [--explain]`: evaluates a `/v1/check` body offline.
enum CheckCommand {
    static func run(_ args: [String], output: CLIOutput, stdin: () -> [UInt8] = readStandardInput) throws -> Int32 {
        let parsed = try Arguments(args, valued: ["--input", "--now"], switches: ["--explain"])
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
        let (status, response) = Engine.checkBytes(program, body: body, now: clock)
        output.line(String(decoding: response, as: UTF8.self))
        return status == 200 ? ExitCode.ok : ExitCode.failure
    }

    static func readStandardInput() -> [UInt8] {
        [UInt8](FileHandle.standardInput.readDataToEndOfFile())
    }
}

/// Loads a bundle for commands that need a compiled program; prints diagnostics and fails when it does not compile.
func loadProgram(_ dir: String, output: CLIOutput) throws -> Program {
    let result = try compileBundle(dir)
    guard let policy = result.policy else {
        ValidateCommand.report(result, directory: dir, output: output)
        throw PolicyLoadFailed()
    }
    return Program(policy)
}

/// Compiles the bundle in `dir`; a directory that cannot be read is a usage error (exit 2).
func compileBundle(_ dir: String) throws(UsageError) -> PolicyCompiler.Output {
    do {
        return try PolicyCompiler.compile(directory: dir)
    } catch {
        throw UsageError(message: error.description)
    }
}

struct PolicyLoadFailed: Error, CustomStringConvertible {
    var description: String { "the policy bundle does not compile" }
}

/// The wall clock as a `Timestamp`.
enum Clock {
    static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), nanos: Int32(ts.tv_nsec))
    }
}
