/* prune.c - hiwater snapshot prune: retention rules, then space reclaimed by
   deleting dead packs and rewriting packs whose live share fell low */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "io.h"
#include "snap-int.h"

static void bucket(int64_t created_ns, const char *fmt, char *buf, size_t size)
{
	time_t t = (time_t)(created_ns / 1000000000LL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, size, fmt, &tm);
}

/* which rule keeps each snapshot (v sorted newest first); NULL: removed */
static void apply_rules(const struct snap_prune_opts *o, const struct snap_info *v, size_t n,
			int64_t now, const char **rule)
{
	static const struct { const char *name, *fmt; } per[] = {
		{ "hourly", "%Y-%m-%d %H" }, { "daily", "%Y-%m-%d" },
		{ "weekly", "%G-%V" }, { "monthly", "%Y-%m" },
	};
	const int counts[4] = { o->keep_hourly, o->keep_daily, o->keep_weekly, o->keep_monthly };

	for (size_t i = 0; i < n; i++) {
		rule[i] = NULL;
		if ((int64_t)i < o->keep_last)
			rule[i] = "last";
	}
	for (int k = 0; k < 4; k++) {
		char last[32] = "", cur[32];
		int kept = 0;
		if (counts[k] <= 0)
			continue;
		/* the newest snapshot of each period, for the newest N periods */
		for (size_t i = 0; i < n && kept < counts[k]; i++) {
			bucket(v[i].created_ns, per[k].fmt, cur, sizeof(cur));
			if (strcmp(cur, last) == 0)
				continue;
			hw_strlcpy(last, cur, sizeof(last));
			kept++;
			if (rule[i] == NULL)
				rule[i] = per[k].name;
		}
	}
	if (o->keep_within > 0)
		for (size_t i = 0; i < n; i++)
			if (rule[i] == NULL && v[i].created_ns / 1000000000LL >= now - o->keep_within)
				rule[i] = "within";
}

static int exec(struct snap_repo *r, const char *sql, struct hw_error *err)
{
	return hw_catalog_exec(r->cat, sql, err);
}

static int durable_commit(struct snap_repo *r, struct hw_error *err)
{
	/* the repository catalog always commits with synchronous=FULL */
	return hw_catalog_commit(r->cat, err) < 0 ? -1 : 0;
}

static int unlink_pack(struct snap_repo *r, const char *name, struct hw_error *err)
{
	/* readers hold the shared lock while they read packs */
	if (snap_packs_lock(r, true, err) <= 0)
		return -1;
	if (hw_io_unlinkat(r->packs_fd, name, 0) < 0 && errno != ENOENT) {
		char *p = hw_path_join(r->packs_path, name);
		hw_error_sys(err, "unlink", p);
		free(p);
		snap_packs_unlock(r);
		return -1;
	}
	/* the catalog no longer lists the pack: a pack that comes back after
	   a crash is only garbage for the next gc, so this is a warning */
	{
		struct hw_error ferr;
		if (hw_fsync_dir(r->packs_fd, r->packs_path, &ferr) < 0)
			hw_diag_warn("%s", ferr.msg);
	}
	snap_packs_unlock(r);
	return 0;
}

struct pack_use {
	int64_t id;
	char *name;
	int64_t size, total, live;
	/* segments verify found damaged: with blobs still there / without
	   (their content stored again by create, or no longer needed) */
	bool damaged_live, damaged_dead;
};

struct live_blob {
	uint8_t hash[16];
	int64_t seg_off, uoff;      /* where it is now */
	int64_t size;
	bool moved;
	uint32_t new_seg;
	uint64_t new_uoff;
	char *new_member;
};

struct repack_ctx {
	struct live_blob *b;
	size_t n;
	struct snap_hmap at;        /* (segment offset, uoff) -> index in b */
	int64_t cur_seg;            /* offset of the segment being read */
	struct snap_pack_writer *w;
	struct snap_hmap names;     /* member names used in the new pack (hashed) */
	int failed;
};

