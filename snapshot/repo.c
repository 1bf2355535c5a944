/* repo.c - the snapshot repository: layout, schema, locks, garbage, list */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "atomic.h"
#include "io.h"
#include "snap-int.h"
#include "store.h"

#define REPO_MARK "HIWATER-SNAPSHOTS"
#define REPO_MARK_TEXT "hiwater snapshot repository, format 1 (see docs/snapshots.md)\n"

/* The schema (version 4 after the steps below), documented in
   docs/snapshots.md. Invariants:
 * - snap_blob: one row per content hash stored; it points at the segment
 *   and the offset in its tar stream where the member starts.
 * - snap_rset: immutable file records of one folder, new in one snapshot
 *   (compressed, records.c); a record keeps the identity (ino, size,
 *   mtime_ns) it was made for.
 * - snap_fver: one version of a folder: its listing (references into
 *   record sets, with UID and flags) and its other files' identities;
 *   shared by every snapshot that saw the folder unchanged.
 * - snap_msgid: which record sets hold a Message-ID (by hash).
 * - snap_sfolder: which folder versions make up a snapshot.
 * - snap_snapshot ids only grow (AUTOINCREMENT): never reused after prune. */
static const char *const snap_steps[] = {
	"CREATE TABLE snap_pack ("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" size INTEGER NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE snap_segment ("
	" id INTEGER PRIMARY KEY, pack_id INTEGER NOT NULL, offset INTEGER NOT NULL,"
	" clen INTEGER NOT NULL, ulen INTEGER NOT NULL, members INTEGER NOT NULL,"
	" csum BLOB NOT NULL, verified_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX snap_segment_pack ON snap_segment(pack_id, offset);"
	"CREATE INDEX snap_segment_verified ON snap_segment(verified_at, id);"
	"CREATE TABLE snap_blob ("
	" hash BLOB PRIMARY KEY, segment_id INTEGER NOT NULL, member TEXT NOT NULL,"
	" size INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX snap_blob_segment ON snap_blob(segment_id);"
	"CREATE TABLE snap_path (id INTEGER PRIMARY KEY, relpath TEXT NOT NULL UNIQUE);"
	"CREATE TABLE snap_file ("
	" id INTEGER PRIMARY KEY, path_id INTEGER NOT NULL, name TEXT NOT NULL,"
	" kind INTEGER NOT NULL, hash BLOB NOT NULL, size INTEGER NOT NULL,"
	" mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, date INTEGER NOT NULL DEFAULT 0,"
	" \"from\" TEXT, subject TEXT, message_id TEXT);"
	"CREATE INDEX snap_file_path ON snap_file(path_id, name);"
	"CREATE INDEX snap_file_msgid ON snap_file(message_id) WHERE message_id IS NOT NULL;"
	"CREATE INDEX snap_file_hash ON snap_file(hash);"
	"CREATE TABLE snap_fver ("
	" id INTEGER PRIMARY KEY, path_id INTEGER NOT NULL, dir_mtime_ns INTEGER NOT NULL,"
	" dir_entries INTEGER NOT NULL, dir_ino INTEGER NOT NULL, files INTEGER NOT NULL,"
	" messages INTEGER NOT NULL, bytes INTEGER NOT NULL);"
	"CREATE INDEX snap_fver_path ON snap_fver(path_id, id);"
	"CREATE TABLE snap_member ("
	" fver_id INTEGER NOT NULL, file_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
	" flags INTEGER NOT NULL, PRIMARY KEY (fver_id, file_id)) WITHOUT ROWID;"
	"CREATE INDEX snap_member_file ON snap_member(file_id, fver_id);"
	"CREATE TABLE snap_snapshot ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, created_ns INTEGER NOT NULL, label TEXT,"
	" scope TEXT NOT NULL, full INTEGER NOT NULL, folders INTEGER NOT NULL,"
	" files INTEGER NOT NULL, messages INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	" files_added INTEGER NOT NULL, bytes_added INTEGER NOT NULL);"
	"CREATE TABLE snap_sfolder ("
	" snap_id INTEGER NOT NULL, fver_id INTEGER NOT NULL,"
	" PRIMARY KEY (snap_id, fver_id)) WITHOUT ROWID;"
	"CREATE INDEX snap_sfolder_fver ON snap_sfolder(fver_id, snap_id);",
	/* 1 -> 2: lean indexes. Nothing frequent looks files up by content
	   alone (verify's affected list after damage, prune's sweep): the
	   index cost 7% of the catalog */
	"DROP INDEX IF EXISTS snap_file_hash;",
	/* 2 -> 3: the Message-ID index holds a 64-bit hash of the bare id
	   (snap_msgid_h(), registered on every connection) instead of the
	   text: a lookup matches the hash, then the text */
	"ALTER TABLE snap_file ADD COLUMN msgid_h INTEGER;"
	"UPDATE snap_file SET msgid_h = snap_msgid_h(message_id) WHERE message_id IS NOT NULL;"
	"DROP INDEX IF EXISTS snap_file_msgid;"
	"CREATE INDEX snap_file_msgid_h ON snap_file(msgid_h) WHERE msgid_h IS NOT NULL;"
	/* and a blob's member name is derived from the file record it was
	   stored from (file_id; member '') rather than kept as text */
	"ALTER TABLE snap_blob ADD COLUMN file_id INTEGER;",
	/* 3 -> 4: a row per file per folder version (snap_member) and per file
	   record (snap_file) cost most of the catalog. Records of one folder new
	   in one snapshot are one compressed record set; a folder version keeps
	   a compressed listing of references into record sets; a pack member is
	   found by its offset in the segment instead of its name. The work is
	   done in C (snap_migrate_v4(), records.c): it reads every segment's
	   headers once */
	"CREATE TABLE snap_rset ("
	" id INTEGER PRIMARY KEY, path_id INTEGER NOT NULL, snap_id INTEGER NOT NULL,"
	" n INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE INDEX snap_rset_path ON snap_rset(path_id, id);"
	"CREATE TABLE snap_msgid (msgid_h INTEGER NOT NULL, rset_id INTEGER NOT NULL,"
	" PRIMARY KEY (msgid_h, rset_id)) WITHOUT ROWID;"
	"ALTER TABLE snap_fver ADD COLUMN listing BLOB;"
	"ALTER TABLE snap_fver ADD COLUMN others BLOB;"
	"CREATE TABLE snap_blob4 (hash BLOB PRIMARY KEY, segment_id INTEGER NOT NULL,"
	" uoff INTEGER NOT NULL, size INTEGER NOT NULL) WITHOUT ROWID;"
	"SELECT snap_migrate_v4();"
	"DROP TABLE snap_member; DROP TABLE snap_file; DROP TABLE snap_blob;"
	"ALTER TABLE snap_blob4 RENAME TO snap_blob;",
};

