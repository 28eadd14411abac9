/* batonctl cluster status|health (each endpoint's own view) and members (the leader's, committed). */
#include <stdlib.h>
#include <string.h>

#include "baton/error.h"
#include "ctl.h"
#include "ctl_baton.h"
#include "ctl_json.h"

/* Every endpoint's answer to one StatusRequest, asked concurrently. */
struct status_round {
    size_t n;
    size_t answered;
    struct ctl_call *calls;
};

static const Baton__StatusResponse *call_status(const struct ctl_call *c)
{
    if (c->err != 0 || c->resp->err != 0 ||
        c->resp->result_case != BATON__CLIENT_RESPONSE__RESULT_STATUS) {
        return NULL;
    }
    return c->resp->status;
}

/* Why call c has no status, for its output line. */
static const char *call_error(const struct ctl_call *c, char *buf, size_t len)
{
    if (c->err != 0) {
        return c->why;
    }
    if (c->resp->err != 0) {
        snprintf(buf, len, "%s%s%s", baton_strerror(c->resp->err),
                 c->resp->message && c->resp->message[0] ? ": " : "",
                 c->resp->message ? c->resp->message : "");
        return buf;
    }
    return "answer without a status";
}

static int status_round_run(struct ctl_ctx *ctx, struct status_round *r)
{
    r->n = ctx->endpoints.n;
    r->answered = 0;
    r->calls = calloc(r->n, sizeof(*r->calls));
    if (r->calls == NULL) {
        fprintf(stderr, "batonctl: %s\n", baton_strerror(BATON_ENOMEM));
        return BATON_ENOMEM;
    }
    Baton__StatusRequest sreq = BATON__STATUS_REQUEST__INIT;
    Baton__ClientRequest req = BATON__CLIENT_REQUEST__INIT;
    req.op_case = BATON__CLIENT_REQUEST__OP_STATUS;
    req.status = &sreq;
    for (size_t i = 0; i < r->n; i++) {
        req.id = ctl_request_id(ctx);
        ctl_call_init(&r->calls[i], ctx->endpoints.v[i], &req);
    }
    ctl_call_run(r->calls, r->n, ctx->deadline_ms);
    for (size_t i = 0; i < r->n; i++) {
        r->answered += call_status(&r->calls[i]) != NULL;
    }
    return 0;
}

static void status_round_close(struct status_round *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ctl_call_close(&r->calls[i]);
    }
    free(r->calls);
}

/* The exit code of a round, with a message when no node answered. */
static int round_exit(const struct status_round *r)
{
    if (r->answered > 0) {
        return CTL_EXIT_OK;
    }
    fprintf(stderr, "batonctl: no endpoint returned a status (%zu asked)\n", r->n);
    return CTL_EXIT_UNAVAILABLE;
}

/* A node without a status: unreachable, or it answered with an error. */
static void json_no_status(struct ctl_json *j, const struct ctl_call *c)
{
    char buf[256];
    ctl_json_str(j, "endpoint", c->endpoint);
    ctl_json_bool(j, "reachable", c->err == 0);
    ctl_json_str(j, "error", call_error(c, buf, sizeof(buf)));
}

static void print_no_status(const struct ctl_call *c)
{
    char buf[256];
    ctl_print_kv(stdout, "endpoint", c->endpoint);
    fputs(c->err == 0 ? " reachable=true " : " reachable=false ", stdout);
    ctl_print_kv(stdout, "error", call_error(c, buf, sizeof(buf)));
    fputc('\n', stdout);
}

/* The members of a node's JSON object after endpoint, reachable and id. */
static void json_status_node(struct ctl_json *j, const Baton__StatusResponse *s)
{
    ctl_json_str(j, "role", s->role);
    ctl_json_u64(j, "term", s->term);
    ctl_json_u64(j, "leader", s->leader);
    ctl_json_u64(j, "commit", s->commit);
    ctl_json_u64(j, "applied", s->applied);
    ctl_json_u64(j, "last_index", s->last_index);
    ctl_json_u64(j, "snapshot_index", s->snapshot_index);
    ctl_json_u64(j, "vote", s->vote);
    ctl_json_str(j, "client_addr", s->client_addr);
    ctl_json_str(j, "leader_client_addr", s->leader_client_addr);
}

