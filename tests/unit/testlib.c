/* testlib.c - helpers for the unit tests (see testlib.h) */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>

#include "hash.h"
#include "testlib.h"
#include "util.h"

char *tl_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	t = hw_asprintf("%s/hw-test.XXXXXX", base);
	ck_assert_msg(mkdtemp(t) != NULL, "mkdtemp(%s): %s", t, strerror(errno));
	return t;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	/* a directory made unreadable by a test must still go */
	if (type == FTW_DNR)
		chmod(path, 0700);
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "testlib: remove(%s): %s\n", path, strerror(errno));
	return 0;
}

void tl_rmtree(const char *path)
{
	if (path == NULL)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

char *tl_path(const char *dir, const char *rel)
{
	return hw_asprintf("%s/%s", dir, rel);
}

void tl_mkdirs(const char *dir, const char *rel)
{
	char *p = tl_path(dir, rel);

	for (char *s = p + strlen(dir) + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST,
				      "mkdir(%s): %s", p, strerror(errno));
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
}

void tl_write_file(const char *dir, const char *rel, const void *data, size_t len, mode_t mode)
{
	const char *slash = strrchr(rel, '/');
	char *p;
	int fd;

	if (slash != NULL) {
		char *parent = hw_strndup(rel, (size_t)(slash - rel));
		tl_mkdirs(dir, parent);
		free(parent);
	}
	p = tl_path(dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "open(%s): %s", p, strerror(errno));
	ck_assert_msg(write(fd, data, len) == (ssize_t)len, "write(%s): %s", p, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	free(p);
}

char *tl_read_file(const char *path, size_t *len_r)
{
	struct hw_buf b;
	char chunk[8192];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ck_assert_msg(errno == ENOENT, "open(%s): %s", path, strerror(errno));
		return NULL;
	}
	hw_buf_init(&b);
	hw_buf_add(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		hw_buf_add(&b, chunk, (size_t)n);
	ck_assert_msg(n == 0, "read(%s): %s", path, strerror(errno));
	close(fd);
	if (len_r != NULL)
		*len_r = b.len;
	return hw_buf_detach(&b, NULL);
}

bool tl_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

size_t tl_count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	ck_assert_msg(d != NULL, "opendir(%s): %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

const char *tl_shared_dir(void)
{
	const char *s = getenv("HW_SHARED");

	if (s != NULL && *s != '\0')
		return s;
	return HW_SRCDIR "/../shared";
}

bool tl_unpack_corpus(const char *name, const char *dir)
{
	char *tarball = hw_asprintf("%s/corpora/%s", tl_shared_dir(), name);
	pid_t pid;
	int status;

	if (!tl_exists(tarball)) {
		free(tarball);
		return false;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execlp("tar", "tar", "--zstd", "-xf", tarball, "-C", dir, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tar -xf %s failed", tarball);
	free(tarball);
	return true;
}

void tl_assert_file_kept(int dirfd, const char *name, const unsigned char hash[16],
			 const struct stat *was, struct stat *now_r)
{
	struct hw_hash h;
	struct hw_error err;
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW);

	ck_assert_msg(fd >= 0, "%s: %s", name, strerror(errno));
	ck_assert_int_eq(hw_hash_fd(fd, name, &h, NULL, &err), 1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	ck_assert_msg(memcmp(h.b, hash, 16) == 0, "%s content changed", name);
	ck_assert_int_eq(st.st_size, was->st_size);
	ck_assert_int_eq(st.st_mode, was->st_mode);
	ck_assert_int_eq(HW_TS_NS(st.st_mtim), HW_TS_NS(was->st_mtim));
	if (now_r != NULL)
		*now_r = st;
}
