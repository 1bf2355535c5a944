/* os_linux.c - Linux backend of os.h: FIEMAP, EXT4_IOC_MOVE_EXT, fallocate,
   fadvise, statvfs, xattrs, and the folder lock file */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include "atomic.h"
#include "io.h"
#include "os.h"
#include "store.h"
#include "util.h"

/* from e2fsprogs / the kernel's ext4.h: not in the uapi headers */
struct move_extent {
	uint32_t reserved;
	uint32_t donor_fd;
	uint64_t orig_start;   /* in blocks */
	uint64_t donor_start;  /* in blocks */
	uint64_t len;          /* in blocks */
	uint64_t moved_len;    /* out: blocks moved */
};
#define EXT4_IOC_MOVE_EXT _IOWR('f', 15, struct move_extent)

#define FIEMAP_BATCH 256

static int extents(int fd, const char *display_path, uint32_t fm_flags,
		   struct hw_extent **v_r, size_t *n_r, struct hw_error *err)
{
	size_t sz = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
	struct fiemap *fm = hw_malloc(sz);
	struct hw_extent *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t start = 0;
	bool last = false;

	*v_r = NULL;
	*n_r = 0;
	while (!last) {
		memset(fm, 0, sz);
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_flags = fm_flags;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			int e = errno;
			free(fm);
			free(v);
			if (e == EOPNOTSUPP || e == ENOTTY || e == EINVAL)
				return 0;
			errno = e;
			return hw_error_sys(err, "ioctl(FIEMAP)", display_path);
		}
		if (fm->fm_mapped_extents == 0)
			break;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *fe = &fm->fm_extents[i];
			struct hw_extent *x;
			HW_GROW(v, cap, n + 1);
			x = &v[n++];
			x->logical = fe->fe_logical;
			x->physical = fe->fe_physical;
			x->length = fe->fe_length;
			x->flags = 0;
			if (fe->fe_flags & FIEMAP_EXTENT_LAST)
				x->flags |= HW_EXTENT_LAST;
			if (fe->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
					    FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED))
				x->flags |= HW_EXTENT_UNKNOWN;
			if (fe->fe_flags & FIEMAP_EXTENT_UNWRITTEN)
				x->flags |= HW_EXTENT_UNWRITTEN;
			if (fe->fe_flags & FIEMAP_EXTENT_LAST)
				last = true;
			start = fe->fe_logical + fe->fe_length;
		}
		if (fm->fm_mapped_extents < FIEMAP_BATCH)
			break;
	}
	free(fm);
	*v_r = v;
	*n_r = n;
	return 1;
}

int hw_os_extents(int fd, const char *display_path, struct hw_extent **v_r, size_t *n_r,
		  struct hw_error *err)
{
	return extents(fd, display_path, FIEMAP_FLAG_SYNC, v_r, n_r, err);
}

int hw_os_extents_nosync(int fd, const char *display_path, struct hw_extent **v_r,
			 size_t *n_r, struct hw_error *err)
{
	return extents(fd, display_path, 0, v_r, n_r, err);
}

size_t hw_extents_fragments(const struct hw_extent *v, size_t n)
{
	size_t frags;

	if (n == 0)
		return 0;
	/* as filefrag: a new fragment wherever the next extent does not start
	   physically where the previous one ended */
	frags = 1;
	for (size_t i = 1; i < n; i++)
		if (v[i].physical != v[i - 1].physical + v[i - 1].length)
			frags++;
	return frags;
}

int hw_os_block_size(int fd, uint32_t *bs_r, struct hw_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return hw_error_sys(err, "fstat", "(fd)");
	*bs_r = (uint32_t)st.st_blksize;
	return 1;
}

int hw_os_writeback_start(int fd, off_t off, off_t len)
{
	return sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE) == 0 ? 1 : 0;
}

int hw_os_preallocate(int fd, const char *display_path, off_t len, bool keep_size,
		      struct hw_error *err)
{
	int r;

	if (len <= 0)
		return 1;
	if (keep_size)
		r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, len);
	else
		r = hw_io_fallocate(fd, 0, len);
	if (r < 0) {
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			return 0;
		return hw_error_sys(err, "fallocate", display_path);
	}
	return 1;
}

int hw_os_move_extents(int orig_fd, int donor_fd, uint64_t len, uint64_t *moved_r,
		       const char *display_path, struct hw_error *err)
{
	return hw_os_move_extents_at(orig_fd, donor_fd, 0, len, moved_r, display_path, err);
}

