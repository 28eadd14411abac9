/* The peer transport: outgoing links with reconnect backoff, incoming links after Hello. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/codec.h"
#include "net/peers.h"

struct net_peer {
    struct net_peers *owner;
    uint64_t id;
    char addr[RAFT_ADDR_MAX];
    struct sockaddr_storage ss;
    struct net_conn *conn;
    bool connected;
    bool removed;
    uv_connect_t connect_req;
    uv_timer_t timer;
    unsigned backoff_ms;
    unsigned handles; /* timer + conn still open; freed at 0 once removed */
};

void net_peers_options_default(struct net_peers_options *o)
{
    memset(o, 0, sizeof(*o));
    net_conn_options_default(&o->conn);
    o->backoff_min_ms = 50;
    o->backoff_max_ms = 1000;
}

static void say(struct net_peers *p, const char *level, const char *fmt, uint64_t id,
                const char *detail)
{
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, (unsigned long long)id, detail);
    if (p->on_log != NULL) {
        p->on_log(p->arg, level, msg);
    }
}

static uint64_t next_random(struct net_peers *p)
{
    uint64_t z = (p->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void net_peers_init(struct net_peers *p, uv_loop_t *loop, const struct net_peers_options *opt,
                    net_peers_envelope_cb on_envelope, net_peers_log_cb on_log, void *arg)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->opt = *opt;
    p->on_envelope = on_envelope;
    p->on_log = on_log;
    p->arg = arg;
    p->rng = opt->seed ^ opt->self;
}

void net_peers_close_done(struct net_peers *p)
{
    if (!p->closing || --p->pending_closes != 0) {
        return;
    }
    free(p->incoming);
    p->incoming = NULL;
    p->cap_incoming = 0;
    if (p->closed_cb != NULL) {
        p->closed_cb(p);
    }
}

static void maybe_free_peer(struct net_peer *peer)
{
    if (peer->removed && peer->handles == 0) {
        struct net_peers *p = peer->owner;
        free(peer);
        p->zombies--;
        net_peers_close_done(p);
    }
}

static void schedule_retry(struct net_peer *peer);

static void out_close_cb(struct net_conn *c, int err, const char *why)
{
    struct net_peer *peer = c->data;
    if (peer->connected && !peer->removed) {
        say(peer->owner, "warn", "lost link to peer %llu: %s", peer->id, why);
    }
    peer->conn = NULL;
    peer->connected = false;
    peer->handles--;
    if (!peer->removed) {
        schedule_retry(peer);
    }
    maybe_free_peer(peer);
}

static void out_frame_cb(struct net_conn *c, const uint8_t *payload, size_t len)
{
    (void)c, (void)payload, (void)len; /* outgoing links only send */
}

static int send_hello(struct net_peer *peer)
{
    Baton__Hello hello = BATON__HELLO__INIT;
    hello.node_id = peer->owner->opt.self;
    hello.cluster_id = peer->owner->opt.cluster_id;
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    env.body_case = BATON__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    struct raft_buf frame;
    int rv = net_encode_envelope(&env, peer->owner->opt.conn.max_frame, &frame);
    return rv != 0 ? rv : net_conn_send(peer->conn, frame);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct net_peer *peer = req->data;
    if (peer->conn == NULL) {
        return;
    }
    if (status < 0) {
        net_conn_close(peer->conn, BATON_EIO, uv_strerror(status));
        return;
    }
    if (net_conn_start(peer->conn) != 0 || send_hello(peer) != 0) {
        return;
    }
    peer->connected = true;
    peer->backoff_ms = peer->owner->opt.backoff_min_ms;
    say(peer->owner, "info", "connected to peer %llu at %s", peer->id, peer->addr);
}

static void start_connect(struct net_peer *peer)
{
    struct net_peers *p = peer->owner;
    peer->conn = net_conn_new(p->loop, &p->opt.conn, out_frame_cb, out_close_cb, peer);
    if (peer->conn == NULL) {
        schedule_retry(peer);
        return;
    }
    peer->handles++;
    peer->connect_req.data = peer;
    int rv = uv_tcp_connect(&peer->connect_req, &peer->conn->tcp,
                            (const struct sockaddr *)&peer->ss, connect_cb);
    if (rv != 0) {
        net_conn_close(peer->conn, BATON_EIO, uv_strerror(rv));
    }
}

static void retry_cb(uv_timer_t *t)
{
    struct net_peer *peer = t->data;
    if (!peer->removed && peer->conn == NULL) {
        start_connect(peer);
    }
}

/* Exponential backoff with jitter, so restarted nodes do not reconnect in step. */
static void schedule_retry(struct net_peer *peer)
{
    struct net_peers *p = peer->owner;
    if (p->closing) {
        return;
    }
    unsigned base = peer->backoff_ms;
    unsigned delay = base / 2 + (unsigned)(next_random(p) % (base / 2 + 1));
    peer->backoff_ms = base * 2 > p->opt.backoff_max_ms ? p->opt.backoff_max_ms : base * 2;
    uv_timer_start(&peer->timer, retry_cb, delay, 0);
}

static struct net_peer *find(const struct net_peers *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_peers; i++) {
        if (p->peers[i]->id == id) {
            return p->peers[i];
        }
    }
    return NULL;
}

