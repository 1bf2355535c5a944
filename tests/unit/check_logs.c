/* check_logs.c - log compression, expiry and rotation (defrag/logs.c) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>

#include "atomic.h"
#include "../../defrag/defrag.h"
#include "hash.h"
#include "io.h"
#include "util.h"
#include "testlib.h"

static char *dir;
static int64_t now;

static void setup(void)
{
	dir = tl_tmpdir();
	/* noon, so that "N days ago" never crosses a day boundary by hours */
	{
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		tm.tm_hour = 12;
		tm.tm_min = tm.tm_sec = 0;
		now = (int64_t)mktime(&tm);
	}
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
}

static void teardown(void)
{
	tl_rmtree(dir);
	free(dir);
	dir = NULL;
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
}

/* "MDaemon-YYYY-MM-DD-<svc>.log" for N days ago */
static char *log_name(int days_ago, const char *svc)
{
	time_t t = (time_t)(now - (int64_t)days_ago * 86400);
	struct tm tm;
	char day[16];

	localtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	return hw_asprintf("MDaemon-%s-%s.log", day, svc);
}

/* a log file with realistic lines, its mtime on its own day; returns the
   content's hash */
static struct hw_hash make_log(const char *name, int days_ago, size_t lines)
{
	struct hw_buf b;
	struct hw_hash h;
	struct timespec ts[2];
	char *p;

	hw_buf_init(&b);
	for (size_t i = 0; i < lines; i++)
		hw_buf_addf(&b, "Mon 2026-11-%02d %02zu:%02zu:%02zu.%03zu: [%zu] Session %zu; "
			    "child 0001; thread 4242 Accepting SMTP connection from "
			    "[192.0.2.%zu:%zu] to [198.51.100.7:25]\r\n",
			    (int)(days_ago % 28) + 1, (i / 3600) % 24, (i / 60) % 60, i % 60, i % 1000,
			    i, i * 7, i % 250, 1024 + i % 50000);
	tl_write_file(dir, name, b.data, b.len, 0640);
	hw_hash_buf(b.data, b.len, &h);
	p = tl_path(dir, name);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(now - (int64_t)days_ago * 86400);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
	hw_buf_release(&b);
	return h;
}

static struct hw_hash file_hash(const char *name)
{
	char *p = tl_path(dir, name);
	size_t len;
	char *data = tl_read_file(p, &len);
	struct hw_hash h;

	ck_assert_msg(data != NULL, "%s missing", name);
	hw_hash_buf(data, len, &h);
	free(data);
	free(p);
	return h;
}

static bool exists(const char *name)
{
	char *p = tl_path(dir, name);
	bool r = tl_exists(p);
	free(p);
	return r;
}

static void opts_init(struct logs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->compress = LOGS_ZSTD;
	o->keep_days = 1;
	o->max_age = -1;
	o->now = now;
}

/* decompress with the real tool and compare with the expected hash */
static void assert_tool_decompresses(const char *tool, const char *name, const struct hw_hash *want)
{
	char *cmd = hw_asprintf("%s -dc '%s/%s' > '%s/.plain'", tool, dir, name, dir);
	struct hw_hash got;

	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
	got = file_hash(".plain");
	ck_assert_msg(memcmp(got.b, want->b, 16) == 0, "%s -d of %s differs", tool, name);
	free(cmd);
	cmd = tl_path(dir, ".plain");
	unlink(cmd);
	free(cmd);
}

START_TEST(test_file_day)
{
	ck_assert_int_eq(logs_file_day("MDaemon-1970-01-02-SMTP (in).log", 0), 1);
	ck_assert_int_eq(logs_file_day("MDaemon-2000-03-01-IMAP.log", 0), 11017);
	/* no date in the name: the mtime's day */
	ck_assert_int_eq(logs_file_day("app.log", (int64_t)logs_today(now) * 0 + now),
			 logs_today(now));
	/* a longer digit run is not a date */
	ck_assert_int_eq(logs_file_day("x12024-01-01.log", 86400 * 3 + 43200),
			 logs_today(86400 * 3 + 43200));
}
END_TEST

