/* create.c - hiwater snapshot create: walk, dedup, pack, commit */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imapmrk.h"
#include "msghdr.h"
#include "os.h"
#include "pool.h"
#include "snap-int.h"

#define MRK_LOCK_TIMEOUT_MS 2000

/* the newest version of each folder path known to the repository */
struct prev_folder {
	char *relpath;
	int64_t path_id;
	int64_t fver_id;            /* 0: path known, no version */
	int64_t dir_mtime_ns, dir_entries, dir_ino;
	int64_t files, messages, bytes;
	struct hw_buf others;       /* snap_fver.others; empty: none (migrated) */
};

struct prev_file {
	int64_t rset_id;            /* the record: (record set, index) */
	uint32_t idx;
	char *name;
	int kind;
	uint8_t hash[16];
	int64_t size, ino, mtime_ns, date;
	uint32_t uid;
	uint8_t flags;
};

/* new content waiting in the reorder window */
struct win_item {
	char *member;
	char *key;                  /* similarity: subject, From, Message-ID */
	uint64_t kpre;              /* its first 8 bytes, big-endian: most
				       comparisons end there, without a miss */
	struct hw_buf data;
	struct snap_rchunk *chunk;  /* data was cut from it (NULL: malloc'd) */
	int64_t mtime;
	size_t pb;                  /* its pending blob */
	size_t seq;                 /* arrival: ties keep directory order */
	uint32_t seg;               /* placed by the flusher */
	uint64_t uoff;
};

struct pending_blob {
	uint8_t hash[16];
	uint32_t seg;
	uint64_t uoff;              /* of the member in its segment's tar stream */
	int64_t size;
	bool written;               /* its snap_blob row is in (window placed) */
};

struct create_ctx {
	struct snap_repo *r;
	const struct hw_store *st;
	const struct snap_create_opts *o;
	struct snap_create_result *res;
	int64_t snap_id;
	struct prev_folder *pf;
	size_t npf;
	struct snap_pack_writer *w;
	struct win_item *win;       /* the reorder window */
	size_t nwin, cap_win;
	uint64_t win_bytes, win_max;
	/* the previous window, sorted, going into the pack on its own thread
	   while this one fills: reading and compressing overlap */
	pthread_t flusher;
	bool flushing;
	struct win_item *fl;
	size_t nfl;
	int fl_ret;
	struct hw_error fl_err;
	struct snap_rec *nrec;      /* the current folder's new records */
	size_t nnrec, cap_nrec;
	struct snap_hmap added;     /* hashes stored by this run -> pending index */
	struct pending_blob *pb;
	size_t npb, cap_pb;
	int64_t seg_base;           /* the pack's segment i gets id seg_base + i
				       (0: not chosen yet); blob rows can then be
				       written as each window is placed */
	/* snap_msgid rows waiting: written once per window, many to a
	   statement (a statement a row, a folder at a time, took 3-5% of a
	   full snapshot's CPU) */
	struct mid_row { int64_t h, rset_id; } *mids;   /* at most MID_ROWS_MAX */
	size_t nmids, cap_mids;
	int read_jobs;              /* threads reading and hashing files */
	struct snap_rpool rpool;    /* buffers for small files: read-ahead's, window's */
	struct snap_rcursor win_cur;   /* the window's copies of new content */
	/* repair: content held only in segments a verify found damaged and no
	   create of the whole store has looked for since; unchanged folders
	   that held it are read again, and what is still there stored again */
	struct snap_hmap lost;
	bool repair;
	bool path_new;              /* the current folder's path is new: no records */
	bool repo_empty;            /* no content stored before this run: no lookups */
	bool bulk;                  /* first snapshot: indexes built at the end */
	bool journal_switched;      /* rollback journal for this run, WAL after */
	const char *cur_mrk;        /* the current folder's IMAP.MRK as read */
	/* the state catalog's messages of the current folder (o->state_cat) */
	char *sm_relpath;
	struct hw_cat_message *sm;
	size_t nsm;
};

#define MID_ROWS_MAX 65536         /* Message-ID rows gathered: 1 MB */
#define READ_BATCH_FILES 512
#define READ_BATCH_BYTES (32u << 20)
#define READ_POOL_MIN_FILES 128     /* smaller batches are read on this thread */
#define READ_POOL_MIN_BYTES (1u << 20)

struct file_meta {
	int64_t date;
	char *from, *subject, *message_id;
};

/* one file of a changed folder, from its stat to its catalog record */
struct work {
	const char *name;
	int kind;
	struct stat sb;
	bool unstated;              /* sb not taken before the read: read_one's
				       fstat gives it (read-ahead, everything read) */
	bool deferred;              /* over the read-ahead budget: stat'ed, not read */
	bool is_mrk;
	bool read;                  /* needs a record: read (or state-hashed) */
	bool state_hashed;          /* hash and headers from the state catalog, not read */
	bool failed;
	bool recorded;              /* has a record: (rset_id, idx) */
	int64_t rset_id;            /* 0: new record nrec[idx] */
	uint32_t idx;
	uint8_t hash[16];
	struct hw_buf data;
	struct snap_rchunk *chunk;  /* data was cut from it (NULL: malloc'd) */
	struct msghdr h;
	struct file_meta sm;        /* state_hashed: the indexer's headers (borrowed) */
	struct hw_error *err;       /* failed: why (allocated only then: a folder
				       holds an array of these) */
};

struct read_batch {
	struct create_ctx *c;
	int dirfd;
	const char *relpath;
	const char *mrk;
	size_t mrklen;
	struct work *v;
	size_t *idx;                /* the items workers read */
	size_t n;
	uint64_t budget;            /* read-ahead: a larger file is not read
				       (deferred: its sb is filled) */
	struct snap_rcursor *cur;   /* read-ahead: small files into its chunks */
};

static int cmp_prev_folder(const void *a, const void *b)
{
	return strcmp(((const struct prev_folder *)a)->relpath,
		      ((const struct prev_folder *)b)->relpath);
}

static int cmp_prev_file(const void *a, const void *b)
{
	return strcmp(((const struct prev_file *)a)->name, ((const struct prev_file *)b)->name);
}

static int load_prev_folders(struct create_ctx *c, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(c->r,
		"SELECT p.id, p.relpath, v.id, v.dir_mtime_ns, v.dir_entries, v.dir_ino,"
		" v.files, v.messages, v.bytes, v.others FROM snap_path p"
		" LEFT JOIN snap_fver v ON v.id = (SELECT max(id) FROM snap_fver WHERE path_id = p.id)",
		err);
	size_t cap = 0;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(c->pf, cap, c->npf + 1);
		struct prev_folder *p = &c->pf[c->npf++];
		p->path_id = sqlite3_column_int64(s, 0);
		p->relpath = hw_strdup((const char *)sqlite3_column_text(s, 1));
		p->fver_id = sqlite3_column_int64(s, 2);
		p->dir_mtime_ns = sqlite3_column_int64(s, 3);
		p->dir_entries = sqlite3_column_int64(s, 4);
		p->dir_ino = sqlite3_column_int64(s, 5);
		p->files = sqlite3_column_int64(s, 6);
		p->messages = sqlite3_column_int64(s, 7);
		p->bytes = sqlite3_column_int64(s, 8);
		hw_buf_init(&p->others);
		if (sqlite3_column_bytes(s, 9) > 0)
			hw_buf_add(&p->others, sqlite3_column_blob(s, 9),
				   (size_t)sqlite3_column_bytes(s, 9));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return hw_catalog_error(c->r->cat, "load folders", err);
	if (c->npf > 0)
		qsort(c->pf, c->npf, sizeof(c->pf[0]), cmp_prev_folder);
	return 0;
}

static void prev_files_free(struct prev_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* the files of a folder version, sorted by name; kind 0: all */
static int load_prev_files(struct create_ctx *c, int64_t fver_id, int kind,
			   struct prev_file **v_r, size_t *n_r, struct hw_error *err)
{
	struct snap_rcache rc;
	struct snap_lent *le = NULL;
	struct prev_file *v = NULL;
	size_t nle = 0, n = 0;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	snap_rcache_init(&rc);
	if (snap_fver_listing(c->r, fver_id, &le, &nle, err) < 0)
		goto out;
	v = hw_calloc(nle + 1, sizeof(*v));
	for (size_t i = 0; i < nle; i++) {
		const struct snap_rec *rec = snap_rcache_rec(c->r, &rc, &le[i], err);
		if (rec == NULL)
			goto out;
		if (kind != 0 && rec->kind != kind)
			continue;
		struct prev_file *f = &v[n++];
		f->rset_id = le[i].rset_id;
		f->idx = le[i].idx;
		f->name = hw_strdup(rec->name);
		f->kind = rec->kind;
		memcpy(f->hash, rec->hash, 16);
		f->size = rec->size;
		f->ino = rec->ino;
		f->mtime_ns = rec->mtime_ns;
		f->date = rec->date;
		f->uid = le[i].uid;
		f->flags = le[i].flags;
	}
	if (n > 0)
		qsort(v, n, sizeof(v[0]), cmp_prev_file);
	*v_r = v;
	*n_r = n;
	v = NULL;
	ret = 0;
out:
	if (v != NULL)
		prev_files_free(v, n);
	free(le);
	snap_rcache_release(&rc);
	return ret;
}

static bool skip_entry(const struct hw_entry *e)
{
	if (e->kind == HW_ENTRY_TEMP)
		return true;
	/* the folder lock comes and goes; it is not part of the folder */
	return strcmp(e->name, hw_folder_lock_name()) == 0;
}

/* A listed entry as a file to snapshot: 1 take it (*sb filled), 0 not
   part of the snapshot (a folder, a temp, the lock), -1 not a plain file
   (warned), -2 gone since the listing (warned: the folder is incomplete) */
static int entry_stat(int fd, const char *relpath, const struct hw_entry *e, struct stat *sb)
{
	if (skip_entry(e) || e->kind == HW_ENTRY_FOLDER)
		return 0;
	if (e->kind != HW_ENTRY_MESSAGE && e->kind != HW_ENTRY_FILE) {
		hw_diag_warn("%s/%s: not a plain file or folder: not in the snapshot", relpath,
			     e->name);
		return -1;
	}
	if (fstatat(fd, e->name, sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb->st_mode)) {
		hw_diag_warn("%s/%s: vanished while the snapshot ran: skipped", relpath, e->name);
		return -2;
	}
	return 1;
}

static size_t count_entries(const struct hw_dir *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		if (!skip_entry(&d->v[i]))
			n++;
	return n;
}

static bool same_listing(const struct hw_dir *a, const struct hw_dir *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) != 0)
			return false;
	return true;
}

