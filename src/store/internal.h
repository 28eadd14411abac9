/* What the files of src/store share: the store struct, value encoding, per-database helpers. */
#ifndef BATON_STORE_INTERNAL_H
#define BATON_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store/store.h"

/* On-disk names. Changing any of them, or any value layout below, means a new
 * STORE_FORMAT_VERSION. */
#define STORE_FORMAT_VERSION 1u
#define STORE_DB_META "meta"
#define STORE_DB_LOG "log"
#define STORE_DB_SNAPSHOT "snapshot"
#define STORE_DB_CRDT "crdt"
#define STORE_KEY_VERSION "format_version" /* u32 */
#define STORE_KEY_CLUSTER "cluster_id"     /* u64 */
#define STORE_KEY_HARD_STATE "hard_state" /* u64 term, u64 vote */
#define STORE_KEY_SNAP_META "meta"        /* u64 index, term, data_len; u32 conf_len, conf */
#define STORE_KEY_SNAP_DATA "data"        /* the snapshot bytes */
/* Log values: u64 term, u8 type, data. CRDT values: data. All integers are
 * big-endian, and every value is a record: u32 CRC-32C of the payload, payload. */
#define STORE_REC_HDR 4u

/* Where the log stands; see "Log positions" in store.h. */
struct store_pos {
    uint64_t first;
    uint64_t last;
    uint64_t snap_index;
    uint64_t snap_term;
};

struct store {
    MDB_env *env;
    MDB_dbi meta;
    MDB_dbi log;
    MDB_dbi snap;
    MDB_dbi crdt;
    int lock_fd;
    struct store_pos pos;        /* as of the last commit */
    struct raft_hard_state hs;   /* as of the last commit */
    char *dir;
    char why[512];
};

/* env.c: errors. store_fail records "dir: message" and returns err;
 * store_mdb_fail appends LMDB's description of rc and returns it translated. */
int store_err_translate(int rc);
int store_fail(struct store *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int store_mdb_fail(struct store *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int store_txn_begin(struct store *s, bool write, MDB_txn **txn)
    __attribute__((warn_unused_result));
/* LMDB reports a write that a full disk cut short as EIO ("short write,
 * filesystem full?" in mdb_page_flush), not ENOSPC. When err is BATON_EIO
 * and the file system holding the store has (nearly) no room left, this
 * adds that to the message and returns BATON_ENOSPACE; otherwise err. */
int store_blame_full_disk(struct store *s, int err) __attribute__((warn_unused_result));

/* codec.c: big-endian integers, CRC-32C and records. */
uint32_t store_crc32c(const void *p, size_t n);
uint8_t *store_put_u32(uint8_t *p, uint32_t v);
uint8_t *store_put_u64(uint8_t *p, uint64_t v);
uint64_t store_get_u64(const uint8_t *p);

/* A bounds-checked reader over a record's payload: reading past the end sets
 * bad and yields zeros, so a decoder checks once at the end. */
struct store_rd {
    const uint8_t *p;
    size_t left;
    bool bad;
};
uint8_t store_rd_u8(struct store_rd *r);
uint32_t store_rd_u32(struct store_rd *r);
uint64_t store_rd_u64(struct store_rd *r);
const uint8_t *store_rd_bytes(struct store_rd *r, size_t n);
/* True if the reader ran short or payload bytes are left over. */
bool store_rd_failed(const struct store_rd *r);

/* Checks v's checksum and points r at its payload. Returns NULL, or a static
 * reason why the value is damaged. */
const char *store_rec_open(const MDB_val *v, struct store_rd *r);
/* Reserves key -> a record with a payload of len bytes (mdb_put MDB_RESERVE
 * plus flags); *payload is where to write it, then store_rec_seal(). Returns
 * an LMDB code. */
int store_rec_reserve(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, size_t len, unsigned flags,
                      uint8_t **payload);
void store_rec_seal(uint8_t *payload, size_t len);
/* store_rec_reserve + copy + seal of a payload already in memory. */
int store_rec_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, const void *payload, size_t len);
/* A key made of a string constant (without its NUL). */
MDB_val store_key(const char *name);
/* Copies n bytes into a fresh malloc'd buffer (NULL when n is 0). */
int store_dup(const void *p, size_t n, void **out) __attribute__((warn_unused_result));

/* meta.c */
int store_meta_init(struct store *s, MDB_txn *txn, uint64_t cluster_id)
    __attribute__((warn_unused_result));
int store_meta_check(struct store *s, MDB_txn *txn, uint64_t cluster_id)
    __attribute__((warn_unused_result));
int store_meta_put_hard_state(struct store *s, MDB_txn *txn, const struct raft_hard_state *hs,
                              struct raft_hard_state *cur) __attribute__((warn_unused_result));

/* log.c */
int store_log_bounds(struct store *s, MDB_txn *txn, struct store_pos *pos)
    __attribute__((warn_unused_result));
int store_log_term(struct store *s, MDB_txn *txn, const struct store_pos *pos, uint64_t index,
                   uint64_t *term) __attribute__((warn_unused_result));
int store_log_append(struct store *s, MDB_txn *txn, struct store_pos *pos,
                     const struct raft_entry *entries, size_t n)
    __attribute__((warn_unused_result));
int store_log_compact(struct store *s, MDB_txn *txn, struct store_pos *pos, uint64_t upto)
    __attribute__((warn_unused_result));
/* Drops entries with index <= upto, or all of them. */
int store_log_drop(struct store *s, MDB_txn *txn, uint64_t upto)
    __attribute__((warn_unused_result));
int store_log_drop_all(struct store *s, MDB_txn *txn) __attribute__((warn_unused_result));
int store_log_read_all(struct store *s, MDB_txn *txn, const struct store_pos *pos,
                       struct raft_entry **entries, size_t *n)
    __attribute__((warn_unused_result));
void store_entries_free(struct raft_entry *entries, size_t n);

/* snapshot.c: data may be NULL to skip the snapshot bytes. */
int store_snap_get(struct store *s, MDB_txn *txn, bool *found, struct raft_snapshot_meta *meta,
                   struct raft_buf *data) __attribute__((warn_unused_result));
int store_snap_put(struct store *s, MDB_txn *txn, struct store_pos *pos,
                   const struct raft_snapshot *snap, int mode)
    __attribute__((warn_unused_result));

/* crdt.c */
int store_crdt_put_txn(struct store *s, MDB_txn *txn, const struct store_crdt_put *p)
    __attribute__((warn_unused_result));

#endif
