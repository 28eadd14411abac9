/* batonctl's connection to the cluster: non-blocking sockets driven by poll() to one deadline. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "baton/error.h"
#include "ctl_client.h"
#include "net/addr.h"
#include "net/codec.h"

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int endpoint_check(const char *item, size_t len, char *why, size_t why_len)
{
    const char *colon = memchr(item, ':', len);
    if (len == 0) {
        snprintf(why, why_len, "empty endpoint in list");
        return BATON_EINVAL;
    }
    if (len >= CTL_ENDPOINT_LEN) {
        snprintf(why, why_len, "endpoint too long: '%.*s...'", 32, item);
        return BATON_EINVAL;
    }
    const char *last = item + len;
    while (colon != NULL && memchr(colon + 1, ':', (size_t)(last - colon - 1)) != NULL) {
        colon = memchr(colon + 1, ':', (size_t)(last - colon - 1));
    }
    if (colon == NULL || colon == item || colon + 1 == last) {
        snprintf(why, why_len, "endpoint '%.*s' is not host:port", (int)len, item);
        return BATON_EINVAL;
    }
    for (const char *p = colon + 1; p < last; p++) {
        if (*p < '0' || *p > '9') {
            snprintf(why, why_len, "endpoint '%.*s' has a bad port", (int)len, item);
            return BATON_EINVAL;
        }
    }
    return 0;
}

int ctl_endpoints_parse(const char *list, struct ctl_endpoints *out, char *why, size_t why_len)
{
    out->n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rv = endpoint_check(p, len, why, why_len);
        if (rv != 0) {
            return rv;
        }
        if (out->n == CTL_ENDPOINTS_MAX) {
            snprintf(why, why_len, "more than %d endpoints", CTL_ENDPOINTS_MAX);
            return BATON_EINVAL;
        }
        memcpy(out->v[out->n], p, len);
        out->v[out->n][len] = '\0';
        out->n++;
        if (comma == NULL) {
            return 0;
        }
        p = comma + 1;
    }
}

static void call_fail(struct ctl_call *c, int err, const char *what, int sys_errno)
{
    if (sys_errno != 0) {
        snprintf(c->why, sizeof(c->why), "%s: %s", what, strerror(sys_errno));
    } else {
        snprintf(c->why, sizeof(c->why), "%s", what);
    }
    c->err = err;
    c->state = CTL_CALL_DONE;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

void ctl_call_init(struct ctl_call *c, const char *endpoint, const Baton__ClientRequest *req)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
    c->fd = -1;
    c->state = CTL_CALL_IDLE;
    c->want_id = req->id;
    net_frame_reader_init(&c->reader, NET_FRAME_MAX_DEFAULT);
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    env.body_case = BATON__ENVELOPE__BODY_REQUEST;
    env.request = (Baton__ClientRequest *)req;
    int rv = net_encode_envelope(&env, NET_FRAME_MAX_DEFAULT, &c->out);
    if (rv != 0) {
        call_fail(c, rv, baton_strerror(rv), 0);
    }
}

void ctl_call_close(struct ctl_call *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->out.base);
    c->out.base = NULL;
    net_frame_reader_close(&c->reader);
    if (c->env != NULL) {
        baton__envelope__free_unpacked(c->env, NULL);
        c->env = NULL;
        c->resp = NULL;
    }
}

/* host:port to a socket address: numeric forms through net_addr_parse (which also
 * maps localhost to 127.0.0.1, as the daemon does), anything else by the resolver. */
static int resolve(const char *endpoint, struct sockaddr_storage *ss, socklen_t *len)
{
    if (net_addr_parse(endpoint, ss) != 0) {
        char host[CTL_ENDPOINT_LEN];
        const char *colon = strrchr(endpoint, ':');
        if (colon == NULL) {
            return EAI_NONAME;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - endpoint), endpoint);
        struct addrinfo hints, *res;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        int rv = getaddrinfo(host, colon + 1, &hints, &res);
        if (rv != 0) {
            return rv;
        }
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
    }
    *len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return 0;
}

