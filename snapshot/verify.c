/* verify.c - hiwater snapshot verify: re-read packs, check every member
   against its content hash and the catalog, rolling over the repository */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snap-int.h"

struct vblob {
	int64_t uoff;
	uint8_t hash[16];
	int64_t size;
	bool seen, bad;
};

struct vseg {
	int64_t id, offset, clen;
	char *pack;
	struct hw_hash csum;
	struct vblob *b;            /* the blobs the catalog puts there */
	size_t nb, cap_b;
	bool damaged;               /* found so by this run */
};

struct vctx {
	struct vblob *b;
	size_t n;
	uint64_t members, bytes;
};

static int on_member(void *ctx, const char *name, uint64_t uoff, const void *data, size_t len,
		     struct hw_error *err)
{
	struct vctx *vc = ctx;
	struct hw_hash h;

	(void)err;
	(void)name;
	vc->members++;
	vc->bytes += len;
	for (size_t i = 0; i < vc->n; i++) {
		if (vc->b[i].seen || (uint64_t)vc->b[i].uoff != uoff)
			continue;
		hw_hash_buf(data, len, &h);
		vc->b[i].seen = true;
		vc->b[i].bad = memcmp(h.b, vc->b[i].hash, 16) != 0 || (int64_t)len != vc->b[i].size;
		break;
	}
	return 0;
}

/* the files (folder/name) of every snapshot that hold one of these blobs:
   every record set is decoded (only after damage was found) */
static int affected_files(struct snap_repo *r, const struct vblob *b, size_t n, bool only_bad,
			  char ***v_r, size_t *n_r, struct hw_error *err)
{
	struct snap_hmap want, seen;
	char **v = NULL;
	size_t nv = 0, cap = 0;
	sqlite3_stmt *s;
	int rc, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	snap_hmap_init(&want);
	snap_hmap_init(&seen);
	for (size_t i = 0; i < n; i++)
		if (!only_bad || b[i].bad || !b[i].seen)
			snap_hmap_put(&want, b[i].hash, 1);
	s = snap_stmt(r, "SELECT r.data, p.relpath FROM snap_rset r"
		      " JOIN snap_path p ON p.id = r.path_id", err);
	if (s == NULL || want.n == 0)
		goto done;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct snap_rset set;
		struct hw_error derr;
		if (snap_rset_decode(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
				     &set, &derr) < 0)
			continue;
		for (size_t i = 0; i < set.n; i++) {
			struct hw_hash nh;
			char *f;
			if (snap_hmap_get(&want, set.v[i].hash) == NULL)
				continue;
			f = hw_asprintf("%s/%s", sqlite3_column_text(s, 1), set.v[i].name);
			hw_hash_buf(f, strlen(f), &nh);
			if (snap_hmap_get(&seen, nh.b) != NULL) {
				free(f);
				continue;
			}
			snap_hmap_put(&seen, nh.b, 1);
			HW_GROW(v, cap, nv + 1);
			v[nv++] = f;
		}
		snap_rset_release(&set);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "affected files", err);
		goto out;
	}
done:
	if (s == NULL)
		goto out;
	*v_r = v;
	*n_r = nv;
	v = NULL;
	ret = 0;
out:
	for (size_t i = 0; v != NULL && i < nv; i++)
		free(v[i]);
	free(v);
	snap_hmap_release(&want);
	snap_hmap_release(&seen);
	return ret;
}

/* the blobs of the segments to verify: one scan of snap_blob (it has no
   index by segment: verify is rare) */
static int load_blobs(struct snap_repo *r, struct vseg *segs, size_t nseg, struct hw_error *err)
{
	struct snap_hmap byid;
	sqlite3_stmt *s;
	int rc, ret = -1;

	snap_hmap_init(&byid);
	for (size_t i = 0; i < nseg; i++)
		snap_refset_put(&byid, segs[i].id, 0, (int64_t)i);
	s = snap_stmt(r, "SELECT segment_id, hash, uoff, size FROM snap_blob", err);
	if (s == NULL)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t *at = snap_refset_get(&byid, sqlite3_column_int64(s, 0), 0);
		struct vseg *g;
		if (at == NULL)
			continue;
		g = &segs[*at];
		HW_GROW(g->b, g->cap_b, g->nb + 1);
		memset(&g->b[g->nb], 0, sizeof(g->b[0]));
		if (sqlite3_column_bytes(s, 1) == 16)
			memcpy(g->b[g->nb].hash, sqlite3_column_blob(s, 1), 16);
		g->b[g->nb].uoff = sqlite3_column_int64(s, 2);
		g->b[g->nb].size = sqlite3_column_int64(s, 3);
		g->nb++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "segment blobs", err);
		goto out;
	}
	ret = 0;
out:
	snap_hmap_release(&byid);
	return ret;
}

