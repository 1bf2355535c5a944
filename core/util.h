/*
 * util.h - small helpers: checked allocation, a growable string buffer,
 * path joining, time. Allocation failure aborts (there is no sane recovery
 * in a maintenance tool; the store is never left half-written by it because
 * every rewrite goes through core/atomic.h).
 */
#ifndef HW_UTIL_H
#define HW_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void *hw_malloc(size_t n);
void *hw_calloc(size_t nmemb, size_t size);
void *hw_realloc(void *p, size_t n);
char *hw_strdup(const char *s);
char *hw_strndup(const char *s, size_t n);
char *hw_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* grow *v (element size sz) so that it holds at least need elements */
void hw_grow(void **v, size_t *cap, size_t need, size_t sz);
#define HW_GROW(arr, cap, need) hw_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* qsort that accepts an empty (NULL) array, which qsort itself may not be
   given (UBSan: nonnull argument) */
static inline void hw_sort(void *base, size_t n, size_t size,
			   int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* copy with truncation, always NUL-terminated; returns strlen(src) */
size_t hw_strlcpy(char *dst, const char *src, size_t size);

struct hw_buf {
	char *data;  /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};
void hw_buf_init(struct hw_buf *b);
void hw_buf_release(struct hw_buf *b);
void hw_buf_reset(struct hw_buf *b);
void hw_buf_add(struct hw_buf *b, const void *p, size_t n);
void hw_buf_adds(struct hw_buf *b, const char *s);
void hw_buf_addc(struct hw_buf *b, char c);
void hw_buf_addf(struct hw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hw_buf_vaddf(struct hw_buf *b, const char *fmt, va_list ap);
/* take ownership of the data; b is reset */
char *hw_buf_detach(struct hw_buf *b, size_t *len_r);

/* "a" + "/" + "b", with "" or NULL parts skipped; malloc'd */
char *hw_path_join(const char *a, const char *b);

/* nanoseconds since the epoch from a struct timespec */
#define HW_TS_NS(ts) ((int64_t)(ts).tv_sec * 1000000000LL + (int64_t)(ts).tv_nsec)
int64_t hw_now_ns(void);       /* CLOCK_REALTIME */
double hw_monotonic(void);     /* seconds, CLOCK_MONOTONIC */
/* "2026-11-29T09:13:05Z" into buf (>= 21 bytes) */
void hw_time_iso(int64_t t, char *buf, size_t size);

/* "1.8GB", "512M", "100k", "123" (bytes; 1K = 1024) -> 1 ok, 0 bad */
int hw_parse_size(const char *s, uint64_t *bytes_r);
/* "30d", "12h", "90m", "45s", "2w" -> seconds; 1 ok, 0 bad */
int hw_parse_duration(const char *s, int64_t *secs_r);
/* human size "1.2 GB" into buf */
void hw_format_size(uint64_t bytes, char *buf, size_t size);

/* read a whole small file relative to dirfd (O_NOFOLLOW); -1 error, 0 absent, 1 ok */
struct hw_error;
int hw_read_file_at(int dirfd, const char *name, const char *display_path,
		    size_t max, char **data_r, size_t *len_r, struct hw_error *err);
/* the same, and *st_r = the file's fstat, taken before the read */
struct stat;
int hw_read_file_at_st(int dirfd, const char *name, const char *display_path, size_t max,
		       char **data_r, size_t *len_r, struct stat *st_r, struct hw_error *err);

#include "banned.h"

#endif
