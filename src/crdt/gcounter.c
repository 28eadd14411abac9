/* The G-Counter set: counters by name, slots by node, increments and slot-wise max merge. */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

#define TABLE_MIN 16

void *crdt_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return p;
    }
    size_t n = *cap < 4 ? 4 : *cap;
    while (n < need) {
        if (n > SIZE_MAX / 2) {
            return NULL;
        }
        n *= 2;
    }
    if (n > SIZE_MAX / size) {
        return NULL;
    }
    void *q = realloc(p, n * size);
    if (q != NULL) {
        *cap = n;
    }
    return q;
}

int crdt_set_new(uint64_t self, uint64_t epoch, struct crdt_set **out)
{
    *out = NULL;
    if (self == 0 || epoch == 0) {
        return BATON_EINVAL;
    }
    struct crdt_set *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return BATON_ENOMEM;
    }
    s->self = self;
    s->epoch = epoch;
    s->log_compact_at = CRDT_LOG_COMPACT_MIN;
    *out = s;
    return 0;
}

void crdt_set_free(struct crdt_set *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_counters; i++) {
        free(s->counters[i]->slots);
        free(s->counters[i]);
    }
    free(s->counters);
    free(s->table);
    free(s->slots);
    free(s->log);
    free(s);
}

uint64_t crdt_self(const struct crdt_set *s)
{
    return s->self;
}

uint64_t crdt_epoch(const struct crdt_set *s)
{
    return s->epoch;
}

uint64_t crdt_version(const struct crdt_set *s)
{
    return s->version;
}

uint64_t crdt_durable(const struct crdt_set *s)
{
#ifdef BATON_CRDT_FAULT_ACK_EARLY
    /* Planted bug (tests/sim proves it is caught): everything in memory is
     * reported durable, so hosts answer increments a crash can still lose. */
    return s->version;
#else
    return s->durable;
#endif
}

size_t crdt_count(const struct crdt_set *s)
{
    return s->n_counters;
}

int crdt_name_check(const char *name, size_t *len)
{
    if (name == NULL) {
        return BATON_EINVAL;
    }
    size_t n = strnlen(name, CRDT_NAME_MAX + 1);
    if (n == 0 || n > CRDT_NAME_MAX) {
        return BATON_EINVAL;
    }
    *len = n;
    return 0;
}

/* FNV-1a (64 bits): names are short and the table only needs a spread, not a
 * secret. Iteration never follows the table, so its order cannot leak out. */
static uint64_t name_hash(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= 0x100000001b3u;
    }
    return h;
}

size_t crdt_counter_find(const struct crdt_set *s, const char *name, size_t len)
{
    if (s->table_cap == 0) {
        return CRDT_NONE;
    }
    size_t mask = s->table_cap - 1;
    for (size_t i = (size_t)name_hash(name, len) & mask;; i = (i + 1) & mask) {
        size_t v = s->table[i];
        if (v == 0) {
            return CRDT_NONE;
        }
        const struct crdt_counter *c = s->counters[v - 1];
        if (c->name_len == len && memcmp(c->name, name, len) == 0) {
            return v - 1;
        }
    }
}

static void table_insert(size_t *table, size_t cap, const struct crdt_counter *c, size_t ci)
{
    size_t mask = cap - 1;
    size_t i = (size_t)name_hash(c->name, c->name_len) & mask;
    while (table[i] != 0) {
        i = (i + 1) & mask;
    }
    table[i] = ci + 1;
}

/* Keeps the table at most half full with room for one more counter, so that
 * probing stays short and always ends at an empty bucket. */
static int table_reserve(struct crdt_set *s)
{
    if ((s->n_counters + 1) * 2 <= s->table_cap) {
        return 0;
    }
    size_t cap = s->table_cap == 0 ? TABLE_MIN : s->table_cap;
    while ((s->n_counters + 1) * 2 > cap) {
        if (cap > SIZE_MAX / 2 / sizeof(size_t)) {
            return BATON_ENOMEM;
        }
        cap *= 2;
    }
    size_t *table = calloc(cap, sizeof(*table));
    if (table == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t ci = 0; ci < s->n_counters; ci++) {
        table_insert(table, cap, s->counters[ci], ci);
    }
    free(s->table);
    s->table = table;
    s->table_cap = cap;
    return 0;
}

/* A counter's slots are few (one per node that ever incremented it), so a
 * linear scan beats any index. */
