#include "chttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------------------------
// Connections: one record per open connection, kept in a list the watchdog walks. A record's `phase` says what the
// connection is waiting for; `since` is when that wait began.

enum { WAIT_HEAD = 0, READ_BODY = 1, RESPONDING = 2 };

typedef struct conn {
    struct conn *prev, *next;
    MHD_socket fd;
    int family;
    uint8_t address[16];
    int phase;
    uint64_t since_ms;
    bool closing;  // shut down by us; MHD will notice and close it
    bool refuse;   // over a connection limit: its next request head is answered 503 (Retry-After) and it closes
} conn;

// A socket kept open after MHD closed its descriptor, so that an answer sent just before the close (our own, or one
// libmicrohttpd sends itself, such as 414 for a request head over its memory) is read by the client instead of being
// destroyed by a reset: the kernel resets a connection closed with unread input. We send FIN and read (and discard)
// what the client still sends, until it closes or a deadline passes.
typedef struct lingering {
    struct lingering *next;
    int fd;
    uint64_t until_ms;
} lingering;

struct chttp_server {
    struct MHD_Daemon *daemon;
    chttp_handler handler;
    void *ctx;
    size_t max_body;
    size_t body_memory;
    unsigned head_timeout_ms;
    unsigned request_timeout_ms;
    unsigned per_address_limit;
    unsigned connection_limit;
    // Requests whose head has arrived and whose exchange has not completed (what a drain waits for; idle keep-alive
    // connections and half-sent heads are not in flight).
    atomic_uint inflight;
    atomic_size_t body_bytes;
    atomic_uint_fast64_t head_timeouts, request_timeouts, evicted, refused;
    lingering *lingering;  // guarded by `lock`
    unsigned lingering_count;

    pthread_mutex_t lock;  // guards the connection list
    conn *head, *tail;
    unsigned count;
    pthread_t watchdog;
    pthread_cond_t wake;
    bool stopping;
    bool watchdog_started;
};

struct chttp_exchange {
    chttp_server *server;
    struct MHD_Connection *connection;
    const char *method;
    const char *path;
    // Length of the request target up to its first NUL byte, measured before MHD split off the query.
    size_t target_strlen;
    const char *target;
    uint8_t *body;
    size_t length;
    size_t capacity;
    size_t reserved;  // bytes counted against the budget for bodies in flight
    size_t declared;  // the Content-Length, when one was sent
    int too_large;
    int over_budget;
    int chunked;
    unsigned framing_status;
    const char *framing_detail;
    int started;
    int responded;
    int tag;
    int deferred;
    struct MHD_Response *pending;  // a deferred exchange's answer, queued once its connection is resumed
    unsigned pending_status;
};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? (conn *)info->socket_context : NULL;
}

static void set_phase(chttp_server *s, struct MHD_Connection *c, int phase, bool restart_clock) {
    conn *k = conn_of(c);
    if (k == NULL) return;
    pthread_mutex_lock(&s->lock);
    k->phase = phase;
    if (restart_clock) k->since_ms = now_ms();
    pthread_mutex_unlock(&s->lock);
}

// Shuts the socket down (MHD sees the end of the stream and closes the connection, calling our hooks as usual).
// Called with the lock held, so MHD cannot have closed the descriptor meanwhile: it reports a connection closed
// (and we drop its record under the lock) before it closes the descriptor.
static void shut(conn *k) {
    k->closing = true;
    shutdown(k->fd, SHUT_RDWR);
}

static bool same_address(const conn *a, const conn *b) {
    if (a->family != b->family) return false;
    return memcmp(a->address, b->address, a->family == AF_INET6 ? 16 : 4) == 0;
}

// The connection waiting longest for a request head (idle keep-alive or a slow head), optionally of one address.
static conn *oldest_waiting(chttp_server *s, const conn *like) {
    conn *best = NULL;
    for (conn *k = s->head; k; k = k->next) {
        // (A refused connection is waiting to be told 503, not for a slot: it is never the one evicted.)
        if (k->closing || k->refuse || k->phase != WAIT_HEAD) continue;
        if (like && !same_address(k, like)) continue;
        if (best == NULL || k->since_ms < best->since_ms) best = k;
    }
    return best;
}

