/* Opening and closing a store: its directory and lock, the LMDB environment, error context. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"

#define LOCK_FILE "baton.lock"
#define DATA_FILE "data.mdb"

int store_err_translate(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return BATON_ENOSPACE;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_INCOMPATIBLE:
        return BATON_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return BATON_EVERSION;
    case MDB_NOTFOUND:
        return BATON_ENOTFOUND;
    case MDB_READERS_FULL:
    case MDB_TLS_FULL:
    case EAGAIN:
    case EBUSY:
        return BATON_EBUSY;
    case MDB_TXN_FULL:
        return BATON_ETOOBIG;
    case ENOMEM:
        return BATON_ENOMEM;
    case MDB_BAD_VALSIZE:
    case EINVAL:
        return BATON_EINVAL;
    default:
        return BATON_EIO;
    }
}

static void vformat(struct store *s, const char *tail, const char *fmt, va_list ap)
{
    size_t cap = sizeof s->why;
    int n = snprintf(s->why, cap, "%s: ", s->dir != NULL ? s->dir : "store");
    int m;

    if (n < 0 || (size_t)n >= cap)
        return;
    m = vsnprintf(s->why + n, cap - (size_t)n, fmt, ap);
    if (tail == NULL || m < 0 || (size_t)n + (size_t)m >= cap)
        return;
    snprintf(s->why + n + m, cap - (size_t)n - (size_t)m, ": %s", tail);
}

int store_fail(struct store *s, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(s, NULL, fmt, ap);
    va_end(ap);
    return err;
}

int store_mdb_fail(struct store *s, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat(s, mdb_strerror(rc), fmt, ap);
    va_end(ap);
    return store_err_translate(rc);
}

int store_txn_begin(struct store *s, bool write, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);

    if (rc != 0)
        return store_mdb_fail(s, rc, "begin %s transaction", write ? "write" : "read");
    return 0;
}

const char *store_errmsg(const struct store *s)
{
    return s->why;
}

void store_options_default(struct store_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->map_size = STORE_MAP_SIZE_DEFAULT;
}

static int join(struct store *s, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", s->dir, name);

    if (n < 0 || (size_t)n >= len)
        return store_fail(s, BATON_EINVAL, "path too long");
    return 0;
}

/* Creates dir if needed and takes its lock: LMDB allows several processes on
 * one environment, but two Raft servers sharing a log would break Raft. */
static int lock_dir(struct store *s, bool *made)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;

    *made = mkdir(s->dir, 0700) == 0;
    if (!*made && errno != EEXIST)
        return store_mdb_fail(s, errno, "cannot create the directory");
    if (stat(s->dir, &st) != 0)
        return store_mdb_fail(s, errno, "stat");
    if (!S_ISDIR(st.st_mode))
        return store_fail(s, BATON_EIO, "not a directory");
    if ((rc = join(s, LOCK_FILE, path, sizeof path)) != 0)
        return rc;
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return store_mdb_fail(s, errno, "open %s", LOCK_FILE);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return store_fail(s, BATON_EBUSY, "in use by another process or store (%s is locked)",
                              LOCK_FILE);
        return store_mdb_fail(s, errno, "lock %s", LOCK_FILE);
    }
    return 0;
}

/* LMDB 0.9 trusts its meta pages (found by tests/fuzz/fuzz_store_open): a page
 * size of 0 makes mdb_env_open() divide by zero (SIGFPE), a root of page 0 or
 * 1 fails an assertion (abort), and while read transactions use the meta with
 * the larger txnid, write transactions use the one in slot txnid & 1: when a
 * damaged txnid makes them differ, the first write starts from a meta nobody
 * checked (abort, SIGBUS). Their layout, from mdb.c (data version 1, native
 * byte order): a 16-byte page header (u64 pgno, u16 pad, u16 flags, u16 lower,
 * u16 upper), then MDB_meta: u32 magic, u32 version, u64 address, u64 map
 * size, two 48-byte MDB_db records, free and main (the free one's leading u32
 * is the page size, each one's last u64 its root page), u64 last page, u64
 * txnid. LMDB reads meta 1 at the offset meta 0's page size names. Headers
 * that are not LMDB's, or of another version, are left to LMDB, which reports
 * them. Damage inside the B-tree pages is not caught here (see store.h). */
