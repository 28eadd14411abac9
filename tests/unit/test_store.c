/* Check suites for src/store: real LMDB files in temporary directories. */
#define _GNU_SOURCE /* memmem, unshare */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "raft/raft.h"
#include "store/internal.h"
#include "store/store.h"

#define CLUSTER 0xba70ba70ull

#define STORE_FIXTURE_PREFIX "baton-store"
#include "store_fixture.c"

static struct store *open_with(size_t map_size)
{
    struct store_options opt;
    struct store *s = NULL;
    int rc;

    store_options_default(&opt);
    if (map_size != 0)
        opt.map_size = map_size;
    rc = store_open(dir, CLUSTER, &opt, &s, why, sizeof why);
    ck_assert_msg(rc == 0, "store_open: %s (%s)", baton_strerror(rc), why);
    ck_assert_ptr_nonnull(s);
    return s;
}

static struct store *open_ok(void)
{
    return open_with(0);
}

/* Opening must fail with want, leave no store behind, and say where. */
static void open_fails(uint64_t cluster, int want)
{
    struct store *s = (struct store *)1;
    int rc = store_open(dir, cluster, NULL, &s, why, sizeof why);

    ck_assert_msg(rc == want, "store_open returned %s, want %s (%s)", baton_strerror(rc),
                  baton_strerror(want), why);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(why, dir) != NULL, "reason without the path: %s", why);
}

/* Entries first..first+n-1 of one term; their data names their index. */
static struct raft_entry *make_entries(uint64_t first, size_t n, uint64_t term)
{
    struct raft_entry *e = calloc(n, sizeof *e);

    ck_assert_ptr_nonnull(e);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "entry-%" PRIu64 "-term-%" PRIu64, first + i, term);

        e[i].index = first + i;
        e[i].term = term;
        e[i].type = RAFT_ENTRY_NORMAL;
        e[i].data.base = strdup(buf);
        e[i].data.len = (size_t)len;
    }
    return e;
}

static void free_entries(struct raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].data.base);
    free(e);
}

static int append(struct store *s, uint64_t first, size_t n, uint64_t term)
{
    struct raft_entry *e = make_entries(first, n, term);
    struct store_batch b = {.entries = e, .n_entries = n};
    int rc = store_write(s, &b, 1);

    free_entries(e, n);
    return rc;
}

static void append_ok(struct store *s, uint64_t first, size_t n, uint64_t term)
{
    int rc = append(s, first, n, term);

    ck_assert_msg(rc == 0, "append: %s (%s)", baton_strerror(rc), store_errmsg(s));
}

static void check_entry(const struct raft_entry *e, uint64_t index, uint64_t term)
{
    char buf[64];

    snprintf(buf, sizeof buf, "entry-%" PRIu64 "-term-%" PRIu64, index, term);
    ck_assert_uint_eq(e->index, index);
    ck_assert_uint_eq(e->term, term);
    ck_assert_int_eq(e->type, RAFT_ENTRY_NORMAL);
    ck_assert_uint_eq(e->data.len, strlen(buf));
    ck_assert(memcmp(e->data.base, buf, e->data.len) == 0);
}

static void load_ok(struct store *s, struct store_boot *boot)
{
    int rc = store_load(s, boot);

    ck_assert_msg(rc == 0, "store_load: %s (%s)", baton_strerror(rc), store_errmsg(s));
}

static void make_conf(struct raft_conf *c)
{
    memset(c, 0, sizeof *c);
    ck_assert_int_eq(raft_conf_add(c, 1, RAFT_VOTER, "10.0.0.1:7000"), 0);
    ck_assert_int_eq(raft_conf_add(c, 2, RAFT_VOTER, "10.0.0.2:7000"), 0);
    ck_assert_int_eq(raft_conf_add(c, 7, RAFT_LEARNER, "10.0.0.7:7000"), 0);
    c->servers[2].promote = true;
}

static void make_snapshot(struct raft_snapshot *snap, uint64_t index, uint64_t term, size_t len)
{
    uint8_t *data = malloc(len);

    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 131 + index);
    memset(snap, 0, sizeof *snap);
    snap->meta.index = index;
    snap->meta.term = term;
    make_conf(&snap->meta.conf);
    snap->data.base = data;
    snap->data.len = len;
}

static void check_snapshot(const struct store_boot *boot, const struct raft_snapshot *want)
{
    const struct raft_conf *c = &boot->snapshot.meta.conf;

    ck_assert(boot->has_snapshot);
    ck_assert_uint_eq(boot->snapshot.meta.index, want->meta.index);
    ck_assert_uint_eq(boot->snapshot.meta.term, want->meta.term);
    ck_assert_uint_eq(c->n, 3);
    for (size_t i = 0; i < c->n; i++) {
        ck_assert_uint_eq(c->servers[i].id, want->meta.conf.servers[i].id);
        ck_assert_int_eq(c->servers[i].role, want->meta.conf.servers[i].role);
        ck_assert_int_eq(c->servers[i].promote, want->meta.conf.servers[i].promote);
        ck_assert_str_eq(c->servers[i].addr, want->meta.conf.servers[i].addr);
    }
    ck_assert_uint_eq(boot->snapshot.data.len, want->data.len);
    ck_assert(memcmp(boot->snapshot.data.base, want->data.base, want->data.len) == 0);
}

