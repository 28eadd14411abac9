/* The LMDB storage layer: one node's Raft log, hard state, snapshot and CRDT slots. */
#ifndef BATON_STORE_H
#define BATON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton/error.h"
#include "raft/raft.h"

/*
 * Files
 * -----
 * A store is one LMDB environment in a data directory (LMDB's subdirectory
 * mode). store_open() creates the directory (mode 0700, last component only)
 * if it does not exist. Inside it:
 *   data.mdb     the LMDB data file
 *   lock.mdb     LMDB's reader table
 *   baton.lock   held with flock(LOCK_EX) while the store is open, so that two
 *                processes (or two opens in one process) never share a log
 * and, in data.mdb, four named databases:
 *   "meta"       format version, cluster id, hard state (term, vote)
 *   "log"        Raft index as 8 bytes big-endian -> entry (term, type, data)
 *   "snapshot"   the latest snapshot: "meta" (index, term, raft_conf) and "data"
 *   "crdt"       counter name -> opaque bytes (G-Counter slots)
 * Every value starts with a CRC-32C of the rest, so a damaged value is reported
 * as BATON_ECORRUPT instead of being handed to Raft. LMDB has no page
 * checksums and trusts its B-tree pages, so store_open() walks every page
 * LMDB would read before LMDB maps the file, and refuses a file in which one
 * is out of bounds or malformed (check.h has the rules). That walk reads
 * each of those pages once (README.md has its cost).
 *
 * Durability
 * ----------
 * The environment is opened without MDB_NOSYNC, MDB_NOMETASYNC or MDB_WRITEMAP:
 * when store_write() returns 0 its transaction has been fsync'd (LMDB syncs
 * the data pages, then the meta page). One store_write() is one transaction
 * and one sync, whatever it carries; pass several batches to one call to let
 * one sync serve them all (group commit). On any error nothing of any batch
 * is written.
 *
 * Log positions
 * -------------
 * The log holds the contiguous entries [first index, last index]. It may start
 * before the snapshot (entries kept at compaction) but never after the entry
 * that follows it, and never ends before it. When the log is empty,
 * first = snapshot index + 1 and last = snapshot index (0 and 1 on a new store).
 *
 * Threads
 * -------
 * A store has no lock of its own: one thread at a time may call it, and that
 * thread need not be the one that opened it (MDB_NOTLS), e.g. a worker thread
 * running store_write() while the event loop waits for the result. The caller
 * serializes; this includes the accessors, which read cached fields.
 *
 * Errors
 * ------
 * Functions return 0 or a negative BATON_E* code; LMDB and errno codes never
 * leave this module. After a failure, store_errmsg() says why, starting with
 * the data directory's path.
 */

struct store;

#define STORE_MAP_SIZE_DEFAULT ((size_t)1 << 30) /* 1 GiB */
#define STORE_CRDT_NAME_MAX 255                  /* bytes, excluding the NUL */

struct store_options {
    /* Largest size data.mdb may reach (LMDB's map size), rounded up to the OS
     * page size; 0 means STORE_MAP_SIZE_DEFAULT. Reaching it makes writes fail
     * with BATON_ENOSPACE. An existing file larger than this is opened anyway. */
    size_t map_size;
};

/* Fills opt with the defaults. */
void store_options_default(struct store_options *opt);

/* Opens the store in dir, or creates it there (recording cluster_id and the
 * format version) if dir holds no data.mdb. An existing store is verified, and
 * never silently replaced by an empty one:
 *   BATON_EINVAL    dir or out is NULL, or cluster_id is 0
 *   BATON_EBUSY     another process or another store_open() holds dir
 *   BATON_ECLUSTER  the store belongs to another cluster
 *   BATON_EVERSION  the store was written by a newer format version (of baton
 *                   or of LMDB)
 *   BATON_ECORRUPT  data.mdb is empty, truncated, not an LMDB file, has a
 *                   damaged page (why names the page and what is wrong), no
 *                   or a damaged "meta", a hole in its log, or a damaged
 *                   snapshot
 *   BATON_ENOSPACE  no room to create the store (disk, or map_size too small)
 *   BATON_ENOMEM, BATON_EIO
 * A data.mdb in which no transaction was ever committed (a crash during the
 * very first store_open) counts as new.
 * opt may be NULL (defaults); dir and opt are borrowed. On success *out is the
 * store, to be closed with store_close(); on failure *out is NULL and, if why
 * is not NULL, why (why_len bytes, NUL-terminated) says what went wrong,
 * including the path. */
