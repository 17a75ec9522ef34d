/// Every guard's `applies_to` and allowlist patterns merged into one deterministic automaton over the route's
/// symbols — the method first, then the normalized path segments (SPEC §2.7). A route check walks it once, in time
/// proportional to the path (one binary search of a state's literal edges per segment), however many guards and
/// patterns the bundle has, and the state it ends in lists, precomputed, which guards apply and which allowlist
/// entries match. Flat arrays, no allocation per check.
///
/// Built by subset construction over a trie of the patterns: a trie node is a set of patterns' positions; `*` and
/// `{name}` are one edge taken by any segment, a final `**` a node that loops on any segment.
final class RouteMatcher: Sendable {
    /// One thing a route matched: guard `guardIndex` applies (`entry == -1`) or its allowlist entry `entry` matches.
    struct Match: Sendable, Equatable, Comparable {
        var guardIndex: Int32
        var entry: Int32
        static func < (a: Match, b: Match) -> Bool { (a.guardIndex, a.entry) < (b.guardIndex, b.entry) }
    }

    /// Per state: its literal edges are `edgeStart[s]..<edgeStart[s + 1]`, sorted by (length, bytes).
    private let edgeStart: [Int32]
    /// Per state: where any other symbol (or a route without a method) goes; -1 where nothing can match any more.
    private let other: [Int32]
    /// Per state: its matches are `matchStart[s]..<matchStart[s + 1]` in `matches`.
    private let matchStart: [Int32]
    private let labelStart: [Int32]
    private let labelLength: [Int32]
    private let target: [Int32]
    private let labels: [UInt8]
    /// Sorted by guard, then entry (`-1`, "applies", first). Only entries of guards that apply in that state.
    private let matches: [Match]
    /// Guards without `applies_to`: they apply to every route.
    let everywhere: [Int32]

    /// Nil when the patterns would need more than `maxStates` states (never for route lists people write; then the
    /// evaluator matches guard by guard instead). Built with flat scratch arrays: linear in the patterns' size for
    /// the route lists people write.
    init?(_ guards: [Guard], maxStates: Int = 200_000) {
        var trie = Trie()
        // By index, not by value: copying each guard and allowlist entry out of its array was measurable here.
        for gi in guards.indices {
            for p in guards[gi].appliesTo { trie.add(p, Match(guardIndex: Int32(gi), entry: -1)) }
            for k in guards[gi].allow.indices {
                trie.add(guards[gi].allow[k].pattern, Match(guardIndex: Int32(gi), entry: Int32(k)))
            }
        }
        trie.seal()
        let global = guards.map { $0.appliesTo.isEmpty }
        var (edgeStart, other, matchStart): ([Int32], [Int32], [Int32]) = ([0], [], [0])
        var (labelStart, labelLength, target): ([Int32], [Int32], [Int32]) = ([], [], [])
        var matches: [Match] = []
        // Subset construction, breadth first; state 0 is the trie's root alone. A state is a sorted set of nodes.
        var sets = StateSets()
        _ = sets.id(of: [0])
        var next = 0
        var anySet: [Int32] = []
        var pairs: [(rank: Int32, child: Int32)] = []
        var targetSet: [Int32] = []
        var ended: [Match] = []
        var set: [Int32] = []
        func state(_ s: [Int32]) -> Int32 { s.isEmpty ? -1 : sets.id(of: s) }
        while next < sets.count {
            guard sets.count <= maxStates else { return nil }
            set.removeAll(keepingCapacity: true)
            set.append(contentsOf: sets[next])
            next += 1
            // Any symbol: every `*` child and every `**` loop. A literal: that, plus each member's child by it.
            anySet.removeAll(keepingCapacity: true)
            pairs.removeAll(keepingCapacity: true)
            for n in set {
                let node = trie.nodes[Int(n)]
                if node.one >= 0 { anySet.append(node.one) }
                if node.loops { anySet.append(n) }
                if node.rest >= 0 { anySet.append(node.rest) }
                for e in Int(trie.edgeStart[Int(n)])..<Int(trie.edgeStart[Int(n) + 1]) {
                    pairs.append((trie.labelRank[Int(trie.edgeLabel[e])], trie.edgeChild[e]))
                }
            }
            Trie.normalize(&anySet)
            other.append(state(anySet))
            pairs.sort { $0.rank < $1.rank }
            var i = 0
            while i < pairs.count {
                let rank = pairs[i].rank
                targetSet.removeAll(keepingCapacity: true)
                targetSet.append(contentsOf: anySet)
                while i < pairs.count && pairs[i].rank == rank {
                    targetSet.append(pairs[i].child)
                    i += 1
                }
                Trie.normalize(&targetSet)
                let label = trie.labelByRank[Int(rank)]
                labelStart.append(trie.labelStart[Int(label)])
                labelLength.append(trie.labelStart[Int(label) + 1] - trie.labelStart[Int(label)])
                target.append(state(targetSet))
            }
            edgeStart.append(Int32(target.count))
            // What a route ending here matched: per guard, "applies" sorts first; a guard's allowlist entries are kept
            // only where it applies (or applies everywhere).
            ended.removeAll(keepingCapacity: true)
            for n in set {
                ended.append(contentsOf: trie.ends[Int(trie.endStart[Int(n)])..<Int(trie.endStart[Int(n) + 1])])
            }
            ended.sort()
            var k = 0
            while k < ended.count {
                let gi = ended[k].guardIndex
                let keep = global[Int(gi)] || ended[k].entry == -1
                var last: Match?
                while k < ended.count && ended[k].guardIndex == gi {
                    if keep && ended[k] != last { matches.append(ended[k]) }
                    last = ended[k]
                    k += 1
                }
            }
            matchStart.append(Int32(matches.count))
        }
        everywhere = global.indices.filter { global[$0] }.map(Int32.init)
        (self.edgeStart, self.other, self.matchStart, self.matches) = (edgeStart, other, matchStart, matches)
        (self.labelStart, self.labelLength, self.target, self.labels) = (labelStart, labelLength, target, trie.labels)
    }

