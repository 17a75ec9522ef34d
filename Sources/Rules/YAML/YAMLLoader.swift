internal import CYAML

/// Reads one YAML file into a `YAMLNode` tree on libyaml's event API, enforcing the bundle's safety limits.
public enum YAMLLoader {
    /// A file larger than this is rejected before it is parsed.
    public static let maxFileBytes = 4 * 1024 * 1024
    /// Nodes after alias expansion (scalars, sequences and mappings, keys included).
    public static let maxNodes = 100_000

    /// A file the loader cannot read as one YAML document: a diagnostic code, message and place.
    public struct Failure: Error, Sendable {
        public var code: DiagnosticCode
        public var message: String
        public var location: SourceLocation
        public var related: [SourceLocation] = []
        public var diagnostic: Diagnostic { Diagnostic(code: code, message, at: location, related: related) }
    }

    /// Parses `bytes` (the content of `file`). Returns nil for an empty document (the file contributes nothing).
    /// Findings that do not stop the parse (a duplicate key: the first occurrence is kept) go to `findings`.
    public static func load(_ bytes: [UInt8], file: String, findings: inout [Diagnostic]) throws(Failure) -> YAMLNode? {
        let origin = SourceLocation(file: file, line: 1, column: 1)
        if bytes.count > maxFileBytes {
            throw Failure(
                code: .file_too_large, message: "file is \(bytes.count) bytes; the limit is \(maxFileBytes) (4 MiB)",
                location: origin)
        }
        if let bad = firstInvalidUTF8(bytes) {
            throw Failure(
                code: .not_utf8, message: "file is not valid UTF-8 (byte offset \(bad))",
                location: bad.location(in: bytes, file: file))
        }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        guard yaml_parser_initialize(parser) == 1 else {
            parser.deallocate()
            throw Failure(code: .yaml_syntax, message: "could not initialise the YAML parser", location: origin)
        }
        defer {
            yaml_parser_delete(parser)
            parser.deallocate()
        }
        // libyaml keeps a pointer to the input: keep the bytes alive and pinned for the whole parse.
        let input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, bytes.count))
        defer { input.deallocate() }
        _ = input.initialize(from: bytes)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        var builder = Builder(file: file)
        defer { findings += builder.findings }
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else {
                throw YAMLSyntaxHint.explain(syntaxFailure(parser.pointee, file: file), bytes: bytes)
            }
            defer { yaml_event_delete(&event) }
            if event.type == YAML_STREAM_END_EVENT { break }
            try builder.handle(&event)
        }
        return builder.root
    }

    private static func mark(_ m: yaml_mark_t, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: Int(m.line) + 1, column: Int(m.column) + 1)
    }

    private static func syntaxFailure(_ p: yaml_parser_t, file: String) -> Failure {
        let problem = p.problem.map { String(cString: $0) } ?? "malformed YAML"
        var message = problem
        if let ctx = p.context { message += " " + String(cString: ctx) }
        if p.problem_offset > 0, p.problem_mark.line == 0 && p.problem_mark.column == 0 && p.problem_value != -1 {
            message += " (offset \(p.problem_offset))"
        }
        return Failure(code: .yaml_syntax, message: message, location: mark(p.problem_mark, file))
    }

    // MARK: - Tree building

    private struct Frame {
        var isMapping: Bool
        var anchor: String?
        var start: SourceLocation
        var items: [YAMLNode] = []
        var countAtStart: Int
    }

    private struct Builder {
        let file: String
        var stack: [Frame] = []
        var anchors: [String: (node: YAMLNode, size: Int)] = [:]
        var pendingAnchors: Set<String> = []
        var count = 0
        var documents = 0
        var root: YAMLNode?
        var findings: [Diagnostic] = []

        init(file: String) { self.file = file }

        mutating func handle(_ e: inout yaml_event_t) throws(Failure) {
            let start = YAMLLoader.mark(e.start_mark, file)
            let end = YAMLLoader.mark(e.end_mark, file)
            switch e.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                break
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw Failure(
                        code: .multiple_documents, message: "a policy file holds one YAML document; found a second",
                        location: start)
                }
            case YAML_SCALAR_EVENT:
                let s = e.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
                let style: YAMLNode.ScalarStyle
                switch s.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: style = .literal
                case YAML_FOLDED_SCALAR_STYLE: style = .folded
                default: style = .plain
                }
                var tag = s.tag.map { String(cString: $0) }
                if tag == "!" { tag = nil }
                if let t = tag, style == .plain || t != "tag:yaml.org,2002:str" {
                    try checkTag(t, at: start)
                }
                try countNodes(1, at: start)
                let node = YAMLNode(kind: .scalar(text, style, tag: tag), start: start, end: end)
                finish(node, anchor: s.anchor.map { String(cString: $0) }, size: 1)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = e.type == YAML_MAPPING_START_EVENT
                let anchorPtr = isMapping ? e.data.mapping_start.anchor : e.data.sequence_start.anchor
                let tagPtr = isMapping ? e.data.mapping_start.tag : e.data.sequence_start.tag
                if let t = tagPtr.map({ String(cString: $0) }), t != "!",
                    t != (isMapping ? "tag:yaml.org,2002:map" : "tag:yaml.org,2002:seq")
                {
                    try checkTag(t, at: start)
                }
                try countNodes(1, at: start)
                let anchor = anchorPtr.map { String(cString: $0) }
                if let anchor { pendingAnchors.insert(anchor) }
                if stack.count >= 512 {
                    throw Failure(code: .yaml_too_deep, message: "nesting deeper than 512 levels", location: start)
                }
                stack.append(Frame(isMapping: isMapping, anchor: anchor, start: start, countAtStart: count - 1))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let frame = stack.removeLast()
                let kind: YAMLNode.Kind
                if frame.isMapping {
                    var pairs: [(key: YAMLNode, value: YAMLNode)] = []
                    pairs.reserveCapacity(frame.items.count / 2)
                    // Duplicate keys: a scan of the keys so far for small mappings, a dictionary past 16.
                    var seen: [String: SourceLocation] = [:]
                    var keys: [(text: String, at: SourceLocation)] = []
                    let small = frame.items.count <= 32
                    var i = 0
                    while i + 1 < frame.items.count {
                        let k = frame.items[i]
                        guard case .scalar(let text, _, _) = k.kind else {
                            throw Failure(
                                code: .invalid_key, message: "mapping keys must be scalars, found \(k.typeName)",
                                location: k.start)
                        }
                        let earlier = small ? keys.first(where: { $0.text == text })?.at : seen[text]
                        if let first = earlier {
                            findings.append(
                                Diagnostic(
                                    code: .duplicate_key, "duplicate key '\(text)' in the same mapping", at: k.start,
                                    related: [first]))
                            i += 2
                            continue
                        }
                        if small { keys.append((text, k.start)) } else { seen[text] = k.start }
                        pairs.append((k, frame.items[i + 1]))
                        i += 2
                    }
                    kind = .mapping(pairs)
                } else {
                    kind = .sequence(frame.items)
                }
                if let a = frame.anchor { pendingAnchors.remove(a) }
                finish(
                    YAMLNode(kind: kind, start: frame.start, end: end), anchor: frame.anchor,
                    size: count - frame.countAtStart)
            case YAML_ALIAS_EVENT:
                let name = String(cString: e.data.alias.anchor)
                if pendingAnchors.contains(name) {
                    throw Failure(
                        code: .recursive_alias, message: "alias '*\(name)' refers to a node that contains it",
                        location: start)
                }
                guard let target = anchors[name] else {
                    throw Failure(code: .unknown_anchor, message: "alias '*\(name)' names no anchor", location: start)
                }
                try countNodes(target.size, at: start)
                finish(target.node, anchor: nil, size: target.size)
            default:
                break
            }
        }

        private func checkTag(_ tag: String, at loc: SourceLocation) throws(Failure) {
            let allowed = [
                "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
                "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
            ]
            if !allowed.contains(tag) {
                throw Failure(code: .unsupported_tag, message: "YAML tag '\(tag)' is not supported", location: loc)
            }
        }

        /// Counts nodes as if aliases were expanded, without expanding them (no billion laughs).
        private mutating func countNodes(_ n: Int, at loc: SourceLocation) throws(Failure) {
            count += n
            if count > YAMLLoader.maxNodes {
                throw Failure(
                    code: .too_many_nodes,
                    message: "document expands to more than \(YAMLLoader.maxNodes) nodes (aliases counted expanded)",
                    location: loc)
            }
        }

        private mutating func finish(_ node: YAMLNode, anchor: String?, size: Int) {
            if let anchor { anchors[anchor] = (node, size) }
            if stack.isEmpty {
                root = node
            } else {
                stack[stack.count - 1].items.append(node)
            }
        }
    }

    // MARK: - UTF-8

    struct ByteOffset: CustomStringConvertible {
        var offset: Int
        var description: String { String(offset) }
        func location(in bytes: [UInt8], file: String) -> SourceLocation {
            var line = 1
            var col = 1
            for b in bytes[..<offset] {
                if b == 10 {
                    line += 1
                    col = 1
                } else if b & 0xC0 != 0x80 {
                    col += 1
                }
            }
            return SourceLocation(file: file, line: line, column: col)
        }
    }

    static func firstInvalidUTF8(_ bytes: [UInt8]) -> ByteOffset? {
        // Policy files are nearly all ASCII: skip ASCII runs eight bytes at a time, decode from the first other byte.
        let asciiPrefix = bytes.withUnsafeBytes { raw -> Int in
            var i = 0
            while i + 8 <= raw.count
                && raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                i += 8
            }
            while i < raw.count && raw[i] < 0x80 { i += 1 }
            return i
        }
        if asciiPrefix == bytes.count { return nil }
        var it = bytes[asciiPrefix...].makeIterator()
        var decoder = UTF8()
        var offset = asciiPrefix
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s):
                offset += UTF8.width(s)
            case .emptyInput:
                return nil
            case .error:
                return ByteOffset(offset: offset)
            }
        }
    }
}