int hw_os_move_extents_at(int orig_fd, int donor_fd, uint64_t donor_off, uint64_t len,
			  uint64_t *moved_r, const char *display_path, struct hw_error *err)
{
	struct move_extent me;
	uint32_t bs = 4096;
	uint64_t blocks;

	*moved_r = 0;
	if (hw_os_block_size(orig_fd, &bs, err) < 0)
		return -1;
	blocks = (len + bs - 1) / bs;
	if (blocks == 0)
		return 1;
	if (donor_off % bs != 0)
		return hw_error_set(err, EINVAL, "%s: donor offset %llu is not block-aligned",
				    display_path, (unsigned long long)donor_off);
	memset(&me, 0, sizeof(me));
	me.donor_fd = (uint32_t)donor_fd;
	me.donor_start = donor_off / bs;
	me.len = blocks;
	if (ioctl(orig_fd, EXT4_IOC_MOVE_EXT, &me) < 0) {
		*moved_r = me.moved_len * bs;
		if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL || errno == EBUSY ||
		    errno == ENODATA || errno == EXDEV)
			return 0;
		return hw_error_sys(err, "ioctl(EXT4_IOC_MOVE_EXT)", display_path);
	}
	*moved_r = me.moved_len * bs;
	return me.moved_len >= blocks ? 1 : 0;
}

void hw_os_evict(int fd)
{
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int hw_os_free_bytes(int fd, uint64_t *free_r, struct hw_error *err)
{
	struct statvfs sv;

	if (fstatvfs(fd, &sv) < 0)
		return hw_error_sys(err, "statvfs", "(fd)");
	*free_r = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 1;
}

int hw_os_copy_xattrs(int src_fd, int dst_fd, const char *display_path, struct hw_error *err)
{
	ssize_t len = flistxattr(src_fd, NULL, 0);
	char *names, *value = NULL;
	size_t vcap = 0;
	int ret = 1;

	if (len < 0)
		return errno == ENOTSUP ? 1 : hw_error_sys(err, "listxattr", display_path);
	if (len == 0)
		return 1;
	names = hw_malloc((size_t)len);
	len = flistxattr(src_fd, names, (size_t)len);
	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		ssize_t vlen = fgetxattr(src_fd, name, NULL, 0);
		if (vlen < 0)
			continue;
		HW_GROW(value, vcap, (size_t)vlen + 1);
		vlen = fgetxattr(src_fd, name, value, (size_t)vlen);
		if (vlen < 0)
			continue;
		if (fsetxattr(dst_fd, name, value, (size_t)vlen, 0) < 0 && errno != ENOTSUP &&
		    errno != EPERM) {
			ret = hw_error_sys(err, "setxattr", display_path);
			break;
		}
	}
	free(value);
	free(names);
	return ret;
}

int hw_os_open_beneath(int dirfd, const char *relpath, int flags)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)flags | O_NOFOLLOW;
	how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
}

/* ---- folder lock ---- */

static char *lock_name;

const char *hw_folder_lock_name(void)
{
	return lock_name != NULL ? lock_name : HW_FOLDER_LOCK_DEFAULT;
}

bool hw_folder_lock_name_ok(const char *name)
{
	struct hw_msgname m;

	/* never a name whose release (an unlink) would remove mail or an index */
	return name != NULL && *name != '\0' && strchr(name, '/') == NULL &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       strcasecmp(name, "IMAP.MRK") != 0 && strcasecmp(name, "HIWATER.MRK") != 0 &&
	       !hw_msgname_parse(name, &m) && strncmp(name, HW_TMP_PREFIX, strlen(HW_TMP_PREFIX)) != 0;
}

void hw_folder_lock_set_name(const char *name)
{
	free(lock_name);
	lock_name = hw_folder_lock_name_ok(name) ? hw_strdup(name) : NULL;
}

/* Is the lock a leftover of a hiwater run that was killed while holding it?
   Only a lock that reads "hiwater PID" (as written below) with a PID that
   no longer runs: another program's lock, or a live process's, is never
   ours to break. *st_r identifies the file that was read. */
