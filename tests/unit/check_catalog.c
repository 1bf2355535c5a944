/* check_catalog.c - the SQLite state catalog (core/catalog.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>

#include "catalog.h"
#include "util.h"
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
	dir = NULL;
}

static struct hw_catalog *cat_open(void)
{
	struct hw_catalog *cat = NULL;
	struct hw_error err;

	hw_error_clear(&err);
	ck_assert_msg(hw_catalog_open(dir, &cat, &err) == 1, "open: %s", err.msg);
	ck_assert_ptr_nonnull(cat);
	return cat;
}

/* one integer from a query, -1 if no row */
static int64_t query_int(struct hw_catalog *cat, const char *sql)
{
	sqlite3_stmt *st;
	struct hw_error err;
	int64_t v = -1;

	ck_assert_msg(hw_catalog_prepare(cat, sql, &st, &err) == 1, "%s", err.msg);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

static int64_t module_version(struct hw_catalog *cat, const char *module)
{
	char *sql = hw_asprintf("SELECT version FROM schema_version WHERE module = '%s'", module);
	int64_t v = query_int(cat, sql);

	free(sql);
	return v;
}

static bool table_exists(struct hw_catalog *cat, const char *name)
{
	char *sql = hw_asprintf("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
				"AND name = '%s'", name);
	int64_t n = query_int(cat, sql);

	free(sql);
	return n == 1;
}

START_TEST(test_open_close_reopen)
{
	struct hw_catalog *cat = cat_open();
	char *path = tl_path(dir, HW_CATALOG_NAME);
	struct hw_cat_folder f = { .relpath = "a.com/bob", .uidnext = 7 }, g;
	struct hw_error err;
	struct stat st;

	ck_assert_str_eq(hw_catalog_path(cat), path);
	ck_assert_ptr_nonnull(hw_catalog_db(cat));
	ck_assert_int_eq(module_version(cat, "core"), 1);
	ck_assert_int_eq(query_int(cat, "PRAGMA foreign_keys"), 1);
	ck_assert_int_eq(query_int(cat, "PRAGMA synchronous"), 1);   /* NORMAL */
	ck_assert_int_eq(query_int(cat, "PRAGMA busy_timeout"), 10000);
	ck_assert_int_eq(hw_catalog_folder_put(cat, &f, &err), 1);
	hw_catalog_free(&cat);
	ck_assert_ptr_null(cat);
	hw_catalog_free(&cat);   /* twice is harmless */

	/* the database file and its WAL are private */
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);

	cat = cat_open();
	{
		sqlite3_stmt *st2;
		ck_assert_int_eq(hw_catalog_prepare(cat, "PRAGMA journal_mode", &st2, &err), 1);
		ck_assert_int_eq(sqlite3_step(st2), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(st2, 0), "wal");
		sqlite3_reset(st2);
	}
	ck_assert_int_eq(hw_catalog_folder_get(cat, "a.com/bob", &g, &err), 1);
	ck_assert_uint_eq(g.uidnext, 7);
	hw_cat_folder_release(&g);
	/* while open, the WAL and shm files exist: same mode */
	{
		char *wal = tl_path(dir, HW_CATALOG_NAME "-wal");
		ck_assert_int_eq(hw_catalog_begin(cat, &err), 1);
		f.uidnext = 8;
		ck_assert_int_eq(hw_catalog_folder_put(cat, &f, &err), 1);
		ck_assert_int_eq(hw_catalog_commit(cat, &err), 1);
		ck_assert_int_eq(lstat(wal, &st), 0);
		ck_assert_uint_eq(st.st_mode & 0777, 0600);
		free(wal);
	}
	hw_catalog_free(&cat);
	free(path);
}
END_TEST

