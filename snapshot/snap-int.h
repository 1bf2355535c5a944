/* snap-int.h - shared between the files of snapshot/ (not a public header) */
#ifndef HW_SNAPSHOT_INT_H
#define HW_SNAPSHOT_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

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

/* Buffers for small files, cut from shared 4 MB chunks (rbuf.c): a thread
   fills its cursor's chunk, any thread lets a buffer go; a chunk goes back
   to the pool when its last buffer is let go.
     struct snap_rpool pool;  snap_rpool_init(&pool);
     struct snap_rcursor cur = { &pool, NULL };        one per thread
     p = snap_rcursor_take(&cur, n, &chunk);           NULL: use malloc
     ... snap_rbuf_release(&buf, &chunk);              malloc'd or cut
     snap_rcursor_end(&cur);                           the thread is done
     snap_rpool_trim(&pool);                           optional: unmap the idle
     snap_rpool_destroy(&pool);                        every buffer let go */
#define SNAP_RCHUNK_BYTES ((size_t)4 << 20)
#define SNAP_RBUF_MAX ((size_t)256 << 10)   /* larger: malloc */
struct snap_rchunk;
struct snap_rpool {
	pthread_mutex_t mu;
	struct snap_rchunk *free, *all;
	size_t nall;                /* chunks mapped over the pool's life */
};
struct snap_rcursor {
	struct snap_rpool *pool;
	struct snap_rchunk *cur;
};
void snap_rpool_init(struct snap_rpool *p);
void snap_rpool_destroy(struct snap_rpool *p);
/* unmap the chunks no buffer uses now (any thread; the pool stays usable) */
void snap_rpool_trim(struct snap_rpool *p);
char *snap_rcursor_take(struct snap_rcursor *cur, size_t n, struct snap_rchunk **chunk_r);
void snap_rcursor_end(struct snap_rcursor *cur);
void snap_rchunk_put(struct snap_rchunk *ch);
/* b let go: back to its chunk (*chunk set) or freed */
void snap_rbuf_release(struct hw_buf *b, struct snap_rchunk **chunk);
/* the whole of an open file whose fstat said size, into b (empty): a small
   one into cur's chunk (*chunk_r set) by one read that sees the end;
   anything else (no cursor, larger, grown or shrunk since) by snap_read_fd,
   into malloc'd memory. dir/name: for an error */
int snap_rbuf_read(int fd, struct snap_rcursor *cur, size_t size, struct hw_buf *b,
		   struct snap_rchunk **chunk_r, const char *dir, const char *name,
		   struct hw_error *err);

/* read the whole of an open file, from its start whatever its offset;
   dir/name: its path, for an error */
int snap_read_fd(int fd, const char *dir, const char *name, size_t size_hint, struct hw_buf *b,
		 struct hw_error *err);

/* prepared statement helpers: the catalog's cache, errors named */
sqlite3_stmt *snap_stmt(struct snap_repo *r, const char *sql, struct hw_error *err);
int snap_step_done(struct snap_repo *r, sqlite3_stmt *s, const char *what, struct hw_error *err);
/* rows 0 .. n-1 by "HEAD (?,..),(?,..),..." statements of SNAP_ROWS_PER rows
   (a statement's step costs more than a row it inserts), the rest one by
   one; bind(s, p, i, ctx) binds row i's ncols values from parameter p on */
#define SNAP_ROWS_PER 32
typedef void snap_bind_row_fn(sqlite3_stmt *s, int p, size_t i, void *ctx);
int snap_insert_rows(struct snap_repo *r, const char *head, int ncols, size_t n,
		     snap_bind_row_fn *bind, void *ctx, const char *what, struct hw_error *err);
/* the first id of the segments not yet in the catalog (max(id) + 1): a
   writer that holds the repository lock and its transaction can refer to
   its pack's segment i as that + i before their rows exist */
int snap_next_segment_id(struct snap_repo *r, int64_t *id_r, struct hw_error *err);
/* a finished pack and its segments into the catalog (in the caller's
   transaction): segment i gets id *seg_base + i; *seg_base 0: the next free
   ids, returned there */
int snap_pack_register(struct snap_repo *r, struct snap_pack_writer *w, int64_t *seg_base,
		       int64_t *pack_id_r, struct hw_error *err);

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

/* Schema 3's member name of a blob row (SQL, B its alias), for the
   migration to schema 4 only */
#define SNAP_MEMBER3(B) "coalesce(nullif(" B ".member, ''), (SELECT mp.relpath || '/' ||" \
	" mf.name FROM snap_file mf JOIN snap_path mp ON mp.id = mf.path_id" \
	" WHERE mf.id = " B ".file_id))"

/* ---- schema 4 (records.c): record sets and folder listings ---- */

/* an immutable file record (one entry of a record set) */
struct snap_rec {
	const char *name;
	int kind;                   /* SNAP_KIND_* */
	uint8_t hash[16];
	int64_t size, mtime_ns, ino, date;
	const char *from, *subject, *message_id;   /* NULL: none */
};
/* a decoded snap_rset row: the records of one folder new in one snapshot */
struct snap_rset {
	int64_t id, path_id, snap_id;
	size_t n;
	struct snap_rec *v;
	char *text;                 /* the strings of v */
};
/* one file of a folder version: a record and its UID and flags */
struct snap_lent {
	int64_t rset_id;
	uint32_t idx;
	uint32_t uid;
	uint8_t flags;
};
/* compressed blobs (format byte + zstd frame): -1 on error */
int snap_rset_encode(const struct snap_rec *v, size_t n, struct hw_buf *out, struct hw_error *err);
int snap_rset_decode(const void *z, size_t zlen, struct snap_rset *rs, struct hw_error *err);
void snap_rset_release(struct snap_rset *rs);
int snap_listing_encode(const struct snap_lent *v, size_t n, struct hw_buf *out,
			struct hw_error *err);
