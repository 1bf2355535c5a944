/* check_policy_purge.c - purge selection: by arrival date from the index
   (never mtime), in the folders the rules name only, max_messages, the
   catalog fallback, and folders without an index skipped */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "hw.h"
#include "testlib.h"
#include "../../policy/policy.h"

#define NOW ((time_t)1800000000)
#define DAY 86400

static char *dir;
static struct hw_store *st;

static void setup(void)
{
	struct hw_error err;
	char *store;

	dir = tl_tmpdir();
	tl_mkdirs(dir, "store");
	store = tl_path(dir, "store");
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	free(store);
}

static void teardown(void)
{
	hw_store_free(&st);
	tl_rmtree(dir);
	free(dir);
	dir = NULL;
}

struct m {
	const char *name;
	int age_days;        /* arrival: NOW - age_days; -1: no record in IMAP.MRK */
	int mtime_age_days;  /* the file's mtime, deliberately unrelated */
};

/* a folder with message files and an IMAP.MRK giving their arrival dates */
static void folder(const char *rel, const struct m *v, size_t n, bool with_mrk)
{
	struct imapmrk mrk;
	struct hw_error err;
	int fd;

	tl_mkdirs(dir, "store");
	imapmrk_init(&mrk);
	imapmrk_header_new(&mrk.hdr, 1234);
	for (size_t i = 0; i < n; i++) {
		char *path = hw_asprintf("store/%s/%s", rel, v[i].name);
		char *full = tl_path(dir, path);
		struct timespec ts[2];
		tl_write_file(dir, path, "Subject: x\r\n\r\nbody\r\n", 20, 0644);
		ts[0].tv_sec = ts[1].tv_sec = NOW - (time_t)v[i].mtime_age_days * DAY;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		ck_assert_int_eq(utimensat(AT_FDCWD, full, ts, 0), 0);
		if (v[i].age_days >= 0) {
			struct imapmrk_record *r = imapmrk_append(&mrk);
			ck_assert(imapmrk_record_set_name(r, v[i].name));
			r->uid = mrk.hdr.uidnext++;
			r->size = 20;
			r->date = (int32_t)(NOW - (time_t)v[i].age_days * DAY);
		}
		free(path);
		free(full);
	}
	if (with_mrk) {
		char *path = hw_asprintf("store/%s", rel);
		tl_mkdirs(dir, path);
		fd = hw_store_open_folder(st, rel, &err);
		ck_assert_msg(fd >= 0, "%s", err.msg);
		ck_assert_msg(imapmrk_write(fd, rel, &mrk, &err) == 1, "%s", err.msg);
		close(fd);
		free(path);
	}
	imapmrk_release(&mrk);
}

static struct hw_policy *policy(const char *text)
{
	struct hw_policy *pol;
	struct hw_error err;

	ck_assert_msg(hw_policy_load_buffer("p.yaml", text, strlen(text), &pol, &err) == 1, "%s",
		      err.msg);
	return pol;
}

static const struct hw_purge_folder *plan_folder(const struct hw_purge_plan *p, const char *rel)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].relpath, rel) == 0)
			return &p->v[i];
	return NULL;
}

static bool selected(const struct hw_purge_folder *f, const char *file)
{
	for (size_t i = 0; f != NULL && i < f->n; i++)
		if (strcmp(f->v[i].file, file) == 0)
			return true;
	return false;
}

