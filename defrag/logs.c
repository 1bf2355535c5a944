/* logs.c - compress, expire and rotate log files (see defrag.h).
 *
 * Compressed files are the raw output of libarchive's zstd or gzip write
 * filter (format "raw", one entry, no padding), so "zstd -d" and "gunzip"
 * read them like files their own tools wrote.
 *
 * Crash safety of a compression: the output is a core/atomic.h temp until it
 * has been decompressed and found equal (XXH3-128 and size) to the original;
 * it is renamed into place and the directory fsynced before the original is
 * removed. A kill before the rename leaves the original and a stale temp
 * (removed by the next run), after it both files (the next run verifies the
 * pair again and removes the original). Never neither.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
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

#define LOG_BUF (1u << 20)

const char *logs_action_name(enum logs_action a)
{
	switch (a) {
	case LOGS_COMPRESS: return "compress";
	case LOGS_FINISH: return "finish";
	case LOGS_DELETE_AGE: return "delete (age)";
	case LOGS_DELETE_TOTAL: return "delete (total size)";
	case LOGS_KEEP_TODAY: return "keep (today)";
	case LOGS_MISMATCH: return "mismatch";
	case LOGS_ROTATE: return "rotate";
	case LOGS_ERROR: return "error";
	}
	return "?";
}

static const char *ext_of(enum logs_compress c)
{
	return c == LOGS_GZIP ? ".gz" : ".zst";
}

/* days since 1970 of a civil date (Howard Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int64_t local_day(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return t / 86400;
	return days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

int64_t logs_today(int64_t now)
{
	return local_day(now);
}

int64_t logs_file_day(const char *name, int64_t mtime)
{
	/* the first YYYY-MM-DD (or YYYYMMDD after a '-' or '_') in the name */
	for (const char *p = name; *p != '\0'; p++) {
		unsigned y, m, d;
		int len = 0;
		if (p != name && p[-1] >= '0' && p[-1] <= '9')
			continue;
		if (sscanf(p, "%4u-%2u-%2u%n", &y, &m, &d, &len) == 3 && len == 10 &&
		    y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= 31)
			return days_from_civil(y, m, d);
	}
	return local_day(mtime);
}

/* ---- compression ---- */

struct sink {
	int fd;
	const char *shown;
	uint64_t written;
	int errnum;
};

static la_ssize_t sink_write(struct archive *ar, void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;

	if (hw_io_write_all(s->fd, buf, len) < 0) {
		s->errnum = errno;
		archive_set_error(ar, errno, "write(%s) failed: %s", s->shown, strerror(errno));
		return -1;
	}
	s->written += len;
	return (la_ssize_t)len;
}

