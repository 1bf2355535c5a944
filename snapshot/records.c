/* records.c - schema 4: record sets (immutable file records of one folder,
   compressed), folder listings (compressed references into record sets),
   and the one-time migration from schema 3. Formats: docs/snapshots.md */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snap-int.h"

#define RSET_FORMAT 1
#define LISTING_FORMAT 1
#define BLOB_MAX ((size_t)1 << 30)   /* a decoded record set or listing */

/* ---- varints ---- */

static void put_uv(struct hw_buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	hw_buf_add(b, t, n);
}

static void put_sv(struct hw_buf *b, int64_t v)
{
	put_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* deltas wrap (modulo 2^64) both ways: any int64 column round-trips, and
   a crafted blob cannot overflow a signed integer */
static int64_t delta(int64_t v, int64_t prev)
{
	return (int64_t)((uint64_t)v - (uint64_t)prev);
}

static int64_t undelta(int64_t prev, int64_t d)
{
	return (int64_t)((uint64_t)prev + (uint64_t)d);
}

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t get_uv(struct rd *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		uint8_t c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static int64_t get_sv(struct rd *r)
{
	uint64_t u = get_uv(r);

	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static const uint8_t *get_bytes(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if ((size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

/* a format byte, then one zstd frame; a small blob is kept as it is (the
   format byte with BLOB_RAW set): zstd saves little on it, and a frame
   costs a compression context each */
#define BLOB_RAW 0x80
#define BLOB_RAW_BELOW 256

static int compress_blob(int format, const struct hw_buf *raw, struct hw_buf *out,
			 struct hw_error *err)
{
	char msg[256];

	hw_buf_reset(out);
	if (raw->len < BLOB_RAW_BELOW) {
		hw_buf_addc(out, (char)(format | BLOB_RAW));
		hw_buf_add(out, raw->data, raw->len);
		return 0;
	}
	hw_buf_addc(out, (char)format);
	if (snap_zstd_frame(raw->data, raw->len, SNAP_ZSTD_LEVEL, false, out, msg, sizeof(msg)) < 0)
		return hw_error_set(err, EIO, "%s", msg);
	return 0;
}

static int decompress_blob(int format, const void *z, size_t zlen, struct hw_buf *raw,
			   const char *what, struct hw_error *err)
{
	if (zlen >= 1 && ((const uint8_t *)z)[0] == (format | BLOB_RAW)) {
		hw_buf_reset(raw);
		hw_buf_add(raw, (const uint8_t *)z + 1, zlen - 1);
		return 0;
	}
	if (zlen < 1 || ((const uint8_t *)z)[0] != format)
		return hw_error_set(err, EPROTO, "%s: unknown format %d (newer hiwater?)", what,
				    zlen < 1 ? -1 : ((const uint8_t *)z)[0]);
	if (snap_unzstd((const uint8_t *)z + 1, zlen - 1, BLOB_MAX, raw, err) < 0)
		return hw_error_prefix(err, "%s", what);
	return 0;
}

/* ---- record sets ---- */

static void put_str(struct hw_buf *b, const char *s, bool nullable)
{
	if (s == NULL) {
		put_uv(b, 0);
		return;
	}
	size_t n = strlen(s);
	put_uv(b, nullable ? n + 1 : n);
	hw_buf_add(b, s, n);
}

int snap_rset_encode(const struct snap_rec *v, size_t n, struct hw_buf *out, struct hw_error *err)
{
	struct hw_buf raw;
	int64_t prev;
	int ret;

	/* column by column: numbers next to numbers and text next to text
	   compress better than whole records one after the other */
	hw_buf_init(&raw);
	put_uv(&raw, n);
	for (size_t i = 0; i < n; i++)
		hw_buf_addc(&raw, (char)v[i].kind);
	for (size_t i = 0; i < n; i++)
		put_uv(&raw, (uint64_t)v[i].size);
	prev = 0;
	for (size_t i = 0; i < n; i++) {
		put_sv(&raw, delta(v[i].mtime_ns, prev));
		prev = v[i].mtime_ns;
	}
	prev = 0;
	for (size_t i = 0; i < n; i++) {
		put_sv(&raw, delta(v[i].ino, prev));
		prev = v[i].ino;
	}
	prev = 0;
	for (size_t i = 0; i < n; i++) {
		put_sv(&raw, delta(v[i].date, prev));
		prev = v[i].date;
	}
	for (size_t i = 0; i < n; i++)
		hw_buf_add(&raw, v[i].hash, 16);
	for (size_t i = 0; i < n; i++)
		put_str(&raw, v[i].name, false);
	for (size_t i = 0; i < n; i++)
		put_str(&raw, v[i].from, true);
	for (size_t i = 0; i < n; i++)
		put_str(&raw, v[i].subject, true);
	for (size_t i = 0; i < n; i++)
		put_str(&raw, v[i].message_id, true);
	ret = compress_blob(RSET_FORMAT, &raw, out, err);
	hw_buf_release(&raw);
	return ret;
}

void snap_rset_release(struct snap_rset *rs)
{
	free(rs->v);
	free(rs->text);
	memset(rs, 0, sizeof(*rs));
}

/* a string column: the strings are copied, NUL-terminated, into text */
static void get_strs(struct rd *r, struct snap_rec *v, size_t n, size_t field, bool nullable,
		     char *text, size_t *used)
{
	for (size_t i = 0; i < n && !r->bad; i++) {
		uint64_t len = get_uv(r);
		const char **dst = (const char **)((char *)&v[i] + field);
		if (nullable && len == 0) {
			*dst = NULL;
			continue;
		}
		if (nullable)
			len--;
		const uint8_t *p = get_bytes(r, (size_t)len);
		if (p == NULL || memchr(p, '\0', (size_t)len) != NULL) {
			r->bad = true;
			return;
		}
		memcpy(text + *used, p, (size_t)len);
		text[*used + len] = '\0';
		*dst = text + *used;
		*used += (size_t)len + 1;
	}
}

int snap_rset_decode(const void *z, size_t zlen, struct snap_rset *rs, struct hw_error *err)
{
	struct hw_buf raw;
	struct rd r;
	uint64_t n;
	int64_t prev;
	size_t used = 0;
	int ret = -1;

	memset(rs, 0, sizeof(*rs));
	hw_buf_init(&raw);
	if (decompress_blob(RSET_FORMAT, z, zlen, &raw, "record set", err) < 0)
		goto out;
	r.p = (const uint8_t *)raw.data;
	r.end = r.p + raw.len;
	r.bad = false;
	n = get_uv(&r);
	/* every record takes at least 21 bytes: a count beyond that is damage */
	if (r.bad || n > raw.len / 21)
		goto bad;
	rs->n = (size_t)n;
	rs->v = hw_calloc(rs->n + 1, sizeof(*rs->v));
	/* the strings fit in the decoded bytes plus one NUL each */
	rs->text = hw_malloc(raw.len + 4 * rs->n + 1);
	for (size_t i = 0; i < rs->n && !r.bad; i++) {
		const uint8_t *k = get_bytes(&r, 1);
		rs->v[i].kind = k != NULL ? *k : 0;
	}
	for (size_t i = 0; i < rs->n && !r.bad; i++)
		rs->v[i].size = (int64_t)get_uv(&r);
	prev = 0;
	for (size_t i = 0; i < rs->n && !r.bad; i++)
		prev = rs->v[i].mtime_ns = undelta(prev, get_sv(&r));
	prev = 0;
	for (size_t i = 0; i < rs->n && !r.bad; i++)
		prev = rs->v[i].ino = undelta(prev, get_sv(&r));
	prev = 0;
	for (size_t i = 0; i < rs->n && !r.bad; i++)
		prev = rs->v[i].date = undelta(prev, get_sv(&r));
	for (size_t i = 0; i < rs->n && !r.bad; i++) {
		const uint8_t *h = get_bytes(&r, 16);
		if (h != NULL)
			memcpy(rs->v[i].hash, h, 16);
	}
	get_strs(&r, rs->v, rs->n, offsetof(struct snap_rec, name), false, rs->text, &used);
	get_strs(&r, rs->v, rs->n, offsetof(struct snap_rec, from), true, rs->text, &used);
	get_strs(&r, rs->v, rs->n, offsetof(struct snap_rec, subject), true, rs->text, &used);
	get_strs(&r, rs->v, rs->n, offsetof(struct snap_rec, message_id), true, rs->text, &used);
	if (r.bad || r.p != r.end)
		goto bad;
	ret = 0;
	goto out;
bad:
	hw_error_set(err, EBADMSG, "record set damaged");
	snap_rset_release(rs);
out:
	hw_buf_release(&raw);
	return ret;
}

/* ---- listings ---- */

int snap_listing_encode(const struct snap_lent *v, size_t n, struct hw_buf *out,
			struct hw_error *err)
{
	struct hw_buf raw;
	int64_t prev_rs = 0, prev_idx = -1, prev_uid = 0;
	int ret;

	/* deltas: consecutive files mostly come from one record set, one index
	   after the other, with growing UIDs: about a byte each */
	hw_buf_init(&raw);
	put_uv(&raw, n);
	for (size_t i = 0; i < n; i++) {
		put_sv(&raw, delta(v[i].rset_id, prev_rs));
		prev_rs = v[i].rset_id;
	}
	prev_rs = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].rset_id != prev_rs)
			prev_idx = -1;
		prev_rs = v[i].rset_id;
		put_sv(&raw, (int64_t)v[i].idx - prev_idx - 1);
		prev_idx = v[i].idx;
	}
	for (size_t i = 0; i < n; i++) {
		put_sv(&raw, (int64_t)v[i].uid - prev_uid);
		prev_uid = v[i].uid;
	}
	for (size_t i = 0; i < n; i++)
		hw_buf_addc(&raw, (char)v[i].flags);
	ret = compress_blob(LISTING_FORMAT, &raw, out, err);
	hw_buf_release(&raw);
	return ret;
}

int snap_listing_decode(const void *z, size_t zlen, struct snap_lent **v_r, size_t *n_r,
			struct hw_error *err)
{
	struct hw_buf raw;
	struct snap_lent *v = NULL;
	struct rd r;
	uint64_t n;
	int64_t prev_rs = 0, prev_idx = -1, prev_uid = 0;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	hw_buf_init(&raw);
	if (decompress_blob(LISTING_FORMAT, z, zlen, &raw, "folder listing", err) < 0)
		goto out;
	r.p = (const uint8_t *)raw.data;
	r.end = r.p + raw.len;
	r.bad = false;
	n = get_uv(&r);
	if (r.bad || n > raw.len / 4)
		goto bad;
	v = hw_calloc((size_t)n + 1, sizeof(*v));
	for (size_t i = 0; i < n && !r.bad; i++)
		prev_rs = v[i].rset_id = undelta(prev_rs, get_sv(&r));
	prev_rs = 0;
	for (size_t i = 0; i < n && !r.bad; i++) {
		if (v[i].rset_id != prev_rs)
			prev_idx = -1;
		prev_rs = v[i].rset_id;
		int64_t d = get_sv(&r), idx = -1;
		/* prev_idx is in [-1, 2^32): a delta this small cannot overflow */
		if (d > -((int64_t)1 << 33) && d < ((int64_t)1 << 33))
			idx = prev_idx + 1 + d;
		if (idx < 0 || idx > UINT32_MAX)
			r.bad = true;
		prev_idx = idx;
		v[i].idx = (uint32_t)idx;
	}
	for (size_t i = 0; i < n && !r.bad; i++) {
		prev_uid = undelta(prev_uid, get_sv(&r));
		v[i].uid = (uint32_t)prev_uid;
	}
	for (size_t i = 0; i < n && !r.bad; i++) {
		const uint8_t *f = get_bytes(&r, 1);
		v[i].flags = f != NULL ? *f : 0;
	}
	if (r.bad || r.p != r.end)
		goto bad;
	*v_r = v;
	*n_r = (size_t)n;
	v = NULL;
	ret = 0;
	goto out;
bad:
	hw_error_set(err, EBADMSG, "folder listing damaged");
out:
	free(v);
	hw_buf_release(&raw);
	return ret;
}

/* ---- a folder version's other files' identities (snap_fver.others) ----
   so that an unchanged folder is recognised without decoding anything:
   format byte 1, varint n, n x (varint name length, name, varint ino,
   varint size, zigzag varint mtime_ns) */

void snap_others_encode(const struct snap_rec *v, size_t n, struct hw_buf *out)
{
	hw_buf_reset(out);
	hw_buf_addc(out, 1);
	put_uv(out, n);
	for (size_t i = 0; i < n; i++) {
		put_str(out, v[i].name, false);
		put_uv(out, (uint64_t)v[i].ino);
		put_uv(out, (uint64_t)v[i].size);
		put_sv(out, v[i].mtime_ns);
	}
}

int snap_others_decode(const void *b, size_t len, struct snap_rset *rs)
{
	struct rd r = { (const uint8_t *)b, (const uint8_t *)b + len, false };
	uint64_t n;
	size_t used = 0;

	memset(rs, 0, sizeof(*rs));
	if (len < 1 || *r.p++ != 1)
		return -1;
	n = get_uv(&r);
	if (r.bad || n > len)
		return -1;
	rs->n = (size_t)n;
	rs->v = hw_calloc(rs->n + 1, sizeof(*rs->v));
	rs->text = hw_malloc(len + rs->n + 1);
	for (size_t i = 0; i < rs->n && !r.bad; i++) {
		get_strs(&r, rs->v + i, 1, offsetof(struct snap_rec, name), false, rs->text, &used);
		rs->v[i].kind = SNAP_KIND_FILE;
		rs->v[i].ino = (int64_t)get_uv(&r);
		rs->v[i].size = (int64_t)get_uv(&r);
		rs->v[i].mtime_ns = get_sv(&r);
	}
	if (r.bad || r.p != r.end) {
		snap_rset_release(rs);
		return -1;
	}
	return 0;
}

/* ---- from the catalog ---- */

int snap_rset_load(struct snap_repo *r, int64_t id, struct snap_rset *rs, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT path_id, snap_id, data FROM snap_rset WHERE id = ?",
				    err);
	int rc, ret = -1;

	memset(rs, 0, sizeof(*rs));
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (snap_rset_decode(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2), rs,
				     err) == 0) {
			rs->id = id;
			rs->path_id = sqlite3_column_int64(s, 0);
			rs->snap_id = sqlite3_column_int64(s, 1);
			ret = 0;
		} else {
			hw_error_prefix(err, "record set %lld", (long long)id);
		}
	} else if (rc == SQLITE_DONE) {
		hw_error_set(err, EBADMSG, "record set %lld missing from the catalog", (long long)id);
	} else {
		hw_catalog_error(r->cat, "load record set", err);
	}
	sqlite3_reset(s);
	return ret;
}

