/* libbaton's core: in-flight requests, their deadlines and retries, and the cluster's answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "net/addr.h"
#include "net/codec.h"
#include "net/conn.h"

/* After this many EUNAVAILABLE answers in a row, a node is probably cut off from
 * the majority: ask another. */
#define UNAVAILABLE_ROTATE 3
/* Redirects followed at once before backing off (two nodes naming each other). */
#define REDIRECTS_FREE 2

int64_t client_now_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000u);
}

int64_t baton_now_ms(void)
{
    return client_now_ms();
}

void client_core_rotate(struct baton_async *core)
{
    snprintf(core->target, sizeof(core->target), "%s", core->eps.v[core->next_ep]);
    core->next_ep = (core->next_ep + 1) % core->eps.n;
    core->unavailable = 0;
}

static void core_free(struct baton_async *core)
{
    baton_close_cb cb = core->close_cb;
    void *arg = core->close_arg;
    util_idmap_close(&core->table);
    free(core);
    if (cb != NULL) {
        cb(arg);
    }
}

void client_core_handle_closed(struct baton_async *core)
{
    core->handles--;
    if (core->closing && core->handles == 0) {
        core_free(core);
    }
}

static void req_arm(struct client_req *r, uint64_t at);

static void req_closed_cb(uv_handle_t *h)
{
    struct client_req *r = h->data;
    struct baton_async *core = r->core;
    free(r);
    client_core_handle_closed(core);
}

void client_req_finish(struct client_req *r, int err, const Baton__ClientResponse *resp,
                       const char *why)
{
    struct baton_async *core = r->core;
    util_idmap_del(&core->table, r->id);
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        core->reqs = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    uv_timer_stop(&r->timer);
    free(r->frame.base);
    r->frame.base = NULL;
    r->done(core, r->arg, err, resp, r->sent_ms, why != NULL ? why : "");
    uv_close((uv_handle_t *)&r->timer, req_closed_cb);
}

void client_req_cancel(struct client_req *r)
{
    client_req_finish(r, BATON_ECANCELED, NULL, "canceled");
}

static void req_timeout(struct client_req *r)
{
    char why[CLIENT_WHY_LEN + 32];
    snprintf(why, sizeof(why), "deadline passed%s%s", r->why[0] ? "; last: " : "", r->why);
    client_req_finish(r, BATON_ETIMEDOUT, NULL, why);
}

void client_req_retry(struct client_req *r, bool backoff, const char *why)
{
    struct baton_async *core = r->core;
    if (why != NULL && why != r->why) {
        snprintf(r->why, sizeof(r->why), "%s", why);
    }
    r->attempt++;
    uint64_t delay = 0, at;
    if (backoff) {
        delay = client_backoff_delay(r->attempt, core->opt.backoff_base_ms,
                                     core->opt.backoff_max_ms, client_rand_next(&core->rnd));
    }
    /* Only ever scheduled, never run from here: a retry is decided while walking
     * the request list, where no callback may run. The timer ends a request whose
     * deadline leaves no room. */
    r->state = CLIENT_REQ_BACKOFF;
    uint64_t now = uv_now(core->loop);
    if (client_backoff_at(now, r->deadline, delay, &at) != 0) {
        at = now;
    }
    req_arm(r, at);
}

static void req_send_on(struct client_req *r, struct client_link *l)
{
    struct baton_async *core = r->core;
    struct raft_buf copy = {malloc(r->frame.len), r->frame.len};
    if (copy.base == NULL) {
        client_req_retry(r, true, "out of memory");
        return;
    }
    memcpy(copy.base, r->frame.base, r->frame.len);
    r->state = CLIENT_REQ_SENT;
    r->link_gen = l->gen;
    r->sent_ms = client_now_ms();
    int rv = net_conn_send(l->conn, copy);
    if (rv == BATON_EBUSY || rv == BATON_ENOMEM) {
        client_req_retry(r, true, "connection congested");
        return;
    }
    if (rv != 0) {
        /* Other failures close the link, and its close retries r: nothing was
         * written, so even an at-most-once request may go again. */
        r->state = CLIENT_REQ_QUEUED;
    }
    uint64_t now = uv_now(core->loop);
    uint64_t left = r->deadline > now ? r->deadline - now : 0;
    req_arm(r, left > r->attempt_ms ? now + r->attempt_ms : r->deadline);
}

