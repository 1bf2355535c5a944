/* check_snapshot.c - the snapshot library: create, coverage (purge's
   question), and a forged repository whose pack holds '..', absolute and
   symlink members: restore refuses it and writes nothing outside the target */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static void same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *da = tl_read_file(a, &la), *db = tl_read_file(b, &lb);

	ck_assert_ptr_nonnull(da);
	ck_assert_ptr_nonnull(db);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(da, db, la) == 0);
	free(da);
	free(db);
}

/* dir/store/REL and dir/out/REL hold the same bytes */
static void same_restored(const char *rel)
{
	char *a = hw_asprintf("%s/store/%s", dir, rel), *b = hw_asprintf("%s/out/%s", dir, rel);

	same_file(a, b);
	free(a);
	free(b);
}

/* the two messages make_snapshot stores, as purge asks about them */
static const struct snap_cover bob_made[2] = {
	{ .folder = "ex.com/bob", .file = "md50000000001.msg", .size = 18 },
	{ .folder = "ex.com/bob", .file = "md50000000002.msg", .size = 18 },
};

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

/* Content the catalog marks missing (uoff -1: a segment the 3 -> 4
   upgrade could not read) does not cover a live message: purge would
   delete the only copy left. A new file with that content is stored
   again instead of being taken as held. */
START_TEST(test_missing_not_covered)
{
	struct hw_store *st;
	struct snap_repo *r = make_snapshot(&st);
	sqlite3 *db = hw_catalog_db(snap_repo_catalog(r));
	struct hw_error err;
	struct hw_hash h;
	struct snap_cover q[2];
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	sqlite3_stmt *s;
	char *store = tl_path(dir, "store");

	memcpy(q, bob_made, sizeof(q));
	hw_hash_buf("Subject: x\n\nhello\n", 18, &h);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE snap_blob SET uoff = -1 WHERE hash = ?", -1,
					    &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, h.b, 16, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	ck_assert_int_eq(sqlite3_changes(db), 1);
	sqlite3_finalize(s);
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 1);
	ck_assert(!q[0].covered_r && q[1].covered_r);
	/* the same content arrives again: stored, and restorable */
	tl_write_file(store, "ex.com/bob/md50000000003.msg", "Subject: x\n\nhello\n", 18, 0644);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.files_added, 1);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT uoff FROM snap_blob WHERE hash = ?", -1, &s,
					    NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, h.b, 16, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_ge(sqlite3_column_int64(s, 0), 0);
	sqlite3_finalize(s);
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 2);
	free(store);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

/* the middle byte of the repository's oldest pack flipped (its first
   pack: one segment here): *pack_r its path, *orig_r its bytes before */
static void damage_first_pack(struct snap_repo *r, char **pack_r, char **orig_r, size_t *plen_r)
{
	sqlite3_stmt *s;

	ck_assert_int_eq(sqlite3_prepare_v2(hw_catalog_db(snap_repo_catalog(r)),
					    "SELECT name FROM snap_pack ORDER BY id LIMIT 1", -1, &s,
					    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	*pack_r = hw_asprintf("%s/repo/packs/%s", dir, (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	*orig_r = tl_read_file(*pack_r, plen_r);
	ck_assert_ptr_nonnull(*orig_r);
	ck_assert_int_eq(chmod(*pack_r, 0644), 0);
	int fd = open(*pack_r, O_WRONLY);
	char x = (char)((*orig_r)[*plen_r / 2] ^ 0x55);
	ck_assert_int_eq(pwrite(fd, &x, 1, (off_t)(*plen_r / 2)), 1);
	close(fd);
}

/* A segment verify finds damaged: its content covers no live message
   (purge would delete the only good copy) and counts as not held, so the
   same content coming by again is stored again; then it covers again. A
   segment read whole later (here: the same bytes put back) is good again. */
START_TEST(test_damaged_not_covered)
{
	struct hw_store *st;
	struct snap_repo *r = make_snapshot(&st);
	struct hw_error err;
	struct snap_cover q[2];
	struct snap_verify_opts vo = { .percent = 100 };
	struct snap_verify_result vr;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *pack, *orig;
	size_t plen;

	memcpy(q, bob_made, sizeof(q));
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 2);
	damage_first_pack(r, &pack, &orig, &plen);
	ck_assert_int_eq(snap_verify(r, &vo, NULL, NULL, &vr, &err), 1);
	ck_assert_uint_eq(vr.bad_segments, 1);
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 0);
	ck_assert(!q[0].covered_r && !q[1].covered_r);
	/* the same content in a new file, in a folder of its own: stored
	   again (the next create does, when it comes by), and covered again */
	tl_mkdirs(store, "ex.com/ann");
	tl_write_file(store, "ex.com/ann/md50000000003.msg", "Subject: x\n\nhello\n", 18, 0644);
	char *ann = "ex.com/ann";
	o.folders = &ann;
	o.nfolders = 1;
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.files_added, 1);
	ck_assert_uint_eq(res.repaired, 1);
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 1);
	ck_assert(q[0].covered_r && !q[1].covered_r);
	/* the damaged segment read whole again: good again */
	int fd = open(pack, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, orig + plen / 2, 1, (off_t)(plen / 2)), 1);
	close(fd);
	ck_assert_int_eq(snap_verify(r, &vo, NULL, NULL, &vr, &err), 1);
	ck_assert_uint_eq(vr.bad_segments, 0);
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 2);
	free(orig);
	free(pack);
	free(store);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

/* Repair: after verify finds a segment damaged, the next create of the
   whole store reads again the unchanged files whose content was only
   there and stores it again, so that every snapshot restores them, the
   older ones too; the create after that is back to reading nothing, and
   a verify that finds the segment still damaged does not start it over. */
START_TEST(test_damaged_repaired)
{
	struct hw_store *st;
	struct snap_repo *r = make_snapshot(&st);
	struct hw_error err;
	struct snap_cover q[2];
	struct snap_verify_opts vo = { .percent = 100 };
	struct snap_verify_result vr;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *out = tl_path(dir, "out");
	char *pack, *orig;
	size_t plen;

	memcpy(q, bob_made, sizeof(q));
	/* a second folder, stored by a second snapshot in a second pack */
	tl_mkdirs(store, "ex.com/eve");
	tl_write_file(store, "ex.com/eve/md50000000001.msg", "Subject: e\n\neve\n", 16, 0644);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.files_added, 1);
	damage_first_pack(r, &pack, &orig, &plen);
	ck_assert_int_eq(snap_verify(r, &vo, NULL, NULL, &vr, &err), 1);
	ck_assert_uint_eq(vr.bad_segments, 1);
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 0);

	/* a create that skips bob (a symlink in its place) repairs nothing
	   and leaves the segment to the next one */
	char *bob = tl_path(store, "ex.com/bob"), *away = tl_path(dir, "bob.away");
	ck_assert_int_eq(rename(bob, away), 0);
	ck_assert_int_eq(symlink(away, bob), 0);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_ge(res.skipped, 1);
	ck_assert_uint_eq(res.lost, 2);
	ck_assert_uint_eq(res.repaired, 0);
	ck_assert_int_eq(unlink(bob), 0);
	ck_assert_int_eq(rename(away, bob), 0);
	free(bob);
	free(away);
	/* nothing changed in the store: bob is read again, eve is not */
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.lost, 2);
	ck_assert_uint_eq(res.repaired, 2);
	ck_assert_uint_eq(res.files_added, 2);
	ck_assert_uint_eq(res.folders_changed, 1);
	ck_assert_int_eq(snap_covered(r, q, 2, &err), 2);
	/* the first snapshot restores whole, from the new copies */
	struct snap_restore_opts ro = { .to_dir = out, .snapshot = 1 };
	char *path = "ex.com/bob";
	ro.paths = &path;
	ro.npaths = 1;
	ck_assert_int_eq(snap_restore(r, NULL, &ro, NULL, NULL, &err), 2);
	same_restored("ex.com/bob/md50000000001.msg");
	same_restored("ex.com/bob/md50000000002.msg");

	/* done once: the next create reads nothing, even after a verify
	   that finds the segment still damaged */
	ck_assert_int_eq(snap_verify(r, &vo, NULL, NULL, &vr, &err), 1);
	ck_assert_uint_eq(vr.bad_segments, 1);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.lost, 0);
	ck_assert_uint_eq(res.files_read, 0);
	ck_assert_uint_eq(res.folders_changed, 0);
	free(orig);
	free(pack);
	free(out);
	free(store);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

