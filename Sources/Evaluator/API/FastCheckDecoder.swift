/// Decodes a well-formed `/v1/check` body straight from its bytes: keys are matched as bytes, names (features,
/// flags) are found through the program's byte indexes, timestamps and integers are read in place, and a `String`
/// is made only for what the model keeps as one (ids, plan and status names, e-mail, route). It handles the common
/// shapes only — strings without escapes or non-ASCII bytes, plain integers — and returns nil on anything else (an
/// error, a duplicate key, an unusual value), in which case the caller uses the generic `JSONParser` +
/// `RequestDecoder` path, which produces the exact error. For input it accepts, it yields the same request the
/// generic path does (the differential fuzzer and tests compare them).
struct FastCheckDecoder {
    let decoder: RequestDecoder
    let b: UnsafeBufferPointer<UInt8>
    var i = 0
    /// The subscription's plan and status resolved while reading them (what `Program.prepare` would look up).
    var plan: Int?
    var status = -1

    /// Reads `bytes` into `out` (fresh); false when the fast path does not take the body.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ decoder: RequestDecoder, into out: inout DecodedCheck)
        -> Bool
    {
        var d = FastCheckDecoder(decoder: decoder, b: bytes)
        return d.request(into: &out)
    }

    var program: Program { decoder.program }

    // MARK: - Cursor

    @inline(__always) mutating func peek() -> UInt8? {
        while i < b.count {
            let c = b[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return c }
            i += 1
        }
        return nil
    }

    @inline(__always) mutating func consume(_ c: UInt8) -> Bool {
        guard peek() == c else { return false }
        i += 1
        return true
    }