START_TEST(test_age_by_arrival_not_mtime)
{
	static const struct m del[] = {
		{ "md50000000001.msg", 40, 0 },    /* old arrival, fresh mtime (a migration): goes */
		{ "md50000000002.msg", 10, 400 },  /* new arrival, ancient mtime: stays */
		{ "md50000000003.msg", 31, 31 },   /* goes */
		{ "md50000000004.msg", 29, 100 },  /* stays */
		{ "md50000000005.msg", -1, 500 },  /* no index record: unknown, stays */
	};
	static const struct m inbox[] = {
		{ "md50000000001.msg", 400, 400 }, /* old, but no rule for the Inbox */
	};
	struct hw_policy *pol = policy("defaults:\n  purge:\n"
				       "    - {folder: Deleted Items, older_than: 30d}\n");
	struct hw_purge_plan p;
	struct hw_error err;
	const struct hw_purge_folder *f;
	char reason[128];

	folder("a.example/bob/Deleted Items.IMAP", del, 5, true);
	folder("a.example/bob", inbox, 1, true);
	tl_write_file(dir, "store/a.example/bob/Deleted Items.IMAP/notes.txt", "x", 1, 0644);
	hw_purge_plan_init(&p);
	ck_assert_int_eq(hw_purge_plan_build(pol, st, NULL, NULL, 0, NOW, &p, &err), 1);
	ck_assert_uint_eq(p.n, 1);   /* only the folder a rule names */
	f = plan_folder(&p, "a.example/bob/Deleted Items.IMAP");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->date_source, "IMAP.MRK");
	ck_assert_uint_eq(f->messages, 5);
	ck_assert_uint_eq(f->n, 2);
	/* oldest first */
	ck_assert_str_eq(f->v[0].file, "md50000000001.msg");
	ck_assert_str_eq(f->v[1].file, "md50000000003.msg");
	ck_assert(f->v[0].by_age);
	ck_assert_int_eq(f->v[0].date, NOW - 40 * DAY);
	ck_assert_uint_eq(f->v[0].uid, 1);
	ck_assert_uint_eq(p.messages, 2);
	ck_assert_uint_eq(p.bytes, 40);
	hw_purge_folder_reason(f, reason, sizeof(reason));
	ck_assert_str_eq(reason, "2 messages older than 30d");
	ck_assert_ptr_null(plan_folder(&p, "a.example/bob"));
	hw_purge_plan_release(&p);
	hw_policy_free(&pol);
}
END_TEST

START_TEST(test_overrides_globs_and_cap)
{
	static const struct m junk[] = {
		{ "md50000000001.msg", 1, 0 },
		{ "md50000000002.msg", 2, 0 },
		{ "md50000000003.msg", 3, 0 },
		{ "md50000000004.msg", 20, 0 },
		{ "md50000000005.msg", -1, 0 },   /* unknown date: kept, takes a slot */
	};
	struct hw_policy *pol = policy(
		"defaults:\n  purge:\n"
		"    - {folder: \"Junk*\", older_than: 14d, max_messages: 3}\n"
		"mailboxes:\n  eve@a.example:\n    purge: none\n"
		"  joe@b.example:\n    purge:\n      - {folder: \"Junk*\", older_than: 2d}\n");
	struct hw_purge_plan p;
	struct hw_error err;
	const struct hw_purge_folder *f;
	char reason[128];

	folder("a.example/bob/Junk E-mail.IMAP", junk, 5, true);
	folder("a.example/eve/Junk E-mail.IMAP", junk, 5, true);
	folder("b.example/joe/Junk E-mail.IMAP", junk, 5, true);
	hw_purge_plan_init(&p);
	ck_assert_int_eq(hw_purge_plan_build(pol, st, NULL, NULL, 0, NOW, &p, &err), 1);
	/* bob: 20 days old goes by age; the cap of 3 keeps the unknown one and
	   the two newest dated ones, so the 3-day-old goes by the cap */
	f = plan_folder(&p, "a.example/bob/Junk E-mail.IMAP");
	ck_assert_uint_eq(f->n, 2);
	ck_assert_str_eq(f->v[0].file, "md50000000004.msg");
	ck_assert(f->v[0].by_age);
	ck_assert_str_eq(f->v[1].file, "md50000000003.msg");
	ck_assert(!f->v[1].by_age);
	hw_purge_folder_reason(f, reason, sizeof(reason));
	ck_assert_str_eq(reason, "1 message older than 14d and 1 message beyond the newest 3");
	/* eve: purge: none */
	ck_assert_ptr_null(plan_folder(&p, "a.example/eve/Junk E-mail.IMAP"));
	/* joe: his own rule, no cap: older than 2 days */
	f = plan_folder(&p, "b.example/joe/Junk E-mail.IMAP");
	ck_assert_uint_eq(f->n, 2);
	ck_assert(selected(f, "md50000000003.msg"));
	ck_assert(selected(f, "md50000000004.msg"));
	ck_assert(!selected(f, "md50000000002.msg"));
	hw_purge_plan_release(&p);

	/* FOLDER arguments restrict the run */
	{
		char *args[] = { "b.example/joe" };
		hw_purge_plan_init(&p);
		ck_assert_int_eq(hw_purge_plan_build(pol, st, NULL, args, 1, NOW, &p, &err), 1);
		ck_assert_uint_eq(p.n, 1);
		ck_assert_str_eq(p.v[0].relpath, "b.example/joe/Junk E-mail.IMAP");
		hw_purge_plan_release(&p);
	}
	hw_policy_free(&pol);
}
END_TEST