/* the indexes of the tables a first snapshot fills; create.c drops them
   while it inserts into an empty repository and builds them at the end
   (one sort each instead of a b-tree insert per row), in the same
   transaction. Keep equal to the schema above. */
const char *const snap_bulk_indexes[][2] = {
	{ "snap_rset_path", "CREATE INDEX snap_rset_path ON snap_rset(path_id, id)" },
	{ "snap_fver_path", "CREATE INDEX snap_fver_path ON snap_fver(path_id, id)" },
	{ "snap_sfolder_fver", "CREATE INDEX snap_sfolder_fver ON snap_sfolder(fver_id, snap_id)" },
};
const size_t snap_nbulk_indexes = sizeof(snap_bulk_indexes) / sizeof(snap_bulk_indexes[0]);

int64_t snap_msgid_hash(const char *id, size_t len)
{
	if (len >= 2 && id[0] == '<' && id[len - 1] == '>') {
		id++;
		len -= 2;
	}
	return (int64_t)XXH3_64bits(id, len);
}

/* SQL snap_msgid_h(TEXT): "<id>" and "id" hash alike; NULL stays NULL */
static void sql_msgid_h(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *t;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	t = (const char *)sqlite3_value_text(argv[0]);
	if (t == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, snap_msgid_hash(t, (size_t)sqlite3_value_bytes(argv[0])));
}

