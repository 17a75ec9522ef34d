/// Names (features, flags, plans and their aliases, statuses) interned at compile time and found again from raw
/// UTF-8 bytes — a request body's — without making a `String`: FNV-1a over the bytes, open addressing, the names'
/// bytes kept in one pool to confirm a hit. No allocation per lookup.
struct NameIndex: Sendable {
    private var pool: [UInt8] = []
    /// Per entry: where its name sits in `pool`, and its id.
    private var start: [Int32] = []
    private var length: [Int32] = []
    private var ids: [Int32] = []
    /// Per entry: the name as a `String` (a request's plan or status spelled like a known one shares it).
    private var names: [String] = []
    /// Entry index + 1 per slot (0: empty); a power of two, at most half full.
    private var slots: [Int32]
    /// Per entry: the 16 bytes of its `String` value, and a second table over them (same size as `slots`). A name
    /// of up to 15 bytes is stored inline in those bytes, so a `String` query spelled the same has the same bits
    /// and is found without reading or hashing its characters. Equal bits always mean equal text (inline bytes, or
    /// the same storage, which `names` keeps alive); unequal bits fall back to the byte lookup.
    private var bits: [(UInt64, UInt64)] = []
    private var bitSlots: [Int32]

    init<S: Sequence>(_ names: S) where S.Element == (name: String, id: Int) {
        let list = Array(names)
        var capacity = 8
        while capacity < list.count * 2 + 2 { capacity *= 2 }
        slots = [Int32](repeating: 0, count: capacity)
        bitSlots = [Int32](repeating: 0, count: capacity)
        for (name, id) in list {
            var n = name
            let present = n.withUTF8 { lookup($0) != nil }
            if present { continue }  // first definition wins, as in the dictionaries it mirrors
            let bytes = Array(name.utf8)
            start.append(Int32(pool.count))
            length.append(Int32(bytes.count))
            pool.append(contentsOf: bytes)
            ids.append(Int32(id))
            self.names.append(name)
            let b = unsafeBitCast(name, to: (UInt64, UInt64).self)
            bits.append(b)
            var bitSlot = Self.hash(bits: b) & (capacity - 1)
            while bitSlots[bitSlot] != 0 { bitSlot = (bitSlot + 1) & (capacity - 1) }
            bitSlots[bitSlot] = Int32(ids.count)
            var slot = bytes.withUnsafeBufferPointer { Self.hash($0) } & (capacity - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Int32(ids.count)
        }
    }

    @inline(__always)
    static func hash(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// The id of the name spelled by `b`, or nil.
    @inline(__always)
    func lookup(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        entry(b).map { Int(ids[$0]) }
    }

    /// The id and the name (as a `String`) of the name spelled by `b`, or nil.
    @inline(__always)
    func find(_ b: UnsafeBufferPointer<UInt8>) -> (id: Int, name: String)? {
        entry(b).map { (Int(ids[$0]), names[$0]) }
    }

    @inline(__always)
    private func entry(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        let mask = slots.count - 1
        var slot = Self.hash(b) & mask
        return pool.withUnsafeBufferPointer { p -> Int? in
            while true {
                let e = Int(slots[slot])
                if e == 0 { return nil }
                let k = e - 1
                if Int(length[k]) == b.count {
                    let s = Int(start[k])
                    var i = 0
                    while i < b.count && p[s + i] == b[i] { i += 1 }
                    if i == b.count { return k }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    @inline(__always)
    private static func hash(bits b: (UInt64, UInt64)) -> Int {
        let h = (b.0 &* 0x9E37_79B9_7F4A_7C15) ^ (b.1 &* 0xC2B2_AE3D_27D4_EB4F)
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// The id of `name`, or nil.
    func lookup(_ name: String) -> Int? {
        let b = unsafeBitCast(name, to: (UInt64, UInt64).self)
        let mask = bitSlots.count - 1
        var slot = Self.hash(bits: b) & mask
        while true {
            let e = Int(bitSlots[slot])
            if e == 0 { break }
            if bits[e - 1] == b { return Int(ids[e - 1]) }
            slot = (slot + 1) & mask
        }
        var n = name
        return n.withUTF8 { lookup($0) }
    }
}