static int write_snapshot(struct store *s, const struct raft_snapshot *snap, int mode,
                          uint64_t compact)
{
    struct store_batch b = {.snapshot = snap, .snapshot_log = mode, .compact_upto = compact};

    return store_write(s, &b, 1);
}

/* Opens the closed store's environment with plain LMDB, to damage it on purpose. */
static void raw_open(MDB_env **env, MDB_txn **txn, MDB_dbi *dbi, const char *db)
{
    ck_assert_int_eq(mdb_env_create(env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(*env, 8), 0);
    ck_assert_int_eq(mdb_env_open(*env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(*env, NULL, 0, txn), 0);
    ck_assert_int_eq(mdb_dbi_open(*txn, db, 0, dbi), 0);
}

static void raw_commit(MDB_env *env, MDB_txn *txn)
{
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Stores a correctly checksummed record, so only its contents are wrong. */
static void raw_put_record(const char *db, const void *key, size_t klen, const void *payload,
                           size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};

    raw_open(&env, &txn, &dbi, db);
    ck_assert_int_eq(store_rec_put(txn, dbi, &k, payload, len), 0);
    raw_commit(env, txn);
}

static uint64_t raw_last_txnid(void)
{
    MDB_env *env;
    MDB_envinfo info;

    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    ck_assert_int_eq(mdb_env_info(env, &info), 0);
    mdb_env_close(env);
    return info.me_last_txnid;
}

static off_t file_size(void)
{
    char path[PATH_MAX];
    struct stat st;

    data_path(path, sizeof path);
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

/* A closed store with entries 1..20 (term 1) and hard state (1, 1). */
static void make_populated(void)
{
    struct store *s = open_ok();
    struct store_batch b = {.has_hard_state = true, .hard_state = {1, 1}};

    append_ok(s, 1, 20, 1);
    ck_assert_int_eq(store_write(s, &b, 1), 0);
    store_close(s);
}

/* --- lifecycle ------------------------------------------------------------ */

START_TEST(test_new_store_is_empty)
{
    struct store *s = open_ok();
    struct store_boot boot;

    ck_assert_uint_eq(store_first_index(s), 1);
    ck_assert_uint_eq(store_last_index(s), 0);
    ck_assert_uint_eq(store_snapshot_index(s), 0);
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, 0);
    ck_assert(!boot.has_snapshot);
    ck_assert_uint_eq(boot.hard_state.term, 0);
    store_boot_free(&boot);
    store_close(s);
}
END_TEST

START_TEST(test_open_creates_directory)
{
    char sub[PATH_MAX];
    struct stat st;
    struct store *s = NULL;

    snprintf(sub, sizeof sub, "%s/node-1/", dir);
    ck_assert_int_eq(store_open(sub, CLUSTER, NULL, &s, why, sizeof why), 0);
    append_ok(s, 1, 3, 1);
    store_close(s);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(store_open(sub, CLUSTER, NULL, &s, why, sizeof why), 0);
    ck_assert_uint_eq(store_last_index(s), 3);
    store_close(s);
}
END_TEST

START_TEST(test_reopen_keeps_everything)
{
    struct store *s = open_ok();
    struct raft_snapshot snap;
    struct store_boot boot;
    struct store_batch b = {.has_hard_state = true, .hard_state = {.term = 4, .vote = 2}};

    make_snapshot(&snap, 3, 1, 5000);
    append_ok(s, 1, 5, 1);
    ck_assert_int_eq(store_write(s, &b, 1), 0);
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_KEEP, 0), 0);
    store_close(s);

    s = open_ok();
    ck_assert_uint_eq(store_first_index(s), 1);
    ck_assert_uint_eq(store_last_index(s), 5);
    ck_assert_uint_eq(store_snapshot_index(s), 3);
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.hard_state.term, 4);
    ck_assert_uint_eq(boot.hard_state.vote, 2);
    ck_assert_uint_eq(boot.n_entries, 5);
    for (size_t i = 0; i < 5; i++)
        check_entry(&boot.entries[i], i + 1, 1);
    check_snapshot(&boot, &snap);
    store_boot_free(&boot);
    free(snap.data.base);
    store_close(s);
}
END_TEST

START_TEST(test_second_open_is_busy)
{
    struct store *s = open_ok();

    open_fails(CLUSTER, BATON_EBUSY);
    store_close(s);
    s = open_ok();
    store_close(s);
}
END_TEST

