/* restore.c - hiwater restore: messages and folders back into the store (new
   names, new UIDs, never overwriting) or as plain files below a directory */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "hiwatermrk.h"
#include "imapmrk.h"
#include "io.h"
#include "mrkedit.h"
#include "snap-int.h"

struct ritem {
	int64_t snap;
	char *folder, *file;
	int kind;
	uint8_t hash[16];
	int64_t size, date;
	uint32_t uid;
	uint8_t flags;
	char *pack;                 /* NULL: content not in any pack */
	int64_t uoff;               /* of the member in its segment */
	int64_t seg_off, seg_clen;
	struct hw_hash csum;
	/* results */
	char *new_file;
	uint32_t new_uid;
	char *buf;                  /* content read, waiting for its turn */
	size_t buflen;
	bool got;
	enum snap_restore_action action;
	size_t add_index;           /* in its folder's adds, for the UID */
	bool in_adds;
};

struct rfolder {
	char *relpath;
	int fd;
	bool existed;               /* there before this restore */
	bool listed;
	struct hw_dir d;
	bool have_next;
	struct hw_msgname next;
	struct hw_mrk_add *adds;
	size_t nadds, cap_adds;
	/* messages found already there: a killed restore may have put them
	   back without their record, which finish_store then adds */
	struct hw_mrk_add *present;
	size_t npresent, cap_present;
	bool *claimed;              /* d.v[i] already stands for a message */
};

/* up to this many files below --to DIR are fsynced one by one */
#define SYNCFS_MIN_FILES 32

struct rctx {
	struct snap_repo *r;
	const struct hw_store *st;
	const struct snap_restore_opts *o;
	int to_fd;
	struct ritem *v;
	size_t n, cap;
	char **folders;             /* folders to recreate even when empty */
	size_t nfolders, cap_folders;
	struct rfolder *rf;
	size_t nrf, cap_rf;
	unsigned tmp_counter;
	size_t failed;
	size_t write_failed;        /* of those, failures to write the target */
	bool use_syncfs;            /* --to DIR with many files: one syncfs at the end */
};

static void ritem_release(struct ritem *it)
{
	free(it->folder);
	free(it->file);
	free(it->pack);
	free(it->new_file);
	free(it->buf);
}

/* one component, created with openat below its folder: a backslash is an
   ordinary character there (a Linux name may hold one) */
static bool name_safe(const char *name)
{
	return name != NULL && *name != '\0' && strchr(name, '/') == NULL &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* ---- choosing what to restore ---- */

static int64_t at_bound(const struct snap_restore_opts *o)
{
	return o->has_at ? o->at * 1000000000LL + 999999999LL : INT64_MAX;
}

#define SNAP_COND " AND (?3 = 0 OR sf.snap_id = ?3) AND s.created_ns <= ?4"

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t != NULL ? hw_strdup((const char *)t) : NULL;
}

