/* check_defrag.c - measuring and rewriting message files (defrag/frag.c,
   defrag/defrag.c, defrag/resume.c) on really fragmented files */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <check.h>

#include "../../defrag/defrag.h"
#include "atomic.h"
#include "catalog.h"
#include "hash.h"
#include "imapmrk.h"
#include "os.h"
#include "io.h"
#include "util.h"
#include "testlib.h"

#define FOLDER "example.com/bob"
#define NFILES 12
#define BLOCKS 16    /* 4 KiB appends per file: 16 fragments each */

static char *dir, *fdir;
static int dirfd_ = -1;
static char *names[NFILES];
static struct hw_hash hashes[NFILES];
static struct stat stats[NFILES];
static char *mrk_before;
static size_t mrk_len;

/* Fragmented files the way a busy server makes them: 4 KiB appends to
   several files in turn, each with an fsync. Their UIDs run in the reverse
   of name order, so UID order is not name order. */
static void make_folder(void)
{
	struct imapmrk m;
	struct hw_error err;
	char block[4096];
	int64_t old = (int64_t)time(NULL) - 3600;

	tl_mkdirs(dir, "store/" FOLDER);
	fdir = tl_path(dir, "store/" FOLDER);
	dirfd_ = open(fdir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd_, 0);
	for (int i = 0; i < NFILES; i++)
		names[i] = hw_asprintf("md50%09d.msg", i + 1);
	for (int b = 0; b < BLOCKS; b++) {
		for (int i = 0; i < NFILES; i++) {
			int fd = openat(dirfd_, names[i], O_WRONLY | O_CREAT | O_APPEND, 0640);
			ck_assert_int_ge(fd, 0);
			for (size_t k = 0; k < sizeof(block); k++)
				block[k] = (char)('A' + (i * 7 + b * 3 + (int)k / 61) % 26);
			ck_assert_int_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
			ck_assert_int_eq(fsync(fd), 0);
			close(fd);
		}
	}
	imapmrk_init(&m);
	imapmrk_header_new(&m.hdr, 424242);
	m.header_ok = true;
	for (int i = 0; i < NFILES; i++) {
		struct imapmrk_record *r = imapmrk_append(&m);
		struct timespec ts[2];
		int fd;
		ck_assert(imapmrk_record_set_name(r, names[NFILES - 1 - i]));
		r->uid = (uint32_t)(i + 1);
		r->size = BLOCKS * 4096;
		r->date = (int32_t)old;
		r->flags = IMAPMRK_FLAG_SEEN;
		m.hdr.uidnext = (uint32_t)(i + 2);
		/* old enough to be rewritten */
		ts[0].tv_sec = ts[1].tv_sec = (time_t)(old + i);
		ts[0].tv_nsec = ts[1].tv_nsec = 123456789;
		ck_assert_int_eq(utimensat(dirfd_, names[i], ts, 0), 0);
		fd = openat(dirfd_, names[i], O_RDONLY);
		ck_assert_int_eq(hw_hash_fd(fd, names[i], &hashes[i], NULL, &err), 1);
		ck_assert_int_eq(fstat(fd, &stats[i]), 0);
		close(fd);
	}
	ck_assert_msg(imapmrk_write(dirfd_, FOLDER, &m, &err) == 1, "%s", err.msg);
	imapmrk_release(&m);
	{
		char *p = tl_path(fdir, IMAPMRK_NAME);
		mrk_before = tl_read_file(p, &mrk_len);
		free(p);
	}
}

static void setup(void)
{
	dir = tl_tmpdir();
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
	make_folder();
}

static void teardown(void)
{
	if (dirfd_ >= 0)
		close(dirfd_);
	dirfd_ = -1;
	for (int i = 0; i < NFILES; i++) {
		free(names[i]);
		names[i] = NULL;
	}
	free(mrk_before);
	mrk_before = NULL;
	tl_rmtree(dir);
	free(dir);
	free(fdir);
	dir = fdir = NULL;
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
}