    /// The state after the route's symbols: `method` (nil: no method) then the `count` segments at `segs` in `path`;
    /// -1 when no pattern matches.
    @inline(__always)
    func run(
        method: UnsafeBufferPointer<UInt8>?, path: UnsafePointer<UInt8>,
        _ segs: UnsafePointer<(start: Int32, end: Int32)>, _ count: Int
    ) -> Int32 {
        var s: Int32 = 0
        if let method, let m = method.baseAddress {
            s = step(s, m, method.count)
        } else {
            s = other[0]
        }
        var i = 0
        while i < count && s >= 0 {
            let (start, end) = (Int(segs[i].start), Int(segs[i].end))
            s = step(s, path + start, end - start)
            i += 1
        }
        return s
    }

    /// The matches of the state `run` ended in (empty for -1).
    @inline(__always)
    func matches(_ state: Int32) -> Range<Int> {
        state < 0 ? 0..<0 : Int(matchStart[Int(state)])..<Int(matchStart[Int(state) + 1])
    }

    @inline(__always) func match(at i: Int) -> Match { matches[i] }

    /// One symbol: binary search of the state's literal edges by (length, bytes), else its `other` edge.
    @inline(__always)
    private func step(_ s: Int32, _ bytes: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
        var lo = Int(edgeStart[Int(s)])
        var hi = Int(edgeStart[Int(s) + 1])
        return labels.withUnsafeBufferPointer { pool in
            while lo < hi {
                let mid = (lo + hi) >> 1
                let len = Int(labelLength[mid])
                var order = len - n
                if order == 0 {
                    let a = pool.baseAddress! + Int(labelStart[mid])
                    var i = 0
                    while i < n && a[i] == bytes[i] { i += 1 }
                    order = i == n ? 0 : Int(a[i]) - Int(bytes[i])
                }
                if order == 0 { return target[mid] }
                if order < 0 { lo = mid + 1 } else { hi = mid }
            }
            return other[Int(s)]
        }
    }

    /// The automaton's states while it is built: each a sorted set of trie nodes, kept in one pool and found again
    /// through an open-addressing table (no array, no generic hashing per set).
    private struct StateSets {
        private var pool: [Int32] = []
        private var start: [Int32] = [0]
        private var slots = [Int32](repeating: -1, count: 1024)
        var count: Int { start.count - 1 }

        subscript(_ i: Int) -> ArraySlice<Int32> { pool[Int(start[i])..<Int(start[i + 1])] }