/* one item: a record of a folder in snapshot snap, and where its content is */
static int add_item(struct rctx *c, int64_t snap, const char *relpath, const struct snap_rec *rec,
		    uint32_t uid, uint8_t flags, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(c->r, "SELECT b.uoff, k.name, g.offset, g.clen, g.csum"
				    " FROM snap_blob b JOIN snap_segment g ON g.id = b.segment_id"
				    " JOIN snap_pack k ON k.id = g.pack_id WHERE b.hash = ?", err);
	struct ritem *it;
	int rc;

	if (s == NULL)
		return -1;
	HW_GROW(c->v, c->cap, c->n + 1);
	it = &c->v[c->n++];
	memset(it, 0, sizeof(*it));
	it->snap = snap;
	it->folder = hw_strdup(relpath);
	it->file = hw_strdup(rec->name);
	it->kind = rec->kind;
	memcpy(it->hash, rec->hash, 16);
	it->size = rec->size;
	it->date = rec->date;
	it->uid = uid;
	it->flags = flags;
	it->uoff = -1;
	sqlite3_bind_blob(s, 1, rec->hash, 16, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		it->uoff = sqlite3_column_int64(s, 0);
		it->pack = col_dup(s, 1);
		it->seg_off = sqlite3_column_int64(s, 2);
		it->seg_clen = sqlite3_column_int64(s, 3);
		if (sqlite3_column_bytes(s, 4) == 16)
			memcpy(it->csum.b, sqlite3_column_blob(s, 4), 16);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hw_catalog_error(c->r->cat, "restore items", err);
	return 0;
}

/* the files of one folder version (all, or only those whose reference is
   in want) as items of snapshot snap */
static int collect_fver(struct rctx *c, int64_t snap, int64_t fver_id, const char *relpath,
			struct snap_hmap *want, const char *name, struct hw_error *err)
{
	struct snap_rcache rc;
	struct snap_lent *le = NULL;
	size_t nle = 0;
	int found = -1;

	snap_rcache_init(&rc);
	if (snap_fver_listing(c->r, fver_id, &le, &nle, err) < 0)
		goto out;
	found = 0;
	for (size_t i = 0; i < nle; i++) {
		const struct snap_rec *rec;
		if (want != NULL && snap_refset_get(want, le[i].rset_id, le[i].idx) == NULL)
			continue;
		rec = snap_rcache_rec(c->r, &rc, &le[i], err);
		if (rec == NULL) {
			found = -1;
			goto out;
		}
		if (name != NULL && strcmp(rec->name, name) != 0)
			continue;
		if (add_item(c, snap, relpath, rec, le[i].uid, le[i].flags, err) < 0) {
			found = -1;
			goto out;
		}
		found++;
	}
out:
	free(le);
	snap_rcache_release(&rc);
	return found;
}

/* the folder versions of a path in the snapshots chosen, newest first */
struct pfver {
	int64_t id, snap;
};

static int path_fvers(struct rctx *c, int64_t path_id, struct pfver **v_r, size_t *n_r,
		      struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(c->r, "SELECT v.id, max(sf.snap_id) AS m FROM snap_fver v"
				    " JOIN snap_sfolder sf ON sf.fver_id = v.id"
				    " JOIN snap_snapshot s ON s.id = sf.snap_id"
				    " WHERE v.path_id = ?1 AND ?2 IS NULL" SNAP_COND
				    " GROUP BY v.id ORDER BY m DESC", err);
	struct pfver *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, path_id);
	sqlite3_bind_int64(s, 3, c->o->snapshot);
	sqlite3_bind_int64(s, 4, at_bound(c->o));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(v, cap, n + 1);
		v[n].id = sqlite3_column_int64(s, 0);
		v[n].snap = sqlite3_column_int64(s, 1);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return hw_catalog_error(c->r->cat, "choose snapshot", err);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

static int collect_folders(struct rctx *c, int64_t snap, const char *relpath, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(c->r, "SELECT p.relpath, v.id FROM snap_sfolder sf"
				    " JOIN snap_fver v ON v.id = sf.fver_id JOIN snap_path p ON p.id = v.path_id"
				    " WHERE sf.snap_id = ?1 AND p.relpath >= ?2 AND p.relpath < ?2 || '0' AND (p.relpath = ?2 OR"
				    " substr(p.relpath, 1, length(?2) + 1) = ?2 || '/')", err);
	struct pfver *fv = NULL;
	size_t nfv = 0, cap_fv = 0, first = c->nfolders;
	int rc, ret = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, snap);
	sqlite3_bind_text(s, 2, relpath, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(c->folders, c->cap_folders, c->nfolders + 1);
		c->folders[c->nfolders++] = col_dup(s, 0);
		HW_GROW(fv, cap_fv, nfv + 1);
		fv[nfv].id = sqlite3_column_int64(s, 1);
		nfv++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(c->r->cat, "restore folders", err);
		goto out;
	}
	for (size_t i = 0; i < nfv; i++)
		if (collect_fver(c, snap, fv[i].id, c->folders[first + i], NULL, NULL, err) < 0)
			goto out;
	ret = 0;
out:
	free(fv);
	return ret;
}

