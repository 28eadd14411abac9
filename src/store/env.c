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
#include <sys/statvfs.h>
#include <unistd.h>

#include "store/check.h"
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

/* Less free space than this after a failed write counts as a full disk: a
 * write cut short by a full disk leaves at most part of a block free, and
 * other processes may have freed a little since. */
#define NEARLY_FULL_BYTES ((uint64_t)1 << 20)

int store_blame_full_disk(struct store *s, int err)
{
    struct statvfs fs;
    uint64_t avail;
    size_t len;

    if (err != BATON_EIO || statvfs(s->dir, &fs) != 0)
        return err;
    avail = (uint64_t)fs.f_bavail * fs.f_frsize;
    if (avail >= NEARLY_FULL_BYTES)
        return err;
    len = strlen(s->why);
    snprintf(s->why + len, sizeof s->why - len,
             "; the file system holding it is full (%" PRIu64 " bytes free)", avail);
    return BATON_ENOSPACE;
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

/* LMDB trusts the pages of data.mdb: a damaged one crashes it or makes it
 * loop (check.h), so they are checked before LMDB maps the file. */
static int check_pages(struct store *s, const char *path)
{
    char msg[384];
    int rc = store_check_file(path, msg, sizeof msg);

    if (rc == BATON_ECORRUPT)
        return store_fail(s, rc, "%s is damaged: %s", DATA_FILE, msg);
    if (rc != 0)
        return store_fail(s, rc, "check %s: %s", DATA_FILE, msg);
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
    return check_pages(s, path);
}

/* The txnid of the last commit LMDB found. (That the file holds every page
 * LMDB reads was checked before it mapped the file; the meta page's last
 * page may lie past the end, see check.c.) */
static int last_txnid(struct store *s, uint64_t *txnid)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);

    if (rc != 0)
        return store_mdb_fail(s, rc, "inspect %s", DATA_FILE);
    *txnid = info.me_last_txnid;
    return 0;
}

static int open_env(struct store *s, const struct store_options *opt, bool *fresh)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t map = opt != NULL && opt->map_size != 0 ? opt->map_size : STORE_MAP_SIZE_DEFAULT;
    uint64_t txnid = 0;
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
    if (existed && (rc = last_txnid(s, &txnid)) != 0)
        return rc;
    /* A data.mdb without a single commit holds nothing: LMDB created it and the
     * process stopped before the first transaction (ours) committed. */
    *fresh = !existed || txnid == 0;
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
        return store_blame_full_disk(s, store_mdb_fail(s, rc, "commit the store's creation"));
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
