/* snap-int.h - shared between the files of snapshot/ (not a public header) */
#ifndef HW_SNAPSHOT_INT_H
#define HW_SNAPSHOT_INT_H

#include <sqlite3.h>

#include "pack.h"
#include "snapshot.h"
#include "util.h"

#define SNAP_KIND_MESSAGE 1
#define SNAP_KIND_FILE 2

struct snap_repo {
	char *path;
	char *packs_path;
	int dirfd;
	int packs_fd;
	int lock_fd;                /* writer lock, -1 if not held */
	int packs_lock_fd;          /* pack lock, -1 if not held */
	struct hw_catalog *cat;
};

/* shared/exclusive lock on REPO/packs.lock (blocking): readers shared,
   pack deleters exclusive */
int snap_packs_lock(struct snap_repo *r, bool exclusive, struct hw_error *err);
void snap_packs_unlock(struct snap_repo *r);

/* read the whole of an open file */
int snap_read_fd(int fd, const char *display, size_t size_hint, struct hw_buf *b,
		 struct hw_error *err);

/* prepared statement helpers: the catalog's cache, errors named */
sqlite3_stmt *snap_stmt(struct snap_repo *r, const char *sql, struct hw_error *err);
int snap_step_done(struct snap_repo *r, sqlite3_stmt *s, const char *what, struct hw_error *err);

/* a hash -> value map (open addressing) over 16-byte content hashes */
struct snap_hmap {
	struct snap_hmap_slot {
		uint8_t key[16];
		bool used;
		int64_t value;
	} *v;
	size_t cap, n;
};
void snap_hmap_init(struct snap_hmap *m);
void snap_hmap_release(struct snap_hmap *m);
/* returns the slot value pointer, NULL if absent */
int64_t *snap_hmap_get(struct snap_hmap *m, const uint8_t key[16]);
void snap_hmap_put(struct snap_hmap *m, const uint8_t key[16], int64_t value);

/* 64-bit hash of a Message-ID, angle brackets ignored (snap_file.msgid_h;
   SQL: snap_msgid_h(text)) */
int64_t snap_msgid_hash(const char *id, size_t len);

/* The member name of a blob row (SQL, B its alias): stored as text only
   when it is not the path of the file record the content was stored from
   (file_id): e.g. after prune renamed it, or dropped that record */
#define SNAP_MEMBER(B) "coalesce(nullif(" B ".member, ''), (SELECT mp.relpath || '/' ||" \
	" mf.name FROM snap_file mf JOIN snap_path mp ON mp.id = mf.path_id" \
	" WHERE mf.id = " B ".file_id))"

/* {name, CREATE INDEX ...} of the indexes a first snapshot builds at the end */
extern const char *const snap_bulk_indexes[][2];
extern const size_t snap_nbulk_indexes;

/* is this relpath (from the catalog) safe to create below a target? */
bool snap_relpath_safe(const char *relpath);

#endif
