/*
 * snapshot.h - incremental, deduplicated snapshots of the store, and finding
 * and restoring one message or folder as of any time.
 *
 * A repository is a directory (default STATE/snapshots, or --repo DIR /
 * policy snapshot_dir) that holds everything needed to restore, and nothing
 * else: see docs/snapshots.md.
 *   REPO/catalog.db      SQLite (core/catalog.h), module "snapshot": every
 *                        snapshot, folder version, file record, content blob,
 *                        pack and segment
 *   REPO/packs/pack-<16 hex>.tar.zst   written once, read-only, never changed
 *   REPO/lock            flock: one writer (create, prune) at a time
 *   REPO/packs.lock      flock: readers (restore, verify) shared; a pack is
 *                        unlinked only under the exclusive lock
 *
 * Calling sequence:
 *   struct snap_repo *r;
 *   snap_repo_open("/var/lib/hiwater/snapshots", true, &r, err);
 *   snap_repo_lock(r, err);                  // writers only: 1 / 0 busy / -1
 *   struct snap_create_opts o = { .folders = argv, .nfolders = n };
 *   struct snap_create_result res;
 *   snap_create(r, store, &o, &res, err);    // res.id is the new snapshot
 *   ...
 *   snap_covered(r, q, n, err);              // before purge deletes anything
 *   snap_repo_free(&r);
 *
 * Consistency: pack files are written to a temp name, fsynced, renamed and
 * the directory fsynced before the catalog transaction that refers to them
 * commits (synchronous=FULL). A snapshot is visible only after that commit; a
 * crash before it leaves an unreferenced pack, which the next create or prune
 * removes (snap_repo_gc). Prune commits the catalog (and writes any
 * rewritten pack durably) before it unlinks an old pack.
 *
 * Errors follow core/error.h: -1 with err filled, 0 "absent" where stated,
 * >= 1 (or a count) ok. Per-item problems (a message deleted while a snapshot
 * runs, a corrupt segment) go to hw_diag_warn / hw_diag_error and the call
 * goes on: callers turn those counts into exit codes.
 */
#ifndef HW_SNAPSHOT_H
#define HW_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "error.h"
#include "hash.h"
#include "store.h"

#define SNAP_REPO_DEFAULT "snapshots"   /* below the state directory */
#define SNAP_WINDOW_DEFAULT ((uint64_t)128 << 20)
#define SNAP_WINDOW_OFF UINT64_MAX

struct snap_repo;

/* open a repository; create: make it if missing. 1 ok, 0 absent (create
   false, or the directory is not a repository), -1 error */
int snap_repo_open(const char *dir, bool create, struct snap_repo **r_r, struct hw_error *err);
void snap_repo_free(struct snap_repo **r);
const char *snap_repo_path(const struct snap_repo *r);
struct hw_catalog *snap_repo_catalog(struct snap_repo *r);
/* the writer lock (create, prune): 1 taken, 0 held by another run, -1 error;
   released by snap_repo_free */
int snap_repo_lock(struct snap_repo *r, struct hw_error *err);
/* remove packs the catalog does not know (left by a crash) and stale temp
   files; needs the writer lock. Returns the number removed, or -1 */
int snap_repo_gc(struct snap_repo *r, struct hw_error *err);

/* ---- create ---- */
struct snap_create_opts {
	char *const *folders;       /* FOLDER arguments; none: the whole store */
	size_t nfolders;
	const char *label;          /* may be NULL */
	bool full;                  /* store every file again (no dedup, no trust) */
	bool dry_run;               /* count what would be stored; write nothing */
	int jobs;                   /* compression threads; 0: CPUs */
	uint64_t window;            /* reorder window: bytes of new content sorted
				       by similarity before they go into the pack;
				       0: SNAP_WINDOW_DEFAULT, or the environment's
				       HIWATER_SNAPSHOT_WINDOW (MB; 0 turns it off);
				       SNAP_WINDOW_OFF: directory order */
	struct hw_catalog *state_cat; /* the indexer's catalog, optional: its
				       content hashes and headers spare reads */
};
/* "MB" as --window and HIWATER_SNAPSHOT_WINDOW give it: a whole number of
   megabytes, 0 to 1048576; 1 ok (*window_r: bytes, or SNAP_WINDOW_OFF for 0),
   0 malformed */
