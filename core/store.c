/* store.c - store layout, message names, the safe walk (see store.h) */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>

#include "atomic.h"
#include "io.h"
#include "os.h"
#include "pool.h"
#include "store.h"
#include "util.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct hw_store {
	int fd;
	char *path;
	dev_t dev;
};

/* ---- message names ---- */

bool hw_msgname_parse(const char *name, struct hw_msgname *r)
{
	uint32_t num = 0;
	int i;

	if (strlen(name) != HW_MSGNAME_LEN)
		return false;
	if (toupper((unsigned char)name[1]) != 'D')
		return false;
	switch (toupper((unsigned char)name[0])) {
	case 'M': r->pd = false; break;
	case 'P': r->pd = true; break;
	default: return false;
	}
	for (i = 2; i < 13; i++)
		if (!isdigit((unsigned char)name[i]))
			return false;
	if (strcasecmp(name + 13, ".msg") != 0)
		return false;
	r->precedence = (unsigned)((name[2] - '0') * 10 + (name[3] - '0'));
	for (i = 4; i < 13; i++)
		num = num * 10 + (uint32_t)(name[i] - '0');
	r->number = num;
	return true;
}

void hw_msgname_format(char *buf, size_t size, const struct hw_msgname *m)
{
	snprintf(buf, size, "%s%02u%09u.msg", m->pd ? "pd" : "md", m->precedence % 100,
		 (unsigned)(m->number % 1000000000u));
}

/* ---- the store ---- */

int hw_store_open(const char *path, struct hw_store **st_r, struct hw_error *err)
{
	struct hw_store *st;
	struct stat sb;
	char *abs;
	int fd;

	*st_r = NULL;
	abs = realpath(path, NULL);
	if (abs == NULL)
		return hw_error_sys(err, "realpath", path);
	/* the store root itself may be reached through a symlink the admin
	   made (e.g. /var/mail -> /srv/mail); below it nothing is followed */
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		hw_error_sys(err, "open", path);
		free(abs);
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		hw_error_sys(err, "fstat", path);
		close(fd);
		free(abs);
		return -1;
	}
	st = hw_calloc(1, sizeof(*st));
	st->fd = fd;
	st->path = abs;
	st->dev = sb.st_dev;
	*st_r = st;
	return 1;
}

void hw_store_free(struct hw_store **stp)
{
	struct hw_store *st = *stp;

	if (st == NULL)
		return;
	close(st->fd);
	free(st->path);
	free(st);
	*stp = NULL;
}

int hw_store_fd(const struct hw_store *st) { return st->fd; }
const char *hw_store_path(const struct hw_store *st) { return st->path; }
dev_t hw_store_dev(const struct hw_store *st) { return st->dev; }

/* abs (a realpath) + rest with "." and ".." applied lexically: rest does
   not exist, so none of its parts can be a symlink */
static char *append_normalised(const char *abs, const char *rest)
{
	struct hw_buf b;
	const char *p = rest;

	hw_buf_init(&b);
	hw_buf_adds(&b, abs);
	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, '/');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(b.data, '/');
			b.len = slash == NULL || slash == b.data ? 1 : (size_t)(slash - b.data);
			b.data[b.len] = '\0';
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (b.len > 0 && b.data[b.len - 1] != '/')
				hw_buf_addc(&b, '/');
			hw_buf_add(&b, p, len);
		}
		p = e != NULL ? e + 1 : NULL;
	}
	return hw_buf_detach(&b, NULL);
}

