/*
 * os.h - the OS-specific calls, behind small interfaces so that a Windows
 * backend can be added without touching the modules (os_linux.c is the only
 * implementation today).
 *
 * Return values: 1 ok, 0 unsupported here (not an error: callers say
 * "unsupported" and go on), -1 error (err filled).
 */
#ifndef HW_OS_H
#define HW_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* ---- file extents (FIEMAP) ---- */
struct hw_extent {
	uint64_t logical;    /* bytes */
	uint64_t physical;   /* bytes */
	uint64_t length;     /* bytes */
	uint32_t flags;      /* HW_EXTENT_* */
};
#define HW_EXTENT_LAST 1u
#define HW_EXTENT_UNKNOWN 2u      /* location unknown (delalloc, inline) */
#define HW_EXTENT_UNWRITTEN 4u

/* all extents of fd, looping until the last one; *v_r malloc'd. Dirty
   pages are written back first (FIEMAP_FLAG_SYNC), so that delayed
   allocations have their place */
int hw_os_extents(int fd, const char *display_path, struct hw_extent **v_r, size_t *n_r,
		  struct hw_error *err);
/* the same without the write-back: for a file whose blocks are all
   allocated (just swapped by EXT4_IOC_MOVE_EXT), where writing its dirty
   pages back now would only cost a wait */
int hw_os_extents_nosync(int fd, const char *display_path, struct hw_extent **v_r,
			 size_t *n_r, struct hw_error *err);
/* fragments as filefrag counts them: 1 + the number of breaks in physical
   continuity between consecutive extents; 0 for an empty file */
size_t hw_extents_fragments(const struct hw_extent *v, size_t n);

/* filesystem block size of fd */
int hw_os_block_size(int fd, uint32_t *bs_r, struct hw_error *err);

/* start writing back fd's dirty pages in [off, off + len), without waiting
   (a hint: the fsync that follows reports any error); 0 when unsupported */
int hw_os_writeback_start(int fd, off_t off, off_t len);

/* preallocate len bytes (no size change if keep_size); 0 when unsupported */
int hw_os_preallocate(int fd, const char *display_path, off_t len, bool keep_size,
		      struct hw_error *err);

/* swap the data of orig with donor's (EXT4_IOC_MOVE_EXT) for [0, len):
   1 whole range moved, 0 unsupported or partial (EBUSY, EOPNOTSUPP, EINVAL:
   caller falls back to the rename path; *moved_r says how much moved),
   -1 error */
int hw_os_move_extents(int orig_fd, int donor_fd, uint64_t len, uint64_t *moved_r,
		       const char *display_path, struct hw_error *err);
/* the same for orig's [0, len) and donor's [donor_off, donor_off + len):
   one donor file can feed many files (donor_off block-aligned) */
int hw_os_move_extents_at(int orig_fd, int donor_fd, uint64_t donor_off, uint64_t len,
			  uint64_t *moved_r, const char *display_path, struct hw_error *err);

/* drop fd's pages from the page cache (best effort) */
void hw_os_evict(int fd);

/* free bytes available to us on the filesystem of fd */
int hw_os_free_bytes(int fd, uint64_t *free_r, struct hw_error *err);

/* copy xattrs from src to dst (best effort where unsupported) */
int hw_os_copy_xattrs(int src_fd, int dst_fd, const char *display_path, struct hw_error *err);

/* open relpath below dirfd refusing any symlink, mount crossing or escape
   (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV|RESOLVE_BENEATH); -1 with
   errno when that cannot be done here (ENOSYS: the caller walks instead) */
int hw_os_open_beneath(int dirfd, const char *relpath, int flags);

/* ---- the folder lock (as MDaemon's writers take it) ----
 * A lock file created in the folder, holding "hiwater PID", that appears
 * with its content in one step (a temp file renamed without replacing);
 * removed on release. A lock left by a killed hiwater run is removed by the
 * next run that visits the folder (hw_atomic_cleanup, or a take). The name
 * is configurable (MDaemon's real name is not documented; default IMAP.LCK). Take it only around a swap, never for a scan. */
#define HW_FOLDER_LOCK_DEFAULT "IMAP.LCK"
struct hw_folder_lock {
	int dirfd;       /* not owned */
	char *name;
	bool held;
};
/* 1 taken, 0 busy after timeout_ms (err says so), -1 error */
int hw_folder_lock_take(int dirfd, const char *dirpath, const char *lockname,
			int timeout_ms, struct hw_folder_lock *l, struct hw_error *err);
void hw_folder_lock_release(struct hw_folder_lock *l);
/* remove the lock if a hiwater run that is gone left it (it reads "hiwater
   PID" and PID no longer runs); another program's lock, or a live one, is
   never touched. lockname NULL: the configured name. 1 removed, 0 not. */
int hw_folder_lock_clear_stale(int dirfd, const char *dirpath, const char *lockname);
/* the configured lock name (HIWATER_FOLDER_LOCK env or the default) */
const char *hw_folder_lock_name(void);
void hw_folder_lock_set_name(const char *name);   /* ignored unless _ok */
/* a lock name whose release (an unlink) can remove nothing of MDaemon's */
bool hw_folder_lock_name_ok(const char *name);

#endif