static int64_t path_id_get(struct create_ctx *c, const char *relpath, struct hw_error *err)
{
	struct prev_folder key = { .relpath = (char *)relpath };
	struct prev_folder *p = c->npf == 0 ? NULL :
		bsearch(&key, c->pf, c->npf, sizeof(c->pf[0]), cmp_prev_folder);
	sqlite3_stmt *s;

	c->path_new = p == NULL;
	if (p != NULL)
		return p->path_id;
	s = snap_stmt(c->r, "INSERT INTO snap_path(relpath) VALUES (?)", err);
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, relpath, -1, SQLITE_STATIC);
	if (snap_step_done(c->r, s, "insert path", err) < 0)
		return -1;
	return sqlite3_last_insert_rowid(hw_catalog_db(c->r->cat));
}

static int add_sfolder(struct create_ctx *c, int64_t fver_id, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(c->r, "INSERT INTO snap_sfolder(snap_id, fver_id) VALUES (?, ?)",
				    err);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, c->snap_id);
	sqlite3_bind_int64(s, 2, fver_id);
	return snap_step_done(c->r, s, "insert snapshot folder", err);
}

/* Unchanged folder: same directory mtime (ns), inode and entry count, and
   every other file (IMAP.MRK, HIWATER.MRK, ...) with the same identity.
   Messages never change after delivery, so none is read. */
/* The previous version's records of a folder cannot be decoded (a damaged
   record set or listing in the catalog): warned, naming the folder, and
   the folder is taken as new and read whole, which also gives it a version
   free of the damage. Other errors stop the run. */
static bool prev_damaged(const char *relpath, const struct hw_error *e)
{
	if (e->errnum != EBADMSG)
		return false;
	hw_diag_warn("%s: its previous version in the catalog is damaged (%s): "
		     "read whole", relpath, e->msg);
	return true;
}

static int folder_unchanged(struct create_ctx *c, int fd, const struct prev_folder *p,
			    const struct hw_dir *d, bool *same_r, struct hw_error *err)
{
	struct prev_file *pv;
	size_t npv, nother = 0;

	*same_r = false;
	if (p == NULL || p->fver_id == 0 || c->o->full)
		return 0;
	if (p->dir_mtime_ns != HW_TS_NS(d->st.st_mtim) || p->dir_ino != (int64_t)d->st.st_ino ||
	    p->dir_entries != (int64_t)count_entries(d))
		return 0;
	if (p->others.len > 0) {
		/* the identities kept with the version: nothing to decompress */
		struct snap_rset o;
		if (snap_others_decode(p->others.data, p->others.len, &o) == 0) {
			npv = o.n;
			pv = hw_calloc(npv + 1, sizeof(*pv));
			for (size_t i = 0; i < npv; i++) {
				pv[i].name = hw_strdup(o.v[i].name);
				pv[i].ino = o.v[i].ino;
				pv[i].size = o.v[i].size;
				pv[i].mtime_ns = o.v[i].mtime_ns;
			}
			snap_rset_release(&o);
			goto check;
		}
	}
	if (load_prev_files(c, p->fver_id, SNAP_KIND_FILE, &pv, &npv, err) < 0)
		return err->errnum == EBADMSG ? 0 : -1;   /* changed; snapshot_folder warns */
check:
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind == HW_ENTRY_FILE && !skip_entry(&d->v[i]))
			nother++;
	bool same = nother == npv;
	for (size_t i = 0; same && i < npv; i++) {
		struct stat sb;
		if (fstatat(fd, pv[i].name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode) ||
		    (int64_t)sb.st_ino != pv[i].ino || (int64_t)sb.st_size != pv[i].size ||
		    HW_TS_NS(sb.st_mtim) != pv[i].mtime_ns)
			same = false;
	}
	prev_files_free(pv, npv);
	*same_r = same;
	return 0;
}

/* repair mode: the contents of segments found damaged since the last
   create of the whole store (a scan of snap_blob, only when there are) */
static int load_lost(struct create_ctx *c, struct hw_error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (c->o->full || c->repo_empty)
		return 0;   /* everything is read and stored anyway */
	s = snap_stmt(c->r, "SELECT 1 FROM snap_segment WHERE verified_at = ? LIMIT 1", err);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, SNAP_SEGMENT_BAD);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return hw_catalog_error(c->r->cat, "damaged segments", err);
	s = snap_stmt(c->r, "SELECT b.hash FROM snap_blob b WHERE b.segment_id IN"
		      " (SELECT id FROM snap_segment WHERE verified_at = ?)", err);
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, SNAP_SEGMENT_BAD);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (sqlite3_column_bytes(s, 0) == 16) {
			snap_hmap_put(&c->lost, sqlite3_column_blob(s, 0), 0);
			c->res->lost++;
		}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return hw_catalog_error(c->r->cat, "damaged segments", err);
	c->repair = true;
	hw_diag_info("%llu stored contents are only in segments snapshot verify found damaged: "
		     "every folder that held one is read again, and what the store still has is "
		     "stored again", (unsigned long long)c->res->lost);
	return 0;
}

static bool is_lost(struct create_ctx *c, const uint8_t hash[16])
{
	return c->repair && snap_hmap_get(&c->lost, hash) != NULL;
}

/* repair mode: did this unchanged folder hold lost content? */
static int folder_lost(struct create_ctx *c, const struct prev_folder *p, bool *lost_r,
		       struct hw_error *err)
{
	struct prev_file *pv;
	size_t npv;

	*lost_r = false;
	if (load_prev_files(c, p->fver_id, 0, &pv, &npv, err) < 0) {
		if (err->errnum != EBADMSG)
			return -1;
		*lost_r = true;   /* read whole: snapshot_folder warns */
		return 0;
	}
	for (size_t i = 0; i < npv && !*lost_r; i++)
		*lost_r = is_lost(c, pv[i].hash);
	prev_files_free(pv, npv);
	return 0;
}

static int blob_known(struct create_ctx *c, const uint8_t hash[16], bool *known_r,
		      struct hw_error *err)
{
	sqlite3_stmt *s;
	int rc;

	*known_r = snap_hmap_get(&c->added, hash) != NULL;
	if (*known_r || c->o->full || c->repo_empty)
		return 0;
	/* content marked missing (uoff -1) or in a segment found damaged is
	   stored again when it comes by */
	s = snap_stmt(c->r, "SELECT 1 FROM snap_blob b WHERE b.hash = ? AND" SNAP_BLOB_HELD_SQL,
		      err);
	if (s == NULL)
		return -1;
	sqlite3_bind_blob(s, 1, hash, 16, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hw_catalog_error(c->r->cat, "blob lookup", err);
	*known_r = rc == SQLITE_ROW;
	return 0;
}

/* The similarity key of new content: near-duplicate messages (the same
   mail in several mailboxes, a thread's replies) next to each other in the
   pack compress far better, and a segment must stay decompressible alone,
   so order is the lever (Enron store: 34.7 -> 29 MB). Normalised subject
   (ASCII lower case, leading "re:", "fw:", "fwd:" and blanks dropped),
   then From, then Message-ID; other files (IMAP.MRK, HIWATER.MRK) first. */
static char *sim_key(int kind, const struct file_meta *fm)
{
	const char *subj = fm->subject != NULL ? fm->subject : "";
	const char *from = fm->from != NULL ? fm->from : "";
	const char *mid = fm->message_id != NULL ? fm->message_id : "";
	size_t ns, nf, nm;
	char *key, *q;

	/* other files first, in directory order: a folder's settings files
	   are restored before its messages, as before the reordering */
	if (kind != SNAP_KIND_MESSAGE)
		return hw_strdup("\x01");
	for (;;) {
		while (*subj == ' ' || *subj == '\t')
			subj++;
		if (strncasecmp(subj, "re:", 3) == 0 || strncasecmp(subj, "fw:", 3) == 0)
			subj += 3;
		else if (strncasecmp(subj, "fwd:", 4) == 0)
			subj += 4;
		else
			break;
	}
	ns = strlen(subj);
	nf = strlen(from);
	nm = strlen(mid);
	key = q = hw_malloc(ns + nf + nm + 4);
	*q++ = '\x02';
	for (size_t i = 0; i < ns; i++)
		*q++ = (subj[i] >= 'A' && subj[i] <= 'Z') ? (char)(subj[i] - 'A' + 'a') : subj[i];
	*q++ = '\x01';
	for (size_t i = 0; i < nf; i++)
		*q++ = (from[i] >= 'A' && from[i] <= 'Z') ? (char)(from[i] - 'A' + 'a') : from[i];
	*q++ = '\x01';
	memcpy(q, mid, nm + 1);
	return key;
}

static int cmp_win(const void *a, const void *b)
{
	const struct win_item *x = a, *y = b;

	if (x->kpre != y->kpre)
		return x->kpre < y->kpre ? -1 : 1;
	int d = strcmp(x->key, y->key);
	if (d != 0)
		return d;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void win_items_free(struct win_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].member);
		free(v[i].key);
		snap_rbuf_release(&v[i].data, &v[i].chunk);
	}
	free(v);
}

