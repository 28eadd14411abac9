/* libFuzzer target: a mutated LMDB data.mdb -> store_open, store_load and the node's startup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crdt/crdt.h"
#include "fuzz_node.h"
#include "node/sm.h"
#include "store/store.h"

/*
 * The input is the whole data.mdb of a data dir (the seeds are real stores,
 * tests/fuzz/gen_corpus.c). It is written to a fresh data dir and opened the
 * way batond starts (lifecycle.c): store_open, store_load (bootstrapping an
 * empty store), the lock state restored from the snapshot, raft_new from the
 * boot state, every G-Counter record loaded; then the reads and the first
 * write a running node makes. Every call must return 0 or one of the errors
 * its header documents; nothing may crash, hang or leak. Damaged LMDB pages
 * are store_open()'s to refuse (src/store/check.h), so every input goes to it.
 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];

static void remove_dir(void)
{
    char path[320];
    static const char *files[] = {"data.mdb", "lock.mdb", "baton.lock"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* tmpfs when there is one: every commit is an fsync. */
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/baton-fuzz-store-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(remove_dir);
    return 0;
}

static void write_data_file(const uint8_t *data, size_t size)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    (void)unlink(path);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("open data.mdb");
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0) {
            perror("write data.mdb");
            abort();
        }
        off += (size_t)k;
    }
    close(fd);
}

/* rv is 0 or one of the n codes a header documents for call. */
static void expect(int rv, const char *call, const int *codes, size_t n)
{
    if (rv == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (rv == codes[i]) {
            return;
        }
    }
    fuzz_fail("%s returned %s, which its header does not list", call, baton_strerror(rv));
}

#define EXPECT(rv, call, ...)                                                                 \
    do {                                                                                      \
        static const int codes_[] = {__VA_ARGS__};                                            \
        expect((rv), (call), codes_, sizeof(codes_) / sizeof(codes_[0]));                     \
    } while (0)

static int load_cb(const char *name, const void *data, size_t len, void *arg)
{
    int rv = crdt_record_load(arg, name, data, len);
    EXPECT(rv, "crdt_record_load", BATON_EINVAL, BATON_EMALFORMED, BATON_EVERSION,
           BATON_ENOMEM, BATON_EOVERFLOW);
    return rv;
}

static bool boot_empty(const struct store_boot *b)
{
    return b->n_entries == 0 && !b->has_snapshot && b->hard_state.term == 0;
}

/* lifecycle.c's bootstrap: the initial configuration as entry 1. */
static int bootstrap(struct store *s)
{
    struct raft_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (uint64_t id = 1; id <= 3; id++) {
        if (raft_conf_add(&conf, id, RAFT_VOTER, "127.0.0.1:7001/127.0.0.1:8001") != 0) {
            fuzz_fail("fixture: raft_conf_add");
        }
    }
    struct raft_entry e;
    if (raft_bootstrap_entry(&conf, &e) != 0) {
        fuzz_fail("fixture: raft_bootstrap_entry");
    }
    struct store_batch b = {.entries = &e, .n_entries = 1};
    int rv = store_write(s, &b, 1);
    free(e.data.base);
    return rv;
}

#define WRITE_ERRORS                                                                          \
    BATON_EINVAL, BATON_ECOMPACTED, BATON_ENOSPACE, BATON_ECORRUPT, BATON_ENOMEM, BATON_EIO

/* The reads a running node makes, and its first writes: an election's hard
 * state and entry, and a G-Counter slot. */