START_TEST(test_compress_keep_today)
{
	char *today = log_name(0, "SMTP (in)"), *yest = log_name(1, "SMTP (in)");
	char *old3 = log_name(3, "SMTP (in)"), *old10 = log_name(10, "IMAP");
	struct hw_hash ht = make_log(today, 0, 3000), hy = make_log(yest, 1, 3000);
	struct hw_hash h3 = make_log(old3, 3, 5000), h10 = make_log(old10, 10, 4000);
	struct logs_opts o;
	struct logs_stats s = { 0 };
	struct hw_error err;
	struct stat before, after;
	char *tp = tl_path(dir, today), *z3 = hw_asprintf("%s.zst", old3);
	char *z10 = hw_asprintf("%s.zst", old10);
	uint8_t hc[16];
	uint64_t sz;

	/* today's file is still written to: make its mtime "now" */
	ck_assert_int_eq(utimensat(AT_FDCWD, tp, NULL, 0), 0);
	ck_assert_int_eq(stat(tp, &before), 0);
	opts_init(&o);
	o.now = 0;   /* the real clock, as today's file's mtime is real */
	ck_assert_msg(logs_run(dir, &o, &s, &err) == 1, "%s", err.msg);
	ck_assert_uint_eq(s.compressed, 2);
	ck_assert_uint_eq(s.errors, 0);
	ck_assert_uint_eq(s.kept_today, 1);
	/* today's and yesterday's untouched, bytes and times */
	ck_assert(memcmp(file_hash(today).b, ht.b, 16) == 0);
	ck_assert(memcmp(file_hash(yest).b, hy.b, 16) == 0);
	ck_assert_int_eq(stat(tp, &after), 0);
	ck_assert_int_eq(HW_TS_NS(before.st_mtim), HW_TS_NS(after.st_mtim));
	ck_assert_int_eq(before.st_ino, after.st_ino);
	/* old ones compressed, originals gone, content equal */
	ck_assert(!exists(old3) && exists(z3));
	ck_assert(!exists(old10) && exists(z10));
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);
		ck_assert_int_eq(logs_hash_compressed(dfd, dir, z3, hc, &sz, &err), 1);
		ck_assert(memcmp(hc, h3.b, 16) == 0);
		close(dfd);
	}
	assert_tool_decompresses("zstd", z3, &h3);
	assert_tool_decompresses("zstd", z10, &h10);
	ck_assert(s.bytes_out * 4 < s.bytes_in);
	/* the compressed copy keeps the original's mtime */
	{
		char *p = tl_path(dir, z3);
		struct stat zs;
		ck_assert_int_eq(stat(p, &zs), 0);
		ck_assert_int_eq(zs.st_mtim.tv_sec, (time_t)(now - 3 * 86400));
		ck_assert_int_eq(zs.st_mode & 0777, 0640);
		free(p);
	}
	ck_assert_uint_eq(tl_count_prefix(dir, HW_TMP_PREFIX), 0);
	/* a second run has nothing to do */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
	ck_assert_uint_eq(s.compressed + s.deleted + s.finished, 0);
	free(tp); free(z3); free(z10);
	free(today); free(yest); free(old3); free(old10);
}
END_TEST

START_TEST(test_gzip)
{
	char *old = log_name(5, "POP");
	struct hw_hash h = make_log(old, 5, 2000);
	struct logs_opts o;
	struct logs_stats s = { 0 };
	struct hw_error err;
	char *gz = hw_asprintf("%s.gz", old);

	opts_init(&o);
	o.compress = LOGS_GZIP;
	o.level = 9;
	ck_assert_msg(logs_run(dir, &o, &s, &err) == 1, "%s", err.msg);
	ck_assert_uint_eq(s.compressed, 1);
	ck_assert(!exists(old) && exists(gz));
	assert_tool_decompresses("gzip", gz, &h);
	free(gz);
	free(old);
}
END_TEST

START_TEST(test_dry_run_changes_nothing)
{
	char *old = log_name(5, "POP"), *older = log_name(50, "POP");
	struct hw_hash h = make_log(old, 5, 500);
	struct logs_opts o;
	struct logs_stats s = { 0 };
	struct hw_error err;

	make_log(older, 50, 500);
	opts_init(&o);
	o.dry_run = true;
	o.max_age = 30;
	ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
	ck_assert_uint_eq(s.compressed, 1);
	ck_assert_uint_eq(s.deleted, 1);
	ck_assert(exists(old) && exists(older));
	ck_assert(memcmp(file_hash(old).b, h.b, 16) == 0);
	ck_assert_uint_eq(tl_count_prefix(dir, "MDaemon"), 2);
	free(old);
	free(older);
}
END_TEST