/* A pack whose damaged segment holds nothing live any more (create stored
   its content again elsewhere) is rewritten by the next prune without it,
   whatever its live share: verify finds the repository whole again, and
   the first snapshot still restores byte for byte. */
START_TEST(test_damaged_scrubbed)
{
	struct hw_error err;
	struct hw_store *st;
	struct snap_repo *r;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	struct snap_verify_opts vo = { .percent = 100 };
	struct snap_verify_result vr;
	struct snap_prune_opts po = { .keep_last = 10, .repack_below = 0.1 };
	struct snap_prune_result pr;
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");
	char *out = tl_path(dir, "out"), *pack, *orig;
	size_t plen, n = (size_t)5 << 20;
	char *body = malloc(n);
	uint32_t x = 12345;

	ck_assert_ptr_nonnull(body);
	tl_mkdirs(dir, "repo");
	tl_mkdirs(dir, "store/ex.com/bob");
	/* two messages of 5 MB (base64-like text): a segment each */
	for (int k = 0; k < 2; k++) {
		int h = snprintf(body, n, "Subject: %c\n\n", 'a' + k);
		for (size_t i = (size_t)h; i < n; i++) {
			x = x * 1103515245u + 12345u;
			body[i] = (i % 77 == 76) ? '\n' : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789+/"[(x >> 16) % 64];
		}
		char rel[64];
		snprintf(rel, sizeof(rel), "ex.com/bob/md5000000000%d.msg", k + 1);
		tl_write_file(store, rel, body, n, 0644);
	}
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	sqlite3_stmt *s;
	ck_assert_int_eq(sqlite3_prepare_v2(hw_catalog_db(snap_repo_catalog(r)),
					    "SELECT count(*) FROM snap_segment", -1, &s, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 3);   /* a, b, the end blocks */
	sqlite3_finalize(s);
	/* damage the first segment only (its 1000th byte) */
	damage_first_pack(r, &pack, &orig, &plen);
	int fd = open(pack, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, orig + plen / 2, 1, (off_t)(plen / 2)), 1);
	char bad = (char)(orig[1000] ^ 0x55);
	ck_assert_int_eq(pwrite(fd, &bad, 1, 1000), 1);
	close(fd);
	ck_assert_int_eq(snap_verify(r, &vo, NULL, NULL, &vr, &err), 1);
	ck_assert_uint_eq(vr.bad_segments, 1);
	/* repaired by create; the old pack keeps the good segment, live */
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.repaired, 1);
	ck_assert_int_eq(snap_prune(r, &po, NULL, NULL, &pr, &err), 1);
	ck_assert_uint_eq(pr.removed, 0);
	ck_assert_uint_eq(pr.packs_rewritten, 1);
	ck_assert_int_eq(snap_verify(r, &vo, NULL, NULL, &vr, &err), 1);
	ck_assert_uint_eq(vr.bad_segments, 0);
	struct snap_restore_opts ro = { .to_dir = out, .snapshot = 1 };
	char *path = "ex.com/bob";
	ro.paths = &path;
	ro.npaths = 1;
	ck_assert_int_eq(snap_restore(r, NULL, &ro, NULL, NULL, &err), 2);
	same_restored("ex.com/bob/md50000000001.msg");
	same_restored("ex.com/bob/md50000000002.msg");
	/* nothing left to scrub: the next prune rewrites nothing */
	ck_assert_int_eq(snap_prune(r, &po, NULL, NULL, &pr, &err), 1);
	ck_assert_uint_eq(pr.packs_rewritten, 0);
	free(body);
	free(orig);
	free(pack);
	free(out);
	free(store);
	free(repo);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

/* A damaged record set or listing in the catalog (the folder's previous
   version) does not stop every later snapshot: create warns, naming the
   folder, reads it whole and gives it a new version; that snapshot
   restores byte for byte. */
static char diag_seen[1024];

static void diag_keep(void *ctx, enum hw_diag_level level, const char *msg)
{
	(void)ctx;
	if (level == HW_DIAG_WARN && strstr(msg, "damaged") != NULL)
		snprintf(diag_seen, sizeof(diag_seen), "%s", msg);
}

START_TEST(test_damaged_records_read_whole)
{
	struct hw_store *st;
	struct snap_repo *r = make_snapshot(&st);
	sqlite3 *db = hw_catalog_db(snap_repo_catalog(r));
	struct hw_error err;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *out = tl_path(dir, "out");
	const char *what[] = { "UPDATE snap_rset SET data = x'01deadbeef'",
			       "UPDATE snap_fver SET listing = x'01deadbeef'" };

	for (int k = 0; k < 2; k++) {
		char name[64];
		ck_assert_int_eq(sqlite3_exec(db, what[k], NULL, NULL, NULL), SQLITE_OK);
		snprintf(name, sizeof(name), "ex.com/bob/md5000000001%d.msg", k);
		tl_write_file(store, name, "Subject: z\n\nnew\n", 16, 0644);
		diag_seen[0] = '\0';
		hw_diag_set_sink(diag_keep, NULL);
		int cr = snap_create(r, st, &o, &res, &err);
		hw_diag_set_sink(NULL, NULL);
		ck_assert_msg(cr == 1, "create failed: %s", err.msg);
		ck_assert_msg(strstr(diag_seen, "ex.com/bob") != NULL, "no warning naming the folder");
		ck_assert_uint_eq(res.files, 3 + (uint64_t)k);
		ck_assert_uint_eq(res.files_read, 3 + (uint64_t)k);
	}
	/* the last snapshot restores whole */
	struct snap_restore_opts ro = { .to_dir = out };
	char *path = "ex.com/bob";
	ro.paths = &path;
	ro.npaths = 1;
	ck_assert_int_eq(snap_restore(r, NULL, &ro, NULL, NULL, &err), 4);
	const char *files[] = { "md50000000001.msg", "md50000000002.msg", "md50000000010.msg",
				"md50000000011.msg" };
	for (int i = 0; i < 4; i++) {
		char rel[96];
		snprintf(rel, sizeof(rel), "ex.com/bob/%s", files[i]);
		same_restored(rel);
	}
	free(store);
	free(out);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

/* The first snapshot reads folders ahead on threads, each folder holding
   an open directory until it is consumed. Small folders add next to no
   bytes to the read-ahead bound: it must also bound how many folders are
   held, or a store of many small folders runs out of file descriptors
   and those folders are left out of the snapshot (a warning only). */
START_TEST(test_prefetch_many_folders)
{
	struct hw_error err;
	struct hw_store *st;
	struct snap_repo *r;
	struct snap_create_opts o = { .jobs = 2 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");
	struct rlimit rl = { 64, 64 };
	enum { NF = 600 };

	tl_mkdirs(dir, "repo");
	tl_mkdirs(dir, "store/ex.com");
	for (int i = 0; i < NF; i++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "ex.com/u%03d", i);
		tl_mkdirs(store, rel);
		snprintf(rel, sizeof(rel), "ex.com/u%03d/md50000000001.msg", i);
		tl_write_file(store, rel, "Subject: x\n\nhi\n", 15, 0644);
	}
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
	/* this test runs in a child of its own: the limit stays there */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.skipped, 0);
	ck_assert_uint_eq(res.folders, NF);
	ck_assert_uint_eq(res.messages, NF);
	snap_repo_free(&r);
	hw_store_free(&st);
	free(store);
	free(repo);
}
END_TEST

