/* LMDB's B-trees in an image of data.mdb, walked (check.h): pages, nodes, overflow, free lists. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/error.h"
#include "store/check.h"

#define F_BIGDATA 0x01u
#define F_SUBDATA 0x02u
#define MDB_INTEGERKEY 0x08u
#define MAX_DEPTH 32u /* CURSOR_STACK */
#define MAX_KEY 511u  /* MDB_MAXKEYSIZE */
#define FREE_KEY 8u   /* a txnid */

struct key {
    const uint8_t *p;
    size_t len;
    bool set; /* false: no bound */
};

struct counts {
    uint64_t branch;
    uint64_t leaf;
    uint64_t overflow;
    uint64_t entries;
};

/* One tree being walked. */
struct tree {
    int kind;        /* enum store_tree */
    unsigned depth;  /* the depth of its leaves (the root is at 1) */
    struct counts n; /* what the walk found */
};

int store_walk_fail(struct store_walk *w, uint64_t pgno, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (w->why == NULL || w->why_len == 0)
        return BATON_ECORRUPT;
    if (pgno == STORE_MDB_NO_PAGE)
        n = snprintf(w->why, w->why_len, "%s database: ", w->db);
    else
        n = snprintf(w->why, w->why_len, "page %" PRIu64 " (%s database): ", pgno, w->db);
    if (n < 0 || (size_t)n >= w->why_len)
        return BATON_ECORRUPT;
    va_start(ap, fmt);
    vsnprintf(w->why + n, w->why_len - (size_t)n, fmt, ap);
    va_end(ap);
    return BATON_ECORRUPT;
}

static const uint8_t *page_at(const struct store_walk *w, uint64_t pgno)
{
    return w->data + pgno * w->psize;
}

/* Whether pages [pgno, pgno + count) may be read; if not, where says why.
 * LMDB reads them through its map of the file: one past its end is a SIGBUS.
 * The meta page's last page may lie past the end (pages a transaction took
 * from the end and freed again are never written), but those are free. */
static bool readable(const struct store_walk *w, uint64_t pgno, uint64_t count, char *where,
                     size_t where_len)
{
    if (pgno < 2 || count == 0 || pgno > w->last_pg || count > w->last_pg - pgno + 1) {
        snprintf(where, where_len, "outside [2, %" PRIu64 "]", w->last_pg);
        return false;
    }
    if (pgno + count > w->file_pages) {
        snprintf(where, where_len, "past the end of the file (%" PRIu64 " pages; truncated?)",
                 w->file_pages);
        return false;
    }
    return true;
}

/* Marks pages [pgno, pgno + count), already known to be in the file, as part
 * of a tree: each page may be reached once, and not be free. from is the page
 * that points at them, for the message. */
static int reach(struct store_walk *w, uint64_t from, uint64_t pgno, uint64_t count)
{
    for (uint64_t pg = pgno; pg < pgno + count; pg++) {
        if (w->page_state[pg] == STORE_PAGE_FREE)
            return store_walk_fail(w, from, "points to page %" PRIu64 ", which is on the free list",
                                   pg);
        if (w->page_state[pg] != 0)
            return store_walk_fail(w, from,
                                   "points to page %" PRIu64
                                   ", which is part of a tree already (a cycle, or two parents)",
                                   pg);
        w->page_state[pg] = STORE_PAGE_USED;
    }
    return 0;
}

