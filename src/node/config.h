/* batond's configuration: defaults, flags and config-file keys, validation. */
#ifndef BATON_NODE_CONFIG_H
#define BATON_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_MAX_MEMBERS 16
#define NODE_ADDR_MAX 64
#define NODE_PATH_MAX 1024

struct node_member {
    uint64_t id;
    char peer_addr[NODE_ADDR_MAX];
    char client_addr[NODE_ADDR_MAX];
};

struct node_config {
    uint64_t id;
    char data_dir[NODE_PATH_MAX];
    char listen_peer[NODE_ADDR_MAX];
    char listen_client[NODE_ADDR_MAX];
    struct node_member members[NODE_MAX_MEMBERS];
    size_t n_members;
    char cluster_token[128];
    uint64_t cluster_id; /* --cluster-id; 0: derived from the token and initial cluster */
    bool join;           /* --join / --initial-cluster-state existing */
    unsigned heartbeat_ms;
    unsigned election_ms;
    size_t max_frame;
    int log_level;
    uint64_t snapshot_entries;
    uint64_t snapshot_trailing;
    size_t map_size;
};

/* One option: its name (the flag without "--", and the config-file key), its
 * argument's name and what it means, for --help. */
struct node_option_doc {
    const char *name;
    const char *arg;
    const char *help;
};
extern const struct node_option_doc node_option_docs[];

void node_config_default(struct node_config *c);

/* Sets option name to value (both borrowed). BATON_EINVAL with why filled for
 * an unknown name or a bad value. */
int node_config_set(struct node_config *c, const char *name, const char *value, char *why,
                    size_t why_len) __attribute__((warn_unused_result));

/* Reads "name = value" lines ('#' starts a comment). BATON_EIO if the file cannot
 * be read, BATON_EINVAL for a bad line; why names the file and line. */
int node_config_load_file(struct node_config *c, const char *path, char *why, size_t why_len)
    __attribute__((warn_unused_result));

/* Checks the whole configuration and fills in what follows from the rest (our
 * listen addresses from the initial cluster). BATON_EINVAL with why. */
int node_config_finish(struct node_config *c, char *why, size_t why_len)
    __attribute__((warn_unused_result));

/* The cluster id recorded in every data dir: --cluster-id when given, else
 * node_config_initial_cluster_id(). A node started against another cluster's data
 * refuses it, and peers refuse each other's links across clusters. */
uint64_t node_config_cluster_id(const struct node_config *c);
/* The id a cluster bootstrapped from this configuration gets: a hash of the token
 * and the ids of the initial members. Addresses are not part of it (a peer may be
 * reached through a proxy). A member added later is not in its initial cluster, so
 * it names the cluster it joins with --cluster-id. */
uint64_t node_config_initial_cluster_id(const struct node_config *c);
/* Parses a cluster id as --cluster-id and the logs write it: 1 to 16 hex digits,
 * an optional 0x in front; 0 is not an id. BATON_EINVAL. */
int node_cluster_id_parse(const char *s, uint64_t *out) __attribute__((warn_unused_result));

/* "PEER/CLIENT": how a member's addresses are kept in a Raft configuration. */
void node_member_addr(const struct node_member *m, char *out, size_t len);
/* The client address in a "PEER/CLIENT" string (into out), "" if absent. */
void node_addr_client(const char *addr, char *out, size_t len);
/* The peer address in a "PEER/CLIENT" string (into out). */
void node_addr_peer(const char *addr, char *out, size_t len);

#endif