static void use(struct store *s, struct raft *r)
{
    uint64_t first = store_first_index(s), last = store_last_index(s), term;
    uint64_t probes[] = {first > 0 ? first - 1 : 0, first, last, last + 1};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        struct raft_entry e;
        EXPECT(store_term_at(s, probes[i], &term), "store_term_at", BATON_ECOMPACTED,
               BATON_ENOTFOUND, BATON_ECORRUPT, BATON_EIO);
        int rv = store_entry_get(s, probes[i], &e);
        EXPECT(rv, "store_entry_get", BATON_ECOMPACTED, BATON_ENOTFOUND, BATON_ECORRUPT,
               BATON_ENOMEM, BATON_EIO);
        if (rv == 0) {
            free(e.data.base);
        }
    }
    if (r != NULL) {
        /* The node's first ready batches, persisted as node_persist does. */
        raft_tick(r, 10000);
        while (raft_has_ready(r)) {
            struct raft_ready rd;
            struct store_batch b;
            if (raft_ready_get(r, &rd) != 0) {
                fuzz_fail("fixture: raft_ready_get");
            }
            store_batch_from_ready(&b, &rd);
            int rv = store_write(s, &b, 1);
            EXPECT(rv, "store_write", WRITE_ERRORS);
            if (rv == 0) {
                raft_persisted(r, &rd);
            }
            raft_ready_free(&rd);
            if (rv != 0) {
                break;
            }
        }
    }
    struct raft_hard_state hs;
    store_hard_state(s, &hs);
    struct raft_entry e = {.term = hs.term + 1, .index = store_last_index(s) + 1,
                           .type = RAFT_ENTRY_NOOP};
    struct store_batch b = {.entries = &e, .n_entries = 1, .has_hard_state = true,
                            .hard_state = {.term = hs.term + 1, .vote = FUZZ_SELF}};
    EXPECT(store_write(s, &b, 1), "store_write", WRITE_ERRORS);
    static const uint8_t slot[] = {1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1,
                                   0, 0, 0, 0, 0, 0, 0, 7};
    EXPECT(store_crdt_put(s, "fuzz", slot, sizeof(slot)), "store_crdt_put", WRITE_ERRORS);
}

/* lifecycle.c's open_store, load_raft and node_counters_start, on dir. */
static void start(void)
{
    struct store_options opt;
    store_options_default(&opt);
    opt.map_size = 1u << 20;
    struct store *s = NULL;
    char why[512];
    int rv = store_open(dir, FUZZ_STORE_CLUSTER, &opt, &s, why, sizeof(why));
    EXPECT(rv, "store_open", BATON_ECLUSTER, BATON_EVERSION, BATON_ECORRUPT, BATON_ENOSPACE,
           BATON_ENOMEM, BATON_EIO);
    if (rv != 0) {
        if (s != NULL || why[0] == '\0') {
            fuzz_fail("store_open failed without saying why, or left a store behind");
        }
        return;
    }
    struct store_boot boot;
    rv = store_load(s, &boot);
    if (rv == 0 && boot_empty(&boot)) {
        store_boot_free(&boot);
        rv = bootstrap(s);
        EXPECT(rv, "store_write", WRITE_ERRORS);
        if (rv == 0) {
            rv = store_load(s, &boot);
        }
    }
    EXPECT(rv, "store_load", BATON_ECORRUPT, BATON_ENOMEM, BATON_EIO, WRITE_ERRORS);
    if (rv != 0) {
        store_close(s);
        return;
    }
    struct node_sm sm;
    if (node_sm_init(&sm) != 0) {
        fuzz_fail("fixture: node_sm_init");
    }
    if (boot.has_snapshot) {
        rv = node_sm_restore(&sm, boot.snapshot.data.base, boot.snapshot.data.len,
                             boot.snapshot.meta.index);
        EXPECT(rv, "node_sm_restore", BATON_ECORRUPT, BATON_EVERSION, BATON_ENOMEM);
    }
    struct raft *r = NULL;
    if (rv == 0) {
        struct raft_options ropt;
        struct raft_boot rb;
        int err = 0;
        raft_options_default(&ropt, FUZZ_SELF);
        store_boot_view(&boot, &rb);
        r = raft_new(&ropt, &rb, 0, &err);
        if (r == NULL) {
            EXPECT(err, "raft_new", BATON_ECORRUPT, BATON_EINVAL, BATON_ENOMEM);
        }
    }
    store_boot_free(&boot);
    struct crdt_set *set = NULL;
    if (crdt_set_new(FUZZ_SELF, 1, &set) != 0) {
        fuzz_fail("fixture: crdt_set_new");
    }
    rv = store_crdt_foreach(s, load_cb, set);
    EXPECT(rv, "store_crdt_foreach", BATON_ECORRUPT, BATON_EIO, BATON_EINVAL, BATON_EMALFORMED,
           BATON_EVERSION, BATON_ENOMEM, BATON_EOVERFLOW);
    use(s, r);
    crdt_set_free(set);
    raft_free(r);
    node_sm_close(&sm);
    store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_data_file(data, size);
    start();
    return 0;
}