/* every file: same bytes, name, mode, mtime; IMAP.MRK byte-identical */
static void assert_folder_intact(bool same_inode)
{
	for (int i = 0; i < NFILES; i++) {
		struct stat st;
		tl_assert_file_kept(dirfd_, names[i], hashes[i].b, &stats[i], &st);
		ck_assert_int_eq(st.st_uid, stats[i].st_uid);
		if (same_inode)
			ck_assert_int_eq(st.st_ino, stats[i].st_ino);
	}
	{
		char *p = tl_path(fdir, IMAPMRK_NAME);
		size_t len;
		char *now = tl_read_file(p, &len);
		ck_assert_uint_eq(len, mrk_len);
		ck_assert(memcmp(now, mrk_before, len) == 0);
		free(now);
		free(p);
	}
	ck_assert_uint_eq(tl_count_prefix(fdir, HW_TMP_PREFIX), 0);
}

static struct defrag_folder measure(void)
{
	struct defrag_folder f;
	struct hw_error err;

	defrag_folder_init(&f);
	ck_assert_msg(defrag_folder_measure(dirfd_, FOLDER, true, &f, &err) == 1, "%s", err.msg);
	return f;
}

START_TEST(test_measure_agrees_with_filefrag)
{
	struct defrag_folder f = measure();

	ck_assert_uint_eq(f.nfiles, NFILES);
	ck_assert(f.uid_order);
	/* UID order is the reverse of name order here */
	ck_assert_str_eq(f.files[0].name, names[NFILES - 1]);
	ck_assert_uint_eq(f.files[0].uid, 1);
	for (size_t i = 0; i < f.nfiles; i++) {
		char *cmd = hw_asprintf("filefrag -v '%s/%s'", fdir, f.files[i].name);
		FILE *p = popen(cmd, "r");
		char line[512];
		long found = -1, rows = 0;
		ck_assert_ptr_nonnull(p);
		while (fgets(line, sizeof(line), p) != NULL) {
			char *x = strstr(line, " extents found");
			long k;
			if (x != NULL) {
				while (x > line && x[-1] >= '0' && x[-1] <= '9')
					x--;
				found = strtol(x, NULL, 10);
			} else if (sscanf(line, " %ld:", &k) == 1) {
				rows++;
			}
		}
		ck_assert_int_eq(pclose(p), 0);
		/* filefrag's "N extents found" counts physical breaks: our
		   fragments; its table lists FIEMAP's extents: ours */
		ck_assert_msg(found == (long)f.files[i].fragments, "%s: filefrag %ld, we %zu",
			      f.files[i].name, found, f.files[i].fragments);
		ck_assert_int_eq(rows, (long)f.files[i].extents);
		ck_assert_uint_ge(f.files[i].fragments, 2);
		free(cmd);
	}
	ck_assert(f.frag_per_file > DEFRAG_WORTH_DEFRAG);
	ck_assert_int_eq(f.verdict, DEFRAG_VERDICT_DEFRAG);
	defrag_folder_release(&f);
}
END_TEST

START_TEST(test_order_without_imapmrk)
{
	char **v;
	uint32_t *uids;
	size_t n;
	struct hw_error err;

	ck_assert_int_eq(unlinkat(dirfd_, IMAPMRK_NAME, 0), 0);
	ck_assert_int_eq(defrag_folder_order(dirfd_, FOLDER, &v, &uids, &n, &err), 0);
	ck_assert(strstr(err.msg, "file-name order") != NULL);
	ck_assert_uint_eq(n, NFILES);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(v[i], names[i]);
		ck_assert_uint_eq(uids[i], 0);
		free(v[i]);
	}
	free(v);
	free(uids);
	/* garbage IMAP.MRK: also file-name order, with the reason */
	tl_write_file(fdir, IMAPMRK_NAME, "garbage", 7, 0644);
	ck_assert_int_eq(defrag_folder_order(dirfd_, FOLDER, &v, &uids, &n, &err), 0);
	ck_assert(strstr(err.msg, "unreadable") != NULL);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	free(uids);
}
END_TEST