int snap_window_parse(const char *mb, uint64_t *window_r);
struct snap_create_result {
	int64_t id;                 /* the new snapshot (0 on dry run) */
	uint64_t folders, folders_changed;
	uint64_t files, messages, bytes;    /* in the snapshot */
	uint64_t files_read;        /* files opened and hashed */
	uint64_t files_added, bytes_added;  /* new content stored */
	uint64_t pack_bytes;        /* compressed bytes written */
	uint64_t skipped;           /* vanished or unreadable (reported) */
	uint64_t lost;              /* contents only in damaged segments (repair) */
	uint64_t repaired;          /* of those, stored again from the live store */
	uint64_t buf_bytes;         /* most memory in chunks for small files at once
				       (read-ahead and window copies; not printed) */
};
int snap_create(struct snap_repo *r, const struct hw_store *st, const struct snap_create_opts *o,
		struct snap_create_result *res, struct hw_error *err);

/* ---- list ---- */
struct snap_info {
	int64_t id;
	int64_t created_ns;
	char *label;                /* NULL if none */
	char *scope;                /* "" whole store, else folders, '\n'-separated */
	bool full;
	uint64_t folders, files, messages, bytes, files_added, bytes_added;
};
int snap_list(struct snap_repo *r, struct snap_info **v_r, size_t *n_r, struct hw_error *err);
void snap_infos_free(struct snap_info *v, size_t n);
/* the newest snapshot created at or before t (unix seconds): 1 found, 0 none */
int snap_at(struct snap_repo *r, int64_t t, int64_t *id_r, struct hw_error *err);

/* ---- coverage (purge asks before it deletes) ----
 * A message is covered when some snapshot holds a file of that name in that
 * folder with that size (and that content hash when hash is given) whose
 * content is in a pack. */
struct snap_cover {
	const char *folder;         /* "example.com/bob/Old.IMAP" */
	const char *file;           /* "md50000000001.msg" */
	uint64_t size;
	const uint8_t *hash;        /* 16 bytes, or NULL when unknown */
	bool covered_r;             /* out */
	int64_t snapshot_r;         /* out: newest snapshot holding it, 0 if none */
};
/* returns how many are covered, or -1 */
int snap_covered(struct snap_repo *r, struct snap_cover *v, size_t n, struct hw_error *err);

/* ---- find ---- */
struct snap_find_query {
	const char *message_id, *from, *subject;   /* from/subject: substring, any case */
	const char *folder;         /* this folder and below */
	bool has_since, has_before;
	int64_t since, before;      /* message date, unix seconds: since <= d < before */
	bool deleted_only;          /* only messages absent from the live store */
	const struct hw_store *st;  /* live store for 'present'; NULL: unknown (false) */
	struct hw_catalog *live_cat; /* the state catalog (filled by hiwater index),
				       optional: messages it lists that no snapshot
				       holds are reported too (first/last_snapshot 0,
				       present true); needs st */
};
struct snap_find_row {
	int64_t first_snapshot, last_snapshot;   /* 0: in no snapshot (live only) */
	const char *folder, *file;
	uint32_t uid;               /* in the last snapshot holding it */
	uint8_t flags;
	uint64_t size;
	int64_t date;               /* 0 unknown */
	const char *from, *subject, *message_id;   /* may be NULL */
	bool present;
	struct hw_hash hash;
};
/* Rows held by snapshots come first (by date), then live-only rows. r may be
   NULL (no repository yet): only the live store is searched.
   fn returns 0 to go on, non-zero to stop; returns rows reported or -1 */
