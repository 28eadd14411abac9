/* The peer transport: one outgoing connection per peer, reconnecting with backoff. */
#ifndef BATON_NET_PEERS_H
#define BATON_NET_PEERS_H

#include <uv.h>

#include "baton.pb-c.h"
#include "net/conn.h"

/* A decoded envelope from peer from_id (borrowed for the call). */
typedef void (*net_peers_envelope_cb)(void *arg, uint64_t from_id, const Baton__Envelope *env);
/* Logging hook: level is "info"/"warn"; msg borrowed. */
typedef void (*net_peers_log_cb)(void *arg, const char *level, const char *msg);

struct net_peers_options {
    uint64_t self;
    uint64_t cluster_id;
    struct net_conn_options conn;
    unsigned backoff_min_ms;
    unsigned backoff_max_ms;
    uint64_t seed; /* jitter */
};

void net_peers_options_default(struct net_peers_options *o);

struct net_peer;

#define NET_PEERS_MAX 16
/* Accepted peer links at most; past it the oldest one without a Hello goes. */
#define NET_PEERS_MAX_INCOMING 1024
/* A link that has not said Hello by then is closed. */
#define NET_PEERS_HELLO_MS 5000

/* Outgoing links are used only for sending and incoming ones only for
 * receiving, so two nodes dialing each other at once never have to pick one. */
struct net_peers {
    uv_loop_t *loop;
    struct net_peers_options opt;
    net_peers_envelope_cb on_envelope;
    net_peers_log_cb on_log;
    void *arg;
    uv_tcp_t listener;
    bool listening;
    struct net_peer *peers[NET_PEERS_MAX];
    size_t n_peers;
    struct net_conn **incoming; /* accepted links, with or without Hello yet */
    size_t n_incoming;
    size_t cap_incoming;
    uv_timer_t hello_timer;     /* closes links that never said Hello */
    uint64_t rng;
    bool closing;
    unsigned pending_closes;
    unsigned zombies; /* removed peers whose handles are still closing */
    void (*closed_cb)(struct net_peers *p);
};

void net_peers_init(struct net_peers *p, uv_loop_t *loop, const struct net_peers_options *opt,
                    net_peers_envelope_cb on_envelope, net_peers_log_cb on_log, void *arg);

/* Listens for peers on addr. BATON_EINVAL / BATON_EIO with why filled. */
int net_peers_listen(struct net_peers *p, const char *addr, char *why, size_t why_len)
    __attribute__((warn_unused_result));

/* Adds peer id at addr, or moves it to a new address. BATON_EINVAL for a bad
 * address or our own id, BATON_ECONFIG when full. */
int net_peers_set(struct net_peers *p, uint64_t id, const char *addr)
    __attribute__((warn_unused_result));
void net_peers_remove(struct net_peers *p, uint64_t id);

/* Sends a complete frame (taken) to peer id. BATON_EUNAVAILABLE when not
 * connected (Raft retransmits, so dropping is fine), else net_conn_send's. */
int net_peers_send(struct net_peers *p, uint64_t id, struct raft_buf frame);

/* True if the outgoing link to id is up. */
bool net_peers_connected(const struct net_peers *p, uint64_t id);

/* Closes every connection and timer; closed_cb runs once all are closed. */
void net_peers_close(struct net_peers *p, void (*closed_cb)(struct net_peers *p));

/* Internal to src/net/peers*.c. */
void net_peers_redial(struct net_peers *p, uint64_t id);
void net_peers_close_done(struct net_peers *p);
void net_peers_close_listener(struct net_peers *p);

#endif
