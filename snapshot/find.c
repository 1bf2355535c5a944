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

int snap_find(struct snap_repo *r, const struct snap_find_query *q, snap_find_fn *fn, void *ctx,
	      struct hw_error *err)
{
	struct hw_buf sql;
	struct live_cache lc = { .st = q->st, .fd = -1 };
	sqlite3_stmt *s = NULL, *ss;
	int n = 0, rc, ret = -1;

	hw_buf_init(&sql);
	hw_dir_init(&lc.d);
	hw_buf_adds(&sql, "SELECT f.id, p.relpath, f.name, f.size, f.date, f.\"from\", f.subject,"
		    " f.message_id, f.hash FROM snap_file f JOIN snap_path p ON p.id = f.path_id"
		    " WHERE f.kind = 1");
	if (q->message_id != NULL)
		hw_buf_adds(&sql, " AND f.message_id IN (?1, ?7)");
	if (q->from != NULL)
		hw_buf_adds(&sql, " AND instr(lower(f.\"from\"), lower(?2)) > 0");
	if (q->subject != NULL)
		hw_buf_adds(&sql, " AND instr(lower(f.subject), lower(?3)) > 0");
	if (q->folder != NULL)
		hw_buf_adds(&sql, " AND (p.relpath = ?4 OR substr(p.relpath, 1, length(?4) + 1)"
			    " = ?4 || '/')");
	if (q->has_since)
		hw_buf_adds(&sql, " AND f.date >= ?5");
	if (q->has_before)
		hw_buf_adds(&sql, " AND f.date < ?6");
	hw_buf_adds(&sql, " ORDER BY f.date, p.relpath, f.name");
	if (sqlite3_prepare_v2(hw_catalog_db(r->cat), sql.data, -1, &s, NULL) != SQLITE_OK) {
		hw_catalog_error(r->cat, "find", err);
		goto out;
	}
	if (q->message_id != NULL) {
		/* "<id>" and "id" both find it, whichever form the header had */
		const char *id = q->message_id;
		size_t len = strlen(id);
		char *other = id[0] == '<' && len >= 2 && id[len - 1] == '>' ?
			      hw_strndup(id + 1, len - 2) : hw_asprintf("<%s>", id);
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
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
		if (fn(ctx, &row) != 0)
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		hw_catalog_error(r->cat, "find", err);
		goto out;
	}
	ret = n;
out:
	if (s != NULL)
		sqlite3_finalize(s);
	live_release(&lc);
	hw_buf_release(&sql);
	return ret;
}