/* the flusher thread: the only caller of the pack writer while it runs */
static void *flusher_main(void *arg)
{
	struct create_ctx *c = arg;

	c->fl_ret = 0;
	for (size_t i = 0; i < c->nfl; i++) {
		struct win_item *it = &c->fl[i];
		if (snap_pack_writer_add_at(c->w, it->member, it->data.data, it->data.len, it->mtime,
					    &it->seg, &it->uoff, &c->fl_err) < 0) {
			c->fl_ret = -1;
			break;
		}
		/* in the segment now: memory back early */
		snap_rbuf_release(&it->data, &it->chunk);
	}
	return NULL;
}

static int cmp_mid_row(const void *a, const void *b)
{
	const struct mid_row *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->rset_id < y->rset_id ? -1 : x->rset_id > y->rset_id;
}

static void bind_mid_row(sqlite3_stmt *s, int p, size_t i, void *ctx)
{
	const struct mid_row *m = (const struct mid_row *)ctx + i;

	sqlite3_bind_int64(s, p, m->h);
	sqlite3_bind_int64(s, p + 1, m->rset_id);
}

/* the snap_msgid rows gathered so far, in key order */
static int write_mid_rows(struct create_ctx *c, struct hw_error *err)
{
	size_t w = 0;

	if (c->nmids == 0)
		return 0;
	hw_sort(c->mids, c->nmids, sizeof(c->mids[0]), cmp_mid_row);
	for (size_t k = 0; k < c->nmids; k++)   /* the same ID twice in a folder: once */
		if (w == 0 || cmp_mid_row(&c->mids[w - 1], &c->mids[k]) != 0)
			c->mids[w++] = c->mids[k];
	c->nmids = 0;
	return snap_insert_rows(c->r, "INSERT OR IGNORE INTO snap_msgid(msgid_h, rset_id) VALUES",
				2, w, bind_mid_row, c->mids, "insert message-id", err);
}

static int cmp_pending_hash(const void *a, const void *b)
{
	return memcmp((*(struct pending_blob *const *)a)->hash,
		      (*(struct pending_blob *const *)b)->hash, 16);
}

/* The snap_blob rows of placed content, in hash order (each goes in next
   to the one before instead of at a random place of the b-tree). The
   segment ids are chosen ahead: this run holds the repository lock and
   its transaction, so nothing else adds a segment before commit_pack. */
struct blob_rows {
	struct pending_blob **v;
	int64_t seg_base;
};

static void bind_blob_row(sqlite3_stmt *s, int p, size_t i, void *ctx)
{
	const struct blob_rows *br = ctx;
	const struct pending_blob *b = br->v[i];

	sqlite3_bind_blob(s, p, b->hash, 16, SQLITE_STATIC);
	sqlite3_bind_int64(s, p + 1, br->seg_base + (int64_t)b->seg);
	sqlite3_bind_int64(s, p + 2, (int64_t)b->uoff);
	sqlite3_bind_int64(s, p + 3, b->size);
}

static int write_blob_rows(struct create_ctx *c, struct pending_blob **v, size_t n,
			   struct hw_error *err)
{
	struct blob_rows br = { v, 0 };

	if (n == 0)
		return 0;
	if (c->seg_base == 0 && snap_next_segment_id(c->r, &c->seg_base, err) < 0)
		return -1;
	br.seg_base = c->seg_base;
	hw_sort(v, n, sizeof(*v), cmp_pending_hash);
	/* --full stores content again: the newest copy wins */
	if (snap_insert_rows(c->r, "INSERT OR REPLACE INTO snap_blob(hash, segment_id, uoff, size)"
			     " VALUES", 4, n, bind_blob_row, &br, "insert blob", err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i]->written = true;
	return 0;
}

/* a flushed window: its blobs' segments and offsets are known now; with
   record, their catalog rows are written (not on the way out of a failed
   run: no catalog writes outside its transaction) */
static int window_collect(struct create_ctx *c, struct win_item *fl, size_t nfl, int fl_ret,
			  const struct hw_error *fl_err, bool record, struct hw_error *err)
{
	struct pending_blob **v = NULL;
	size_t n = 0;
	int ret = 0;

	if (fl_ret < 0) {
		*err = *fl_err;
		ret = -1;
	}
	if (ret == 0 && record)
		v = hw_calloc(nfl + 1, sizeof(*v));
	for (size_t i = 0; ret == 0 && i < nfl; i++) {
		struct pending_blob *b = &c->pb[fl[i].pb];
		b->seg = fl[i].seg;
		b->uoff = fl[i].uoff;
		if (v != NULL)
			v[n++] = b;
	}
	win_items_free(fl, nfl);
	if (v != NULL)
		ret = write_blob_rows(c, v, n, err);
	free(v);
	return ret;
}

/* wait for the window being flushed and collect it */
static int window_join(struct create_ctx *c, bool record, struct hw_error *err)
{
	struct win_item *fl = c->fl;
	size_t nfl = c->nfl;

	if (!c->flushing)
		return 0;
	pthread_join(c->flusher, NULL);
	c->flushing = false;
	c->fl = NULL;
	c->nfl = 0;
	return window_collect(c, fl, nfl, c->fl_ret, &c->fl_err, record, err);
}

/* sort the window and hand it to the flusher once the previous one is
   done; the previous one's catalog rows are written while the new one
   goes into the pack. last: wait for it too */
static int window_flush(struct create_ctx *c, bool last, struct hw_error *err)
{
	struct win_item *pfl = NULL;
	size_t npfl = 0;
	int pret = 0, ret = 0;
	struct hw_error perr;
	bool prev = false, inline_done = false;

	if (c->flushing) {
		pthread_join(c->flusher, NULL);
		c->flushing = false;
		pfl = c->fl;
		npfl = c->nfl;
		pret = c->fl_ret;
		perr = c->fl_err;
		c->fl = NULL;
		c->nfl = 0;
		prev = true;
		if (pret < 0)
			return window_collect(c, pfl, npfl, pret, &perr, false, err);
	}
	if (c->nwin > 0) {
		if (c->nwin > 1)
			qsort(c->win, c->nwin, sizeof(c->win[0]), cmp_win);
		c->fl = c->win;
		c->nfl = c->nwin;
		c->win = NULL;
		c->nwin = c->cap_win = 0;
		c->win_bytes = 0;
		if (pthread_create(&c->flusher, NULL, flusher_main, c) != 0) {
			flusher_main(c);   /* no thread: on this one */
			inline_done = true;
		} else {
			c->flushing = true;
		}
	}
	if (prev)
		ret = window_collect(c, pfl, npfl, pret, &perr, true, err);
	if (ret == 0)
		ret = write_mid_rows(c, err);   /* while the flusher works */
	if (inline_done) {
		struct win_item *fl = c->fl;
		size_t nfl = c->nfl;
		c->fl = NULL;
		c->nfl = 0;
		int r2 = window_collect(c, fl, nfl, c->fl_ret, &c->fl_err, ret == 0, err);
		if (ret == 0)
			ret = r2;
	}
	if (ret < 0)
		return -1;
	return last ? window_join(c, true, err) : 0;
}

static void window_release(struct create_ctx *c)
{
	struct hw_error e;

	(void)window_join(c, false, &e);
	win_items_free(c->win, c->nwin);
	c->win = NULL;
	c->nwin = 0;
}

#define WIN_SLACK_MAX 64          /* a read buffer with more spare room is copied */

/* new content: into the window (data taken over when owned is given),
   or straight into the pack when there is no window */
static int store_blob(struct create_ctx *c, const char *member, const uint8_t hash[16],
		      const void *data, size_t len, struct work *owner, int64_t mtime, int kind,
		      const struct file_meta *fm, struct hw_error *err)
{
	uint32_t seg = 0;
	uint64_t uoff = 0;

	if (c->w != NULL && c->win_max == 0 &&
	    snap_pack_writer_add_at(c->w, member, data, len, mtime, &seg, &uoff, err) < 0)
		return -1;
	HW_GROW(c->pb, c->cap_pb, c->npb + 1);
	struct pending_blob *b = &c->pb[c->npb];
	memset(b, 0, sizeof(*b));
	memcpy(b->hash, hash, 16);
	b->seg = seg;
	b->uoff = uoff;
	b->size = (int64_t)len;
	if (c->w != NULL && c->win_max > 0) {
		struct win_item *it;
		HW_GROW(c->win, c->cap_win, c->nwin + 1);
		it = &c->win[c->nwin];
		memset(it, 0, sizeof(*it));
		it->member = hw_strdup(member);
		it->key = sim_key(kind, fm);
		const char *kp = it->key;
		for (int k = 0; k < 8; k++) {
			/* zeros past the end: orders as strcmp does */
			uint8_t ch = (uint8_t)*kp;
			kp += ch != 0;
			it->kpre = (it->kpre << 8) | ch;
		}
		struct hw_buf *owned = owner != NULL ? &owner->data : NULL;
		char *p = NULL;
		if (owned != NULL && owner->chunk == NULL && owned->data == data &&
		    owned->len == len && owned->cap - len <= WIN_SLACK_MAX) {
			/* a malloc'd read buffer sized exactly: taken over */
			it->data = *owned;
			hw_buf_init(owned);
		} else if ((p = snap_rcursor_take(&c->win_cur, len + 1, &it->chunk)) != NULL) {
			/* a small file: copied into the window's chunks, where it
			   holds only its own bytes (a read buffer kept instead
			   would hold its whole chunk, and with it every buffer
			   already let go there: with much repeated content, many
			   times what the window counts) */
			memcpy(p, data, len);
			p[len] = '\0';
			it->data.data = p;
			it->data.len = len;
			it->data.cap = len + 1;
		} else {
			/* an exact-size copy: the window counts bytes it holds */
			it->data.data = hw_malloc(len + 1);
			memcpy(it->data.data, data, len);
			it->data.data[len] = '\0';
			it->data.len = len;
			it->data.cap = len + 1;
		}
		it->mtime = mtime;
		it->pb = c->npb;
		it->seq = c->npb;
		c->nwin++;
		c->win_bytes += len + 512;
	}
	snap_hmap_put(&c->added, hash, (int64_t)c->npb);
	c->npb++;
	c->res->files_added++;
	c->res->bytes_added += len;
	if (c->win_max > 0 && c->win_bytes >= c->win_max && window_flush(c, false, err) < 0)
		return -1;
	return 0;
}

/* The record of a file read: the previous version's record when name,
   content and identity are all the same (e.g. IMAP.MRK, always read),
   else a new record in this folder's record set. Records never change:
   a file rewritten with the same content (defrag) gets a new one, so that
   the next run trusts its new identity. */
static void file_record(struct create_ctx *c, const struct prev_file *pv, size_t npv,
			struct work *w, const struct file_meta *fm)
{
	struct prev_file key = { .name = (char *)w->name }, *pf;
	struct snap_rec *rec;

