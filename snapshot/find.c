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

/* the message-id as given and in the other form ("<id>" / "id") */
static char *msgid_other(const char *id)
{
	size_t len = strlen(id);

	return id[0] == '<' && len >= 2 && id[len - 1] == '>' ? hw_strndup(id + 1, len - 2) :
	       hw_asprintf("<%s>", id);
}

/* Does some snapshot hold this live message: the same name and size in that
   folder, or the same content there under another name (a restored copy)?
   Without a content hash from the index, a snapshot copy with the same
   Message-ID and size in that folder is compared by hashing the live file. */
static bool held_by_snapshot(struct snap_held_path *hp, int dirfd, const char *file,
			     int64_t size, const uint8_t *hash, const char *message_id)
{
	size_t n;
	const struct snap_held *h = snap_held_by_name(hp, file, &n);

	for (size_t i = 0; i < n; i++)
		if (h[i].rec->size == size)
			return true;
	if (hash != NULL)
		return snap_held_by_hash(hp, hash) != NULL;
	if (message_id == NULL || dirfd < 0)
		return false;
	for (size_t i = 0; i < hp->n; i++) {
		const struct snap_rec *rec = hp->v[i].rec;
		if (rec->kind == SNAP_KIND_MESSAGE && rec->size == size && rec->message_id != NULL &&
		    strcmp(rec->message_id, message_id) == 0 && hash_file(dirfd, file, rec->hash))
			return true;
	}
	return false;
}

/* the WHERE terms of the live store search (message m, folder fo);
   parameters ?2..?6 */
static void add_filters(struct hw_buf *sql, const struct snap_find_query *q)
{
	if (q->from != NULL)
		hw_buf_adds(sql, " AND instr(lower(m.\"from\"), lower(?2)) > 0");
	if (q->subject != NULL)
		hw_buf_adds(sql, " AND instr(lower(m.subject), lower(?3)) > 0");
	if (q->folder != NULL)
		hw_buf_adds(sql, " AND (fo.relpath = ?4 OR substr(fo.relpath, 1, length(?4) + 1)"
			    " = ?4 || '/')");
	if (q->has_since)
		hw_buf_adds(sql, " AND m.date >= ?5");
	if (q->has_before)
		hw_buf_adds(sql, " AND m.date < ?6");
}

/* ... and the same terms for a snapshot record: SQLite's lower() folds
   ASCII only, and so does this */
static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (hay == NULL)
		return false;
	for (; *hay != '\0'; hay++) {
		size_t i = 0;
		while (i < n && hay[i] != '\0') {
			unsigned char a = (unsigned char)hay[i], b = (unsigned char)needle[i];
			if (a >= 'A' && a <= 'Z')
				a = (unsigned char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			if (a != b)
				break;
			i++;
		}
		if (i == n)
			return true;
	}
	return n == 0;
}

static bool in_folder(const char *relpath, const char *folder)
{
	size_t n = strlen(folder);

	return strncmp(relpath, folder, n) == 0 && (relpath[n] == '\0' || relpath[n] == '/');
}

static bool rec_matches(const struct snap_find_query *q, const char *relpath,
			const struct snap_rec *rec)
{
	if (rec->kind != SNAP_KIND_MESSAGE)
		return false;
	if (q->from != NULL && !contains_ci(rec->from, q->from))
		return false;
	if (q->subject != NULL && !contains_ci(rec->subject, q->subject))
		return false;
	if (q->folder != NULL && !in_folder(relpath, q->folder))
		return false;
	if (q->has_since && rec->date < q->since)
		return false;
	if (q->has_before && rec->date >= q->before)
		return false;
	return true;
}

/* a live message no snapshot may hold */
struct lrow {
	char *folder, *file, *from, *subject, *message_id;
	uint32_t uid;
	uint8_t flags;
	uint64_t size;
	int64_t date;
	bool has_hash, held;
	struct hw_hash hash;
};

static int cmp_lrow_folder(const void *a, const void *b)
{
	const struct lrow *x = *(struct lrow *const *)a, *y = *(struct lrow *const *)b;

	return strcmp(x->folder, y->folder);
}

static char *dup_or_null(const unsigned char *t)
{
	return t != NULL ? hw_strdup((const char *)t) : NULL;
}

/* Messages the state catalog lists in the live store that no snapshot holds:
   one indexed query on the indexer's message table (no walk of the store),
   each row checked against the file system (the index may be older), then
   against the repository folder by folder */
