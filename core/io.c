/* io.c - the I/O seam with test-only fault injection (see io.h) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "io.h"
#include "util.h"

enum io_op { OP_WRITE, OP_FSYNC, OP_RENAME, OP_FALLOCATE, OP_UNLINK, OP_FTRUNCATE,
	     OP_OPEN, OP_MKDIR, OP_LINK, OP_ANY, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
	"write", "fsync", "rename", "fallocate", "unlink", "ftruncate", "open", "mkdir", "link",
	"any"
};
#define FAULT_SHORT (-1)
#define FAULT_KILL (-2)   /* the crash harness: SIGKILL ourselves before the call */

#define MAX_FAULTS 8
struct fault {
	enum io_op op;
	long nth;     /* 0 = every call */
	int err;      /* errno, or -1 for a short write */
};
static struct fault faults[MAX_FAULTS];
static int nfaults = -1;   /* -1: not parsed yet */
static atomic_long counts[OP_COUNT];
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;

static int parse_err(const char *s)
{
	if (strcmp(s, "ENOSPC") == 0) return ENOSPC;
	if (strcmp(s, "EIO") == 0) return EIO;
	if (strcmp(s, "EDQUOT") == 0) return EDQUOT;
	if (strcmp(s, "EACCES") == 0) return EACCES;
	if (strcmp(s, "SHORT") == 0) return FAULT_SHORT;
	if (strcmp(s, "KILL") == 0) return FAULT_KILL;
	return EIO;
}

static void fault_parse(void)
{
	const char *env = getenv("HIWATER_FAULT");
	char *copy, *item, *save = NULL;

	nfaults = 0;
	if (env == NULL || *env == '\0')
		return;
	copy = hw_strdup(env);
	for (item = strtok_r(copy, ",", &save); item != NULL && nfaults < MAX_FAULTS;
	     item = strtok_r(NULL, ",", &save)) {
		char *c1 = strchr(item, ':'), *c2;
		int op;
		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c1 = *c2 = '\0';
		for (op = 0; op < OP_COUNT; op++)
			if (strcmp(item, op_names[op]) == 0)
				break;
		if (op == OP_COUNT)
			continue;
		faults[nfaults].op = (enum io_op)op;
		faults[nfaults].nth = strcmp(c1 + 1, "*") == 0 ? 0 : atol(c1 + 1);
		faults[nfaults].err = parse_err(c2 + 1);
		nfaults++;
	}
	free(copy);
}

void hw_io_fault_reset(void)
{
	pthread_mutex_lock(&fault_lock);
	nfaults = -1;
	for (int i = 0; i < OP_COUNT; i++)
		atomic_store(&counts[i], 0);
	pthread_mutex_unlock(&fault_lock);
}

/* HIWATER_FAULT_LOG=FILE: a line per injected failure, so that a test can
   tell a fault that was absorbed from one that was never reached (the count
   of calls can vary with the threads' order) */
static void fault_log(enum io_op op, long nth)
{
	const char *path = getenv("HIWATER_FAULT_LOG");
	char line[64];
	int fd, n;

	if (path == NULL || *path == '\0')
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %ld\n", op_names[op], nth);
	if (write(fd, line, (size_t)n) < 0) {
		/* a test aid: nothing to do */
	}
	close(fd);
}

/* and at exit "count OP N" for every kind: how many calls a run made, so
   that a test can aim at the last one */
__attribute__((destructor)) static void fault_counts_log(void)
{
	const char *path = getenv("HIWATER_FAULT_LOG");
	char line[64];
	int fd, n;

	if (nfaults <= 0 || path == NULL || *path == '\0')
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	for (int op = 0; op < OP_COUNT; op++) {
		n = snprintf(line, sizeof(line), "count %s %ld\n", op_names[op],
			     atomic_load(&counts[op]));
		if (write(fd, line, (size_t)n) < 0)
			break;
	}
	close(fd);
}

/* 0: no fault; otherwise the errno to fail with (-1: short write) */
static int fault_check(enum io_op op)
{
	long n, any;
	int i;

	if (nfaults == 0)
		return 0;
	pthread_mutex_lock(&fault_lock);
	if (nfaults < 0)
		fault_parse();
	pthread_mutex_unlock(&fault_lock);
	if (nfaults == 0)
		return 0;
	n = atomic_fetch_add(&counts[op], 1) + 1;
	any = atomic_fetch_add(&counts[OP_ANY], 1) + 1;
	for (i = 0; i < nfaults; i++) {
		long want = faults[i].op == OP_ANY ? any : n;
		if ((faults[i].op == op || faults[i].op == OP_ANY) &&
		    (faults[i].nth == 0 || faults[i].nth == want)) {
			if (faults[i].err == FAULT_KILL)
				kill(getpid(), SIGKILL);
			fault_log(op, want);
			return faults[i].err;
		}
	}
	return 0;
}

#define FAULT_OR(op, ret) do { int e_ = fault_check(op); \
	if (e_ > 0) { errno = e_; return (ret); } } while (0)

ssize_t hw_io_write(int fd, const void *buf, size_t len)
{
	int e = fault_check(OP_WRITE);

	if (e > 0) {
		errno = e;
		return -1;
	}
	if (e < 0 && len > 1)
		return write(fd, buf, len / 2);
	return write(fd, buf, len);
}

ssize_t hw_io_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	int e = fault_check(OP_WRITE);

	if (e > 0) {
		errno = e;
		return -1;
	}
	if (e < 0 && len > 1)
		return pwrite(fd, buf, len / 2, off);
	return pwrite(fd, buf, len, off);
}

int hw_io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	int shorts = 0;

	while (len > 0) {
		ssize_t n = hw_io_write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0 || (size_t)n < len) {
			/* a short write is retried once; a second in a row is
			   treated as a full disk, which is what it nearly
			   always means */
			if (++shorts > 1 || n == 0) {
				errno = ENOSPC;
				return -1;
			}
		} else {
			shorts = 0;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int hw_io_fsync(int fd)
{
	FAULT_OR(OP_FSYNC, -1);
	return fsync(fd);
}

int hw_io_fdatasync(int fd)
{
	FAULT_OR(OP_FSYNC, -1);
	return fdatasync(fd);
}

int hw_io_syncfs(int fd)
{
	FAULT_OR(OP_FSYNC, -1);
	return syncfs(fd);
}

int hw_io_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	FAULT_OR(OP_RENAME, -1);
	return renameat(olddirfd, oldname, newdirfd, newname);
}

int hw_io_fallocate(int fd, off_t offset, off_t len)
{
	FAULT_OR(OP_FALLOCATE, -1);
	return fallocate(fd, 0, offset, len);
}

int hw_io_unlinkat(int dirfd, const char *name, int flags)
{
	FAULT_OR(OP_UNLINK, -1);
	return unlinkat(dirfd, name, flags);
}

int hw_io_ftruncate(int fd, off_t len)
{
	FAULT_OR(OP_FTRUNCATE, -1);
	return ftruncate(fd, len);
}

int hw_io_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	FAULT_OR(OP_OPEN, -1);
	return openat(dirfd, name, flags, mode);
}

int hw_io_mkdirat(int dirfd, const char *name, mode_t mode)
{
	FAULT_OR(OP_MKDIR, -1);
	return mkdirat(dirfd, name, mode);
}

int hw_io_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname, int flags)
{
	FAULT_OR(OP_LINK, -1);
	return linkat(olddirfd, oldname, newdirfd, newname, flags);
}