static int resolve_message_id(struct rctx *c, const char *id, struct hw_error *err)
{
	size_t len = strlen(id);
	char *other = id[0] == '<' && len >= 2 && id[len - 1] == '>' ? hw_strndup(id + 1, len - 2) :
		      hw_asprintf("<%s>", id);
	struct snap_mref *mr = NULL;
	size_t nmr = 0;
	struct snap_hmap want;
	int64_t snap = 0;
	int found = -1;

	snap_hmap_init(&want);
	if (snap_msgid_refs(c->r, id, other, &mr, &nmr, err) < 0)
		goto out;
	for (size_t i = 0; i < nmr; i++)
		snap_refset_put(&want, mr[i].rset_id, mr[i].idx, 1);
	/* the newest snapshot (of those chosen) holding one of them */
	for (size_t i = 0; i < nmr; i++) {
		struct pfver *fv;
		size_t nfv;
		if (i > 0 && mr[i].path_id == mr[i - 1].path_id)
			continue;
		if (path_fvers(c, mr[i].path_id, &fv, &nfv, err) < 0)
			goto out;
		for (size_t k = 0; k < nfv && fv[k].snap > snap; k++) {
			struct snap_lent *le;
			size_t nle;
			bool has = false;
			if (snap_fver_listing(c->r, fv[k].id, &le, &nle, err) < 0) {
				free(fv);
				goto out;
			}
			for (size_t j = 0; j < nle && !has; j++)
				has = snap_refset_get(&want, le[j].rset_id, le[j].idx) != NULL;
			free(le);
			if (has)
				snap = fv[k].snap;
		}
		free(fv);
	}
	if (snap == 0) {
		hw_error_set(err, ENOENT, "message-id %s: in no snapshot%s", id,
			     c->o->snapshot || c->o->has_at ? " of those chosen" : "");
		found = 0;
		goto out;
	}
	{
		/* every copy in that snapshot */
		sqlite3_stmt *s = snap_stmt(c->r, "SELECT v.id, p.relpath FROM snap_sfolder sf"
					    " JOIN snap_fver v ON v.id = sf.fver_id"
					    " JOIN snap_path p ON p.id = v.path_id"
					    " WHERE sf.snap_id = ? AND v.path_id = ?", err);
		found = 0;
		for (size_t i = 0; i < nmr; i++) {
			int64_t fid = 0;
			char *relpath = NULL;
			int rc;
			if (i > 0 && mr[i].path_id == mr[i - 1].path_id)
				continue;
			if (s == NULL) {
				found = -1;
				goto out;
			}
			sqlite3_bind_int64(s, 1, snap);
			sqlite3_bind_int64(s, 2, mr[i].path_id);
			rc = sqlite3_step(s);
			if (rc == SQLITE_ROW) {
				fid = sqlite3_column_int64(s, 0);
				relpath = col_dup(s, 1);
			}
			sqlite3_reset(s);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
				found = hw_catalog_error(c->r->cat, "restore items", err);
				goto out;
			}
			if (fid == 0)
				continue;
			int f = collect_fver(c, snap, fid, relpath, &want, NULL, err);
			free(relpath);
			if (f < 0) {
				found = -1;
				goto out;
			}
			/* only messages */
			found += f;
		}
	}
out:
	snap_hmap_release(&want);
	free(mr);
	free(other);
	return found;
}

static int resolve_path(struct rctx *c, const char *path, struct hw_error *err)
{
	sqlite3_stmt *s;
	int64_t snap = 0, path_id;
	char *dir = NULL;
	const char *slash;
	struct pfver *fv = NULL;
	size_t nfv = 0;
	int found = -1, rc;

	if (!snap_relpath_safe(path)) {
		hw_error_set(err, EINVAL, "%s: not a folder or message path", path);
		return 0;
	}
	/* a folder? ('0' follows '/': the range lets the relpath index find the
	   folder and its subfolders) */
	s = snap_stmt(c->r, "SELECT max(sf.snap_id) FROM snap_path p"
		      " CROSS JOIN snap_fver v CROSS JOIN snap_sfolder sf"
		      " JOIN snap_snapshot s ON s.id = sf.snap_id"
		      " WHERE v.path_id = p.id AND sf.fver_id = v.id AND p.relpath >= ?1 AND p.relpath < ?1 || '0' AND (p.relpath = ?1 OR substr(p.relpath, 1, length(?1) + 1) = ?1 || '/')"
		      " AND ?2 IS NULL" SNAP_COND, err);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, c->o->snapshot);
	sqlite3_bind_int64(s, 4, at_bound(c->o));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		snap = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hw_catalog_error(c->r->cat, "choose snapshot", err);
	if (snap != 0)
		return collect_folders(c, snap, path, err) < 0 ? -1 : 1;
	/* FOLDER/FILE: the newest version of the folder holding that name */
	slash = strrchr(path, '/');
	if (slash == NULL) {
		hw_error_set(err, ENOENT, "%s: in no snapshot", path);
		return 0;
	}
	dir = hw_strndup(path, (size_t)(slash - path));
	if (snap_path_id(c->r, dir, &path_id, err) < 0)
		goto out;
	if (path_id != 0 && path_fvers(c, path_id, &fv, &nfv, err) < 0)
		goto out;
	found = 0;
	for (size_t k = 0; k < nfv && found == 0; k++) {
		found = collect_fver(c, fv[k].snap, fv[k].id, dir, NULL, slash + 1, err);
		if (found < 0)
			goto out;
	}
	if (found == 0)
		hw_error_set(err, ENOENT, "%s: in no snapshot%s", path,
			     c->o->snapshot || c->o->has_at ? " of those chosen" : "");
out:
	free(fv);
	free(dir);
	return found;
}

/* ---- writing ---- */

/* Write name below dirfd without ever replacing anything: temp file, fsync,
   link to the name (fails if it exists), unlink the temp. 1 written, 0 the
   name exists, -1 error */