START_TEST(test_open_tightens_mode)
{
	char *path = tl_path(dir, HW_CATALOG_NAME);
	struct hw_catalog *cat;
	struct stat st;

	tl_write_file(dir, HW_CATALOG_NAME, "", 0, 0644);
	cat = cat_open();
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	hw_catalog_free(&cat);
	free(path);
}
END_TEST

START_TEST(test_open_errors)
{
	struct hw_catalog *cat = (struct hw_catalog *)&cat;
	struct hw_error err;
	char *missing = tl_path(dir, "no/such/dir");
	char *link = tl_path(dir, HW_CATALOG_NAME);

	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_open(missing, &cat, &err), -1);
	ck_assert_ptr_null(cat);
	ck_assert_msg(strstr(err.msg, missing) != NULL, "%s", err.msg);
	ck_assert_int_eq(err.errnum, ENOENT);

	/* a symlink planted as the catalog is not followed */
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_open(dir, &cat, &err), -1);
	ck_assert_ptr_null(cat);
	ck_assert_msg(strstr(err.msg, link) != NULL, "%s", err.msg);
	free(missing);
	free(link);
}
END_TEST

static const char *const steps3[] = {
	"CREATE TABLE t1(a INTEGER)",
	"CREATE TABLE t2(b TEXT); INSERT INTO t2 VALUES ('x')",
	"ALTER TABLE t1 ADD COLUMN c TEXT",
};

START_TEST(test_migrate)
{
	struct hw_catalog *cat = cat_open();
	struct hw_error err;

	hw_error_clear(&err);
	ck_assert_int_eq(module_version(cat, "test"), -1);
	ck_assert_int_eq(hw_catalog_migrate(cat, "test", steps3, 2, &err), 1);
	ck_assert_int_eq(module_version(cat, "test"), 2);
	ck_assert(table_exists(cat, "t1"));
	ck_assert(table_exists(cat, "t2"));
	/* idempotent: steps are not run again (t2 would fail to be created) */
	ck_assert_msg(hw_catalog_migrate(cat, "test", steps3, 2, &err) == 1, "%s", err.msg);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM t2"), 1);
	/* the next step */
	ck_assert_int_eq(hw_catalog_migrate(cat, "test", steps3, 3, &err), 1);
	ck_assert_int_eq(module_version(cat, "test"), 3);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM pragma_table_info('t1') "
				   "WHERE name = 'c'"), 1);
	/* other modules are independent; core untouched */
	ck_assert_int_eq(module_version(cat, "core"), 1);
	hw_catalog_free(&cat);

	/* after a reopen, the version persists; older code is refused */
	cat = cat_open();
	ck_assert_int_eq(module_version(cat, "test"), 3);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_migrate(cat, "test", steps3, 2, &err), -1);
	ck_assert_msg(strstr(err.msg, "newer") != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "'test'") != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "version 3") != NULL, "%s", err.msg);
	ck_assert_int_eq(module_version(cat, "test"), 3);
	/* the handle is still usable after the refusal (no transaction left open) */
	ck_assert(sqlite3_get_autocommit(hw_catalog_db(cat)));
	ck_assert_int_eq(hw_catalog_exec(cat, "INSERT INTO t2 VALUES ('y')", &err), 1);
	hw_catalog_free(&cat);
}
END_TEST

START_TEST(test_migrate_failing_step)
{
	static const char *const bad[] = {
		"CREATE TABLE u1(a)",
		"CREATE TABLE u2(a); CREATE TABLE u1(b)",   /* second half fails */
	};
	struct hw_catalog *cat = cat_open();
	struct hw_error err;

	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_migrate(cat, "bad", bad, 2, &err), -1);
	ck_assert_msg(strstr(err.msg, "sqlite(migrate bad to version 2) failed: ") == err.msg,
		      "%s", err.msg);
	ck_assert_msg(strstr(err.msg, hw_catalog_path(cat)) != NULL, "%s", err.msg);
	/* step 1 committed, step 2 rolled back entirely */
	ck_assert_int_eq(module_version(cat, "bad"), 1);
	ck_assert(table_exists(cat, "u1"));
	ck_assert(!table_exists(cat, "u2"));
	ck_assert(sqlite3_get_autocommit(hw_catalog_db(cat)));
	hw_catalog_free(&cat);
}
END_TEST