sqlite3_stmt *snap_stmt(struct snap_repo *r, const char *sql, struct hw_error *err)
{
	sqlite3_stmt *s;

	if (hw_catalog_prepare(r->cat, sql, &s, err) < 0)
		return NULL;
	return s;
}

int snap_step_done(struct snap_repo *r, sqlite3_stmt *s, const char *what, struct hw_error *err)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return hw_catalog_error(r->cat, what, err);
	sqlite3_reset(s);
	return 0;
}

static void rows_sql(const char *head, int ncols, int nrows, struct hw_buf *sql)
{
	hw_buf_reset(sql);
	hw_buf_add(sql, head, strlen(head));
	for (int i = 0; i < nrows; i++) {
		hw_buf_add(sql, i == 0 ? " (" : ",(", i == 0 ? 2 : 2);
		for (int k = 0; k < ncols; k++)
			hw_buf_add(sql, k == 0 ? "?" : ",?", k == 0 ? 1 : 2);
		hw_buf_addc(sql, ')');
	}
	hw_buf_addc(sql, '\0');
}

int snap_insert_rows(struct snap_repo *r, const char *head, int ncols, size_t n,
		     snap_bind_row_fn *bind, void *ctx, const char *what, struct hw_error *err)
{
	struct hw_buf sql;
	sqlite3_stmt *s;
	size_t i = 0;
	int ret = -1;

	hw_buf_init(&sql);
	if (n >= SNAP_ROWS_PER) {
		rows_sql(head, ncols, SNAP_ROWS_PER, &sql);
		if ((s = snap_stmt(r, sql.data, err)) == NULL)
			goto out;
		for (; i + SNAP_ROWS_PER <= n; i += SNAP_ROWS_PER) {
			for (int k = 0; k < SNAP_ROWS_PER; k++)
				bind(s, 1 + k * ncols, i + (size_t)k, ctx);
			if (snap_step_done(r, s, what, err) < 0)
				goto out;
		}
	}
	if (i < n) {
		rows_sql(head, ncols, 1, &sql);
		if ((s = snap_stmt(r, sql.data, err)) == NULL)
			goto out;
		for (; i < n; i++) {
			bind(s, 1, i, ctx);
			if (snap_step_done(r, s, what, err) < 0)
				goto out;
		}
	}
	ret = 0;
out:
	hw_buf_release(&sql);
	return ret;
}

int snap_next_segment_id(struct snap_repo *r, int64_t *id_r, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT coalesce(max(id), 0) + 1 FROM snap_segment", err);

	if (s == NULL)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return hw_catalog_error(r->cat, "segment ids", err);
	}
	*id_r = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int snap_pack_register(struct snap_repo *r, struct snap_pack_writer *w, int64_t *seg_base,
		       int64_t *pack_id_r, struct hw_error *err)
{
	const struct snap_seg_info *si;
	size_t nseg;
	sqlite3_stmt *s;

	s = snap_stmt(r, "INSERT INTO snap_pack(name, size, created) VALUES (?,?,?)", err);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, snap_pack_writer_name(w), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)snap_pack_writer_size(w));
	sqlite3_bind_int64(s, 3, hw_now_ns() / 1000000000LL);
	if (snap_step_done(r, s, "insert pack", err) < 0)
		return -1;
	*pack_id_r = sqlite3_last_insert_rowid(hw_catalog_db(r->cat));
	if (*seg_base == 0 && snap_next_segment_id(r, seg_base, err) < 0)
		return -1;
	si = snap_pack_writer_segments(w, &nseg);
	s = snap_stmt(r, "INSERT INTO snap_segment(id, pack_id, offset, clen, ulen, members, csum)"
		      " VALUES (?,?,?,?,?,?,?)", err);
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < nseg; i++) {
		sqlite3_bind_int64(s, 1, *seg_base + (int64_t)i);
		sqlite3_bind_int64(s, 2, *pack_id_r);
		sqlite3_bind_int64(s, 3, (int64_t)si[i].offset);
		sqlite3_bind_int64(s, 4, (int64_t)si[i].clen);
		sqlite3_bind_int64(s, 5, (int64_t)si[i].ulen);
		sqlite3_bind_int64(s, 6, si[i].members);
		sqlite3_bind_blob(s, 7, si[i].csum.b, 16, SQLITE_STATIC);
		if (snap_step_done(r, s, "insert segment", err) < 0)
			return -1;
	}
	return 0;
}

