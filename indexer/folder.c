/*
 * folder.c - index one folder: the rules of indexer.h, for one directory.
 *
 * The work is split so that the message files are read at most once and only
 * when needed: the listing and the existing IMAP.MRK decide which files are
 * new; only new files (or files the catalog does not know under the same
 * identity) have their header block read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "atomic.h"
#include "hash.h"
#include "hiwatermrk.h"
#include "imapmrk.h"
#include "indexer-private.h"
#include "msghdr.h"
#include "os.h"
#include "util.h"

#define MAX_RESCANS 3
#define STAMP_QUIET_NS (60 * 1000000000LL)   /* see stamp() */

struct folder_scan;

/* a message file of the folder, and what we know of it */
struct msgfile {
	const struct hw_entry *e;          /* in the listing */
	const struct imapmrk_record *rec;  /* its record, if any */
	const struct hw_cat_message *cat;  /* catalog row with the same identity */
	struct stat st;                    /* the file's; only st_ino until have_st */
	bool have_st;
	int64_t date;                      /* arrival date to record */
	int64_t hdr_date;                  /* Date: header, else file time (0: not read) */
	uint32_t uid;
	uint8_t flags;
	bool has_uid;
	bool headers_known;                /* from/to/... filled */
	char *from, *to, *subject, *message_id, *in_reply_to;
	bool has_hash;
	uint8_t hash[16];
};

struct folder_scan {
	struct hw_dir dir;
	struct imapmrk old;
	int mrk_state;                     /* imapmrk_read result: -1, 0, 1 */
	struct hw_error mrk_err;
	struct stat mrk_st;                /* identity of the IMAP.MRK read */
	bool mrk_present;
	struct stat hw_st;                 /* identity of HIWATER.MRK before it was read */
	bool hw_present;
	size_t entries;                    /* entries counted for the stamp */
	struct msgfile *files;
	size_t nfiles;
};

/* a folder whose new files are written, waiting for the batch's syncfs */
struct idx_pending {
	struct folder_scan s;
	int dirfd;
	struct hw_atomic mrk_a, hw_a;
	bool has_mrk, has_hw;
	bool redo;                         /* the folder moved: do it again, alone */
	bool borrowed;                     /* s and dirfd belong to the caller */
	uint32_t uidvalidity, uidnext;
	char *why;
};

const char *indexer_folder_class(const char *imapname)
{
	static const struct { const char *name, *cls; } classes[] = {
		{ "Calendar", "IPF.Appointment" },
		{ "Contacts", "IPF.Contact" },
		{ "Tasks", "IPF.Task" },
		{ "Notes", "IPF.StickyNote" },
		{ "Journal", "IPF.Journal" },
	};
	size_t len = strcspn(imapname, "/");

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strlen(classes[i].name) == len && strncasecmp(imapname, classes[i].name, len) == 0)
			return classes[i].cls;
	return "IPF.Note";
}

/* files that belong to MDaemon or to us and are not worth a warning */
static bool known_other(const char *name)
{
	size_t n = strlen(name);

	if (n > 4 && strcasecmp(name + n - 4, ".mrk") == 0)
		return true;
	if (strcasecmp(name, hw_folder_lock_name()) == 0)
		return true;
	if (n > 4 && (strcasecmp(name + n - 4, ".lck") == 0 || strcasecmp(name + n - 4, ".lock") == 0))
		return true;
	return false;
}

static void msgfile_release(struct msgfile *m)
{
	free(m->from);
	free(m->to);
	free(m->subject);
	free(m->message_id);
	free(m->in_reply_to);
}

static void scan_release(struct folder_scan *s)
{
	for (size_t i = 0; i < s->nfiles; i++)
		msgfile_release(&s->files[i]);
	free(s->files);
	s->files = NULL;
	s->nfiles = 0;
	hw_dir_release(&s->dir);
	imapmrk_release(&s->old);
}

static char *dupn(const char *s)
{
	return s != NULL ? hw_strdup(s) : NULL;
}

/* the identity of a file as the catalog keeps it */
static bool same_identity(const struct hw_cat_message *c, const struct stat *st)
{
	return c->ino == (int64_t)st->st_ino && c->size == (int64_t)st->st_size &&
	       c->mtime_ns == HW_TS_NS(st->st_mtim);
}

