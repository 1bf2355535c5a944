/* check_defrag_relayout.c - defrag --relayout on folders not made by
   bench/mkstore (as the reliability harness met them): files of very
   different sizes, a tiny file, an empty file, UID order (IMAP.MRK) not name
   order, some already in place. One pass settles the folder; a second and a
   third pass rewrite nothing, and every file is intact throughout. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>

#include "../../defrag/defrag.h"
#include "atomic.h"
#include "hash.h"
#include "imapmrk.h"
#include "io.h"
#include "util.h"
#include "testlib.h"

#define FOLDER "example.com/eve"
#define MAXF 32

static char *dir, *fdir;
static int dirfd_ = -1;
static size_t nfiles;
static char *names[MAXF];
static struct hw_hash hashes[MAXF];
static struct stat stats[MAXF];

static void fill(char *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t k = 0; k < len; k++) {
		x = x * 1103515245u + 12345u;
		buf[k] = (char)(x >> 16);
	}
}

/* The folder: file i (name order) has sizes[i] bytes and UID uids[i]
   (IMAP.MRK lists them by UID). Files are written whole, one after
   another in name order, except those with frag[i], which are grown 4 KiB
   at a time in turn (a busy server's files). */
static void make_folder(const size_t *sizes, const uint32_t *uids, const bool *frag, size_t n)
{
	struct imapmrk m;
	struct hw_error err;
	int64_t old = (int64_t)time(NULL) - 3600;
	size_t maxsz = 0, done[MAXF] = { 0 };
	char *buf;

	ck_assert_uint_le(n, MAXF);
	nfiles = n;
	tl_mkdirs(dir, "store/" FOLDER);
	fdir = tl_path(dir, "store/" FOLDER);
	dirfd_ = open(fdir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd_, 0);
	for (size_t i = 0; i < n; i++) {
		names[i] = hw_asprintf("md50%09zu.msg", i + 1);
		if (sizes[i] > maxsz)
			maxsz = sizes[i];
	}
	buf = hw_malloc(maxsz + 1);
	/* the whole ones first, in name order */
	for (size_t i = 0; i < n; i++) {
		int fd = openat(dirfd_, names[i], O_WRONLY | O_CREAT | O_TRUNC, 0640);
		ck_assert_int_ge(fd, 0);
		if (!frag[i] && sizes[i] > 0) {
			fill(buf, sizes[i], (unsigned)i);
			ck_assert_int_eq(write(fd, buf, sizes[i]), (ssize_t)sizes[i]);
			done[i] = sizes[i];
		}
		ck_assert_int_eq(fsync(fd), 0);
		close(fd);
	}
	/* then the fragmented ones, 4 KiB each in turn */
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < n; i++) {
			size_t len;
			int fd;
			if (!frag[i] || done[i] >= sizes[i])
				continue;
			len = sizes[i] - done[i] < 4096 ? sizes[i] - done[i] : 4096;
			fill(buf, sizes[i], (unsigned)i);
			fd = openat(dirfd_, names[i], O_WRONLY | O_APPEND);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(write(fd, buf + done[i], len), (ssize_t)len);
			ck_assert_int_eq(fsync(fd), 0);
			close(fd);
			done[i] += len;
			more = true;
		}
	}
	free(buf);
	imapmrk_init(&m);
	imapmrk_header_new(&m.hdr, 777);
	m.header_ok = true;
	for (uint32_t uid = 1; uid <= 2 * MAXF; uid++)
		for (size_t i = 0; i < n; i++) {
			struct imapmrk_record *r;
			if (uids[i] != uid)
				continue;
			r = imapmrk_append(&m);
			ck_assert(imapmrk_record_set_name(r, names[i]));
			r->uid = uid;
			r->size = (uint32_t)sizes[i];
			r->date = (int32_t)old;
			r->flags = IMAPMRK_FLAG_SEEN;
			m.hdr.uidnext = uid + 1;
		}
	ck_assert_msg(imapmrk_write(dirfd_, FOLDER, &m, &err) == 1, "%s", err.msg);
	imapmrk_release(&m);
	for (size_t i = 0; i < n; i++) {
		struct timespec ts[2];
		int fd;
		ts[0].tv_sec = ts[1].tv_sec = (time_t)(old + (int64_t)i);
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		ck_assert_int_eq(utimensat(dirfd_, names[i], ts, 0), 0);
		fd = openat(dirfd_, names[i], O_RDONLY);
		ck_assert_int_eq(hw_hash_fd(fd, names[i], &hashes[i], NULL, &err), 1);
		ck_assert_int_eq(fstat(fd, &stats[i]), 0);
		close(fd);
	}
}

static void setup(void)
{
	dir = tl_tmpdir();
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
}

static void teardown(void)
{
	if (dirfd_ >= 0)
		close(dirfd_);
	dirfd_ = -1;
	for (size_t i = 0; i < nfiles; i++) {
		free(names[i]);
		names[i] = NULL;
	}
	nfiles = 0;
	tl_rmtree(dir);
	free(dir);
	free(fdir);
	dir = fdir = NULL;
}

static void assert_intact(void)
{
	for (size_t i = 0; i < nfiles; i++)
		tl_assert_file_kept(dirfd_, names[i], hashes[i].b, &stats[i], NULL);
	ck_assert_uint_eq(tl_count_prefix(fdir, HW_TMP_PREFIX), 0);
}

