/* batonctl lease grant|keepalive|revoke|list: leases by hand, for scripts holding locks. */
#include <stdio.h>
#include <string.h>

#include "ctl_baton.h"

static int start_grant(struct baton_async *c, uint64_t timeout_ms, const void *args,
                       struct ctl_answer *a)
{
    return baton_async_lease_grant(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

static int start_keepalive(struct baton_async *c, uint64_t timeout_ms, const void *args,
                           struct ctl_answer *a)
{
    return baton_async_lease_keepalive(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

static int start_revoke(struct baton_async *c, uint64_t timeout_ms, const void *args,
                        struct ctl_answer *a)
{
    return baton_async_lease_revoke(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

/* The one numeric argument of a lease command (TTL_MS or ID), at least 1. */
static int one_number(struct ctl_ctx *ctx, int argc, char **argv, const char *what,
                      uint64_t *out)
{
    char *pos[1];
    int n_pos;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 1, 1, &n_pos, NULL);
    if (rv == 0 && !ctl_parse_u64(pos[0], 1, UINT64_MAX, out)) {
        rv = ctl_usage_error(ctx, "%s wants a positive number, got '%s'", what, pos[0]);
    }
    return rv;
}

int ctl_lease_grant(struct ctl_ctx *ctx, int argc, char **argv)
{
    uint64_t ttl;
    struct ctl_answer a;
    struct ctl_out o;
    int rv = one_number(ctx, argc, argv, "TTL_MS", &ttl);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_grant, &ttl, &a, NULL, "lease grant");
    }
    if (rv == 0) {
        ctl_out_begin(&o, ctx);
        ctl_out_u64(&o, "lease", a.res.lease.id);
        ctl_out_u64(&o, "ttl_ms", a.res.lease.ttl_ms);
        ctl_out_end(&o);
    }
    return rv;
}

int ctl_lease_keepalive(struct ctl_ctx *ctx, int argc, char **argv)
{
    uint64_t id;
    struct ctl_answer a;
    struct ctl_out o;
    int rv = one_number(ctx, argc, argv, "ID", &id);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_keepalive, &id, &a, NULL, "lease keepalive");
    }
    if (rv == 0) {
        ctl_out_begin(&o, ctx);
        if (ctx->json) {
            ctl_out_u64(&o, "lease", id);
        }
        ctl_out_u64(&o, "ttl_ms", a.res.lease.ttl_ms);
        ctl_out_end(&o);
    }
    return rv;
}

/* Prints nothing on success (a JSON object with --json). */
int ctl_lease_revoke(struct ctl_ctx *ctx, int argc, char **argv)
{
    uint64_t id;
    struct ctl_answer a;
    struct ctl_out o;
    int rv = one_number(ctx, argc, argv, "ID", &id);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_revoke, &id, &a, NULL, "lease revoke");
    }
    if (rv == 0 && ctx->json) {
        ctl_out_begin(&o, ctx);
        ctl_out_u64(&o, "lease", id);
        ctl_out_bool(&o, "revoked", true);
        ctl_out_end(&o);
    }
    return rv;
}

static int start_list(struct baton_async *c, uint64_t timeout_ms, const void *args,
                      struct ctl_answer *a)
{
    return baton_async_lease_list(c, timeout_ms, ctl_answer_cb, a);
}

/* A lock name that can stand unquoted in a comma-separated list. */
static bool plain_name(const char *s)
{
    if (s[0] == '\0' || strcmp(s, "-") == 0) {
        return false; /* "-" alone means "none" */
    }
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr("._:/-", *p) != NULL;
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* " key=a,b,c", "-" for none; a name with a comma, a space or anything unusual
 * is written as a JSON string, so a line always splits on spaces and commas. */
static void print_names(const char *key, char *const *names, size_t n)
{
    printf(" %s=", key);
    if (n == 0) {
        fputc('-', stdout);
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            fputc(',', stdout);
        }
        if (plain_name(names[i])) {
            fputs(names[i], stdout);
        } else {
            ctl_json_write_string(stdout, names[i]);
        }
    }
}

static void json_names(struct ctl_json *j, const char *key, char *const *names, size_t n)
{
    ctl_json_arr_begin(j, key);
    for (size_t i = 0; i < n; i++) {
        ctl_json_str(j, NULL, names[i]);
    }
    ctl_json_arr_end(j);
}

static void json_leases(const struct baton_result *res)
{
    struct ctl_json j;
    ctl_json_init(&j, stdout);
    ctl_json_obj_begin(&j, NULL);
    ctl_json_arr_begin(&j, "leases");
    for (size_t i = 0; i < res->n_leases; i++) {
        const struct baton_lease_entry *e = &res->leases[i];
        ctl_json_obj_begin(&j, NULL);
        ctl_json_u64(&j, "lease", e->id);
        ctl_json_u64(&j, "ttl_ms", e->ttl_ms);
        ctl_json_u64(&j, "remaining_ms", e->remaining_ms);
        json_names(&j, "locks", e->locks, e->n_locks);
        json_names(&j, "waits", e->waits, e->n_waits);
        ctl_json_obj_end(&j);
    }
    ctl_json_arr_end(&j);
    ctl_json_obj_end(&j);
    ctl_json_finish(&j);
}

/* One line per live lease (nothing when there is none), or {"leases":[...]}. */
int ctl_lease_list(struct ctl_ctx *ctx, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 0, 0, &n_pos, NULL);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_list, NULL, &a, NULL, "lease list");
    }
    if (rv != 0) {
        return rv;
    }
    if (ctx->json) {
        json_leases(&a.res);
    } else {
        for (size_t i = 0; i < a.res.n_leases; i++) {
            const struct baton_lease_entry *e = &a.res.leases[i];
            printf("lease=%llu ttl_ms=%llu remaining_ms=%llu", (unsigned long long)e->id,
                   (unsigned long long)e->ttl_ms, (unsigned long long)e->remaining_ms);
            print_names("locks", e->locks, e->n_locks);
            print_names("waits", e->waits, e->n_waits);
            fputc('\n', stdout);
        }
        fflush(stdout);
    }
    ctl_answer_clear(&a);
    return CTL_EXIT_OK;
}