static void run(struct defrag_opts *o, struct defrag_stats *s)
{
	struct hw_error err;

	hw_error_clear(&err);
	ck_assert_msg(defrag_folder_run(dirfd_, FOLDER, o, s, &err) == 1, "%s", err.msg);
}

START_TEST(test_defrag_move_ext)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	struct defrag_folder f = measure();
	size_t frags = f.fragments;

	defrag_folder_release(&f);
	o.reserve = 0;
	run(&o, &s);
	ck_assert_uint_eq(s.files, NFILES);
	ck_assert_uint_eq(s.rewritten, NFILES);
	ck_assert_uint_eq(s.outcome[DEFRAG_SKIP_ERROR], 0);
	ck_assert_uint_eq(s.frags_before, frags);
	ck_assert_uint_ge(frags, NFILES * 2);
	/* EXT4_IOC_MOVE_EXT: the inode stays */
	assert_folder_intact(s.moved_in_place == NFILES);
	f = measure();
	ck_assert_msg(f.frag_per_file <= 1.05, "%.2f fragments per file after", f.frag_per_file);
	defrag_folder_release(&f);
	/* second run: nothing left to do */
	defrag_stats_release(&s);
	memset(&s, 0, sizeof(s));
	run(&o, &s);
	ck_assert_uint_eq(s.rewritten, 0);
	ck_assert_uint_eq(s.outcome[DEFRAG_SKIP_CONTIGUOUS], NFILES);
	defrag_stats_release(&s);
}
END_TEST

START_TEST(test_defrag_rename_path)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	bool xattr_ok;
	int fd = openat(dirfd_, names[3], O_RDONLY);
	char val[16] = "";

	ck_assert_int_ge(fd, 0);
	xattr_ok = fsetxattr(fd, "user.hiwater-test", "kept", 4, 0) == 0;
	close(fd);
	/* the xattr changed ctime, not mtime: take the stat again */
	ck_assert_int_eq(fstatat(dirfd_, names[3], &stats[3], 0), 0);
	o.reserve = 0;
	o.no_move_ext = true;
	run(&o, &s);
	ck_assert_uint_eq(s.rewritten, NFILES);
	ck_assert_uint_eq(s.moved_in_place, 0);
	assert_folder_intact(false);
	if (xattr_ok) {
		fd = openat(dirfd_, names[3], O_RDONLY);
		ck_assert_int_eq(fgetxattr(fd, "user.hiwater-test", val, sizeof(val)), 4);
		ck_assert(memcmp(val, "kept", 4) == 0);
		close(fd);
	}
	defrag_stats_release(&s);
}
END_TEST

START_TEST(test_relayout)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	struct defrag_folder before = measure(), after;

	o.reserve = 0;
	o.relayout = true;
	run(&o, &s);
	assert_folder_intact(s.moved_in_place == s.rewritten);
	after = measure();
	if (getenv("HW_TEST_DEBUG") != NULL)
		for (size_t i = 0; i < after.nfiles; i++)
			fprintf(stderr, "%s uid %u first %llu end %llu frags %zu\n", after.files[i].name,
				after.files[i].uid, (unsigned long long)after.files[i].first_phys / 4096,
				(unsigned long long)after.files[i].end_phys / 4096, after.files[i].fragments);
	ck_assert(after.uid_order);
	ck_assert_msg(after.layout_score > before.layout_score,
		      "layout score %.2f -> %.2f", before.layout_score, after.layout_score);
	/* one batch donor holds the folder: one run of disk, in UID order */
	ck_assert_msg(after.layout_score >= 0.9, "layout score after %.2f", after.layout_score);
	ck_assert(after.frag_per_file <= 1.05);
	ck_assert_uint_eq(s.pairs_after, after.pairs);
	defrag_folder_release(&before);
	defrag_stats_release(&s);
	/* a second relayout keeps what is in place: at most the files that
	   do not follow their predecessor are tried again, and the score does
	   not drop */
	memset(&s, 0, sizeof(s));
	run(&o, &s);
	ck_assert_uint_le(s.rewritten, after.pairs - after.adjacent);
	before = measure();
	ck_assert(before.layout_score >= after.layout_score);
	ck_assert_uint_eq(s.folders_laid_out, after.layout_score >= 0.95 ? 1 : 0);
	defrag_folder_release(&before);
	defrag_folder_release(&after);
	defrag_stats_release(&s);
}
END_TEST