#define LMDB_MAGIC 0xBEEFC0DEu
#define LMDB_DATA_VERSION 1u
#define LMDB_PAGE_HDR 16
#define LMDB_P_META 0x08
#define LMDB_META_BYTES (LMDB_PAGE_HDR + 136)
#define LMDB_PSIZE_MIN 512u
#define LMDB_PSIZE_MAX 65536u

#define LMDB_NO_PAGE UINT64_MAX /* P_INVALID: an empty database's root */

struct lmdb_meta {
    uint32_t psize;
    uint64_t root[2]; /* free, main */
    uint64_t last_pg;
    uint64_t txnid;
};

/* 1 if the meta page at off is LMDB's (then *m is filled), 0 if not, or -errno. */
static int read_meta(int fd, off_t off, struct lmdb_meta *m)
{
    uint8_t buf[LMDB_META_BYTES];
    uint32_t magic, version;
    uint16_t flags;
    ssize_t n = pread(fd, buf, sizeof buf, off);

    if (n < 0)
        return -errno;
    if ((size_t)n < sizeof buf)
        return 0;
    memcpy(&flags, buf + 10, sizeof flags);
    memcpy(&magic, buf + LMDB_PAGE_HDR, sizeof magic);
    memcpy(&version, buf + LMDB_PAGE_HDR + 4, sizeof version);
    if (!(flags & LMDB_P_META) || magic != LMDB_MAGIC || version != LMDB_DATA_VERSION)
        return 0;
    memcpy(&m->psize, buf + LMDB_PAGE_HDR + 24, sizeof m->psize);
    memcpy(&m->root[0], buf + LMDB_PAGE_HDR + 64, sizeof m->root[0]);
    memcpy(&m->root[1], buf + LMDB_PAGE_HDR + 112, sizeof m->root[1]);
    memcpy(&m->last_pg, buf + LMDB_PAGE_HDR + 120, sizeof m->last_pg);
    memcpy(&m->txnid, buf + LMDB_PAGE_HDR + 128, sizeof m->txnid);
    return 1;
}

static int check_meta_pages(struct store *s, const char *path, uint64_t size)
{
    struct lmdb_meta m[2];
    off_t off = 0;
    int fd, rc = 0, i, cur;

    memset(m, 0, sizeof m);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return store_mdb_fail(s, errno, "open %s", DATA_FILE);
    for (i = 0; i < 2 && rc == 0; i++) {
        int got = read_meta(fd, off, &m[i]);
        uint32_t ps = m[i].psize;

        if (got < 0)
            rc = store_mdb_fail(s, -got, "read %s", DATA_FILE);
        else if (got == 0)
            break; /* LMDB's to report */
        else if (ps < LMDB_PSIZE_MIN || ps > LMDB_PSIZE_MAX || (ps & (ps - 1)) != 0)
            rc = store_fail(s, BATON_ECORRUPT, "%s: meta page %d has a page size of %" PRIu32,
                            DATA_FILE, i, ps);
        off = (off_t)m[0].psize;
    }
    close(fd);
    if (rc != 0 || i < 2)
        return rc;
    cur = m[1].txnid > m[0].txnid;
    if ((int)(m[cur].txnid & 1) != cur)
        return store_fail(s, BATON_ECORRUPT, "%s: meta page %d holds txnid %" PRIu64, DATA_FILE,
                          cur, m[cur].txnid);
    if (m[cur].last_pg >= size / m[cur].psize)
        return store_fail(s, BATON_ECORRUPT,
                          "%s is truncated: %" PRIu64 " bytes, its meta page names page %" PRIu64
                          " of %" PRIu32 " bytes",
                          DATA_FILE, size, m[cur].last_pg, m[cur].psize);
    for (i = 0; i < 2; i++) {
        uint64_t root = m[cur].root[i];

        if (root != LMDB_NO_PAGE && (root < 2 || root > m[cur].last_pg))
            return store_fail(s, BATON_ECORRUPT,
                              "%s: meta page %d names root page %" PRIu64 " (last page %" PRIu64
                              ")",
                              DATA_FILE, cur, root, m[cur].last_pg);
    }
    return 0;
}

