/*
 * msghdr.c - the message header parser (see msghdr.h).
 *
 * One pass over the block finds where it ends and remembers the byte range
 * of the first Date, From, To, Subject, Message-ID and In-Reply-To field;
 * only those ranges are then unfolded and decoded. Nothing is allocated per
 * line or per byte: each extracted field costs one unfold buffer and one
 * result string.
 *
 * Line ends: LF, CRLF, and bare CR all end a line. A run of CRs followed by
 * LF ("\r\r\n", left by a double CRLF conversion) is one line end, so such a
 * file does not look like a one-line header followed by a blank line.
 *
 * Choices the header leaves open, made here (and pinned by the tests):
 * - Blank or blanks-only lines before the first field are skipped when a
 *   field follows (a block that starts with junk indentation is common in
 *   exported mail); otherwise the first of them is the separator. A stray
 *   indent before the first field is ignored. An mbox "From " line and a
 *   UTF-8 byte order mark are skipped at the start only.
 * - Field names are printable ASCII but ':' plus 8-bit bytes; blanks before
 *   the colon are allowed (RFC 5322 obsolete syntax).
 * - A field present but empty gives "" (absent gives NULL). Message-ID and
 *   In-Reply-To keep their angle brackets: "<id@host>".
 * - truncated: no blank line within the cap; header_len is then the cap
 *   and no_separator stays false (the end was not seen).
 * - Dates: years 1900..9999 (two digits: 00-49 -> 20xx, 50-99 -> 19xx;
 *   three digits: +1900), a missing zone is UTC, a missing time is 00:00:00,
 *   unknown zone names count as UTC, military zones as -0000 (RFC 5322),
 *   D/M/Y vs M/D/Y slashed dates are ambiguous and stay unknown.
 * - Charsets: ISO-8859-1 is decoded as Windows-1252 (its C1 bytes are
 *   Windows punctuation in real mail), ks_c_5601-1987/EUC-KR as CP949,
 *   GB2312/GBK as GB18030. A name with characters outside the MIME token
 *   set never reaches iconv_open.
 */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <strings.h>
#include <unistd.h>

#include "msghdr.h"
#include "util.h"

enum {
	F_DATE,
	F_FROM,
	F_TO,
	F_SUBJECT,
	F_MESSAGE_ID,
	F_IN_REPLY_TO,
	F_COUNT
};

/* byte range of a field value: from after the colon to the end of its last
   line (line ends inside are continuation breaks, removed by unfolding) */
struct field_span {
	size_t start;
	size_t end;
	bool seen;
};

/* U+FFFD REPLACEMENT CHARACTER */
static const char REPL[3] = { (char)0xEF, (char)0xBF, (char)0xBD };

/* ------------------------------------------------------------------ */
/* output buffer helpers: reserve once, then write without a call per byte */

static char *buf_reserve(struct hw_buf *b, size_t n)
{
	HW_GROW(b->data, b->cap, b->len + n + 1);
	return b->data + b->len;
}

static void buf_terminate(struct hw_buf *b)
{
	buf_reserve(b, 0);
	b->data[b->len] = '\0';
}

/* ------------------------------------------------------------------ */
/* UTF-8 */

/* append s[0..n) as valid UTF-8: well-formed sequences (Unicode table 3-7)
   are copied, each maximal ill-formed subpart and each NUL becomes U+FFFD */
static void utf8_append_valid(struct hw_buf *b, const unsigned char *s, size_t n)
{
	size_t i = 0;
	char *o = buf_reserve(b, n * 3);   /* worst case: every byte -> U+FFFD */
	char *o0 = o;

	while (i < n) {
		unsigned char c = s[i];
		size_t need, k;
		unsigned char lo = 0x80, hi = 0xBF;

		if (c >= 0x01 && c < 0x80) {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			/* NUL, stray continuation byte, C0, C1, F5..FF */
			memcpy(o, REPL, 3);
			o += 3;
			i++;
			continue;
		}
		for (k = 1; k <= need; k++) {
			unsigned char d;

			if (i + k >= n)
				break;
			d = s[i + k];
			if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF))
				break;
		}
		if (k > need) {
			memcpy(o, s + i, need + 1);
			o += need + 1;
			i += need + 1;
		} else {
			memcpy(o, REPL, 3);
			o += 3;
			i += k;   /* skip the lead and the valid prefix only */
		}
	}
	b->len += (size_t)(o - o0);
	buf_terminate(b);
}

/* ------------------------------------------------------------------ */
/* charsets */

static bool charset_is(const char *cs, const char *name)
{
	return strcasecmp(cs, name) == 0;
}

/* charsets whose bytes are taken as UTF-8 (ASCII is a subset) */
static bool charset_is_utf8(const char *cs)
{
	return charset_is(cs, "utf-8") || charset_is(cs, "utf8") ||
	       charset_is(cs, "us-ascii") || charset_is(cs, "ascii") ||
	       charset_is(cs, "ansi_x3.4-1968") || charset_is(cs, "iso-646-us") ||
	       charset_is(cs, "us");
}