static int on_live_member(void *ctx, const char *name, uint64_t uoff, const void *data,
			  size_t len, struct hw_error *err)
{
	struct repack_ctx *rc = ctx;
	int64_t *at = uoff < UINT32_MAX ? snap_refset_get(&rc->at, rc->cur_seg, (uint32_t)uoff) :
		      NULL;

	if (at != NULL) {
		struct live_blob *b = &rc->b[*at];
		struct hw_hash h, nh;
		if (b->moved)
			return 0;
		hw_hash_buf(data, len, &h);
		if (memcmp(h.b, b->hash, 16) != 0)
			return hw_error_set(err, EIO, "member %s does not match its hash", name);
		/* members of several packs meet here: keep names unique */
		hw_hash_buf(name, strlen(name), &nh);
		if (snap_hmap_get(&rc->names, nh.b) != NULL) {
			char hex[33];
			hw_hash_hex(&h, hex);
			b->new_member = hw_asprintf("%s~%.8s", name, hex);
			hw_hash_buf(b->new_member, strlen(b->new_member), &nh);
		} else {
			b->new_member = hw_strdup(name);
		}
		snap_hmap_put(&rc->names, nh.b, 1);
		if (snap_pack_writer_add_at(rc->w, b->new_member, data, len, 0, &b->new_seg,
					    &b->new_uoff, err) < 0)
			return -1;
		b->moved = true;
	}
	return 0;
}

/* rewrite one pack with only its live blobs; commit; then unlink the old */
static int repack(struct snap_repo *r, const struct pack_use *pu, int jobs, uint64_t *freed,
		  struct hw_error *err)
{
	struct repack_ctx rc = { 0 };
	size_t cap = 0;
	int64_t seg_base = 0, new_pack;
	sqlite3_stmt *s;
	char *path = hw_path_join(r->packs_path, pu->name);
	int packfd = -1, ret = -1, rcode;
	bool in_tx = false;
	struct { int64_t off, clen; struct hw_hash csum; } *segs = NULL;
	size_t nsegs = 0, cap_segs = 0;

	snap_hmap_init(&rc.names);
	snap_hmap_init(&rc.at);
	s = snap_stmt(r, "SELECT b.hash, b.uoff, b.size, g.offset, g.clen, g.csum"
		      " FROM snap_blob b"
		      " JOIN snap_segment g ON g.id = b.segment_id WHERE g.pack_id = ?"
		      " ORDER BY g.offset", err);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, pu->id);
	while ((rcode = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(rc.b, cap, rc.n + 1);
		struct live_blob *b = &rc.b[rc.n++];
		memset(b, 0, sizeof(*b));
		memcpy(b->hash, sqlite3_column_blob(s, 0), 16);
		b->uoff = sqlite3_column_int64(s, 1);
		b->size = sqlite3_column_int64(s, 2);
		int64_t off = sqlite3_column_int64(s, 3);
		b->seg_off = off;
		if (nsegs == 0 || segs[nsegs - 1].off != off) {
			HW_GROW(segs, cap_segs, nsegs + 1);
			segs[nsegs].off = off;
			segs[nsegs].clen = sqlite3_column_int64(s, 4);
			memcpy(segs[nsegs].csum.b, sqlite3_column_blob(s, 5), 16);
			nsegs++;
		}
	}
	sqlite3_reset(s);
	if (rcode != SQLITE_DONE) {
		hw_catalog_error(r->cat, "repack blobs", err);
		goto out;
	}
	packfd = openat(r->packs_fd, pu->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (packfd < 0) {
		hw_error_sys(err, "open", path);
		goto out;
	}
	if (snap_pack_writer_new(r->packs_fd, r->packs_path, jobs, SNAP_ZSTD_LEVEL, SNAP_SEG_BYTES,
				 &rc.w, err) < 0)
		goto out;
	for (size_t i = 0; i < rc.n; i++)
		if (rc.b[i].uoff >= 0 && rc.b[i].uoff < UINT32_MAX)
			snap_refset_put(&rc.at, rc.b[i].seg_off, (uint32_t)rc.b[i].uoff, (int64_t)i);
	for (size_t i = 0; i < nsegs; i++) {
		rc.cur_seg = segs[i].off;
		if (snap_segment_walk(packfd, path, (uint64_t)segs[i].off, (uint64_t)segs[i].clen,
				      &segs[i].csum, on_live_member, &rc, err) < 0) {
			hw_error_prefix(err, "%s kept (not rewritten)", pu->name);
			goto out;
		}
	}
	for (size_t i = 0; i < rc.n; i++)
		if (!rc.b[i].moved) {
			hw_error_set(err, EIO, "%s kept (not rewritten): a member (offset %lld of the "
				     "segment at %lld) is missing", pu->name, (long long)rc.b[i].uoff,
				     (long long)rc.b[i].seg_off);
			goto out;
		}
	if (snap_pack_writer_finish(rc.w, err) < 0)
		goto out;
	/* the new pack is durable: now switch the catalog over to it */
	if (hw_catalog_begin(r->cat, err) < 0)
		goto out;
	in_tx = true;
	if (snap_pack_register(r, rc.w, &seg_base, &new_pack, err) < 0)
		goto out;
	for (size_t i = 0; i < rc.n; i++) {
		s = snap_stmt(r, "UPDATE snap_blob SET segment_id = ?, uoff = ? WHERE hash = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, seg_base + (int64_t)rc.b[i].new_seg);
		sqlite3_bind_int64(s, 2, (int64_t)rc.b[i].new_uoff);
		sqlite3_bind_blob(s, 3, rc.b[i].hash, 16, SQLITE_STATIC);
		if (snap_step_done(r, s, "move blob", err) < 0)
			goto out;
	}
	s = snap_stmt(r, "DELETE FROM snap_segment WHERE pack_id = ?", err);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, pu->id);
	if (snap_step_done(r, s, "delete segments", err) < 0)
		goto out;
	s = snap_stmt(r, "DELETE FROM snap_pack WHERE id = ?", err);
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, pu->id);
	if (snap_step_done(r, s, "delete pack", err) < 0)
		goto out;
	if (durable_commit(r, err) < 0)
		goto out;
	in_tx = false;
	close(packfd);
	packfd = -1;
	if (unlink_pack(r, pu->name, err) < 0)
		goto out;
	*freed += (uint64_t)(pu->size - (int64_t)snap_pack_writer_size(rc.w));
	ret = 1;
out:
	if (in_tx)
		hw_catalog_rollback(r->cat);
	if (packfd >= 0)
		close(packfd);
	/* a new pack that did not commit is removed by the next gc */
	snap_pack_writer_free(&rc.w);
	for (size_t i = 0; i < rc.n; i++)
		free(rc.b[i].new_member);
	snap_hmap_release(&rc.at);
	free(rc.b);
	free(segs);
	snap_hmap_release(&rc.names);
	free(path);
	return ret;
}

