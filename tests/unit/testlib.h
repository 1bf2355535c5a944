/*
 * testlib.h - small helpers shared by the Check unit tests.
 *
 * Helpers abort the test (ck_abort) on an unexpected system failure, so a
 * test body reads as the behaviour it checks. Every test works in its own
 * temp directory:
 *
 *   char *dir = tl_tmpdir();            // mkdtemp under $TMPDIR or /tmp
 *   tl_write_file(dir, "a/b.txt", "hello", 5, 0644);
 *   ...
 *   tl_rmtree(dir); free(dir);
 */
#ifndef HW_TESTLIB_H
#define HW_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* a fresh directory "hw-test.XXXXXX" under $TMPDIR (or /tmp); malloc'd */
char *tl_tmpdir(void);
/* remove a tree without following symlinks; missing is fine */
void tl_rmtree(const char *path);
/* dir + "/" + rel, malloc'd */
char *tl_path(const char *dir, const char *rel);
/* create (or replace) dir/rel with the given bytes and mode; parent
   directories of rel are created (0755) */
void tl_write_file(const char *dir, const char *rel, const void *data, size_t len,
		   mode_t mode);
/* mkdir -p dir/rel */
void tl_mkdirs(const char *dir, const char *rel);
/* read a whole file; malloc'd, NUL-terminated; NULL if it does not exist */
char *tl_read_file(const char *path, size_t *len_r);
/* does path exist (lstat)? */
bool tl_exists(const char *path);
/* number of entries in dir whose name starts with prefix */
size_t tl_count_prefix(const char *dir, const char *prefix);
/* the shared dir: $HW_SHARED, else HW_SRCDIR "/../shared" */
const char *tl_shared_dir(void);
/* unpack a corpus tarball (tar --zstd) from the shared corpora dir into
   dir; false if the corpus is not there (the test may skip) */
bool tl_unpack_corpus(const char *name, const char *dir);

/* name in dirfd still has the content hash (XXH3-128, 16 bytes) and the
   size, mode and mtime of *was (a rewrite must keep them); *now_r (may be
   NULL) gets its stat for further checks */
struct stat;
void tl_assert_file_kept(int dirfd, const char *name, const unsigned char hash[16],
			 const struct stat *was, struct stat *now_r);

#endif