/* MIME labels that glibc iconv does not know, or that mean a superset in
   practice (as browsers and mail clients decode them) */
static const char *charset_iconv_name(const char *cs)
{
	static const struct {
		const char *label;
		const char *iconv;
	} map[] = {
		/* C1 bytes in "latin1" mail are Windows-1252 punctuation */
		{ "iso-8859-1", "WINDOWS-1252" },
		{ "iso8859-1", "WINDOWS-1252" },
		{ "iso_8859-1", "WINDOWS-1252" },
		{ "latin1", "WINDOWS-1252" },
		{ "l1", "WINDOWS-1252" },
		{ "ks_c_5601-1987", "CP949" },
		{ "ks_c_5601", "CP949" },
		{ "ksc5601", "CP949" },
		{ "euc-kr", "CP949" },
		{ "gb2312", "GB18030" },
		{ "gbk", "GB18030" },
		{ "x-gbk", "GB18030" },
		{ "cn-gb", "GB18030" },
		{ "x-sjis", "CP932" },
		{ "windows-31j", "CP932" },
		{ "iso-8859-8-i", "ISO-8859-8" },
		{ "iso-8859-6-i", "ISO-8859-6" },
		{ "unicode-1-1-utf-7", "UTF-7" },
		{ "x-mac-roman", "MACINTOSH" },
		{ "macintosh", "MACINTOSH" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (charset_is(cs, map[i].label))
			return map[i].iconv;
	return cs;
}

/* only MIME charset-name characters reach iconv_open: no "//TRANSLIT"
   style options, no '/' that a module loader could take for a path */
static bool charset_name_ok(const char *cs)
{
	const unsigned char *p = (const unsigned char *)cs;

	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
		      *p == ':' || *p == '+'))
			return false;
	return true;
}

/* append bytes in charset cs as valid UTF-8; an unknown charset keeps the
   bytes (made valid UTF-8), bytes iconv rejects become U+FFFD */
static void charset_append(struct hw_buf *b, const char *cs, const char *s, size_t n)
{
	struct hw_buf tmp;
	iconv_t cd;
	char *in = (char *)s;
	size_t inleft = n;

	if (n == 0)
		return;
	if (charset_is_utf8(cs) || !charset_name_ok(cs)) {
		utf8_append_valid(b, (const unsigned char *)s, n);
		return;
	}
	cd = iconv_open("UTF-8", charset_iconv_name(cs));
	if (cd == (iconv_t)-1) {
		utf8_append_valid(b, (const unsigned char *)s, n);
		return;
	}
	hw_buf_init(&tmp);
	while (inleft > 0) {
		char *out = buf_reserve(&tmp, inleft * 4 + 16);
		size_t outleft = tmp.cap - tmp.len - 1, before = outleft;
		size_t r = iconv(cd, &in, &inleft, &out, &outleft);
		int e = errno;

		tmp.len += before - outleft;
		if (r != (size_t)-1 || (e == E2BIG && outleft != before))
			continue;
		/* no progress on E2BIG (cannot happen with the room reserved
		   above, but a loop must not depend on that): skip like EILSEQ */
		if (e == E2BIG)
			e = EILSEQ;
		/* EILSEQ: skip one byte; EINVAL: truncated sequence at the end */
		memcpy(buf_reserve(&tmp, 3), REPL, 3);
		tmp.len += 3;
		if (e == EILSEQ) {
			in++;
			inleft--;
		} else {
			inleft = 0;
		}
		iconv(cd, NULL, NULL, NULL, NULL);   /* back to the initial shift state */
	}
	{
		/* flush a pending shift sequence (none for UTF-8 output, but cheap) */
		char *out = buf_reserve(&tmp, 16);
		size_t outleft = 16, before = outleft;

		iconv(cd, NULL, NULL, &out, &outleft);
		tmp.len += before - outleft;
	}
	iconv_close(cd);
	/* iconv output is UTF-8, but may hold NUL (from "=00"): validate again */
	utf8_append_valid(b, (const unsigned char *)tmp.data, tmp.len);
	hw_buf_release(&tmp);
}

/* ------------------------------------------------------------------ */
/* RFC 2047 */

#define CHARSET_MAX 64

struct enc_word {
	char charset[CHARSET_MAX + 1];  /* language (RFC 2231 "*lang") removed */
	char enc;                       /* 'b' or 'q' */
	size_t text;                    /* offset of the encoded text */
	size_t text_len;
	size_t end;                     /* offset just after "?=" */
};

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* parse "=?charset?e?text?=" at s[i]. *no_close_until caches a position
   before which no "?=" can close a word, so a value full of "=?" with no
   closing "?=" is still scanned in linear time */
