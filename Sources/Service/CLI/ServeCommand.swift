import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `entitlements serve [DIR] [--listen HOST:PORT] [--stateless] [--keys-file FILE] …`: the HTTP service. The edge's
/// limits (docs/API.md, "Running in production") are flags with the defaults of `HTTPServer.Config`.
enum ServeCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        // Before any thread starts (the store's, the server's): every thread inherits the blocked set, so SIGTERM,
        // SIGINT and SIGHUP reach only `Signals.wait`. One arriving during start-up waits there (a clean stop).
        Signals.block()
        let parsed = try Arguments(
            args,
            valued: [
                "--listen", "--keys-file", "--database-url", "--threads", "--head-timeout", "--request-timeout",
                "--idle-timeout", "--max-connections", "--per-address-limit", "--body-memory", "--data-dir",
                "--db-connections", "--cache-size", "--database-read-url", "--warm", "--webhook-workers",
            ],
            switches: ["--stateless", "--no-watch"])
        let dir = try parsed.directory()
        if parsed.flags.contains("--stateless")
            && (parsed.options["--database-url"] != nil || parsed.options["--data-dir"] != nil)
        {
            throw UsageError(message: "--stateless runs without a database: drop --database-url and --data-dir")
        }
        if parsed.options["--database-url"] != nil && parsed.options["--data-dir"] != nil {
            throw UsageError(message: "--data-dir is for the embedded cluster; with --database-url it has no use")
        }
        let auth: Auth
        do {
            auth = try Auth.load(
                environment: ProcessInfo.processInfo.environment, keysFile: parsed.options["--keys-file"])
        } catch {
            throw UsageError(message: error.description)
        }
        var host = auth.isOpen ? "127.0.0.1" : "0.0.0.0"
        var port: UInt16 = 8080
        if let listen = parsed.options["--listen"] {
            guard let colon = listen.lastIndex(of: ":"), let p = UInt16(listen[listen.index(after: colon)...]) else {
                throw UsageError(message: "--listen takes HOST:PORT, got '\(listen)'")
            }
            host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = p
        }
        if auth.isOpen && !["127.0.0.1", "::1", "localhost"].contains(host) {
            Log.line(
                "warn", "loopback_only",
                [("requested", .string(host)), ("detail", .string("no API keys configured: serving on loopback only"))])
            host = host.contains(":") ? "::1" : "127.0.0.1"
        }
        if host == "localhost" { host = "127.0.0.1" }
        let watching = !parsed.flags.contains("--no-watch")
        let stamp = watching ? BundleWatcher.stamp(dir) : []
        let program = try loadProgram(dir, output: output)
        let holder = PolicyHolder(directory: dir, program: program)
        let edge = try edgeConfig(parsed)
        let (retry, workers) = try webhookConfig(parsed)
        let store: StoreSetup
        do {
            store = try StoreSetup.open(parsed, threads: edge.threads, holder: holder)
        } catch {
            output.error("error: \(error.description)")
            return ExitCode.failure
        }
        defer {
            store.store?.listener?.stop()
            store.embedded?.stop()
        }
        let app = App(policy: holder, auth: auth, store: store.store)
        if let s = store.store {
            // Webhook delivery and the time/reload notifier run on their own threads and connections (SPEC §6.7).
            let delivery = DeliveryWorkers(conninfo: s.pool.conninfo, outbox: s.outbox, retry: retry)
            delivery.start(workers: workers)
            ChangeScheduler(
                conninfo: s.pool.conninfo, program: { holder.program }, outbox: s.outbox, stats: delivery.stats
            ).start()
            app.metrics.sections.withLock { $0.append({ delivery.stats.render() }) }
        }
        // Watching starts before the service says it is listening, so a change saved right after that line is seen;
        // one saved while the service was starting (after the bundle was read) is caught up here.
        var watcher: BundleWatcher?
        if watching {
            watcher = BundleWatcher(directory: dir) { holder.reload().log(trigger: "file_watch") }
            if watcher?.start() != true {
                Log.line("warn", "file_watch_unavailable", [("detail", .string("inotify is unavailable"))])
                watcher = nil
            } else if BundleWatcher.stamp(dir) != stamp {
                holder.reload().log(trigger: "file_watch")
            }
        }
        defer { watcher?.stop() }
        let server = HTTPServer(responder: app, blockingThreads: store.store == nil ? 1 : 64)
        var config = edge
        config.host = host
        config.port = port
        app.metrics.edge.withLock { $0 = { [weak server] in server?.stats() ?? EdgeStats() } }
        let bound: UInt16
        do {
            bound = try server.start(config)
        } catch {
            output.error("error: \(error.description)")
            return ExitCode.failure
        }
        if auth.isOpen {
            Log.line(
                "warn", "auth_disabled",
                [
                    (
                        "detail",
                        .string(
                            "no API keys configured (ENTITLEMENTS_CHECK_KEYS, ENTITLEMENTS_ADMIN_KEYS, --keys-file): serving loopback only, without authentication"
                        )
                    )
                ])
        }
        Log.line(
            "info", "listening",
            [
                ("host", .string(host)), ("port", .int(Int64(bound))), ("policy", .string(program.digest)),
                ("directory", .string(dir)), ("store", .string(store.mode)), ("threads", .int(Int64(config.threads))),
                ("auth", .string(auth.isOpen ? "off" : "on")),
                // The names of the keys loaded, by role (never the keys): what an operator checks after a rotation.
                ("check_keys", .array(auth.keys.filter { $0.role == .check }.map { .string($0.name) })),
                ("admin_keys", .array(auth.keys.filter { $0.role == .admin }.map { .string($0.name) })),
            ])
        output.line(
            "listening on http://\(host.contains(":") ? "[\(host)]" : host):\(bound) (policy \(program.digest.prefix(12)), \(store.mode), \(auth.summary))"
        )
        let sig = Signals.wait { holder.reload().log(trigger: "SIGHUP") }
        Log.line("info", "shutdown", [("signal", .int(Int64(sig))), ("detail", .string("draining open requests"))])
        server.stop(drainMilliseconds: 10_000)
        Log.line("info", "stopped")
        return ExitCode.ok
    }

    /// Webhook delivery settings (docs/API.md, "Lifecycle webhooks"): `--webhook-workers N` (default 4) and the
    /// retry schedule in `ENTITLEMENTS_WEBHOOK_RETRY`.
    static func webhookConfig(_ parsed: Arguments) throws(UsageError) -> (RetryPolicy, Int) {
        var retry = RetryPolicy()
        if let text = ProcessInfo.processInfo.environment["ENTITLEMENTS_WEBHOOK_RETRY"] {
            do {
                retry = try RetryPolicy.parse(text)
            } catch {
                throw UsageError(message: error.description)
            }
        }
        let text = parsed.options["--webhook-workers"] ?? "4"
        guard let n = Int(text), (1...64).contains(n) else {
            throw UsageError(message: "--webhook-workers takes a number from 1 to 64, got '\(text)'")
        }
        return (retry, n)
    }

    /// The socket layer's limits from the command line (each flag defaults to `HTTPServer.Config`'s value).
    static func edgeConfig(_ parsed: Arguments) throws(UsageError) -> HTTPServer.Config {
        var c = HTTPServer.Config()
        func number(_ flag: String, _ range: ClosedRange<Double>) throws(UsageError) -> Double? {
            guard let text = parsed.options[flag] else { return nil }
            guard let v = Double(text), range.contains(v) else {
                throw UsageError(
                    message: "\(flag) takes a number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
            }
            return v
        }
        c.threads =
            try number("--threads", 1...256).map { Int($0) } ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        if let v = try number("--head-timeout", 0...3600) { c.headTimeoutSeconds = v }
        if let v = try number("--request-timeout", 0...3600) { c.requestTimeoutSeconds = v }
        if let v = try number("--idle-timeout", 1...3600) { c.idleTimeoutSeconds = Int(v) }
        if let v = try number("--max-connections", 16...100_000) { c.connectionLimit = Int(v) }
        if let v = try number("--per-address-limit", 0...100_000) { c.perAddressLimit = Int(v) }
        if let v = try number("--body-memory", 0...65536) { c.bodyMemory = Int(v * 1024 * 1024) }
        return c
    }
}