START_TEST(test_boot_feeds_raft)
{
    struct raft_options opt;
    struct raft_entry first;
    struct raft_conf conf;
    struct store_boot boot;
    struct raft_boot rb;
    struct store *s = open_ok();
    struct store_batch b = {.n_entries = 1};
    struct raft *r;
    int err = 0;

    make_conf(&conf);
    ck_assert_int_eq(raft_bootstrap_entry(&conf, &first), 0);
    b.entries = &first;
    ck_assert_int_eq(store_write(s, &b, 1), 0);
    free(first.data.base);
    store_close(s);

    s = open_ok();
    load_ok(s, &boot);
    store_boot_view(&boot, &rb);
    ck_assert_uint_eq(rb.n_entries, 1);
    ck_assert_int_eq(rb.entries[0].type, RAFT_ENTRY_CONF);
    raft_options_default(&opt, 1);
    r = raft_new(&opt, &rb, 0, &err);
    ck_assert_msg(r != NULL, "raft_new: %s", baton_strerror(err));
    ck_assert_uint_eq(raft_last_index(r), 1);
    ck_assert_uint_eq(raft_conf(r)->n, 3);
    raft_free(r);
    store_boot_free(&boot);
    store_close(s);
}
END_TEST

/* --- log ------------------------------------------------------------------ */

START_TEST(test_truncate_conflicting_suffix)
{
    struct store *s = open_ok();
    struct raft_entry e;
    struct store_boot boot;
    uint64_t term;

    append_ok(s, 1, 5, 1);
    append_ok(s, 3, 2, 2); /* replaces 3..5 with 3..4 of term 2 */
    ck_assert_uint_eq(store_last_index(s), 4);
    ck_assert_int_eq(store_term_at(s, 3, &term), 0);
    ck_assert_uint_eq(term, 2);
    ck_assert_int_eq(store_term_at(s, 5, &term), BATON_ENOTFOUND);
    ck_assert_int_eq(store_entry_get(s, 4, &e), 0);
    check_entry(&e, 4, 2);
    free(e.data.base);
    store_close(s);

    s = open_ok();
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, 4);
    check_entry(&boot.entries[1], 2, 1);
    check_entry(&boot.entries[2], 3, 2);
    check_entry(&boot.entries[3], 4, 2);
    store_boot_free(&boot);
    store_close(s);
}
END_TEST

START_TEST(test_bad_appends_write_nothing)
{
    struct store *s = open_ok();
    struct raft_entry *e = make_entries(5, 3, 2);
    struct store_batch b[2] = {{.entries = e, .n_entries = 3},
                               {.has_hard_state = true, .hard_state = {.term = 1}}};
    struct store_batch hs = {.has_hard_state = true, .hard_state = {.term = 3}};

    append_ok(s, 1, 4, 2);
    ck_assert_int_eq(append(s, 7, 1, 2), BATON_EINVAL);  /* gap after 4 */
    ck_assert_int_eq(append(s, 3, 1, 1), BATON_EINVAL);  /* term below entry 2's */
    ck_assert_int_eq(append(s, 0, 1, 2), BATON_EINVAL);  /* index 0 */
    ck_assert_int_eq(append(s, 5, 1, 0), BATON_EINVAL);  /* term 0 */
    e[1].index = 9;                                      /* not contiguous */
    ck_assert_int_eq(store_write(s, b, 1), BATON_EINVAL);
    e[1].index = 6;
    ck_assert_int_eq(store_write(s, &hs, 1), 0);
    /* The second batch's term goes down, so the valid first one is not kept. */
    ck_assert_int_eq(store_write(s, b, 2), BATON_EINVAL);
    ck_assert(strstr(store_errmsg(s), "term 1 after 3") != NULL);
    ck_assert_uint_eq(store_last_index(s), 4);
    store_close(s);
    s = open_ok();
    ck_assert_uint_eq(store_last_index(s), 4);
    ck_assert_int_eq(store_write(s, b, 1), 0);
    ck_assert_uint_eq(store_last_index(s), 7);
    free_entries(e, 3);
    store_close(s);
}
END_TEST

START_TEST(test_empty_entry_data)
{
    struct store *s = open_ok();
    struct raft_entry in = {.index = 1, .term = 1, .type = RAFT_ENTRY_NOOP};
    struct store_batch b = {.entries = &in, .n_entries = 1};
    struct raft_entry out;

    ck_assert_int_eq(store_write(s, &b, 1), 0);
    ck_assert_int_eq(store_entry_get(s, 1, &out), 0);
    ck_assert_int_eq(out.type, RAFT_ENTRY_NOOP);
    ck_assert_uint_eq(out.data.len, 0);
    ck_assert_ptr_null(out.data.base);
    store_close(s);
}
END_TEST

