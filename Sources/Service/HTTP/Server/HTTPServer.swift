internal import CHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// The socket layer: libmicrohttpd through the CHTTP shim. For each request the responder is asked twice on one of
/// the daemon's worker threads: once the head is in (it may answer before the body is read), and once the body is
/// in. The response is queued before the callback returns; the responder hears whether it was.
final class HTTPServer: @unchecked Sendable {
    // @unchecked: `raw` is only touched by start/stop on the owning thread; workers only call the responder.
    struct Config {
        var host = "127.0.0.1"
        var port: UInt16 = 8080
        var threads = 2
        var connectionLimit = 1024
        var idleTimeoutSeconds = 15
        var maxBody = 1 << 20
        var headerMemory = 16 * 1024
        /// The request head must be in this long after the connection opened or the previous response was sent.
        var headTimeoutSeconds = 10.0
        /// The whole request, body included, must be in this long (else 408).
        var requestTimeoutSeconds = 30.0
        /// Connections per client address (0: no cap). Off by default: a service's own connection pool behind one
        /// proxy address is the normal case, and evicting stalled connections when the global limit is full already
        /// keeps slow clients from holding the service.
        var perAddressLimit = 0
        /// Bytes that all request bodies in flight may hold together (0: no budget).
        var bodyMemory = 64 << 20
    }

    let responder: any HTTPResponder
    /// Runs the requests that wait on the database (the workers never do).
    let blocking: BlockingPool
    private var raw: OpaquePointer?

    init(responder: any HTTPResponder, blockingThreads: Int = 8) {
        self.responder = responder
        blocking = BlockingPool(threads: blockingThreads)
    }

    /// A server dropped while running stops at once: the daemon holds an unretained pointer to it.
    deinit { stop(drainMilliseconds: 0) }

    struct StartFailure: Error, CustomStringConvertible { var description: String }

    /// Starts listening; returns the bound port.
    func start(_ config: Config) throws(StartFailure) -> UInt16 {
        var error = [CChar](repeating: 0, count: 256)
        let server: OpaquePointer? = config.host.withCString { host in
            var c = chttp_config(
                host: host, port: config.port, threads: UInt32(config.threads),
                connection_limit: UInt32(config.connectionLimit),
                idle_timeout: UInt32(config.idleTimeoutSeconds), max_body: config.maxBody,
                header_memory: config.headerMemory,
                head_timeout_ms: UInt32(max(0, config.headTimeoutSeconds * 1000)),
                request_timeout_ms: UInt32(max(0, config.requestTimeoutSeconds * 1000)),
                per_address_limit: UInt32(config.perAddressLimit), body_memory: config.bodyMemory)
            return chttp_start(&c, httpServerTrampoline, Unmanaged.passUnretained(self).toOpaque(), &error, error.count)
        }
        guard let server else {
            throw StartFailure(
                description: String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        raw = server
        return chttp_port(server)
    }

    /// Stops accepting, lets open requests finish for up to `drainMilliseconds`, then stops.
    func stop(drainMilliseconds: UInt32 = 5000) {
        guard let raw else { return }
        chttp_stop(raw, drainMilliseconds)
        self.raw = nil
        blocking.stop()
    }

    /// What the edge refused on its own so far.
    func stats() -> EdgeStats {
        guard let raw else { return EdgeStats() }
        var s = chttp_stats()
        chttp_get_stats(raw, &s)
        return EdgeStats(
            headTimeouts: Int(s.head_timeouts), requestTimeouts: Int(s.request_timeouts), evicted: Int(s.evicted),
            refused: Int(s.refused), bodyBytes: Int(s.body_bytes))
    }

    fileprivate func handle(_ ex: OpaquePointer, _ phase: chttp_phase) {
        var req = HTTPRequest(method: String(cString: chttp_method(ex)), path: "")
        let path = chttp_path(ex)
        if let path, let valid = String(validatingCString: path) {
            req.path = valid
        } else {
            req.path =
                path.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) } ?? ""
            req.framingError = (400, "the request path is not UTF-8")
        }
        if phase == CHTTP_BODY { req.query = Self.query(ex) }
        req.contentType = header(ex, "Content-Type")
        req.declaresBody =
            header(ex, "Transfer-Encoding") != nil || (header(ex, "Content-Length").flatMap { Int($0) } ?? 0) > 0
        req.authorization = header(ex, "Authorization")
        req.ifNoneMatch = header(ex, "If-None-Match")
        req.stripeSignature = header(ex, "Stripe-Signature")
        req.requestID = header(ex, "X-Request-Id")
        req.bodyTooLarge = chttp_body_too_large(ex) != 0
        req.overBudget = chttp_over_budget(ex) != 0
        var detail: UnsafePointer<CChar>?
        let framing = chttp_framing_error(ex, &detail)
        if framing != 0 { req.framingError = (Int(framing), detail.map { String(cString: $0) } ?? "malformed request") }
        let exchange: Exchange
        if phase == CHTTP_HEAD {
            switch responder.admit(req) {
            case .proceed(let route):
                chttp_set_tag(ex, Int32(route))
                return
            case .answer(let answer): exchange = answer
            }
        } else {
            var length = 0
            if let body = chttp_body(ex, &length), length > 0 {
                req.body = Array(UnsafeBufferPointer(start: body, count: length))
            }
            let route = Int(chttp_tag(ex))
            guard route >= 0 else { return }
            switch responder.respond(to: req, route: route) {
            case .exchange(let answered): exchange = answered
            case .wait(let work):
                answerLater(ex, work)
                return
            }
        }
        responder.finish(exchange, queued: queue(ex, exchange.response))
    }

