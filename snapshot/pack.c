/* pack.c - writing and reading snapshot packs (see pack.h) */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "atomic.h"
#include "io.h"
#include "pack.h"
#include "pool.h"
#include "util.h"

#define TAR_EOF_BYTES 1024   /* two zero blocks end a tar archive */

struct seg_job {
	struct hw_buf raw;     /* tar bytes */
	struct hw_buf z;       /* compressed */
	uint32_t members;
	bool taken, done, failed;
	char errmsg[256];
};

struct snap_pack_writer {
	int dirfd;
	char *dirpath;
	char name[64];
	int level;
	size_t seg_bytes;
	struct hw_atomic at;
	bool at_open, finished;

	struct archive *ar;        /* tar writer of the open segment, NULL if none */
	struct seg_job *cur;
	struct archive_entry *entry;   /* reused for every member */

	struct seg_job **jobs;     /* every segment; freed buffers once written */
	size_t njobs, cap_jobs;
	size_t next_write;         /* first segment not yet in the file */
	uint64_t pending_bytes;    /* tar bytes of the segments not yet written */
	struct snap_seg_info *info;
	size_t cap_info;
	uint64_t off;
	size_t count;
	uint64_t bytes;

	/* buffers of written segments, kept for the next ones: a segment's
	   4 MB of tar and its compressed copy, allocated and faulted in once
	   instead of grown by doubling and given back for every segment.
	   Only the caller's thread touches them (seg_open, flush_done). */
	struct hw_buf *spare;
	size_t nspare, cap_spare;

	pthread_t *th;
	int nth;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	bool stop;
};

bool snap_pack_name_ok(const char *name)
{
	size_t n = strlen(name), pl = strlen(SNAP_PACK_PREFIX), sl = strlen(SNAP_PACK_SUFFIX);

	if (n != pl + 16 + sl || strncmp(name, SNAP_PACK_PREFIX, pl) != 0 ||
	    strcmp(name + n - sl, SNAP_PACK_SUFFIX) != 0)
		return false;
	for (size_t i = pl; i < pl + 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* relative, no empty, "." or ".." component, no trailing slash; with
   no_backslash, no backslash either */
static bool path_safe(const char *name, bool no_backslash)
{
	const char *p = name;

	if (name == NULL || *name == '\0' || *name == '/')
		return false;
	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (no_backslash && memchr(p, '\\', n) != NULL)
			return false;   /* a Windows separator could mean '..\' */
		p += n;
		if (*p == '/')
			p++;
		else
			break;
	}
	return name[strlen(name) - 1] != '/';
}

bool snap_member_name_safe(const char *name)
{
	return path_safe(name, true);
}

bool snap_store_path_safe(const char *relpath)
{
	return path_safe(relpath, false);
}

char *snap_member_name(const char *path)
{
	size_t nb = 0;

	for (const char *q = path; *q != '\0'; q++)
		nb += *q == '\\';
	if (nb == 0)
		return NULL;
	char *e = hw_malloc(strlen(path) + 2 * nb + 1), *o = e;
	for (const char *q = path; *q != '\0'; q++) {
		if (*q == '\\') {
			memcpy(o, "%5C", 3);
			o += 3;
		} else {
			*o++ = *q;
		}
	}
	*o = '\0';
	return e;
}

/* ---- compression (worker threads) ---- */

static int buf_write_cb_raw(struct hw_buf *b, const void *p, size_t n)
{
	hw_buf_add(b, p, n);
	return 0;
}

static la_ssize_t ar_write_cb(struct archive *a, void *ctx, const void *p, size_t n)
{
	(void)a;
	buf_write_cb_raw(ctx, p, n);
	return (la_ssize_t)n;
}

/* Each thread keeps one zstd context for all its frames: a new one costs
   its tables (about 1 MB at level 3, allocated, faulted in and cleared),
   which for a catalog blob of a few KB is most of the work. The source
   size is given, so zstd sizes the frame's parameters to it. */
static pthread_key_t zctx_key;
static pthread_once_t zctx_once = PTHREAD_ONCE_INIT;

static void zctx_free(void *p)
{
	ZSTD_freeCCtx(p);
}

static void zctx_key_make(void)
{
	(void)pthread_key_create(&zctx_key, zctx_free);
}

static ZSTD_CCtx *zctx_get(void)
{
	ZSTD_CCtx *cc;

	pthread_once(&zctx_once, zctx_key_make);
	cc = pthread_getspecific(zctx_key);
	if (cc == NULL) {
		cc = ZSTD_createCCtx();
		if (cc != NULL && pthread_setspecific(zctx_key, cc) != 0) {
			ZSTD_freeCCtx(cc);
			cc = NULL;
		}
	}
	return cc;
}

int snap_zstd_frame(const void *raw, size_t len, int level, bool segment, struct hw_buf *out,
		    char *errmsg, size_t errsize)
{
	ZSTD_CCtx *cc = zctx_get();
	size_t bound = ZSTD_compressBound(len), r;

	if (cc == NULL) {
		snprintf(errmsg, errsize, "zstd compression failed: out of memory");
		return -1;
	}
	if (out->cap - out->len < bound + 1) {
		/* exactly: a doubling would reserve twice a huge segment */
		out->data = hw_realloc(out->data, out->len + bound + 1);
		out->cap = out->len + bound + 1;
	}
	ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
	r = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r) && segment)
		r = ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, SNAP_SEG_WINDOW_LOG);
	if (!ZSTD_isError(r) && segment)
		r = ZSTD_CCtx_setParameter(cc, ZSTD_c_chainLog, SNAP_SEG_CHAIN_LOG);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(cc, out->data + out->len, out->cap - out->len, raw, len);
	if (ZSTD_isError(r)) {
		snprintf(errmsg, errsize, "zstd compression failed: %s", ZSTD_getErrorName(r));
		return -1;
	}
	out->len += r;
	out->data[out->len] = '\0';
	return 0;
}

