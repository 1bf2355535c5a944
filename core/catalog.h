/*
 * catalog.h - hiwater's state catalog: one SQLite database in the state
 * directory (never in the store). WAL mode, foreign keys on, a schema version
 * per module, prepared statements cached per connection, batched
 * transactions.
 *
 * core owns the shared tables: folder (what a folder looked like when it was
 * last indexed) and message (one row per message file of a folder). Each
 * module owns its own tables and migrates them with hw_catalog_migrate():
 *
 *   static const char *const steps[] = { "CREATE TABLE snap(...)", ... };
 *   hw_catalog_migrate(cat, "snapshot", steps, 2, err);
 *
 * steps[i] takes the module's schema from version i to i+1 and runs in one
 * transaction with the version bump. A database whose version for a module is
 * newer than the code knows is refused.
 *
 * A catalog handle is used by one thread at a time (workers hand results to
 * the thread that owns it).
 *
 * Durability: commits run with synchronous=NORMAL (WAL): a power cut may lose
 * the last commits, never the database's consistency. That is fine for the
 * cache tables (folder, message): the next index run rebuilds them. Snapshot
 * metadata exists nowhere else, so a module committing it wraps the
 * transaction in hw_catalog_set_durable(cat, true, ...) / (cat, false, ...).
 *
 * Errors from SQLite read "sqlite(what) failed: <sqlite message> (<db path>)";
 * err->errnum is the errno behind an I/O failure (ENOSPC, EIO), EBADMSG when
 * the file is damaged or not a database (the caller may move it aside and
 * rebuild), 0 otherwise.
 *
 * core's schema (module "core"); column names are the struct field names
 * ("from" and "to" are SQL keywords: quote them):
 *   folder(id INTEGER PRIMARY KEY, relpath TEXT UNIQUE, dir_mtime_ns, ...,
 *          indexed_at)
 *   message(folder_id REFERENCES folder(id) ON DELETE CASCADE, file, uid,
 *           flags, size, date, mtime_ns, ino, "from", "to", subject,
 *           message_id, in_reply_to, hash BLOB(16) or NULL,
 *           PRIMARY KEY (folder_id, file)) WITHOUT ROWID
 *   indexes on message(message_id) and message(hash)
 */
#ifndef HW_CATALOG_H
#define HW_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "error.h"

#define HW_CATALOG_NAME "catalog.db"

struct hw_catalog;

/* open (creating, mode 0600) STATEDIR/catalog.db and migrate core's tables;
   the state dir must exist. -1 on error (errnum EBADMSG: not a database) */
int hw_catalog_open(const char *statedir, struct hw_catalog **cat_r, struct hw_error *err);
void hw_catalog_free(struct hw_catalog **cat);
sqlite3 *hw_catalog_db(struct hw_catalog *cat);
const char *hw_catalog_path(const struct hw_catalog *cat);

int hw_catalog_exec(struct hw_catalog *cat, const char *sql, struct hw_error *err);
/* cached prepared statement (reset and bindings cleared before returning).
   The cache is keyed by the SQL text: a second prepare of the same text
   resets the statement, so do not nest two uses of one statement. */
int hw_catalog_prepare(struct hw_catalog *cat, const char *sql, sqlite3_stmt **st_r,
		       struct hw_error *err);
/* error from the last sqlite call: "sqlite(what) failed: message (path)";
   returns -1 */
int hw_catalog_error(struct hw_catalog *cat, const char *what, struct hw_error *err);

int hw_catalog_begin(struct hw_catalog *cat, struct hw_error *err);   /* BEGIN IMMEDIATE */
int hw_catalog_commit(struct hw_catalog *cat, struct hw_error *err);
void hw_catalog_rollback(struct hw_catalog *cat);   /* no-op outside a transaction */
/* synchronous=FULL (true) or NORMAL (false, the default); see above. Call it
   outside a transaction. */
int hw_catalog_set_durable(struct hw_catalog *cat, bool durable, struct hw_error *err);

/* run the steps the module's version lacks (each in its own transaction
   with its version bump); 1 ok (also when up to date), -1 error, including
   a version newer than nsteps (err says to upgrade hiwater). Call it outside
   a transaction. */
int hw_catalog_migrate(struct hw_catalog *cat, const char *module,
		       const char *const *steps, size_t nsteps, struct hw_error *err);
/* PRAGMA integrity_check and foreign_key_check: 1 ok, 0 corrupt (err says
   what), -1 error */
int hw_catalog_check(struct hw_catalog *cat, struct hw_error *err);

/* ---- shared tables ---- */
struct hw_cat_folder {
	int64_t id;              /* 0 until stored */
	char *relpath;
	int64_t dir_mtime_ns;    /* folder directory mtime when indexed */
	int64_t dir_entries;     /* entries in it then */
	int64_t dir_ino;
	int64_t mrk_ino;         /* IMAP.MRK identity as written/accepted */
	int64_t mrk_size;
	int64_t mrk_mtime_ns;
	uint32_t uidvalidity;
	uint32_t uidnext;
	int64_t messages;        /* message files */
	int64_t bytes;           /* their total size */
	int64_t indexed_at;      /* unix seconds */
};
struct hw_cat_message {
	char *file;              /* "md50000000001.msg" */
	uint32_t uid;            /* 0 if none */
	uint8_t flags;
	int64_t size;
	int64_t date;            /* arrival, unix seconds */
	int64_t mtime_ns;
	int64_t ino;
	char *from, *to, *subject, *message_id, *in_reply_to;  /* may be NULL */
	bool has_hash;
	uint8_t hash[16];        /* XXH3-128, big-endian canonical form */
};

void hw_cat_folder_release(struct hw_cat_folder *f);
void hw_cat_message_release(struct hw_cat_message *m);
void hw_cat_messages_free(struct hw_cat_message *v, size_t n);

/* 1 found, 0 absent, -1 error */
int hw_catalog_folder_get(struct hw_catalog *cat, const char *relpath,
			  struct hw_cat_folder *f, struct hw_error *err);
/* insert or update by relpath; sets f->id; -1 or 1 */
int hw_catalog_folder_put(struct hw_catalog *cat, struct hw_cat_folder *f, struct hw_error *err);
/* delete one folder row (its messages go with it; subfolders stay);
   1 deleted, 0 absent, -1 error */
int hw_catalog_folder_delete(struct hw_catalog *cat, const char *relpath, struct hw_error *err);
/* the folder prefix and all folders below it ("" or NULL for all), sorted by
   relpath; "a.com/bob" lists "a.com/bob" and "a.com/bob/X.IMAP", not
   "a.com/bobby" */
int hw_catalog_folders_list(struct hw_catalog *cat, const char *prefix,
			    struct hw_cat_folder **v_r, size_t *n_r, struct hw_error *err);
void hw_cat_folders_free(struct hw_cat_folder *v, size_t n);

/* replace all message rows of a folder (in the caller's transaction; all or
   nothing: a savepoint undoes a partial replacement) */
int hw_catalog_messages_put(struct hw_catalog *cat, int64_t folder_id,
			    const struct hw_cat_message *v, size_t n, struct hw_error *err);
/* all messages of a folder, sorted by file name */
int hw_catalog_messages_get(struct hw_catalog *cat, int64_t folder_id,
			    struct hw_cat_message **v_r, size_t *n_r, struct hw_error *err);
/* set the content hash of one message (NULL clears it); 1 set, 0 no such
   message, -1 error */
int hw_catalog_message_set_hash(struct hw_catalog *cat, int64_t folder_id, const char *file,
				const uint8_t hash[16], struct hw_error *err);

#endif
