import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// PostgreSQL streaming standbys for reads (`--database-read-url`, repeatable; docs/STORE.md "Standbys"). A health
/// thread asks each standby, every 200 ms, how far it has replayed (`pg_last_wal_replay_lsn()`) and the primary how
/// far it has written (`pg_current_wal_lsn()`); a standby is used while it answers, is still in recovery, and has
/// replayed what the primary had written a second earlier. A read goes to one of those only when it has also
/// replayed the account's last known commit (`CommitPositions`); otherwise, and whenever a standby fails, the
/// primary answers. Nothing ever waits on a standby past a short bound: a dead one fails fast (`connect_timeout`)
/// and is skipped from then on until it answers again.
final class Standbys: Sendable {
    final class Standby: Sendable {
        /// Host, port and database (never a password), for health and logs.
        let name: String
        let pool: ConnectionPool
        let replayed = Atomic<UInt64>(0)
        let usable = Atomic<Bool>(false)
        let reachable = Atomic<Bool>(false)
        /// Bytes of WAL the primary had written that this standby had not yet replayed, at the last check.
        let lagBytes = Atomic<Int>(0)
        let reads = Atomic<Int>(0)

        init(conninfo: String, size: Int) {
            name = Standbys.describe(conninfo)
            pool = ConnectionPool(conninfo: conninfo, size: size, waitSeconds: 0.5)
        }

        /// The standby was seen at this position (positions only grow).
        func sawReplay(_ lsn: UInt64) {
            if lsn != .max && lsn > replayed.load(ordering: .relaxed) { replayed.store(lsn, ordering: .relaxed) }
        }

        /// A read failed: skip this standby until the health thread finds it answering again (unless it only had no
        /// free connection in time: that read goes to the primary, the standby stays in use).
        func failed(_ error: StoreError) {
            if case .unavailable(let m) = error, m.hasPrefix(ConnectionPool.noFreeConnection) { return }
            usable.store(false, ordering: .relaxed)
            Log.line(
                "warn", "standby_read_failed", [("standby", .string(name)), ("detail", .string(error.description))])
        }

        var json: JSONValue {
            .object([
                ("name", .string(name)), ("reachable", .bool(reachable.load(ordering: .relaxed))),
                ("usable", .bool(usable.load(ordering: .relaxed))),
                ("replayed", .string(CommitPositions.format(replayed.load(ordering: .relaxed)))),
                ("lag_bytes", .int(Int64(lagBytes.load(ordering: .relaxed)))),
                ("reads", .int(Int64(reads.load(ordering: .relaxed)))),
            ])
        }
    }

    let all: [Standby]
    private let primary: ConnectionPool
    private let next = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// A standby that has not replayed what the primary had written this long ago is skipped.
    static let maxLagSeconds = 1.0

    init(conninfos: [String], primary: ConnectionPool, connections: Int) {
        all = conninfos.map { Standby(conninfo: ConnectionPool.bounded($0), size: connections) }
        self.primary = primary
    }

    /// A usable standby that has replayed at least `required` (round robin), or nil: read on the primary.
    func pick(required: UInt64) -> Standby? {
        let n = all.count
        let start = next.add(1, ordering: .relaxed).newValue
        for i in 0..<n {
            let s = all[(start + i) % n]
            if s.usable.load(ordering: .relaxed) && s.replayed.load(ordering: .relaxed) >= required { return s }
        }
        return nil
    }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "standby-health"
        t.start()
    }

    func stop() { stopping.store(true, ordering: .relaxed) }

    private func run() {
        // The primary's position over the last few seconds: a standby must have replayed the one of a second ago.
        var history: [(at: Double, lsn: UInt64)] = []
        var connections: [DatabaseConnection?] = Array(repeating: nil, count: all.count)
        // Its own connection to the primary (not one of the pool's, which requests need).
        var primaryConnection: DatabaseConnection?
        while !stopping.load(ordering: .relaxed) {
            let now = Clock.monotonicSeconds()
            do throws(StoreError) {
                let db: DatabaseConnection
                if let open = primaryConnection { db = open } else { db = try DatabaseConnection(primary.conninfo) }
                primaryConnection = db
                if let lsn = CommitPositions.parse(
                    try db.execute("SELECT pg_current_wal_insert_lsn()::text").first?[0] ?? nil)
                {
                    history.append((now, lsn))
                }
            } catch {
                primaryConnection = nil
            }
            history.removeAll { $0.at < now - 10 }
            let target = history.last { $0.at <= now - Self.maxLagSeconds }?.lsn ?? 0
            let newest = history.last?.lsn ?? 0
            for (i, s) in all.enumerated() {
                do throws(StoreError) {
                    let db: DatabaseConnection
                    if let open = connections[i] { db = open } else { db = try DatabaseConnection(s.pool.conninfo) }
                    connections[i] = db
                    let row = try db.execute("SELECT pg_last_wal_replay_lsn()::text, pg_is_in_recovery()").first
                    let recovering = row?[1] == "t"
                    let replayed = CommitPositions.parse(row?[0] ?? nil) ?? 0
                    s.sawReplay(replayed)
                    s.reachable.store(true, ordering: .relaxed)
                    s.lagBytes.store(newest > replayed ? Int(newest - replayed) : 0, ordering: .relaxed)
                    // A promoted standby is no longer following this primary: never read from it.
                    let usable = recovering && replayed >= target
                    if usable != s.usable.load(ordering: .relaxed) {
                        Log.line(
                            usable ? "info" : "warn", usable ? "standby_usable" : "standby_skipped",
                            [
                                ("standby", .string(s.name)), ("replayed", .string(CommitPositions.format(replayed))),
                                ("in_recovery", .bool(recovering)),
                            ])
                    }
                    s.usable.store(usable, ordering: .relaxed)
                } catch {
                    connections[i] = nil
                    if s.reachable.load(ordering: .relaxed) || s.usable.load(ordering: .relaxed) {
                        Log.line(
                            "warn", "standby_down",
                            [("standby", .string(s.name)), ("detail", .string(error.description))])
                    }
                    s.reachable.store(false, ordering: .relaxed)
                    s.usable.store(false, ordering: .relaxed)
                }
            }
            usleep(200_000)
        }
    }

    /// `host:port/dbname` of a conninfo, never its password.
    static func describe(_ conninfo: String) -> String {
        if conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://"),
            let url = URL(string: conninfo)
        {
            return "\(url.host ?? "localhost"):\(url.port ?? 5432)\(url.path)"
        }
        var fields: [String: String] = [:]
        for pair in conninfo.split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        return "\(fields["host"] ?? "localhost"):\(fields["port"] ?? "5432")/\(fields["dbname"] ?? "")"
    }
}