int snap_read_fd(int fd, const char *dir, const char *name, size_t size_hint, struct hw_buf *b,
		 struct hw_error *err)
{
	hw_buf_reset(b);
	/* exactly the size (plus the byte that sees the end and the NUL): the
	   buffer can then be kept as it is, without a copy to trim it */
	if (b->cap < size_hint + 2) {
		b->data = hw_realloc(b->data, size_hint + 2);
		b->cap = size_hint + 2;
	}
	for (;;) {
		if (b->cap - b->len < 2)
			HW_GROW(b->data, b->cap, b->len + 65536);
		size_t want = b->cap - b->len - 1;
		ssize_t n = pread(fd, b->data + b->len, want, (off_t)b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			char display[PATH_MAX];
			snprintf(display, sizeof(display), "%s/%s", dir, name);
			return hw_error_sys(err, "read", display);
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		/* asked for one byte more than the file's size and got exactly
		   its size: that was the end (a short read for any other reason
		   stops short of the size, and the loop reads on) */
		if ((size_t)n < want && b->len == size_hint)
			break;
	}
	b->data[b->len] = '\0';
	return 0;
}

bool snap_relpath_safe(const char *relpath)
{
	return snap_store_path_safe(relpath);
}

/* ---- hash map ---- */

void snap_hmap_init(struct snap_hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void snap_hmap_release(struct snap_hmap *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static size_t hslot(const uint8_t key[16], size_t cap)
{
	uint64_t h;

	memcpy(&h, key + 8, sizeof(h));   /* the hash is already uniform */
	return (size_t)(h & (cap - 1));
}

int64_t *snap_hmap_get(struct snap_hmap *m, const uint8_t key[16])
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = hslot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->v[i].used)
			return NULL;
		if (memcmp(m->v[i].key, key, 16) == 0)
			return &m->v[i].value;
	}
}

void snap_hmap_put(struct snap_hmap *m, const uint8_t key[16], int64_t value)
{
	int64_t *p = snap_hmap_get(m, key);

	if (p != NULL) {
		*p = value;
		return;
	}
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		/* malloc and memset, not calloc: the table is written before it
		   is read, one page fault a page instead of a read fault on the
		   zero page and then a copy-on-write fault (with a TLB flush on
		   every CPU, this process having threads) */
		struct snap_hmap_slot *nv = hw_malloc(ncap * sizeof(*nv));
		memset(nv, 0, ncap * sizeof(*nv));
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->v[i].used)
				continue;
			size_t j = hslot(m->v[i].key, ncap);   /* keys are distinct */
			while (nv[j].used)
				j = (j + 1) & (ncap - 1);
			nv[j] = m->v[i];
		}
		free(m->v);
		m->v = nv;
		m->cap = ncap;
	}
	size_t i = hslot(key, m->cap);
	while (m->v[i].used)
		i = (i + 1) & (m->cap - 1);
	memcpy(m->v[i].key, key, 16);
	m->v[i].used = true;
	m->v[i].value = value;
	m->n++;
}

