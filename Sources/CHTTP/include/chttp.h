// A small C shim over libmicrohttpd for the Entitlements service: MHD_start_daemon is variadic, request bodies
// are accumulated here (within a per-request cap and a budget for all bodies in flight), the request framing is
// checked against RFC 9112 before anything else sees the request, and a watchdog enforces deadlines for the
// request head and the whole request and caps connections per client address.
#ifndef ENTITLEMENTS_CHTTP_H
#define ENTITLEMENTS_CHTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct chttp_server chttp_server;
typedef struct chttp_exchange chttp_exchange;

/// The two moments the handler is called for one request.
typedef enum chttp_phase {
    /// The request line and headers are in; no byte of the body has been read. The handler may answer now (the
    /// body is then never read and the connection closes after the answer) or let the body be read.
    CHTTP_HEAD = 0,
    /// The whole body is in (or it was over a limit and was dropped). The handler must answer.
    CHTTP_BODY = 1,
} chttp_phase;

typedef void (*chttp_handler)(void *ctx, chttp_exchange *ex, chttp_phase phase);

typedef struct chttp_config {
    const char *host;             // IPv4 or IPv6 literal
    uint16_t port;                // 0: an ephemeral port (read it back with chttp_port)
    unsigned threads;             // worker threads (each runs an epoll loop)
    unsigned connection_limit;    // concurrent connections
    unsigned idle_timeout;        // seconds of silence before a connection is closed
    size_t max_body;              // bytes; larger bodies are dropped and flagged (chttp_body_too_large)
    size_t header_memory;         // per-connection memory for the request line and headers
    unsigned head_timeout_ms;     // the request head must be in this long after the connection opened or the
                                  // previous response was sent; else the connection is closed (0: no deadline)
    unsigned request_timeout_ms;  // the whole request (head and body) must be in this long; else 408 and close
    unsigned per_address_limit;   // connections per client address (0: no cap)
    size_t body_memory;           // bytes all bodies in flight may hold together (0: no budget)
} chttp_config;

/// Starts listening. Returns NULL on failure (errno-style message in `error`, if given).
chttp_server *chttp_start(const chttp_config *config, chttp_handler handler, void *ctx, char *error, size_t error_len);
uint16_t chttp_port(chttp_server *server);
/// Stops accepting new connections, waits up to `drain_ms` for requests in flight to finish, then stops and frees.
void chttp_stop(chttp_server *server, unsigned drain_ms);

/// Counters of what the edge refused on its own (for metrics).
typedef struct chttp_stats {
    uint64_t head_timeouts;     // connections closed for a request head that did not arrive in time
    uint64_t request_timeouts;  // requests answered 408 for a body that did not arrive in time
    uint64_t evicted;           // connections closed to make room (per-address cap or connection limit)
    uint64_t refused;           // new connections closed at once (no room could be made)
    uint64_t body_bytes;        // bytes of bodies held right now
} chttp_stats;
void chttp_get_stats(chttp_server *server, chttp_stats *out);

const char *chttp_method(const chttp_exchange *ex);
/// The request target's path exactly as sent (no percent-decoding), without the query.
const char *chttp_path(const chttp_exchange *ex);
/// A request header (case-insensitive name), or NULL. `length` (if given) receives its length in bytes.
const char *chttp_header(const chttp_exchange *ex, const char *name, size_t *length);
/// A query-string argument (still percent-encoded), or NULL.
const char *chttp_query(const chttp_exchange *ex, const char *name);
/// Calls `each` with every query-string argument (name and value still percent-encoded; value NULL when absent).
typedef void (*chttp_pair_fn)(void *ctx, const char *name, const char *value);
void chttp_each_query(const chttp_exchange *ex, chttp_pair_fn each, void *ctx);
const uint8_t *chttp_body(const chttp_exchange *ex, size_t *length);
int chttp_body_too_large(const chttp_exchange *ex);
/// Nonzero when the body could not be held within the budget for bodies in flight (answer 503).
int chttp_over_budget(const chttp_exchange *ex);
/// A framing problem found in the request head (RFC 9112): the status to answer (400 or 501) and why, or 0.
/// The connection is closed after the answer.
unsigned chttp_framing_error(const chttp_exchange *ex, const char **detail);
/// A number the handler can keep with the request between the two phases (the route it matched); -1 at first.
void chttp_set_tag(chttp_exchange *ex, int tag);
int chttp_tag(const chttp_exchange *ex);

/// Called during the handler (body phase): the answer will come later, from another thread, through
/// `chttp_complete`; the connection is suspended meanwhile (its worker serves other connections).
void chttp_defer(chttp_exchange *ex);
/// Answers a deferred exchange from any thread (the body is copied) and resumes its connection. Returns 1 when the
/// response was made (it is queued by the connection's worker), 0 when it could not be.
int chttp_complete(chttp_exchange *ex, unsigned status, const char *content_type, const uint8_t *body, size_t length,
                   const char *const *headers, int close);

/// Queues the response (the body is copied). `headers` is NULL or a NULL-terminated list of name, value pairs.
/// `close` asks for the connection to be closed after it. Returns 1 when queued, 0 when it could not be.
int chttp_respond(chttp_exchange *ex, unsigned status, const char *content_type, const uint8_t *body, size_t length,
                  const char *const *headers, int close);

#endif