/* snap_read_fd reads the whole file whatever the size it was told: the
   size of the fstat (the usual case: one read, no second one for the end),
   a smaller one (the file grew since), a larger one (it shrank), none */
START_TEST(test_read_fd_sizes)
{
	enum { N = 100000 };
	char *data = malloc(N);
	size_t hints[] = { N, N - 10, N + 10, 0, 1 };

	ck_assert_ptr_nonnull(data);
	for (size_t k = 0; k < N; k++)
		data[k] = (char)(k * 31 + 7);
	tl_write_file(dir, "f", data, N, 0644);
	char *path = tl_path(dir, "f");
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		struct hw_buf b;
		struct hw_error err;
		int fd = open(path, O_RDONLY);
		ck_assert_int_ge(fd, 0);
		hw_buf_init(&b);
		ck_assert_int_eq(snap_read_fd(fd, dir, "f", hints[i], &b, &err), 0);
		close(fd);
		ck_assert_uint_eq(b.len, N);
		ck_assert(memcmp(b.data, data, N) == 0);
		ck_assert_int_eq(b.data[N], '\0');
		hw_buf_release(&b);
	}
	free(path);
	free(data);
}
END_TEST

/* Read buffers cut from shared chunks: no two overlap, a chunk is used
   again once its last buffer is let go (by any thread), and one too large
   for a chunk is left to malloc. */
struct rbuf_rel { struct hw_buf *b; struct snap_rchunk **ch; size_t from, n; };

static void *rbuf_release_thread(void *arg)
{
	struct rbuf_rel *r = arg;

	for (size_t i = r->from; i < r->from + r->n; i++)
		snap_rbuf_release(&r->b[i], &r->ch[i]);
	return NULL;
}

START_TEST(test_rbuf_chunks)
{
	enum { N = 3000 };
	struct snap_rpool pool;
	struct snap_rcursor cur;
	struct hw_buf *b = hw_calloc(N, sizeof(*b));
	struct snap_rchunk **ch = hw_calloc(N, sizeof(*ch));
	size_t nall_first;

	snap_rpool_init(&pool);
	cur = (struct snap_rcursor){ &pool, NULL };
	/* one buffer kept through every round: its chunk is not reused */
	struct snap_rchunk *keep_ch;
	char *keep = snap_rcursor_take(&cur, 1000, &keep_ch);
	ck_assert_ptr_nonnull(keep);
	memset(keep, 'k', 1000);
	for (int round = 0; round < 3; round++) {
		/* 3000 buffers of 1 to 6 KB: about 10 MB, three chunks or more */
		for (size_t i = 0; i < N; i++) {
			size_t n = 1 + (i * 7919) % 6000;
			char *p = snap_rcursor_take(&cur, n, &ch[i]);
			ck_assert_ptr_nonnull(p);
			ck_assert_ptr_nonnull(ch[i]);
			memset(p, (int)(i % 251), n);
			b[i].data = p;
			b[i].len = n;
			b[i].cap = n;
		}
		for (size_t i = 0; i < N; i++)
			for (size_t k = 0; k < b[i].len; k++)
				if ((unsigned char)b[i].data[k] != i % 251)
					ck_abort_msg("buffer %zu overwritten at %zu", i, k);
		ck_assert_uint_ge(pool.nall, 3);
		if (round == 0)
			nall_first = pool.nall;
		else   /* reused, none new (the kept buffer's chunk is not among them) */
			ck_assert_uint_eq(pool.nall, nall_first + 1);
		/* half let go here, half on another thread */
		struct rbuf_rel rel = { b, ch, N / 2, N - N / 2 };
		pthread_t t;
		ck_assert_int_eq(pthread_create(&t, NULL, rbuf_release_thread, &rel), 0);
		for (size_t i = 0; i < N / 2; i++)
			snap_rbuf_release(&b[i], &ch[i]);
		pthread_join(t, NULL);
		for (size_t i = 0; i < N; i++) {
			ck_assert_ptr_null(b[i].data);
			ck_assert_ptr_null(ch[i]);
		}
		snap_rcursor_end(&cur);
		for (size_t k = 0; k < 1000; k++)
			if (keep[k] != 'k')
				ck_abort_msg("kept buffer overwritten at %zu in round %d", k, round);
	}
	/* trimmed: the idle chunks unmapped, the kept buffer's chunk stays,
	   and the pool maps new ones when asked again */
	ck_assert_ptr_nonnull(pool.free);
	snap_rpool_trim(&pool);
	ck_assert_ptr_null(pool.free);
	ck_assert_ptr_nonnull(pool.all);
	for (size_t k = 0; k < 1000; k++)
		ck_assert_int_eq(keep[k], 'k');
	size_t nall_trimmed = pool.nall;
	char *again = snap_rcursor_take(&cur, 5000, &ch[0]);
	ck_assert_ptr_nonnull(again);
	memset(again, 'a', 5000);
	ck_assert_uint_eq(pool.nall, nall_trimmed + 1);
	b[0] = (struct hw_buf){ again, 5000, 5000 };
	snap_rbuf_release(&b[0], &ch[0]);
	snap_rcursor_end(&cur);
	struct hw_buf kb = { keep, 999, 1000 };
	snap_rbuf_release(&kb, &keep_ch);
	ck_assert_ptr_null(keep_ch);
	/* too large for a chunk: malloc's, released as such */
	struct snap_rchunk *none = (struct snap_rchunk *)1;
	ck_assert_ptr_null(snap_rcursor_take(&cur, SNAP_RBUF_MAX + 1, &none));
	ck_assert_ptr_null(none);
	struct hw_buf big;
	hw_buf_init(&big);
	hw_buf_add(&big, "x", 1);
	snap_rbuf_release(&big, &none);
	ck_assert_ptr_null(big.data);
	snap_rcursor_end(&cur);
	snap_rpool_destroy(&pool);
	free(b);
	free(ch);
}
END_TEST

/* snap_rbuf_read: a small file whose size is as its fstat said goes into
   the cursor's chunk; one that grew or shrank since, one too large, or no
   cursor: read whole from the start into malloc'd memory */