        /// The id of `s`, adding it when new.
        mutating func id(of s: [Int32]) -> Int32 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for x in s { h = (h ^ UInt64(UInt32(bitPattern: x))) &* 0x100_0000_01b3 }
            var mask = slots.count - 1
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i] >= 0 {
                if self[Int(slots[i])].elementsEqual(s) { return slots[i] }
                i = (i + 1) & mask
            }
            let id = Int32(count)
            pool.append(contentsOf: s)
            start.append(Int32(pool.count))
            slots[i] = id
            if count * 2 > slots.count {
                // Grow and re-place every set.
                slots = [Int32](repeating: -1, count: slots.count * 2)
                mask = slots.count - 1
                for k in 0..<count {
                    var g: UInt64 = 0xcbf2_9ce4_8422_2325
                    for x in self[k] { g = (g ^ UInt64(UInt32(bitPattern: x))) &* 0x100_0000_01b3 }
                    var j = Int(truncatingIfNeeded: g) & mask
                    while slots[j] >= 0 { j = (j + 1) & mask }
                    slots[j] = Int32(k)
                }
            }
            return id
        }
    }

    /// The merged trie of all patterns: the automaton's nondeterministic form. Literal labels are interned once;
    /// after `seal` a node's literal edges and ends are ranges of flat arrays.
    private struct Trie {
        struct Node {
            /// The `*` / `{name}` child, or -1.
            var one: Int32 = -1
            /// A `**` node: it stays here on any segment.
            var loops = false
            /// The `**` child (when a pattern ends with `**` here), or -1.
            var rest: Int32 = -1
        }
        var nodes = [Node()]
        /// Literal edges while building: (node << 32 | label) → child, open addressing (hashing an integer pair
        /// through `Hasher` for every segment of every pattern was a tenth of a large bundle's compile).
        private var childKeys = [Int64](repeating: -1, count: 1024)
        private var childValues = [Int32](repeating: -1, count: 1024)
        private var childCount = 0
        private var edges: [(node: Int32, label: Int32, child: Int32)] = []
        private var endList: [(node: Int32, match: Match)] = []
        /// Label ids by their bytes, open addressing with `NameIndex`'s FNV-1a hash (no `String` hashing).
        private var labelSlots = [Int32](repeating: -1, count: 1024)
        /// The interned labels' bytes: label `l` is `labels[labelStart[l]..<labelStart[l + 1]]`.
        var labels: [UInt8] = []
        var labelStart: [Int32] = [0]
        /// Each label's place in (length, bytes) order, the order a state's edges are searched in, and back.
        var labelRank: [Int32] = []
        var labelByRank: [Int32] = []
        /// After `seal`: node `n`'s edges are `edgeStart[n]..<edgeStart[n + 1]`, its ends likewise.
        var edgeStart: [Int32] = []
        var edgeLabel: [Int32] = []
        var edgeChild: [Int32] = []
        var endStart: [Int32] = []
        var ends: [Match] = []

        mutating func add(_ p: RoutePattern, _ m: Match) {
            var n: Int32 = 0
            if let method = p.method {
                n = child(n, literal: method)
            } else {
                n = oneChild(n)
            }
            for seg in p.segments {
                switch seg {
                case .literal(let l): n = child(n, literal: l)
                case .one: n = oneChild(n)
                case .rest:
                    // `**` matches zero segments (end here) or more (the looping child).
                    endList.append((n, m))
                    if nodes[Int(n)].rest < 0 {
                        nodes.append(Node(loops: true))
                        nodes[Int(n)].rest = Int32(nodes.count - 1)
                    }
                    n = nodes[Int(n)].rest
                }
            }
            endList.append((n, m))
        }

        private mutating func child(_ n: Int32, literal l: String) -> Int32 {
            var l = l
            let label = l.withUTF8 { intern($0) }
            let key = Int64(n) << 32 | Int64(label)
            var mask = childKeys.count - 1
            var i = Self.slot(key, mask)
            while childKeys[i] >= 0 {
                if childKeys[i] == key { return childValues[i] }
                i = (i + 1) & mask
            }
            nodes.append(Node())
            let c = Int32(nodes.count - 1)
            childKeys[i] = key
            childValues[i] = c
            childCount += 1
            edges.append((n, label, c))
            if childCount * 2 > childKeys.count {
                let (oldKeys, oldValues) = (childKeys, childValues)
                childKeys = [Int64](repeating: -1, count: oldKeys.count * 2)
                childValues = [Int32](repeating: -1, count: oldKeys.count * 2)
                mask = childKeys.count - 1
                for (k, v) in zip(oldKeys, oldValues) where k >= 0 {
                    var j = Self.slot(k, mask)
                    while childKeys[j] >= 0 { j = (j + 1) & mask }
                    childKeys[j] = k
                    childValues[j] = v
                }
            }
            return c
        }

        @inline(__always) private static func slot(_ key: Int64, _ mask: Int) -> Int {
            Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
        }

        /// The id of a literal label, interning it when new.
        private mutating func intern(_ b: UnsafeBufferPointer<UInt8>) -> Int32 {
            var mask = labelSlots.count - 1
            var i = NameIndex.hash(b) & mask
            while labelSlots[i] >= 0 {
                let id = Int(labelSlots[i])
                let (from, to) = (Int(labelStart[id]), Int(labelStart[id + 1]))
                if to - from == b.count
                    && labels.withUnsafeBufferPointer({ pool in
                        var k = 0
                        while k < b.count && pool[from + k] == b[k] { k += 1 }
                        return k == b.count
                    })
                {
                    return Int32(id)
                }
                i = (i + 1) & mask
            }
            let label = Int32(labelStart.count - 1)
            labels.append(contentsOf: b)
            labelStart.append(Int32(labels.count))
            labelSlots[i] = label
            if labelStart.count * 2 > labelSlots.count {
                labelSlots = [Int32](repeating: -1, count: labelSlots.count * 2)
                mask = labelSlots.count - 1
                labels.withUnsafeBufferPointer { pool in
                    for id in 0..<(labelStart.count - 1) {
                        let bytes = UnsafeBufferPointer(rebasing: pool[Int(labelStart[id])..<Int(labelStart[id + 1])])
                        var j = NameIndex.hash(bytes) & mask
                        while labelSlots[j] >= 0 { j = (j + 1) & mask }
                        labelSlots[j] = Int32(id)
                    }
                }
            }
            return label
        }

        private mutating func oneChild(_ n: Int32) -> Int32 {
            if nodes[Int(n)].one >= 0 { return nodes[Int(n)].one }
            nodes.append(Node())
            nodes[Int(n)].one = Int32(nodes.count - 1)
            return Int32(nodes.count - 1)
        }

        /// Lays the edges and ends out by node and ranks the labels.
        mutating func seal() {
            let labelCount = labelStart.count - 1
            labelByRank = Array(0..<Int32(labelCount))
            labels.withUnsafeBufferPointer { pool in
                labelByRank.sort { a, b in
                    let (sa, ea) = (Int(labelStart[Int(a)]), Int(labelStart[Int(a) + 1]))
                    let (sb, eb) = (Int(labelStart[Int(b)]), Int(labelStart[Int(b) + 1]))
                    if ea - sa != eb - sb { return ea - sa < eb - sb }
                    return pool[sa..<ea].lexicographicallyPrecedes(pool[sb..<eb])
                }
            }
            labelRank = [Int32](repeating: 0, count: labelCount)
            for (rank, label) in labelByRank.enumerated() { labelRank[Int(label)] = Int32(rank) }
            edges.sort { $0.node < $1.node }
            edgeStart = Trie.offsets(edges.map(\.node), nodes.count)
            edgeLabel = edges.map(\.label)
            edgeChild = edges.map(\.child)
            endList.sort { $0.node < $1.node }
            endStart = Trie.offsets(endList.map(\.node), nodes.count)
            ends = endList.map(\.match)
            (childKeys, childValues, labelSlots, edges, endList) = ([], [], [], [], [])
        }

        /// Range starts of items sorted by owner: `result[n]..<result[n + 1]` are owner `n`'s.
        static func offsets(_ owners: [Int32], _ count: Int) -> [Int32] {
            var starts = [Int32](repeating: 0, count: count + 1)
            for o in owners { starts[Int(o) + 1] += 1 }
            for i in 0..<count { starts[i + 1] += starts[i] }
            return starts
        }

        /// Sorted, without repeats.
        static func normalize(_ s: inout [Int32]) {
            guard s.count > 1 else { return }
            s.sort()
            var w = 1
            for r in 1..<s.count where s[r] != s[w - 1] {
                s[w] = s[r]
                w += 1
            }
            s.removeLast(s.count - w)
        }
    }
}
