import Dispatch

/// Turns a bundle's files into a validated `Policy`, collecting every diagnostic it can find (SPEC §2, §3, §9).
public enum PolicyCompiler {
    /// The result of a compile: the policy when there are no errors, and every diagnostic, sorted.
    public struct Output: Sendable {
        public var policy: Policy?
        public var diagnostics: [Diagnostic]
        public var files: [SourceFile]
    }

    /// Loads and compiles the bundle in `directory`.
    /// `warnings: false` skips the warnings pass (its `warning:` diagnostics): for loading a program to serve or
    /// query, where nobody reads them — on a bundle of thousands of guards that pass is a tenth of the compile.
    /// `validate`, `test` and authoring keep it.
    public static func compile(directory: String, warnings: Bool = true) throws(BundleFiles.Failure) -> Output {
        let paths = try BundleFiles.discover(directory: directory)
        let (files, readDiags) = BundleFiles.read(directory: directory, paths: paths)
        var out = compile(files: files, warnings: warnings)
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
    public static func compile(files unsorted: [SourceFile], warnings: Bool = true) -> Output {
        let files = unsorted.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
        var compiler = BundleCompiler(files: files)
        compiler.warnings = warnings
        compiler.run()
        let sorted = compiler.diags.sorted
        let ok = !sorted.contains { $0.severity == .error }
        let out = Output(policy: ok ? compiler.policy : nil, diagnostics: sorted, files: files)
        if BundleCompiler.isLarge(files) {
            // A large bundle's parsed documents and the compiler's indexes are tens of thousands of small objects:
            // they are freed on another core, off the caller's path (the program is built meanwhile).
            let retired = Retired(compiler)
            DispatchQueue.global(qos: .utility).async { retired.release() }
        }
        return out
    }
}

/// A compiler handed to another thread only to be freed there; nothing else refers to it.
private final class Retired: @unchecked Sendable {
    private var compiler: BundleCompiler?
    init(_ compiler: consuming BundleCompiler) { self.compiler = compiler }
    func release() { compiler = nil }
}
