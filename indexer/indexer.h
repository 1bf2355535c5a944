/*
 * indexer.h - rebuild a folder's IMAP.MRK and HIWATER.MRK ahead of MDaemon,
 * keeping every UID, flag and UIDVALIDITY that already exists.
 *
 * Calling sequence (the CLI's `hiwater index`):
 *
 *   struct indexer_opts o = INDEXER_OPTS_INIT;     // then set flags
 *   struct indexer_stats s;
 *   r = indexer_run(store, catalog, &folders, &o, report_fn, ctx, &s, err);
 *
 * indexer_run() processes the folders in parallel (o.jobs workers); each
 * folder's outcome is handed to report_fn (called with a lock held, one at a
 * time, in completion order). It returns -1 only when the run itself could
 * not proceed (catalog unusable); a bad folder is reported and counted, and
 * the run goes on (stats.errors).
 *
 * Per folder (see docs/formats.md and MDAEMON-STORE.md for the rules):
 *  - unchanged since the catalog's stamp (directory mtime ns, entry count,
 *    IMAP.MRK identity, HIWATER.MRK identity) => nothing is read but the
 *    directory listing: status UNCHANGED;
 *  - else the existing IMAP.MRK is read (salvaged record by record), the
 *    message files listed, UIDs kept by file name, then by identity from the
 *    catalog (a renamed file keeps its inode, or its content hash); files
 *    without a UID get new ones above every UID ever given, in arrival order
 *    (Date: header, else file mtime); UIDVALIDITY kept unless asked or no
 *    source of UIDs exists (then max(old + 1, now)); the new IMAP.MRK is
 *    written only when it differs, under the folder lock held only for the
 *    swap, after checking the directory did not change during the scan
 *    (otherwise the folder is scanned again);
 *  - HIWATER.MRK: [Groupware] FolderClass added when missing; at a mailbox
 *    root, [IMAPSubscribed] gets a key for every folder of the mailbox;
 *    everything else kept byte for byte.
 *  - the catalog gets the folder's stamp and one row per message (file,
 *    UID, flags, size, arrival date, identity, From/To/Subject/Message-ID).
 *    A directory whose mtime falls in the current second is not stamped, so
 *    a message delivered later in that second is seen next time.
 */
#ifndef HW_INDEXER_H
#define HW_INDEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "error.h"
#include "store.h"

struct indexer_opts {
	bool dry_run;          /* -n: compute and report, write nothing */
	bool check;            /* --check: report stale folders, write nothing */
	bool force;            /* ignore the catalog stamp: recompute every folder */
	bool mark_seen;        /* new records get \Seen (a migrated user's mail) */
	bool new_uidvalidity;  /* start a new UID space: every client resyncs */
	bool verify;           /* read every message whole: content hash into the catalog */
	int jobs;              /* workers; 0 = CPUs */
	const char *lockname;  /* folder lock file name; NULL = default */
	int lock_timeout_ms;
	const int *stop;       /* set non-zero to stop starting folders (window end) */
};
#define INDEXER_OPTS_INIT { .lock_timeout_ms = 10000 }

enum indexer_status {
	INDEXER_UNCHANGED,     /* stamp matched, or recomputed and identical */
	INDEXER_REBUILT,       /* IMAP.MRK and/or HIWATER.MRK written (or would be, -n) */
	INDEXER_STALE,         /* --check: would be rebuilt */
	INDEXER_BUSY,          /* folder lock not obtained; nothing written */
	INDEXER_ERROR,         /* see reason */
};

struct indexer_folder_result {
	const char *relpath;
	enum indexer_status status;
	const char *reason;    /* why stale/rebuilt/error ("3 files without a record") */
	size_t messages;       /* message files in the folder */
	size_t records_added;
	size_t records_removed;
	size_t uids_kept;
	size_t uids_new;
	size_t files_skipped;  /* not messages, unreadable */
	size_t headers_read;   /* message files opened */
	bool mrk_written;
	bool hwmrk_written;
	bool uidvalidity_new;
	uint32_t uidvalidity;
	uint32_t uid_first_new, uid_last_new;
};

typedef void indexer_report_fn(void *ctx, const struct indexer_folder_result *r);

struct indexer_stats {
	size_t folders;
	size_t messages;
	size_t rebuilt;
	size_t unchanged;
	size_t stale;
	size_t busy;
	size_t uids_kept;
	size_t uids_new;
	size_t files_skipped;
	size_t headers_read;
	size_t errors;
	double seconds;
};

int indexer_run(const struct hw_store *st, struct hw_catalog *cat,
		const struct hw_folder_list *fl, const struct indexer_opts *o,
		indexer_report_fn *report, void *ctx, struct indexer_stats *stats,
		struct hw_error *err);

/* FolderClass for a folder's IMAP name ("Calendar" -> "IPF.Appointment") */
const char *indexer_folder_class(const char *imapname);

#endif