static void *worker_main(void *arg)
{
	struct snap_pack_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct seg_job *j = NULL;
		for (size_t i = w->next_write; i < w->njobs; i++)
			if (!w->jobs[i]->taken) {
				j = w->jobs[i];
				break;
			}
		if (j == NULL) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->cv_work, &w->mu);
			continue;
		}
		j->taken = true;
		pthread_mutex_unlock(&w->mu);
		int r = snap_zstd_frame(j->raw.data, j->raw.len, w->level, true, &j->z, j->errmsg,
					sizeof(j->errmsg));
		pthread_mutex_lock(&w->mu);
		j->failed = r < 0;
		j->done = true;
		pthread_cond_broadcast(&w->cv_done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

#define SPARE_MAX 8

static void spare_put(struct snap_pack_writer *w, struct hw_buf *b)
{
	/* a buffer grown for a huge member goes back to the system */
	if (w->nspare < SPARE_MAX && b->data != NULL && b->cap <= 2 * w->seg_bytes + (1u << 20)) {
		HW_GROW(w->spare, w->cap_spare, w->nspare + 1);
		b->len = 0;
		b->data[0] = '\0';
		w->spare[w->nspare++] = *b;
		hw_buf_init(b);
	} else {
		hw_buf_release(b);
	}
}

/* a buffer for a segment's bytes: a spare one, else one of about
   min_cap (so that the tar of a segment is not grown by doubling) */
static void spare_get(struct snap_pack_writer *w, struct hw_buf *b, size_t min_cap)
{
	if (w->nspare > 0) {
		*b = w->spare[--w->nspare];
		return;
	}
	hw_buf_init(b);
	if (min_cap > 0) {
		b->data = hw_malloc(min_cap);
		b->data[0] = '\0';
		b->cap = min_cap;
	}
}

/* Bytes of queued segments beyond which seg_close waits for one to be
   written even if fewer than two a worker are queued: a segment holds whole
   members, so a few huge messages would otherwise hold several times their
   size (tar and compressed copies) in memory. Mail-sized segments (4 MB)
   stay far below it. */
#define PENDING_BYTES_MAX ((uint64_t)256 << 20)

/* write finished segments in order, waiting until at most 'keep' are
   pending (and, with more than one pending, no more than PENDING_BYTES_MAX
   of them). Called without the mutex. */
static int flush_done(struct snap_pack_writer *w, size_t keep, struct hw_error *err)
{
	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->next_write >= w->njobs)
			break;
		struct seg_job *j = w->jobs[w->next_write];
		if (!j->done) {
			size_t pending = w->njobs - w->next_write;
			if (pending <= keep && (pending <= 1 || w->pending_bytes <= PENDING_BYTES_MAX))
				break;
			pthread_cond_wait(&w->cv_done, &w->mu);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		if (j->failed) {
			hw_error_set(err, EIO, "%s/%s: %s", w->dirpath, w->name, j->errmsg);
			return -1;
		}
		struct snap_seg_info *si = &w->info[w->next_write];
		si->offset = w->off;
		si->clen = j->z.len;
		si->ulen = j->raw.len;
		si->members = j->members;
		hw_hash_buf(j->z.data, j->z.len, &si->csum);
		if (hw_atomic_write(&w->at, j->z.data, j->z.len, err) < 0) {
			w->at_open = false;   /* hw_atomic_write aborted the temp */
			return -1;
		}
		w->off += j->z.len;
		spare_put(w, &j->raw);
		spare_put(w, &j->z);
		pthread_mutex_lock(&w->mu);
		w->pending_bytes -= si->ulen;
		w->next_write++;
	}
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* ---- segments ---- */

static int seg_open(struct snap_pack_writer *w, struct hw_error *err)
{
	w->cur = hw_calloc(1, sizeof(*w->cur));
	spare_get(w, &w->cur->raw, w->seg_bytes + ((size_t)256 << 10));
	spare_get(w, &w->cur->z, 0);
	w->ar = archive_write_new();
	/* GNU tar format: names stored as the bytes they are, a name past 100
	   bytes in a ././@LongLink record; GNU tar, bsdtar and every common
	   tar reader read it. (libarchive's pax writer clones every entry:
	   a quarter of a full snapshot's allocations, for nothing a mail
	   store's plain files need.) */
	if (archive_write_set_format_gnutar(w->ar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->ar, 0) != ARCHIVE_OK ||
	    archive_write_open2(w->ar, &w->cur->raw, NULL, ar_write_cb, NULL, NULL) != ARCHIVE_OK)
		return hw_error_set(err, EIO, "archive_write_open(%s/%s) failed: %s", w->dirpath,
				    w->name, archive_error_string(w->ar));
	return 0;
}

/* close the open segment and queue it for compression; last: keep the tar
   end-of-archive blocks */
static int seg_close(struct snap_pack_writer *w, bool last, struct hw_error *err)
{
	struct seg_job *j = w->cur;

	if (w->ar == NULL)
		return 0;
	if (archive_write_close(w->ar) != ARCHIVE_OK) {
		hw_error_set(err, EIO, "archive_write_close(%s/%s) failed: %s", w->dirpath,
			     w->name, archive_error_string(w->ar));
		archive_write_free(w->ar);
		w->ar = NULL;
		return -1;
	}
	archive_write_free(w->ar);
	w->ar = NULL;
	w->cur = NULL;
	if (!last) {
		/* drop the end-of-archive blocks: the segments that follow continue
		   the same tar stream */
		if (j->raw.len < TAR_EOF_BYTES) {
			hw_buf_release(&j->raw);
			free(j);
			return hw_error_set(err, EIO, "tar segment too short");
		}
		j->raw.len -= TAR_EOF_BYTES;
	}
	pthread_mutex_lock(&w->mu);
	HW_GROW(w->jobs, w->cap_jobs, w->njobs + 1);
	HW_GROW(w->info, w->cap_info, w->njobs + 1);
	memset(&w->info[w->njobs], 0, sizeof(w->info[0]));
	w->jobs[w->njobs++] = j;
	w->pending_bytes += j->raw.len;
	pthread_cond_broadcast(&w->cv_work);
	pthread_mutex_unlock(&w->mu);
	/* bound memory: at most two segments waiting per worker */
	return flush_done(w, (size_t)w->nth * 2, err);
}

int snap_pack_writer_new(int dirfd, const char *dirpath, int jobs, int level, size_t seg_bytes,
			 struct snap_pack_writer **w_r, struct hw_error *err)
{
	struct snap_pack_writer *w = hw_calloc(1, sizeof(*w));
	uint64_t rnd = 0;
	int fd;

	*w_r = NULL;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)hw_now_ns() ^ ((uint64_t)getpid() << 32);
	if (fd >= 0)
		close(fd);
	snprintf(w->name, sizeof(w->name), SNAP_PACK_PREFIX "%016llx" SNAP_PACK_SUFFIX,
		 (unsigned long long)rnd);
	w->dirfd = dirfd;
	w->dirpath = hw_strdup(dirpath);
	w->level = level;
	w->seg_bytes = seg_bytes > 0 ? seg_bytes : SNAP_SEG_BYTES;
	if (hw_atomic_begin(&w->at, dirfd, dirpath, w->name, 0444, err) < 0) {
		free(w->dirpath);
		free(w);
		return -1;
	}
	w->at_open = true;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv_work, NULL);
	pthread_cond_init(&w->cv_done, NULL);
	w->nth = jobs > 0 ? jobs : hw_pool_cpus();
	if (w->nth < 1)
		w->nth = 1;
	w->th = hw_calloc((size_t)w->nth, sizeof(*w->th));
	for (int i = 0; i < w->nth; i++)
		if (pthread_create(&w->th[i], NULL, worker_main, w) != 0) {
			w->nth = i;
			break;
		}
	if (w->nth == 0) {
		*w_r = w;
		snap_pack_writer_free(w_r);
		return hw_error_set(err, EAGAIN, "pthread_create failed");
	}
	*w_r = w;
	return 0;
}