static int put_file(struct rctx *c, int dirfd, const char *dirpath, const char *name,
		    const void *data, size_t len, int64_t mtime, struct hw_error *err)
{
	char *tmp = hw_asprintf(HW_TMP_PREFIX "%ld.%u.restore", (long)getpid(), ++c->tmp_counter);
	char *disp = hw_path_join(dirpath, name);
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	int fd, ret = -1;

	fd = hw_io_openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		hw_error_sys(err, "open", disp);
		c->write_failed++;
		goto out;
	}
	if (hw_io_write_all(fd, data, len) < 0) {
		hw_error_sys(err, "write", disp);
		goto fail;
	}
	if (mtime > 0)
		futimens(fd, ts);
	/* into the store each file is durable before its name appears; below
	   --to DIR a few files are fsynced each (a syncfs would wait for every
	   other writer's dirty data on that file system), a batch by one syncfs
	   at the end */
	if ((c->o->to_dir == NULL || !c->use_syncfs) && hw_io_fsync(fd) < 0) {
		hw_error_sys(err, "fsync", disp);
		goto fail;
	}
	close(fd);
	fd = -1;
	if (hw_io_linkat(dirfd, tmp, dirfd, name, 0) < 0) {
		if (errno == EEXIST) {
			ret = 0;
			goto fail;
		}
		hw_error_sys(err, "link", disp);
		goto fail;
	}
	hw_io_unlinkat(dirfd, tmp, 0);
	ret = 1;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	hw_io_unlinkat(dirfd, tmp, 0);
	if (ret < 0)
		c->write_failed++;
out:
	free(tmp);
	free(disp);
	return ret;
}

/* does the existing file hold exactly these bytes? */
static bool same_content(int dirfd, const char *name, const uint8_t hash[16], int64_t size)
{
	struct hw_error err;
	struct stat sb;
	struct hw_hash h;
	uint64_t got;
	int fd = hw_open_regular(dirfd, name, name, &sb, &err);
	bool same = false;

	if (fd < 0)
		return false;
	if (sb.st_size == size && hw_hash_fd(fd, name, &h, &got, &err) >= 0)
		same = memcmp(h.b, hash, 16) == 0;
	close(fd);
	return same;
}

/* open (creating) dir/relpath below the --to directory, never following a link */
static int open_to_folder(struct rctx *c, const char *relpath, struct hw_error *err)
{
	char *copy = hw_strdup(relpath), *save = NULL, *part;
	int fd = dup(c->to_fd);

	for (part = strtok_r(copy, "/", &save); fd >= 0 && part != NULL;
	     part = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (hw_io_mkdirat(fd, part, 0755) < 0 && errno != EEXIST) {
				hw_error_sys(err, "mkdir", relpath);
				close(fd);
				fd = -1;
				break;
			}
			/* without the final syncfs, each new entry is made durable here */
			if (!c->use_syncfs)
				hw_fsync_dir(fd, relpath, NULL);
			next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0)
			hw_error_sys(err, "open", relpath);
		close(fd);
		fd = next;
	}
	free(copy);
	return fd;
}

static struct rfolder *folder_get(struct rctx *c, const char *relpath, struct hw_error *err)
{
	struct rfolder *f;

	for (size_t i = 0; i < c->nrf; i++)
		if (strcmp(c->rf[i].relpath, relpath) == 0)
			return c->rf[i].fd >= 0 ? &c->rf[i] : NULL;
	HW_GROW(c->rf, c->cap_rf, c->nrf + 1);
	f = &c->rf[c->nrf++];
	memset(f, 0, sizeof(*f));
	f->relpath = hw_strdup(relpath);
	hw_dir_init(&f->d);
	if (!snap_relpath_safe(relpath)) {
		hw_error_set(err, EINVAL, "%s: unsafe folder path in the catalog: refused", relpath);
		f->fd = -1;
		return NULL;
	}
	if (c->o->to_dir != NULL) {
		f->fd = open_to_folder(c, relpath, err);
		f->existed = true;
		if (f->fd < 0)
			c->write_failed++;
	} else {
		struct hw_error e2;
		f->fd = hw_store_open_folder(c->st, relpath, &e2);
		f->existed = f->fd >= 0;
		if (f->fd < 0 && (f->fd = hw_store_make_folder(c->st, relpath, err)) < 0)
			c->write_failed++;
		/* a killed restore's temps and folder lock */
		else if (!c->o->dry_run && hw_atomic_cleanup(f->fd, relpath, &e2) < 0)
			hw_diag_warn("%s", e2.msg);
	}
	return f->fd >= 0 ? f : NULL;
}

static int folder_list(struct rfolder *f, struct hw_error *err)
{
	if (f->listed)
		return 0;
	if (hw_dir_read(f->fd, f->relpath, true, &f->d, err) < 0)
		return -1;
	f->listed = true;
	return 0;
}

/* put one restored message into a live folder */
static int store_message(struct rctx *c, struct ritem *it, const void *data, size_t len,
			 struct hw_error *err)
{
	struct rfolder *f = folder_get(c, it->folder, err);
	char name[32];

