/// Maps byte offsets inside a YAML scalar (an expression, a template) back to file positions.
struct Locator {
    /// The bundle's files; a file's lines are split the first time a position in it is asked for (a clean compile
    /// asks for none).
    private let files: [String: SourceFile]
    private let cache = LineCache()

    init(files: [SourceFile]) {
        self.files = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The lines of `path`, split on the newline byte ('\n' is ASCII, so every cut is on a scalar boundary).
    func lines(of path: String) -> [Substring]? {
        if let known = cache.lines[path] { return known }
        guard let f = files[path] else { return nil }
        let text = f.text
        var out: [Substring] = []
        var start = text.utf8.startIndex
        var i = start
        while i < text.utf8.endIndex {
            if text.utf8[i] == UInt8(ascii: "\n") {
                out.append(text[start..<i])
                start = text.utf8.index(after: i)
            }
            i = text.utf8.index(after: i)
        }
        out.append(text[start...])
        cache.lines[path] = out
        return out
    }

    /// Memo of split files. A compile runs on one thread; the locator is never shared between compiles.
    private final class LineCache {
        var lines: [String: [Substring]] = [:]
    }

    /// Position of byte `offset` of the scalar `node`'s value.
    func location(in node: YAMLNode, offset: Int) -> SourceLocation {
        guard case .scalar(let text, let style, _) = node.kind else { return node.start }
        let u = Array(text.utf8)
        let clamped = max(0, min(offset, u.count))
        // Character offset (libyaml columns count characters).
        let charOffset = u[..<clamped].reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        let quote = (style == .singleQuoted || style == .doubleQuoted) ? 1 : 0
        guard let fileLines = lines(of: node.start.file) else { return node.start }
        switch style {
        case .plain, .singleQuoted, .doubleQuoted:
            guard node.start.line == node.end.line, node.start.line - 1 < fileLines.count else {
                return node.start.advanced(by: quote)
            }
            let line = Array(fileLines[node.start.line - 1].unicodeScalars)
            let from = node.start.column - 1 + quote
            let scalars = Array(text.unicodeScalars)
            guard from >= 0, from + scalars.count <= line.count, Array(line[from..<(from + scalars.count)]) == scalars
            else {
                return node.start.advanced(by: quote)
            }
            return node.start.advanced(by: quote + charOffset)
        case .literal, .folded:
            // Content starts on the line after the indicator; map line by line when the text matches the source.
            let prefix = String(decoding: u[..<clamped], as: UTF8.self)
            let lineIndex = prefix.filter { $0 == "\n" }.count
            let col =
                prefix.split(separator: "\n", omittingEmptySubsequences: false).last.map { $0.unicodeScalars.count }
                ?? 0
            let srcLine = node.start.line + 1 + lineIndex
            guard srcLine - 1 < fileLines.count else { return node.start }
            let indent = fileLines[node.start.line].unicodeScalars.prefix { $0 == " " }.count
            return SourceLocation(file: node.start.file, line: srcLine, column: indent + col + 1)
        }
    }
}