static bool enc_word_parse(const char *s, size_t n, size_t i, size_t *no_close_until,
			   struct enc_word *w)
{
	size_t p = i + 2, cs_start = p, cs_len, t;

	while (p < n && s[p] != '?' && p - cs_start <= CHARSET_MAX) {
		unsigned char c = (unsigned char)s[p];

		if (c <= ' ' || c == 0x7f)
			return false;
		p++;
	}
	if (p >= n || s[p] != '?' || p == cs_start || p - cs_start > CHARSET_MAX)
		return false;
	cs_len = p - cs_start;
	p++;
	if (p + 1 >= n || s[p + 1] != '?')
		return false;
	if (s[p] == 'B' || s[p] == 'b')
		w->enc = 'b';
	else if (s[p] == 'Q' || s[p] == 'q')
		w->enc = 'q';
	else
		return false;
	p += 2;
	if (p < *no_close_until)
		return false;
	for (t = p; t < n; t++) {
		unsigned char c = (unsigned char)s[t];

		if (is_wsp(c) || c == '\r' || c == '\n') {
			*no_close_until = t;
			return false;
		}
		if (c == '?' && t + 1 < n && s[t + 1] == '=')
			break;
	}
	if (t >= n) {
		*no_close_until = n;
		return false;
	}
	memcpy(w->charset, s + cs_start, cs_len);
	w->charset[cs_len] = '\0';
	{
		char *star = strchr(w->charset, '*');

		if (star != NULL)
			*star = '\0';
	}
	w->text = p;
	w->text_len = t - p;
	w->end = t + 2;
	return true;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* decode the word's text into raw bytes appended to b. Lenient on purpose:
   base64 ignores characters outside the alphabet and stops at padding,
   missing padding is fine; Q keeps a '=' that is not followed by two hex
   digits */
static void enc_word_decode(const char *s, const struct enc_word *w, struct hw_buf *b)
{
	const unsigned char *t = (const unsigned char *)s + w->text;
	size_t i, n = w->text_len;
	char *o = buf_reserve(b, n);
	char *o0 = o;

	if (w->enc == 'q') {
		for (i = 0; i < n; i++) {
			int hi, lo;

			if (t[i] == '_') {
				*o++ = ' ';
			} else if (t[i] == '=' && i + 2 < n && (hi = hex_val(t[i + 1])) >= 0 &&
				   (lo = hex_val(t[i + 2])) >= 0) {
				*o++ = (char)(hi << 4 | lo);
				i += 2;
			} else {
				*o++ = (char)t[i];
			}
		}
	} else {
		uint32_t acc = 0;
		int bits = 0;

		for (i = 0; i < n; i++) {
			int v;

			if (t[i] == '=')
				break;
			v = b64_val(t[i]);
			if (v < 0)
				continue;
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				*o++ = (char)((acc >> bits) & 0xFF);
			}
		}
	}
	b->len += (size_t)(o - o0);
	buf_terminate(b);
}

/* decode s[0..n) into b: encoded words anywhere (also inside words and
   quoted strings, as mail clients do), whitespace between two encoded words
   dropped, consecutive words in the same charset joined before conversion
   so a character split across words survives; other text kept as UTF-8 */
static void words_decode(const char *s, size_t n, struct hw_buf *b)
{
	struct hw_buf raw;              /* decoded bytes of pending words */
	char charset[CHARSET_MAX + 1] = "";
	size_t i = 0, lit = 0, no_close_until = 0;
	bool prev_word = false;

	hw_buf_init(&raw);
	while (i + 1 < n) {
		struct enc_word w;
		const char *q;
		size_t j;

		q = memchr(s + i, '=', n - i - 1);
		if (q == NULL)
			break;
		i = (size_t)(q - s);
		if (s[i + 1] != '?' || !enc_word_parse(s, n, i, &no_close_until, &w)) {
			i++;
			continue;
		}
		/* the text between the previous word (or the start) and this one */
		for (j = lit; j < i && is_wsp((unsigned char)s[j]); j++)
			;
		if (!(prev_word && j == i)) {
			charset_append(b, charset, raw.data, raw.len);
			hw_buf_reset(&raw);
			utf8_append_valid(b, (const unsigned char *)s + lit, i - lit);
		}
		if (raw.len > 0 && strcasecmp(charset, w.charset) != 0) {
			charset_append(b, charset, raw.data, raw.len);
			hw_buf_reset(&raw);
		}
		memcpy(charset, w.charset, sizeof(charset));
		enc_word_decode(s, &w, &raw);
		prev_word = true;
		i = lit = w.end;
	}
	charset_append(b, charset, raw.data, raw.len);
	utf8_append_valid(b, (const unsigned char *)s + lit, n - lit);
	hw_buf_release(&raw);
}

