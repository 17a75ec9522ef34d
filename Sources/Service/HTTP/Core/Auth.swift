import Foundation

/// Bearer keys with roles (SPEC §6.5). Keys are compared as SHA-256 digests in constant time, against every
/// configured key, so neither timing nor length says which key was close.
struct Auth: Sendable {
    enum Role: Int, Sendable, Comparable {
        case check = 1
        case admin = 2
        static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
    }
    struct Key: Sendable {
        var name: String
        var role: Role
        var digest: [UInt8]
    }

    var keys: [Key] = []
    var isOpen: Bool { keys.isEmpty }
    /// Stripe's webhook signing secrets (`ENTITLEMENTS_STRIPE_WEBHOOK_SECRETS`, comma-separated `whsec_…`), each as
    /// the HMAC key it is; empty: `POST /v1/billing/stripe` answers 404.
    var stripeSecrets: [[UInt8]] = []

    struct ConfigError: Error, CustomStringConvertible { var description: String }

    /// From `ENTITLEMENTS_CHECK_KEYS` / `ENTITLEMENTS_ADMIN_KEYS` (`name=key` or bare keys named key1, key2, …)
    /// and an optional keys file of `role name key` lines.
    static func load(environment: [String: String], keysFile: String?) throws(ConfigError) -> Auth {
        var auth = Auth()
        var counter = 0
        for (variable, role) in [("ENTITLEMENTS_CHECK_KEYS", Role.check), ("ENTITLEMENTS_ADMIN_KEYS", Role.admin)] {
            guard let value = environment[variable], !value.isEmpty else { continue }
            for entry in value.split(separator: ",") {
                let e = entry.trimmingCharacters(in: .whitespaces)
                guard !e.isEmpty else { continue }
                if let eq = e.firstIndex(of: "="), eq != e.startIndex {
                    try auth.add(String(e[..<eq]), role, String(e[e.index(after: eq)...]), from: variable)
                } else {
                    counter += 1  // bare keys are named key1, key2, … in order of appearance
                    try auth.add("key\(counter)", role, e, from: variable)
                }
            }
        }
        for s in (environment["ENTITLEMENTS_STRIPE_WEBHOOK_SECRETS"] ?? "").split(separator: ",") {
            let secret = s.trimmingCharacters(in: .whitespaces)
            guard !secret.isEmpty else { continue }
            guard secret.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw ConfigError(
                    description: "ENTITLEMENTS_STRIPE_WEBHOOK_SECRETS: a secret has whitespace or a control character")
            }
            auth.stripeSecrets.append(Array(secret.utf8))
        }
        if let keysFile {
            guard let text = try? String(contentsOfFile: keysFile, encoding: .utf8) else {
                throw ConfigError(description: "cannot read keys file '\(keysFile)'")
            }
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.isEmpty || t.hasPrefix("#") { continue }
                let parts = t.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard parts.count == 3, let role = ["check": Role.check, "admin": .admin][String(parts[0])] else {
                    throw ConfigError(description: "\(keysFile):\(n + 1): expected 'check|admin NAME KEY'")
                }
                try auth.add(String(parts[1]), role, String(parts[2]), from: "\(keysFile):\(n + 1)")
            }
        }
        return auth
    }

    /// Adds a key. Surrounding whitespace is trimmed from the name and the key (a header value never carries it, so
    /// such a key could never match); a key that is empty or has whitespace or a control character inside is
    /// refused at start.
    mutating func add(_ name: String, _ role: Role, _ key: String, from origin: String) throws(ConfigError) {
        let name = name.trimmingCharacters(in: .whitespaces)
        let key = key.trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else { throw ConfigError(description: "\(origin): empty key for '\(name)'") }
        guard !key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw ConfigError(
                description: "\(origin): the key for '\(name)' contains whitespace or a control character")
        }
        keys.append(Key(name: name, role: role, digest: SHA256.hash(key.utf8)))
    }

    /// Whether auth is on and the names of its keys by role (never a key): for the start-up line.
    var summary: String {
        guard !isOpen else { return "auth off" }
        let names = [Role.check, .admin].map { role in
            let n = keys.filter { $0.role == role }.map(\.name)
            return "\(role == .check ? "check" : "admin") keys: " + (n.isEmpty ? "none" : n.joined(separator: ", "))
        }
        return "auth on; " + names.joined(separator: "; ")
    }

    enum Verdict: Equatable {
        case allowed(name: String?)
        case unauthenticated
        case forbidden
    }

    func authorize(_ authorization: String?, needs role: Role) -> Verdict {
        if isOpen { return .allowed(name: nil) }
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else {
            return .unauthenticated
        }
        let presented = SHA256.hash(authorization.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        var match: Key?
        for k in keys {
            var diff: UInt8 = 0
            for i in 0..<32 { diff |= k.digest[i] ^ presented[i] }
            if diff == 0 && match == nil { match = k }
        }
        guard let match else { return .unauthenticated }
        return match.role >= role ? .allowed(name: match.name) : .forbidden
    }
}
