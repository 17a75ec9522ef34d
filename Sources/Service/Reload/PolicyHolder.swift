import Synchronization

/// The serving program and what is known about its reloads. A reload compiles off to the side and swaps in one
/// step, so every request sees one whole program; a bundle that does not compile leaves the old one serving.
final class PolicyHolder: Sendable {
    struct Loaded: Sendable {
        var program: Program
        var loadedAt: Timestamp
    }
    struct ReloadFailure: Sendable {
        var at: Timestamp
        var diagnostics: [Diagnostic]
        var message: String
    }

    let directory: String
    private let current: Mutex<Loaded>
    private let lastFailure = Mutex<ReloadFailure?>(nil)
    private let reloading = Mutex<Void>(())
    let reloadFailures = Atomic<Int>(0)
    let reloads = Atomic<Int>(0)

    init(directory: String, program: Program) {
        self.directory = directory
        current = Mutex(Loaded(program: program, loadedAt: Clock.now()))
    }

    var loaded: Loaded { current.withLock { $0 } }
    var program: Program { current.withLock { $0.program } }
    var failure: ReloadFailure? { lastFailure.withLock { $0 } }

    enum Outcome {
        case swapped(Loaded)
        case unchanged(Loaded)
        case rejected(ReloadFailure)
    }

    /// Recompiles the bundle; swaps it in when it compiles. Reloads are serialized.
    @discardableResult
    func reload() -> Outcome {
        reloading.withLock { _ in
            let out: PolicyCompiler.Output
            do {
                // Warnings are not reported by a reload (only a rejected one's errors are): skip their pass.
                out = try PolicyCompiler.compile(directory: directory, warnings: false)
            } catch {
                let f = ReloadFailure(at: Clock.now(), diagnostics: [], message: "\(error)")
                lastFailure.withLock { $0 = f }
                reloadFailures.add(1, ordering: .relaxed)
                return .rejected(f)
            }
            guard let policy = out.policy else {
                let errors = out.diagnostics.filter { $0.severity == .error }
                let f = ReloadFailure(
                    at: Clock.now(), diagnostics: out.diagnostics,
                    message:
                        "\(errors.count) error\(errors.count == 1 ? "" : "s"); first: \(errors.first?.description ?? "?")"
                )
                lastFailure.withLock { $0 = f }
                reloadFailures.add(1, ordering: .relaxed)
                return .rejected(f)
            }
            lastFailure.withLock { $0 = nil }
            let old = loaded
            if old.program.digest == policy.digest { return .unchanged(old) }
            let next = Loaded(program: Program(policy), loadedAt: Clock.now())
            current.withLock { $0 = next }
            reloads.add(1, ordering: .relaxed)
            return .swapped(next)
        }
    }
}

extension PolicyHolder.Outcome {
    /// One `reload` log line: what triggered it and whether the bundle was swapped, unchanged or rejected.
    func log(trigger: String) {
        var fields: [(String, JSONValue)] = [("trigger", .string(trigger))]
        switch self {
        case .swapped(let l): fields += [("result", .string("swapped")), ("digest", .string(l.program.digest))]
        case .unchanged(let l): fields += [("result", .string("unchanged")), ("digest", .string(l.program.digest))]
        case .rejected(let f):
            fields += [
                ("result", .string("rejected")), ("detail", .string(f.message)),
                ("diagnostics", .array(f.diagnostics.map { .string($0.description) })),
            ]
        }
        Log.line(self.isRejected ? "error" : "info", "reload", fields)
    }

    var isRejected: Bool {
        if case .rejected = self { return true }
        return false
    }
}