static bool lock_is_stale(int dirfd, const char *lockname, struct stat *st_r)
{
	char buf[64], end = '\0';
	int fd = openat(dirfd, lockname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;
	long pid;

	if (fd < 0)
		return false;
	n = fstat(fd, st_r) == 0 && S_ISREG(st_r->st_mode) ? read(fd, buf, sizeof(buf) - 1) : -1;
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (sscanf(buf, "hiwater %ld%c", &pid, &end) != 2 || pid <= 0 ||
	    (end != '\r' && end != '\n'))
		return false;
	return pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Remove a stale lock. Moved aside first, so that of two runs breaking the
   same lock only one succeeds; if what moved is not the file found stale (a
   live lock taken in between), it is put back. */
static void lock_break(int dirfd, const char *lockname, const struct stat *stale)
{
	char *aside = hw_asprintf(HW_TMP_PREFIX "%ld.%08x.stale-lock", (long)getpid(),
				  (unsigned)hw_now_ns());
	struct stat st;

	if (hw_io_renameat(dirfd, lockname, dirfd, aside) == 0) {
		if (fstatat(dirfd, aside, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_ino == stale->st_ino && st.st_dev == stale->st_dev)
			(void)hw_io_unlinkat(dirfd, aside, 0);
		else if (renameat2(dirfd, aside, dirfd, lockname, RENAME_NOREPLACE) < 0 &&
			 (errno != EINVAL || linkat(dirfd, aside, dirfd, lockname, 0) == 0 ||
			  errno == EEXIST))
			/* put back (a link where rename cannot refuse to replace),
			   or another lock took the name meanwhile: drop ours */
			(void)hw_io_unlinkat(dirfd, aside, 0);
	}
	free(aside);
}

/* the step that failed in lock_create, for the message */
static __thread const char *lock_step = "open";

/* The lock with its content, from an unnamed file (O_TMPFILE) linked into
   place: a kill at any moment leaves nothing at all. 1 taken, 0 held, -1
   error, -2 not supported here (no O_TMPFILE or no /proc: use a temp). */
static int lock_create_unnamed(int dirfd, const char *lockname, const char *line, size_t len)
{
	char proc[64];
	int fd, r, e;

	lock_step = "open";
	fd = hw_io_openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? -2 : -1;
	lock_step = "write";
	if (hw_io_write_all(fd, line, len) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	lock_step = "link";
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = linkat(AT_FDCWD, proc, dirfd, lockname, AT_SYMLINK_FOLLOW);
	e = errno;
	close(fd);
	errno = e;
	if (r == 0)
		return 1;
	if (e == EEXIST)
		return 0;
	return e == ENOENT || e == EOPNOTSUPP || e == EPERM || e == EXDEV ? -2 : -1;
}

/* Create the lock file with its content in one step: from an unnamed file
   where the file system has them; elsewhere the line is written to a temp
   file that is then renamed without replacing (or hard-linked, where rename
   cannot refuse to replace) to the lock name. A run killed at any moment
   leaves either no lock (and at most a temp that hw_atomic_cleanup removes)
   or a lock that names it, which lock_is_stale recognises.
   1 taken, 0 held by someone, -1 error (errno; lock_step says which call) */
static int lock_create(int dirfd, const char *lockname)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "hiwater %ld\r\n", (long)getpid());
	char *tmp;
	int fd, ret, e;

	ret = lock_create_unnamed(dirfd, lockname, line, (size_t)n);
	if (ret != -2)
		return ret;
	ret = -1;
	tmp = hw_asprintf(HW_TMP_PREFIX "%ld.%08x.%s", (long)getpid(), (unsigned)hw_now_ns(),
			  lockname);
	lock_step = "open";
	fd = hw_io_openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(tmp);
		return -1;
	}
	lock_step = "write";
	if (hw_io_write_all(fd, line, (size_t)n) < 0) {
		e = errno;
		close(fd);
		goto out;
	}
	close(fd);
	lock_step = "rename";
	if (renameat2(dirfd, tmp, dirfd, lockname, RENAME_NOREPLACE) == 0) {
		free(tmp);
		return 1;
	}
	if (errno == EEXIST) {
		ret = 0;
	} else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
		lock_step = "link";
		if (linkat(dirfd, tmp, dirfd, lockname, 0) == 0)
			ret = 1;
		else if (errno == EEXIST)
			ret = 0;
	}
	e = errno;
out:
	(void)hw_io_unlinkat(dirfd, tmp, 0);
	free(tmp);
	errno = e;
	return ret;
}

int hw_folder_lock_clear_stale(int dirfd, const char *dirpath, const char *lockname)
{
	struct stat st;

	if (lockname == NULL)
		lockname = hw_folder_lock_name();
	if (!lock_is_stale(dirfd, lockname, &st))
		return 0;
	hw_diag_info("%s/%s: removed the lock of a hiwater run that is gone",
		     dirpath != NULL ? dirpath : ".", lockname);
	lock_break(dirfd, lockname, &st);
	return 1;
}

int hw_folder_lock_take(int dirfd, const char *dirpath, const char *lockname,
			int timeout_ms, struct hw_folder_lock *l, struct hw_error *err)
{
	double deadline = hw_monotonic() + timeout_ms / 1000.0;
	long sleep_us = 1000;

	memset(l, 0, sizeof(*l));
	l->dirfd = dirfd;
	if (lockname == NULL)
		lockname = hw_folder_lock_name();
	for (;;) {
		/* the lock appears whole or not at all (lock_create), so a
		   kill can never leave an empty lock nobody can tell is stale */
		int r = lock_create(dirfd, lockname);
		if (r > 0) {
			l->name = hw_strdup(lockname);
			l->held = true;
			return 1;
		}
		if (r < 0) {
			char *p = hw_path_join(dirpath, lockname);
			hw_error_sys(err, lock_step, p);
			free(p);
			return -1;
		}
		/* our own lock, left by a hiwater that was killed: take it back
		   (a writer's lock is never touched) */
		if (hw_folder_lock_clear_stale(dirfd, dirpath, lockname) > 0)
			continue;
		if (hw_monotonic() >= deadline) {
			char *p = hw_path_join(dirpath, lockname);
			hw_error_set(err, EBUSY, "%s: folder is locked by another writer "
				     "(waited %d ms)", p, timeout_ms);
			free(p);
			return 0;
		}
		{
			struct timespec ts = { 0, sleep_us * 1000 };
			nanosleep(&ts, NULL);
		}
		if (sleep_us < 50000)
			sleep_us *= 2;
	}
}

void hw_folder_lock_release(struct hw_folder_lock *l)
{
	if (l->held)
		(void)unlinkat(l->dirfd, l->name, 0);
	free(l->name);
	l->name = NULL;
	l->held = false;
}