int net_peers_set(struct net_peers *p, uint64_t id, const char *addr)
{
    struct sockaddr_storage ss;
    if (id == 0 || id == p->opt.self || strlen(addr) >= RAFT_ADDR_MAX ||
        net_addr_parse(addr, &ss) != 0) {
        return BATON_EINVAL;
    }
    struct net_peer *peer = find(p, id);
    if (peer != NULL) {
        if (strcmp(peer->addr, addr) != 0) {
            net_peers_remove(p, id); /* moved: start over at the new address */
            return net_peers_set(p, id, addr);
        }
        return 0;
    }
    if (p->n_peers == NET_PEERS_MAX) {
        return BATON_ECONFIG;
    }
    peer = calloc(1, sizeof(*peer));
    if (peer == NULL) {
        return BATON_ENOMEM;
    }
    peer->owner = p;
    peer->id = id;
    strcpy(peer->addr, addr);
    peer->ss = ss;
    peer->backoff_ms = p->opt.backoff_min_ms;
    uv_timer_init(p->loop, &peer->timer);
    peer->timer.data = peer;
    peer->handles = 1;
    p->peers[p->n_peers++] = peer;
    start_connect(peer);
    return 0;
}

static void timer_closed_cb(uv_handle_t *h)
{
    struct net_peer *peer = h->data;
    peer->handles--;
    maybe_free_peer(peer);
}

static void release_peer(struct net_peer *peer)
{
    peer->removed = true;
    peer->owner->zombies++;
    uv_close((uv_handle_t *)&peer->timer, timer_closed_cb);
    if (peer->conn != NULL) {
        net_conn_close(peer->conn, 0, "peer removed");
    }
}

void net_peers_remove(struct net_peers *p, uint64_t id)
{
    for (size_t i = 0; i < p->n_peers; i++) {
        if (p->peers[i]->id == id) {
            struct net_peer *peer = p->peers[i];
            p->peers[i] = p->peers[--p->n_peers];
            release_peer(peer);
            return;
        }
    }
}

bool net_peers_connected(const struct net_peers *p, uint64_t id)
{
    const struct net_peer *peer = find(p, id);
    return peer != NULL && peer->connected;
}

int net_peers_send(struct net_peers *p, uint64_t id, struct raft_buf frame)
{
    struct net_peer *peer = find(p, id);
    if (peer == NULL || !peer->connected) {
        free(frame.base);
        return BATON_EUNAVAILABLE;
    }
    return net_conn_send(peer->conn, frame);
}

void net_peers_close(struct net_peers *p, void (*closed_cb)(struct net_peers *p))
{
    p->closing = true;
    p->closed_cb = closed_cb;
    p->pending_closes = 1; /* held until everything below has been started */
    while (p->n_peers > 0) {
        release_peer(p->peers[--p->n_peers]);
    }
    p->pending_closes += p->zombies;
    net_peers_close_listener(p);
    net_peers_close_done(p);
}

void net_peers_redial(struct net_peers *p, uint64_t id)
{
    struct net_peer *peer = find(p, id);
    if (peer == NULL || peer->conn != NULL || p->closing) {
        return;
    }
    /* It just called us, so it is up: skip the rest of the backoff. */
    uv_timer_stop(&peer->timer);
    peer->backoff_ms = p->opt.backoff_min_ms;
    start_connect(peer);
}