START_TEST(test_compact_then_reopen)
{
    struct store *s = open_ok();
    struct raft_snapshot snap;
    struct store_boot boot;
    struct raft_entry e;
    uint64_t term;

    append_ok(s, 1, 10, 1);
    ck_assert_int_eq(store_compact(s, 2), BATON_EINVAL); /* no snapshot covers it */
    make_snapshot(&snap, 8, 1, 64);
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_KEEP, 5), 0);
    ck_assert_uint_eq(store_first_index(s), 6);
    store_close(s);

    s = open_ok();
    ck_assert_uint_eq(store_first_index(s), 6);
    ck_assert_uint_eq(store_last_index(s), 10);
    ck_assert_int_eq(store_term_at(s, 5, &term), BATON_ECOMPACTED);
    ck_assert_int_eq(store_entry_get(s, 5, &e), BATON_ECOMPACTED);
    ck_assert_int_eq(append(s, 4, 1, 1), BATON_ECOMPACTED);
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, 5);
    for (size_t i = 0; i < boot.n_entries; i++)
        check_entry(&boot.entries[i], 6 + i, 1);
    store_boot_free(&boot);
    ck_assert_int_eq(store_compact(s, 9), BATON_EINVAL); /* past the snapshot at 8 */
    ck_assert_int_eq(store_compact(s, 8), 0);
    ck_assert_uint_eq(store_first_index(s), 9);
    ck_assert_int_eq(store_term_at(s, 7, &term), BATON_ECOMPACTED);
    ck_assert_int_eq(store_term_at(s, 8, &term), 0); /* the snapshot's */
    ck_assert_uint_eq(term, 1);
    free(snap.data.base);
    store_close(s);
}
END_TEST

/* --- snapshots ------------------------------------------------------------ */

START_TEST(test_received_snapshot_replaces_log)
{
    struct store *s = open_ok();
    struct raft_snapshot snap;
    struct store_boot boot;
    uint64_t term;

    append_ok(s, 1, 10, 1);
    make_snapshot(&snap, 50, 3, 100 * 1024);
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_DISCARD, 0), 0);
    ck_assert_uint_eq(store_first_index(s), 51);
    ck_assert_uint_eq(store_last_index(s), 50);
    store_close(s);

    s = open_ok();
    ck_assert_uint_eq(store_last_index(s), 50);
    ck_assert_int_eq(store_term_at(s, 50, &term), 0);
    ck_assert_uint_eq(term, 3);
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, 0);
    check_snapshot(&boot, &snap);
    store_boot_free(&boot);
    ck_assert_int_eq(append(s, 52, 1, 3), BATON_EINVAL);
    ck_assert_int_eq(append(s, 51, 1, 2), BATON_EINVAL); /* below the snapshot's term */
    append_ok(s, 51, 2, 3);
    ck_assert_uint_eq(store_last_index(s), 52);
    free(snap.data.base);
    store_close(s);
}
END_TEST

START_TEST(test_snapshot_match_keeps_suffix)
{
    struct store *s = open_ok();
    struct raft_snapshot snap;
    struct store_boot boot;

    append_ok(s, 1, 10, 1);
    make_snapshot(&snap, 6, 1, 16);
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_MATCH, 0), 0);
    ck_assert_uint_eq(store_first_index(s), 7);
    ck_assert_uint_eq(store_last_index(s), 10);
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, 4);
    check_entry(&boot.entries[0], 7, 1);
    store_boot_free(&boot);
    snap.meta.index = 8; /* the log has term 1 at 8, the snapshot says 2 */
    snap.meta.term = 2;
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_MATCH, 0), 0);
    ck_assert_uint_eq(store_first_index(s), 9);
    ck_assert_uint_eq(store_last_index(s), 8);
    free(snap.data.base);
    store_close(s);
}
END_TEST

START_TEST(test_bad_snapshots_rejected)
{
    struct store *s = open_ok();
    struct raft_snapshot snap;

    append_ok(s, 1, 10, 2);
    make_snapshot(&snap, 11, 2, 16);
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_KEEP, 0), BATON_EINVAL); /* past 10 */
    snap.meta.index = 5;
    snap.meta.term = 1;
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_KEEP, 0), BATON_EINVAL); /* term */
    snap.meta.term = 2;
    ck_assert_int_eq(write_snapshot(s, &snap, 99, 0), BATON_EINVAL);
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_KEEP, 0), 0);
    snap.meta.index = 4;
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_KEEP, 0), BATON_EINVAL); /* older */
    ck_assert_int_eq(append(s, 3, 1, 2), BATON_EINVAL); /* would cut what it covers */
    ck_assert_uint_eq(store_snapshot_index(s), 5);
    ck_assert_uint_eq(store_last_index(s), 10);
    free(snap.data.base);
    store_close(s);
}
END_TEST

