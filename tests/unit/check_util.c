/* check_util.c - util.h helpers, hashes (hash.h) and JSON escaping (printer.h) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>
#include <xxhash.h>

#include "error.h"
#include "hash.h"
#include "printer.h"
#include "util.h"
#include "testlib.h"

/* ---- sizes and durations ---- */

START_TEST(test_parse_size)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "0", 0 }, { "123", 123 }, { "10B", 10 }, { "10b", 10 },
		{ "100k", 100 * 1024 }, { "100K", 100 * 1024 }, { "100KB", 100 * 1024 },
		{ "100KiB", 100 * 1024 }, { "512M", 512ull << 20 }, { "512mb", 512ull << 20 },
		{ "2 MB", 2ull << 20 }, { "1.5K", 1536 }, { "1G", 1ull << 30 },
		{ "1.8GB", 1932735283ull },   /* 1.8 * 2^30 = 1932735283.2 */
		{ "3T", 3ull << 40 }, { " 7", 7 }, { "0.5k", 512 },
	};
	static const char *const bad[] = {
		"", " ", "abc", "K", "-1", "-1K", "1X", "1KBB", "1KX", "1.5.5", "1 2",
		"1e", "1BB", "inf", "nan", ".5K", "99999999999T", "1K ", "1 K B",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 42;
		ck_assert_msg(hw_parse_size(good[i].s, &v) == 1, "refused '%s'", good[i].s);
		ck_assert_msg(v == good[i].v, "'%s' -> %" PRIu64 ", want %" PRIu64, good[i].s, v,
			      good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		ck_assert_msg(hw_parse_size(bad[i], &v) == 0, "accepted '%s' as %" PRIu64, bad[i], v);
		ck_assert_msg(v == 42, "'%s' changed the output", bad[i]);
	}
}
END_TEST

