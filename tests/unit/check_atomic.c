/* check_atomic.c - the one way files are rewritten (core/atomic.h), with
   faults injected through core/io.h */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>

#include "atomic.h"
#include "io.h"
#include "util.h"
#include "testlib.h"

#define DIRPATH "a.com/bob"

static char *dir, *folder;
static int dfd = -1;

static const char old_text[] = "old content: the only copy\n";

static void setup(void)
{
	dir = tl_tmpdir();
	tl_mkdirs(dir, DIRPATH);
	folder = tl_path(dir, DIRPATH);
	dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
}

static void teardown(void)
{
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
	close(dfd);
	dfd = -1;
	tl_rmtree(dir);
	free(dir);
	free(folder);
	dir = folder = NULL;
}

static void fault(const char *spec)
{
	if (spec == NULL)
		unsetenv("HIWATER_FAULT");
	else
		setenv("HIWATER_FAULT", spec, 1);
	hw_io_fault_reset();
}

/* the file's bytes equal data */
static void assert_content(const char *name, const void *data, size_t len)
{
	char *p = tl_path(folder, name);
	size_t n = 0;
	char *got = tl_read_file(p, &n);

	ck_assert_msg(got != NULL, "%s is missing", p);
	ck_assert_uint_eq(n, len);
	ck_assert_msg(memcmp(got, data, len) == 0, "%s: content differs", p);
	free(got);
	free(p);
}

static mode_t file_mode(const char *name)
{
	struct stat st;

	ck_assert_int_eq(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_mode & 07777;
}

static size_t temps(void)
{
	return tl_count_prefix(folder, HW_TMP_PREFIX);
}

/* 256 KiB of a pattern: big enough that a short write is really short */
static char *big_buf(size_t *len_r)
{
	size_t len = 256 * 1024;
	char *b = hw_malloc(len);

	for (size_t i = 0; i < len; i++)
		b[i] = (char)('a' + (i * 7 + i / 1000) % 26);
	*len_r = len;
	return b;
}

START_TEST(test_replace_create_and_replace)
{
	struct hw_error err;
	struct stat st1, st2;
	size_t len;
	char *big = big_buf(&len);

	hw_error_clear(&err);
	ck_assert_int_eq(hw_atomic_replace(dfd, DIRPATH, "IMAP.MRK", old_text,
					   sizeof(old_text) - 1, 0640, &err), 1);
	assert_content("IMAP.MRK", old_text, sizeof(old_text) - 1);
	ck_assert_uint_eq(file_mode("IMAP.MRK"), 0640);
	ck_assert_uint_eq(temps(), 0);
	ck_assert_int_eq(fstatat(dfd, "IMAP.MRK", &st1, 0), 0);

	/* replace: new content, new mode, a new inode (never modified in place) */
	ck_assert_int_eq(hw_atomic_replace(dfd, DIRPATH, "IMAP.MRK", big, len, 0600, &err), 1);
	assert_content("IMAP.MRK", big, len);
	ck_assert_uint_eq(file_mode("IMAP.MRK"), 0600);
	ck_assert_int_eq(fstatat(dfd, "IMAP.MRK", &st2, 0), 0);
	ck_assert_uint_ne(st1.st_ino, st2.st_ino);
	ck_assert_uint_eq(temps(), 0);

	/* empty content; a mode the umask would have masked */
	{
		mode_t old = umask(077);
		ck_assert_int_eq(hw_atomic_replace(dfd, DIRPATH, "empty", "", 0, 0644, &err), 1);
		umask(old);
	}
	assert_content("empty", "", 0);
	ck_assert_uint_eq(file_mode("empty"), 0644);
	ck_assert_uint_eq(temps(), 0);
	free(big);
}
END_TEST

START_TEST(test_begin_abort_and_times)
{
	struct hw_atomic a;
	struct hw_error err;
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1100000000, 987654321 } };
	struct stat st;

	tl_write_file(folder, "md50000000001.msg", old_text, sizeof(old_text) - 1, 0644);
	ck_assert_int_eq(hw_atomic_begin(&a, dfd, DIRPATH, "md50000000001.msg", 0644, &err), 1);
	ck_assert(hw_atomic_is_temp(a.tmpname));
	ck_assert_msg(strstr(a.tmpname, "md50000000001.msg") != NULL, "%s", a.tmpname);
	ck_assert_uint_eq(temps(), 1);
	ck_assert_uint_eq(file_mode(a.tmpname), 0600);   /* private until commit */
	ck_assert_int_eq(hw_atomic_write(&a, "new", 3, &err), 1);
	hw_atomic_abort(&a);
	hw_atomic_abort(&a);   /* twice is safe */
	ck_assert_uint_eq(temps(), 0);
	assert_content("md50000000001.msg", old_text, sizeof(old_text) - 1);

	/* set_times: the target keeps the given times */
	ck_assert_int_eq(hw_atomic_begin(&a, dfd, DIRPATH, "md50000000001.msg", 0644, &err), 1);
	ck_assert_int_eq(hw_atomic_write(&a, "new", 3, &err), 1);
	ck_assert_int_eq(hw_atomic_set_times(&a, ts, &err), 1);
	ck_assert_int_eq(hw_atomic_commit(&a, &err), 1);
	hw_atomic_abort(&a);   /* after commit: a no-op */
	assert_content("md50000000001.msg", "new", 3);
	ck_assert_int_eq(fstatat(dfd, "md50000000001.msg", &st, 0), 0);
	ck_assert_int_eq(st.st_mtim.tv_sec, ts[1].tv_sec);
	ck_assert_int_eq(st.st_mtim.tv_nsec, ts[1].tv_nsec);
	ck_assert_uint_eq(temps(), 0);

	ck_assert(!hw_atomic_is_temp("IMAP.MRK"));
	ck_assert(!hw_atomic_is_temp(".hiwater-tm"));
	ck_assert(hw_atomic_is_temp(HW_TMP_PREFIX "1.2.x"));
}
END_TEST