START_TEST(test_rbuf_read)
{
	struct snap_rpool pool;
	struct snap_rcursor cur;
	struct hw_error err;
	enum { BIG = 300 * 1024 };
	char *big = hw_malloc(BIG);

	for (size_t k = 0; k < BIG; k++)
		big[k] = (char)('a' + k % 23);
	snap_rpool_init(&pool);
	cur = (struct snap_rcursor){ &pool, NULL };
	tl_write_file(dir, "empty", "", 0, 0644);
	tl_write_file(dir, "small", big, 5000, 0644);
	tl_write_file(dir, "big", big, BIG, 0644);
	struct { const char *name; size_t said, real; bool chunk; } cs[] = {
		{ "empty", 0, 0, true },
		{ "small", 5000, 5000, true },
		{ "small", 4000, 5000, false },    /* grew after the fstat */
		{ "small", 6000, 5000, false },    /* shrank after the fstat */
		{ "big", BIG, BIG, false },        /* too large for a chunk */
	};
	for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		for (int with_cur = 0; with_cur < 2; with_cur++) {
			char *path = tl_path(dir, cs[i].name);
			int fd = open(path, O_RDONLY);
			struct hw_buf b;
			struct snap_rchunk *ch = (struct snap_rchunk *)1;
			ck_assert_int_ge(fd, 0);
			hw_buf_init(&b);
			ck_assert_int_eq(snap_rbuf_read(fd, with_cur ? &cur : NULL, cs[i].said, &b, &ch,
							dir, cs[i].name, &err), 0);
			close(fd);
			ck_assert_msg(b.len == cs[i].real, "%s said %zu: %zu bytes", cs[i].name,
				      cs[i].said, b.len);
			ck_assert(memcmp(b.data, big, b.len) == 0);
			ck_assert_int_eq(b.data[b.len], '\0');
			ck_assert_int_eq(ch != NULL, with_cur && cs[i].chunk);
			snap_rbuf_release(&b, &ch);
			ck_assert_ptr_null(b.data);
			free(path);
		}
	}
	/* a read that fails names the file */
	{
		int fd = open(dir, O_RDONLY | O_DIRECTORY);
		struct hw_buf b;
		struct snap_rchunk *ch;
		hw_buf_init(&b);
		ck_assert_int_eq(snap_rbuf_read(fd, &cur, 10, &b, &ch, dir, "adir", &err), -1);
		ck_assert_ptr_null(ch);
		ck_assert(strstr(err.msg, "adir") != NULL);
		close(fd);
		hw_buf_release(&b);
	}
	snap_rcursor_end(&cur);
	snap_rpool_destroy(&pool);
	free(big);
}
END_TEST

/* A first snapshot reads folders ahead on threads, each message without a
   stat of its own, up to 16 MB a folder; the rest of a larger folder is
   stat'ed and left to the writer's batches. Both halves (and IMAP.MRK, a
   plain file, a file that is not regular) come back byte for byte. */
/* Mostly repeated content (a first snapshot of 30 mailboxes holding the
   same 1,000 messages, one in 60 of them changed): the memory in chunks
   stays within what read-ahead and a small window count, and does not
   grow with what is read. (Read buffers taken into the window held their
   chunks, and every repeated message let go in them.) */
START_TEST(test_repeated_content_memory)
{
	struct hw_error err;
	struct hw_store *st;
	struct snap_repo *r;
	struct snap_create_opts o = { .jobs = 2, .window = 2u << 20 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");
	enum { NB = 30, NM = 1000, SZ = 3000 };
	char body[SZ];
	uint64_t changed = 0;

	tl_mkdirs(dir, "repo");
	for (int b = 0; b < NB; b++) {
		char fold[64];
		snprintf(fold, sizeof(fold), "store/ex.com/u%02d", b);
		tl_mkdirs(dir, fold);
		for (int m = 0; m < NM; m++) {
			char rel[64];
			bool ch = b > 0 && m % 60 == b % 60;
			int n = snprintf(body, sizeof(body), "Subject: m%d%s\nMessage-ID: <m%d.%d@x>\n\n",
					 m, ch ? " (changed)" : "", m, ch ? b : 0);
			changed += ch;
			for (int k = n; k < SZ; k++)
				body[k] = (char)('a' + (k * 7 + m * 3) % 26);
			snprintf(rel, sizeof(rel), "ex.com/u%02d/md5%010d.msg", b, m + 1);
			tl_write_file(store, rel, body, SZ, 0644);
		}
	}
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.messages, NB * NM);
	ck_assert_uint_eq(res.files_added, NM + changed);
	/* 90 MB read: read-ahead (16 MB and a folder) and two 2 MB windows */
	ck_assert_uint_gt(res.buf_bytes, 0);
	ck_assert_msg(res.buf_bytes <= ((uint64_t)48 << 20), "%llu bytes in chunks",
		      (unsigned long long)res.buf_bytes);
	snap_repo_free(&r);
	hw_store_free(&st);
	free(store);
	free(repo);
}
END_TEST

