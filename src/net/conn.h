/* One framed TCP connection on libuv, with a bounded write queue. */
#ifndef BATON_NET_CONN_H
#define BATON_NET_CONN_H

#include <stdbool.h>
#include <uv.h>

#include "net/frame.h"
#include "raft/raft.h"

struct net_conn;

/* Called for each received frame; payload is borrowed for the call. */
typedef void (*net_conn_frame_cb)(struct net_conn *c, const uint8_t *payload, size_t len);
/* Called exactly once, when the connection is closed and about to be freed;
 * err is 0 for a close we asked for, else why it closed (why is borrowed). */
typedef void (*net_conn_close_cb)(struct net_conn *c, int err, const char *why);

struct net_conn_options {
    size_t max_frame;   /* larger incoming frames close the connection */
    size_t high_water;  /* queued bytes above which sends are refused */
    size_t low_water;   /* queued bytes below which the connection is healthy again */
    uint64_t stall_ms;  /* above high water for this long: disconnect */
};

void net_conn_options_default(struct net_conn_options *o);

struct net_conn {
    uv_tcp_t tcp;
    struct net_conn_options opt;
    struct net_frame_reader reader;
    net_conn_frame_cb on_frame;
    net_conn_close_cb on_close;
    void *data;              /* the owner's, untouched */
    uint64_t tag;            /* the owner's, untouched (e.g. the peer id) */
    size_t queued;           /* bytes written but not yet flushed to the kernel */
    bool congested;
    uint64_t congested_since;
    bool closing;
    uint64_t opened_ms;      /* uv_now() when created */
    int close_err;
    char why[128];
    char name[64];           /* remote address, for logs */
};

/* Allocates a connection whose tcp handle is initialized on loop, ready to be
 * passed to uv_accept or uv_tcp_connect. Returns NULL on allocation failure. */
struct net_conn *net_conn_new(uv_loop_t *loop, const struct net_conn_options *opt,
                              net_conn_frame_cb on_frame, net_conn_close_cb on_close,
                              void *data);

/* Starts reading (after accept/connect succeeded). BATON_EIO on failure, after
 * which the connection is closing. */
int net_conn_start(struct net_conn *c) __attribute__((warn_unused_result));

/* Queues frame (taken: freed when written or on failure). BATON_EBUSY when the
 * queue is above high water (the frame is dropped and the peer is counted as
 * congested; if it stays so for stall_ms the connection is closed),
 * BATON_ESHUTDOWN when closing, BATON_EIO if the write could not start. */
int net_conn_send(struct net_conn *c, struct raft_buf frame);

/* Closes the connection; on_close runs later with err and why (copied). Safe to
 * call more than once: only the first reason is kept. */
void net_conn_close(struct net_conn *c, int err, const char *why);

#endif