// Closes the connection that has waited longest for a request head (of `like`'s address, if given) so that `k` fits;
// when none is waiting, `k` itself is refused: its request head, if one comes soon, is answered 503 with Retry-After.
static void make_room(chttp_server *s, conn *k, const conn *like) {
    conn *victim = oldest_waiting(s, like);
    if (victim && victim != k) {
        shut(victim);
        atomic_fetch_add(&s->evicted, 1);
    } else {
        k->refuse = true;
    }
}

// How long a refused connection may take to send its request head (to be told 503) before it is closed.
enum { REFUSED_HEAD_MS = 2000, LINGER_MS = 2000 };

// Keeps `fd`'s socket open past MHD's close when the client still has input in flight (see `lingering`).
static void linger_if_unread(chttp_server *s, int fd) {
    int pending = 0;
    if (fd < 0 || ioctl(fd, FIONREAD, &pending) != 0 || pending <= 0) return;
    // Bounded: past as many lingering sockets as connections, a socket closes at once (its client may see a reset).
    if (s->lingering_count >= s->connection_limit) return;
    lingering *l = malloc(sizeof *l);
    if (l == NULL) return;
    l->fd = dup(fd);
    if (l->fd < 0) {
        free(l);
        return;
    }
    fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
    shutdown(l->fd, SHUT_WR);
    l->until_ms = now_ms() + LINGER_MS;
    l->next = s->lingering;
    s->lingering = l;
    s->lingering_count++;
    pthread_cond_signal(&s->wake);
}

// Reads and discards what lingering sockets received (at most 64 KiB each per tick, so a fast sender cannot hold the
// watchdog, which runs this under the connection list's lock); closes those whose client closed or whose time is up.
static void drain_lingering(chttp_server *s, uint64_t now, bool all) {
    char sink[4096];
    for (lingering **p = &s->lingering; *p;) {
        lingering *l = *p;
        bool done = all || now >= l->until_ms;
        for (int reads = 0; !done && reads < 16; reads++) {
            ssize_t n = recv(l->fd, sink, sizeof sink, 0);
            if (n > 0) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            done = true;  // the client closed (0) or the socket failed
        }
        if (done) {
            close(l->fd);
            *p = l->next;
            free(l);
            s->lingering_count--;
        } else {
            p = &l->next;
        }
    }
}

// A new connection: make room under the per-address cap and the connection limit by closing the connection that
// has waited longest for a request head; when none is waiting, the new connection is the one closed.
static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    chttp_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn *k = *socket_context;
        if (k == NULL) return;
        pthread_mutex_lock(&s->lock);
        linger_if_unread(s, k->fd);
        if (k->prev) k->prev->next = k->next; else s->head = k->next;
        if (k->next) k->next->prev = k->prev; else s->tail = k->prev;
        s->count--;
        pthread_mutex_unlock(&s->lock);
        free(k);
        *socket_context = NULL;
        return;
    }
    conn *k = calloc(1, sizeof *k);
    if (k == NULL) return;
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *addr = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    k->fd = fd ? fd->connect_fd : MHD_INVALID_SOCKET;
    if (addr && addr->client_addr) {
        k->family = addr->client_addr->sa_family;
        if (k->family == AF_INET) memcpy(k->address, &((struct sockaddr_in *)addr->client_addr)->sin_addr, 4);
        if (k->family == AF_INET6) memcpy(k->address, &((struct sockaddr_in6 *)addr->client_addr)->sin6_addr, 16);
    }
    k->phase = WAIT_HEAD;
    k->since_ms = now_ms();
    pthread_mutex_lock(&s->lock);
    if (s->per_address_limit > 0) {
        unsigned same = 0;
        for (conn *o = s->head; o; o = o->next)
            if (!o->closing && same_address(o, k)) same++;
        if (same >= s->per_address_limit) make_room(s, k, k);
    }
    if (!k->refuse && s->count + 1 >= s->connection_limit) make_room(s, k, NULL);
    if (k->refuse) atomic_fetch_add(&s->refused, 1);
    k->prev = s->tail;
    if (s->tail) s->tail->next = k; else s->head = k;
    s->tail = k;
    s->count++;
    pthread_mutex_unlock(&s->lock);
    *socket_context = k;
}

