/* batonctl over libbaton: one async client on the command's own uv loop, calls awaited in turn. */
#ifndef BATON_CMD_CTL_BATON_H
#define BATON_CMD_CTL_BATON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "baton/baton.h"
#include "ctl.h"
#include "ctl_json.h"

/* The lease, lock and counter commands talk to the cluster through libbaton's
 * async API on a loop of their own, so that a command can also watch a child
 * process and signals (lock exec) and keep the cluster's explanation of an error
 * (the blocking API drops it). */
struct ctl_baton {
    struct ctl_ctx *ctx; /* borrowed */
    uv_loop_t *loop;     /* borrowed: ctl_loop() */
    struct baton_async *client;
};

/* The answer to one call, copied out of its callback: lock.waiters, leases and
 * members are malloc'd (free with ctl_answer_clear), message is kept in msg. */
struct ctl_answer {
    bool done;
    int err;
    struct baton_result res;
    char msg[512];
};

/* The command's loop (one per process, initialized on first use). */
uv_loop_t *ctl_loop(void);

/* Opens a client for endpoints (NULL: every --endpoints item) with the command's
 * --timeout as its default deadline. BATON_EINVAL (with a message) for an
 * endpoint libbaton does not take (it wants IPv4:port, [IPv6]:port or
 * localhost:port). */
int ctl_baton_open(struct ctl_ctx *ctx, const char *endpoints, struct ctl_baton *b)
    __attribute__((warn_unused_result));

/* Closes b's client and runs the loop until it is freed. */
void ctl_baton_close(struct ctl_baton *b);

void ctl_answer_init(struct ctl_answer *a);
void ctl_answer_clear(struct ctl_answer *a);
/* A baton_cb that fills the struct ctl_answer arg. */
void ctl_answer_cb(int err, const struct baton_result *res, void *arg);

/* Waits for the call that started with rv (its return value): if rv is an error
 * the callback never runs and rv is returned; otherwise the loop runs until a is
 * done, and a->err is returned. */
int ctl_baton_wait(struct ctl_baton *b, struct ctl_answer *a, int rv);

/* Starts one async call on c with timeout_ms and the command's arguments args,
 * answering to ctl_answer_cb(a); returns what the baton_async_* call returned. */
typedef int (*ctl_start_fn)(struct baton_async *c, uint64_t timeout_ms, const void *args,
                            struct ctl_answer *a);

/* One call from start to answer: opens a client on every endpoint, starts the
 * call with the time left, waits, closes. Returns 0 with the answer in a, or an
 * exit code (exit_for(err), or ctl_exit_for_err when NULL) after printing
 * "batonctl: WHAT: <error>" to stderr. a is ctl_answer_init'ed here. */
int ctl_baton_call(struct ctl_ctx *ctx, ctl_start_fn start, const void *args,
                   struct ctl_answer *a, int (*exit_for)(int err), const char *what)
    __attribute__((warn_unused_result));

/* A command's one-line result, the same fields either way: "k=v k=v" lines by
 * default, one JSON object with --json. */
struct ctl_out {
    bool json;
    bool first;
    struct ctl_json j;
};
void ctl_out_begin(struct ctl_out *o, const struct ctl_ctx *ctx);
void ctl_out_u64(struct ctl_out *o, const char *key, uint64_t v);
void ctl_out_str(struct ctl_out *o, const char *key, const char *v);
void ctl_out_bool(struct ctl_out *o, const char *key, bool v);
void ctl_out_end(struct ctl_out *o);

/* Milliseconds left until the command's deadline (at least 1). */
uint64_t ctl_left_ms(const struct ctl_ctx *ctx);

/* Prints "batonctl: WHAT: <error>[: <the cluster's or library's why>]" to stderr,
 * and for BATON_ETIMEDOUT that the outcome is unknown; returns exit_code. */
int ctl_report(int err, const char *why, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Command-line flags of a command. A flag with a value is "--name V" or
 * "--name=V" and sets *value (a decimal in [min, max]); a flag without one
 * (value NULL) only sets *seen. */
struct ctl_flag {
    const char *name;
    uint64_t *value;
    uint64_t min, max;
    bool *seen;
};

/* Splits argv into flags and positional words (at most max_pos, stored in pos).
 * With rest non-NULL, "--" ends the flags and *rest is the index of the first
 * word after it (argc when there is none; -1 when there was no "--"). Returns 0
 * or CTL_EXIT_USAGE after printing why. */
int ctl_args(const struct ctl_ctx *ctx, int argc, char **argv, const struct ctl_flag *flags,
             size_t n_flags, char **pos, int min_pos, int max_pos, int *n_pos, int *rest)
    __attribute__((warn_unused_result));

/* Parses a decimal uint64 in [min, max] ("0x", signs and trailing junk refused). */
bool ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* lease grant | keepalive | revoke | list (ctl_lease.c). */
int ctl_lease_grant(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_lease_list(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_lease_keepalive(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_lease_revoke(struct ctl_ctx *ctx, int argc, char **argv);

/* lock acquire | release | inspect | check (ctl_lock.c), exec (ctl_lock_exec.c). */
int ctl_lock_acquire(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_lock_release(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_lock_inspect(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_lock_check(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_lock_exec(struct ctl_ctx *ctx, int argc, char **argv);

/* cluster add | remove | transfer (ctl_member.c). */
int ctl_cluster_add(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cluster_remove(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cluster_transfer(struct ctl_ctx *ctx, int argc, char **argv);

/* counter incr | get (ctl_counter.c). */
int ctl_counter_incr(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_counter_get(struct ctl_ctx *ctx, int argc, char **argv);

#endif
