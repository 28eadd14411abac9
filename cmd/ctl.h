/* batonctl internals shared by the command files: context, command table, exit codes. */
#ifndef BATON_CMD_CTL_H
#define BATON_CMD_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_client.h"

/* The documented exit codes (DESIGN.md, "External contract"). */
enum ctl_exit {
    CTL_EXIT_OK = 0,          /* success */
    CTL_EXIT_NO = 1,          /* a definite "no": lock not acquired, check false */
    CTL_EXIT_USAGE = 2,       /* usage error */
    CTL_EXIT_UNAVAILABLE = 3, /* cluster unavailable or timed out: outcome unknown */
    CTL_EXIT_NOTFOUND = 4,    /* not found or expired */
};

#define CTL_TIMEOUT_DEFAULT_MS 5000

struct ctl_command;

/* What every command runs with: the global flags, resolved once in main. */
struct ctl_ctx {
    struct ctl_endpoints endpoints;
    bool json;
    int64_t timeout_ms;
    int64_t deadline_ms; /* ctl_now_ms() at start + timeout_ms */
    uint64_t next_id;
    const struct ctl_command *cmd;
};

/* One row of the command table. run gets the words after "GROUP NAME" and returns
 * an exit code. */
struct ctl_command {
    const char *group;
    const char *name;
    const char *args;    /* synopsis of the arguments, "" if none */
    const char *summary; /* one line for --help */
    int (*run)(struct ctl_ctx *ctx, int argc, char **argv);
};

/* Prints "batonctl: <message>" and the command's synopsis to stderr; returns
 * CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit code for a BATON_E* code, from a server or from the transport. */
int ctl_exit_for_err(int err);

/* A fresh request id for this invocation. */
uint64_t ctl_request_id(struct ctl_ctx *ctx);

/* Writes key=value to out, quoting value as a JSON string when it holds anything
 * but [A-Za-z0-9._:/,-] (so a line stays one line and splits on spaces). */
void ctl_print_kv(FILE *out, const char *key, const char *value);

/* cluster status | health | members (ctl_cluster.c). */
int ctl_cluster_status(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cluster_health(struct ctl_ctx *ctx, int argc, char **argv);
int ctl_cluster_members(struct ctl_ctx *ctx, int argc, char **argv);

#endif
