/* check_policy_quota.c - quota usage: catalog when current, scan otherwise,
   biggest first, warn/limit states from the effective policy */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "hw.h"
#include "testlib.h"
#include "../../policy/policy.h"

static char *dir;

static void setup(void)
{
	dir = tl_tmpdir();
}

static void teardown(void)
{
	tl_rmtree(dir);
	free(dir);
	dir = NULL;
}

static void msg(const char *rel, size_t size)
{
	char *buf = hw_calloc(1, size + 1);

	memset(buf, 'x', size);
	tl_write_file(dir, rel, buf, size, 0644);
	free(buf);
}

static struct hw_policy *policy(const char *text)
{
	struct hw_policy *pol;
	struct hw_error err;

	ck_assert_msg(hw_policy_load_buffer("q.yaml", text, strlen(text), &pol, &err) == 1, "%s",
		      err.msg);
	return pol;
}

static const struct hw_quota_mailbox *find_mb(const struct hw_quota_report *r, const char *root)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].root, root) == 0)
			return &r->v[i];
	ck_abort_msg("no mailbox %s", root);
	return NULL;
}

START_TEST(test_scan_and_states)
{
	struct hw_policy *pol = policy("defaults: {quota: {warn: 1K, limit: 4K}}\n"
				       "mailboxes: {big@a.example: {quota: none}}\n");
	struct hw_quota_report r;
	struct hw_store *st;
	struct hw_error err;
	char *store = tl_path(dir, "store");

	msg("store/a.example/bob/md50000000001.msg", 500);
	msg("store/a.example/bob/Sent Items.IMAP/md50000000002.msg", 1000);
	msg("store/a.example/bob/IMAP.MRK", 36);            /* not a message: not counted */
	msg("store/a.example/eve/md50000000001.msg", 5000);
	msg("store/a.example/big/md50000000001.msg", 9000);
	msg("store/b.example/joe/md50000000001.msg", 10);
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	hw_quota_report_init(&r);
	ck_assert_int_eq(hw_quota_collect(pol, st, NULL, NULL, 0, &r, &err), 1);
	ck_assert_uint_eq(r.n, 4);
	/* biggest first */
	ck_assert_str_eq(r.v[0].root, "a.example/big");
	ck_assert_str_eq(r.v[1].root, "a.example/eve");
	ck_assert_str_eq(r.v[2].root, "a.example/bob");
	ck_assert_str_eq(r.v[3].root, "b.example/joe");
	ck_assert_int_eq(r.v[0].state, HW_QUOTA_OK);     /* quota: none */
	ck_assert_int_eq(r.v[1].state, HW_QUOTA_OVER);
	ck_assert_int_eq(r.v[2].state, HW_QUOTA_WARN);
	ck_assert_uint_eq(r.v[2].bytes, 1500);
	ck_assert_uint_eq(r.v[2].messages, 2);
	ck_assert_uint_eq(r.v[2].nfolders, 2);
	ck_assert_str_eq(r.v[2].folders[0].imapname, "Sent Items");   /* biggest folder first */
	ck_assert(r.v[2].folders[0].scanned);
	ck_assert_uint_eq(r.folders_scanned, 5);
	hw_quota_report_release(&r);

	/* a FOLDER argument limits the report */
	{
		char *args[] = { "a.example/bob/Sent Items.IMAP" };
		hw_quota_report_init(&r);
		ck_assert_int_eq(hw_quota_collect(pol, st, NULL, args, 1, &r, &err), 1);
		ck_assert_uint_eq(r.n, 1);
		ck_assert_uint_eq(r.v[0].bytes, 1000);
		hw_quota_report_release(&r);
	}
	hw_store_free(&st);
	hw_policy_free(&pol);
	free(store);
}
END_TEST

START_TEST(test_catalog_used_when_current)
{
	struct hw_cat_folder f = { 0 };
	struct hw_quota_report r;
	struct hw_catalog *cat;
	struct hw_store *st;
	struct hw_error err;
	struct stat sb;
	char *store = tl_path(dir, "store"), *state = tl_path(dir, "state");
	char *folder = tl_path(dir, "store/a.example/bob");

	msg("store/a.example/bob/md50000000001.msg", 700);
	tl_mkdirs(dir, "state");
	ck_assert_int_eq(stat(folder, &sb), 0);
	ck_assert_int_eq(hw_catalog_open(state, &cat, &err), 1);
	/* the catalog says something the disk does not: seeing it proves the
	   catalog answered, not a scan */
	f.relpath = hw_strdup("a.example/bob");
	f.dir_mtime_ns = HW_TS_NS(sb.st_mtim);
	f.dir_ino = (int64_t)sb.st_ino;
	f.dir_entries = 1;
	f.messages = 3;
	f.bytes = 123456;
	f.indexed_at = 1700000000;
	ck_assert_int_eq(hw_catalog_folder_put(cat, &f, &err), 1);
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	hw_quota_report_init(&r);
	ck_assert_int_eq(hw_quota_collect(NULL, st, cat, NULL, 0, &r, &err), 1);
	ck_assert_uint_eq(find_mb(&r, "a.example/bob")->bytes, 123456);
	ck_assert_uint_eq(r.folders_cataloged, 1);
	ck_assert_uint_eq(r.folders_scanned, 0);
	hw_quota_report_release(&r);

	/* a new message changes the directory: the catalog is stale, scan */
	msg("store/a.example/bob/md50000000002.msg", 300);
	{
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1, 0 } };
		/* make sure the mtime differs even on a coarse-clock filesystem */
		ck_assert_int_eq(utimensat(AT_FDCWD, folder, ts, 0), 0);
	}
	hw_quota_report_init(&r);
	ck_assert_int_eq(hw_quota_collect(NULL, st, cat, NULL, 0, &r, &err), 1);
	ck_assert_uint_eq(find_mb(&r, "a.example/bob")->bytes, 1000);
	ck_assert_uint_eq(r.folders_scanned, 1);
	hw_quota_report_release(&r);
	hw_cat_folder_release(&f);
	hw_catalog_free(&cat);
	hw_store_free(&st);
	free(store);
	free(state);
	free(folder);
}
END_TEST

static Suite *quota_suite(void)
{
	Suite *s = suite_create("policy_quota");
	TCase *tc = tcase_create("quota");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_scan_and_states);
	tcase_add_test(tc, test_catalog_used_when_current);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(quota_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