	pf = npv > 0 ? bsearch(&key, pv, npv, sizeof(pv[0]), cmp_prev_file) : NULL;
	if (pf != NULL && memcmp(pf->hash, w->hash, 16) == 0 && pf->kind == w->kind &&
	    pf->ino == (int64_t)w->sb.st_ino && pf->size == (int64_t)w->sb.st_size &&
	    pf->mtime_ns == HW_TS_NS(w->sb.st_mtim)) {
		w->rset_id = pf->rset_id;
		w->idx = pf->idx;
		w->recorded = true;
		return;
	}
	HW_GROW(c->nrec, c->cap_nrec, c->nnrec + 1);
	rec = &c->nrec[c->nnrec];
	memset(rec, 0, sizeof(*rec));
	/* the strings live as long as the folder's work items */
	rec->name = w->name;
	rec->kind = w->kind;
	memcpy(rec->hash, w->hash, 16);
	rec->size = (int64_t)w->sb.st_size;
	rec->mtime_ns = HW_TS_NS(w->sb.st_mtim);
	rec->ino = (int64_t)w->sb.st_ino;
	rec->date = fm->date;
	rec->from = fm->from;
	rec->subject = fm->subject;
	rec->message_id = fm->message_id;
	w->rset_id = 0;
	w->idx = (uint32_t)c->nnrec++;
	w->recorded = true;
}

static int cmp_cat_message(const void *a, const void *b)
{
	return strcmp(((const struct hw_cat_message *)a)->file,
		      ((const struct hw_cat_message *)b)->file);
}

static int cmp_mrk_rec(const void *a, const void *b)
{
	return strcmp(((const struct imapmrk_record *)a)->filename,
		      ((const struct imapmrk_record *)b)->filename);
}

/* read IMAP.MRK under the folder lock, for as long as the read takes;
   *sb_r: its identity, taken under the lock before the read (a stat after
   the lock could pair a later in-place rewrite's identity with this
   content, and the next run would then take the folder as unchanged) */
static int read_mrk_locked(int fd, const char *relpath, char **data_r, size_t *len_r,
			   struct stat *sb_r, struct hw_error *err)
{
	struct hw_folder_lock l;
	struct hw_error lerr;
	int r, lr;

	*data_r = NULL;
	*len_r = 0;
	lr = hw_folder_lock_take(fd, relpath, NULL, MRK_LOCK_TIMEOUT_MS, &l, &lerr);
	if (lr < 0)
		hw_diag_warn("%s: IMAP.MRK read without the folder lock: %s", relpath, lerr.msg);
	else if (lr == 0)
		hw_diag_warn("%s: folder busy, IMAP.MRK read without the lock", relpath);
	r = hw_read_file_at_st(fd, IMAPMRK_NAME, relpath, (size_t)1 << 31, data_r, len_r, sb_r,
			       err);
	if (lr > 0)
		hw_folder_lock_release(&l);
	return r;
}

/* The indexer's content hash for this file, when the state catalog holds one
   for the same identity (name, inode, size, mtime): 1 found (hash and its
   headers in w), 0 none, -1 error. The folder's rows are loaded once. */
static int state_hash(struct create_ctx *c, const char *relpath, struct work *w,
		      struct hw_error *err)
{
	struct hw_cat_message key, *m;

	if (c->o->state_cat == NULL || w->kind != SNAP_KIND_MESSAGE)
		return 0;
	if (c->sm_relpath == NULL || strcmp(c->sm_relpath, relpath) != 0) {
		struct hw_cat_folder f;
		int r;

		hw_cat_messages_free(c->sm, c->nsm);
		c->sm = NULL;
		c->nsm = 0;
		free(c->sm_relpath);
		c->sm_relpath = hw_strdup(relpath);
		memset(&f, 0, sizeof(f));
		r = hw_catalog_folder_get(c->o->state_cat, relpath, &f, err);
		if (r > 0)
			r = hw_catalog_messages_get(c->o->state_cat, f.id, &c->sm, &c->nsm, err);
		hw_cat_folder_release(&f);
		if (r < 0)
			return -1;
	}
	if (c->nsm == 0)
		return 0;
	memset(&key, 0, sizeof(key));
	key.file = (char *)w->name;
	m = bsearch(&key, c->sm, c->nsm, sizeof(c->sm[0]), cmp_cat_message);
	if (m == NULL || !m->has_hash || m->ino != (int64_t)w->sb.st_ino ||
	    m->size != (int64_t)w->sb.st_size || m->mtime_ns != HW_TS_NS(w->sb.st_mtim))
		return 0;
	memcpy(w->hash, m->hash, 16);
	w->sm.date = m->date;
	w->sm.from = m->from;
	w->sm.subject = m->subject;
	w->sm.message_id = m->message_id;
	return 1;
}

/* the file's store path for a message, built only when one is needed */
static const char *rb_display(const struct read_batch *rb, const struct work *w, char *buf)
{
	snprintf(buf, PATH_MAX, "%s/%s", rb->relpath, w->name);
	return buf;
}

/* worker: read, hash and parse one file (no catalog, no diagnostics) */
static void read_one(void *ctx, size_t i, int worker)
{
	struct read_batch *rb = ctx;
	struct work *w = &rb->v[rb->idx[i]];
	const char *data;
	size_t len;
	struct hw_hash hh;

	(void)worker;
	if (w->is_mrk) {
		data = rb->mrk;
		len = rb->mrklen;
	} else {
		struct stat sb;
		/* pass 1 saw a regular file (lstat); O_NONBLOCK keeps the open
		   from blocking on a FIFO put there since, and fstat checks that
		   it is still that file. Reads of a regular file ignore O_NONBLOCK */
		int ffd = openat(rb->dirfd, w->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
				 O_NOCTTY);
		int rr = -1;
		char dbuf[PATH_MAX];
		struct hw_error e;

		if (ffd < 0) {
			hw_error_sys(&e, "open", rb_display(rb, w, dbuf));
		} else if (fstat(ffd, &sb) < 0) {
			hw_error_sys(&e, "fstat", rb_display(rb, w, dbuf));
		} else if (!S_ISREG(sb.st_mode) ||
			   (!w->unstated && (sb.st_ino != w->sb.st_ino || sb.st_dev != w->sb.st_dev))) {
			hw_error_set(&e, EINVAL, "%s is not a regular file (or was replaced "
				     "while opened): not read", rb_display(rb, w, dbuf));
		} else if ((uint64_t)sb.st_size > SNAP_MEMBER_MAX) {
			/* no reader would take it back out of a pack */
			hw_error_set(&e, EFBIG, "%s: %lld bytes, more than a snapshot holds "
				     "(16 GiB): not stored", rb_display(rb, w, dbuf),
				     (long long)sb.st_size);
		} else if (rb->budget > 0 && (uint64_t)sb.st_size > rb->budget) {
			/* too large to read ahead: the writer reads it in its batches */
			w->sb = sb;
			w->unstated = false;
			w->deferred = true;
			close(ffd);
			return;
		} else {
			w->sb = sb;
			rr = snap_rbuf_read(ffd, rb->cur, (size_t)sb.st_size, &w->data, &w->chunk,
					    rb->relpath, w->name, &e);
		}
		if (ffd >= 0)
			close(ffd);
		if (rr < 0) {
			w->failed = true;
			w->err = hw_malloc(sizeof(*w->err));
			*w->err = e;
			return;
		}
		data = w->data.data;
		len = w->data.len;
	}
	w->sb.st_size = (off_t)len;
	hw_hash_buf(data, len, &hh);
	memcpy(w->hash, hh.b, 16);
	if (w->kind == SNAP_KIND_MESSAGE) {
		/* the catalog keeps Date, From, Subject and Message-ID only */
		w->h.skip = MSGHDR_SKIP_TO | MSGHDR_SKIP_IN_REPLY_TO;
		msghdr_parse(data, len, true, &w->h);
	}
}

/* which items of the batch workers read; files the indexer hashed whose
   content the repository holds need no read at all */
static int prepare_batch(struct create_ctx *c, struct read_batch *rb, size_t n,
			 struct hw_error *err)
{
	rb->idx = hw_calloc(n + 1, sizeof(*rb->idx));
	rb->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct work *w = &rb->v[i];
		bool known = false;

		if (!w->read)
			continue;
		if (w->state_hashed) {
			if (blob_known(c, w->hash, &known, err) < 0)
				return -1;
			if (known)
				continue;
			w->state_hashed = false;   /* new content: read it to store it */
		}
		rb->idx[rb->n++] = i;
	}
	return 0;
}