START_TEST(test_batch_from_ready)
{
    struct store *s = open_ok();
    struct raft_snapshot snap;
    struct raft_entry *e = make_entries(31, 2, 4);
    struct raft_ready rd;
    struct store_batch b;
    struct raft_hard_state hs;

    append_ok(s, 1, 10, 1);
    make_snapshot(&snap, 30, 4, 32);
    memset(&rd, 0, sizeof rd);
    rd.snapshot = &snap;
    rd.entries = e;
    rd.n_entries = 2;
    rd.has_hard_state = true;
    rd.hard_state.term = 4;
    store_batch_from_ready(&b, &rd);
    ck_assert_int_eq(store_write(s, &b, 1), 0);
    ck_assert_uint_eq(store_first_index(s), 31);
    ck_assert_uint_eq(store_last_index(s), 32);
    store_hard_state(s, &hs);
    ck_assert_uint_eq(hs.term, 4);
    free_entries(e, 2);
    free(snap.data.base);
    store_close(s);
}
END_TEST

/* --- group commit ----------------------------------------------------------- */

START_TEST(test_group_commit_one_transaction)
{
    enum { BATCHES = 100, PER = 10 };
    struct store_batch b[BATCHES];
    struct raft_entry *e[BATCHES];
    struct store_boot boot;
    struct store *s = open_ok();
    uint64_t before;

    append_ok(s, 1, 1, 1);
    store_close(s);
    before = raw_last_txnid();
    memset(b, 0, sizeof b);
    for (int i = 0; i < BATCHES; i++) {
        /* Each batch rewrites the previous one's last entry, as a new leader might. */
        e[i] = make_entries(2 + (uint64_t)i * (PER - 1), PER, 1 + (uint64_t)i);
        b[i].entries = e[i];
        b[i].n_entries = PER;
        b[i].has_hard_state = true;
        b[i].hard_state.term = 1 + (uint64_t)i;
        b[i].hard_state.vote = 1;
    }
    s = open_ok();
    ck_assert_int_eq(store_write(s, b, BATCHES), 0);
    store_close(s);
    ck_assert_uint_eq(raw_last_txnid(), before + 1);

    s = open_ok();
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, 1 + BATCHES * (PER - 1) + 1);
    check_entry(&boot.entries[1], 2, 1);
    check_entry(&boot.entries[PER], PER + 1, 2); /* batch 0's last, rewritten by batch 1 */
    check_entry(&boot.entries[boot.n_entries - 1], boot.n_entries, BATCHES);
    ck_assert_uint_eq(boot.hard_state.term, BATCHES);
    store_boot_free(&boot);
    for (int i = 0; i < BATCHES; i++)
        free_entries(e[i], PER);
    store_close(s);
}
END_TEST

START_TEST(test_hard_state_rules)
{
    struct store *s = open_ok();
    struct store_batch b = {.has_hard_state = true, .hard_state = {.term = 5, .vote = 2}};
    struct raft_hard_state hs;

    ck_assert_int_eq(store_write(s, &b, 1), 0);
    ck_assert_int_eq(store_write(s, &b, 1), 0); /* the same again is fine */
    b.hard_state.vote = 3;
    ck_assert_int_eq(store_write(s, &b, 1), BATON_EINVAL); /* a second vote in term 5 */
    b.hard_state = (struct raft_hard_state){.term = 4, .vote = 0};
    ck_assert_int_eq(store_write(s, &b, 1), BATON_EINVAL); /* the term goes back */
    b.hard_state = (struct raft_hard_state){.term = 6, .vote = 3};
    ck_assert_int_eq(store_write(s, &b, 1), 0);
    store_hard_state(s, &hs);
    ck_assert_uint_eq(hs.term, 6);
    ck_assert_uint_eq(hs.vote, 3);
    store_close(s);
}
END_TEST

/* --- CRDT slots ------------------------------------------------------------- */

static int collect(const char *name, const void *data, size_t len, void *arg)
{
    char *out = arg;

    strcat(out, name);
    strcat(out, "=");
    strncat(out, data, len);
    strcat(out, ";");
    return strcmp(name, "stop") == 0 ? 42 : 0;
}

