/*
 * check_imapmrk.c - IMAP.MRK codec: field-by-field decoding of hand-built
 * bytes, byte-identical round trips, salvage of corrupt files, random input,
 * read/write through the atomic helper with fault injection.
 *
 * Fixtures: tests/fixtures/imapmrk/{good,corrupt}/IMAP.MRK are the bytes of
 * fixture_good() and fixture_corrupt() below. To regenerate them after a
 * deliberate change of the generator:
 *   HW_REGEN_FIXTURES=1 ./build/tests/check_imapmrk
 * (the test then rewrites the files and still compares them).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imapmrk.h"
#include "io.h"
#include "testlib.h"
#include "util.h"

#define FIXDIR HW_SRCDIR "/tests/fixtures/imapmrk"

/* ---- byte builders: explicit little-endian, independent of the codec ---- */

struct bytes {
	uint8_t b[4096];
	size_t len;
};

static void put_le32(struct bytes *o, uint32_t v)
{
	o->b[o->len++] = (uint8_t)(v & 0xff);
	o->b[o->len++] = (uint8_t)((v >> 8) & 0xff);
	o->b[o->len++] = (uint8_t)((v >> 16) & 0xff);
	o->b[o->len++] = (uint8_t)((v >> 24) & 0xff);
}

static void put_header(struct bytes *o, uint32_t version, uint32_t uidvalidity,
		       uint32_t uidnext, uint32_t counter)
{
	put_le32(o, version);
	put_le32(o, uidvalidity);
	put_le32(o, uidnext);
	put_le32(o, counter);
	put_le32(o, 0);
	put_le32(o, 0x11223344);   /* Filler1: must survive a round trip */
	put_le32(o, 0);
	put_le32(o, 0xdeadbeef);   /* Filler3 */
	o->b[o->len++] = '\r';
	o->b[o->len++] = '\n';
	o->b[o->len++] = 0;
	o->b[o->len++] = 0;
}

/* name: up to 23 raw bytes (name_len of them), rest zero */
static void put_record_raw(struct bytes *o, const void *name, size_t name_len, uint8_t flags,
			   uint32_t uid, uint32_t size, int32_t date)
{
	memset(o->b + o->len, 0, 23);
	memcpy(o->b + o->len, name, name_len);
	o->len += 23;
	o->b[o->len++] = flags;
	put_le32(o, uid);
	put_le32(o, size);
	put_le32(o, (uint32_t)date);
}

static void put_record(struct bytes *o, const char *name, uint8_t flags, uint32_t uid,
		       uint32_t size, int32_t date)
{
	put_record_raw(o, name, strlen(name), flags, uid, size, date);
}

/*
 * The "good" fixture: version 1, UIDValidity 0x5f5e1001, UIDNext 4, counter 7,
 * three records; the third has junk after its NUL that must be kept.
 */
static void fixture_good(struct bytes *o)
{
	static const uint8_t third[23] = "md80000000003.msg\0JUNK";

	o->len = 0;
	put_header(o, 1, 0x5f5e1001, 4, 7);
	put_record(o, "md50000000001.msg", 32 | 16, 1, 1234, 1700000000);
	put_record(o, "PD10000000002.MSG", 0, 2, 0x01020304, INT32_MAX);
	put_record_raw(o, third, sizeof(third), 8 | 4 | 2 | 1, 3, 42, -5);
}

/* the "corrupt" fixture: good + a UID-0 record in the middle + 5 stray bytes */
static void fixture_corrupt(struct bytes *o)
{
	o->len = 0;
	put_header(o, 1, 77, 10, 1);
	put_record(o, "md50000000001.msg", 32, 1, 100, 1000);
	put_record(o, "md50000000002.msg", 32, 0, 200, 2000);
	put_record(o, "md50000000003.msg", 0, 9, 300, 3000);
	memcpy(o->b + o->len, "\x01\x02\x03\x04\x05", 5);
	o->len += 5;
}

/* ---- temp directories ---- */