/* this thread: the catalog record and, for new content, the pack member */
static int record_one(struct create_ctx *c, const char *relpath, const struct prev_file *pv,
		      size_t npv, struct work *w, struct hw_error *err)
{
	struct file_meta fm = { 0 };
	bool known = false;
	char *display;
	int ret = -1;

	display = hw_path_join(relpath, w->name);
	if (w->failed) {
		hw_diag_warn("%s: skipped: %s", display, w->err->errnum == ENOENT ?
			     "deleted while the snapshot ran" : w->err->msg);
		c->res->skipped++;
		ret = 0;
		goto out;
	}
	if (w->state_hashed) {
		fm = w->sm;
		if (fm.date == 0)
			fm.date = w->sb.st_mtim.tv_sec;
	} else {
		c->res->files_read++;
		fm.date = w->sb.st_mtim.tv_sec;
		if (w->kind == SNAP_KIND_MESSAGE) {
			fm.from = w->h.from;
			fm.subject = w->h.subject;
			fm.message_id = w->h.message_id;
			if (w->h.date_known)
				fm.date = w->h.date;
		}
	}
	file_record(c, pv, npv, w, &fm);
	if (!w->state_hashed) {
		const void *data = w->is_mrk ? c->cur_mrk : w->data.data;
		if (blob_known(c, w->hash, &known, err) < 0)
			goto out;
		/* the member is named after the file (for standard tools); the
		   catalog finds it by its offset */
		if (!known && store_blob(c, display, w->hash, data, (size_t)w->sb.st_size,
					 w->is_mrk ? NULL : w, w->sb.st_mtim.tv_sec, w->kind,
					 &fm, err) < 0)
			goto out;
		if (!known && is_lost(c, w->hash))
			c->res->repaired++;
	}
	ret = 0;
out:
	free(display);
	return ret;
}

/* the same file records with the same UIDs and flags? */
static bool same_members(const struct prev_file *pv, size_t npv, const struct snap_lent *mem,
			 size_t nmem)
{
	struct snap_hmap m;
	bool same = npv == nmem;

	if (!same)
		return false;
	snap_hmap_init(&m);
	for (size_t i = 0; i < npv; i++)
		snap_refset_put(&m, pv[i].rset_id, pv[i].idx, ((int64_t)pv[i].uid << 8) | pv[i].flags);
	for (size_t i = 0; same && i < nmem; i++) {
		int64_t *v = snap_refset_get(&m, mem[i].rset_id, mem[i].idx);
		same = v != NULL && *v == (((int64_t)mem[i].uid << 8) | mem[i].flags);
	}
	snap_hmap_release(&m);
	return same;
}

/* ---- folder prefetch: when nothing about a folder needs the catalog (an
   empty repository, --full), worker threads take whole folders, in order:
   open, list, IMAP.MRK under the lock, stat, read, hash and parse; this
   thread consumes them in folder order (catalog rows, pack). Folders are
   handed out one at a time, at most PRE_AHEAD_BYTES of read content
   and PRE_AHEAD_FOLDERS folders waiting (each holds its directory open:
   small folders add next to no bytes; at most half of what the other
   open files leave of the open-file limit); a folder with more than
   PRE_FOLDER_BYTES to read is only listed and stat'ed there and read
   here in batches as before. */
#define PRE_AHEAD_BYTES (16u << 20)
#define PRE_AHEAD_FOLDERS 128   /* 32 held the readers back on the Enron
				   store's many small folders */
#define PRE_FOLDER_BYTES (16u << 20)

struct pre_folder {
	int fd;                     /* -1: not opened (skip_msg says why) */
	char *skip_msg;
	struct hw_dir d;
	char *mrk;
	size_t mrklen;
	struct stat mrk_sb;         /* IMAP.MRK's identity as read (under the lock) */
	struct work *wv;
	size_t nwv;
	uint64_t skipped;
	bool incomplete;            /* a file that is there was left out */
	uint64_t bytes;             /* read here: counted against the bound */
	size_t nread;               /* wv[0 .. nread) were read here */
	bool done;
};

struct prefetch {
	const struct hw_store *st;
	struct fl_item { const char *relpath; } *v;
	struct pre_folder *pf;
	size_t n, next, consumed;
	size_t max_ahead;           /* folders */
	uint64_t ahead;             /* bytes read and not yet consumed */
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t *th;
	int nth;
	struct snap_rpool *rpool;   /* the threads' buffers for small files */
};

static void pre_folder_release(struct pre_folder *f)
{
	for (size_t i = 0; i < f->nwv; i++) {
		snap_rbuf_release(&f->wv[i].data, &f->wv[i].chunk);
		msghdr_release(&f->wv[i].h);
		free(f->wv[i].err);
	}
	free(f->wv);
	f->wv = NULL;
	f->nwv = 0;
	free(f->mrk);
	f->mrk = NULL;
	free(f->skip_msg);
	f->skip_msg = NULL;
	hw_dir_release(&f->d);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* the file-system half of a folder (worker thread: no catalog, no shared
   state but the diagnostics, which are thread-safe) */
static void pre_folder_fill(const struct hw_store *st, const char *relpath, struct pre_folder *f,
			    struct snap_rcursor *cur)
{
	struct hw_error ferr;
	struct hw_dir d2;

	hw_dir_init(&d2);
	f->fd = hw_store_open_folder(st, relpath, &ferr);
	if (f->fd < 0) {
		f->skip_msg = hw_strdup(ferr.msg);
		return;
	}
	if (hw_dir_read(f->fd, relpath, false, &f->d, &ferr) < 0) {
		f->skip_msg = hw_strdup(ferr.msg);
		close(f->fd);
		f->fd = -1;
		return;
	}
	if (hw_dir_find(&f->d, IMAPMRK_NAME) != NULL) {
		if (read_mrk_locked(f->fd, relpath, &f->mrk, &f->mrklen, &f->mrk_sb, &ferr) < 0)
			hw_diag_warn("%s", ferr.msg);
		/* as in snapshot_folder: keep the listing after our own lock */
		if (hw_dir_read(f->fd, relpath, false, &d2, &ferr) == 1 && same_listing(&f->d, &d2)) {
			struct hw_dir t = f->d;
			f->d = d2;
			d2 = t;
		}
	}
	hw_dir_release(&d2);
	/* Everything is read here (nothing to look up), so a message is opened
	   without a stat of its own first: read_one's fstat gives its size and
	   identity. A file that would take the folder past PRE_FOLDER_BYTES,
	   and every file after it, is only stat'ed and left to the consumer,
	   which reads it in batches: read-ahead holds at most that much a
	   folder, whatever the size of one message. */
	struct read_batch rb = { .dirfd = f->fd, .relpath = relpath, .mrk = f->mrk,
				 .mrklen = f->mrklen, .cur = cur };
	size_t cap = 0, one = 0;
	bool reading = true;
	for (size_t i = 0; i < f->d.n; i++) {
		const struct hw_entry *e = &f->d.v[i];
		struct work *w;
		struct stat sb;
		int k;

		if (skip_entry(e) || e->kind == HW_ENTRY_FOLDER)
			continue;
		bool is_mrk = f->mrk != NULL && strcmp(e->name, IMAPMRK_NAME) == 0;
		bool unstated = reading && !is_mrk &&
				(e->kind == HW_ENTRY_MESSAGE || e->kind == HW_ENTRY_FILE);
		if (!unstated) {
			k = entry_stat(f->fd, relpath, e, &sb);
			if (k <= 0) {
				f->skipped += k < 0;
				f->incomplete |= k == -2;
				continue;
			}
		}
		HW_GROW(f->wv, cap, f->nwv + 1);
		w = &f->wv[f->nwv++];
		memset(w, 0, sizeof(*w));
		w->name = e->name;
		w->kind = e->kind == HW_ENTRY_MESSAGE ? SNAP_KIND_MESSAGE : SNAP_KIND_FILE;
		if (!unstated)
			w->sb = is_mrk ? f->mrk_sb : sb;
		w->unstated = unstated;
		w->is_mrk = is_mrk;
		hw_buf_init(&w->data);
		msghdr_init(&w->h);
		w->read = true;
		if (!reading)
			continue;
		rb.v = w;
		rb.idx = &one;
		rb.budget = PRE_FOLDER_BYTES - f->bytes;   /* >= 1 while reading */
		read_one(&rb, 0, 0);
		if (w->deferred) {
			reading = false;   /* this one and the rest: the writer's batches */
			continue;
		}
		if (!w->failed)
			f->bytes += (uint64_t)w->sb.st_size;
		f->nread = f->nwv;
		reading = f->bytes < PRE_FOLDER_BYTES;
	}
}

static void *prefetch_main(void *arg)
{
	struct prefetch *pp = arg;
	struct snap_rcursor cur = { pp->rpool, NULL };

	pthread_mutex_lock(&pp->mu);
	for (;;) {
		/* bounded: the folder the consumer waits for always goes */
		while (!pp->stop && pp->next < pp->n && pp->next > pp->consumed &&
		       (pp->ahead >= PRE_AHEAD_BYTES || pp->next - pp->consumed >= pp->max_ahead))
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (pp->stop || pp->next >= pp->n)
			break;
		size_t i = pp->next++;
		pthread_mutex_unlock(&pp->mu);
		pre_folder_fill(pp->st, pp->v[i].relpath, &pp->pf[i], &cur);
		pthread_mutex_lock(&pp->mu);
		pp->pf[i].done = true;
		pp->ahead += pp->pf[i].bytes;
		pthread_cond_broadcast(&pp->cv);
	}
	pthread_mutex_unlock(&pp->mu);
	snap_rcursor_end(&cur);
	return NULL;
}

static void prefetch_start(struct prefetch *pp, const struct hw_store *st,
			   const struct hw_folder_list *fl, int jobs, struct snap_rpool *rpool)
{
	memset(pp, 0, sizeof(*pp));
	pp->st = st;
	pp->rpool = rpool;
	pp->max_ahead = PRE_AHEAD_FOLDERS;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		/* half of what the readers (a file each, here and in the main
		   thread's batches), the catalog, the pack and the locks leave */
		rlim_t other = 2 * (rlim_t)(jobs > 0 ? jobs : 1) + 32;
		rlim_t half = rl.rlim_cur > other ? (rl.rlim_cur - other) / 2 : 0;
		if (half < pp->max_ahead)
			pp->max_ahead = half > 4 ? (size_t)half : 4;
	}
	pp->n = fl->n;
	pp->v = hw_calloc(fl->n + 1, sizeof(*pp->v));
	pp->pf = hw_calloc(fl->n + 1, sizeof(*pp->pf));
	for (size_t i = 0; i < fl->n; i++) {
		pp->v[i].relpath = fl->v[i].relpath;
		pp->pf[i].fd = -1;
		hw_dir_init(&pp->pf[i].d);
	}
	pthread_mutex_init(&pp->mu, NULL);
	pthread_cond_init(&pp->cv, NULL);
	pp->th = hw_calloc((size_t)(jobs > 0 ? jobs : 1), sizeof(*pp->th));
	for (int i = 0; i < jobs; i++)
		if (pthread_create(&pp->th[pp->nth], NULL, prefetch_main, pp) == 0)
			pp->nth++;
}