int snap_fver_listing(struct snap_repo *r, int64_t fver_id, struct snap_lent **v_r, size_t *n_r,
		      struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT listing FROM snap_fver WHERE id = ?", err);
	int rc, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, fver_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		ret = snap_listing_decode(sqlite3_column_blob(s, 0),
					  (size_t)sqlite3_column_bytes(s, 0), v_r, n_r, err);
		if (ret < 0)
			hw_error_prefix(err, "folder version %lld", (long long)fver_id);
	} else if (rc == SQLITE_DONE) {
		hw_error_set(err, EBADMSG, "folder version %lld missing", (long long)fver_id);
	} else {
		hw_catalog_error(r->cat, "load folder listing", err);
	}
	sqlite3_reset(s);
	return ret;
}

/* ---- cache of decoded record sets ---- */

static void id_key(int64_t id, uint8_t key[16])
{
	uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;

	memset(key, 0, 16);
	memcpy(key, &id, sizeof(id));
	memcpy(key + 8, &h, sizeof(h));
}

void snap_rcache_init(struct snap_rcache *c)
{
	memset(c, 0, sizeof(*c));
	snap_hmap_init(&c->map);
}

void snap_rcache_release(struct snap_rcache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		snap_rset_release(c->v[i]);
		free(c->v[i]);
	}
	free(c->v);
	snap_hmap_release(&c->map);
	memset(c, 0, sizeof(*c));
}