static void print_status_node(const struct ctl_call *c)
{
    const Baton__StatusResponse *s = call_status(c);
    if (s == NULL) {
        print_no_status(c);
        return;
    }
    printf("id=%llu ", (unsigned long long)s->id);
    ctl_print_kv(stdout, "role", s->role);
    printf(" term=%llu leader=%llu commit=%llu applied=%llu last_index=%llu "
           "snapshot_index=%llu ",
           (unsigned long long)s->term, (unsigned long long)s->leader,
           (unsigned long long)s->commit, (unsigned long long)s->applied,
           (unsigned long long)s->last_index, (unsigned long long)s->snapshot_index);
    ctl_print_kv(stdout, "endpoint", c->endpoint);
    fputc('\n', stdout);
}

typedef void (*node_json_fn)(struct ctl_json *j, const Baton__StatusResponse *s);
typedef void (*node_print_fn)(const struct ctl_call *c);

static void json_node(struct ctl_json *j, const struct ctl_call *c, node_json_fn to_json)
{
    const Baton__StatusResponse *s = call_status(c);
    ctl_json_obj_begin(j, NULL);
    if (s == NULL) {
        json_no_status(j, c);
    } else {
        ctl_json_str(j, "endpoint", c->endpoint);
        ctl_json_bool(j, "reachable", true);
        ctl_json_u64(j, "id", s->id);
        to_json(j, s);
    }
    ctl_json_obj_end(j);
}

/* Asks every endpoint and prints one entry per node: {"nodes":[...]} with --json,
 * else lines. */
static int per_node_command(struct ctl_ctx *ctx, int argc, char **argv, node_json_fn to_json,
                            node_print_fn to_text)
{
    if (argc > 0) {
        return ctl_usage_error(ctx, "unexpected argument '%s'", argv[0]);
    }
    struct status_round r;
    if (status_round_run(ctx, &r) != 0) {
        return CTL_EXIT_UNAVAILABLE;
    }
    if (ctx->json) {
        struct ctl_json j;
        ctl_json_init(&j, stdout);
        ctl_json_obj_begin(&j, NULL);
        ctl_json_arr_begin(&j, "nodes");
        for (size_t i = 0; i < r.n; i++) {
            json_node(&j, &r.calls[i], to_json);
        }
        ctl_json_arr_end(&j);
        ctl_json_obj_end(&j);
        ctl_json_finish(&j);
    } else {
        for (size_t i = 0; i < r.n; i++) {
            to_text(&r.calls[i]);
        }
    }
    int code = round_exit(&r);
    status_round_close(&r);
    return code;
}

int ctl_cluster_status(struct ctl_ctx *ctx, int argc, char **argv)
{
    return per_node_command(ctx, argc, argv, json_status_node, print_status_node);
}

static void json_health_node(struct ctl_json *j, const Baton__StatusResponse *s)
{
    ctl_json_arr_begin(j, "suspects");
    for (size_t i = 0; i < s->n_peers; i++) {
        if (s->peers[i]->suspected) {
            ctl_json_u64(j, NULL, s->peers[i]->id);
        }
    }
    ctl_json_arr_end(j);
    ctl_json_arr_begin(j, "peers");
    for (size_t i = 0; i < s->n_peers; i++) {
        const Baton__PeerHealth *p = s->peers[i];
        ctl_json_obj_begin(j, NULL);
        ctl_json_u64(j, "id", p->id);
        ctl_json_bool(j, "suspected", p->suspected);
        ctl_json_u64(j, "timeout_ms", p->timeout_ms);
        ctl_json_u64(j, "last_heard_ms_ago", p->last_heard_ms_ago);
        ctl_json_u64(j, "false_suspicions", p->false_suspicions);
        ctl_json_obj_end(j);
    }
    ctl_json_arr_end(j);
}

