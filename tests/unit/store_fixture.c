/* Temporary directories for the store suites (included by test_store*.c, as
 * raft_fixture.c is): each test case gets a root directory, made and removed in
 * the parent process (so a failed test's files go too); each test a directory
 * in it. Define STORE_FIXTURE_PREFIX before including. */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char root[128];
static char dir[256];
static char why[512];

static void root_setup(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(root, sizeof root, "%s/" STORE_FIXTURE_PREFIX "-XXXXXX",
             tmp != NULL ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void root_teardown(void)
{
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s/test-XXXXXX", root);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void data_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s/data.mdb", dir);
}
