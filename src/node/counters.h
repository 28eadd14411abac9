/* G-Counters on the node: increments made durable, gossip on heartbeats. */
#ifndef BATON_NODE_COUNTERS_H
#define BATON_NODE_COUNTERS_H

#include <stdint.h>

#include "baton.pb-c.h"
#include "crdt/crdt.h"
#include "node/service.h"

#define NODE_GOSSIP_MAX_BYTES (64u << 10) /* delta bytes per heartbeat */
#define NODE_GOSSIP_SUSPECT_EVERY 10      /* suspected peers: every Nth round */

struct node_counters {
    struct crdt_set *set;
    uint64_t peer_ids[NODE_MAX_MEMBERS];
    struct crdt_peer peers[NODE_MAX_MEMBERS];
    size_t n_peers;
    struct node_pending_list waits; /* answers waiting for durability */
    bool dirty;                     /* changes not yet handed to the disk */
    uint64_t rounds;
    uint64_t gossip_bytes;
};

struct node;

/* Loads every stored counter. BATON_ENOMEM, or the store's error (why set). */
int node_counters_start(struct node *n, char *why, size_t why_len)
    __attribute__((warn_unused_result));
void node_counters_close(struct node_counters *c);
/* Gossips with exactly the peers ids[0..count) (borrowed) from now on: the state
 * of each one kept, a new one started afresh, the others forgotten. */
void node_counters_peers_set(struct node_counters *c, const uint64_t *ids, size_t count);
/* counter incr / get from client (borrowed). */
void node_counters_request(struct node *n, uint64_t client, const Baton__ClientRequest *req);
/* Hands changed counters to the disk pipeline (from node_pump). */
void node_counters_flush(struct node *n);
/* The write carrying sync (borrowed) is durable. */
void node_counters_persisted(struct node *n, uint64_t upto);
/* Adds our delta and acknowledgement for peer to hb; *buf (malloc'd, caller
 * frees after encoding) holds the delta bytes. */
void node_counters_fill(struct node *n, uint64_t peer, bool suspected, Baton__Heartbeat *hb,
                        void **buf);
/* A heartbeat from peer arrived: merge its delta, apply its acknowledgement. */
void node_counters_heard(struct node *n, uint64_t peer, const Baton__Heartbeat *hb);

#endif