START_TEST(test_read_ahead_large_folder)
{
	struct hw_error err;
	struct hw_store *st;
	struct snap_repo *r;
	struct snap_create_opts o = { .jobs = 2 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");
	char *out = tl_path(dir, "out"), *fifo = tl_path(dir, "store/ex.com/big/fifo");
	enum { NF = 40, SZ = 600 * 1024, HUGE = 17 << 20 };   /* 23.4 MB: over the 16 MB bound */
	char *body = malloc(SZ);
	char *path = "ex.com/big";

	ck_assert_ptr_nonnull(body);
	tl_mkdirs(dir, "repo");
	tl_mkdirs(dir, "out");
	tl_mkdirs(dir, "store/ex.com/big");
	for (int i = 0; i < NF; i++) {
		char rel[64];
		int n = snprintf(body, SZ, "Subject: m%d\nMessage-ID: <m%d@x>\n\n", i, i);
		for (int k = n; k < SZ; k++)
			body[k] = (char)('a' + (k * 7 + i) % 26);
		snprintf(rel, sizeof(rel), "ex.com/big/md5%010d.msg", i + 1);
		tl_write_file(store, rel, body, SZ, 0644);
	}
	tl_write_file(store, "ex.com/big/AddrBook.mrk", "book\n", 5, 0644);
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	/* one message larger than the read-ahead bound on its own */
	tl_mkdirs(dir, "store/ex.com/huge");
	char *huge = malloc(HUGE);
	ck_assert_ptr_nonnull(huge);
	for (size_t k = 0; k < HUGE; k++)
		huge[k] = (char)('A' + (k * 13) % 26);
	memcpy(huge, "Subject: huge\n\n", 15);
	tl_write_file(store, "ex.com/huge/md50000000001.msg", huge, HUGE, 0644);
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
	ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
	ck_assert_uint_eq(res.messages, NF + 1);
	ck_assert_uint_eq(res.files, NF + 2);
	ck_assert_uint_eq(res.files_read, NF + 2);
	ck_assert_uint_eq(res.skipped, 1);   /* the FIFO, warned */
	{
		struct snap_restore_opts ro = { .to_dir = out, .paths = &path, .npaths = 1 };
		ck_assert_int_eq(snap_restore(r, NULL, &ro, NULL, NULL, &err), NF + 1);
	}
	for (int i = 0; i < NF; i++) {
		char rel[96];
		snprintf(rel, sizeof(rel), "ex.com/big/md5%010d.msg", i + 1);
		same_restored(rel);
	}
	{
		char *hp = "ex.com/huge/md50000000001.msg", *b = tl_path(dir, "out/ex.com/huge/md50000000001.msg");
		struct snap_restore_opts ro = { .to_dir = out, .paths = &hp, .npaths = 1 };
		size_t lb;
		ck_assert_int_eq(snap_restore(r, NULL, &ro, NULL, NULL, &err), 1);
		char *db = tl_read_file(b, &lb);
		ck_assert_ptr_nonnull(db);
		ck_assert_uint_eq(lb, HUGE);
		ck_assert(memcmp(db, huge, HUGE) == 0);
		free(db);
		free(b);
	}
	snap_repo_free(&r);
	hw_store_free(&st);
	free(huge);
	free(body);
	free(fifo);
	free(out);
	free(store);
	free(repo);
}
END_TEST

/* as an unprivileged user: a message unreadable at one snapshot, readable
   at the next (its folder otherwise untouched) is in the next. Returns
   0 or the step that failed */
static int skipped_then_readable(void)
{
	struct hw_error err;
	struct hw_store *st;
	struct snap_repo *r;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");
	char *m2 = tl_path(dir, "store/ex.com/bob/md50000000002.msg");
	int step = 0;

	if (geteuid() == 0 && (chown(dir, 65534, 65534) < 0 || setgid(65534) < 0 ||
			       setuid(65534) < 0))
		return 100;
	tl_mkdirs(dir, "store/ex.com/bob");
	tl_mkdirs(dir, "repo");
	tl_write_file(store, "ex.com/bob/md50000000001.msg", "Subject: x\n\nhello\n", 18, 0644);
	tl_write_file(store, "ex.com/bob/md50000000002.msg", "Subject: y\n\nworld\n", 18, 0644);
	if (chmod(m2, 0) < 0 || access(m2, R_OK) == 0)
		return 101;   /* reads are not refused here: nothing to test */
	if (hw_store_open(store, &st, &err) != 1 || snap_repo_open(repo, true, &r, &err) != 1)
		return 102;
	++step;
	if (snap_create(r, st, &o, &res, &err) != 1 || res.skipped != 1 || res.messages != 1)
		return step;
	++step;
	/* the admin fixes the permission: the directory does not change */
	if (chmod(m2, 0644) < 0)
		return 103;
	if (snap_create(r, st, &o, &res, &err) != 1 || res.skipped != 0)
		return step;
	++step;
	if (res.messages != 2)
		return step;
	++step;
	/* and the run after that sees the folder unchanged again */
	if (snap_create(r, st, &o, &res, &err) != 1 || res.messages != 2 || res.folders_changed != 0)
		return step;
	snap_repo_free(&r);
	hw_store_free(&st);
	free(store);
	free(repo);
	free(m2);
	return 0;
}

/* A file skipped by one snapshot (unreadable) must not leave its folder
   looking unchanged to the next: the next snapshot would take the old
   folder version, without that file, for as long as nothing else in the
   folder changes */
START_TEST(test_skipped_file_later)
{
	pid_t pid = fork();
	int status = -1;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(skipped_then_readable());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 101)
		return;
	ck_assert_int_eq(WEXITSTATUS(status), 0);
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
		"INSERT INTO snap_sfolder VALUES (1, 99);", name, len, len);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE snap_segment SET csum = ? WHERE id = 99",
					    -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, csum.b, 16, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	{
		/* one record, in one folder version of snapshot 1 */
		struct snap_rec rec = { .name = "md50000000001.msg", .kind = SNAP_KIND_MESSAGE,
					.size = 5 };
		struct snap_lent le = { .rset_id = 99, .idx = 0, .uid = 1 };
		struct hw_buf b;
		memcpy(rec.hash, h.b, 16);
		hw_buf_init(&b);
		ck_assert_int_eq(snap_rset_encode(&rec, 1, &b, &err), 0);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO snap_rset(id, path_id, snap_id,"
						    " n, data) VALUES (99, 99, 1, 1, ?)", -1, &s, NULL),
				 SQLITE_OK);
		sqlite3_bind_blob(s, 1, b.data, (int)b.len, SQLITE_TRANSIENT);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		ck_assert_int_eq(snap_listing_encode(&le, 1, &b, &err), 0);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO snap_fver(id, path_id,"
						    " dir_mtime_ns, dir_entries, dir_ino, files,"
						    " messages, bytes, listing)"
						    " VALUES (99, 99, 0, 0, 0, 1, 1, 5, ?)", -1, &s,
						    NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, b.data, (int)b.len, SQLITE_TRANSIENT);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		hw_buf_release(&b);
	}
	/* each hostile member in turn is where the catalog points (the
	   members' headers are 1 KB apart: header and a block of data; 4096
	   points past the end) */
	const int64_t members[] = { 0, 1024, 2048, 4096 };
	tl_mkdirs(dir, "out");
	out = tl_path(dir, "out/deep");
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO snap_blob"
						    "(hash, segment_id, uoff, size) VALUES (?, 99, ?, 5)", -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, h.b, 16, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, members[k]);
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

struct frows {
	int n;
	char folder[256], file[256];
	int64_t first, last;
};

static int keep_row(void *ctx, const struct snap_find_row *row)
{
	struct frows *f = ctx;

	f->n++;
	snprintf(f->folder, sizeof(f->folder), "%s", row->folder);
	snprintf(f->file, sizeof(f->file), "%s", row->file);
	f->first = row->first_snapshot;
	f->last = row->last_snapshot;
	return 0;
}

/* The Message-ID rows are written in batches (a statement of many rows,
   then the rest one by one), in key order: with 101 messages in each of
   two folders (one ID twice in a folder, one ID in both), every ID is
   found in every folder holding it, and a folder holds a row per ID once */
