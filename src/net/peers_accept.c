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
    if (p->n_incoming == sizeof(p->incoming) / sizeof(p->incoming[0]) ||
        uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
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

int net_peers_listen(struct net_peers *p, const char *addr, char *why, size_t why_len)
{
    p->listener.data = p;
    p->listening = true;
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
        p->pending_closes++;
        uv_close((uv_handle_t *)&p->listener, listener_closed_cb);
    }
    p->pending_closes += p->n_incoming;
    for (size_t i = 0; i < p->n_incoming; i++) {
        net_conn_close(p->incoming[i], 0, "shutting down");
    }
}