START_TEST(test_retention_age_and_total)
{
	char *names[6];
	int ages[6] = { 0, 2, 5, 9, 20, 45 };
	struct logs_opts o;
	struct logs_stats s = { 0 };
	struct hw_error err;
	uint64_t total = 0;

	for (int i = 0; i < 6; i++) {
		names[i] = log_name(ages[i], "SMTP (out)");
		make_log(names[i], ages[i], 2000);
	}
	{
		/* today's by its mtime too */
		char *p = tl_path(dir, names[0]);
		ck_assert_int_eq(utimensat(AT_FDCWD, p, NULL, 0), 0);
		free(p);
	}
	opts_init(&o);
	o.now = 0;
	o.keep_days = 1;
	o.max_age = 30;
	ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
	/* 45 days: deleted by age; 2..20 compressed */
	ck_assert_uint_eq(s.deleted, 1);
	ck_assert(!exists(names[5]));
	ck_assert_uint_eq(s.compressed, 4);
	total = s.total_after;
	/* now a total below what is there: oldest first, today's never */
	memset(&s, 0, sizeof(s));
	o.max_total = total - 1;
	ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
	ck_assert_uint_eq(s.deleted, 1);
	{
		char *z = hw_asprintf("%s.zst", names[4]);   /* the oldest left: 20 days */
		ck_assert(!exists(z));
		free(z);
	}
	ck_assert(s.total_after <= total - 1);
	/* a limit below today's file alone: everything else goes, today's stays */
	memset(&s, 0, sizeof(s));
	o.max_total = 1;
	ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
	ck_assert_uint_eq(s.deleted, 3);
	ck_assert(exists(names[0]));
	ck_assert_uint_eq(tl_count_prefix(dir, "MDaemon"), 1);
	for (int i = 0; i < 6; i++)
		free(names[i]);
}
END_TEST

static void kill_self(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	kill(getpid(), SIGKILL);
}

START_TEST(test_kill_during_compression)
{
	char *old = log_name(4, "IMAP");
	struct hw_hash h = make_log(old, 4, 20000);
	struct logs_opts o;
	struct logs_stats s = { 0 };
	struct hw_error err;
	char *z = hw_asprintf("%s.zst", old);
	pid_t pid;
	int status;

	opts_init(&o);
	o.before_commit = kill_self;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		logs_run(dir, &o, &s, &err);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* the original intact, the verified temp left behind, no .zst yet */
	ck_assert(exists(old));
	ck_assert(memcmp(file_hash(old).b, h.b, 16) == 0);
	ck_assert(!exists(z));
	ck_assert_uint_eq(tl_count_prefix(dir, HW_TMP_PREFIX), 1);
	/* the next run removes the leftover and does the job */
	o.before_commit = NULL;
	ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
	ck_assert_uint_eq(tl_count_prefix(dir, HW_TMP_PREFIX), 0);
	ck_assert(!exists(old) && exists(z));
	assert_tool_decompresses("zstd", z, &h);
	free(z);
	free(old);
}
END_TEST

START_TEST(test_finish_after_kill_between_rename_and_unlink)
{
	char *old = log_name(4, "IMAP"), *other = log_name(6, "IMAP");
	struct hw_hash h = make_log(old, 4, 3000);
	struct logs_opts o;
	struct logs_stats s = { 0 };
	struct hw_error err;
	char *z = hw_asprintf("%s.zst", old), *zo = hw_asprintf("%s.zst", other);
	char *cmd;

	/* the state a kill right after the rename leaves: both files */
	cmd = hw_asprintf("cd '%s' && zstd -q -k '%s'", dir, old);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	/* and a pair that does not match: both kept, a warning */
	make_log(other, 6, 100);
	cmd = hw_asprintf("cd '%s' && head -c 500 '%s' | zstd -q > '%s'", dir, old, zo);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	opts_init(&o);
	ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
	ck_assert_uint_eq(s.finished, 1);
	ck_assert_uint_eq(s.mismatches, 1);
	ck_assert(!exists(old) && exists(z));
	assert_tool_decompresses("zstd", z, &h);
	ck_assert(exists(other) && exists(zo));
	free(z); free(zo); free(old); free(other);
}
END_TEST