int snap_listing_decode(const void *z, size_t zlen, struct snap_lent **v_r, size_t *n_r,
			struct hw_error *err);
/* the identities (name, ino, size, mtime_ns) of a folder version's other
   files (snap_fver.others, uncompressed); decode: 0 ok, -1 damaged */
void snap_others_encode(const struct snap_rec *v, size_t n, struct hw_buf *out);
int snap_others_decode(const void *b, size_t len, struct snap_rset *rs);
/* from the catalog */
int snap_rset_load(struct snap_repo *r, int64_t id, struct snap_rset *rs, struct hw_error *err);
int snap_fver_listing(struct snap_repo *r, int64_t fver_id, struct snap_lent **v_r, size_t *n_r,
		      struct hw_error *err);
/* decoded record sets, loaded on first use */
struct snap_rcache {
	struct snap_hmap map;
	struct snap_rset **v;
	size_t n, cap;
};
void snap_rcache_init(struct snap_rcache *c);
void snap_rcache_release(struct snap_rcache *c);
const struct snap_rset *snap_rcache_get(struct snap_repo *r, struct snap_rcache *c, int64_t id,
					struct hw_error *err);
/* the record a listing entry refers to; NULL (err filled) if damaged */
const struct snap_rec *snap_rcache_rec(struct snap_repo *r, struct snap_rcache *c,
				       const struct snap_lent *e, struct hw_error *err);
/* a map keyed by record reference (rset_id, idx) */
void snap_refset_put(struct snap_hmap *m, int64_t rset_id, uint32_t idx, int64_t value);
int64_t *snap_refset_get(struct snap_hmap *m, int64_t rset_id, uint32_t idx);
/* what the snapshots hold of one folder path: every record a folder
   version in some snapshot refers to, with its first and last snapshot */
struct snap_held {
	const struct snap_rec *rec;
	int64_t rset_id;
	uint32_t idx;
	int64_t first_snap, last_snap;
	uint32_t uid;               /* in last_snap */
	uint8_t flags;
};
struct snap_held_path {
	char *relpath;              /* loaded for this path; NULL: nothing */
	int64_t path_id;            /* 0: a path the repository never saw */
	struct snap_rcache rc;
	struct snap_held *v;        /* by name, then newest first */
	size_t n;
	struct snap_hmap byref, byhash;
};
void snap_held_init(struct snap_held_path *hp);
void snap_held_release(struct snap_held_path *hp);
/* load (unless that path is loaded already); 0 ok, -1 error */
int snap_held_load(struct snap_repo *r, struct snap_held_path *hp, const char *relpath,
		   struct hw_error *err);
const struct snap_held *snap_held_by_name(struct snap_held_path *hp, const char *name, size_t *n_r);
const struct snap_held *snap_held_by_ref(struct snap_held_path *hp, int64_t rset_id, uint32_t idx);
const struct snap_held *snap_held_by_hash(struct snap_held_path *hp, const uint8_t hash[16]);
/* snap_path id of a relpath: 1 found, 0 none (*id_r 0), -1 error */
int snap_path_id(struct snap_repo *r, const char *relpath, int64_t *id_r, struct hw_error *err);
/* is this content in a pack? */
int snap_blob_stored(struct snap_repo *r, const uint8_t hash[16], bool *stored_r,
		     struct hw_error *err);
/* the message records holding a Message-ID (id, or other: the same with
   or without angle brackets), by folder path */
struct snap_mref {
	int64_t path_id;
	int64_t rset_id;
	uint32_t idx;
};
int snap_msgid_refs(struct snap_repo *r, const char *id, const char *other,
		    struct snap_mref **v_r, size_t *n_r, struct hw_error *err);
/* SQL snap_migrate_v4() (user data: the repository): schema 3 -> 4 */
void snap_sql_migrate_v4(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* {name, CREATE INDEX ...} of the indexes a first snapshot builds at the end */
extern const char *const snap_bulk_indexes[][2];
extern const size_t snap_nbulk_indexes;

/* snap_segment.verified_at of a segment the last verify found damaged:
   its content covers nothing and counts as not held until a verify reads
   it whole again */
#define SNAP_SEGMENT_BAD (-1)
/* ... and a create of the whole store has since stored again whatever of
   its content the live store still had: the next creates need not look
   at unchanged folders for it (any verified_at < 0 is damaged) */
#define SNAP_SEGMENT_BAD_REPAIRED (-2)
/* the WHERE of a snap_blob row (b) whose content is restorable as far as
   the catalog knows: not marked missing (uoff -1, from the 3 -> 4
   upgrade), in a segment not found damaged */
#define SNAP_BLOB_HELD_SQL \
	" b.uoff >= 0 AND NOT EXISTS (SELECT 1 FROM snap_segment g WHERE g.id = b.segment_id" \
	" AND g.verified_at < 0)"   /* SNAP_SEGMENT_BAD */

/* is this relpath (from the catalog) safe to create below a target? */
bool snap_relpath_safe(const char *relpath);

#endif