typedef int snap_find_fn(void *ctx, const struct snap_find_row *row);
int snap_find(struct snap_repo *r, const struct snap_find_query *q, snap_find_fn *fn, void *ctx,
	      struct hw_error *err);

/* ---- restore ---- */
struct snap_restore_opts {
	int64_t snapshot;           /* 0: the newest snapshot holding each target
				       (at or before 'at' when has_at) */
	bool has_at;
	int64_t at;                 /* unix seconds */
	const char *to_dir;         /* plain files there; NULL: into the live store */
	bool keep_flags;
	bool dry_run;
	char *const *message_ids;
	size_t nmessage_ids;
	char *const *paths;         /* FOLDER or FOLDER/FILE */
	size_t npaths;
};
enum snap_restore_action {
	SNAP_RESTORED,              /* written (new_file, uid_r set for the store) */
	SNAP_PRESENT,               /* same content already there: skipped */
	SNAP_WOULD_RESTORE,         /* dry run */
	SNAP_FAILED,                /* reported through hw_diag_error */
};
struct snap_restore_item {
	int64_t snapshot;
	const char *folder, *file;  /* as in the snapshot */
	const char *new_file;       /* name written (store: next free number) */
	uint32_t uid;               /* new UID in the live store, 0 otherwise */
	uint64_t size;
	enum snap_restore_action action;
};
typedef void snap_restore_fn(void *ctx, const struct snap_restore_item *it);
/* st may be NULL with to_dir set. Returns items restored (or that would be),
   0 when no target matched anything (err says which), -1 on error */
int snap_restore(struct snap_repo *r, const struct hw_store *st, const struct snap_restore_opts *o,
		 snap_restore_fn *fn, void *ctx, struct hw_error *err);

/* ---- verify ---- */
struct snap_verify_opts {
	double percent;             /* of the segments, least recently verified first; 100: all */
};
struct snap_verify_result {
	uint64_t segments, members, bytes;
	uint64_t bad_segments, bad_members;
	uint64_t total_segments;
};
/* reports each bad segment through fn (may be NULL) and hw_diag_error */
typedef void snap_verify_fn(void *ctx, const char *pack, uint64_t offset, const char *error,
			    const char *const *affected, size_t naffected);
int snap_verify(struct snap_repo *r, const struct snap_verify_opts *o, snap_verify_fn *fn,
		void *ctx, struct snap_verify_result *res, struct hw_error *err);

/* ---- prune ---- */
struct snap_prune_opts {
	int keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly;  /* 0: rule off */
	int64_t keep_within;        /* seconds; 0: off */
	bool dry_run;
	double repack_below;        /* rewrite packs whose live share is below this (0..1) */
	int jobs;
};
struct snap_prune_result {
	uint64_t kept, removed;
	uint64_t packs_deleted, packs_rewritten;
	uint64_t bytes_freed;
};
/* fn is called for every snapshot, newest first, with the rule that keeps it
   ("last", "hourly", "daily", "weekly", "monthly", "within") or NULL */
typedef void snap_prune_fn(void *ctx, const struct snap_info *s, const char *rule);
int snap_prune(struct snap_repo *r, const struct snap_prune_opts *o, snap_prune_fn *fn, void *ctx,
	       struct snap_prune_result *res, struct hw_error *err);

/* ---- helpers for the command line ----
 * A time: "@1700000000" (unix seconds), "2026-11-29", "2026-11-29T09:13",
 * "2026-11-29 09:13:05" (local time; a trailing 'Z' means UTC), or a
 * duration ("90m", "2d", "1w") meaning that long before now. 1 ok, 0 bad. */
int snap_parse_time(const char *s, int64_t now, int64_t *t_r);
/* the repository directory: dir when given, else STATE/snapshots; malloc'd */
char *snap_repo_default(const char *statedir, const char *dir);

#endif
