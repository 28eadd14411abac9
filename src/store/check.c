/* Checking data.mdb before LMDB maps it (check.h): the file, its meta pages, then its trees. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton/error.h"
#include "store/check.h"

/* MDB_meta after the page header: u32 magic, u32 version, u64 address, u64
 * map size, the free and main MDB_db records (the free one's leading u32 is
 * the page size), u64 last page, u64 txnid. */
#define MAGIC 0xBEEFC0DEu
#define DATA_VERSION 1u
#define META_DBS (STORE_MDB_PAGE_HDR + 24u)
#define META_LAST_PG (STORE_MDB_PAGE_HDR + 120u)
#define META_TXNID (STORE_MDB_PAGE_HDR + 128u)
#define META_END (STORE_MDB_PAGE_HDR + 136u)
#define PSIZE_MIN 512u
#define PSIZE_MAX 65536u
#define MIN_KEYS 2u /* MDB_MINKEYS */
/* How many pages past the end of the file a meta page's last page may lie
 * (beyond as many as the file holds): 4 GiB of 4 KiB pages that one
 * transaction took and freed again. */
#define TAIL_MAX ((uint64_t)1 << 20)

uint16_t store_mdb_u16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

uint32_t store_mdb_u32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

uint64_t store_mdb_u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

static int fail(char *why, size_t why_len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t why_len, int err, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && why_len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* The meta page at off if LMDB accepts its header (P_META, magic, version),
 * else NULL: such a file is LMDB's to refuse (MDB_INVALID, MDB_VERSION_MISMATCH). */
static const uint8_t *meta_at(const uint8_t *data, size_t size, size_t off)
{
    const uint8_t *m = data + off;

    if (off > size || size - off < META_END)
        return NULL;
    if (!(store_mdb_u16(m + 10) & STORE_MDB_P_META) ||
        store_mdb_u32(m + STORE_MDB_PAGE_HDR) != MAGIC ||
        store_mdb_u32(m + STORE_MDB_PAGE_HDR + 4) != DATA_VERSION)
        return NULL;
    return m;
}

static bool psize_valid(uint32_t ps)
{
    return ps >= PSIZE_MIN && ps <= PSIZE_MAX && (ps & (ps - 1)) == 0;
}

/* The meta page LMDB will use, as mdb_env_read_header() and the first write
 * transaction pick it; *meta is NULL when the header is LMDB's to refuse.
 * LMDB reads meta 1 at the offset meta 0's page size names, and divides by
 * the page size (SIGFPE on 0). */
static int pick_meta(const uint8_t *data, size_t size, const uint8_t **meta, char *why,
                     size_t why_len)
{
    const uint8_t *m[2];
    uint32_t ps[2];
    uint64_t txnid;
    int cur;

    *meta = NULL;
    for (int i = 0; i < 2; i++) {
        if ((m[i] = meta_at(data, size, i == 0 ? 0 : ps[0])) == NULL)
            return 0;
        ps[i] = store_mdb_u32(m[i] + META_DBS);
        if (!psize_valid(ps[i]))
            return fail(why, why_len, BATON_ECORRUPT, "meta page %d has a page size of %" PRIu32,
                        i, ps[i]);
    }
    if (ps[0] != ps[1])
        return fail(why, why_len, BATON_ECORRUPT,
                    "the meta pages disagree on the page size (%" PRIu32 ", %" PRIu32 ")", ps[0],
                    ps[1]);
    cur = store_mdb_u64(m[1] + META_TXNID) > store_mdb_u64(m[0] + META_TXNID);
    txnid = store_mdb_u64(m[cur] + META_TXNID);
    /* Read transactions use the larger txnid, write transactions the meta in
     * slot txnid & 1: when they differ, the first write starts from a meta
     * page nobody checked. */
    if ((txnid & 1) != (uint64_t)cur)
        return fail(why, why_len, BATON_ECORRUPT, "meta page %d holds txnid %" PRIu64, cur,
                    txnid);
    *meta = m[cur];
    return 0;
}

/* The chosen meta page's own fields: its roots lie in [2, last page] (LMDB
 * asserts root > 1), and its last page is not absurdly far past the end of
 * the file. The last page may lie past the end: pages a transaction took
 * from the end of the file and freed again are never written. LMDB maps
 * (and allocates after) the last page, so a damaged one would make it map
 * terabytes, or fail to. */
static int check_meta(const uint8_t *meta, size_t size, char *why, size_t why_len)
{
    uint32_t ps = store_mdb_u32(meta + META_DBS);
    uint64_t last = store_mdb_u64(meta + META_LAST_PG), pages = size / ps;

    if (last < 1 || (last >= pages && last - pages >= (pages > TAIL_MAX ? pages : TAIL_MAX)))
        return fail(why, why_len, BATON_ECORRUPT,
                    "the meta page names page %" PRIu64 " as the last, but the file holds %" PRIu64
                    " pages of %" PRIu32 " bytes (truncated?)",
                    last, pages, ps);
    for (unsigned i = 0; i < 2; i++) {
        uint64_t root = store_mdb_u64(meta + META_DBS + i * STORE_MDB_DB_BYTES + 40);

        if (root != STORE_MDB_NO_PAGE && (root < 2 || root > last))
            return fail(why, why_len, BATON_ECORRUPT,
                        "the meta page names root page %" PRIu64 " (last page %" PRIu64 ")", root,
                        last);
    }
    return 0;
}

static int walk_trees(const uint8_t *data, size_t size, const uint8_t *meta, char *why,
                      size_t why_len)
{
    struct store_walk w = {.data = data, .why = why, .why_len = why_len};
    int rc;

    w.psize = store_mdb_u32(meta + META_DBS);
    w.last_pg = store_mdb_u64(meta + META_LAST_PG);
    w.file_pages = size / w.psize;
    /* mdb.c's me_nodemax: two nodes and their pointers fill a page. */
    w.nodemax = (((w.psize - STORE_MDB_PAGE_HDR) / MIN_KEYS) & ~1u) - 2u;
    w.page_state = calloc(w.last_pg + 1, 1);
    w.spans = malloc((w.psize / 2) * sizeof *w.spans);
    if (w.page_state == NULL || w.spans == NULL) {
        rc = fail(why, why_len, BATON_ENOMEM, "out of memory for %" PRIu64 " pages", w.last_pg);
        goto free_walk;
    }
    rc = store_walk_db(&w, meta + META_DBS, STORE_TREE_FREE, "free-page");
    if (rc == 0)
        rc = store_walk_db(&w, meta + META_DBS + STORE_MDB_DB_BYTES, STORE_TREE_MAIN, "main");
free_walk:
    free(w.spans);
    free(w.page_state);
    return rc;
}

int store_check_image(const uint8_t *data, size_t size, char *why, size_t why_len)
{
    const uint8_t *meta;
    int rc;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if ((rc = pick_meta(data, size, &meta, why, why_len)) != 0 || meta == NULL)
        return rc;
    if ((rc = check_meta(meta, size, why, why_len)) != 0)
        return rc;
    return walk_trees(data, size, meta, why, why_len);
}

int store_check_file(const char *path, char *why, size_t why_len)
{
    struct stat st;
    void *map;
    int fd, rc;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return fail(why, why_len, BATON_EIO, "open: %s", strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = fail(why, why_len, BATON_EIO, "stat: %s", strerror(errno));
        goto close_fd;
    }
    if (st.st_size == 0) {
        rc = 0; /* nothing to map; store_open refuses an empty file itself */
        goto close_fd;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = fail(why, why_len, errno == ENOMEM ? BATON_ENOMEM : BATON_EIO, "mmap: %s",
                  strerror(errno));
        goto close_fd;
    }
    rc = store_check_image(map, (size_t)st.st_size, why, why_len);
    munmap(map, (size_t)st.st_size);
close_fd:
    close(fd);
    return rc;
}