START_TEST(test_crdt_slots)
{
    struct store *s = open_ok();
    struct store_crdt_put p = {.name = "b", .data = "two", .len = 3};
    struct store_batch b = {.crdt = &p, .n_crdt = 1};
    char seen[256] = "";
    void *data;
    size_t len;

    ck_assert_int_eq(store_crdt_put(s, "c", "three", 5), 0);
    ck_assert_int_eq(store_crdt_put(s, "a", "one", 3), 0);
    ck_assert_int_eq(store_write(s, &b, 1), 0);
    ck_assert_int_eq(store_crdt_put(s, "a", "ONE", 3), 0);
    ck_assert_int_eq(store_crdt_put(s, "", "x", 1), BATON_EINVAL);
    store_close(s);

    s = open_ok();
    ck_assert_int_eq(store_crdt_get(s, "a", &data, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(data, "ONE", 3) == 0);
    free(data);
    ck_assert_int_eq(store_crdt_get(s, "zz", &data, &len), BATON_ENOTFOUND);
    ck_assert_int_eq(store_crdt_foreach(s, collect, seen), 0);
    ck_assert_str_eq(seen, "a=ONE;b=two;c=three;");
    ck_assert_int_eq(store_crdt_put(s, "stop", "", 0), 0);
    seen[0] = '\0';
    ck_assert_int_eq(store_crdt_foreach(s, collect, seen), 42);
    ck_assert_str_eq(seen, "a=ONE;b=two;c=three;stop=;");
    store_close(s);
}
END_TEST

/* --- refusing to start ------------------------------------------------------ */

START_TEST(test_wrong_cluster)
{
    struct store *s;

    make_populated();
    open_fails(CLUSTER + 1, BATON_ECLUSTER);
    s = open_ok(); /* the data is still there for its own cluster */
    ck_assert_uint_eq(store_last_index(s), 20);
    store_close(s);
}
END_TEST

START_TEST(test_newer_format_version)
{
    uint8_t v[4];

    make_populated();
    store_put_u32(v, STORE_FORMAT_VERSION + 1);
    raw_put_record(STORE_DB_META, STORE_KEY_VERSION, strlen(STORE_KEY_VERSION), v, sizeof v);
    open_fails(CLUSTER, BATON_EVERSION);
    ck_assert(strstr(why, "version 2") != NULL);
}
END_TEST

START_TEST(test_meta_missing_is_corrupt)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = store_key(STORE_KEY_CLUSTER);

    make_populated();
    raw_open(&env, &txn, &dbi, STORE_DB_META);
    ck_assert_int_eq(mdb_del(txn, dbi, &k, NULL), 0);
    raw_commit(env, txn);
    open_fails(CLUSTER, BATON_ECORRUPT);
    ck_assert(strstr(why, "cluster_id is missing") != NULL);
}
END_TEST

START_TEST(test_foreign_lmdb_is_corrupt)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {.mv_size = 5, .mv_data = "hello"}, v = {.mv_size = 5, .mv_data = "world"};

    /* An LMDB environment with data but none of ours: never start empty on it. */
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    raw_commit(env, txn);
    open_fails(CLUSTER, BATON_ECORRUPT);
    ck_assert(strstr(why, "no \"meta\" database") != NULL);
}
END_TEST

START_TEST(test_garbage_header_is_corrupt)
{
    char path[PATH_MAX];
    uint8_t junk[16384];
    off_t size;
    int fd;

    make_populated();
    size = file_size();
    ck_assert_int_ge(size, (off_t)sizeof junk);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7919 + 13);
    data_path(path, sizeof path);
    fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    close(fd);
    open_fails(CLUSTER, BATON_ECORRUPT);
    ck_assert_int_eq(file_size(), size); /* not recreated */
}
END_TEST

START_TEST(test_truncated_file_is_corrupt)
{
    char path[PATH_MAX];
    off_t size;

    make_populated();
    size = file_size();
    data_path(path, sizeof path);
    ck_assert_int_eq(truncate(path, size / 2), 0);
    open_fails(CLUSTER, BATON_ECORRUPT);
    ck_assert(strstr(why, "truncated") != NULL);
    ck_assert_int_eq(truncate(path, 0), 0);
    open_fails(CLUSTER, BATON_ECORRUPT);
    ck_assert(strstr(why, "empty") != NULL);
    ck_assert_int_eq(file_size(), 0);
}
END_TEST

START_TEST(test_damaged_entry_is_corrupt)
{
    const char *marker = "entry-13-term-1";
    char path[PATH_MAX];
    struct store_boot boot;
    struct raft_entry e;
    struct store *s;
    char *buf, *hit;
    int copies = 0;
    off_t size;
    FILE *f;

    make_populated();
    size = file_size();
    data_path(path, sizeof path);
    buf = malloc((size_t)size);
    f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    /* Damage every copy (LMDB may keep a stale one in a free page). */
    for (hit = buf; (hit = memmem(hit, (size_t)(buf + size - hit), marker, strlen(marker))) != NULL;
         hit++, copies++) {
        ck_assert_int_eq(fseek(f, hit - buf + 6, SEEK_SET), 0); /* "entry-13" -> "entry-X3" */
        ck_assert_int_ne(fputc('X', f), EOF);
    }
    ck_assert_int_gt(copies, 0);
    fclose(f);
    free(buf);

    s = open_ok(); /* open only checks the log's ends */
    ck_assert_int_eq(store_load(s, &boot), BATON_ECORRUPT);
    ck_assert(strstr(store_errmsg(s), "log entry 13: checksum mismatch") != NULL);
    ck_assert_uint_eq(boot.n_entries, 0);
    ck_assert_int_eq(store_entry_get(s, 13, &e), BATON_ECORRUPT);
    ck_assert_int_eq(store_entry_get(s, 12, &e), 0);
    free(e.data.base);
    store_close(s);
}
END_TEST

