/* defrag.c - donor-based rewrite of message files: defrag and relayout
   (see defrag.h for the safety rules) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "atomic.h"
#include "defrag.h"
#include "hash.h"
#include "io.h"
#include "os.h"
#include "store.h"
#include "util.h"

#define COPY_CHUNK (1u << 20)
/* donors allocated together (fds: up to three per file) and their bytes */
#define BATCH_FILES DEFRAG_BATCH_FILES
#define BATCH_BYTES (64u << 20)

const char *defrag_skip_name(enum defrag_skip s)
{
	static const char *const names[DEFRAG_SKIP_MAX] = {
		[DEFRAG_DONE] = "rewritten",
		[DEFRAG_SKIP_CONTIGUOUS] = "contiguous",
		[DEFRAG_SKIP_NOT_BETTER] = "no better",
		[DEFRAG_SKIP_HARDLINK] = "hard-linked",
		[DEFRAG_SKIP_SYMLINK] = "symlink",
		[DEFRAG_SKIP_NOT_REGULAR] = "not a regular file",
		[DEFRAG_SKIP_RECENT] = "recently modified",
		[DEFRAG_SKIP_CHANGED] = "changed meanwhile",
		[DEFRAG_SKIP_LOCKED] = "folder locked",
		[DEFRAG_SKIP_NOSPACE] = "no space",
		[DEFRAG_SKIP_VANISHED] = "vanished",
		[DEFRAG_SKIP_UNSUPPORTED] = "unsupported",
		[DEFRAG_SKIP_ERROR] = "error",
	};
	return s < DEFRAG_SKIP_MAX ? names[s] : "?";
}

bool defrag_skip_is_finding(enum defrag_skip s)
{
	/* nothing to gain is not a finding; a file we had to leave is */
	return s != DEFRAG_DONE && s != DEFRAG_SKIP_CONTIGUOUS && s != DEFRAG_SKIP_NOT_BETTER &&
	       s != DEFRAG_SKIP_VANISHED && s != DEFRAG_SKIP_UNSUPPORTED;
}

void defrag_stats_release(struct defrag_stats *s)
{
	free(s->stopped_folder);
	free(s->stopped_after);
	s->stopped_folder = s->stopped_after = NULL;
}

void defrag_stats_add(struct defrag_stats *into, const struct defrag_stats *from)
{
	into->files += from->files;
	into->rewritten += from->rewritten;
	into->moved_in_place += from->moved_in_place;
	for (int k = 0; k < DEFRAG_SKIP_MAX; k++)
		into->outcome[k] += from->outcome[k];
	into->bytes += from->bytes;
	into->frags_before += from->frags_before;
	into->frags_after += from->frags_after;
	into->files_before += from->files_before;
	into->files_after += from->files_after;
	into->pairs_before += from->pairs_before;
	into->adjacent_before += from->adjacent_before;
	into->pairs_after += from->pairs_after;
	into->adjacent_after += from->adjacent_after;
	into->folders_laid_out += from->folders_laid_out;
}

/* ---- throttle: sleep so that bytes/elapsed stays under the rate ---- */
struct throttle {
	double rate;
	double start;
	uint64_t bytes;
};