static size_t dir_count(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* a file that must exist */
static char *file_get(const char *path, size_t *len_r)
{
	char *data = tl_read_file(path, len_r);

	ck_assert_msg(data != NULL, "%s is missing", path);
	return data;
}

/* ---- decoding ---- */

START_TEST(t_decode_fields)
{
	struct bytes o;
	struct imapmrk m;
	struct hw_error err;
	/* the header written out by hand, as the spec lays it out */
	static const uint8_t hdr[36] = {
		1, 0, 0, 0,  0x01, 0x10, 0x5e, 0x5f,  4, 0, 0, 0,  7, 0, 0, 0,
		0, 0, 0, 0,  0x44, 0x33, 0x22, 0x11,  0, 0, 0, 0,  0xef, 0xbe, 0xad, 0xde,
		'\r', '\n', 0, 0,
	};

	fixture_good(&o);
	ck_assert_int_eq(o.len, 36 + 3 * 36);
	ck_assert_mem_eq(o.b, hdr, 36);
	/* record 2's Size 0x01020304 sits at offset 36+36+28, little-endian */
	ck_assert_mem_eq(o.b + 36 + 36 + 28, "\x04\x03\x02\x01", 4);

	imapmrk_init(&m);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 1);
	ck_assert_str_eq(err.msg, "");
	ck_assert(m.header_ok);
	ck_assert_uint_eq(m.hdr.version, 1);
	ck_assert_uint_eq(m.hdr.uidvalidity, 0x5f5e1001);
	ck_assert_uint_eq(m.hdr.uidnext, 4);
	ck_assert_uint_eq(m.hdr.write_counter, 7);
	ck_assert_uint_eq(m.hdr.filler[0], 0);
	ck_assert_uint_eq(m.hdr.filler[1], 0x11223344);
	ck_assert_uint_eq(m.hdr.filler[2], 0);
	ck_assert_uint_eq(m.hdr.filler[3], 0xdeadbeef);
	ck_assert_uint_eq(m.hdr.crlf, IMAPMRK_CRLF);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_uint_eq(m.bad_records, 0);
	ck_assert_uint_eq(m.trailing_bytes, 0);

	ck_assert_str_eq(m.recs[0].filename, "md50000000001.msg");
	ck_assert_uint_eq(m.recs[0].flags, IMAPMRK_FLAG_SEEN | IMAPMRK_FLAG_ANSWERED);
	ck_assert_uint_eq(m.recs[0].uid, 1);
	ck_assert_uint_eq(m.recs[0].size, 1234);
	ck_assert_int_eq(m.recs[0].date, 1700000000);

	ck_assert_str_eq(m.recs[1].filename, "PD10000000002.MSG");
	ck_assert_uint_eq(m.recs[1].flags, 0);
	ck_assert_uint_eq(m.recs[1].uid, 2);
	ck_assert_uint_eq(m.recs[1].size, 0x01020304);
	ck_assert_int_eq(m.recs[1].date, INT32_MAX);

	ck_assert_str_eq(m.recs[2].filename, "md80000000003.msg");
	ck_assert_mem_eq(m.recs[2].raw_name, "md80000000003.msg\0JUNK\0", 23);
	ck_assert_uint_eq(m.recs[2].flags, IMAPMRK_FLAG_FLAGGED | IMAPMRK_FLAG_DELETED |
			  IMAPMRK_FLAG_DRAFT | IMAPMRK_FLAG_RECENT);
	ck_assert_uint_eq(m.recs[2].uid, 3);
	ck_assert_uint_eq(m.recs[2].size, 42);
	ck_assert_int_eq(m.recs[2].date, -5);   /* kept as read; clamping is for writers */
	imapmrk_release(&m);
}
END_TEST

START_TEST(t_roundtrip)
{
	struct bytes o;
	struct imapmrk m;
	struct hw_error err;
	uint8_t *out;

	fixture_good(&o);
	imapmrk_init(&m);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 1);
	ck_assert_uint_eq(imapmrk_encoded_size(&m), o.len);
	out = hw_malloc(o.len);
	imapmrk_encode(&m, out);
	ck_assert_mem_eq(out, o.b, o.len);
	free(out);

	/* a caller that edits filename directly gets that name, NUL-padded */
	memcpy(m.recs[2].filename, "md80000000009.msg", 18);
	out = hw_malloc(imapmrk_encoded_size(&m));
	imapmrk_encode(&m, out);
	ck_assert_mem_eq(out + 36 + 72, "md80000000009.msg\0\0\0\0\0\0", 23);
	free(out);
	imapmrk_release(&m);
}
END_TEST