START_TEST(test_prepare_cache_and_errors)
{
	struct hw_catalog *cat = cat_open();
	sqlite3_stmt *a, *b, *c;
	struct hw_error err;

	ck_assert_int_eq(hw_catalog_prepare(cat, "SELECT ?1 + 1", &a, &err), 1);
	sqlite3_bind_int(a, 1, 41);
	ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(a, 0), 42);
	/* same text: same statement, reset with bindings cleared */
	ck_assert_int_eq(hw_catalog_prepare(cat, "SELECT ?1 + 1", &b, &err), 1);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_type(b, 0), SQLITE_NULL);   /* NULL + 1 */
	ck_assert_int_eq(hw_catalog_prepare(cat, "SELECT 2", &c, &err), 1);
	ck_assert_ptr_ne(a, c);

	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_prepare(cat, "SELEKT nonsense", &c, &err), -1);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err.msg, "sqlite(prepare) failed: ") == err.msg, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "syntax error") != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, hw_catalog_path(cat)) != NULL, "%s", err.msg);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_exec(cat, "INSERT INTO nosuch VALUES (1)", &err), -1);
	ck_assert_msg(strstr(err.msg, "no such table") != NULL, "%s", err.msg);

	/* rollback undoes; rollback outside a transaction is a no-op */
	ck_assert_int_eq(hw_catalog_begin(cat, &err), 1);
	ck_assert_int_eq(hw_catalog_exec(cat, "CREATE TABLE r(x)", &err), 1);
	hw_catalog_rollback(cat);
	ck_assert(!table_exists(cat, "r"));
	hw_catalog_rollback(cat);
	hw_catalog_rollback(NULL);

	/* durable switch */
	ck_assert_int_eq(hw_catalog_set_durable(cat, true, &err), 1);
	ck_assert_int_eq(query_int(cat, "PRAGMA synchronous"), 2);   /* FULL */
	ck_assert_int_eq(hw_catalog_set_durable(cat, false, &err), 1);
	ck_assert_int_eq(query_int(cat, "PRAGMA synchronous"), 1);
	hw_catalog_free(&cat);
}
END_TEST

static struct hw_cat_folder mkfolder(const char *relpath, int64_t seed)
{
	struct hw_cat_folder f = {
		.relpath = (char *)relpath,
		.dir_mtime_ns = 1700000000123456789LL + seed,
		.dir_entries = 10 + seed,
		.dir_ino = 1000 + seed,
		.mrk_ino = 2000 + seed,
		.mrk_size = 3000 + seed,
		.mrk_mtime_ns = 1700000000987654321LL + seed,
		.uidvalidity = 0xfffffff0u + (uint32_t)seed,   /* above INT32_MAX */
		.uidnext = 4000 + (uint32_t)seed,
		.messages = 5000 + seed,
		.bytes = (int64_t)1 << 40,
		.indexed_at = 1700000000 + seed,
	};
	return f;
}

static void assert_folder_eq(const struct hw_cat_folder *a, const struct hw_cat_folder *b)
{
	ck_assert_str_eq(a->relpath, b->relpath);
	ck_assert_int_eq(a->dir_mtime_ns, b->dir_mtime_ns);
	ck_assert_int_eq(a->dir_entries, b->dir_entries);
	ck_assert_int_eq(a->dir_ino, b->dir_ino);
	ck_assert_int_eq(a->mrk_ino, b->mrk_ino);
	ck_assert_int_eq(a->mrk_size, b->mrk_size);
	ck_assert_int_eq(a->mrk_mtime_ns, b->mrk_mtime_ns);
	ck_assert_uint_eq(a->uidvalidity, b->uidvalidity);
	ck_assert_uint_eq(a->uidnext, b->uidnext);
	ck_assert_int_eq(a->messages, b->messages);
	ck_assert_int_eq(a->bytes, b->bytes);
	ck_assert_int_eq(a->indexed_at, b->indexed_at);
}