/* the prefetched folder i (NULL: no thread could start; read it here) */
static struct pre_folder *prefetch_wait(struct prefetch *pp, size_t i)
{
	struct pre_folder *f = &pp->pf[i];

	if (pp->nth == 0)
		return NULL;
	pthread_mutex_lock(&pp->mu);
	pp->consumed = i;
	pthread_cond_broadcast(&pp->cv);
	while (!f->done)
		pthread_cond_wait(&pp->cv, &pp->mu);
	pthread_mutex_unlock(&pp->mu);
	return f;
}

static void prefetch_done_with(struct prefetch *pp, size_t i)
{
	pthread_mutex_lock(&pp->mu);
	pp->ahead -= pp->pf[i].bytes;
	pp->pf[i].bytes = 0;
	pthread_cond_broadcast(&pp->cv);
	pthread_mutex_unlock(&pp->mu);
}

static void prefetch_stop(struct prefetch *pp)
{
	if (pp->pf == NULL)
		return;
	pthread_mutex_lock(&pp->mu);
	pp->stop = true;
	pthread_cond_broadcast(&pp->cv);
	pthread_mutex_unlock(&pp->mu);
	for (int i = 0; i < pp->nth; i++)
		pthread_join(pp->th[i], NULL);
	for (size_t i = 0; i < pp->n; i++)
		pre_folder_release(&pp->pf[i]);
	pthread_mutex_destroy(&pp->mu);
	pthread_cond_destroy(&pp->cv);
	free(pp->th);
	free(pp->pf);
	free(pp->v);
	memset(pp, 0, sizeof(*pp));
}

static int snapshot_folder(struct create_ctx *c, const char *relpath, struct pre_folder *pre,
			   struct hw_error *err)
{
	struct prev_folder key = { .relpath = (char *)relpath };
	struct prev_folder *p = c->npf == 0 ? NULL :
		bsearch(&key, c->pf, c->npf, sizeof(c->pf[0]), cmp_prev_folder);
	struct hw_dir d, d2;
	struct hw_error ferr;
	struct prev_file *pv = NULL;
	size_t npv = 0;
	char *mrk = NULL;
	size_t mrklen = 0;
	struct stat mrk_sb = { 0 };
	struct imapmrk m;
	struct snap_lent *mem = NULL;
	size_t nmem = 0, cap_mem = 0;
	struct work *wv = NULL;
	size_t nwv = 0, cap_wv = 0;
	struct hw_buf blob, others;
	struct snap_rec *oth = NULL;
	size_t noth = 0, cap_oth = 0;
	int64_t path_id, fver_id, rset_id = 0;
	uint64_t files = 0, messages = 0, bytes = 0;
	size_t nwv_read = 0;
	/* a file left out (unreadable, vanished): the folder version gets no
	   directory identity, so that the next run looks at it again instead
	   of taking it as unchanged (a chmod does not touch the directory) */
	bool incomplete = false;
	bool same;
	int fd, ret = -1;

