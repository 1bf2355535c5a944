/* check_defrag_parallel.c - defrag_folder_run() in several threads at once,
   as cmd_defrag -j runs it: the free-space guard holds for them together.
   Needs a filesystem of its own (a loop-mounted ext4 image, so root): on
   the shared disk the free space moves with everything else. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <check.h>

#include "../../defrag/defrag.h"
#include "os.h"
#include "util.h"
#include "testlib.h"

#define NFOLDERS 2
#define NFILES 12
#define BLOCKS 16    /* 4 KiB appends per file: fragmented */

static char *dir, *mnt;
static bool mounted;

static void setup(void)
{
	char cmd[1024];

	dir = tl_tmpdir();
	mnt = tl_path(dir, "mnt");
	tl_mkdirs(dir, "mnt");
	mounted = false;
	if (geteuid() != 0)
		return;
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 64M '%s/img' && mkfs.ext4 -q -F '%s/img' >/dev/null 2>&1 && "
		 "mount -o loop '%s/img' '%s' 2>/dev/null",
		 dir, dir, dir, mnt);
	mounted = system(cmd) == 0;
}

static void teardown(void)
{
	if (mounted)
		ck_assert_int_eq(umount(mnt), 0);
	tl_rmtree(dir);
	free(dir);
	free(mnt);
}

static int make_folder(const char *rel)
{
	char block[4096];
	int64_t old = (int64_t)time(NULL) - 3600;
	char *p;
	int dfd;

	tl_mkdirs(mnt, rel);
	p = tl_path(mnt, rel);
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	free(p);
	ck_assert_int_ge(dfd, 0);
	for (int b = 0; b < BLOCKS; b++)
		for (int i = 0; i < NFILES; i++) {
			char name[32];
			int fd;
			snprintf(name, sizeof(name), "md5%010d.msg", i + 1);
			fd = openat(dfd, name, O_WRONLY | O_CREAT | O_APPEND, 0640);
			ck_assert_int_ge(fd, 0);
			memset(block, 'a' + (i + b) % 26, sizeof(block));
			ck_assert_int_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
			ck_assert_int_eq(fsync(fd), 0);
			if (b == BLOCKS - 1) {
				struct timespec ts[2] = { { (time_t)old, 0 }, { (time_t)old, 0 } };
				ck_assert_int_eq(futimens(fd, ts), 0);
			}
			close(fd);
		}
	return dfd;
}

/* the workers meet between the look at the free space and the allocation
   if they can: without a guard around the two, both find room for their
   donor before either allocates it */
struct meet {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int arrived;
	uint64_t min_free;      /* after a donor was allocated */
	size_t allocs;
};

static void alloc_hook(void *ctx, int dirfd, bool allocated)
{
	struct meet *m = ctx;
	struct hw_error err;
	uint64_t free_bytes = 0;

	if (allocated) {
		ck_assert_int_eq(hw_os_free_bytes(dirfd, &free_bytes, &err), 1);
		pthread_mutex_lock(&m->lock);
		if (free_bytes < m->min_free)
			m->min_free = free_bytes;
		m->allocs++;
		pthread_mutex_unlock(&m->lock);
		return;
	}
	pthread_mutex_lock(&m->lock);
	if (++m->arrived < NFOLDERS) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		while (m->arrived < NFOLDERS)
			if (pthread_cond_timedwait(&m->cond, &m->lock, &until) == ETIMEDOUT)
				break;
	} else {
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
}

struct worker {
	int dfd;
	char rel[32];
	const struct defrag_opts *o;
	struct defrag_stats s;
	int rc;
	struct hw_error err;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	hw_error_clear(&w->err);
	w->rc = defrag_folder_run(w->dfd, w->rel, w->o, &w->s, &w->err);
	return NULL;
}

START_TEST(test_reserve_holds_across_workers)
{
	struct meet m = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
			  .min_free = UINT64_MAX };
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct worker w[NFOLDERS];
	pthread_t t[NFOLDERS];
	struct hw_error err;
	uint64_t free_bytes = 0, batch = (uint64_t)NFILES * BLOCKS * 4096;

	if (!mounted) {
		fprintf(stderr, "check_defrag_parallel: no loop-mounted ext4 (needs root): skipped\n");
		return;
	}
	memset(w, 0, sizeof(w));
	for (int i = 0; i < NFOLDERS; i++) {
		snprintf(w[i].rel, sizeof(w[i].rel), "example.com/u%d", i);
		w[i].dfd = make_folder(w[i].rel);
		w[i].o = &o;
	}
	/* detached now, gone with the last descriptor: a failing test (which
	   skips the teardown) leaves no mount behind */
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	mounted = false;
	ck_assert_int_eq(hw_os_free_bytes(w[0].dfd, &free_bytes, &err), 1);
	/* room beyond the reserve for one folder's batch donor and a half */
	ck_assert_uint_gt(free_bytes, 3 * batch);
	o.reserve = free_bytes - batch - batch / 2;
	o.alloc_hook = alloc_hook;
	o.hook_ctx = &m;
	for (int i = 0; i < NFOLDERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	for (int i = 0; i < NFOLDERS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(w[i].rc == 1, "%s", w[i].err.msg);
		ck_assert_uint_eq(w[i].s.files, NFILES);
		ck_assert_uint_eq(w[i].s.outcome[DEFRAG_SKIP_ERROR], 0);
		defrag_stats_release(&w[i].s);
		close(w[i].dfd);
	}
	ck_assert_uint_ge(m.allocs, 1);
	ck_assert_msg(m.min_free >= o.reserve,
		      "a donor left %llu bytes free, under the %llu reserved",
		      (unsigned long long)m.min_free, (unsigned long long)o.reserve);
}
END_TEST

static Suite *defrag_parallel_suite(void)
{
	Suite *s = suite_create("defrag_parallel");
	TCase *tc = tcase_create("defrag_parallel");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reserve_holds_across_workers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(defrag_parallel_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