static struct hw_cat_message mkmsg(unsigned i)
{
	struct hw_cat_message m = {
		.file = hw_asprintf("md50%09u.msg", i),
		.uid = i + 1,
		.flags = (uint8_t)(i & 0xff),
		.size = 1000 + i,
		.date = 1600000000 + i,
		.mtime_ns = 1600000000000000000LL + i,
		.ino = 77 + i,
		.from = hw_asprintf("user%u@example.com", i),
		.to = hw_strdup("bob@example.com"),
		.subject = hw_asprintf("Subject %u \xc3\xa9t\xc3\xa9", i),
		.message_id = hw_asprintf("<%u@example.com>", i),
		.in_reply_to = NULL,
	};
	if (i % 2 == 0) {
		m.has_hash = true;
		for (int k = 0; k < 16; k++)
			m.hash[k] = (uint8_t)(i * 31 + (unsigned)k);
	}
	return m;
}

static void assert_msg_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		ck_assert_ptr_eq(a, b);
	else
		ck_assert_str_eq(a, b);
}

static void assert_msg_eq(const struct hw_cat_message *a, const struct hw_cat_message *b)
{
	ck_assert_str_eq(a->file, b->file);
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_int_eq(a->size, b->size);
	ck_assert_int_eq(a->date, b->date);
	ck_assert_int_eq(a->mtime_ns, b->mtime_ns);
	ck_assert_int_eq(a->ino, b->ino);
	assert_msg_str(a->from, b->from);
	assert_msg_str(a->to, b->to);
	assert_msg_str(a->subject, b->subject);
	assert_msg_str(a->message_id, b->message_id);
	assert_msg_str(a->in_reply_to, b->in_reply_to);
	ck_assert_int_eq(a->has_hash, b->has_hash);
	if (a->has_hash)
		ck_assert_mem_eq(a->hash, b->hash, 16);
}