START_TEST(test_no_index_and_catalog_fallback)
{
	static const struct m del[] = {
		{ "md50000000001.msg", 40, 0 },
		{ "md50000000002.msg", 5, 400 },
	};
	struct hw_policy *pol = policy("defaults:\n  purge:\n"
				       "    - {folder: Deleted Items, older_than: 30d}\n");
	struct hw_cat_folder cf = { 0 };
	struct hw_cat_message cm[2];
	struct hw_purge_plan p;
	struct hw_catalog *cat;
	struct hw_error err;
	char *state;
	const struct hw_purge_folder *f;

	/* files but no IMAP.MRK and no catalog: skipped, never dated by mtime */
	folder("a.example/bob/Deleted Items.IMAP", del, 2, false);
	hw_purge_plan_init(&p);
	ck_assert_int_eq(hw_purge_plan_build(pol, st, NULL, NULL, 0, NOW, &p, &err), 1);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_uint_eq(p.messages, 0);
	ck_assert_uint_eq(p.folders_no_index, 1);
	hw_purge_plan_release(&p);

	/* the catalog knows the arrival dates */
	tl_mkdirs(dir, "state");
	state = tl_path(dir, "state");
	ck_assert_int_eq(hw_catalog_open(state, &cat, &err), 1);
	cf.relpath = hw_strdup("a.example/bob/Deleted Items.IMAP");
	ck_assert_int_eq(hw_catalog_folder_put(cat, &cf, &err), 1);
	memset(cm, 0, sizeof(cm));
	cm[0].file = "md50000000001.msg";
	cm[0].uid = 7;
	cm[0].date = NOW - 40 * DAY;
	cm[0].size = 20;
	cm[1].file = "md50000000002.msg";
	cm[1].uid = 8;
	cm[1].date = NOW - 5 * DAY;
	cm[1].size = 20;
	ck_assert_int_eq(hw_catalog_begin(cat, &err), 1);
	ck_assert_msg(hw_catalog_messages_put(cat, cf.id, cm, 2, &err) == 1, "%s", err.msg);
	ck_assert_int_eq(hw_catalog_commit(cat, &err), 1);
	hw_purge_plan_init(&p);
	ck_assert_int_eq(hw_purge_plan_build(pol, st, cat, NULL, 0, NOW, &p, &err), 1);
	f = plan_folder(&p, "a.example/bob/Deleted Items.IMAP");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->date_source, "catalog");
	ck_assert_uint_eq(f->n, 1);
	ck_assert_str_eq(f->v[0].file, "md50000000001.msg");
	ck_assert_uint_eq(f->v[0].uid, 7);
	ck_assert_uint_eq(p.folders_no_index, 0);
	hw_purge_plan_release(&p);
	hw_cat_folder_release(&cf);
	hw_catalog_free(&cat);
	free(state);
	hw_policy_free(&pol);
}
END_TEST

static Suite *purge_suite(void)
{
	Suite *s = suite_create("policy_purge");
	TCase *tc = tcase_create("select");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_age_by_arrival_not_mtime);
	tcase_add_test(tc, test_overrides_globs_and_cap);
	tcase_add_test(tc, test_no_index_and_catalog_fallback);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(purge_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
