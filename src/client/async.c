/* libbaton's async client: options, creation on the caller's loop, and close. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "net/conn.h"
#include "net/frame.h"

void baton_options_init(struct baton_options *opt)
{
    opt->timeout_ms = 5000;
    opt->attempt_timeout_ms = 2000;
    opt->backoff_base_ms = 20;
    opt->backoff_max_ms = 1000;
    opt->lease_margin_ms = 5;
    opt->max_frame = NET_FRAME_MAX_DEFAULT;
}

static int options_check(const struct baton_options *o)
{
    if (o->timeout_ms == 0 || o->attempt_timeout_ms == 0 || o->backoff_base_ms == 0 ||
        o->backoff_max_ms < o->backoff_base_ms || o->max_frame < 64 ||
        o->max_frame > UINT32_MAX) {
        return BATON_EINVAL;
    }
    return 0;
}

int baton_async_new(struct uv_loop_s *loop, const char *endpoints,
                    const struct baton_options *opt, struct baton_async **out)
{
    if (loop == NULL || out == NULL) {
        return BATON_EINVAL;
    }
    struct baton_async *core = calloc(1, sizeof(*core));
    if (core == NULL) {
        return BATON_ENOMEM;
    }
    if (opt != NULL) {
        core->opt = *opt;
    } else {
        baton_options_init(&core->opt);
    }
    if (options_check(&core->opt) != 0 || client_endpoints_parse(endpoints, &core->eps) != 0) {
        free(core);
        return BATON_EINVAL;
    }
    core->loop = loop;
    core->rnd = uv_hrtime() ^ (uint64_t)(uintptr_t)core;
    /* Clients start at a random endpoint so that they spread over the cluster
     * before they learn the leader. */
    core->next_ep = (size_t)(client_rand_next(&core->rnd) % core->eps.n);
    client_core_rotate(core);
    util_idmap_init(&core->table);
    uv_timer_init(loop, &core->closer);
    core->closer.data = core;
    core->handles = 1;
    *out = core;
    return 0;
}

static void closer_closed_cb(uv_handle_t *h)
{
    client_core_handle_closed(h->data);
}

void baton_async_close(struct baton_async *c, baton_close_cb cb, void *arg)
{
    struct baton_async *core = c;
    if (core->closing) {
        return;
    }
    core->closing = true;
    core->close_cb = cb;
    core->close_arg = arg;
    while (core->keepers != NULL) {
        client_keeper_stop(core->keepers);
    }
    while (core->reqs != NULL) {
        client_req_finish(core->reqs, BATON_ECANCELED, NULL, "client closed");
    }
    if (core->link != NULL) {
        struct client_link *l = core->link;
        core->link = NULL;
        net_conn_close(l->conn, 0, "client closed");
    }
    /* Closing a handle always calls back later, so cb never runs inside this call. */
    uv_close((uv_handle_t *)&core->closer, closer_closed_cb);
}
