// A small C shim over libmicrohttpd for the Entitlements service: MHD_start_daemon is variadic, and request
// bodies are accumulated here (with the size cap) so the Swift side sees one complete exchange.
#ifndef ENTITLEMENTS_CHTTP_H
#define ENTITLEMENTS_CHTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct chttp_server chttp_server;
typedef struct chttp_exchange chttp_exchange;

/// Called once per request with the whole body (or with `chttp_body_too_large` set). Must call `chttp_respond`.
typedef void (*chttp_handler)(void *ctx, chttp_exchange *ex);

typedef struct chttp_config {
    const char *host;          // IPv4 or IPv6 literal
    uint16_t port;             // 0: an ephemeral port (read it back with chttp_port)
    unsigned threads;          // worker threads (each runs an epoll loop)
    unsigned connection_limit; // concurrent connections
    unsigned idle_timeout;     // seconds of inactivity before a connection is closed
    size_t max_body;           // bytes; larger bodies get the handler with chttp_body_too_large() != 0
    size_t header_memory;      // per-connection memory for the request line and headers
} chttp_config;

/// Starts listening. Returns NULL on failure (errno-style message in `error`, if given).
chttp_server *chttp_start(const chttp_config *config, chttp_handler handler, void *ctx, char *error, size_t error_len);
uint16_t chttp_port(chttp_server *server);
/// Stops accepting new connections, waits up to `drain_ms` for open ones to finish, then stops and frees.
void chttp_stop(chttp_server *server, unsigned drain_ms);

const char *chttp_method(const chttp_exchange *ex);
const char *chttp_path(const chttp_exchange *ex);
/// A request header (case-insensitive name), or NULL.
const char *chttp_header(const chttp_exchange *ex, const char *name);
/// A query-string argument, or NULL.
const char *chttp_query(const chttp_exchange *ex, const char *name);
const uint8_t *chttp_body(const chttp_exchange *ex, size_t *length);
int chttp_body_too_large(const chttp_exchange *ex);

/// Queues the response (the body is copied). `headers` is NULL or a NULL-terminated list of name, value pairs.
int chttp_respond(chttp_exchange *ex, unsigned status, const char *content_type, const uint8_t *body, size_t length,
                  const char *const *headers);

#endif