int snap_pack_writer_add(struct snap_pack_writer *w, const char *member, const void *data,
			 size_t len, int64_t mtime, uint32_t *seg_r, struct hw_error *err)
{
	uint64_t uoff;

	return snap_pack_writer_add_at(w, member, data, len, mtime, seg_r, &uoff, err);
}

int snap_pack_writer_add_at(struct snap_pack_writer *w, const char *member, const void *data,
			    size_t len, int64_t mtime, uint32_t *seg_r, uint64_t *uoff_r,
			    struct hw_error *err)
{
	struct archive_entry *e;
	int ret = -1;

	if (!w->at_open || w->finished)
		return hw_error_set(err, EINVAL, "pack writer is closed");
	if (w->ar == NULL && seg_open(w, err) < 0)
		return -1;
	/* the tar writer passes bytes straight through (no blocking): the
	   member's header starts where the segment's tar bytes end now */
	*uoff_r = (uint64_t)w->cur->raw.len;
	if (w->entry == NULL)
		w->entry = archive_entry_new();
	e = archive_entry_clear(w->entry);
	/* a backslash, legal in a Linux name, would make every reader (ours
	   too) refuse the member, and with it its segment */
	char *enc = snap_member_name(member);
	archive_entry_copy_pathname(e, enc != NULL ? enc : member);
	free(enc);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, mtime, 0);
	if (archive_write_header(w->ar, e) < ARCHIVE_WARN) {
		hw_error_set(err, EIO, "archive_write_header(%s) failed: %s", member,
			     archive_error_string(w->ar));
		goto out;
	}
	for (size_t done = 0; done < len;) {
		la_ssize_t n = archive_write_data(w->ar, (const char *)data + done, len - done);
		if (n <= 0) {
			hw_error_set(err, EIO, "archive_write_data(%s) failed: %s", member,
				     archive_error_string(w->ar));
			goto out;
		}
		done += (size_t)n;
	}
	if (archive_write_finish_entry(w->ar) != ARCHIVE_OK) {
		hw_error_set(err, EIO, "archive_write_finish_entry(%s) failed: %s", member,
			     archive_error_string(w->ar));
		goto out;
	}
	*seg_r = (uint32_t)w->njobs;
	w->cur->members++;
	w->count++;
	w->bytes += len;
	if (w->cur->raw.len >= w->seg_bytes && seg_close(w, false, err) < 0)
		goto out;
	ret = 0;
