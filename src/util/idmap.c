/* An id -> pointer map by open addressing (idmap.h): libbaton's in-flight requests,
 * the node's client connections. */
#include <stdbool.h>
#include <stdlib.h>

#include "baton/error.h"
#include "util/idmap.h"

#define TABLE_MIN 16

void util_idmap_init(struct util_idmap *t)
{
    t->slots = NULL;
    t->cap = 0;
    t->n = 0;
}

void util_idmap_close(struct util_idmap *t)
{
    free(t->slots);
    util_idmap_init(t);
}

static size_t slot_of(uint64_t id, size_t cap)
{
    /* Fibonacci hashing spreads consecutive ids over the whole table. */
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static void insert(struct util_idmap_slot *slots, size_t cap, uint64_t id, void *ptr)
{
    size_t i = slot_of(id, cap);
    while (slots[i].id != 0) {
        i = (i + 1) & (cap - 1);
    }
    slots[i].id = id;
    slots[i].ptr = ptr;
}

static int grow(struct util_idmap *t)
{
    size_t cap = t->cap ? t->cap * 2 : TABLE_MIN;
    struct util_idmap_slot *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].id != 0) {
            insert(slots, cap, t->slots[i].id, t->slots[i].ptr);
        }
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

static long find(const struct util_idmap *t, uint64_t id)
{
    if (t->cap == 0 || id == 0) {
        return -1;
    }
    for (size_t i = slot_of(id, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].id == id) {
            return (long)i;
        }
        if (t->slots[i].id == 0) {
            return -1;
        }
    }
}

int util_idmap_put(struct util_idmap *t, uint64_t id, void *ptr)
{
    if (id == 0 || find(t, id) >= 0) {
        return BATON_EINVAL;
    }
    /* Keep the load under 3/4 so probes stay short and an empty slot exists. */
    if ((t->n + 1) * 4 > t->cap * 3) {
        int rv = grow(t);
        if (rv != 0) {
            return rv;
        }
    }
    insert(t->slots, t->cap, id, ptr);
    t->n++;
    return 0;
}

void *util_idmap_get(const struct util_idmap *t, uint64_t id)
{
    long i = find(t, id);
    return i < 0 ? NULL : t->slots[i].ptr;
}

void *util_idmap_del(struct util_idmap *t, uint64_t id)
{
    long at = find(t, id);
    if (at < 0) {
        return NULL;
    }
    size_t i = (size_t)at, mask = t->cap - 1;
    void *ptr = t->slots[i].ptr;
    /* Backward-shift deletion: move later members of the probe run into the hole
     * so that lookups never stop early at it (no tombstones needed). */
    for (size_t j = (i + 1) & mask; t->slots[j].id != 0; j = (j + 1) & mask) {
        size_t home = slot_of(t->slots[j].id, t->cap);
        /* j may move to i only if its home is not cyclically within (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].id = 0;
    t->slots[i].ptr = NULL;
    t->n--;
    return ptr;
}
