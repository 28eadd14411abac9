/* The simulated state machine: a running hash of applied entries next to the real lock
 * state machine, and their snapshot form. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* Snapshot layout: applied, count, hash (8 bytes little-endian each), then a filler
 * length byte and that many bytes derived from the hash, then the length of the
 * lock state machine's snapshot (4 bytes) and those bytes (lock_sm_snapshot). The
 * filler makes snapshots span several InstallSnapshot chunks, and decoding checks
 * it (and lock_sm_restore its own checksum), so a chunk that was lost, reordered or
 * stitched in twice is caught as malformed data. */
#define SM_HEADER 25
#define SM_FILLER_MAX 100
#define SM_LOCK_LEN 4

uint64_t sim_hash_bytes(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return sim_mix(h);
}

uint64_t sim_entry_hash(const struct raft_entry *e)
{
    return sim_mix(sim_hash_bytes(e->data.base, e->data.len) ^ (uint64_t)e->type);
}

void sim_sm_apply(struct sim_sm *sm, const struct raft_entry *e, uint64_t entry_hash)
{
    sm->applied = e->index;
    if (e->type == RAFT_ENTRY_NORMAL)
        sm->count++;
    sm->hash = sim_mix(sm->hash ^ sim_mix(e->index ^ sim_mix(e->term ^ entry_hash)));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void fill(unsigned char *p, size_t len, uint64_t hash)
{
    uint64_t x = hash;
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)sim_splitmix64(&x);
}

int sim_sm_encode(const struct sim_sm *sm, const struct lock_sm *locks, struct raft_buf *out)
{
    void *lock_data = NULL;
    size_t lock_len = 0;
    int rc = lock_sm_snapshot(locks, &lock_data, &lock_len);
    if (rc != 0)
        return rc;
    size_t filler = (size_t)((sm->hash >> 8) % (SM_FILLER_MAX + 1));
    size_t len = SM_HEADER + filler + SM_LOCK_LEN + lock_len;
    unsigned char *p = malloc(len);
    if (!p || lock_len > UINT32_MAX) {
        free(p);
        free(lock_data);
        return BATON_ENOMEM;
    }
    put64(p, sm->applied);
    put64(p + 8, sm->count);
    put64(p + 16, sm->hash);
    p[24] = (unsigned char)filler;
    fill(p + SM_HEADER, filler, sm->hash);
    unsigned char *q = p + SM_HEADER + filler;
    for (int i = 0; i < SM_LOCK_LEN; i++)
        q[i] = (unsigned char)(lock_len >> (8 * i));
    memcpy(q + SM_LOCK_LEN, lock_data, lock_len);
    free(lock_data);
    out->base = p;
    out->len = len;
    return 0;
}

int sim_sm_decode(const void *data, size_t len, struct sim_sm *sm, const void **lock_data,
                  size_t *lock_len)
{
    const unsigned char *p = data;
    if (!p || len < SM_HEADER || len < SM_HEADER + (size_t)p[24] + SM_LOCK_LEN)
        return BATON_EMALFORMED;
    struct sim_sm s = {get64(p), get64(p + 8), get64(p + 16)};
    size_t filler = (size_t)((s.hash >> 8) % (SM_FILLER_MAX + 1));
    if (filler != p[24])
        return BATON_EMALFORMED;
    unsigned char expect[SM_FILLER_MAX];
    fill(expect, filler, s.hash);
    if (memcmp(expect, p + SM_HEADER, filler) != 0)
        return BATON_EMALFORMED;
    const unsigned char *q = p + SM_HEADER + filler;
    size_t n = 0;
    for (int i = 0; i < SM_LOCK_LEN; i++)
        n |= (size_t)q[i] << (8 * i);
    if (len != SM_HEADER + filler + SM_LOCK_LEN + n)
        return BATON_EMALFORMED;
    *sm = s;
    *lock_data = q + SM_LOCK_LEN;
    *lock_len = n;
    return 0;
}