START_TEST(t_fixture_files)
{
	static const struct { const char *dir; void (*gen)(struct bytes *); int ret; size_t n; } fx[] = {
		{ "good", fixture_good, 1, 3 },
		{ "corrupt", fixture_corrupt, 0, 2 },
	};

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		struct bytes o;
		struct imapmrk m;
		struct hw_error err;
		char *dir = hw_asprintf("%s/%s", FIXDIR, fx[i].dir);
		char *path = hw_asprintf("%s/IMAP.MRK", dir);
		char *data;
		size_t len;
		int dfd;

		fx[i].gen(&o);
		if (getenv("HW_REGEN_FIXTURES") != NULL)
			tl_write_file(dir, "IMAP.MRK", o.b, o.len, 0644);
		data = file_get(path, &len);
		ck_assert_msg(len == o.len && memcmp(data, o.b, len) == 0,
			      "%s differs from its generator", path);
		free(data);

		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(dfd, 0);
		imapmrk_init(&m);
		ck_assert_int_eq(imapmrk_read(dfd, fx[i].dir, &m, &err), fx[i].ret);
		ck_assert_uint_eq(m.n, fx[i].n);
		if (fx[i].ret == 0)
			ck_assert_str_eq(err.msg, "corrupt/IMAP.MRK: 1 garbage record dropped "
					 "(first: record 1, uid 0); truncated: 5 trailing bytes");
		imapmrk_release(&m);
		close(dfd);
		free(dir);
		free(path);
	}
}
END_TEST

START_TEST(t_truncated_header)
{
	struct bytes o;

	fixture_good(&o);
	for (size_t len = 0; len < 36; len++) {
		struct imapmrk m;
		struct hw_error err;
		imapmrk_init(&m);
		ck_assert_int_eq(imapmrk_decode(o.b, len, &m, &err), 0);
		ck_assert(!m.header_ok);
		ck_assert_uint_eq(m.n, 0);
		ck_assert_uint_eq(m.trailing_bytes, len);
		if (len == 0)
			ck_assert_str_eq(err.msg, "IMAP.MRK: empty file");
		else
			ck_assert_ptr_nonnull(strstr(err.msg, "truncated header"));
		imapmrk_release(&m);
	}
}
END_TEST

START_TEST(t_header_only)
{
	struct bytes o;
	struct imapmrk m;
	struct hw_error err;

	/* a folder with no messages: a valid, empty index */
	o.len = 0;
	put_header(&o, 1, 99, 1, 0);
	imapmrk_init(&m);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 1);
	ck_assert(m.header_ok);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_str_eq(err.msg, "");
	imapmrk_release(&m);
}
END_TEST

START_TEST(t_trailing_bytes)
{
	struct bytes o;

	for (size_t extra = 1; extra < 36; extra++) {
		struct imapmrk m;
		struct hw_error err;
		char want[64];

		fixture_good(&o);
		memset(o.b + o.len, 0xab, extra);
		imapmrk_init(&m);
		ck_assert_int_eq(imapmrk_decode(o.b, o.len + extra, &m, &err), 0);
		ck_assert(m.header_ok);
		ck_assert_uint_eq(m.n, 3);
		ck_assert_uint_eq(m.bad_records, 0);
		ck_assert_uint_eq(m.trailing_bytes, extra);
		snprintf(want, sizeof(want), "IMAP.MRK: truncated: %zu trailing bytes", extra);
		ck_assert_str_eq(err.msg, want);
		imapmrk_release(&m);
	}
}
END_TEST

