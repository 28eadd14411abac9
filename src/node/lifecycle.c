/* The daemon's lifecycle: open and check the data dir, bootstrap, start, stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/log.h"
#include "node/node.h"

enum { EXIT_RUNTIME = 1, EXIT_DATA_REFUSED = 3 };

static int open_store(struct node *n, char *why, size_t why_len)
{
    struct store_options opt;
    store_options_default(&opt);
    opt.map_size = n->cfg.map_size;
    char err[512];
    int rv = store_open(n->cfg.data_dir, n->cluster_id, &opt, &n->store, err, sizeof(err));
    if (rv == 0) {
        return 0;
    }
    snprintf(why, why_len, "refusing data dir: %s", err);
    switch (rv) {
    case BATON_ECLUSTER:
    case BATON_ECORRUPT:
    case BATON_EVERSION:
    case BATON_EBUSY:
        return EXIT_DATA_REFUSED;
    default:
        return EXIT_RUNTIME;
    }
}

/* A new data dir of an initial member: every member writes the same first
 * entry, the initial configuration (index 1, term 1). */
static int bootstrap(struct node *n, char *why, size_t why_len)
{
    struct raft_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (size_t i = 0; i < n->cfg.n_members; i++) {
        char addr[RAFT_ADDR_MAX];
        node_member_addr(&n->cfg.members[i], addr, sizeof(addr));
        if (raft_conf_add(&conf, n->cfg.members[i].id, RAFT_VOTER, addr) != 0) {
            snprintf(why, why_len, "invalid initial cluster");
            return EXIT_RUNTIME;
        }
    }
    struct raft_entry e;
    if (raft_bootstrap_entry(&conf, &e) != 0) {
        snprintf(why, why_len, "cannot encode the initial configuration");
        return EXIT_RUNTIME;
    }
    struct store_batch b = {.entries = &e, .n_entries = 1};
    int rv = store_write(n->store, &b, 1);
    free(e.data.base);
    if (rv != 0) {
        snprintf(why, why_len, "cannot bootstrap %s: %s", n->cfg.data_dir, store_errmsg(n->store));
        return EXIT_RUNTIME;
    }
    node_log(NODE_LOG_INFO, "bootstrapped a new cluster of %zu members", conf.n);
    return 0;
}

static bool boot_empty(const struct store_boot *b)
{
    return b->n_entries == 0 && !b->has_snapshot && b->hard_state.term == 0;
}

/* An empty data dir: bootstrap the initial cluster, or (--join) wait for the
 * leader of a running one, which sends the log or a snapshot like to any
 * follower that is behind. A node must never bootstrap into a cluster that
 * already runs: its first entry would clash with the cluster's own entry 1. */
static int start_empty(struct node *n, char *why, size_t why_len)
{
    if (n->cfg.join) {
        node_log(NODE_LOG_INFO, "joining cluster %016llx: no configuration of our own; "
                                "waiting for its leader to send the log",
                 (unsigned long long)n->cluster_id);
        return 0;
    }
    if (n->cluster_id != node_config_initial_cluster_id(&n->cfg)) {
        snprintf(why, why_len, "refusing to bootstrap %s: --cluster-id %016llx names a running "
                               "cluster, not the one --initial-cluster starts; a new member "
                               "joins it with --join",
                 n->cfg.data_dir, (unsigned long long)n->cluster_id);
        return EXIT_DATA_REFUSED;
    }
    return bootstrap(n, why, why_len);
}

static int load_raft(struct node *n, char *why, size_t why_len)
{
    struct store_boot boot;
    int rv = store_load(n->store, &boot);
    if (rv == 0 && boot_empty(&boot)) {
        store_boot_free(&boot);
        rv = start_empty(n, why, why_len);
        if (rv != 0) {
            return rv;
        }
        rv = store_load(n->store, &boot);
    } else if (rv == 0 && n->cfg.join) {
        node_log(NODE_LOG_INFO, "%s holds this node's state: restarting on it (--join only "
                                "matters for an empty data dir)",
                 n->cfg.data_dir);
    }
    if (rv != 0) {
        snprintf(why, why_len, "refusing data dir: %s", store_errmsg(n->store));
        return EXIT_DATA_REFUSED;
    }
    struct raft_options opt;
    raft_options_default(&opt, n->cfg.id);
    opt.heartbeat_ms = n->cfg.heartbeat_ms;
    opt.election_ms = n->cfg.election_ms;
    opt.max_batch_bytes = n->cfg.max_frame / 2;
    opt.snapshot_chunk_bytes = n->cfg.max_frame / 4;
    opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    struct raft_boot rb;
    store_boot_view(&boot, &rb);
    rv = node_sm_init(&n->sm);
    if (rv == 0 && boot.has_snapshot) {
        n->snapshot_index = boot.snapshot.meta.index;
        rv = node_sm_restore(&n->sm, boot.snapshot.data.base, boot.snapshot.data.len,
                             boot.snapshot.meta.index);
    }
    int err = 0;
    n->raft = rv == 0 ? raft_new(&opt, &rb, uv_now(n->loop), &err) : NULL;
    if (n->raft != NULL) {
        node_members_init(n, boot.has_snapshot ? &boot.snapshot.meta.conf : NULL);
    }
    store_boot_free(&boot);
    if (n->raft == NULL) {
        snprintf(why, why_len, "refusing data dir %s: stored state is inconsistent (%s)",
                 n->cfg.data_dir, baton_strerror(rv ? rv : err));
        return EXIT_DATA_REFUSED;
    }
    node_log_set_term(raft_term(n->raft));
    return 0;
}