static void touch_source(void *ctx, int dfd, const char *name)
{
	int *calls = ctx;

	/* a writer appends to the second file while we hold its donor */
	if (++*calls == 2) {
		int fd = openat(dfd, name, O_WRONLY | O_APPEND);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "late line\r\n", 11), 11);
		close(fd);
	}
}

struct seen {
	char name[32];
	enum defrag_skip what;
};
static struct seen seen[64];
static size_t nseen;

static void record(void *ctx, const char *relpath, const char *name, enum defrag_skip what,
		   const char *why, size_t fb, size_t fa, uint64_t size)
{
	(void)ctx; (void)relpath; (void)why; (void)fb; (void)fa; (void)size;
	if (nseen < 64) {
		hw_strlcpy(seen[nseen].name, name, sizeof(seen[nseen].name));
		seen[nseen++].what = what;
	}
}

static enum defrag_skip outcome_of(const char *name)
{
	for (size_t i = 0; i < nseen; i++)
		if (strcmp(seen[i].name, name) == 0)
			return seen[i].what;
	return DEFRAG_SKIP_MAX;
}

START_TEST(test_modified_during_defrag_is_skipped)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	int calls = 0;
	const char *victim = names[NFILES - 2];   /* UID 2: the second handled */
	char *p = tl_path(fdir, victim);
	size_t len;
	char *data;

	nseen = 0;
	o.reserve = 0;
	o.before_swap = touch_source;
	o.hook_ctx = &calls;
	o.report = record;
	run(&o, &s);
	ck_assert_uint_eq(s.outcome[DEFRAG_SKIP_CHANGED], 1);
	ck_assert_uint_eq(s.rewritten, NFILES - 1);
	ck_assert_int_eq(outcome_of(victim), DEFRAG_SKIP_CHANGED);
	/* the writer's bytes are there: never clobbered */
	data = tl_read_file(p, &len);
	ck_assert_uint_eq(len, BLOCKS * 4096 + 11);
	ck_assert(memcmp(data + len - 11, "late line\r\n", 11) == 0);
	ck_assert_uint_eq(tl_count_prefix(fdir, HW_TMP_PREFIX), 0);
	free(data);
	free(p);
	defrag_stats_release(&s);
}
END_TEST

