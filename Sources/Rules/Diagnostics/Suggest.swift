/// "Did you mean" suggestions: the closest candidate by edit distance, if it is close enough.
public enum Suggest {
    public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let w = Array(word.unicodeScalars)
        var best: (String, Int)?
        for c in candidates {
            let cs = Array(c.unicodeScalars)
            var d = distance(w, cs)
            let limit = max(1, min(w.count, cs.count) / 3 + 1)
            if d > limit {
                // Abbreviations and truncations: `bool` for `boolean`, `sub_inactive` for `subscription_inactive`.
                let pre = zip(w, cs).prefix { $0 == $1 }.count
                let suf = zip(w.reversed(), cs.reversed()).prefix { $0 == $1 }.count
                guard w.count >= 3, pre == min(w.count, cs.count) || suf >= max(5, w.count / 2) else { continue }
                d = limit + 1 + abs(w.count - cs.count)
            }
            if best == nil || d < best!.1 || (d == best!.1 && c < best!.0) { best = (c, d) }
        }
        return best?.0
    }

    /// ` (did you mean 'x'?)` or the empty string.
    public static func hint(_ word: String, _ candidates: some Sequence<String>) -> String {
        guard let s = closest(to: word, in: candidates) else { return "" }
        return " (did you mean '\(s)'?)"
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev2 = [Int](repeating: 0, count: b.count + 1)
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    cur[j] = min(cur[j], prev2[j - 2] + 1)
                }
            }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[b.count]
    }
}