START_TEST(test_msgid_rows)
{
	struct hw_error err;
	struct hw_store *st;
	struct snap_repo *r;
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	char *store = tl_path(dir, "store"), *repo;
	const char *box[2] = { "ex.com/amy", "ex.com/bob" };

	tl_mkdirs(dir, "store/ex.com");
	for (int b = 0; b < 2; b++) {
		tl_mkdirs(store, box[b]);
		for (int i = 0; i < 101; i++) {
			char rel[128], msg[128];
			/* message 100 repeats message 0's ID; "both" is in both */
			int id = i == 100 ? 0 : i;
			snprintf(rel, sizeof(rel), "%s/md5%010d.msg", box[b], i + 1);
			int len = i == 50 ? snprintf(msg, sizeof(msg), "Message-ID: <both@ex.com>\n"
						     "Subject: %d\n\n%s\n", i, box[b]) :
				  snprintf(msg, sizeof(msg), "Message-ID: <%c%d@ex.com>\nSubject: %d\n\n"
					   "body %d\n", "ab"[b], id, i, i);
			tl_write_file(store, rel, msg, (size_t)len, 0644);
		}
	}
	ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
	/* with the reorder window (rows written as it goes into the pack),
	   and without (rows written at the end) */
	for (int mode = 0; mode < 2; mode++) {
		o.window = mode == 0 ? 0 : SNAP_WINDOW_OFF;
		repo = hw_asprintf("%s/repo%d", dir, mode);
		ck_assert_int_eq(mkdir(repo, 0700), 0);
		ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
		ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
		ck_assert_uint_eq(res.messages, 202);
		sqlite3_stmt *s;
		ck_assert_int_eq(sqlite3_prepare_v2(hw_catalog_db(snap_repo_catalog(r)),
						    "SELECT count(*), count(DISTINCT msgid_h)"
						    " FROM snap_msgid", -1, &s, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(s, 0), 200);   /* 100 IDs a folder */
		ck_assert_int_eq(sqlite3_column_int(s, 1), 199);   /* "both" twice */
		sqlite3_finalize(s);
		for (int b = 0; b < 2; b++)
			for (int i = 0; i < 100; i++) {
				char id[64];
				if (i == 50)
					continue;
				snprintf(id, sizeof(id), "<%c%d@ex.com>", "ab"[b], i);
				struct snap_find_query q = { .message_id = id };
				struct frows f = { 0 };
				ck_assert_int_eq(snap_find(r, &q, keep_row, &f, &err), i == 0 ? 2 : 1);
				ck_assert_int_eq(f.n, i == 0 ? 2 : 1);   /* a0: two files */
				ck_assert_str_eq(f.folder, box[b]);
			}
		struct snap_find_query q = { .message_id = "both@ex.com" };
		struct frows f = { 0 };
		ck_assert_int_eq(snap_find(r, &q, keep_row, &f, &err), 2);
		ck_assert_int_eq(f.n, 2);
		snap_repo_free(&r);
		free(repo);
	}
	hw_store_free(&st);
	free(store);
}
END_TEST

/* A repository written by hiwater 842c392 (catalog schema 3, made by
   tests/data/mkfixture-v3.sh: a pruned and repacked snapshot whose member
   names are partly text, partly derived) opens as schema 4: list, find,
   restore (a message, a folder, by Message-ID), verify and a new snapshot
   all work */
START_TEST(test_migrate_v3)
{
	struct hw_store *st;
	struct hw_error err;
	struct snap_repo *r;
	struct snap_info *v;
	size_t n;
	char *cmd = hw_asprintf("tar --zstd -xf '%s/tests/data/snap-v3.tar.zst' -C '%s'",
				HW_SRCDIR, dir);
	char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo");
	char *out = tl_path(dir, "out");

	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	ck_assert_int_eq(snap_repo_open(repo, false, &r, &err), 1);
	{
		sqlite3_stmt *s;
		ck_assert_int_eq(sqlite3_prepare_v2(hw_catalog_db(snap_repo_catalog(r)),
						    "SELECT (SELECT version FROM schema_version WHERE"
						    " module = 'snapshot'), (SELECT count(*) FROM snap_rset),"
						    " (SELECT count(*) FROM snap_blob WHERE uoff < 0),"
						    " (SELECT count(*) FROM snap_msgid),"
						    " (SELECT count(*) FROM sqlite_master WHERE name IN"
						    "  ('snap_file', 'snap_member', 'snap_blob4')),"
						    " (SELECT count(*) - count(others) FROM snap_fver)",
						    -1, &s, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(s, 0), 4);
		ck_assert_int_gt(sqlite3_column_int(s, 1), 0);
		ck_assert_int_eq(sqlite3_column_int(s, 2), 0);   /* every member found */
		ck_assert_int_ge(sqlite3_column_int(s, 3), 5);
		ck_assert_int_eq(sqlite3_column_int(s, 4), 0);
		ck_assert_int_eq(sqlite3_column_int(s, 5), 0);   /* others filled */
		sqlite3_finalize(s);
	}
	ck_assert_int_eq(snap_list(r, &v, &n, &err), 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0].id, 2);
	ck_assert_int_eq(v[1].id, 3);
	ck_assert_uint_eq(v[1].messages, 5);
	snap_infos_free(v, n);
	/* m1's content was stored as bob's file; only amy's copy is held now */
	for (int form = 0; form < 2; form++) {
		struct snap_find_query q = { .message_id = form ? "m1@ex.com" : "<m1@ex.com>" };
		struct frows f = { 0 };
		ck_assert_int_eq(snap_find(r, &q, keep_row, &f, &err), 1);
		ck_assert_str_eq(f.folder, "ex.com/amy");
		ck_assert_str_eq(f.file, "md50000000007.msg");
		ck_assert_int_eq(f.first, 2);
		ck_assert_int_eq(f.last, 3);
	}
	{
		struct snap_find_query q = { .subject = "SENT" };
		struct frows f = { 0 };
		ck_assert_int_eq(snap_find(r, &q, keep_row, &f, &err), 1);
		ck_assert_str_eq(f.folder, "ex.com/bob/Sent Items.IMAP");
	}
	{
		char *paths[] = { "ex.com/amy/md50000000007.msg", "ex.com/bob" };
		char *ids[] = { "m4@ex.com" };
		struct snap_restore_opts o = { .to_dir = out, .paths = paths, .npaths = 2,
					       .message_ids = ids, .nmessage_ids = 1 };
		static const char *const files[] = {
			"ex.com/amy/md50000000007.msg", "ex.com/amy/md50000000003.msg",
			"ex.com/bob/md50000000002.msg", "ex.com/bob/md50000000004.msg",
			"ex.com/bob/Sent Items.IMAP/md50000000001.msg",
		};
		ck_assert_int_eq(snap_restore(r, NULL, &o, NULL, NULL, &err), 5);
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			char *a = tl_path(out, files[i]), *b = tl_path(store, files[i]);
			same_file(a, b);
			free(a);
			free(b);
		}
	}
	{
		struct snap_verify_opts o = { .percent = 100 };
		struct snap_verify_result res;
		ck_assert_int_eq(snap_verify(r, &o, NULL, NULL, &res, &err), 1);
		ck_assert_uint_eq(res.bad_segments, 0);
		ck_assert_uint_eq(res.bad_members, 0);
		ck_assert_uint_eq(res.members, 5);
	}
	{
		/* a new snapshot stores nothing again */
		struct snap_create_opts o = { 0 };
		struct snap_create_result res;
		ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
		ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
		ck_assert_int_eq(res.id, 4);
		ck_assert_uint_eq(res.messages, 5);
		ck_assert_uint_eq(res.files_added, 0);
		hw_store_free(&st);
	}
	snap_repo_free(&r);
	free(store);
	free(repo);
	free(out);
}
END_TEST

/* A schema 3 repository with a damaged pack upgrades all the same: the
   members of the segment it cannot read keep no offset (uoff -1), verify
   reports that segment, restore refuses those files and restores the rest */
