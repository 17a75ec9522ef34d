import Foundation

/// Standard Webhooks signatures (SPEC §6.7): `webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`
/// where the secret is the bytes of the base64 after `whsec_`.
enum Signature {
    /// The key bytes of a `whsec_<base64>` secret (1–64 bytes), or nil when it is not one.
    static func key(_ secret: String) -> [UInt8]? {
        var text = String(secret.dropFirst(6))
        // Unpadded base64 is accepted, as the Standard Webhooks libraries accept it.
        while text.utf8.count % 4 != 0 { text += "=" }
        guard secret.hasPrefix("whsec_"), let data = Data(base64Encoded: text), (1...64).contains(data.count) else {
            return nil
        }
        return [UInt8](data)
    }

    /// The `webhook-signature` header value for one message.
    static func header(key: [UInt8], id: String, timestamp: Int64, body: [UInt8]) -> String {
        let signed = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(HMAC.sha256(key: key, message: signed)).base64EncodedString()
    }
}