/* catalog rows sorted by file name (hw_catalog_messages_get sorts) */
static const struct hw_cat_message *cat_find(const struct idx_folder_job *job, const char *name)
{
	size_t lo = 0, hi = job->ncat;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(job->cat[mid].file, name);
		if (c == 0)
			return &job->cat[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* the file's stat, taken once (the listing gives only names and d_type: a
   file that will be opened anyway gets it from fstat, for free) */
static bool file_stat(int dirfd, struct msgfile *m)
{
	struct stat st;

	if (m->have_st)
		return true;
	if (fstatat(dirfd, m->e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return false;
	m->st = st;
	m->have_st = true;
	return true;
}

/* read the header block of one message file; fills m; false if unreadable */
static bool read_headers(struct idx_ctx *ctx, int dirfd, const char *relpath, struct msgfile *m,
			 struct indexer_folder_result *res)
{
	char *shown = hw_path_join(relpath, m->e->name);
	struct hw_error err;
	struct msghdr h;
	struct stat st;
	int fd;

	fd = openat(dirfd, m->e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY |
		    O_NOATIME);
	if (fd < 0 && errno == EPERM)   /* O_NOATIME needs ownership */
		fd = openat(dirfd, m->e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT) {
			hw_diag_warn("open(%s) failed: %s", shown, strerror(errno));
			res->files_skipped++;
		}
		free(shown);
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != m->st.st_ino) {
		/* replaced between the listing and the open: the rescan sees it */
		close(fd);
		free(shown);
		return false;
	}
	m->st = st;
	m->have_st = true;
	msghdr_init(&h);
	res->headers_read++;
	__atomic_add_fetch(&ctx->headers_read, 1, __ATOMIC_RELAXED);
	if (msghdr_read_fd(fd, shown, &h, &err) < 0) {
		hw_diag_warn("%s", err.msg);
		/* still indexed with what is known: size and file time */
		h.date_known = false;
	}
	if (ctx->opts->verify) {
		struct hw_hash hh;
		if (hw_hash_fd(fd, shown, &hh, NULL, &err) > 0) {
			memcpy(m->hash, hh.b, 16);
			m->has_hash = true;
		} else {
			hw_diag_warn("%s", err.msg);
		}
	}
	close(fd);
	m->hdr_date = h.date_known ? h.date : (int64_t)m->st.st_mtim.tv_sec;
	m->from = h.from;
	m->to = h.to;
	m->subject = h.subject;
	m->message_id = h.message_id;
	m->in_reply_to = h.in_reply_to;
	h.from = h.to = h.subject = h.message_id = h.in_reply_to = NULL;
	m->headers_known = true;
	msghdr_release(&h);
	free(shown);
	return true;
}

static void take_cat_fields(struct msgfile *m, const struct hw_cat_message *c)
{
	m->from = dupn(c->from);
	m->to = dupn(c->to);
	m->subject = dupn(c->subject);
	m->message_id = dupn(c->message_id);
	m->in_reply_to = dupn(c->in_reply_to);
	if (c->has_hash) {
		m->has_hash = true;
		memcpy(m->hash, c->hash, 16);
	}
	m->headers_known = true;
}

static int cmp_rec_name(const void *a, const void *b)
{
	const struct imapmrk_record *const *x = a, *const *y = b;

	return strcasecmp((*x)->filename, (*y)->filename);
}

static int cmp_new_order(const void *a, const void *b)
{
	const struct msgfile *const *x = a, *const *y = b;

	if ((*x)->date != (*y)->date)
		return (*x)->date < (*y)->date ? -1 : 1;
	return strcmp((*x)->e->name, (*y)->e->name);
}

static int cmp_by_uid(const void *a, const void *b)
{
	const struct msgfile *const *x = a, *const *y = b;

	return (*x)->uid < (*y)->uid ? -1 : (*x)->uid > (*y)->uid;
}

/* list the folder and read its IMAP.MRK */
static int scan(struct idx_ctx *ctx, int dirfd, const char *relpath, struct folder_scan *s,
		struct hw_error *err)
{
	scan_release(s);
	if (hw_dir_read(dirfd, relpath, false, &s->dir, err) < 0)
		return -1;
	s->entries = hw_dir_stamp_entries(&s->dir);
	imapmrk_init(&s->old);
	hw_error_clear(&s->mrk_err);
	s->mrk_present = fstatat(dirfd, IMAPMRK_NAME, &s->mrk_st, AT_SYMLINK_NOFOLLOW) == 0;
	s->hw_present = fstatat(dirfd, HIWATERMRK_NAME, &s->hw_st, AT_SYMLINK_NOFOLLOW) == 0;
	s->mrk_state = imapmrk_read(dirfd, relpath, &s->old, &s->mrk_err);
	if (s->mrk_state < 0) {
		*err = s->mrk_err;
		return -1;
	}
	(void)ctx;
	return 1;
}

/*
 * Match files to UIDs. Fills s->files with uid/flags/date, and the counts in
 * res. Returns the UIDVALIDITY and UIDNEXT to write.
 */
static void assign(struct idx_ctx *ctx, const struct idx_folder_job *job, int dirfd,
		   struct folder_scan *s, struct indexer_folder_result *res,
		   uint32_t *uidvalidity_r, uint32_t *uidnext_r)
{
	const struct indexer_opts *o = ctx->opts;
	const struct imapmrk_record **recs;
	bool *rec_used;
	struct msgfile **fresh;
	size_t nfresh = 0, nrecs = s->old.n;
	uint32_t maxuid = 0, uidnext, uidvalidity;
	bool have_source, from_catalog = false;
	const char *relpath = job->folder->relpath;

	/* the message files */
	s->files = hw_calloc(s->dir.nmessages ? s->dir.nmessages : 1, sizeof(*s->files));
	s->nfiles = 0;
	for (size_t i = 0; i < s->dir.n; i++) {
		const struct hw_entry *e = &s->dir.v[i];
		char *shown;
		switch (e->kind) {
		case HW_ENTRY_MESSAGE:
			s->files[s->nfiles++].e = e;
			continue;
		case HW_ENTRY_FOLDER:
		case HW_ENTRY_TEMP:
			continue;
		case HW_ENTRY_FILE:
			if (known_other(e->name))
				continue;
			shown = hw_path_join(relpath, e->name);
			if (ctx->opts->check || ctx->opts->dry_run || ctx->verbose)
				hw_diag_info("%s: not a message file (kept, not indexed)", shown);
			free(shown);
			res->files_skipped++;
			continue;
		case HW_ENTRY_DIR:
			continue;
		case HW_ENTRY_SYMLINK:
			shown = hw_path_join(relpath, e->name);
			hw_diag_warn("%s is a symlink: not followed, not indexed", shown);
			free(shown);
			res->files_skipped++;
			continue;
		case HW_ENTRY_SPECIAL:
			shown = hw_path_join(relpath, e->name);
			hw_diag_warn("%s is not a regular file: not read, not indexed", shown);
			free(shown);
			res->files_skipped++;
			continue;
		}
	}
	res->messages = s->nfiles;

	/* records by name (case-insensitive: MDaemon's file system is) */
	recs = hw_calloc(nrecs ? nrecs : 1, sizeof(*recs));
	rec_used = hw_calloc(nrecs ? nrecs : 1, sizeof(*rec_used));
	for (size_t i = 0; i < nrecs; i++) {
		recs[i] = &s->old.recs[i];
		if (recs[i]->uid > maxuid)
			maxuid = recs[i]->uid;
	}
	hw_sort(recs, nrecs, sizeof(*recs), cmp_rec_name);

	/* where there is no readable IMAP.MRK header, the catalog's last word
	   about this folder is a source of UIDs too (an IMAP.MRK deleted or
	   smashed after an earlier run) */
	if ((!s->old.header_ok || s->old.hdr.uidvalidity == 0) && job->have_catfolder &&
	    job->catfolder.uidvalidity != 0 && job->ncat > 0)
		from_catalog = true;
	have_source = (s->old.header_ok && s->old.hdr.uidvalidity != 0) || from_catalog;

	fresh = hw_calloc(s->nfiles ? s->nfiles : 1, sizeof(*fresh));
	for (size_t i = 0; i < s->nfiles; i++) {
		struct msgfile *m = &s->files[i];
		const struct imapmrk_record key = { 0 }, *kp = &key, **hit;
		const struct hw_cat_message *c = cat_find(job, m->e->name);

		m->st.st_ino = m->e->st.st_ino;   /* d_ino, from the listing */
		if (c != NULL && file_stat(dirfd, m))
			if (same_identity(c, &m->st))
				m->cat = c;
		hw_strlcpy((char *)key.filename, m->e->name, sizeof(key.filename));
		hit = nrecs ? bsearch(&kp, recs, nrecs, sizeof(*recs), cmp_rec_name) : NULL;
		if (hit != NULL && !rec_used[hit - recs]) {
			rec_used[hit - recs] = true;
			m->rec = *hit;
			m->uid = (*hit)->uid;
			m->flags = (*hit)->flags;
			m->date = (*hit)->date;
			m->has_uid = true;
		} else if (from_catalog && c != NULL && c->uid != 0 && c->uid <= IMAPMRK_UID_MAX) {
			m->uid = c->uid;
			m->flags = c->flags;
			m->date = c->date;
			m->has_uid = true;
			if (c->uid > maxuid)
				maxuid = c->uid;
		}
		if (m->cat != NULL) {
			take_cat_fields(m, m->cat);
			m->hdr_date = m->cat->date;
		}
		if (!m->has_uid)
			fresh[nfresh++] = m;
	}

	/* renamed files: an orphan record whose catalog row had the same inode
	   (a rename keeps it) or the same content hash */
	if (nfresh > 0 && job->ncat > 0) {
		for (size_t r = 0; r < nrecs; r++) {
			const struct hw_cat_message *oc;
			if (rec_used[r])
				continue;
			oc = cat_find(job, recs[r]->filename);
			if (oc == NULL)
				continue;
			for (size_t k = 0; k < nfresh; k++) {
				struct msgfile *m = fresh[k];
				bool same = false;
				if (m == NULL || !file_stat(dirfd, m) || m->st.st_size != oc->size)
					continue;
				/* a rename keeps the inode and the mtime; an inode
				   number alone may be a deleted file's, reused */
				if (same_identity(oc, &m->st))
					same = true;
				else if (oc->has_hash) {
					char *shown = hw_path_join(relpath, m->e->name);
					struct hw_hash hh;
					struct hw_error e2;
					int fd = hw_open_regular(dirfd, m->e->name, shown, NULL, &e2);
					if (fd >= 0) {
						if (hw_hash_fd(fd, shown, &hh, NULL, &e2) > 0 &&
						    memcmp(hh.b, oc->hash, 16) == 0)
							same = true;
						close(fd);
					}
					free(shown);
				}
				if (!same)
					continue;
				rec_used[r] = true;
				m->rec = recs[r];
				m->uid = recs[r]->uid;
				m->flags = recs[r]->flags;
				m->date = recs[r]->date;
				m->has_uid = true;
				if (!m->headers_known) {
					take_cat_fields(m, oc);
					m->hdr_date = oc->date;
				}
				fresh[k] = NULL;
				break;
			}
		}
		/* compact */
		size_t w = 0;
		for (size_t k = 0; k < nfresh; k++)
			if (fresh[k] != NULL)
				fresh[w++] = fresh[k];
		nfresh = w;
	}

	/* read what we must: headers of files the catalog does not know; an
	   unreadable file is still indexed with what is known (size, file time) */
	for (size_t i = 0; i < s->nfiles; i++) {
		struct msgfile *m = &s->files[i];
		if (!m->headers_known)
			read_headers(ctx, dirfd, relpath, m, res);
		/* unreadable, or gone since the listing (the swap will see the
		   folder changed and scan it again) */
		(void)file_stat(dirfd, m);
		if (m->hdr_date <= 0)
			m->hdr_date = (int64_t)m->st.st_mtim.tv_sec;
		/* a kept record keeps its arrival date; a new one takes the
		   message's own */
		if (!m->has_uid || m->date <= 0)
			m->date = m->hdr_date;
	}

	/* records whose file is gone */
	for (size_t r = 0; r < nrecs; r++)
		if (!rec_used[r])
			res->records_removed++;

	/* UIDVALIDITY and the next UID */
	uidvalidity = from_catalog ? job->catfolder.uidvalidity
				   : s->old.header_ok ? s->old.hdr.uidvalidity : 0;
	uidnext = s->old.header_ok ? s->old.hdr.uidnext : 0;
	if (job->have_catfolder && job->catfolder.uidvalidity == uidvalidity &&
	    job->catfolder.uidnext > uidnext)
		uidnext = job->catfolder.uidnext;   /* never lower UIDNext */
	if (uidnext <= maxuid)
		uidnext = maxuid + 1;
	if (uidnext == 0)
		uidnext = 1;

	hw_sort(fresh, nfresh, sizeof(*fresh), cmp_new_order);
	if (o->new_uidvalidity || !have_source || uidvalidity == 0 ||
	    (uint64_t)uidnext + nfresh - 1 > IMAPMRK_UID_MAX) {
		/* a new UID space: max(old + 1, now); every message renumbered in
		   arrival order (kept flags stay) */
		uint32_t old = uidvalidity;
		uint32_t now = (uint32_t)time(NULL);
		struct msgfile **all = hw_calloc(s->nfiles ? s->nfiles : 1, sizeof(*all));
		if (job->have_catfolder && job->catfolder.uidvalidity > old)
			old = job->catfolder.uidvalidity;
		if (s->old.hdr.uidvalidity > old)
			old = s->old.hdr.uidvalidity;
		uidvalidity = old + 1 > now ? old + 1 : now;
		res->uidvalidity_new = true;
		for (size_t i = 0; i < s->nfiles; i++)
			all[i] = &s->files[i];
		hw_sort(all, s->nfiles, sizeof(*all), cmp_new_order);
		for (size_t i = 0; i < s->nfiles; i++) {
			if (!all[i]->has_uid && o->mark_seen)
				all[i]->flags |= IMAPMRK_FLAG_SEEN;
			all[i]->uid = (uint32_t)(i + 1);
			all[i]->has_uid = true;
		}
		uidnext = (uint32_t)s->nfiles + 1;
		res->uids_new = s->nfiles;
		res->uids_kept = 0;
		if (s->nfiles > 0) {
			res->uid_first_new = 1;
			res->uid_last_new = (uint32_t)s->nfiles;
		}
		free(all);
	} else {
		res->uids_kept = s->nfiles - nfresh;
		for (size_t k = 0; k < nfresh; k++) {
			fresh[k]->uid = uidnext++;
			fresh[k]->has_uid = true;
			if (o->mark_seen)
				fresh[k]->flags |= IMAPMRK_FLAG_SEEN;
			if (k == 0)
				res->uid_first_new = fresh[k]->uid;
			res->uid_last_new = fresh[k]->uid;
		}
		res->uids_new = nfresh;
	}
	res->records_added = nfresh;
	res->uidvalidity = uidvalidity;
	*uidvalidity_r = uidvalidity;
	*uidnext_r = uidnext;
	free(fresh);
	free(recs);
	free(rec_used);
}

/* the IMAP.MRK that should be there */
static void build_mrk(const struct folder_scan *s, uint32_t uidvalidity, uint32_t uidnext,
		      struct imapmrk *out)
{
	struct msgfile **byuid = hw_calloc(s->nfiles ? s->nfiles : 1, sizeof(*byuid));

	imapmrk_init(out);
	if (s->old.header_ok) {
		out->hdr = s->old.hdr;   /* keeps fillers and the CRLF field */
		out->hdr.uidvalidity = uidvalidity;
		out->hdr.uidnext = uidnext;
	} else {
		imapmrk_header_new(&out->hdr, uidvalidity);
		out->hdr.uidnext = uidnext;
	}
	out->header_ok = true;
	for (size_t i = 0; i < s->nfiles; i++)
		byuid[i] = &s->files[i];
	hw_sort(byuid, s->nfiles, sizeof(*byuid), cmp_by_uid);
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct msgfile *m = byuid[i];
		struct imapmrk_record *r = imapmrk_append(out);
		if (m->rec != NULL && strcmp(m->rec->filename, m->e->name) == 0)
			memcpy(r, m->rec, sizeof(*r));   /* keep the raw name bytes */
		else
			imapmrk_record_set_name(r, m->e->name);
		r->uid = m->uid;
		r->flags = m->flags;
		r->size = m->st.st_size > (off_t)UINT32_MAX ? UINT32_MAX : (uint32_t)m->st.st_size;
		r->date = imapmrk_clamp_date(m->date);
	}
	free(byuid);
}

/* same content, write counter aside? */
static bool mrk_equal(const struct imapmrk *a, const struct imapmrk *b)
{
	size_t la = imapmrk_encoded_size(a), lb = imapmrk_encoded_size(b);
	char *ba, *bb;
	bool eq;

	if (la != lb || !a->header_ok || !b->header_ok || a->bad_records || a->trailing_bytes)
		return false;
	ba = hw_malloc(la);
	bb = hw_malloc(lb);
	imapmrk_encode(a, ba);
	imapmrk_encode(b, bb);
	eq = memcmp(ba, bb, la) == 0;
	free(ba);
	free(bb);
	return eq;
}

/* HIWATER.MRK as it should be; *h_r NULL when unchanged. -1 on read error */
static int fix_hwmrk(struct idx_ctx *ctx, const struct idx_folder_job *job, int dirfd,
		     struct hwmrk **h_r, struct hw_error *err)
{
	const struct hw_folder *f = job->folder;
	struct hwmrk *h;
	int r;

	*h_r = NULL;
	r = hwmrk_read(dirfd, f->relpath, &h, err);
	if (r < 0)
		return -1;
	if (hwmrk_get(h, "Groupware", "FolderClass") == NULL)
		hwmrk_set(h, "Groupware", "FolderClass", indexer_folder_class(f->imapname));
	if (f->depth == 0) {
		/* the mailbox root: subscribe every folder of the mailbox */
		for (size_t i = job->mbox_first; i < job->mbox_end; i++) {
			const struct hw_folder *sub = &ctx->fl->v[i];
			if (sub->depth == 0)
				continue;
			if (hwmrk_get(h, "IMAPSubscribed", sub->imapname) == NULL)
				hwmrk_set(h, "IMAPSubscribed", sub->imapname, "1");
		}
	}
	if (hwmrk_changed(h))
		*h_r = h;
	else
		hwmrk_free(&h);
	return 1;
}

static void describe(struct hw_buf *b, const struct folder_scan *s,
		     const struct indexer_folder_result *res, bool mrk_change, bool hw_change)
{
	if (!s->mrk_present)
		hw_buf_adds(b, "no IMAP.MRK");
	else if (s->mrk_state == 0)
		hw_buf_addf(b, "IMAP.MRK corrupt (%s)", s->mrk_err.msg);
	if (mrk_change && s->mrk_state > 0) {
		if (res->records_added)
			hw_buf_addf(b, "%s%zu files without a record", b->len ? ", " : "",
				    res->records_added);
		if (res->records_removed)
			hw_buf_addf(b, "%s%zu records without a file", b->len ? ", " : "",
				    res->records_removed);
		if (!res->records_added && !res->records_removed)
			hw_buf_addf(b, "%srecords out of date (size or date)", b->len ? ", " : "");
	}
	if (res->uidvalidity_new)
		hw_buf_addf(b, "%snew UIDVALIDITY %" PRIu32, b->len ? ", " : "", res->uidvalidity);
	if (hw_change)
		hw_buf_addf(b, "%sHIWATER.MRK lacks FolderClass or subscriptions", b->len ? ", " : "");
}

/* Does the folder hold the same names as the scan saw? Our temps and the
   lock file aside (they come and go); with ours_too, IMAP.MRK and
   HIWATER.MRK aside as well (we may have just created them). Taking the
   lock itself moves the directory mtime, so names are compared, not times. */
static bool names_same(int dirfd, const struct folder_scan *s, const char *relpath, bool ours_too)
{
	struct hw_dir d;
	struct hw_error err;
	size_t i = 0, j = 0;
	bool same;

	hw_dir_init(&d);
	if (hw_dir_read(dirfd, relpath, false, &d, &err) < 0)
		return false;
#define SKIP(e) ((e).kind == HW_ENTRY_TEMP || strcasecmp((e).name, hw_folder_lock_name()) == 0 || \
		 (ours_too && (strcmp((e).name, IMAPMRK_NAME) == 0 || strcmp((e).name, HIWATERMRK_NAME) == 0)))
	for (;;) {
		while (i < d.n && SKIP(d.v[i]))
			i++;
		while (j < s->dir.n && SKIP(s->dir.v[j]))
			j++;
		if (i == d.n || j == s->dir.n) {
			same = i == d.n && j == s->dir.n;
			break;
		}
		if (strcmp(d.v[i].name, s->dir.v[j].name) != 0) {
			same = false;
			break;
		}
		i++;
		j++;
	}
#undef SKIP
	hw_dir_release(&d);
	return same;
}