char *msghdr_decode_words(const char *value)
{
	struct hw_buf b;

	hw_buf_init(&b);
	if (value != NULL)
		words_decode(value, strlen(value), &b);
	return hw_buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------ */
/* Date */

struct date_parts {
	int day, mon, year, year_digits;
	int hh, mm, ss;
	int zone;            /* minutes east of UTC */
	int ampm;            /* 0 none, 1 am, 2 pm */
	bool have_day, have_mon, have_year, have_time, have_zone, zone_numeric;
	bool bad;
};

static const char *const month_names[12] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"
};

static const char *const weekday_names[7] = {
	"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
};

/* index of the full name that tok (at least 3 letters, maybe ending in '.')
   abbreviates: "nov", "Nov.", "sept", "november" */
static int name_lookup(const char *tok, size_t len, const char *const *names, int count)
{
	int i;

	if (len > 0 && tok[len - 1] == '.')
		len--;
	if (len < 3)
		return -1;
	for (i = 0; i < count; i++)
		if (len <= strlen(names[i]) && strncmp(tok, names[i], len) == 0)
			return i;
	return -1;
}

/* named zones, minutes east of UTC. RFC 5322 obsolete zones first; the rest
   are common in real mail. Unknown names are ignored (UTC assumed) */
static bool zone_lookup(const char *tok, size_t len, int *zone_r)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
		{ "est", -300 }, { "edt", -240 }, { "cst", -360 }, { "cdt", -300 },
		{ "mst", -420 }, { "mdt", -360 }, { "pst", -480 }, { "pdt", -420 },
		{ "wet", 0 }, { "west", 60 }, { "bst", 60 }, { "cet", 60 },
		{ "met", 60 }, { "mez", 60 }, { "cest", 120 }, { "mest", 120 },
		{ "mesz", 120 }, { "eet", 120 }, { "eest", 180 }, { "msk", 180 },
		{ "msd", 240 }, { "jst", 540 }, { "kst", 540 }, { "hkt", 480 },
		{ "sgt", 480 }, { "awst", 480 }, { "acst", 570 }, { "acdt", 630 },
		{ "aest", 600 }, { "aedt", 660 }, { "nzst", 720 }, { "nzdt", 780 },
		{ "akst", -540 }, { "akdt", -480 }, { "hst", -600 }, { "ast", -240 },
		{ "adt", -180 }, { "nst", -210 }, { "ndt", -150 },
	};
	size_t i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == len && memcmp(tok, zones[i].name, len) == 0) {
			*zone_r = zones[i].minutes;
			return true;
		}
	}
	/* military zones: RFC 5322 says to treat them as -0000, because RFC
	   822 gave their signs backwards */
	if (len == 1 && tok[0] >= 'a' && tok[0] <= 'z' && tok[0] != 'j') {
		*zone_r = 0;
		return true;
	}
	return false;
}

/* read up to max digits at s[*i]; -1 when there is none */
static int read_num(const char *s, size_t n, size_t *i, int max, int *digits_r)
{
	int v = 0, d = 0;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		if (d < 9)
			v = v * 10 + (s[*i] - '0');
		d++;
		(*i)++;
	}
	if (digits_r != NULL)
		*digits_r = d;
	if (d == 0 || d > max)
		return -1;
	return v;
}

/* "+0800", "-600", "+01:00", "+5": 1..2 digits are hours, 3..4 are [h]hmm */
static bool zone_numeric_parse(const char *s, size_t n, int *zone_r)
{
	size_t i = 1;
	int sign = s[0] == '-' ? -1 : 1, d, v, hh, mm = 0;

	v = read_num(s, n, &i, 4, &d);
	if (v < 0)
		return false;
	if (d <= 2) {
		hh = v;
		if (i < n && s[i] == ':') {
			i++;
			mm = read_num(s, n, &i, 2, &d);
			if (mm < 0 || d != 2)
				return false;
		}
	} else {
		hh = v / 100;
		mm = v % 100;
	}
	if (i != n || hh > 23 || mm > 59)
		return false;
	*zone_r = sign * (hh * 60 + mm);
	return true;
}

/* a zone token: numeric, a name, or "gmt+0100" / "utc-5" */
static bool zone_parse(const char *s, size_t n, struct date_parts *d)
{
	size_t i;
	int z;

	if (n == 0)
		return false;
	if (s[0] == '+' || s[0] == '-') {
		if (!zone_numeric_parse(s, n, &z))
			return false;
		d->zone = z;
		d->have_zone = d->zone_numeric = true;
		return true;
	}
	for (i = 0; i < n && s[i] >= 'a' && s[i] <= 'z'; i++)
		;
	if (i < n && (s[i] == '+' || s[i] == '-') && i > 0 && zone_lookup(s, i, &z) && z == 0) {
		if (!zone_numeric_parse(s + i, n - i, &z))
			return false;
		d->zone = z;
		d->have_zone = d->zone_numeric = true;
		return true;
	}
	if (i == n && zone_lookup(s, n, &z)) {
		if (!d->zone_numeric) {
			d->zone = z;
			d->have_zone = true;
		}
		return true;
	}
	return false;
}

