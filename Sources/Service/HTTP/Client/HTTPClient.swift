#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client over a TCP socket (one connection per request), for `entitlements test --http`.
struct HTTPClient {
    struct Failure: Error, CustomStringConvertible { var description: String }

    var host: String
    var port: UInt16

    /// Parses `http://HOST:PORT[/]`.
    init(url: String) throws(Failure) {
        guard url.hasPrefix("http://") else {
            throw Failure(description: "only http:// URLs are supported, got '\(url)'")
        }
        var rest = url.dropFirst(7)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let p = UInt16(rest[rest.index(after: colon)...]) else {
            throw Failure(description: "expected http://HOST:PORT, got '\(url)'")
        }
        host = String(rest[..<colon])
        port = p
    }

    func post(_ path: String, json body: [UInt8], headers: [(String, String)] = []) throws(Failure) -> (
        status: Int, body: [UInt8]
    ) {
        var head = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\n"
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return try exchange(Array(head.utf8) + body)
    }

    func get(_ path: String) throws(Failure) -> (status: Int, body: [UInt8]) {
        try exchange(Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8))
    }

    private func exchange(_ request: [UInt8]) throws(Failure) -> (status: Int, body: [UInt8]) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            throw Failure(description: "cannot connect to \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes {
                send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw Failure(description: "send failed") }
            sent += n
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        // Status line, headers, body (the server sends Content-Length and closes).
        guard let sep = response.firstRange(of: [13, 10, 13, 10])?.lowerBound else {
            throw Failure(description: "malformed HTTP response")
        }
        let head = String(decoding: response[0..<sep], as: UTF8.self)
        let parts = head.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "malformed status line") }
        return (status, Array(response[(sep + 4)...]))
    }
}
