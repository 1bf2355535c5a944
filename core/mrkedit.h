/*
 * mrkedit.h - small edits of a live folder's IMAP.MRK, under the folder lock,
 * as MDaemon's own writers make them. Used by restore (a message put back
 * gets a new UID, so IMAP clients see it appear), by purge (records removed
 * before the files go) and by tests that play MDaemon.
 *
 *   struct hw_mrk_add a[2] = { { .file = "md50000000042.msg", .flags = 0,
 *                                .size = 1234, .date = t }, ... };
 *   if (hw_mrk_add(dirfd, "example.com/bob", a, 2, err) < 0) ...
 *   // a[i].uid_r now holds each new UID
 *
 * Both take the folder lock (core/os.h) for the read-modify-write only,
 * increment LastWriteCounter, write atomically (core/atomic.h), release.
 * hw_mrk_add: a file that already has a record keeps it (uid_r = its UID);
 * new records get UIDNext, UIDNext, ... in the order given. An absent
 * IMAP.MRK is created (UIDVALIDITY = now); a corrupt one is salvaged record
 * by record (the indexer finishes the job on its next run).
 * hw_mrk_remove: drops the records of the named files; UIDNext unchanged.
 * Return: -1 error, 0 folder busy (lock timeout; nothing changed), 1 ok.
 */
#ifndef HW_MRKEDIT_H
#define HW_MRKEDIT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

#define HW_MRK_LOCK_TIMEOUT_MS 10000

struct hw_mrk_add {
	const char *file;   /* message file name in the folder */
	uint8_t flags;      /* IMAPMRK_FLAG_* */
	uint32_t size;
	int64_t date;       /* arrival, unix seconds (clamped when stored) */
	uint32_t uid_r;     /* out: the UID it has */
};

int hw_mrk_add(int dirfd, const char *dirpath, struct hw_mrk_add *v, size_t n,
	       struct hw_error *err);
int hw_mrk_remove(int dirfd, const char *dirpath, const char *const *files, size_t n,
		  struct hw_error *err);

/* the next free message file name in a listed folder: number one above the
   highest present (MD, precedence 50); buf >= 18 bytes. Names are checked
   against the directory listing given, so pass a fresh one. */
void hw_mrk_next_name(const struct hw_dir *d, char *buf, size_t size);

#endif
