/* Length-prefixed framing: a 4-byte big-endian length, then one protobuf Envelope. */
#ifndef BATON_NET_FRAME_H
#define BATON_NET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "baton/error.h"

#define NET_FRAME_HEADER 4
#define NET_FRAME_MAX_DEFAULT (4u << 20)

/* Reassembles frames from a byte stream that arrives in arbitrary pieces. */
struct net_frame_reader {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max_frame;
};

/* Called once per complete frame with its payload (borrowed: valid only during
 * the call). A non-zero return stops net_frame_feed, which returns it. */
typedef int (*net_frame_cb)(void *arg, const uint8_t *payload, size_t len);

void net_frame_reader_init(struct net_frame_reader *r, size_t max_frame);
void net_frame_reader_close(struct net_frame_reader *r);

/* Feeds len bytes (borrowed). Returns 0, BATON_ETOOBIG when a header announces a
 * frame over max_frame (nothing after it can be trusted: close the connection),
 * BATON_EMALFORMED for an empty frame, BATON_ENOMEM, or the callback's error. */
int net_frame_feed(struct net_frame_reader *r, const void *data, size_t len, net_frame_cb cb,
                   void *arg) __attribute__((warn_unused_result));

void net_frame_put_header(uint8_t out[NET_FRAME_HEADER], uint32_t len);

#endif