START_TEST(test_folders)
{
	struct hw_catalog *cat = cat_open();
	const char *names[] = {
		"b.com/zed", "a.com/bob/Sent Items.IMAP", "a.com/bob", "a.com/bobby",
		"a.com/bob.x", "a.com/bob/Sent Items.IMAP/Old.IMAP", "a.com/al_%",
	};
	const size_t nn = sizeof(names) / sizeof(names[0]);
	struct hw_cat_folder f, g, *v;
	struct hw_error err;
	int64_t bob_id = 0;
	size_t n;

	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_folder_get(cat, "a.com/bob", &g, &err), 0);
	for (size_t i = 0; i < nn; i++) {
		f = mkfolder(names[i], (int64_t)i);
		ck_assert_msg(hw_catalog_folder_put(cat, &f, &err) == 1, "%s", err.msg);
		ck_assert_int_gt(f.id, 0);
		if (strcmp(names[i], "a.com/bob") == 0)
			bob_id = f.id;
		ck_assert_int_eq(hw_catalog_folder_get(cat, names[i], &g, &err), 1);
		ck_assert_int_eq(g.id, f.id);
		assert_folder_eq(&g, &f);
		hw_cat_folder_release(&g);
	}

	/* update keeps the id and the folder's messages */
	{
		struct hw_cat_message m = mkmsg(1);
		ck_assert_int_eq(hw_catalog_messages_put(cat, bob_id, &m, 1, &err), 1);
		hw_cat_message_release(&m);
	}
	f = mkfolder("a.com/bob", 100);
	f.id = 0;
	ck_assert_int_eq(hw_catalog_folder_put(cat, &f, &err), 1);
	ck_assert_int_eq(f.id, bob_id);
	ck_assert_int_eq(hw_catalog_folder_get(cat, "a.com/bob", &g, &err), 1);
	assert_folder_eq(&g, &f);
	hw_cat_folder_release(&g);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM message"), 1);

	/* list all: sorted by relpath (byte order) */
	ck_assert_int_eq(hw_catalog_folders_list(cat, "", &v, &n, &err), 1);
	ck_assert_uint_eq(n, nn);
	for (size_t i = 1; i < n; i++)
		ck_assert_int_lt(strcmp(v[i - 1].relpath, v[i].relpath), 0);
	hw_cat_folders_free(v, n);
	ck_assert_int_eq(hw_catalog_folders_list(cat, NULL, &v, &n, &err), 1);
	ck_assert_uint_eq(n, nn);
	hw_cat_folders_free(v, n);

	/* prefix: the folder and below, not its siblings bob.x / bobby */
	ck_assert_int_eq(hw_catalog_folders_list(cat, "a.com/bob", &v, &n, &err), 1);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0].relpath, "a.com/bob");
	ck_assert_str_eq(v[1].relpath, "a.com/bob/Sent Items.IMAP");
	ck_assert_str_eq(v[2].relpath, "a.com/bob/Sent Items.IMAP/Old.IMAP");
	ck_assert_int_eq(v[0].uidnext, 4100);
	hw_cat_folders_free(v, n);
	ck_assert_int_eq(hw_catalog_folders_list(cat, "a.com/bob/", &v, &n, &err), 1);
	ck_assert_uint_eq(n, 3);
	hw_cat_folders_free(v, n);
	ck_assert_int_eq(hw_catalog_folders_list(cat, "a.com", &v, &n, &err), 1);
	ck_assert_uint_eq(n, 6);
	hw_cat_folders_free(v, n);
	/* LIKE wildcards in a prefix are plain characters */
	ck_assert_int_eq(hw_catalog_folders_list(cat, "a.com/al_", &v, &n, &err), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(hw_catalog_folders_list(cat, "a.com/al_%", &v, &n, &err), 1);
	ck_assert_uint_eq(n, 1);
	hw_cat_folders_free(v, n);
	ck_assert_int_eq(hw_catalog_folders_list(cat, "c.com", &v, &n, &err), 1);
	ck_assert_uint_eq(n, 0);

	/* delete cascades to messages, leaves subfolders */
	ck_assert_int_eq(hw_catalog_folder_delete(cat, "a.com/bob", &err), 1);
	ck_assert_int_eq(hw_catalog_folder_delete(cat, "a.com/bob", &err), 0);
	ck_assert_int_eq(hw_catalog_folder_get(cat, "a.com/bob", &g, &err), 0);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM message"), 0);
	ck_assert_int_eq(hw_catalog_folders_list(cat, "a.com/bob", &v, &n, &err), 1);
	ck_assert_uint_eq(n, 2);
	hw_cat_folders_free(v, n);
	ck_assert_int_eq(hw_catalog_check(cat, &err), 1);
	hw_catalog_free(&cat);
}
END_TEST

