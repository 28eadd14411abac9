/* batond's configuration: one table of options shared by flags and config files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/error.h"
#include "node/config.h"
#include "node/log.h"

const struct node_option_doc node_option_docs[] = {
    {"id", "N", "this node's id in the initial cluster (required, > 0)"},
    {"data-dir", "DIR", "where the LMDB data lives (required; created if missing)"},
    {"initial-cluster", "ID=PEER/CLIENT,...",
     "every initial member: id, peer address, client address (required)"},
    {"listen-peer", "HOST:PORT", "peer listen address (default: ours in initial-cluster)"},
    {"listen-client", "HOST:PORT", "client listen address (default: ours in initial-cluster)"},
    {"cluster-token", "STR", "names the cluster; data of another cluster is refused (baton)"},
    {"initial-cluster-state", "new|existing",
     "new: bootstrap --initial-cluster (new); existing: join a running cluster"},
    {"join", "", "same as --initial-cluster-state existing (needs --cluster-id)"},
    {"cluster-id", "HEX",
     "the cluster to belong to (default: derived from the token and initial cluster)"},
    {"heartbeat-ms", "MS", "leader heartbeat and failure-detector period (100)"},
    {"election-ms", "MS", "base election timeout, randomized in [MS, 2*MS) (500)"},
    {"log-level", "LEVEL", "debug, info, warn or error (info)"},
    {"max-frame-bytes", "N", "largest frame accepted or sent (4194304)"},
    {"snapshot-entries", "N", "take a snapshot every N applied entries (10000)"},
    {"snapshot-trailing", "N", "entries kept behind a snapshot for slow followers (1000)"},
    {"map-size-mb", "N", "largest size of the LMDB file (1024)"},
    {"config", "FILE", "read options from FILE (name = value lines); flags given later win"},
    {NULL, NULL, NULL},
};

void node_config_default(struct node_config *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->cluster_token, "baton");
    c->heartbeat_ms = 100;
    c->election_ms = 500;
    c->max_frame = 4u << 20;
    c->log_level = NODE_LOG_INFO;
    c->snapshot_entries = 10000;
    c->snapshot_trailing = 1000;
    c->map_size = (size_t)1 << 30;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v < min || v > max) {
        return BATON_EINVAL;
    }
    *out = v;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    if (strlen(src) >= cap || src[0] == '\0') {
        return BATON_EINVAL;
    }
    strcpy(dst, src);
    return 0;
}

/* "1=127.0.0.1:7201/127.0.0.1:7101" */
static int parse_member(char *item, struct node_member *m)
{
    char *eq = strchr(item, '=');
    char *slash = eq ? strchr(eq, '/') : NULL;
    if (eq == NULL || slash == NULL) {
        return BATON_EINVAL;
    }
    *eq = '\0';
    *slash = '\0';
    if (parse_u64(item, 1, UINT64_MAX, &m->id) != 0 ||
        copy_str(m->peer_addr, sizeof(m->peer_addr), eq + 1) != 0 ||
        copy_str(m->client_addr, sizeof(m->client_addr), slash + 1) != 0) {
        return BATON_EINVAL;
    }
    return 0;
}

static int parse_members(struct node_config *c, const char *value)
{
    char buf[4096];
    if (copy_str(buf, sizeof(buf), value) != 0) {
        return BATON_EINVAL;
    }
    c->n_members = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (c->n_members == NODE_MAX_MEMBERS ||
            parse_member(item, &c->members[c->n_members]) != 0) {
            return BATON_EINVAL;
        }
        for (size_t i = 0; i < c->n_members; i++) {
            if (c->members[i].id == c->members[c->n_members].id) {
                return BATON_EINVAL;
            }
        }
        c->n_members++;
    }
    return c->n_members > 0 ? 0 : BATON_EINVAL;
}

static int set_number(struct node_config *c, const char *name, const char *value)
{
    uint64_t v;
    if (strcmp(name, "id") == 0) {
        return parse_u64(value, 1, UINT64_MAX, &c->id);
    }
    if (strcmp(name, "heartbeat-ms") == 0 || strcmp(name, "election-ms") == 0) {
        if (parse_u64(value, 1, 600000, &v) != 0) {
            return BATON_EINVAL;
        }
        *(name[0] == 'h' ? &c->heartbeat_ms : &c->election_ms) = (unsigned)v;
        return 0;
    }
    if (strcmp(name, "max-frame-bytes") == 0) {
        int rv = parse_u64(value, 1024, (uint64_t)1 << 30, &v);
        c->max_frame = (size_t)v;
        return rv;
    }
    if (strcmp(name, "snapshot-entries") == 0) {
        return parse_u64(value, 1, UINT64_MAX, &c->snapshot_entries);
    }
    if (strcmp(name, "snapshot-trailing") == 0) {
        return parse_u64(value, 0, UINT64_MAX, &c->snapshot_trailing);
    }
    if (strcmp(name, "map-size-mb") == 0) {
        int rv = parse_u64(value, 1, (uint64_t)1 << 20, &v);
        c->map_size = (size_t)v << 20;
        return rv;
    }
    return BATON_ENOTFOUND;
}

