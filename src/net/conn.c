/* A framed TCP connection: reads frames, bounds its write queue, closes once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/conn.h"

struct write_req {
    uv_write_t req;
    uv_buf_t buf;
};

void net_conn_options_default(struct net_conn_options *o)
{
    o->max_frame = NET_FRAME_MAX_DEFAULT;
    o->high_water = 16u << 20;
    o->low_water = 4u << 20;
    o->stall_ms = 5000;
}

static void describe_peer(struct net_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char host[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(c->name, sizeof(c->name), "%s:%d", host, port);
}

struct net_conn *net_conn_new(uv_loop_t *loop, const struct net_conn_options *opt,
                              net_conn_frame_cb on_frame, net_conn_close_cb on_close,
                              void *data)
{
    struct net_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    if (opt != NULL) {
        c->opt = *opt;
    } else {
        net_conn_options_default(&c->opt);
    }
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->opened_ms = uv_now(loop);
    c->on_frame = on_frame;
    c->on_close = on_close;
    c->data = data;
    net_frame_reader_init(&c->reader, c->opt.max_frame);
    strcpy(c->name, "?");
    return c;
}

static void closed_cb(uv_handle_t *h)
{
    struct net_conn *c = h->data;
    if (c->on_close != NULL) {
        c->on_close(c, c->close_err, c->why);
    }
    net_frame_reader_close(&c->reader);
    free(c);
}

void net_conn_close(struct net_conn *c, int err, const char *why)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    c->close_err = err;
    snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, closed_cb);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static int frame_cb(void *arg, const uint8_t *payload, size_t len)
{
    struct net_conn *c = arg;
    c->on_frame(c, payload, len);
    /* The handler may have closed us; stop delivering what follows. */
    return c->closing ? BATON_ESHUTDOWN : 0;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct net_conn *c = s->data;
    if (nread < 0) {
        net_conn_close(c, nread == UV_EOF ? 0 : BATON_EIO,
                       nread == UV_EOF ? "closed by peer" : uv_strerror((int)nread));
    } else if (nread > 0 && !c->closing) {
        int rv = net_frame_feed(&c->reader, buf->base, (size_t)nread, frame_cb, c);
        if (rv == BATON_ETOOBIG) {
            net_conn_close(c, rv, "frame larger than the maximum frame size");
        } else if (rv == BATON_EMALFORMED) {
            net_conn_close(c, rv, "empty frame");
        } else if (rv != 0 && rv != BATON_ESHUTDOWN) {
            net_conn_close(c, rv, baton_strerror(rv));
        }
    }
    free(buf->base);
}

int net_conn_start(struct net_conn *c)
{
    describe_peer(c);
    uv_tcp_nodelay(&c->tcp, 1);
    int rv = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (rv != 0) {
        net_conn_close(c, BATON_EIO, uv_strerror(rv));
        return BATON_EIO;
    }
    return 0;
}

static void write_cb(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct net_conn *c = req->handle->data;
    c->queued -= w->buf.len;
    if (c->congested && c->queued <= c->opt.low_water) {
        c->congested = false;
    }
    free(w->buf.base);
    free(w);
    if (status != 0 && status != UV_ECANCELED) {
        net_conn_close(c, BATON_EIO, uv_strerror(status));
    }
}

static bool check_congestion(struct net_conn *c)
{
    if (c->queued < c->opt.high_water) {
        return true;
    }
    uint64_t now = uv_now(c->tcp.loop);
    if (!c->congested) {
        c->congested = true;
        c->congested_since = now;
    } else if (now - c->congested_since >= c->opt.stall_ms) {
        net_conn_close(c, BATON_EBUSY, "not reading: write queue stayed above high water");
    }
    return false;
}

int net_conn_send(struct net_conn *c, struct raft_buf frame)
{
    if (c->closing) {
        free(frame.base);
        return BATON_ESHUTDOWN;
    }
    if (!check_congestion(c)) {
        free(frame.base);
        return BATON_EBUSY;
    }
    struct write_req *w = malloc(sizeof(*w));
    if (w == NULL) {
        free(frame.base);
        return BATON_ENOMEM;
    }
    w->buf = uv_buf_init(frame.base, (unsigned)frame.len);
    int rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, write_cb);
    if (rv != 0) {
        free(frame.base);
        free(w);
        net_conn_close(c, BATON_EIO, uv_strerror(rv));
        return BATON_EIO;
    }
    c->queued += frame.len;
    return 0;
}