	if (f == NULL || folder_list(f, err) < 0)
		return -1;
	/* already there (same content, any name)? One file stands for one
	   message: two identical messages need two files */
	if (f->claimed == NULL)
		f->claimed = hw_calloc(f->d.n + 1, sizeof(*f->claimed));
	for (size_t i = 0; i < f->d.n; i++)
		if (!f->claimed[i] && f->d.v[i].kind == HW_ENTRY_MESSAGE &&
		    f->d.v[i].st.st_size == it->size &&
		    same_content(f->fd, f->d.v[i].name, it->hash, it->size)) {
			f->claimed[i] = true;
			it->action = SNAP_PRESENT;
			it->new_file = hw_strdup(f->d.v[i].name);
			if (c->o->to_dir == NULL && !c->o->dry_run) {
				struct hw_mrk_add *a;
				HW_GROW(f->present, f->cap_present, f->npresent + 1);
				a = &f->present[f->npresent++];
				memset(a, 0, sizeof(*a));
				a->file = it->new_file;
				a->flags = c->o->keep_flags ? (uint8_t)(it->flags & ~IMAPMRK_FLAG_DELETED) : 0;
				a->size = it->size > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)it->size;
				a->date = it->date;
			}
			return 0;
		}
	if (c->o->dry_run) {
		it->action = SNAP_WOULD_RESTORE;
		return 0;
	}
	if (!f->have_next) {
		hw_mrk_next_name(&f->d, name, sizeof(name));
		if (!hw_msgname_parse(name, &f->next))
			return hw_error_set(err, EINVAL, "%s: no free message file name", f->relpath);
		f->have_next = true;
	}
	for (int tries = 0;; tries++) {
		int r;
		if (f->next.number >= 999999999u || tries > 1000)
			return hw_error_set(err, ENOSPC, "%s: no free message file name", f->relpath);
		hw_msgname_format(name, sizeof(name), &f->next);
		f->next.number++;
		r = put_file(c, f->fd, f->relpath, name, data, len, it->date, err);
		if (r < 0)
			return -1;
		if (r > 0)
			break;
	}
	it->new_file = hw_strdup(name);
	it->action = SNAP_RESTORED;
	HW_GROW(f->adds, f->cap_adds, f->nadds + 1);
	struct hw_mrk_add *a = &f->adds[f->nadds];
	memset(a, 0, sizeof(*a));
	a->file = it->new_file;
	/* a restored message is new to IMAP clients: unseen unless asked */
	a->flags = c->o->keep_flags ? (uint8_t)(it->flags & ~IMAPMRK_FLAG_DELETED) : 0;
	a->size = it->size > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)it->size;
	a->date = it->date;
	it->add_index = f->nadds++;
	it->in_adds = true;
	return 0;
}

/* write one item whose bytes were read from its pack */
static int write_item(struct rctx *c, struct ritem *it, const void *data, size_t len,
		      struct hw_error *err)
{
	struct hw_hash h;
	struct rfolder *f;
	int r;

	hw_hash_buf(data, len, &h);
	if (memcmp(h.b, it->hash, 16) != 0 || (int64_t)len != it->size)
		return hw_error_set(err, EIO, "%s/%s: content in %s does not match its hash: "
				    "not restored", it->folder, it->file, it->pack);
	if (!name_safe(it->file))
		return hw_error_set(err, EINVAL, "%s/%s: unsafe file name in the catalog: refused",
				    it->folder, it->file);
	if (c->o->to_dir == NULL && it->kind == SNAP_KIND_MESSAGE)
		return store_message(c, it, data, len, err);
	if (c->o->to_dir == NULL && strcmp(it->file, IMAPMRK_NAME) == 0) {
		/* the live index is edited through hw_mrk_add, never replaced by an
		   old copy that would bring back stale UIDs */
		it->action = SNAP_PRESENT;
		return 0;
	}
	f = folder_get(c, it->folder, err);
	if (f == NULL)
		return -1;
	if (c->o->dry_run) {
		struct stat sb;
		it->action = fstatat(f->fd, it->file, &sb, AT_SYMLINK_NOFOLLOW) == 0 ?
			     SNAP_PRESENT : SNAP_WOULD_RESTORE;
		return 0;
	}
	r = put_file(c, f->fd, f->relpath, it->file, data, len, it->date, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (same_content(f->fd, it->file, it->hash, it->size) || c->o->to_dir == NULL) {
			/* a live settings file is kept as it is */
			it->action = SNAP_PRESENT;
			return 0;
		}
		return hw_error_set(err, EEXIST, "%s/%s: exists with other content: not overwritten",
				    it->folder, it->file);
	}
	it->new_file = hw_strdup(it->file);
	it->action = SNAP_RESTORED;
	return 0;
}