START_TEST(test_hardlink_symlink_recent_locked)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	char *outside = tl_path(dir, "outside.msg");
	char *link2 = tl_path(dir, "other-link");
	char *lock;
	struct stat st_out;

	nseen = 0;
	/* a hard link to one file, a fresh write to another */
	{
		char *src = tl_path(fdir, names[0]);
		ck_assert_int_eq(link(src, link2), 0);
		free(src);
	}
	ck_assert_int_eq(utimensat(dirfd_, names[1], NULL, 0), 0);
	/* a symlink with a message name pointing out of the store */
	tl_write_file(dir, "outside.msg", "precious\n", 9, 0600);
	ck_assert_int_eq(stat(outside, &st_out), 0);
	ck_assert_int_eq(symlinkat(outside, dirfd_, "md50999999999.msg"), 0);
	o.reserve = 0;
	o.report = record;
	run(&o, &s);
	ck_assert_int_eq(outcome_of(names[0]), DEFRAG_SKIP_HARDLINK);
	ck_assert_int_eq(outcome_of(names[1]), DEFRAG_SKIP_RECENT);
	ck_assert_uint_eq(s.rewritten, NFILES - 2);
	{
		struct stat st;
		ck_assert_int_eq(lstat(outside, &st), 0);
		ck_assert_int_eq(st.st_ino, st_out.st_ino);
		ck_assert_int_eq(HW_TS_NS(st.st_mtim), HW_TS_NS(st_out.st_mtim));
		ck_assert_int_eq(fstatat(dirfd_, "md50999999999.msg", &st, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert(S_ISLNK(st.st_mode));
	}
	defrag_stats_release(&s);

	/* a writer holds the folder lock: every file is left */
	lock = tl_path(fdir, hw_folder_lock_name());
	tl_write_file(fdir, hw_folder_lock_name(), "MDaemon\r\n", 9, 0644);
	ck_assert_int_eq(unlink(link2), 0);
	ck_assert_int_eq(utimensat(dirfd_, names[1], (struct timespec[2]){ { 1000, 0 }, { 1000, 0 } },
				   0), 0);
	memset(&s, 0, sizeof(s));
	o.lock_timeout_ms = 20;
	run(&o, &s);
	ck_assert_uint_eq(s.rewritten, 0);
	ck_assert_uint_eq(s.outcome[DEFRAG_SKIP_LOCKED], 2);
	ck_assert(tl_exists(lock));
	ck_assert_uint_eq(tl_count_prefix(fdir, HW_TMP_PREFIX), 0);
	defrag_stats_release(&s);
	free(lock);
	free(outside);
	free(link2);
}
END_TEST

static void die_now(void *ctx, int dfd, const char *name)
{
	int *calls = ctx;

	(void)dfd; (void)name;
	if (++*calls == 3)
		kill(getpid(), SIGKILL);
}

START_TEST(test_kill_during_defrag)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	int calls = 0, status;
	size_t temps;
	pid_t pid;

	o.reserve = 0;
	o.before_swap = die_now;
	o.hook_ctx = &calls;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct hw_error err;
		defrag_folder_run(dirfd_, FOLDER, &o, &s, &err);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* donors are left over (the batch's); every message is intact */
	temps = tl_count_prefix(fdir, HW_TMP_PREFIX);
	ck_assert_uint_ge(temps, 1);
	o.before_swap = NULL;
	o.dry_run = true;
	run(&o, &s);   /* a dry run neither removes nor changes anything */
	ck_assert_uint_eq(tl_count_prefix(fdir, HW_TMP_PREFIX), temps);
	defrag_stats_release(&s);
	memset(&s, 0, sizeof(s));
	o.dry_run = false;
	run(&o, &s);
	/* the next run removed the leftovers (a stale lock of ours too) and
	   finished the job */
	ck_assert_uint_eq(s.rewritten, NFILES - 2);
	{
		char *lp = tl_path(fdir, hw_folder_lock_name());
		ck_assert(!tl_exists(lp));
		free(lp);
	}
	assert_folder_intact(s.moved_in_place == s.rewritten);
	defrag_stats_release(&s);
}
END_TEST

START_TEST(test_dry_run)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	struct defrag_folder f = measure();
	size_t frags = f.fragments;

	defrag_folder_release(&f);
	o.reserve = 0;
	o.dry_run = true;
	run(&o, &s);
	ck_assert_uint_eq(s.outcome[DEFRAG_DONE], NFILES);
	ck_assert_uint_eq(s.rewritten, 0);
	assert_folder_intact(true);
	f = measure();
	ck_assert_uint_eq(f.fragments, frags);
	defrag_folder_release(&f);
	defrag_stats_release(&s);
}
END_TEST