int store_open(const char *dir, uint64_t cluster_id, const struct store_options *opt,
               struct store **out, char *why, size_t why_len)
    __attribute__((warn_unused_result));

/* Closes the store and frees it; NULL is ignored. */
void store_close(struct store *s);

/* Why the most recent failed call on s failed: a NUL-terminated message owned
 * by s, valid until the next call on s ("" if nothing failed yet). Successful
 * calls leave it alone. */
const char *store_errmsg(const struct store *s);

/* Everything Raft needs to restart, as copies owned by the struct. */
struct store_boot {
    struct raft_hard_state hard_state;
    bool has_snapshot;
    struct raft_snapshot snapshot; /* data.base is malloc'd (NULL if empty) */
    struct raft_entry *entries;    /* malloc'd array, each data.base malloc'd */
    size_t n_entries;
};

/* Reads the hard state, the snapshot and the whole log into *boot (zeroed
 * first). Verifies that the log is contiguous, lines up with the snapshot and
 * that every value decodes: BATON_ECORRUPT otherwise. Also BATON_ENOMEM,
 * BATON_EIO. On success the caller frees *boot with store_boot_free(); on
 * failure *boot holds nothing. */
int store_load(struct store *s, struct store_boot *boot) __attribute__((warn_unused_result));

/* Frees what *boot owns and zeroes it. */
void store_boot_free(struct store_boot *boot);

/* Points *rb at boot's contents for raft_new(). rb borrows from boot: keep boot
 * alive until raft_new() returns. */
void store_boot_view(const struct store_boot *boot, struct raft_boot *rb);

/* What store_write() does with the log when it stores a snapshot at index S. */
enum store_snapshot_log {
    /* A snapshot taken locally of applied entries: the log is left alone
     * (compact it with compact_upto). S must not be past the last index. */
    STORE_LOG_KEEP = 1,
    /* A snapshot received from the leader (Raft §7): if the log holds S (or
     * the previous snapshot is at S) with the snapshot's term, the entries
     * after S are kept and those up to S dropped; otherwise the log is dropped. */
    STORE_LOG_MATCH,
    /* Drop the whole log; it restarts at S + 1. */
    STORE_LOG_DISCARD,
};

/* One CRDT slot to store: name -> data. */
struct store_crdt_put {
    const char *name; /* 1..STORE_CRDT_NAME_MAX bytes, NUL-terminated */
    const void *data;
    size_t len;
};

/* One unit of work for store_write(), applied in this order: snapshot, then
 * truncate-and-append entries, then compaction, then CRDT slots, then hard
 * state. Every field is optional (NULL / 0 / false) and every pointer is
 * borrowed for the duration of the call. */
struct store_batch {
    const struct raft_snapshot *snapshot;
    int snapshot_log; /* enum store_snapshot_log; used when snapshot != NULL */

    /* Every entry with index >= entries[0].index is deleted, then entries are
     * appended. They must be contiguous with non-zero, non-decreasing terms,
     * and entries[0].index must lie in [first index, last index + 1]. */
    const struct raft_entry *entries;
    size_t n_entries;

    /* Drop entries with index <= compact_upto (0: none). Only entries covered by
     * the snapshot may go: compact_upto <= snapshot index. */
    uint64_t compact_upto;

    const struct store_crdt_put *crdt;
    size_t n_crdt;

    bool has_hard_state;
    struct raft_hard_state hard_state;
};