/* ---- open ---- */

static int open_dir(int at, const char *name, const char *display, bool create,
		    struct hw_error *err)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && create) {
		if (hw_io_mkdirat(at, name, 0700) < 0 && errno != EEXIST)
			return hw_error_sys(err, "mkdir", display);
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return hw_error_sys(err, "open", display);
	return fd;
}

int snap_repo_open(const char *dir, bool create, struct snap_repo **r_r, struct hw_error *err)
{
	struct snap_repo *r = hw_calloc(1, sizeof(*r));
	struct stat sb;
	int ret = -1;

	*r_r = NULL;
	r->path = hw_strdup(dir);
	r->packs_path = hw_path_join(dir, "packs");
	r->dirfd = r->packs_fd = r->lock_fd = r->packs_lock_fd = -1;
	if (!create && stat(dir, &sb) < 0 && errno == ENOENT) {
		hw_error_set(err, ENOENT, "no snapshot repository at %s", dir);
		ret = 0;
		goto out;
	}
	r->dirfd = open_dir(AT_FDCWD, dir, dir, create, err);
	if (r->dirfd < 0)
		goto out;
	/* a run killed while it created the repository left the marker's temp */
	if (create && hw_atomic_cleanup(r->dirfd, dir, err) < 0)
		goto out;
	if (fstatat(r->dirfd, REPO_MARK, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT) {
			hw_error_sys(err, "stat", REPO_MARK);
			goto out;
		}
		if (!create) {
			hw_error_set(err, ENOENT, "%s is not a snapshot repository (no %s)", dir,
				     REPO_MARK);
			ret = 0;
			goto out;
		}
		if (hw_atomic_replace(r->dirfd, dir, REPO_MARK, REPO_MARK_TEXT,
				      strlen(REPO_MARK_TEXT), 0644, err) < 0)
			goto out;
	}
	r->packs_fd = open_dir(r->dirfd, "packs", r->packs_path, true, err);
	if (r->packs_fd < 0)
		goto out;
	if (hw_catalog_open(dir, &r->cat, err) < 0)
		goto out;
	if (sqlite3_create_function(hw_catalog_db(r->cat), "snap_msgid_h", 1,
				    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_msgid_h, NULL,
				    NULL) != SQLITE_OK) {
		hw_catalog_error(r->cat, "create function", err);
		goto out;
	}
	if (sqlite3_create_function(hw_catalog_db(r->cat), "snap_migrate_v4", 0, SQLITE_UTF8, r,
				    snap_sql_migrate_v4, NULL, NULL) != SQLITE_OK) {
		hw_catalog_error(r->cat, "create function", err);
		goto out;
	}
	if (hw_catalog_migrate(r->cat, "snapshot", snap_steps,
			       sizeof(snap_steps) / sizeof(snap_steps[0]), err) < 0)
		goto out;
	/* snapshot metadata exists nowhere else: every commit is fsynced */
	if (hw_catalog_set_durable(r->cat, true, err) < 0)
		goto out;
	/* a full snapshot is one big transaction: keep its pages in memory
	   rather than spilling them to the WAL page by page */
	if (hw_catalog_exec(r->cat, "PRAGMA cache_size=-262144", err) < 0)
		goto out;
	*r_r = r;
	r = NULL;
	ret = 1;
out:
	if (r != NULL)
		snap_repo_free(&r);
	return ret;
}

void snap_repo_free(struct snap_repo **rp)
{
	struct snap_repo *r = *rp;

	if (r == NULL)
		return;
	hw_catalog_free(&r->cat);
	snap_packs_unlock(r);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->packs_fd >= 0)
		close(r->packs_fd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r->path);
	free(r->packs_path);
	free(r);
	*rp = NULL;
}

const char *snap_repo_path(const struct snap_repo *r)
{
	return r->path;
}

