/* The daemon: one libuv loop hosting Raft, the failure detector and the state machine. */
#ifndef BATON_NODE_H
#define BATON_NODE_H

#include <stdbool.h>
#include <uv.h>

#include "fd/detector.h"
#include "net/conn.h"
#include "net/peers.h"
#include "util/idmap.h"
#include "node/config.h"
#include "node/counters.h"
#include "node/members.h"
#include "node/persist.h"
#include "node/service.h"
#include "node/sm.h"
#include "raft/raft.h"
#include "store/store.h"

struct node_client;

struct node {
    uv_loop_t *loop;
    struct node_config cfg;
    uint64_t cluster_id;
    struct store *store;
    struct raft *raft;
    struct fd_detector fd;
    struct net_peers peers;
    struct node_persist persist;
    struct node_sm sm;
    struct node_service service;
    struct node_counters counters;
    struct node_members members;
    uint64_t next_client_id;
    uint64_t snapshot_index;  /* newest snapshot stored */
    bool snapshot_pending;    /* one is on its way to disk */

    uv_tcp_t client_listener;
    struct util_idmap clients; /* id -> struct node_client */
    uv_timer_t tick_timer;
    uv_timer_t fd_timer;
    uv_signal_t sigterm;
    uv_signal_t sigint;

    int last_role;
    uint64_t last_leader;
    uint64_t last_term;
    uint64_t hb_seq;
    bool peers_started;
    bool clients_started;
    bool timers_started;
    bool stopping;
    int exit_code;
};

/* Opens the data dir, restores Raft from it (bootstrapping a new cluster on an
 * empty dir), binds both ports and starts the timers. On failure, why says what
 * went wrong and the return value is the process exit code to use (1 runtime,
 * 3 data dir refused). cfg is copied. */
int node_start(struct node *n, uv_loop_t *loop, const struct node_config *cfg, char *why,
               size_t why_len) __attribute__((warn_unused_result));

/* Begins a clean shutdown: stop accepting, let the disk write in flight finish,
 * close everything. The loop ends once all handles are closed. */
void node_stop(struct node *n, int exit_code);

/* Frees what node_start() allocated; call after uv_run() returned. */
void node_close(struct node *n);

/* Runs the core's pending work through persist -> send -> apply (node.c). */
void node_pump(struct node *n);
/* Sends one Raft message to its peer (node.c). */
void node_send_raft(struct node *n, const struct raft_message *m);
/* Applies one batch after it is durable: snapshot, committed entries, reads. */
void node_apply_ready(struct node *n, const struct raft_ready *rd);

/* Raft tick period: well under any heartbeat, so timers fire close to on time. */
#define NODE_TICK_MS 10

/* Callbacks wired up by node_start() (node.c). */
void node_on_persisted(void *arg, struct node_persist_item *item);
void node_on_persist_failed(void *arg, int err, const char *why);
void node_on_drained(void *arg);
void node_on_peer_envelope(void *arg, uint64_t from, const Baton__Envelope *env);
void node_on_net_log(void *arg, const char *level, const char *msg);
void node_tick_cb(uv_timer_t *t);
void node_fd_cb(uv_timer_t *t);

/* The leader's client address ("" if unknown), for NOT_LEADER answers. */
void node_leader_client_addr(struct node *n, char *out, size_t len);

/* client.c */
/* Sends resp to client id if it is still connected (a gone client is skipped). */
void node_client_respond(struct node *n, uint64_t client, Baton__ClientResponse *resp);
/* Hands a client's request to the part of the node that serves it (the answer
 * comes through node_client_respond); false for an operation it does not know,
 * and for STATUS, which the connection answers itself. */
bool node_client_dispatch(struct node *n, uint64_t client, const Baton__ClientRequest *req);
/* Answers request of client with err and msg (baton_strerror(err) if NULL);
 * NOT_LEADER answers carry the leader's client address. */
void node_client_error(struct node *n, uint64_t client, uint64_t request, int err,
                       const char *msg);
int node_clients_listen(struct node *n, char *why, size_t why_len)
    __attribute__((warn_unused_result));
void node_clients_close(struct node *n);

#endif