/* one bad record between two good ones, per kind of damage */
START_TEST(t_garbage_record_kinds)
{
	static const uint8_t no_nul[23] = "md5000000000000000X.msg";   /* 23 bytes, no NUL */
	static const struct {
		const void *name;
		size_t name_len;
		uint8_t flags;
		uint32_t uid;
		const char *why;
	} bad[] = {
		{ no_nul, 23, 0, 5, "name not NUL-terminated" },
		{ "", 0, 0, 5, "empty name" },
		{ "\0md50000000005.msg", 18, 0, 5, "empty name" },
		{ "md5/0000005.msg", 15, 0, 5, "bad byte in name" },
		{ "..", 2, 0, 5, "name is . or .." },
		{ "md\x01x.msg", 8, 0, 5, "bad byte in name" },
		{ "md50000000005.msg", 17, 0, 0, "uid 0" },
		{ "md50000000005.msg", 17, 0, 0x80000000u, "uid above 2^31-1" },
		{ "md50000000005.msg", 17, 0, 0xffffffffu, "uid above 2^31-1" },
		{ "md50000000005.msg", 17, 0, 1, "duplicate uid" },
		{ "md50000000005.msg", 17, 64, 5, "unknown flags" },
		{ "md50000000005.msg", 17, 128 | 32, 5, "unknown flags" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bytes o;
		struct imapmrk m;
		struct hw_error err;
		char want[200];

		o.len = 0;
		put_header(&o, 1, 5, 10, 0);
		put_record(&o, "md50000000001.msg", 0, 1, 1, 1);
		put_record_raw(&o, bad[i].name, bad[i].name_len, bad[i].flags, bad[i].uid, 2, 2);
		put_record(&o, "md50000000003.msg", 0, 3, 3, 3);
		imapmrk_init(&m);
		ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 0);
		ck_assert(m.header_ok);
		ck_assert_uint_eq(m.n, 2);
		ck_assert_uint_eq(m.bad_records, 1);
		ck_assert_uint_eq(m.recs[0].uid, 1);
		ck_assert_uint_eq(m.recs[1].uid, 3);
		snprintf(want, sizeof(want),
			 "IMAP.MRK: 1 garbage record dropped (first: record 1, %s)", bad[i].why);
		ck_assert_str_eq(err.msg, want);
		imapmrk_release(&m);
	}
}
END_TEST

START_TEST(t_garbage_many)
{
	struct bytes o;
	struct imapmrk m;
	struct hw_error err;

	o.len = 0;
	put_header(&o, 1, 5, 100, 0);
	put_record(&o, "md50000000001.msg", 0, 1, 1, 1);
	put_record(&o, "md50000000002.msg", 0, 0, 1, 1);
	put_record(&o, "md50000000003.msg", 0, 1, 1, 1);        /* duplicate of 1 */
	put_record(&o, "md50000000004.msg", 0, 4, 1, 1);
	put_record(&o, "md50000000005.msg", 0xff, 5, 1, 1);
	memset(o.b + o.len, 0, 36);                               /* all-zero record */
	o.len += 36;
	put_record(&o, "md50000000007.msg", 0, 99, 1, 1);
	imapmrk_init(&m);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_uint_eq(m.bad_records, 4);
	ck_assert_uint_eq(m.recs[0].uid, 1);
	ck_assert_str_eq(m.recs[0].filename, "md50000000001.msg");   /* first one wins */
	ck_assert_uint_eq(m.recs[1].uid, 4);
	ck_assert_uint_eq(m.recs[2].uid, 99);
	ck_assert_str_eq(err.msg, "IMAP.MRK: 4 garbage records dropped (first: record 1, uid 0)");
	imapmrk_release(&m);
}
END_TEST