	hw_dir_init(&d);
	hw_dir_init(&d2);
	hw_buf_init(&blob);
	hw_buf_init(&others);
	imapmrk_init(&m);
	c->nnrec = 0;
	if (pre != NULL) {
		/* listed, stat'ed and (mostly) read by a prefetch thread: take it */
		c->res->skipped += pre->skipped;
		incomplete = pre->incomplete;
		if (pre->fd < 0) {
			hw_diag_warn("%s: skipped: %s", relpath, pre->skip_msg);
			c->res->skipped++;
			return 0;
		}
		fd = pre->fd;
		pre->fd = -1;
		d = pre->d;
		hw_dir_init(&pre->d);
		mrk = pre->mrk;
		mrklen = pre->mrklen;
		pre->mrk = NULL;
		wv = pre->wv;
		nwv = cap_wv = pre->nwv;
		pre->wv = NULL;
		pre->nwv = 0;
	} else {
		fd = hw_store_open_folder(c->st, relpath, &ferr);
		if (fd < 0) {
			hw_diag_warn("%s: skipped: %s", relpath, ferr.msg);
			c->res->skipped++;
			return 0;
		}
	}
	if (pre == NULL && hw_dir_read(fd, relpath, false, &d, &ferr) < 0) {
		hw_diag_warn("%s: skipped: %s", relpath, ferr.msg);
		c->res->skipped++;
		ret = 0;
		goto out;
	}
	if (folder_unchanged(c, fd, p, &d, &same, err) < 0)
		goto out;
	if (same && c->repair) {
		bool lost;
		if (folder_lost(c, p, &lost, err) < 0)
			goto out;
		same = !lost;
	}
	c->res->folders++;
	if (same) {
		c->res->files += (uint64_t)p->files;
		c->res->messages += (uint64_t)p->messages;
		c->res->bytes += (uint64_t)p->bytes;
		ret = add_sfolder(c, p->fver_id, err);
		goto out;
	}
	c->res->folders_changed++;
	path_id = path_id_get(c, relpath, err);
	if (path_id < 0)
		goto out;
	if (p != NULL && p->fver_id != 0 &&
	    load_prev_files(c, p->fver_id, 0, &pv, &npv, err) < 0) {
		if (!prev_damaged(relpath, err))
			goto out;
		pv = NULL;
		npv = 0;
		p = NULL;   /* nothing to compare the new version with */
	}
	if (hw_dir_find(&d, IMAPMRK_NAME) != NULL) {
		if (pre == NULL && read_mrk_locked(fd, relpath, &mrk, &mrklen, &mrk_sb, &ferr) < 0)
			hw_diag_warn("%s", ferr.msg);
		if (mrk != NULL) {
			struct hw_error merr;
			if (imapmrk_decode(mrk, mrklen, &m, &merr) == 0)
				hw_diag_info("%s/IMAP.MRK: %s (UIDs and flags salvaged)", relpath,
					     merr.msg);
			if (m.n > 0)
				qsort(m.recs, m.n, sizeof(m.recs[0]), cmp_mrk_rec);
		}
		/* taking the lock touched the directory: when nothing else came or
		   went meanwhile, keep the state after our own change, so that the
		   next run sees this folder unchanged */
		if (pre == NULL && hw_dir_read(fd, relpath, false, &d2, &ferr) == 1 &&
		    same_listing(&d, &d2)) {
			struct hw_dir t = d;
			d = d2;
			d2 = t;
		}
	}
	c->cur_mrk = mrk;
	if (pre != NULL)
		goto read;
	/* pass 1 (this thread): stat every entry, keep the records of files
	   whose identity is unchanged, list the files to read */
	for (size_t i = 0; i < d.n; i++) {
		const struct hw_entry *e = &d.v[i];
		struct prev_file pkey = { .name = e->name }, *pf;
		struct work *w;
		struct stat sb;

		int k = entry_stat(fd, relpath, e, &sb);
		if (k <= 0) {
			c->res->skipped += k < 0;
			incomplete |= k == -2;
			continue;
		}
		HW_GROW(wv, cap_wv, nwv + 1);
		w = &wv[nwv++];
		memset(w, 0, sizeof(*w));
		w->name = e->name;
		w->kind = e->kind == HW_ENTRY_MESSAGE ? SNAP_KIND_MESSAGE : SNAP_KIND_FILE;
		w->is_mrk = mrk != NULL && strcmp(e->name, IMAPMRK_NAME) == 0;
		w->sb = w->is_mrk ? mrk_sb : sb;
		hw_buf_init(&w->data);
		msghdr_init(&w->h);
		pf = npv > 0 ? bsearch(&pkey, pv, npv, sizeof(pv[0]), cmp_prev_file) : NULL;
		if (!c->o->full && !w->is_mrk && pf != NULL && pf->ino == (int64_t)sb.st_ino &&
		    pf->size == (int64_t)sb.st_size && pf->mtime_ns == HW_TS_NS(sb.st_mtim) &&
		    !is_lost(c, pf->hash)) {
			/* same identity, same content: not read again */
			w->rset_id = pf->rset_id;
			w->idx = pf->idx;
			w->recorded = true;
			continue;
		}
		if (!w->is_mrk && !c->o->full) {
			/* the indexer hashed this very file (same identity): its hash
			   spares the read unless the content is new to the repository */
			int sr = state_hash(c, relpath, w, err);
			if (sr < 0)
				goto out;
			w->state_hashed = sr == 1;
		}
		w->read = true;
	}
read:
	/* pass 2: read, hash and parse in parallel, a batch at a time (bounded
	   memory); catalog rows and pack members are written here, in order */
	if (pre != NULL) {
		for (size_t i = 0; i < pre->nread; i++) {
			if (record_one(c, relpath, pv, npv, &wv[i], err) < 0)
				goto out;
			snap_rbuf_release(&wv[i].data, &wv[i].chunk);
		}
		nwv_read = pre->nread;
	}
	for (size_t b0 = nwv_read; b0 < nwv;) {
		struct read_batch rb = { .c = c, .dirfd = fd, .relpath = relpath, .mrk = mrk,
					 .mrklen = mrklen };
		uint64_t bytes_b = 0;
		size_t b1 = b0;

		while (b1 < nwv && (b1 == b0 || (b1 - b0 < READ_BATCH_FILES &&
						 bytes_b < READ_BATCH_BYTES))) {
			if (wv[b1].read)
				bytes_b += (uint64_t)wv[b1].sb.st_size;
			b1++;
		}
		rb.v = wv + b0;
		if (prepare_batch(c, &rb, b1 - b0, err) < 0)
			goto out;
		/* a thread started and joined per small batch costs more than it
		   saves, and on a busy machine the join waits for the scheduler */
		if (rb.n > 0 && rb.n < READ_POOL_MIN_FILES && bytes_b < READ_POOL_MIN_BYTES)
			for (size_t i = 0; i < rb.n; i++)
				read_one(&rb, i, 0);
		else if (rb.n > 0)
			hw_pool_run(c->read_jobs, rb.n, read_one, &rb, NULL);
		for (size_t i = b0; i < b1; i++) {
			struct work *w = &wv[i];
			if (w->read && record_one(c, relpath, pv, npv, w, err) < 0)
				goto out;
			/* the content is in the pack (or the repository): let it go */
			snap_rbuf_release(&w->data, &w->chunk);
		}
		free(rb.idx);
		b0 = b1;
	}
	/* the folder's new records: one record set */
	if (c->nnrec > 0) {
		sqlite3_stmt *s;
		if (c->nnrec >= ((size_t)1 << 31)) {
			hw_error_set(err, EFBIG, "%s: too many files", relpath);
			goto out;
		}
		if (snap_rset_encode(c->nrec, c->nnrec, &blob, err) < 0)
			goto out;
		s = snap_stmt(c->r, "INSERT INTO snap_rset(path_id, snap_id, n, data) VALUES (?,?,?,?)",
			      err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, path_id);
		sqlite3_bind_int64(s, 2, c->snap_id);
		sqlite3_bind_int64(s, 3, (int64_t)c->nnrec);
		sqlite3_bind_blob(s, 4, blob.data, (int)blob.len, SQLITE_STATIC);
		if (snap_step_done(c->r, s, "insert record set", err) < 0)
			goto out;
		rset_id = sqlite3_last_insert_rowid(hw_catalog_db(c->r->cat));
		for (size_t i = 0; i < c->nnrec; i++) {
			const char *mid = c->nrec[i].message_id;
			if (mid == NULL || c->nrec[i].kind != SNAP_KIND_MESSAGE)
				continue;
			HW_GROW(c->mids, c->cap_mids, c->nmids + 1);
			c->mids[c->nmids].h = snap_msgid_hash(mid, strlen(mid));
			c->mids[c->nmids++].rset_id = rset_id;
		}
		/* without a window (or one that seldom fills) they would pile up */
		if (c->nmids >= MID_ROWS_MAX && write_mid_rows(c, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < nwv; i++) {
		struct work *w = &wv[i];

		if (!w->recorded) {
			incomplete = true;
			continue;   /* vanished or unreadable: reported */
		}
		HW_GROW(mem, cap_mem, nmem + 1);
		mem[nmem].rset_id = w->rset_id != 0 ? w->rset_id : rset_id;
		mem[nmem].idx = w->idx;
		mem[nmem].uid = 0;
		if (w->kind == SNAP_KIND_FILE) {
			HW_GROW(oth, cap_oth, noth + 1);
			memset(&oth[noth], 0, sizeof(oth[0]));
			oth[noth].name = w->name;
			oth[noth].ino = (int64_t)w->sb.st_ino;
			oth[noth].size = (int64_t)w->sb.st_size;
			oth[noth].mtime_ns = HW_TS_NS(w->sb.st_mtim);
			noth++;
		}
		mem[nmem].flags = 0;
		if (w->kind == SNAP_KIND_MESSAGE && m.n > 0) {
			struct imapmrk_record rkey, *rec;
			hw_strlcpy(rkey.filename, w->name, sizeof(rkey.filename));
			rec = bsearch(&rkey, m.recs, m.n, sizeof(m.recs[0]), cmp_mrk_rec);
			if (rec != NULL) {
				mem[nmem].uid = rec->uid;
				mem[nmem].flags = rec->flags;
			}
		}
		nmem++;
		files++;
		bytes += (uint64_t)w->sb.st_size;
		if (w->kind == SNAP_KIND_MESSAGE)
			messages++;
	}
	/* Content-addressed folder states: a listing equal to the previous
	   version (same file records, UIDs and flags; e.g. after --full, or a
	   directory touched by a lock) is that version again. The snapshot
	   refers to it; only its identity is brought up to date so that the
	   next run sees the folder unchanged. */
	snap_others_encode(oth, noth, &others);
	if (p != NULL && p->fver_id != 0 && c->nnrec == 0 && same_members(pv, npv, mem, nmem)) {
		sqlite3_stmt *s = snap_stmt(c->r, "UPDATE snap_fver SET dir_mtime_ns = ?,"
					    " dir_entries = ?, dir_ino = ?, others = ? WHERE id = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_blob(s, 4, others.data, (int)others.len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 1, HW_TS_NS(d.st.st_mtim));
		sqlite3_bind_int64(s, 2, incomplete ? -1 : (int64_t)count_entries(&d));
		sqlite3_bind_int64(s, 3, (int64_t)d.st.st_ino);
		sqlite3_bind_int64(s, 5, p->fver_id);
		if (snap_step_done(c->r, s, "update folder version", err) < 0)
			goto out;
		p->dir_mtime_ns = HW_TS_NS(d.st.st_mtim);
		p->dir_entries = incomplete ? -1 : (int64_t)count_entries(&d);
		p->dir_ino = (int64_t)d.st.st_ino;
		hw_buf_reset(&p->others);
		hw_buf_add(&p->others, others.data, others.len);
		c->res->files += files;
		c->res->messages += messages;
		c->res->bytes += bytes;
		ret = add_sfolder(c, p->fver_id, err);
		goto out;
	}
	{
		sqlite3_stmt *s;
		if (snap_listing_encode(mem, nmem, &blob, err) < 0)
			goto out;
		s = snap_stmt(c->r, "INSERT INTO snap_fver(path_id, dir_mtime_ns,"
			      " dir_entries, dir_ino, files, messages, bytes, listing, others)"
			      " VALUES (?,?,?,?,?,?,?,?,?)", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, path_id);
		sqlite3_bind_int64(s, 2, HW_TS_NS(d.st.st_mtim));
		sqlite3_bind_int64(s, 3, incomplete ? -1 : (int64_t)count_entries(&d));
		sqlite3_bind_int64(s, 4, (int64_t)d.st.st_ino);
		sqlite3_bind_int64(s, 5, (int64_t)files);
		sqlite3_bind_int64(s, 6, (int64_t)messages);
		sqlite3_bind_int64(s, 7, (int64_t)bytes);
		sqlite3_bind_blob(s, 8, blob.data, (int)blob.len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 9, others.data, (int)others.len, SQLITE_STATIC);
		if (snap_step_done(c->r, s, "insert folder version", err) < 0)
			goto out;
		fver_id = sqlite3_last_insert_rowid(hw_catalog_db(c->r->cat));
	}
	c->res->files += files;
	c->res->messages += messages;
	c->res->bytes += bytes;
	ret = add_sfolder(c, fver_id, err);
out:
	prev_files_free(pv, npv);
	for (size_t i = 0; i < nwv; i++) {
		snap_rbuf_release(&wv[i].data, &wv[i].chunk);
		msghdr_release(&wv[i].h);
		free(wv[i].err);
	}
	free(wv);
	free(mem);
	free(mrk);
	hw_buf_release(&blob);
	hw_buf_release(&others);
	free(oth);
	c->nnrec = 0;
	imapmrk_release(&m);
	hw_dir_release(&d);
	hw_dir_release(&d2);
	close(fd);
	return ret;
}

static int commit_pack(struct create_ctx *c, struct hw_error *err)
{
	size_t n = 0;
	int64_t pack_id;
	struct pending_blob **v = NULL;
	int ret;

	if (snap_pack_writer_finish(c->w, err) < 0)
		return -1;
	c->res->pack_bytes = snap_pack_writer_size(c->w);
	/* segment ids: the ones the blob rows written so far refer to */
	if (snap_pack_register(c->r, c->w, &c->seg_base, &pack_id, err) < 0)
		return -1;
	/* the rows no window wrote (no reorder window: all of them) */
	v = hw_calloc(c->npb + 1, sizeof(*v));
	for (size_t i = 0; i < c->npb; i++)
		if (!c->pb[i].written)
			v[n++] = &c->pb[i];
	ret = write_blob_rows(c, v, n, err);
	free(v);
	return ret;
}

/* An empty repository (the first snapshot)? Asked before the transaction:
   nothing to look up then, and the catalog is written in rollback-journal
   mode for that one transaction: pages new to the file are written once
   (with WAL every page goes to the log, then again to the database at the
   checkpoint). WAL comes back right after the commit. */
static int check_empty(struct create_ctx *c, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(c->r, "SELECT NOT EXISTS (SELECT 1 FROM snap_blob)"
				    " AND NOT EXISTS (SELECT 1 FROM snap_rset)", err);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return hw_catalog_error(c->r->cat, "repository empty?", err);
	}
	c->repo_empty = sqlite3_column_int(s, 0) != 0;
	sqlite3_reset(s);
	/* another connection (a reader) keeps WAL on: then it stays */
	if (c->repo_empty && !c->o->dry_run &&
	    hw_catalog_exec(c->r->cat, "PRAGMA journal_mode=DELETE", err) > 0)
		c->journal_switched = true;
	return 0;
}

/* In an empty repository the indexes are dropped now and built after the
   inserts, inside this transaction (a rollback brings them back). The
   statement cache holds statements that may refer to them: SQLite
   re-prepares those itself. */
static int start_bulk(struct create_ctx *c, struct hw_error *err)
{
	if (!c->repo_empty || c->o->dry_run)
		return 0;
	c->bulk = true;
	for (size_t i = 0; i < snap_nbulk_indexes; i++) {
		char *sql = hw_asprintf("DROP INDEX IF EXISTS %s", snap_bulk_indexes[i][0]);
		int r = hw_catalog_exec(c->r->cat, sql, err);
		free(sql);
		if (r < 0)
			return -1;
	}
	return 0;
}

static char *scope_text(const struct snap_create_opts *o)
{
	struct hw_buf b;

	hw_buf_init(&b);
	hw_buf_adds(&b, "");
	for (size_t i = 0; i < o->nfolders; i++) {
		if (i > 0)
			hw_buf_addc(&b, '\n');
		hw_buf_adds(&b, o->folders[i]);
	}
	return hw_buf_detach(&b, NULL);
}

int snap_window_parse(const char *mb, uint64_t *window_r)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(mb, &end, 10);
	if (errno != 0 || end == mb || *end != '\0' || mb[0] == '-' || mb[0] == '+' ||
	    mb[0] == ' ' || v > (1ULL << 20))
		return 0;
	*window_r = v == 0 ? SNAP_WINDOW_OFF : (uint64_t)v << 20;
	return 1;
}

static void *trim_main(void *arg)
{
	snap_rpool_trim(arg);
	return NULL;
}

int snap_create(struct snap_repo *r, const struct hw_store *st, const struct snap_create_opts *o,
		struct snap_create_result *res, struct hw_error *err)
{
	struct create_ctx c = { .r = r, .st = st, .o = o, .res = res };
	struct prefetch pre = { 0 };
	struct hw_folder_list fl;
	unsigned problems = 0;
	int64_t created_ns = hw_now_ns();
	bool in_tx = false;
	char *scope = scope_text(o);
	sqlite3_stmt *s;
	pthread_t trimmer;
	bool trimming = false;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	hw_folder_list_init(&fl);
	snap_hmap_init(&c.added);
	snap_hmap_init(&c.lost);
	snap_rpool_init(&c.rpool);
	c.win_cur = (struct snap_rcursor){ &c.rpool, NULL };
	/* reading, hashing and parsing run on every CPU; the catalog and the
	   pack order stay on this thread */
	c.read_jobs = o->jobs > 0 ? o->jobs : hw_pool_cpus();
	{
		/* the caller's window, else the environment's, else the default */
		const char *e = getenv("HIWATER_SNAPSHOT_WINDOW");
		uint64_t win = 0;
		if (e != NULL && *e != '\0' && snap_window_parse(e, &win) != 1) {
			hw_diag_warn("HIWATER_SNAPSHOT_WINDOW: '%s' is not a number of megabytes "
				     "(0 to 1048576): ignored", e);
			win = 0;
		}
		if (o->window != 0)
			win = o->window;
		c.win_max = win == SNAP_WINDOW_OFF ? 0 : win > 0 ? win : SNAP_WINDOW_DEFAULT;
	}
	if (!o->dry_run) {
		int lr = snap_repo_lock(r, err);
		if (lr <= 0) {
			ret = lr < 0 ? -1 : 0;
			goto out;
		}
		if (snap_repo_gc(r, err) < 0)
			goto out;
	}
	if (hw_store_folders(st, o->folders, o->nfolders, &fl, &problems, err) < 0)
		goto out;
	res->skipped += problems;
	if (check_empty(&c, err) < 0)
		goto out;
	if (hw_catalog_begin(r->cat, err) < 0)
		goto out;
	in_tx = true;
	if (load_prev_folders(&c, err) < 0)
		goto out;
	if (load_lost(&c, err) < 0)
		goto out;
	if (start_bulk(&c, err) < 0)
		goto out;
	s = snap_stmt(r, "INSERT INTO snap_snapshot(created_ns, label, scope, full, folders, files,"
		      " messages, bytes, files_added, bytes_added) VALUES (?,?,?,?,0,0,0,0,0,0)", err);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, created_ns);
	sqlite3_bind_text(s, 2, o->label, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, o->full);
	if (snap_step_done(r, s, "insert snapshot", err) < 0)
		goto out;
	c.snap_id = sqlite3_last_insert_rowid(hw_catalog_db(r->cat));
	/* the walk (read, hash, parse, catalog) keeps one core busy; the
	   compression workers get the others. With a reorder window the last
	   window is compressed after the walk: then every core compresses */
	int jobs = o->jobs > 0 ? o->jobs : (hw_pool_cpus() > 1 && c.win_max == 0 ?
					    hw_pool_cpus() - 1 : hw_pool_cpus());
	if (!o->dry_run && snap_pack_writer_new(r->packs_fd, r->packs_path, jobs,
						SNAP_ZSTD_LEVEL, SNAP_SEG_BYTES, &c.w, err) < 0)
		goto out;
	/* nothing to look up (empty repository, --full): folders are read
	   ahead by threads */
	if (c.repo_empty || o->full)
		prefetch_start(&pre, st, &fl, c.read_jobs, &c.rpool);
	for (size_t i = 0; i < fl.n; i++) {
		struct pre_folder *pf = pre.pf != NULL ? prefetch_wait(&pre, i) : NULL;
		int fr = snapshot_folder(&c, fl.v[i].relpath, pf, err);
		if (pf != NULL) {
			pre_folder_release(pf);
			prefetch_done_with(&pre, i);
		}
		if (fr < 0)
			goto out;
	}
	prefetch_stop(&pre);
	if (c.w != NULL && window_flush(&c, true, err) < 0)
		goto out;
	/* every read is done and every window in the pack: the chunks are
	   given back on another thread while this one commits (the tail of
	   the run is this thread alone, much of it waiting on fsync) */
	snap_rcursor_end(&c.win_cur);
	trimming = pthread_create(&trimmer, NULL, trim_main, &c.rpool) == 0;
	if (write_mid_rows(&c, err) < 0)   /* no window, or none since the last */
		goto out;
	if (c.w != NULL && snap_pack_writer_count(c.w) > 0 && commit_pack(&c, err) < 0)
		goto out;
	if (c.bulk && !o->dry_run) {
		for (size_t i = 0; i < snap_nbulk_indexes; i++)
			if (hw_catalog_exec(r->cat, snap_bulk_indexes[i][1], err) < 0)
				goto out;
	}
	s = snap_stmt(r, "UPDATE snap_snapshot SET folders = ?, files = ?, messages = ?, bytes = ?,"
		      " files_added = ?, bytes_added = ? WHERE id = ?", err);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, (int64_t)res->folders);
	sqlite3_bind_int64(s, 2, (int64_t)res->files);
	sqlite3_bind_int64(s, 3, (int64_t)res->messages);
	sqlite3_bind_int64(s, 4, (int64_t)res->bytes);
	sqlite3_bind_int64(s, 5, (int64_t)res->files_added);
	sqlite3_bind_int64(s, 6, (int64_t)res->bytes_added);
	sqlite3_bind_int64(s, 7, c.snap_id);
	if (snap_step_done(r, s, "update snapshot", err) < 0)
		goto out;
	if ((c.repair || o->full) && o->nfolders == 0 && res->skipped == 0) {
		/* every file of the store looked at (nothing skipped: a folder
		   left out would keep its unchanged version, and its lost content
		   would not be looked for again): the next creates need not */
		s = snap_stmt(r, "UPDATE snap_segment SET verified_at = ? WHERE verified_at = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, SNAP_SEGMENT_BAD_REPAIRED);
		sqlite3_bind_int64(s, 2, SNAP_SEGMENT_BAD);
		if (snap_step_done(r, s, "mark damaged segments", err) < 0)
			goto out;
	}
	if (c.repair)
		hw_diag_info("%llu of the %llu contents only in damaged segments stored again; "
			     "the rest is not in %s (snapshot verify lists the files)",
			     (unsigned long long)res->repaired, (unsigned long long)res->lost,
			     o->nfolders > 0 ? "the folders named" : res->skipped > 0 ?
			     "what could be read of the store" : "the store");
	if (o->dry_run) {
		hw_catalog_rollback(r->cat);
		in_tx = false;
		res->id = 0;
		ret = 1;
		goto out;
	}
	/* the pack is durable; this commit (synchronous=FULL, see repo.c)
	   makes the snapshot exist */
	if (hw_catalog_commit(r->cat, err) < 0)
		goto out;
	in_tx = false;
	res->id = c.snap_id;
	ret = 1;
out:
	if (in_tx)
		hw_catalog_rollback(r->cat);
	if (c.journal_switched) {
		struct hw_error jerr;
		if (hw_catalog_exec(r->cat, "PRAGMA journal_mode=WAL", &jerr) < 0)
			hw_diag_warn("%s", jerr.msg);
	}
	/* a pack written for a snapshot that did not commit stays until the
	   next create or prune: snap_repo_gc removes it once the catalog says
	   for sure that nothing refers to it */
	prefetch_stop(&pre);
	window_release(&c);
	snap_rcursor_end(&c.win_cur);
	if (trimming)
		pthread_join(trimmer, NULL);
	res->buf_bytes = (uint64_t)c.rpool.nall * SNAP_RCHUNK_BYTES;
	snap_rpool_destroy(&c.rpool);   /* every buffer is let go by now */
	snap_pack_writer_free(&c.w);
	for (size_t i = 0; i < c.npf; i++) {
		free(c.pf[i].relpath);
		hw_buf_release(&c.pf[i].others);
	}
	free(c.pf);
	free(c.pb);
	free(c.mids);
	free(c.nrec);
	snap_hmap_release(&c.added);
	snap_hmap_release(&c.lost);
	hw_cat_messages_free(c.sm, c.nsm);
	free(c.sm_relpath);
	hw_folder_list_release(&fl);
	free(scope);
	return ret;
}
