#if canImport(Glibc)
    import Glibc
#endif

/// `entitlements bench [DIR]`: micro-benchmarks of the evaluator on the sample bundle (run by scripts/bench on a
/// release build). Each figure is nanoseconds per operation over samples of small batches, plus heap allocations
/// per operation when scripts/bench preloads its malloc counter.
enum BenchCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(args, valued: ["--samples", "--only"], switches: ["--scale"])
        let only = parsed.options["--only"]
        let dir = try parsed.directory()
        let samples = Int(parsed.options["--samples"] ?? "20000") ?? 20000
        if parsed.flags.contains("--scale") {
            try BenchScale.run(dir, samples: samples, output: output)
            return ExitCode.ok
        }
        // Compile time of the bundle (load + parse + validate + compile), best and median of 50.
        var compileTimes: [Double] = []
        var program: Program!
        for _ in 0..<50 {
            let t0 = monotonicNanos()
            program = try loadProgram(dir, output: output)
            compileTimes.append(Double(monotonicNanos() - t0))
        }
        compileTimes.sort()
        output.line("compile \(dir): median \(fmt(compileTimes[25] / 1e6)) ms, best \(fmt(compileTimes[0] / 1e6)) ms")

        let now = Timestamp.parse("2026-05-19T12:00:00Z")!
        let account = Account(
            id: "acc_1",
            subscription: SubscriptionState(
                plan: "pro", status: "trialing", periodStart: Timestamp.parse("2026-05-07T12:00:00Z"),
                periodEnd: Timestamp.parse("2026-05-21T12:00:00Z")))
        let user = User(
            id: "u1", email: "someone@example.com", emailVerifiedAt: Timestamp.parse("2026-05-01T00:00:00Z"),
            createdAt: Timestamp.parse("2026-04-01T00:00:00Z"))
        let prepared = program.prepare(account, precomputeRollouts: true)  // as the service caches accounts
        let psa = program.featureID("psa_integration")!
        let trees = program.featureID("max_trees")!
        let formats = program.featureID("export_formats")!
        let flag = program.flagID("self_serve_enabled")!
        let cases: [(String, Check)] = [
            ("feature check (boolean)", .boolean(feature: psa)),
            ("limit check", .limit(feature: trees, usage: 7, amount: 1)),
            ("set check", .set(feature: formats, value: 3)),
            ("route check (4 guards, allowlists)", .route(method: "GET", path: "/api/v1/sessions/abc/steps")),
            ("route check with ../ normalization", .route(method: "GET", path: "/api/v1/billing/%2e%2e/trees")),
            ("flag check (list + rollout)", .flag(flag)),
        ]
        let body = Array(
            #"{"account":{"id":"acc_1","subscription":{"plan":"pro","status":"active"}},"checks":[{"feature":"psa_integration"}]}"#
                .utf8)
        let five =
            #"{"feature":"psa_integration"},{"feature":"max_trees","usage":3},{"route":"GET /api/v1/trees"},"#
            + #"{"flag":"self_serve_enabled"},{"feature":"export_formats","value":"pdf"}"#
        let body10 = Array(
            (#"{"account":{"id":"acc_1","subscription":{"plan":"pro","status":"active"}},"user":{"email":"a@example.com","#
                + #""email_verified_at":"2026-05-01T00:00:00Z","created_at":"2026-04-01T00:00:00Z"},"checks":["#
                + five + "," + five + "]}").utf8)
        var benches: [(name: String, batch: Int, body: () -> Void)] = []
        for (name, check) in cases {
            // The decision alone, on an evaluation prepared for the request.
            var ev = Evaluation(program: program, account: prepared, user: user, now: now)
            benches.append((name, 16, { _ = ev.decide(check) }))
        }
        let unprepared = program.prepare(account)
        benches.append(
            (
                "flag check incl. setup, rollout hashed", 16,
                {
                    var ev = Evaluation(program: program, account: unprepared, user: user, now: now)
                    _ = ev.decide(.flag(flag))
                }
            ))
        benches.append(
            (
                "feature check incl. Evaluation setup", 16,
                {
                    var ev = Evaluation(program: program, account: prepared, user: user, now: now)
                    _ = ev.decide(.boolean(feature: psa))
                }
            ))
        benches.append(
            (
                "feature check incl. prepare and setup", 16,
                {
                    // What an embedding service pays per request for an account it holds as a struct.
                    var ev = Evaluation(program: program, account: program.prepare(account), user: user, now: now)
                    _ = ev.decide(.boolean(feature: psa))
                }
            ))
        benches.append(
            (
                "snapshot (JSON value)", 4,
                {
                    var ev = Evaluation(program: program, account: prepared, user: user, now: now)
                    _ = ev.snapshot()
                }
            ))
        for (name, b) in [("JSON in/out /v1/check, 1 check", body), ("JSON in/out /v1/check, 10 checks", body10)] {
            benches.append(
                (
                    name, 4,
                    {
                        _ = Engine.checkBytes(program, body: b, now: now)
                    }
                ))
        }
        // The mixed workload: each call answers the next of 10,000 bodies (allocations and time are per body).
        let workload = BenchWorkload.bodies()
        // The position in the workload lives outside the closure: a captured `var` is checked for exclusive access
        // on every call, which the measurement would count.
        let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        benches.append(
            (
                "JSON mixed workload (10,000 bodies)", 4,
                {
                    _ = Engine.checkBytes(program, body: workload[next.pointee], now: now)
                    next.pointee = next.pointee == workload.count - 1 ? 0 : next.pointee + 1
                }
            ))
        // Rounds interleave the operations so a noisy stretch of the machine does not land on one row; each row
        // reports the median of its rounds' medians and p99s.
        let selected = benches.filter { only == nil || $0.name.contains(only!) }
        var rounds: [[Stats]] = Array(repeating: [], count: selected.count)
        for _ in 0..<3 {
            for (k, b) in selected.enumerated() {
                rounds[k].append(measure(samples: b.batch == 16 ? samples : samples / 10, batch: b.batch, b.body))
            }
        }
        output.line("")
        output.line("operation                                     median ns   p99 ns   allocs/op")
        for (k, b) in selected.enumerated() {
            let medians = rounds[k].map(\.median).sorted()
            let p99s = rounds[k].map(\.p99).sorted()
            output.line(row(b.name, Stats(median: medians[1], p99: p99s[1]), allocations(b.body)))
        }
        return ExitCode.ok
    }

    struct Stats {
        var median: Double
        var p99: Double
    }

    /// Times `samples` batches of `batch` calls; reports per-call median and p99 of the batch means.
    static func measure(samples: Int, batch: Int = 16, _ body: () -> Void) -> Stats {
        for _ in 0..<(samples / 10 + 100) { body() }  // warm up
        var times = [Double](repeating: 0, count: samples)
        for s in 0..<samples {
            let t0 = monotonicNanos()
            for _ in 0..<batch { body() }
            times[s] = Double(monotonicNanos() - t0) / Double(batch)
        }
        times.sort()
        return Stats(median: times[samples / 2], p99: times[min(samples - 1, samples * 99 / 100)])
    }

    /// Heap allocations per call, when scripts/bench preloaded its counter; nil otherwise.
    static func allocations(_ body: () -> Void) -> Double? {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "entitlements_malloc_count") else { return nil }
        typealias Counter = @convention(c) () -> UInt
        let counter = unsafeBitCast(sym, to: Counter.self)
        for _ in 0..<100 { body() }
        let n = 1000
        let before = counter()
        for _ in 0..<n { body() }
        return Double(counter() - before) / Double(n)
    }

    static func row(_ name: String, _ s: Stats, _ allocs: Double?) -> String {
        let a = allocs.map { fmt($0) } ?? "n/a"
        return name.padding(toLength: 44, withPad: " ", startingAt: 0) + pad(fmt(s.median), 11) + pad(fmt(s.p99), 9)
            + pad(a, 12)
    }

    static func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
    static func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