static void raw_log_edit(uint64_t index, const void *value, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[8];
    MDB_val k = {.mv_size = 8, .mv_data = key}, v = {.mv_size = len, .mv_data = (void *)value};

    store_put_u64(key, index);
    raw_open(&env, &txn, &dbi, STORE_DB_LOG);
    if (value == NULL)
        ck_assert_int_eq(mdb_del(txn, dbi, &k, NULL), 0);
    else
        ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    raw_commit(env, txn);
}

START_TEST(test_log_hole_is_corrupt)
{
    make_populated();
    raw_log_edit(7, NULL, 0);
    open_fails(CLUSTER, BATON_ECORRUPT);
    ck_assert(strstr(why, "entries are missing") != NULL);
}
END_TEST

START_TEST(test_bad_values_are_corrupt)
{
    struct store_boot boot;
    struct store *s;
    uint8_t payload[9] = {0}; /* term 0, type 0 */

    make_populated();
    raw_log_edit(4, "abc", 3);
    s = open_ok();
    ck_assert_int_eq(store_load(s, &boot), BATON_ECORRUPT);
    ck_assert(strstr(store_errmsg(s), "log entry 4: value shorter than its checksum") != NULL);
    store_close(s);

    raw_put_record(STORE_DB_LOG, (uint8_t[8]){0, 0, 0, 0, 0, 0, 0, 4}, 8, payload, 5);
    s = open_ok();
    ck_assert_int_eq(store_load(s, &boot), BATON_ECORRUPT);
    ck_assert(strstr(store_errmsg(s), "too short") != NULL);
    store_close(s);

    raw_put_record(STORE_DB_LOG, (uint8_t[8]){0, 0, 0, 0, 0, 0, 0, 4}, 8, payload, 9);
    s = open_ok();
    ck_assert_int_eq(store_load(s, &boot), BATON_ECORRUPT);
    ck_assert(strstr(store_errmsg(s), "term 0") != NULL);
    store_close(s);

    raw_put_record(STORE_DB_SNAPSHOT, STORE_KEY_SNAP_META, strlen(STORE_KEY_SNAP_META), payload, 9);
    open_fails(CLUSTER, BATON_ECORRUPT);
    ck_assert(strstr(why, "snapshot: metadata of") != NULL);
}
END_TEST

START_TEST(test_snapshot_disagreeing_with_log_is_corrupt)
{
    struct store *s = open_ok();
    struct raft_snapshot snap;
    struct store_boot boot;
    uint8_t payload[9] = {0, 0, 0, 0, 0, 0, 0, 2, RAFT_ENTRY_NOOP}; /* term 2 */

    append_ok(s, 1, 10, 1);
    make_snapshot(&snap, 5, 1, 16);
    ck_assert_int_eq(write_snapshot(s, &snap, STORE_LOG_KEEP, 0), 0);
    store_close(s);
    free(snap.data.base);
    raw_put_record(STORE_DB_LOG, (uint8_t[8]){0, 0, 0, 0, 0, 0, 0, 5}, 8, payload, 9);
    s = open_ok();
    ck_assert_int_eq(store_load(s, &boot), BATON_ECORRUPT);
    ck_assert(strstr(store_errmsg(s), "snapshot at 5 has term 1 but the log has term 2") != NULL);
    store_close(s);
}
END_TEST

/* --- running out of space ----------------------------------------------------- */

START_TEST(test_map_full_keeps_committed_data)
{
    struct store *s = open_with(1 << 20);
    struct raft_entry big = {.index = 11, .term = 1, .type = RAFT_ENTRY_NORMAL};
    struct store_batch b = {.entries = &big, .n_entries = 1};
    struct store_boot boot;

    append_ok(s, 1, 10, 1);
    big.data.len = 2 << 20;
    big.data.base = calloc(1, big.data.len);
    ck_assert_int_eq(store_write(s, &b, 1), BATON_ENOSPACE);
    ck_assert_uint_eq(store_last_index(s), 10);
    append_ok(s, 11, 1, 1); /* the store is still usable */
    store_close(s);

    s = open_ok();
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, 11);
    check_entry(&boot.entries[10], 11, 1);
    store_boot_free(&boot);
    ck_assert_int_eq(store_write(s, &b, 1), 0); /* fits the default map */
    ck_assert_uint_eq(store_last_index(s), 11);
    free(big.data.base);
    store_close(s);
}
END_TEST

START_TEST(test_map_too_small_to_create)
{
    struct store_options opt = {.map_size = 8192};
    struct store *s = NULL;

    ck_assert_int_eq(store_open(dir, CLUSTER, &opt, &s, why, sizeof why), BATON_ENOSPACE);
    ck_assert_ptr_null(s);
    /* Nothing was ever committed there, so a roomier open creates the store. */
    s = open_ok();
    append_ok(s, 1, 1, 1);
    store_close(s);
}
END_TEST