const struct snap_rset *snap_rcache_get(struct snap_repo *r, struct snap_rcache *c, int64_t id,
					struct hw_error *err)
{
	uint8_t key[16];
	int64_t *slot;
	struct snap_rset *rs;

	id_key(id, key);
	slot = snap_hmap_get(&c->map, key);
	if (slot != NULL)
		return c->v[*slot];
	rs = hw_calloc(1, sizeof(*rs));
	if (snap_rset_load(r, id, rs, err) < 0) {
		free(rs);
		return NULL;
	}
	HW_GROW(c->v, c->cap, c->n + 1);
	c->v[c->n] = rs;
	snap_hmap_put(&c->map, key, (int64_t)c->n);
	c->n++;
	return rs;
}

const struct snap_rec *snap_rcache_rec(struct snap_repo *r, struct snap_rcache *c,
				       const struct snap_lent *e, struct hw_error *err)
{
	const struct snap_rset *rs = snap_rcache_get(r, c, e->rset_id, err);

	if (rs == NULL)
		return NULL;
	if (e->idx >= rs->n) {
		hw_error_set(err, EBADMSG, "record %u of record set %lld missing", e->idx,
			     (long long)e->rset_id);
		return NULL;
	}
	return &rs->v[e->idx];
}

/* ---- the set of record references (rset_id, idx) ---- */

