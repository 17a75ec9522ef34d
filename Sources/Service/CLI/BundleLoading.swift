/// Loads a bundle for commands that need a compiled program; prints diagnostics and fails when it does not compile.
/// (Without the warnings pass: nothing here prints warnings; `validate` does.)
func loadProgram(_ dir: String, output: CLIOutput) throws -> Program {
    let result = try compileBundle(dir, warnings: false)
    guard let policy = result.policy else {
        ValidateCommand.report(result, directory: dir, output: output)
        throw PolicyLoadFailed()
    }
    return Program(policy)
}

/// Compiles the bundle in `dir`; a directory that cannot be read is a usage error (exit 2).
func compileBundle(_ dir: String, warnings: Bool = true) throws(UsageError) -> PolicyCompiler.Output {
    do {
        return try PolicyCompiler.compile(directory: dir, warnings: warnings)
    } catch {
        throw UsageError(message: error.description)
    }
}

struct PolicyLoadFailed: Error, CustomStringConvertible {
    var description: String { "the policy bundle does not compile" }
}
