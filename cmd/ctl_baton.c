/* batonctl over libbaton: the command's loop and client, awaited calls, errors and flags. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_baton.h"

uv_loop_t *ctl_loop(void)
{
    static uv_loop_t loop;
    static bool ready;
    if (!ready) {
        if (uv_loop_init(&loop) != 0) {
            fprintf(stderr, "batonctl: cannot start an event loop\n");
            exit(CTL_EXIT_UNAVAILABLE);
        }
        ready = true;
    }
    return &loop;
}

uint64_t ctl_left_ms(const struct ctl_ctx *ctx)
{
    int64_t left = ctx->deadline_ms - ctl_now_ms();
    return left > 0 ? (uint64_t)left : 1;
}

int ctl_baton_open(struct ctl_ctx *ctx, const char *endpoints, struct ctl_baton *b)
{
    char list[CTL_ENDPOINTS_MAX * (CTL_ENDPOINT_LEN + 1)];
    size_t off = 0;
    memset(b, 0, sizeof(*b));
    b->ctx = ctx;
    b->loop = ctl_loop();
    if (endpoints == NULL) {
        list[0] = '\0';
        for (size_t i = 0; i < ctx->endpoints.n; i++) {
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? "," : "",
                                    ctx->endpoints.v[i]);
        }
        endpoints = list;
    }
    /* libuv writes to sockets without MSG_NOSIGNAL: a node that closed its end
     * must cost an error, not the process. */
    signal(SIGPIPE, SIG_IGN);
    struct baton_options opt;
    baton_options_init(&opt);
    opt.timeout_ms = (uint64_t)ctx->timeout_ms;
    /* As the CLI's own status calls: a silent node is given up after a second. */
    opt.attempt_timeout_ms = CTL_ATTEMPT_MS;
    int rv = baton_async_new(b->loop, endpoints, &opt, &b->client);
    if (rv == BATON_EINVAL) {
        return ctl_usage_error(NULL, "bad endpoints '%s': the lease, lock and counter "
                                     "commands take IPv4:PORT, [IPv6]:PORT or localhost:PORT",
                               endpoints);
    }
    if (rv != 0) {
        return ctl_report(rv, NULL, CTL_EXIT_UNAVAILABLE, "cannot start a client");
    }
    return 0;
}

static void client_closed_cb(void *arg)
{
    *(bool *)arg = true;
}

void ctl_baton_close(struct ctl_baton *b)
{
    if (b->client == NULL) {
        return;
    }
    bool closed = false;
    baton_async_close(b->client, client_closed_cb, &closed);
    b->client = NULL;
    while (!closed) {
        uv_run(b->loop, UV_RUN_ONCE);
    }
}

void ctl_answer_init(struct ctl_answer *a)
{
    memset(a, 0, sizeof(*a));
}

void ctl_answer_clear(struct ctl_answer *a)
{
    free(a->res.lock.waiters);
    baton_lease_list_free(a->res.leases);
    baton_cluster_members_free(a->res.members);
    ctl_answer_init(a);
}

/* Copies the arrays of res (borrowed, valid only in the callback) into a. */
static int keep_arrays(struct ctl_answer *a, const struct baton_result *res)
{
    if (res->lock.n_waiters > 0) {
        a->res.lock.waiters = malloc(res->lock.n_waiters * sizeof(uint64_t));
        if (a->res.lock.waiters == NULL) {
            return BATON_ENOMEM;
        }
        memcpy(a->res.lock.waiters, res->lock.waiters, res->lock.n_waiters * sizeof(uint64_t));
    }
    if (baton_lease_list_copy(res->leases, res->n_leases, &a->res.leases) != 0) {
        return BATON_ENOMEM;
    }
    if (res->n_members > 0) {
        a->res.members = malloc(res->n_members * sizeof(*res->members));
        if (a->res.members == NULL) {
            return BATON_ENOMEM;
        }
        memcpy(a->res.members, res->members, res->n_members * sizeof(*res->members));
    }
    return 0;
}

void ctl_answer_cb(int err, const struct baton_result *res, void *arg)
{
    struct ctl_answer *a = arg;
    a->done = true;
    a->err = err;
    a->res = *res;
    snprintf(a->msg, sizeof(a->msg), "%s", res->message ? res->message : "");
    a->res.message = a->msg;
    a->res.lock.waiters = NULL;
    a->res.leases = NULL;
    a->res.members = NULL;
    if (err == 0 && keep_arrays(a, res) != 0) {
        a->err = BATON_ENOMEM;
        snprintf(a->msg, sizeof(a->msg), "%s", baton_strerror(BATON_ENOMEM));
    }
}

int ctl_baton_wait(struct ctl_baton *b, struct ctl_answer *a, int rv)
{
    if (rv != 0) {
        a->done = true;
        a->err = rv;
        return rv;
    }
    while (!a->done) {
        uv_run(b->loop, UV_RUN_ONCE);
    }
    return a->err;
}