static void ref_key(int64_t rset_id, uint32_t idx, uint8_t key[16])
{
	uint64_t h = ((uint64_t)rset_id * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)idx * 0xC2B2AE3D27D4EB4Full);

	memcpy(key, &rset_id, 8);
	memcpy(key + 4, &idx, 4);   /* rset ids stay far below 2^32 */
	memcpy(key + 8, &h, 8);
}

void snap_refset_put(struct snap_hmap *m, int64_t rset_id, uint32_t idx, int64_t value)
{
	uint8_t key[16];

	ref_key(rset_id, idx, key);
	snap_hmap_put(m, key, value);
}

int64_t *snap_refset_get(struct snap_hmap *m, int64_t rset_id, uint32_t idx)
{
	uint8_t key[16];

	ref_key(rset_id, idx, key);
	return snap_hmap_get(m, key);
}

/* ---- migration from schema 3 (runs inside the migration transaction) ---- */

struct mig_name {
	char *name;
	uint64_t uoff;
};

static int cmp_mig_name(const void *a, const void *b)
{
	return strcmp(((const struct mig_name *)a)->name, ((const struct mig_name *)b)->name);
}

struct mig_seg {
	struct mig_name *v;
	size_t n, cap;
};

static int on_mig_member(void *ctx, const char *name, uint64_t uoff, const void *data, size_t len,
			 struct hw_error *err)
{
	struct mig_seg *ms = ctx;

	(void)data;
	(void)len;
	(void)err;
	HW_GROW(ms->v, ms->cap, ms->n + 1);
	ms->v[ms->n].name = hw_strdup(name);
	ms->v[ms->n].uoff = uoff;
	ms->n++;
	return 0;
}

static void mig_seg_release(struct mig_seg *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		free(ms->v[i].name);
	free(ms->v);
	memset(ms, 0, sizeof(*ms));
}

static int exec_step(sqlite3 *db, sqlite3_stmt *s, struct hw_error *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
	return 0;
}

/* snap_file -> snap_rset (one per folder path) + snap_msgid */
static int mig_records(struct snap_repo *r, sqlite3 *db, struct snap_hmap *fmap,
		       struct hw_error *err)
{
	sqlite3_stmt *q = NULL, *ins = NULL, *mid = NULL;
	struct snap_rec *v = NULL;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0, cap_ids = 0;
	int64_t cur_path = -1;
	struct hw_buf z;
	int rc, ret = -1;
	bool more = true;