static void print_health_node(const struct ctl_call *c)
{
    const Baton__StatusResponse *s = call_status(c);
    if (s == NULL) {
        print_no_status(c);
        return;
    }
    printf("id=%llu suspects=", (unsigned long long)s->id);
    size_t n_suspected = 0;
    for (size_t i = 0; i < s->n_peers; i++) {
        if (s->peers[i]->suspected) {
            printf("%s%llu", n_suspected++ ? "," : "", (unsigned long long)s->peers[i]->id);
        }
    }
    printf("%s ", n_suspected ? "" : "none");
    ctl_print_kv(stdout, "endpoint", c->endpoint);
    fputc('\n', stdout);
    for (size_t i = 0; i < s->n_peers; i++) {
        const Baton__PeerHealth *p = s->peers[i];
        printf("  peer=%llu suspected=%s timeout_ms=%llu last_heard_ms_ago=%llu "
               "false_suspicions=%llu\n",
               (unsigned long long)p->id, p->suspected ? "true" : "false",
               (unsigned long long)p->timeout_ms, (unsigned long long)p->last_heard_ms_ago,
               (unsigned long long)p->false_suspicions);
    }
}

int ctl_cluster_health(struct ctl_ctx *ctx, int argc, char **argv)
{
    return per_node_command(ctx, argc, argv, json_health_node, print_health_node);
}

static int start_members(struct baton_async *c, uint64_t timeout_ms, const void *args,
                         struct ctl_answer *a)
{
    return baton_async_cluster_members(c, timeout_ms, ctl_answer_cb, a);
}

static const char *member_role(int role)
{
    return role == BATON_MEMBER_VOTER ? "voter" : "learner";
}

/* The committed configuration, asked of the leader (libbaton follows NOT_LEADER
 * answers there): a follower's own view may lag behind a change, and the leader's
 * latest one may not be committed yet. One line per member, or {"members":[...]}. */
int ctl_cluster_members(struct ctl_ctx *ctx, int argc, char **argv)
{
    char *pos[1];
    int n_pos;
    struct ctl_answer a;
    int rv = ctl_args(ctx, argc, argv, NULL, 0, pos, 0, 0, &n_pos, NULL);
    if (rv == 0) {
        rv = ctl_baton_call(ctx, start_members, NULL, &a, NULL, "cluster members");
    }
    if (rv != 0) {
        return rv;
    }
    struct ctl_json j;
    ctl_json_init(&j, stdout);
    if (ctx->json) {
        ctl_json_obj_begin(&j, NULL);
        ctl_json_arr_begin(&j, "members");
    }
    for (size_t i = 0; i < a.res.n_members; i++) {
        const struct baton_member *m = &a.res.members[i];
        if (ctx->json) {
            ctl_json_obj_begin(&j, NULL);
            ctl_json_u64(&j, "id", m->id);
            ctl_json_str(&j, "peer", m->peer_addr);
            ctl_json_str(&j, "client", m->client_addr);
            ctl_json_str(&j, "role", member_role(m->role));
            ctl_json_obj_end(&j);
        } else {
            printf("id=%llu ", (unsigned long long)m->id);
            ctl_print_kv(stdout, "peer", m->peer_addr);
            fputc(' ', stdout);
            ctl_print_kv(stdout, "client", m->client_addr);
            printf(" role=%s\n", member_role(m->role));
        }
    }
    if (ctx->json) {
        ctl_json_arr_end(&j);
        ctl_json_obj_end(&j);
        ctl_json_finish(&j);
    } else {
        fflush(stdout);
    }
    ctl_answer_clear(&a);
    return CTL_EXIT_OK;
}
