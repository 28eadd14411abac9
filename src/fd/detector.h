/* The ◇W heartbeat failure detector: fed arrivals and the time, it says whom to suspect. */
#ifndef BATON_FD_DETECTOR_H
#define BATON_FD_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton/error.h"

/*
 * Model
 * -----
 * struct fd_detector is one node's view of its peers (Chandra & Toueg, "Unreliable
 * failure detectors for reliable distributed systems", 1996, §2 and the heartbeat
 * construction of §9.1 for partial synchrony). It never reads a clock, sends, logs
 * or draws random numbers: the host feeds it
 *   - arrivals:  fd_heard(d, peer, now_ms) for every frame received from a peer
 *                (a heartbeat, or anything else that proves the peer is alive),
 *   - time:      fd_tick(d, now_ms), which starts suspicions and reports the new ones,
 *   - its sends: fd_heartbeat_sent(d, now_ms) after sending a heartbeat round,
 *   - membership changes: fd_peer_add(), fd_peer_remove(),
 * with now_ms a monotonic millisecond clock that never goes backwards (uv_now()).
 * The host keeps one timer at fd_next_deadline(d); when it fires, it sends a round
 * to every peer if fd_heartbeat_due() and then calls fd_tick().
 *
 * Rule
 * ----
 * Each peer has a timeout, starting at opt.timeout_ms. A trusted peer becomes
 * suspected by the first fd_tick() at or after last_heard + timeout, i.e. once
 * nothing has been heard from it for a whole timeout. A suspected peer that is
 * heard from again was falsely suspected: it is trusted at once, and its timeout
 * grows by opt.timeout_increment_ms, up to opt.timeout_max_ms. Timeouts never
 * shrink.
 *
 * Why this is ◇W (in practice ◇P):
 *   - Strong completeness: a crashed peer is never heard from again, so its
 *     silence eventually exceeds its (fixed from then on) timeout and no later call
 *     clears the suspicion. Every correct node suspects it for ever.
 *   - Eventual accuracy: after the network settles (global stabilization time GST;
 *     afterwards a message takes at most D ms), a correct peer's silence never
 *     exceeds heartbeat_ms + D. Each suspicion after that is false and grows the
 *     timeout by a fixed increment, so after at most
 *     (heartbeat_ms + D - timeout_ms) / timeout_increment_ms + 1 of them the
 *     timeout exceeds any silence and the peer is never suspected again. This
 *     assumes timeout_max_ms > heartbeat_ms + D: the cap is the largest delay the
 *     operator lets the detector learn to tolerate.
 *   - Why timeouts never shrink: letting them decay toward the base after a quiet
 *     period forgets the evidence that the base was too short. A network that
 *     meets its post-GST bound only now and then would then cause a false
 *     suspicion after every decay, for ever, which is exactly what eventual
 *     accuracy forbids. The only decay that stays correct keeps the timeout above
 *     the longest silence ever seen, and after a partition that is the partition
 *     itself, so it buys nothing. Growth is additive, not by doubling, so one healed
 *     partition (one long false suspicion) costs one increment, not a doubling. A
 *     host that wants a fresh start for a peer removes and re-adds it; a restart
 *     also starts every timeout at the base.
 *
 * Memory: struct fd_detector is caller-allocated (embed it or put it on the
 * stack) and owns no other memory; fd_close() exists so that could change. Every
 * pointer argument is borrowed for the duration of the call.
 *
 * Threads: none inside. All calls on one detector must come from one thread at a
 * time, from the node's loop thread; const calls may run concurrently with each
 * other. Distinct detectors are independent.
 *
 * Errors: functions that can fail return 0 (or a count) on success and a negative
 * BATON_E* code on failure, leaving the detector unchanged. Peer ids come from the
 * network: an unknown id is an error code, never an assertion.
 */

/* The most peers one detector monitors (a cluster of 17 nodes). */
#define FD_MAX_PEERS 16

struct fd_options {
    uint64_t self;                 /* this node's id; not 0, never a peer */
    unsigned heartbeat_ms;         /* period of a heartbeat round; > 0 */
    unsigned timeout_ms;           /* a peer's first timeout; > heartbeat_ms */
    unsigned timeout_increment_ms; /* added on each false suspicion; > 0 */
    unsigned timeout_max_ms;       /* timeouts never grow past this; >= timeout_ms */
};

/* Fills opt with defaults for node self: heartbeat 100 ms, timeout 500 ms,
 * increment 250 ms, cap 10000 ms. */
void fd_options_default(struct fd_options *opt, uint64_t self);

