/*
 * atomic.h - the one way hiwater rewrites a file.
 *
 *   struct hw_atomic a;
 *   if (hw_atomic_begin(&a, dirfd, "example.com/bob", "IMAP.MRK", 0644, err) < 0)
 *           return -1;
 *   if (hw_atomic_write(&a, buf, len, err) < 0 ||
 *       hw_atomic_commit(&a, err) < 0)
 *           return -1;           // commit/write already aborted: temp gone
 *
 * begin:  temp file beside the target, ".hiwater-tmp.<pid>.<rand>.<name>",
 *         opened O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 until commit.
 * write:  appends; every HW_ATOMIC_KICK bytes the kernel is asked to start
 *         writing them back, so that commit's fsync finds little left to do.
 * commit: fchmod to the requested mode, fsync the file, rename over the
 *         target, fsync the directory. A crash before the rename leaves the old
 *         file; after it, the new one. A failure at any step unlinks the temp
 *         and the error names the step and the path.
 * abort:  unlink the temp; safe to call twice or after commit.
 *
 * hw_atomic_cleanup() removes stale temps (whose pid no longer runs) that a
 * killed run left in a directory, and a folder lock such a run left
 * (core/os.h); every command that writes calls it for the folders it
 * touches. Returns the number removed, or -1.
 */
#ifndef HW_ATOMIC_H
#define HW_ATOMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

#define HW_TMP_PREFIX ".hiwater-tmp."

struct hw_atomic {
	int dirfd;        /* not owned */
	int fd;           /* temp file, -1 when closed */
	off_t written;    /* bytes written, of which */
	off_t kicked;     /* ... write-back was started for (HW_ATOMIC_KICK) */
	mode_t mode;
	bool done;
	char *dirpath;    /* for messages */
	char *name;       /* target name in dirfd */
	char *tmpname;    /* temp name in dirfd */
};

int hw_atomic_begin(struct hw_atomic *a, int dirfd, const char *dirpath,
		    const char *name, mode_t mode, struct hw_error *err);
#define HW_ATOMIC_KICK ((off_t)8 << 20)
int hw_atomic_write(struct hw_atomic *a, const void *buf, size_t len, struct hw_error *err);
/* preserve the target's times (for rewrites of message files); optional */
int hw_atomic_set_times(struct hw_atomic *a, const struct timespec times[2], struct hw_error *err);
int hw_atomic_commit(struct hw_atomic *a, struct hw_error *err);
void hw_atomic_abort(struct hw_atomic *a);

/*
 * Batch durability: one syncfs for many files instead of two fsyncs each
 * (the fsync rate, about 1,000 a second, is otherwise the wall for any job
 * that rewrites many small files). The order keeps the same guarantee:
 *
 *   for each file: begin, write, hw_atomic_close_unsynced   (temps written)
 *   hw_syncfs(fd)                          (every temp durable)
 *   for each file: hw_atomic_rename_unsynced (under whatever lock it needs)
 *   hw_syncfs(fd)                          (every rename durable)
 *
 * A crash before a rename leaves the old file, after it the new one, which
 * was already durable. hw_atomic_abort still removes a temp not renamed.
 */
int hw_atomic_close_unsynced(struct hw_atomic *a, struct hw_error *err);
int hw_atomic_rename_unsynced(struct hw_atomic *a, struct hw_error *err);
/* syncfs(2) of the filesystem holding fd; errors name display_path */
int hw_syncfs(int fd, const char *display_path, struct hw_error *err);

/* one call: begin + write + commit */
int hw_atomic_replace(int dirfd, const char *dirpath, const char *name,
		      const void *buf, size_t len, mode_t mode, struct hw_error *err);

/* true if name is one of our temp files */
bool hw_atomic_is_temp(const char *name);
int hw_atomic_cleanup(int dirfd, const char *dirpath, struct hw_error *err);

/* fsync a directory fd; error names dirpath */
int hw_fsync_dir(int dirfd, const char *dirpath, struct hw_error *err);

#endif
