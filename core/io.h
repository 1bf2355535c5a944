/*
 * io.h - the one I/O seam for every call that changes data on disk.
 *
 * All writes, fsyncs, renames, fallocates, unlinks and truncates that hiwater
 * makes go through these wrappers, so that tests can make the Nth call of a
 * kind fail (with ENOSPC, EIO, or a short write) and check that the original
 * data survives and the error names the operation and the path.
 *
 * Fault injection is off unless HIWATER_FAULT is set in the environment:
 *   HIWATER_FAULT="OP:N:ERR[,OP:N:ERR...]"
 * OP is write|fsync|rename|fallocate|unlink|ftruncate|open|mkdir|link, N the
 * 1-based call number of that OP to fail, ERR is ENOSPC|EIO|EDQUOT|SHORT
 * (SHORT: a write that writes half and returns the short count). N may be
 * "*" to fail every call of the kind. OP "any" counts the calls of every
 * kind together. ERR KILL sends the process SIGKILL just before the call
 * (the crash harness, tests/crash/, uses "any:N:KILL"). With
 * HIWATER_FAULT_LOG=FILE each injected failure appends "OP N" to FILE, and
 * the process appends "count OP N" for each kind when it exits normally.
 *
 * The wrappers keep POSIX semantics (return value and errno); hw_io_write_all
 * loops over short writes and EINTR.
 */
#ifndef HW_IO_H
#define HW_IO_H

#include <stddef.h>
#include <sys/types.h>

ssize_t hw_io_write(int fd, const void *buf, size_t len);
ssize_t hw_io_pwrite(int fd, const void *buf, size_t len, off_t off);
/* 0 on success, -1 with errno (a short write reports ENOSPC if none set) */
int hw_io_write_all(int fd, const void *buf, size_t len);
int hw_io_fsync(int fd);
int hw_io_fdatasync(int fd);
int hw_io_syncfs(int fd);   /* counted as an fsync for fault injection */
int hw_io_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname);
int hw_io_fallocate(int fd, off_t offset, off_t len);
int hw_io_unlinkat(int dirfd, const char *name, int flags);
int hw_io_ftruncate(int fd, off_t len);
int hw_io_openat(int dirfd, const char *name, int flags, mode_t mode);
int hw_io_mkdirat(int dirfd, const char *name, mode_t mode);
int hw_io_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname, int flags);

/* re-read HIWATER_FAULT (tests call this after setenv) */
void hw_io_fault_reset(void);

#endif
