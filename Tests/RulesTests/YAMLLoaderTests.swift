import Rules
import Testing

@Suite struct YAMLLoaderTests {
    func load(_ text: String) throws -> YAMLNode? {
        var findings: [Diagnostic] = []
        let node = try YAMLLoader.load(Array(text.utf8), file: "t.yaml", findings: &findings)
        #expect(findings.isEmpty)
        return node
    }

    func failure(_ bytes: [UInt8]) -> YAMLLoader.Failure? {
        var findings: [Diagnostic] = []
        do {
            _ = try YAMLLoader.load(bytes, file: "t.yaml", findings: &findings)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        ("true", YAMLNode.Resolved.bool(true)), ("false", .bool(false)), ("True", .bool(true)),
        ("yes", .string("yes")), ("no", .string("no")), ("on", .string("on")), ("off", .string("off")),
        ("null", .null), ("~", .null), ("", .null), ("42", .int(42)), ("-7", .int(-7)), ("0x1F", .int(31)),
        ("0o17", .int(15)), ("'true'", .string("true")), ("\"42\"", .string("42")), ("2.5", .float("2.5")),
        ("1e3", .float("1e3")), ("9223372036854775808", .intOverflow("9223372036854775808")),
        ("2026-05-10T12:00:00Z", .string("2026-05-10T12:00:00Z")), ("14d", .string("14d")),
    ])
    func coreSchemaScalars(_ text: String, _ expected: YAMLNode.Resolved) throws {
        let node = try load("k: \(text)\n")
        guard case .mapping(let pairs)? = node?.kind else {
            Issue.record("not a mapping")
            return
        }
        #expect(pairs[0].value.resolved == expected)
    }

    @Test func positionsAreOneBased() throws {
        let node = try load("a:\n  b: [x, yy]\n")
        guard case .mapping(let top)? = node?.kind, case .mapping(let inner) = top[0].value.kind,
            case .sequence(let items) = inner[0].value.kind
        else {
            Issue.record("shape")
            return
        }
        #expect(top[0].key.start == SourceLocation(file: "t.yaml", line: 1, column: 1))
        #expect(inner[0].key.start == SourceLocation(file: "t.yaml", line: 2, column: 3))
        #expect(items[1].start == SourceLocation(file: "t.yaml", line: 2, column: 10))
    }

    @Test func emptyFileContributesNothing() throws {
        #expect(try load("") == nil)
        #expect(try load("# only a comment\n") == nil)
    }

    @Test func aliasesShareTheAnchoredNode() throws {
        let node = try load("a: &x [1, 2]\nb: *x\n")
        guard case .mapping(let pairs)? = node?.kind, case .sequence(let items) = pairs[1].value.kind else {
            Issue.record("shape")
            return
        }
        #expect(items.count == 2)
    }

    @Test func billionLaughsFailsFastWithoutExpanding() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let f = failure(Array(text.utf8))
        #expect(f?.code.rawValue == "too_many_nodes")
    }

    @Test func nodeCapCountsKeysAndExpandedAliases() {
        // mapping + key + sequence + 99,997 items = 100,000 nodes exactly is allowed; one more is not.
        let items = Array(repeating: "x", count: 99_997).joined(separator: ",")
        var findings: [Diagnostic] = []
        #expect(throws: Never.self) { try YAMLLoader.load(Array("k: [\(items)]".utf8), file: "t", findings: &findings) }
        #expect(failure(Array("k: [\(items),x]".utf8))?.code.rawValue == "too_many_nodes")
    }

    @Test func fileSizeCap() {
        let big = [UInt8](repeating: UInt8(ascii: "#"), count: YAMLLoader.maxFileBytes + 1)
        #expect(failure(big)?.code.rawValue == "file_too_large")
    }

    @Test func rejectsNonUTF8AndUTF16() {
        #expect(failure([0x61, 0x3A, 0x20, 0xC3, 0x28])?.code.rawValue == "not_utf8")
        #expect(failure([0xFF, 0xFE, 0x61, 0x00])?.code.rawValue == "not_utf8")
    }

    @Test func rejectsSecondDocument() {
        #expect(failure(Array("a: 1\n---\nb: 2\n".utf8))?.code.rawValue == "multiple_documents")
    }

    @Test func duplicateKeyIsReportedWithBothPlaces() throws {
        var findings: [Diagnostic] = []
        _ = try YAMLLoader.load(Array("a: 1\nb: 2\na: 3\n".utf8), file: "t.yaml", findings: &findings)
        #expect(findings.count == 1)
        #expect(findings.first?.code.rawValue == "duplicate_key")
        #expect(findings.first?.location.line == 3)
        #expect(findings.first?.related.first?.line == 1)
    }

    @Test func syntaxErrorHasPosition() {
        let f = failure(Array("a: [1, 2\nb: 3\n".utf8))
        #expect(f?.code.rawValue == "yaml_syntax")
        #expect((f?.location.line ?? 0) >= 1)
    }

    @Test func recursiveAliasIsRejected() {
        #expect(failure(Array("a: &x [*x]\n".utf8))?.code.rawValue == "recursive_alias")
    }
}