START_TEST(t_bad_header)
{
	struct bytes o;
	struct imapmrk m;
	struct hw_error err;

	/* unknown version: header not ok, records still salvaged */
	o.len = 0;
	put_header(&o, 7, 5, 10, 0);
	put_record(&o, "md50000000001.msg", 0, 1, 1, 1);
	imapmrk_init(&m);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 0);
	ck_assert(!m.header_ok);
	ck_assert_uint_eq(m.hdr.version, 7);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_str_eq(err.msg, "IMAP.MRK: bad header version 7");

	/* UIDNext not above the highest UID: usable header, but a repair is due */
	o.len = 0;
	put_header(&o, 1, 5, 3, 0);
	put_record(&o, "md50000000001.msg", 0, 1, 1, 1);
	put_record(&o, "md50000000002.msg", 0, 3, 1, 1);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 0);
	ck_assert(m.header_ok);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_str_eq(err.msg, "IMAP.MRK: uidnext 3 not above highest uid 3");

	o.len = 0;
	put_header(&o, 1, 0, 1, 0);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 0);
	ck_assert(m.header_ok);
	ck_assert_str_eq(err.msg, "IMAP.MRK: uidvalidity 0");

	o.len = 0;
	put_header(&o, 1, 5, 0x80000001u, 0);
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 0);
	ck_assert_str_eq(err.msg, "IMAP.MRK: uidnext 2147483649 above 2^31");

	o.len = 0;
	put_header(&o, 1, 5, 0x80000000u, 0);   /* folder full, but valid */
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 1);

	/* all reasons together, in a fixed order */
	o.len = 0;
	put_header(&o, 2, 5, 1, 0);
	put_record(&o, "md50000000001.msg", 0, 0, 1, 1);
	o.b[o.len++] = 1;
	ck_assert_int_eq(imapmrk_decode(o.b, o.len, &m, &err), 0);
	ck_assert_str_eq(err.msg, "IMAP.MRK: bad header version 2; 1 garbage record dropped "
			 "(first: record 0, uid 0); truncated: 1 trailing bytes");
	imapmrk_release(&m);
}
END_TEST

/* xorshift64*: fixed seed, so a failure can be replayed */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (uint32_t)((rnd_state * 2685821657736338717ull) >> 32);
}

/* checks every decode must satisfy, whatever the input */
static void check_invariants(const uint8_t *buf, size_t len, int ret,
			     const struct imapmrk *m, const struct hw_error *err)
{
	size_t nrec = len >= 36 ? (len - 36) / 36 : 0;

	ck_assert(ret == 0 || ret == 1);
	ck_assert_uint_eq(m->n + m->bad_records, nrec);
	ck_assert_uint_eq(m->trailing_bytes, len >= 36 ? (len - 36) % 36 : len);
	ck_assert((ret == 1) == (err->msg[0] == '\0'));
	for (size_t i = 0; i < m->n; i++) {
		ck_assert(m->recs[i].uid >= 1 && m->recs[i].uid <= IMAPMRK_UID_MAX);
		ck_assert((m->recs[i].flags & ~IMAPMRK_FLAGS_KNOWN) == 0);
		ck_assert(m->recs[i].filename[0] != '\0');
		ck_assert(strlen(m->recs[i].filename) < 23);
		ck_assert(strchr(m->recs[i].filename, '/') == NULL);
	}
	if (ret == 1) {
		/* an ok file re-encodes to itself */
		uint8_t *out = hw_malloc(imapmrk_encoded_size(m));
		ck_assert_uint_eq(imapmrk_encoded_size(m), len);
		imapmrk_encode(m, out);
		ck_assert_mem_eq(out, buf, len);
		free(out);
	}
}

START_TEST(t_random_input)
{
	struct bytes good;
	struct imapmrk m;
	struct hw_error err;
	uint8_t *buf = hw_malloc(2048);
	size_t oks = 0;

	fixture_good(&good);
	imapmrk_init(&m);
	for (int iter = 0; iter < 4000; iter++) {
		size_t len;
		int ret;
		if (iter % 2 == 0) {
			/* pure noise, lengths around record boundaries too */
			len = rnd() % 2 ? rnd() % 400 : 36 + 36 * (rnd() % 40);
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rnd();
		} else {
			/* the good file with a few bytes flipped and maybe cut */
			len = good.len;
			memcpy(buf, good.b, len);
			for (uint32_t k = rnd() % 4; k > 0; k--)
				buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			if (rnd() % 4 == 0)
				len = rnd() % len;
		}
		/* decode straight from a heap block of exactly len bytes, so ASan
		   sees any read past the end */
		uint8_t *exact = hw_malloc(len ? len : 1);
		memcpy(exact, buf, len);
		ret = imapmrk_decode(exact, len, &m, &err);
		check_invariants(exact, len, ret, &m, &err);
		oks += ret == 1;
		free(exact);
	}
	/* the flipped-bit half must sometimes leave a valid file (e.g. a size bit) */
	ck_assert_uint_gt(oks, 0);
	imapmrk_release(&m);
	free(buf);
}
END_TEST

/* ---- read / write ---- */

