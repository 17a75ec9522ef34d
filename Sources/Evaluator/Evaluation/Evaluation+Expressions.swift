extension Evaluation {
    /// Evaluates compiled code rooted at `i` with SPEC §3 / §9 semantics: null propagates through `+`/`-`,
    /// counts as false where a boolean is needed, and a run-time type mismatch makes comparisons false
    /// (and `!=` true).
    mutating func eval(_ i: Int32) -> Value {
        let ins = code[Int(i)]
        switch ins.op {
        case .null: return .null
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .int: return .int(ins.k)
        case .string: return .string(program.exprs.strings[Int(ins.k)])
        case .duration: return .duration(ins.k)
        case .list: return .list(program.exprs.lists[Int(ins.k)])
        case .namedList: return .list(program.lists[Int(ins.k)])
        case .now: return .timestamp(now)
        case .accountID: return prepared.account.id.map { .string($0) } ?? .null
        case .accountAttribute: return .dynamic(prepared.account.attributes[program.exprs.strings[Int(ins.k)]])
        case .userAttribute: return .dynamic(user?.attributes[program.exprs.strings[Int(ins.k)]])
        case .subscription: return subscriptionField(subscriptionFields[Int(ins.k)])
        case .user: return userField(userFields[Int(ins.k)])
        case .request: return requestField(ins.k == 0 ? .method : .path)
        case .check: return checkField(checkFields[Int(ins.k)])
        case .fact: return .bool(fact(Int(ins.k)))
        case .not: return .bool(!eval(ins.a).truthy)
        case .and: return .bool(eval(ins.a).truthy && eval(ins.b).truthy)
        case .or: return .bool(eval(ins.a).truthy || eval(ins.b).truthy)
        // Operands go into locals before a method of `self` takes them: `equal(eval(a), eval(b))` would copy the
        // whole evaluation (the method's `self` is read before the mutating operand calls run).
        case .eq, .ne:
            let (a, b) = (eval(ins.a), eval(ins.b))
            return .bool(equal(a, b) == (ins.op == .eq))
        case .lt, .le, .gt, .ge:
            let c: Int?
            if let instants = compareInstants(ins) {
                c = instants
            } else {
                let (a, b) = (eval(ins.a), eval(ins.b))
                c = compare(a, b)
            }
            guard let c else { return .bool(false) }
            return .bool(Self.ordered(ins.op, c))
        case .in, .notIn:
            guard case .string(let s) = eval(ins.a) else { return .bool(false) }
            // A literal or named list on the right is searched in place.
            let right = code[Int(ins.b)]
            let found: Bool
            switch right.op {
            case .list: found = program.exprs.lists[Int(right.k)].contains { scalarsEqual($0, s) }
            case .namedList: found = program.lists[Int(right.k)].contains { scalarsEqual($0, s) }
            default:
                guard case .list(let l) = eval(ins.b) else { return .bool(false) }
                found = l.contains { scalarsEqual($0, s) }
            }
            return .bool(ins.op == .in ? found : !found)
        case .add, .sub:
            let (a, b) = (eval(ins.a), eval(ins.b))
            return arithmetic(ins.op == .add, a, b)
        case .featureBool, .featureLimit:
            guard case .value(let v, _) = effective(Int(ins.k)) else {
                return ins.op == .featureBool ? .bool(false) : .int(0)
            }
            switch v {
            case .bool(let b): return .bool(b)
            case .limit(let l): return .int(l ?? -1)
            case .set: return .null
            }
        case .lower:
            guard case .string(let s) = eval(ins.a) else { return .null }
            return .string(unicodeLower(s))
        case .startsWith, .endsWith:
            guard case .string(let s) = eval(ins.a), case .string(let p) = eval(ins.b) else { return .bool(false) }
            let su = s.utf8
            let pu = p.utf8
            guard pu.count <= su.count else { return .bool(false) }
            return .bool(ins.op == .startsWith ? su.starts(with: pu) : su.suffix(pu.count).elementsEqual(pu))
        case .rollout:
            guard case .string(let salt) = eval(ins.a), case .string(let key) = eval(ins.b) else { return .null }
            return .int(rolloutBucket(salt: salt, key: key))
        case .rolloutAccount:
            return accountRollout(slot: Int(ins.k)).map { .int($0) } ?? .null
        }
    }

    /// Whether the expression at `i` holds (`eval(i).truthy`), with comparisons of two instants decided in place:
    /// the common conditions (trials, grace periods) cost no interpreter call.
    @inline(__always)
    mutating func holds(_ i: Int32) -> Bool {
        let ins = code[Int(i)]
        switch ins.op {
        case .lt, .le, .gt, .ge:
            guard let instants = compareInstants(ins) else { return eval(i).truthy }
            guard let c = instants else { return false }
            return Self.ordered(ins.op, c)
        case .true: return true
        case .false: return false
        default: return eval(i).truthy
        }
    }

    /// Whether `<`, `<=`, `>` or `>=` (`op`) holds for a comparison result `c` (-1 / 0 / 1).
    @inline(__always)
    static func ordered(_ op: Instr.Op, _ c: Int) -> Bool {
        switch op {
        case .lt: c < 0
        case .le: c <= 0
        case .gt: c > 0
        default: c >= 0
        }
    }

    /// For a comparison of two instants (`now < subscription.period_end`, `now < user.created_at + 7d`): `.some` of
    /// -1 / 0 / 1, or `.some(nil)` when a side is null (unordered, as `compare` says); nil for any other operands.
    @inline(__always)
    mutating func compareInstants(_ ins: Instr) -> Int?? {
        guard let x = instant(ins.a), let y = instant(ins.b) else { return nil }
        guard let x, let y else { return .some(nil) }
        return .some(x < y ? -1 : (x == y ? 0 : 1))
    }

    /// The instant an operand names when it is `now`, a timestamp field of the subscription or the user, or one of
    /// those plus or minus a duration literal: `.some(nil)` for null (a missing field, an overflow), nil when the
    /// operand is anything else (then `eval` decides). The same values `eval` and `arithmetic` give.
    @inline(__always)
    mutating func instant(_ i: Int32) -> Timestamp?? {
        let ins = code[Int(i)]
        guard ins.op == .add || ins.op == .sub else { return instantLeaf(ins) }
        guard code[Int(ins.b)].op == .duration, let t = instantLeaf(code[Int(ins.a)]) else { return nil }
        guard let t else { return .some(nil) }
        let d = PolicyDuration(seconds: code[Int(ins.b)].k)
        return .some(ins.op == .add ? t.adding(d) : t.subtracting(d))
    }

    @inline(__always)
    mutating func instantLeaf(_ ins: Instr) -> Timestamp?? {
        switch ins.op {
        case .now: return .some(now)
        case .subscription:
            switch subscriptionFields[Int(ins.k)] {
            case .period_start: return .some(prepared.account.subscription?.periodStart)
            case .period_end: return .some(prepared.account.subscription?.periodEnd)
            case .past_due_since: return .some(prepared.account.subscription?.pastDueSince)
            case .ended_at: return .some(prepared.account.subscription?.endedAt)
            case .locked_at: return .some(subscription.lockedAt)
            default: return nil
            }
        case .user:
            switch userFields[Int(ins.k)] {
            case .created_at: return .some(user?.createdAt)
            case .email_verified_at: return .some(user?.emailVerifiedAt)
            default: return nil
            }
        default: return nil
        }
    }

    /// `rollout("salt", account.id)`: from the prepared account when it carries buckets, else hashed once per
    /// evaluation (first 8 slots memoized).
    mutating func accountRollout(slot: Int) -> Int64? {
        let buckets = prepared.rolloutBuckets
        if slot < buckets.count { return buckets[slot] }
        guard let id = prepared.account.id else { return nil }
        if slot < 8, rolloutKnown & (1 << slot) != 0 {
            return withUnsafeBytes(of: rolloutMemo) { $0.load(fromByteOffset: slot * 8, as: Int64.self) }
        }
        let v = rolloutBucket(salt: program.exprs.accountRolloutSalts[slot], key: id)
        if slot < 8 {
            rolloutKnown |= 1 << slot
            withUnsafeMutableBytes(of: &rolloutMemo) { $0.storeBytes(of: v, toByteOffset: slot * 8, as: Int64.self) }
        }
        return v
    }

    // Fields are read in place (`prepared.account.subscription?.x`): binding the subscription or the user first
    // would copy the whole value.

    mutating func subscriptionField(_ f: SubscriptionField) -> Value {
        switch f {
        case .status: return prepared.account.subscription?.status.map { .string($0) } ?? .null
        case .plan: return planName.map { .string($0) } ?? .null
        case .period_start: return prepared.account.subscription?.periodStart.map { .timestamp($0) } ?? .null
        case .period_end: return prepared.account.subscription?.periodEnd.map { .timestamp($0) } ?? .null
        case .past_due_since: return prepared.account.subscription?.pastDueSince.map { .timestamp($0) } ?? .null
        case .ended_at: return prepared.account.subscription?.endedAt.map { .timestamp($0) } ?? .null
        case .seats: return prepared.account.subscription?.seats.map { .int($0) } ?? .null
        case .live: return .bool(subscription.live)
        case .locked_at: return subscription.lockedAt.map { .timestamp($0) } ?? .null
        case .stage: return stageName.map { .string($0) } ?? .null
        case .days_remaining: return subscription.daysRemaining.map { .int($0) } ?? .null
        }
    }

    mutating func userField(_ f: UserField) -> Value {
        guard user != nil else { return f == .authenticated || f == .email_verified ? .bool(false) : .null }
        switch f {
        case .id: return user?.id.map { .string($0) } ?? .null
        case .email: return user?.email.map { .string($0) } ?? .null
        case .email_verified:
            guard let v = user?.emailVerifiedAt else { return .bool(false) }
            return .bool(!(now < v))
        case .email_verified_at: return user?.emailVerifiedAt.map { .timestamp($0) } ?? .null
        case .created_at: return user?.createdAt.map { .timestamp($0) } ?? .null
        case .authenticated: return .bool(true)
        }
    }

    mutating func requestField(_ f: RequestField) -> Value {
        guard inRoute else { return .null }
        switch f {
        case .method: return requestMethod.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
        case .path:
            guard let rp = requestPath else {
                // A denial body renders only for a route that normalized, so this succeeds.
                if let raw = renderedRoute,
                    case .success(let p) = PathNormalizer.normalize(String(decoding: raw, as: UTF8.self))
                {
                    return .string(p)
                }
                return .string("")
            }
            var s = ""
            for k in 0..<rp.count {
                let seg = UnsafeBufferPointer(
                    start: rp.bytes + Int(rp.segments[k].start), count: Int(rp.segments[k].end - rp.segments[k].start))
                s += "/" + String(decoding: seg, as: UTF8.self)
            }
            return .string(s.isEmpty ? "/" : s)
        }
    }

    mutating func checkField(_ f: CheckField) -> Value {
        switch f {
        case .feature: return checkFeature.map { .string(program.policy.features[$0].name) } ?? .null
        case .usage: return checkUsage.map { .int($0) } ?? .null
        case .amount: return checkAmount.map { .int($0) } ?? .null
        case .limit: return checkLimit.map { .int($0) } ?? .null
        }
    }

    mutating func equal(_ a: Value, _ b: Value) -> Bool {
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
    mutating func compare(_ a: Value, _ b: Value) -> Int? {
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

    mutating func arithmetic(_ add: Bool, _ a: Value, _ b: Value) -> Value {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = add ? x.addingReportingOverflow(y) : x.subtractingReportingOverflow(y)
            return o ? .null : .int(r)
        case (.timestamp(let t), .duration(let d)):
            let r = add ? t.adding(PolicyDuration(seconds: d)) : t.subtracting(PolicyDuration(seconds: d))
            return r.map { .timestamp($0) } ?? .null
        case (.string(let s), .duration(let d)):
            guard let t = Timestamp.parse(s) else { return .null }
            return arithmetic(add, .timestamp(t), .duration(d))
        default:
            return .null
        }
    }
}

// Field tables by ordinal (`allCases` builds a new array on every access).
let subscriptionFields = SubscriptionField.allCases
let userFields = UserField.allCases
let checkFields = CheckField.allCases