void client_req_send(struct client_req *r)
{
    struct baton_async *core = r->core;
    if (core->link == NULL) {
        client_link_open(core);
    }
    if (core->link == NULL) {
        client_req_retry(r, true, "cannot open a connection");
        return;
    }
    if (!core->link->connected) {
        /* A connect to a cut-off host can hang for minutes: give it one attempt's
         * time (without any wait_ms), then try the next endpoint. */
        uint64_t now = uv_now(core->loop);
        uint64_t left = r->deadline > now ? r->deadline - now : 0;
        r->state = CLIENT_REQ_QUEUED;
        req_arm(r, left > r->connect_ms ? now + r->connect_ms : r->deadline);
        return;
    }
    req_send_on(r, core->link);
}

static void req_timer_cb(uv_timer_t *t)
{
    struct client_req *r = t->data;
    struct baton_async *core = r->core;
    if (uv_now(core->loop) >= r->deadline) {
        req_timeout(r);
        return;
    }
    if (r->state == CLIENT_REQ_LOST) {
        client_req_finish(r, BATON_ETIMEDOUT, NULL, r->why);
    } else if (r->state == CLIENT_REQ_BACKOFF) {
        client_req_send(r);
    } else if (r->state == CLIENT_REQ_SENT && r->at_most_once) {
        /* It cannot go elsewhere, so it waits here for its answer until the
         * deadline; other requests on a hung node still move the link on. */
        req_arm(r, r->deadline);
    } else if (r->state == CLIENT_REQ_SENT) {
        /* A node that keeps a request unanswered this long is hung or cut off;
         * its requests go elsewhere (all of them: one connection at a time). */
        char why[CLIENT_WHY_LEN];
        snprintf(why, sizeof(why), "no answer from %s within %llu ms",
                 core->link ? core->link->endpoint : "?", (unsigned long long)r->attempt_ms);
        if (core->link != NULL && core->link->gen == r->link_gen) {
            client_core_rotate(core);
            client_link_drop(core, true, why);
        } else {
            client_req_retry(r, true, why);
        }
    } else if (core->link != NULL && !core->link->connected) {
        char why[CLIENT_WHY_LEN];
        snprintf(why, sizeof(why), "connect to %s timed out", core->link->endpoint);
        client_core_rotate(core);
        client_link_drop(core, true, why);
    } else {
        client_req_send(r);
    }
}

static void req_arm(struct client_req *r, uint64_t at)
{
    uint64_t now = uv_now(r->core->loop);
    uv_timer_start(&r->timer, req_timer_cb, at > now ? at - now : 0, 0);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int client_core_submit(struct baton_async *core, Baton__ClientRequest *req,
                       uint64_t timeout_ms, uint64_t extra_ms, uint64_t attempt_ms,
                       unsigned flags, client_done_cb done, void *arg,
                       struct client_req **out)
{
    if (core->closing) {
        return BATON_ESHUTDOWN;
    }
    struct client_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return BATON_ENOMEM;
    }
    r->core = core;
    r->id = ++core->next_id;
    req->id = r->id;
    Baton__Envelope env = BATON__ENVELOPE__INIT;
    env.body_case = BATON__ENVELOPE__BODY_REQUEST;
    env.request = req;
    int rv = net_encode_envelope(&env, core->opt.max_frame, &r->frame);
    if (rv == 0) {
        rv = util_idmap_put(&core->table, r->id, r);
        if (rv != 0) {
            free(r->frame.base);
        }
    }
    if (rv != 0) {
        free(r);
        return rv;
    }
    /* The loop's cached time may be old if the caller ran long: refresh it so the
     * deadline counts from now. */
    uv_update_time(core->loop);
    r->deadline = sat_add(uv_now(core->loop), sat_add(timeout_ms, extra_ms));
    r->connect_ms = attempt_ms ? attempt_ms : core->opt.attempt_timeout_ms;
    r->attempt_ms = sat_add(r->connect_ms, extra_ms);
    r->at_most_once = (flags & CLIENT_REQ_AT_MOST_ONCE) != 0;
    r->busy_final = (flags & CLIENT_REQ_BUSY_FINAL) != 0;
    r->done = done;
    r->arg = arg;
    uv_timer_init(core->loop, &r->timer);
    r->timer.data = r;
    core->handles++;
    r->next = core->reqs;
    if (core->reqs != NULL) {
        core->reqs->prev = r;
    }
    core->reqs = r;
    if (out != NULL) {
        *out = r;
    }
    client_req_send(r);
    return 0;
}

void client_core_link_up(struct baton_async *core)
{
    for (struct client_req *r = core->reqs; r != NULL; r = r->next) {
        if (r->state == CLIENT_REQ_QUEUED && core->link != NULL && core->link->connected) {
            req_send_on(r, core->link);
        }
    }
}