START_TEST(t_read_absent)
{
	char *dir = tl_tmpdir();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct imapmrk m;
	struct hw_error err;

	imapmrk_init(&m);
	imapmrk_append(&m)->uid = 5;       /* stale content must go */
	hw_error_set(&err, 1, "stale");
	ck_assert_int_eq(imapmrk_read(dfd, "a.com/bob", &m, &err), 0);
	ck_assert_str_eq(err.msg, "");
	ck_assert_uint_eq(m.n, 0);
	ck_assert(!m.header_ok);
	imapmrk_release(&m);
	close(dfd);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(t_read_symlink_refused)
{
	char *dir = tl_tmpdir();
	char *real = hw_path_join(dir, "real.mrk"), *link = hw_path_join(dir, "IMAP.MRK");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct bytes o;
	struct imapmrk m;
	struct hw_error err;

	fixture_good(&o);
	tl_write_file(dir, "real.mrk", o.b, o.len, 0644);
	ck_assert_int_eq(symlink("real.mrk", link), 0);
	imapmrk_init(&m);
	ck_assert_int_eq(imapmrk_read(dfd, "f", &m, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "f/IMAP.MRK"));
	ck_assert_uint_eq(m.n, 0);
	imapmrk_release(&m);
	close(dfd);
	free(real);
	free(link);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(t_read_not_a_file)
{
	char *dir = tl_tmpdir();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct imapmrk m;
	struct hw_error err;

	tl_mkdirs(dir, "IMAP.MRK");
	imapmrk_init(&m);
	ck_assert_int_eq(imapmrk_read(dfd, "f", &m, &err), -1);
	ck_assert_str_eq(err.msg, "f/IMAP.MRK: not a regular file");
	imapmrk_release(&m);
	close(dfd);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

static void build_index(struct imapmrk *m)
{
	struct imapmrk_record *r;

	imapmrk_init(m);
	imapmrk_header_new(&m->hdr, 1700000000);
	ck_assert_uint_eq(m->hdr.version, 1);
	ck_assert_uint_eq(m->hdr.uidnext, 1);
	ck_assert_uint_eq(m->hdr.crlf, IMAPMRK_CRLF);
	for (uint32_t i = 1; i <= 50; i++) {
		char name[32];
		r = imapmrk_append(m);
		snprintf(name, sizeof(name), "md50%09u.msg", i);
		ck_assert(imapmrk_record_set_name(r, name));
		r->uid = i * 2;
		r->flags = (uint8_t)(i % 64);
		r->size = i * 1000;
		r->date = imapmrk_clamp_date((int64_t)1600000000 + i);
	}
	m->hdr.uidnext = 101;
}

START_TEST(t_write_read)
{
	char *dir = tl_tmpdir();
	char *path = hw_path_join(dir, "IMAP.MRK");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct imapmrk m, back;
	struct hw_error err;
	struct stat st;

	build_index(&m);
	ck_assert_int_eq(imapmrk_write(dfd, "a.com/bob", &m, &err), 1);
	ck_assert_str_eq(err.msg, "");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_size, 36 + 50 * 36);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_uint_eq(dir_count(dir), 1);     /* no temp file left */

	imapmrk_init(&back);
	ck_assert_int_eq(imapmrk_read(dfd, "a.com/bob", &back, &err), 1);
	ck_assert_uint_eq(back.n, 50);
	ck_assert_mem_eq(&back.hdr, &m.hdr, sizeof(m.hdr));
	for (size_t i = 0; i < 50; i++) {
		ck_assert_str_eq(back.recs[i].filename, m.recs[i].filename);
		ck_assert_mem_eq(back.recs[i].raw_name, m.recs[i].raw_name, 23);
		ck_assert_uint_eq(back.recs[i].uid, m.recs[i].uid);
		ck_assert_uint_eq(back.recs[i].flags, m.recs[i].flags);
		ck_assert_uint_eq(back.recs[i].size, m.recs[i].size);
		ck_assert_int_eq(back.recs[i].date, m.recs[i].date);
	}

	/* a rewrite keeps the mode the file had */
	ck_assert_int_eq(chmod(path, 0600), 0);
	back.hdr.write_counter++;
	ck_assert_int_eq(imapmrk_write(dfd, "a.com/bob", &back, &err), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(dir_count(dir), 1);

	imapmrk_release(&back);
	imapmrk_release(&m);
	close(dfd);
	free(path);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(t_write_fault_keeps_old)
{
	char *dir = tl_tmpdir();
	char *path = hw_path_join(dir, "IMAP.MRK");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct imapmrk m;
	struct hw_error err;
	struct bytes o;
	char *data;
	size_t len;

	fixture_good(&o);
	tl_write_file(dir, "IMAP.MRK", o.b, o.len, 0644);
	build_index(&m);

	setenv("HIWATER_FAULT", "fsync:1:EIO", 1);
	hw_io_fault_reset();
	ck_assert_int_eq(imapmrk_write(dfd, "a.com/bob", &m, &err), -1);
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
	ck_assert_msg(strncmp(err.msg, "fsync(a.com/bob/", 16) == 0 &&
		      strstr(err.msg, "IMAP.MRK) failed: Input/output error") != NULL,
		      "unexpected error: %s", err.msg);
	ck_assert_int_eq(err.errnum, EIO);

	data = file_get(path, &len);
	ck_assert_uint_eq(len, o.len);
	ck_assert_mem_eq(data, o.b, len);      /* old file intact */
	free(data);
	ck_assert_uint_eq(dir_count(dir), 1);  /* temp removed */

	/* a failed rename: same story */
	setenv("HIWATER_FAULT", "rename:1:ENOSPC", 1);
	hw_io_fault_reset();
	ck_assert_int_eq(imapmrk_write(dfd, "a.com/bob", &m, &err), -1);
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
	ck_assert_str_eq(err.msg, "rename(a.com/bob/IMAP.MRK) failed: No space left on device");
	data = file_get(path, &len);
	ck_assert_mem_eq(data, o.b, o.len);
	free(data);
	ck_assert_uint_eq(dir_count(dir), 1);

	imapmrk_release(&m);
	close(dfd);
	free(path);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(t_write_refuses_invalid)
{
	char *dir = tl_tmpdir();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct imapmrk m;
	struct hw_error err;

	build_index(&m);
	m.recs[3].uid = 0;
	ck_assert_int_eq(imapmrk_write(dfd, "x", &m, &err), -1);
	ck_assert_str_eq(err.msg, "x/IMAP.MRK: refusing to write record 3 (uid 0): uid 0");
	m.recs[3].uid = 2;   /* same as record 0 */
	ck_assert_int_eq(imapmrk_write(dfd, "x", &m, &err), -1);
	ck_assert_str_eq(err.msg, "x/IMAP.MRK: refusing to write record 3 (uid 2): duplicate uid");
	m.recs[3].uid = 8;
	m.hdr.uidnext = 100;   /* highest UID is 100 */
	ck_assert_int_eq(imapmrk_write(dfd, "x", &m, &err), -1);
	ck_assert_str_eq(err.msg, "x/IMAP.MRK: refusing to write uidnext 100 (highest uid 100)");
	m.hdr.uidnext = 101;
	m.recs[0].flags = 64;
	ck_assert_int_eq(imapmrk_write(dfd, "x", &m, &err), -1);
	m.recs[0].flags = 0;
	m.hdr.version = 2;
	ck_assert_int_eq(imapmrk_write(dfd, "x", &m, &err), -1);
	ck_assert_str_eq(err.msg, "x/IMAP.MRK: refusing to write header version 2");
	m.hdr.version = 1;
	m.hdr.uidvalidity = 0;
	ck_assert_int_eq(imapmrk_write(dfd, "x", &m, &err), -1);
	ck_assert_uint_eq(dir_count(dir), 0);   /* nothing written */
	m.hdr.uidvalidity = 1;
	ck_assert_int_eq(imapmrk_write(dfd, "x", &m, &err), 1);
	imapmrk_release(&m);
	close(dfd);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- small helpers ---- */

START_TEST(t_record_set_name)
{
	struct imapmrk m;
	struct imapmrk_record *r;

	imapmrk_init(&m);
	r = imapmrk_append(&m);
	ck_assert(imapmrk_record_set_name(r, "1234567890123456789012"));   /* 22 */
	ck_assert_str_eq(r->filename, "1234567890123456789012");
	ck_assert_uint_eq(r->raw_name[22], 0);
	ck_assert(!imapmrk_record_set_name(r, "12345678901234567890123"));  /* 23 */
	ck_assert(!imapmrk_record_set_name(r, ""));
	ck_assert_str_eq(r->filename, "1234567890123456789012");   /* unchanged */
	ck_assert(imapmrk_record_set_name(r, "md.msg"));
	ck_assert_mem_eq(r->raw_name, "md.msg\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 23);
	for (int i = 0; i < 100; i++)
		imapmrk_append(&m)->uid = (uint32_t)i;
	ck_assert_uint_eq(m.n, 101);
	ck_assert_str_eq(m.recs[0].filename, "md.msg");
	ck_assert_uint_eq(m.recs[100].uid, 99);
	ck_assert_str_eq(m.recs[100].filename, "");
	imapmrk_release(&m);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_ptr_null(m.recs);
}
END_TEST

START_TEST(t_flags_format)
{
	char buf[128];

	imapmrk_flags_format(63, buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent");
	imapmrk_flags_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	imapmrk_flags_format(IMAPMRK_FLAG_SEEN | IMAPMRK_FLAG_ANSWERED, buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\Seen \\Answered");
	imapmrk_flags_format(IMAPMRK_FLAG_RECENT | IMAPMRK_FLAG_DELETED, buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\Deleted \\Recent");
	imapmrk_flags_format(0xc0 | IMAPMRK_FLAG_DRAFT, buf, sizeof(buf));
	ck_assert_str_eq(buf, "\\Draft");
	/* truncation never overruns and stays terminated */
	memset(buf, 'x', sizeof(buf));
	imapmrk_flags_format(63, buf, 8);
	ck_assert_uint_lt(strlen(buf), 8);
	ck_assert_uint_eq((unsigned char)buf[8], 'x');
	buf[0] = 'x';
	imapmrk_flags_format(63, buf, 0);
	ck_assert_uint_eq((unsigned char)buf[0], 'x');
}
END_TEST

START_TEST(t_clamp_date)
{
	ck_assert_int_eq(imapmrk_clamp_date(0), 0);
	ck_assert_int_eq(imapmrk_clamp_date(1700000000), 1700000000);
	ck_assert_int_eq(imapmrk_clamp_date(INT32_MAX), INT32_MAX);
	ck_assert_int_eq(imapmrk_clamp_date((int64_t)INT32_MAX + 1), INT32_MAX);
	ck_assert_int_eq(imapmrk_clamp_date(4102444800LL), INT32_MAX);   /* 2100 */
	ck_assert_int_eq(imapmrk_clamp_date(INT64_MAX), INT32_MAX);
	ck_assert_int_eq(imapmrk_clamp_date(-1), 0);
	ck_assert_int_eq(imapmrk_clamp_date(INT32_MIN), 0);
	ck_assert_int_eq(imapmrk_clamp_date(INT64_MIN), 0);
}
END_TEST

static Suite *imapmrk_suite(void)
{
	Suite *s = suite_create("imapmrk");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_decode_fields);
	tcase_add_test(tc, t_roundtrip);
	tcase_add_test(tc, t_fixture_files);
	tcase_add_test(tc, t_truncated_header);
	tcase_add_test(tc, t_header_only);
	tcase_add_test(tc, t_trailing_bytes);
	tcase_add_test(tc, t_garbage_record_kinds);
	tcase_add_test(tc, t_garbage_many);
	tcase_add_test(tc, t_bad_header);
	tcase_add_test(tc, t_random_input);
	tcase_add_test(tc, t_read_absent);
	tcase_add_test(tc, t_read_symlink_refused);
	tcase_add_test(tc, t_read_not_a_file);
	tcase_add_test(tc, t_write_read);
	tcase_add_test(tc, t_write_fault_keeps_old);
	tcase_add_test(tc, t_write_refuses_invalid);
	tcase_add_test(tc, t_record_set_name);
	tcase_add_test(tc, t_flags_format);
	tcase_add_test(tc, t_clamp_date);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(imapmrk_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