int ctl_baton_call(struct ctl_ctx *ctx, ctl_start_fn start, const void *args,
                   struct ctl_answer *a, int (*exit_for)(int err), const char *what)
{
    struct ctl_baton b;
    ctl_answer_init(a);
    int rv = ctl_baton_open(ctx, NULL, &b);
    if (rv != 0) {
        return rv;
    }
    rv = ctl_baton_wait(&b, a, start(b.client, ctl_left_ms(ctx), args, a));
    ctl_baton_close(&b);
    if (rv != 0) {
        return ctl_report(rv, a->msg, exit_for ? exit_for(rv) : ctl_exit_for_err(rv), "%s",
                          what);
    }
    return 0;
}

void ctl_out_begin(struct ctl_out *o, const struct ctl_ctx *ctx)
{
    o->json = ctx->json;
    o->first = true;
    if (o->json) {
        ctl_json_init(&o->j, stdout);
        ctl_json_obj_begin(&o->j, NULL);
    }
}

static void out_key(struct ctl_out *o, const char *key)
{
    printf("%s%s=", o->first ? "" : " ", key);
    o->first = false;
}

void ctl_out_u64(struct ctl_out *o, const char *key, uint64_t v)
{
    if (o->json) {
        ctl_json_u64(&o->j, key, v);
    } else {
        out_key(o, key);
        printf("%llu", (unsigned long long)v);
    }
}

void ctl_out_str(struct ctl_out *o, const char *key, const char *v)
{
    if (o->json) {
        ctl_json_str(&o->j, key, v);
    } else {
        fputs(o->first ? "" : " ", stdout);
        o->first = false;
        ctl_print_kv(stdout, key, v);
    }
}

void ctl_out_bool(struct ctl_out *o, const char *key, bool v)
{
    if (o->json) {
        ctl_json_bool(&o->j, key, v);
    } else {
        out_key(o, key);
        fputs(v ? "true" : "false", stdout);
    }
}

void ctl_out_end(struct ctl_out *o)
{
    if (o->json) {
        ctl_json_obj_end(&o->j);
        ctl_json_finish(&o->j);
    } else {
        if (!o->first) {
            fputc('\n', stdout);
        }
        fflush(stdout);
    }
}

int ctl_report(int err, const char *why, int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("batonctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s", baton_strerror(err));
    /* libbaton's why often repeats the error's own name: print it only if it
     * adds something. */
    if (why != NULL && why[0] != '\0' && strcmp(why, baton_strerror(err)) != 0) {
        fprintf(stderr, " (%s)", why);
    }
    if (err == BATON_ETIMEDOUT || err == BATON_ECANCELED) {
        fputs("; outcome unknown: the cluster may or may not have done it", stderr);
    }
    fputc('\n', stderr);
    return exit_code;
}

bool ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < min || v > max) {
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/* Matches argv[*i] against flag f: 1 matched (value taken), 0 not this flag,
 * or CTL_EXIT_USAGE after printing why. */
static int match_flag(const struct ctl_ctx *ctx, int argc, char **argv, int *i,
                      const struct ctl_flag *f)
{
    size_t n = strlen(f->name);
    const char *a = argv[*i];
    if (strncmp(a, f->name, n) != 0 || (a[n] != '\0' && a[n] != '=')) {
        return 0;
    }
    if (f->value == NULL) {
        if (a[n] == '=') {
            return ctl_usage_error(ctx, "%s takes no value", f->name);
        }
        *f->seen = true;
        return 1;
    }
    const char *v = a[n] == '=' ? a + n + 1 : NULL;
    if (v == NULL) {
        if (*i + 1 >= argc) {
            return ctl_usage_error(ctx, "%s needs a value", f->name);
        }
        v = argv[++*i];
    }
    if (!ctl_parse_u64(v, f->min, f->max, f->value)) {
        return ctl_usage_error(ctx, "%s wants a number from %llu to %llu, got '%s'", f->name,
                               (unsigned long long)f->min, (unsigned long long)f->max, v);
    }
    if (f->seen != NULL) {
        *f->seen = true;
    }
    return 1;
}

int ctl_args(const struct ctl_ctx *ctx, int argc, char **argv, const struct ctl_flag *flags,
             size_t n_flags, char **pos, int min_pos, int max_pos, int *n_pos, int *rest)
{
    *n_pos = 0;
    if (rest != NULL) {
        *rest = -1;
    }
    for (int i = 0; i < argc; i++) {
        if (rest != NULL && strcmp(argv[i], "--") == 0) {
            *rest = i + 1;
            break;
        }
        int m = 0;
        for (size_t k = 0; k < n_flags && m == 0; k++) {
            m = match_flag(ctx, argc, argv, &i, &flags[k]);
        }
        if (m == CTL_EXIT_USAGE) {
            return m;
        }
        if (m == 1) {
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return ctl_usage_error(ctx, "unknown flag '%s'", argv[i]);
        }
        if (*n_pos == max_pos) {
            return ctl_usage_error(ctx, "unexpected argument '%s'", argv[i]);
        }
        pos[(*n_pos)++] = argv[i];
    }
    if (*n_pos < min_pos) {
        return ctl_usage_error(ctx, "missing argument%s", min_pos - *n_pos > 1 ? "s" : "");
    }
    return 0;
}