static int find_live(struct snap_repo *r, const struct snap_find_query *q, struct live_cache *lc,
		     snap_find_fn *fn, void *ctx, int *n_r, struct hw_error *err)
{
	struct hw_buf sql;
	sqlite3_stmt *s = NULL;
	char *other = NULL;
	struct lrow *v = NULL, **byf = NULL;
	size_t n = 0, cap = 0;
	struct snap_held_path hp;
	int rc, ret = -1;

	hw_buf_init(&sql);
	snap_held_init(&hp);
	hw_buf_adds(&sql, "SELECT fo.relpath, m.file, m.uid, m.flags, m.size, m.date, m.\"from\","
		    " m.subject, m.message_id, m.hash FROM message m"
		    " JOIN folder fo ON fo.id = m.folder_id WHERE 1");
	if (q->message_id != NULL)
		hw_buf_adds(&sql, " AND m.message_id IN (?1, ?7)");
	add_filters(&sql, q);
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
		const char *folder = (const char *)sqlite3_column_text(s, 0);
		const char *file = (const char *)sqlite3_column_text(s, 1);
		struct stat sb;
		struct lrow *lr;

		if (folder == NULL || file == NULL)
			continue;
		/* the index may be older than the store: only what is there now */
		if (lc->relpath == NULL || strcmp(lc->relpath, folder) != 0) {
			struct hw_error ferr;
			live_release(lc);
			lc->relpath = hw_strdup(folder);
			lc->fd = hw_store_open_folder(lc->st, folder, &ferr);
		}
		if (lc->fd < 0 || fstatat(lc->fd, file, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		HW_GROW(v, cap, n + 1);
		lr = &v[n++];
		memset(lr, 0, sizeof(*lr));
		lr->folder = hw_strdup(folder);
		lr->file = hw_strdup(file);
		lr->uid = (uint32_t)sqlite3_column_int64(s, 2);
		lr->flags = (uint8_t)sqlite3_column_int(s, 3);
		lr->size = (uint64_t)sqlite3_column_int64(s, 4);
		lr->date = sqlite3_column_int64(s, 5);
		lr->from = dup_or_null(sqlite3_column_text(s, 6));
		lr->subject = dup_or_null(sqlite3_column_text(s, 7));
		lr->message_id = dup_or_null(sqlite3_column_text(s, 8));
		if (sqlite3_column_bytes(s, 9) == 16) {
			memcpy(lr->hash.b, sqlite3_column_blob(s, 9), 16);
			lr->has_hash = true;
		}
		if ((uint64_t)sb.st_size != lr->size) {
			lr->size = (uint64_t)sb.st_size;
			lr->has_hash = false;
		}
	}
	if (rc != SQLITE_DONE) {
		hw_catalog_error(q->live_cat, "find in the live store", err);
		goto out;
	}
	/* held by a snapshot? One folder at a time */
	if (r != NULL && n > 0) {
		byf = hw_calloc(n, sizeof(*byf));
		for (size_t i = 0; i < n; i++)
			byf[i] = &v[i];
		qsort(byf, n, sizeof(*byf), cmp_lrow_folder);
		for (size_t i = 0; i < n; i++) {
			struct lrow *lr = byf[i];
			if (snap_held_load(r, &hp, lr->folder, err) < 0)
				goto out;
			if (hp.n == 0)
				continue;
			if (lc->relpath == NULL || strcmp(lc->relpath, lr->folder) != 0) {
				struct hw_error ferr;
				live_release(lc);
				lc->relpath = hw_strdup(lr->folder);
				lc->fd = hw_store_open_folder(lc->st, lr->folder, &ferr);
			}
			lr->held = held_by_snapshot(&hp, lc->fd, lr->file, (int64_t)lr->size,
						    lr->has_hash ? lr->hash.b : NULL, lr->message_id);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct snap_find_row row;
		struct lrow *lr = &v[i];

		if (lr->held)
			continue;   /* reported with its snapshots (or filtered out there) */
		memset(&row, 0, sizeof(row));
		row.folder = lr->folder;
		row.file = lr->file;
		row.uid = lr->uid;
		row.flags = lr->flags;
		row.size = lr->size;
		row.date = lr->date;
		row.from = lr->from;
		row.subject = lr->subject;
		row.message_id = lr->message_id;
		if (lr->has_hash)
			row.hash = lr->hash;
		row.present = true;
		(*n_r)++;
		if (fn(ctx, &row) != 0)
			break;
	}
	ret = 0;
out:
	if (s != NULL)
		sqlite3_finalize(s);
	for (size_t i = 0; i < n; i++) {
		free(v[i].folder);
		free(v[i].file);
		free(v[i].from);
		free(v[i].subject);
		free(v[i].message_id);
	}
	free(v);
	free(byf);
	snap_held_release(&hp);
	free(other);
	hw_buf_release(&sql);
	return ret;
}

/* a message record some snapshot may hold */
struct frow {
	int64_t path_id, rset_id;
	uint32_t idx;
	char *relpath, *name, *from, *subject, *message_id;
	int64_t size, date;
	uint8_t hash[16];
	int64_t first, last;
	uint32_t uid;
	uint8_t flags;
};

struct fset {
	struct frow *v;
	size_t n, cap;
};

static void fset_add(struct fset *fs, int64_t path_id, const char *relpath, int64_t rset_id,
		     uint32_t idx, const struct snap_rec *rec)
{
	struct frow *f;

	HW_GROW(fs->v, fs->cap, fs->n + 1);
	f = &fs->v[fs->n++];
	memset(f, 0, sizeof(*f));
	f->path_id = path_id;
	f->rset_id = rset_id;
	f->idx = idx;
	f->relpath = hw_strdup(relpath);
	f->name = hw_strdup(rec->name);
	f->from = rec->from != NULL ? hw_strdup(rec->from) : NULL;
	f->subject = rec->subject != NULL ? hw_strdup(rec->subject) : NULL;
	f->message_id = rec->message_id != NULL ? hw_strdup(rec->message_id) : NULL;
	f->size = rec->size;
	f->date = rec->date;
	memcpy(f->hash, rec->hash, 16);
}

static void fset_release(struct fset *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].relpath);
		free(fs->v[i].name);
		free(fs->v[i].from);
		free(fs->v[i].subject);
		free(fs->v[i].message_id);
	}
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