/* Fills *b from a ready batch: its snapshot (STORE_LOG_DISCARD: raft.h says a
 * received snapshot replaces the whole log), entries and hard state. b borrows
 * from rd. To group-commit several ready batches, fill one store_batch per
 * ready batch, in hand-out order, and pass them all to one store_write(). */
void store_batch_from_ready(struct store_batch *b, const struct raft_ready *rd);

/* Applies batches b[0..n) in order in one write transaction with one sync;
 * when it returns 0, all of it is durable; on failure none of it is written.
 *   BATON_EINVAL     a batch that would break the log or Raft: an append that
 *                    leaves a gap, non-contiguous entries, a term of 0 or going
 *                    down, a bad entry type, a snapshot at index or term 0 or
 *                    older than the stored one, a STORE_LOG_KEEP snapshot past
 *                    the last index or disagreeing with the log's term at S,
 *                    compacting past the snapshot, truncating entries the
 *                    snapshot covers without replacing them, a hard state whose
 *                    term goes down or whose vote changes within a term, a bad
 *                    CRDT name, an unknown snapshot_log
 *   BATON_ECOMPACTED an append that starts before the first index
 *   BATON_ENOSPACE   the disk or the map is full (previous data is intact);
 *                    also when LMDB reports a write a full disk cut short as
 *                    an I/O error (the message then says so)
 *   BATON_ECORRUPT   a value the batch had to read (a term) is damaged
 *   BATON_ENOMEM, BATON_EIO
 * n == 0 writes nothing and returns 0. */
int store_write(struct store *s, const struct store_batch *b, size_t n)
    __attribute__((warn_unused_result));

/* store_write() of one batch that only drops entries with index <= upto. */
int store_compact(struct store *s, uint64_t upto) __attribute__((warn_unused_result));

/* Cached positions and state, as of the last successful write (never fail). */
uint64_t store_first_index(const struct store *s);
uint64_t store_last_index(const struct store *s);
uint64_t store_snapshot_index(const struct store *s); /* 0: no snapshot */
void store_hard_state(const struct store *s, struct raft_hard_state *hs);

/* The term of the entry at index: from the log, or the snapshot's term at its
 * index, or 0 at index 0. BATON_ECOMPACTED below that, BATON_ENOTFOUND past the
 * last index, BATON_ECORRUPT, BATON_EIO. */
int store_term_at(struct store *s, uint64_t index, uint64_t *term)
    __attribute__((warn_unused_result));

/* Copies the entry at index into *e; the caller frees e->data.base (NULL when
 * the data is empty). BATON_ECOMPACTED below the first index, BATON_ENOTFOUND
 * past the last, BATON_ECORRUPT, BATON_ENOMEM, BATON_EIO. */
int store_entry_get(struct store *s, uint64_t index, struct raft_entry *e)
    __attribute__((warn_unused_result));

/* Stores one CRDT slot durably (a store_write() of one slot). Errors as for
 * store_write(). */
int store_crdt_put(struct store *s, const char *name, const void *data, size_t len)
    __attribute__((warn_unused_result));

/* Copies slot name into a malloc'd *data (NULL when empty; caller frees) of
 * *len bytes. BATON_ENOTFOUND, BATON_EINVAL (bad name), BATON_ECORRUPT,
 * BATON_ENOMEM, BATON_EIO. */
int store_crdt_get(struct store *s, const char *name, void **data, size_t *len)
    __attribute__((warn_unused_result));

/* Called for each slot in name order; name and data are valid only during the
 * call and the callback must not call into the store. A non-zero return stops
 * the walk and is returned by store_crdt_foreach(). */
typedef int (*store_crdt_cb)(const char *name, const void *data, size_t len, void *arg);

/* Walks every CRDT slot. 0 when done, the callback's non-zero value, or
 * BATON_ECORRUPT (a damaged slot; the walk stops), BATON_EIO. */
int store_crdt_foreach(struct store *s, store_crdt_cb cb, void *arg)
    __attribute__((warn_unused_result));

#endif
