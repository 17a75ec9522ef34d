/// Turns libyaml's syntax errors into plain words for the common slips (indentation, tabs, a key without `:`), and
/// points at the line where the structure broke rather than where libyaml noticed. libyaml's own words stay at the
/// end of the message.
enum YAMLSyntaxHint {
    /// One line of the file: its 1-based number, its indentation in spaces and its text without the indentation.
    struct Line {
        var number: Int
        var indent: Int
        var text: Substring
    }

    static func explain(_ failure: YAMLLoader.Failure, bytes: [UInt8]) -> YAMLLoader.Failure {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let at = failure.location.line
        guard at >= 1, at <= lines.count else { return failure }
        let original = failure.message
        var out = failure
        func put(_ message: String, line: Line) {
            out.message = "\(message) (YAML: \(original))"
            out.location = SourceLocation(file: failure.location.file, line: line.number, column: line.indent + 1)
        }
        let current = Self.line(lines, at)
        // Content lines above the error, nearest first (blank lines and comments carry no structure).
        let above = sequence(first: at - 1, next: { $0 - 1 }).prefix(while: { $0 >= 1 }).lazy
            .map { Self.line(lines, $0) }.filter { !$0.text.isEmpty && !$0.text.hasPrefix("#") }
        let previous = above.first
        if lines[at - 1].prefix(while: { $0 == " " || $0 == "\t" }).contains("\t")
            || original.contains("cannot start any token") && lines[at - 1].contains("\t")
        {
            put("tab characters cannot indent YAML; indent with spaces", line: current)
        } else if original.hasPrefix("mapping values are not allowed"), let p = previous, current.indent > p.indent {
            // The previous line is the odd one when it lines up neither with the line before it nor with the
            // lines after it (an outdented entry, or a misaligned first entry of a block).
            let beforePrevious = above.dropFirst().first
            if let q = beforePrevious, q.indent != p.indent {
                put(
                    "line \(p.number) is indented \(p.indent) spaces but the line after it \(current.indent); "
                        + "YAML reads indentation as structure, so the two cannot be entries of one block. Indent "
                        + "line \(p.number) like its neighbours", line: p)
            } else {
                put(
                    "line \(at) is indented more than line \(p.number) ('\(p.text)'), which already has a value; "
                        + "indent it like the keys beside it (or, if it belongs under that key, remove the value after "
                        + "the ':')", line: current)
            }
        } else if original.hasPrefix("mapping values are not allowed"), let p = previous, current.indent == p.indent,
            !p.text.contains(":"), !p.text.hasPrefix("-")
        {
            // `public true` then `sort: 3`: the key without ':' ran on into the next line as one plain string.
            put("line \(p.number) looks like a key without ':'; write 'key: value'", line: p)
        } else if original.hasPrefix("did not find expected key"), let p = previous, p.indent < current.indent,
            let q = above.dropFirst().first, q.indent == current.indent, p.text.contains(":")
        {
            // An outdented key between two lines of one block: libyaml notices on the line after it, but the key is
            // the line that moved.
            put(
                "line \(p.number) ('\(p.text.prefix(60))') is indented \(p.indent) spaces, less than the lines above "
                    + "and below it (\(current.indent)); indent it \(current.indent) spaces like its neighbours",
                line: p)
        } else if original.hasPrefix("did not find expected key") || original.hasPrefix("did not find expected '-'") {
            put(
                "line \(at) does not line up with the lines above it (indented \(current.indent) spaces); entries of "
                    + "one block need the same indentation", line: current)
        } else if original.hasPrefix("could not find expected ':'") {
            // libyaml notices on the line after the key; the key is the previous content line.
            let key = (at > 1 && current.indent == 0 && current.text.isEmpty) ? previous ?? current : current
            let target = original.contains("simple key") ? (previous ?? key) : key
            put("line \(target.number) looks like a key without ':'; write 'key: value'", line: target)
        } else if original.hasPrefix("found unexpected end of stream") && original.contains("quoted scalar") {
            out.message = "a quoted string is never closed; add the closing quote (YAML: \(original))"
        } else if original.hasPrefix("block sequence entries are not allowed") {
            put(
                "a '- ' list item where a value was expected; put the list on its own lines under the key, "
                    + "indented", line: current)
        }
        return out
    }

    static func line(_ lines: [Substring], _ number: Int) -> Line {
        var raw = lines[number - 1]
        if raw.hasSuffix("\r") { raw = raw.dropLast() }
        let indent = raw.prefix { $0 == " " }.count
        return Line(number: number, indent: indent, text: raw.dropFirst(indent))
    }
}