/* Decides whether dir holds a store before LMDB sees it: LMDB would quietly
 * initialise an empty data.mdb, and an existing store must never restart empty. */
static int probe_data_file(struct store *s, bool *existed)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;

    *existed = false;
    if ((rc = join(s, DATA_FILE, path, sizeof path)) != 0)
        return rc;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return store_mdb_fail(s, errno, "stat %s", DATA_FILE);
    }
    if (!S_ISREG(st.st_mode))
        return store_fail(s, BATON_ECORRUPT, "%s is not a regular file", DATA_FILE);
    if (st.st_size == 0)
        return store_fail(s, BATON_ECORRUPT,
                          "%s is empty (truncated?); refusing to start a new store over it",
                          DATA_FILE);
    *existed = true;
    return check_meta_pages(s, path, (uint64_t)st.st_size);
}

/* LMDB maps data.mdb and would fault (SIGBUS) on a page past the end of a
 * truncated file, so the file must reach the last page its meta page names. */
static int check_file_size(struct store *s, uint64_t *last_txnid)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat fst;
    mdb_filehandle_t fd;
    uint64_t need;
    int rc;

    if ((rc = mdb_env_info(s->env, &info)) != 0 || (rc = mdb_env_stat(s->env, &st)) != 0 ||
        (rc = mdb_env_get_fd(s->env, &fd)) != 0)
        return store_mdb_fail(s, rc, "inspect %s", DATA_FILE);
    if (fstat(fd, &fst) != 0)
        return store_mdb_fail(s, errno, "stat %s", DATA_FILE);
    need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if ((uint64_t)fst.st_size < need)
        return store_fail(s, BATON_ECORRUPT,
                          "%s is truncated: %" PRIu64 " bytes, its pages need %" PRIu64,
                          DATA_FILE, (uint64_t)fst.st_size, need);
    *last_txnid = info.me_last_txnid;
    return 0;
}

static int open_env(struct store *s, const struct store_options *opt, bool *fresh)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t map = opt != NULL && opt->map_size != 0 ? opt->map_size : STORE_MAP_SIZE_DEFAULT;
    uint64_t last_txnid = 0;
    bool existed;
    int rc;

    if ((rc = probe_data_file(s, &existed)) != 0)
        return rc;
    if (page > 0)
        map = (map + (size_t)page - 1) / (size_t)page * (size_t)page;
    if ((rc = mdb_env_create(&s->env)) != 0) {
        s->env = NULL;
        return store_mdb_fail(s, rc, "create LMDB environment");
    }
    if ((rc = mdb_env_set_mapsize(s->env, map)) != 0 || (rc = mdb_env_set_maxdbs(s->env, 4)) != 0)
        return store_mdb_fail(s, rc, "configure LMDB environment");
    /* No MDB_NOSYNC: a commit returns only once it is on disk. MDB_NOTLS: read
     * transactions are not tied to the thread that opened the store. */
    rc = mdb_env_open(s->env, s->dir, MDB_NOTLS, 0600);
    if (rc == MDB_INVALID)
        return store_mdb_fail(s, rc, "%s is not an LMDB file or its header is damaged",
                              DATA_FILE);
    if (rc != 0)
        return store_mdb_fail(s, rc, "open %s", DATA_FILE);
    if (existed && (rc = check_file_size(s, &last_txnid)) != 0)
        return rc;
    /* A data.mdb without a single commit holds nothing: LMDB created it and the
     * process stopped before the first transaction (ours) committed. */
    *fresh = !existed || last_txnid == 0;
    return 0;
}

static int open_db(struct store *s, MDB_txn *txn, const char *name, bool fresh, MDB_dbi *dbi)
{
    int rc = mdb_dbi_open(txn, name, fresh ? MDB_CREATE : 0, dbi);

    if (rc == MDB_NOTFOUND)
        return store_fail(s, BATON_ECORRUPT,
                          "%s has no \"%s\" database: not a baton store, or damaged", DATA_FILE,
                          name);
    if (rc != 0)
        return store_mdb_fail(s, rc, "open the \"%s\" database", name);
    return 0;
}

/* Opens the four databases and creates or checks "meta", in one transaction:
 * a new store is either complete on disk or not there at all. */
