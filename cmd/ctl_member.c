/* batonctl cluster add|remove|transfer: membership changes and leadership transfer, by the leader. */
#include <stdio.h>
#include <string.h>

#include "baton/error.h"
#include "ctl_baton.h"
#include "net/addr.h"

/* A Raft configuration holds at most this many members (RAFT_MAX_SERVERS). */
#define MEMBERS_MAX 16

/* The exit code of a membership command's error: the cluster's definite refusals
 * (a change in progress, a conflict, a configuration that does not allow it, a
 * transfer target that did not catch up) are 1; unknown ids 4; bad arguments 2;
 * the rest (unavailable, timed out: outcome unknown) 3. */
static int member_exit(int err)
{
    switch (err) {
    case BATON_EBUSY:
    case BATON_EEXIST:
    case BATON_ECONFIG:
    case BATON_ELAGGING:
        return CTL_EXIT_NO;
    default:
        return ctl_exit_for_err(err);
    }
}

struct add_args {
    uint64_t id;
    const char *peer;
    const char *client;
};

static int start_add(struct baton_async *c, uint64_t timeout_ms, const void *args,
                     struct ctl_answer *a)
{
    const struct add_args *x = args;
    return baton_async_member_add(c, x->id, x->peer, x->client, timeout_ms, ctl_answer_cb, a);
}

static int start_remove(struct baton_async *c, uint64_t timeout_ms, const void *args,
                        struct ctl_answer *a)
{
    return baton_async_member_remove(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

static int start_transfer(struct baton_async *c, uint64_t timeout_ms, const void *args,
                          struct ctl_answer *a)
{
    return baton_async_leader_transfer(c, *(const uint64_t *)args, timeout_ms, ctl_answer_cb, a);
}

static int parse_id(struct ctl_ctx *ctx, const char *s, uint64_t *id)
{
    if (!ctl_parse_u64(s, 1, UINT64_MAX, id)) {
        return ctl_usage_error(ctx, "ID wants a member id (a positive number), got '%s'", s);
    }
    return 0;
}

static int parse_addr(struct ctl_ctx *ctx, const char *what, const char *s)
{
    struct sockaddr_storage ss;
    if (strlen(s) >= BATON_ADDR_MAX || net_addr_parse(s, &ss) != 0) {
        return ctl_usage_error(ctx, "%s wants IPv4:PORT, [IPv6]:PORT or localhost:PORT, got '%s'",
                               what, s);
    }
    return 0;
}

static const struct baton_member *find_member(const struct baton_result *res, uint64_t id)
{
    for (size_t i = 0; i < res->n_members; i++) {
        if (res->members[i].id == id) {
            return &res->members[i];
        }
    }
    return NULL;
}

/* "ID=PEER/CLIENT,..." of every member: batond's --initial-cluster for a new one. */
static void initial_cluster(const struct baton_result *res, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < res->n_members && off < len; i++) {
        const struct baton_member *m = &res->members[i];
        off += (size_t)snprintf(out + off, len - off, "%s%llu=%s/%s", i ? "," : "",
                                (unsigned long long)m->id, m->peer_addr, m->client_addr);
    }
}

/* etcdctl member add prints the settings the new member must start with; so do we,
 * on stderr so that stdout stays one line of fields. */
static void print_join_hint(const struct add_args *x, const struct ctl_answer *a,
                            const char *cluster_id, const char *initial)
{
    if (a->res.message != NULL && a->res.message[0] != '\0') {
        fprintf(stderr, "batonctl: %s\n", a->res.message);
    }
    fprintf(stderr,
            "batonctl: start node %llu with:\n"
            "  batond --id %llu --join --cluster-id %s --data-dir DIR \\\n"
            "    --initial-cluster %s\n",
            (unsigned long long)x->id, (unsigned long long)x->id, cluster_id, initial);
}

/* cluster add ID PEER_ADDR CLIENT_ADDR -> id= peer= client= role= index= cluster_id= */
int ctl_cluster_add(struct ctl_ctx *ctx, int argc, char **argv)
{
    char *pos[3];
    int n_pos;
    struct add_args x;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 3, 3, &n_pos, NULL);
    if (rv == 0) {
        rv = parse_id(ctx, pos[0], &x.id);
    }
    if (rv == 0) {
        rv = parse_addr(ctx, "PEER_ADDR", pos[1]);
    }
    if (rv == 0) {
        rv = parse_addr(ctx, "CLIENT_ADDR", pos[2]);
    }
    if (rv != 0) {
        return rv;
    }
    x.peer = pos[1];
    x.client = pos[2];
    rv = ctl_baton_call(ctx, start_add, &x, &a, member_exit, "cluster add");
    if (rv != 0) {
        return rv;
    }
    const struct baton_member *m = find_member(&a.res, x.id);
    char cluster_id[24], initial[MEMBERS_MAX * (2 * BATON_ADDR_MAX + 24)];
    snprintf(cluster_id, sizeof(cluster_id), "%016llx", (unsigned long long)a.res.change.cluster_id);
    initial_cluster(&a.res, initial, sizeof(initial));
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    ctl_out_u64(&o, "id", x.id);
    ctl_out_str(&o, "peer", x.peer);
    ctl_out_str(&o, "client", x.client);
    ctl_out_str(&o, "role", m != NULL && m->role == BATON_MEMBER_VOTER ? "voter" : "learner");
    ctl_out_u64(&o, "index", a.res.change.index);
    ctl_out_str(&o, "cluster_id", cluster_id);
    if (ctx->json) {
        ctl_out_str(&o, "initial_cluster", initial);
        ctl_out_str(&o, "message", a.res.message);
    }
    ctl_out_end(&o);
    if (!ctx->json) {
        print_join_hint(&x, &a, cluster_id, initial);
    }
    ctl_answer_clear(&a);
    return CTL_EXIT_OK;
}

/* cluster remove ID -> id= index= */
int ctl_cluster_remove(struct ctl_ctx *ctx, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    uint64_t id;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 1, 1, &n_pos, NULL);
    if (rv == 0) {
        rv = parse_id(ctx, pos[0], &id);
    }
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_remove, &id, &a, member_exit, "cluster remove");
    }
    if (rv != 0) {
        return rv;
    }
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    ctl_out_u64(&o, "id", id);
    ctl_out_u64(&o, "index", a.res.change.index);
    ctl_out_end(&o);
    ctl_answer_clear(&a);
    return CTL_EXIT_OK;
}

/* cluster transfer [ID] -> leader= term= */
int ctl_cluster_transfer(struct ctl_ctx *ctx, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    uint64_t id = 0;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 0, 1, &n_pos, NULL);
    if (rv == 0 && n_pos == 1) {
        rv = parse_id(ctx, pos[0], &id);
    }
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_transfer, &id, &a, member_exit, "cluster transfer");
    }
    if (rv != 0) {
        return rv;
    }
    struct ctl_out o;
    ctl_out_begin(&o, ctx);
    ctl_out_u64(&o, "leader", a.res.transfer.leader);
    ctl_out_u64(&o, "term", a.res.transfer.term);
    ctl_out_end(&o);
    ctl_answer_clear(&a);
    return CTL_EXIT_OK;
}
