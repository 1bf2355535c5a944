/* catalog.c - the state catalog in SQLite (see catalog.h) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/stat.h>

#include "catalog.h"
#include "io.h"
#include "util.h"

/* cached prepared statements, keyed by their SQL text */
struct stmt_entry {
	struct stmt_entry *next;
	char *sql;
	sqlite3_stmt *st;
};
#define STMT_BUCKETS 64

struct hw_catalog {
	sqlite3 *db;
	char *path;
	struct stmt_entry *stmts[STMT_BUCKETS];
};

/*
 * core's own schema. Column names are the struct field names (quote "from"
 * and "to" in SQL: they are keywords). message is clustered by
 * (folder_id, file) so that one folder's rows are read in one sweep.
 */
static const char *const core_steps[] = {
	/* 0 -> 1 */
	"CREATE TABLE folder ("
	" id INTEGER PRIMARY KEY,"
	" relpath TEXT NOT NULL UNIQUE,"
	" dir_mtime_ns INTEGER NOT NULL DEFAULT 0,"
	" dir_entries INTEGER NOT NULL DEFAULT 0,"
	" dir_ino INTEGER NOT NULL DEFAULT 0,"
	" mrk_ino INTEGER NOT NULL DEFAULT 0,"
	" mrk_size INTEGER NOT NULL DEFAULT 0,"
	" mrk_mtime_ns INTEGER NOT NULL DEFAULT 0,"
	" uidvalidity INTEGER NOT NULL DEFAULT 0,"
	" uidnext INTEGER NOT NULL DEFAULT 0,"
	" messages INTEGER NOT NULL DEFAULT 0,"
	" bytes INTEGER NOT NULL DEFAULT 0,"
	" indexed_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE message ("
	" folder_id INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,"
	" file TEXT NOT NULL,"
	" uid INTEGER NOT NULL DEFAULT 0,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" size INTEGER NOT NULL DEFAULT 0,"
	" date INTEGER NOT NULL DEFAULT 0,"
	" mtime_ns INTEGER NOT NULL DEFAULT 0,"
	" ino INTEGER NOT NULL DEFAULT 0,"
	" \"from\" TEXT, \"to\" TEXT, subject TEXT, message_id TEXT, in_reply_to TEXT,"
	" hash BLOB CHECK (hash IS NULL OR length(hash) = 16),"
	" PRIMARY KEY (folder_id, file)) WITHOUT ROWID;"
	"CREATE INDEX message_message_id ON message(message_id);"
	"CREATE INDEX message_hash ON message(hash);",
};

static unsigned stmt_hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % STMT_BUCKETS;
}

int hw_catalog_error(struct hw_catalog *cat, const char *what, struct hw_error *err)
{
	int rc = sqlite3_errcode(cat->db);
	int primary = rc & 0xff;
	int errnum = 0;

	/* the errno behind an I/O failure (ENOSPC, EIO) helps the operator */
	if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL)
		errnum = sqlite3_system_errno(cat->db);
	if (errnum == 0 && primary == SQLITE_FULL)
		errnum = ENOSPC;
	/* lets a caller tell a damaged catalog (rebuild it) from a failure */
	if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
		errnum = EBADMSG;
	return hw_error_set(err, errnum, "sqlite(%s) failed: %s (%s)", what,
			    sqlite3_errmsg(cat->db), cat->path);
}

sqlite3 *hw_catalog_db(struct hw_catalog *cat)
{
	return cat->db;
}

const char *hw_catalog_path(const struct hw_catalog *cat)
{
	return cat->path;
}

