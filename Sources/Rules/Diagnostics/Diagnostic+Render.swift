/// Renders diagnostics like a compiler: `file:line:col: error: [code] message`, the source line, a caret.
public struct DiagnosticRenderer: Sendable {
    /// Source text of each file by its bundle-relative path.
    public var sources: [String: [Substring]]
    /// Prefix put before each bundle-relative path (the bundle directory as the user named it).
    public var pathPrefix: String

    public init(sources: [String: String], pathPrefix: String) {
        self.sources = sources.mapValues { $0.split(separator: "\n", omittingEmptySubsequences: false) }
        self.pathPrefix = pathPrefix
    }

    public func displayPath(_ file: String) -> String { pathPrefix.isEmpty ? file : pathPrefix + "/" + file }

    public func render(_ d: Diagnostic, snippet: Bool = true) -> String {
        var out = "\(displayPath(d.location.file)):\(d.location.line):\(d.location.column): "
        out += "\(d.severity.rawValue): [\(d.code)] \(d.message)"
        let notes = d.related.map { "\n\(displayPath($0.file)):\($0.line):\($0.column): note: defined here" }.joined()
        guard snippet, let lines = sources[d.location.file], d.location.line >= 1, d.location.line <= lines.count else {
            return out + notes
        }
        var text = String(lines[d.location.line - 1])
        if text.hasSuffix("\r") { text.removeLast() }
        let scalars = Array(text.unicodeScalars)
        let col = max(1, min(d.location.column, scalars.count + 1))
        // Keep tabs in the caret line so the caret lines up under the offending character.
        let pad = String(String.UnicodeScalarView(scalars.prefix(col - 1).map { $0 == "\t" ? "\t" : " " }))
        out += "\n    \(text)\n    \(pad)^"
        return out + notes
    }
}
