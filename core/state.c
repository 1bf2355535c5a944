/* state.c - the state directory and the run lock (see state.h) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "state.h"
#include "store.h"
#include "util.h"

static int mkdir_p(const char *path, mode_t mode, struct hw_error *err)
{
	char *p = hw_strdup(path);
	int ret = 1;

	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, c == '\0' ? mode : 0755) < 0 && errno != EEXIST) {
				ret = hw_error_sys(err, "mkdir", p);
				break;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
	return ret;
}

int hw_state_open(const char *statedir, const char *storedir, struct hw_error *err)
{
	struct stat st;

	if (statedir == NULL || *statedir == '\0')
		return hw_error_set(err, EINVAL, "no state directory given"), 0;
	if (storedir != NULL && (hw_path_is_inside(statedir, storedir) ||
				 hw_path_is_inside(storedir, statedir))) {
		hw_error_set(err, EINVAL, "state directory %s lies inside the store %s (or holds "
			     "it): hiwater keeps nothing of its own in the store", statedir, storedir);
		return 0;
	}
	if (lstat(statedir, &st) < 0) {
		if (errno != ENOENT)
			return hw_error_sys(err, "stat", statedir);
		if (mkdir_p(statedir, 0700, err) < 0)
			return -1;
		if (lstat(statedir, &st) < 0)
			return hw_error_sys(err, "stat", statedir);
	}
	if (!S_ISDIR(st.st_mode)) {
		hw_error_set(err, ENOTDIR, "state directory %s is not a directory", statedir);
		return 0;
	}
	if ((st.st_mode & 022) != 0) {
		hw_error_set(err, EPERM, "state directory %s is group- or world-writable "
			     "(mode %03o): refusing to use it", statedir,
			     (unsigned)(st.st_mode & 0777));
		return 0;
	}
	return 1;
}

int hw_state_lock(const char *statedir, struct hw_state_lock *l, struct hw_error *err)
{
	char *path = hw_path_join(statedir, HW_STATE_LOCK);
	char line[128];
	int fd;

	l->fd = -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		hw_error_sys(err, "open", path);
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
			long pid = 0;
			long long since = 0;
			char when[32] = "unknown time";
			if (n > 0) {
				line[n] = '\0';
				if (sscanf(line, "%ld %lld", &pid, &since) == 2)
					hw_time_iso(since, when, sizeof(when));
			}
			hw_error_set(err, EWOULDBLOCK, "already running (pid %ld since %s)", pid, when);
			close(fd);
			free(path);
			return 0;
		}
		hw_error_sys(err, "flock", path);
		close(fd);
		free(path);
		return -1;
	}
	snprintf(line, sizeof(line), "%ld %lld\n", (long)getpid(), (long long)time(NULL));
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, strlen(line), 0) < 0) {
		hw_error_sys(err, "write", path);
		close(fd);
		free(path);
		return -1;
	}
	free(path);
	l->fd = fd;
	return 1;
}

void hw_state_unlock(struct hw_state_lock *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
