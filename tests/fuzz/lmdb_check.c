/* A structural check of an LMDB data file (lmdb_check.h): mdb.c's page layout, walked. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_check.h"

/* mdb.c, data version 1. */
#define MAGIC 0xBEEFC0DEu
#define DATA_VERSION 1u
#define PAGE_HDR 16u  /* u64 pgno, u16 pad, u16 flags, u16 lower, u16 upper (or u32 pages) */
#define NODE_HDR 8u   /* u16 lo, u16 hi, u16 flags, u16 ksize */
#define DB_BYTES 48u  /* MDB_db: u32 pad, u16 flags, u16 depth, u64 branch, leaf, overflow,
                       * entries, root */
#define META_DBS (PAGE_HDR + 24u)
#define META_LAST_PG (PAGE_HDR + 120u)
#define META_TXNID (PAGE_HDR + 128u)
#define META_END (PAGE_HDR + 136u)
#define P_BRANCH 0x01u
#define P_LEAF 0x02u
#define P_OVERFLOW 0x04u
#define P_META 0x08u
#define F_BIGDATA 0x01u
#define F_SUBDATA 0x02u
#define MDB_INTEGERKEY 0x08u
#define P_INVALID UINT64_MAX
#define MAX_DEPTH 32u /* CURSOR_STACK */
#define PSIZE_MIN 512u
#define PSIZE_MAX 65536u

enum tree_kind {
    TREE_FREE = 1, /* txnid (native u64) -> list of freed pages */
    TREE_MAIN,     /* database name -> MDB_db */
    TREE_SUB,      /* one of baton's databases: bytes -> bytes */
};

struct key {
    const uint8_t *p;
    size_t len;
    bool set; /* false: unbounded */
};

struct walk {
    const uint8_t *data;
    uint32_t psize;
    uint64_t last_pg;
    uint8_t *used; /* one byte per page: reached already */
    uint64_t *free_pages;
    size_t n_free;
    size_t cap_free;
    char *why;
    size_t why_len;
};

struct tree_count {
    uint64_t branch;
    uint64_t leaf;
    uint64_t overflow;
    uint64_t entries;
};

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static bool fail(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct walk *w, const char *fmt, ...)
{
    if (w->why != NULL && w->why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->why, w->why_len, fmt, ap);
        va_end(ap);
    }
    return false;
}

static const uint8_t *page_at(const struct walk *w, uint64_t pgno)
{
    return w->data + pgno * w->psize;
}

/* Marks pages [pgno, pgno + count) as reached; each page may be reached once. */
static bool reach(struct walk *w, uint64_t pgno, uint64_t count)
{
    if (pgno < 2 || pgno > w->last_pg || count == 0 || count > w->last_pg - pgno + 1) {
        return fail(w, "page %llu (+%llu) outside [2, %llu]", (unsigned long long)pgno,
                    (unsigned long long)count, (unsigned long long)w->last_pg);
    }
    for (uint64_t i = pgno; i < pgno + count; i++) {
        if (w->used[i]) {
            return fail(w, "page %llu reached twice", (unsigned long long)i);
        }
        w->used[i] = 1;
    }
    return true;
}