    /// Suspends the connection and finishes the request on the blocking pool (the request waits on the database).
    private func answerLater(_ ex: OpaquePointer, _ work: @escaping @Sendable () -> Exchange) {
        chttp_defer(ex)
        let exchange = UnsafeSendable(ex)
        let responder = self.responder
        let accepted = blocking.submit { [self] in
            let e = work()
            responder.finish(e, queued: complete(exchange.value, e.response))
        }
        if !accepted {
            let busy = HTTPError(503, "server_busy", "too many requests waiting on the database; retry shortly")
            _ = complete(ex, busy.response)
        }
    }

    /// Answers a deferred exchange from a blocking-pool thread.
    private func complete(_ ex: OpaquePointer, _ res: HTTPResponse) -> Bool {
        withCStrings(res.headers) { headers in
            res.body.withUnsafeBufferPointer { body in
                (res.contentType ?? "").withCString { ct in
                    chttp_complete(
                        ex, UInt32(res.status), res.contentType == nil ? nil : ct, body.baseAddress, body.count,
                        headers,
                        res.close ? 1 : 0) == 1
                }
            }
        }
    }

    /// The query arguments, each percent-decoded (one that does not decode to UTF-8 is left out).
    private static func query(_ ex: OpaquePointer) -> [String: String] {
        final class Box { var items: [String: String] = [:] }
        let box = Box()
        withExtendedLifetime(box) {
            chttp_each_query(
                ex,
                { ctx, name, value in
                    guard let ctx, let name else { return }
                    let box = Unmanaged<Box>.fromOpaque(ctx).takeUnretainedValue()
                    guard let k = percentDecoded(name), let v = value.map(percentDecoded) ?? "" else { return }
                    if box.items[k] == nil { box.items[k] = v }
                }, Unmanaged.passUnretained(box).toOpaque())
        }
        return box.items
    }

    /// A header's value; one with a byte that is not UTF-8 is read with replacement characters (it then matches
    /// no key and no media type).
    private func header(_ ex: OpaquePointer, _ name: String) -> String? {
        var length = 0
        guard let value = chttp_header(ex, name, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: value, count: length), as: UTF8.self)
    }

    private func queue(_ ex: OpaquePointer, _ res: HTTPResponse) -> Bool {
        withCStrings(res.headers) { headers in
            res.body.withUnsafeBufferPointer { body in
                if let ct = res.contentType {
                    ct.withCString {
                        chttp_respond(
                            ex, UInt32(res.status), $0, body.baseAddress, body.count, headers, res.close ? 1 : 0) == 1
                    }
                } else {
                    chttp_respond(
                        ex, UInt32(res.status), nil, body.baseAddress, body.count, headers, res.close ? 1 : 0) == 1
                }
            }
        }
    }
}

/// The C callback: recovers the server from its context pointer.
private func httpServerTrampoline(_ ctx: UnsafeMutableRawPointer?, _ ex: OpaquePointer?, _ phase: chttp_phase) {
    guard let ctx, let ex else { return }
    Unmanaged<HTTPServer>.fromOpaque(ctx).takeUnretainedValue().handle(ex, phase)
}

/// A NULL-terminated `const char *const *` for the duration of `body`.
private func withCStrings<R>(
    _ headers: [(String, String)], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
) -> R {
    if headers.isEmpty { return body(nil) }
    // The NULL-terminated array of pointers, then the names and values as NUL-terminated strings, in one block: one
    // allocation for any number of headers (a response carries X-Request-Id). (`withUnsafeTemporaryAllocation` of a
    // size not known at compile time asks the thread for its stack bounds first, which costs more than this.)
    var size = 0
    for (name, value) in headers { size += name.utf8.count + value.utf8.count + 2 }
    let slots = headers.count * 2 + 1
    let block = UnsafeMutableRawPointer.allocate(
        byteCount: slots * MemoryLayout<UnsafePointer<CChar>?>.stride + size,
        alignment: MemoryLayout<UnsafePointer<CChar>?>.alignment)
    defer { block.deallocate() }
    let pointers = block.bindMemory(to: UnsafePointer<CChar>?.self, capacity: slots)
    let text = (block + slots * MemoryLayout<UnsafePointer<CChar>?>.stride).bindMemory(to: CChar.self, capacity: size)
    var o = 0
    var k = 0
    func put(_ s: String) {
        pointers[k] = UnsafePointer(text + o)
        k += 1
        var s = s
        s.withUTF8 { utf8 in
            guard let from = utf8.baseAddress, !utf8.isEmpty else { return }
            UnsafeMutableRawPointer(text + o).copyMemory(from: from, byteCount: utf8.count)
            o += utf8.count
        }
        text[o] = 0
        o += 1
    }
    for (name, value) in headers {
        put(name)
        put(value)
    }
    pointers[k] = nil
    return body(UnsafePointer(pointers))
}

/// `%XX` escapes decoded (`+` stays `+`: a timestamp's offset must survive); nil for a malformed escape or a result
/// that is not UTF-8.
private func percentDecoded(_ text: UnsafePointer<CChar>) -> String? {
    var out: [UInt8] = []
    var p = text
    func hex(_ c: CChar) -> UInt8? {
        switch UInt8(bitPattern: c) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(bitPattern: c) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(bitPattern: c) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(bitPattern: c) - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    while p.pointee != 0 {
        if p.pointee == CChar(UInt8(ascii: "%")) {
            guard let hi = hex(p[1]), let lo = hex(p[2]) else { return nil }
            out.append(hi << 4 | lo)
            p += 3
        } else {
            out.append(UInt8(bitPattern: p.pointee))
            p += 1
        }
    }
    return String(validating: out, as: UTF8.self)
}