int hw_catalog_exec(struct hw_catalog *cat, const char *sql, struct hw_error *err)
{
	if (sqlite3_exec(cat->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return hw_catalog_error(cat, sql, err);
	return 1;
}

int hw_catalog_prepare(struct hw_catalog *cat, const char *sql, sqlite3_stmt **st_r,
		       struct hw_error *err)
{
	unsigned h = stmt_hash(sql);
	struct stmt_entry *e;
	sqlite3_stmt *st;

	*st_r = NULL;
	for (e = cat->stmts[h]; e != NULL; e = e->next) {
		if (strcmp(e->sql, sql) == 0) {
			sqlite3_reset(e->st);
			sqlite3_clear_bindings(e->st);
			*st_r = e->st;
			return 1;
		}
	}
	if (sqlite3_prepare_v3(cat->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		return hw_catalog_error(cat, "prepare", err);
	if (st == NULL)   /* empty SQL: nothing to cache or run */
		return hw_error_set(err, EINVAL, "sqlite(prepare) failed: empty statement (%s)",
				    cat->path);
	e = hw_calloc(1, sizeof(*e));
	e->sql = hw_strdup(sql);
	e->st = st;
	e->next = cat->stmts[h];
	cat->stmts[h] = e;
	*st_r = st;
	return 1;
}

int hw_catalog_begin(struct hw_catalog *cat, struct hw_error *err)
{
	if (sqlite3_exec(cat->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return hw_catalog_error(cat, "begin", err);
	return 1;
}

int hw_catalog_commit(struct hw_catalog *cat, struct hw_error *err)
{
	if (sqlite3_exec(cat->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return hw_catalog_error(cat, "commit", err);
	return 1;
}

void hw_catalog_rollback(struct hw_catalog *cat)
{
	if (cat != NULL && !sqlite3_get_autocommit(cat->db))
		sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
}

int hw_catalog_set_durable(struct hw_catalog *cat, bool durable, struct hw_error *err)
{
	return hw_catalog_exec(cat, durable ? "PRAGMA synchronous=FULL" :
			       "PRAGMA synchronous=NORMAL", err);
}

/* version of module, 0 when it has none yet; -1 on error */
static int64_t schema_version_get(struct hw_catalog *cat, const char *module,
				  struct hw_error *err)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if (hw_catalog_prepare(cat, "SELECT version FROM schema_version WHERE module = ?1",
			       &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		v = hw_catalog_error(cat, "select schema_version", err);
	sqlite3_reset(st);
	return v;
}

int hw_catalog_migrate(struct hw_catalog *cat, const char *module,
		       const char *const *steps, size_t nsteps, struct hw_error *err)
{
	sqlite3_stmt *st;

	for (;;) {
		int64_t v;
		char what[128];

		/* the version is read inside the write transaction, so that two
		   processes opening a new catalog cannot both run a step */
		if (hw_catalog_begin(cat, err) < 0)
			return -1;
		v = schema_version_get(cat, module, err);
		if (v < 0)
			goto fail;
		if ((uint64_t)v > nsteps) {
			hw_error_set(err, EPROTO, "%s: schema of module '%s' is version %" PRId64
				     ", newer than this hiwater knows (%zu): upgrade hiwater or use "
				     "another state directory", cat->path, module, v, nsteps);
			goto fail;
		}
		if ((uint64_t)v == nsteps) {
			hw_catalog_rollback(cat);   /* nothing written */
			return 1;
		}
		snprintf(what, sizeof(what), "migrate %s to version %" PRId64, module, v + 1);
		if (sqlite3_exec(cat->db, steps[v], NULL, NULL, NULL) != SQLITE_OK) {
			hw_catalog_error(cat, what, err);
			goto fail;
		}
		if (hw_catalog_prepare(cat, "INSERT INTO schema_version(module, version) "
				       "VALUES (?1, ?2) ON CONFLICT(module) DO UPDATE SET "
				       "version = excluded.version", &st, err) < 0)
			goto fail;
		sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, v + 1);
		if (sqlite3_step(st) != SQLITE_DONE) {
			hw_catalog_error(cat, what, err);
			sqlite3_reset(st);
			goto fail;
		}
		sqlite3_reset(st);
		if (hw_catalog_commit(cat, err) < 0)
			goto fail;
	}
fail:
	hw_catalog_rollback(cat);
	return -1;
}

/*
 * Create the database file ourselves: SQLite would create it 0644 (minus
 * umask), and it holds mail metadata (senders, subjects). SQLite gives the
 * -wal and -shm files the mode of the database file.
 */
static int catalog_file_create(const char *path, struct hw_error *err)
{
	struct stat st;
	int fd;

	fd = hw_io_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return hw_error_sys(err, "open", path);
	if (fstat(fd, &st) < 0) {
		hw_error_sys(err, "stat", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return hw_error_set(err, EINVAL, "%s is not a regular file", path);
	}
	if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) < 0) {
		hw_error_sys(err, "chmod", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 1;
}

int hw_catalog_open(const char *statedir, struct hw_catalog **cat_r, struct hw_error *err)
{
	struct hw_catalog *cat = hw_calloc(1, sizeof(*cat));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

#ifdef SQLITE_OPEN_NOFOLLOW
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	*cat_r = NULL;
	cat->path = hw_path_join(statedir, HW_CATALOG_NAME);
	if (catalog_file_create(cat->path, err) < 0)
		goto fail;
	if (sqlite3_open_v2(cat->path, &cat->db, flags, NULL) != SQLITE_OK) {
		if (cat->db == NULL) {
			hw_error_set(err, ENOMEM, "sqlite(open) failed: out of memory (%s)",
				     cat->path);
			goto fail;
		}
		hw_catalog_error(cat, "open", err);
		goto fail;
	}
	sqlite3_extended_result_codes(cat->db, 1);
	sqlite3_busy_timeout(cat->db, 10000);
	/*
	 * WAL with synchronous=NORMAL: a commit is not fsynced, so a power cut
	 * may lose the last transactions but never corrupts the database. That
	 * is safe here because the catalog is a cache of what the store and the
	 * snapshot packs say; whatever is lost is rebuilt by the next index run.
	 * The exception is snapshot metadata, which exists nowhere else: a
	 * module committing a snapshot calls hw_catalog_set_durable(cat, true)
	 * around that transaction (synchronous=FULL fsyncs the WAL on commit).
	 * journal_mode is checked because it is the first statement that reads
	 * the file: a file that is not a database fails here.
	 */
	if (hw_catalog_exec(cat, "PRAGMA journal_mode=WAL", err) < 0 ||
	    hw_catalog_exec(cat, "PRAGMA synchronous=NORMAL", err) < 0 ||
	    hw_catalog_exec(cat, "PRAGMA foreign_keys=ON", err) < 0 ||
	    /* savepoints (messages_put) keep statement journals; in memory
	       they cost nothing, on disk they were most of an index run's
	       writes. 16 MB of page cache keeps a batch's index pages hot. */
	    hw_catalog_exec(cat, "PRAGMA temp_store=MEMORY", err) < 0 ||
	    hw_catalog_exec(cat, "PRAGMA cache_size=-16384", err) < 0 ||
	    hw_catalog_exec(cat, "CREATE TABLE IF NOT EXISTS schema_version ("
			    "module TEXT PRIMARY KEY, version INTEGER NOT NULL)", err) < 0)
		goto fail;
	if (hw_catalog_migrate(cat, "core", core_steps,
			       sizeof(core_steps) / sizeof(core_steps[0]), err) < 0)
		goto fail;
	*cat_r = cat;
	return 1;
fail:
	hw_catalog_free(&cat);
	return -1;
}

void hw_catalog_free(struct hw_catalog **catp)
{
	struct hw_catalog *cat = *catp;

	if (cat == NULL)
		return;
	*catp = NULL;
	for (size_t i = 0; i < STMT_BUCKETS; i++) {
		struct stmt_entry *e = cat->stmts[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			sqlite3_finalize(e->st);
			free(e->sql);
			free(e);
		}
	}
	if (cat->db != NULL) {
		hw_catalog_rollback(cat);
		sqlite3_close_v2(cat->db);
	}
	free(cat->path);
	free(cat);
}

/* collect the rows of a check pragma into err; count returned */
static int check_rows(struct hw_catalog *cat, const char *sql, bool fk, struct hw_buf *b,
		      struct hw_error *err)
{
	sqlite3_stmt *st;
	int rc, n = 0;

	if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK)
		return hw_catalog_error(cat, sql, err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!fk) {
			const char *s = (const char *)sqlite3_column_text(st, 0);
			if (s != NULL && strcmp(s, "ok") == 0)
				continue;
			if (n < 5)
				hw_buf_addf(b, "%s%s", b->len > 0 ? "; " : "", s ? s : "?");
		} else if (n < 5) {
			const char *t = (const char *)sqlite3_column_text(st, 0);
			const char *p = (const char *)sqlite3_column_text(st, 2);
			hw_buf_addf(b, "%sforeign key violation in %s (row %lld) -> %s",
				    b->len > 0 ? "; " : "", t ? t : "?",
				    (long long)sqlite3_column_int64(st, 1), p ? p : "?");
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		int primary = sqlite3_errcode(cat->db) & 0xff;
		hw_catalog_error(cat, sql, err);
		sqlite3_finalize(st);
		/* the check itself tripping over damage is a verdict, not a failure */
		return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? -2 : -1;
	}
	sqlite3_finalize(st);
	return n;
}

int hw_catalog_check(struct hw_catalog *cat, struct hw_error *err)
{
	struct hw_buf b;
	int n, ret = 1;

	hw_buf_init(&b);
	n = check_rows(cat, "PRAGMA integrity_check", false, &b, err);
	if (n >= 0) {
		int m = check_rows(cat, "PRAGMA foreign_key_check", true, &b, err);
		n = m < 0 ? m : n + m;
	}
	if (n == -2) {
		ret = 0;   /* err already says what */
	} else if (n < 0) {
		ret = -1;
	} else if (n > 0) {
		hw_error_set(err, EIO, "%s is corrupt: %s%s", cat->path, b.data,
			     n > 5 ? " ..." : "");
		ret = 0;
	}
	hw_buf_release(&b);
	return ret;
}

/* ---- folders ---- */

#define FOLDER_COLS "id, relpath, dir_mtime_ns, dir_entries, dir_ino, mrk_ino, mrk_size, " \
	"mrk_mtime_ns, uidvalidity, uidnext, messages, bytes, indexed_at"

void hw_cat_folder_release(struct hw_cat_folder *f)
{
	if (f == NULL)
		return;
	free(f->relpath);
	memset(f, 0, sizeof(*f));
}

void hw_cat_folders_free(struct hw_cat_folder *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hw_cat_folder_release(&v[i]);
	free(v);
}

static void folder_from_row(sqlite3_stmt *st, struct hw_cat_folder *f)
{
	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(st, 0);
	f->relpath = hw_strdup((const char *)sqlite3_column_text(st, 1));
	f->dir_mtime_ns = sqlite3_column_int64(st, 2);
	f->dir_entries = sqlite3_column_int64(st, 3);
	f->dir_ino = sqlite3_column_int64(st, 4);
	f->mrk_ino = sqlite3_column_int64(st, 5);
	f->mrk_size = sqlite3_column_int64(st, 6);
	f->mrk_mtime_ns = sqlite3_column_int64(st, 7);
	f->uidvalidity = (uint32_t)sqlite3_column_int64(st, 8);
	f->uidnext = (uint32_t)sqlite3_column_int64(st, 9);
	f->messages = sqlite3_column_int64(st, 10);
	f->bytes = sqlite3_column_int64(st, 11);
	f->indexed_at = sqlite3_column_int64(st, 12);
}

int hw_catalog_folder_get(struct hw_catalog *cat, const char *relpath,
			  struct hw_cat_folder *f, struct hw_error *err)
{
	sqlite3_stmt *st;
	int rc, ret;

	if (hw_catalog_prepare(cat, "SELECT " FOLDER_COLS " FROM folder WHERE relpath = ?1",
			       &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, relpath, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		folder_from_row(st, f);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		ret = hw_catalog_error(cat, "select folder", err);
	}
	sqlite3_reset(st);
	return ret;
}

int hw_catalog_folder_put(struct hw_catalog *cat, struct hw_cat_folder *f, struct hw_error *err)
{
	sqlite3_stmt *st;
	int ret = 1;

	/* an upsert, never INSERT OR REPLACE: a replace deletes the row first
	   and the delete would cascade to the folder's messages */
	if (hw_catalog_prepare(cat, "INSERT INTO folder(relpath, dir_mtime_ns, dir_entries, "
			       "dir_ino, mrk_ino, mrk_size, mrk_mtime_ns, uidvalidity, uidnext, "
			       "messages, bytes, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			       "?8, ?9, ?10, ?11, ?12) ON CONFLICT(relpath) DO UPDATE SET "
			       "dir_mtime_ns = ?2, dir_entries = ?3, dir_ino = ?4, mrk_ino = ?5, "
			       "mrk_size = ?6, mrk_mtime_ns = ?7, uidvalidity = ?8, uidnext = ?9, "
			       "messages = ?10, bytes = ?11, indexed_at = ?12 RETURNING id",
			       &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, f->relpath, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, f->dir_mtime_ns);
	sqlite3_bind_int64(st, 3, f->dir_entries);
	sqlite3_bind_int64(st, 4, f->dir_ino);
	sqlite3_bind_int64(st, 5, f->mrk_ino);
	sqlite3_bind_int64(st, 6, f->mrk_size);
	sqlite3_bind_int64(st, 7, f->mrk_mtime_ns);
	sqlite3_bind_int64(st, 8, f->uidvalidity);
	sqlite3_bind_int64(st, 9, f->uidnext);
	sqlite3_bind_int64(st, 10, f->messages);
	sqlite3_bind_int64(st, 11, f->bytes);
	sqlite3_bind_int64(st, 12, f->indexed_at);
	if (sqlite3_step(st) != SQLITE_ROW) {
		ret = hw_catalog_error(cat, "upsert folder", err);
		sqlite3_reset(st);
		return ret;
	}
	f->id = sqlite3_column_int64(st, 0);
	/* RETURNING rows are produced before the write completes: step to the end */
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = hw_catalog_error(cat, "upsert folder", err);
	sqlite3_reset(st);
	return ret;
}

int hw_catalog_folder_delete(struct hw_catalog *cat, const char *relpath, struct hw_error *err)
{
	sqlite3_stmt *st;
	int ret;

	if (hw_catalog_prepare(cat, "DELETE FROM folder WHERE relpath = ?1", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, relpath, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = hw_catalog_error(cat, "delete folder", err);
	else
		ret = sqlite3_changes(cat->db) > 0 ? 1 : 0;
	sqlite3_reset(st);
	return ret;
}

int hw_catalog_folders_list(struct hw_catalog *cat, const char *prefix,
			    struct hw_cat_folder **v_r, size_t *n_r, struct hw_error *err)
{
	struct hw_cat_folder *v = NULL;
	size_t n = 0, cap = 0, plen;
	char *lo = NULL, *hi = NULL;
	sqlite3_stmt *st;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (prefix == NULL)
		prefix = "";
	plen = strlen(prefix);
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if (plen == 0) {
		if (hw_catalog_prepare(cat, "SELECT " FOLDER_COLS " FROM folder ORDER BY relpath",
				       &st, err) < 0)
			return -1;
	} else {
		/* "p" itself and everything in ["p/", "p0"): '0' follows '/' in
		   byte order, so "p.x" or "pq" (a sibling) is never included; a
		   range instead of LIKE so that '%' and '_' in names are plain */
		if (hw_catalog_prepare(cat, "SELECT " FOLDER_COLS " FROM folder WHERE relpath = ?1"
				       " OR (relpath >= ?2 AND relpath < ?3) ORDER BY relpath",
				       &st, err) < 0)
			return -1;
		lo = hw_asprintf("%.*s/", (int)plen, prefix);
		hi = hw_asprintf("%.*s0", (int)plen, prefix);
		sqlite3_bind_text(st, 1, prefix, (int)plen, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		HW_GROW(v, cap, n + 1);
		folder_from_row(st, &v[n++]);
	}
	if (rc != SQLITE_DONE) {
		hw_catalog_error(cat, "select folders", err);
		sqlite3_reset(st);
		hw_cat_folders_free(v, n);
		free(lo);
		free(hi);
		return -1;
	}
	sqlite3_reset(st);
	free(lo);
	free(hi);
	*v_r = v;
	*n_r = n;
	return 1;
}

/* ---- messages ---- */

void hw_cat_message_release(struct hw_cat_message *m)
{
	if (m == NULL)
		return;
	free(m->file);
	free(m->from);
	free(m->to);
	free(m->subject);
	free(m->message_id);
	free(m->in_reply_to);
	memset(m, 0, sizeof(*m));
}

void hw_cat_messages_free(struct hw_cat_message *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hw_cat_message_release(&v[i]);
	free(v);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static char *column_text_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	if (sqlite3_column_type(st, i) == SQLITE_NULL || s == NULL)
		return NULL;
	return hw_strndup((const char *)s, (size_t)sqlite3_column_bytes(st, i));
}

int hw_catalog_messages_put(struct hw_catalog *cat, int64_t folder_id,
			    const struct hw_cat_message *v, size_t n, struct hw_error *err)
{
	sqlite3_stmt *del, *ins;

	/* a savepoint makes the replacement all-or-nothing, inside the
	   caller's transaction or (without one) as its own */
	if (hw_catalog_exec(cat, "SAVEPOINT hw_messages_put", err) < 0)
		return -1;
	if (hw_catalog_prepare(cat, "DELETE FROM message WHERE folder_id = ?1", &del, err) < 0)
		goto fail;
	sqlite3_bind_int64(del, 1, folder_id);
	if (sqlite3_step(del) != SQLITE_DONE) {
		hw_catalog_error(cat, "delete messages", err);
		sqlite3_reset(del);
		goto fail;
	}
	sqlite3_reset(del);
	if (hw_catalog_prepare(cat, "INSERT INTO message(folder_id, file, uid, flags, size, date, "
			       "mtime_ns, ino, \"from\", \"to\", subject, message_id, in_reply_to, "
			       "hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
			       "?13, ?14)", &ins, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct hw_cat_message *m = &v[i];
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, folder_id);
		sqlite3_bind_text(ins, 2, m->file, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, m->uid);
		sqlite3_bind_int64(ins, 4, m->flags);
		sqlite3_bind_int64(ins, 5, m->size);
		sqlite3_bind_int64(ins, 6, m->date);
		sqlite3_bind_int64(ins, 7, m->mtime_ns);
		sqlite3_bind_int64(ins, 8, m->ino);
		bind_text_or_null(ins, 9, m->from);
		bind_text_or_null(ins, 10, m->to);
		bind_text_or_null(ins, 11, m->subject);
		bind_text_or_null(ins, 12, m->message_id);
		bind_text_or_null(ins, 13, m->in_reply_to);
		if (m->has_hash)
			sqlite3_bind_blob(ins, 14, m->hash, 16, SQLITE_STATIC);
		else
			sqlite3_bind_null(ins, 14);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			char what[64 + HW_ERROR_MAX / 4];
			snprintf(what, sizeof(what), "insert message %.200s", m->file ? m->file : "?");
			hw_catalog_error(cat, what, err);
			sqlite3_reset(ins);
			goto fail;
		}
	}
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);   /* drop the pointers into the caller's v */
	if (hw_catalog_exec(cat, "RELEASE hw_messages_put", err) < 0)
		goto fail;
	return 1;
fail:
	sqlite3_exec(cat->db, "ROLLBACK TO hw_messages_put; RELEASE hw_messages_put",
		     NULL, NULL, NULL);
	return -1;
}

int hw_catalog_messages_get(struct hw_catalog *cat, int64_t folder_id,
			    struct hw_cat_message **v_r, size_t *n_r, struct hw_error *err)
{
	struct hw_cat_message *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (hw_catalog_prepare(cat, "SELECT file, uid, flags, size, date, mtime_ns, ino, \"from\", "
			       "\"to\", subject, message_id, in_reply_to, hash FROM message "
			       "WHERE folder_id = ?1 ORDER BY file", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct hw_cat_message *m;
		HW_GROW(v, cap, n + 1);
		m = &v[n++];
		memset(m, 0, sizeof(*m));
		m->file = column_text_dup(st, 0);
		if (m->file == NULL)
			m->file = hw_strdup("");
		m->uid = (uint32_t)sqlite3_column_int64(st, 1);
		m->flags = (uint8_t)sqlite3_column_int64(st, 2);
		m->size = sqlite3_column_int64(st, 3);
		m->date = sqlite3_column_int64(st, 4);
		m->mtime_ns = sqlite3_column_int64(st, 5);
		m->ino = sqlite3_column_int64(st, 6);
		m->from = column_text_dup(st, 7);
		m->to = column_text_dup(st, 8);
		m->subject = column_text_dup(st, 9);
		m->message_id = column_text_dup(st, 10);
		m->in_reply_to = column_text_dup(st, 11);
		if (sqlite3_column_type(st, 12) == SQLITE_BLOB &&
		    sqlite3_column_bytes(st, 12) == 16) {
			memcpy(m->hash, sqlite3_column_blob(st, 12), 16);
			m->has_hash = true;
		}
	}
	if (rc != SQLITE_DONE) {
		hw_catalog_error(cat, "select messages", err);
		sqlite3_reset(st);
		hw_cat_messages_free(v, n);
		return -1;
	}
	sqlite3_reset(st);
	*v_r = v;
	*n_r = n;
	return 1;
}

int hw_catalog_message_set_hash(struct hw_catalog *cat, int64_t folder_id, const char *file,
				const uint8_t hash[16], struct hw_error *err)
{
	sqlite3_stmt *st;
	int ret;

	if (hw_catalog_prepare(cat, "UPDATE message SET hash = ?3 WHERE folder_id = ?1 "
			       "AND file = ?2", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
	if (hash != NULL)
		sqlite3_bind_blob(st, 3, hash, 16, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	if (sqlite3_step(st) != SQLITE_DONE)
		ret = hw_catalog_error(cat, "update message hash", err);
	else
		ret = sqlite3_changes(cat->db) > 0 ? 1 : 0;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}
