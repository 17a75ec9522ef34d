/// What this replica has acknowledged or been notified of, as positions in the primary's write-ahead log (LSNs), so
/// that a read on a standby never returns state older than that (SPEC §7, issue "read-your-writes"): a read about an
/// account goes to a standby only once the standby has replayed past the account's last known commit, else to the
/// primary. Kept per account for the accounts written or notified recently (bounded), with a floor standing in for
/// the rest and for everything before this replica started listening.
final class CommitPositions: Sendable {
    private struct State {
        var byAccount: [ScalarKey: UInt64] = [:]
        var floor: UInt64 = 0
    }
    private let state = Locked(State())
    /// How many accounts are remembered one by one before they are folded into the floor.
    let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    /// The position a standby must have replayed to answer about `id`.
    func required(_ id: String) -> UInt64 {
        let key = ScalarKey(id)
        return state.withLock { s in max(s.floor, s.byAccount[key] ?? 0) }
    }

    /// The highest position required of any read (the floor and every remembered account).
    var highest: UInt64 { state.withLock { s in s.byAccount.values.reduce(s.floor, max) } }

    /// A commit that changed `ids`, at or before `lsn`.
    func committed(_ ids: some Sequence<String>, at lsn: UInt64) {
        state.withLock { s in
            for id in ids {
                let key = ScalarKey(id)
                s.byAccount[key] = max(s.byAccount[key] ?? 0, lsn)
            }
            if s.byAccount.count > capacity {
                s.floor = s.byAccount.values.reduce(s.floor, max)
                s.byAccount.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Everything up to `lsn` is required (`.max`: every read goes to the primary, when a commit's position could
    /// not be learnt).
    func raiseFloor(to lsn: UInt64) { state.withLock { $0.floor = max($0.floor, lsn) } }

    /// The listener (re)connected at the primary's position `lsn`: notifications before it may have been lost, so
    /// everything up to it is required; that position is at or past every earlier commit, so it also replaces a
    /// `.max` floor set while positions could not be learnt.
    func resetFloor(to lsn: UInt64) { state.withLock { $0.floor = lsn } }

    /// `X/Y` (PostgreSQL's text form of a `pg_lsn`) as a number; nil for anything else (or SQL NULL).
    static func parse(_ text: String?) -> UInt64? {
        guard let text, let slash = text.firstIndex(of: "/"),
            let hi = UInt64(text[..<slash], radix: 16), let lo = UInt64(text[text.index(after: slash)...], radix: 16),
            hi <= 0xFFFF_FFFF, lo <= 0xFFFF_FFFF
        else { return nil }
        return hi << 32 | lo
    }

    static func format(_ lsn: UInt64) -> String {
        String(lsn >> 32, radix: 16, uppercase: true) + "/" + String(lsn & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }
}
