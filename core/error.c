/* error.c - the error buffer and the diagnostics sink (see error.h) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "util.h"

void hw_error_clear(struct hw_error *err)
{
	if (err == NULL)
		return;
	err->errnum = 0;
	err->msg[0] = '\0';
}

int hw_error_set(struct hw_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int hw_error_sys(struct hw_error *err, const char *syscall, const char *path)
{
	int e = errno;

	hw_error_set(err, e, "%s(%s) failed: %s", syscall, path, strerror(e));
	errno = e;
	return -1;
}

int hw_error_prefix(struct hw_error *err, const char *fmt, ...)
{
	char prefix[HW_ERROR_MAX], old[HW_ERROR_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	hw_strlcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -1;
}

static hw_diag_fn *diag_fn;
static void *diag_ctx;
static atomic_ulong diag_counts[3];
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;

void hw_diag_set_sink(hw_diag_fn *fn, void *ctx)
{
	pthread_mutex_lock(&diag_lock);
	diag_fn = fn;
	diag_ctx = ctx;
	pthread_mutex_unlock(&diag_lock);
}

void hw_diag(enum hw_diag_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&diag_counts[level], 1);
	pthread_mutex_lock(&diag_lock);
	if (diag_fn != NULL)
		diag_fn(diag_ctx, level, msg);
	pthread_mutex_unlock(&diag_lock);
}

unsigned long hw_diag_count(enum hw_diag_level level)
{
	return atomic_load(&diag_counts[level]);
}