out:
	return ret;
}

size_t snap_pack_writer_count(const struct snap_pack_writer *w)
{
	return w->count;
}

uint64_t snap_pack_writer_bytes(const struct snap_pack_writer *w)
{
	return w->bytes;
}

static void stop_workers(struct snap_pack_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv_work);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nth; i++)
		pthread_join(w->th[i], NULL);
	w->nth = 0;
}

int snap_pack_writer_finish(struct snap_pack_writer *w, struct hw_error *err)
{
	if (!w->at_open || w->finished)
		return hw_error_set(err, EINVAL, "pack writer is closed");
	if (w->ar == NULL) {
		/* an empty pack is still a valid tar (just the end blocks) */
		if (seg_open(w, err) < 0)
			return -1;
	}
	if (seg_close(w, true, err) < 0 || flush_done(w, 0, err) < 0)
		return -1;
	stop_workers(w);
	w->at_open = false;
	if (hw_atomic_commit(&w->at, err) < 0)
		return -1;
	w->finished = true;
	return 0;
}

const char *snap_pack_writer_name(const struct snap_pack_writer *w)
{
	return w->name;
}

const struct snap_seg_info *snap_pack_writer_segments(const struct snap_pack_writer *w,
							size_t *n_r)
{
	*n_r = w->njobs;
	return w->info;
}