/* drop the rows no remaining snapshot reaches (in the caller's
   transaction): folder versions no snapshot lists, record sets no listing
   refers to (with their Message-ID rows), content no referenced record
   has, paths nothing uses. Listings and record sets are decoded: prune is
   rare. A record set some listing still refers to stays whole. */
static int drop_unreachable(struct snap_repo *r, struct hw_error *err)
{
	struct snap_hmap refs, rsets;
	sqlite3_stmt *s;
	int64_t *dead = NULL;
	size_t ndead = 0, cap_dead = 0;
	int rc, ret = -1;

	snap_hmap_init(&refs);
	snap_hmap_init(&rsets);
	if (exec(r, "DELETE FROM snap_fver WHERE id NOT IN (SELECT fver_id FROM snap_sfolder);"
		 "CREATE TEMP TABLE IF NOT EXISTS snap_live_hash (hash BLOB PRIMARY KEY)"
		 " WITHOUT ROWID; DELETE FROM temp.snap_live_hash;", err) < 0)
		goto out;
	s = snap_stmt(r, "SELECT listing FROM snap_fver", err);
	if (s == NULL)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct snap_lent *le;
		size_t nle;
		if (snap_listing_decode(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
					&le, &nle, err) < 0) {
			sqlite3_reset(s);
			goto out;
		}
		for (size_t i = 0; i < nle; i++) {
			snap_refset_put(&refs, le[i].rset_id, le[i].idx, 1);
			snap_refset_put(&rsets, le[i].rset_id, 0, 1);
		}
		free(le);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "prune listings", err);
		goto out;
	}
	s = snap_stmt(r, "SELECT id, data FROM snap_rset", err);
	if (s == NULL)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		bool live = snap_refset_get(&rsets, id, 0) != NULL;
		struct snap_rset set;
		bool failed = false;
		if (snap_rset_decode(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1),
				     &set, err) < 0) {
			sqlite3_reset(s);
			hw_error_prefix(err, "record set %lld", (long long)id);
			goto out;
		}
		for (size_t i = 0; i < set.n && !failed; i++) {
			const struct snap_rec *rec = &set.v[i];
			sqlite3_stmt *u;
			if (!live) {
				if (rec->message_id == NULL)
					continue;
				u = snap_stmt(r, "DELETE FROM snap_msgid WHERE msgid_h = ? AND rset_id = ?",
					      err);
				if (u == NULL) {
					failed = true;
					break;
				}
				sqlite3_bind_int64(u, 1, snap_msgid_hash(rec->message_id,
									 strlen(rec->message_id)));
				sqlite3_bind_int64(u, 2, id);
			} else {
				if (snap_refset_get(&refs, id, (uint32_t)i) == NULL)
					continue;
				u = snap_stmt(r, "INSERT OR IGNORE INTO temp.snap_live_hash(hash)"
					      " VALUES (?)", err);
				if (u == NULL) {
					failed = true;
					break;
				}
				sqlite3_bind_blob(u, 1, rec->hash, 16, SQLITE_TRANSIENT);
			}
			if (snap_step_done(r, u, "prune records", err) < 0)
				failed = true;
		}
		snap_rset_release(&set);
		if (failed) {
			sqlite3_reset(s);
			goto out;
		}
		if (!live) {
			HW_GROW(dead, cap_dead, ndead + 1);
			dead[ndead++] = id;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "prune record sets", err);
		goto out;
	}
	for (size_t i = 0; i < ndead; i++) {
		s = snap_stmt(r, "DELETE FROM snap_rset WHERE id = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, dead[i]);
		if (snap_step_done(r, s, "delete record set", err) < 0)
			goto out;
	}
	if (exec(r, "DELETE FROM snap_blob WHERE hash NOT IN (SELECT hash FROM temp.snap_live_hash);"
		 "DELETE FROM temp.snap_live_hash;"
		 "DELETE FROM snap_path WHERE id NOT IN (SELECT path_id FROM snap_rset)"
		 " AND id NOT IN (SELECT path_id FROM snap_fver);", err) < 0)
		goto out;
	ret = 0;
out:
	free(dead);
	snap_hmap_release(&refs);
	snap_hmap_release(&rsets);
	return ret;
}

