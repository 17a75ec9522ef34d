internal import CHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// The socket layer: libmicrohttpd through the CHTTP shim. Each complete request is handed to `handler` on one of
/// the daemon's worker threads; the handler's response is queued before the callback returns.
final class HTTPServer: @unchecked Sendable {
    // @unchecked: `raw` is only touched by start/stop on the owning thread; workers only call `handler`.
    struct Config {
        var host = "127.0.0.1"
        var port: UInt16 = 8080
        var threads = 2
        var connectionLimit = 1024
        var idleTimeoutSeconds = 15
        var maxBody = 1 << 20
        var headerMemory = 16 * 1024
    }

    let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private var raw: OpaquePointer?

    init(handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) { self.handler = handler }

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
                header_memory: config.headerMemory)
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
    }

    fileprivate func handle(_ ex: OpaquePointer) {
        var req = HTTPRequest(method: String(cString: chttp_method(ex)), path: String(cString: chttp_path(ex)))
        req.contentType = chttp_header(ex, "Content-Type").map { String(cString: $0) }
        req.authorization = chttp_header(ex, "Authorization").map { String(cString: $0) }
        req.ifNoneMatch = chttp_header(ex, "If-None-Match").map { String(cString: $0) }
        req.bodyTooLarge = chttp_body_too_large(ex) != 0
        var length = 0
        if let body = chttp_body(ex, &length), length > 0 {
            req.body = Array(UnsafeBufferPointer(start: body, count: length))
        }
        let res = handler(req)
        withCStrings(res.headers.flatMap { [$0.0, $0.1] }) { headers in
            res.body.withUnsafeBufferPointer { body in
                if let ct = res.contentType {
                    _ = ct.withCString {
                        chttp_respond(ex, UInt32(res.status), $0, body.baseAddress, body.count, headers)
                    }
                } else {
                    _ = chttp_respond(ex, UInt32(res.status), nil, body.baseAddress, body.count, headers)
                }
            }
        }
    }
}

/// The C callback: recovers the server from its context pointer.
private func httpServerTrampoline(_ ctx: UnsafeMutableRawPointer?, _ ex: OpaquePointer?) {
    guard let ctx, let ex else { return }
    Unmanaged<HTTPServer>.fromOpaque(ctx).takeUnretainedValue().handle(ex)
}

/// A NULL-terminated `const char *const *` for the duration of `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    if strings.isEmpty { return body(nil) }
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { for p in owned { free(p) } }
    owned.append(nil)
    return owned.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { body($0) }
    }
}