/* realpath of the longest existing prefix + the rest, normalised */
static char *resolve(const char *path)
{
	char *abs, *rest = NULL, *copy, *slash, *res;

	if (path[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return hw_strdup(path);
		copy = hw_path_join(cwd, path);
	} else {
		copy = hw_strdup(path);
	}
	for (;;) {
		abs = realpath(copy, NULL);
		if (abs != NULL)
			break;
		slash = strrchr(copy, '/');
		if (slash == NULL || slash == copy) {
			abs = hw_strdup("/");
			break;
		}
		{
			char *tail = hw_path_join(slash + 1, rest);
			free(rest);
			rest = tail;
		}
		*slash = '\0';
	}
	res = rest != NULL ? append_normalised(abs, rest) : hw_strdup(abs);
	free(abs);
	free(rest);
	free(copy);
	return res;
}

bool hw_path_is_inside(const char *inner, const char *outer)
{
	char *a = resolve(inner), *b = resolve(outer);
	size_t lb = strlen(b);
	bool r;

	while (lb > 1 && b[lb - 1] == '/')
		b[--lb] = '\0';
	r = strncmp(a, b, lb) == 0 && (a[lb] == '\0' || a[lb] == '/' || lb == 1);
	free(a);
	free(b);
	return r;
}

static bool ends_imap(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcasecmp(name + n - 5, ".IMAP") == 0;
}

int hw_folder_arg_check(const char *relpath, struct hw_error *err)
{
	const char *p = relpath, *e;
	int part = 0;

	if (*relpath == '\0')
		return hw_error_set(err, EINVAL, "empty folder name"), 0;
	if (*relpath == '/')
		return hw_error_set(err, EINVAL, "folder '%s' must be relative to the store "
				    "(DOMAIN/MAILBOX[/Name.IMAP...])", relpath), 0;
	while (*p != '\0') {
		size_t len;
		e = strchr(p, '/');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len == 0 && e != NULL && e[1] == '\0')
			break;   /* one trailing slash is fine */
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return hw_error_set(err, EINVAL, "folder '%s': empty, '.' or '..' path part",
					    relpath), 0;
		if (part >= 2) {
			char *name = hw_strndup(p, len);
			bool ok = ends_imap(name);
			free(name);
			if (!ok)
				return hw_error_set(err, EINVAL, "folder '%s': '%.*s' is not a folder "
						    "(folders below a mailbox end in .IMAP)",
						    relpath, (int)len, p), 0;
		}
		part++;
		if (e == NULL)
			break;
		p = e + 1;
	}
	if (part < 2)
		return hw_error_set(err, EINVAL, "folder '%s': expected DOMAIN/MAILBOX[/Name.IMAP...]",
				    relpath), 0;
	return 1;
}

/* open one component below dirfd: a directory, no symlink, same device */
static int open_component(const struct hw_store *st, int dirfd, const char *name,
			  const char *display, struct hw_error *err)
{
	struct stat sb;
	int fd;

	fd = openat(dirfd, name, DIR_FLAGS);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR) {
			if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
				return hw_error_set(err, ELOOP, "%s is a symlink: not followed", display);
			return hw_error_set(err, ENOTDIR, "%s is not a directory", display);
		}
		return hw_error_sys(err, "open", display);
	}
	if (fstat(fd, &sb) < 0) {
		hw_error_sys(err, "fstat", display);
		close(fd);
		return -1;
	}
	if (sb.st_dev != st->dev) {
		close(fd);
		return hw_error_set(err, EXDEV, "%s is on another filesystem (mount point): "
				    "not crossed", display);
	}
	return fd;
}

static int walk_path(const struct hw_store *st, const char *relpath, bool create,
		     struct hw_error *err)
{
	char *copy = hw_strdup(relpath), *p = copy, *slash;
	struct hw_buf shown;
	int fd = dup(st->fd);

	if (fd < 0) {
		free(copy);
		return hw_error_sys(err, "dup", st->path);
	}
	hw_buf_init(&shown);
	while (p != NULL && *p != '\0') {
		int nfd;
		slash = strchr(p, '/');
		if (slash != NULL)
			*slash = '\0';
		if (strcmp(p, "..") == 0 || strcmp(p, ".") == 0) {
			hw_error_set(err, EINVAL, "folder '%s': '.' and '..' are not allowed", relpath);
			close(fd);
			fd = -1;
			break;
		}
		if (shown.len > 0)
			hw_buf_addc(&shown, '/');
		hw_buf_adds(&shown, p);
		if (create) {
			if (hw_io_mkdirat(fd, p, 0755) == 0) {
				if (hw_fsync_dir(fd, shown.data, err) < 0) {
					close(fd);
					fd = -1;
					break;
				}
			} else if (errno != EEXIST) {
				hw_error_sys(err, "mkdir", shown.data);
				close(fd);
				fd = -1;
				break;
			}
		}
		nfd = open_component(st, fd, p, shown.data, err);
		close(fd);
		fd = nfd;
		if (fd < 0)
			break;
		p = slash != NULL ? slash + 1 : NULL;
	}
	hw_buf_release(&shown);
	free(copy);
	return fd;
}