void client_core_link_down(struct baton_async *core, uint64_t gen, bool backoff,
                           const char *why)
{
    for (struct client_req *r = core->reqs; r != NULL; r = r->next) {
        if (r->state == CLIENT_REQ_SENT && r->link_gen == gen && r->at_most_once) {
            /* It may have been executed: ending it is the timer's job (no
             * callback runs while the list is walked). */
            snprintf(r->why, sizeof(r->why),
                     "%s after the request was sent; outcome unknown (not retried: the "
                     "request is not idempotent)", why != NULL ? why : "connection lost");
            r->state = CLIENT_REQ_LOST;
            req_arm(r, uv_now(core->loop));
        } else if (r->state == CLIENT_REQ_QUEUED ||
                   (r->state == CLIENT_REQ_SENT && r->link_gen == gen)) {
            client_req_retry(r, backoff, why);
        }
    }
}

/* NOT_LEADER: reconnect to the leader it names, or to the next endpoint. */
static void follow_leader(struct baton_async *core, struct client_req *r,
                          const Baton__ClientResponse *resp)
{
    const char *leader = resp->leader_client_addr;
    const char *here = core->link->endpoint;
    struct sockaddr_storage ss;
    char why[CLIENT_WHY_LEN];
    if (leader != NULL && leader[0] != '\0' && strlen(leader) < BATON_ADDR_MAX &&
        strcmp(leader, here) != 0 && net_addr_parse(leader, &ss) == 0) {
        snprintf(why, sizeof(why), "%s is not the leader; following %s", here, leader);
        snprintf(core->target, sizeof(core->target), "%s", leader);
        core->unavailable = 0;
        client_link_drop(core, r->attempt >= REDIRECTS_FREE, why);
    } else {
        snprintf(why, sizeof(why), "%s is not the leader and knows none", here);
        client_core_rotate(core);
        client_link_drop(core, true, why);
    }
}

static void handle_answer(struct baton_async *core, struct client_req *r,
                          const Baton__ClientResponse *resp)
{
    char why[CLIENT_WHY_LEN];
    const char *msg = resp->message != NULL ? resp->message : "";
    /* Answered: no longer in flight, so a link dropped below (to follow the leader,
     * or to leave a node that keeps answering EUNAVAILABLE) retries r like one
     * that never left; an at-most-once request is not lost with the link, since
     * the node said it did not act. */
    r->state = CLIENT_REQ_QUEUED;
    switch (resp->err) {
    case 0:
        core->unavailable = 0;
        client_req_finish(r, 0, resp, "");
        return;
    case BATON_ENOTLEADER:
        follow_leader(core, r, resp);
        return;
    case BATON_EBUSY:
        if (r->busy_final) {
            client_req_finish(r, BATON_EBUSY, resp, msg[0] ? msg : baton_strerror(resp->err));
            return;
        }
        /* fall through */
    case BATON_EUNAVAILABLE:
    case BATON_ESHUTDOWN:
        snprintf(why, sizeof(why), "%s: %s%s%s", core->link->endpoint,
                 baton_strerror(resp->err), msg[0] ? ": " : "", msg);
        if (resp->err != BATON_EBUSY && ++core->unavailable >= UNAVAILABLE_ROTATE) {
            client_core_rotate(core);
            client_link_drop(core, true, why);
        } else {
            client_req_retry(r, true, why);
        }
        return;
    default:
        client_req_finish(r, resp->err < 0 ? resp->err : BATON_EMALFORMED, resp,
                          msg[0] ? msg : baton_strerror(resp->err));
        return;
    }
}

void client_core_frame(struct baton_async *core, const uint8_t *payload, size_t len)
{
    Baton__Envelope *env = baton__envelope__unpack(NULL, len, payload);
    if (env == NULL || env->body_case != BATON__ENVELOPE__BODY_RESPONSE ||
        env->response == NULL) {
        char why[CLIENT_WHY_LEN];
        snprintf(why, sizeof(why), "%s sent something that is not a response",
                 core->link->endpoint);
        client_core_rotate(core);
        client_link_drop(core, true, why);
    } else {
        struct client_req *r = util_idmap_get(&core->table, env->response->id);
        /* An answer to a request that already ended, or was re-sent after this
         * connection's predecessor died, is stale: ignore it. */
        if (r != NULL && r->state == CLIENT_REQ_SENT && r->link_gen == core->link->gen) {
            handle_answer(core, r, env->response);
        }
    }
    if (env != NULL) {
        baton__envelope__free_unpacked(env, NULL);
    }
}