static void call_start(struct ctl_call *c)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rv = resolve(c->endpoint, &ss, &len);
    if (rv != 0) {
        snprintf(c->why, sizeof(c->why), "cannot resolve %s: %s", c->endpoint,
                 gai_strerror(rv));
        c->err = BATON_EUNAVAILABLE;
        c->state = CTL_CALL_DONE;
        return;
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        call_fail(c, BATON_EIO, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&ss, len) == 0) {
        c->state = CTL_CALL_SENDING;
    } else if (errno == EINPROGRESS) {
        c->state = CTL_CALL_CONNECTING;
    } else {
        call_fail(c, BATON_EUNAVAILABLE, "connect", errno);
    }
}

static void call_connected(struct ctl_call *c)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
        soerr = errno;
    }
    if (soerr != 0) {
        call_fail(c, BATON_EUNAVAILABLE, "connect", soerr);
        return;
    }
    c->state = CTL_CALL_SENDING;
}

static void call_send(struct ctl_call *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, (uint8_t *)c->out.base + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                return;
            }
            call_fail(c, BATON_EIO, "send", errno);
            return;
        }
        c->out_off += (size_t)n;
    }
    c->state = CTL_CALL_RECEIVING;
}

/* One frame from the server: keep it if it answers our request, skip others. */
static int on_frame(void *arg, const uint8_t *payload, size_t len)
{
    struct ctl_call *c = arg;
    Baton__Envelope *env = baton__envelope__unpack(NULL, len, payload);
    if (env == NULL) {
        return BATON_EMALFORMED;
    }
    if (env->body_case != BATON__ENVELOPE__BODY_RESPONSE || env->response == NULL ||
        env->response->id != c->want_id) {
        baton__envelope__free_unpacked(env, NULL);
        return 0;
    }
    c->env = env;
    c->resp = env->response;
    return 1;
}

static void call_receive(struct ctl_call *c)
{
    uint8_t buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            call_fail(c, BATON_EIO, "connection lost", errno);
        }
        return;
    }
    if (n == 0) {
        call_fail(c, BATON_EIO, "connection closed by the server before it answered", 0);
        return;
    }
    int rv = net_frame_feed(&c->reader, buf, (size_t)n, on_frame, c);
    if (rv == 1) {
        close(c->fd);
        c->fd = -1;
        c->state = CTL_CALL_DONE;
    } else if (rv != 0) {
        call_fail(c, rv, rv == BATON_ETOOBIG ? "reply frame over the size limit (not a baton client port?)"
                                             : "reply is not a baton response", 0);
    }
}

static void call_event(struct ctl_call *c, short revents)
{
    if (revents == 0) {
        return;
    }
    if (c->state == CTL_CALL_CONNECTING) {
        call_connected(c);
    }
    if (c->state == CTL_CALL_SENDING) {
        call_send(c);
    } else if (c->state == CTL_CALL_RECEIVING) {
        call_receive(c);
    }
}

/* Fills pfd with the calls still open; idx maps each entry back to its call. */
static size_t poll_set(struct ctl_call *calls, size_t n, struct pollfd *pfd, size_t *idx)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct ctl_call *c = &calls[i];
        if (c->state == CTL_CALL_DONE || c->fd < 0) {
            continue;
        }
        pfd[k].fd = c->fd;
        pfd[k].events = c->state == CTL_CALL_RECEIVING ? POLLIN : POLLOUT;
        pfd[k].revents = 0;
        idx[k++] = i;
    }
    return k;
}

