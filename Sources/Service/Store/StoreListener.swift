import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Each replica's dedicated LISTEN connection (SPEC §7): every write, through any replica, NOTIFYs its account at
/// commit; the listener drops that account from the cache. While the connection is down the cache is not trusted;
/// when it is back (re-LISTENed) every cached entry is dropped, since all of them are older than the last good
/// notification. Reconnects by itself, every half second.
final class StoreListener: @unchecked Sendable {
    // @unchecked: `connection` is used only by the listener's own thread; the rest is atomic or Sendable.
    let conninfo: String
    let cache: AccountCache
    private var connection: DatabaseConnection?
    private let stopping = Atomic<Bool>(false)
    /// The last notification's lag (writer's clock to here) and the largest seen, in microseconds.
    let lastLagMicros = Atomic<Int>(0)
    let maxLagMicros = Atomic<Int>(0)
    let notifications = Atomic<Int>(0)
    /// The server process of the LISTEN connection (tests terminate it).
    let backendPID = Atomic<Int>(0)
    /// With standbys: the accounts notified are recorded with the primary's log position after them, so reads about
    /// them on a standby wait for it. Set once, before `start`.
    nonisolated(unsafe) var positions: CommitPositions?

    init(conninfo: String, cache: AccountCache) {
        self.conninfo = conninfo
        self.cache = cache
    }

    var listening: Bool { cache.trusted.load(ordering: .relaxed) }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "store-listen"
        thread.start()
    }

    func stop() { stopping.store(true, ordering: .relaxed) }

    private func run() {
        while !stopping.load(ordering: .relaxed) {
            guard let db = connection ?? connect() else {
                usleep(500_000)
                continue
            }
            do {
                let payloads = try db.notifications(waitingUpTo: 250)
                if let positions, !payloads.isEmpty {
                    // Notifications arrive after their commits: where the log is now is at or after every one. It
                    // is recorded before the entries are dropped, so that a miss that follows the drop never reads a
                    // standby that has not replayed the change (and a miss that began before it is not cached).
                    let ids = payloads.compactMap { Self.parse($0)?.id }
                    let row = try db.execute("SELECT pg_current_wal_insert_lsn()::text").first
                    if let lsn = CommitPositions.parse(row?[0] ?? nil) {
                        positions.committed(ids, at: lsn)
                    } else {
                        positions.raiseFloor(to: .max)
                    }
                }
                for payload in payloads { apply(payload) }
            } catch {
                cache.trusted.store(false, ordering: .relaxed)
                connection = nil
                backendPID.store(0, ordering: .relaxed)
                Log.line("warn", "store_listener_down", [("detail", .string(error.description))])
            }
        }
        cache.trusted.store(false, ordering: .relaxed)
        connection = nil
    }

    private func connect() -> DatabaseConnection? {
        do {
            let db = try DatabaseConnection(conninfo)
            try db.execute("LISTEN \(AccountStore.channel)")
            connection = db
            // Notifications before this moment may have been missed: reads on standbys wait for everything up to here.
            if let positions {
                let row = try db.execute("SELECT pg_current_wal_insert_lsn()::text").first
                positions.resetFloor(to: CommitPositions.parse(row?[0] ?? nil) ?? .max)
            }
            // Everything cached so far is older than the first notification we are now sure to get.
            cache.clear()
            cache.trusted.store(true, ordering: .relaxed)
            backendPID.store(Int(db.backendPID), ordering: .relaxed)
            Log.line("info", "store_listening", [("channel", .string(AccountStore.channel))])
            return db
        } catch {
            return nil
        }
    }

    /// A payload's parts: `<writer's clock in ns>\t<account id>`.
    private static func parse(_ payload: String) -> (sent: Int64?, id: String)? {
        guard let tab = payload.firstIndex(of: "\t") else { return nil }
        return (Int64(payload[..<tab]), String(payload[payload.index(after: tab)...]))
    }

    private func apply(_ payload: String) {
        guard let (sent, id) = Self.parse(payload) else { return }
        cache.invalidate(id)
        notifications.add(1, ordering: .relaxed)
        if let sent {
            let now = Clock.now()
            let lag = Int((now.seconds * 1_000_000_000 + Int64(now.nanos) - sent) / 1000)
            lastLagMicros.store(max(0, lag), ordering: .relaxed)
            if lag > maxLagMicros.load(ordering: .relaxed) { maxLagMicros.store(lag, ordering: .relaxed) }
        }
    }
}
