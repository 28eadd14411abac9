/* The structural check of data.mdb that store_open() runs before LMDB maps the file. */
#ifndef BATON_STORE_CHECK_H
#define BATON_STORE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * LMDB (0.9) checks the header of data.mdb but trusts every page it reaches:
 * a node offset, a key size or a page number out of range is used as it
 * stands, and the process dies of SIGSEGV, SIGBUS or one of LMDB's assertions,
 * or loops for ever on a cycle of pages (tests/fuzz/fuzz_store_open found all
 * of these). So store_open() first reads the file the way LMDB will, and
 * refuses it with BATON_ECORRUPT if anything LMDB would follow is out of
 * bounds or malformed.
 *
 * What LMDB reads: the meta page with the larger txnid (meta 0 on a tie; both
 * must be well formed, LMDB has no fallback to the other one), whose two
 * database records name the roots of the free-page database and the main
 * database; the main database names baton's four databases. store_load()
 * then reads every entry of every one of them, and the first write takes
 * pages from the free list. So every page of those trees is checked, and the
 * free list's page numbers; the contents of free pages are not (LMDB
 * overwrites them before use).
 *
 * The rules (mdb.c, data version 1, 64-bit page numbers, little-endian):
 *  - both meta pages have the same page size, a power of two in
 *    [512, 65536]; the chosen one's txnid is in its own slot (txnid & 1), as
 *    LMDB's write transactions take the meta of that slot; its roots are
 *    pages in [2, last page]; its last page lies at most max(file pages,
 *    2^20) pages past the end of the file (it may lie past it: pages a
 *    transaction took from the end of the file and freed again are never
 *    written, tests/unit/test_store_check.c has such files);
 *  - a database record has the flags baton's databases have (none;
 *    MDB_INTEGERKEY for the free database), a depth of at most 32 (LMDB's
 *    cursor stack) and, when empty, no pages and no entries;
 *  - every page of a tree is reached once (no cycles, no sharing), lies in
 *    [2, last page] and in the file, carries its own page number, is a
 *    branch page (two or more nodes) above the tree's depth and a leaf page
 *    (one or more) at it;
 *  - a page's node offsets lie in [upper, page size) and its nodes inside the
 *    page without overlapping one another; keys are at most 511 bytes (LMDB's
 *    MDB_MAXKEYSIZE), strictly increasing and within the bounds the parent
 *    gives them; an inline value fits LMDB's largest node;
 *  - a big value's overflow pages lie in the file, are reached once, and the
 *    first carries its page number, says P_OVERFLOW and counts at least the
 *    pages the value needs (LMDB leaves more when it rewrites a value with a
 *    smaller one in the same transaction), all of them in the file;
 *  - a database's page and entry counts are those of its tree;
 *  - a free-list record holds a count of at most its room (LMDB reserves
 *    room it may not fill), then that many page numbers in [2, last page],
 *    strictly descending; no page is listed twice or is also in use.
 *
 * The walk reads each of those pages once: about 0.5 s per GB of data file
 * in the page cache (README.md).
 */

/* Checks the data file image data[0..size) (borrowed). Returns 0 when LMDB
 * may trust every page it would read, and also when the file is not an LMDB
 * data file of version 1 at all (no meta page LMDB accepts: LMDB refuses the
 * file itself and says why). Otherwise:
 *   BATON_ECORRUPT  why says what is wrong, naming the page and database
 *   BATON_ENOMEM
 * why (why_len bytes, NUL-terminated) may be NULL. Any thread. */
int store_check_image(const uint8_t *data, size_t size, char *why, size_t why_len)
    __attribute__((warn_unused_result));

/* store_check_image() of the file at path (borrowed), mapped read-only for
 * the duration of the call. The caller keeps anyone from changing the file
 * meanwhile (store_open holds baton.lock). Also BATON_EIO when the file
 * cannot be opened or mapped (why names the call and errno's description). */
int store_check_file(const char *path, char *why, size_t why_len)
    __attribute__((warn_unused_result));

/* --- shared by check.c and check_tree.c ------------------------------------ */

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "store/check.c reads LMDB's little-endian layout"
#endif
#if SIZE_MAX != UINT64_MAX
#error "store/check.c reads LMDB's layout with 64-bit page numbers"
#endif

/* mdb.c's on-disk layout, data version 1. */
#define STORE_MDB_PAGE_HDR 16u /* u64 pgno, u16 pad, u16 flags, u16 lower, u16 upper */
#define STORE_MDB_NODE_HDR 8u  /* u16 lo, u16 hi, u16 flags, u16 ksize */
#define STORE_MDB_DB_BYTES 48u /* u32 pad, u16 flags, u16 depth, u64 branch, leaf,
                                * overflow, entries, root */
#define STORE_MDB_P_BRANCH 0x01u
#define STORE_MDB_P_LEAF 0x02u
#define STORE_MDB_P_OVERFLOW 0x04u
#define STORE_MDB_P_META 0x08u
#define STORE_MDB_NO_PAGE UINT64_MAX /* P_INVALID: an empty database's root */

enum store_tree {
    STORE_TREE_FREE = 1, /* txnid (native u64) -> a list of free pages */
    STORE_TREE_MAIN,     /* database name -> its MDB_db record */
    STORE_TREE_SUB,      /* one of baton's databases: bytes -> bytes */
};

/* A page's nodes, for the overlap check. */
struct store_span {
    uint32_t off;
    uint32_t end;
};

struct store_walk {
    const uint8_t *data;
    uint32_t psize;
    uint32_t nodemax;    /* LMDB's largest leaf node with an inline value */
    uint64_t last_pg;    /* the meta page's */
    uint64_t file_pages; /* the pages the file holds */
    uint8_t *page_state; /* per page: 0 unseen, STORE_PAGE_USED or _FREE */
    struct store_span *spans; /* scratch for one page's nodes */
    const char *db;           /* the database being walked, for messages */
    char *why;
    size_t why_len;
};

#define STORE_PAGE_USED 1u
#define STORE_PAGE_FREE 2u

/* Walks the database whose MDB_db record is at rec (in a meta page or in a
 * node of the main database) and all it names. 0, BATON_ECORRUPT, BATON_ENOMEM. */
int store_walk_db(struct store_walk *w, const uint8_t *rec, int tree, const char *name)
    __attribute__((warn_unused_result));

/* Records "page pgno of the <db> database: <message>" in w->why and returns
 * BATON_ECORRUPT. */
int store_walk_fail(struct store_walk *w, uint64_t pgno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

uint16_t store_mdb_u16(const uint8_t *p);
uint32_t store_mdb_u32(const uint8_t *p);
uint64_t store_mdb_u64(const uint8_t *p);

#endif
