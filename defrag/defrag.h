/*
 * defrag.h - layout of the store on disk: measure (frag), rewrite (defrag,
 * relayout) and the log files (logs). Depends on core/ only.
 *
 * Error contract (core/error.h): functions return -1 on an error of the call
 * (err says "syscall(path) failed: reason"), 0 where the header says so
 * (unsupported, nothing done), 1 (or a count) when done. A file that is
 * skipped for a reason is not an error: its result says why. Nothing here
 * prints or exits; warnings go to hw_diag_warn().
 *
 * ---- measuring ----
 *   struct defrag_folder f;
 *   defrag_folder_init(&f);
 *   if (defrag_folder_measure(dirfd, "example.com/bob", true, &f, err) < 0) ...
 *   f.frag_per_file, f.layout_score, f.verdict, f.files[i].extents ...
 *   defrag_folder_release(&f);
 *
 * Fragments are counted as filefrag counts them: 1 + the number of breaks in
 * physical continuity between consecutive extents. The layout score of a
 * folder is the share of consecutive messages, in UID order (IMAP.MRK; file
 * name order when the folder has no readable IMAP.MRK, and uid_order says
 * so), whose first block lies right after the previous message's last one
 * (a forward gap of at most DEFRAG_ADJ_SLACK bytes counts as adjacent: a
 * sequential read passes over it in the same sweep). 1.00 is perfect.
 *
 * ---- rewriting ----
 *   struct defrag_opts o = DEFRAG_OPTS_INIT;       // relayout, dry_run, rate...
 *   struct defrag_stats s = { 0 };
 *   defrag_folder_run(dirfd, "example.com/bob", &o, NULL, &s, err);
 *
 * Every rewrite is donor-based: a temp file (core/atomic.h naming, so a
 * killed run's leftovers are removed by hw_atomic_cleanup) beside the file,
 * preallocated to the full size, filled, fsynced, its XXH3-128 re-read from
 * disk and compared with the source's. The source is then checked again under
 * the folder lock (same inode, size, mtime, ctime, one link, not modified in
 * the last DEFRAG_QUIET_SECS seconds) and only then swapped: EXT4_IOC_MOVE_EXT
 * (the inode stays) or, where that is not offered, rename over it after the
 * donor got the source's mode, owner, times and xattrs. A donor that is no
 * better than the source is thrown away. A changed source is never touched.
 * Relayout keeps only the folder's leading chain of whole, adjacent messages
 * and rewrites every message after the first break, in UID order, so one
 * pass gives a score of about 1.00 and a second pass has nothing to do.
 *
 * ---- logs ----
 * See struct logs_opts and logs_run(): compress old daily logs through
 * libarchive (the raw filter stream: "zstd -d" and "gunzip" read the result),
 * verify by decompressing, then remove the original; expire by age and total
 * size; rotate a generic log by size (rename + create, never copytruncate).
 */
#ifndef HW_DEFRAG_H
#define HW_DEFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct hw_catalog;

#define DEFRAG_ADJ_SLACK (64u * 1024u)   /* see the layout score above */
#define DEFRAG_QUIET_SECS 60             /* files modified this recently are left */

/* ---------------------------------------------------------------- measure */

enum defrag_verdict {
	DEFRAG_VERDICT_OK,
	DEFRAG_VERDICT_RELAYOUT,   /* files whole, but scattered: relayout pays */
	DEFRAG_VERDICT_DEFRAG,     /* files in pieces: defrag pays */
	DEFRAG_VERDICT_UNSUPPORTED /* no FIEMAP here */
};
const char *defrag_verdict_name(enum defrag_verdict v);

/* thresholds of the verdict (documented in hiwater.1) */
#define DEFRAG_WORTH_DEFRAG 1.10     /* fragments per file above this */
#define DEFRAG_WORTH_RELAYOUT 0.50   /* layout score below this ... */
#define DEFRAG_RELAYOUT_MIN_FILES 8  /* ... in a folder of at least this many */

struct defrag_file {
	char *name;
	uint32_t uid;            /* 0: not in IMAP.MRK */
	uint64_t size;
	size_t extents;
	size_t fragments;
	uint64_t first_phys;     /* physical byte of the first extent */
	uint64_t end_phys;       /* physical end of the last extent */
	uint64_t phys_bytes;     /* bytes mapped (for the map) */
	struct defrag_piece { uint64_t phys, len; } *pieces;  /* kept when asked */
	size_t npieces;
	bool unknown;            /* no location (empty, inline, delalloc) */
	/* the file as it was measured (defrag_folder_measure): a rewrite
	   takes these figures over only while the file is still the same */
	uint64_t ino;
	int64_t mtime_ns, ctime_ns;
};

