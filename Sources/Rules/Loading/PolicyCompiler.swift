/// Turns a bundle's files into a validated `Policy`, collecting every diagnostic it can find (SPEC §2, §3, §9).
public enum PolicyCompiler {
    /// The result of a compile: the policy when there are no errors, and every diagnostic, sorted.
    public struct Output: Sendable {
        public var policy: Policy?
        public var diagnostics: [Diagnostic]
        public var files: [SourceFile]
    }

    /// Loads and compiles the bundle in `directory`.
    public static func compile(directory: String) throws(BundleFiles.Failure) -> Output {
        let paths = try BundleFiles.discover(directory: directory)
        let (files, readDiags) = BundleFiles.read(directory: directory, paths: paths)
        var out = compile(files: files)
        if !readDiags.isEmpty {
            out.diagnostics = (out.diagnostics + readDiags).sorted(by: Diagnostic.ordered)
            out.policy = nil
        }
        return out
    }

    /// Loads and compiles the bundle in `directory`, or throws: `BundleFiles.Failure` when the directory cannot be
    /// read, `PolicyError` (with every diagnostic) when the bundle does not compile.
    public static func load(directory: String) throws -> Policy {
        let out = try compile(directory: directory)
        guard let policy = out.policy else { throw PolicyError(out.diagnostics) }
        return policy
    }

    /// Compiles in-memory files (paths are bundle-relative). Files are read in bytewise path order.
    public static func compile(files unsorted: [SourceFile]) -> Output {
        let files = unsorted.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
        var compiler = BundleCompiler(files: files)
        compiler.run()
        let sorted = compiler.diags.sorted
        let ok = !sorted.contains { $0.severity == .error }
        return Output(policy: ok ? compiler.policy : nil, diagnostics: sorted, files: files)
    }
}