static int path_relpath(struct snap_repo *r, int64_t path_id, char **relpath_r,
			struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT relpath FROM snap_path WHERE id = ?", err);
	int rc;

	*relpath_r = NULL;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, path_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*relpath_r = hw_strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hw_catalog_error(r->cat, "folder path", err);
	return rc == SQLITE_ROW;
}

/* the candidates: by Message-ID (an index lookup), else every record set
   (of the folder given) decoded and filtered */
static int find_candidates(struct snap_repo *r, const struct snap_find_query *q, struct fset *fs,
			   struct hw_error *err)
{
	int ret = -1, rc;

	if (q->message_id != NULL) {
		char *other = msgid_other(q->message_id), *relpath = NULL;
		struct snap_mref *mr = NULL;
		size_t nmr = 0;
		struct snap_rcache rcache;
		int64_t cur = 0;

		snap_rcache_init(&rcache);
		if (snap_msgid_refs(r, q->message_id, other, &mr, &nmr, err) < 0)
			goto mout;
		for (size_t i = 0; i < nmr; i++) {
			struct snap_lent e = { .rset_id = mr[i].rset_id, .idx = mr[i].idx };
			const struct snap_rec *rec = snap_rcache_rec(r, &rcache, &e, err);
			if (rec == NULL)
				goto mout;
			if (relpath == NULL || cur != mr[i].path_id) {
				free(relpath);
				cur = mr[i].path_id;
				if (path_relpath(r, cur, &relpath, err) <= 0) {
					if (relpath == NULL)
						relpath = hw_strdup("");
				}
			}
			if (rec_matches(q, relpath, rec))
				fset_add(fs, mr[i].path_id, relpath, mr[i].rset_id, mr[i].idx, rec);
		}
		ret = 0;
mout:
		free(relpath);
		free(mr);
		free(other);
		snap_rcache_release(&rcache);
		return ret;
	}
	sqlite3_stmt *s = snap_stmt(r, q->folder != NULL ?
		"SELECT r.id, r.path_id, p.relpath, r.data FROM snap_rset r"
		" JOIN snap_path p ON p.id = r.path_id WHERE (p.relpath = ?1"
		" OR substr(p.relpath, 1, length(?1) + 1) = ?1 || '/') ORDER BY r.id" :
		"SELECT r.id, r.path_id, p.relpath, r.data FROM snap_rset r"
		" JOIN snap_path p ON p.id = r.path_id WHERE ?1 IS NULL ORDER BY r.id", err);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, q->folder, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct snap_rset set;
		const char *relpath = (const char *)sqlite3_column_text(s, 2);
		long long id = sqlite3_column_int64(s, 0);
		if (snap_rset_decode(sqlite3_column_blob(s, 3), (size_t)sqlite3_column_bytes(s, 3),
				     &set, err) < 0) {
			sqlite3_reset(s);
			return hw_error_prefix(err, "record set %lld", id);
		}
		for (size_t i = 0; i < set.n; i++)
			if (rec_matches(q, relpath, &set.v[i]))
				fset_add(fs, sqlite3_column_int64(s, 1), relpath,
					 sqlite3_column_int64(s, 0), (uint32_t)i, &set.v[i]);
		snap_rset_release(&set);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return hw_catalog_error(r->cat, "find", err);
	return 0;
}

