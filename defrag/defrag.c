/* defrag.c - donor-based rewrite of message files: defrag and relayout
   (see defrag.h for the safety rules) */
#include <errno.h>
#include <fcntl.h>
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
};

struct file_result {
	enum defrag_skip what;
	char why[160];
	size_t frags_before, frags_after;
	uint64_t size;
	bool has_end;       /* end_phys is where the file now ends */
	uint64_t end_phys;
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

/* copy fd -> dfd, hashing what was read; -1 error */
static int copy_data(struct run *r, int fd, int dfd, uint64_t size, const char *shown,
		     const char *dshown, struct hw_hash *h, struct hw_error *err)
{
	XXH3_state_t *xs = XXH3_createState();
	uint64_t off = 0;
	int ret = 1;

	if (xs == NULL)
		abort();
	XXH3_128bits_reset(xs);
	while (off < size) {
		size_t want = size - off < COPY_CHUNK ? (size_t)(size - off) : COPY_CHUNK;
		ssize_t n = pread(fd, r->buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = hw_error_sys(err, "read", shown);
			break;
		}
		if (n == 0) {
			ret = hw_error_set(err, EAGAIN, "%s shrank while it was copied", shown);
			break;
		}
		XXH3_128bits_update(xs, r->buf, (size_t)n);
		if (hw_io_pwrite(dfd, r->buf, (size_t)n, (off_t)off) != n) {
			ret = hw_error_sys(err, "write", dshown);
			break;
		}
		off += (uint64_t)n;
		throttle_add(&r->th, 2 * (uint64_t)n);
	}
	if (ret > 0) {
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
		memcpy(h->b, c.digest, 16);
	}
	XXH3_freeState(xs);
	return ret;
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

/* Rewrite one file. Fills fr; returns -1 only with fr->what == ERROR. */
static int file_rewrite(struct run *r, const char *name, bool has_prev, uint64_t prev_end,
			struct file_result *fr, struct hw_error *err)
{
	const struct defrag_opts *o = r->o;
	char *shown = hw_path_join(r->relpath, name);
	char *dshown = NULL;
	struct defrag_file src = { 0 }, don = { 0 };
	struct stat pre, st, now_st, name_st;
	struct hw_atomic a = { .done = true, .fd = -1 };
	struct hw_folder_lock lk = { 0 };
	struct hw_hash hs, hd;
	uint64_t free_bytes = 0, hsize = 0, moved = 0;
	int fd = -1, dfd = -1, rc, ret = 1;
	bool src_adjacent;

	memset(fr, 0, sizeof(*fr));
	if (fstatat(r->dirfd, name, &pre, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) {
			set_why(fr, DEFRAG_SKIP_VANISHED, "gone before it was read");
			goto out;
		}
		ret = hw_error_sys(err, "stat", shown);
		goto fail;
	}
	if (S_ISLNK(pre.st_mode)) {
		set_why(fr, DEFRAG_SKIP_SYMLINK, "a symlink: not followed");
		goto out;
	}
	if (!S_ISREG(pre.st_mode)) {
		set_why(fr, DEFRAG_SKIP_NOT_REGULAR, "not a regular file");
		goto out;
	}
	/* EXT4_IOC_MOVE_EXT wants the original open for reading and writing */
	fd = openat(r->dirfd, name, (o->dry_run ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			set_why(fr, DEFRAG_SKIP_VANISHED, "gone before it was opened");
			goto out;
		}
		ret = hw_error_sys(err, "open", shown);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		ret = hw_error_sys(err, "fstat", shown);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_ino != pre.st_ino || st.st_dev != pre.st_dev) {
		set_why(fr, DEFRAG_SKIP_CHANGED, "replaced while it was opened");
		goto out;
	}
	fr->size = (uint64_t)st.st_size;
	if (st.st_nlink != 1) {
		set_why(fr, DEFRAG_SKIP_HARDLINK, "%lu links: a rewrite would split them",
			(unsigned long)st.st_nlink);
		goto out;
	}
	rc = defrag_file_measure(fd, shown, false, &src, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		set_why(fr, DEFRAG_SKIP_UNSUPPORTED, "no FIEMAP on this filesystem");
		goto out;
	}
	fr->frags_before = fr->frags_after = src.fragments;
	if (!src.unknown && src.extents > 0) {
		fr->has_end = true;
		fr->end_phys = src.end_phys;
	}
	if (st.st_size == 0) {
		set_why(fr, DEFRAG_SKIP_CONTIGUOUS, "empty");
		goto out;
	}
	src_adjacent = has_prev && !src.unknown && is_adjacent(prev_end, src.first_phys);
	if (src.fragments <= 1 && (!o->relayout || src_adjacent)) {
		set_why(fr, DEFRAG_SKIP_CONTIGUOUS, o->relayout ? "whole and in place" : "one fragment");
		goto out;
	}
	if (hw_now_ns() - HW_TS_NS(st.st_mtim) < (int64_t)o->quiet_secs * 1000000000LL) {
		set_why(fr, DEFRAG_SKIP_RECENT, "modified less than %d s ago", o->quiet_secs);
		goto out;
	}
	if (hw_os_free_bytes(fd, &free_bytes, err) < 0)
		goto fail;
	if (free_bytes < (uint64_t)st.st_size + o->reserve) {
		set_why(fr, DEFRAG_SKIP_NOSPACE, "needs %llu bytes free beyond the %llu reserved",
			(unsigned long long)st.st_size, (unsigned long long)o->reserve);
		goto out;
	}
	if (o->dry_run) {
		if (src.fragments > 1)
			set_why(fr, DEFRAG_DONE, "would rewrite: %zu fragments", src.fragments);
		else
			set_why(fr, DEFRAG_DONE, "would rewrite: not right after the previous message");
		goto out;
	}

	/* the donor: a temp beside the file, so a kill leaves only a temp */
	if (hw_atomic_begin(&a, r->dirfd, r->relpath, name, st.st_mode & 07777, err) < 0)
		goto fail;
	dshown = hw_path_join(r->relpath, a.tmpname);
	dfd = openat(r->dirfd, a.tmpname, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		ret = hw_error_sys(err, "open", dshown);
		goto fail;
	}
	if (hw_os_preallocate(dfd, dshown, st.st_size, false, err) < 0)
		goto fail;
	if (copy_data(r, fd, dfd, (uint64_t)st.st_size, shown, dshown, &hs, err) < 0)
		goto fail;
	if (hw_io_fsync(dfd) < 0) {
		ret = hw_error_sys(err, "fsync", dshown);
		goto fail;
	}
	/* verify what reached the disk, not the page cache */
	hw_os_evict(dfd);
	if (hw_hash_fd(dfd, dshown, &hd, &hsize, err) < 0)
		goto fail;
	if (hsize != (uint64_t)st.st_size || memcmp(hs.b, hd.b, sizeof(hs.b)) != 0) {
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
	if (!o->relayout && don.fragments >= src.fragments) {
		set_why(fr, DEFRAG_SKIP_NOT_BETTER, "donor has %zu fragments, file %zu",
			don.fragments, src.fragments);
		goto out;
	}
	if (o->relayout) {
		bool don_adjacent = has_prev && is_adjacent(prev_end, don.first_phys);
		size_t limit = src.fragments > 1 ? src.fragments : 1;
		/* never make a file worse: fewer fragments always pays; the same
		   number only when the donor lands right after the previous
		   message (or starts the folder) */
		if (!(don.fragments < src.fragments ||
		      (don.fragments <= limit && (don_adjacent || !has_prev)))) {
			set_why(fr, DEFRAG_SKIP_NOT_BETTER, "donor %s, %zu fragments",
				don_adjacent ? "adjacent" : "not adjacent", don.fragments);
			goto out;
		}
	}
	if (o->before_swap != NULL)
		o->before_swap(o->hook_ctx, r->dirfd, name);

	rc = hw_folder_lock_take(r->dirfd, r->relpath, NULL, o->lock_timeout_ms, &lk, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		set_why(fr, DEFRAG_SKIP_LOCKED, "%s", err->msg);
		hw_error_clear(err);
		goto out;
	}
	/* the last look: the same file, unchanged since we copied it */
	if (fstat(fd, &now_st) < 0) {
		ret = hw_error_sys(err, "fstat", shown);
		goto fail;
	}
	if (fstatat(r->dirfd, name, &name_st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !same_version(&st, &now_st) || name_st.st_ino != st.st_ino ||
	    name_st.st_dev != st.st_dev) {
		set_why(fr, DEFRAG_SKIP_CHANGED, "changed while it was copied: left as it is");
		goto out;
	}

	if (!o->no_move_ext) {
		/* pages still cached make the move stop after one extent (EBUSY):
		   write back and drop both files' pages first */
		if (hw_io_fsync(fd) < 0 || hw_io_fsync(dfd) < 0) {
			ret = hw_error_sys(err, "fsync", shown);
			goto fail;
		}
		hw_os_evict(fd);
		hw_os_evict(dfd);
		rc = hw_os_move_extents(fd, dfd, (uint64_t)st.st_size, &moved, shown, err);
		if (rc < 0)
			goto fail;
		if (rc > 0) {
			struct stat after;
			/* the move leaves the times alone on current kernels; put
			   them back if one did not */
			if (fstat(fd, &after) == 0 &&
			    HW_TS_NS(after.st_mtim) != HW_TS_NS(st.st_mtim)) {
				struct timespec times[2] = { st.st_atim, st.st_mtim };
				if (futimens(fd, times) < 0) {
					ret = hw_error_sys(err, "futimens", shown);
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
				ret = hw_error_sys(err, "fstat", shown);
				goto fail;
			}
			/* the ioctl may have touched ctime; take the file as it is */
			st = now_st;
		}
	}
	if (swap_by_rename(&a, fd, dfd, &st, shown, err) < 0)
		goto fail;
swapped:
	fr->what = DEFRAG_DONE;
	snprintf(fr->why, sizeof(fr->why), "%zu -> %zu fragments%s", src.fragments,
		 don.fragments, fr->moved ? "" : " (by rename)");
	fr->frags_after = don.fragments;
	fr->has_end = true;
	fr->end_phys = don.end_phys;
	goto out;

fail:
	ret = -1;
	fr->what = DEFRAG_SKIP_ERROR;
	hw_strlcpy(fr->why, err->msg, sizeof(fr->why));
out:
	if (lk.held)
		hw_folder_lock_release(&lk);
	if (dfd >= 0)
		close(dfd);
	/* after a move the temp holds the old blocks; otherwise it is unused */
	hw_atomic_abort(&a);
	if (fd >= 0)
		close(fd);
	defrag_file_release(&src);
	defrag_file_release(&don);
	free(dshown);
	free(shown);
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

int defrag_folder_run(int dirfd, const char *relpath, const struct defrag_opts *o,
		      struct defrag_stats *s, struct hw_error *err)
{
	struct defrag_folder before, after;
	struct run r = { .o = o, .s = s, .dirfd = dirfd, .relpath = relpath };
	struct hw_error ferr;
	const char *last = NULL;
	bool skipping = o->resume_after != NULL, has_prev = false;
	uint64_t prev_end = 0;
	int ret = 1, rc;

	defrag_folder_init(&before);
	defrag_folder_init(&after);
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
		/* resume: only if the file we stopped after is still here */
		bool found = false;
		for (size_t i = 0; i < before.nfiles && !found; i++)
			found = strcmp(before.files[i].name, o->resume_after) == 0;
		skipping = found;
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
	r.th.rate = o->max_rate;
	r.th.start = hw_monotonic();
	r.buf = hw_malloc(COPY_CHUNK);
	for (size_t i = 0; i < before.nfiles; i++) {
		const struct defrag_file *df = &before.files[i];
		struct file_result fr;

		if (skipping) {
			if (strcmp(df->name, o->resume_after) == 0)
				skipping = false;
			last = df->name;
			if (!df->unknown && df->extents > 0) {
				has_prev = true;
				prev_end = df->end_phys;
			}
			continue;
		}
		if (o->deadline > 0 && hw_monotonic() >= o->deadline) {
			s->stopped = true;
			free(s->stopped_folder);
			free(s->stopped_after);
			s->stopped_folder = hw_strdup(relpath);
			s->stopped_after = last != NULL ? hw_strdup(last) : NULL;
			break;
		}
		hw_error_clear(&ferr);
		if (file_rewrite(&r, df->name, has_prev, prev_end, &fr, &ferr) < 0) {
			char *shown = hw_path_join(relpath, df->name);
			hw_diag_error("%s: %s", shown, ferr.msg);
			free(shown);
		}
		s->files++;
		s->outcome[fr.what]++;
		if (fr.what == DEFRAG_DONE && !o->dry_run) {
			s->rewritten++;
			s->bytes += fr.size;
			if (fr.moved)
				s->moved_in_place++;
		}
		if (o->report != NULL)
			o->report(o->report_ctx, relpath, df->name, fr.what, fr.why,
				  fr.frags_before, fr.frags_after, fr.size);
		if (fr.has_end) {
			has_prev = true;
			prev_end = fr.end_phys;
		}
		last = df->name;
	}
	if (o->dry_run) {
		add_after(s, &before);
		goto out;
	}
	hw_error_clear(&ferr);
	if (defrag_folder_measure(dirfd, relpath, false, &after, &ferr) < 0) {
		hw_diag_warn("%s", ferr.msg);
		add_after(s, &before);
	} else {
		add_after(s, &after);
	}
out:
	free(r.buf);
	defrag_folder_release(&before);
	defrag_folder_release(&after);
	return ret;
}
