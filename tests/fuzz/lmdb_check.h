/* A structural check of an LMDB data file: whether LMDB may safely trust its pages. */
#ifndef BATON_FUZZ_LMDB_CHECK_H
#define BATON_FUZZ_LMDB_CHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * LMDB (0.9) checks the header of data.mdb but trusts every B-tree page it
 * reaches: a node offset, a key size or a child page number out of range is
 * read as it is, and the process dies of SIGSEGV or SIGBUS, or of one of
 * LMDB's assertions (e.g. a branch page with fewer than two keys). baton's
 * store does not verify pages before LMDB reads them, so fuzz_store_open
 * feeds store_open() only files whose pages pass this check, and any crash it
 * finds is one that a well-formed B-tree causes.
 *
 * The rules follow mdb.c's on-disk layout (data version 1, 64-bit page
 * numbers, native byte order): the meta page with the larger txnid names the
 * free and main databases; every page of their trees, and of every named
 * database in the main one, is reached exactly once, has the page number of
 * its position, is a branch (two or more nodes) or a leaf (one or more) at
 * the depth its database records, has its nodes inside the page and its keys
 * in order within the bounds of its parent; big values point at overflow
 * pages of exactly the right count; a database's page and entry counts are
 * those of its tree; the flags are the ones baton's databases have (none, and
 * MDB_INTEGERKEY for the free database); and the free list names pages in
 * range, in descending order, none of them in use.
 */

enum lmdb_check_result {
    LMDB_CHECK_OK = 0,    /* the pages are well formed */
    LMDB_CHECK_HEADER,    /* no usable meta page: nothing was walked (store_open
                           * or LMDB must refuse the file on their own) */
    LMDB_CHECK_PAGES,     /* a page LMDB would trust is malformed */
};

/* Checks the data.mdb bytes data[0..size). When why is not NULL it receives
 * (why_len bytes, NUL-terminated) what was wrong. */
int lmdb_check(const uint8_t *data, size_t size, char *why, size_t why_len);

#endif
