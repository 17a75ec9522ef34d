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

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ decoder: RequestDecoder) -> CheckRequest? {
        var d = FastCheckDecoder(decoder: decoder, b: bytes)
        return d.request()
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

    /// Where a member loop stands: whether the next member is the first, and which keys were seen.
    struct ObjectState {
        var first = true
        var seen: UInt32 = 0
    }

    /// Opens an object: its `{`.
    @inline(__always) mutating func openObject() -> Bool { consume(UInt8(ascii: "{")) }

    /// The index in `keys` of the object's next member (its value comes next), -1 once the object has closed, or nil
    /// on anything unexpected: an unknown or repeated key (the generic path reports it), bad punctuation.
    @inline(__always)
    mutating func nextKey(_ keys: KeyTable, _ o: inout ObjectState) -> Int? {
        if o.first {
            o.first = false
            if consume(UInt8(ascii: "}")) { return -1 }
        } else if !consume(UInt8(ascii: ",")) {
            return consume(UInt8(ascii: "}")) ? -1 : nil
        }
        guard let raw = rawString(), let k = keys.index(of: raw), o.seen & (1 << k) == 0,
            consume(UInt8(ascii: ":"))
        else { return nil }
        o.seen |= 1 << k
        return k
    }

    /// An account id the fast path takes: 1–255 printable ASCII bytes (`RequestDecoder.validAccountID` decides the
    /// rest on the generic path).
    static func validID(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        raw.count >= 1 && raw.count <= 255 && !raw.contains(0x7F)
    }

    /// A string or null (`.some(nil)`); nil when the value is anything else.
    mutating func optionalString() -> String?? {
        if peek() == UInt8(ascii: "n") { return literal("null") ? .some(nil) : nil }
        guard let raw = rawString() else { return nil }
        return .some(String(decoding: raw, as: UTF8.self))
    }

    mutating func optionalTimestamp() -> Timestamp?? {
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

    mutating func request() -> CheckRequest? {
        var account: AccountReference?
        var user: User?
        var now: Timestamp?
        var explain = false
        var checks: [Result<Check, CheckError>] = []
        guard openObject() else { return nil }
        var o = ObjectState()
        while let k = nextKey(KeyTable.request, &o) {
            switch k {
            case -1:
                guard peek() == nil, let account, !checks.isEmpty else { return nil }
                return CheckRequest(account: account, user: user, now: now, explain: explain, checks: checks)
            case 0:
                if peek() == UInt8(ascii: "\"") {
                    guard let raw = rawString(), Self.validID(raw) else { return nil }
                    account = .id(String(decoding: raw, as: UTF8.self))
                } else {
                    guard let a = self.account() else { return nil }
                    account = .inline(a)
                }
            case 1:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return nil }
                } else {
                    guard let u = self.user() else { return nil }
                    user = u
                }
            case 2:
                guard let t = optionalTimestamp() else { return nil }
                now = t
            case 3:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return nil }
                } else {
                    guard let e = bool() else { return nil }
                    explain = e
                }
            default:
                guard consume(UInt8(ascii: "[")), !consume(UInt8(ascii: "]")) else { return nil }
                while true {
                    guard checks.count < 100, let c = check(index: checks.count) else { return nil }
                    if checks.isEmpty { checks.reserveCapacity(peek() == UInt8(ascii: "]") ? 1 : 4) }
                    checks.append(c)
                    if consume(UInt8(ascii: ",")) { continue }
                    guard consume(UInt8(ascii: "]")) else { return nil }
                    break
                }
            }
        }
        return nil
    }

    /// An object value through the generic parser (attributes): its members, or nil.
    mutating func attributes() -> [String: JSONValue]?? {
        guard let v = subtree(depth: 2) else { return nil }
        if case .null = v { return .some(nil) }
        guard case .object(let ms) = v else { return nil }
        var out: [String: JSONValue] = [:]
        out.reserveCapacity(ms.count)
        for (k, x) in ms { out[k] = x }
        return .some(out)
    }

    mutating func account() -> Account? {
        var id: String?
        var subscription: SubscriptionState?
        var overrides: [Override] = []
        var attributes: [String: JSONValue] = [:]
        guard openObject() else { return nil }
        var o = ObjectState()
        while let k = nextKey(KeyTable.account, &o) {
            switch k {
            case -1:
                return Account(id: id, subscription: subscription, overrides: overrides, attributes: attributes)
            case 0:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return nil }
                } else {
                    guard let raw = rawString(), Self.validID(raw) else { return nil }
                    id = String(decoding: raw, as: UTF8.self)
                }
            case 1:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return nil }
                } else {
                    guard let s = self.subscription() else { return nil }
                    subscription = s
                }
            case 2:
                if peek() == UInt8(ascii: "n") {
                    guard literal("null") else { return nil }
                    continue
                }
                guard consume(UInt8(ascii: "[")) else { return nil }
                if consume(UInt8(ascii: "]")) { continue }
                overrides.reserveCapacity(2)
                while true {
                    guard let ov = override(), !overrides.contains(where: { $0.feature == ov.feature }) else {
                        return nil
                    }
                    overrides.append(ov)
                    if consume(UInt8(ascii: ",")) { continue }
                    guard consume(UInt8(ascii: "]")) else { return nil }
                    break
                }
            default:
                guard let attrs = self.attributes() else { return nil }
                attributes = attrs ?? [:]
            }
        }
        return nil
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

    mutating func subscription() -> SubscriptionState? {
        var plan: String?
        var status: String?
        var times: (Timestamp?, Timestamp?, Timestamp?) = (nil, nil, nil)
        var seats: Int64?
        guard openObject() else { return nil }
        var o = ObjectState()
        while let k = nextKey(KeyTable.subscription, &o) {
            switch k {
            case -1:
                return SubscriptionState(
                    plan: plan, status: status, periodStart: times.0, periodEnd: times.1, pastDueSince: times.2,
                    seats: seats)
            case 0, 1:
                guard let v = optionalString() else { return nil }
                if k == 0 { plan = v } else { status = v }
            case 5:
                guard let v = optionalCount() else { return nil }
                seats = v
            default:
                guard let t = optionalTimestamp() else { return nil }
                if k == 2 { times.0 = t } else if k == 3 { times.1 = t } else { times.2 = t }
            }
        }
        return nil
    }

    mutating func user() -> User? {
        var id: String?
        var email: String?
        var verifiedAt: Timestamp?
        var createdAt: Timestamp?
        var attributes: [String: JSONValue] = [:]
        guard openObject() else { return nil }
        var o = ObjectState()
        while let k = nextKey(KeyTable.user, &o) {
            switch k {
            case -1:
                return User(
                    id: id, email: email, emailVerifiedAt: verifiedAt, createdAt: createdAt, attributes: attributes)
            case 0, 1:
                guard let v = optionalString() else { return nil }
                if k == 0 { id = v } else { email = v }
            case 2, 3:
                guard let t = optionalTimestamp() else { return nil }
                if k == 2 { verifiedAt = t } else { createdAt = t }
            default:
                guard let attrs = self.attributes() else { return nil }
                attributes = attrs ?? [:]
            }
        }
        return nil
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

/// The member names of one object of a `/v1/check` body as static bytes (no reference counting, no hashing),
/// matched by length, then bytes. They spell `RequestKeys` exactly (a test keeps them in step).
final class KeyTable: Sendable {
    let names: (StaticString, StaticString, StaticString, StaticString, StaticString, StaticString)
    let count: Int

    init(
        _ a: StaticString, _ b: StaticString, _ c: StaticString, _ d: StaticString, _ e: StaticString = "",
        _ f: StaticString = ""
    ) {
        names = (a, b, c, d, e, f)
        count = [a, b, c, d, e, f].prefix { $0.utf8CodeUnitCount > 0 }.count
    }

    @inline(__always) static func same(_ s: StaticString, _ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        guard s.utf8CodeUnitCount == raw.count else { return false }
        let p = s.utf8Start
        var j = 0
        while j < raw.count && p[j] == raw[j] { j += 1 }
        return j == raw.count
    }

    @inline(__always)
    func index(of raw: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !raw.isEmpty else { return nil }
        if Self.same(names.0, raw) { return 0 }
        if Self.same(names.1, raw) { return 1 }
        if Self.same(names.2, raw) { return 2 }
        if Self.same(names.3, raw) { return 3 }
        if count > 4 && Self.same(names.4, raw) { return 4 }
        if count > 5 && Self.same(names.5, raw) { return 5 }
        return nil
    }

    /// The names as strings (the test that keeps them equal to `RequestKeys`).
    var strings: [String] {
        [names.0, names.1, names.2, names.3, names.4, names.5].prefix(count).map { $0.description }
    }

    static let request = KeyTable("account", "user", "now", "explain", "checks")
    static let account = KeyTable("id", "subscription", "overrides", "attributes")
    static let subscription = KeyTable("plan", "status", "period_start", "period_end", "past_due_since", "seats")
    static let override = KeyTable("feature", "value", "expires_at", "reason", "actor")
    static let user = KeyTable("id", "email", "email_verified_at", "created_at", "attributes")
    static let check = KeyTable("feature", "route", "flag", "usage", "amount", "value")
}
