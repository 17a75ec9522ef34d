#include "chttp.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct chttp_server {
    struct MHD_Daemon *daemon;
    chttp_handler handler;
    void *ctx;
    size_t max_body;
    // Requests whose headers have arrived and whose exchange has not completed (what a drain waits for;
    // idle keep-alive connections and half-sent headers are not in flight).
    atomic_uint inflight;
};

struct chttp_exchange {
    struct MHD_Connection *connection;
    const char *method;
    const char *path;
    uint8_t *body;
    size_t length;
    size_t capacity;
    int too_large;
    int responded;
};

static void finish(chttp_server *s, chttp_exchange *ex) {
    if (!ex->responded) s->handler(s->ctx, ex);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **state) {
    (void)version;
    chttp_server *s = cls;
    chttp_exchange *ex = *state;
    if (ex == NULL) {
        ex = calloc(1, sizeof *ex);
        if (ex == NULL) return MHD_NO;
        ex->connection = connection;
        ex->method = method;
        ex->path = url;
        *state = ex;
        atomic_fetch_add(&s->inflight, 1);
        // A declared length over the cap is refused before any of the body is read.
        const char *declared = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared != NULL) {
            errno = 0;
            char *end = NULL;
            unsigned long long n = strtoull(declared, &end, 10);
            if (errno != 0 || end == declared || n > s->max_body) {
                ex->too_large = 1;
                finish(s, ex);
            }
        }
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (!ex->responded && !ex->too_large) {
            if (*upload_size > s->max_body - ex->length) {
                // Over the cap mid-stream (chunked): drop what was kept, discard the rest, answer 413 at the end.
                ex->too_large = 1;
                free(ex->body);
                ex->body = NULL;
                ex->length = 0;
            } else {
                if (ex->length + *upload_size > ex->capacity) {
                    size_t cap = ex->capacity ? ex->capacity : 1024;
                    while (cap < ex->length + *upload_size) cap *= 2;
                    if (cap > s->max_body) cap = s->max_body;
                    uint8_t *grown = realloc(ex->body, cap);
                    if (grown == NULL) return MHD_NO;
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
    finish(s, ex);
    return ex->responded ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **state,
                         enum MHD_RequestTerminationCode code) {
    (void)connection;
    (void)code;
    chttp_server *s = cls;
    chttp_exchange *ex = *state;
    if (ex != NULL) {
        atomic_fetch_sub(&s->inflight, 1);
        free(ex->body);
        free(ex);
        *state = NULL;
    }
}

chttp_server *chttp_start(const chttp_config *c, chttp_handler handler, void *ctx, char *error, size_t error_len) {
    chttp_server *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->handler = handler;
    s->ctx = ctx;
    s->max_body = c->max_body;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *addr;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_TURBO;
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
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)c->connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->header_memory,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        if (error) snprintf(error, error_len, "cannot listen on %s:%u: %s", c->host, (unsigned)c->port, strerror(errno));
        free(s);
        return NULL;
    }
    return s;
}

uint16_t chttp_port(chttp_server *s) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
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
    free(s);
}

const char *chttp_method(const chttp_exchange *ex) { return ex->method; }
const char *chttp_path(const chttp_exchange *ex) { return ex->path; }

const char *chttp_header(const chttp_exchange *ex, const char *name) {
    return MHD_lookup_connection_value(ex->connection, MHD_HEADER_KIND, name);
}

const char *chttp_query(const chttp_exchange *ex, const char *name) {
    return MHD_lookup_connection_value(ex->connection, MHD_GET_ARGUMENT_KIND, name);
}

const uint8_t *chttp_body(const chttp_exchange *ex, size_t *length) {
    *length = ex->length;
    return ex->body;
}

int chttp_body_too_large(const chttp_exchange *ex) { return ex->too_large; }

int chttp_respond(chttp_exchange *ex, unsigned status, const char *content_type, const uint8_t *body, size_t length,
                  const char *const *headers) {
    if (ex->responded) return 0;
    struct MHD_Response *r = MHD_create_response_from_buffer(length, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return 0;
    if (content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (const char *const *h = headers; h && h[0] && h[1]; h += 2) MHD_add_response_header(r, h[0], h[1]);
    enum MHD_Result ok = MHD_queue_response(ex->connection, status, r);
    MHD_destroy_response(r);
    ex->responded = 1;
    return ok == MHD_YES;
}