/* mdb_cmp_long for the free database, mdb_cmp_memn for the others. */
static int key_cmp(int kind, const struct key *a, const struct key *b)
{
    if (kind == TREE_FREE) {
        uint64_t x = get64(a->p), y = get64(b->p);
        return x < y ? -1 : x > y;
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n > 0 ? memcmp(a->p, b->p, n) : 0;
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : a->len > b->len;
}

/* A big value's overflow pages: the right count of them, all in range. */
static bool overflow(struct walk *w, uint64_t opg, uint64_t dsize, struct tree_count *c,
                     const uint8_t **value)
{
    uint64_t pages = (PAGE_HDR - 1 + dsize) / w->psize + 1;
    if (!reach(w, opg, pages)) {
        return false;
    }
    const uint8_t *p = page_at(w, opg);
    if (get64(p) != opg || get16(p + 10) != P_OVERFLOW || get32(p + 12) != pages) {
        return fail(w, "overflow page %llu: bad header", (unsigned long long)opg);
    }
    c->overflow += pages;
    *value = p + PAGE_HDR;
    return true;
}

/* A free-list record: count, then that many page numbers, descending. */
static bool free_list(struct walk *w, const uint8_t *v, uint64_t len)
{
    if (len < 8 || len % 8 != 0 || get64(v) != len / 8 - 1) {
        return fail(w, "free-list record of %llu bytes", (unsigned long long)len);
    }
    for (uint64_t i = 1; i < len / 8; i++) {
        uint64_t pg = get64(v + 8 * i);
        if (pg < 2 || pg > w->last_pg || (i > 1 && pg >= get64(v + 8 * (i - 1)))) {
            return fail(w, "free list names page %llu", (unsigned long long)pg);
        }
        if (w->n_free == w->cap_free) {
            w->cap_free = w->cap_free ? 2 * w->cap_free : 64;
            uint64_t *f = realloc(w->free_pages, w->cap_free * sizeof(*f));
            if (f == NULL) {
                return fail(w, "out of memory");
            }
            w->free_pages = f;
        }
        w->free_pages[w->n_free++] = pg;
    }
    return true;
}

static bool check_db(struct walk *w, const uint8_t *db, int kind, const char *name);

/* One leaf node's value, by the kind of tree. */
static bool leaf_value(struct walk *w, int kind, const uint8_t *node, size_t room,
                       struct tree_count *c)
{
    uint16_t flags = get16(node + 4), ksize = get16(node + 6);
    uint64_t dsize = get16(node) | (uint64_t)get16(node + 2) << 16;
    const uint8_t *v = node + NODE_HDR + ksize;
    if (kind == TREE_FREE && ksize != 8) {
        return fail(w, "free-list key of %u bytes", ksize);
    }
    if (flags == F_SUBDATA && kind == TREE_MAIN) {
        if (dsize != DB_BYTES || NODE_HDR + ksize + DB_BYTES > room) {
            return fail(w, "named database record of %llu bytes", (unsigned long long)dsize);
        }
        char name[64];
        snprintf(name, sizeof(name), "%.*s", ksize < 60 ? (int)ksize : 60, node + NODE_HDR);
        return check_db(w, v, TREE_SUB, name);
    }
    if (flags == F_BIGDATA) {
        if (NODE_HDR + ksize + 8u > room) {
            return fail(w, "big value's page number out of the page");
        }
        if (!overflow(w, get64(v), dsize, c, &v)) {
            return false;
        }
    } else if (flags != 0 || NODE_HDR + ksize + dsize > room) {
        return fail(w, "leaf node with flags %#x and %llu bytes", flags,
                    (unsigned long long)dsize);
    }
    return kind != TREE_FREE || free_list(w, v, dsize);
}

/* Node i of page p (lower bound upper): its address, and its key in *k. */
static const uint8_t *node_at(struct walk *w, uint64_t pgno, const uint8_t *p, uint16_t upper,
                              size_t i, int kind, bool branch, struct key *k)
{
    uint16_t off = get16(p + PAGE_HDR + 2 * i);
    if (off % 2 != 0 || off < upper || off + NODE_HDR > w->psize) {
        fail(w, "page %llu: node %zu at %u", (unsigned long long)pgno, i, off);
        return NULL;
    }
    const uint8_t *node = p + off;
    *k = (struct key){.p = node + NODE_HDR, .len = get16(node + 6), .set = true};
    /* A branch's first key is not used, and may be of any length. */
    if (off + NODE_HDR + k->len > w->psize ||
        (kind == TREE_FREE && (i > 0 || !branch) && k->len != 8)) {
        fail(w, "page %llu: key %zu of %zu bytes", (unsigned long long)pgno, i, k->len);
        return NULL;
    }
    return node;
}

static bool walk_page(struct walk *w, uint64_t pgno, unsigned depth, unsigned want, int kind,
                      struct key lo, struct key hi, struct tree_count *c);

/* Node i of a branch page: its child, whose keys lie in [its key, the next
 * node's key), within [lo, hi). */
static bool walk_child(struct walk *w, uint64_t pgno, const uint8_t *p, uint16_t upper,
                       size_t i, size_t n, unsigned depth, unsigned want, int kind,
                       struct key lo, struct key hi, struct tree_count *c)
{
    struct key k, next;
    const uint8_t *node = node_at(w, pgno, p, upper, i, kind, true, &k);
    if (node == NULL ||
        (i + 1 < n && node_at(w, pgno, p, upper, i + 1, kind, true, &next) == NULL)) {
        return false;
    }
    uint64_t child = get16(node) | (uint64_t)get16(node + 2) << 16 |
                     (uint64_t)get16(node + 4) << 32;
    return walk_page(w, child, depth + 1, want, kind, i > 0 ? k : lo, i + 1 < n ? next : hi, c);
}

/* The subtree at pgno, depth levels from the root (1 = root), whose keys must
 * lie in [lo, hi). */
static bool walk_page(struct walk *w, uint64_t pgno, unsigned depth, unsigned want, int kind,
                      struct key lo, struct key hi, struct tree_count *c)
{
    if (!reach(w, pgno, 1)) {
        return false;
    }
    const uint8_t *p = page_at(w, pgno);
    uint16_t flags = get16(p + 10), lower = get16(p + 12), upper = get16(p + 14);
    bool branch = flags == P_BRANCH;
    if (get64(p) != pgno || (flags != P_BRANCH && flags != P_LEAF)) {
        return fail(w, "page %llu: number %llu, flags %#x", (unsigned long long)pgno,
                    (unsigned long long)get64(p), flags);
    }
    if (branch ? depth >= want : depth != want) {
        return fail(w, "page %llu at depth %u of %u", (unsigned long long)pgno, depth, want);
    }
    size_t n = lower >= PAGE_HDR ? (lower - PAGE_HDR) / 2 : 0;
    if (lower < PAGE_HDR || lower % 2 != 0 || lower > upper || upper > w->psize ||
        n < (branch ? 2u : 1u)) {
        return fail(w, "page %llu: lower %u, upper %u", (unsigned long long)pgno, lower, upper);
    }
    struct key prev = lo; /* the lower bound is inclusive, the keys after it increase */
    for (size_t i = 0; i < n; i++) {
        struct key k;
        const uint8_t *node = node_at(w, pgno, p, upper, i, kind, branch, &k);
        if (node == NULL) {
            return false;
        }
        if (!branch || i > 0) {
            int order = prev.set ? key_cmp(kind, &prev, &k) : -1;
            if (order > 0 || (order == 0 && prev.p != lo.p) ||
                (hi.set && key_cmp(kind, &k, &hi) >= 0)) {
                return fail(w, "page %llu: key %zu out of order", (unsigned long long)pgno, i);
            }
            prev = k;
        }
        bool ok = branch ? walk_child(w, pgno, p, upper, i, n, depth, want, kind, lo, hi, c)
                         : leaf_value(w, kind, node, w->psize - (size_t)(node - p), c);
        if (!ok) {
            return false;
        }
        c->entries += !branch;
    }
    if (branch) {
        c->branch++;
    } else {
        c->leaf++;
    }
    return true;
}

static bool check_db(struct walk *w, const uint8_t *db, int kind, const char *name)
{
    uint16_t flags = get16(db + 4), depth = get16(db + 6);
    uint64_t branch = get64(db + 8), leaf = get64(db + 16), over = get64(db + 24);
    uint64_t entries = get64(db + 32), root = get64(db + 40);
    if (flags != (kind == TREE_FREE ? MDB_INTEGERKEY : 0)) {
        return fail(w, "database %s has flags %#x", name, flags);
    }
    if (root == P_INVALID) {
        if (depth != 0 || branch != 0 || leaf != 0 || over != 0 || entries != 0) {
            return fail(w, "empty database %s with counts", name);
        }
        return true;
    }
    if (depth == 0 || depth > MAX_DEPTH) {
        return fail(w, "database %s of depth %u", name, depth);
    }
    struct tree_count c = {0};
    struct key none = {0};
    if (!walk_page(w, root, 1, depth, kind, none, none, &c)) {
        return false;
    }
    if (c.branch != branch || c.leaf != leaf || c.overflow != over || c.entries != entries) {
        return fail(w, "database %s: its counts disagree with its tree", name);
    }
    return true;
}

/* The meta page LMDB will use, as mdb_env_read_header picks it. */
static const uint8_t *pick_meta(const uint8_t *data, size_t size)
{
    const uint8_t *m[2];
    size_t off = 0;
    for (int i = 0; i < 2; i++) {
        if (off + META_END > size) {
            return NULL;
        }
        m[i] = data + off;
        uint32_t psize = get32(m[i] + META_DBS);
        if (!(get16(m[i] + 10) & P_META) || get32(m[i] + PAGE_HDR) != MAGIC ||
            get32(m[i] + PAGE_HDR + 4) != DATA_VERSION || psize < PSIZE_MIN ||
            psize > PSIZE_MAX || (psize & (psize - 1)) != 0) {
            return NULL;
        }
        off = get32(m[0] + META_DBS);
    }
    int cur = get64(m[1] + META_TXNID) > get64(m[0] + META_TXNID);
    /* Write transactions use slot txnid & 1: another meta is the store's to refuse. */
    return (get64(m[cur] + META_TXNID) & 1) == (uint64_t)cur ? m[cur] : NULL;
}

int lmdb_check(const uint8_t *data, size_t size, char *why, size_t why_len)
{
    struct walk w = {.data = data, .why = why, .why_len = why_len};
    if (why != NULL && why_len > 0) {
        why[0] = '\0';
    }
    const uint8_t *meta = pick_meta(data, size);
    if (meta == NULL) {
        return LMDB_CHECK_HEADER;
    }
    w.psize = get32(meta + META_DBS);
    w.last_pg = get64(meta + META_LAST_PG);
    if (w.last_pg >= size / w.psize) {
        return LMDB_CHECK_HEADER;
    }
    /* Root pages out of range are the store's to refuse (src/store/env.c). */
    for (int i = 0; i < 2; i++) {
        uint64_t root = get64(meta + META_DBS + i * DB_BYTES + 40);
        if (root != P_INVALID && (root < 2 || root > w.last_pg)) {
            return LMDB_CHECK_HEADER;
        }
    }
    w.used = calloc(w.last_pg + 1, 1);
    if (w.used == NULL) {
        return LMDB_CHECK_HEADER;
    }
    bool ok = check_db(&w, meta + META_DBS, TREE_FREE, "(free)") &&
              check_db(&w, meta + META_DBS + DB_BYTES, TREE_MAIN, "(main)");
    for (size_t i = 0; ok && i < w.n_free; i++) {
        if (w.used[w.free_pages[i]]) {
            ok = fail(&w, "free page %llu is in use or freed twice",
                      (unsigned long long)w.free_pages[i]);
        }
        w.used[w.free_pages[i]] = 1;
    }
    free(w.used);
    free(w.free_pages);
    return ok ? LMDB_CHECK_OK : LMDB_CHECK_PAGES;
}