static size_t slot_find(const struct crdt_set *s, const struct crdt_counter *c, uint64_t node)
{
    for (size_t i = 0; i < c->n_slots; i++) {
        if (s->slots[c->slots[i]].node == node) {
            return c->slots[i];
        }
    }
    return CRDT_NONE;
}

static struct crdt_counter *counter_new(const char *name, size_t len)
{
    struct crdt_counter *c = calloc(1, sizeof(*c) + len + 1);
    if (c == NULL) {
        return NULL;
    }
    c->slots = malloc(sizeof(*c->slots));
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    c->cap_slots = 1;
    c->name_len = len;
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    return c;
}

/* Makes room for a new counter (ci == CRDT_NONE: creates it) and a new slot of
 * node in it, allocating everything before changing anything, so that a
 * failure leaves the set as it was. */
static int slot_add(struct crdt_set *s, size_t ci, const char *name, size_t len, uint64_t node,
                    size_t *out)
{
    struct crdt_slot_state *slots =
        crdt_grow(s->slots, &s->cap_slots, s->n_slots + 1, sizeof(*s->slots));
    if (slots == NULL) {
        return BATON_ENOMEM;
    }
    s->slots = slots;

    struct crdt_counter *c;
    if (ci == CRDT_NONE) {
        struct crdt_counter **counters = crdt_grow(s->counters, &s->cap_counters,
                                                   s->n_counters + 1, sizeof(*s->counters));
        if (counters == NULL) {
            return BATON_ENOMEM;
        }
        s->counters = counters;
        if (table_reserve(s) != 0 || (c = counter_new(name, len)) == NULL) {
            return BATON_ENOMEM;
        }
        ci = s->n_counters++;
        s->counters[ci] = c;
        table_insert(s->table, s->table_cap, c, ci);
    } else {
        c = s->counters[ci];
        size_t *idx = crdt_grow(c->slots, &c->cap_slots, c->n_slots + 1, sizeof(*c->slots));
        if (idx == NULL) {
            return BATON_ENOMEM;
        }
        c->slots = idx;
    }

    size_t si = s->n_slots++;
    memset(&s->slots[si], 0, sizeof(s->slots[si]));
    s->slots[si].node = node;
    s->slots[si].counter = ci;
    c->slots[c->n_slots++] = si;
    *out = si;
    return 0;
}

/* Raises node's slot of name to value if that is higher: the one path by which
 * any slot changes. ci and si are the counter and slot if known (CRDT_NONE
 * otherwise). *raised tells whether anything changed. */
static int slot_raise(struct crdt_set *s, size_t ci, size_t si, const char *name, size_t len,
                      uint64_t node, uint64_t value, bool *raised)
{
    *raised = false;
    if (value <= (si == CRDT_NONE ? 0 : s->slots[si].value)) {
        return 0;
    }
    int err = crdt_log_reserve(s);
    if (err == 0 && si == CRDT_NONE) {
        err = slot_add(s, ci, name, len, node, &si);
    }
    if (err != 0) {
        return err;
    }
    crdt_log_change(s, si, value);
    *raised = true;
    return 0;
}

/* Finds (or not) the counter and node's slot in it. */
static void locate(const struct crdt_set *s, const char *name, size_t len, uint64_t node,
                   size_t *ci, size_t *si)
{
    *ci = crdt_counter_find(s, name, len);
    *si = *ci == CRDT_NONE ? CRDT_NONE : slot_find(s, s->counters[*ci], node);
}

/* The counter's value; false if it passes UINT64_MAX (*sum is then UINT64_MAX). */
static bool counter_sum(const struct crdt_set *s, const struct crdt_counter *c, uint64_t *sum)
{
    uint64_t v = 0;
    for (size_t i = 0; i < c->n_slots; i++) {
        uint64_t x = s->slots[c->slots[i]].value;
        if (x > UINT64_MAX - v) {
            *sum = UINT64_MAX;
            return false;
        }
        v += x;
    }
    *sum = v;
    return true;
}

static void put_opt(uint64_t *p, uint64_t v)
{
    if (p != NULL) {
        *p = v;
    }
}

