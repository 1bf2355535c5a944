/*
 * pack.h - snapshot packs (internal to snapshot/).
 *
 * A pack is one file, "pack-<16 hex>.tar.zst", written once and never
 * changed. It is a concatenation of segments; each segment is one complete
 * zstd frame holding a run of whole tar (GNU format) members. Only the last segment
 * ends with the tar end-of-archive blocks, so the decompressed pack is one
 * ordinary tar stream:
 *     zstd -dc pack-....tar.zst | tar -xf -      bsdtar -xf pack-....tar.zst
 * and any one segment can be decompressed alone from its offset (a tar
 * stream that ends at a member boundary without the end blocks, which
 * libarchive reads as a complete archive).
 *
 * Writer:
 *   struct snap_pack_writer *w;
 *   snap_pack_writer_new(dirfd, "REPO/packs", jobs, level, seg_bytes, &w, err);
 *   snap_pack_writer_add(w, "example.com/bob/md50000000001.msg", data, len, mtime, &seg, err);
 *   snap_pack_writer_finish(w, err);        // temp + fsync + rename + dir fsync
 *   snap_pack_writer_name(w), snap_pack_writer_segments(w, &n) -> offsets
 *   snap_pack_writer_free(&w);              // removes the temp if not finished
 * Segments are compressed by 'jobs' worker threads and written in order.
 *
 * Reader: snap_segment_read() reads one segment and calls back for every
 * member, refusing (error) any member that is not a plain file or whose name
 * is absolute or holds a ".." component: such a pack is never trusted.
 *
 * Errors follow core/error.h: -1 with err filled, >= 0 ok.
 */
#ifndef HW_SNAPSHOT_PACK_H
#define HW_SNAPSHOT_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "util.h"

#define SNAP_PACK_PREFIX "pack-"
#define SNAP_PACK_SUFFIX ".tar.zst"
#define SNAP_SEG_BYTES (4u << 20)     /* uncompressed bytes per segment, target */
#define SNAP_ZSTD_LEVEL 3
/* a segment's frame: level 3 with a window of the whole segment (zstd
   takes 2 MB for 4 MB at level 3) and a shorter match chain (16 -> 15).
   On the Enron store's pack stream (195 MB, sorted), one thread: level 3
   as is 0.364 s and 30.78 MB; window 22 0.350 s, 30.63 MB; window 22 and
   chain 15 0.338 s, 30.74 MB; chain 14 0.322 s, 30.85 MB (too near the
   size target: 1.049x tar --zstd with the catalog) */
#define SNAP_SEG_WINDOW_LOG 22
#define SNAP_SEG_CHAIN_LOG 15
/* the largest member a pack holds (and a reader accepts); a segment's
   compressed size may exceed it by zstd's bound and its tar headers */
#define SNAP_MEMBER_MAX ((uint64_t)1 << 34)
#define SNAP_SEGMENT_CMAX (SNAP_MEMBER_MAX + (SNAP_MEMBER_MAX >> 7) + ((uint64_t)64 << 20))

struct snap_seg_info {
	uint64_t offset;     /* in the pack file */
	uint64_t clen;       /* compressed bytes */
	uint64_t ulen;       /* tar bytes inside */
	uint32_t members;
	struct hw_hash csum; /* XXH3-128 of the compressed bytes */
};

struct snap_pack_writer;

int snap_pack_writer_new(int dirfd, const char *dirpath, int jobs, int level, size_t seg_bytes,
			 struct snap_pack_writer **w_r, struct hw_error *err);
/* append a member; *seg_r = the index of the segment that holds it */
int snap_pack_writer_add(struct snap_pack_writer *w, const char *member, const void *data,
			 size_t len, int64_t mtime, uint32_t *seg_r, struct hw_error *err);
/* the same, and *uoff_r = where the member's header starts in the
   segment's (uncompressed) tar stream */
int snap_pack_writer_add_at(struct snap_pack_writer *w, const char *member, const void *data,
			    size_t len, int64_t mtime, uint32_t *seg_r, uint64_t *uoff_r,
			    struct hw_error *err);
/* members added so far (0 means finish would write an empty pack) */
size_t snap_pack_writer_count(const struct snap_pack_writer *w);
uint64_t snap_pack_writer_bytes(const struct snap_pack_writer *w);
int snap_pack_writer_finish(struct snap_pack_writer *w, struct hw_error *err);
const char *snap_pack_writer_name(const struct snap_pack_writer *w);
const struct snap_seg_info *snap_pack_writer_segments(const struct snap_pack_writer *w,
							size_t *n_r);
uint64_t snap_pack_writer_size(const struct snap_pack_writer *w);
void snap_pack_writer_free(struct snap_pack_writer **w);

/* a pack file name as we write them? */
bool snap_pack_name_ok(const char *name);

/* called for each member of a segment; return 0 to go on, 1 to stop early,
   -1 to fail (err filled by the callback) */
typedef int snap_member_fn(void *ctx, const char *name, const void *data, size_t len,
			   struct hw_error *err);

/* read one segment of an open pack and walk its members; -1 on any error
   (read, decompression, a refused member, the callback's) */
int snap_segment_read(int packfd, const char *packpath, uint64_t offset, uint64_t clen,
		      const struct hw_hash *csum, snap_member_fn *fn, void *ctx,
		      struct hw_error *err);

/* the same walk, telling each member's offset in the segment's tar stream
   (where its first header block starts, long-name record included) */
typedef int snap_member_at_fn(void *ctx, const char *name, uint64_t uoff, const void *data,
			      size_t len, struct hw_error *err);
int snap_segment_walk(int packfd, const char *packpath, uint64_t offset, uint64_t clen,
		      const struct hw_hash *csum, snap_member_at_fn *fn, void *ctx,
		      struct hw_error *err);

/* one zstd frame of raw bytes, appended to out; segment: a pack segment's
   parameters (SNAP_SEG_*_LOG), else level's as zstd sizes them to len;
   0 ok, -1 with errmsg filled */
int snap_zstd_frame(const void *raw, size_t len, int level, bool segment, struct hw_buf *out,
		    char *errmsg, size_t errsize);
/* decompress a zstd frame into out (at most max bytes); 0 ok, -1 error
   (EBADMSG: not a good frame) */
int snap_unzstd(const void *z, size_t zlen, size_t max, struct hw_buf *out, struct hw_error *err);

/* true if a member name is safe to use below a target directory: relative,
   no empty, "." or ".." component, no backslash (a Windows separator) */
bool snap_member_name_safe(const char *name);
/* the same for a store path, where a backslash is an ordinary character
   (a Linux file name may hold one; hiwater opens paths one component at a
   time, so it never separates anything) */
bool snap_store_path_safe(const char *relpath);
/* the name the pack writer gives a member for this store path: NULL when
   it is the path itself, else the path with each backslash written "%5C"
   (malloc'd), so that the member passes snap_member_name_safe (members are
   found by offset; the name is for standard tools) */
char *snap_member_name(const char *path);

#endif
