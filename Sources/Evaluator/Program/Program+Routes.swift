/// A route pattern compiled to bytes: method and literal segments compared with `bytesEqual`.
struct CompiledPattern: Sendable {
    enum Segment: Sendable {
        case literal([UInt8])
        case one
        case rest
    }
    var method: [UInt8]?
    var segments: [Segment]

    init(_ p: RoutePattern) {
        method = p.method.map { Array($0.utf8) }
        segments = p.segments.map {
            switch $0 {
            case .literal(let s): .literal(Array(s.utf8))
            case .one: .one
            case .rest: .rest
            }
        }
    }

    /// Matches a normalized request path held as segment ranges into `path`.
    @inline(__always)
    func matches(
        method m: UnsafeBufferPointer<UInt8>?, path: UnsafePointer<UInt8>,
        _ segs: UnsafePointer<(start: Int32, end: Int32)>, _ count: Int
    ) -> Bool {
        if let method {
            guard let m, m.count == method.count else { return false }
            let same = method.withUnsafeBufferPointer { bytesEqual($0.baseAddress!, m.baseAddress!, m.count) }
            guard same else { return false }
        }
        var i = 0
        for seg in segments {
            switch seg {
            case .rest: return true
            case .one:
                guard i < count else { return false }
            case .literal(let l):
                guard i < count else { return false }
                let (s, e) = (Int(segs[i].start), Int(segs[i].end))
                guard e - s == l.count else { return false }
                let same = l.withUnsafeBufferPointer { bytesEqual($0.baseAddress!, path + s, l.count) }
                guard same else { return false }
            }
            i += 1
        }
        return i == count
    }
}

/// A guard's decision inputs, precomputed. Its patterns are compiled one by one only for the guard-by-guard
/// reference (`patterns: true`); with the bundle's automaton they are not needed.
struct CompiledGuard: Sendable {
    /// Empty unless compiled for the reference.
    var appliesTo: [CompiledPattern]
    /// No `applies_to`: the guard applies to every route.
    var appliesEverywhere: Bool
    /// Allowlist patterns (empty unless compiled for the reference) and the root of each entry's `when` (-1: none).
    var allowPatterns: [CompiledPattern]
    var allowWhen: [Int32]
    var requires: Int32
    var readsUser: Bool
    var readsSubscription: Bool
    var deny: Int

    init(_ g: Guard, _ code: inout ExprCode, patterns: Bool) {
        appliesTo = patterns ? g.appliesTo.map(CompiledPattern.init) : []
        appliesEverywhere = g.appliesTo.isEmpty
        allowPatterns = patterns ? g.allow.map { CompiledPattern($0.pattern) } : []
        allowWhen = g.allow.map { $0.when.map { code.compile($0) } ?? -1 }
        requires = code.compile(g.requires)
        readsUser = g.requiresReads.user
        readsSubscription = g.requiresReads.subscription
        deny = g.deny
    }
}

/// Whether `n` bytes at `a` and `b` are equal (a plain loop: inlined, no call into libc for short literals).
@inline(__always) func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// How one guard treats one route, statically (for `entitlements routes`).
public enum GuardCoverage: Sendable, Equatable {
    case notApplicable
    /// Skipped by an allowlist entry; `conditional` when the entry has a `when`.
    case allowlisted(conditional: Bool)
    case protects

    /// How `entitlements routes` and `POST /v1/routes` write it: `-`, `skip`, `skip-if` or `protect`.
    public var word: String {
        switch self {
        case .notApplicable: "-"
        case .allowlisted(let conditional): conditional ? "skip-if" : "skip"
        case .protects: "protect"
        }
    }
}

extension Program {
    /// Each guard's coverage of `METHOD /path`, in declaration order; nil when the path fails normalization.
    public func coverage(method: String?, path: String) -> [GuardCoverage]? {
        PathNormalizer.withNormalized(path) { bytes, segs, normalized in
            guard case .success(let count) = normalized else { return nil }
            let m = method.map { Array($0.utf8) }
            return m.withOptionalBuffer { mb in
                policy.guards.map { g -> GuardCoverage in
                    // Static analysis (the `routes` command): patterns compiled here, one by one.
                    let matches = { (p: RoutePattern) in
                        CompiledPattern(p).matches(method: mb, path: bytes, segs, count)
                    }
                    if !g.appliesTo.isEmpty && !g.appliesTo.contains(where: matches) { return .notApplicable }
                    if let entry = g.allow.first(where: { matches($0.pattern) }) {
                        return .allowlisted(conditional: entry.when != nil)
                    }
                    return .protects
                }
            }
        }
    }
}

extension Optional where Wrapped == [UInt8] {
    fileprivate func withOptionalBuffer<R>(_ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard let self else { return body(nil) }
        return self.withUnsafeBufferPointer { body($0) }
    }
}