static const char request_timeout_answer[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: 74\r\nConnection: close\r\n\r\n"
    "{\"error\":\"request_timeout\",\"detail\":\"the request did not arrive in time\"}";

// Closes connections whose request head or whole request is late. Wakes ten times a second.
static void *watchdog(void *arg) {
    chttp_server *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        uint64_t now = now_ms();
        for (conn *k = s->head; k; k = k->next) {
            if (k->closing) continue;
            if (k->phase == WAIT_HEAD && k->refuse && now - k->since_ms > REFUSED_HEAD_MS) {
                shut(k);
            } else if (k->phase == WAIT_HEAD && s->head_timeout_ms && now - k->since_ms > s->head_timeout_ms) {
                shut(k);
                atomic_fetch_add(&s->head_timeouts, 1);
            } else if (k->phase == READ_BODY && s->request_timeout_ms && now - k->since_ms > s->request_timeout_ms) {
                // No response has been queued for this request, so nothing else writes to the socket now.
                (void)send(k->fd, request_timeout_answer, sizeof request_timeout_answer - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                shut(k);
                atomic_fetch_add(&s->request_timeouts, 1);
            }
        }
        drain_lingering(s, now, false);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

// ---------------------------------------------------------------------------------------------------------------
// Framing (RFC 9112): checked once the head is in, before the handler sees the request.

typedef struct framing {
    unsigned hosts, lengths, encodings;
    char coding[128];  // the Transfer-Encoding values joined with ","
    size_t coding_len;
    unsigned status;
    const char *detail;
} framing;

static bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool contains_ci(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(hay + i, needle, m) == 0) return true;
    return false;
}

static void fail(framing *f, unsigned status, const char *detail) {
    if (f->status == 0) {
        f->status = status;
        f->detail = detail;
    }
}

static enum MHD_Result inspect_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                      const char *value, size_t value_size) {
    (void)kind;
    framing *f = cls;
    if (key_size == 0) fail(f, 400, "a header field has an empty name");
    for (size_t i = 0; i < key_size; i++)
        if (!is_tchar((unsigned char)key[i])) {
            fail(f, 400, "a header field name contains whitespace or a character a name may not have");
            break;
        }
    // libmicrohttpd parses the head in place, turning each line's CR LF into two NULs, and reports a value up to its
    // first NUL. So a value not followed by two NULs was cut short by a NUL byte inside the line, ended in a bare
    // LF, or was moved by joining an obs-folded line: each is refused (RFC 9112 sections 2.2, 5.2, 5.5).
    if (value && !(value[value_size] == 0 && value[value_size + 1] == 0))
        fail(f, 400, "a header line contains a NUL byte, ends in a bare LF or is folded");
    // And a value starts right after its name's colon and optional whitespace: libmicrohttpd appends a folded line
    // that follows an empty value to the *name* ("Content-Length:" CRLF " 36" becomes "Content-Length36"), which
    // moves the name away from its value.
    const char *gap = key + key_size + 1;
    if (value && (value < gap || value - gap > 4096)) {
        fail(f, 400, "a header line is folded");
    } else if (value) {
        for (const char *p = gap; p < value; p++)
            if (*p != ' ' && *p != '\t') {
                fail(f, 400, "a header line is folded");
                break;
            }
    }
    for (size_t i = 0; value && i < value_size; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            fail(f, 400, "a header field value contains a control character (NUL, CR or LF)");
            break;
        }
    }
    // libmicrohttpd joins an obs-folded line onto the previous value without a separator; a framing field name
    // inside another field's value is the trace such a fold leaves (RFC 9112 section 5.2: reject with 400).
    if (value && (contains_ci(value, value_size, "content-length:") || contains_ci(value, value_size, "transfer-encoding:")))
        fail(f, 400, "obsolete line folding is not accepted");
    if (key_size == 4 && strncasecmp(key, "host", 4) == 0) f->hosts++;
    if (key_size == 14 && strncasecmp(key, "content-length", 14) == 0) f->lengths++;
    if (key_size == 17 && strncasecmp(key, "transfer-encoding", 17) == 0) {
        f->encodings++;
        if (f->coding_len + value_size + 1 >= sizeof f->coding) {
            fail(f, 400, "Transfer-Encoding is too long");
        } else {
            if (f->coding_len) f->coding[f->coding_len++] = ',';
            memcpy(f->coding + f->coding_len, value, value_size);
            f->coding_len += value_size;
            f->coding[f->coding_len] = 0;
        }
    }
    return MHD_YES;
}

