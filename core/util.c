/* util.c - allocation, buffers, paths, time, sizes (see util.h) */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "error.h"
#include "util.h"

static void oom(size_t n)
{
	fprintf(stderr, "hiwater: out of memory allocating %zu bytes\n", n);
	abort();
}

void *hw_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *hw_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *hw_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

char *hw_strdup(const char *s)
{
	return hw_strndup(s, strlen(s));
}

char *hw_strndup(const char *s, size_t n)
{
	char *p = hw_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *hw_asprintf(const char *fmt, ...)
{
	struct hw_buf b;
	va_list ap;

	hw_buf_init(&b);
	va_start(ap, fmt);
	hw_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return hw_buf_detach(&b, NULL);
}

void hw_grow(void **v, size_t *cap, size_t need, size_t sz)
{
	size_t ncap;

	if (need <= *cap)
		return;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	*v = hw_realloc(*v, ncap * sz);
	*cap = ncap;
}

size_t hw_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void hw_buf_init(struct hw_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void hw_buf_release(struct hw_buf *b)
{
	free(b->data);
	hw_buf_init(b);
}

void hw_buf_reset(struct hw_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void hw_buf_add(struct hw_buf *b, const void *p, size_t n)
{
	HW_GROW(b->data, b->cap, b->len + n + 1);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void hw_buf_adds(struct hw_buf *b, const char *s)
{
	hw_buf_add(b, s, strlen(s));
}

void hw_buf_addc(struct hw_buf *b, char c)
{
	hw_buf_add(b, &c, 1);
}

void hw_buf_vaddf(struct hw_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	HW_GROW(b->data, b->cap, b->len + 64);
	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		HW_GROW(b->data, b->cap, b->len + (size_t)n + 1);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void hw_buf_addf(struct hw_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hw_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

char *hw_buf_detach(struct hw_buf *b, size_t *len_r)
{
	char *p;

	if (b->data == NULL)
		hw_buf_add(b, "", 0);
	p = b->data;
	if (len_r != NULL)
		*len_r = b->len;
	hw_buf_init(b);
	return p;
}

char *hw_path_join(const char *a, const char *b)
{
	if (a == NULL || *a == '\0')
		return hw_strdup(b != NULL ? b : "");
	if (b == NULL || *b == '\0')
		return hw_strdup(a);
	return hw_asprintf("%s%s%s", a, a[strlen(a) - 1] == '/' ? "" : "/", b);
}

int64_t hw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return HW_TS_NS(ts);
}

double hw_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void hw_time_iso(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%" PRId64, t);
}

int hw_parse_size(const char *s, uint64_t *bytes_r)
{
	char *end;
	double v;
	uint64_t mult = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || v < 0)
		return 0;
	while (isspace((unsigned char)*end))
		end++;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'B': end--; break;
	case 'K': mult = 1ULL << 10; break;
	case 'M': mult = 1ULL << 20; break;
	case 'G': mult = 1ULL << 30; break;
	case 'T': mult = 1ULL << 40; break;
	default: return 0;
	}
	if (*end != '\0') {
		end++;
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end != '\0')
			return 0;
	}
	if (v * (double)mult > 1.8e19)
		return 0;
	*bytes_r = (uint64_t)(v * (double)mult + 0.5);
	return 1;
}

int hw_parse_duration(const char *s, int64_t *secs_r)
{
	char *end;
	long long v;
	int64_t mult;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0)
		return 0;
	switch (*end) {
	case '\0': case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	case 'y': mult = 365 * 86400; break;
	default: return 0;
	}
	if (*end != '\0' && end[1] != '\0')
		return 0;
	if (v > INT64_MAX / mult)
		return 0;
	*secs_r = (int64_t)v * mult;
	return 1;
}

void hw_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB", "PB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
}

int hw_read_file_at(int dirfd, const char *name, const char *display_path,
		    size_t max, char **data_r, size_t *len_r, struct hw_error *err)
{
	return hw_read_file_at_st(dirfd, name, display_path, max, data_r, len_r, NULL, err);
}

int hw_read_file_at_st(int dirfd, const char *name, const char *display_path, size_t max,
		       char **data_r, size_t *len_r, struct stat *st_r, struct hw_error *err)
{
	struct stat st;
	struct hw_buf b;
	char tmp[65536];
	int fd;

	*data_r = NULL;
	*len_r = 0;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return hw_error_sys(err, "open", display_path);
	}
	if (fstat(fd, &st) < 0) {
		hw_error_sys(err, "fstat", display_path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return hw_error_set(err, EINVAL, "%s: not a regular file", display_path);
	}
	if (st_r != NULL)
		*st_r = st;   /* taken before the read: a change during it shows */
	hw_buf_init(&b);
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hw_error_sys(err, "read", display_path);
			hw_buf_release(&b);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			hw_buf_release(&b);
			close(fd);
			return hw_error_set(err, EFBIG, "%s: larger than %zu bytes", display_path, max);
		}
		hw_buf_add(&b, tmp, (size_t)n);
	}
	close(fd);
	*data_r = hw_buf_detach(&b, len_r);
	return 1;
}