static int set_string(struct node_config *c, const char *name, const char *value)
{
    if (strcmp(name, "data-dir") == 0) {
        return copy_str(c->data_dir, sizeof(c->data_dir), value);
    }
    if (strcmp(name, "listen-peer") == 0) {
        return copy_str(c->listen_peer, sizeof(c->listen_peer), value);
    }
    if (strcmp(name, "listen-client") == 0) {
        return copy_str(c->listen_client, sizeof(c->listen_client), value);
    }
    if (strcmp(name, "cluster-token") == 0) {
        return copy_str(c->cluster_token, sizeof(c->cluster_token), value);
    }
    if (strcmp(name, "initial-cluster") == 0) {
        return parse_members(c, value);
    }
    if (strcmp(name, "initial-cluster-state") == 0) {
        if (strcmp(value, "new") != 0 && strcmp(value, "existing") != 0) {
            return BATON_EINVAL;
        }
        c->join = strcmp(value, "existing") == 0;
        return 0;
    }
    if (strcmp(name, "join") == 0) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            return BATON_EINVAL;
        }
        c->join = strcmp(value, "true") == 0;
        return 0;
    }
    if (strcmp(name, "cluster-id") == 0) {
        return node_cluster_id_parse(value, &c->cluster_id);
    }
    if (strcmp(name, "log-level") == 0) {
        c->log_level = node_log_level_parse(value);
        return c->log_level < 0 ? BATON_EINVAL : 0;
    }
    return BATON_ENOTFOUND;
}

int node_config_set(struct node_config *c, const char *name, const char *value, char *why,
                    size_t why_len)
{
    int rv = set_number(c, name, value);
    if (rv == BATON_ENOTFOUND) {
        rv = set_string(c, name, value);
    }
    if (rv == BATON_ENOTFOUND) {
        snprintf(why, why_len, "unknown option '%s'", name);
        return BATON_EINVAL;
    }
    if (rv != 0) {
        snprintf(why, why_len, "invalid value '%s' for %s", value, name);
        return BATON_EINVAL;
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                     s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

int node_config_load_file(struct node_config *c, const char *path, char *why, size_t why_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(why, why_len, "cannot read config file %s: %s", path, strerror(errno));
        return BATON_EIO;
    }
    char line[4096], err[256];
    int rv = 0;
    for (int no = 1; rv == 0 && fgets(line, sizeof(line), f) != NULL; no++) {
        char *hash = strchr(line, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        char *s = trim(line);
        if (*s == '\0') {
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(why, why_len, "%s:%d: expected 'name = value'", path, no);
            rv = BATON_EINVAL;
            break;
        }
        *eq = '\0';
        rv = node_config_set(c, trim(s), trim(eq + 1), err, sizeof(err));
        if (rv != 0) {
            snprintf(why, why_len, "%s:%d: %s", path, no, err);
        }
    }
    fclose(f);
    return rv;
}

static const struct node_member *self_member(const struct node_config *c)
{
    for (size_t i = 0; i < c->n_members; i++) {
        if (c->members[i].id == c->id) {
            return &c->members[i];
        }
    }
    return NULL;
}

int node_config_finish(struct node_config *c, char *why, size_t why_len)
{
    const struct node_member *me = self_member(c);
    if (c->id == 0 || c->data_dir[0] == '\0' || c->n_members == 0) {
        snprintf(why, why_len, "--id, --data-dir and --initial-cluster are required");
        return BATON_EINVAL;
    }
    if (me == NULL) {
        snprintf(why, why_len, "--id %llu is not in --initial-cluster",
                 (unsigned long long)c->id);
        return BATON_EINVAL;
    }
    if (c->join && c->cluster_id == 0) {
        snprintf(why, why_len, "--join needs --cluster-id: the id of the cluster to join "
                               "(batonctl cluster add prints it)");
        return BATON_EINVAL;
    }
    if (c->election_ms <= 2 * c->heartbeat_ms) {
        snprintf(why, why_len, "--election-ms must be more than twice --heartbeat-ms");
        return BATON_EINVAL;
    }
    /* Every node must derive the same cluster id whatever order it was given. */
    for (size_t i = 1; i < c->n_members; i++) {
        for (size_t j = i; j > 0 && c->members[j - 1].id > c->members[j].id; j--) {
            struct node_member t = c->members[j];
            c->members[j] = c->members[j - 1];
            c->members[j - 1] = t;
        }
    }
    if (c->listen_peer[0] == '\0') {
        strcpy(c->listen_peer, me->peer_addr);
    }
    if (c->listen_client[0] == '\0') {
        strcpy(c->listen_client, me->client_addr);
    }
    return 0;
}

uint64_t node_config_cluster_id(const struct node_config *c)
{
    return c->cluster_id != 0 ? c->cluster_id : node_config_initial_cluster_id(c);
}

int node_cluster_id_parse(const char *s, uint64_t *out)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    size_t len = strlen(s);
    if (len == 0 || len > 16 || strspn(s, "0123456789abcdefABCDEF") != len) {
        return BATON_EINVAL;
    }
    uint64_t v = strtoull(s, NULL, 16);
    if (v == 0) {
        return BATON_EINVAL;
    }
    *out = v;
    return 0;
}

uint64_t node_config_initial_cluster_id(const struct node_config *c)
{
    /* FNV-1a over the token and the initial members' ids. Addresses stay out:
     * a node may reach a peer through another address (a proxy, a new IP)
     * without becoming another cluster. */
    uint64_t h = 0xcbf29ce484222325ULL;
    char buf[64];
    for (const char *s = c->cluster_token; *s; s++) {
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    }
    for (size_t i = 0; i < c->n_members; i++) {
        snprintf(buf, sizeof(buf), "|%llu", (unsigned long long)c->members[i].id);
        for (const char *s = buf; *s; s++) {
            h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
        }
    }
    return h ? h : 1;
}

void node_member_addr(const struct node_member *m, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", m->peer_addr, m->client_addr);
}

void node_addr_client(const char *addr, char *out, size_t len)
{
    const char *slash = strchr(addr, '/');
    snprintf(out, len, "%s", slash ? slash + 1 : "");
}

void node_addr_peer(const char *addr, char *out, size_t len)
{
    const char *slash = strchr(addr, '/');
    size_t n = slash ? (size_t)(slash - addr) : strlen(addr);
    snprintf(out, len, "%.*s", (int)n, addr);
}