static int open_dbs(struct store *s, bool fresh, uint64_t cluster_id)
{
    MDB_txn *txn;
    int rc;

    if ((rc = store_txn_begin(s, true, &txn)) != 0)
        return rc;
    if ((rc = open_db(s, txn, STORE_DB_META, fresh, &s->meta)) != 0 ||
        (rc = open_db(s, txn, STORE_DB_LOG, fresh, &s->log)) != 0 ||
        (rc = open_db(s, txn, STORE_DB_SNAPSHOT, fresh, &s->snap)) != 0 ||
        (rc = open_db(s, txn, STORE_DB_CRDT, fresh, &s->crdt)) != 0)
        goto abort;
    rc = fresh ? store_meta_init(s, txn, cluster_id) : store_meta_check(s, txn, cluster_id);
    if (rc != 0)
        goto abort;
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        return store_mdb_fail(s, rc, "commit the store's creation");
    return 0;
abort:
    mdb_txn_abort(txn);
    return rc;
}

static int sync_dir(struct store *s, const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return store_mdb_fail(s, errno, "open %s to sync it", path);
    if (fsync(fd) != 0)
        rc = store_mdb_fail(s, errno, "sync %s", path);
    close(fd);
    return rc;
}

/* A new file survives a crash only once the directory entry naming it is on
 * disk too, and LMDB does not sync directories: without this a store that
 * had already recorded a vote could vanish and come back empty. */
static int sync_new_store(struct store *s, bool made_dir)
{
    char parent[PATH_MAX];
    char *slash;
    int rc;

    if ((rc = sync_dir(s, s->dir)) != 0 || !made_dir)
        return rc;
    if (snprintf(parent, sizeof parent, "%s", s->dir) >= (int)sizeof parent)
        return store_fail(s, BATON_EINVAL, "path too long");
    while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash != parent)
        *slash = '\0'; /* trailing slashes */
    slash = strrchr(parent, '/');
    if (slash == NULL)
        return sync_dir(s, ".");
    slash[slash == parent ? 1 : 0] = '\0';
    return sync_dir(s, parent);
}

static int read_pos(struct store *s)
{
    struct raft_snapshot_meta meta;
    MDB_txn *txn;
    bool found;
    int rc;

    if ((rc = store_txn_begin(s, false, &txn)) != 0)
        return rc;
    rc = store_snap_get(s, txn, &found, &meta, NULL);
    if (rc == 0) {
        s->pos.snap_index = found ? meta.index : 0;
        s->pos.snap_term = found ? meta.term : 0;
        rc = store_log_bounds(s, txn, &s->pos);
    }
    mdb_txn_abort(txn);
    return rc;
}

int store_open(const char *dir, uint64_t cluster_id, const struct store_options *opt,
               struct store **out, char *why, size_t why_len)
{
    struct store *s;
    bool fresh = false, made_dir = false;
    int rc;

    if (why != NULL && why_len > 0)
        why[0] = '\0';
    if (out == NULL || dir == NULL || cluster_id == 0) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "store_open: no directory, no result pointer or cluster id 0");
        return BATON_EINVAL;
    }
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        if (why != NULL && why_len > 0)
            snprintf(why, why_len, "%s: out of memory", dir);
        free(s);
        return BATON_ENOMEM;
    }
    s->lock_fd = -1;
    if ((rc = lock_dir(s, &made_dir)) != 0 || (rc = open_env(s, opt, &fresh)) != 0 ||
        (rc = open_dbs(s, fresh, cluster_id)) != 0 ||
        (fresh && (rc = sync_new_store(s, made_dir)) != 0) || (rc = read_pos(s)) != 0)
        goto fail;
    s->why[0] = '\0';
    *out = s;
    return 0;
fail:
    if (why != NULL && why_len > 0)
        snprintf(why, why_len, "%s", s->why);
    store_close(s);
    return rc;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    if (s->env != NULL)
        mdb_env_close(s->env);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->dir);
    free(s);
}

uint64_t store_first_index(const struct store *s)
{
    return s->pos.first;
}

uint64_t store_last_index(const struct store *s)
{
    return s->pos.last;
}

uint64_t store_snapshot_index(const struct store *s)
{
    return s->pos.snap_index;
}

void store_hard_state(const struct store *s, struct raft_hard_state *hs)
{
    *hs = s->hs;
}