static int hash_archive(struct archive *ar, uint8_t hash_r[16], uint64_t *size_r)
{
	struct archive_entry *ae;
	XXH3_state_t *xs = XXH3_createState();
	char *buf = hw_malloc(LOG_BUF);
	uint64_t total = 0;
	int ret = 1;

	if (xs == NULL)
		abort();
	XXH3_128bits_reset(xs);
	if (archive_read_next_header(ar, &ae) != ARCHIVE_OK) {
		ret = 0;
		goto out;
	}
	for (;;) {
		la_ssize_t n = archive_read_data(ar, buf, LOG_BUF);
		if (n < 0) {
			ret = 0;
			break;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(xs, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (ret > 0) {
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
		memcpy(hash_r, c.digest, 16);
		*size_r = total;
	}
out:
	XXH3_freeState(xs);
	free(buf);
	return ret;
}

static int hash_compressed_fd(int fd, uint8_t hash_r[16], uint64_t *size_r, char *why,
			      size_t whysz)
{
	struct archive *ar = archive_read_new();
	int ret;

	archive_read_support_filter_all(ar);
	archive_read_support_format_raw(ar);
	if (archive_read_open_fd(ar, fd, 1 << 16) != ARCHIVE_OK) {
		snprintf(why, whysz, "%s", archive_error_string(ar));
		archive_read_free(ar);
		return 0;
	}
	/* a plain file reads as "raw" too: insist on a decompression filter */
	if (archive_filter_count(ar) < 2) {
		snprintf(why, whysz, "not compressed");
		archive_read_free(ar);
		return 0;
	}
	ret = hash_archive(ar, hash_r, size_r);
	if (ret == 0)
		snprintf(why, whysz, "%s", archive_error_string(ar) != NULL ?
			 archive_error_string(ar) : "truncated or corrupt");
	archive_read_free(ar);
	return ret;
}

int logs_hash_compressed(int dirfd, const char *dirpath, const char *name,
			 uint8_t hash_r[16], uint64_t *size_r, struct hw_error *err)
{
	char *shown = hw_path_join(dirpath, name);
	char why[256] = "";
	int fd = hw_open_regular(dirfd, name, shown, NULL, err);
	int r;

	if (fd < 0) {
		free(shown);
		return -1;
	}
	r = hash_compressed_fd(fd, hash_r, size_r, why, sizeof(why));
	if (r == 0)
		hw_error_set(err, EINVAL, "%s does not decompress: %s", shown, why);
	close(fd);
	free(shown);
	return r;
}

static bool same_file_version(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       HW_TS_NS(a->st_mtim) == HW_TS_NS(b->st_mtim);
}

int logs_compress_file(int dirfd, const char *dirpath, const char *name,
		       const struct logs_opts *o, uint64_t *out_size_r, struct hw_error *err)
{
	char *shown = hw_path_join(dirpath, name);
	char *outname = hw_asprintf("%s%s", name, ext_of(o->compress));
	char *tshown = NULL;
	struct archive *ar = NULL;
	struct archive_entry *ae = NULL;
	struct hw_atomic a = { .done = true, .fd = -1 };
	struct sink sink = { .fd = -1 };
	struct stat st, now_st, name_st;
	XXH3_state_t *xs = XXH3_createState();
	char *buf = hw_malloc(LOG_BUF);
	uint8_t want[16], got[16];
	uint64_t off = 0, got_size = 0;
	char why[256] = "";
	int fd = -1, vfd = -1, ret = -1;

	if (xs == NULL)
		abort();
	fd = hw_open_regular(dirfd, name, shown, &st, err);
	if (fd < 0)
		goto out;
	if (hw_atomic_begin(&a, dirfd, dirpath, outname, st.st_mode & 0777, err) < 0)
		goto out;
	tshown = hw_path_join(dirpath, a.tmpname);
	/* room for the whole output in one piece; the unused tail is cut off
	   below. Logs compress 5 to 20 times: a third is plenty. */
	if (hw_os_preallocate(a.fd, tshown, st.st_size / 3 + 4096, true, err) < 0)
		goto out;
	sink.fd = a.fd;
	sink.shown = tshown;
	ar = archive_write_new();
	if (archive_write_set_format_raw(ar) != ARCHIVE_OK ||
	    (o->compress == LOGS_GZIP ? archive_write_add_filter_gzip(ar)
				      : archive_write_add_filter_zstd(ar)) != ARCHIVE_OK) {
		hw_error_set(err, EINVAL, "libarchive: %s", archive_error_string(ar));
		goto out;
	}
	if (o->level > 0) {
		char lv[16];
		snprintf(lv, sizeof(lv), "%d", o->level);
		if (archive_write_set_filter_option(ar, NULL, "compression-level", lv) != ARCHIVE_OK) {
			hw_error_set(err, EINVAL, "libarchive: compression level %d: %s", o->level,
				     archive_error_string(ar));
			goto out;
		}
	}
	if (o->compress == LOGS_ZSTD) {
		/* zstd's own worker threads, as the zstd tool may use; an older
		   libarchive without the option compresses on one */
		char th[16];
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(th, sizeof(th), "%ld", n > 1 ? n : 1);
		(void)archive_write_set_filter_option(ar, "zstd", "threads", th);
	}
	/* no zero padding after the stream: the file is exactly the filter's
	   output, which zstd -d and gunzip expect */
	archive_write_set_bytes_per_block(ar, 1 << 20);
	archive_write_set_bytes_in_last_block(ar, 1);
	if (archive_write_open2(ar, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
		goto arfail;
	ae = archive_entry_new();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, st.st_mode & 0777);
	archive_entry_set_size(ae, st.st_size);
	if (archive_write_header(ar, ae) != ARCHIVE_OK)
		goto arfail;
	XXH3_128bits_reset(xs);
	for (;;) {
		ssize_t n = pread(fd, buf, LOG_BUF, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hw_error_sys(err, "read", shown);
			goto out;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(xs, buf, (size_t)n);
		if (archive_write_data(ar, buf, (size_t)n) != n)
			goto arfail;
		off += (uint64_t)n;
	}
	if (archive_write_close(ar) != ARCHIVE_OK)
		goto arfail;
	{
		XXH128_canonical_t c;
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
		memcpy(want, c.digest, 16);
	}
	if (hw_io_ftruncate(a.fd, (off_t)sink.written) < 0) {
		hw_error_sys(err, "ftruncate", tshown);
		goto out;
	}
	if (hw_io_fsync(a.fd) < 0) {
		hw_error_sys(err, "fsync", tshown);
		goto out;
	}
	/* verify from the disk: decompress what was written */
	vfd = openat(dirfd, a.tmpname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (vfd < 0) {
		hw_error_sys(err, "open", tshown);
		goto out;
	}
	hw_os_evict(vfd);
	if (hash_compressed_fd(vfd, got, &got_size, why, sizeof(why)) <= 0 ||
	    got_size != off || memcmp(got, want, 16) != 0) {
		hw_error_set(err, EIO, "%s: the compressed copy does not decompress to the "
			     "original%s%s: original kept", shown, why[0] ? ": " : "", why);
		goto out;
	}
	{
		/* the copy carries the original's times, as gzip does */
		struct timespec times[2] = { st.st_atim, st.st_mtim };
		if (hw_atomic_set_times(&a, times, err) < 0)
			goto out;
	}
	if (o->before_commit != NULL)
		o->before_commit(o->hook_ctx, name);
	/* still the file we compressed? (an old log should not grow) */
	if (fstat(fd, &now_st) < 0 || fstatat(dirfd, name, &name_st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !same_file_version(&st, &now_st) || !same_file_version(&st, &name_st)) {
		hw_error_set(err, EAGAIN, "%s changed while it was compressed: left as it is",
			     shown);
		goto out;
	}
	if (hw_atomic_commit(&a, err) < 0)
		goto out;
	if (hw_io_unlinkat(dirfd, name, 0) < 0) {
		hw_error_sys(err, "unlink", shown);
		goto out;
	}
	if (hw_fsync_dir(dirfd, dirpath, err) < 0)
		goto out;
	if (out_size_r != NULL)
		*out_size_r = sink.written;
	ret = 1;
	goto out;
arfail:
	if (sink.errnum != 0)
		hw_error_set(err, sink.errnum, "%s", archive_error_string(ar));
	else
		hw_error_set(err, EIO, "libarchive(%s): %s", tshown != NULL ? tshown : shown,
			     archive_error_string(ar) != NULL ? archive_error_string(ar) : "failed");
out:
	if (ae != NULL)
		archive_entry_free(ae);
	if (ar != NULL)
		archive_write_free(ar);
	if (vfd >= 0)
		close(vfd);
	hw_atomic_abort(&a);
	if (fd >= 0)
		close(fd);
	XXH3_freeState(xs);
	free(buf);
	free(tshown);
	free(outname);
	free(shown);
	return ret;
}

/* ---- one directory ---- */

enum log_kind { LOG_PLAIN, LOG_ZST, LOG_GZ };

struct logfile {
	char *name;
	enum log_kind kind;
	uint64_t size;
	int64_t day;
	bool today;
	bool hold;          /* a mismatching pair: left alone this run */
	bool gone;
};

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && strcasecmp(s + ls - lx, suffix) == 0;
}

static int cmp_age(const void *a, const void *b)
{
	const struct logfile *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void report(const struct logs_opts *o, const char *name, enum logs_action act,
		   const char *why, uint64_t before, uint64_t after)
{
	if (o->report != NULL)
		o->report(o->report_ctx, name, act, why, before, after);
}

static struct logfile *find_log(struct logfile *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!v[i].gone && strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static bool remove_log(int dirfd, const char *dir, struct logfile *lf, struct logs_stats *s)
{
	if (hw_io_unlinkat(dirfd, lf->name, 0) < 0 && errno != ENOENT) {
		char *shown = hw_path_join(dir, lf->name);
		hw_diag_error("unlink(%s) failed: %s", shown, strerror(errno));
		free(shown);
		s->errors++;
		return false;
	}
	lf->gone = true;
	return true;
}

/* a previous run renamed NAME.ext into place but was stopped before it
   removed NAME: verify the pair and finish */
static void finish_pairs(int dirfd, const char *dir, struct logfile *v, size_t n,
			 const struct logs_opts *o, struct logs_stats *s)
{
	for (size_t i = 0; i < n; i++) {
		struct logfile *plain = &v[i], *comp = NULL;
		struct hw_error err;
		struct hw_hash hp;
		uint8_t hc[16];
		uint64_t sp = 0, sc = 0;
		char *cname;
		int fd, r;

		if (plain->gone || plain->kind != LOG_PLAIN)
			continue;
		for (int k = 0; k < 2 && comp == NULL; k++) {
			cname = hw_asprintf("%s%s", plain->name, k == 0 ? ".zst" : ".gz");
			comp = find_log(v, n, cname);
			free(cname);
		}
		if (comp == NULL)
			continue;
		hw_error_clear(&err);
		r = logs_hash_compressed(dirfd, dir, comp->name, hc, &sc, &err);
		if (r > 0) {
			char *shown = hw_path_join(dir, plain->name);
			fd = hw_open_regular(dirfd, plain->name, shown, NULL, &err);
			free(shown);
			r = fd < 0 ? -1 : hw_hash_fd(fd, plain->name, &hp, &sp, &err);
			if (fd >= 0)
				close(fd);
		}
		if (r > 0 && sp == sc && memcmp(hp.b, hc, 16) == 0) {
			if (!o->dry_run && !remove_log(dirfd, dir, plain, s))
				continue;
			if (o->dry_run)
				plain->gone = true;
			s->finished++;
			report(o, plain->name, LOGS_FINISH, "verified compressed copy exists",
			       plain->size, comp->size);
			continue;
		}
		s->mismatches++;
		hw_diag_warn("%s/%s and %s differ: both kept%s%s", dir, plain->name, comp->name,
			     err.msg[0] ? ": " : "", err.msg);
		report(o, plain->name, LOGS_MISMATCH, err.msg[0] ? err.msg : "content differs",
		       plain->size, comp->size);
		/* neither is touched again in this run */
		plain->hold = comp->hold = true;
	}
}

int logs_run(const char *dir, const struct logs_opts *o, struct logs_stats *s,
	     struct hw_error *err)
{
	struct hw_dir d;
	struct logfile *v = NULL;
	size_t n = 0, cap = 0;
	int64_t now = o->now > 0 ? o->now : (int64_t)time(NULL);
	int64_t today = logs_today(now);
	uint64_t total = 0;
	bool changed = false;
	int dirfd;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return hw_error_sys(err, "open", dir);
	if (!o->dry_run) {
		int r = hw_atomic_cleanup(dirfd, dir, err);
		if (r < 0) {
			close(dirfd);
			return -1;
		}
	}
	hw_dir_init(&d);
	if (hw_dir_read(dirfd, dir, true, &d, err) < 0) {
		close(dirfd);
		return -1;
	}
	for (size_t i = 0; i < d.n; i++) {
		const struct hw_entry *e = &d.v[i];
		struct logfile *lf;
		enum log_kind kind;

		if (e->kind != HW_ENTRY_FILE && e->kind != HW_ENTRY_MESSAGE)
			continue;
		if (ends_with_ci(e->name, ".log"))
			kind = LOG_PLAIN;
		else if (ends_with_ci(e->name, ".log.zst"))
			kind = LOG_ZST;
		else if (ends_with_ci(e->name, ".log.gz"))
			kind = LOG_GZ;
		else
			continue;
		HW_GROW(v, cap, n + 1);
		lf = &v[n++];
		memset(lf, 0, sizeof(*lf));
		lf->name = hw_strdup(e->name);
		lf->kind = kind;
		lf->size = (uint64_t)e->st.st_size;
		lf->day = logs_file_day(e->name, e->st.st_mtim.tv_sec);
		/* today's by its name or by a write today: never touched */
		lf->today = lf->day >= today || local_day(e->st.st_mtim.tv_sec) >= today;
		s->files++;
	}
	hw_sort(v, n, sizeof(*v), cmp_age);
	finish_pairs(dirfd, dir, v, n, o, s);

	for (size_t i = 0; i < n; i++) {
		struct logfile *lf = &v[i];
		int64_t age = today - lf->day;
		char why[96];
		if (lf->gone || lf->hold)
			continue;
		if (lf->today) {
			s->kept_today++;
			continue;
		}
		if (o->max_age >= 0 && age > o->max_age) {
			snprintf(why, sizeof(why), "%lld days old, more than %d",
				 (long long)age, o->max_age);
			if (!o->dry_run && !remove_log(dirfd, dir, lf, s))
				continue;
			lf->gone = true;
			changed = true;
			s->deleted++;
			s->bytes_deleted += lf->size;
			report(o, lf->name, LOGS_DELETE_AGE, why, lf->size, 0);
			continue;
		}
		if (lf->kind == LOG_PLAIN && age > o->keep_days) {
			struct hw_error ferr;
			uint64_t out_size = 0;
			snprintf(why, sizeof(why), "%lld days old, more than %d",
				 (long long)age, o->keep_days);
			if (o->dry_run) {
				report(o, lf->name, LOGS_COMPRESS, why, lf->size, 0);
				s->compressed++;
				s->bytes_in += lf->size;
				continue;
			}
			hw_error_clear(&ferr);
			if (logs_compress_file(dirfd, dir, lf->name, o, &out_size, &ferr) < 0) {
				hw_diag_error("%s", ferr.msg);
				s->errors++;
				report(o, lf->name, LOGS_ERROR, ferr.msg, lf->size, 0);
				continue;
			}
			s->compressed++;
			s->bytes_in += lf->size;
			s->bytes_out += out_size;
			report(o, lf->name, LOGS_COMPRESS, why, lf->size, out_size);
			{
				/* the entry now stands for the compressed file */
				char *nn = hw_asprintf("%s%s", lf->name, ext_of(o->compress));
				free(lf->name);
				lf->name = nn;
				lf->kind = o->compress == LOGS_GZIP ? LOG_GZ : LOG_ZST;
				lf->size = out_size;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!v[i].gone)
			total += v[i].size;
	if (o->max_total > 0) {
		/* oldest first; today's files count but are never removed */
		for (size_t i = 0; i < n && total > o->max_total; i++) {
			struct logfile *lf = &v[i];
			char why[96];
			if (lf->gone || lf->today || lf->hold)
				continue;
			snprintf(why, sizeof(why), "logs total more than %llu bytes",
				 (unsigned long long)o->max_total);
			if (!o->dry_run && !remove_log(dirfd, dir, lf, s))
				continue;
			lf->gone = true;
			changed = true;
			total -= lf->size;
			s->deleted++;
			s->bytes_deleted += lf->size;
			report(o, lf->name, LOGS_DELETE_TOTAL, why, lf->size, 0);
		}
	}
	s->total_after = total;
	if (changed && !o->dry_run) {
		struct hw_error ferr;
		if (hw_fsync_dir(dirfd, dir, &ferr) < 0) {
			hw_diag_error("%s", ferr.msg);
			s->errors++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	hw_dir_release(&d);
	close(dirfd);
	return 1;
}

/* ---- size-triggered rotation of a generic log ---- */

static int rename_if_exists(int dirfd, const char *from, const char *to, const char *dir,
			    struct hw_error *err)
{
	if (hw_io_renameat(dirfd, from, dirfd, to) < 0 && errno != ENOENT) {
		char *shown = hw_path_join(dir, from);
		hw_error_sys(err, "rename", shown);
		free(shown);
		return -1;
	}
	return 1;
}

int logs_rotate(const char *path, uint64_t min_size, int keep, bool dry_run,
		struct hw_error *err)
{
	static const char *const exts[] = { "", ".zst", ".gz" };
	char *dir, *base;
	const char *slash = strrchr(path, '/');
	struct stat st;
	int dirfd = -1, fd, ret = -1;

	if (keep < 1)
		keep = 1;
	if (slash != NULL) {
		dir = hw_strndup(path, slash == path ? 1 : (size_t)(slash - path));
		base = hw_strdup(slash + 1);
	} else {
		dir = hw_strdup(".");
		base = hw_strdup(path);
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		hw_error_sys(err, "open", dir);
		goto out;
	}
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		hw_error_sys(err, "stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		hw_error_set(err, EINVAL, "%s is not a regular file: not rotated", path);
		goto out;
	}
	if ((uint64_t)st.st_size < min_size) {
		ret = 0;
		goto out;
	}
	if (dry_run) {
		ret = 1;
		goto out;
	}
	/* shift PATH.N -> PATH.N+1 from the oldest down; the oldest kept goes */
	for (int i = keep; i >= 1; i--) {
		for (size_t k = 0; k < sizeof(exts) / sizeof(exts[0]); k++) {
			char *from = hw_asprintf("%s.%d%s", base, i, exts[k]);
			char *to = hw_asprintf("%s.%d%s", base, i + 1, exts[k]);
			int r = 1;
			if (i == keep) {
				if (hw_io_unlinkat(dirfd, from, 0) < 0 && errno != ENOENT) {
					char *shown = hw_path_join(dir, from);
					r = hw_error_sys(err, "unlink", shown);
					free(shown);
				}
			} else {
				r = rename_if_exists(dirfd, from, to, dir, err);
			}
			free(from);
			free(to);
			if (r < 0)
				goto out;
		}
	}
	{
		char *to = hw_asprintf("%s.1", base);
		int r = hw_io_renameat(dirfd, base, dirfd, to);
		if (r < 0) {
			hw_error_sys(err, "rename", path);
			free(to);
			goto out;
		}
		free(to);
	}
	/* the new, empty log; the writer may have made it already */
	fd = hw_io_openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  st.st_mode & 0777);
	if (fd < 0 && errno != EEXIST) {
		hw_error_sys(err, "open", path);
		goto out;
	}
	if (fd >= 0) {
		if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) {
			hw_error_sys(err, "fchown", path);
			close(fd);
			goto out;
		}
		(void)fchmod(fd, st.st_mode & 07777);
		close(fd);
	}
	if (hw_fsync_dir(dirfd, dir, err) < 0)
		goto out;
	ret = 1;
out:
	if (dirfd >= 0)
		close(dirfd);
	free(dir);
	free(base);
	return ret;
}