/* a large file: write-back is started every HW_ATOMIC_KICK bytes as they
   are written (the commit's fsync then finds little left), and the file
   commits whole */
START_TEST(test_write_kicks_writeback)
{
	struct hw_atomic a;
	struct hw_error err;
	size_t piece = (size_t)7 << 20;
	char *buf = malloc(piece);
	off_t want[3] = { 0, (off_t)14 << 20, (off_t)14 << 20 };

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(hw_atomic_begin(&a, dfd, DIRPATH, "big", 0644, &err), 1);
	for (int i = 0; i < 3; i++) {
		memset(buf, 'a' + i, piece);
		ck_assert_int_eq(hw_atomic_write(&a, buf, piece, &err), 1);
		ck_assert_int_eq(a.written, (off_t)(i + 1) * (off_t)piece);
		ck_assert_int_eq(a.kicked, want[i]);
	}
	ck_assert_int_eq(hw_atomic_commit(&a, &err), 1);
	size_t len;
	char *path = tl_path(folder, "big"), *got = tl_read_file(path, &len);
	ck_assert_uint_eq(len, 3 * piece);
	for (size_t k = 0; k < len; k += 4096)
		ck_assert_int_eq(got[k], 'a' + (int)(k / piece));
	free(got);
	free(path);
	free(buf);
}
END_TEST

/* a replace that must fail under spec, leaving the old file intact */
static void check_failure(const char *spec, const char *step, const char *path, int errnum)
{
	struct hw_error err;
	size_t len;
	char *big = big_buf(&len);

	fault(NULL);
	ck_assert_int_eq(hw_atomic_replace(dfd, DIRPATH, "IMAP.MRK", old_text,
					   sizeof(old_text) - 1, 0644, &err), 1);
	fault(spec);
	hw_error_clear(&err);
	ck_assert_msg(hw_atomic_replace(dfd, DIRPATH, "IMAP.MRK", big, len, 0600, &err) == -1,
		      "%s: the replace succeeded", spec);
	fault(NULL);
	ck_assert_msg(strncmp(err.msg, step, strlen(step)) == 0, "%s: '%s' does not start with %s",
		      spec, err.msg, step);
	ck_assert_msg(strstr(err.msg, path) != NULL, "%s: '%s' does not name %s", spec, err.msg,
		      path);
	ck_assert_int_eq(err.errnum, errnum);
	ck_assert_msg(strstr(err.msg, strerror(errnum)) != NULL, "%s: %s", spec, err.msg);
	assert_content("IMAP.MRK", old_text, sizeof(old_text) - 1);
	ck_assert_uint_eq(file_mode("IMAP.MRK"), 0644);
	ck_assert_uint_eq(temps(), 0);
	free(big);
}

START_TEST(test_fault_write_enospc)
{
	check_failure("write:1:ENOSPC", "write(", DIRPATH "/" HW_TMP_PREFIX, ENOSPC);
	check_failure("write:1:EDQUOT", "write(", "IMAP.MRK", EDQUOT);
}
END_TEST

START_TEST(test_fault_write_short)
{
	struct hw_error err;
	size_t len;
	char *big = big_buf(&len);

	/* every write short: a full disk */
	check_failure("write:*:SHORT", "write(", DIRPATH "/" HW_TMP_PREFIX, ENOSPC);
	/* one short write is retried: the data is complete */
	fault("write:1:SHORT");
	ck_assert_int_eq(hw_atomic_replace(dfd, DIRPATH, "IMAP.MRK", big, len, 0600, &err), 1);
	fault(NULL);
	assert_content("IMAP.MRK", big, len);
	ck_assert_uint_eq(temps(), 0);
	free(big);
}
END_TEST

