/* The peer transport's receiving side: accept, check Hello, hand envelopes up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/peers.h"

static void log_close(struct net_peers *p, struct net_conn *c, int err, const char *why)
{
    if (err == 0 || p->on_log == NULL) {
        return;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "closed peer connection from %s (node %llu): %s", c->name,
             (unsigned long long)c->tag, why);
    p->on_log(p->arg, "warn", msg);
}

static void in_close_cb(struct net_conn *c, int err, const char *why)
{
    struct net_peers *p = c->data;
    log_close(p, c, err, why);
    for (size_t i = 0; i < p->n_incoming; i++) {
        if (p->incoming[i] == c) {
            p->incoming[i] = p->incoming[--p->n_incoming];
            break;
        }
    }
    net_peers_close_done(p);
}

/* The first frame must introduce a member of our cluster. */
static void check_hello(struct net_peers *p, struct net_conn *c, const Baton__Envelope *env)
{
    char why[96];
    if (env->body_case != BATON__ENVELOPE__BODY_HELLO || env->hello->node_id == 0) {
        net_conn_close(c, BATON_EMALFORMED, "first frame is not a Hello");
        return;
    }
    if (env->hello->cluster_id != p->opt.cluster_id) {
        snprintf(why, sizeof(why), "Hello from cluster %llu, we are cluster %llu",
                 (unsigned long long)env->hello->cluster_id,
                 (unsigned long long)p->opt.cluster_id);
        net_conn_close(c, BATON_ECLUSTER, why);
        return;
    }
    c->tag = env->hello->node_id;
    net_peers_redial(p, c->tag);
}

static void in_frame_cb(struct net_conn *c, const uint8_t *payload, size_t len)
{
    struct net_peers *p = c->data;
    Baton__Envelope *env = baton__envelope__unpack(NULL, len, payload);
    if (env == NULL) {
        net_conn_close(c, BATON_EMALFORMED, "undecodable frame");
        return;
    }
    if (c->tag == 0) {
        check_hello(p, c, env);
    } else if (env->body_case == BATON__ENVELOPE__BODY_HELLO) {
        net_conn_close(c, BATON_EMALFORMED, "second Hello");
    } else {
        p->on_envelope(p->arg, c->tag, env);
    }
    baton__envelope__free_unpacked(env, NULL);
}

/* Room for one more link: grow the table, or (when full) drop the oldest link
 * that never said Hello. False if every slot holds a real peer. */
static bool make_room(struct net_peers *p)
{
    if (p->n_incoming < p->cap_incoming) {
        return true;
    }
    if (p->cap_incoming < NET_PEERS_MAX_INCOMING) {
        size_t cap = p->cap_incoming ? p->cap_incoming * 2 : 16;
        struct net_conn **v = realloc(p->incoming, cap * sizeof(*v));
        if (v != NULL) {
            p->incoming = v;
            p->cap_incoming = cap;
            return true;
        }
    }
    struct net_conn *oldest = NULL;
    for (size_t i = 0; i < p->n_incoming; i++) {
        struct net_conn *c = p->incoming[i];
        if (c->tag == 0 && !c->closing && (oldest == NULL || c->opened_ms < oldest->opened_ms)) {
            oldest = c;
        }
    }
    if (oldest != NULL) {
        net_conn_close(oldest, BATON_EBUSY, "too many peer connections: dropped the oldest "
                                            "one without a Hello");
    }
    return false; /* the slot frees when the close completes */
}

static void connection_cb(uv_stream_t *server, int status)
{
    struct net_peers *p = server->data;
    if (status < 0 || p->closing) {
        return;
    }
    struct net_conn *c = net_conn_new(p->loop, &p->opt.conn, in_frame_cb, in_close_cb, p);
    if (c == NULL) {
        return;
    }
    /* Always accept: libuv stops watching a listener whose connection is left
     * pending, which would shut every peer out. */
    bool accepted = uv_accept(server, (uv_stream_t *)&c->tcp) == 0;
    if (!accepted || !make_room(p)) {
        c->data = NULL;
        c->on_close = NULL;
        net_conn_close(c, BATON_EBUSY, "too many peer connections");
        return;
    }
    p->incoming[p->n_incoming++] = c;
    if (net_conn_start(c) != 0) {
        return; /* it is closing; in_close_cb forgets it */
    }
}

static void hello_timer_cb(uv_timer_t *t)
{
    struct net_peers *p = t->data;
    uint64_t now = uv_now(p->loop);
    for (size_t i = 0; i < p->n_incoming; i++) {
        struct net_conn *c = p->incoming[i];
        if (c->tag == 0 && now - c->opened_ms >= NET_PEERS_HELLO_MS) {
            net_conn_close(c, BATON_ETIMEDOUT, "no Hello within 5 s");
        }
    }
}

int net_peers_listen(struct net_peers *p, const char *addr, char *why, size_t why_len)
{
    p->listener.data = p;
    p->listening = true;
    uv_timer_init(p->loop, &p->hello_timer);
    p->hello_timer.data = p;
    uv_timer_start(&p->hello_timer, hello_timer_cb, 1000, 1000);
    return net_listen(p->loop, &p->listener, addr, connection_cb, why, why_len);
}

static void listener_closed_cb(uv_handle_t *h)
{
    net_peers_close_done(h->data);
}

void net_peers_close_listener(struct net_peers *p)
{
    if (p->listening) {
        p->listening = false;
        p->pending_closes += 2;
        uv_close((uv_handle_t *)&p->listener, listener_closed_cb);
        p->hello_timer.data = p;
        uv_close((uv_handle_t *)&p->hello_timer, listener_closed_cb);
    }
    p->pending_closes += p->n_incoming;
    for (size_t i = 0; i < p->n_incoming; i++) {
        net_conn_close(p->incoming[i], 0, "shutting down");
    }
}