struct hw_catalog *snap_repo_catalog(struct snap_repo *r)
{
	return r->cat;
}

static int lock_file(struct snap_repo *r, const char *name, int op, int *fd_r,
		     struct hw_error *err)
{
	int fd = openat(r->dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		char *p = hw_path_join(r->path, name);
		hw_error_sys(err, "open", p);
		free(p);
		return -1;
	}
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			close(fd);
			hw_error_set(err, EWOULDBLOCK, "another run is writing to the snapshot "
				     "repository %s", r->path);
			return 0;
		}
		char *p = hw_path_join(r->path, name);
		hw_error_sys(err, "flock", p);
		free(p);
		close(fd);
		return -1;
	}
	*fd_r = fd;
	return 1;
}

int snap_repo_lock(struct snap_repo *r, struct hw_error *err)
{
	if (r->lock_fd >= 0)
		return 1;
	return lock_file(r, "lock", LOCK_EX | LOCK_NB, &r->lock_fd, err);
}

int snap_packs_lock(struct snap_repo *r, bool exclusive, struct hw_error *err)
{
	if (r->packs_lock_fd >= 0) {
		if (flock(r->packs_lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
			return hw_error_sys(err, "flock", "packs.lock");
		}
		return 1;
	}
	return lock_file(r, "packs.lock", exclusive ? LOCK_EX : LOCK_SH, &r->packs_lock_fd, err);
}

void snap_packs_unlock(struct snap_repo *r)
{
	if (r->packs_lock_fd >= 0)
		close(r->packs_lock_fd);
	r->packs_lock_fd = -1;
}

int snap_repo_gc(struct snap_repo *r, struct hw_error *err)
{
	struct hw_dir d;
	sqlite3_stmt *s;
	int removed = 0, ret = -1;

	hw_dir_init(&d);
	if (r->lock_fd < 0)
		return hw_error_set(err, EINVAL, "snapshot gc needs the repository lock");
	if (hw_atomic_cleanup(r->packs_fd, r->packs_path, err) < 0)
		return -1;
	if (hw_dir_read(r->packs_fd, r->packs_path, false, &d, err) < 0)
		return -1;
	if (snap_packs_lock(r, true, err) <= 0)
		goto out;
	for (size_t i = 0; i < d.n; i++) {
		const char *name = d.v[i].name;
		bool known;
		if (!snap_pack_name_ok(name))
			continue;   /* not ours: never delete */
		s = snap_stmt(r, "SELECT 1 FROM snap_pack WHERE name = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			hw_catalog_error(r->cat, "gc", err);
			goto out;
		}
		known = rc == SQLITE_ROW;
		sqlite3_reset(s);
		if (known)
			continue;
		if (hw_io_unlinkat(r->packs_fd, name, 0) < 0 && errno != ENOENT) {
			char *p = hw_path_join(r->packs_path, name);
			hw_error_sys(err, "unlink", p);
			free(p);
			goto out;
		}
		removed++;
	}
	if (removed > 0 && hw_fsync_dir(r->packs_fd, r->packs_path, err) < 0)
		goto out;
	ret = removed;
out:
	snap_packs_unlock(r);
	hw_dir_release(&d);
	return ret;
}

/* ---- list ---- */

static char *col_strdup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? hw_strdup((const char *)t) : NULL;
}

