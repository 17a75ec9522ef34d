/// Renders diagnostics like a compiler: `file:line:col: error: [code] message`, the source line, a caret.
public struct DiagnosticRenderer: Sendable {
    /// Source text of each file by its bundle-relative path.
    public let sources: [String: String]
    /// Prefix put before each bundle-relative path (the bundle directory as the user named it).
    public var pathPrefix: String
    /// Where each line of each file starts, in UTF-8 bytes (found by a byte scan: thousands of diagnostics on a
    /// large bundle look lines up without splitting the files into strings).
    private let lineStarts: [String: [Int]]

    public init(sources: [String: String], pathPrefix: String) {
        self.sources = sources
        self.pathPrefix = pathPrefix
        lineStarts = sources.mapValues { text in
            var starts = [0]
            var k = 0
            for c in text.utf8 {
                k += 1
                if c == UInt8(ascii: "\n") { starts.append(k) }
            }
            return starts
        }
    }

    /// Line `n` (1-based) of `file`, without its line break; nil when there is no such line.
    func line(_ n: Int, of file: String) -> String? {
        guard let text = sources[file], let starts = lineStarts[file], n >= 1, n <= starts.count else { return nil }
        let u = text.utf8
        let from = u.index(u.startIndex, offsetBy: starts[n - 1])
        let to = n < starts.count ? u.index(u.startIndex, offsetBy: starts[n] - 1) : u.endIndex
        return String(Substring(u[from..<to]))
    }

    public func displayPath(_ file: String) -> String { pathPrefix.isEmpty ? file : pathPrefix + "/" + file }

    public func render(_ d: Diagnostic, snippet: Bool = true) -> String {
        var out = "\(displayPath(d.location.file)):\(d.location.line):\(d.location.column): "
        out += "\(d.severity.rawValue): [\(d.code)] \(d.message)"
        let notes = d.related.map { "\n\(displayPath($0.file)):\($0.line):\($0.column): note: defined here" }.joined()
        guard snippet, var text = line(d.location.line, of: d.location.file) else { return out + notes }
        if text.hasSuffix("\r") { text.removeLast() }
        let scalars = Array(text.unicodeScalars)
        let col = max(1, min(d.location.column, scalars.count + 1))
        // Keep tabs in the caret line so the caret lines up under the offending character.
        let pad = String(String.UnicodeScalarView(scalars.prefix(col - 1).map { $0 == "\t" ? "\t" : " " }))
        out += "\n    \(text)\n    \(pad)^"
        return out + notes
    }
}