/* One monitored peer: the detector's state for it, and the health view's stats. */
struct fd_peer {
    uint64_t id;
    bool suspected;
    uint64_t timeout_ms;       /* current timeout */
    uint64_t last_heard_ms;    /* last arrival, or the time the peer was added */
    uint64_t since_ms;         /* time of the last change between trusted and suspected
                                * (the time it was added if it never changed) */
    uint64_t suspicions;       /* times this peer became suspected */
    uint64_t false_suspicions; /* times a suspicion ended because it was heard from */
};

struct fd_detector {
    /* Private: use the functions below. */
    struct fd_options opt;
    uint64_t now_ms;            /* latest time passed in */
    uint64_t next_heartbeat_ms; /* when the next round is due */
    size_t n_peers;
    struct fd_peer peers[FD_MAX_PEERS]; /* sorted by id */
};

/* Starts a detector with no peers at time now_ms; the first heartbeat round is
 * due at once. opt is copied.
 * Errors: BATON_EINVAL if opt breaks a rule in struct fd_options (d untouched). */
int fd_init(struct fd_detector *d, const struct fd_options *opt, uint64_t now_ms)
    __attribute__((warn_unused_result));

/* Ends a detector. It owns nothing today; d may be fd_init()ed again afterwards. */
void fd_close(struct fd_detector *d);

/* Starts monitoring peer id at time now_ms: trusted, timeout at opt.timeout_ms,
 * counted as heard at now_ms (it gets one whole timeout to be heard from).
 * Errors: BATON_EINVAL if id is 0, self or already a peer, or now_ms is earlier than
 * a time already passed in; BATON_ECONFIG if FD_MAX_PEERS are monitored already. */
int fd_peer_add(struct fd_detector *d, uint64_t id, uint64_t now_ms)
    __attribute__((warn_unused_result));

/* Stops monitoring peer id and forgets its timeout and stats.
 * Errors: BATON_ENOTFOUND if id is not a peer. */
int fd_peer_remove(struct fd_detector *d, uint64_t id) __attribute__((warn_unused_result));

/* Records an arrival from peer at now_ms. If the peer was suspected, the suspicion
 * was false: the peer is trusted again and its timeout grows (see Rule above).
 * Returns 1 if this ended a suspicion ("trust restored"), 0 if the peer was trusted.
 * Errors: BATON_EINVAL if peer is 0 or self, or now_ms is earlier than a time
 * already passed in; BATON_ENOTFOUND if peer is not monitored (a removed node, a
 * stranger): the host drops the frame. */
int fd_heard(struct fd_detector *d, uint64_t peer, uint64_t now_ms);

/* Advances time to now_ms and suspects every trusted peer not heard from for its
 * timeout. Writes the ids of the newly suspected peers, in ascending order, to
 * newly[0 .. min(count, max)) and returns count (an array of FD_MAX_PEERS never
 * truncates). newly may be NULL when max is 0.
 * Errors: BATON_EINVAL if now_ms is earlier than a time already passed in, or
 * newly is NULL with max > 0. */
int fd_tick(struct fd_detector *d, uint64_t now_ms, uint64_t *newly, size_t max);

/* True if peer is monitored and suspected; false otherwise (not a peer included). */
bool fd_suspected(const struct fd_detector *d, uint64_t peer);

/* The suspect set: writes the suspected peers' ids, ascending, to
 * out[0 .. min(count, max)) and returns count. out may be NULL when max is 0.
 * Errors: BATON_EINVAL if out is NULL with max > 0. */
int fd_suspects(const struct fd_detector *d, uint64_t *out, size_t max);

/* Every monitored peer's id, ascending, to out[0 .. min(count, max)); returns count.
 * Errors: BATON_EINVAL if out is NULL with max > 0. */
int fd_peers(const struct fd_detector *d, uint64_t *out, size_t max);

/* Copies peer's state and stats to *out (caller-owned).
 * Errors: BATON_ENOTFOUND if peer is not monitored (*out untouched). */
int fd_peer_stats(const struct fd_detector *d, uint64_t peer, struct fd_peer *out);

/* True if a heartbeat round to every peer is due at now_ms. */
bool fd_heartbeat_due(const struct fd_detector *d, uint64_t now_ms);

/* The host sent a heartbeat round at now_ms. The next one is due heartbeat_ms
 * after this one was due (a fixed rate), or heartbeat_ms after now_ms if the host
 * sent early or fell a whole period behind (no burst to catch up).
 * Errors: BATON_EINVAL if now_ms is earlier than a time already passed in. */
int fd_heartbeat_sent(struct fd_detector *d, uint64_t now_ms);

/* The earliest time at which the host must act: the next heartbeat round, or the
 * moment a trusted peer's timeout runs out. May lie in the past (act at once). */
uint64_t fd_next_deadline(const struct fd_detector *d);

#endif
