/// Decodes a well-formed `/v1/check` body straight from bytes: no JSON tree, no dictionaries. It handles the
/// common shapes only and returns nil on anything else (an error, a duplicate key, an unusual value), in which
/// case the caller uses the generic `JSONParser` + `RequestDecoder` path, which produces the exact error. For
/// input it accepts, it yields the same request the generic path does (checks go through the same `resolve`).
struct FastCheckDecoder {
    let decoder: RequestDecoder
    var jp: JSONParser

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ decoder: RequestDecoder) -> CheckRequest? {
        var d = FastCheckDecoder(decoder: decoder, jp: JSONParser(bytes: bytes))
        return d.request()
    }

    // MARK: - Cursor helpers

    @inline(__always) mutating func peek() -> UInt8? {
        jp.skipWhitespace()
        return jp.i < jp.bytes.count ? jp.bytes[jp.i] : nil
    }

    @inline(__always) mutating func consume(_ c: UInt8) -> Bool {
        guard peek() == c else { return false }
        jp.i += 1
        return true
    }

    /// Iterates an object's members. Each key must be one of `keys` and appear once (else nil: the generic path
    /// reports it); `body` reads the value for the key's index and returns false to abort.
    mutating func members(_ keys: [String], _ body: (inout FastCheckDecoder, Int) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        var seen: UInt32 = 0
        while true {
            guard peek() == UInt8(ascii: "\""), let key = try? jp.string(), let k = keys.firstIndex(of: key),
                seen & (1 << k) == 0, consume(UInt8(ascii: ":"))
            else { return false }
            seen |= 1 << k
            guard body(&self, k) else { return false }
            if consume(UInt8(ascii: ",")) { continue }
            return consume(UInt8(ascii: "}"))
        }
    }

    /// A string or null (`.some(nil)`); nil when the value is of another type.
    mutating func optionalString() -> String?? {
        switch peek() {
        case UInt8(ascii: "\""): return (try? jp.string()).map { .some($0) }
        case UInt8(ascii: "n"):
            guard (try? jp.literal("null")) != nil else { return nil }
            return .some(nil)
        default: return nil
        }
    }

    mutating func optionalTimestamp() -> Timestamp?? {
        guard let s = optionalString() else { return nil }
        guard let text = s else { return .some(nil) }
        return Timestamp.parse(text).map { .some($0) }
    }

    /// A non-negative integer or null.
    mutating func optionalCount() -> Int64?? {
        guard let c = peek() else { return nil }
        if c == UInt8(ascii: "n") {
            guard (try? jp.literal("null")) != nil else { return nil }
            return .some(nil)
        }
        guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"), case .int(let i)? = try? jp.number() else { return nil }
        return .some(i)
    }

    /// A whole sub-value through the generic parser (attributes, overrides).
    mutating func subtree(depth: Int) -> JSONValue? {
        _ = peek()
        return try? jp.value(depth: depth)
    }

    // MARK: - The request

    mutating func request() -> CheckRequest? {
        var account: AccountReference?
        var user: User?
        var now: Timestamp?
        var explain = false
        var checks: [Result<Check, CheckError>] = []
        let ok = members(RequestKeys.request) { d, k in
            switch k {
            case 0:
                if d.peek() == UInt8(ascii: "\"") {
                    guard let id = try? d.jp.string(), RequestDecoder.validAccountID(id) else { return false }
                    account = .id(id)
                    return true
                }
                guard let a = d.account() else { return false }
                account = .inline(a)
            case 1:
                if d.peek() == UInt8(ascii: "n") { return (try? d.jp.literal("null")) != nil }
                guard let u = d.user() else { return false }
                user = u
            case 2:
                guard let t = d.optionalTimestamp() else { return false }
                now = t
            case 3:
                switch d.peek() {
                case UInt8(ascii: "t"): explain = (try? d.jp.literal("true")) != nil
                case UInt8(ascii: "f"): guard (try? d.jp.literal("false")) != nil else { return false }
                case UInt8(ascii: "n"): guard (try? d.jp.literal("null")) != nil else { return false }
                default: return false
                }
            default:
                guard d.consume(UInt8(ascii: "[")), !d.consume(UInt8(ascii: "]")) else { return false }
                while true {
                    guard checks.count < 100, let c = d.check(index: checks.count) else { return false }
                    checks.append(c)
                    if d.consume(UInt8(ascii: ",")) { continue }
                    guard d.consume(UInt8(ascii: "]")) else { return false }
                    break
                }
            }
            return true
        }
        guard ok, peek() == nil, let account, !checks.isEmpty else { return nil }
        return CheckRequest(account: account, user: user, now: now, explain: explain, checks: checks)
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
        var a = Account()
        let ok = members(RequestKeys.account) { d, k in
            switch k {
            case 0:
                guard let s = d.optionalString() else { return false }
                if let id = s {
                    guard RequestDecoder.validAccountID(id) else { return false }
                    a.id = id
                }
            case 1:
                if d.peek() == UInt8(ascii: "n") { return (try? d.jp.literal("null")) != nil }
                guard let s = d.subscription() else { return false }
                a.subscription = s
            case 2:
                guard let v = d.subtree(depth: 2) else { return false }
                if case .null = v { return true }
                guard case .array(let items) = v else { return false }
                for (i, item) in items.enumerated() {
                    guard let o = try? d.decoder.override(item, "account.overrides[\(i)]"),
                        !a.overrides.contains(where: { $0.feature == o.feature })
                    else { return false }
                    a.overrides.append(o)
                }
            default:
                guard let attrs = d.attributes() else { return false }
                a.attributes = attrs ?? [:]
            }
            return true
        }
        return ok ? a : nil
    }

    mutating func subscription() -> SubscriptionState? {
        var s = SubscriptionState()
        let ok = members(RequestKeys.subscription) { d, k in
            switch k {
            case 0, 1:
                guard let v = d.optionalString() else { return false }
                if k == 0 { s.plan = v } else { s.status = v }
            case 5:
                guard let v = d.optionalCount() else { return false }
                s.seats = v
            default:
                guard let t = d.optionalTimestamp() else { return false }
                if k == 2 { s.periodStart = t } else if k == 3 { s.periodEnd = t } else { s.pastDueSince = t }
            }
            return true
        }
        return ok ? s : nil
    }

    mutating func user() -> User? {
        var u = User()
        let ok = members(RequestKeys.user) { d, k in
            switch k {
            case 0, 1:
                guard let v = d.optionalString() else { return false }
                if k == 0 { u.id = v } else { u.email = v }
            case 2, 3:
                guard let t = d.optionalTimestamp() else { return false }
                if k == 2 { u.emailVerifiedAt = t } else { u.createdAt = t }
            default:
                guard let attrs = d.attributes() else { return false }
                u.attributes = attrs ?? [:]
            }
            return true
        }
        return ok ? u : nil
    }

    /// One check; only the well-shaped ones (anything else goes to the generic path).
    mutating func check(index: Int) -> Result<Check, CheckError>? {
        var f = RequestDecoder.CheckFields()
        var kinds = 0
        let ok = members(RequestKeys.check) { d, k in
            switch k {
            case 3, 4:
                guard let v = d.optionalCount() else { return false }
                if k == 3 { f.usage = v } else { f.amount = v }
            default:
                guard let v = d.optionalString() else { return false }
                guard let s = v else { return true }
                switch k {
                case 0: f.feature = s
                case 1: f.route = s
                case 2: f.flag = s
                default: f.value = s
                }
                if k != 5 { kinds += 1 }
            }
            return true
        }
        guard ok, kinds == 1 else { return nil }
        if f.feature == nil && (f.usage != nil || f.amount != nil || f.value != nil) { return nil }
        return decoder.resolve(f, "checks[\(index)]")
    }
}