START_TEST(test_parse_duration)
{
	static const struct { const char *s; int64_t v; } good[] = {
		{ "0", 0 }, { "45", 45 }, { "45s", 45 }, { "90m", 5400 }, { "12h", 43200 },
		{ "30d", 30 * 86400 }, { "2w", 14 * 86400 }, { "1y", 365 * 86400 },
		{ " 5m", 300 },
	};
	static const char *const bad[] = {
		"", "d", "-1d", "30x", "30dd", "1.5h", "30 d", "30d ", "h12", "99999999999999999999d",
		"106751991167301w", "0x10",
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 42;
		ck_assert_msg(hw_parse_duration(good[i].s, &v) == 1, "refused '%s'", good[i].s);
		ck_assert_msg(v == good[i].v, "'%s' -> %" PRId64 ", want %" PRId64, good[i].s, v,
			      good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		ck_assert_msg(hw_parse_duration(bad[i], &v) == 0, "accepted '%s' as %" PRId64,
			      bad[i], v);
		ck_assert_int_eq(v, 42);
	}
}
END_TEST

START_TEST(test_format_size)
{
	static const struct { uint64_t v; const char *s; } cases[] = {
		{ 0, "0 B" }, { 1, "1 B" }, { 1023, "1023 B" }, { 1024, "1.0 KB" },
		{ 1536, "1.5 KB" }, { 512ull << 20, "512.0 MB" }, { 1932735283ull, "1.8 GB" },
		{ 3ull << 40, "3.0 TB" }, { 5ull << 50, "5.0 PB" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hw_format_size(cases[i].v, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].s);
	}
	/* the largest value stays in PB, and parses back close to itself */
	hw_format_size(UINT64_MAX, buf, sizeof(buf));
	ck_assert_str_eq(buf, "16384.0 PB");
	/* a small buffer truncates */
	hw_format_size(1536, buf, 4);
	ck_assert_str_eq(buf, "1.5");
}
END_TEST

START_TEST(test_time_iso)
{
	char buf[21];

	hw_time_iso(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	hw_time_iso(1700000000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2023-11-14T22:13:20Z");
	hw_time_iso(1804000385, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2027-03-02T15:13:05Z");
	hw_time_iso(951782400, buf, sizeof(buf));   /* a leap day */
	ck_assert_str_eq(buf, "2000-02-29T00:00:00Z");
	hw_time_iso(-1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
}
END_TEST

/* ---- buffers, strings, paths ---- */

START_TEST(test_buf)
{
	struct hw_buf b;
	char *long_s, *s;
	size_t len;

	hw_buf_init(&b);
	ck_assert_ptr_null(b.data);
	s = hw_buf_detach(&b, &len);   /* empty: "" not NULL */
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	ck_assert_uint_eq(len, 0);
	free(s);

	hw_buf_adds(&b, "abc");
	hw_buf_addc(&b, '-');
	hw_buf_addf(&b, "%d:%s", 42, "x");
	hw_buf_add(&b, "\0z", 2);   /* embedded NUL kept */
	ck_assert_uint_eq(b.len, 10);
	ck_assert_mem_eq(b.data, "abc-42:x\0z", 10);
	ck_assert_int_eq(b.data[b.len], '\0');

	/* a formatted string far longer than the first guess */
	long_s = hw_malloc(10001);
	memset(long_s, 'q', 10000);
	long_s[10000] = '\0';
	hw_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	hw_buf_addf(&b, "<%s|%s>", long_s, long_s);
	ck_assert_uint_eq(b.len, 20003);
	ck_assert_uint_eq(strlen(b.data), 20003);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(b.data[10001], '|');
	ck_assert_int_eq(b.data[20002], '>');
	s = hw_buf_detach(&b, &len);
	ck_assert_uint_eq(len, 20003);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(s);
	free(long_s);

	/* many small appends */
	for (int i = 0; i < 100000; i++)
		hw_buf_addc(&b, (char)('0' + i % 10));
	ck_assert_uint_eq(b.len, 100000);
	ck_assert_int_eq(b.data[99999], '9');
	hw_buf_release(&b);
	ck_assert_ptr_null(b.data);

	s = hw_asprintf("%s=%05d", "n", 7);
	ck_assert_str_eq(s, "n=00007");
	free(s);
}
END_TEST

START_TEST(test_strings_and_grow)
{
	char dst[8];
	int *v = NULL;
	size_t cap = 0;
	char *s;

	ck_assert_uint_eq(hw_strlcpy(dst, "hello", sizeof(dst)), 5);
	ck_assert_str_eq(dst, "hello");
	ck_assert_uint_eq(hw_strlcpy(dst, "hello world", sizeof(dst)), 11);
	ck_assert_str_eq(dst, "hello w");
	dst[0] = 'X';
	ck_assert_uint_eq(hw_strlcpy(dst, "abc", 0), 3);
	ck_assert_int_eq(dst[0], 'X');

	s = hw_strndup("abcdef", 3);
	ck_assert_str_eq(s, "abc");
	free(s);

	HW_GROW(v, cap, 1);
	ck_assert_uint_ge(cap, 1);
	HW_GROW(v, cap, 1000);
	ck_assert_uint_ge(cap, 1000);
	for (int i = 0; i < 1000; i++)
		v[i] = i;
	HW_GROW(v, cap, 10);   /* never shrinks */
	ck_assert_uint_ge(cap, 1000);
	ck_assert_int_eq(v[999], 999);
	free(v);
}
END_TEST

START_TEST(test_path_join)
{
	static const struct { const char *a, *b, *r; } cases[] = {
		{ "a", "b", "a/b" }, { "a/", "b", "a/b" }, { "/", "etc", "/etc" },
		{ "", "b", "b" }, { NULL, "b", "b" }, { "a", "", "a" }, { "a", NULL, "a" },
		{ NULL, NULL, "" }, { "", "", "" }, { "a.com/bob", "Sent Items.IMAP",
		"a.com/bob/Sent Items.IMAP" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = hw_path_join(cases[i].a, cases[i].b);
		ck_assert_msg(strcmp(r, cases[i].r) == 0, "join(%s, %s) = '%s', want '%s'",
			      cases[i].a ? cases[i].a : "NULL", cases[i].b ? cases[i].b : "NULL",
			      r, cases[i].r);
		free(r);
	}
}
END_TEST

START_TEST(test_read_file_at)
{
	char *dir = tl_tmpdir(), *data, *p;
	struct hw_error err;
	size_t len;
	int dfd;

	tl_write_file(dir, "small", "0123456789", 10, 0644);
	p = tl_path(dir, "link");
	ck_assert_int_eq(symlink("small", p), 0);
	free(p);
	p = tl_path(dir, "fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);

	ck_assert_int_eq(hw_read_file_at(dfd, "small", "x/small", 10, &data, &len, &err), 1);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(data, "0123456789");
	free(data);
	ck_assert_int_eq(hw_read_file_at(dfd, "absent", "x/absent", 10, &data, &len, &err), 0);
	ck_assert_ptr_null(data);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_read_file_at(dfd, "small", "x/small", 9, &data, &len, &err), -1);
	ck_assert_int_eq(err.errnum, EFBIG);
	ck_assert_msg(strstr(err.msg, "x/small") != NULL, "%s", err.msg);
	ck_assert_ptr_null(data);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_read_file_at(dfd, "link", "x/link", 100, &data, &len, &err), -1);
	ck_assert_msg(strstr(err.msg, "x/link") != NULL, "%s", err.msg);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_read_file_at(dfd, "fifo", "x/fifo", 100, &data, &len, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
	close(dfd);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_errors)
{
	struct hw_error err;

	hw_error_clear(&err);
	ck_assert_str_eq(err.msg, "");
	ck_assert_int_eq(err.errnum, 0);
	errno = ENOSPC;
	ck_assert_int_eq(hw_error_sys(&err, "fsync", "a.com/bob/IMAP.MRK"), -1);
	ck_assert_str_eq(err.msg, "fsync(a.com/bob/IMAP.MRK) failed: No space left on device");
	ck_assert_int_eq(err.errnum, ENOSPC);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(hw_error_prefix(&err, "folder %s", "a.com/bob"), -1);
	ck_assert_str_eq(err.msg, "folder a.com/bob: fsync(a.com/bob/IMAP.MRK) failed: "
			 "No space left on device");
	ck_assert_int_eq(hw_error_set(NULL, EIO, "x"), -1);
	/* a long message is truncated, not overflowed */
	{
		char *big = hw_malloc(5000);
		memset(big, 'p', 4999);
		big[4999] = '\0';
		hw_error_set(&err, EIO, "%s", big);
		ck_assert_uint_eq(strlen(err.msg), HW_ERROR_MAX - 1);
		hw_error_prefix(&err, "%s", big);
		ck_assert_uint_eq(strlen(err.msg), HW_ERROR_MAX - 1);
		free(big);
	}
}
END_TEST

/* ---- hashes ---- */

/* canonical form built by hand: high 64 bits big-endian, then low */
static void xxh_expect(const void *p, size_t len, uint8_t out[16])
{
	XXH128_hash_t h = XXH3_128bits(p, len);

	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(h.high64 >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(h.low64 >> (56 - 8 * i));
	}
}

START_TEST(test_hash_vectors)
{
	struct hw_hash h, h2;
	char hex[33];

	/* published XXH3-128 vectors (seed 0) */
	hw_hash_buf("", 0, &h);
	hw_hash_hex(&h, hex);
	ck_assert_str_eq(hex, "99aa06d3014798d86001c324468d497f");
	hw_hash_buf("abc", 3, &h);
	hw_hash_hex(&h, hex);
	ck_assert_str_eq(hex, "06b05ab6733a618578af5f94892f3950");
	ck_assert_int_eq(h.b[0], 0x06);
	ck_assert_int_eq(h.b[15], 0x50);

	ck_assert_int_eq(hw_hash_from_hex("06b05ab6733a618578af5f94892f3950", &h2), 1);
	ck_assert_mem_eq(h.b, h2.b, 16);
	ck_assert_int_eq(hw_hash_from_hex("06B05AB6733A618578AF5F94892F3950", &h2), 1);
	ck_assert_mem_eq(h.b, h2.b, 16);
	ck_assert_int_eq(hw_hash_from_hex("06b05ab6733a618578af5f94892f395", &h2), 0);
	ck_assert_int_eq(hw_hash_from_hex("06b05ab6733a618578af5f94892f39500", &h2), 0);
	ck_assert_int_eq(hw_hash_from_hex("g6b05ab6733a618578af5f94892f3950", &h2), 0);
	ck_assert_int_eq(hw_hash_from_hex("", &h2), 0);
	ck_assert_int_eq(hw_hash_from_hex("06b05ab6733a618578af5f94892f395 ", &h2), 0);
}
END_TEST

START_TEST(test_hash_fd)
{
	/* 2.5 MiB: crosses hw_hash_fd's 1 MiB read size */
	size_t len = 5 * 512 * 1024 + 17;
	char *data = hw_malloc(len), *dir = tl_tmpdir(), *p;
	uint8_t want[16];
	struct hw_hash h;
	struct hw_error err;
	uint64_t size = 0;
	int fd;

	srand(7);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)(rand() & 0xff);
	xxh_expect(data, len, want);
	hw_hash_buf(data, len, &h);
	ck_assert_mem_eq(h.b, want, 16);

	tl_write_file(dir, "m", data, len, 0644);
	p = tl_path(dir, "m");
	fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lseek(fd, 1000, SEEK_SET), 1000);   /* from offset 0 regardless */
	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(hw_hash_fd(fd, "a.com/bob/m", &h, &size, &err), 1);
	ck_assert_uint_eq(size, len);
	ck_assert_mem_eq(h.b, want, 16);
	close(fd);

	/* an fd that cannot be read: the error names the path */
	fd = open(p, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_hash_fd(fd, "a.com/bob/m", &h, &size, &err), -1);
	ck_assert_msg(strstr(err.msg, "read(a.com/bob/m) failed") == err.msg, "%s", err.msg);
	close(fd);

	/* empty file */
	tl_write_file(dir, "e", "", 0, 0644);
	free(p);
	p = tl_path(dir, "e");
	fd = open(p, O_RDONLY);
	ck_assert_int_eq(hw_hash_fd(fd, "e", &h, &size, &err), 1);
	ck_assert_uint_eq(size, 0);
	xxh_expect("", 0, want);
	ck_assert_mem_eq(h.b, want, 16);
	close(fd);
	free(p);
	free(data);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- JSON ---- */

static char *escape(const char *s)
{
	struct hw_buf b;

	hw_buf_init(&b);
	hw_json_escape(&b, s);
	return hw_buf_detach(&b, NULL);
}

/* strict UTF-8 check (no overlongs, surrogates or > U+10FFFF) */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s, n, cp;
		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
		else return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

#define FFFD "\xef\xbf\xbd"

START_TEST(test_json_escape)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "\"\"" },
		{ "plain", "\"plain\"" },
		{ "a\"b\\c/d", "\"a\\\"b\\\\c/d\"" },
		{ "\n\r\t", "\"\\n\\r\\t\"" },
		{ "\x01\x08\x0c\x1f\x7f", "\"\\u0001\\u0008\\u000c\\u001f\\u007f\"" },
		{ "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac "
		  "\xf0\x9f\x98\x80\"" },
		{ "\xff", "\"" FFFD "\"" },
		{ "a\xc3", "\"a" FFFD "\"" },                          /* truncated at the end */
		{ "\xe2\x82", "\"" FFFD FFFD "\"" },
		{ "\xc0\xaf", "\"" FFFD FFFD "\"" },                   /* overlong '/' */
		{ "\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"" },          /* overlong */
		{ "\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"" },          /* surrogate */
		{ "\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"" }, /* > U+10FFFF */
		{ "\xf8\x88\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD FFFD "\"" },
		{ "\xc3(", "\"" FFFD "(\"" },                          /* bad continuation */
		{ "Subject: \x1b[31mred", "\"Subject: \\u001b[31mred\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = escape(cases[i].in);
		ck_assert_msg(strcmp(r, cases[i].out) == 0, "case %zu: got '%s', want '%s'", i, r,
			      cases[i].out);
		free(r);
	}
}
END_TEST

START_TEST(test_json_escape_random)
{
	unsigned char in[64];

	/* whatever the bytes, the output is a valid JSON string in UTF-8 */
	srand(12345);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (size_t)(rand() % 63);
		char *r;
		size_t len;
		for (size_t i = 0; i < n; i++) {
			in[i] = (unsigned char)(rand() & 0xff);
			if (in[i] == 0)
				in[i] = 0x80;
		}
		in[n] = '\0';
		r = escape((const char *)in);
		len = strlen(r);
		ck_assert_uint_ge(len, 2);
		ck_assert_int_eq(r[0], '"');
		ck_assert_int_eq(r[len - 1], '"');
		ck_assert_msg(valid_utf8((const unsigned char *)r), "invalid UTF-8 out (iter %d)",
			      iter);
		for (size_t i = 1; i + 1 < len; i++) {
			unsigned char c = (unsigned char)r[i];
			ck_assert_msg(c >= 0x20 && c != 0x7f, "raw control byte 0x%02x out", c);
			if (c == '\\') {
				ck_assert_msg(strchr("\"\\nrtu", r[i + 1]) != NULL, "bad escape \\%c",
					      r[i + 1]);
				i++;
			} else {
				ck_assert_msg(c != '"', "unescaped quote (iter %d)", iter);
			}
		}
		/* valid UTF-8 input without controls, quotes or backslashes is kept */
		if (valid_utf8(in) && strpbrk((const char *)in, "\"\\") == NULL) {
			bool ctl = false;
			for (size_t i = 0; i < n; i++)
				if (in[i] < 0x20 || in[i] == 0x7f)
					ctl = true;
			if (!ctl) {
				ck_assert_uint_eq(len, n + 2);
				ck_assert_mem_eq(r + 1, in, n);
			}
		}
		free(r);
	}
}
END_TEST

static char *render(enum hw_out_mode mode, void (*fn)(struct hw_printer *))
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	struct hw_printer *p;

	ck_assert_ptr_nonnull(fp);
	p = hw_printer_new(fp, mode);
	fn(p);
	hw_printer_free(&p);
	ck_assert_ptr_null(p);
	fclose(fp);
	return out;
}

static void two_rows(struct hw_printer *p)
{
	hw_printer_row_begin(p);
	hw_printer_str(p, "file", "md50000000001.msg");
	hw_printer_int(p, "uid", -3);
	hw_printer_str(p, "subject", "bad\x01\"q\"\xff");
	hw_printer_row_end(p);
	hw_printer_row_begin(p);
	hw_printer_str(p, "file", "x");
	hw_printer_uint(p, "uid", UINT64_MAX);
	hw_printer_str(p, "subject", NULL);
	hw_printer_row_end(p);
	hw_printer_summary_begin(p, "index");
	hw_printer_int(p, "folders", 2);
	hw_printer_bool(p, "ok", true);
	hw_printer_real(p, "ratio", 0.125, 2);
	hw_printer_null(p, "none");
	hw_printer_json(p, "list", "[1,2]");
	hw_printer_summary_end(p);
}

START_TEST(test_printer_json)
{
	char *out = render(HW_OUT_JSON, two_rows);

	ck_assert_str_eq(out,
		"{\"file\":\"md50000000001.msg\",\"uid\":-3,\"subject\":\"bad\\u0001\\\"q\\\"" FFFD "\"}\n"
		"{\"file\":\"x\",\"uid\":18446744073709551615,\"subject\":null}\n"
		"{\"folders\":2,\"ok\":true,\"ratio\":0.12,\"none\":null,\"list\":[1,2]}\n");
	free(out);
}
END_TEST

START_TEST(test_printer_table)
{
	char *out = render(HW_OUT_TABLE, two_rows);

	/* columns aligned to the widest cell; control bytes shown as '?';
	   NULL as '-' */
	ck_assert_str_eq(out,
		"file               uid                   subject\n"
		"md50000000001.msg  -3                    bad?\"q\"\xff\n"
		"x                  18446744073709551615  -\n"
		"\n"
		"folders: 2\n"
		"ok:      yes\n"
		"ratio:   0.12\n"
		"none:    -\n"
		"list:    [1,2]\n");
	free(out);
}
END_TEST

static void non_finite(struct hw_printer *p)
{
	hw_printer_row_begin(p);
	hw_printer_real(p, "a", NAN, 1);
	hw_printer_real(p, "b", INFINITY, 1);
	hw_printer_real(p, "c", -1.5, 1);
	hw_printer_row_end(p);
}

START_TEST(test_printer_json_non_finite)
{
	char *out = render(HW_OUT_JSON, non_finite);

	/* JSON has no NaN or Infinity: null keeps the line parseable */
	ck_assert_str_eq(out, "{\"a\":null,\"b\":null,\"c\":-1.5}\n");
	free(out);
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_format_size);
	tcase_add_test(tc, test_time_iso);
	tcase_add_test(tc, test_buf);
	tcase_add_test(tc, test_strings_and_grow);
	tcase_add_test(tc, test_path_join);
	tcase_add_test(tc, test_read_file_at);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_hash_vectors);
	tcase_add_test(tc, test_hash_fd);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_json_escape_random);
	tcase_add_test(tc, test_printer_json);
	tcase_add_test(tc, test_printer_table);
	tcase_add_test(tc, test_printer_json_non_finite);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