static int start_peers(struct node *n, char *why, size_t why_len)
{
    struct net_peers_options opt;
    net_peers_options_default(&opt);
    opt.self = n->cfg.id;
    opt.cluster_id = n->cluster_id;
    opt.conn.max_frame = n->cfg.max_frame;
    opt.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    net_peers_init(&n->peers, n->loop, &opt, node_on_peer_envelope, node_on_net_log, n);
    n->peers_started = true;
    if (net_peers_listen(&n->peers, n->cfg.listen_peer, why, why_len) != 0) {
        return EXIT_RUNTIME;
    }
    struct fd_options fo;
    fd_options_default(&fo, n->cfg.id);
    fo.heartbeat_ms = n->cfg.heartbeat_ms;
    fo.timeout_ms = n->cfg.heartbeat_ms * 5;
    if (fd_init(&n->fd, &fo, uv_now(n->loop)) != 0) {
        snprintf(why, why_len, "invalid failure detector settings");
        return EXIT_RUNTIME;
    }
    /* Links to the members of the configuration in the log (--initial-cluster
     * until there is one); from now on they follow it (links.c). */
    if (node_links_sync(n, why, why_len) != 0) {
        return EXIT_RUNTIME;
    }
    return 0;
}

static void signal_cb(uv_signal_t *s, int signum)
{
    struct node *n = s->data;
    node_log(NODE_LOG_INFO, "received %s, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    node_stop(n, 0);
}

static void start_timers(struct node *n)
{
    uv_timer_init(n->loop, &n->tick_timer);
    n->tick_timer.data = n;
    uv_timer_start(&n->tick_timer, node_tick_cb, NODE_TICK_MS, NODE_TICK_MS);
    uv_timer_init(n->loop, &n->fd_timer);
    n->fd_timer.data = n;
    uv_timer_start(&n->fd_timer, node_fd_cb, 1, 0);
    uv_signal_init(n->loop, &n->sigterm);
    uv_signal_init(n->loop, &n->sigint);
    n->sigterm.data = n->sigint.data = n;
    uv_signal_start(&n->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&n->sigint, signal_cb, SIGINT);
    n->timers_started = true;
}

int node_start(struct node *n, uv_loop_t *loop, const struct node_config *cfg, char *why,
               size_t why_len)
{
    memset(n, 0, sizeof(*n));
    n->loop = loop;
    n->cfg = *cfg;
    n->cluster_id = node_config_cluster_id(cfg);
    node_log_setup(cfg->log_level, cfg->id);
    int rv = open_store(n, why, why_len);
    if (rv == 0) {
        rv = load_raft(n, why, why_len);
    }
    if (rv != 0) {
        return rv;
    }
    node_persist_init(&n->persist, loop, n->store, node_on_persisted, node_on_persist_failed,
                      node_on_drained, n);
    node_service_init(&n->service, cfg->election_ms);
    if (node_counters_start(n, why, why_len) != 0) {
        return EXIT_DATA_REFUSED;
    }
    rv = start_peers(n, why, why_len);
    if (rv == 0) {
        n->clients_started = true;
        if (node_clients_listen(n, why, why_len) != 0) {
            rv = EXIT_RUNTIME;
        }
    }
    if (rv == 0) {
        start_timers(n);
    }
    if (rv != 0) {
        node_stop(n, rv);
        return rv;
    }
    node_log(NODE_LOG_INFO, "started: peers on %s, clients on %s, data in %s, cluster %016llx",
             cfg->listen_peer, cfg->listen_client, cfg->data_dir,
             (unsigned long long)n->cluster_id);
    return 0;
}

static void close_handles(struct node *n)
{
    if (n->timers_started) {
        uv_close((uv_handle_t *)&n->tick_timer, NULL);
        uv_close((uv_handle_t *)&n->fd_timer, NULL);
        uv_close((uv_handle_t *)&n->sigterm, NULL);
        uv_close((uv_handle_t *)&n->sigint, NULL);
    }
    if (n->clients_started) {
        node_clients_close(n);
    }
    if (n->peers_started) {
        net_peers_close(&n->peers, NULL);
    }
}

void node_stop(struct node *n, int exit_code)
{
    if (n->stopping) {
        return;
    }
    n->stopping = true;
    n->exit_code = exit_code;
    /* A disk write still running finishes on its own; uv_run() returns after it
     * and after every handle closed, and only then is the store closed. */
    close_handles(n);
}

void node_close(struct node *n)
{
    /* uv_run() returned, so no disk write is running any more. */
    node_members_close(n);
    node_persist_close(&n->persist);
    node_service_close(&n->service);
    node_counters_close(&n->counters);
    node_sm_close(&n->sm);
    raft_free(n->raft);
    n->raft = NULL;
    fd_close(&n->fd);
    store_close(n->store);
    n->store = NULL;
    util_idmap_close(&n->clients); /* every client was freed as its handle closed */
}
