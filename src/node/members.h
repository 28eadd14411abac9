/* Membership on the node: peer links that follow the Raft configuration, the client
 * requests that change it (add, remove, leadership transfer), and a removed node's exit. */
#ifndef BATON_NODE_MEMBERS_H
#define BATON_NODE_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"
#include "net/peers.h"
#include "node/config.h"
#include "raft/raft.h"

struct node;

/* One peer link: a member's id and the peer address we dial it at. */
struct node_link {
    uint64_t id;
    char addr[NODE_ADDR_MAX];
};

struct node_links {
    size_t n;
    struct node_link v[NET_PEERS_MAX];
};

/* Pure. The peers a node keeps links to (and watches with the failure detector,
 * and gossips counters with): every server of the latest configuration in its log
 * (Raft dissertation §4.1: servers use the latest one, committed or not, so a
 * leader replicates to a new member as soon as it appended it) and of the applied
 * one (so a removed member keeps its link until its removal is applied: the leader
 * tells it then), ourselves left out. A server listed in --initial-cluster is
 * dialed at the address given there (a proxy may stand in between), any other at
 * the peer half of its configuration address. With no configuration at all (a
 * node that joins and has not heard from the leader yet) the links are the other
 * members of --initial-cluster. latest and applied are borrowed and may be empty
 * (n == 0). Returns 0, or BATON_ECONFIG when there were more than NET_PEERS_MAX
 * (the first ones are kept). */
int node_links_plan(const struct node_config *cfg, const struct raft_conf *latest,
                    const struct raft_conf *applied, struct node_links *out);

/* Pure. Whether a MemberAdd of id at peer/client may go into configuration conf:
 * 0, BATON_EINVAL (id 0, an address that is not IPv4:PORT, [IPv6]:PORT or
 * localhost:PORT, or is NODE_ADDR_MAX bytes or longer), BATON_EEXIST (id is a
 * member already, or another member has one of these addresses), BATON_ECONFIG
 * (the configuration is full). why says which, in a sentence. */
int node_member_add_check(const struct raft_conf *conf, uint64_t id, const char *peer,
                          const char *client, char *why, size_t why_len);

/* Pure. Whether a MemberRemove of id may go: 0, BATON_EINVAL (id 0),
 * BATON_ENOTFOUND (not a member), BATON_ECONFIG (the last voter). */
int node_member_remove_check(const struct raft_conf *conf, uint64_t id, char *why,
                             size_t why_len);

/* The servers of a configuration as protobuf Members (ClusterMembersResponse,
 * MemberChangeResponse): views into this struct, which must outlive the message. */
struct node_member_pb {
    size_t n;
    Baton__Member m[RAFT_MAX_SERVERS];
    Baton__Member *mp[RAFT_MAX_SERVERS];
    char peer[RAFT_MAX_SERVERS][RAFT_ADDR_MAX];
    char client[RAFT_MAX_SERVERS][RAFT_ADDR_MAX];
};
void node_member_pb_fill(struct node_member_pb *pb, const struct raft_conf *conf);

/* A change or transfer waiting for its outcome. */
struct node_member_op {
    struct node_member_op *next;
    int op;            /* Baton__ClientRequest__OpCase */
    uint64_t client;
    uint64_t request;
    uint64_t id;       /* the member added or removed; the transfer's target */
    uint64_t index;    /* add, remove: the configuration entry */
    uint64_t term;     /* ... and its term: the change took effect iff that entry applies */
    uint64_t deadline; /* transfer: loop time at which it is given up */
    bool any;          /* transfer: asked for id 0, any other voter will do */
};

struct node_members {
    struct node_links links;  /* the links we keep now */
    bool links_started;
    struct raft_conf latest;  /* raft_conf() when the links were last planned */
    struct raft_conf applied; /* the configuration as of the applied index */
    bool applied_changed;     /* ... changed since the links were planned */
    bool was_member;          /* an applied configuration listed us */
    bool removed;             /* one no longer does: we stop at linger_until */
    uint64_t linger_until;
    struct node_member_op *ops;
};

/* After raft_new(): the applied configuration starts as the snapshot's (borrowed;
 * NULL without one). */
void node_members_init(struct node *n, const struct raft_conf *snapshot_conf);
/* Frees the waiting operations (their clients are gone with the process). */
void node_members_close(struct node *n);

/* Starts or moves the links (peer transport, failure detector, counter gossip) to
 * node_links_plan()'s (links.c). At startup a bad address is fatal: BATON_EINVAL
 * with why; later ones are logged and skipped. */
int node_links_sync(struct node *n, char *why, size_t why_len)
    __attribute__((warn_unused_result));
/* From node_pump: re-plans the links if a configuration changed. */
void node_links_follow(struct node *n);

/* MemberAdd, MemberRemove and LeaderTransfer from client (borrowed). */
void node_members_request(struct node *n, uint64_t client, const Baton__ClientRequest *req);
/* After node_sm_apply() of e (every entry): answers the changes it decides, tracks
 * the applied configuration, tells removed members, notices our own removal. */
void node_members_applied(struct node *n, const struct raft_entry *e);
/* A snapshot from the leader was installed: its configuration is the applied one. */
void node_members_installed(struct node *n, const struct raft_conf *conf, uint64_t index);
/* After every pump and tick: answers transfers that ended, and stops a removed
 * node once its last answers had time to leave. */
void node_members_check(struct node *n);
/* A Removed notice from peer from (borrowed). */
void node_members_notice(struct node *n, uint64_t from, const Baton__Removed *r);

#endif