    /// A literal (`true`, `false`, `null`) at the cursor.
    @inline(__always) mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        let w = word.utf8Start
        for k in 0..<n where b[i + k] != w[k] { return false }
        i += n
        return true
    }

    /// A string with no escape, control or non-ASCII byte: its bytes (between the quotes). Nil for anything else.
    @inline(__always) mutating func rawString() -> UnsafeBufferPointer<UInt8>? {
        guard peek() == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        var j = start
        // Eight bytes at a time while the body has them: the first byte that is a quote, a backslash, a control
        // byte or non-ASCII ends the scan (the borrow tricks flag exactly the lowest such byte; higher flags are
        // never read).
        let base = UnsafeRawPointer(b.baseAddress!)
        while j + 8 <= b.count {
            let x = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            let hit = Self.stringEnds(x)
            if hit != 0 {
                j += hit.trailingZeroBitCount >> 3
                break
            }
            j += 8
        }
        while j < b.count {
            let c = b[j]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { return nil }
            j += 1
        }
        guard j < b.count else { return nil }
        i = j + 1
        return UnsafeBufferPointer(rebasing: b[start..<j])
    }

    /// Flags (high bit of the byte) the first byte of `x` (little-endian) that ends a plain string: a quote, a
    /// backslash, a control byte or a non-ASCII byte. The borrow tricks flag exactly the lowest such byte; higher
    /// flags may be spurious and are never read.
    @inline(__always) static func stringEnds(_ x: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = x ^ (ones &* 0x22)
        let backslash = x ^ (ones &* 0x5C)
        let flags = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((x &- ones &* 0x20) & ~x) | x
        return flags & 0x8080_8080_8080_8080
    }

    /// Where a member loop stands: whether the next member is the first, and which keys were seen.
    struct ObjectState {
        var first = true
        var seen: UInt32 = 0
    }

    /// Opens an object: its `{`.
    @inline(__always) mutating func openObject() -> Bool { consume(UInt8(ascii: "{")) }

    /// The index in `keys` of the object's next member (its value comes next), -1 once the object has closed, or nil
    /// on anything unexpected: an unknown or repeated key (the generic path reports it), bad punctuation.
    @_transparent
    mutating func nextKey(_ keys: KeyTable, _ o: inout ObjectState) -> Int? {
        if o.first {
            o.first = false
            if consume(UInt8(ascii: "}")) { return -1 }
        } else if !consume(UInt8(ascii: ",")) {
            return consume(UInt8(ascii: "}")) ? -1 : nil
        }
        guard let k = key(keys), o.seen & (1 << k) == 0, consume(UInt8(ascii: ":")) else { return nil }
        o.seen |= 1 << k
        return k
    }

    /// A member name at the cursor, as its index in `keys` (nil: not a plain string, or not one of `keys`). Names
    /// are at most 24 bytes; the bytes are read as three words (one unaligned load each where the body has room).
    @_transparent mutating func key(_ keys: KeyTable) -> Int? {
        // Most names are under eight bytes: one load finds the closing quote and is the name's word.
        guard peek() == UInt8(ascii: "\"") else { return nil }
        if i + 9 <= b.count {
            let x = UInt64(
                littleEndian: UnsafeRawPointer(b.baseAddress!).loadUnaligned(fromByteOffset: i + 1, as: UInt64.self))
            let hit = Self.stringEnds(x)
            if hit != 0 {
                let n = hit.trailingZeroBitCount >> 3
                guard b[i + 1 + n] == UInt8(ascii: "\"") else { return nil }
                i += n + 2
                return keys.index(n, (n == 0 ? 0 : x & (~0 >> UInt64(64 - 8 * n)), 0, 0))
            }
        }
        guard let raw = rawString(), raw.count <= 24, let p = raw.baseAddress else { return nil }
        let n = raw.count
        var w: (UInt64, UInt64, UInt64) = (0, 0, 0)
        if p + 24 <= b.baseAddress! + b.count {
            let r = UnsafeRawPointer(p)
            @inline(__always) func masked(_ x: UInt64, _ bytes: Int) -> UInt64 {
                bytes >= 8 ? x : bytes <= 0 ? 0 : x & (~0 >> UInt64(64 - 8 * bytes))
            }
            w.0 = masked(r.loadUnaligned(as: UInt64.self), n)
            w.1 = masked(r.loadUnaligned(fromByteOffset: 8, as: UInt64.self), n - 8)
            w.2 = masked(r.loadUnaligned(fromByteOffset: 16, as: UInt64.self), n - 16)
        } else {
            // Near the end of the body: byte by byte.
            w = KeyTable.words(of: raw)
        }
        return keys.index(n, w)
    }

    /// An account id the fast path takes: 1–255 printable ASCII bytes (`RequestDecoder.validAccountID` decides the
    /// rest on the generic path).
    static func validID(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        raw.count >= 1 && raw.count <= 255 && !raw.contains(0x7F)
    }

    /// A string or null (`.some(nil)`); nil when the value is anything else.
    @_transparent mutating func optionalString() -> String?? {
        if peek() == UInt8(ascii: "n") { return literal("null") ? .some(nil) : nil }
        guard let raw = rawString() else { return nil }
        return .some(String(decoding: raw, as: UTF8.self))
    }

    @_transparent mutating func optionalTimestamp() -> Timestamp?? {
        if peek() == UInt8(ascii: "n") { return literal("null") ? .some(nil) : nil }
        guard let raw = rawString(), let t = Timestamp.parse(utf8: raw) else { return nil }
        return .some(t)
    }

    /// A plain non-negative integer (no sign, fraction, exponent or leading zero) or null.
    mutating func optionalCount() -> Int64?? {
        if peek() == UInt8(ascii: "n") { return literal("null") ? .some(nil) : nil }
        return count().map { .some($0) }
    }

    mutating func count() -> Int64? {
        guard let c = peek(), c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
        var v: Int64 = 0
        var n = 0
        while i < b.count, b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9") {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(b[i] - UInt8(ascii: "0")))
            guard !o1 && !o2 else { return nil }
            v = s
            i += 1
            n += 1
        }
        if n > 1 && c == UInt8(ascii: "0") { return nil }
        if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            return nil
        }
        return v
    }

    /// `true` or `false`.
    mutating func bool() -> Bool? {
        switch peek() {
        case UInt8(ascii: "t"): return literal("true") ? true : nil
        case UInt8(ascii: "f"): return literal("false") ? false : nil
        default: return nil
        }
    }

    /// A whole sub-value through the generic parser (attributes).
    mutating func subtree(depth: Int) -> JSONValue? {
        _ = peek()
        var jp = JSONParser(bytes: b)
        jp.i = i
        guard let v = try? jp.value(depth: depth) else { return nil }
        i = jp.i
        return v
    }

    // MARK: - The request

    // The readers fill their destination in place (a value built in a local and returned is copied on the way
    // out: its strings retained, then released).

    mutating func request(into d: inout DecodedCheck) -> Bool {
        var hasAccount = false
        guard openObject() else { return false }
        var o = ObjectState()
        while let k = nextKey(KeyTable.request, &o) {
            switch k {
            case -1:
                d.plan = plan
                d.status = status
                return peek() == nil && hasAccount && d.first != nil
            case 0:
                if peek() == UInt8(ascii: "\"") {
                    guard let raw = rawString(), Self.validID(raw) else { return false }
                    d.accountID = String(decoding: raw, as: UTF8.self)
                } else {
                    d.account = Account()
                    guard account(into: &d.account!) else { return false }
                }
                hasAccount = true
            case 1:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return false }
                } else {
                    d.user = User()
                    guard user(into: &d.user!) else { return false }
                }
            case 2:
                guard let t = optionalTimestamp() else { return false }
                d.now = t
            case 3:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return false }
                } else {
                    guard let e = bool() else { return false }
                    d.explain = e
                }
            default:
                guard consume(UInt8(ascii: "[")), !consume(UInt8(ascii: "]")) else { return false }
                var n = 0
                while true {
                    guard n < 100, let c = check(index: n) else { return false }
                    if n == 0 {
                        d.first = c
                    } else {
                        // Room for every check the rest of the body can hold (each takes a dozen bytes or more):
                        // one allocation, not one per doubling.
                        if n == 1 { d.more.reserveCapacity(min(99, (b.count - i) / 12 + 1)) }
                        d.more.append(c)
                    }
                    n += 1
                    if consume(UInt8(ascii: ",")) { continue }
                    guard consume(UInt8(ascii: "]")) else { return false }
                    break
                }
            }
        }
        return false
    }

    /// An object value through the generic parser (attributes): its members, or nil.
    mutating func attributes() -> [String: JSONValue]?? {
        guard let v = subtree(depth: 2) else { return nil }
        if case .null = v { return .some(nil) }
        guard case .object(let ms) = v, let out = RequestDecoder.attributeMap(ms) else { return nil }
        return .some(out)
    }

    mutating func account(into a: inout Account) -> Bool {
        guard openObject() else { return false }
        var o = ObjectState()
        while let k = nextKey(KeyTable.account, &o) {
            switch k {
            case -1: return true
            case 0:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return false }
                } else {
                    guard let raw = rawString(), Self.validID(raw) else { return false }
                    a.id = String(decoding: raw, as: UTF8.self)
                }
            case 1:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return false }
                } else {
                    a.subscription = SubscriptionState()
                    guard subscription(into: &a.subscription!) else { return false }
                }
            case 2:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return false }
                    continue
                }
                guard consume(UInt8(ascii: "[")) else { return false }
                if consume(UInt8(ascii: "]")) { continue }
                a.overrides.reserveCapacity(2)
                while true {
                    guard let ov = override(), !a.overrides.contains(where: { $0.feature == ov.feature }) else {
                        return false
                    }
                    a.overrides.append(ov)
                    if consume(UInt8(ascii: ",")) { continue }
                    guard consume(UInt8(ascii: "]")) else { return false }
                    break
                }
            case 3:
                guard let attrs = self.attributes() else { return false }
                a.attributes = attrs ?? [:]
            default:
                // Grants are rare in a request: the full decoder reads them.
                return false
            }
        }
        return false
    }

    /// One override: a known feature, a value of its type, the optional expiry, reason and actor.
    mutating func override() -> Override? {
        var feature = -1
        var expiresAt: Timestamp?
        var reason: String?
        var actor: String?
        // The value may come before the feature: keep where it starts and read it once the feature is known.
        var valueAt = -1
        guard openObject() else { return nil }
        var o = ObjectState()
        while let k = nextKey(KeyTable.override, &o) {
            switch k {
            case -1:
                guard feature >= 0, valueAt >= 0 else { return nil }
                let end = i
                i = valueAt
                let value = featureValue(feature)
                i = end
                guard let value else { return nil }
                return Override(feature: feature, value: value, expiresAt: expiresAt, reason: reason, actor: actor)
            case 0:
                guard let raw = rawString(), let f = program.featureIndex.lookup(raw) else { return nil }
                feature = f
            case 1:
                valueAt = i
                guard skipValue() else { return nil }
            case 2:
                guard let t = optionalTimestamp() else { return nil }
                expiresAt = t
            case 3:
                guard let s = optionalString() else { return nil }
                reason = s
            default:
                guard let s = optionalString() else { return nil }
                actor = s
            }
        }
        return nil
    }

    /// Skips a value the override reader reads later: a literal, a plain count, a plain string or a list of them.
    mutating func skipValue() -> Bool {
        switch peek() {
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "\""): return rawString() != nil
        case UInt8(ascii: "["):
            i += 1
            if consume(UInt8(ascii: "]")) { return true }
            while true {
                guard rawString() != nil else { return false }
                if consume(UInt8(ascii: ",")) { continue }
                return consume(UInt8(ascii: "]"))
            }
        default: return count() != nil
        }
    }

    /// A value of feature `f`'s type: boolean; integer ≥ 0 or "unlimited"; a list of vocabulary values.
    mutating func featureValue(_ f: Int) -> FeatureValue? {
        let feature = program.policy.features[f]
        switch feature.kind {
        case .boolean: return bool().map { .bool($0) }
        case .limit:
            if peek() == UInt8(ascii: "\"") {
                guard let raw = rawString(), raw.elementsEqual("unlimited".utf8) else { return nil }
                return .limit(nil)
            }
            return count().map { .limit($0) }
        case .set:
            guard consume(UInt8(ascii: "[")) else { return nil }
            var members: [Int] = []
            if consume(UInt8(ascii: "]")) { return .set(members) }
            while true {
                guard let raw = rawString(),
                    let v = feature.values.firstIndex(where: { $0.utf8.elementsEqual(raw) })
                else { return nil }
                if !members.contains(v) { members.append(v) }
                if consume(UInt8(ascii: ",")) { continue }
                guard consume(UInt8(ascii: "]")) else { return nil }
                return .set(members.sorted())
            }
        }
    }

    mutating func subscription(into s: inout SubscriptionState) -> Bool {
        guard openObject() else { return false }
        var o = ObjectState()
        while let k = nextKey(KeyTable.subscription, &o) {
            switch k {
            case -1: return true
            case 0, 1:
                // A known plan or status shares the program's string and is resolved here.
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return false }
                    if k == 0 { s.plan = nil } else { s.status = nil }
                    continue
                }
                guard let raw = rawString() else { return false }
                let name: String
                if let (id, known) = k == 0 ? program.planIndex.find(raw) : program.statusIndex.find(raw) {
                    name = known
                    if k == 0 { plan = id } else { status = id }
                } else {
                    name = String(decoding: raw, as: UTF8.self)
                }
                if k == 0 { s.plan = name } else { s.status = name }
            case 5:
                guard let v = optionalCount() else { return false }
                s.seats = v
            default:
                guard let t = optionalTimestamp() else { return false }
                switch k {
                case 2: s.periodStart = t
                case 3: s.periodEnd = t
                case 4: s.pastDueSince = t
                default: s.endedAt = t
                }
            }
        }
        return false
    }

    mutating func user(into u: inout User) -> Bool {
        guard openObject() else { return false }
        var o = ObjectState()
        while let k = nextKey(KeyTable.user, &o) {
            switch k {
            case -1: return true
            case 0, 1:
                guard let v = optionalString() else { return false }
                if k == 0 { u.id = v } else { u.email = v }
            case 2, 3:
                guard let t = optionalTimestamp() else { return false }
                if k == 2 { u.emailVerifiedAt = t } else { u.createdAt = t }
            default:
                guard let attrs = self.attributes() else { return false }
                u.attributes = attrs ?? [:]
            }
        }
        return false
    }

    /// One check. A known feature or flag, with the fields its kind takes, is resolved here from the bytes; anything
    /// else (an unknown name, a field the kind does not take, a set value) goes through the shared `resolve`, which
    /// words the error.
    mutating func check(index: Int) -> Result<Check, CheckError>? {
        var feature: UnsafeBufferPointer<UInt8>?
        var route: UnsafeBufferPointer<UInt8>?
        var flag: UnsafeBufferPointer<UInt8>?
        var value: UnsafeBufferPointer<UInt8>?
        var usage: Int64?
        var amount: Int64?
        var kinds = 0
        guard openObject() else { return nil }
        var o = ObjectState()
        var closed = false
        members: while let k = nextKey(KeyTable.check, &o) {
            switch k {
            case -1:
                closed = true
                break members
            case 3, 4:
                guard let v = optionalCount() else { return nil }
                if k == 3 { usage = v } else { amount = v }
            default:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return nil }
                    continue
                }
                guard let raw = rawString() else { return nil }
                switch k {
                case 0: feature = raw
                case 1: route = raw
                case 2: flag = raw
                default: value = raw
                }
                if k != 5 { kinds += 1 }
            }
        }
        guard closed, kinds == 1 else { return nil }
        if feature == nil && (usage != nil || amount != nil || value != nil) { return nil }
        if let route {
            // `METHOD /path`, or a path alone (else an invalid_path decision, as the generic path decides).
            if route.first == UInt8(ascii: "/") {
                return .success(.route(method: nil, path: String(decoding: route, as: UTF8.self)))
            }
            if let space = route.firstIndex(of: UInt8(ascii: " ")), space > 0,
                space + 1 < route.count, route[space + 1] == UInt8(ascii: "/")
            {
                let method = String(decoding: UnsafeBufferPointer(rebasing: route[..<space]), as: UTF8.self)
                let path = String(decoding: UnsafeBufferPointer(rebasing: route[(space + 1)...]), as: UTF8.self)
                return .success(.route(method: method, path: path))
            }
            return slowResolve(route: route, index)
        }
        if let flag {
            guard let id = program.flagIndex.lookup(flag) else { return slowResolve(flag: flag, index) }
            return .success(.flag(id))
        }
        guard let name = feature, let id = program.featureIndex.lookup(name) else {
            return slowResolve(feature: feature, usage, amount, value, index)
        }
        switch program.policy.features[id].kind {
        case .boolean where usage == nil && amount == nil && value == nil: return .success(.boolean(feature: id))
        case .limit where value == nil: return .success(.limit(feature: id, usage: usage, amount: amount ?? 1))
        default: return slowResolve(feature: feature, usage, amount, value, index)
        }
    }

    /// The shared resolver, on strings (errors, set values, unusual routes).
    func slowResolve(
        feature: UnsafeBufferPointer<UInt8>? = nil, _ usage: Int64? = nil, _ amount: Int64? = nil,
        _ value: UnsafeBufferPointer<UInt8>? = nil, route: UnsafeBufferPointer<UInt8>? = nil,
        flag: UnsafeBufferPointer<UInt8>? = nil, _ index: Int
    ) -> Result<Check, CheckError> {
        var f = RequestDecoder.CheckFields()
        f.feature = feature.map { String(decoding: $0, as: UTF8.self) }
        f.route = route.map { String(decoding: $0, as: UTF8.self) }
        f.flag = flag.map { String(decoding: $0, as: UTF8.self) }
        f.value = value.map { String(decoding: $0, as: UTF8.self) }
        f.usage = usage
        f.amount = amount
        return decoder.resolve(f, "checks[\(index)]")
    }
}

