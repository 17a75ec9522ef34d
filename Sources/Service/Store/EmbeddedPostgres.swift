import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The private PostgreSQL cluster `serve` runs when it is given no database (SPEC §7): created with `initdb` on
/// first use under the data directory, started as a child process listening on a Unix socket only (no TCP),
/// stopped when the service stops, reused on the next start (also when a previous service was killed and left it
/// running). PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` system user that
/// Debian's package creates.
final class EmbeddedPostgres: @unchecked Sendable {
    // @unchecked: `child` is set by `start` and read by `stop`, both on the serving thread.
    struct Failure: Error, CustomStringConvertible { var description: String }

    let dataDirectory: String
    let socketDirectory: String
    /// The system user the cluster runs as when the service runs as root.
    let runAs: String?
    let binDirectory: String
    private var child: Process?
    static let database = "entitlements"
    static let superuser = "entitlements"

    /// `explicit`: the directory was chosen with `--data-dir`. The default one (`.data/postgres`) moves to
    /// `/var/lib/entitlements/<hash>` when the service runs as root and the `postgres` user cannot reach it (a
    /// checkout under `/root`, say); an explicit one is an error then.
    init(dataDirectory: String, explicit: Bool = true) throws(Failure) {
        let absolute =
            dataDirectory.hasPrefix("/")
            ? dataDirectory : FileManager.default.currentDirectoryPath + "/" + dataDirectory
        var chosen = URL(fileURLWithPath: absolute).standardizedFileURL.path
        if !explicit && geteuid() == 0, let pw = getpwnam("postgres"),
            !Self.reachable(chosen, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
        {
            let tag = SHA256.hex(SHA256.hash(Array(chosen.utf8))).prefix(12)
            let moved = "/var/lib/entitlements/\(tag)"
            Log.line(
                "warn", "store_data_dir_moved",
                [
                    ("requested", .string(chosen)), ("directory", .string(moved)),
                    ("detail", .string("the postgres user cannot reach the requested directory")),
                ])
            chosen = moved
        }
        self.dataDirectory = chosen
        guard let bin = Self.findBinaries() else {
            throw Failure(
                description:
                    "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin): install Debian's postgresql package (scripts/setup does), or pass --database-url or --stateless"
            )
        }
        binDirectory = bin
        runAs = geteuid() == 0 ? "postgres" : nil
        // A Unix socket path has room for about 100 bytes: a long data directory gets a short socket directory.
        let socketPath = self.dataDirectory + "/.s.PGSQL.5432"
        if socketPath.utf8.count <= 100 {
            socketDirectory = self.dataDirectory
        } else {
            let tag = SHA256.hex(SHA256.hash(Array(self.dataDirectory.utf8))).prefix(12)
            socketDirectory = "/tmp/entitlements-pg-\(tag)"
        }
    }

    /// Initializes the cluster if needed, starts it (or finds it running), makes sure the database exists, and
    /// returns the connection string.
    func start() throws(Failure) -> String {
        let fm = FileManager.default
        if runAs != nil && getpwnam("postgres") == nil {
            throw Failure(description: "running as root needs the 'postgres' system user (Debian's postgresql package)")
        }
        try makeDirectory(dataDirectory)
        if socketDirectory != dataDirectory { try makeDirectory(socketDirectory) }
        if !fm.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            Log.line("info", "store_initdb", [("directory", .string(dataDirectory))] + userField)
            try run(
                binDirectory + "/initdb",
                ["-D", dataDirectory, "-U", Self.superuser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"],
                log: dataDirectory + ".initdb.log")
        }
        let conninfo = "host=\(socketDirectory) port=5432 dbname=\(Self.database) user=\(Self.superuser)"
        let admin = "host=\(socketDirectory) port=5432 dbname=postgres user=\(Self.superuser)"
        if (try? DatabaseConnection(admin)) != nil {
            Log.line("info", "store_reused", [("directory", .string(dataDirectory))])
        } else {
            try launch()
            try waitUntilReady(admin)
        }
        do {
            let db = try DatabaseConnection(admin)
            if try db.execute("SELECT 1 FROM pg_database WHERE datname = $1", [Self.database]).isEmpty {
                try db.execute("CREATE DATABASE \(Self.database)")
            }
        } catch {
            throw Failure(description: "cannot create the database: \(error)")
        }
        return conninfo
    }

    /// Stops the cluster this service started (fast shutdown: open transactions roll back, committed ones stay).
    func stop() {
        guard let child else { return }
        if let pid = postmasterPID() { kill(pid, SIGINT) }
        let deadline = Date().addingTimeInterval(15)
        while child.isRunning && Date() < deadline { usleep(50_000) }
        if child.isRunning { child.terminate() }
        self.child = nil
        Log.line("info", "store_stopped", [("directory", .string(dataDirectory))])
    }

    private var userField: [(String, JSONValue)] {
        runAs.map {
            [("run_as", .string($0)), ("detail", .string("the service runs as root; PostgreSQL runs as '\($0)'"))]
        }
            ?? []
    }

    private func launch() throws(Failure) {
        let p = Process()
        let args = [
            "-D", dataDirectory, "-c", "listen_addresses=", "-c", "unix_socket_directories=\(socketDirectory)",
            "-c", "port=5432",
        ]
        configure(p, binDirectory + "/postgres", args)
        let logPath = dataDirectory + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        if let runAs, let pw = getpwnam(runAs) { chown(logPath, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        let log = FileHandle(forWritingAtPath: logPath)
        log?.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        do {
            try p.run()
        } catch {
            throw Failure(description: "cannot start postgres: \(error)")
        }
        child = p
        Log.line(
            "info", "store_started",
            [("directory", .string(dataDirectory)), ("socket", .string(socketDirectory)), ("log", .string(logPath))]
                + userField)
    }

    private func waitUntilReady(_ conninfo: String) throws(Failure) {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? DatabaseConnection(conninfo)) != nil { return }
            if let child, !child.isRunning {
                throw Failure(description: "postgres exited at start; see \(dataDirectory).log")
            }
            usleep(100_000)
        }
        throw Failure(description: "postgres did not accept connections within 30 s; see \(dataDirectory).log")
    }

    private func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = pid_t(first)
        else { return nil }
        return pid
    }