// The transfer codings: the final one must be exactly `chunked` (else the length cannot be known: 400); any
// coding before it is one we do not implement (501).
static void check_codings(framing *f, int *chunked) {
    char *codings[16];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(f->coding, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t') t++;
        char *e = t + strlen(t);
        while (e > t && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (*t) codings[n++] = t;
    }
    if (n == 0 || strcasecmp(codings[n - 1], "chunked") != 0) {
        fail(f, 400, "the final transfer coding must be chunked");
        return;
    }
    for (int i = 0; i < n - 1; i++) {
        if (strcasecmp(codings[i], "chunked") == 0) {
            fail(f, 400, "chunked may be applied only once");
            return;
        }
    }
    if (n > 1) {
        fail(f, 501, "transfer codings other than chunked are not implemented");
        return;
    }
    *chunked = 1;
}

static void check_framing(chttp_exchange *ex, const char *url, const char *version) {
    framing f;
    memset(&f, 0, sizeof f);
    MHD_get_connection_values_n(ex->connection, MHD_HEADER_KIND, inspect_header, &f);
    // A raw NUL in the request target: the target runs up to the space before the version.
    // (Only when the version follows the target in libmicrohttpd's read buffer, as it does for every request line
    // with a version.)
    if (url == ex->target && version > url && (size_t)(version - url) <= 65536 && version[-1] == 0 &&
        ex->target_strlen < (size_t)(version - 1 - url))
        fail(&f, 400, "the request target contains a NUL byte");
    bool http11 = version && strcmp(version, "HTTP/1.1") == 0;
    if (http11 && f.hosts == 0) fail(&f, 400, "an HTTP/1.1 request needs a Host header");
    if (f.hosts > 1) fail(&f, 400, "more than one Host header");
    if (f.lengths > 1) fail(&f, 400, "more than one Content-Length header");
    if (f.encodings > 0 && f.lengths > 0) fail(&f, 400, "Content-Length and Transfer-Encoding together");
    if (f.encodings > 0 && f.status == 0) check_codings(&f, &ex->chunked);
    // A connection over a limit is told so once its head is in (and then closed), whatever the request.
    conn *k = conn_of(ex->connection);
    if (k && k->refuse) {
        f.status = 503;
        f.detail = "the service is at its connection limit; retry shortly";
    }
    ex->framing_status = f.status;
    ex->framing_detail = f.detail;
}

// ---------------------------------------------------------------------------------------------------------------
// Requests.

static bool reserve(chttp_server *s, chttp_exchange *ex, size_t bytes) {
    if (s->body_memory == 0) return true;
    size_t before = atomic_fetch_add(&s->body_bytes, bytes);
    if (before + bytes > s->body_memory) {
        atomic_fetch_sub(&s->body_bytes, bytes);
        return false;
    }
    ex->reserved += bytes;
    return true;
}

static void drop_body(chttp_exchange *ex) {
    free(ex->body);
    ex->body = NULL;
    ex->length = 0;
    ex->capacity = 0;
}

// Called by MHD once per request before the headers are parsed, with the raw request target: the exchange starts
// here so the target's length can be measured before MHD cuts it at the query.
static void *on_target(void *cls, const char *uri, struct MHD_Connection *connection) {
    chttp_exchange *ex = calloc(1, sizeof *ex);
    if (ex == NULL) return NULL;
    ex->server = cls;
    ex->connection = connection;
    ex->target = uri;
    ex->target_strlen = strlen(uri);
    ex->tag = -1;
    return ex;
}

// The request target exactly as sent.
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls;
    (void)c;
    return strlen(s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **state) {
    chttp_server *s = cls;
    chttp_exchange *ex = *state;
    if (ex == NULL) {
        ex = on_target(s, url, connection);
        if (ex == NULL) return MHD_NO;
        *state = ex;
    }
    if (!ex->started) {
        ex->started = 1;
        ex->method = method;
        ex->path = url;
        atomic_fetch_add(&s->inflight, 1);
        set_phase(s, connection, READ_BODY, false);
        check_framing(ex, url, version);
        if (ex->framing_status == 0) {
            // A declared length over the cap is refused before any of the body is read; one within it is reserved
            // against the budget for bodies in flight now.
            const char *declared =
                MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (declared != NULL) {
                errno = 0;
                char *end = NULL;
                unsigned long long n = strtoull(declared, &end, 10);
                if (errno != 0 || end == declared || n > s->max_body) {
                    ex->too_large = 1;
                } else if (n > 0 && !reserve(s, ex, (size_t)n)) {
                    ex->over_budget = 1;
                } else {
                    ex->declared = (size_t)n;
                }
            }
        }
        s->handler(s->ctx, ex, CHTTP_HEAD);
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (!ex->responded && !ex->too_large && !ex->over_budget) {
            if (*upload_size > s->max_body - ex->length) {
                // Over the cap mid-stream (chunked): drop what was kept, discard the rest, answer 413 at the end.
                ex->too_large = 1;
                drop_body(ex);
            } else {
                if (ex->length + *upload_size > ex->capacity) {
                    size_t cap = ex->capacity ? ex->capacity : ex->declared ? ex->declared : 1024;
                    while (cap < ex->length + *upload_size) cap *= 2;
                    if (cap > s->max_body) cap = s->max_body;
                    // A declared length was reserved whole; a chunked body reserves as it grows.
                    size_t more = cap > ex->reserved ? cap - ex->reserved : 0;
                    uint8_t *grown = more == 0 || reserve(s, ex, more) ? realloc(ex->body, cap) : NULL;
                    if (grown == NULL) {
                        ex->over_budget = 1;
                        drop_body(ex);
                        *upload_size = 0;
                        return MHD_YES;
                    }
                    ex->body = grown;
                    ex->capacity = cap;
                }
                memcpy(ex->body + ex->length, upload_data, *upload_size);
                ex->length += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (ex->deferred) {
        // Resumed with the answer ready: queue it (only the connection's worker may).
        if (ex->pending == NULL) return MHD_YES;
        enum MHD_Result ok = MHD_queue_response(connection, ex->pending_status, ex->pending);
        MHD_destroy_response(ex->pending);
        ex->pending = NULL;
        ex->responded = 1;
        if (ok == MHD_YES) set_phase(s, connection, RESPONDING, false);
        return ok;
    }
    if (!ex->responded) s->handler(s->ctx, ex, CHTTP_BODY);
    return ex->responded || ex->deferred ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **state,
                         enum MHD_RequestTerminationCode code) {
    (void)code;
    chttp_server *s = cls;
    chttp_exchange *ex = *state;
    if (ex != NULL) {
        if (ex->started) atomic_fetch_sub(&s->inflight, 1);
        if (ex->reserved) atomic_fetch_sub(&s->body_bytes, ex->reserved);
        if (ex->pending) MHD_destroy_response(ex->pending);
        free(ex->body);
        free(ex);
        *state = NULL;
    }
    // The connection now waits for its next request head.
    set_phase(s, connection, WAIT_HEAD, true);
}

// ---------------------------------------------------------------------------------------------------------------
// The daemon.

chttp_server *chttp_start(const chttp_config *c, chttp_handler handler, void *ctx, char *error, size_t error_len) {
    chttp_server *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->handler = handler;
    s->ctx = ctx;
    s->max_body = c->max_body;
    s->body_memory = c->body_memory;
    s->head_timeout_ms = c->head_timeout_ms;
    s->request_timeout_ms = c->request_timeout_ms;
    s->per_address_limit = c->per_address_limit;
    s->connection_limit = c->connection_limit ? c->connection_limit : 1024;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    // Bodies over 128 KiB get their own mappings, returned to the system when freed (glibc would otherwise raise
    // its threshold after the first free and keep the memory of a burst of large uploads for good).
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    // One descriptor per connection, plus headroom.
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *addr;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (inet_pton(AF_INET, c->host, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(c->port);
        addr = (struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, c->host, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(c->port);
        addr = (struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        if (error) snprintf(error, error_len, "'%s' is not an IP address", c->host);
        free(s);
        return NULL;
    }
    s->daemon = MHD_start_daemon(
        flags, c->port, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(c->threads ? c->threads : 1),
        // Room beyond our own limit so that a new connection always reaches on_connection, which makes room.
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(s->connection_limit + 64),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->header_memory,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        // Whitespace before a colon, Host and the rest of the framing are checked in check_framing, which answers
        // in JSON; libmicrohttpd's own strict levels answer in HTML.
        MHD_OPTION_URI_LOG_CALLBACK, on_target, (void *)s,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, (void *)NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        if (error) snprintf(error, error_len, "cannot listen on %s:%u: %s", c->host, (unsigned)c->port, strerror(errno));
        free(s);
        return NULL;
    }
    if (pthread_create(&s->watchdog, NULL, watchdog, s) == 0) s->watchdog_started = true;
    return s;
}

uint16_t chttp_port(chttp_server *s) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void chttp_get_stats(chttp_server *s, chttp_stats *out) {
    out->head_timeouts = atomic_load(&s->head_timeouts);
    out->request_timeouts = atomic_load(&s->request_timeouts);
    out->evicted = atomic_load(&s->evicted);
    out->refused = atomic_load(&s->refused);
    out->body_bytes = atomic_load(&s->body_bytes);
}

void chttp_stop(chttp_server *s, unsigned drain_ms) {
    if (s == NULL) return;
    MHD_socket listener = MHD_quiesce_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET) close(listener);
    // Let requests in flight finish; idle keep-alive connections are closed by MHD_stop_daemon.
    for (unsigned waited = 0; waited < drain_ms && atomic_load(&s->inflight) > 0; waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    if (s->watchdog_started) pthread_join(s->watchdog, NULL);
    drain_lingering(s, now_ms(), true);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

// ---------------------------------------------------------------------------------------------------------------
// What the handler reads and how it answers.

const char *chttp_method(const chttp_exchange *ex) { return ex->method; }
const char *chttp_path(const chttp_exchange *ex) { return ex->path; }

const char *chttp_header(const chttp_exchange *ex, const char *name, size_t *length) {
    const char *value = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(ex->connection, MHD_HEADER_KIND, name, strlen(name), &value, &n) != MHD_YES)
        return NULL;
    if (length) *length = n;
    return value;
}

const char *chttp_query(const chttp_exchange *ex, const char *name) {
    return MHD_lookup_connection_value(ex->connection, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct pair_walk {
    chttp_pair_fn each;
    void *ctx;
} pair_walk;

static enum MHD_Result walk_pair(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    pair_walk *w = cls;
    w->each(w->ctx, key, value);
    return MHD_YES;
}

void chttp_each_query(const chttp_exchange *ex, chttp_pair_fn each, void *ctx) {
    pair_walk w = {each, ctx};
    MHD_get_connection_values(ex->connection, MHD_GET_ARGUMENT_KIND, walk_pair, &w);
}

const uint8_t *chttp_body(const chttp_exchange *ex, size_t *length) {
    *length = ex->length;
    return ex->body;
}

int chttp_body_too_large(const chttp_exchange *ex) { return ex->too_large; }
int chttp_over_budget(const chttp_exchange *ex) { return ex->over_budget; }

unsigned chttp_framing_error(const chttp_exchange *ex, const char **detail) {
    if (detail) *detail = ex->framing_detail;
    return ex->framing_status;
}

void chttp_set_tag(chttp_exchange *ex, int tag) { ex->tag = tag; }
int chttp_tag(const chttp_exchange *ex) { return ex->tag; }

static struct MHD_Response *make_response(chttp_exchange *ex, const char *content_type, const uint8_t *body,
                                          size_t length, const char *const *headers, int close) {
    struct MHD_Response *r = MHD_create_response_from_buffer(length, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return NULL;
    if (content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2) MHD_add_response_header(r, h[0], h[1]);
    // A framing error, and any chunked request (whose chunk lines libmicrohttpd parses leniently), close the
    // connection after the answer: nothing after them on the connection is read as another request.
    if (close || ex->chunked || ex->framing_status) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return r;
}

void chttp_defer(chttp_exchange *ex) {
    ex->deferred = 1;
    MHD_suspend_connection(ex->connection);
}

int chttp_complete(chttp_exchange *ex, unsigned status, const char *content_type, const uint8_t *body, size_t length,
                   const char *const *headers, int close) {
    struct MHD_Response *r = make_response(ex, content_type, body, length, headers, close);
    ex->pending_status = status;
    ex->pending = r;
    // Resumed without a response (out of memory), the worker answers MHD_YES and the connection times out.
    MHD_resume_connection(ex->connection);
    return r != NULL;
}

int chttp_respond(chttp_exchange *ex, unsigned status, const char *content_type, const uint8_t *body, size_t length,
                  const char *const *headers, int close) {
    if (ex->responded) return 0;
    struct MHD_Response *r = make_response(ex, content_type, body, length, headers, close);
    if (r == NULL) return 0;
    enum MHD_Result ok = MHD_queue_response(ex->connection, status, r);
    MHD_destroy_response(r);
    ex->responded = 1;
    if (ok == MHD_YES) set_phase(ex->server, ex->connection, RESPONDING, false);
    return ok == MHD_YES;
}