struct seen {
	size_t rewritten;
	char names[8][32];
};

static void record(void *ctx, const char *relpath, const char *name, enum defrag_skip what,
		   const char *why, size_t fb, size_t fa, uint64_t size)
{
	struct seen *s = ctx;

	(void)relpath; (void)fb; (void)fa; (void)size;
	if (what == DEFRAG_DONE) {
		if (s->rewritten < 8)
			hw_strlcpy(s->names[s->rewritten], name, sizeof(s->names[0]));
		s->rewritten++;
	}
	if (getenv("HW_TEST_DEBUG") != NULL)
		fprintf(stderr, "  %s %s: %s\n", name, defrag_skip_name(what), why);
}

static void dump(const char *when)
{
	struct defrag_folder f;
	struct hw_error err;

	if (getenv("HW_TEST_DEBUG") == NULL)
		return;
	defrag_folder_init(&f);
	ck_assert_int_eq(defrag_folder_measure(dirfd_, FOLDER, false, &f, &err), 1);
	fprintf(stderr, "%s: layout %.2f, %zu of %zu pairs adjacent\n", when, f.layout_score,
		f.adjacent, f.pairs);
	for (size_t i = 0; i < f.nfiles; i++)
		fprintf(stderr, "  %s uid %u size %llu first %llu end %llu frags %zu%s\n",
			f.files[i].name, f.files[i].uid, (unsigned long long)f.files[i].size,
			(unsigned long long)f.files[i].first_phys / 4096,
			(unsigned long long)f.files[i].end_phys / 4096, f.files[i].fragments,
			f.files[i].unknown ? " (no location)" : "");
	defrag_folder_release(&f);
}

/* relayout passes until one rewrites nothing: the first must settle the
   folder, so the second rewrites nothing */
static void relayout_settles(void)
{
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct hw_error err;

	o.reserve = 0;
	o.relayout = true;
	o.quiet_secs = 0;
	dump("before");
	for (int pass = 1; pass <= 3; pass++) {
		struct defrag_stats s = { 0 };
		struct seen seen = { 0 };
		o.report = record;
		o.report_ctx = &seen;
		hw_error_clear(&err);
		ck_assert_msg(defrag_folder_run(dirfd_, FOLDER, &o, &s, &err) == 1, "%s", err.msg);
		dump(pass == 1 ? "after pass 1" : "after a later pass");
		assert_intact();
		ck_assert_uint_eq(s.outcome[DEFRAG_SKIP_ERROR], 0);
		ck_assert_uint_eq(s.files, nfiles);
		if (pass == 1) {
			ck_assert_msg(s.rewritten > 0, "the first pass found nothing to do: the "
				      "test proves nothing");
			ck_assert_msg(s.frags_after <= s.files_after + 1, "%zu fragments in %zu files",
				      s.frags_after, s.files_after);
		} else {
			ck_assert_msg(s.rewritten == 0, "pass %d rewrote %zu files (%s%s%s)", pass,
				      s.rewritten, seen.names[0], s.rewritten > 1 ? ", " : "",
				      s.rewritten > 1 ? seen.names[1] : "");
		}
		defrag_stats_release(&s);
	}
}

/* whole files in name order, UIDs shuffled, sizes from empty to 1 MiB */
START_TEST(test_shuffled_uids_mixed_sizes)
{
	static const size_t sizes[] = { 5000, 0, 1, 300, 200000, 12000, 70000, 1048583, 3000,
					40000, 65536, 65537, 150, 9000 };
	static const uint32_t uids[] = { 7, 3, 12, 1, 9, 14, 2, 5, 11, 4, 13, 6, 10, 8 };
	bool frag[14] = { false };

	make_folder(sizes, uids, frag, 14);
	relayout_settles();
}
END_TEST

/* the first nine in place and in UID order (a chain relayout keeps), the
   rest after them out of order: the pass moves only the rest, which land
   elsewhere; the next pass must not move them again */
START_TEST(test_kept_chain_then_tail)
{
	static const size_t sizes[] = { 6000, 8000, 3000, 12000, 5000, 7000, 9000, 4000, 11000,
					30000, 2000, 0, 90000 };
	static const uint32_t uids[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 13, 11 };
	bool frag[13] = { false };

	make_folder(sizes, uids, frag, 13);
	relayout_settles();
}
END_TEST

/* fragmented and whole files mixed, a tiny and an empty one among them */
START_TEST(test_fragmented_and_whole)
{
	static const size_t sizes[] = { 20000, 1, 16384, 0, 50000, 7000, 24576, 100, 33000,
					4096, 60000, 2500 };
	static const uint32_t uids[] = { 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11 };
	bool frag[12] = { true, false, true, false, true, false, true, false, true, false, true,
			  false };

	make_folder(sizes, uids, frag, 12);
	relayout_settles();
}
END_TEST

static Suite *relayout_suite(void)
{
	Suite *s = suite_create("defrag_relayout");
	TCase *tc = tcase_create("settles");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_shuffled_uids_mixed_sizes);
	tcase_add_test(tc, test_kept_chain_then_tail);
	tcase_add_test(tc, test_fragmented_and_whole);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(relayout_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
