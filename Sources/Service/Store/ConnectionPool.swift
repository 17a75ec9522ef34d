import Dispatch
import Synchronization

/// A bounded pool of database connections shared by the HTTP workers. At most `size` statements run at once; a
/// caller waits for a free connection (up to `waitSeconds`, then the store is unavailable). Calls that may wait on
/// an account's lock (`locking: true`: writes) hold at most `size - 1` connections between them, so reads — a cache
/// miss of a decision — always have one even while every writer is stuck behind a lock. A connection found
/// broken is replaced, and a call whose very first statement meets a dropped connection (an idle connection the
/// server closed, a restart) is retried once on a fresh one; a call that failed later is not, since part of it
/// may have reached the server.
final class ConnectionPool: Sendable {
    let conninfo: String
    let size: Int
    let waitSeconds: Double
    private let slots: DispatchSemaphore
    /// How many connections locking calls may hold at once (`size - 1`, at least 1).
    private let lockingSlots: DispatchSemaphore
    /// Whether the last statement reached the database (for health and metrics).
    let reachable = Atomic<Bool>(true)
    // `DatabaseConnection` is used by one thread at a time: taken out of `idle` under the lock, put back after.
    private let idle: Mutex<[UnsafeSendable<DatabaseConnection>]> = Mutex([])

    init(conninfo: String, size: Int, waitSeconds: Double = 5) {
        self.conninfo = conninfo
        self.size = max(1, size)
        self.waitSeconds = waitSeconds
        slots = DispatchSemaphore(value: max(1, size))
        lockingSlots = DispatchSemaphore(value: max(1, size - 1))
    }

    /// Runs `body` on a connection of the pool (`locking`: the call may wait on an account's lock).
    func withConnection<T>(locking: Bool = false, _ body: (DatabaseConnection) throws(StoreError) -> T)
        throws(StoreError) -> T
    {
        let deadline = DispatchTime.now() + waitSeconds
        if locking {
            guard lockingSlots.wait(timeout: deadline) == .success else {
                throw .unavailable("\(Self.noFreeConnection) \(waitSeconds) s")
            }
        }
        defer { if locking { lockingSlots.signal() } }
        do {
            let value = try attempt(deadline, body)
            reachable.store(true, ordering: .relaxed)
            return value
        } catch {
            if case .unavailable = error { reachable.store(false, ordering: .relaxed) }
            throw error
        }
    }

    private func attempt<T>(_ deadline: DispatchTime, _ body: (DatabaseConnection) throws(StoreError) -> T)
        throws(StoreError) -> T
    {
        guard slots.wait(timeout: deadline) == .success else {
            throw .unavailable("\(Self.noFreeConnection) \(waitSeconds) s")
        }
        defer { slots.signal() }
        let connection = try take()
        let before = connection.statements
        do {
            let value = try body(connection)
            give(connection)
            return value
        } catch {
            guard case .unavailable = error, connection.statements == before else {
                give(connection)
                throw error
            }
        }
        // The connection dropped (a restart, a network blip): once more on a fresh one.
        let fresh = try DatabaseConnection(conninfo)
        let value = try body(fresh)
        give(fresh)
        return value
    }

    /// The start of the error a call gets when no connection was free in time.
    static let noFreeConnection = "no database connection free within"

    /// A conninfo with bounds, so a dead or unreachable server fails fast instead of holding a request: 2 s to
    /// connect, TCP keepalives that give up on a silent peer after about 3 s, and 2 s for sent data to be
    /// acknowledged. (A URL gets them as query parameters, `key=value` form as more pairs; settings already given
    /// are kept. Over a Unix socket only the first applies.)
    static func bounded(_ conninfo: String) -> String {
        let isURL = conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://")
        let bounds = [
            ("connect_timeout", "2"), ("keepalives", "1"), ("keepalives_idle", "1"), ("keepalives_interval", "1"),
            ("keepalives_count", "2"), ("tcp_user_timeout", "2000"),
        ].filter { key, _ in
            !conninfo.contains(isURL ? "?\(key)=" : "\(key)=") && !(isURL && conninfo.contains("&\(key)="))
        }
        guard !bounds.isEmpty else { return conninfo }
        if isURL {
            return conninfo + (conninfo.contains("?") ? "&" : "?")
                + bounds.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        }
        return conninfo + " " + bounds.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }

    private func take() throws(StoreError) -> DatabaseConnection {
        while let c = idle.withLock({ $0.popLast() }) {
            if c.value.isHealthy { return c.value }
        }
        return try DatabaseConnection(conninfo)
    }

    private func give(_ c: DatabaseConnection) {
        guard c.isHealthy else { return }
        idle.withLock { $0.append(UnsafeSendable(c)) }
    }
}