START_TEST(test_messages_roundtrip)
{
	struct hw_catalog *cat = cat_open();
	struct hw_cat_folder f = mkfolder("a.com/bob", 0), f2 = mkfolder("a.com/eve", 1);
	struct hw_cat_message in[4], *out;
	struct hw_error err;
	uint8_t h[16];
	size_t n;

	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_folder_put(cat, &f, &err), 1);
	ck_assert_int_eq(hw_catalog_folder_put(cat, &f2, &err), 1);
	/* given out of order: read back sorted by file */
	in[0] = mkmsg(30);
	in[1] = mkmsg(10);
	in[2] = mkmsg(20);
	in[3] = (struct hw_cat_message){ .file = hw_strdup("pd99999999999.msg"),
					 .uid = 0xffffffffu, .flags = 0xff, .size = -1 };
	free(in[1].from);
	in[1].from = NULL;
	free(in[2].subject);
	in[2].subject = hw_strdup("");   /* empty is not NULL */
	in[2].in_reply_to = hw_strdup("<x@y>");
	ck_assert_msg(hw_catalog_messages_put(cat, f.id, in, 4, &err) == 1, "%s", err.msg);
	ck_assert_int_eq(hw_catalog_messages_get(cat, f.id, &out, &n, &err), 1);
	ck_assert_uint_eq(n, 4);
	assert_msg_eq(&out[0], &in[1]);
	assert_msg_eq(&out[1], &in[2]);
	assert_msg_eq(&out[2], &in[0]);
	assert_msg_eq(&out[3], &in[3]);
	ck_assert_ptr_null(out[0].from);
	ck_assert_str_eq(out[1].subject, "");
	ck_assert_ptr_null(out[3].to);
	ck_assert(!out[3].has_hash);
	ck_assert(out[0].has_hash);   /* 10 is even */
	hw_cat_messages_free(out, n);

	/* another folder is separate */
	ck_assert_int_eq(hw_catalog_messages_get(cat, f2.id, &out, &n, &err), 1);
	ck_assert_uint_eq(n, 0);

	/* set / clear a hash; unknown message */
	for (int k = 0; k < 16; k++)
		h[k] = (uint8_t)(0xa0 + k);
	ck_assert_int_eq(hw_catalog_message_set_hash(cat, f.id, "pd99999999999.msg", h, &err), 1);
	ck_assert_int_eq(hw_catalog_message_set_hash(cat, f.id, "md50000000010.msg", NULL, &err), 1);
	ck_assert_int_eq(hw_catalog_message_set_hash(cat, f.id, "nosuch.msg", h, &err), 0);
	ck_assert_int_eq(hw_catalog_message_set_hash(cat, f2.id, "pd99999999999.msg", h, &err), 0);
	ck_assert_int_eq(hw_catalog_messages_get(cat, f.id, &out, &n, &err), 1);
	ck_assert(out[3].has_hash);
	ck_assert_mem_eq(out[3].hash, h, 16);
	ck_assert(!out[0].has_hash);
	hw_cat_messages_free(out, n);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM message WHERE hash = "
				   "x'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf'"), 1);

	/* replace: the old rows go */
	ck_assert_int_eq(hw_catalog_messages_put(cat, f.id, &in[0], 1, &err), 1);
	ck_assert_int_eq(hw_catalog_messages_get(cat, f.id, &out, &n, &err), 1);
	ck_assert_uint_eq(n, 1);
	assert_msg_eq(&out[0], &in[0]);
	hw_cat_messages_free(out, n);
	ck_assert_int_eq(hw_catalog_messages_put(cat, f.id, NULL, 0, &err), 1);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM message"), 0);

	/* a failed replacement changes nothing: duplicate file name */
	ck_assert_int_eq(hw_catalog_messages_put(cat, f.id, in, 2, &err), 1);
	{
		struct hw_cat_message dup[3] = { in[2], in[3], in[2] };
		hw_error_clear(&err);
		ck_assert_int_eq(hw_catalog_messages_put(cat, f.id, dup, 3, &err), -1);
		ck_assert_msg(strstr(err.msg, "sqlite(insert message md50000000020.msg) failed: ")
			      == err.msg, "%s", err.msg);
		ck_assert_msg(strstr(err.msg, "UNIQUE") != NULL, "%s", err.msg);
	}
	ck_assert_int_eq(hw_catalog_messages_get(cat, f.id, &out, &n, &err), 1);
	ck_assert_uint_eq(n, 2);
	assert_msg_eq(&out[0], &in[1]);
	assert_msg_eq(&out[1], &in[0]);
	hw_cat_messages_free(out, n);
	/* ... also inside the caller's transaction, which stays open and usable */
	ck_assert_int_eq(hw_catalog_begin(cat, &err), 1);
	{
		struct hw_cat_message dup[2] = { in[3], in[3] };
		ck_assert_int_eq(hw_catalog_messages_put(cat, f.id, dup, 2, &err), -1);
	}
	ck_assert(!sqlite3_get_autocommit(hw_catalog_db(cat)));
	ck_assert_int_eq(hw_catalog_messages_put(cat, f2.id, &in[3], 1, &err), 1);
	ck_assert_int_eq(hw_catalog_commit(cat, &err), 1);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM message"), 3);

	/* a folder id that does not exist: foreign key refuses */
	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_messages_put(cat, 987654, in, 1, &err), -1);
	ck_assert_msg(strstr(err.msg, "FOREIGN KEY") != NULL, "%s", err.msg);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM message"), 3);

	ck_assert_int_eq(hw_catalog_check(cat, &err), 1);
	for (int i = 0; i < 4; i++)
		hw_cat_message_release(&in[i]);
	hw_catalog_free(&cat);
}
END_TEST