static bool same_file(int dirfd, const char *name, bool present, const struct stat *was)
{
	struct stat st;
	bool now = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;

	if (now != present)
		return false;
	return !now || (st.st_ino == was->st_ino && st.st_size == was->st_size &&
			HW_TS_NS(st.st_mtim) == HW_TS_NS(was->st_mtim));
}

/* IMAP.MRK and HIWATER.MRK as the scan read them: we rewrite both from what
   we read, and must not clobber a change made since (checked under the
   folder lock, so it is cheap: two stats) */
static bool index_files_same(int dirfd, const struct folder_scan *s)
{
	return same_file(dirfd, IMAPMRK_NAME, s->mrk_present, &s->mrk_st) &&
	       same_file(dirfd, HIWATERMRK_NAME, s->hw_present, &s->hw_st);
}

static void fill_catalog_rows(struct idx_folder_job *job, const struct folder_scan *s)
{
	job->out_msgs = hw_calloc(s->nfiles ? s->nfiles : 1, sizeof(*job->out_msgs));
	job->nout = s->nfiles;
	for (size_t i = 0; i < s->nfiles; i++) {
		struct msgfile *m = &s->files[i];
		struct hw_cat_message *c = &job->out_msgs[i];
		c->file = hw_strdup(m->e->name);
		c->uid = m->uid;
		c->flags = m->flags;
		c->size = (int64_t)m->st.st_size;
		c->date = m->date;
		c->mtime_ns = HW_TS_NS(m->st.st_mtim);
		c->ino = (int64_t)m->st.st_ino;
		c->from = m->from;
		c->to = NULL;   /* not kept: long recipient lists cost more than they serve */
		c->subject = m->subject;
		c->message_id = m->message_id;
		c->in_reply_to = m->in_reply_to;
		m->from = m->subject = m->message_id = m->in_reply_to = NULL;
		c->has_hash = m->has_hash;
		memcpy(c->hash, m->hash, 16);
	}
}