int hw_store_open_folder(const struct hw_store *st, const char *relpath, struct hw_error *err)
{
	int fd = hw_os_open_beneath(st->fd, relpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* one syscall where the kernel can refuse symlinks, mount crossings
	   and ".." itself; on any failure the walk, component by component,
	   says precisely what is wrong */
	if (fd >= 0)
		return fd;
	return walk_path(st, relpath, false, err);
}

int hw_store_make_folder(const struct hw_store *st, const char *relpath, struct hw_error *err)
{
	return walk_path(st, relpath, true, err);
}

/* ---- folders ---- */

void hw_folder_list_init(struct hw_folder_list *fl)
{
	memset(fl, 0, sizeof(*fl));
}

void hw_folder_release(struct hw_folder *f)
{
	free(f->relpath);
	free(f->domain);
	free(f->mailbox);
	free(f->imapname);
	memset(f, 0, sizeof(*f));
}

void hw_folder_list_release(struct hw_folder_list *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		hw_folder_release(&fl->v[i]);
	free(fl->v);
	hw_folder_list_init(fl);
}

char *hw_folder_imapname(const char *relpath)
{
	const char *p = strchr(relpath, '/');
	struct hw_buf b;

	if (p == NULL || (p = strchr(p + 1, '/')) == NULL)
		return hw_strdup("INBOX");
	hw_buf_init(&b);
	p++;
	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len > 5 && strncasecmp(p + len - 5, ".IMAP", 5) == 0)
			len -= 5;
		if (b.len > 0)
			hw_buf_addc(&b, '/');
		hw_buf_add(&b, p, len);
		if (e == NULL)
			break;
		p = e + 1;
	}
	if (b.len == 0)   /* "DOMAIN/MAILBOX/" */
		hw_buf_adds(&b, "INBOX");
	return hw_buf_detach(&b, NULL);
}

char *hw_folder_mailbox_root(const char *relpath)
{
	const char *p = strchr(relpath, '/');

	if (p == NULL)
		return hw_strdup(relpath);
	p = strchr(p + 1, '/');
	return p == NULL ? hw_strdup(relpath) : hw_strndup(relpath, (size_t)(p - relpath));
}

void hw_folder_fill(struct hw_folder *f, const char *arg)
{
	size_t len = strlen(arg);
	const char *relpath, *s1;

	memset(f, 0, sizeof(*f));
	while (len > 0 && arg[len - 1] == '/')
		len--;
	f->relpath = hw_strndup(arg, len);
	/* parse the stripped copy: a trailing '/' is not one more level */
	relpath = f->relpath;
	s1 = strchr(relpath, '/');
	f->domain = s1 != NULL ? hw_strndup(relpath, (size_t)(s1 - relpath)) : hw_strdup(relpath);
	if (s1 != NULL) {
		const char *s2 = strchr(s1 + 1, '/');
		f->mailbox = s2 != NULL ? hw_strndup(s1 + 1, (size_t)(s2 - s1 - 1))
					: hw_strndup(s1 + 1, len - (size_t)(s1 + 1 - relpath));
		for (const char *p = s2; p != NULL; p = strchr(p + 1, '/'))
			f->depth++;
	} else {
		f->mailbox = hw_strdup("");
	}
	f->imapname = hw_folder_imapname(f->relpath);
}

static void folder_add(struct hw_folder_list *fl, const char *relpath)
{
	HW_GROW(fl->v, fl->cap, fl->n + 1);
	hw_folder_fill(&fl->v[fl->n++], relpath);
}

/* subdirectory names of dirfd, sorted; problems reported and counted; what
   was seen of the directory itself into *seen (may be NULL) */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Subdirectory names of dirfd, sorted; problems reported and counted; what
   was seen of the directory itself into *seen (may be NULL). One readdir
   pass that keeps only directories: a folder of 100,000 messages costs one
   getdents sweep, no stat, no copy or sort of the file names. */