/* Rows deleted leave free pages in the catalog file: when they are over a
   quarter of it, VACUUM gives them back (one transaction, like any other:
   a crash leaves the old catalog). Failing is not an error for prune. */
static void compact_catalog(struct snap_repo *r)
{
	sqlite3 *db = hw_catalog_db(r->cat);
	sqlite3_stmt *s = NULL;
	int64_t free_pages = 0, pages = 0;

	if (sqlite3_prepare_v2(db, "SELECT (SELECT freelist_count FROM pragma_freelist_count),"
			       " (SELECT page_count FROM pragma_page_count)", -1, &s,
			       NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		free_pages = sqlite3_column_int64(s, 0);
		pages = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	if (pages == 0 || free_pages * 4 < pages)
		return;
	if (sqlite3_exec(db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK)
		hw_diag_warn("%s: catalog not compacted: %s", r->path, sqlite3_errmsg(db));
}

int snap_prune(struct snap_repo *r, const struct snap_prune_opts *o, snap_prune_fn *fn, void *ctx,
	       struct snap_prune_result *res, struct hw_error *err)
{
	struct snap_info *v = NULL;
	const char **rule = NULL;
	struct pack_use *pu = NULL;
	size_t n = 0, npu = 0, cap_pu = 0;
	int64_t now = hw_now_ns() / 1000000000LL;
	bool in_tx = false;
	sqlite3_stmt *s;
	int ret = -1, rc;

	memset(res, 0, sizeof(*res));
	if (!o->dry_run) {
		int lr = snap_repo_lock(r, err);
		if (lr <= 0)
			return lr;
		if (snap_repo_gc(r, err) < 0)
			return -1;
	}
	if (snap_list(r, &v, &n, err) < 0)
		return -1;
	/* newest first */
	for (size_t i = 0; i < n / 2; i++) {
		struct snap_info t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	rule = hw_calloc(n + 1, sizeof(*rule));
	apply_rules(o, v, n, now, rule);
	for (size_t i = 0; i < n; i++) {
		if (fn != NULL)
			fn(ctx, &v[i], rule[i]);
		if (rule[i] != NULL)
			res->kept++;
		else
			res->removed++;
	}
	if (o->dry_run) {
		ret = 1;
		goto out;
	}
	if (hw_catalog_begin(r->cat, err) < 0)
		goto out;
	in_tx = true;
	for (size_t i = 0; i < n; i++) {
		if (rule[i] != NULL)
			continue;
		s = snap_stmt(r, "DELETE FROM snap_sfolder WHERE snap_id = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, v[i].id);
		if (snap_step_done(r, s, "delete snapshot folders", err) < 0)
			goto out;
		s = snap_stmt(r, "DELETE FROM snap_snapshot WHERE id = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, v[i].id);
		if (snap_step_done(r, s, "delete snapshot", err) < 0)
			goto out;
	}
	if (drop_unreachable(r, err) < 0)
		goto out;
	/* packs with nothing live go with this commit */
	/* live bytes per pack: one scan of snap_blob (no index by segment) */
	s = snap_stmt(r, "SELECT k.id, k.name, k.size,"
		      " (SELECT coalesce(sum(g.ulen), 0) FROM snap_segment g WHERE g.pack_id = k.id),"
		      " coalesce(l.bytes, 0) FROM snap_pack k LEFT JOIN"
		      " (SELECT g.pack_id AS pack_id, sum(b.size) AS bytes FROM snap_blob b"
		      "  JOIN snap_segment g ON g.id = b.segment_id GROUP BY g.pack_id) l"
		      " ON l.pack_id = k.id ORDER BY k.id", err);
	if (s == NULL)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(pu, cap_pu, npu + 1);
		memset(&pu[npu], 0, sizeof(pu[npu]));
		pu[npu].id = sqlite3_column_int64(s, 0);
		pu[npu].name = hw_strdup((const char *)sqlite3_column_text(s, 1));
		pu[npu].size = sqlite3_column_int64(s, 2);
		pu[npu].total = sqlite3_column_int64(s, 3);
		pu[npu].live = sqlite3_column_int64(s, 4);
		npu++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "pack usage", err);
		goto out;
	}
	/* damaged segments (few, if any: the index on verified_at finds them;
	   the blob check scans snap_blob, which has no index by segment) */
	s = snap_stmt(r, "SELECT g.pack_id, EXISTS (SELECT 1 FROM snap_blob b WHERE"
		      " b.segment_id = g.id) FROM snap_segment g WHERE g.verified_at < 0", err);
	if (s == NULL)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		for (size_t i = 0; i < npu; i++)
			if (pu[i].id == sqlite3_column_int64(s, 0)) {
				if (sqlite3_column_int(s, 1))
					pu[i].damaged_live = true;
				else
					pu[i].damaged_dead = true;
			}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "damaged segments", err);
		goto out;
	}
	for (size_t i = 0; i < npu; i++) {
		if (pu[i].live > 0)
			continue;
		s = snap_stmt(r, "DELETE FROM snap_segment WHERE pack_id = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, pu[i].id);
		if (snap_step_done(r, s, "delete segments", err) < 0)
			goto out;
		s = snap_stmt(r, "DELETE FROM snap_pack WHERE id = ?", err);
		if (s == NULL)
			goto out;
		sqlite3_bind_int64(s, 1, pu[i].id);
		if (snap_step_done(r, s, "delete pack", err) < 0)
			goto out;
	}
	/* committed before any pack is unlinked: a crash after this point leaves
	   only unreferenced packs, which gc removes */
	if (durable_commit(r, err) < 0)
		goto out;
	in_tx = false;
	for (size_t i = 0; i < npu; i++) {
		if (pu[i].live > 0)
			continue;
		if (unlink_pack(r, pu[i].name, err) < 0)
			goto out;
		res->packs_deleted++;
		res->bytes_freed += (uint64_t)pu[i].size;
	}
	for (size_t i = 0; i < npu; i++) {
		struct hw_error perr;
		bool low = pu[i].total > 0 &&
			   (double)pu[i].live / (double)pu[i].total < o->repack_below;
		/* a damaged segment whose content is all elsewhere: the pack
		   is rewritten without it, so that verify finds it whole again */
		bool scrub = pu[i].damaged_dead && !pu[i].damaged_live;
		if (pu[i].live == 0 || (!low && !scrub))
			continue;
		if (repack(r, &pu[i], o->jobs, &res->bytes_freed, &perr) < 0) {
			hw_diag_error("%s", perr.msg);
			continue;
		}
		if (scrub)
			hw_diag_info("%s: rewritten without its damaged segment (its content is "
				     "stored elsewhere)", pu[i].name);
		res->packs_rewritten++;
	}
	compact_catalog(r);
	ret = 1;
out:
	if (in_tx)
		hw_catalog_rollback(r->cat);
	for (size_t i = 0; i < npu; i++)
		free(pu[i].name);
	free(pu);
	free(rule);
	snap_infos_free(v, n);
	return ret;
}