int snap_verify(struct snap_repo *r, const struct snap_verify_opts *o, snap_verify_fn *fn,
		void *ctx, struct snap_verify_result *res, struct hw_error *err)
{
	struct vseg *segs = NULL;
	size_t nseg = 0, cap = 0, want;
	sqlite3_stmt *s;
	int rc, ret = -1;
	int packfd = -1;
	char *packname = NULL;

	memset(res, 0, sizeof(*res));
	/* shared from before the first catalog read: a prune that repacks
	   meanwhile commits a catalog naming its new pack, but cannot unlink a
	   pack named by what was read here until this is done */
	if (snap_packs_lock(r, false, err) <= 0)
		return -1;
	s = snap_stmt(r, "SELECT count(*) FROM snap_segment", err);
	if (s == NULL)
		goto out;
	if (sqlite3_step(s) == SQLITE_ROW)
		res->total_segments = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	want = (size_t)ceil((double)res->total_segments * (o->percent > 0 ? o->percent : 100) / 100.0);
	/* least recently verified first: successive sampled runs cover it all;
	   damaged ones first, but those whose content create has stored again
	   (SNAP_SEGMENT_BAD_REPAIRED) last */
	s = snap_stmt(r, "SELECT g.id, g.offset, g.clen, g.csum, k.name FROM snap_segment g"
		      " JOIN snap_pack k ON k.id = g.pack_id ORDER BY g.verified_at = ?, g.verified_at,"
		      " g.id LIMIT ?", err);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, SNAP_SEGMENT_BAD_REPAIRED);
	sqlite3_bind_int64(s, 2, (int64_t)want);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(segs, cap, nseg + 1);
		struct vseg *v = &segs[nseg++];
		memset(v, 0, sizeof(*v));
		v->id = sqlite3_column_int64(s, 0);
		v->offset = sqlite3_column_int64(s, 1);
		v->clen = sqlite3_column_int64(s, 2);
		if (sqlite3_column_bytes(s, 3) == 16)
			memcpy(v->csum.b, sqlite3_column_blob(s, 3), 16);
		v->pack = hw_strdup((const char *)sqlite3_column_text(s, 4));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "segments", err);
		goto out;
	}
	if (load_blobs(r, segs, nseg, err) < 0)
		goto out;
	for (size_t i = 0; i < nseg; i++) {
		struct vseg *v = &segs[i];
		struct vctx vc = { 0 };
		struct hw_error serr;
		char *path = hw_path_join(r->packs_path, v->pack);
		bool bad = false;
		const char *why = NULL;
		char whybuf[HW_ERROR_MAX];

		vc.b = v->b;
		vc.n = v->nb;
		if (packname == NULL || strcmp(packname, v->pack) != 0) {
			if (packfd >= 0)
				close(packfd);
			free(packname);
			packname = hw_strdup(v->pack);
			packfd = openat(r->packs_fd, v->pack, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (packfd < 0) {
			hw_error_sys(&serr, "open", path);
			bad = true;
		} else if (snap_segment_walk(packfd, path, (uint64_t)v->offset, (uint64_t)v->clen,
					     &v->csum, on_member, &vc, &serr) < 0) {
			bad = true;
		}
		res->segments++;
		res->members += vc.members;
		res->bytes += vc.bytes;
		if (bad) {
			why = serr.msg;
		} else {
			size_t nbad = 0, missing = 0;
			for (size_t k = 0; k < vc.n; k++) {
				nbad += vc.b[k].bad;
				missing += !vc.b[k].seen;
			}
			if (nbad + missing > 0) {
				snprintf(whybuf, sizeof(whybuf), "%zu member(s) differ from their hash, "
					 "%zu missing", nbad, missing);
				why = whybuf;
				res->bad_members += nbad + missing;
			}
		}
		if (why != NULL) {
			char **aff = NULL;
			size_t naff = 0;
			if (bad)
				res->bad_segments++;
			if (affected_files(r, vc.b, vc.n, !bad, &aff, &naff, err) < 0) {
				free(path);
				goto out;
			}
			hw_diag_error("%s at offset %lld: %s (%zu file(s) affected)", path,
				      (long long)v->offset, why, naff);
			if (fn != NULL)
				fn(ctx, v->pack, (uint64_t)v->offset, why, (const char *const *)aff, naff);
			for (size_t k = 0; k < naff; k++)
				free(aff[k]);
			free(aff);
			v->damaged = true;
		}
		free(path);
	}
	snap_packs_unlock(r);
	/* Remember what was checked. A bad segment gets verified_at -1: it
	   stays first in line, and until a later run reads it whole again its
	   content neither covers a live message (purge keeps the message) nor
	   counts as held (snapshot create stores it again when it reads it;
	   the first create of the whole store after this looks in every folder
	   that held it, and marks it SNAP_SEGMENT_BAD_REPAIRED, which a segment
	   still damaged keeps) */
	if (nseg > 0) {
		int64_t now = hw_now_ns() / 1000000000LL;
		if (hw_catalog_begin(r->cat, err) < 0)
			goto out;
		for (size_t i = 0; i < nseg; i++) {
			/* a damaged one keeps the mark the catalog has now (a
			   create may have set SNAP_SEGMENT_BAD_REPAIRED while this
			   run read the packs) */
			s = snap_stmt(r, segs[i].damaged ?
				      "UPDATE snap_segment SET verified_at = CASE WHEN verified_at < 0"
				      " THEN verified_at ELSE ? END WHERE id = ?" :
				      "UPDATE snap_segment SET verified_at = ? WHERE id = ?", err);
			if (s == NULL) {
				hw_catalog_rollback(r->cat);
				goto out;
			}
			sqlite3_bind_int64(s, 1, segs[i].damaged ? SNAP_SEGMENT_BAD : now);
			sqlite3_bind_int64(s, 2, segs[i].id);
			if (snap_step_done(r, s, "verified", err) < 0) {
				hw_catalog_rollback(r->cat);
				goto out;
			}
		}
		if (hw_catalog_commit(r->cat, err) < 0)
			goto out;
	}
	ret = 1;
out:
	snap_packs_unlock(r);
	if (packfd >= 0)
		close(packfd);
	free(packname);
	for (size_t i = 0; i < nseg; i++) {
		free(segs[i].pack);
		free(segs[i].b);
	}
	free(segs);
	return ret;
}