void ctl_call_run(struct ctl_call *calls, size_t n, int64_t deadline_ms)
{
    struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
    size_t *idx = calloc(n ? n : 1, sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        if (calls[i].state == CTL_CALL_IDLE) {
            call_start(&calls[i]);
        }
        if (pfd == NULL || idx == NULL) {
            call_fail(&calls[i], BATON_ENOMEM, baton_strerror(BATON_ENOMEM), 0);
        }
    }
    for (;;) {
        size_t k = poll_set(calls, n, pfd, idx);
        int64_t left = deadline_ms - ctl_now_ms();
        if (k == 0 || left <= 0) {
            break;
        }
        int rv = poll(pfd, k, left > 60000 ? 60000 : (int)left);
        if (rv < 0 && errno != EINTR) {
            break;
        }
        for (size_t j = 0; rv > 0 && j < k; j++) {
            call_event(&calls[idx[j]], pfd[j].revents);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (calls[i].state == CTL_CALL_CONNECTING) {
            call_fail(&calls[i], BATON_ETIMEDOUT, "could not connect before the deadline", 0);
        } else if (calls[i].state != CTL_CALL_DONE) {
            call_fail(&calls[i], BATON_ETIMEDOUT, "no answer before the deadline", 0);
        }
    }
    free(pfd);
    free(idx);
}

/* Whether a failed attempt may be repeated at another endpoint: only if the request
 * surely never ran there, or running it twice is harmless. */
static bool may_retry(const struct ctl_call *c, bool idempotent)
{
    if (c->err == 0) {
        return c->resp->err == BATON_ENOTLEADER || c->resp->err == BATON_ESHUTDOWN;
    }
    return idempotent || c->err == BATON_EUNAVAILABLE;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The next endpoint to ask: the leader the last answer named, else the next in turn. */
static const char *next_endpoint(const struct ctl_endpoints *eps, const struct ctl_call *last,
                                 size_t *turn, char *hint)
{
    if (last != NULL && last->err == 0 && last->resp->leader_client_addr != NULL &&
        last->resp->leader_client_addr[0] != '\0' &&
        strcmp(last->resp->leader_client_addr, last->endpoint) != 0 &&
        strlen(last->resp->leader_client_addr) < CTL_ENDPOINT_LEN) {
        snprintf(hint, CTL_ENDPOINT_LEN, "%s", last->resp->leader_client_addr);
        return hint;
    }
    return eps->v[(*turn)++ % eps->n];
}

int ctl_call_leader(const struct ctl_endpoints *eps, const Baton__ClientRequest *req,
                    bool idempotent, int64_t deadline_ms, struct ctl_call *c)
{
    char hint[CTL_ENDPOINT_LEN];
    size_t turn = 0, attempts = 0;
    bool have_last = false;
    int64_t backoff = 50;
    for (;;) {
        const char *ep = next_endpoint(eps, have_last ? c : NULL, &turn, hint);
        char ep_copy[CTL_ENDPOINT_LEN];
        snprintf(ep_copy, sizeof(ep_copy), "%s", ep);
        if (have_last) {
            ctl_call_close(c);
        }
        ctl_call_init(c, ep_copy, req);
        have_last = true;
        int64_t attempt = deadline_ms;
        if (idempotent && ctl_now_ms() + CTL_ATTEMPT_MS < deadline_ms) {
            attempt = ctl_now_ms() + CTL_ATTEMPT_MS;
        }
        ctl_call_run(c, 1, attempt);
        if (c->err == 0 && !may_retry(c, idempotent)) {
            return 0;
        }
        if (!may_retry(c, idempotent) || ctl_now_ms() + backoff >= deadline_ms) {
            break;
        }
        /* A full round without a leader means an election is probably running. */
        if (++attempts % eps->n == 0) {
            sleep_ms(backoff);
            backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
        }
    }
    if (c->err == 0) {
        snprintf(c->why, sizeof(c->why), "%s: %s", c->endpoint, baton_strerror(c->resp->err));
        c->err = BATON_EUNAVAILABLE;
    }
    return c->err == BATON_EUNAVAILABLE ? BATON_EUNAVAILABLE : BATON_ETIMEDOUT;
}