static int cmp_frow_path(const void *a, const void *b)
{
	const struct frow *x = a, *y = b;

	return x->path_id < y->path_id ? -1 : x->path_id > y->path_id;
}

/* one message: same folder, name and content (a record made again for a
   new identity is the same message) */
static int cmp_frow_msg(const void *a, const void *b)
{
	const struct frow *x = a, *y = b;
	int d = strcmp(x->relpath, y->relpath);

	if (d == 0)
		d = strcmp(x->name, y->name);
	if (d == 0)
		d = memcmp(x->hash, y->hash, 16);
	return d;
}

static int cmp_frow_out(const void *a, const void *b)
{
	const struct frow *x = a, *y = b;
	int d;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	d = strcmp(x->relpath, y->relpath);
	return d != 0 ? d : strcmp(x->name, y->name);
}

int snap_find(struct snap_repo *r, const struct snap_find_query *q, snap_find_fn *fn, void *ctx,
	      struct hw_error *err)
{
	bool stopped = false;
	struct live_cache lc = { .st = q->st, .fd = -1 };
	struct snap_held_path hp;
	struct fset fs = { 0 };
	size_t m = 0;
	int n = 0, ret = -1;

	hw_dir_init(&lc.d);
	snap_held_init(&hp);
	if (r == NULL)
		goto live;
	if (find_candidates(r, q, &fs, err) < 0)
		goto out;
	/* which snapshots hold each: the versions of its folder */
	if (fs.n > 0)
		qsort(fs.v, fs.n, sizeof(fs.v[0]), cmp_frow_path);
	for (size_t i = 0; i < fs.n; i++) {
		struct frow *f = &fs.v[i];
		const struct snap_held *h;
		if (snap_held_load(r, &hp, f->relpath, err) < 0)
			goto out;
		h = snap_held_by_ref(&hp, f->rset_id, f->idx);
		if (h == NULL)
			continue;   /* a record no snapshot holds any more */
		f->first = h->first_snap;
		f->last = h->last_snap;
		f->uid = h->uid;
		f->flags = h->flags;
	}
	snap_held_release(&hp);
	snap_held_init(&hp);
	/* merge the records of one message, drop those in no snapshot */
	if (fs.n > 0)
		qsort(fs.v, fs.n, sizeof(fs.v[0]), cmp_frow_msg);
	for (size_t i = 0; i < fs.n; i++) {
		struct frow *f = &fs.v[i];
		if (f->last == 0)
			continue;
		if (m > 0 && cmp_frow_msg(&fs.v[m - 1], f) == 0) {
			struct frow *g = &fs.v[m - 1];
			if (f->first < g->first)
				g->first = f->first;
			if (f->last > g->last) {
				g->last = f->last;
				g->uid = f->uid;
				g->flags = f->flags;
			}
			continue;
		}
		if (m != i) {
			struct frow t = fs.v[m];
			fs.v[m] = *f;
			*f = t;
		}
		m++;
	}
	if (m > 0)
		qsort(fs.v, m, sizeof(fs.v[0]), cmp_frow_out);
	for (size_t i = 0; i < m; i++) {
		struct frow *f = &fs.v[i];
		struct snap_find_row row;

		memset(&row, 0, sizeof(row));
		row.first_snapshot = f->first;
		row.last_snapshot = f->last;
		row.folder = f->relpath;
		row.file = f->name;
		row.uid = f->uid;
		row.flags = f->flags;
		row.size = (uint64_t)f->size;
		row.date = f->date;
		row.from = f->from;
		row.subject = f->subject;
		row.message_id = f->message_id;
		memcpy(row.hash.b, f->hash, 16);
		row.present = live_present(&lc, row.folder, row.file, row.size, row.hash.b);
		if (q->deleted_only && row.present)
			continue;
		n++;
		if (fn(ctx, &row) != 0) {
			stopped = true;
			break;
		}
	}
live:
	/* messages in the live store that no snapshot holds: present, never
	   deleted, so --deleted has none */
	if (!stopped && !q->deleted_only && q->live_cat != NULL && q->st != NULL &&
	    find_live(r, q, &lc, fn, ctx, &n, err) < 0)
		goto out;
	ret = n;
out:
	fset_release(&fs);
	snap_held_release(&hp);
	live_release(&lc);
	return ret;
}