/* "8:43", "08:43:00", "08:43:00.25", optionally with a zone or am/pm glued
   on: "08:43:00-0800", "08:43:00z", "8:43pm" */
static bool time_parse(const char *s, size_t n, struct date_parts *d)
{
	size_t i = 0;
	int dg, hh, mm, ss = 0;

	hh = read_num(s, n, &i, 2, &dg);
	if (hh < 0 || i >= n || s[i] != ':')
		return false;
	i++;
	mm = read_num(s, n, &i, 2, &dg);
	if (mm < 0 || dg != 2)
		return false;
	if (i < n && s[i] == ':') {
		i++;
		ss = read_num(s, n, &i, 2, &dg);
		if (ss < 0 || dg != 2)
			return false;
		if (i < n && (s[i] == '.' || s[i] == ',') && i + 1 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '9') {
			i++;
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
		}
	}
	d->hh = hh;
	d->mm = mm;
	d->ss = ss;
	d->have_time = true;
	if (i == n)
		return true;
	if (n - i == 2 && (memcmp(s + i, "am", 2) == 0 || memcmp(s + i, "pm", 2) == 0)) {
		d->ampm = s[i] == 'a' ? 1 : 2;
		return true;
	}
	return zone_parse(s + i, n - i, d);
}

static void year_set(struct date_parts *d, int v, int digits)
{
	d->year = v;
	d->year_digits = digits;
	d->have_year = true;
}

/* "2000-11-06", "2000-11-06t08:43:00z", "2000/11/06", "6-nov-2000",
   "06.11.2000" (day first: only the year-first and dotted day-first forms are
   taken, a slashed "11/06/2000" is ambiguous and left unknown) */
static bool numeric_date_parse(const char *s, size_t n, struct date_parts *d)
{
	size_t i = 0;
	int a, b, c, da, dc;
	char sep;

	a = read_num(s, n, &i, 4, &da);
	if (a < 0 || i >= n)
		return false;
	sep = s[i++];
	if (sep != '-' && sep != '/' && sep != '.')
		return false;
	if (sep == '-' && i < n && s[i] >= 'a' && s[i] <= 'z') {
		/* 6-nov-2000 */
		size_t m0 = i;
		int mon;

		while (i < n && s[i] >= 'a' && s[i] <= 'z')
			i++;
		mon = name_lookup(s + m0, i - m0, month_names, 12);
		if (mon < 0 || da > 2 || i >= n || s[i] != '-')
			return false;
		i++;
		c = read_num(s, n, &i, 4, &dc);
		if (c < 0 || i != n)
			return false;
		d->day = a;
		d->mon = mon + 1;
		year_set(d, c, dc);
		d->have_day = d->have_mon = true;
		return true;
	}
	b = read_num(s, n, &i, 2, NULL);
	if (b < 0 || i >= n || s[i] != sep)
		return false;
	i++;
	c = read_num(s, n, &i, 4, &dc);
	if (c < 0)
		return false;
	if (da == 4 && dc <= 2) {
		year_set(d, a, 4);
		d->mon = b;
		d->day = c;
	} else if (sep == '.' && da <= 2 && dc == 4) {
		d->day = a;
		d->mon = b;
		year_set(d, c, 4);
	} else {
		return false;
	}
	d->have_day = d->have_mon = true;
	if (i == n)
		return true;
	if (s[i] == 't' && sep == '-')
		return time_parse(s + i + 1, n - i - 1, d);
	return false;
}

/* copy value lower-cased with comments removed and commas turned to spaces;
   a longer value is cut (a date is short, what follows is junk) */