/// The member names of one object of a `/v1/check` body (they spell `RequestKeys` exactly; a test keeps them in
/// step). A key is matched without a `String` or a hash: by its length, then as up to three little-endian 8-byte
/// words compared with constants (`words(of:)` computes them; the test checks every constant against it).
enum KeyTable {
    case request, account, subscription, override, user, check

    /// The names, in index order.
    var names: [StaticString] {
        switch self {
        case .request: ["account", "user", "now", "explain", "checks"]
        case .account: ["id", "subscription", "overrides", "attributes", "grants"]
        case .subscription: ["plan", "status", "period_start", "period_end", "past_due_since", "seats", "ended_at"]
        case .override: ["feature", "value", "expires_at", "reason", "actor"]
        case .user: ["id", "email", "email_verified_at", "created_at", "attributes"]
        case .check: ["feature", "route", "flag", "usage", "amount", "value"]
        }
    }

    /// The names as strings (the test that keeps them equal to `RequestKeys`).
    var strings: [String] { names.map { $0.description } }

    /// The words a key of `n` bytes is compared as: bytes 0–7, 8–15 and 16–23, little-endian, zero past the end.
    @inline(__always)
    static func words(of bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64, UInt64) {
        var w: (UInt64, UInt64, UInt64) = (0, 0, 0)
        for k in 0..<min(bytes.count, 24) {
            let x = UInt64(bytes[k]) << UInt64(8 * (k & 7))
            if k < 8 { w.0 |= x } else if k < 16 { w.1 |= x } else { w.2 |= x }
        }
        return w
    }

