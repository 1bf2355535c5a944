/* find.c - hiwater find: messages across every snapshot, and whether each is
   still in the live store */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snap-int.h"

/* the live folder last looked at, kept open across consecutive rows */
struct live_cache {
	const struct hw_store *st;
	char *relpath;
	int fd;                     /* -1: folder absent */
	struct hw_dir d;
	bool listed;
};

static void live_release(struct live_cache *lc)
{
	if (lc->fd >= 0)
		close(lc->fd);
	lc->fd = -1;
	free(lc->relpath);
	lc->relpath = NULL;
	hw_dir_release(&lc->d);
	lc->listed = false;
}

static bool hash_file(int dirfd, const char *name, const uint8_t want[16])
{
	struct hw_error err;
	struct hw_hash h;
	uint64_t size;
	int fd = hw_open_regular(dirfd, name, name, NULL, &err);
	bool same;

	if (fd < 0)
		return false;
	same = hw_hash_fd(fd, name, &h, &size, &err) >= 0 && memcmp(h.b, want, 16) == 0;
	close(fd);
	return same;
}

/* Is the message (same content) in that live folder now? Same name and size
   is taken as yes (message files never change after delivery); otherwise any
   file of the same size whose content hash matches (a restored copy under a
   new name) */
static bool live_present(struct live_cache *lc, const char *relpath, const char *file,
			 uint64_t size, const uint8_t hash[16])
{
	struct hw_error err;
	struct stat sb;

	if (lc->st == NULL)
		return false;
	if (lc->relpath == NULL || strcmp(lc->relpath, relpath) != 0) {
		live_release(lc);
		lc->relpath = hw_strdup(relpath);
		lc->fd = hw_store_open_folder(lc->st, relpath, &err);
	}
	if (lc->fd < 0)
		return false;
	if (fstatat(lc->fd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
	    (uint64_t)sb.st_size == size)
		return true;
	if (!lc->listed) {
		if (hw_dir_read(lc->fd, relpath, true, &lc->d, &err) < 0)
			return false;
		lc->listed = true;
	}
	for (size_t i = 0; i < lc->d.n; i++)
		if (lc->d.v[i].kind == HW_ENTRY_MESSAGE && (uint64_t)lc->d.v[i].st.st_size == size &&
		    hash_file(lc->fd, lc->d.v[i].name, hash))
			return true;
	return false;
}

/* Does some snapshot hold this live message: the same name and size in that
   folder, or the same content there under another name (a restored copy)?
   Without a content hash from the index, a snapshot copy with the same
   Message-ID and size in that folder is compared by hashing the live file. */
static int held_by_snapshot(struct snap_repo *r, struct live_cache *lc, const char *file,
			    int64_t size, const uint8_t *hash, const char *message_id,
			    bool *held_r, struct hw_error *err)
{
	static const char *const sql[] = {
		"SELECT f.hash FROM snap_path p JOIN snap_file f ON f.path_id = p.id"
		" WHERE p.relpath = ?1 AND f.name = ?2 AND f.size = ?3"
		" AND EXISTS (SELECT 1 FROM snap_member m JOIN snap_sfolder sf"
		"  ON sf.fver_id = m.fver_id WHERE m.file_id = f.id) LIMIT 1",
		"SELECT f.hash FROM snap_path p JOIN snap_file f ON f.path_id = p.id"
		" WHERE p.relpath = ?1 AND f.hash = ?4"
		" AND EXISTS (SELECT 1 FROM snap_member m JOIN snap_sfolder sf"
		"  ON sf.fver_id = m.fver_id WHERE m.file_id = f.id) LIMIT 1",
		"SELECT f.hash FROM snap_file f JOIN snap_path p ON p.id = f.path_id"
		" WHERE f.msgid_h = snap_msgid_h(?5) AND f.message_id = ?5 AND p.relpath = ?1"
		" AND f.size = ?3"
		" AND EXISTS (SELECT 1 FROM snap_member m JOIN snap_sfolder sf"
		"  ON sf.fver_id = m.fver_id WHERE m.file_id = f.id)",
	};

	*held_r = false;
	for (size_t i = 0; i < 3 && !*held_r; i++) {
		sqlite3_stmt *s;
		int rc;

		if ((i == 1 && hash == NULL) || (i == 2 && (hash != NULL || message_id == NULL)))
			continue;
		s = snap_stmt(r, sql[i], err);
		if (s == NULL)
			return -1;
		sqlite3_bind_text(s, 1, lc->relpath, -1, SQLITE_STATIC);
		if (i == 0)
			sqlite3_bind_text(s, 2, file, -1, SQLITE_STATIC);
		if (i != 1)
			sqlite3_bind_int64(s, 3, size);
		if (i == 1)
			sqlite3_bind_blob(s, 4, hash, 16, SQLITE_STATIC);
		if (i == 2)
			sqlite3_bind_text(s, 5, message_id, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (i != 2) {
				*held_r = true;
				break;
			}
			if (sqlite3_column_bytes(s, 0) == 16 &&
			    hash_file(lc->fd, file, sqlite3_column_blob(s, 0))) {
				*held_r = true;
				break;
			}
		}
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return hw_catalog_error(r->cat, "find in snapshots", err);
	}
	return 0;
}

/* the message-id as given and in the other form ("<id>" / "id") */
static char *msgid_other(const char *id)
{
	size_t len = strlen(id);

	return id[0] == '<' && len >= 2 && id[len - 1] == '>' ? hw_strndup(id + 1, len - 2) :
	       hw_asprintf("<%s>", id);
}

/* Messages the state catalog lists in the live store that no snapshot holds:
   one indexed query on the indexer's message table (no walk of the store),
   each row checked against the file system (the index may be older) and
   against the repository. */
/* the WHERE terms both searches share (live store: message m, folder fo;
   snapshots: snap_file f, snap_path p); parameters ?2..?6 */
static void add_filters(struct hw_buf *sql, const struct snap_find_query *q,
			const char *t, const char *p)
{
	if (q->from != NULL)
		hw_buf_addf(sql, " AND instr(lower(%s.\"from\"), lower(?2)) > 0", t);
	if (q->subject != NULL)
		hw_buf_addf(sql, " AND instr(lower(%s.subject), lower(?3)) > 0", t);
	if (q->folder != NULL)
		hw_buf_addf(sql, " AND (%s.relpath = ?4 OR substr(%s.relpath, 1, length(?4) + 1)"
			    " = ?4 || '/')", p, p);
	if (q->has_since)
		hw_buf_addf(sql, " AND %s.date >= ?5", t);
	if (q->has_before)
		hw_buf_addf(sql, " AND %s.date < ?6", t);
}

static int find_live(struct snap_repo *r, const struct snap_find_query *q, struct live_cache *lc,
		     snap_find_fn *fn, void *ctx, int *n_r, struct hw_error *err)
{
	struct hw_buf sql;
	sqlite3_stmt *s = NULL;
	char *other = NULL;
	int rc, ret = -1;

	hw_buf_init(&sql);
	hw_buf_adds(&sql, "SELECT fo.relpath, m.file, m.uid, m.flags, m.size, m.date, m.\"from\","
		    " m.subject, m.message_id, m.hash FROM message m"
		    " JOIN folder fo ON fo.id = m.folder_id WHERE 1");
	if (q->message_id != NULL)
		hw_buf_adds(&sql, " AND m.message_id IN (?1, ?7)");
	add_filters(&sql, q, "m", "fo");
	hw_buf_adds(&sql, " ORDER BY m.date, fo.relpath, m.file");
	if (sqlite3_prepare_v2(hw_catalog_db(q->live_cat), sql.data, -1, &s, NULL) != SQLITE_OK) {
		hw_catalog_error(q->live_cat, "find in the live store", err);
		goto out;
	}
	if (q->message_id != NULL) {
		other = msgid_other(q->message_id);
		sqlite3_bind_text(s, 1, q->message_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, other, -1, SQLITE_STATIC);
	}
	if (q->from != NULL)
		sqlite3_bind_text(s, 2, q->from, -1, SQLITE_STATIC);
	if (q->subject != NULL)
		sqlite3_bind_text(s, 3, q->subject, -1, SQLITE_STATIC);
	if (q->folder != NULL)
		sqlite3_bind_text(s, 4, q->folder, -1, SQLITE_STATIC);
	if (q->has_since)
		sqlite3_bind_int64(s, 5, q->since);
	if (q->has_before)
		sqlite3_bind_int64(s, 6, q->before);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct snap_find_row row;
		const uint8_t *hash = NULL;
		struct stat sb;
		bool held = false;

		memset(&row, 0, sizeof(row));
		row.folder = (const char *)sqlite3_column_text(s, 0);
		row.file = (const char *)sqlite3_column_text(s, 1);
		row.uid = (uint32_t)sqlite3_column_int64(s, 2);
		row.flags = (uint8_t)sqlite3_column_int(s, 3);
		row.size = (uint64_t)sqlite3_column_int64(s, 4);
		row.date = sqlite3_column_int64(s, 5);
		row.from = (const char *)sqlite3_column_text(s, 6);
		row.subject = (const char *)sqlite3_column_text(s, 7);
		row.message_id = (const char *)sqlite3_column_text(s, 8);
		if (sqlite3_column_bytes(s, 9) == 16) {
			memcpy(row.hash.b, sqlite3_column_blob(s, 9), 16);
			hash = row.hash.b;
		}
		if (row.folder == NULL || row.file == NULL)
			continue;
		/* the index may be older than the store: only what is there now */
		if (lc->relpath == NULL || strcmp(lc->relpath, row.folder) != 0) {
			struct hw_error ferr;
			live_release(lc);
			lc->relpath = hw_strdup(row.folder);
			lc->fd = hw_store_open_folder(lc->st, row.folder, &ferr);
		}
		if (lc->fd < 0 || fstatat(lc->fd, row.file, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if ((uint64_t)sb.st_size != row.size) {
			row.size = (uint64_t)sb.st_size;
			hash = NULL;
		}
		if (r != NULL && held_by_snapshot(r, lc, row.file, (int64_t)row.size, hash,
						  row.message_id, &held, err) < 0)
			goto out;
		if (held)
			continue;   /* reported with its snapshots (or filtered out there) */
		row.present = true;
		(*n_r)++;
		if (fn(ctx, &row) != 0)
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		hw_catalog_error(q->live_cat, "find in the live store", err);
		goto out;
	}
	ret = 0;
out:
	if (s != NULL)
		sqlite3_finalize(s);
	free(other);
	hw_buf_release(&sql);
	return ret;
}

int snap_find(struct snap_repo *r, const struct snap_find_query *q, snap_find_fn *fn, void *ctx,
	      struct hw_error *err)
{
	bool stopped = false;
	struct hw_buf sql;
	struct live_cache lc = { .st = q->st, .fd = -1 };
	sqlite3_stmt *s = NULL, *ss;
	int n = 0, rc, ret = -1;

	hw_buf_init(&sql);
	hw_dir_init(&lc.d);
	if (r == NULL)
		goto live;
	hw_buf_adds(&sql, "SELECT f.id, p.relpath, f.name, f.size, f.date, f.\"from\", f.subject,"
		    " f.message_id, f.hash FROM snap_file f JOIN snap_path p ON p.id = f.path_id"
		    " WHERE f.kind = 1");
	if (q->message_id != NULL)
		hw_buf_adds(&sql, " AND f.msgid_h = snap_msgid_h(?1) AND f.message_id IN (?1, ?7)");
	add_filters(&sql, q, "f", "p");
	hw_buf_adds(&sql, " ORDER BY f.date, p.relpath, f.name");
	if (sqlite3_prepare_v2(hw_catalog_db(r->cat), sql.data, -1, &s, NULL) != SQLITE_OK) {
		hw_catalog_error(r->cat, "find", err);
		goto out;
	}
	if (q->message_id != NULL) {
		/* "<id>" and "id" both find it, whichever form the header had */
		char *other = msgid_other(q->message_id);
		sqlite3_bind_text(s, 1, q->message_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, other, -1, SQLITE_TRANSIENT);
		free(other);
	}
	if (q->from != NULL)
		sqlite3_bind_text(s, 2, q->from, -1, SQLITE_STATIC);
	if (q->subject != NULL)
		sqlite3_bind_text(s, 3, q->subject, -1, SQLITE_STATIC);
	if (q->folder != NULL)
		sqlite3_bind_text(s, 4, q->folder, -1, SQLITE_STATIC);
	if (q->has_since)
		sqlite3_bind_int64(s, 5, q->since);
	if (q->has_before)
		sqlite3_bind_int64(s, 6, q->before);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct snap_find_row row;
		int64_t id = sqlite3_column_int64(s, 0);

		memset(&row, 0, sizeof(row));
		row.folder = (const char *)sqlite3_column_text(s, 1);
		row.file = (const char *)sqlite3_column_text(s, 2);
		row.size = (uint64_t)sqlite3_column_int64(s, 3);
		row.date = sqlite3_column_int64(s, 4);
		row.from = (const char *)sqlite3_column_text(s, 5);
		row.subject = (const char *)sqlite3_column_text(s, 6);
		row.message_id = (const char *)sqlite3_column_text(s, 7);
		if (sqlite3_column_bytes(s, 8) == 16)
			memcpy(row.hash.b, sqlite3_column_blob(s, 8), 16);
		ss = snap_stmt(r, "SELECT sf.snap_id, m.uid, m.flags FROM snap_member m"
			       " JOIN snap_sfolder sf ON sf.fver_id = m.fver_id"
			       " WHERE m.file_id = ? ORDER BY sf.snap_id", err);
		if (ss == NULL)
			goto out;
		sqlite3_bind_int64(ss, 1, id);
		while ((rc = sqlite3_step(ss)) == SQLITE_ROW) {
			if (row.first_snapshot == 0)
				row.first_snapshot = sqlite3_column_int64(ss, 0);
			row.last_snapshot = sqlite3_column_int64(ss, 0);
			row.uid = (uint32_t)sqlite3_column_int64(ss, 1);
			row.flags = (uint8_t)sqlite3_column_int(ss, 2);
		}
		sqlite3_reset(ss);
		if (rc != SQLITE_DONE) {
			hw_catalog_error(r->cat, "find snapshots", err);
			goto out;
		}
		if (row.first_snapshot == 0)
			continue;   /* a record no snapshot holds any more */
		row.present = live_present(&lc, row.folder, row.file, row.size, row.hash.b);
		if (q->deleted_only && row.present)
			continue;
		n++;
		if (fn(ctx, &row) != 0) {
			stopped = true;
			break;
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		hw_catalog_error(r->cat, "find", err);
		goto out;
	}
live:
	/* messages in the live store that no snapshot holds: present, never
	   deleted, so --deleted has none */
	if (!stopped && !q->deleted_only && q->live_cat != NULL && q->st != NULL &&
	    find_live(r, q, &lc, fn, ctx, &n, err) < 0)
		goto out;
	ret = n;
out:
	if (s != NULL)
		sqlite3_finalize(s);
	live_release(&lc);
	hw_buf_release(&sql);
	return ret;
}