int snap_list(struct snap_repo *r, struct snap_info **v_r, size_t *n_r, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT id, created_ns, label, scope, full, folders, files,"
				    " messages, bytes, files_added, bytes_added FROM snap_snapshot"
				    " ORDER BY id", err);
	struct snap_info *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(v, cap, n + 1);
		struct snap_info *si = &v[n++];
		si->id = sqlite3_column_int64(s, 0);
		si->created_ns = sqlite3_column_int64(s, 1);
		si->label = col_strdup(s, 2);
		si->scope = col_strdup(s, 3);
		si->full = sqlite3_column_int(s, 4) != 0;
		si->folders = (uint64_t)sqlite3_column_int64(s, 5);
		si->files = (uint64_t)sqlite3_column_int64(s, 6);
		si->messages = (uint64_t)sqlite3_column_int64(s, 7);
		si->bytes = (uint64_t)sqlite3_column_int64(s, 8);
		si->files_added = (uint64_t)sqlite3_column_int64(s, 9);
		si->bytes_added = (uint64_t)sqlite3_column_int64(s, 10);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		snap_infos_free(v, n);
		return hw_catalog_error(r->cat, "list snapshots", err);
	}
	*v_r = v;
	*n_r = n;
	return 1;
}

void snap_infos_free(struct snap_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].label);
		free(v[i].scope);
	}
	free(v);
}

int snap_at(struct snap_repo *r, int64_t t, int64_t *id_r, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT max(id) FROM snap_snapshot WHERE created_ns <= ?",
				    err);
	int rc, ret;

	*id_r = 0;
	if (s == NULL)
		return -1;
	/* at or before t: anything created within second t counts */
	sqlite3_bind_int64(s, 1, t * 1000000000LL + 999999999LL);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return hw_catalog_error(r->cat, "snapshot at", err);
	}
	*id_r = sqlite3_column_int64(s, 0);
	ret = sqlite3_column_type(s, 0) != SQLITE_NULL;
	sqlite3_reset(s);
	return ret;
}

/* ---- coverage ---- */

int snap_covered(struct snap_repo *r, struct snap_cover *v, size_t n, struct hw_error *err)
{
	struct snap_held_path hp;
	int covered = 0, ret = -1;

	snap_held_init(&hp);
	for (size_t i = 0; i < n; i++) {
		const struct snap_held *h;
		size_t nh;

		v[i].covered_r = false;
		v[i].snapshot_r = 0;
		if (snap_held_load(r, &hp, v[i].folder, err) < 0)
			goto out;
		h = snap_held_by_name(&hp, v[i].file, &nh);
		for (size_t k = 0; k < nh; k++) {
			bool stored;
			if (h[k].rec->size != (int64_t)v[i].size ||
			    (v[i].hash != NULL && memcmp(h[k].rec->hash, v[i].hash, 16) != 0))
				continue;
			if (snap_blob_stored(r, h[k].rec->hash, &stored, err) < 0)
				goto out;
			if (!stored)
				continue;
			v[i].covered_r = true;
			if (h[k].last_snap > v[i].snapshot_r)
				v[i].snapshot_r = h[k].last_snap;
		}
		if (v[i].covered_r)
			covered++;
	}
	ret = covered;
out:
	snap_held_release(&hp);
	return ret;
}

/* ---- helpers for the command line ---- */

int snap_parse_time(const char *s, int64_t now, int64_t *t_r)
{
	static const char *const fmts[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
					     "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d" };
	char *end;
	int64_t d;

	if (s == NULL || *s == '\0')
		return 0;
	if (s[0] == '@') {
		errno = 0;
		long long v = strtoll(s + 1, &end, 10);
		if (errno != 0 || end == s + 1 || *end != '\0')
			return 0;
		*t_r = v;
		return 1;
	}
	if (hw_parse_duration(s, &d) == 1) {
		*t_r = now - d;
		return 1;
	}
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, fmts[i], &tm);
		if (end == NULL)
			continue;
		if (*end == 'Z' && end[1] == '\0') {
			*t_r = (int64_t)timegm(&tm);
			return 1;
		}
		if (*end != '\0')
			continue;
		tm.tm_isdst = -1;
		*t_r = (int64_t)mktime(&tm);
		return 1;
	}
	return 0;
}

char *snap_repo_default(const char *statedir, const char *dir)
{
	if (dir != NULL && *dir != '\0')
		return hw_strdup(dir);
	return hw_path_join(statedir, SNAP_REPO_DEFAULT);
}