/* Mounts a 1 MiB tmpfs on dir, in a mount namespace of this test process
 * alone (Check runs each test in its own process), so nothing outlives the
 * test. False, saying why, where that is not permitted (not root, or in a
 * container without CAP_SYS_ADMIN). */
static bool mount_tiny_tmpfs(void)
{
    const char *step = "unshare(CLONE_NEWNS)";

    if (unshare(CLONE_NEWNS) == 0) {
        step = "make / private";
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) {
            step = "mount -t tmpfs -o size=1m";
            if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") == 0)
                return true;
        }
    }
    fprintf(stderr, "test_disk_full_is_enospace: SKIPPED: cannot mount a tmpfs (%s: %s)\n", step,
            strerror(errno));
    return false;
}

/* A disk that fills up in the middle of a commit makes LMDB's write come up
 * short, which LMDB reports as EIO; the store says BATON_ENOSPACE, and what
 * was committed before is intact. */
START_TEST(test_disk_full_is_enospace)
{
    struct raft_entry e = {.term = 1, .type = RAFT_ENTRY_NORMAL, .data.len = 100000};
    struct store_batch b = {.entries = &e, .n_entries = 1};
    struct store_boot boot;
    struct store *s;
    int rc;

    if (!mount_tiny_tmpfs())
        return;
    s = open_ok();
    e.data.base = calloc(1, e.data.len);
    ck_assert_ptr_nonnull(e.data.base);
    for (e.index = 1; (rc = store_write(s, &b, 1)) == 0; e.index++)
        ck_assert_uint_lt(e.index, 20); /* 1 MiB holds fewer than 10 */
    ck_assert_msg(rc == BATON_ENOSPACE, "store_write: %s (%s)", baton_strerror(rc),
                  store_errmsg(s));
    ck_assert_msg(strstr(store_errmsg(s), "Input/output error; the file system holding it is full") !=
                      NULL,
                  "not a short write: %s", store_errmsg(s));
    store_close(s);
    free(e.data.base);

    s = open_ok(); /* what was committed is all there */
    load_ok(s, &boot);
    ck_assert_uint_eq(boot.n_entries, e.index - 1);
    store_boot_free(&boot);
    store_close(s);
    ck_assert_int_eq(umount2(dir, MNT_DETACH), 0);
}
END_TEST

static TCase *add_case(Suite *suite, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(suite, tc);
    return tc;
}

static Suite *store_suite(void)
{
    Suite *suite = suite_create("store");
    TCase *tc;

    tc = add_case(suite, "lifecycle");
    tcase_add_test(tc, test_new_store_is_empty);
    tcase_add_test(tc, test_open_creates_directory);
    tcase_add_test(tc, test_reopen_keeps_everything);
    tcase_add_test(tc, test_second_open_is_busy);
    tcase_add_test(tc, test_boot_feeds_raft);
    tc = add_case(suite, "log");
    tcase_add_test(tc, test_truncate_conflicting_suffix);
    tcase_add_test(tc, test_bad_appends_write_nothing);
    tcase_add_test(tc, test_empty_entry_data);
    tcase_add_test(tc, test_compact_then_reopen);
    tcase_add_test(tc, test_hard_state_rules);
    tc = add_case(suite, "snapshot");
    tcase_add_test(tc, test_received_snapshot_replaces_log);
    tcase_add_test(tc, test_snapshot_match_keeps_suffix);
    tcase_add_test(tc, test_bad_snapshots_rejected);
    tcase_add_test(tc, test_batch_from_ready);
    tc = add_case(suite, "group_commit");
    tcase_add_test(tc, test_group_commit_one_transaction);
    tc = add_case(suite, "crdt");
    tcase_add_test(tc, test_crdt_slots);
    tc = add_case(suite, "refuse");
    tcase_add_test(tc, test_wrong_cluster);
    tcase_add_test(tc, test_newer_format_version);
    tcase_add_test(tc, test_meta_missing_is_corrupt);
    tcase_add_test(tc, test_foreign_lmdb_is_corrupt);
    tcase_add_test(tc, test_garbage_header_is_corrupt);
    tcase_add_test(tc, test_truncated_file_is_corrupt);
    tcase_add_test(tc, test_damaged_entry_is_corrupt);
    tcase_add_test(tc, test_log_hole_is_corrupt);
    tcase_add_test(tc, test_bad_values_are_corrupt);
    tcase_add_test(tc, test_snapshot_disagreeing_with_log_is_corrupt);
    tc = add_case(suite, "space");
    tcase_add_test(tc, test_map_full_keeps_committed_data);
    tcase_add_test(tc, test_map_too_small_to_create);
    tcase_add_test(tc, test_disk_full_is_enospace);
    return suite;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
