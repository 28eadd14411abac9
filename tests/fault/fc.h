/* fault_client: the libbaton workloads, monitor and probes of the fault-injection suite. */
#ifndef BATON_FAULT_FC_H
#define BATON_FAULT_FC_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "baton/baton.h"

/*
 * Every subcommand that records a history writes one line per event to a file of
 * its own:
 *
 *     <t_ns> <client> <event> key=value ...
 *
 * t_ns is CLOCK_MONOTONIC in nanoseconds, the clock that the harness (Python's
 * time.monotonic_ns()), every other client and batond itself read, so the lines of
 * all files can be merged into one order. Values never contain spaces. An
 * operation is two lines, "invoke id=N op=OP ..." before the call and
 * "done id=N op=OP err=NAME ..." after it (err=OK on success); the harness decides
 * which errors are definite and which leave the outcome unknown. Other events
 * (hold, unhold, lost, write, pause, resume) are single lines, described where
 * they are written. Each line is flushed as it is written, so a client that is
 * killed loses nothing it recorded.
 */

/* Options shared by the workloads (fault_client --help lists them). */
struct fc_opts {
    const char *endpoints;
    const char *client;   /* name in the history */
    const char *history;  /* file */
    const char *lock;
    const char *names;    /* counter-read: comma-separated names */
    const char *name;     /* burst: the counter checked afterwards */
    const char *plant;    /* lock: "ignore-lease" */
    double seconds;       /* how long the workload runs; 0 = until SIGTERM */
    uint64_t seed;
    uint64_t ttl_ms;
    uint64_t wait_ms;
    uint64_t timeout_ms;
    uint64_t interval_ms;
    uint64_t count;
    int register_port;
    int pause_first;      /* lock: pause in this hold (1-based; 0 = never) */
    int pause_every;      /* lock: and in every pause_every-th hold after it */
};

/* A history file shared by the threads of one process. */
struct fc_hist {
    FILE *f;
    pthread_mutex_t mu;
    char client[64];
    uint64_t next_id;
};

/* Set by SIGTERM and SIGINT: workloads finish the operation under way and exit. */
extern volatile sig_atomic_t fc_stop;

int64_t fc_now_ns(void);
void fc_sleep_ms(uint64_t ms);
/* The name of a BATON_E* code ("OK" for 0), for history lines. */
const char *fc_err_name(int err);
/* xorshift64*: the workloads' own choices (never rand(), which is shared). */
uint64_t fc_rand(uint64_t *state);
uint64_t fc_rand_range(uint64_t *state, uint64_t lo, uint64_t hi);
/* True once the workload should end: fc_stop, or its time is up. */
bool fc_done(int64_t end_ns);
int64_t fc_end_ns(const struct fc_opts *o);
/* Client options tuned for a cluster under faults: short attempts, quick retries. */
void fc_client_options(struct baton_options *opt, uint64_t timeout_ms);

int fc_hist_open(struct fc_hist *h, const char *path, const char *client)
    __attribute__((warn_unused_result));
void fc_hist_close(struct fc_hist *h);
/* Writes "<t_ns> <client> <event> <fmt...>" and flushes. */
void fc_hist_event(struct fc_hist *h, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the invoke line of a new operation and returns its id. */
uint64_t fc_hist_invoke(struct fc_hist *h, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the done line of operation id. */
void fc_hist_done(struct fc_hist *h, uint64_t id, const char *op, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The subcommands; each returns the process's exit status. */
int fc_cmd_lock(const struct fc_opts *o);
int fc_cmd_lease(const struct fc_opts *o);
int fc_cmd_counter(const struct fc_opts *o);
int fc_cmd_counter_read(const struct fc_opts *o);
int fc_cmd_burst(const struct fc_opts *o);
int fc_cmd_monitor(const struct fc_opts *o);
int fc_cmd_probe(const struct fc_opts *o);

#endif