START_TEST(test_messages_many)
{
	enum { N = 10000 };
	struct hw_catalog *cat = cat_open();
	struct hw_cat_folder f = mkfolder("a.com/big", 0);
	struct hw_cat_message *in = hw_calloc(N, sizeof(*in)), *out;
	struct hw_error err;
	size_t n;

	for (unsigned i = 0; i < N; i++)
		in[i] = mkmsg(N - 1 - i);
	ck_assert_int_eq(hw_catalog_begin(cat, &err), 1);
	ck_assert_int_eq(hw_catalog_folder_put(cat, &f, &err), 1);
	ck_assert_msg(hw_catalog_messages_put(cat, f.id, in, N, &err) == 1, "%s", err.msg);
	ck_assert_int_eq(hw_catalog_commit(cat, &err), 1);
	hw_catalog_free(&cat);

	cat = cat_open();
	ck_assert_int_eq(hw_catalog_messages_get(cat, f.id, &out, &n, &err), 1);
	ck_assert_uint_eq(n, N);
	for (unsigned i = 0; i < N; i++)
		assert_msg_eq(&out[i], &in[N - 1 - i]);
	hw_cat_messages_free(out, n);
	/* the indexes exist and are used for lookups by message id and hash */
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM message WHERE message_id = "
				   "'<1234@example.com>'"), 1);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
				   "AND tbl_name = 'message' AND sql LIKE '%message_id%'"), 1);
	ck_assert_int_eq(query_int(cat, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
				   "AND tbl_name = 'message' AND sql LIKE '%(hash)%'"), 1);
	ck_assert_int_eq(hw_catalog_check(cat, &err), 1);
	hw_cat_messages_free(in, N);
	hw_catalog_free(&cat);
}
END_TEST

START_TEST(test_check_foreign_key)
{
	struct hw_catalog *cat = cat_open();
	struct hw_error err;

	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_check(cat, &err), 1);
	ck_assert_int_eq(hw_catalog_exec(cat, "PRAGMA foreign_keys=OFF", &err), 1);
	ck_assert_int_eq(hw_catalog_exec(cat, "INSERT INTO message(folder_id, file) "
					 "VALUES (42, 'md50000000001.msg')", &err), 1);
	ck_assert_int_eq(hw_catalog_check(cat, &err), 0);
	ck_assert_msg(strstr(err.msg, "foreign key") != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, hw_catalog_path(cat)) != NULL, "%s", err.msg);
	hw_catalog_free(&cat);
}
END_TEST