/* mdb_cmp_long for the free database (MDB_INTEGERKEY), mdb_cmp_memn for the others. */
static int key_cmp(int kind, const struct key *a, const struct key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c;

    if (kind == STORE_TREE_FREE) {
        uint64_t x = store_mdb_u64(a->p), y = store_mdb_u64(b->p);

        return x < y ? -1 : x > y;
    }
    c = n > 0 ? memcmp(a->p, b->p, n) : 0;
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static const uint8_t *node_at(const uint8_t *p, size_t i)
{
    return p + store_mdb_u16(p + STORE_MDB_PAGE_HDR + 2 * i);
}

static struct key node_key(const uint8_t *node)
{
    return (struct key){.p = node + STORE_MDB_NODE_HDR,
                        .len = store_mdb_u16(node + 6),
                        .set = true};
}

/* A leaf node's value size (mn_lo, mn_hi), or a branch node's child (mn_lo,
 * mn_hi, mn_flags). */
static uint64_t node_dsize(const uint8_t *node)
{
    return store_mdb_u16(node) | (uint64_t)store_mdb_u16(node + 2) << 16;
}

static uint64_t node_child(const uint8_t *node)
{
    return node_dsize(node) | (uint64_t)store_mdb_u16(node + 4) << 32;
}

/* The bytes node i takes in its page, with its key's and value's sizes checked. */
static int node_size(struct store_walk *w, const struct tree *t, uint64_t pgno, const uint8_t *p,
                     size_t i, bool branch, uint32_t *size)
{
    const uint8_t *node = node_at(p, i);
    uint16_t flags = store_mdb_u16(node + 4), ksize = store_mdb_u16(node + 6);
    uint64_t dsize = node_dsize(node);

    if (ksize > MAX_KEY)
        return store_walk_fail(w, pgno, "node %zu has a key of %u bytes", i, ksize);
    /* A branch's first key is never compared: LMDB leaves it empty. */
    if (t->kind == STORE_TREE_FREE && ksize != FREE_KEY && (i > 0 || !branch))
        return store_walk_fail(w, pgno, "node %zu has a txnid key of %u bytes", i, ksize);
    *size = STORE_MDB_NODE_HDR + ksize;
    if (branch)
        return 0;
    if (flags == F_BIGDATA) {
        *size += 8; /* the first overflow page's number */
        return 0;
    }
    if (flags != 0 && !(flags == F_SUBDATA && t->kind == STORE_TREE_MAIN))
        return store_walk_fail(w, pgno, "node %zu has flags %#x", i, flags);
    if (flags == F_SUBDATA && dsize != STORE_MDB_DB_BYTES)
        return store_walk_fail(w, pgno, "node %zu names a database with a record of %" PRIu64
                               " bytes", i, dsize);
    if (*size + dsize > w->nodemax)
        return store_walk_fail(w, pgno, "node %zu holds %" PRIu64 " bytes in the page (at most %"
                               PRIu32 ")", i, *size + dsize, w->nodemax);
    *size += (uint32_t)dsize;
    return 0;
}

static int span_cmp(const void *a, const void *b)
{
    const struct store_span *x = a, *y = b;

    return x->off < y->off ? -1 : x->off > y->off;
}

/* The page's n nodes, whose spans are in w->spans, lie side by side without
 * overlapping. LMDB usually stores them in descending order (a node added
 * goes below the others), which needs no sort. */
static int check_overlap(struct store_walk *w, uint64_t pgno, size_t n)
{
    struct store_span *s = w->spans;
    bool descending = true;

    for (size_t i = 1; i < n && descending; i++)
        descending = s[i].off < s[i - 1].off;
    if (descending) {
        for (size_t i = 1; i < n; i++)
            if (s[i].end > s[i - 1].off)
                return store_walk_fail(w, pgno, "node %zu overlaps node %zu", i, i - 1);
        return 0;
    }
    qsort(s, n, sizeof *s, span_cmp);
    for (size_t i = 1; i < n; i++)
        if (s[i].off < s[i - 1].end)
            return store_walk_fail(w, pgno, "the nodes at offsets %" PRIu32 " and %" PRIu32
                                   " overlap", s[i - 1].off, s[i].off);
    return 0;
}

/* Keys of a page strictly increase within [lo, hi); a branch's first key is
 * not a key. */
static int check_keys(struct store_walk *w, const struct tree *t, uint64_t pgno, const uint8_t *p,
                      size_t n, bool branch, struct key lo, struct key hi)
{
    struct key prev = lo;

    for (size_t i = branch ? 1 : 0; i < n; i++) {
        struct key k = node_key(node_at(p, i));
        int order = prev.set ? key_cmp(t->kind, &prev, &k) : -1;

        if (order > 0 || (order == 0 && prev.p != lo.p) ||
            (hi.set && key_cmp(t->kind, &k, &hi) >= 0))
            return store_walk_fail(w, pgno, "node %zu's key is out of order", i);
        prev = k;
    }
    return 0;
}

/* Everything about a page that does not need another page: header, nodes, keys. */
static int check_page(struct store_walk *w, const struct tree *t, uint64_t pgno, unsigned depth,
                      struct key lo, struct key hi, size_t *n_nodes)
{
    const uint8_t *p = page_at(w, pgno);
    uint16_t flags = store_mdb_u16(p + 10), lower = store_mdb_u16(p + 12);
    uint16_t upper = store_mdb_u16(p + 14);
    bool branch = flags == STORE_MDB_P_BRANCH;
    size_t n = lower >= STORE_MDB_PAGE_HDR ? (lower - STORE_MDB_PAGE_HDR) / 2u : 0;
    int rc;

    if (store_mdb_u64(p) != pgno)
        return store_walk_fail(w, pgno, "the page says it is page %" PRIu64, store_mdb_u64(p));
    if (flags != STORE_MDB_P_BRANCH && flags != STORE_MDB_P_LEAF)
        return store_walk_fail(w, pgno, "a page of type %#x in a tree", flags);
    if (branch ? depth >= t->depth : depth != t->depth)
        return store_walk_fail(w, pgno, "a %s page at depth %u of a tree of depth %u",
                               branch ? "branch" : "leaf", depth, t->depth);
    if (lower < STORE_MDB_PAGE_HDR || lower % 2 != 0 || lower > upper || upper > w->psize ||
        n < (branch ? 2u : 1u))
        return store_walk_fail(w, pgno, "lower %u, upper %u (%zu nodes)", lower, upper, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t off = store_mdb_u16(p + STORE_MDB_PAGE_HDR + 2 * i), size = 0;

        if (off % 2 != 0 || off < upper || off + STORE_MDB_NODE_HDR > w->psize)
            return store_walk_fail(w, pgno, "node %zu at offset %" PRIu32, i, off);
        if ((rc = node_size(w, t, pgno, p, i, branch, &size)) != 0)
            return rc;
        if (off + size > w->psize)
            return store_walk_fail(w, pgno, "node %zu runs past the page end", i);
        w->spans[i] = (struct store_span){.off = off, .end = off + size};
    }
    if ((rc = check_overlap(w, pgno, n)) != 0 ||
        (rc = check_keys(w, t, pgno, p, n, branch, lo, hi)) != 0)
        return rc;
    *n_nodes = n;
    return 0;
}

/* A big value's overflow pages: in the file, reached once, marked P_OVERFLOW
 * and at least as many as the value needs. *value is set to its bytes. */
static int overflow(struct store_walk *w, struct tree *t, uint64_t pgno, size_t i,
                    const uint8_t *node, uint64_t dsize, const uint8_t **value)
{
    uint64_t opg = store_mdb_u64(node + STORE_MDB_NODE_HDR + store_mdb_u16(node + 6));
    uint64_t need = (STORE_MDB_PAGE_HDR - 1 + dsize) / w->psize + 1;
    const uint8_t *op;
    uint32_t pages;
    char where[96];

    if (!readable(w, opg, need, where, sizeof where))
        return store_walk_fail(w, pgno, "node %zu's value of %" PRIu64 " bytes is on %" PRIu64
                               " pages from page %" PRIu64 ", %s", i, dsize, need, opg, where);
    op = page_at(w, opg);
    pages = store_mdb_u32(op + 12);
    if (store_mdb_u64(op) != opg || store_mdb_u16(op + 10) != STORE_MDB_P_OVERFLOW)
        return store_walk_fail(w, pgno, "node %zu's value is on page %" PRIu64
                               ", not an overflow page", i, opg);
    if (pages < need)
        return store_walk_fail(w, pgno, "node %zu's value needs %" PRIu64
                               " overflow pages from page %" PRIu64 ", which counts %" PRIu32, i,
                               need, opg, pages);
    /* LMDB frees all the pages the first one counts. */
    if (!readable(w, opg, pages, where, sizeof where))
        return store_walk_fail(w, pgno, "node %zu's value is on %" PRIu32 " pages from page %"
                               PRIu64 ", %s", i, pages, opg, where);
    t->n.overflow += pages;
    *value = op + STORE_MDB_PAGE_HDR;
    return reach(w, pgno, opg, pages);
}

/* A free-list record: a count, then that many page numbers, descending. */
static int free_list(struct store_walk *w, uint64_t pgno, size_t i, const uint8_t *v,
                     uint64_t len)
{
    uint64_t count = len >= 8 ? store_mdb_u64(v) : 0, prev = UINT64_MAX;

    if (len < 8 || len % 8 != 0 || count > len / 8 - 1)
        return store_walk_fail(w, pgno, "node %zu is a free list of %" PRIu64
                               " bytes counting %" PRIu64 " pages", i, len, count);
    for (uint64_t j = 1; j <= count; j++) {
        uint64_t pg = store_mdb_u64(v + 8 * j);

        if (pg < 2 || pg > w->last_pg || pg >= prev)
            return store_walk_fail(w, pgno, "node %zu lists free page %" PRIu64
                                   " (after %" PRIu64 ", last page %" PRIu64 ")",
                                   i, pg, prev, w->last_pg);
        if (w->page_state[pg] != 0)
            return store_walk_fail(w, pgno, "node %zu lists free page %" PRIu64
                                   ", which is in use or listed twice", i, pg);
        w->page_state[pg] = STORE_PAGE_FREE;
        prev = pg;
    }
    return 0;
}

/* Node i of leaf page pgno: its value by the kind of tree. */
static int leaf_value(struct store_walk *w, struct tree *t, uint64_t pgno, const uint8_t *p,
                      size_t i)
{
    const uint8_t *node = node_at(p, i);
    uint16_t flags = store_mdb_u16(node + 4), ksize = store_mdb_u16(node + 6);
    uint64_t dsize = node_dsize(node);
    const uint8_t *v = node + STORE_MDB_NODE_HDR + ksize;
    char name[MAX_KEY + 3];
    int rc;

    if (flags == F_SUBDATA) { /* node_size: only in the main tree */
        snprintf(name, sizeof name, "\"%.*s\"", (int)ksize,
                 (const char *)(node + STORE_MDB_NODE_HDR));
        return store_walk_db(w, v, STORE_TREE_SUB, name);
    }
    if (flags == F_BIGDATA && (rc = overflow(w, t, pgno, i, node, dsize, &v)) != 0)
        return rc;
    return t->kind == STORE_TREE_FREE ? free_list(w, pgno, i, v, dsize) : 0;
}

static int walk_page(struct store_walk *w, struct tree *t, uint64_t pgno, unsigned depth,
                     struct key lo, struct key hi);

/* Node i of branch page pgno (n nodes): its child, whose keys lie in [its
 * key, the next node's key), within [lo, hi). */
static int walk_child(struct store_walk *w, struct tree *t, uint64_t pgno, const uint8_t *p,
                      size_t i, size_t n, unsigned depth, struct key lo, struct key hi)
{
    uint64_t child = node_child(node_at(p, i));
    char where[96];
    int rc;

    if (!readable(w, child, 1, where, sizeof where))
        return store_walk_fail(w, pgno, "node %zu points to page %" PRIu64 ", %s", i, child,
                               where);
    if ((rc = reach(w, pgno, child, 1)) != 0)
        return rc;
    return walk_page(w, t, child, depth + 1, i > 0 ? node_key(node_at(p, i)) : lo,
                     i + 1 < n ? node_key(node_at(p, i + 1)) : hi);
}

/* The subtree at pgno (reached already), depth levels from the root (1 =
 * root), whose keys must lie in [lo, hi). */
static int walk_page(struct store_walk *w, struct tree *t, uint64_t pgno, unsigned depth,
                     struct key lo, struct key hi)
{
    const uint8_t *p = page_at(w, pgno);
    bool branch = store_mdb_u16(p + 10) == STORE_MDB_P_BRANCH;
    size_t n = 0;
    int rc;

    if ((rc = check_page(w, t, pgno, depth, lo, hi, &n)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        rc = branch ? walk_child(w, t, pgno, p, i, n, depth, lo, hi) : leaf_value(w, t, pgno, p, i);
        if (rc != 0)
            return rc;
    }
    if (branch)
        t->n.branch++;
    else {
        t->n.leaf++;
        t->n.entries += n;
    }
    return 0;
}

static int check_counts(struct store_walk *w, const struct tree *t, const uint8_t *rec)
{
    struct counts want = {.branch = store_mdb_u64(rec + 8),
                          .leaf = store_mdb_u64(rec + 16),
                          .overflow = store_mdb_u64(rec + 24),
                          .entries = store_mdb_u64(rec + 32)};

    if (want.branch != t->n.branch || want.leaf != t->n.leaf || want.overflow != t->n.overflow ||
        want.entries != t->n.entries)
        return store_walk_fail(w, STORE_MDB_NO_PAGE,
                               "a tree of %" PRIu64 " branch, %" PRIu64 " leaf, %" PRIu64
                               " overflow pages and %" PRIu64 " entries that its record counts"
                               " as %" PRIu64 ", %" PRIu64 ", %" PRIu64 " and %" PRIu64,
                               t->n.branch, t->n.leaf, t->n.overflow, t->n.entries, want.branch,
                               want.leaf, want.overflow, want.entries);
    return 0;
}

/* An empty database: no root, and nothing counted. */
static int empty_tree(struct store_walk *w, const uint8_t *rec)
{
    static const uint8_t none[32];

    if (store_mdb_u16(rec + 6) != 0 || memcmp(rec + 8, none, sizeof none) != 0)
        return store_walk_fail(w, STORE_MDB_NO_PAGE,
                               "its record counts pages or entries but names no root");
    return 0;
}

static int walk_tree(struct store_walk *w, const uint8_t *rec, int kind)
{
    uint16_t flags = store_mdb_u16(rec + 4), depth = store_mdb_u16(rec + 6);
    uint64_t root = store_mdb_u64(rec + 40);
    struct tree t = {.kind = kind, .depth = depth};
    struct key none = {0};
    char where[96];
    int rc;

    if (flags != (kind == STORE_TREE_FREE ? MDB_INTEGERKEY : 0))
        return store_walk_fail(w, STORE_MDB_NO_PAGE, "its record has flags %#x", flags);
    if (root == STORE_MDB_NO_PAGE)
        return empty_tree(w, rec);
    if (depth == 0 || depth > MAX_DEPTH)
        return store_walk_fail(w, STORE_MDB_NO_PAGE, "its record gives a depth of %u", depth);
    if (!readable(w, root, 1, where, sizeof where))
        return store_walk_fail(w, STORE_MDB_NO_PAGE, "its root is page %" PRIu64 ", %s", root,
                               where);
    if ((rc = reach(w, STORE_MDB_NO_PAGE, root, 1)) != 0 ||
        (rc = walk_page(w, &t, root, 1, none, none)) != 0)
        return rc;
    return check_counts(w, &t, rec);
}

int store_walk_db(struct store_walk *w, const uint8_t *rec, int tree, const char *name)
{
    const char *outer = w->db;
    int rc;

    w->db = name;
    rc = walk_tree(w, rec, tree);
    w->db = outer;
    return rc;
}
