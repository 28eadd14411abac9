/* The lock/lease service on the node: client requests to Raft, outcomes to clients. */
#ifndef BATON_NODE_SERVICE_H
#define BATON_NODE_SERVICE_H

#include <stdint.h>

#include "baton.pb-c.h"
#include "lock/clock.h"
#include "lock/lock.h"
#include "raft/raft.h"

struct node;

/* A client request waiting for its entry to apply (proposal), for ReadIndex
 * (read), or for its lock (a queued acquire). */
struct node_pending {
    struct node_pending *next;
    int op; /* Baton__ClientRequest__OpCase */
    uint64_t client;
    uint64_t request;
    uint64_t index;    /* proposal: the entry; read: the read index */
    uint64_t term;     /* proposal */
    uint64_t ctx;      /* read */
    bool ready;        /* read: confirmed by a quorum, waits for apply */
    uint64_t lease;
    uint64_t token;
    char name[LOCK_NAME_MAX + 1];
};

struct node_pending_list {
    struct node_pending *head;
    struct node_pending *tail;
};

struct node_service {
    struct lock_clock clock;
    bool clocks_running; /* leader, and caught up with its predecessor's state */
    uint64_t lead_index; /* the no-op that started our term as leader */
    struct node_pending_list proposals; /* by index */
    struct node_pending_list reads;     /* in request order */
    struct node_pending_list waits;     /* queued acquires */
    uint64_t next_ctx;
    uint64_t min_ttl_ms;
};

void node_service_init(struct node_service *s, uint64_t election_ms);
void node_service_close(struct node_service *s);

/* A lease or lock request from client (borrowed). */
void node_service_request(struct node *n, uint64_t client, const Baton__ClientRequest *req);
/* After node_sm_apply() of e: answer its proposal, wake waiters, run clocks. */
void node_service_applied(struct node *n, const struct raft_entry *e);
/* ReadIndex answers from a ready batch (after that batch is durable). */
void node_service_reads(struct node *n, const struct raft_read *reads, size_t count);
/* Every tick: propose the ends of leases, waits and delays that ran out. */
void node_service_tick(struct node *n);
/* Answers the client of p (borrowed), if it is still connected; with an error
 * (msg NULL: the error's own text), NOT_LEADER answers name the leader. */
void node_service_reply(struct node *n, const struct node_pending *p,
                        Baton__ClientResponse *resp);
void node_service_reply_err(struct node *n, const struct node_pending *p, int err,
                            const char *msg);

/* The listing reads (service_list.c), once ReadIndex has been reached: every
 * live lease with its locks and the leader's remaining time, and the committed
 * configuration. Both answer NOT_LEADER if leadership was lost meanwhile. */
void node_service_lease_list(struct node *n, const struct node_pending *p);
void node_service_members(struct node *n, const struct node_pending *p);

/* Our role changed (from node_pump). */
void node_service_role(struct node *n, int role);

#endif