uint64_t snap_pack_writer_size(const struct snap_pack_writer *w)
{
	return w->off;
}

void snap_pack_writer_free(struct snap_pack_writer **wp)
{
	struct snap_pack_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->nth > 0)
		stop_workers(w);
	if (w->ar != NULL)
		archive_write_free(w->ar);
	archive_entry_free(w->entry);
	if (w->cur != NULL) {
		hw_buf_release(&w->cur->raw);
		hw_buf_release(&w->cur->z);
		free(w->cur);
	}
	for (size_t i = 0; i < w->njobs; i++) {
		hw_buf_release(&w->jobs[i]->raw);
		hw_buf_release(&w->jobs[i]->z);
		free(w->jobs[i]);
	}
	for (size_t i = 0; i < w->nspare; i++)
		hw_buf_release(&w->spare[i]);
	free(w->spare);
	if (w->at_open)
		hw_atomic_abort(&w->at);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv_work);
	pthread_cond_destroy(&w->cv_done);
	free(w->jobs);
	free(w->info);
	free(w->th);
	free(w->dirpath);
	free(w);
	*wp = NULL;
}

/* ---- reading ---- */

struct read_adapter {
	snap_member_fn *fn;
	void *ctx;
};

static int read_adapt(void *ctx, const char *name, uint64_t uoff, const void *data, size_t len,
		      struct hw_error *err)
{
	struct read_adapter *ra = ctx;

	(void)uoff;
	return ra->fn(ra->ctx, name, data, len, err);
}

int snap_segment_read(int packfd, const char *packpath, uint64_t offset, uint64_t clen,
		      const struct hw_hash *csum, snap_member_fn *fn, void *ctx,
		      struct hw_error *err)
{
	struct read_adapter ra = { fn, ctx };

	return snap_segment_walk(packfd, packpath, offset, clen, csum, read_adapt, &ra, err);
}

int snap_segment_walk(int packfd, const char *packpath, uint64_t offset, uint64_t clen,
		      const struct hw_hash *csum, snap_member_at_fn *fn, void *ctx,
		      struct hw_error *err)
{
	char *z = NULL, *data = NULL;
	size_t cap = 0;
	struct archive *a = NULL;
	struct archive_entry *e;
	int ret = -1;