struct seg_ctx {
	struct rctx *c;
	struct ritem **group;
	size_t n;
	bool buffered;              /* keep the content; written afterwards */
};

static int on_member(void *ctx, const char *name, uint64_t uoff, const void *data, size_t len,
		     struct hw_error *err)
{
	struct seg_ctx *sc = ctx;
	size_t left = 0;

	for (size_t i = 0; i < sc->n; i++) {
		struct ritem *it = sc->group[i];
		if (it->action != SNAP_FAILED || it->new_file != NULL || it->got)
			continue;
		(void)name;
		if ((uint64_t)it->uoff != uoff) {
			left++;
			continue;
		}
		if (sc->buffered) {
			it->buf = hw_malloc(len + 1);
			memcpy(it->buf, data, len);
			it->buflen = len;
			it->got = true;
			continue;
		}
		struct hw_error ierr;
		if (write_item(sc->c, it, data, len, &ierr) < 0) {
			hw_diag_error("%s", ierr.msg);
			sc->c->failed++;
			it->new_file = hw_strdup("");   /* handled (failed) */
		}
	}
	return left == 0 ? 1 : 0;
}

static int cmp_item_seg(const void *a, const void *b)
{
	const struct ritem *x = *(struct ritem *const *)a, *y = *(struct ritem *const *)b;
	int d = strcmp(x->pack, y->pack);

	if (d != 0)
		return d;
	return x->seg_off < y->seg_off ? -1 : x->seg_off > y->seg_off;
}

/* read the segments holding items [from, to), each once; buffered: keep
   the content of each item for write_buffered, else write it now */
static int read_segments(struct rctx *c, size_t from, size_t to, bool buffered,
			 struct hw_error *err)
{
	struct ritem **p = hw_calloc(to - from + 1, sizeof(*p));
	size_t np = 0;
	int packfd = -1;
	char *packname = NULL;