static size_t date_normalize(const char *v, char *out, size_t size)
{
	size_t o = 0;
	int depth = 0;

	for (; *v != '\0' && o + 1 < size; v++) {
		unsigned char c = (unsigned char)*v;

		if (depth > 0) {
			if (c == '\\' && v[1] != '\0')
				v++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			if (depth == 0)
				out[o++] = ' ';
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		/* a stray ')' is junk, keep it off the token before it */
		if (c == ',' || c == ')' || c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		else if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		out[o++] = (char)c;
	}
	out[o] = '\0';
	/* obsolete syntax allows blanks around the colons of the time:
	   "09 :   55  :  06" */
	{
		size_t r, w = 0;

		for (r = 0; r < o; r++) {
			if (out[r] == ' ') {
				size_t k = r;

				while (k < o && out[k] == ' ')
					k++;
				if (k < o && out[k] == ':') {
					r = k - 1;
					continue;
				}
				if (w > 0 && out[w - 1] == ':') {
					r = k - 1;
					continue;
				}
			}
			out[w++] = out[r];
		}
		out[w] = '\0';
		o = w;
	}
	return o;
}

static void date_token(const char *t, size_t n, struct date_parts *d)
{
	int v, digits;
	size_t i = 0;

	if (t[0] >= '0' && t[0] <= '9') {
		if (n > 1 && (t[n - 1] == '.'))
			n--;   /* "6." */
		v = read_num(t, n, &i, 9, &digits);
		if (i < n && t[i] == ':') {
			if (!d->have_time && !time_parse(t, n, d))
				d->bad = true;
			return;
		}
		if (i < n) {
			if (!d->have_day && !d->have_mon && !d->have_year &&
			    !numeric_date_parse(t, n, d))
				d->bad = true;
			return;
		}
		if (digits <= 2 && !d->have_day) {
			d->day = v;
			d->have_day = true;
		} else if (digits <= 4 && !d->have_year) {
			year_set(d, v, digits);
		}
		/* anything else is junk after the date */
		return;
	}
	if (t[0] == '+' || t[0] == '-') {
		if (n > 1 && t[1] >= '0' && t[1] <= '9' && !d->zone_numeric) {
			if (!zone_parse(t, n, d))
				d->bad = true;
		}
		return;
	}
	if (t[0] >= 'a' && t[0] <= 'z') {
		int m;

		if (name_lookup(t, n, weekday_names, 7) >= 0)
			return;
		m = name_lookup(t, n, month_names, 12);
		if (m >= 0) {
			if (!d->have_mon) {
				d->mon = m + 1;
				d->have_mon = true;
			}
			return;
		}
		if ((t[0] == 'a' || t[0] == 'p') &&
		    ((n == 2 && t[1] == 'm') || (n == 4 && memcmp(t + 1, ".m.", 3) == 0))) {
			d->ampm = t[0] == 'a' ? 1 : 2;
			return;
		}
		if (!d->zone_numeric)
			(void)zone_parse(t, n, d);
		/* unknown words are junk */
	}
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int msghdr_parse_date(const char *value, int64_t *t_r)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct date_parts d;
	char s[256];
	size_t n, i = 0;
	int64_t y, t;
	int dim;

	if (value == NULL)
		return 0;
	memset(&d, 0, sizeof(d));
	n = date_normalize(value, s, sizeof(s));
	while (i < n && !d.bad) {
		size_t j;

		while (i < n && s[i] == ' ')
			i++;
		for (j = i; j < n && s[j] != ' '; j++)
			;
		if (j > i)
			date_token(s + i, j - i, &d);
		i = j;
		if (d.have_day && d.have_mon && d.have_year && d.have_time && d.zone_numeric)
			break;   /* the rest is junk */
	}
	if (d.bad || !d.have_day || !d.have_mon || !d.have_year)
		return 0;

	y = d.year;
	if (d.year_digits <= 2)
		y += y < 50 ? 2000 : 1900;
	else if (d.year_digits == 3)
		y += 1900;
	if (y < 1900 || y > 9999 || d.mon < 1 || d.mon > 12)
		return 0;
	dim = mdays[d.mon - 1] + (d.mon == 2 && is_leap(y));
	if (d.day < 1 || d.day > dim)
		return 0;
	if (d.ampm != 0) {
		if (d.hh < 1 || d.hh > 12)
			return 0;
		d.hh = d.hh % 12 + (d.ampm == 2 ? 12 : 0);
	}
	if (d.hh > 23 || d.mm > 59 || d.ss > 60)
		return 0;
	t = days_from_civil(y, d.mon, d.day) * 86400 + d.hh * 3600 + d.mm * 60 + d.ss;
	*t_r = t - (int64_t)d.zone * 60;
	return 1;
}

/* ------------------------------------------------------------------ */
/* the header block */

void msghdr_init(struct msghdr *h)
{
	memset(h, 0, sizeof(*h));
}

void msghdr_release(struct msghdr *h)
{
	free(h->from);
	free(h->to);
	free(h->subject);
	free(h->message_id);
	free(h->in_reply_to);
	msghdr_init(h);
}

static int field_lookup(const char *name, size_t len)
{
	switch (len) {
	case 2:
		return strncasecmp(name, "to", 2) == 0 ? F_TO : -1;
	case 4:
		if (strncasecmp(name, "date", 4) == 0)
			return F_DATE;
		return strncasecmp(name, "from", 4) == 0 ? F_FROM : -1;
	case 7:
		return strncasecmp(name, "subject", 7) == 0 ? F_SUBJECT : -1;
	case 10:
		return strncasecmp(name, "message-id", 10) == 0 ? F_MESSAGE_ID : -1;
	case 11:
		return strncasecmp(name, "in-reply-to", 11) == 0 ? F_IN_REPLY_TO : -1;
	default:
		return -1;
	}
}

/* field-name bytes: printable ASCII but ':' (RFC 5322 ftext), plus 8-bit
   bytes, which broken mailers put in names of fields nobody reads */
static bool is_name_char(unsigned char c)
{
	return (c > ' ' && c < 0x7f && c != ':') || c >= 0x80;
}

/* copy s[start..end) without its line ends, trimmed of SP/HT */
static void unfold(const char *s, size_t start, size_t end, struct hw_buf *b)
{
	char *o;
	size_t i, n = 0;

	while (start < end && (is_wsp((unsigned char)s[start]) ||
			       s[start] == '\r' || s[start] == '\n'))
		start++;
	while (end > start && (is_wsp((unsigned char)s[end - 1]) ||
			       s[end - 1] == '\r' || s[end - 1] == '\n'))
		end--;
	o = buf_reserve(b, end - start);
	while (start < end) {
		const char *p = s + start;
		const char *lf = memchr(p, '\n', end - start);
		size_t seg = lf != NULL ? (size_t)(lf - p) : end - start;

		/* copy the segment without its CRs */
		for (i = 0; i < seg; i++)
			if (p[i] != '\r')
				o[n++] = p[i];
		start += seg + (lf != NULL);
	}
	b->len += n;
	buf_terminate(b);
}

static void trim_buf(struct hw_buf *b, size_t from)
{
	size_t s = from, e = b->len;

	while (s < e && is_wsp((unsigned char)b->data[s]))
		s++;
	while (e > s && is_wsp((unsigned char)b->data[e - 1]))
		e--;
	if (s > from)
		memmove(b->data + from, b->data + s, e - s);
	b->len = from + (e - s);
	buf_terminate(b);
}

static char *extract_text(const char *s, const struct field_span *f, struct hw_buf *tmp)
{
	struct hw_buf out;

	hw_buf_reset(tmp);
	unfold(s, f->start, f->end, tmp);
	hw_buf_init(&out);
	words_decode(tmp->data, tmp->len, &out);
	trim_buf(&out, 0);
	return hw_buf_detach(&out, NULL);
}

static char *extract_id(const char *s, const struct field_span *f, struct hw_buf *tmp)
{
	struct hw_buf out;
	const char *lt, *gt = NULL;
	size_t a = 0, n;

	hw_buf_reset(tmp);
	unfold(s, f->start, f->end, tmp);
	n = tmp->len;
	lt = memchr(tmp->data, '<', n);
	if (lt != NULL)
		gt = memchr(lt, '>', n - (size_t)(lt - tmp->data));
	if (gt != NULL) {
		a = (size_t)(lt - tmp->data);
		n = (size_t)(gt - lt) + 1;
	}
	hw_buf_init(&out);
	utf8_append_valid(&out, (const unsigned char *)tmp->data + a, n);
	return hw_buf_detach(&out, NULL);
}

static void fields_extract(const char *s, const struct field_span *f, struct msghdr *h)
{
	struct hw_buf tmp;

	hw_buf_init(&tmp);
	if (f[F_DATE].seen) {
		hw_buf_reset(&tmp);
		unfold(s, f[F_DATE].start, f[F_DATE].end, &tmp);
		h->date_known = msghdr_parse_date(tmp.data, &h->date) == 1;
		if (!h->date_known)
			h->date = 0;
	}
	if (f[F_FROM].seen)
		h->from = extract_text(s, &f[F_FROM], &tmp);
	if (f[F_TO].seen && !(h->skip & MSGHDR_SKIP_TO))
		h->to = extract_text(s, &f[F_TO], &tmp);
	if (f[F_SUBJECT].seen)
		h->subject = extract_text(s, &f[F_SUBJECT], &tmp);
	if (f[F_MESSAGE_ID].seen)
		h->message_id = extract_id(s, &f[F_MESSAGE_ID], &tmp);
	if (f[F_IN_REPLY_TO].seen && !(h->skip & MSGHDR_SKIP_IN_REPLY_TO))
		h->in_reply_to = extract_id(s, &f[F_IN_REPLY_TO], &tmp);
	hw_buf_release(&tmp);
}

/* position of the next LF at or after p (n when none), cached so that a
   file of bare-CR lines does not rescan to its end for every line */
static size_t next_lf(const char *s, size_t p, size_t n, size_t *cache, bool *valid)
{
	if (!*valid || *cache < p) {
		const char *q = memchr(s + p, '\n', n - p);

		*cache = q != NULL ? (size_t)(q - s) : n;
		*valid = true;
	}
	return *cache;
}

int msghdr_parse(const char *buf, size_t len, bool at_eof, struct msghdr *h)
{
	struct field_span f[F_COUNT];
	size_t n = len > MSGHDR_CAP ? MSGHDR_CAP : len;
	/* the bytes end where the file ends */
	bool end_eof = at_eof && len <= MSGHDR_CAP;
	/* the bytes end at the cap with more to come: the block is cut there */
	bool end_cap = !end_eof && n == MSGHDR_CAP;
	size_t p = 0, lf_at = 0;
	/* end of the first blank line seen before any field, 0 when none */
	size_t lead_blank_end = 0;
	bool lf_ok = false, have_field = false;
	int cur = -1;
	unsigned skip = h->skip;

	msghdr_release(h);
	h->skip = skip;
	memset(f, 0, sizeof(f));
	h->bytes_read = len;

	/* a UTF-8 byte order mark */
	if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		p = 3;
	for (;;) {
		size_t e, next, ls = p;
		unsigned char c;

		if (p >= n) {
			if (!end_eof && !end_cap)
				return 0;
			if (lead_blank_end > 0 && !have_field) {
				/* only blank lines: the first one was the separator */
				h->header_len = lead_blank_end;
			} else {
				/* the data ends without a blank line */
				h->no_separator = end_eof;
				h->truncated = end_cap;
				h->header_len = n;
			}
			break;
		}
		e = next_lf(buf, p, n, &lf_at, &lf_ok);
		if (e > p) {
			/* bounded by the LF: linear even in a file of bare CRs */
			const char *cr = memchr(buf + p, '\r', e - p);

			if (cr != NULL)
				e = (size_t)(cr - buf);
		}
		/* e: first CR or LF (or n); find where the line end stops */
		if (e == n) {
			if (!end_eof && !end_cap)
				return 0;
			next = n;
		} else if (buf[e] == '\n') {
			next = e + 1;
		} else {
			size_t r = e;

			while (r < n && buf[r] == '\r')
				r++;
			if (r == n && !end_eof && !end_cap)
				return 0;   /* CRs at the end: an LF may follow */
			if (r < n && buf[r] == '\n')
				next = r + 1;   /* CRLF, or CR+LF from a double conversion */
			else
				next = e + 1;   /* bare CR */
		}
		c = (unsigned char)buf[p];
		if (is_wsp(c) && have_field) {
			/* continuation (a line of blanks included, RFC 5322 obs-FWS) */
			if (cur >= 0)
				f[cur].end = e;
			p = next;
			continue;
		}
		/* nothing to continue: skip a stray indent before the first field */
		while (ls < e && is_wsp((unsigned char)buf[ls]))
			ls++;
		if (ls == e) {
			if (have_field) {
				/* the separator */
				h->header_len = next;
				break;
			}
			/* blank lines before any field: some stores and broken
			   converters put them there; the block ends at the first
			   unless a field follows */
			if (lead_blank_end == 0)
				lead_blank_end = next;
			p = next;
			continue;
		}
		{
			size_t q = ls, r;

			while (q < e && is_name_char((unsigned char)buf[q]))
				q++;
			for (r = q; r < e && is_wsp((unsigned char)buf[r]); r++)
				;
			if (q > ls && r < e && buf[r] == ':') {
				int id = field_lookup(buf + ls, q - ls);

				have_field = true;
				cur = -1;
				if (id >= 0 && !f[id].seen) {
					f[id].seen = true;
					f[id].start = r + 1;
					f[id].end = e;
					cur = id;
				}
				p = next;
				continue;
			}
		}
		if (p == 0 && e >= 5 && memcmp(buf, "From ", 5) == 0) {
			/* mbox envelope line */
			p = next;
			continue;
		}
		/* neither a field nor a continuation: the body starts here */
		if (lead_blank_end > 0 && !have_field) {
			h->header_len = lead_blank_end;
		} else {
			h->no_separator = true;
			h->header_len = p;
		}
		break;
	}
	fields_extract(buf, f, h);
	return 1;
}

int msghdr_read_fd(int fd, const char *display_path, struct msghdr *h, struct hw_error *err)
{
	size_t cap = MSGHDR_FIRST_READ, len = 0;
	char *buf = hw_malloc(cap);
	bool eof = false;
	int ret = -1;
	unsigned skip = h->skip;

	msghdr_release(h);
	h->skip = skip;
	for (;;) {
		/* after the first read, read on in steps of the first read's size
		   (the buffer itself doubles): at most that much body is read past
		   the end of a long block */
		size_t want = cap - len < MSGHDR_FIRST_READ ? cap - len : MSGHDR_FIRST_READ;
		ssize_t r = read(fd, buf + len, want);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			hw_error_sys(err, "read", display_path);
			msghdr_release(h);
			goto out;
		}
		if (r == 0)
			eof = true;
		len += (size_t)r;
		if (msghdr_parse(buf, len, eof, h) == 1)
			break;
		/* the block goes on (each call parses the block again from its
		   start; only blocks over the first read pay for that) */
		if (len == cap) {
			cap = cap * 2 > MSGHDR_CAP ? MSGHDR_CAP : cap * 2;
			buf = hw_realloc(buf, cap);
		}
	}
	h->bytes_read = len;
	ret = 1;
out:
	free(buf);
	return ret;
}