static void throttle_add(struct throttle *t, uint64_t n)
{
	double due, now;

	if (t->rate <= 0)
		return;
	t->bytes += n;
	due = t->start + (double)t->bytes / t->rate;
	now = hw_monotonic();
	if (due > now) {
		double d = due - now;
		struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

struct run {
	const struct defrag_opts *o;
	struct defrag_stats *s;
	struct throttle th;
	char *buf;
	int dirfd;
	const char *relpath;
	/* the batch path holds the folder lock across a few swaps (taking
	   and removing a lock file costs an unlink, milliseconds with
	   discard), but never longer than LOCK_HOLD_SECS at a time */
	struct hw_folder_lock lk;
	double lk_since;
};
#define LOCK_HOLD_SECS 0.1

static void run_unlock(struct run *r)
{
	if (r->lk.held)
		hw_folder_lock_release(&r->lk);
}

struct file_result {
	enum defrag_skip what;
	char why[160];
	size_t frags_before, frags_after;
	uint64_t size;
	bool has_end;       /* first_phys, end_phys: where the file now lies */
	uint64_t first_phys, end_phys;
	bool moved;         /* by EXT4_IOC_MOVE_EXT */
};

static bool same_version(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       HW_TS_NS(a->st_mtim) == HW_TS_NS(b->st_mtim) &&
	       HW_TS_NS(a->st_ctim) == HW_TS_NS(b->st_ctim) && a->st_nlink == b->st_nlink;
}

static bool is_adjacent(uint64_t prev_end, uint64_t first)
{
	return first >= prev_end && first - prev_end <= DEFRAG_ADJ_SLACK;
}

/* pwrite all of buf: a short write is retried (POSIX allows one); two in a
   row, or none at all, mean the disk is full. 0 or -1 with errno */
static int pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	int shorts = 0;

	while (len > 0) {
		ssize_t n = hw_io_pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if ((size_t)n < len && (n == 0 || ++shorts > 1)) {
			errno = ENOSPC;
			return -1;
		}
		if ((size_t)n == len)
			shorts = 0;
		buf += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read [off, off + len) of fd, hashing it; with dfd >= 0 also write it to
   dfd at doff (a copy, throttled). -1 error: a copy's source that ends
   early shrank while it was copied (EAGAIN); a read-back that ends early is
   a short read (EIO) */
static int read_hashed(struct run *r, int fd, uint64_t off, uint64_t len, const char *shown,
		       int dfd, uint64_t doff, const char *dshown, struct hw_hash *h,
		       struct hw_error *err)
{
	XXH3_state_t *xs = XXH3_createState();
	uint64_t done = 0;
	int ret = 1;

	if (xs == NULL)
		abort();
	XXH3_128bits_reset(xs);
	while (done < len) {
		size_t want = len - done < COPY_CHUNK ? (size_t)(len - done) : COPY_CHUNK;
		ssize_t n = pread(fd, r->buf, want, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = hw_error_sys(err, "read", shown);
			break;
		}
		if (n == 0) {
			ret = dfd >= 0 ? hw_error_set(err, EAGAIN, "%s shrank while it was copied", shown)
				       : hw_error_set(err, EIO, "%s: short read", shown);
			break;
		}
		XXH3_128bits_update(xs, r->buf, (size_t)n);
		if (dfd >= 0) {
			if (pwrite_all(dfd, r->buf, (size_t)n, (off_t)(doff + done)) < 0) {
				ret = hw_error_sys(err, "write", dshown);
				break;
			}
			throttle_add(&r->th, 2 * (uint64_t)n);
		}
		done += (uint64_t)n;
	}
	if (ret > 0) {
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
		memcpy(h->b, c.digest, 16);
	}
	XXH3_freeState(xs);
	return ret;
}

/* copy fd -> dfd, hashing what was read; -1 error */
static int copy_data(struct run *r, int fd, int dfd, uint64_t doff, uint64_t size,
		     const char *shown, const char *dshown, struct hw_hash *h, struct hw_error *err)
{
	return read_hashed(r, fd, 0, size, shown, dfd, doff, dshown, h, err);
}

/* Write back a source's dirty pages before EXT4_IOC_MOVE_EXT. Not a
   durability point: the move is journaled and the donor was fsynced, so
   sync_file_range (no journal commit, no cache flush: an fsync of a clean
   file costs a device flush) is enough; fsync where it is not offered. */
static int src_writeback(int fd)
{
	if (sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			    SYNC_FILE_RANGE_WAIT_AFTER) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL && errno != ESPIPE)
		return -1;
	return hw_io_fsync(fd);
}

static void set_why(struct file_result *fr, enum defrag_skip what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_why(struct file_result *fr, enum defrag_skip what, const char *fmt, ...)
{
	va_list ap;

	fr->what = what;
	va_start(ap, fmt);
	vsnprintf(fr->why, sizeof(fr->why), fmt, ap);
	va_end(ap);
}

/* The swap by rename: the donor gets the source's owner, xattrs, mode and
   times, then replaces it (hw_atomic_commit: fsync, rename, fsync dir). */
static int swap_by_rename(struct hw_atomic *a, int fd, int dfd, const struct stat *st,
			  const char *shown, struct hw_error *err)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	if (fchown(dfd, st->st_uid, st->st_gid) < 0) {
		hw_error_sys(err, "fchown", shown);
		hw_atomic_abort(a);
		return -1;
	}
	if (hw_os_copy_xattrs(fd, dfd, shown, err) < 0) {
		hw_atomic_abort(a);
		return -1;
	}
	if (hw_atomic_set_times(a, times, err) < 0)
		return -1;
	return hw_atomic_commit(a, err);
}

/* One file on its way through a batch: checked, then given a donor
   (allocated together with the batch's other donors, before any old blocks
   are freed, so that ext4 hands out one run of space), then filled, verified
   and swapped. */
struct job {
	const char *name;        /* not owned */
	size_t idx;              /* in the folder's measure */
	char *shown, *dshown;
	int fd, dfd;
	struct stat st;
	struct defrag_file src;
	struct hw_atomic a;
	struct file_result fr;
	bool needs;              /* checked: worth a donor */
	bool prepared;           /* donor allocated */
	bool failed;             /* fr.what == ERROR, message in err */
	bool in_batch;           /* its data sits in the batch donor at boff */
	uint64_t boff;
	struct hw_hash hs;       /* of the source, as copied */
	struct hw_error err;
};

static void job_release(struct job *j)
{
	if (j->dfd >= 0)
		close(j->dfd);
	if (j->fd >= 0)
		close(j->fd);
	/* after a move the temp holds the old blocks; otherwise it is unused */
	hw_atomic_abort(&j->a);
	defrag_file_release(&j->src);
	free(j->shown);
	free(j->dshown);
	memset(j, 0, sizeof(*j));
	j->fd = j->dfd = -1;
	j->a.done = true;
}

static void job_fail(struct job *j)
{
	j->failed = true;
	j->needs = false;
	j->fr.what = DEFRAG_SKIP_ERROR;
	hw_strlcpy(j->fr.why, j->err.msg, sizeof(j->fr.why));
}

/* the checks before a donor: 1 needs one, 0 decided (j->fr says what) */
static int job_check(struct run *r, struct job *j, const struct defrag_file *known, bool keep)
{
	const char *name = known->name;
	const struct defrag_opts *o = r->o;
	struct stat pre;
	struct hw_error *err = &j->err;
	int rc;

	memset(j, 0, sizeof(*j));
	j->fd = j->dfd = -1;
	j->a.done = true;
	j->name = name;
	j->shown = hw_path_join(r->relpath, name);
	if (fstatat(r->dirfd, name, &pre, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) {
			set_why(&j->fr, DEFRAG_SKIP_VANISHED, "gone before it was read");
			return 0;
		}
		hw_error_sys(err, "stat", j->shown);
		goto fail;
	}
	if (S_ISLNK(pre.st_mode)) {
		set_why(&j->fr, DEFRAG_SKIP_SYMLINK, "a symlink: not followed");
		return 0;
	}
	if (!S_ISREG(pre.st_mode)) {
		set_why(&j->fr, DEFRAG_SKIP_NOT_REGULAR, "not a regular file");
		return 0;
	}
	/* EXT4_IOC_MOVE_EXT wants the original open for reading and writing */
	j->fd = openat(r->dirfd, name, (o->dry_run ? O_RDONLY : O_RDWR) | O_NOFOLLOW |
		       O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (j->fd < 0) {
		if (errno == ENOENT) {
			set_why(&j->fr, DEFRAG_SKIP_VANISHED, "gone before it was opened");
			return 0;
		}
		hw_error_sys(err, "open", j->shown);
		goto fail;
	}
	if (fstat(j->fd, &j->st) < 0) {
		hw_error_sys(err, "fstat", j->shown);
		goto fail;
	}
	if (!S_ISREG(j->st.st_mode) || j->st.st_ino != pre.st_ino || j->st.st_dev != pre.st_dev) {
		set_why(&j->fr, DEFRAG_SKIP_CHANGED, "replaced while it was opened");
		return 0;
	}
	j->fr.size = (uint64_t)j->st.st_size;
	if (j->st.st_nlink != 1) {
		set_why(&j->fr, DEFRAG_SKIP_HARDLINK, "%lu links: a rewrite would split them",
			(unsigned long)j->st.st_nlink);
		return 0;
	}
	if (!known->unknown && known->ino == (uint64_t)j->st.st_ino &&
	    known->size == (uint64_t)j->st.st_size &&
	    known->mtime_ns == HW_TS_NS(j->st.st_mtim) &&
	    known->ctime_ns == HW_TS_NS(j->st.st_ctim)) {
		/* unchanged since the folder was measured (a write moves ctime):
		   its extents then are its extents now. Only the choice rests on
		   them; the swap rests on the checks under the lock. */
		j->src = *known;
		j->src.name = NULL;
		j->src.pieces = NULL;
		j->src.npieces = 0;
	} else {
		rc = defrag_file_measure(j->fd, j->shown, false, &j->src, err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			set_why(&j->fr, DEFRAG_SKIP_UNSUPPORTED, "no FIEMAP on this filesystem");
			return 0;
		}
	}
	j->fr.frags_before = j->fr.frags_after = j->src.fragments;
	if (!j->src.unknown && j->src.extents > 0) {
		j->fr.has_end = true;
		j->fr.first_phys = j->src.first_phys;
		j->fr.end_phys = j->src.end_phys;
	}
	if (j->st.st_size == 0) {
		set_why(&j->fr, DEFRAG_SKIP_CONTIGUOUS, "empty");
		return 0;
	}
	if (o->relayout && (j->src.unknown || j->src.extents == 0)) {
		/* inline, or not yet allocated: not part of the sweep */
		set_why(&j->fr, DEFRAG_SKIP_CONTIGUOUS, "no place on disk of its own");
		return 0;
	}
	if (j->src.fragments <= 1) {
		if (!o->relayout) {
			set_why(&j->fr, DEFRAG_SKIP_CONTIGUOUS, "one fragment");
			return 0;
		}
		/* only the folder's leading chain stays (relayout_keep()); every
		   message after it is rewritten, in order, so that none is left
		   behind between two that moved */
		if (keep) {
			set_why(&j->fr, DEFRAG_SKIP_CONTIGUOUS, "whole and in place");
			return 0;
		}
	}
	if (hw_now_ns() - HW_TS_NS(j->st.st_mtim) < (int64_t)o->quiet_secs * 1000000000LL) {
		set_why(&j->fr, DEFRAG_SKIP_RECENT, "modified less than %d s ago", o->quiet_secs);
		return 0;
	}
	if (!o->dry_run) {
		/* The move copies the file's data through its page cache into
		   the new blocks. Cached in large folios (a recent write, or
		   readahead), the file comes out whole but not in the donor's
		   place: the kernel (6.18) gives it new, delayed blocks, which
		   breaks a relayout's sweep, and a relayout then rewrites the
		   same files on every run. Not cached, the move reads every old
		   fragment again, a block at a time (half the time of a defrag).
		   So: drop what is cached, and let the copy read the file
		   without readahead, into small pages, which the move takes. */
		(void)src_writeback(j->fd);
		hw_os_evict(j->fd);
		(void)posix_fadvise(j->fd, 0, 0, POSIX_FADV_RANDOM);
	}
	j->needs = true;
	return 1;
fail:
	job_fail(j);
	return 0;
}

/* Folders run in parallel (cmd_defrag -j) and their donors come out of
   the same free space: the look at it and the allocation it allows go
   together, or two workers each see room for one donor, both allocate,
   and the reserve kept for the live server is gone. */
static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;

static void alloc_begin(void)
{
	pthread_mutex_lock(&alloc_lock);
}

/* the guard found room: the donor is allocated next */
static void alloc_room(const struct defrag_opts *o, int dirfd)
{
	if (o->alloc_hook != NULL)
		o->alloc_hook(o->hook_ctx, dirfd, false);
}

static void alloc_end(const struct defrag_opts *o, int dirfd, bool allocated)
{
	if (allocated && o->alloc_hook != NULL)
		o->alloc_hook(o->hook_ctx, dirfd, true);
	pthread_mutex_unlock(&alloc_lock);
}

/* the donor: a temp beside the file (a kill leaves only a temp), with the
   full size allocated at once */
static void job_alloc(struct run *r, struct job *j)
{
	const struct defrag_opts *o = r->o;
	struct hw_error *err = &j->err;
	uint64_t free_bytes = 0;

	alloc_begin();
	if (hw_os_free_bytes(j->fd, &free_bytes, err) < 0)
		goto fail;
	if (free_bytes < (uint64_t)j->st.st_size + o->reserve) {
		set_why(&j->fr, DEFRAG_SKIP_NOSPACE, "needs %llu bytes free beyond the %llu reserved",
			(unsigned long long)j->st.st_size, (unsigned long long)o->reserve);
		j->needs = false;
		alloc_end(o, r->dirfd, false);
		return;
	}
	if (o->dry_run) {
		if (j->src.fragments > 1)
			set_why(&j->fr, DEFRAG_DONE, "would rewrite: %zu fragments", j->src.fragments);
		else
			set_why(&j->fr, DEFRAG_DONE, "would rewrite: not right after the previous message");
		j->needs = false;
		alloc_end(o, r->dirfd, false);
		return;
	}
	alloc_room(o, r->dirfd);
	if (hw_atomic_begin(&j->a, r->dirfd, r->relpath, j->name, j->st.st_mode & 07777, err) < 0)
		goto fail;
	j->dshown = hw_path_join(r->relpath, j->a.tmpname);
	j->dfd = openat(r->dirfd, j->a.tmpname, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (j->dfd < 0) {
		hw_error_sys(err, "open", j->dshown);
		goto fail;
	}
	if (hw_os_preallocate(j->dfd, j->dshown, j->st.st_size, false, err) < 0)
		goto fail;
	alloc_end(o, r->dirfd, true);
	j->prepared = true;
	return;
fail:
	alloc_end(o, r->dirfd, false);
	job_fail(j);
}

/* fill, verify, decide and swap; -1 with j->fr an error */
static int job_finish(struct run *r, struct job *j, bool has_prev, uint64_t prev_end)
{
	const struct defrag_opts *o = r->o;
	struct hw_error *err = &j->err;
	struct file_result *fr = &j->fr;
	struct defrag_file don = { 0 };
	struct hw_folder_lock lk = { 0 };
	struct stat now_st, name_st;
	struct hw_hash hs, hd;
	uint64_t hsize = 0, moved = 0;
	const char *shown = j->shown, *dshown = j->dshown;
	int fd = j->fd, dfd = j->dfd, rc, ret = 1;
	bool src_adjacent = has_prev && !j->src.unknown && is_adjacent(prev_end, j->src.first_phys);

	if (copy_data(r, fd, dfd, 0, (uint64_t)j->st.st_size, shown, dshown, &hs, err) < 0)
		goto fail;
	if (hw_io_fsync(dfd) < 0) {
		hw_error_sys(err, "fsync", dshown);
		goto fail;
	}
	/* verify what reached the disk, not the page cache */
	hw_os_evict(dfd);
	if (hw_hash_fd(dfd, dshown, &hd, &hsize, err) < 0)
		goto fail;
	if (hsize != (uint64_t)j->st.st_size || memcmp(hs.b, hd.b, sizeof(hs.b)) != 0) {
		hw_error_set(err, EIO, "%s: donor does not read back as the source: left as it was",
			     shown);
		goto fail;
	}
	rc = defrag_file_measure(dfd, dshown, false, &don, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		set_why(fr, DEFRAG_SKIP_UNSUPPORTED, "no FIEMAP for the donor");
		goto out;
	}
	if (!o->relayout && don.fragments >= j->src.fragments) {
		set_why(fr, DEFRAG_SKIP_NOT_BETTER, "donor has %zu fragments, file %zu",
			don.fragments, j->src.fragments);
		goto out;
	}
	if (o->relayout) {
		bool don_adjacent = has_prev && is_adjacent(prev_end, don.first_phys);
		size_t limit = j->src.fragments > 1 ? j->src.fragments : 1;
		/* never make a file worse: fewer fragments always pays; the same
		   number only when the file does not lose its place right after
		   the previous message */
		if (!(don.fragments < j->src.fragments ||
		      (don.fragments <= limit && (don_adjacent || !src_adjacent)))) {
			set_why(fr, DEFRAG_SKIP_NOT_BETTER, "donor %s, %zu fragments",
				don_adjacent ? "adjacent" : "not adjacent", don.fragments);
			goto out;
		}
	}
	if (o->before_swap != NULL)
		o->before_swap(o->hook_ctx, r->dirfd, j->name);

	rc = hw_folder_lock_take(r->dirfd, r->relpath, NULL, o->lock_timeout_ms, &lk, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		set_why(fr, DEFRAG_SKIP_LOCKED, "%s", err->msg);
		hw_error_clear(err);
		goto out;
	}
	/* the last look: the same file, unchanged since we checked it */
	if (fstat(fd, &now_st) < 0) {
		hw_error_sys(err, "fstat", shown);
		goto fail;
	}
	if (fstatat(r->dirfd, j->name, &name_st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !same_version(&j->st, &now_st) || name_st.st_ino != j->st.st_ino ||
	    name_st.st_dev != j->st.st_dev) {
		set_why(fr, DEFRAG_SKIP_CHANGED, "changed while it was copied: left as it is");
		goto out;
	}

	if (!o->no_move_ext) {
		/* pages still cached make the move stop after one extent (EBUSY):
		   write back and drop both files' pages first */
		if (hw_io_fsync(fd) < 0 || hw_io_fsync(dfd) < 0) {
			hw_error_sys(err, "fsync", shown);
			goto fail;
		}
		hw_os_evict(fd);
		hw_os_evict(dfd);
		rc = hw_os_move_extents(fd, dfd, (uint64_t)j->st.st_size, &moved, shown, err);
		if (rc < 0)
			goto fail;
		if (rc > 0) {
			struct stat after;
			/* the move leaves the times alone on current kernels; put
			   them back if one did not */
			if (fstat(fd, &after) == 0 &&
			    HW_TS_NS(after.st_mtim) != HW_TS_NS(j->st.st_mtim)) {
				struct timespec times[2] = { j->st.st_atim, j->st.st_mtim };
				if (futimens(fd, times) < 0) {
					hw_error_sys(err, "futimens", shown);
					goto fail;
				}
			}
			fr->moved = true;
			goto swapped;
		}
		if (moved > 0) {
			/* a partial move exchanged identical blocks: the file is
			   intact; check that, then finish by rename */
			struct hw_hash h2;
			hw_os_evict(fd);
			if (hw_hash_fd(fd, shown, &h2, &hsize, err) < 0)
				goto fail;
			if (memcmp(h2.b, hs.b, sizeof(hs.b)) != 0) {
				hw_error_set(err, EIO, "%s: content differs after a partial "
					     "EXT4_IOC_MOVE_EXT", shown);
				goto fail;
			}
			hw_os_evict(dfd);
			if (hw_hash_fd(dfd, dshown, &hd, &hsize, err) < 0)
				goto fail;
			if (memcmp(hd.b, hs.b, sizeof(hs.b)) != 0) {
				hw_error_set(err, EIO, "%s: donor differs after a partial "
					     "EXT4_IOC_MOVE_EXT", shown);
				goto fail;
			}
			if (fstat(fd, &now_st) < 0) {
				hw_error_sys(err, "fstat", shown);
				goto fail;
			}
			/* the ioctl may have touched ctime; take the file as it is */
			j->st = now_st;
		}
	}
	if (swap_by_rename(&j->a, fd, dfd, &j->st, shown, err) < 0)
		goto fail;
swapped:
	fr->what = DEFRAG_DONE;
	snprintf(fr->why, sizeof(fr->why), "%zu -> %zu fragments%s", j->src.fragments,
		 don.fragments, fr->moved ? "" : " (by rename)");
	fr->frags_after = don.fragments;
	fr->has_end = true;
	fr->first_phys = don.first_phys;
	fr->end_phys = don.end_phys;
	goto out;
fail:
	ret = -1;
	job_fail(j);
out:
	if (lk.held)
		hw_folder_lock_release(&lk);
	defrag_file_release(&don);
	return ret;
}

/* ---- the batch donor: one preallocated file holding a batch's files one
   after another (block-aligned), each then exchanged into its file with
   EXT4_IOC_MOVE_EXT at its offset. One big allocation is one run of disk,
   whatever else the filesystem is doing: the files come out whole and
   adjacent, in the order they were laid into it (UID order). ---- */
struct batch {
	struct hw_atomic a;
	int fd;
	char *shown;
	struct hw_extent *ext;
	size_t next;
	uint32_t bs;
	bool active;
};

/* closes in flight: bounded, so that when freeing is slower than copying
   (discard) the run waits for it instead of piling up threads and
   descriptors that hold freed-to-be space */
#define CLOSE_LATER_MAX 4
static pthread_mutex_t close_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t close_cv = PTHREAD_COND_INITIALIZER;
static int close_inflight;

static void close_done(void)
{
	pthread_mutex_lock(&close_mu);
	close_inflight--;
	pthread_cond_signal(&close_cv);
	pthread_mutex_unlock(&close_mu);
}

static void *close_fd(void *arg)
{
	close((int)(intptr_t)arg);
	close_done();
	return NULL;
}

/* Close an unlinked file in the background: its last close frees its
   blocks, and freeing the thousands of small extents the moves left in a
   batch donor (with discard, one request each) takes longer than copying
   the batch. The name is gone already, so a kill leaves no temp (the
   kernel's orphan list frees it), and an exit only waits for the close. */
static void close_later(int fd)
{
	pthread_attr_t at;
	pthread_t t;

	pthread_mutex_lock(&close_mu);
	while (close_inflight >= CLOSE_LATER_MAX)
		pthread_cond_wait(&close_cv, &close_mu);
	close_inflight++;
	pthread_mutex_unlock(&close_mu);
	if (pthread_attr_init(&at) != 0) {
		close_fd((void *)(intptr_t)fd);
		return;
	}
	(void)pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, close_fd, (void *)(intptr_t)fd) != 0)
		close_fd((void *)(intptr_t)fd);
	pthread_attr_destroy(&at);
}

static void batch_release(struct batch *b)
{
	/* the old blocks of the files go with it: the name now, the blocks
	   when the last descriptor is closed */
	hw_atomic_abort(&b->a);
	if (b->fd >= 0)
		close_later(b->fd);
	free(b->shown);
	free(b->ext);
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->a.done = true;
}

/* hash [off, off + len) of fd */
static int hash_range(struct run *r, int fd, uint64_t off, uint64_t len, const char *shown,
		      struct hw_hash *h, struct hw_error *err)
{
	return read_hashed(r, fd, off, len, shown, -1, 0, NULL, h, err);
}

/* fragments and physical ends of the batch range [off, off + len) */
static void batch_range(const struct batch *b, uint64_t off, uint64_t len, size_t *frags_r,
			uint64_t *first_r, uint64_t *end_r)
{
	uint64_t lend = off + ((len + b->bs - 1) / b->bs) * b->bs, prev_end = 0;
	size_t frags = 0;

	*first_r = *end_r = 0;
	for (size_t i = 0; i < b->next; i++) {
		const struct hw_extent *x = &b->ext[i];
		uint64_t s0, s1, p0;
		if (x->logical + x->length <= off || x->logical >= lend)
			continue;
		s0 = x->logical > off ? x->logical : off;
		s1 = x->logical + x->length < lend ? x->logical + x->length : lend;
		p0 = x->physical + (s0 - x->logical);
		if (frags == 0)
			*first_r = p0;
		if (frags == 0 || p0 != prev_end)
			frags++;
		prev_end = p0 + (s1 - s0);
		*end_r = prev_end;
	}
	*frags_r = frags;
}

/* allocate the batch donor and lay the batch's files into it: 1 ready,
   0 not possible here (the per-file path takes over), -1 error */
static int batch_fill(struct run *r, struct batch *b, struct job *jobs, size_t nb,
		      struct hw_error *err)
{
	const struct defrag_opts *o = r->o;
	uint64_t total = 0, free_bytes = 0;
	const char *first = NULL;
	int rc, ffd = -1;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->a.done = true;
	for (size_t k = 0; k < nb; k++)
		if (jobs[k].needs) {
			if (first == NULL) {
				first = jobs[k].name;
				if (hw_os_block_size(jobs[k].fd, &b->bs, err) < 0)
					return -1;
				if (b->bs == 0)
					b->bs = 4096;
				ffd = jobs[k].fd;
			}
			jobs[k].boff = total;
			total += (((uint64_t)jobs[k].st.st_size + b->bs - 1) / b->bs) * b->bs;
		}
	if (first == NULL)
		return 0;
	alloc_begin();
	if (hw_os_free_bytes(ffd, &free_bytes, err) < 0) {
		alloc_end(o, r->dirfd, false);
		return -1;
	}
	if (free_bytes < total + o->reserve) {
		alloc_end(o, r->dirfd, false);
		return 0;   /* each file on its own then, with its own guard */
	}
	alloc_room(o, r->dirfd);
	if (hw_atomic_begin(&b->a, r->dirfd, r->relpath, first, 0600, err) < 0) {
		alloc_end(o, r->dirfd, false);
		return -1;
	}
	b->shown = hw_path_join(r->relpath, b->a.tmpname);
	b->fd = openat(r->dirfd, b->a.tmpname, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (b->fd < 0) {
		hw_error_sys(err, "open", b->shown);
		alloc_end(o, r->dirfd, false);
		goto fail;
	}
	rc = hw_os_preallocate(b->fd, b->shown, (off_t)total, false, err);
	alloc_end(o, r->dirfd, rc > 0);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		batch_release(b);
		return 0;
	}
	for (size_t k = 0; k < nb; k++) {
		struct job *j = &jobs[k];
		if (!j->needs)
			continue;
		/* the window closed: the files copied so far are still swapped */
		if (o->deadline > 0 && hw_monotonic() >= o->deadline)
			break;
		hw_error_clear(&j->err);
		if (copy_data(r, j->fd, b->fd, j->boff, (uint64_t)j->st.st_size, j->shown, b->shown,
			      &j->hs, &j->err) < 0) {
			job_fail(j);
			continue;
		}
		j->in_batch = true;
	}
	if (hw_io_fsync(b->fd) < 0) {
		hw_error_sys(err, "fsync", b->shown);
		goto fail;
	}
	/* read back what reached the disk, not the page cache: the donor's
	   files one after another (one sequential sweep), each hashed and
	   compared with what was read from its source; then drop the pages
	   again (cached pages stop EXT4_IOC_MOVE_EXT) */
	hw_os_evict(b->fd);
	for (size_t k = 0; k < nb; k++) {
		struct job *j = &jobs[k];
		struct hw_hash hd;
		if (!j->in_batch)
			continue;
		if (hash_range(r, b->fd, j->boff, (uint64_t)j->st.st_size, b->shown, &hd,
			       &j->err) < 0) {
			j->in_batch = false;
			job_fail(j);
			continue;
		}
		if (memcmp(hd.b, j->hs.b, sizeof(hd.b)) != 0) {
			hw_error_set(&j->err, EIO, "%s: donor does not read back as the source: "
				     "left as it was", j->shown);
			j->in_batch = false;
			job_fail(j);
		}
	}
	hw_os_evict(b->fd);
	rc = hw_os_extents(b->fd, b->shown, &b->ext, &b->next, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		for (size_t k = 0; k < nb; k++)
			jobs[k].in_batch = false;
		batch_release(b);
		return 0;
	}
	b->active = true;
	return 1;
fail:
	for (size_t k = 0; k < nb; k++)
		jobs[k].in_batch = false;
	batch_release(b);
	return -1;
}

/* verify, decide and exchange one file from the batch donor. 1 done or
   decided, 0 the move was refused (the per-file path takes over), -1 error */
static int job_finish_batch(struct run *r, struct job *j, struct batch *b, bool has_prev,
			    uint64_t prev_end)
{
	const struct defrag_opts *o = r->o;
	struct hw_error *err = &j->err;
	struct file_result *fr = &j->fr;
	struct stat now_st, name_st;
	uint64_t size = (uint64_t)j->st.st_size, first, end, moved = 0;
	size_t frags;
	bool src_adjacent = has_prev && !j->src.unknown && is_adjacent(prev_end, j->src.first_phys);
	int rc, ret = 1;

	/* its range of the donor was read back and verified by batch_fill() */
	batch_range(b, j->boff, size, &frags, &first, &end);
	if (!o->relayout && frags >= j->src.fragments) {
		set_why(fr, DEFRAG_SKIP_NOT_BETTER, "donor has %zu fragments, file %zu", frags,
			j->src.fragments);
		goto out;
	}
	if (o->relayout) {
		bool don_adjacent = has_prev && is_adjacent(prev_end, first);
		size_t limit = j->src.fragments > 1 ? j->src.fragments : 1;
		if (!(frags < j->src.fragments ||
		      (frags <= limit && (don_adjacent || !src_adjacent)))) {
			set_why(fr, DEFRAG_SKIP_NOT_BETTER, "donor %s, %zu fragments",
				don_adjacent ? "adjacent" : "not adjacent", frags);
			goto out;
		}
	}
	if (o->before_swap != NULL)
		o->before_swap(o->hook_ctx, r->dirfd, j->name);
	if (r->lk.held && hw_monotonic() - r->lk_since > LOCK_HOLD_SECS)
		run_unlock(r);   /* let a waiting writer in */
	if (!r->lk.held) {
		rc = hw_folder_lock_take(r->dirfd, r->relpath, NULL, o->lock_timeout_ms, &r->lk, err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			set_why(fr, DEFRAG_SKIP_LOCKED, "%s", err->msg);
			hw_error_clear(err);
			goto out;
		}
		r->lk_since = hw_monotonic();
	}
	if (fstat(j->fd, &now_st) < 0) {
		hw_error_sys(err, "fstat", j->shown);
		goto fail;
	}
	if (fstatat(r->dirfd, j->name, &name_st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !same_version(&j->st, &now_st) || name_st.st_ino != j->st.st_ino ||
	    name_st.st_dev != j->st.st_dev) {
		set_why(fr, DEFRAG_SKIP_CHANGED, "changed while it was copied: left as it is");
		goto out;
	}
	/* dirty pages stop the move after one extent (EBUSY): write back the
	   source's. Its clean small pages, from the copy, stay (job_check()).
	   The donor's pages were dropped after the verify. */
	if (src_writeback(j->fd) < 0) {
		hw_error_sys(err, "fsync", j->shown);
		goto fail;
	}
	rc = hw_os_move_extents_at(j->fd, b->fd, j->boff, size, &moved, j->shown, err);
	if (rc == 0 && moved == 0) {
		/* some cached pages (large folios) are refused: without them the
		   move reads the data from disk instead */
		hw_os_evict(j->fd);
		rc = hw_os_move_extents_at(j->fd, b->fd, j->boff, size, &moved, j->shown, err);
	}
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		/* refused or partial: whatever moved was identical data; say so
		   after checking, and let the per-file path finish the job */
		if (moved > 0) {
			struct hw_hash h2;
			hw_os_evict(j->fd);
			if (hw_hash_fd(j->fd, j->shown, &h2, NULL, err) < 0)
				goto fail;
			if (memcmp(h2.b, j->hs.b, sizeof(h2.b)) != 0) {
				hw_error_set(err, EIO, "%s: content differs after a partial "
					     "EXT4_IOC_MOVE_EXT", j->shown);
				goto fail;
			}
			if (fstat(j->fd, &j->st) < 0) {
				hw_error_sys(err, "fstat", j->shown);
				goto fail;
			}
		}
		ret = 0;
		goto out;
	}
	{
		struct stat after;
		if (fstat(j->fd, &after) == 0 && HW_TS_NS(after.st_mtim) != HW_TS_NS(j->st.st_mtim)) {
			struct timespec times[2] = { j->st.st_atim, j->st.st_mtim };
			if (futimens(j->fd, times) < 0) {
				hw_error_sys(err, "futimens", j->shown);
				goto fail;
			}
		}
	}
	/* where the file lies now, from the file itself: the figures after
	   the run are these, not the donor's plan */
	{
		/* its blocks are allocated (swapped in): no write-back first,
		   its pages go to disk with the rest */
		struct hw_extent *v = NULL;
		struct hw_error merr;
		size_t nv = 0;
		bool pending = false;
		int mrc = hw_os_extents_nosync(j->fd, j->shown, &v, &nv, &merr);
		for (size_t x = 0; mrc > 0 && x < nv; x++)
			pending |= (v[x].flags & HW_EXTENT_UNKNOWN) != 0;
		if (pending) {
			/* the kernel gave it new, delayed blocks (see above):
			   where they land is known after the write-back */
			free(v);
			v = NULL;
			mrc = hw_os_extents(j->fd, j->shown, &v, &nv, &merr);
		}
		if (mrc > 0 && nv > 0 && !(v[0].flags & HW_EXTENT_UNKNOWN)) {
			frags = hw_extents_fragments(v, nv);
			first = v[0].physical;
			end = v[nv - 1].physical + v[nv - 1].length;
		}
		free(v);
	}
	fr->what = DEFRAG_DONE;
	fr->moved = true;
	snprintf(fr->why, sizeof(fr->why), "%zu -> %zu fragments", j->src.fragments, frags);
	fr->frags_after = frags;
	fr->has_end = true;
	fr->first_phys = first;
	fr->end_phys = end;
	goto out;
fail:
	ret = -1;
	job_fail(j);
out:
	if (ret <= 0)
		run_unlock(r);
	return ret;
}

static void add_before(struct defrag_stats *s, const struct defrag_folder *f)
{
	s->files_before += f->nfiles;
	s->frags_before += f->fragments;
	s->pairs_before += f->pairs;
	s->adjacent_before += f->adjacent;
}

static void add_after(struct defrag_stats *s, const struct defrag_folder *f)
{
	s->files_after += f->nfiles;
	s->frags_after += f->fragments;
	s->pairs_after += f->pairs;
	s->adjacent_after += f->adjacent;
}

static bool file_whole(const struct defrag_file *df)
{
	return !df->unknown && df->extents > 0 && df->fragments == 1;
}

static bool no_location(const struct defrag_file *df)
{
	return df->unknown || df->extents == 0;
}

/* Relayout keeps the folder's leading chain from files[first] on: whole
   messages, each right after the one before (the first one right after
   *prev_end, or else heading a chain of at least two), and rewrites every
   message after the first break. Keeping a whole message further on would
   leave it between two that moved, and moving the message after a kept one
   would break the chain it headed: the folder would need a second pass
   that made the same choices again. Returns the end of the kept chain.
   Files with no place of their own on disk are passed over. */
static size_t relayout_keep(const struct defrag_folder *f, size_t first, bool has_prev,
			    uint64_t prev_end)
{
	size_t i = first, last;

	/* files with no place on disk (empty, inline) do not break a sweep:
	   passed over, neither kept nor moved */
	while (i < f->nfiles && no_location(&f->files[i]))
		i++;
	if (i >= f->nfiles)
		return f->nfiles;
	if (!file_whole(&f->files[i]))
		return first;
	if (!(has_prev && is_adjacent(prev_end, f->files[i].first_phys))) {
		/* no place to keep: a lone whole file is moved with the rest */
		size_t k = i + 1;
		while (k < f->nfiles && no_location(&f->files[k]))
			k++;
		if (k >= f->nfiles)
			return f->nfiles;   /* the last one: nothing follows it */
		if (!file_whole(&f->files[k]) ||
		    !is_adjacent(f->files[i].end_phys, f->files[k].first_phys))
			return first;
	}
	for (last = i++; i < f->nfiles; i++) {
		if (no_location(&f->files[i]))
			continue;
		if (!file_whole(&f->files[i]) ||
		    !is_adjacent(f->files[last].end_phys, f->files[i].first_phys))
			break;
		last = i;
	}
	return i;
}

/* Would a relayout pass leave fewer breaks in the sweep than there are?
   A pass keeps the leading chain (up to keep_end) and lays the rest out
   in batch donors, one run of disk each, wherever the filesystem has
   room: one break after the kept chain, one between batch donors. A
   folder of whole files with no more breaks than that is as good as a
   pass makes it; rewriting it would only move the same files again
   (and, at a score under 0.95, on every run). */
static bool relayout_settled(const struct defrag_folder *f, size_t first, size_t keep_end)
{
	size_t batches = 0, expected;
	bool kept = false;

	if (f->fragmented_files > 0)
		return false;
	for (size_t i = first; i < keep_end && i < f->nfiles; i++)
		kept |= !no_location(&f->files[i]);
	/* the batches of defrag_folder_run()'s loop */
	for (size_t i = first; i < f->nfiles;) {
		size_t nb = 0;
		uint64_t bytes = 0;
		bool moves = false;
		for (; i < f->nfiles && nb < BATCH_FILES && bytes < BATCH_BYTES; i++, nb++)
			if (i >= keep_end && !no_location(&f->files[i])) {
				bytes += f->files[i].size;
				moves = true;
			}
		batches += moves;
	}
	if (batches == 0)
		return true;
	expected = batches - 1 + (kept ? 1 : 0);
	return f->pairs - f->adjacent <= expected;
}

int defrag_folder_run(int dirfd, const char *relpath, const struct defrag_opts *o,
		      struct defrag_stats *s, struct hw_error *err)
{
	struct defrag_folder before;
	struct run r = { .o = o, .s = s, .dirfd = dirfd, .relpath = relpath };
	const char *last = NULL;
	bool skipping = o->resume_after != NULL, has_prev = false;
	uint64_t prev_end = 0;
	struct job *jobs = NULL;
	struct batch batch = { .fd = -1, .a = { .done = true, .fd = -1 } };
	bool use_batch;
	char *last_buf = NULL;
	size_t first = 0, keep_end = 0;
	int ret = 1, rc;

	defrag_folder_init(&before);
	if (!o->dry_run) {
		/* a killed run's donors */
		rc = hw_atomic_cleanup(dirfd, relpath, err);
		if (rc < 0)
			return -1;
	}
	rc = defrag_folder_measure(dirfd, relpath, false, &before, err);
	if (rc < 0)
		return -1;
	add_before(s, &before);
	if (rc == 0) {
		s->files += before.nfiles;
		s->outcome[DEFRAG_SKIP_UNSUPPORTED] += before.nfiles;
		add_after(s, &before);
		goto out;
	}
	if (skipping) {
		/* resume after the file we stopped at, if it is still here */
		for (size_t i = 0; i < before.nfiles; i++)
			if (strcmp(before.files[i].name, o->resume_after) == 0) {
				first = i + 1;
				last = before.files[i].name;
				if (!before.files[i].unknown && before.files[i].extents > 0) {
					has_prev = true;
					prev_end = before.files[i].end_phys;
				}
			}
		skipping = first > 0;
	}
	if (o->relayout && before.layout_score >= 0.95 && before.frag_per_file <= 1.05 &&
	    !skipping) {
		/* already one sequential sweep */
		s->folders_laid_out++;
		s->files += before.nfiles;
		s->outcome[DEFRAG_SKIP_CONTIGUOUS] += before.nfiles;
		add_after(s, &before);
		goto out;
	}
	if (o->relayout) {
		keep_end = relayout_keep(&before, first, has_prev, prev_end);
		if (!skipping && relayout_settled(&before, first, keep_end)) {
			s->folders_laid_out++;
			s->files += before.nfiles;
			s->outcome[DEFRAG_SKIP_CONTIGUOUS] += before.nfiles;
			add_after(s, &before);
			goto out;
		}
	}
	r.th.rate = o->max_rate;
	r.th.start = hw_monotonic();
	r.buf = hw_malloc(COPY_CHUNK);
	jobs = hw_calloc(BATCH_FILES, sizeof(*jobs));
	for (size_t i = first; i < before.nfiles && !s->stopped;) {
		size_t nb = 0;
		uint64_t batch_bytes = 0;

		/* check a batch, then allocate its donors one after another */
		for (; i < before.nfiles && nb < BATCH_FILES && batch_bytes < BATCH_BYTES; i++) {
			job_check(&r, &jobs[nb], &before.files[i], i < keep_end);
			jobs[nb].idx = i;
			if (jobs[nb].needs)
				batch_bytes += (uint64_t)jobs[nb].st.st_size;
			nb++;
		}
		use_batch = !o->no_move_ext && !o->dry_run;
		if (use_batch) {
			struct hw_error berr;
			hw_error_clear(&berr);
			rc = batch_fill(&r, &batch, jobs, nb, &berr);
			if (rc < 0)
				hw_diag_warn("%s: one file at a time", berr.msg);
			use_batch = rc > 0;
		}
		if (!use_batch)
			for (size_t k = 0; k < nb; k++)
				if (jobs[k].needs)
					job_alloc(&r, &jobs[k]);
		for (size_t k = 0; k < nb; k++) {
			struct job *j = &jobs[k];
			/* a file already copied into the batch donor is finished
			   (a verify and a swap), and a file already decided (nothing
			   to gain, skipped) is reported; nothing new is started.
			   Stopping at a decided file would throw away the copies
			   after it, and a budget shorter than a batch fill would
			   never get past the folder's first files. */
			if (o->deadline > 0 && hw_monotonic() >= o->deadline && j->needs &&
			    !j->in_batch) {
				s->stopped = true;
				free(s->stopped_folder);
				free(s->stopped_after);
				s->stopped_folder = hw_strdup(relpath);
				s->stopped_after = last != NULL ? hw_strdup(last) : NULL;
				break;
			}
			if (j->in_batch && job_finish_batch(&r, j, &batch, has_prev, prev_end) == 0) {
				/* the move was refused: this file on its own */
				j->in_batch = false;
				job_alloc(&r, j);
			}
			if (j->prepared)
				job_finish(&r, j, has_prev, prev_end);
			if (j->failed)
				hw_diag_error("%s", j->err.msg);
			s->files++;
			s->outcome[j->fr.what]++;
			if (j->fr.what == DEFRAG_DONE && !o->dry_run) {
				s->rewritten++;
				s->bytes += j->fr.size;
				if (j->fr.moved)
					s->moved_in_place++;
			}
			if (o->report != NULL)
				o->report(o->report_ctx, relpath, j->name, j->fr.what, j->fr.why,
					  j->fr.frags_before, j->fr.frags_after, j->fr.size);
			if (j->fr.has_end) {
				has_prev = true;
				prev_end = j->fr.end_phys;
			}
			if (j->fr.what == DEFRAG_DONE && !o->dry_run && j->fr.has_end) {
				/* the figures after the run */
				struct defrag_file *df = &before.files[j->idx];
				df->fragments = j->fr.frags_after;
				df->extents = df->extents > 0 ? df->extents : 1;
				df->first_phys = j->fr.first_phys;
				df->end_phys = j->fr.end_phys;
				df->unknown = false;
			}
			free(last_buf);
			last = last_buf = hw_strdup(j->name);
			job_release(j);
		}
		run_unlock(&r);
		/* stopped: the rest of the batch goes (their temps with them) */
		for (size_t k = 0; k < nb; k++)
			job_release(&jobs[k]);
		batch_release(&batch);
	}
	if (o->dry_run) {
		add_after(s, &before);
		goto out;
	}
	/* the figures after: every file rewritten was measured after its swap,
	   every other one is as it was measured before (and checked unchanged
	   when it was looked at) */
	defrag_folder_score(&before);
	add_after(s, &before);
out:
	free(jobs);
	free(last_buf);
	free(r.buf);
	defrag_folder_release(&before);
	return ret;
}
