/* batonctl's connection to the cluster: endpoints, and requests answered within a deadline. */
#ifndef BATON_CMD_CTL_CLIENT_H
#define BATON_CMD_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"
#include "net/frame.h"
#include "raft/raft.h"

#define CTL_ENDPOINTS_DEFAULT "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"
#define CTL_ENDPOINTS_MAX 64
#define CTL_ENDPOINT_LEN 256
#define CTL_ATTEMPT_MS 1000

/* A parsed --endpoints list (host:port items; hostnames are resolved at connect). */
struct ctl_endpoints {
    size_t n;
    char v[CTL_ENDPOINTS_MAX][CTL_ENDPOINT_LEN];
};

/* Splits a comma-separated list into out. BATON_EINVAL for an empty list, an
 * empty item, an item without ":port", too long an item or too many items; why
 * says which. */
int ctl_endpoints_parse(const char *list, struct ctl_endpoints *out, char *why, size_t why_len)
    __attribute__((warn_unused_result));

/* Milliseconds on the monotonic clock: deadlines are absolute values of it. */
int64_t ctl_now_ms(void);

enum ctl_call_state { CTL_CALL_IDLE, CTL_CALL_CONNECTING, CTL_CALL_SENDING, CTL_CALL_RECEIVING,
                      CTL_CALL_DONE };

/* One request to one endpoint, on its own TCP connection. After ctl_call_run, err
 * is 0 and resp is the response whose id matched the request's (resp->err is the
 * server's answer, which may itself be an error), or err is the transport's
 * failure (BATON_EUNAVAILABLE cannot connect, BATON_ETIMEDOUT deadline passed,
 * BATON_EIO connection lost, BATON_EMALFORMED or BATON_ETOOBIG bad reply) and why
 * says what happened. env owns resp; ctl_call_close frees both. */
struct ctl_call {
    char endpoint[CTL_ENDPOINT_LEN];
    int err;
    char why[CTL_ENDPOINT_LEN + 256];
    Baton__Envelope *env;
    Baton__ClientResponse *resp;
    /* Private. */
    enum ctl_call_state state;
    int fd;
    uint64_t want_id;
    struct raft_buf out;
    size_t out_off;
    struct net_frame_reader reader;
};

/* Encodes Envelope{request: req} for endpoint (both borrowed, copied during the
 * call). A request that cannot be encoded completes the call at once with err set. */
void ctl_call_init(struct ctl_call *c, const char *endpoint, const Baton__ClientRequest *req);

/* Runs the n calls concurrently until each has its response or failed, or until
 * deadline_ms (ctl_now_ms() clock) passes: calls still open then fail with
 * BATON_ETIMEDOUT. A stopped or hung server therefore costs one deadline, not one
 * per endpoint. */
void ctl_call_run(struct ctl_call *calls, size_t n, int64_t deadline_ms);

void ctl_call_close(struct ctl_call *c);

/* Sends req to the leader: tries the endpoints in turn and follows NOT_LEADER
 * redirects (a follower names the leader's client address), retrying with a short
 * backoff while an election is under way, until deadline_ms. A request is sent
 * again elsewhere only when it certainly was not executed (no connection, or
 * NOT_LEADER), unless idempotent is set: then a silent endpoint is given up after
 * CTL_ATTEMPT_MS and the next one asked. On 0, *c holds the
 * leader's response (resp->err may still be an application error); on failure
 * (BATON_EUNAVAILABLE or BATON_ETIMEDOUT) c->why says why. Either way the caller
 * ctl_call_close()s c; c->endpoint is the endpoint that answered last. */
int ctl_call_leader(const struct ctl_endpoints *eps, const Baton__ClientRequest *req,
                    bool idempotent, int64_t deadline_ms, struct ctl_call *c)
    __attribute__((warn_unused_result));

#endif
