/* A batond node without sockets, disk or threads, for the fuzz targets and their corpus. */
#ifndef BATON_FUZZ_NODE_H
#define BATON_FUZZ_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/frame.h"
#include "node/node.h"

/*
 * The node is the daemon's own struct node driven through its own handlers
 * (node_on_peer_envelope, node_service_request, node_counters_request,
 * node_tick_cb, node_on_persisted), with three stand-ins:
 *   - time: a uv_loop_t that is never run; uv_now() reads loop.time, which the
 *     fixture advances (a virtual clock, so every run is deterministic), and
 *     calls the node's timer callbacks (node_tick_cb, node_fd_cb) itself;
 *   - disk: the persist pipeline is kept "in flight" so that it never starts a
 *     write; the fixture pops its items in order and completes them at once, as
 *     if every write were durable the moment it was queued;
 *   - network: no peer links and no client connections, so sends and answers go
 *     nowhere (after being encoded, and every Raft message is checked to survive
 *     encode + decode unchanged).
 * The frames of one connection go through a net_frame_reader and the port's
 * checks exactly as in src/net/peers_accept.c (Hello first, then envelopes) and
 * src/node/client.c (ClientRequests only).
 *
 * Input format (both node targets): byte 0 is a flags byte, byte 1 the piece
 * size in which the rest is fed to the frame reader (0: all at once), and the
 * rest is the byte stream of one connection.
 */

#define FUZZ_MAX_FRAME (64u << 10)
#define FUZZ_SELF 1
/* The cluster id of the store corpus (fuzz_store_open). */
#define FUZZ_STORE_CLUSTER 0xba70ba70ull
#define FUZZ_TICK_UNIT_MS 16

/* Flags byte. */
#define FUZZ_FLAG_TICK 0x3f /* virtual ms after each frame, in FUZZ_TICK_UNIT_MS */
/* Peer port: the election timeout elapses before the first frame (the node is
 * asking for votes). Client port: a 3-member cluster with no peers, so the node
 * is never leader (instead of a 1-member cluster whose node leads at once). */
#define FUZZ_FLAG_ALT 0x40

enum fuzz_port {
    FUZZ_PORT_PEER = 1,
    FUZZ_PORT_CLIENT,
};

struct fuzz_node {
    uv_loop_t loop; /* never run: the node's timers are called by the fixture */
    struct node n;
    int port;
    uint64_t tick_ms;
    struct net_frame_reader reader;
    uint64_t peer; /* peer port: the id its Hello named (0 before the Hello) */
    bool closed;   /* the node closed the connection, or stopped */

    /* What the invariants compare against. */
    uint64_t last_term;
    uint64_t last_commit;
    uint64_t last_applied;

    /* Called with every Raft message the node sends (the corpus generator
     * answers from it); may be NULL. m is borrowed for the call. */
    void (*on_send)(void *arg, const struct raft_message *m);
    void *arg;
};

/* Starts a node for port with the given flags byte. Any failure is a fixture
 * bug: it aborts. Free with fuzz_node_free(). */
struct fuzz_node *fuzz_node_new(int port, uint8_t flags);

/* Feeds len bytes of the connection's stream (borrowed). Each complete frame
 * is handled, then the node's pending work completes and the clock advances by
 * tick_ms. Returns 0, or non-zero once the connection is closed (by the port's
 * checks, the frame reader, or because the node stopped): later calls do
 * nothing. */
int fuzz_node_feed(struct fuzz_node *f, const void *data, size_t len);

/* Advances the virtual clock by ms (in NODE_TICK_MS steps, as the daemon's
 * timer would), sends a heartbeat round and completes the resulting work. */
void fuzz_node_advance(struct fuzz_node *f, uint64_t ms);

/* Checks the end-of-run invariants, then frees everything. */
void fuzz_node_free(struct fuzz_node *f);

/* The whole target: flags, piece size, stream (see the input format above). */
void fuzz_node_run(int port, const uint8_t *data, size_t size);

/* Reports a broken invariant and aborts (so that libFuzzer keeps the input). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