void idx_names_hash(const struct hw_dir *d, struct hw_hash *h)
{
	struct hw_buf b;

	hw_buf_init(&b);
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind != HW_ENTRY_TEMP && strcasecmp(d->v[i].name, hw_folder_lock_name()) != 0)
			hw_buf_add(&b, d->v[i].name, strlen(d->v[i].name) + 1);
	hw_hash_buf(b.data != NULL ? b.data : "", b.len, h);
	hw_buf_release(&b);
}

/* the folder's stamp after our writes; 0 mtime when not safe to trust */
static void stamp(int dirfd, const struct folder_scan *s, struct idx_folder_job *job,
		  uint32_t uidvalidity, uint32_t uidnext)
{
	struct hw_cat_folder *cf = &job->out_folder;
	struct hw_dir d;
	struct hw_error err;
	struct stat mst;
	int64_t now = hw_now_ns();
	uint64_t bytes = 0;

	memset(cf, 0, sizeof(*cf));
	cf->relpath = hw_strdup(job->folder->relpath);
	hw_dir_init(&d);
	if (hw_dir_read(dirfd, job->folder->relpath, false, &d, &err) > 0) {
		cf->dir_mtime_ns = HW_TS_NS(d.st.st_mtim);
		cf->dir_entries = (int64_t)hw_dir_stamp_entries(&d);
		cf->dir_ino = (int64_t)d.st.st_ino;
		/* never stamp from the current second (a delivery later in it
		   would not move the mtime), nor a folder whose names differ from
		   the ones we indexed (a delivery and a removal meanwhile keep
		   the count), nor one with a message written in the last minute
		   (it may still be growing: its size would be stamped short) */
		bool recent = now - cf->dir_mtime_ns < 1000000000LL;
		bool ok = names_same(dirfd, s, job->folder->relpath, true);
		for (size_t i = 0; i < s->nfiles && ok; i++)
			if (now - HW_TS_NS(s->files[i].st.st_mtim) < STAMP_QUIET_NS)
				ok = false;
		if (!ok || recent)
			cf->dir_mtime_ns = 0;
		if (ok && recent) {
			/* only too fresh (our own swap just moved the mtime): the
			   run may stamp it at its end, once the second has passed
			   and the names are still these (idx_restamp) */
			job->restamp = true;
			idx_names_hash(&d, &job->names_hash);
		}
	}
	hw_dir_release(&d);
	if (fstatat(dirfd, IMAPMRK_NAME, &mst, AT_SYMLINK_NOFOLLOW) == 0) {
		cf->mrk_ino = (int64_t)mst.st_ino;
		cf->mrk_size = (int64_t)mst.st_size;
		cf->mrk_mtime_ns = HW_TS_NS(mst.st_mtim);
	}
	cf->uidvalidity = uidvalidity;
	cf->uidnext = uidnext;
	cf->messages = (int64_t)s->nfiles;
	for (size_t i = 0; i < s->nfiles; i++)
		bytes += (uint64_t)s->files[i].st.st_size;
	cf->bytes = (int64_t)bytes;
	cf->indexed_at = now / 1000000000LL;
	job->have_out = true;
}

