#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client over a TCP socket (one connection per request, plain `http://` only), for
/// `entitlements test --http` and webhook deliveries. Every request has a deadline: connecting, sending and
/// reading the answer all end when it passes.
struct HTTPClient {
    struct ClientFailure: Error, CustomStringConvertible { var description: String }

    var host: String
    var port: UInt16
    /// The URL's path (and query), `/` when it has none.
    var path: String
    /// Seconds a whole request may take.
    var timeout: Double

    /// Parses `http://HOST[:PORT][/PATH]` (port 80 by default; an IPv6 host in brackets).
    init(url: String, timeout: Double = 30) throws(ClientFailure) {
        guard url.hasPrefix("http://") else {
            throw ClientFailure(description: "only http:// URLs are supported, got '\(url)'")
        }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        var p = String(rest.dropFirst(authority.count))
        if p.isEmpty { p = "/" } else if p.hasPrefix("?") { p = "/" + p }
        var hostPart = Substring(authority)
        var portNumber: UInt16 = 80
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let n = UInt16(authority[authority.index(after: colon)...]) else {
                throw ClientFailure(description: "expected http://HOST[:PORT][/PATH], got '\(url)'")
            }
            portNumber = n
            hostPart = authority[..<colon]
        }
        if hostPart.hasPrefix("[") && hostPart.hasSuffix("]") { hostPart = hostPart.dropFirst().dropLast() }
        guard !hostPart.isEmpty, !p.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
            throw ClientFailure(description: "expected http://HOST[:PORT][/PATH], got '\(url)'")
        }
        host = String(hostPart)
        port = portNumber
        path = p
        self.timeout = timeout
    }

    func post(_ path: String, json body: [UInt8], headers: [(String, String)] = []) throws(ClientFailure) -> (
        status: Int, body: [UInt8]
    ) {
        var head = "POST \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nContent-Type: application/json\r\n"
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return try exchange(Array(head.utf8) + body)
    }

    func get(_ path: String) throws(ClientFailure) -> (status: Int, body: [UInt8]) {
        try exchange(Array("GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n".utf8))
    }

    private var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    private func exchange(_ request: [UInt8]) throws(ClientFailure) -> (status: Int, body: [UInt8]) {
        let deadline = Clock.monotonicSeconds() + timeout
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else {
            throw ClientFailure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
        guard fd >= 0 else { throw ClientFailure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Linux applies the send timeout to connect(2) too.
        func limit(_ option: Int32) throws(ClientFailure) {
            let left = max(0.001, deadline - Clock.monotonicSeconds())
            var tv = timeval(tv_sec: Int(left), tv_usec: Int((left - Double(Int(left))) * 1e6))
            guard setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw ClientFailure(description: "setsockopt failed")
            }
        }
        try limit(SO_SNDTIMEO)
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            throw ClientFailure(description: "cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var sent = 0
        while sent < request.count {
            try limit(SO_SNDTIMEO)
            let n = request.withUnsafeBytes {
                send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ClientFailure(description: "send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var expected: Int?
        while expected.map({ response.count < $0 }) ?? true {
            guard Clock.monotonicSeconds() < deadline else {
                throw ClientFailure(description: "no complete answer within \(timeout) s")
            }
            try limit(SO_RCVTIMEO)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw ClientFailure(description: "no complete answer within \(timeout) s")
            }
            if n <= 0 { break }
            response += chunk[0..<n]
            if expected == nil, let sep = response.firstRange(of: [13, 10, 13, 10])?.lowerBound {
                expected = Self.contentLength(response[0..<sep]).map { sep + 4 + $0 }
            }
        }
        // Status line, headers, body (Content-Length long, or up to the close).
        guard let sep = response.firstRange(of: [13, 10, 13, 10])?.lowerBound else {
            throw ClientFailure(description: "malformed HTTP response")
        }
        let head = String(decoding: response[0..<sep], as: UTF8.self)
        let parts = head.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw ClientFailure(description: "malformed status line")
        }
        return (status, Array(response[(sep + 4)...]))
    }

    private static func contentLength(_ head: ArraySlice<UInt8>) -> Int? {
        for line in String(decoding: head, as: UTF8.self).split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                return Int(parts[1].drop(while: { $0 == " " }))
            }
        }
        return nil
    }
}