    /// The index of the key of `n` bytes whose words are `w`, or nil.
    @_transparent
    func index(_ n: Int, _ w: (UInt64, UInt64, UInt64)) -> Int? {
        switch self {
        case .request:
            switch n {
            case 3:
                if w.0 == 0x77_6f6e { return 2 }  // now
            case 4:
                if w.0 == 0x7265_7375 { return 1 }  // user
            case 6:
                if w.0 == 0x736b_6365_6863 { return 4 }  // checks
            case 7:
                if w.0 == 0x74_6e75_6f63_6361 { return 0 }  // account
                if w.0 == 0x6e_6961_6c70_7865 { return 3 }  // explain
            default: break
            }
        case .account:
            switch n {
            case 2:
                if w.0 == 0x6469 { return 0 }  // id
            case 6:
                if w.0 == 0x7374_6e61_7267 { return 4 }  // grants
            case 9:
                if w.0 == 0x6564_6972_7265_766f && w.1 == 0x73 { return 2 }  // overrides
            case 10:
                if w.0 == 0x7475_6269_7274_7461 && w.1 == 0x7365 { return 3 }  // attributes
            case 12:
                if w.0 == 0x7069_7263_7362_7573 && w.1 == 0x6e6f_6974 { return 1 }  // subscription
            default: break
            }
        case .subscription:
            switch n {
            case 4:
                if w.0 == 0x6e61_6c70 { return 0 }  // plan
            case 5:
                if w.0 == 0x73_7461_6573 { return 5 }  // seats
            case 6:
                if w.0 == 0x7375_7461_7473 { return 1 }  // status
            case 8:
                if w.0 == 0x7461_5f64_6564_6e65 { return 6 }  // ended_at
            case 10:
                if w.0 == 0x655f_646f_6972_6570 && w.1 == 0x646e { return 3 }  // period_end
            case 12:
                if w.0 == 0x735f_646f_6972_6570 && w.1 == 0x7472_6174 { return 2 }  // period_start
            case 14:
                if w.0 == 0x6575_645f_7473_6170 && w.1 == 0x6563_6e69_735f { return 4 }  // past_due_since
            default: break
            }
        case .override:
            switch n {
            case 5:
                if w.0 == 0x65_756c_6176 { return 1 }  // value
                if w.0 == 0x72_6f74_6361 { return 4 }  // actor
            case 6:
                if w.0 == 0x6e6f_7361_6572 { return 3 }  // reason
            case 7:
                if w.0 == 0x65_7275_7461_6566 { return 0 }  // feature
            case 10:
                if w.0 == 0x5f73_6572_6970_7865 && w.1 == 0x7461 { return 2 }  // expires_at
            default: break
            }
        case .user:
            switch n {
            case 2:
                if w.0 == 0x6469 { return 0 }  // id
            case 5:
                if w.0 == 0x6c_6961_6d65 { return 1 }  // email
            case 10:
                if w.0 == 0x5f64_6574_6165_7263 && w.1 == 0x7461 { return 3 }  // created_at
                if w.0 == 0x7475_6269_7274_7461 && w.1 == 0x7365 { return 4 }  // attributes
            case 17:
                // email_verified_at
                if w.0 == 0x6576_5f6c_6961_6d65 && w.1 == 0x615f_6465_6966_6972 && w.2 == 0x74 { return 2 }
            default: break
            }
        case .check:
            switch n {
            case 4:
                if w.0 == 0x6761_6c66 { return 2 }  // flag
            case 5:
                if w.0 == 0x65_7475_6f72 { return 1 }  // route
                if w.0 == 0x65_6761_7375 { return 3 }  // usage
                if w.0 == 0x65_756c_6176 { return 5 }  // value
            case 6:
                if w.0 == 0x746e_756f_6d61 { return 4 }  // amount
            case 7:
                if w.0 == 0x65_7275_7461_6566 { return 0 }  // feature
            default: break
            }
        }
        return nil
    }
}