START_TEST(test_faults_keep_files)
{
	static const char *const faults[] = { "fsync:1:EIO", "write:1:ENOSPC", "fallocate:1:ENOSPC",
					      "rename:1:EIO" };
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct defrag_opts o = DEFRAG_OPTS_INIT;
		struct defrag_stats s = { 0 };
		setenv("HIWATER_FAULT", faults[i], 1);
		hw_io_fault_reset();
		o.reserve = 0;
		o.no_move_ext = true;   /* the rename path has every step */
		hw_diag_set_sink(NULL, NULL);
		run(&o, &s);
		ck_assert_msg(s.outcome[DEFRAG_SKIP_ERROR] == 1, "%s: %zu errors", faults[i],
			      s.outcome[DEFRAG_SKIP_ERROR]);
		unsetenv("HIWATER_FAULT");
		hw_io_fault_reset();
		assert_folder_intact(false);
		defrag_stats_release(&s);
	}
}
END_TEST

static void stop_after_three(void *ctx, const char *relpath, const char *name,
			     enum defrag_skip what, const char *why, size_t fb, size_t fa,
			     uint64_t size)
{
	struct defrag_opts *o = ctx;
	static int n;

	(void)relpath; (void)name; (void)what; (void)why; (void)fb; (void)fa; (void)size;
	if (++n == 3) {
		o->deadline = 1;   /* long past: the window is over */
		n = 0;
	}
}

START_TEST(test_budget_and_resume)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	struct hw_catalog *cat = NULL;
	struct hw_error err;
	char *folder = NULL, *after = NULL;

	o.reserve = 0;
	/* a window already closed: nothing is started */
	o.deadline = 1;
	run(&o, &s);
	ck_assert(s.stopped);
	ck_assert_uint_eq(s.rewritten, 0);
	ck_assert_ptr_null(s.stopped_after);
	ck_assert_uint_eq(tl_count_prefix(fdir, HW_TMP_PREFIX), 0);
	defrag_stats_release(&s);
	memset(&s, 0, sizeof(s));
	/* one file at a time (the batch path finishes what it has copied):
	   the window closes after the third */
	o.deadline = 0;
	o.no_move_ext = true;
	o.report = stop_after_three;
	o.report_ctx = &o;
	run(&o, &s);
	ck_assert(s.stopped);
	ck_assert_uint_eq(s.rewritten, 3);
	ck_assert_str_eq(s.stopped_folder, FOLDER);
	ck_assert_str_eq(s.stopped_after, names[NFILES - 3]);   /* UID 3 */
	/* kept in the catalog */
	ck_assert_msg(hw_catalog_open(dir, &cat, &err) == 1, "%s", err.msg);
	ck_assert_int_eq(defrag_resume_get(cat, false, &folder, &after, &err), 0);
	ck_assert_int_eq(defrag_resume_put(cat, false, s.stopped_folder, s.stopped_after, &err), 1);
	ck_assert_int_eq(defrag_resume_get(cat, true, &folder, &after, &err), 0);
	ck_assert_int_eq(defrag_resume_get(cat, false, &folder, &after, &err), 1);
	ck_assert_str_eq(folder, FOLDER);
	ck_assert_str_eq(after, names[NFILES - 3]);
	/* the next run starts after it */
	defrag_stats_release(&s);
	memset(&s, 0, sizeof(s));
	o.deadline = 0;
	o.report = NULL;
	o.resume_after = after;
	run(&o, &s);
	ck_assert(!s.stopped);
	ck_assert_uint_eq(s.files, NFILES - 3);
	ck_assert_uint_eq(s.rewritten, NFILES - 3);
	ck_assert_int_eq(defrag_resume_put(cat, false, NULL, NULL, &err), 1);
	free(folder);
	free(after);
	ck_assert_int_eq(defrag_resume_get(cat, false, &folder, &after, &err), 0);
	hw_catalog_free(&cat);
	assert_folder_intact(s.moved_in_place == s.rewritten);
	defrag_stats_release(&s);
}
END_TEST