/* the quick test: does the catalog's stamp still hold? */
static bool stamp_holds(int dirfd, const struct idx_folder_job *job)
{
	const struct hw_cat_folder *cf = &job->catfolder;
	struct hw_dir d;
	struct hw_error err;
	struct stat mst;
	bool ok;

	if (!job->have_catfolder || cf->dir_mtime_ns == 0)
		return false;
	if (job->folder->listed) {
		/* the walk just listed it: no need to list it again */
		if (job->folder->dir_mtime_ns != cf->dir_mtime_ns ||
		    (int64_t)job->folder->dir_entries != cf->dir_entries ||
		    job->folder->dir_ino != cf->dir_ino)
			return false;
		goto check_mrk;
	}
	hw_dir_init(&d);
	if (hw_dir_read(dirfd, job->folder->relpath, false, &d, &err) < 0)
		return false;
	ok = HW_TS_NS(d.st.st_mtim) == cf->dir_mtime_ns && (int64_t)hw_dir_stamp_entries(&d) == cf->dir_entries &&
	     (int64_t)d.st.st_ino == cf->dir_ino;
	hw_dir_release(&d);
	if (!ok)
		return false;
check_mrk:
	if (fstatat(dirfd, IMAPMRK_NAME, &mst, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return (int64_t)mst.st_ino == cf->mrk_ino && (int64_t)mst.st_size == cf->mrk_size &&
	       HW_TS_NS(mst.st_mtim) == cf->mrk_mtime_ns;
}

void idx_folder(struct idx_ctx *ctx, struct idx_folder_job *job)
{
	const struct indexer_opts *o = ctx->opts;
	const struct hw_folder *f = job->folder;
	struct indexer_folder_result *res = &job->res;
	struct folder_scan s;
	struct hw_error err;
	struct hw_buf why;
	bool writes = !o->dry_run && !o->check;
	int dirfd, attempt;

	memset(&s, 0, sizeof(s));
	hw_dir_init(&s.dir);
	imapmrk_init(&s.old);
	hw_buf_init(&why);
	res->relpath = f->relpath;
	res->status = INDEXER_UNCHANGED;

	dirfd = hw_store_open_folder(ctx->st, f->relpath, &err);
	if (dirfd < 0) {
		res->status = INDEXER_ERROR;
		job->reason = hw_strdup(err.msg);
		return;
	}
	if (!o->force && stamp_holds(dirfd, job)) {
		struct hwmrk *h = NULL;
		/* the root's subscriptions depend on folders elsewhere: a cheap
		   read of one small file per mailbox */
		if (f->depth == 0 && fix_hwmrk(ctx, job, dirfd, &h, &err) > 0 && h != NULL) {
			int wr = 1;
			if (writes) {
				/* read again and write under the folder lock: MDaemon
				   edits this file too (SUBSCRIBE) */
				struct hw_folder_lock lock;
				hwmrk_free(&h);
				wr = hw_folder_lock_take(dirfd, f->relpath, o->lockname,
							 o->lock_timeout_ms, &lock, &err);
				if (wr > 0) {
					if (fix_hwmrk(ctx, job, dirfd, &h, &err) < 0)
						wr = -1;
					else if (h != NULL && hwmrk_write(dirfd, f->relpath, h, &err) < 0)
						wr = -1;
					hw_folder_lock_release(&lock);
				}
			}
			if (wr <= 0) {
				res->status = wr == 0 ? INDEXER_BUSY : INDEXER_ERROR;
				job->reason = hw_strdup(err.msg);
			} else {
				res->status = o->check ? INDEXER_STALE : INDEXER_REBUILT;
				res->hwmrk_written = writes;
				job->reason = hw_strdup("HIWATER.MRK lacks subscriptions");
			}
			hwmrk_free(&h);
		}
		res->messages = (size_t)job->catfolder.messages;
		res->uids_kept = res->messages;
		job->unchanged_stamp = true;
		close(dirfd);
		return;
	}

	/* leftovers of a killed run (temps, our stale lock): only here, in a
	   folder that is looked into. A killed run's leftovers always move
	   the directory's mtime, so an unchanged stamp means there are none */
	if (writes && hw_atomic_cleanup(dirfd, f->relpath, &err) < 0)
		hw_diag_warn("%s", err.msg);
	idx_load_cat_messages(ctx, job);
	for (attempt = 0; attempt < MAX_RESCANS; attempt++) {
		struct imapmrk want;
		struct hwmrk *h = NULL;
		uint32_t uidvalidity, uidnext;
		bool mrk_change, hw_change;

		memset(res, 0, sizeof(*res));
		res->relpath = f->relpath;
		if (scan(ctx, dirfd, f->relpath, &s, &err) < 0) {
			res->status = INDEXER_ERROR;
			job->reason = hw_strdup(err.msg);
			break;
		}
		assign(ctx, job, dirfd, &s, res, &uidvalidity, &uidnext);
		build_mrk(&s, uidvalidity, uidnext, &want);
		mrk_change = !(s.mrk_state > 0 && mrk_equal(&s.old, &want));
		if (fix_hwmrk(ctx, job, dirfd, &h, &err) < 0) {
			hw_diag_warn("%s", err.msg);
			h = NULL;
		}
		hw_change = h != NULL;
		hw_buf_reset(&why);
		describe(&why, &s, res, mrk_change, hw_change);
		if (!mrk_change && !hw_change) {
			res->status = INDEXER_UNCHANGED;
			imapmrk_release(&want);
			if (writes)
				stamp(dirfd, &s, job, uidvalidity, uidnext);
			break;
		}
		if (!writes) {
			res->status = o->check ? INDEXER_STALE : INDEXER_REBUILT;
			job->reason = hw_strdup(why.data != NULL ? why.data : "");
			imapmrk_release(&want);
			hwmrk_free(&h);
			break;
		}
		if (mrk_change)
			want.hdr.write_counter = s.old.header_ok ? s.old.hdr.write_counter + 1 : 1;
		{
			/* write the new files beside the old ones, not yet
			   durable; one syncfs makes a whole batch durable, the
			   swap comes after (idx_pending_swap). Alone, this folder
			   is a batch of one. */
			struct idx_pending *p = hw_calloc(1, sizeof(*p));
			bool batched = ctx->batch && !job->no_batch;
			p->mrk_a.done = p->hw_a.done = true;
			p->mrk_a.fd = p->hw_a.fd = -1;
			if ((mrk_change &&
			     imapmrk_write_unsynced(dirfd, f->relpath, &want, &p->mrk_a, &err) < 0) ||
			    (hw_change && hwmrk_write_unsynced(dirfd, f->relpath, h, &p->hw_a, &err) < 0)) {
				hw_atomic_abort(&p->mrk_a);
				hw_atomic_abort(&p->hw_a);
				free(p);
				res->status = INDEXER_ERROR;
				job->reason = hw_strdup(err.msg);
				imapmrk_release(&want);
				hwmrk_free(&h);
				break;
			}
			imapmrk_release(&want);
			hwmrk_free(&h);
			p->has_mrk = mrk_change;
			p->has_hw = hw_change;
			p->s = s;
			p->dirfd = dirfd;
			p->uidvalidity = uidvalidity;
			p->uidnext = uidnext;
			p->why = hw_buf_detach(&why, NULL);
			job->pending = p;
			if (batched)
				return;   /* s and dirfd now belong to p */
			p->borrowed = true;   /* s and dirfd stay ours */
			if (hw_syncfs(dirfd, f->relpath, &err) < 0) {
				idx_pending_abort(job);
				p->redo = false;
				res->status = INDEXER_ERROR;
				job->reason = hw_strdup(err.msg);
			} else {
				idx_pending_swap(ctx, job);
				if (res->status == INDEXER_REBUILT &&
				    hw_syncfs(dirfd, f->relpath, &err) < 0) {
					res->status = INDEXER_ERROR;
					free(job->reason);
					job->reason = hw_strdup(err.msg);
				}
			}
			if (p->redo) {
				free(p->why);
				free(p);
				job->pending = NULL;
				hw_buf_init(&why);
				if (attempt + 1 == MAX_RESCANS) {
					res->status = INDEXER_BUSY;
					job->reason = hw_strdup("folder kept changing during the scan; "
								"left for the next run");
				}
				continue;   /* changed during the scan: scan again */
			}
			if (res->status == INDEXER_REBUILT)
				stamp(dirfd, &s, job, uidvalidity, uidnext);
			free(p->why);
			free(p);
			job->pending = NULL;
			hw_buf_init(&why);
			break;
		}
	}
	if (job->have_out)
		fill_catalog_rows(job, &s);
	if (res->status == INDEXER_UNCHANGED && s.nfiles == 0 && !job->have_out)
		res->messages = 0;
	hw_buf_release(&why);
	scan_release(&s);
	close(dirfd);
}

void idx_pending_swap(struct idx_ctx *ctx, struct idx_folder_job *job)
{
	const struct indexer_opts *o = ctx->opts;
	struct idx_pending *p = job->pending;
	const char *relpath = job->folder->relpath;
	struct indexer_folder_result *res = &job->res;
	struct hw_folder_lock lock;
	struct hw_error err;
	int lr;

	/* the listing before the lock (it can take a while in a big folder,
	   and MDaemon waits while we hold the lock); a change between it and
	   the swap is caught by the stamp, which compares names again */
	if (!names_same(p->dirfd, &p->s, relpath, false)) {
		p->redo = true;
		goto drop;
	}
	lr = hw_folder_lock_take(p->dirfd, relpath, o->lockname, o->lock_timeout_ms, &lock, &err);
	if (lr <= 0) {
		res->status = lr == 0 ? INDEXER_BUSY : INDEXER_ERROR;
		job->reason = hw_strdup(err.msg);
		goto drop;
	}
	if (!index_files_same(p->dirfd, &p->s)) {
		/* changed since the scan: this folder is done again alone */
		hw_folder_lock_release(&lock);
		p->redo = true;
		goto drop;
	}
	if (p->has_mrk && hw_atomic_rename_unsynced(&p->mrk_a, &err) < 0) {
		hw_folder_lock_release(&lock);
		res->status = INDEXER_ERROR;
		job->reason = hw_strdup(err.msg);
		goto drop;
	}
	if (p->has_hw && hw_atomic_rename_unsynced(&p->hw_a, &err) < 0) {
		hw_folder_lock_release(&lock);
		res->status = INDEXER_ERROR;
		job->reason = hw_strdup(err.msg);
		goto drop;
	}
	hw_folder_lock_release(&lock);
	res->status = INDEXER_REBUILT;
	res->mrk_written = p->has_mrk;
	res->hwmrk_written = p->has_hw;
	job->reason = p->why;
	p->why = NULL;
	return;
drop:
	hw_atomic_abort(&p->mrk_a);
	hw_atomic_abort(&p->hw_a);
}

void idx_pending_finish(struct idx_ctx *ctx, struct idx_folder_job *job)
{
	struct idx_pending *p = job->pending;
	bool redo = p->redo;

	if (!redo && job->res.status == INDEXER_REBUILT) {
		stamp(p->dirfd, &p->s, job, p->uidvalidity, p->uidnext);
		fill_catalog_rows(job, &p->s);
	}
	scan_release(&p->s);
	close(p->dirfd);
	free(p->why);
	free(p);
	job->pending = NULL;
	if (redo) {
		free(job->reason);
		job->reason = NULL;
		job->no_batch = true;
		idx_folder(ctx, job);
	}
}

void idx_pending_abort(struct idx_folder_job *job)
{
	struct idx_pending *p = job->pending;

	hw_atomic_abort(&p->mrk_a);
	hw_atomic_abort(&p->hw_a);
	p->redo = true;
}