	if (clen > SNAP_SEGMENT_CMAX)
		return hw_error_set(err, EINVAL, "%s: segment at %llu too large", packpath,
				    (unsigned long long)offset);
	z = hw_malloc(clen > 0 ? clen : 1);
	for (uint64_t got = 0; got < clen;) {
		ssize_t n = pread(packfd, z + got, clen - got, (off_t)(offset + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hw_error_sys(err, "pread", packpath);
			goto out;
		}
		if (n == 0) {
			hw_error_set(err, EIO, "%s: segment at %llu is cut short", packpath,
				     (unsigned long long)offset);
			goto out;
		}
		got += (uint64_t)n;
	}
	if (csum != NULL) {
		struct hw_hash h;
		hw_hash_buf(z, clen, &h);
		if (memcmp(h.b, csum->b, sizeof(h.b)) != 0) {
			hw_error_set(err, EIO, "%s: segment at %llu is corrupt (checksum mismatch)",
				     packpath, (unsigned long long)offset);
			goto out;
		}
	}
	a = archive_read_new();
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, z, clen) != ARCHIVE_OK) {
		hw_error_set(err, EIO, "%s: segment at %llu unreadable: %s", packpath,
			     (unsigned long long)offset, archive_error_string(a));
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			hw_error_set(err, EIO, "%s: segment at %llu unreadable: %s", packpath,
				     (unsigned long long)offset, archive_error_string(a));
			goto out;
		}
		const char *name = archive_entry_pathname(e);
		la_int64_t hpos = archive_read_header_position(a);
		if (name == NULL || !snap_member_name_safe(name)) {
			hw_error_set(err, EINVAL, "%s: member '%s' refused: an absolute path, "
				     "a '..' or a backslash", packpath, name != NULL ? name : "(no name)");
			goto out;
		}
		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) != NULL ||
		    archive_entry_symlink(e) != NULL) {
			hw_error_set(err, EINVAL, "%s: member '%s' refused: not a plain file",
				     packpath, name);
			goto out;
		}
		la_int64_t size = archive_entry_size(e);
		if (size < 0 || (uint64_t)size > SNAP_MEMBER_MAX) {
			hw_error_set(err, EINVAL, "%s: member '%s' has a bad size", packpath, name);
			goto out;
		}
		/* the buffer grows with the data that actually comes: a member
		   header may lie about its size (a crafted or damaged pack), and
		   must not make us allocate gigabytes for a few bytes */
		size_t got = 0;
		if (data == NULL) {
			cap = 1;
			data = hw_malloc(cap);
		}
		while (got < (size_t)size) {
			size_t want = (size_t)size - got;
			if (want > (1u << 20))
				want = 1u << 20;
			if (got + want + 1 > cap) {
				size_t ncap = cap < (1u << 16) ? (1u << 16) : cap * 2;
				while (ncap < got + want + 1)
					ncap *= 2;
				if (ncap > (size_t)size + 1)
					ncap = (size_t)size + 1;
				data = hw_realloc(data, ncap);
				cap = ncap;
			}
			la_ssize_t n = archive_read_data(a, data + got, want);
			if (n < 0) {
				hw_error_set(err, EIO, "%s: member '%s' unreadable: %s", packpath,
					     name, archive_error_string(a));
				goto out;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		if (got != (size_t)size) {
			hw_error_set(err, EIO, "%s: member '%s' is cut short", packpath, name);
			goto out;
		}
		r = fn(ctx, name, hpos < 0 ? UINT64_MAX : (uint64_t)hpos, data, got, err);
		if (r < 0)
			goto out;
		if (r > 0)
			break;
	}
	ret = 0;
out:
	if (a != NULL)
		archive_read_free(a);
	free(z);
	free(data);
	return ret;
}

/* ---- small zstd blobs (catalog records) ---- */

int snap_unzstd(const void *z, size_t zlen, size_t max, struct hw_buf *out, struct hw_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int ret = -1;

	hw_buf_reset(out);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, z, zlen) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		hw_error_set(err, EBADMSG, "catalog record unreadable: %s",
			     archive_error_string(a) ? archive_error_string(a) : "not zstd");
		goto out;
	}
	for (;;) {
		if (out->cap - out->len < 65536 + 1)
			HW_GROW(out->data, out->cap, out->len + 65536 + 1);
		la_ssize_t n = archive_read_data(a, out->data + out->len, out->cap - out->len - 1);
		if (n < 0) {
			hw_error_set(err, EBADMSG, "catalog record unreadable: %s", archive_error_string(a));
			goto out;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if (out->len > max) {
			hw_error_set(err, EBADMSG, "catalog record too large");
			goto out;
		}
	}
	out->data[out->len] = '\0';
	ret = 0;
out:
	archive_read_free(a);
	return ret;
}