struct defrag_folder {
	char *relpath;
	bool uid_order;          /* order from IMAP.MRK (else file names) */
	bool unsupported;        /* FIEMAP not offered here */
	struct defrag_file *files;   /* in UID order (then name order) */
	size_t nfiles;
	size_t fragments;        /* sum over files */
	size_t fragmented_files; /* files with more than one fragment */
	uint64_t bytes;
	size_t pairs;            /* consecutive pairs with known location */
	size_t adjacent;         /* of which adjacent */
	double frag_per_file;    /* fragments / files (1.00 when none) */
	double layout_score;     /* adjacent / pairs (1.00 when no pairs) */
	enum defrag_verdict verdict;
	unsigned problems;       /* files that could not be measured (warned) */
};

void defrag_folder_init(struct defrag_folder *f);
void defrag_folder_release(struct defrag_folder *f);
/* measure the message files of one folder; keep_pieces keeps every extent
   (for the map). 1 ok, 0 FIEMAP unsupported (f->unsupported), -1 error */
int defrag_folder_measure(int dirfd, const char *relpath, bool keep_pieces,
			  struct defrag_folder *f, struct hw_error *err);
/* recompute totals, score and verdict from f->files (after edits) */
void defrag_folder_score(struct defrag_folder *f);
/* how bad a folder is, for sorting worst first (larger is worse) */
double defrag_folder_badness(const struct defrag_folder *f);

/* the message files of a folder in UID order: *names_r malloc'd (each entry
   malloc'd), uids in *uids_r (0 when unknown). 1 from IMAP.MRK, 0 file-name
   order (no readable IMAP.MRK: reason in err), -1 error */
int defrag_folder_order(int dirfd, const char *relpath, char ***names_r,
			uint32_t **uids_r, size_t *n_r, struct hw_error *err);

/* one file's extents and fragments (fd open for reading). 1, 0 unsupported,
   -1 error */
int defrag_file_measure(int fd, const char *display_path, bool keep_pieces,
			struct defrag_file *df, struct hw_error *err);
void defrag_file_release(struct defrag_file *df);

/* write an SVG map of the folders (measured with keep_pieces) atomically
   to path */
int defrag_map_write(const char *path, const struct defrag_folder *v, size_t n,
		     struct hw_error *err);

/* ---------------------------------------------------------------- rewrite */

enum defrag_skip {
	DEFRAG_DONE = 0,           /* rewritten */
	DEFRAG_SKIP_CONTIGUOUS,    /* nothing to gain */
	DEFRAG_SKIP_NOT_BETTER,    /* donor no better than the file */
	DEFRAG_SKIP_HARDLINK,      /* more than one link */
	DEFRAG_SKIP_SYMLINK,       /* never followed */
	DEFRAG_SKIP_NOT_REGULAR,
	DEFRAG_SKIP_RECENT,        /* modified in the last DEFRAG_QUIET_SECS */
	DEFRAG_SKIP_CHANGED,       /* changed while we copied it */
	DEFRAG_SKIP_LOCKED,        /* folder lock held by a writer */
	DEFRAG_SKIP_NOSPACE,       /* free-space guard */
	DEFRAG_SKIP_VANISHED,      /* gone before we got to it */
	DEFRAG_SKIP_UNSUPPORTED,   /* no FIEMAP: nothing to measure */
	DEFRAG_SKIP_ERROR,         /* an error (reported) */
	DEFRAG_SKIP_MAX
};
const char *defrag_skip_name(enum defrag_skip s);
/* does this outcome count as "skipped" for the exit code? */
bool defrag_skip_is_finding(enum defrag_skip s);

struct defrag_opts {
	bool relayout;           /* rewrite in UID order into adjacent allocation */
	bool dry_run;            /* decide and report, change nothing */
	double max_rate;         /* bytes per second read+written; 0 = unlimited */
	double deadline;         /* hw_monotonic() time to stop at; 0 = none */
	uint64_t reserve;        /* free bytes that must remain after a donor */
	int lock_timeout_ms;     /* wait for the folder lock this long */
	int quiet_secs;          /* DEFRAG_QUIET_SECS unless a test changes it */
	const char *resume_after;   /* skip files up to and including this name */
	bool no_move_ext;        /* always use the rename path (tests) */
	/* test seam: called after the donor is verified, before the final
	   checks and the swap (a test modifies the source here) */
	void (*before_swap)(void *ctx, int dirfd, const char *name);
	/* test seam: called when the free-space guard found room for a donor,
	   just before it is allocated (allocated false), and after (true),
	   with the guard held: parallel runs look and allocate in turn */
	void (*alloc_hook)(void *ctx, int dirfd, bool allocated);
	void *hook_ctx;
	/* per-file report (dry run and real run); may be NULL */
	void (*report)(void *ctx, const char *relpath, const char *name,
		       enum defrag_skip what, const char *why, size_t frags_before,
		       size_t frags_after, uint64_t size);
	void *report_ctx;
};
#define DEFRAG_OPTS_INIT { .reserve = 64u << 20, .lock_timeout_ms = 200, \
			   .quiet_secs = DEFRAG_QUIET_SECS }

