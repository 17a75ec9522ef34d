extension Evaluation {
    /// Evaluates a type-checked expression with SPEC §3 / §9 semantics: null propagates through `+`/`-`,
    /// counts as false where a boolean is needed, and a run-time type mismatch makes comparisons false
    /// (and `!=` true).
    mutating func eval(_ e: Expr) -> Value {
        switch e.kind {
        case .literal(let l):
            switch l {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .string(let s): return .string(s)
            case .duration(let d): return .duration(d.seconds)
            case .list(let l): return .list(l)
            }
        case .name(let n):
            return name(n)
        case .not(let x):
            return .bool(!eval(x).truthy)
        case .binary(let op, let a, let b):
            switch op {
            case .and: return .bool(eval(a).truthy && eval(b).truthy)
            case .or: return .bool(eval(a).truthy || eval(b).truthy)
            case .eq: return .bool(equal(eval(a), eval(b)))
            case .ne: return .bool(!equal(eval(a), eval(b)))
            case .lt, .le, .gt, .ge:
                guard let c = compare(eval(a), eval(b)) else { return .bool(false) }
                switch op {
                case .lt: return .bool(c < 0)
                case .le: return .bool(c <= 0)
                case .gt: return .bool(c > 0)
                default: return .bool(c >= 0)
                }
            case .in, .notIn:
                let x = eval(a)
                let y = eval(b)
                guard case .string(let s) = x, case .list(let l) = y else { return .bool(false) }
                let found = l.contains { scalarsEqual($0, s) }
                return .bool(op == .in ? found : !found)
            case .add, .sub:
                return arithmetic(op, eval(a), eval(b))
            }
        case .featureCall(let f, let index):
            let eff = effective(index)
            guard case .value(let v, _) = eff else { return f == .feature ? .bool(false) : .int(0) }
            switch v {
            case .bool(let b): return .bool(b)
            case .limit(let l): return .int(l ?? -1)
            case .set: return .null
            }
        case .call(let f, let args):
            switch f {
            case .lower:
                guard case .string(let s) = eval(args[0]) else { return .null }
                return .string(unicodeLower(s))
            case .starts_with, .ends_with:
                guard case .string(let s) = eval(args[0]), case .string(let p) = eval(args[1]) else {
                    return .bool(false)
                }
                let su = s.utf8
                let pu = p.utf8
                guard pu.count <= su.count else { return .bool(false) }
                return .bool(f == .starts_with ? su.starts(with: pu) : su.suffix(pu.count).elementsEqual(pu))
            case .rollout:
                guard case .string(let salt) = eval(args[0]), case .string(let key) = eval(args[1]) else {
                    return .null
                }
                return .int(rolloutBucket(salt: salt, key: key))
            case .feature, .limit:
                return .null
            }
        }
    }

    mutating func name(_ n: Name) -> Value {
        let sub = prepared.account.subscription
        switch n {
        case .now: return .timestamp(now)
        case .accountID: return prepared.account.id.map { .string($0) } ?? .null
        case .accountAttribute(let k): return .dynamic(prepared.account.attributes[k])
        case .subscription(let f):
            switch f {
            case .status: return sub?.status.map { .string($0) } ?? .null
            case .plan: return planName.map { .string($0) } ?? .null
            case .period_start: return sub?.periodStart.map { .timestamp($0) } ?? .null
            case .period_end: return sub?.periodEnd.map { .timestamp($0) } ?? .null
            case .past_due_since: return sub?.pastDueSince.map { .timestamp($0) } ?? .null
            case .seats: return sub?.seats.map { .int($0) } ?? .null
            case .live: return .bool(subscription.live)
            case .locked_at: return subscription.lockedAt.map { .timestamp($0) } ?? .null
            case .stage: return stageName.map { .string($0) } ?? .null
            case .days_remaining: return subscription.daysRemaining.map { .int($0) } ?? .null
            }
        case .user(let f):
            guard let user else { return f == .authenticated || f == .email_verified ? .bool(false) : .null }
            switch f {
            case .id: return user.id.map { .string($0) } ?? .null
            case .email: return user.email.map { .string($0) } ?? .null
            case .email_verified:
                guard let v = user.emailVerifiedAt else { return .bool(false) }
                return .bool(!(now < v))
            case .email_verified_at: return user.emailVerifiedAt.map { .timestamp($0) } ?? .null
            case .created_at: return user.createdAt.map { .timestamp($0) } ?? .null
            case .authenticated: return .bool(true)
            }
        case .userAttribute(let k): return .dynamic(user?.attributes[k])
        case .request(let f):
            guard let request else { return .null }
            switch f {
            case .method: return request.method.map { .string($0) } ?? .null
            case .path:
                if let rp = requestPath {
                    var s = ""
                    for k in 0..<rp.count {
                        s += "/"
                        s += String(
                            decoding: UnsafeBufferPointer(
                                start: rp.bytes + Int(rp.segments[k].start),
                                count: Int(rp.segments[k].end - rp.segments[k].start)), as: UTF8.self)
                    }
                    return .string(s.isEmpty ? "/" : s)
                }
                return .string(request.path)
            }
        case .check(let f):
            switch f {
            case .feature: return checkFeature.map { .string(policy.features[$0].name) } ?? .null
            case .usage: return checkUsage.map { .int($0) } ?? .null
            case .amount: return checkAmount.map { .int($0) } ?? .null
            case .limit: return checkLimit.map { .int($0) } ?? .null
            }
        case .fact(let i): return .bool(fact(i))
        case .list(let i): return .list(program.lists[i])
        }
    }

    func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.string(let x), .string(let y)): return scalarsEqual(x, y)
        case (.timestamp(let x), .timestamp(let y)): return x == y
        case (.string(let s), .timestamp(let t)), (.timestamp(let t), .string(let s)):
            // A dynamic attribute holding an RFC 3339 string compares as the instant it names.
            return Timestamp.parse(s) == t
        case (.duration(let x), .duration(let y)): return x == y
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { scalarsEqual($0, $1) }
        case (.other(let x), .other(let y)): return x == y
        default: return false
        }
    }

    /// -1 / 0 / 1, or nil when the pair is not ordered (null, mismatch).
    func compare(_ a: Value, _ b: Value) -> Int? {
        func cmp<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x == y ? 0 : 1) }
        switch (a, b) {
        case (.int(let x), .int(let y)): return cmp(x, y)
        case (.timestamp(let x), .timestamp(let y)): return cmp(x, y)
        case (.duration(let x), .duration(let y)): return cmp(x, y)
        case (.string(let s), .timestamp(let y)):
            guard let x = Timestamp.parse(s) else { return nil }
            return cmp(x, y)
        case (.timestamp(let x), .string(let s)):
            guard let y = Timestamp.parse(s) else { return nil }
            return cmp(x, y)
        default: return nil
        }
    }

    func arithmetic(_ op: BinaryOp, _ a: Value, _ b: Value) -> Value {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = op == .add ? x.addingReportingOverflow(y) : x.subtractingReportingOverflow(y)
            return o ? .null : .int(r)
        case (.timestamp(let t), .duration(let d)):
            let r = op == .add ? t.adding(Duration(seconds: d)) : t.subtracting(Duration(seconds: d))
            return r.map { .timestamp($0) } ?? .null
        case (.string(let s), .duration(let d)):
            guard let t = Timestamp.parse(s) else { return .null }
            return arithmetic(op, .timestamp(t), .duration(d))
        default:
            return .null
        }
    }
}
