/* libbaton's listings (lease list, members, membership changes): decoding, copies, frees. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

int client_decode_leases(const Baton__LeaseListResponse *pb, struct baton_result *res)
{
    if (pb->n_leases == 0) {
        return 0;
    }
    struct baton_lease_entry *v = calloc(pb->n_leases, sizeof(*v));
    if (v == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < pb->n_leases; i++) {
        const Baton__LeaseInfo *e = pb->leases[i];
        if (e->lease == 0) {
            free(v);
            return BATON_EMALFORMED;
        }
        /* Views into the decoded answer: the names live as long as it does. */
        v[i].id = e->lease;
        v[i].ttl_ms = e->ttl_ms;
        v[i].remaining_ms = e->remaining_ms;
        v[i].n_locks = e->n_locks;
        v[i].locks = e->locks;
        v[i].n_waits = e->n_waits;
        v[i].waits = e->waits;
    }
    res->leases = v;
    res->n_leases = pb->n_leases;
    return 0;
}

static int decode_member(const Baton__Member *pb, struct baton_member *m)
{
    const char *peer = pb->peer_addr ? pb->peer_addr : "";
    const char *client = pb->client_addr ? pb->client_addr : "";
    if (pb->id == 0 || (pb->role != BATON_MEMBER_VOTER && pb->role != BATON_MEMBER_LEARNER) ||
        strlen(peer) >= sizeof(m->peer_addr) || strlen(client) >= sizeof(m->client_addr)) {
        return BATON_EMALFORMED;
    }
    m->id = pb->id;
    m->role = (int)pb->role;
    strcpy(m->peer_addr, peer);
    strcpy(m->client_addr, client);
    return 0;
}

static int decode_member_list(Baton__Member *const *members, size_t n, struct baton_result *res)
{
    /* A configuration always has a voter: an empty one is no answer. */
    if (n == 0) {
        return BATON_EMALFORMED;
    }
    struct baton_member *v = calloc(n, sizeof(*v));
    if (v == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (decode_member(members[i], &v[i]) != 0) {
            free(v);
            return BATON_EMALFORMED;
        }
    }
    res->members = v;
    res->n_members = n;
    return 0;
}

int client_decode_members(const Baton__ClusterMembersResponse *pb, struct baton_result *res)
{
    return decode_member_list(pb->members, pb->n_members, res);
}

int client_decode_change(const Baton__MemberChangeResponse *pb, struct baton_result *res)
{
    if (pb->index == 0 || pb->cluster_id == 0) {
        return BATON_EMALFORMED;
    }
    res->change.index = pb->index;
    res->change.cluster_id = pb->cluster_id;
    return decode_member_list(pb->members, pb->n_members, res);
}

void client_result_clear(struct baton_result *res)
{
    free(res->leases);
    free(res->members);
    res->leases = NULL;
    res->n_leases = 0;
    res->members = NULL;
    res->n_members = 0;
}

/* Bytes of names (with their NULs) and name pointers of one entry. */
static void entry_size(const struct baton_lease_entry *e, size_t *bytes, size_t *ptrs)
{
    *ptrs += e->n_locks + e->n_waits;
    for (size_t k = 0; k < e->n_locks; k++) {
        *bytes += strlen(e->locks[k]) + 1;
    }
    for (size_t k = 0; k < e->n_waits; k++) {
        *bytes += strlen(e->waits[k]) + 1;
    }
}

/* Copies n names into ptrs (advanced) backed by *text (advanced). */
static char **copy_names(char *const *names, size_t n, char ***ptrs, char **text)
{
    char **out = *ptrs;
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(names[k]) + 1;
        memcpy(*text, names[k], len);
        out[k] = *text;
        *text += len;
    }
    *ptrs += n;
    return out;
}

int baton_lease_list_copy(const struct baton_lease_entry *src, size_t n,
                          struct baton_lease_entry **out)
{
    if (out == NULL || (src == NULL && n > 0)) {
        return BATON_EINVAL;
    }
    *out = NULL;
    if (n == 0) {
        return 0;
    }
    size_t bytes = 0, ptrs = 0;
    for (size_t i = 0; i < n; i++) {
        entry_size(&src[i], &bytes, &ptrs);
    }
    /* One block: the entries, then every name pointer, then the names. */
    size_t head = n * sizeof(*src) + ptrs * sizeof(char *);
    struct baton_lease_entry *v = malloc(head + bytes);
    if (v == NULL) {
        return BATON_ENOMEM;
    }
    char **p = (char **)(void *)(v + n);
    char *text = (char *)v + head;
    for (size_t i = 0; i < n; i++) {
        v[i] = src[i];
        v[i].locks = copy_names(src[i].locks, src[i].n_locks, &p, &text);
        v[i].waits = copy_names(src[i].waits, src[i].n_waits, &p, &text);
    }
    *out = v;
    return 0;
}

void baton_lease_list_free(struct baton_lease_entry *leases)
{
    free(leases);
}

void baton_cluster_members_free(struct baton_member *members)
{
    free(members);
}