static char **subdirs(const struct hw_store *st, int dirfd, const char *dirpath,
		      bool imap_only, size_t *n_r, unsigned *problems, struct hw_folder *seen)
{
	const char *shown_dir = dirpath != NULL && *dirpath ? dirpath : ".";
	const char *lockname = hw_folder_lock_name();
	struct stat dst;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0, entries = 0;
	int fd = dup(dirfd);
	DIR *dir;

	*n_r = 0;
	if (fd < 0 || fstat(fd, &dst) < 0 || (dir = fdopendir(fd)) == NULL) {
		hw_diag_error("opendir(%s) failed: %s", shown_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		(*problems)++;
		return NULL;
	}
	rewinddir(dir);
	for (;;) {
		struct stat est;
		unsigned char t;
		char *shown;
		errno = 0;
		de = readdir(dir);
		if (de == NULL) {
			if (errno != 0) {
				hw_diag_error("readdir(%s) failed: %s", shown_dir, strerror(errno));
				(*problems)++;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!hw_atomic_is_temp(de->d_name) && strcasecmp(de->d_name, lockname) != 0)
			entries++;
		t = de->d_type;
		if (t == DT_UNKNOWN) {
			if (fstatat(dirfd, de->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			t = S_ISDIR(est.st_mode) ? DT_DIR : S_ISLNK(est.st_mode) ? DT_LNK : DT_REG;
		}
		if (t == DT_LNK) {
			shown = hw_path_join(dirpath, de->d_name);
			hw_diag_warn("%s is a symlink: not followed", shown);
			free(shown);
			(*problems)++;
			continue;
		}
		if (t != DT_DIR || (imap_only && !ends_imap(de->d_name)))
			continue;
		if (fstatat(dirfd, de->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(est.st_mode))
			continue;   /* gone or replaced meanwhile */
		if (est.st_dev != st->dev) {
			shown = hw_path_join(dirpath, de->d_name);
			hw_diag_warn("%s is a mount point: not crossed", shown);
			free(shown);
			(*problems)++;
			continue;
		}
		HW_GROW(v, cap, n + 1);
		v[n++] = hw_strdup(de->d_name);
	}
	closedir(dir);
	if (seen != NULL) {
		seen->listed = true;
		seen->dir_mtime_ns = HW_TS_NS(dst.st_mtim);
		seen->dir_ino = (int64_t)dst.st_ino;
		seen->dir_entries = entries;
	}
	hw_sort(v, n, sizeof(*v), cmp_str);
	*n_r = n;
	return v;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* add relpath and its *.IMAP descendants; dirfd is relpath's fd (consumed) */
static void walk_folder(const struct hw_store *st, int dirfd, const char *relpath,
			struct hw_folder_list *fl, unsigned *problems, int depth)
{
	size_t n;
	char **names;

	size_t me;

	folder_add(fl, relpath);
	me = fl->n - 1;
	if (depth > 64) {
		hw_diag_warn("%s: folders nested more than 64 deep: not descended", relpath);
		(*problems)++;
		close(dirfd);
		return;
	}
	{
		struct hw_folder seen = { 0 };
		names = subdirs(st, dirfd, relpath, true, &n, problems, &seen);
		fl->v[me].listed = seen.listed;
		fl->v[me].dir_mtime_ns = seen.dir_mtime_ns;
		fl->v[me].dir_ino = seen.dir_ino;
		fl->v[me].dir_entries = seen.dir_entries;
	}
	for (size_t i = 0; i < n; i++) {
		char *sub = hw_path_join(relpath, names[i]);
		struct hw_error err;
		int fd = open_component(st, dirfd, names[i], sub, &err);
		if (fd < 0) {
			hw_diag_error("%s", err.msg);
			(*problems)++;
		} else {
			walk_folder(st, fd, sub, fl, problems, depth + 1);
		}
		free(sub);
	}
	free_names(names, n);
	close(dirfd);
}

static int cmp_folder(const void *a, const void *b)
{
	return strcmp(((const struct hw_folder *)a)->relpath, ((const struct hw_folder *)b)->relpath);
}

struct mbox_walk {
	const struct hw_store *st;
	char **rel;                     /* "DOMAIN/MAILBOX" */
	size_t n, cap;
	struct hw_folder_list *out;     /* one list per mailbox */
	unsigned *problems;
};

static void mbox_walk_one(void *arg, size_t i, int worker)
{
	struct mbox_walk *mw = arg;
	const char *slash = strchr(mw->rel[i], '/');
	struct hw_error e2;
	char *domain = hw_strndup(mw->rel[i], (size_t)(slash - mw->rel[i]));
	int dfd = open_component(mw->st, mw->st->fd, domain, domain, &e2), mfd;

	(void)worker;
	if (dfd >= 0) {
		mfd = open_component(mw->st, dfd, slash + 1, mw->rel[i], &e2);
		close(dfd);
		if (mfd >= 0) {
			walk_folder(mw->st, mfd, mw->rel[i], &mw->out[i], &mw->problems[i], 0);
			free(domain);
			return;
		}
	}
	hw_diag_error("%s", e2.msg);
	mw->problems[i]++;
	free(domain);
}

int hw_store_folders(const struct hw_store *st, char *const *args, size_t nargs,
		     struct hw_folder_list *fl, unsigned *problems_r, struct hw_error *err)
{
	unsigned problems = 0;

	if (nargs == 0) {
		/* domains and mailboxes first (small), then the mailboxes are
		   walked in parallel: listing directories is most of a no-op run */
		struct mbox_walk mw = { .st = st };
		size_t nd;
		char **domains = subdirs(st, st->fd, "", false, &nd, &problems, NULL);
		if (domains == NULL && problems > 0)
			return hw_error_set(err, EIO, "cannot read the store %s", st->path);
		for (size_t i = 0; i < nd; i++) {
			struct hw_error e2;
			int dfd = open_component(st, st->fd, domains[i], domains[i], &e2);
			size_t nm;
			char **boxes;
			if (dfd < 0) {
				hw_diag_error("%s", e2.msg);
				problems++;
				continue;
			}
			boxes = subdirs(st, dfd, domains[i], false, &nm, &problems, NULL);
			for (size_t j = 0; j < nm; j++) {
				HW_GROW(mw.rel, mw.cap, mw.n + 1);
				mw.rel[mw.n++] = hw_path_join(domains[i], boxes[j]);
			}
			free_names(boxes, nm);
			close(dfd);
		}
		free_names(domains, nd);
		mw.out = hw_calloc(mw.n ? mw.n : 1, sizeof(*mw.out));
		mw.problems = hw_calloc(mw.n ? mw.n : 1, sizeof(*mw.problems));
		hw_pool_run(0, mw.n, mbox_walk_one, &mw, NULL);
		for (size_t i = 0; i < mw.n; i++) {
			for (size_t k = 0; k < mw.out[i].n; k++) {
				HW_GROW(fl->v, fl->cap, fl->n + 1);
				fl->v[fl->n++] = mw.out[i].v[k];
			}
			free(mw.out[i].v);
			problems += mw.problems[i];
			free(mw.rel[i]);
		}
		free(mw.out);
		free(mw.problems);
		free(mw.rel);
	} else {
		for (size_t i = 0; i < nargs; i++) {
			struct hw_error e2;
			size_t len = strlen(args[i]);
			char *rel;
			int fd;
			while (len > 0 && args[i][len - 1] == '/')
				len--;
			rel = hw_strndup(args[i], len);
			if (hw_folder_arg_check(rel, &e2) <= 0) {
				hw_diag_error("%s", e2.msg);
				problems++;
			} else if ((fd = walk_path(st, rel, false, &e2)) < 0) {
				hw_diag_error("%s", e2.msg);
				problems++;
			} else {
				walk_folder(st, fd, rel, fl, &problems, 0);
			}
			free(rel);
		}
		/* drop duplicates (a folder named twice, or below another named one) */
		if (fl->n > 1)
			hw_sort(fl->v, fl->n, sizeof(fl->v[0]), cmp_folder);
		{
			size_t w = 0;
			for (size_t r = 0; r < fl->n; r++) {
				if (w > 0 && strcmp(fl->v[w - 1].relpath, fl->v[r].relpath) == 0) {
					hw_folder_release(&fl->v[r]);
					continue;
				}
				fl->v[w++] = fl->v[r];
			}
			fl->n = w;
		}
	}
	if (fl->n > 1)
		hw_sort(fl->v, fl->n, sizeof(fl->v[0]), cmp_folder);
	if (problems_r != NULL)
		*problems_r = problems;
	return 1;
}

/* ---- directories ---- */

void hw_dir_init(struct hw_dir *d)
{
	memset(d, 0, sizeof(*d));
}

void hw_dir_release(struct hw_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	hw_dir_init(d);
}

static enum hw_entry_kind kind_of(const char *name, mode_t mode)
{
	struct hw_msgname m;

	if (S_ISLNK(mode))
		return HW_ENTRY_SYMLINK;
	if (S_ISDIR(mode))
		return ends_imap(name) ? HW_ENTRY_FOLDER : HW_ENTRY_DIR;
	if (!S_ISREG(mode))
		return HW_ENTRY_SPECIAL;
	if (hw_atomic_is_temp(name))
		return HW_ENTRY_TEMP;
	if (hw_msgname_parse(name, &m))
		return HW_ENTRY_MESSAGE;
	return HW_ENTRY_FILE;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct hw_entry *)a)->name, ((const struct hw_entry *)b)->name);
}

static mode_t dtype_mode(unsigned char t)
{
	switch (t) {
	case DT_REG: return S_IFREG;
	case DT_DIR: return S_IFDIR;
	case DT_LNK: return S_IFLNK;
	case DT_FIFO: return S_IFIFO;
	case DT_SOCK: return S_IFSOCK;
	case DT_CHR: return S_IFCHR;
	case DT_BLK: return S_IFBLK;
	default: return 0;
	}
}

int hw_dir_read(int dirfd, const char *dirpath, bool stat_entries,
		struct hw_dir *d, struct hw_error *err)
{
	int fd = dup(dirfd);
	DIR *dir;
	struct dirent *de;
	const char *shown = dirpath != NULL && *dirpath ? dirpath : ".";

	hw_dir_release(d);
	if (fd < 0)
		return hw_error_sys(err, "dup", shown);
	if (fstat(fd, &d->st) < 0) {
		close(fd);
		return hw_error_sys(err, "fstat", shown);
	}
	dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return hw_error_sys(err, "opendir", shown);
	}
	rewinddir(dir);
	for (;;) {
		struct hw_entry *e;
		errno = 0;
		de = readdir(dir);
		if (de == NULL) {
			if (errno != 0) {
				hw_error_sys(err, "readdir", shown);
				closedir(dir);
				hw_dir_release(d);
				return -1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		HW_GROW(d->v, d->cap, d->n + 1);
		e = &d->v[d->n];
		memset(e, 0, sizeof(*e));
		if (stat_entries || de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd, de->d_name, &e->st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;   /* removed meanwhile */
				char *p = hw_path_join(dirpath, de->d_name);
				hw_error_sys(err, "stat", p);
				free(p);
				closedir(dir);
				hw_dir_release(d);
				return -1;
			}
		} else {
			e->st.st_mode = dtype_mode(de->d_type);
			e->st.st_ino = de->d_ino;
		}
		e->name = hw_strdup(de->d_name);
		e->kind = kind_of(e->name, e->st.st_mode);
		if (e->kind == HW_ENTRY_MESSAGE)
			d->nmessages++;
		d->n++;
	}
	closedir(dir);
	if (d->n > 1)   /* an empty listing has v == NULL: not for qsort */
		hw_sort(d->v, d->n, sizeof(d->v[0]), cmp_entry);
	return 1;
}

size_t hw_dir_stamp_entries(const struct hw_dir *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].kind != HW_ENTRY_TEMP &&
		    strcasecmp(d->v[i].name, hw_folder_lock_name()) != 0)
			n++;
	return n;
}

const struct hw_entry *hw_dir_find(const struct hw_dir *d, const char *name)
{
	struct hw_entry key = { .name = (char *)name };

	if (d->n == 0)
		return NULL;
	return d->n == 0 ? NULL : bsearch(&key, d->v, d->n, sizeof(d->v[0]), cmp_entry);
}

int hw_open_regular(int dirfd, const char *name, const char *display_path,
		    struct stat *st_r, struct hw_error *err)
{
	struct stat sb, pre;
	int fd;

	/* look before opening: opening a device or FIFO can have effects */
	if (fstatat(dirfd, name, &pre, AT_SYMLINK_NOFOLLOW) < 0)
		return hw_error_sys(err, "stat", display_path);
	if (S_ISLNK(pre.st_mode))
		return hw_error_set(err, ELOOP, "%s is a symlink: not followed", display_path);
	if (!S_ISREG(pre.st_mode))
		return hw_error_set(err, EINVAL, "%s is not a regular file: not read", display_path);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return hw_error_set(err, ELOOP, "%s is a symlink: not followed", display_path);
		return hw_error_sys(err, "open", display_path);
	}
	if (fstat(fd, &sb) < 0) {
		hw_error_sys(err, "fstat", display_path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_ino != pre.st_ino || sb.st_dev != pre.st_dev) {
		close(fd);
		return hw_error_set(err, EINVAL, "%s is not a regular file (or was replaced "
				    "while opened): not read", display_path);
	}
	/* back to blocking reads */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (st_r != NULL)
		*st_r = sb;
	return fd;
}