START_TEST(test_map)
{
	struct defrag_folder f = measure();
	struct hw_error err;
	char *svg = tl_path(dir, "map.svg");
	char *data;
	size_t len;

	ck_assert_msg(defrag_map_write(svg, &f, 1, &err) == 1, "%s", err.msg);
	data = tl_read_file(svg, &len);
	ck_assert_ptr_nonnull(data);
	ck_assert(strncmp(data, "<?xml", 5) == 0 || strncmp(data, "<svg", 4) == 0);
	ck_assert(strstr(data, "</svg>") != NULL);
	ck_assert(strstr(data, FOLDER) != NULL);
	ck_assert(strstr(data, "fragmented") != NULL);
	ck_assert(strstr(data, names[0]) != NULL);   /* a tooltip per file */
	free(data);
	free(svg);
	defrag_folder_release(&f);
}
END_TEST

/* DEFRAG_FDS_PER_RUN is what cmd_defrag budgets per worker against the
   open-file limit: a run must never hold more, on either path (the rename
   path holds a donor's two descriptors, the temp's and ours, per file) */
static size_t fds_open(void)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;   /* the DIR's own */
}

START_TEST(test_fds_within_budget)
{
	enum { MANY = DEFRAG_BATCH_FILES + 4 };
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	struct hw_error err;
	struct rlimit rl;
	char block[4096];
	int64_t old = (int64_t)time(NULL) - 3600;
	int mfd;

	tl_mkdirs(dir, "store/example.com/many");
	{
		char *p = tl_path(dir, "store/example.com/many");
		mfd = open(p, O_RDONLY | O_DIRECTORY);
		free(p);
	}
	ck_assert_int_ge(mfd, 0);
	/* two 4 KiB appends per file, a round apart: two fragments each */
	for (int b = 0; b < 2; b++)
		for (int i = 0; i < MANY; i++) {
			char name[32];
			int fd;
			snprintf(name, sizeof(name), "md5%010d.msg", i + 1);
			fd = openat(mfd, name, O_WRONLY | O_CREAT | O_APPEND, 0640);
			ck_assert_int_ge(fd, 0);
			memset(block, 'a' + (i + b) % 26, sizeof(block));
			ck_assert_int_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
			ck_assert_int_eq(fsync(fd), 0);
			if (b == 1) {
				struct timespec ts[2] = { { (time_t)old, 0 }, { (time_t)old, 0 } };
				ck_assert_int_eq(futimens(fd, ts), 0);
			}
			close(fd);
		}
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = fds_open() + DEFRAG_FDS_PER_RUN;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	o.reserve = 0;
	o.no_move_ext = true;
	hw_error_clear(&err);
	ck_assert_msg(defrag_folder_run(mfd, "example.com/many", &o, &s, &err) == 1, "%s",
		      err.msg);
	ck_assert_uint_eq(s.files, MANY);
	ck_assert_uint_eq(s.outcome[DEFRAG_SKIP_ERROR], 0);
	ck_assert_uint_ge(s.rewritten, 1);
	defrag_stats_release(&s);
	close(mfd);
}
END_TEST

static Suite *defrag_suite(void)
{
	Suite *s = suite_create("defrag");
	TCase *tc = tcase_create("defrag");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_measure_agrees_with_filefrag);
	tcase_add_test(tc, test_order_without_imapmrk);
	tcase_add_test(tc, test_defrag_move_ext);
	tcase_add_test(tc, test_defrag_rename_path);
	tcase_add_test(tc, test_relayout);
	tcase_add_test(tc, test_modified_during_defrag_is_skipped);
	tcase_add_test(tc, test_hardlink_symlink_recent_locked);
	tcase_add_test(tc, test_kill_during_defrag);
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_faults_keep_files);
	tcase_add_test(tc, test_budget_and_resume);
	tcase_add_test(tc, test_map);
	tcase_add_test(tc, test_fds_within_budget);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(defrag_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
