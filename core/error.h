/*
 * error.h - the error contract shared by every hiwater library.
 *
 * Library functions never print and never exit. They return
 *   -1  error: *err holds "syscall(path) failed: reason" or a sentence
 *    0  absent or corrupt (the caller rebuilds); *err may hold the reason
 *    1  (or a positive count) ok
 * and fill a caller-owned struct hw_error. Messages are lower-case, name the
 * operation and the path, and carry no full stop, e.g.
 *   fsync(example.com/bob/IMAP.MRK) failed: No space left on device
 *
 * Diagnostics that are not errors of the call (a skipped file, a symlink in
 * the store) go to hw_diag_warn(), which the command line routes to stderr
 * and counts; library code never writes to stderr itself.
 */
#ifndef HW_ERROR_H
#define HW_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define HW_ERROR_MAX 1024

struct hw_error {
	int errnum;             /* errno of the failing call, 0 if none */
	char msg[HW_ERROR_MAX]; /* "" when no error */
};

void hw_error_clear(struct hw_error *err);
/* printf-style; err may be NULL; always returns -1 */
int hw_error_set(struct hw_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "syscall(path) failed: strerror(errno)"; uses and keeps errno; returns -1 */
int hw_error_sys(struct hw_error *err, const char *syscall, const char *path);
/* prefix an existing message: "what: old message"; returns -1 */
int hw_error_prefix(struct hw_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* diagnostics sink: one line, no trailing newline */
enum hw_diag_level { HW_DIAG_INFO, HW_DIAG_WARN, HW_DIAG_ERROR };
typedef void hw_diag_fn(void *ctx, enum hw_diag_level level, const char *msg);
void hw_diag_set_sink(hw_diag_fn *fn, void *ctx);
void hw_diag(enum hw_diag_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define hw_diag_warn(...) hw_diag(HW_DIAG_WARN, __VA_ARGS__)
#define hw_diag_error(...) hw_diag(HW_DIAG_ERROR, __VA_ARGS__)
#define hw_diag_info(...) hw_diag(HW_DIAG_INFO, __VA_ARGS__)
/* counts since start (thread-safe) */
unsigned long hw_diag_count(enum hw_diag_level level);

#endif
