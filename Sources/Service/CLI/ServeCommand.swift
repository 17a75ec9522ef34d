import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `entitlements serve [DIR] [--listen HOST:PORT] [--stateless] [--keys-file FILE]`: the HTTP service.
enum ServeCommand {
    static func run(_ args: [String], output: CLIOutput) throws -> Int32 {
        let parsed = try Arguments(
            args, valued: ["--listen", "--keys-file", "--database-url", "--threads"],
            switches: ["--stateless", "--no-watch"])
        let dir = try parsed.directory()
        if parsed.options["--database-url"] != nil {
            throw UsageError(message: "the account store (PostgreSQL) is not in this build yet; run with --stateless")
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
        let program = try loadProgram(dir, output: output)
        let holder = PolicyHolder(directory: dir, program: program)
        let app = App(policy: holder, auth: auth)
        Signals.block()
        let server = HTTPServer { app.respond(to: $0) }
        var config = HTTPServer.Config()
        config.host = host
        config.port = port
        config.threads = Int(parsed.options["--threads"] ?? "") ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
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
                ("directory", .string(dir)), ("store", .string("stateless")), ("threads", .int(Int64(config.threads))),
            ])
        output.line(
            "listening on http://\(host.contains(":") ? "[\(host)]" : host):\(bound) (policy \(program.digest.prefix(12)), stateless)"
        )
        var watcher: BundleWatcher?
        if !parsed.flags.contains("--no-watch") {
            watcher = BundleWatcher(directory: dir) { holder.reload().log(trigger: "file_watch") }
            if watcher?.start() != true {
                Log.line("warn", "file_watch_unavailable", [("detail", .string("inotify is unavailable"))])
                watcher = nil
            }
        }
        let sig = Signals.wait { holder.reload().log(trigger: "SIGHUP") }
        Log.line("info", "shutdown", [("signal", .int(Int64(sig))), ("detail", .string("draining open requests"))])
        watcher?.stop()
        server.stop(drainMilliseconds: 10_000)
        Log.line("info", "stopped")
        return ExitCode.ok
    }
}