	for (size_t i = from; i < to; i++) {
		c->v[i].action = SNAP_FAILED;
		if (c->v[i].pack == NULL || c->v[i].uoff < 0) {
			hw_diag_error("%s/%s: its content is in no pack: not restored", c->v[i].folder,
				      c->v[i].file);
			c->failed++;
			continue;
		}
		p[np++] = &c->v[i];
	}
	if (np > 0)
		qsort(p, np, sizeof(*p), cmp_item_seg);
	for (size_t i = 0; i < np;) {
		size_t j = i;
		while (j < np && strcmp(p[j]->pack, p[i]->pack) == 0 && p[j]->seg_off == p[i]->seg_off)
			j++;
		char *path = hw_path_join(c->r->packs_path, p[i]->pack);
		if (packname == NULL || strcmp(packname, p[i]->pack) != 0) {
			if (packfd >= 0)
				close(packfd);
			free(packname);
			packname = hw_strdup(p[i]->pack);
			packfd = snap_pack_name_ok(packname) ?
				 openat(c->r->packs_fd, packname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
		}
		struct seg_ctx sc = { c, p + i, j - i, buffered };
		struct hw_error serr;
		int r = packfd < 0 ? hw_error_sys(&serr, "open", path) :
			snap_segment_walk(packfd, path, (uint64_t)p[i]->seg_off,
					  (uint64_t)p[i]->seg_clen, &p[i]->csum, on_member, &sc, &serr);
		for (size_t k = i; k < j; k++) {
			if (p[k]->new_file != NULL || p[k]->action != SNAP_FAILED || p[k]->got)
				continue;
			hw_diag_error("%s/%s: not restored: %s", p[k]->folder, p[k]->file,
				      r < 0 ? serr.msg : "member missing from its segment");
			c->failed++;
		}
		free(path);
		i = j;
	}
	if (packfd >= 0)
		close(packfd);
	free(packname);
	free(p);
	(void)err;
	return 0;
}

/* write the items read, in the order of the listing: new file names and
   UIDs in the live store follow the snapshot's order, whatever the order
   of the content in the packs (grouped by similarity, not by folder) */
static void write_buffered(struct rctx *c, size_t from, size_t to)
{
	for (size_t k = from; k < to; k++) {
		struct ritem *it = &c->v[k];
		struct hw_error ierr;

		if (!it->got)
			continue;
		if (write_item(c, it, it->buf, it->buflen, &ierr) < 0) {
			hw_diag_error("%s", ierr.msg);
			c->failed++;
			it->new_file = hw_strdup("");   /* handled (failed) */
		}
		free(it->buf);
		it->buf = NULL;
	}
}

/* content held in memory at a time while restoring into the store */
#define RESTORE_CHUNK_BYTES ((int64_t)64 << 20)

static void read_and_write(struct rctx *c, struct hw_error *err)
{
	if (c->o->to_dir != NULL) {
		/* plain files keep their names: any order will do */
		read_segments(c, 0, c->n, false, err);
		return;
	}
	for (size_t from = 0; from < c->n;) {
		size_t to = from;
		int64_t bytes = 0;
		while (to < c->n && (to == from || bytes + c->v[to].size <= RESTORE_CHUNK_BYTES))
			bytes += c->v[to++].size;
		read_segments(c, from, to, true, err);
		write_buffered(c, from, to);
		from = to;
	}
}

/* recreate folders that hold nothing (and make sure every folder of a folder
   restore exists) */
static int make_folders(struct rctx *c)
{
	for (size_t i = 0; i < c->nfolders; i++) {
		struct hw_error ferr;
		if (c->o->dry_run)
			continue;
		if (folder_get(c, c->folders[i], &ferr) == NULL) {
			hw_diag_error("%s: %s", c->folders[i], ferr.msg);
			c->failed++;
		}
	}
	return 0;
}

/* the live store: durable names, then new UIDs, then subscription of the
   folders this restore created */
static int finish_store(struct rctx *c)
{
	for (size_t i = 0; i < c->nrf; i++) {
		struct rfolder *f = &c->rf[i];
		struct hw_error ferr;
		if (f->fd < 0)
			continue;
		if (c->o->to_dir != NULL || c->o->dry_run) {
			if (c->o->to_dir != NULL && !c->o->dry_run)
				hw_fsync_dir(f->fd, f->relpath, &ferr);
			continue;
		}
		if (hw_fsync_dir(f->fd, f->relpath, &ferr) < 0) {
			hw_diag_error("%s", ferr.msg);
			c->failed++;
			c->write_failed++;
		}
		if (f->npresent > 0) {
			/* present without a record: put back by a restore that was
			   killed before its index edit */
			struct imapmrk m;
			imapmrk_init(&m);
			if (imapmrk_read(f->fd, f->relpath, &m, &ferr) >= 0)
				for (size_t j = 0; j < f->npresent; j++) {
					bool has = false;
					for (size_t k = 0; k < m.n && !has; k++)
						has = strcmp(m.recs[k].filename, f->present[j].file) == 0;
					if (has)
						continue;
					HW_GROW(f->adds, f->cap_adds, f->nadds + 1);
					f->adds[f->nadds++] = f->present[j];
				}
			imapmrk_release(&m);
		}
		struct stat msb;
		bool bare = false;
		/* a folder this restore made gets its IMAP.MRK; so does an empty
		   one without it, which a killed restore may have made */
		if (f->nadds == 0 && f->existed && folder_list(f, &ferr) == 0 &&
		    f->d.nmessages == 0)
			bare = fstatat(f->fd, IMAPMRK_NAME, &msb, AT_SYMLINK_NOFOLLOW) < 0 &&
			       errno == ENOENT;
		if (f->nadds > 0 || !f->existed || bare) {
			int r = hw_mrk_add(f->fd, f->relpath, f->adds, f->nadds, &ferr);
			if (r <= 0) {
				hw_diag_error("%s: restored files not indexed: %s", f->relpath, ferr.msg);
				c->failed++;
				c->write_failed++;
			}
		}
		if (!f->existed) {
			/* a recreated folder: a settings file if the snapshot had none,
			   and a subscription so that IMAP clients show it */
			struct stat sb;
			if (fstatat(f->fd, HIWATERMRK_NAME, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
				struct hwmrk *h = hwmrk_new();
				hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note");
				if (hwmrk_write(f->fd, f->relpath, h, &ferr) < 0)
					hw_diag_warn("%s", ferr.msg);
				hwmrk_free(&h);
			}
			char *root = hw_folder_mailbox_root(f->relpath);
			if (root != NULL && strcmp(root, f->relpath) != 0) {
				int rfd = hw_store_open_folder(c->st, root, &ferr);
				struct hwmrk *h = NULL;
				char *imap = hw_folder_imapname(f->relpath);
				if (rfd >= 0 && hwmrk_read(rfd, root, &h, &ferr) >= 0) {
					if (hwmrk_get(h, "IMAPSubscribed", imap) == NULL) {
						hwmrk_set(h, "IMAPSubscribed", imap, "1");
						if (hwmrk_write(rfd, root, h, &ferr) < 0)
							hw_diag_warn("%s: not subscribed: %s", f->relpath,
								     ferr.msg);
					}
				} else {
					hw_diag_warn("%s: not subscribed: %s", f->relpath, ferr.msg);
				}
				hwmrk_free(&h);
				free(imap);
				if (rfd >= 0)
					close(rfd);
			}
			free(root);
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		struct ritem *it = &c->v[i];
		if (!it->in_adds)
			continue;
		for (size_t k = 0; k < c->nrf; k++)
			if (strcmp(c->rf[k].relpath, it->folder) == 0 && it->add_index < c->rf[k].nadds)
				it->new_uid = c->rf[k].adds[it->add_index].uid_r;
	}
	return 0;
}

int snap_restore(struct snap_repo *r, const struct hw_store *st, const struct snap_restore_opts *o,
		 snap_restore_fn *fn, void *ctx, struct hw_error *err)
{
	struct rctx c = { .r = r, .st = st, .o = o, .to_fd = -1 };
	int ret = -1, done = 0;

	if (o->to_dir == NULL && st == NULL)
		return hw_error_set(err, EINVAL, "restore needs a store or --to DIR");
	/* packs stay while we read them: prune unlinks only under the
	   exclusive lock. Shared from before the first catalog read, so that a
	   prune repacking meanwhile cannot unlink a pack named by what we read */
	if (snap_packs_lock(r, false, err) <= 0)
		return -1;
	for (size_t i = 0; i < o->nmessage_ids; i++) {
		int f = resolve_message_id(&c, o->message_ids[i], err);
		if (f < 0)
			goto out;
		if (f == 0) {
			hw_diag_error("%s", err->msg);
			c.failed++;
		}
	}
	for (size_t i = 0; i < o->npaths; i++) {
		int f = resolve_path(&c, o->paths[i], err);
		if (f < 0)
			goto out;
		if (f == 0) {
			hw_diag_error("%s", err->msg);
			c.failed++;
		}
	}
	if (c.n == 0 && c.nfolders == 0) {
		hw_error_set(err, ENOENT, "nothing to restore");
		ret = 0;
		goto out;
	}
	if (o->to_dir != NULL) {
		if (mkdir(o->to_dir, 0755) < 0 && errno != EEXIST) {
			hw_error_sys(err, "mkdir", o->to_dir);
			goto out;
		}
		c.to_fd = open(o->to_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c.to_fd < 0) {
			hw_error_sys(err, "open", o->to_dir);
			goto out;
		}
	}
	c.use_syncfs = c.n > SYNCFS_MIN_FILES;
	make_folders(&c);
	read_and_write(&c, err);
	finish_store(&c);
	if (c.to_fd >= 0 && !o->dry_run && c.use_syncfs && syncfs(c.to_fd) < 0) {
		hw_diag_error("syncfs(%s) failed: %s", o->to_dir, strerror(errno));
		c.failed++;
	}
	if (c.to_fd >= 0 && !o->dry_run && !c.use_syncfs)
		hw_fsync_dir(c.to_fd, o->to_dir, NULL);
	snap_packs_unlock(r);
	for (size_t i = 0; i < c.n; i++) {
		struct ritem *it = &c.v[i];
		struct snap_restore_item ri = {
			.snapshot = it->snap, .folder = it->folder, .file = it->file,
			.new_file = it->new_file != NULL && *it->new_file ? it->new_file : NULL,
			.uid = it->new_uid, .size = (uint64_t)it->size, .action = it->action,
		};
		if (it->action == SNAP_FAILED)
			continue;
		/* settings files kept as they are in a live folder are not news */
		if (o->to_dir == NULL && it->kind != SNAP_KIND_MESSAGE && it->action == SNAP_PRESENT)
			continue;
		if (it->action != SNAP_PRESENT)
			done++;
		if (fn != NULL)
			fn(ctx, &ri);
	}
	ret = done > 0 || c.failed == 0 ? (done > 0 ? done : 1) : 0;
	if (ret == 0 && c.write_failed > 0) {
		/* the target could not be written (reported above): an I/O
		   failure, not a target that matched nothing or bad snapshot data */
		hw_error_set(err, EIO, "nothing restored: %zu write%s failed", c.write_failed,
			     c.write_failed == 1 ? "" : "s");
		ret = -1;
	} else if (ret == 0) {
		hw_error_set(err, EIO, "nothing restored");
	}
out:
	snap_packs_unlock(r);
	if (c.to_fd >= 0)
		close(c.to_fd);
	for (size_t i = 0; i < c.n; i++)
		ritem_release(&c.v[i]);
	free(c.v);
	for (size_t i = 0; i < c.nfolders; i++)
		free(c.folders[i]);
	free(c.folders);
	for (size_t i = 0; i < c.nrf; i++) {
		if (c.rf[i].fd >= 0)
			close(c.rf[i].fd);
		free(c.rf[i].relpath);
		free(c.rf[i].adds);
		free(c.rf[i].present);
		free(c.rf[i].claimed);
		hw_dir_release(&c.rf[i].d);
	}
	free(c.rf);
	return ret;
}