struct defrag_stats {
	size_t files;                    /* message files looked at */
	size_t rewritten;
	size_t moved_in_place;           /* of which by EXT4_IOC_MOVE_EXT */
	size_t outcome[DEFRAG_SKIP_MAX]; /* per outcome */
	uint64_t bytes;                  /* bytes rewritten */
	size_t frags_before, frags_after;    /* over the files looked at */
	size_t files_before, files_after;    /* files measured, for the ratio */
	size_t pairs_before, adjacent_before; /* layout score before ... */
	size_t pairs_after, adjacent_after;   /* ... and after */
	size_t folders_laid_out;         /* relayout: folders already fine */
	bool stopped;                    /* deadline reached */
	char *stopped_folder;            /* where, for resume (malloc'd) */
	char *stopped_after;             /* last file done in that folder */
};
void defrag_stats_release(struct defrag_stats *s);
/* add from's counts to into's (not stopped and where: the caller decides) */
void defrag_stats_add(struct defrag_stats *into, const struct defrag_stats *from);

/* rewrite one folder. With o->relayout, every message in UID order; else the
   fragmented ones. Stops early (s->stopped) at o->deadline. 1 done, -1 error
   of the folder (a file's error is reported and counted, not returned) */
int defrag_folder_run(int dirfd, const char *relpath, const struct defrag_opts *o,
		      struct defrag_stats *s, struct hw_error *err);
/* file descriptors one defrag_folder_run() holds open at most (a batch of
   files and their donors: on the rename path three per file, the file's,
   the donor's and the hw_atomic temp's), for callers that run several at
   once */
#define DEFRAG_BATCH_FILES 128
#define DEFRAG_FDS_PER_RUN (3 * DEFRAG_BATCH_FILES + 16)

/* resume point kept in the catalog (module "defrag"):
   1 found (*folder_r, *after_r malloc'd), 0 none, -1 error */
int defrag_resume_get(struct hw_catalog *cat, bool relayout, char **folder_r,
		      char **after_r, struct hw_error *err);
/* folder NULL clears it */
int defrag_resume_put(struct hw_catalog *cat, bool relayout, const char *folder,
		      const char *after, struct hw_error *err);

/* ------------------------------------------------------------------- logs */

enum logs_compress { LOGS_ZSTD, LOGS_GZIP };

enum logs_action {
	LOGS_COMPRESS,       /* compressed (or would be) */
	LOGS_FINISH,         /* a previous run's verified copy: original removed */
	LOGS_DELETE_AGE,     /* older than max_age */
	LOGS_DELETE_TOTAL,   /* beyond max_total, oldest first */
	LOGS_KEEP_TODAY,     /* today's file: never touched */
	LOGS_MISMATCH,       /* NAME and NAME.zst disagree: both left (warned) */
	LOGS_ROTATE,         /* generic log rotated by size */
	LOGS_ERROR,
};
const char *logs_action_name(enum logs_action a);

struct logs_opts {
	enum logs_compress compress;
	int level;               /* 0: the filter's default */
	int keep_days;           /* compress files older than this (days) */
	int max_age;             /* delete older than this (days); < 0 none */
	uint64_t max_total;      /* 0: no limit */
	bool dry_run;
	int64_t now;             /* unix seconds; 0: time(NULL) (tests set it) */
	void (*report)(void *ctx, const char *name, enum logs_action a, const char *why,
		       uint64_t size_before, uint64_t size_after);
	void *report_ctx;
	/* test seam: called after the compressed temp is verified, before it is
	   renamed into place (a test kills the process here) */
	void (*before_commit)(void *ctx, const char *name);
	void *hook_ctx;
};

struct logs_stats {
	size_t files;            /* log files seen */
	size_t compressed, finished, deleted, kept_today, errors, mismatches;
	uint64_t bytes_in, bytes_out, bytes_deleted;
	uint64_t total_after;    /* bytes of logs left */
};

/* the day a log file belongs to: the YYYY-MM-DD in its name, else its mtime
   (local time), as days since 1970 */
int64_t logs_file_day(const char *name, int64_t mtime);
/* today in the same unit */
int64_t logs_today(int64_t now);

/* one run over the directory dir (not recursive). 1 done (errors counted),
   -1 the directory cannot be read */
int logs_run(const char *dir, const struct logs_opts *o, struct logs_stats *s,
	     struct hw_error *err);

/* compress one file of dirfd into NAME.ext and remove NAME: 1 done, -1
   error (the original is kept) */
int logs_compress_file(int dirfd, const char *dirpath, const char *name,
		       const struct logs_opts *o, uint64_t *out_size_r, struct hw_error *err);
/* decompress a .zst/.gz file and hash the content: 1 ok, 0 not readable
   (corrupt), -1 error */
int logs_hash_compressed(int dirfd, const char *dirpath, const char *name,
			 uint8_t hash_r[16], uint64_t *size_r, struct hw_error *err);

/* size-triggered rotation of a generic log: if PATH is at least min_size,
   rename PATH -> PATH.1 (older ones shift up to keep, the oldest deleted),
   create an empty PATH with the same mode and owner. 1 rotated, 0 not due,
   -1 error */
int logs_rotate(const char *path, uint64_t min_size, int keep, bool dry_run,
		struct hw_error *err);

#endif