	hw_buf_init(&z);
	if (sqlite3_prepare_v2(db, "SELECT f.id, f.path_id, f.name, f.kind, f.hash, f.size,"
			       " f.mtime_ns, f.ino, f.date, f.\"from\", f.subject, f.message_id"
			       " FROM snap_file f ORDER BY f.path_id, f.name, f.id", -1, &q,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO snap_rset(path_id, snap_id, n, data)"
			       " VALUES (?, 0, ?, ?)", -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO snap_msgid(msgid_h, rset_id)"
			       " VALUES (?, ?)", -1, &mid, NULL) != SQLITE_OK) {
		hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
		goto out;
	}
	while (more) {
		rc = sqlite3_step(q);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
			goto out;
		}
		more = rc == SQLITE_ROW;
		int64_t path = more ? sqlite3_column_int64(q, 1) : -2;
		if (path != cur_path && n > 0) {
			int64_t rs_id;
			if (snap_rset_encode(v, n, &z, err) < 0)
				goto out;
			sqlite3_bind_int64(ins, 1, cur_path);
			sqlite3_bind_int64(ins, 2, (int64_t)n);
			sqlite3_bind_blob(ins, 3, z.data, (int)z.len, SQLITE_STATIC);
			if (exec_step(db, ins, err) < 0)
				goto out;
			rs_id = sqlite3_last_insert_rowid(db);
			for (size_t i = 0; i < n; i++) {
				uint8_t key[16];
				id_key(ids[i], key);
				snap_hmap_put(fmap, key, (rs_id << 24) | (int64_t)i);
				if (v[i].message_id != NULL) {
					sqlite3_bind_int64(mid, 1, snap_msgid_hash(v[i].message_id,
										  strlen(v[i].message_id)));
					sqlite3_bind_int64(mid, 2, rs_id);
					if (exec_step(db, mid, err) < 0)
						goto out;
				}
			}
			for (size_t i = 0; i < n; i++) {
				free((char *)v[i].name);
				free((char *)v[i].from);
				free((char *)v[i].subject);
				free((char *)v[i].message_id);
			}
			n = 0;
		}
		cur_path = path;
		if (!more)
			break;
		if (n >= (1u << 24)) {
			hw_error_set(err, EFBIG, "migration: folder with over 16M records");
			goto out;
		}
		HW_GROW(v, cap, n + 1);
		HW_GROW(ids, cap_ids, n + 1);
		struct snap_rec *f = &v[n];
		memset(f, 0, sizeof(*f));
		ids[n] = sqlite3_column_int64(q, 0);
		const unsigned char *t;
		f->name = hw_strdup((t = sqlite3_column_text(q, 2)) != NULL ? (const char *)t : "");
		f->kind = sqlite3_column_int(q, 3);
		if (sqlite3_column_bytes(q, 4) == 16)
			memcpy(f->hash, sqlite3_column_blob(q, 4), 16);
		f->size = sqlite3_column_int64(q, 5);
		f->mtime_ns = sqlite3_column_int64(q, 6);
		f->ino = sqlite3_column_int64(q, 7);
		f->date = sqlite3_column_int64(q, 8);
		f->from = (t = sqlite3_column_text(q, 9)) != NULL ? hw_strdup((const char *)t) : NULL;
		f->subject = (t = sqlite3_column_text(q, 10)) != NULL ? hw_strdup((const char *)t) : NULL;
		f->message_id = (t = sqlite3_column_text(q, 11)) != NULL ? hw_strdup((const char *)t) :
				NULL;
		n++;
	}
	ret = 0;
out:
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].name);
		free((char *)v[i].from);
		free((char *)v[i].subject);
		free((char *)v[i].message_id);
	}
	free(v);
	free(ids);
	hw_buf_release(&z);
	sqlite3_finalize(q);
	sqlite3_finalize(ins);
	sqlite3_finalize(mid);
	return ret;
}

