/// One finding about a policy bundle: a stable code, a message naming what it is about, and where.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    /// Errors fail `validate`; warnings are printed and do not.
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    /// Stable machine-readable code, e.g. `unknown_key`.
    public var code: DiagnosticCode
    public var message: String
    public var location: SourceLocation
    /// Other places the finding refers to (the first definition of a duplicate, say).
    public var related: [SourceLocation]

    public init(
        _ severity: Severity = .error, code: DiagnosticCode, _ message: String, at location: SourceLocation,
        related: [SourceLocation] = []
    ) {
        self.severity = severity
        self.code = code
        self.message = message
        self.location = location
        self.related = related
    }

    public var description: String { "\(location): \(severity.rawValue): [\(code)] \(message)" }

    /// Sort order of `validate`: file, line, column, then code and message for determinism.
    public static func ordered(_ a: Diagnostic, _ b: Diagnostic) -> Bool {
        if a.location != b.location { return a.location < b.location }
        if a.code != b.code { return a.code.rawValue < b.code.rawValue }
        return a.message < b.message
    }
}

/// A list of diagnostics collected by a pass. Passes append; nothing stops at the first error.
public struct Diagnostics: Sendable {
    public private(set) var items: [Diagnostic] = []
    public init() {}

    public mutating func error(
        _ code: DiagnosticCode, _ message: String, at location: SourceLocation, related: [SourceLocation] = []
    ) {
        items.append(Diagnostic(.error, code: code, message, at: location, related: related))
    }
    public mutating func warning(
        _ code: DiagnosticCode, _ message: String, at location: SourceLocation, related: [SourceLocation] = []
    ) {
        items.append(Diagnostic(.warning, code: code, message, at: location, related: related))
    }
    public mutating func append(_ d: Diagnostic) { items.append(d) }
    /// Drops the diagnostics `predicate` selects; returns how many.
    @discardableResult
    public mutating func removeAll(where predicate: (Diagnostic) -> Bool) -> Int {
        let before = items.count
        items.removeAll(where: predicate)
        return before - items.count
    }
    /// Changes the diagnostics `predicate` selects.
    public mutating func update(where predicate: (Diagnostic) -> Bool, _ change: (inout Diagnostic) -> Void) {
        for i in items.indices where predicate(items[i]) { change(&items[i]) }
    }
    public mutating func append(contentsOf other: [Diagnostic]) { items.append(contentsOf: other) }

    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public var sorted: [Diagnostic] {
        // Deduplicate exact repeats (an alias expanded twice reports once).
        var seen = Set<Diagnostic>()
        return items.filter { seen.insert($0).inserted }.sorted(by: Diagnostic.ordered)
    }
}

/// Thrown at the API edge when a bundle does not compile; carries every diagnostic.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