static void fill_catalog(void)
{
	struct hw_catalog *cat = cat_open();
	struct hw_error err;

	ck_assert_int_eq(hw_catalog_begin(cat, &err), 1);
	for (int k = 0; k < 20; k++) {
		char name[32];
		struct hw_cat_folder f;
		struct hw_cat_message m[100];
		snprintf(name, sizeof(name), "a.com/u%02d", k);
		f = mkfolder(name, k);
		ck_assert_int_eq(hw_catalog_folder_put(cat, &f, &err), 1);
		for (unsigned i = 0; i < 100; i++)
			m[i] = mkmsg(i);
		ck_assert_int_eq(hw_catalog_messages_put(cat, f.id, m, 100, &err), 1);
		for (unsigned i = 0; i < 100; i++)
			hw_cat_message_release(&m[i]);
	}
	ck_assert_int_eq(hw_catalog_commit(cat, &err), 1);
	hw_catalog_free(&cat);   /* checkpoints: all data in the main file */
}

static void overwrite(const char *path, off_t off, size_t len, unsigned char byte)
{
	unsigned char *junk = hw_malloc(len);
	int fd = open(path, O_WRONLY);

	memset(junk, byte, len);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, junk, len, off), (ssize_t)len);
	close(fd);
	free(junk);
}

START_TEST(test_corrupt_header)
{
	char *path = tl_path(dir, HW_CATALOG_NAME);
	struct hw_catalog *cat = NULL;
	struct hw_error err;

	fill_catalog();
	overwrite(path, 0, 100, 0x5a);   /* the magic and the header */
	hw_error_clear(&err);
	ck_assert_int_eq(hw_catalog_open(dir, &cat, &err), -1);
	ck_assert_ptr_null(cat);
	ck_assert_int_eq(err.errnum, EBADMSG);
	ck_assert_msg(strstr(err.msg, "not a database") != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
	free(path);
}
END_TEST

START_TEST(test_corrupt_pages)
{
	char *path = tl_path(dir, HW_CATALOG_NAME);
	struct hw_catalog *cat = NULL;
	struct hw_error err;
	struct stat st;
	int ret;

	fill_catalog();
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_size, 8 * 4096);
	/* garble every page but the first (which holds the schema), at
	   varying offsets inside the page */
	for (off_t off = 4096; off < st.st_size; off += 4096)
		overwrite(path, off + (off / 4096 % 7) * 300, 200, (unsigned char)(off / 4096));
	hw_error_clear(&err);
	ret = hw_catalog_open(dir, &cat, &err);
	if (ret == 1) {
		struct hw_cat_folder *v = NULL;
		size_t n = 0;
		hw_error_clear(&err);
		ret = hw_catalog_check(cat, &err);
		ck_assert_msg(ret == 0 || ret == -1, "check said %d on a garbled file", ret);
		ck_assert_str_ne(err.msg, "");
		ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
		/* reading must fail cleanly or return something, never crash */
		if (hw_catalog_folders_list(cat, "", &v, &n, &err) == 1)
			hw_cat_folders_free(v, n);
		for (int64_t id = 1; id <= 20; id++) {
			struct hw_cat_message *m;
			if (hw_catalog_messages_get(cat, id, &m, &n, &err) == 1)
				hw_cat_messages_free(m, n);
		}
		hw_catalog_free(&cat);
	} else {
		ck_assert_int_eq(ret, -1);
		ck_assert_ptr_null(cat);
		ck_assert_str_ne(err.msg, "");
	}
	free(path);
}
END_TEST

static Suite *catalog_suite(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("catalog");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_close_reopen);
	tcase_add_test(tc, test_open_tightens_mode);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_migrate);
	tcase_add_test(tc, test_migrate_failing_step);
	tcase_add_test(tc, test_prepare_cache_and_errors);
	tcase_add_test(tc, test_folders);
	tcase_add_test(tc, test_messages_roundtrip);
	tcase_add_test(tc, test_messages_many);
	tcase_add_test(tc, test_check_foreign_key);
	tcase_add_test(tc, test_corrupt_header);
	tcase_add_test(tc, test_corrupt_pages);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(catalog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
