/* atomic.c - temp + fsync + rename + fsync(dir) (see atomic.h) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "atomic.h"
#include "io.h"
#include "os.h"
#include "util.h"

static char *display(const char *dirpath, const char *name)
{
	return hw_path_join(dirpath, name);
}

int hw_fsync_dir(int dirfd, const char *dirpath, struct hw_error *err)
{
	if (hw_io_fsync(dirfd) < 0)
		return hw_error_sys(err, "fsync", dirpath != NULL && *dirpath ? dirpath : ".");
	return 1;
}

int hw_atomic_begin(struct hw_atomic *a, int dirfd, const char *dirpath,
		    const char *name, mode_t mode, struct hw_error *err)
{
	static unsigned counter;
	unsigned rnd;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->dirfd = dirfd;
	a->mode = mode;
	a->dirpath = hw_strdup(dirpath != NULL ? dirpath : "");
	a->name = hw_strdup(name);
	for (int tries = 0; tries < 100; tries++) {
		rnd = (unsigned)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 2654435761u ^
		      (unsigned)hw_now_ns();
		free(a->tmpname);
		a->tmpname = hw_asprintf(HW_TMP_PREFIX "%ld.%08x.%s", (long)getpid(), rnd, name);
		a->fd = hw_io_openat(dirfd, a->tmpname,
				     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (a->fd >= 0)
			return 1;
		if (errno != EEXIST)
			break;
	}
	{
		char *p = display(a->dirpath, a->tmpname);
		hw_error_sys(err, "open", p);
		free(p);
	}
	a->done = true;
	free(a->dirpath);
	free(a->name);
	free(a->tmpname);
	a->dirpath = a->name = a->tmpname = NULL;
	return -1;
}

static int fail(struct hw_atomic *a, const char *step, const char *name, struct hw_error *err)
{
	char *p = display(a->dirpath, name);
	int e = errno;

	hw_error_sys(err, step, p);
	free(p);
	hw_atomic_abort(a);
	errno = e;
	return -1;
}

int hw_atomic_write(struct hw_atomic *a, const void *buf, size_t len, struct hw_error *err)
{
	if (hw_io_write_all(a->fd, buf, len) < 0)
		return fail(a, "write", a->tmpname, err);
	a->written += (off_t)len;
	if (a->written - a->kicked >= HW_ATOMIC_KICK) {
		(void)hw_os_writeback_start(a->fd, a->kicked, a->written - a->kicked);
		a->kicked = a->written;
	}
	return 1;
}

int hw_atomic_set_times(struct hw_atomic *a, const struct timespec times[2], struct hw_error *err)
{
	if (futimens(a->fd, times) < 0)
		return fail(a, "futimens", a->tmpname, err);
	return 1;
}

int hw_atomic_commit(struct hw_atomic *a, struct hw_error *err)
{
	if (fchmod(a->fd, a->mode) < 0)
		return fail(a, "fchmod", a->tmpname, err);
	if (hw_io_fsync(a->fd) < 0)
		return fail(a, "fsync", a->tmpname, err);
	if (close(a->fd) < 0) {
		a->fd = -1;
		return fail(a, "close", a->tmpname, err);
	}
	a->fd = -1;
	if (hw_io_renameat(a->dirfd, a->tmpname, a->dirfd, a->name) < 0)
		return fail(a, "rename", a->name, err);
	/* the rename happened: from here on the temp no longer exists */
	free(a->tmpname);
	a->tmpname = NULL;
	if (hw_fsync_dir(a->dirfd, a->dirpath, err) < 0) {
		hw_atomic_abort(a);
		return -1;
	}
	hw_atomic_abort(a);
	return 1;
}

int hw_atomic_close_unsynced(struct hw_atomic *a, struct hw_error *err)
{
	if (fchmod(a->fd, a->mode) < 0)
		return fail(a, "fchmod", a->tmpname, err);
	if (close(a->fd) < 0) {
		a->fd = -1;
		return fail(a, "close", a->tmpname, err);
	}
	a->fd = -1;
	return 1;
}

int hw_atomic_rename_unsynced(struct hw_atomic *a, struct hw_error *err)
{
	if (hw_io_renameat(a->dirfd, a->tmpname, a->dirfd, a->name) < 0)
		return fail(a, "rename", a->name, err);
	free(a->tmpname);
	a->tmpname = NULL;
	hw_atomic_abort(a);
	return 1;
}

int hw_syncfs(int fd, const char *display_path, struct hw_error *err)
{
	if (hw_io_syncfs(fd) < 0)
		return hw_error_sys(err, "syncfs", display_path);
	return 1;
}

void hw_atomic_abort(struct hw_atomic *a)
{
	if (a->done)
		return;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (a->tmpname != NULL)
		(void)unlinkat(a->dirfd, a->tmpname, 0);
	free(a->tmpname);
	free(a->name);
	free(a->dirpath);
	a->tmpname = a->name = a->dirpath = NULL;
	a->done = true;
}

int hw_atomic_replace(int dirfd, const char *dirpath, const char *name,
		      const void *buf, size_t len, mode_t mode, struct hw_error *err)
{
	struct hw_atomic a;

	if (hw_atomic_begin(&a, dirfd, dirpath, name, mode, err) < 0)
		return -1;
	if (hw_atomic_write(&a, buf, len, err) < 0)
		return -1;
	return hw_atomic_commit(&a, err);
}

bool hw_atomic_is_temp(const char *name)
{
	return strncmp(name, HW_TMP_PREFIX, sizeof(HW_TMP_PREFIX) - 1) == 0;
}

/* pid embedded in a temp name, or -1 */
static long temp_pid(const char *name)
{
	const char *p = name + sizeof(HW_TMP_PREFIX) - 1;
	char *end;
	long pid = strtol(p, &end, 10);

	if (end == p || *end != '.')
		return -1;
	return pid;
}

int hw_atomic_cleanup(int dirfd, const char *dirpath, struct hw_error *err)
{
	int fd = dup(dirfd);
	DIR *d;
	struct dirent *de;
	int removed = 0;

	if (fd < 0)
		return hw_error_sys(err, "dup", dirpath);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return hw_error_sys(err, "opendir", dirpath);
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		long pid;
		if (!hw_atomic_is_temp(de->d_name))
			continue;
		pid = temp_pid(de->d_name);
		/* a temp of a live process (ours included) is not stale */
		if (pid > 0 && (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (hw_io_unlinkat(dirfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	/* a killed run may have left the folder lock too: it would block
	   MDaemon's writers as well as ours */
	removed += hw_folder_lock_clear_stale(dirfd, dirpath, NULL);
	return removed;
}
