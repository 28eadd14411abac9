/* batonctl counter incr|get: G-Counters, answered by whichever node is asked (or all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_baton.h"

struct counter_args {
    const char *name;
    uint64_t n;
};

static int start_incr(struct baton_async *c, uint64_t timeout_ms, const void *args,
                      struct ctl_answer *a)
{
    const struct counter_args *k = args;
    return baton_async_counter_incr(c, k->name, k->n, timeout_ms, ctl_answer_cb, a);
}

static int start_get(struct baton_async *c, uint64_t timeout_ms, const void *args,
                     struct ctl_answer *a)
{
    const struct counter_args *k = args;
    return baton_async_counter_get(c, k->name, timeout_ms, ctl_answer_cb, a);
}

/* EOVERFLOW is a definite "no": the counter is at its limit and nothing changed. */
static int counter_exit(int err)
{
    return err == BATON_EOVERFLOW ? CTL_EXIT_NO : ctl_exit_for_err(err);
}

int ctl_counter_incr(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct counter_args k = {NULL, 1};
    char *pos[2];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 1, 2, &n_pos, NULL);
    if (rv == 0 && n_pos == 2 && !ctl_parse_u64(pos[1], 1, UINT64_MAX, &k.n)) {
        rv = ctl_usage_error(ctx, "N wants a positive number, got '%s'", pos[1]);
    }
    if (rv != 0) {
        return rv;
    }
    k.name = pos[0];
    if ((rv = ctl_baton_call(ctx, start_incr, &k, &a, counter_exit, "counter incr")) != 0) {
        return rv;
    }
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    ctl_out_u64(&o, "value", a.res.counter.value);
    ctl_out_end(&o);
    return CTL_EXIT_OK;
}

/* counter get --all: every endpoint asked at once, each through a client of its
 * own that never leaves it. */
struct node_read {
    struct ctl_baton b;
    struct ctl_answer a;
    int open_rv;
};

static void print_all(struct ctl_ctx *ctx, const char *name, const struct node_read *r, size_t n,
                      size_t answered, uint64_t min, uint64_t max)
{
    struct ctl_out o;
    if (ctx->json) {
        ctl_out_begin(&o, ctx);
        ctl_out_str(&o, "name", name);
        ctl_json_arr_begin(&o.j, "nodes");
    }
    for (size_t i = 0; i < n; i++) {
        /* JSON: one object in the nodes array; text: one line per node. */
        struct ctl_out line, *w = &o;
        if (ctx->json) {
            ctl_json_obj_begin(&o.j, NULL);
        } else {
            ctl_out_begin(&line, ctx);
            w = &line;
        }
        ctl_out_str(w, "endpoint", ctx->endpoints.v[i]);
        if (r[i].a.err == 0) {
            ctl_out_u64(w, "node", r[i].a.res.counter.node);
            ctl_out_u64(w, "value", r[i].a.res.counter.value);
        } else {
            const char *e = baton_strerror(r[i].a.err), *m = r[i].a.msg;
            bool same = m[0] == '\0' || strcmp(m, e) == 0;
            char why[600];
            snprintf(why, sizeof(why), "%s%s%s", e, same ? "" : ": ", same ? "" : m);
            ctl_out_str(w, "error", why);
        }
        if (ctx->json) {
            ctl_json_obj_end(&o.j);
        } else {
            ctl_out_end(&line);
        }
    }
    if (!ctx->json) {
        ctl_out_begin(&o, ctx);
    } else {
        ctl_json_arr_end(&o.j);
    }
    ctl_out_u64(&o, "answered", answered);
    ctl_out_u64(&o, "asked", n);
    if (answered > 0) {
        ctl_out_u64(&o, "min", min);
        ctl_out_u64(&o, "max", max);
        ctl_out_u64(&o, "spread", max - min);
    }
    ctl_out_end(&o);
}

static int get_all(struct ctl_ctx *ctx, const struct counter_args *k)
{
    size_t n = ctx->endpoints.n, answered = 0;
    uint64_t min = UINT64_MAX, max = 0;
    struct node_read *r = calloc(n, sizeof(*r));
    if (r == NULL) {
        return ctl_report(BATON_ENOMEM, NULL, CTL_EXIT_UNAVAILABLE, "counter get");
    }
    for (size_t i = 0; i < n; i++) {
        ctl_answer_init(&r[i].a);
        r[i].open_rv = ctl_baton_open(ctx, ctx->endpoints.v[i], &r[i].b);
        if (r[i].open_rv != 0) {
            r[i].a.done = true;
            r[i].a.err = BATON_EINVAL;
            continue;
        }
        int rv = start_get(r[i].b.client, ctl_left_ms(ctx), k, &r[i].a);
        if (rv != 0) {
            r[i].a.done = true;
            r[i].a.err = rv;
        }
    }
    for (size_t i = 0; i < n; i++) {
        while (!r[i].a.done) {
            uv_run(ctl_loop(), UV_RUN_ONCE);
        }
    }
    for (size_t i = 0; i < n; i++) {
        ctl_baton_close(&r[i].b);
        if (r[i].a.err == 0) {
            uint64_t v = r[i].a.res.counter.value;
            answered++;
            min = v < min ? v : min;
            max = v > max ? v : max;
        }
    }
    print_all(ctx, k->name, r, n, answered, min, max);
    /* A bad endpoint is a usage error; an unreachable node makes the answer
     * incomplete (3); otherwise a node's final error (an overflowed counter) is
     * the exit code. */
    int code = CTL_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        int c = r[i].open_rv != 0 ? r[i].open_rv : counter_exit(r[i].a.err);
        if (c == CTL_EXIT_USAGE || (c == CTL_EXIT_UNAVAILABLE && code != CTL_EXIT_USAGE) ||
            code == CTL_EXIT_OK) {
            code = c;
        }
    }
    free(r);
    if (answered < n) {
        fprintf(stderr, "batonctl: counter get --all: %zu of %zu nodes answered\n", answered, n);
    }
    return code;
}

int ctl_counter_get(struct ctl_ctx *ctx, int argc, char **argv)
{
    struct counter_args k = {NULL, 0};
    bool all = false;
    const struct ctl_flag flags[] = {{"--all", NULL, 0, 0, &all}};
    char *pos[1];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, flags, 1, pos, 1, 1, &n_pos, NULL);
    if (rv != 0) {
        return rv;
    }
    k.name = pos[0];
    if (all) {
        return get_all(ctx, &k);
    }
    if ((rv = ctl_baton_call(ctx, start_get, &k, &a, counter_exit, "counter get")) != 0) {
        return rv;
    }
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    ctl_out_u64(&o, "value", a.res.counter.value);
    if (ctx->json) {
        ctl_out_u64(&o, "node", a.res.counter.node);
    }
    ctl_out_end(&o);
    return CTL_EXIT_OK;
}
