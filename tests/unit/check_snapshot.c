/* check_snapshot.c - the snapshot library: create, coverage (purge's
   question), and a forged repository whose pack holds '..', absolute and
   symlink members: restore refuses it and writes nothing outside the target */
#include <check.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../snapshot/snap-int.h"
#include "hw.h"
#include "testlib.h"

static char *dir;

static void setup(void)
{
	dir = tl_tmpdir();
}

static void teardown(void)
{
	tl_rmtree(dir);
	free(dir);
}

static struct snap_repo *make_snapshot(struct hw_store **st_r)
{
	struct hw_error err;
	struct snap_repo *r;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");

	tl_mkdirs(dir, "store/ex.com/bob");
	tl_mkdirs(dir, "repo");
	tl_write_file(store, "ex.com/bob/md50000000001.msg", "Subject: x\n\nhello\n", 18, 0644);
	tl_write_file(store, "ex.com/bob/md50000000002.msg", "Subject: y\n\nworld\n", 18, 0644);
	ck_assert_int_eq(hw_store_open(store, st_r, &err), 1);
	ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
	ck_assert_int_eq(snap_create(r, *st_r, &o, &res, &err), 1);
	ck_assert_int_eq(res.id, 1);
	ck_assert_uint_eq(res.messages, 2);
	ck_assert_uint_eq(res.files_added, 2);
	{
		/* the first snapshot ran in rollback-journal mode: WAL is back */
		sqlite3_stmt *s;
		ck_assert_int_eq(sqlite3_prepare_v2(hw_catalog_db(snap_repo_catalog(r)),
						    "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
	}
	free(store);
	free(repo);
	return r;
}

START_TEST(test_covered)
{
	struct hw_store *st;
	struct snap_repo *r = make_snapshot(&st);
	struct hw_error err;
	struct hw_hash h;
	struct snap_cover q[3] = {
		{ .folder = "ex.com/bob", .file = "md50000000001.msg", .size = 18 },
		{ .folder = "ex.com/bob", .file = "md50000000002.msg", .size = 18, .hash = h.b },
		{ .folder = "ex.com/bob", .file = "md50000000003.msg", .size = 18 },
	};

	hw_hash_buf("Subject: y\n\nworld\n", 18, &h);
	ck_assert_int_eq(snap_covered(r, q, 3, &err), 2);
	ck_assert(q[0].covered_r && q[1].covered_r && !q[2].covered_r);
	ck_assert_int_eq(q[0].snapshot_r, 1);
	/* a different content under the same name is not covered */
	h.b[0] ^= 1;
	ck_assert_int_eq(snap_covered(r, q + 1, 1, &err), 0);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

START_TEST(test_forged_pack_refused)
{
	struct hw_store *st;
	struct snap_repo *r = make_snapshot(&st);
	struct hw_error err;
	char *cmd, *pack, *out, *victim;
	const char *name = "pack-00000000deadbeef.tar.zst";
	struct stat sb;
	size_t len;

	/* a pack made by hand: '../' and absolute names, a symlink */
	victim = tl_path(dir, "victim");
	cmd = hw_asprintf("cd '%s' && mkdir -p src/ex.com/bob && echo evil > src/ex.com/bob/f && "
			  "echo evil > src/ex.com/bob/g && "
			  "ln -s /etc src/ex.com/bob/md50000000009.msg && "
			  "bsdtar --zstd -cf repo/packs/%s -C src -P "
			  "-s ',^ex.com/bob/f$,../../victim,' -s ',^ex.com/bob/g$,%s,' "
			  "ex.com/bob/md50000000009.msg ex.com/bob/g ex.com/bob/f && "
			  "bsdtar -tvf repo/packs/%s >&2",
			  dir, name, victim, name);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	pack = tl_path(dir, "repo/packs/pack-00000000deadbeef.tar.zst");
	char *data = tl_read_file(pack, &len);
	struct hw_hash csum, h;
	hw_hash_buf(data, len, &csum);
	free(data);
	hw_hash_buf("evil\n", 5, &h);
	/* ... and a catalog that points at it, with a correct checksum */
	sqlite3 *db = hw_catalog_db(snap_repo_catalog(r));
	sqlite3_stmt *s;
	char *sql = hw_asprintf(
		"INSERT INTO snap_pack(id, name, size, created) VALUES (99, '%s', %zu, 0);"
		"INSERT INTO snap_segment(id, pack_id, offset, clen, ulen, members, csum)"
		" VALUES (99, 99, 0, %zu, 0, 3, x'00');"
		"INSERT INTO snap_path(id, relpath) VALUES (99, 'ex.com/eve');"
		"INSERT INTO snap_fver(id, path_id, dir_mtime_ns, dir_entries, dir_ino, files,"
		" messages, bytes) VALUES (99, 99, 0, 0, 0, 3, 3, 15);"
		"INSERT INTO snap_file(id, path_id, name, kind, hash, size, mtime_ns, ino)"
		" VALUES (99, 99, 'md50000000001.msg', 1, x'00', 5, 0, 0);"
		"INSERT INTO snap_member VALUES (99, 99, 1, 0);"
		"INSERT INTO snap_sfolder VALUES (1, 99);", name, len, len);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE snap_segment SET csum = ? WHERE id = 99",
					    -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, csum.b, 16, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE snap_file SET hash = ? WHERE id = 99;",
					    -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, h.b, 16, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	/* each hostile member name in turn is what the catalog asks for */
	const char *members[] = { "../../victim", victim, "ex.com/bob/md50000000009.msg" };
	tl_mkdirs(dir, "out");
	out = tl_path(dir, "out/deep");
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO snap_blob"
						    "(hash, segment_id, member, size) VALUES (?, 99, ?, 5)", -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, h.b, 16, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, members[k], -1, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		char *path = "ex.com/eve";
		struct snap_restore_opts o = { .to_dir = out, .paths = &path, .npaths = 1 };
		unsigned long before = hw_diag_count(HW_DIAG_ERROR);
		ck_assert_int_eq(snap_restore(r, NULL, &o, NULL, NULL, &err), 0);
		ck_assert_uint_gt(hw_diag_count(HW_DIAG_ERROR), before);
		ck_assert(!tl_exists(victim));
		ck_assert(lstat("/victim", &sb) != 0);
		char *got = tl_path(out, "ex.com/eve/md50000000001.msg");
		ck_assert(!tl_exists(got));
		free(got);
		/* into the live store: refused the same way */
		struct snap_restore_opts o2 = { .paths = &path, .npaths = 1 };
		before = hw_diag_count(HW_DIAG_ERROR);
		ck_assert_int_eq(snap_restore(r, st, &o2, NULL, NULL, &err), 0);
		ck_assert_uint_gt(hw_diag_count(HW_DIAG_ERROR), before);
		char *live = tl_path(dir, "store/ex.com/eve/md50000000001.msg");
		ck_assert(!tl_exists(live));
		free(live);
	}
	ck_assert_uint_gt(hw_diag_count(HW_DIAG_ERROR), 0);
	/* the good snapshot still restores */
	char *good = "ex.com/bob";
	struct snap_restore_opts o3 = { .to_dir = out, .paths = &good, .npaths = 1, .snapshot = 1 };
	ck_assert_int_ge(snap_restore(r, NULL, &o3, NULL, NULL, &err), 1);
	char *g = tl_path(out, "ex.com/bob/md50000000002.msg");
	size_t glen;
	char *gd = tl_read_file(g, &glen);
	ck_assert_ptr_nonnull(gd);
	ck_assert_uint_eq(glen, 18);
	free(gd);
	free(g);
	free(out);
	free(pack);
	free(victim);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

static int count_row(void *ctx, const struct snap_find_row *row)
{
	int *n = ctx;

	ck_assert_str_eq(row->file, "md50000000003.msg");
	(*n)++;
	return 0;
}

/* A repository written with catalog schema 2 (Message-ID index over the
   text, no msgid_h) opens as schema 3: the hash column is filled and find
   and restore by Message-ID work in both forms */
START_TEST(test_migrate_v2)
{
	struct hw_store *st;
	struct hw_error err;
	struct snap_repo *r;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");
	char *cat = tl_path(dir, "repo/catalog.db");
	sqlite3 *db;
	int n;

	tl_mkdirs(dir, "store/ex.com/bob");
	tl_mkdirs(dir, "repo");
	tl_write_file(store, "ex.com/bob/md50000000003.msg",
		      "Message-ID: <m3@ex.com>\nSubject: z\n\nthree\n", 42, 0644);
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	snap_repo_free(&r);
	/* back to schema 2 */
	ck_assert_int_eq(sqlite3_open(cat, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "DROP INDEX snap_file_msgid_h;"
				      "ALTER TABLE snap_file DROP COLUMN msgid_h;"
				      "CREATE INDEX snap_file_msgid ON snap_file(message_id)"
				      " WHERE message_id IS NOT NULL;"
				      "UPDATE snap_blob SET member = (SELECT p.relpath || '/' || f.name"
				      " FROM snap_file f JOIN snap_path p ON p.id = f.path_id"
				      " WHERE f.id = snap_blob.file_id) WHERE member = '';"
				      "ALTER TABLE snap_blob DROP COLUMN file_id;"
				      "UPDATE schema_version SET version = 2 WHERE module = 'snapshot'",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(snap_repo_open(repo, false, &r, &err), 1);
	{
		sqlite3_stmt *s;
		ck_assert_int_eq(sqlite3_prepare_v2(hw_catalog_db(snap_repo_catalog(r)),
						    "SELECT (SELECT version FROM schema_version WHERE"
						    " module = 'snapshot'), count(msgid_h) FROM snap_file",
						    -1, &s, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(s, 0), 3);
		ck_assert_int_eq(sqlite3_column_int(s, 1), 1);
		sqlite3_finalize(s);
	}
	for (int form = 0; form < 2; form++) {
		struct snap_find_query q = { .message_id = form ? "m3@ex.com" : "<m3@ex.com>" };
		n = 0;
		ck_assert_int_eq(snap_find(r, &q, count_row, &n, &err), 1);
		ck_assert_int_eq(n, 1);
	}
	{
		struct snap_find_query q = { .message_id = "m4@ex.com" };
		n = 0;
		ck_assert_int_eq(snap_find(r, &q, count_row, &n, &err), 0);
	}
	{
		/* restored from a blob row written with its member name as text */
		char *ids[] = { "m3@ex.com" };
		char *out = tl_path(dir, "out");
		struct snap_restore_opts ro = { .to_dir = out, .message_ids = ids,
						.nmessage_ids = 1 };
		size_t len;
		char *got;
		ck_assert_int_eq(snap_restore(r, NULL, &ro, NULL, NULL, &err), 1);
		char *file = tl_path(dir, "out/ex.com/bob/md50000000003.msg");
		got = tl_read_file(file, &len);
		ck_assert_uint_eq(len, 42);
		free(got);
		free(file);
		free(out);
	}
	snap_repo_free(&r);
	hw_store_free(&st);
	free(store);
	free(repo);
	free(cat);
}
END_TEST

START_TEST(test_parse_time)
{
	int64_t t;

	ck_assert_int_eq(snap_parse_time("@1700000000", 0, &t), 1);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(snap_parse_time("2023-11-14T22:13:20Z", 0, &t), 1);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(snap_parse_time("2d", 1000000, &t), 1);
	ck_assert_int_eq(t, 1000000 - 2 * 86400);
	ck_assert_int_eq(snap_parse_time("yesterday", 0, &t), 0);
	ck_assert_int_eq(snap_parse_time("2023-13-45", 0, &t), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("snapshot");
	SRunner *sr;
	int failed;

	setlocale(LC_CTYPE, "C.UTF-8");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_covered);
	tcase_add_test(tc, test_forged_pack_refused);
	tcase_add_test(tc, test_migrate_v2);
	tcase_add_test(tc, test_parse_time);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
