/* libbaton's one connection: connect to the target, hand frames to the core, report its end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "net/addr.h"
#include "net/conn.h"

static void link_frame_cb(struct net_conn *conn, const uint8_t *payload, size_t len)
{
    struct client_link *l = conn->data;
    if (l->core->link == l) {
        client_core_frame(l->core, payload, len);
    }
}

static void link_close_cb(struct net_conn *conn, int err, const char *why)
{
    struct client_link *l = conn->data;
    struct baton_async *core = l->core;
    if (core->link == l) {
        /* It closed by itself (refused, reset, EOF): the node is down or leaving,
         * so the next connection goes to the next endpoint. */
        char reason[CLIENT_WHY_LEN];
        snprintf(reason, sizeof(reason), "connection to %s: %s", l->endpoint,
                 why[0] ? why : baton_strerror(err));
        core->link = NULL;
        client_core_rotate(core);
        client_core_link_down(core, l->gen, true, reason);
    }
    free(l);
    client_core_handle_closed(core);
}

static void link_connect_cb(uv_connect_t *req, int status)
{
    struct client_link *l = req->data;
    if (status == UV_ECANCELED) {
        return; /* closed while connecting; the close callback follows */
    }
    if (status != 0) {
        char why[CLIENT_WHY_LEN];
        snprintf(why, sizeof(why), "connect: %s", uv_strerror(status));
        net_conn_close(l->conn, BATON_EUNAVAILABLE, why);
        return;
    }
    if (net_conn_start(l->conn) != 0) {
        return; /* closing; the close callback retries */
    }
    l->connected = true;
    if (l->core->link == l) {
        client_core_link_up(l->core);
    }
}

void client_link_open(struct baton_async *core)
{
    struct sockaddr_storage ss;
    if (core->link != NULL || core->closing) {
        return;
    }
    if (net_addr_parse(core->target, &ss) != 0) {
        client_core_rotate(core); /* endpoints are checked up front: only a bad hint */
        if (net_addr_parse(core->target, &ss) != 0) {
            return;
        }
    }
    struct client_link *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return;
    }
    struct net_conn_options o;
    net_conn_options_default(&o);
    o.max_frame = core->opt.max_frame;
    l->conn = net_conn_new(core->loop, &o, link_frame_cb, link_close_cb, l);
    if (l->conn == NULL) {
        free(l);
        return;
    }
    core->handles++;
    l->core = core;
    l->gen = ++core->link_gen;
    snprintf(l->endpoint, sizeof(l->endpoint), "%s", core->target);
    core->link = l;
    l->connect.data = l;
    int rv = uv_tcp_connect(&l->connect, &l->conn->tcp, (struct sockaddr *)&ss, link_connect_cb);
    if (rv != 0) {
        net_conn_close(l->conn, BATON_EUNAVAILABLE, uv_strerror(rv));
    }
}

void client_link_drop(struct baton_async *core, bool backoff, const char *why)
{
    struct client_link *l = core->link;
    if (l == NULL) {
        return;
    }
    core->link = NULL;
    net_conn_close(l->conn, 0, why);
    client_core_link_down(core, l->gen, backoff, why);
}
