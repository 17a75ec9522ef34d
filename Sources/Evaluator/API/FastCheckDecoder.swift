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

    /// Iterates an object's members; `body` reads the value of each key and returns false to abort.
    mutating func members(_ body: (inout FastCheckDecoder, String) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        while true {
            guard peek() == UInt8(ascii: "\""), let key = try? jp.string() else { return false }
            guard consume(UInt8(ascii: ":")), body(&self, key) else { return false }
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
        var seen: UInt8 = 0
        var account: AccountReference?
        var user: User?
        var now: Timestamp?
        var explain = false
        var checks: [Result<Check, CheckError>] = []
        let ok = members { d, key in
            let bit: UInt8
            switch key {
            case "account": bit = 1
            case "user": bit = 2
            case "now": bit = 4
            case "explain": bit = 8
            case "checks": bit = 16
            default: return false
            }
            guard seen & bit == 0 else { return false }
            seen |= bit
            switch bit {
            case 1:
                if d.peek() == UInt8(ascii: "\"") {
                    guard let id = try? d.jp.string(), RequestDecoder.validAccountID(id) else { return false }
                    account = .id(id)
                    return true
                }
                guard let a = d.account() else { return false }
                account = .inline(a)
            case 2:
                if d.peek() == UInt8(ascii: "n") { return (try? d.jp.literal("null")) != nil }
                guard let u = d.user() else { return false }
                user = u
            case 4:
                guard let t = d.optionalTimestamp() else { return false }
                now = t
            case 8:
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

    mutating func account() -> Account? {
        var a = Account()
        var seen: UInt8 = 0
        let ok = members { d, key in
            switch key {
            case "id" where seen & 1 == 0:
                seen |= 1
                guard let s = d.optionalString() else { return false }
                if let id = s {
                    guard RequestDecoder.validAccountID(id) else { return false }
                    a.id = id
                }
            case "subscription" where seen & 2 == 0:
                seen |= 2
                if d.peek() == UInt8(ascii: "n") { return (try? d.jp.literal("null")) != nil }
                guard let s = d.subscription() else { return false }
                a.subscription = s
            case "overrides" where seen & 4 == 0:
                seen |= 4
                guard let v = d.subtree(depth: 2) else { return false }
                if case .null = v { return true }
                guard case .array(let items) = v else { return false }
                for (i, item) in items.enumerated() {
                    guard let o = try? d.decoder.override(item, "account.overrides[\(i)]"),
                        !a.overrides.contains(where: { $0.feature == o.feature })
                    else { return false }
                    a.overrides.append(o)
                }
            case "attributes" where seen & 8 == 0:
                seen |= 8
                guard let v = d.subtree(depth: 2) else { return false }
                if case .null = v { return true }
                guard case .object(let ms) = v else { return false }
                for (k, x) in ms { a.attributes[k] = x }
            default: return false
            }
            return true
        }
        return ok ? a : nil
    }

    mutating func subscription() -> SubscriptionState? {
        var s = SubscriptionState()
        var seen: UInt8 = 0
        let ok = members { d, key in
            let bit: UInt8
            switch key {
            case "plan": bit = 1
            case "status": bit = 2
            case "period_start": bit = 4
            case "period_end": bit = 8
            case "past_due_since": bit = 16
            case "seats": bit = 32
            default: return false
            }
            guard seen & bit == 0 else { return false }
            seen |= bit
            switch bit {
            case 1, 2:
                guard let v = d.optionalString() else { return false }
                if bit == 1 { s.plan = v } else { s.status = v }
            case 32:
                guard let v = d.optionalCount() else { return false }
                s.seats = v
            default:
                guard let t = d.optionalTimestamp() else { return false }
                if bit == 4 { s.periodStart = t } else if bit == 8 { s.periodEnd = t } else { s.pastDueSince = t }
            }
            return true
        }
        return ok ? s : nil
    }

    mutating func user() -> User? {
        var u = User()
        var seen: UInt8 = 0
        let ok = members { d, key in
            let bit: UInt8
            switch key {
            case "id": bit = 1
            case "email": bit = 2
            case "email_verified_at": bit = 4
            case "created_at": bit = 8
            case "attributes": bit = 16
            default: return false
            }
            guard seen & bit == 0 else { return false }
            seen |= bit
            switch bit {
            case 1, 2:
                guard let v = d.optionalString() else { return false }
                if bit == 1 { u.id = v } else { u.email = v }
            case 4, 8:
                guard let t = d.optionalTimestamp() else { return false }
                if bit == 4 { u.emailVerifiedAt = t } else { u.createdAt = t }
            default:
                guard let v = d.subtree(depth: 2) else { return false }
                if case .null = v { return true }
                guard case .object(let ms) = v else { return false }
                for (k, x) in ms { u.attributes[k] = x }
            }
            return true
        }
        return ok ? u : nil
    }

    /// One check; only the well-shaped ones (anything else goes to the generic path).
    mutating func check(index: Int) -> Result<Check, CheckError>? {
        var f = RequestDecoder.CheckFields()
        var seen: UInt8 = 0
        var kinds = 0
        let ok = members { d, key in
            let bit: UInt8
            switch key {
            case "feature": bit = 1
            case "route": bit = 2
            case "flag": bit = 4
            case "usage": bit = 8
            case "amount": bit = 16
            case "value": bit = 32
            default: return false
            }
            guard seen & bit == 0 else { return false }
            seen |= bit
            switch bit {
            case 8, 16:
                guard let v = d.optionalCount() else { return false }
                if bit == 8 { f.usage = v } else { f.amount = v }
            default:
                guard let v = d.optionalString() else { return false }
                guard let s = v else { return true }
                switch bit {
                case 1: f.feature = s
                case 2: f.route = s
                case 4: f.flag = s
                default: f.value = s
                }
                if bit != 32 { kinds += 1 }
            }
            return true
        }
        guard ok, kinds == 1 else { return nil }
        if f.feature == nil && (f.usage != nil || f.amount != nil || f.value != nil) { return nil }
        return decoder.resolve(f, "checks[\(index)]")
    }
}