/* snap_member -> snap_fver.listing (and .others) */
static int mig_listings(sqlite3 *db, struct snap_hmap *fmap, struct hw_error *err)
{
	sqlite3_stmt *q = NULL, *m = NULL, *up = NULL;
	int64_t *fv = NULL;
	size_t nfv = 0, cap_fv = 0;
	struct snap_lent *v = NULL;
	struct snap_rec *oth = NULL;
	size_t cap = 0, cap_oth = 0;
	struct hw_buf z, ob;
	int rc, ret = -1;

	hw_buf_init(&z);
	hw_buf_init(&ob);
	if (sqlite3_prepare_v2(db, "SELECT id FROM snap_fver ORDER BY id", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT m.file_id, m.uid, m.flags, f.kind, f.name, f.ino,"
			       " f.size, f.mtime_ns FROM snap_member m"
			       " JOIN snap_file f ON f.id = m.file_id WHERE m.fver_id = ?"
			       " ORDER BY f.name, f.id", -1, &m, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE snap_fver SET listing = ?, others = ? WHERE id = ?",
			       -1, &up, NULL) != SQLITE_OK) {
		hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		HW_GROW(fv, cap_fv, nfv + 1);
		fv[nfv++] = sqlite3_column_int64(q, 0);
	}
	if (rc != SQLITE_DONE) {
		hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (size_t k = 0; k < nfv; k++) {
		size_t n = 0, no = 0;
		sqlite3_bind_int64(m, 1, fv[k]);
		while ((rc = sqlite3_step(m)) == SQLITE_ROW) {
			uint8_t key[16];
			int64_t *ref;
			id_key(sqlite3_column_int64(m, 0), key);
			ref = snap_hmap_get(fmap, key);
			if (ref == NULL)
				continue;
			if (sqlite3_column_int(m, 3) == SNAP_KIND_FILE) {
				HW_GROW(oth, cap_oth, no + 1);
				memset(&oth[no], 0, sizeof(oth[0]));
				oth[no].name = hw_strdup((const char *)sqlite3_column_text(m, 4));
				oth[no].ino = sqlite3_column_int64(m, 5);
				oth[no].size = sqlite3_column_int64(m, 6);
				oth[no].mtime_ns = sqlite3_column_int64(m, 7);
				no++;
			}
			HW_GROW(v, cap, n + 1);
			v[n].rset_id = *ref >> 24;
			v[n].idx = (uint32_t)(*ref & 0xffffff);
			v[n].uid = (uint32_t)sqlite3_column_int64(m, 1);
			v[n].flags = (uint8_t)sqlite3_column_int(m, 2);
			n++;
		}
		sqlite3_reset(m);
		snap_others_encode(oth, no, &ob);
		for (size_t i = 0; i < no; i++)
			free((char *)oth[i].name);
		if (rc != SQLITE_DONE) {
			hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
			goto out;
		}
		if (snap_listing_encode(v, n, &z, err) < 0)
			goto out;
		sqlite3_bind_blob(up, 1, z.data, (int)z.len, SQLITE_STATIC);
		sqlite3_bind_blob(up, 2, ob.data, (int)ob.len, SQLITE_STATIC);
		sqlite3_bind_int64(up, 3, fv[k]);
		if (exec_step(db, up, err) < 0)
			goto out;
	}
	ret = 0;
out:
	free(fv);
	free(v);
	free(oth);
	hw_buf_release(&z);
	hw_buf_release(&ob);
	sqlite3_finalize(q);
	sqlite3_finalize(m);
	sqlite3_finalize(up);
	return ret;
}

/* snap_blob (member names) -> snap_blob4 (offsets): every segment's headers
   read once. A segment that cannot be read keeps its rows with offset -1:
   verify reports it, restore says the member is missing */
static int mig_blobs(struct snap_repo *r, sqlite3 *db, struct hw_error *err)
{
	sqlite3_stmt *q = NULL, *ins = NULL;
	struct mig_seg ms = { 0 };
	int64_t cur_seg = -1;
	int packfd = -1;
	char *packname = NULL;
	int rc, ret = -1;

	if (sqlite3_prepare_v2(db, "SELECT b.hash, b.segment_id, " SNAP_MEMBER3("b") ", b.size,"
			       " g.offset, g.clen, g.csum, k.name FROM snap_blob b"
			       " LEFT JOIN snap_segment g ON g.id = b.segment_id"
			       " LEFT JOIN snap_pack k ON k.id = g.pack_id ORDER BY b.segment_id",
			       -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO snap_blob4(hash, segment_id, uoff, size)"
			       " VALUES (?,?,?,?)", -1, &ins, NULL) != SQLITE_OK) {
		hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t seg = sqlite3_column_int64(q, 1);
		const char *member = (const char *)sqlite3_column_text(q, 2);
		const char *pack = (const char *)sqlite3_column_text(q, 7);
		int64_t uoff = -1;

		if (seg != cur_seg) {
			struct hw_error serr;
			struct hw_hash csum;
			mig_seg_release(&ms);
			cur_seg = seg;
			if (pack != NULL && (packname == NULL || strcmp(packname, pack) != 0)) {
				if (packfd >= 0)
					close(packfd);
				free(packname);
				packname = hw_strdup(pack);
				packfd = snap_pack_name_ok(pack) ?
					 openat(r->packs_fd, pack, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
			}
			memset(&csum, 0, sizeof(csum));
			if (sqlite3_column_bytes(q, 6) == 16)
				memcpy(csum.b, sqlite3_column_blob(q, 6), 16);
			if (pack == NULL || packfd < 0 ||
			    snap_segment_walk(packfd, pack, (uint64_t)sqlite3_column_int64(q, 4),
					      (uint64_t)sqlite3_column_int64(q, 5), &csum, on_mig_member,
					      &ms, &serr) < 0)
				hw_diag_warn("%s: segment %lld unreadable while upgrading the catalog: "
					     "its content is marked missing (snapshot verify reports it)",
					     r->path, (long long)seg);
			if (ms.n > 0)
				qsort(ms.v, ms.n, sizeof(ms.v[0]), cmp_mig_name);
		}
		if (member != NULL && ms.n > 0) {
			struct mig_name key = { .name = (char *)member }, *hit;
			hit = bsearch(&key, ms.v, ms.n, sizeof(ms.v[0]), cmp_mig_name);
			if (hit != NULL)
				uoff = (int64_t)hit->uoff;
		}
		sqlite3_bind_value(ins, 1, sqlite3_column_value(q, 0));
		sqlite3_bind_int64(ins, 2, seg);
		sqlite3_bind_int64(ins, 3, uoff);
		sqlite3_bind_int64(ins, 4, sqlite3_column_int64(q, 3));
		if (exec_step(db, ins, err) < 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		hw_error_set(err, EIO, "migration: %s", sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	mig_seg_release(&ms);
	if (packfd >= 0)
		close(packfd);
	free(packname);
	sqlite3_finalize(q);
	sqlite3_finalize(ins);
	return ret;
}

/* SQL snap_migrate_v4(): the 3 -> 4 step's work, in its transaction */
void snap_sql_migrate_v4(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct snap_repo *r = sqlite3_user_data(ctx);
	sqlite3 *db = sqlite3_context_db_handle(ctx);
	struct snap_hmap fmap;
	struct hw_error err;

	(void)argc;
	(void)argv;
	snap_hmap_init(&fmap);
	if (mig_records(r, db, &fmap, &err) < 0 || mig_listings(db, &fmap, &err) < 0 ||
	    mig_blobs(r, db, &err) < 0)
		sqlite3_result_error(ctx, err.msg, -1);
	else
		sqlite3_result_int(ctx, 1);
	snap_hmap_release(&fmap);
}

/* ---- what the snapshots hold of one folder ---- */

void snap_held_init(struct snap_held_path *hp)
{
	memset(hp, 0, sizeof(*hp));
	snap_rcache_init(&hp->rc);
	snap_hmap_init(&hp->byref);
	snap_hmap_init(&hp->byhash);
}

void snap_held_release(struct snap_held_path *hp)
{
	free(hp->relpath);
	free(hp->v);
	snap_rcache_release(&hp->rc);
	snap_hmap_release(&hp->byref);
	snap_hmap_release(&hp->byhash);
	memset(hp, 0, sizeof(*hp));
}

static int cmp_held_name(const void *a, const void *b)
{
	const struct snap_held *x = a, *y = b;
	int d = strcmp(x->rec->name, y->rec->name);

	if (d != 0)
		return d;
	return x->last_snap < y->last_snap ? 1 : x->last_snap > y->last_snap ? -1 : 0;
}

int snap_path_id(struct snap_repo *r, const char *relpath, int64_t *id_r, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT id FROM snap_path WHERE relpath = ?", err);
	int rc;

	*id_r = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, relpath, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hw_catalog_error(r->cat, "folder path", err);
	return rc == SQLITE_ROW;
}

int snap_held_load(struct snap_repo *r, struct snap_held_path *hp, const char *relpath,
		   struct hw_error *err)
{
	struct { int64_t id, first, last; } *fv = NULL;
	size_t nfv = 0, cap_fv = 0, cap = 0;
	struct snap_lent *le = NULL;
	size_t nle = 0;
	sqlite3_stmt *s;
	int rc, ret = -1;

	if (hp->relpath != NULL && strcmp(hp->relpath, relpath) == 0)
		return 0;
	snap_held_release(hp);
	snap_held_init(hp);
	hp->relpath = hw_strdup(relpath);
	if (snap_path_id(r, relpath, &hp->path_id, err) < 0)
		goto fail;
	if (hp->path_id == 0)
		return 0;
	s = snap_stmt(r, "SELECT v.id, min(sf.snap_id), max(sf.snap_id) FROM snap_fver v"
		      " JOIN snap_sfolder sf ON sf.fver_id = v.id WHERE v.path_id = ?"
		      " GROUP BY v.id", err);
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, hp->path_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(fv, cap_fv, nfv + 1);
		fv[nfv].id = sqlite3_column_int64(s, 0);
		fv[nfv].first = sqlite3_column_int64(s, 1);
		fv[nfv].last = sqlite3_column_int64(s, 2);
		nfv++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "folder versions", err);
		goto fail;
	}
	for (size_t k = 0; k < nfv; k++) {
		free(le);
		if (snap_fver_listing(r, fv[k].id, &le, &nle, err) < 0)
			goto fail;
		for (size_t i = 0; i < nle; i++) {
			int64_t *at = snap_refset_get(&hp->byref, le[i].rset_id, le[i].idx);
			struct snap_held *h;
			if (at == NULL) {
				HW_GROW(hp->v, cap, hp->n + 1);
				h = &hp->v[hp->n];
				memset(h, 0, sizeof(*h));
				h->rset_id = le[i].rset_id;
				h->idx = le[i].idx;
				h->first_snap = fv[k].first;
				h->last_snap = 0;
				snap_refset_put(&hp->byref, le[i].rset_id, le[i].idx, (int64_t)hp->n);
				hp->n++;
			} else {
				h = &hp->v[*at];
			}
			if (fv[k].first < h->first_snap)
				h->first_snap = fv[k].first;
			if (fv[k].last > h->last_snap) {
				h->last_snap = fv[k].last;
				h->uid = le[i].uid;
				h->flags = le[i].flags;
			}
		}
	}
	for (size_t i = 0; i < hp->n; i++) {
		struct snap_lent e = { .rset_id = hp->v[i].rset_id, .idx = hp->v[i].idx };
		hp->v[i].rec = snap_rcache_rec(r, &hp->rc, &e, err);
		if (hp->v[i].rec == NULL)
			goto fail;
	}
	if (hp->n > 0)
		qsort(hp->v, hp->n, sizeof(hp->v[0]), cmp_held_name);
	snap_hmap_release(&hp->byref);
	snap_hmap_init(&hp->byref);
	for (size_t i = 0; i < hp->n; i++) {
		snap_refset_put(&hp->byref, hp->v[i].rset_id, hp->v[i].idx, (int64_t)i);
		snap_hmap_put(&hp->byhash, hp->v[i].rec->hash, (int64_t)i);
	}
	ret = 0;
	goto out;
fail:
	/* nothing half-loaded stays cached */
	free(hp->relpath);
	hp->relpath = NULL;
	hp->n = 0;
out:
	free(le);
	free(fv);
	return ret;
}

const struct snap_held *snap_held_by_name(struct snap_held_path *hp, const char *name, size_t *n_r)
{
	size_t lo = 0, hi = hp->n;

	*n_r = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(hp->v[mid].rec->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < hp->n && strcmp(hp->v[end].rec->name, name) == 0)
		end++;
	*n_r = end - lo;
	return hp->v + lo;
}

const struct snap_held *snap_held_by_ref(struct snap_held_path *hp, int64_t rset_id, uint32_t idx)
{
	int64_t *at = snap_refset_get(&hp->byref, rset_id, idx);

	return at != NULL ? &hp->v[*at] : NULL;
}

const struct snap_held *snap_held_by_hash(struct snap_held_path *hp, const uint8_t hash[16])
{
	int64_t *at = snap_hmap_get(&hp->byhash, hash);

	return at != NULL ? &hp->v[*at] : NULL;
}

int snap_blob_stored(struct snap_repo *r, const uint8_t hash[16], bool *stored_r,
		     struct hw_error *err)
{
	/* uoff -1 (the content's segment was unreadable at the 3 -> 4 upgrade)
	   or a segment verify found damaged: it cannot be restored, so it
	   covers nothing (purge asks this) */
	sqlite3_stmt *s = snap_stmt(r, "SELECT 1 FROM snap_blob b WHERE b.hash = ? AND"
				    SNAP_BLOB_HELD_SQL, err);
	int rc;

	*stored_r = false;
	if (s == NULL)
		return -1;
	sqlite3_bind_blob(s, 1, hash, 16, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hw_catalog_error(r->cat, "blob lookup", err);
	*stored_r = rc == SQLITE_ROW;
	return 0;
}

/* the records holding a Message-ID: (path, reference) */
static int cmp_snap_mref(const void *a, const void *b)
{
	const struct snap_mref *x = a, *y = b;

	if (x->path_id != y->path_id)
		return x->path_id < y->path_id ? -1 : 1;
	if (x->rset_id != y->rset_id)
		return x->rset_id < y->rset_id ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int snap_msgid_refs(struct snap_repo *r, const char *id, const char *other, struct snap_mref **v_r,
		      size_t *n_r, struct hw_error *err)
{
	sqlite3_stmt *s = snap_stmt(r, "SELECT rset_id FROM snap_msgid WHERE msgid_h = ?", err);
	int64_t *rs = NULL;
	size_t nrs = 0, cap_rs = 0, n = 0, cap = 0;
	struct snap_mref *v = NULL;
	int rc, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, snap_msgid_hash(id, strlen(id)));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		HW_GROW(rs, cap_rs, nrs + 1);
		rs[nrs++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		hw_catalog_error(r->cat, "message-id lookup", err);
		goto out;
	}
	for (size_t k = 0; k < nrs; k++) {
		struct snap_rset set;
		if (snap_rset_load(r, rs[k], &set, err) < 0)
			goto out;
		for (size_t i = 0; i < set.n; i++) {
			const char *m = set.v[i].message_id;
			if (set.v[i].kind != SNAP_KIND_MESSAGE || m == NULL ||
			    (strcmp(m, id) != 0 && strcmp(m, other) != 0))
				continue;
			HW_GROW(v, cap, n + 1);
			v[n].path_id = set.path_id;
			v[n].rset_id = set.id;
			v[n].idx = (uint32_t)i;
			n++;
		}
		snap_rset_release(&set);
	}
	/* by folder: each folder's versions are looked at once */
	if (n > 1)
		qsort(v, n, sizeof(v[0]), cmp_snap_mref);
	*v_r = v;
	*n_r = n;
	v = NULL;
	ret = 0;
out:
	free(v);
	free(rs);
	return ret;
}