    /// Creates a directory (and its parents) for the cluster, owned by the user it runs as, mode 0700.
    private func makeDirectory(_ path: String) throws(Failure) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create \(path): \(error)")
        }
        chmod(path, 0o700)
        if let runAs, let pw = getpwnam(runAs) {
            // The whole data directory belongs to the cluster's user (it may have been created as root).
            _ = try? run("/bin/chown", ["-R", "\(runAs):", path], asRoot: true)
            // Every parent must let that user through.
            if !Self.reachable(path, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid) {
                throw Failure(
                    description:
                        "the '\(runAs)' user cannot reach \(path): a parent directory is not searchable by it (chmod o+x it, or pass --data-dir elsewhere)"
                )
            }
        }
    }

    /// Whether every existing parent of `path` lets `uid` through.
    static func reachable(_ path: String, uid: uid_t, gid: gid_t) -> Bool {
        var parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        while parent != "/" && !parent.isEmpty {
            if access(parent, F_OK) == 0 && !traversable(parent, by: uid, gid) { return false }
            parent = URL(fileURLWithPath: parent).deletingLastPathComponent().path
        }
        return true
    }

    private static func traversable(_ dir: String, by uid: uid_t, _ gid: gid_t) -> Bool {
        var st = stat()
        guard stat(dir, &st) == 0 else { return false }
        if st.st_uid == uid { return st.st_mode & S_IXUSR != 0 }
        if st.st_gid == gid { return st.st_mode & S_IXGRP != 0 }
        return st.st_mode & S_IXOTH != 0
    }

    private func configure(_ p: Process, _ tool: String, _ args: [String], asRoot: Bool = false) {
        if let runAs, !asRoot {
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            p.arguments = ["-u", runAs, "--", tool] + args
        } else {
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
        }
        p.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
    }

    @discardableResult
    private func run(_ tool: String, _ args: [String], log: String? = nil, asRoot: Bool = false) throws(Failure)
        -> Int32
    {
        let p = Process()
        configure(p, tool, args, asRoot: asRoot)
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do {
            try p.run()
        } catch {
            throw Failure(description: "cannot run \(tool): \(error)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if let log { _ = FileManager.default.createFile(atPath: log, contents: output) }
        guard p.terminationStatus == 0 else {
            throw Failure(
                description:
                    "\(URL(fileURLWithPath: tool).lastPathComponent) failed: \(String(decoding: output.suffix(2000), as: UTF8.self))"
            )
        }
        return p.terminationStatus
    }

    /// `/usr/lib/postgresql/<newest>/bin`, when it has `initdb` and `postgres`.
    static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for v in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = "\(root)/\(v)/bin"
            if FileManager.default.isExecutableFile(atPath: bin + "/initdb")
                && FileManager.default.isExecutableFile(atPath: bin + "/postgres")
            {
                return bin
            }
        }
        return nil
    }
}