/// Which account store `serve` runs with: none (`--stateless`), an external database (`--database-url`), or the
/// embedded cluster under `--data-dir` (default `.data/postgres`).
struct StoreSetup {
    var store: AccountStore?
    var embedded: EmbeddedPostgres?
    /// `stateless`, `postgresql` or `embedded` (logs and `/readyz`).
    var mode: String

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func open(_ parsed: Arguments, threads: Int, holder: PolicyHolder) throws(Failure) -> StoreSetup {
        if parsed.flags.contains("--stateless") { return StoreSetup(mode: "stateless") }
        var setup = StoreSetup(mode: "postgresql")
        var conninfo = parsed.options["--database-url"] ?? ""
        if conninfo.isEmpty {
            do {
                let cluster = try EmbeddedPostgres(
                    dataDirectory: parsed.options["--data-dir"] ?? ".data/postgres",
                    explicit: parsed.options["--data-dir"] != nil)
                conninfo = try cluster.start()
                setup.embedded = cluster
                setup.mode = "embedded"
            } catch {
                throw Failure(description: "embedded PostgreSQL: \(error.description)")
            }
        }
        // Bounded: a primary that becomes unreachable fails statements in seconds, not minutes (docs/STORE.md).
        conninfo = ConnectionPool.bounded(conninfo)
        let size = Int(parsed.options["--db-connections"] ?? "") ?? max(4, threads * 2)
        // The account cache (0 turns it off: every decision by id reads the database).
        let capacity = Int(parsed.options["--cache-size"] ?? "") ?? 100_000
        let cache = capacity > 0 ? AccountCache(capacity: capacity) : nil
        let listener = cache.map { StoreListener(conninfo: conninfo, cache: $0) }
        let primary = ConnectionPool(conninfo: conninfo, size: size)
        // Standbys for reads (docs/STORE.md "Standbys"): cache misses, GET /v1/accounts…, usage and audit reads.
        let readURLs = parsed.all["--database-read-url"] ?? []
        let standbys = readURLs.isEmpty ? nil : Standbys(conninfos: readURLs, primary: primary, connections: size)
        let store = AccountStore(pool: primary, cache: cache, listener: listener, standbys: standbys)
        do {
            try store.migrate()
        } catch {
            setup.embedded?.stop()
            throw Failure(description: "cannot prepare the account store: \(error.description)")
        }
        setup.store = store
        listener?.start()
        standbys?.start()
        if let n = parsed.options["--warm"] {
            guard let count = Int(n), count >= 0 else {
                throw Failure(description: "--warm takes a number of accounts")
            }
            if count > 0 { store.warm(count, program: { holder.program }) }
        }
        Log.line(
            "info", "store_ready",
            [
                ("mode", .string(setup.mode)), ("connections", .int(Int64(size))),
                ("cache_size", .int(Int64(capacity))),
                ("standbys", .array((standbys?.all ?? []).map { .string($0.name) })),
            ])
        return setup
    }
}