int crdt_incr(struct crdt_set *s, const char *name, uint64_t n, uint64_t *slot,
              uint64_t *value, uint64_t *version)
{
    size_t len, ci, si;
    int err = crdt_name_check(name, &len);
    if (err != 0) {
        return err;
    }
    locate(s, name, len, s->self, &ci, &si);
    uint64_t cur = si == CRDT_NONE ? 0 : s->slots[si].value;
    uint64_t sum = 0;
    if (ci != CRDT_NONE && !counter_sum(s, s->counters[ci], &sum)) {
        return BATON_EOVERFLOW;
    }
    if (n > 0) {
        /* sum >= cur, so a sum that fits guarantees a slot that fits. */
        if (sum > UINT64_MAX - n) {
            return BATON_EOVERFLOW;
        }
        bool raised;
        err = slot_raise(s, ci, si, name, len, s->self, cur + n, &raised);
        if (err != 0) {
            return err;
        }
        cur += n;
        sum += n;
    }
    put_opt(slot, cur);
    put_opt(value, sum);
    put_opt(version, s->version);
    return 0;
}

int crdt_value(const struct crdt_set *s, const char *name, uint64_t *value)
{
    size_t len;
    int err = crdt_name_check(name, &len);
    if (err != 0) {
        return err;
    }
    size_t ci = crdt_counter_find(s, name, len);
    if (ci == CRDT_NONE) {
        *value = 0;
        return BATON_ENOTFOUND;
    }
    return counter_sum(s, s->counters[ci], value) ? 0 : BATON_EOVERFLOW;
}

int crdt_slot_get(const struct crdt_set *s, const char *name, uint64_t node, uint64_t *value)
{
    size_t len, ci, si;
    int err = crdt_name_check(name, &len);
    if (err != 0) {
        return err;
    }
    if (node == 0) {
        return BATON_EINVAL;
    }
    locate(s, name, len, node, &ci, &si);
    *value = si == CRDT_NONE ? 0 : s->slots[si].value;
    return ci == CRDT_NONE ? BATON_ENOTFOUND : 0;
}

/* Merges one slot whose name has been checked. */
static int merge_one(struct crdt_set *s, const struct crdt_slot *in, size_t len, bool *raised)
{
    size_t ci, si;
    locate(s, in->name, len, in->node, &ci, &si);
#ifdef BATON_CRDT_FAULT_MERGE_ADDS
    /* Planted bug (tests/sim proves it is caught): a merge that raises a slot
     * adds the peer's value to ours, counting increments twice. */
    if (si != CRDT_NONE && in->value > s->slots[si].value) {
        return slot_raise(s, ci, si, in->name, len, in->node, s->slots[si].value + in->value,
                          raised);
    }
#endif
    return slot_raise(s, ci, si, in->name, len, in->node, in->value, raised);
}

int crdt_merge(struct crdt_set *s, const struct crdt_slot *slots, size_t n, bool *changed,
               size_t *n_changed)
{
    size_t len;
    for (size_t i = 0; i < n; i++) {
        if (crdt_name_check(slots[i].name, &len) != 0 || slots[i].node == 0) {
            return BATON_EINVAL;
        }
    }
    if (changed != NULL && n > 0) {
        memset(changed, 0, n * sizeof(*changed));
    }
    size_t count = 0;
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        bool raised = false;
        len = strlen(slots[i].name);
        err = merge_one(s, &slots[i], len, &raised);
        if (raised) {
            count++;
            if (changed != NULL) {
                changed[i] = true;
            }
        }
    }
    if (n_changed != NULL) {
        *n_changed = count;
    }
    return err;
}

int crdt_load_slot(struct crdt_set *s, const char *name, uint64_t node, uint64_t value)
{
    size_t len;
    if (crdt_name_check(name, &len) != 0 || node == 0) {
        return BATON_EINVAL;
    }
    /* What comes from the disk is durable; it can be marked so only while
     * nothing newer is pending, since the durable mark covers all before it. */
    bool quiet = s->durable == s->version && s->synced == s->version;
    struct crdt_slot in = {.name = name, .node = node, .value = value};
    bool raised;
    int err = merge_one(s, &in, len, &raised);
    if (err != 0 || !raised || !quiet) {
        return err;
    }
    s->durable = s->synced = s->version;
    s->slots[s->log[s->log_len - 1].slot].stable_stamp = s->version;
    return 0;
}

int crdt_foreach(const struct crdt_set *s, crdt_slot_cb cb, void *arg)
{
    for (size_t ci = 0; ci < s->n_counters; ci++) {
        const struct crdt_counter *c = s->counters[ci];
        for (size_t i = 0; i < c->n_slots; i++) {
            const struct crdt_slot_state *st = &s->slots[c->slots[i]];
            struct crdt_slot out = {.name = c->name, .node = st->node, .value = st->value};
            int rc = cb(&out, arg);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