START_TEST(test_fault_keeps_original)
{
	static const char *const faults[] = { "rename:1:EIO", "fsync:1:EIO", "write:1:ENOSPC",
					      "unlink:1:EIO" };
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char *old = log_name(4, "IMAP");
		struct hw_hash h = make_log(old, 4, 3000);
		struct logs_opts o;
		struct logs_stats s = { 0 };
		struct hw_error err;
		char *z = hw_asprintf("%s.zst", old);

		setenv("HIWATER_FAULT", faults[i], 1);
		hw_io_fault_reset();
		opts_init(&o);
		ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
		ck_assert_msg(s.errors == 1, "%s: %zu errors", faults[i], s.errors);
		/* the original is always there and intact */
		ck_assert_msg(exists(old), "%s: original gone", faults[i]);
		ck_assert(memcmp(file_hash(old).b, h.b, 16) == 0);
		ck_assert_uint_eq(tl_count_prefix(dir, HW_TMP_PREFIX), 0);
		unsetenv("HIWATER_FAULT");
		hw_io_fault_reset();
		/* a clean rerun finishes (unlink fault: via the verified pair) */
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(logs_run(dir, &o, &s, &err), 1);
		ck_assert_uint_eq(s.errors, 0);
		ck_assert(!exists(old) && exists(z));
		{
			char *zp = tl_path(dir, z);
			unlink(zp);
			free(zp);
		}
		free(z);
		free(old);
	}
}
END_TEST

START_TEST(test_rotate)
{
	struct hw_error err;
	char *p = tl_path(dir, "app.log");
	char *p1 = tl_path(dir, "app.log.1"), *p2 = tl_path(dir, "app.log.2");
	char *p3 = tl_path(dir, "app.log.3");
	struct stat st;

	tl_write_file(dir, "app.log", "small\n", 6, 0604);
	ck_assert_int_eq(logs_rotate(p, 100, 2, false, &err), 0);
	ck_assert(!tl_exists(p1));
	for (int round = 0; round < 3; round++) {
		char line[200];
		memset(line, 'a' + round, sizeof(line));
		tl_write_file(dir, "app.log", line, sizeof(line), 0604);
		ck_assert_msg(logs_rotate(p, 100, 2, false, &err) == 1, "%s", err.msg);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_size, 0);
		ck_assert_int_eq(st.st_mode & 0777, 0604);
	}
	/* keep 2: .1 is the last round, .2 the one before, no .3 */
	{
		size_t len;
		char *d1 = tl_read_file(p1, &len), *d2 = tl_read_file(p2, NULL);
		ck_assert_uint_eq(len, 200);
		ck_assert_int_eq(d1[0], 'c');
		ck_assert_int_eq(d2[0], 'b');
		free(d1);
		free(d2);
	}
	ck_assert(!tl_exists(p3));
	/* dry run: due, nothing moved */
	tl_write_file(dir, "app.log", "0123456789", 10, 0604);
	ck_assert_int_eq(logs_rotate(p, 5, 2, true, &err), 1);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 10);
	/* a symlink is not rotated */
	ck_assert_int_eq(symlink("/etc/passwd", p3), 0);
	ck_assert_int_eq(logs_rotate(p3, 1, 2, false, &err), -1);
	free(p); free(p1); free(p2); free(p3);
}
END_TEST

static Suite *logs_suite(void)
{
	Suite *s = suite_create("logs");
	TCase *tc = tcase_create("logs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_file_day);
	tcase_add_test(tc, test_compress_keep_today);
	tcase_add_test(tc, test_gzip);
	tcase_add_test(tc, test_dry_run_changes_nothing);
	tcase_add_test(tc, test_retention_age_and_total);
	tcase_add_test(tc, test_kill_during_compression);
	tcase_add_test(tc, test_finish_after_kill_between_rename_and_unlink);
	tcase_add_test(tc, test_fault_keeps_original);
	tcase_add_test(tc, test_rotate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(logs_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