START_TEST(test_fault_fsync)
{
	check_failure("fsync:1:EIO", "fsync(", DIRPATH "/" HW_TMP_PREFIX, EIO);
}
END_TEST

START_TEST(test_fault_rename)
{
	check_failure("rename:1:EIO", "rename(", DIRPATH "/IMAP.MRK", EIO);
}
END_TEST

START_TEST(test_fault_open)
{
	check_failure("open:1:EIO", "open(", DIRPATH "/" HW_TMP_PREFIX, EIO);
}
END_TEST

START_TEST(test_fault_dir_fsync)
{
	struct hw_error err;

	/* the directory fsync comes after the rename: the new file is in place
	   but not known durable, and the caller is told */
	ck_assert_int_eq(hw_atomic_replace(dfd, DIRPATH, "IMAP.MRK", old_text,
					   sizeof(old_text) - 1, 0644, &err), 1);
	fault("fsync:2:EIO");
	hw_error_clear(&err);
	ck_assert_int_eq(hw_atomic_replace(dfd, DIRPATH, "IMAP.MRK", "new", 3, 0644, &err), -1);
	fault(NULL);
	ck_assert_msg(strcmp(err.msg, "fsync(" DIRPATH ") failed: Input/output error") == 0,
		      "%s", err.msg);
	assert_content("IMAP.MRK", "new", 3);
	ck_assert_uint_eq(temps(), 0);
}
END_TEST

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return pid;
}

START_TEST(test_cleanup)
{
	struct hw_error err;
	pid_t dead = dead_pid();
	char *stale1 = hw_asprintf(HW_TMP_PREFIX "%ld.0badf00d.IMAP.MRK", (long)dead);
	char *stale2 = hw_asprintf(HW_TMP_PREFIX "%ld.00000001.md50000000001.msg", 999999999L);
	char *ours = hw_asprintf(HW_TMP_PREFIX "%ld.12345678.IMAP.MRK", (long)getpid());
	char *parent = hw_asprintf(HW_TMP_PREFIX "%ld.12345678.x", (long)getppid());
	char *stale_dir = hw_asprintf("%s/" HW_TMP_PREFIX "%ld.1.d", DIRPATH, (long)dead);

	ck_assert_int_ne(kill(dead, 0), 0);
	tl_write_file(folder, stale1, "x", 1, 0600);
	tl_write_file(folder, stale2, "x", 1, 0600);
	tl_write_file(folder, ours, "x", 1, 0600);
	tl_write_file(folder, parent, "x", 1, 0600);
	tl_write_file(folder, "IMAP.MRK", "keep", 4, 0644);
	tl_write_file(folder, "md50000000001.msg", "keep", 4, 0644);
	tl_mkdirs(dir, stale_dir);   /* not a regular file: left alone */
	ck_assert_uint_eq(temps(), 5);

	hw_error_clear(&err);
	ck_assert_int_eq(hw_atomic_cleanup(dfd, DIRPATH, &err), 2);
	ck_assert_uint_eq(temps(), 3);
	{
		char *p = tl_path(folder, stale1);
		ck_assert(!tl_exists(p));
		free(p);
		p = tl_path(folder, ours);
		ck_assert(tl_exists(p));
		free(p);
		p = tl_path(folder, parent);
		ck_assert(tl_exists(p));
		free(p);
	}
	assert_content("IMAP.MRK", "keep", 4);
	assert_content("md50000000001.msg", "keep", 4);
	/* nothing more to do the second time */
	ck_assert_int_eq(hw_atomic_cleanup(dfd, DIRPATH, &err), 0);
	free(stale1);
	free(stale2);
	free(ours);
	free(parent);
	free(stale_dir);
}
END_TEST

static Suite *atomic_suite(void)
{
	Suite *s = suite_create("atomic");
	TCase *tc = tcase_create("atomic");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_replace_create_and_replace);
	tcase_add_test(tc, test_begin_abort_and_times);
	tcase_add_test(tc, test_write_kicks_writeback);
	tcase_add_test(tc, test_fault_write_enospc);
	tcase_add_test(tc, test_fault_write_short);
	tcase_add_test(tc, test_fault_fsync);
	tcase_add_test(tc, test_fault_rename);
	tcase_add_test(tc, test_fault_open);
	tcase_add_test(tc, test_fault_dir_fsync);
	tcase_add_test(tc, test_cleanup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(atomic_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