START_TEST(test_migrate_v3_damaged)
{
	struct hw_error err;
	struct snap_repo *r;
	char *cmd = hw_asprintf("tar --zstd -xf '%s/tests/data/snap-v3.tar.zst' -C '%s' && "
				"cd '%s/repo/packs' && p=$(ls -S | head -n 1) && chmod u+w \"$p\" && "
				"head -c 100 \"$p\" > x && mv x \"$p\"", HW_SRCDIR, dir, dir);
	char *repo = tl_path(dir, "repo"), *out = tl_path(dir, "out");
	unsigned long before = hw_diag_count(HW_DIAG_WARN);
	int64_t missing = -1;

	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	ck_assert_int_eq(snap_repo_open(repo, false, &r, &err), 1);
	ck_assert_uint_gt(hw_diag_count(HW_DIAG_WARN), before);
	{
		sqlite3_stmt *s;
		ck_assert_int_eq(sqlite3_prepare_v2(hw_catalog_db(snap_repo_catalog(r)),
						    "SELECT count(*) FROM snap_blob WHERE uoff < 0", -1,
						    &s, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		missing = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	ck_assert_int_eq(missing, 4);   /* the repacked pack: 4 of the 5 */
	{
		struct snap_verify_opts o = { .percent = 100 };
		struct snap_verify_result res;
		ck_assert_int_eq(snap_verify(r, &o, NULL, NULL, &res, &err), 1);
		ck_assert_uint_ge(res.bad_segments + res.bad_members, 1);
	}
	{
		/* the whole snapshot: some files restore, the others are refused */
		char *paths[] = { "ex.com" };
		struct snap_restore_opts o = { .to_dir = out, .paths = paths, .npaths = 1 };
		unsigned long errs = hw_diag_count(HW_DIAG_ERROR);
		int n = snap_restore(r, NULL, &o, NULL, NULL, &err);
		ck_assert_int_eq(n, 1);
		ck_assert_uint_gt(hw_diag_count(HW_DIAG_ERROR), errs);
	}
	snap_repo_free(&r);
	free(repo);
	free(out);
}
END_TEST

/* record sets and listings decode to what was encoded; damage is refused */
/* encode n listing entries into b, decode them back, compare */
static void listing_round_trip(const struct snap_lent *le, size_t n, struct hw_buf *b)
{
	struct snap_lent *got;
	struct hw_error err;
	size_t ngot;

	ck_assert_int_eq(snap_listing_encode(le, n, b, &err), 0);
	ck_assert_int_eq(snap_listing_decode(b->data, b->len, &got, &ngot, &err), 0);
	ck_assert_uint_eq(ngot, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(got[i].rset_id, le[i].rset_id);
		ck_assert_uint_eq(got[i].idx, le[i].idx);
		ck_assert_uint_eq(got[i].uid, le[i].uid);
		ck_assert_uint_eq(got[i].flags, le[i].flags);
	}
	free(got);
}

START_TEST(test_records_roundtrip)
{
	struct snap_rec v[3] = {
		{ .name = "md50000000001.msg", .kind = 1, .size = 1234, .mtime_ns = 1700000000123456789LL,
		  .ino = 99, .date = 1700000000, .from = "Bob <b@ex.com>", .subject = "hi",
		  .message_id = "<x@ex.com>" },
		{ .name = "IMAP.MRK", .kind = 2, .size = 0, .mtime_ns = 5, .ino = 7, .date = -3 },
		{ .name = "n\xc3\xa4me; [x]:y", .kind = 1, .size = 1ll << 40, .mtime_ns = 0,
		  .ino = 1ll << 62, .date = 0, .from = "", .subject = NULL, .message_id = "" },
	};
	struct snap_lent le[4] = { { 5, 0, 1, 0x20 }, { 5, 1, 2, 0 }, { 3, 7, 100, 1 },
				   { 9, 0, 4000000000u, 0xff } };
	struct snap_rset rs;
	struct snap_lent *got;
	size_t n;
	struct hw_buf b;
	struct hw_error err;

	v[1].hash[3] = 7;
	hw_buf_init(&b);
	ck_assert_int_eq(snap_rset_encode(v, 3, &b, &err), 0);
	ck_assert_int_eq(snap_rset_decode(b.data, b.len, &rs, &err), 0);
	ck_assert_uint_eq(rs.n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(rs.v[i].name, v[i].name);
		ck_assert_int_eq(rs.v[i].kind, v[i].kind);
		ck_assert_int_eq(rs.v[i].size, v[i].size);
		ck_assert_int_eq(rs.v[i].mtime_ns, v[i].mtime_ns);
		ck_assert_int_eq(rs.v[i].ino, v[i].ino);
		ck_assert_int_eq(rs.v[i].date, v[i].date);
		ck_assert(memcmp(rs.v[i].hash, v[i].hash, 16) == 0);
		ck_assert_pstr_eq(rs.v[i].from, v[i].from);
		ck_assert_pstr_eq(rs.v[i].subject, v[i].subject);
		ck_assert_pstr_eq(rs.v[i].message_id, v[i].message_id);
	}
	snap_rset_release(&rs);
	/* a listing's blob is not a record set; a newer format is refused */
	listing_round_trip(le, 4, &b);
	ck_assert_int_eq(snap_rset_decode(b.data, b.len, &rs, &err), -1);
	b.data[0] = 9;
	ck_assert_int_eq(snap_listing_decode(b.data, b.len, &got, &n, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "format"));
	ck_assert_int_eq(snap_listing_decode(b.data, 3, &got, &n, &err), -1);
	hw_buf_release(&b);
}
END_TEST

/* Deltas of extreme values (a crafted or damaged catalog, or an odd file
   system's inode and time stamps) wrap instead of overflowing a signed
   integer: the SAN build stops on that undefined behaviour */
START_TEST(test_records_extremes)
{
	struct snap_rec v[3] = {
		{ .name = "a", .kind = 1, .mtime_ns = INT64_MAX, .ino = INT64_MIN, .date = INT64_MAX },
		{ .name = "b", .kind = 1, .mtime_ns = INT64_MIN, .ino = INT64_MAX, .date = INT64_MIN },
		{ .name = "c", .kind = 2, .mtime_ns = INT64_MAX, .ino = -1, .date = 1 },
	};
	struct snap_lent le[3] = { { INT64_MAX, UINT32_MAX, UINT32_MAX, 0 },
				   { INT64_MIN + 1, 0, 0, 0 }, { INT64_MAX, 0, UINT32_MAX, 0 } };
	struct snap_rset rs;
	struct snap_lent *got;
	size_t n;
	struct hw_buf b;
	struct hw_error err;
	/* raw listing blobs (format 0x81) of two entries: an idx delta of
	   INT64_MAX after idx 0; rset deltas adding up past INT64_MAX; uid
	   deltas likewise */
	static const uint8_t idx_big[] = { 0x81, 2, 2, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0 };
	static const uint8_t rs_big[] = { 0x81, 2, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0x01, 2, 0, 0, 0, 0, 0, 0 };
	static const uint8_t uid_big[] = { 0x81, 2, 2, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0x01, 2, 0, 0 };

	hw_buf_init(&b);
	ck_assert_int_eq(snap_rset_encode(v, 3, &b, &err), 0);
	ck_assert_int_eq(snap_rset_decode(b.data, b.len, &rs, &err), 0);
	ck_assert_uint_eq(rs.n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(rs.v[i].mtime_ns, v[i].mtime_ns);
		ck_assert_int_eq(rs.v[i].ino, v[i].ino);
		ck_assert_int_eq(rs.v[i].date, v[i].date);
	}
	snap_rset_release(&rs);
	listing_round_trip(le, 3, &b);
	ck_assert_int_eq(snap_listing_decode(idx_big, sizeof(idx_big), &got, &n, &err), -1);
	ck_assert_int_eq(snap_listing_decode(rs_big, sizeof(rs_big), &got, &n, &err), 0);
	free(got);
	ck_assert_int_eq(snap_listing_decode(uid_big, sizeof(uid_big), &got, &n, &err), 0);
	free(got);
	hw_buf_release(&b);
}
END_TEST

/* file names crafted into a record set: '..', absolute, through a
   subfolder. Restore refuses them and writes nothing outside the target */
START_TEST(test_crafted_names)
{
	static const char *const bad[] = { "../../../victim-dotdot.msg", "/tmp/hw-victim-abs.msg",
					   "Sub.IMAP/../../victim-sub.msg" };
	struct hw_store *st;
	struct snap_repo *r = make_snapshot(&st);
	sqlite3 *db = hw_catalog_db(snap_repo_catalog(r));
	struct hw_error err;
	struct snap_rset rs;
	struct hw_buf b;
	sqlite3_stmt *s;

	ck_assert_int_eq(snap_rset_load(r, 1, &rs, &err), 0);
	ck_assert_uint_eq(rs.n, 2);
	tl_mkdirs(dir, "out/a");
	hw_buf_init(&b);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char *path = "ex.com/bob", *out = hw_asprintf("%s/out/a/b%zu", dir, k);
		unsigned long before = hw_diag_count(HW_DIAG_ERROR);
		struct snap_restore_opts o = { .to_dir = out, .paths = &path, .npaths = 1 };
		struct snap_restore_opts o2 = { .paths = &path, .npaths = 1 };
		struct stat sb;
		const char *name0 = rs.v[0].name;

		rs.v[0].name = bad[k];
		ck_assert_int_eq(snap_rset_encode(rs.v, rs.n, &b, &err), 0);
		rs.v[0].name = name0;
		ck_assert_int_eq(sqlite3_prepare_v2(db, "UPDATE snap_rset SET data = ? WHERE id = 1",
						    -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, b.data, (int)b.len, SQLITE_TRANSIENT);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		/* the other message is restored, the crafted one refused */
		ck_assert_int_eq(snap_restore(r, NULL, &o, NULL, NULL, &err), 1);
		ck_assert_uint_gt(hw_diag_count(HW_DIAG_ERROR), before);
		before = hw_diag_count(HW_DIAG_ERROR);
		ck_assert_int_ge(snap_restore(r, st, &o2, NULL, NULL, &err), 0);
		ck_assert_uint_gt(hw_diag_count(HW_DIAG_ERROR), before);
		/* where '..' would lead from the target and from the store */
		char *v1 = tl_path(dir, "victim-dotdot.msg"), *v2 = tl_path(dir, "out/a/victim-dotdot.msg");
		char *v3 = tl_path(dir, "store/ex.com/victim-sub.msg");
		char *v4 = tl_path(out, "ex.com/victim-sub.msg");
		char *ok = tl_path(out, "ex.com/bob/md50000000002.msg");
		ck_assert(!tl_exists(v1) && !tl_exists(v2) && !tl_exists(v3) && !tl_exists(v4));
		ck_assert(tl_exists(ok));
		free(v4);
		free(ok);
		ck_assert(lstat("/tmp/hw-victim-abs.msg", &sb) != 0);
		ck_assert(lstat("/victim-dotdot.msg", &sb) != 0);
		free(v1);
		free(v2);
		free(v3);
		free(out);
	}
	hw_buf_release(&b);
	snap_rset_release(&rs);
	snap_repo_free(&r);
	hw_store_free(&st);
}
END_TEST

/* new content goes into the pack in similarity order (subject without
   "Re:"/"Fwd:", From, Message-ID; other files last), not directory order;
   HIWATER_SNAPSHOT_WINDOW=0 keeps directory order */
START_TEST(test_pack_order)
{
	static const char *const msgs[][2] = {
		{ "store/ex.com/amy/md50000000001.msg", "Subject: Lunch\nFrom: a\n\nx\n" },
		{ "store/ex.com/amy/md50000000002.msg", "Subject: Budget 2001\nFrom: a\n\nyy\n" },
		{ "store/ex.com/bob/md50000000001.msg", "Subject: RE: Fwd: budget 2001\nFrom: b\n\nzzz\n" },
		{ "store/ex.com/bob/md50000000002.msg", "Subject: lunch\nFrom: b\n\nwwww\n" },
	};
	const char *want[2] = {
		"ex.com/amy/md50000000002.msg ex.com/bob/md50000000001.msg "
		"ex.com/amy/md50000000001.msg ex.com/bob/md50000000002.msg ",
		"ex.com/amy/md50000000001.msg ex.com/amy/md50000000002.msg "
		"ex.com/bob/md50000000001.msg ex.com/bob/md50000000002.msg ",
	};

	tl_mkdirs(dir, "store/ex.com/amy");
	tl_mkdirs(dir, "store/ex.com/bob");
	for (size_t i = 0; i < 4; i++)
		tl_write_file(dir, msgs[i][0], msgs[i][1], strlen(msgs[i][1]), 0644);
	for (int k = 0; k < 2; k++) {
		struct hw_store *st;
		struct hw_error err;
		struct snap_repo *r;
		struct snap_create_opts o = { 0 };
		struct snap_create_result res;
		char *store = tl_path(dir, "store"), *repo = hw_asprintf("%s/repo%d", dir, k);
		char *cmd, *list;
		size_t len;

		if (k == 1)
			setenv("HIWATER_SNAPSHOT_WINDOW", "0", 1);
		ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
		ck_assert_int_eq(snap_repo_open(repo, true, &r, &err), 1);
		ck_assert_int_eq(snap_create(r, st, &o, &res, &err), 1);
		ck_assert_uint_eq(res.files_added, 4);
		snap_repo_free(&r);
		hw_store_free(&st);
		unsetenv("HIWATER_SNAPSHOT_WINDOW");
		cmd = hw_asprintf("bsdtar -tf %s/packs/pack-*.tar.zst | tr '\\n' ' ' > %s/list", repo,
				  dir);
		ck_assert_int_eq(system(cmd), 0);
		free(cmd);
		cmd = tl_path(dir, "list");
		list = tl_read_file(cmd, &len);
		ck_assert_str_eq(list, want[k]);
		free(list);
		free(cmd);
		free(store);
		free(repo);
	}
	{
		/* restored into the store, new names follow the snapshot's order,
		   not the pack's: amy's Lunch (first in her folder, third in the
		   sorted pack) gets the first free name */
		struct hw_store *st;
		struct hw_error err;
		struct snap_repo *r;
		char *store = tl_path(dir, "store"), *repo = tl_path(dir, "repo0");
		char *path = "ex.com/amy", *f1, *f2, *got;
		struct snap_restore_opts ro = { .paths = &path, .npaths = 1 };
		size_t glen;

		ck_assert_int_eq(hw_store_open(store, &st, &err), 1);
		ck_assert_int_eq(snap_repo_open(repo, false, &r, &err), 1);
		f1 = tl_path(dir, msgs[0][0]);
		f2 = tl_path(dir, msgs[1][0]);
		ck_assert_int_eq(unlink(f1), 0);
		ck_assert_int_eq(unlink(f2), 0);
		ck_assert_int_eq(snap_restore(r, st, &ro, NULL, NULL, &err), 2);
		got = tl_read_file(f1, &glen);
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, msgs[0][1]);
		free(got);
		got = tl_read_file(f2, &glen);
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, msgs[1][1]);
		free(got);
		free(f1);
		free(f2);
		snap_repo_free(&r);
		hw_store_free(&st);
		free(store);
		free(repo);
	}
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
	tcase_add_test(tc, test_missing_not_covered);
	tcase_add_test(tc, test_damaged_not_covered);
	tcase_add_test(tc, test_damaged_repaired);
	tcase_add_test(tc, test_damaged_scrubbed);
	tcase_add_test(tc, test_msgid_rows);
	tcase_add_test(tc, test_damaged_records_read_whole);
	tcase_add_test(tc, test_prefetch_many_folders);
	tcase_add_test(tc, test_skipped_file_later);
	tcase_add_test(tc, test_read_ahead_large_folder);
	tcase_add_test(tc, test_rbuf_chunks);
	tcase_add_test(tc, test_rbuf_read);
	tcase_add_test(tc, test_repeated_content_memory);
	tcase_add_test(tc, test_read_fd_sizes);
	tcase_add_test(tc, test_forged_pack_refused);
	tcase_add_test(tc, test_migrate_v3);
	tcase_add_test(tc, test_migrate_v3_damaged);
	tcase_add_test(tc, test_records_roundtrip);
	tcase_add_test(tc, test_records_extremes);
	tcase_add_test(tc, test_crafted_names);
	tcase_add_test(tc, test_pack_order);
	tcase_add_test(tc, test_parse_time);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
