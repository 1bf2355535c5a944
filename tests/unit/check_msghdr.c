/*
 * check_msghdr.c - the message header parser: the Date parser (valid,
 * obsolete, broken and unknown forms), RFC 2047 decoding (B, Q, charsets,
 * bad charsets and bad base64), the block scanner (folding, line ends, NUL
 * bytes, no separator, the cap, need-more answers), reading from a file
 * descriptor, random input, and every message of the two shared corpora,
 * with exact expected fields for named messages.
 *
 * The corpora are unpacked once per run (unchecked fixture) into a temp
 * directory; set HW_SHARED when the shared dir is not HW_SRCDIR/../shared.
 * Expected dates were computed with `date -u -d '...' +%s`.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msghdr.h"
#include "testlib.h"
#include "util.h"

/* U+FFFD in UTF-8 */
#define R "\xEF\xBF\xBD"

/* ---- helpers ---- */

/* strict UTF-8 check written independently of the parser's validator:
   decode each sequence, refuse overlongs, surrogates and > U+10FFFF */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		uint32_t cp;
		int n, i;

		if (p[0] < 0x80) {
			p++;
			continue;
		}
		if ((p[0] & 0xE0) == 0xC0) {
			n = 1;
			cp = p[0] & 0x1F;
		} else if ((p[0] & 0xF0) == 0xE0) {
			n = 2;
			cp = p[0] & 0x0F;
		} else if ((p[0] & 0xF8) == 0xF0) {
			n = 3;
			cp = p[0] & 0x07;
		} else {
			return false;
		}
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
			return false;
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n + 1;
	}
	return true;
}

static void check_str(const char *what, const char *got, const char *want)
{
	if (want == NULL) {
		ck_assert_msg(got == NULL, "%s: want absent, got \"%s\"", what, got);
		return;
	}
	ck_assert_msg(got != NULL, "%s: want \"%s\", got absent", what, want);
	ck_assert_msg(strcmp(got, want) == 0, "%s: want \"%s\", got \"%s\"", what, want, got);
}

/* parse a complete in-memory message */
static void parse_all(const char *buf, size_t len, struct msghdr *h)
{
	msghdr_init(h);
	ck_assert_int_eq(msghdr_parse(buf, len, true, h), 1);
}

#define PARSE_LIT(lit, h) parse_all((lit), sizeof(lit) - 1, (h))

/* invariants every parse result must hold */
static void check_invariants(const char *what, const struct msghdr *h)
{
	const char *strs[5] = { h->from, h->to, h->subject, h->message_id, h->in_reply_to };
	int i;

	ck_assert_msg(h->header_len <= h->bytes_read, "%s: header_len %zu > bytes_read %zu",
		      what, h->header_len, h->bytes_read);
	ck_assert_msg(h->header_len <= MSGHDR_CAP, "%s: header_len over the cap", what);
	ck_assert_msg(!(h->truncated && h->no_separator), "%s: truncated and no_separator", what);
	if (h->truncated)
		ck_assert_msg(h->header_len == MSGHDR_CAP, "%s: truncated below the cap", what);
	if (h->date_known)
		ck_assert_msg(h->date >= -2208988800LL - 86400 && h->date <= 253402300799LL + 86400,
			      "%s: date %" PRId64 " out of range", what, h->date);
	else
		ck_assert_msg(h->date == 0, "%s: unknown date is not 0", what);
	for (i = 0; i < 5; i++)
		if (strs[i] != NULL)
			ck_assert_msg(utf8_valid(strs[i]), "%s: field %d is not valid UTF-8", what, i);
	for (i = 3; i < 5; i++) {
		size_t n;

		if (strs[i] == NULL)
			continue;
		/* ids are trimmed */
		n = strlen(strs[i]);
		ck_assert_msg(n == 0 || (strs[i][0] != ' ' && strs[i][n - 1] != ' '),
			      "%s: id not trimmed", what);
	}
}

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool same_result(const struct msghdr *a, const struct msghdr *b)
{
	return a->date_known == b->date_known && a->date == b->date &&
	       str_eq(a->from, b->from) && str_eq(a->to, b->to) &&
	       str_eq(a->subject, b->subject) && str_eq(a->message_id, b->message_id) &&
	       str_eq(a->in_reply_to, b->in_reply_to) && a->header_len == b->header_len &&
	       a->truncated == b->truncated && a->no_separator == b->no_separator;
}

/* ---- Date ---- */

struct date_case {
	const char *in;
	int known;
	int64_t t;
};

static const struct date_case date_cases[] = {
	/* RFC 5322 */
	{ "Mon, 6 Nov 2000 08:43:00 -0800", 1, 973528980 },
	{ "Mon, 06 Nov 2000 08:43:00 -0800", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 +0200", 1, 973492980 },
	{ "Mon, 6 Nov 2000 08:43:00 +0530", 1, 973480380 },
	{ "Mon, 6 Nov 2000 16:43:00 +0000", 1, 973528980 },
	{ "Mon, 6 Nov 2000 16:43:00 -0000", 1, 973528980 },
	/* broken but common */
	{ "Mon, 6 Nov 2000 08:43:00 -0800 (PST)", 1, 973528980 },
	{ "Mon, 6 Nov 2000 16:43:00 +0000 (UTC)", 1, 973528980 },
	{ "6 Nov 2000 08:43:00 -0800", 1, 973528980 },          /* no weekday */
	{ "Mon, 6 Nov 2000 08:43 -0800", 1, 973528980 },        /* no seconds */
	{ "mon, 6 nov 2000 08:43:00 -0800", 1, 973528980 },     /* lowercase */
	{ "MON, 6 NOV 2000 08:43:00 -0800", 1, 973528980 },
	{ "Monday, 6 November 2000 08:43:00 -0800", 1, 973528980 },
	{ "Mon, 6 Nov. 2000 08:43:00 -0800", 1, 973528980 },
	{ "  Mon,6 Nov 2000 08:43:00 -0800  ", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 -0800 junk 99:99 1234", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 -0800 (PST) (more)", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 -0800)", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 (a (nested) comment) -0800", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 GMT-0800", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 -08:00", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00-0800", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00.250 -0800", 1, 973528980 },
	{ "Mon, 6 Nov 2000 8:43:00 -0800", 1, 973528980 },
	{ "Fri, 23 Aug 2002 2:32:53 -0400", 1, 1030084373 },
	/* two- and three-digit years (RFC 5322 4.3) */
	{ "Mon, 6 Nov 00 08:43:00 -0800", 1, 973528980 },
	{ "Mon, 6 Nov 100 08:43:00 -0800", 1, 973528980 },
	{ "1 Jan 49 00:00 +0000", 1, 2493072000LL },
	{ "1 Jan 50 00:00 +0000", 1, -631152000 },
	{ "Wed, 11 Feb 98 11:51 CST", 1, 887219460 },
	/* obsolete zones */
	{ "Mon, 6 Nov 2000 08:43:00 PST", 1, 973528980 },
	{ "Mon, 6 Nov 2000 09:43:00 PDT", 1, 973528980 },
	{ "Mon, 6 Nov 2000 11:43:00 EST", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 EDT", 1, 973514580 },
	{ "Mon, 6 Nov 2000 09:43:00 MST", 1, 973528980 },
	{ "Mon, 6 Nov 2000 16:43:00 GMT", 1, 973528980 },
	{ "Tue, 6 Jun 2000 03:20:11 UT", 1, 960261611 },
	{ "Mon, 6 Nov 2000 16:43:00 Z", 1, 973528980 },
	/* military zones count as -0000 (RFC 5322 4.3: their signs were wrong) */
	{ "Mon, 6 Nov 2000 16:43:00 A", 1, 973528980 },
	{ "Mon, 6 Nov 2000 16:43:00 Y", 1, 973528980 },
	{ "Mon, 6 Nov 2000 16:43:00 FOO", 1, 973528980 },      /* unknown name: UTC */
	{ "Mon, 6 Nov 2000 08:43:00 PST -0800", 1, 973528980 },
	{ "Mon, 6 Nov 2000 08:43:00 UTC -0800", 1, 973528980 }, /* numeric wins */
	{ "Mon, 21 Aug 95 13:30:57 -600", 1, 809033457 },
	{ "Tue, 04 Dec 2001 17:11:25 -0459", 1, 1007503825 },
	{ "Wed, 20 Sep 1995 00:19:00 (EDT) -0400", 1, 811570740 },
	/* no zone: UTC; no time: midnight */
	{ "Mon, 6 Nov 2000 08:43:00", 1, 973500180 },
	{ "06 Nov 2000", 1, 973468800 },
	{ "6 Nov 2000", 1, 973468800 },
	/* other layouts */
	{ "2000-11-06 08:43:00", 1, 973500180 },
	{ "2000-11-06T08:43:00Z", 1, 973500180 },
	{ "2000-11-06T08:43:00-08:00", 1, 973528980 },
	{ "2000/11/06 08:43:00", 1, 973500180 },
	{ "06.11.2000 08:43:00", 1, 973500180 },
	{ "6-Nov-2000 08:43:00 -0800", 1, 973528980 },
	{ "Mon Nov  6 08:43:00 2000", 1, 973500180 },            /* asctime */
	{ "Mon Nov 6 08:43:00 PST 2000", 1, 973528980 },         /* date(1) */
	{ "Nov 6, 2000 8:43 PM", 1, 973543380 },
	{ "Nov 6, 2000 12:10 AM", 1, 973469400 },
	{ "Fri, 21 Nov 1997 09(comment):   55  :  06 -0600", 1, 880127706 },
	{ "Sat, 20 Sep 2008 20:04:30 +0300 (\xf9\xf2\xe5\xef)", 1, 1221930270 },
	/* calendar edges, 64-bit */
	{ "Tue, 29 Feb 2000 12:00:00 +0000", 1, 951825600 },
	{ "Sun, 31 Dec 2028 23:59:60 +0000", 1, 1861920000 },   /* leap second */
	{ "Thu, 13 Feb 1969 23:32:54 -0330", 1, -27723426 },
	{ "Fri, 1 Jan 9999 00:00:00 +0000", 1, 253370764800LL },
	{ "Mon, 1 Jan 1900 00:00:00 +0000", 1, -2208988800LL },
	/* unknown */
	{ "", 0, 0 },
	{ "   ", 0, 0 },
	{ "Whenever", 0, 0 },
	{ "Thu,", 0, 0 },
	{ "Malformed Date.", 0, 0 },
	{ "Pn, 29 paX 2007 21:13:00 +0100", 0, 0 },             /* no month */
	{ "Wed, 15 Dec 2010 59:10 -0500", 0, 0 },               /* hour 59 */
	{ "Tue, 7 Apr 2026 10:00:t <rimap-test@example.test>", 0, 0 },
	{ "Mon, 6 Nov 2000 24:00:00 +0000", 0, 0 },
	{ "Mon, 6 Nov 2000 08:60:00 +0000", 0, 0 },
	{ "Mon, 6 Nov 2000 08:43:61 +0000", 0, 0 },
	{ "Mon, 32 Nov 2000 08:43:00 +0000", 0, 0 },
	{ "Mon, 31 Nov 2000 08:43:00 +0000", 0, 0 },
	{ "Thu, 29 Feb 1900 00:00:00 +0000", 0, 0 },            /* not a leap year */
	{ "Thu, 29 Feb 2001 00:00:00 +0000", 0, 0 },
	{ "Mon, 0 Nov 2000 08:43:00 +0000", 0, 0 },
	{ "Mon, 30 May 0001 13:10:06 -0800 (PST)", 0, 0 },     /* year 1 */
	{ "Mon, 6 Nov 1899 08:43:00 +0000", 0, 0 },
	{ "Mon, 6 Nov 2000 08:43:00 +2500", 0, 0 },            /* zone out of range */
	{ "Mon, 6 Nov 2000 08:43:00 -0875", 0, 0 },
	{ "11/06/2000 08:43", 0, 0 },                          /* M/D or D/M: ambiguous */
	{ "Nov 2000 08:43:00", 0, 0 },                         /* no day */
	{ "Mon, 6 Nov 08:43:00 -0800", 0, 0 },                 /* no year */
	{ "Mon, 6 Nov 2000 08:43:00xyz", 0, 0 },
	{ "Mon, 6 Nov 2000 13:00 PM", 0, 0 },
	{ "Mon, 6 Nov 99999999999 08:43 +0000", 0, 0 },
	{ "(Mon, 6 Nov 2000 08:43:00 -0800)", 0, 0 },          /* all comment */
};

START_TEST(test_date_table)
{
	size_t i;

	for (i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
		const struct date_case *c = &date_cases[i];
		int64_t t = -1;
		int r = msghdr_parse_date(c->in, &t);

		ck_assert_msg(r == c->known, "\"%s\": want %s, got %s", c->in,
			      c->known ? "known" : "unknown", r ? "known" : "unknown");
		if (c->known)
			ck_assert_msg(t == c->t, "\"%s\": want %" PRId64 ", got %" PRId64,
				      c->in, c->t, t);
	}
	ck_assert_int_eq(msghdr_parse_date(NULL, NULL), 0);
}
END_TEST

START_TEST(test_date_long_and_random)
{
	char buf[4096];
	uint32_t x = 12345;
	int64_t t;
	int i, j;

	/* a long value: the date is found at the start, the rest is junk */
	memset(buf, 'x', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "6 Nov 2000 08:43:00 -0800 ", 26);
	ck_assert_int_eq(msghdr_parse_date(buf, &t), 1);
	ck_assert_int_eq(t, 973528980);
	/* an unclosed comment hides the rest */
	ck_assert_int_eq(msghdr_parse_date("6 Nov 2000 (08:43:00 -0800", &t), 1);
	ck_assert_int_eq(t, 973468800);

	/* random strings over a date-ish alphabet: never out of range */
	for (i = 0; i < 20000; i++) {
		static const char alpha[] = "0123456789 :,-+()adtnovmzJFMASONDpstuec\t.";
		int n;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		n = (int)(x % 60);
		for (j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[j] = alpha[x % (sizeof(alpha) - 1)];
		}
		buf[n] = '\0';
		t = 0;
		if (msghdr_parse_date(buf, &t) == 1)
			ck_assert_msg(t >= -2208988800LL - 86400 && t <= 253402300799LL + 86400,
				      "\"%s\" -> %" PRId64, buf, t);
	}
}
END_TEST

/* ---- RFC 2047 ---- */

struct word_case {
	const char *in;
	const char *out;
};

static const struct word_case word_cases[] = {
	{ "plain text", "plain text" },
	{ "", "" },
	/* B and Q, UTF-8 */
	{ "=?UTF-8?B?44G+44G/44KA44KB44KC?=", "まみむめも" },
	{ "=?utf-8?b?SGVsbG8=?=", "Hello" },
	{ "=?utf-8?q?MIME_UTF8_Test_=c2=a2?= More Text", "MIME UTF8 Test ¢ More Text" },
	{ "=?US-ASCII?Q?Test_QP_Subject=21?=", "Test QP Subject!" },
	{ "=?ANSI_X3.4-1968?Q?Moore_On_Life=3F?=", "Moore On Life?" },
	/* ISO-8859-1 (decoded as its superset Windows-1252) and Windows-1252 */
	{ "=?ISO-8859-1?Q?Eelanal=FC=FCsi_p=E4ring?=", "Eelanalüüsi päring" },
	{ "=?iso-8859-1?q?=80_price?=", "€ price" },
	{ "=?Windows-1252?Q?=93quoted=94_=80?=", "“quoted” €" },
	{ "=?windows-1252?B?k3F1b3RlZJQggA==?=", "“quoted” €" },
	{ "=?Windows-1252?Q?bad=81byte?=", "bad" R "byte" },
	/* Japanese */
	{ "=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト" },
	{ "=?ISO-2022-JP?B?GyRCRnxLXDhsJWEhPCVrJUYlOSVIGyhCICh0ZXN0aW5nIEph?= "
	  "=?ISO-2022-JP?B?cGFuZXNlIGVtYWlscyk=?=",
	  "日本語メールテスト (testing Japanese emails)" },
	{ "=?Shift_JIS?B?g2WDWINn?=", "テスト" },
	{ "=?shift-jis?B?g2WDWINn?=", "テスト" },
	{ "=?EUC-KR?Q?NOTE:_=C7=D1=B1=B9=B8=BB=B7=CE_=C7=CF=B4=C2_=B0=CD?=",
	  "NOTE: 한국말로 하는 것" },
	{ "=?ks_c_5601-1987?B?x9GxuQ==?=", "한국" },
	{ "=?utf-7?Q?Die_Hasen_und_die_Fr+APY-sche?=", "Die Hasen und die Frösche" },
	/* adjacent words: whitespace between them dropped, text kept */
	{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?=  \t =?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?==?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c" },
	{ "x =?utf-8?q?a?= y", "x a y" },
	{ "=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=", "éé" },
	/* a character split across two words survives */
	{ "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "€" },
	{ "Re: Test: =?UTF-8?B?Iua8ouWtlyI=?= mid =?UTF-8?B?Iua8ouWtlyI=?= tail",
	  "Re: Test: \"漢字\" mid \"漢字\" tail" },
	/* lenient: glued to text, in quotes, language tag */
	{ "Re:=?utf-8?q?x?=", "Re:x" },
	{ "\"=?Windows-1252?B?Rm9ybWHn428=?=\" <a@b>", "\"Formação\" <a@b>" },
	{ "=?utf-8*en?q?hi?=", "hi" },
	{ "=?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=", "Die Hasen und die Frösche" },
	/* unknown charset: the bytes, made valid UTF-8 */
	{ "=?x-unknown?Q?caf=C3=A9?=", "café" },
	{ "=?x-bogus?Q?caf=E9?=", "caf" R },
	{ "=?NONE?B?VEVTVA=?=", "TEST" },
	/* names that are no MIME charset never reach iconv_open */
	{ "=?iso-8859-1//IGNORE?Q?=E9?=", R },
	{ "=?../../tmp/x?Q?=E9?=", R },
	/* bad base64: characters outside the alphabet skipped, padding optional */
	{ "=?utf-8?b?SGVsbG8?=", "Hello" },
	{ "=?utf-8?b?SGV$sb!G8=?=", "Hello" },
	{ "=?utf-8?b?SGVsbG8=junk?=", "Hello" },
	{ "=?utf-8?b?/w==?=", R },
	{ "=?utf-8?b?=?=", "" },
	/* Q details */
	{ "=?utf-8?q?a=2?=", "a=2" },
	{ "=?utf-8?q?a=?=", "a=" },
	{ "=?utf-8?q?a=3d=3D?=", "a==" },
	{ "=?utf-8?q?nul=00byte?=", "nul" R "byte" },
	{ "=?utf-8?q?" "?=", "" },   /* split: "??=" is a trigraph */
	/* not encoded words: kept as they are */
	{ "=?utf-8?q?no end", "=?utf-8?q?no end" },
	{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "a =?utf-8?q?with space?= b", "a =?utf-8?q?with space?= b" },
	{ "=??q?abc?=", "=??q?abc?=" },
	{ "=?utf-8?q", "=?utf-8?q" },
	{ "=?", "=?" },
	{ "=", "=" },
	{ "?=", "?=" },
	/* raw bytes: valid UTF-8 kept, invalid replaced */
	{ "Säying Hello", "Säying Hello" },
	{ "caf\xe9", "caf" R },
	{ "\xc0\xaf", R R },
	{ "\xed\xa0\x80", R R R },
	{ "\xe2\x82", R },
	{ "\xe2\x82x", R "x" },
	{ "\xf4\x90\x80\x80", R R R R },
	{ "\xf0\x9f\x98\x80 ok", "\xf0\x9f\x98\x80 ok" },
	{ "\xff\xfe", R R },
};

START_TEST(test_words_table)
{
	size_t i;

	for (i = 0; i < sizeof(word_cases) / sizeof(word_cases[0]); i++) {
		char *out = msghdr_decode_words(word_cases[i].in);

		ck_assert_msg(strcmp(out, word_cases[i].out) == 0, "\"%s\": want \"%s\", got \"%s\"",
			      word_cases[i].in, word_cases[i].out, out);
		ck_assert(utf8_valid(out));
		free(out);
	}
	{
		char *out = msghdr_decode_words(NULL);

		ck_assert_str_eq(out, "");
		free(out);
	}
}
END_TEST

START_TEST(test_words_random)
{
	static const char *const parts[] = {
		"=?", "?=", "?", "=", "utf-8", "iso-2022-jp", "x-bad", "b", "q", "B", "Q",
		"GyRC", "SGVs", "=C3", "=A9", "=00", "\xc3", "\xa9", "\xe2\x82", " ", "\t",
		"_", "a", "*en", "shift_jis", "g2WD", "=FF", "windows-1252", "utf-7", "+APY-",
	};
	struct hw_buf b;
	uint32_t x = 777;
	int i, j;

	hw_buf_init(&b);
	for (i = 0; i < 5000; i++) {
		char *out;
		int n;

		hw_buf_reset(&b);
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		n = (int)(x % 40);
		for (j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			hw_buf_adds(&b, parts[x % (sizeof(parts) / sizeof(parts[0]))]);
		}
		hw_buf_addc(&b, 'z');
		out = msghdr_decode_words(b.data);
		ck_assert_msg(utf8_valid(out), "\"%s\" gave invalid UTF-8", b.data);
		free(out);
	}
	hw_buf_release(&b);
}
END_TEST

/* a value full of "=?" and no "?=" must not take quadratic time; this is a
   correctness test (it finishes within the Check timeout), not a timing one */
START_TEST(test_words_no_close_long)
{
	struct hw_buf b;
	char *out;
	int i;

	hw_buf_init(&b);
	for (i = 0; i < 40000; i++)
		hw_buf_adds(&b, "=?a?q?xx");
	out = msghdr_decode_words(b.data);
	ck_assert_uint_eq(strlen(out), b.len);
	ck_assert_str_eq(out, b.data);
	free(out);
	hw_buf_release(&b);
}
END_TEST

/* ---- the block ---- */

START_TEST(test_basic_fields)
{
	static const char msg[] =
		"Return-Path: <x@y>\r\n"
		"SUBJECT: first\r\n"
		"subject: second\r\n"
		"date: Mon, 6 Nov 2000 08:43:00 -0800 (PST)\r\n"
		"From: \"Bob\" <bob@example.com>\r\n"
		"to: a@b, c@d\r\n"
		"MESSAGE-ID:   <abc@host> (comment)\r\n"
		"In-Reply-To: Your message of Monday <x@y> <z@w>\r\n"
		"\r\n"
		"From: not a header, body\r\n";
	struct msghdr h;

	PARSE_LIT(msg, &h);
	check_str("subject", h.subject, "first");
	check_str("from", h.from, "\"Bob\" <bob@example.com>");
	check_str("to", h.to, "a@b, c@d");
	check_str("message_id", h.message_id, "<abc@host>");
	check_str("in_reply_to", h.in_reply_to, "<x@y>");
	ck_assert(h.date_known);
	ck_assert_int_eq(h.date, 973528980);
	ck_assert_uint_eq(h.header_len, strstr(msg, "\r\n\r\n") + 4 - msg);
	ck_assert(!h.no_separator);
	ck_assert(!h.truncated);
	ck_assert_uint_eq(h.bytes_read, sizeof(msg) - 1);
	check_invariants("basic", &h);
	msghdr_release(&h);
	/* release leaves an initialised, empty struct; release twice is fine */
	ck_assert_ptr_null(h.subject);
	msghdr_release(&h);
}
END_TEST

/* skip: the fields asked away stay NULL, across parses of the same struct;
   the others are the same as without it */
START_TEST(test_skip_fields)
{
	static const char msg[] = "From: a@b\nTo: c@d\nSubject: s\nMessage-ID: <m@x>\n"
				  "In-Reply-To: <r@x>\nDate: Mon, 6 Nov 2000 08:43:00 -0800\n\nbody\n";
	struct msghdr h;

	msghdr_init(&h);
	h.skip = MSGHDR_SKIP_TO | MSGHDR_SKIP_IN_REPLY_TO;
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(msghdr_parse(msg, sizeof(msg) - 1, true, &h), 1);
		ck_assert_ptr_null(h.to);
		ck_assert_ptr_null(h.in_reply_to);
		check_str("from", h.from, "a@b");
		check_str("subject", h.subject, "s");
		check_str("message_id", h.message_id, "<m@x>");
		ck_assert(h.date_known);
		ck_assert_int_eq(h.date, 973528980);
		ck_assert_uint_eq(h.skip, MSGHDR_SKIP_TO | MSGHDR_SKIP_IN_REPLY_TO);
	}
	msghdr_release(&h);
	h.skip = MSGHDR_SKIP_TO;
	ck_assert_int_eq(msghdr_parse(msg, sizeof(msg) - 1, true, &h), 1);
	ck_assert_ptr_null(h.to);
	check_str("in_reply_to", h.in_reply_to, "<r@x>");
	msghdr_release(&h);
	PARSE_LIT(msg, &h);
	check_str("to", h.to, "c@d");
	msghdr_release(&h);
	/* and through msghdr_read_fd */
	{
		int p[2];
		struct hw_error err;
		ck_assert_int_eq(pipe(p), 0);
		ck_assert_int_eq(write(p[1], msg, sizeof(msg) - 1), (ssize_t)(sizeof(msg) - 1));
		close(p[1]);
		msghdr_init(&h);
		h.skip = MSGHDR_SKIP_TO;
		ck_assert_int_eq(msghdr_read_fd(p[0], "pipe", &h, &err), 1);
		close(p[0]);
		ck_assert_ptr_null(h.to);
		check_str("subject", h.subject, "s");
		check_str("in_reply_to", h.in_reply_to, "<r@x>");
		msghdr_release(&h);
	}
}
END_TEST

START_TEST(test_ids)
{
	struct msghdr h;

	PARSE_LIT("Message-ID: no-brackets@host  \nIn-Reply-To: <unterminated\n\n", &h);
	check_str("message_id", h.message_id, "no-brackets@host");
	check_str("in_reply_to", h.in_reply_to, "<unterminated");
	msghdr_release(&h);

	PARSE_LIT("Message-ID:\n  <folded@\n host>\nIn-Reply-To:\n\n", &h);
	check_str("message_id", h.message_id, "<folded@ host>");
	check_str("in_reply_to", h.in_reply_to, "");
	msghdr_release(&h);

	PARSE_LIT("Message-ID: <caf\xe9@x>\n\n", &h);
	check_str("message_id", h.message_id, "<caf" R "@x>");
	msghdr_release(&h);
}
END_TEST

/* the same header with every kind of line end gives the same fields */
START_TEST(test_line_ends)
{
	static const char *const eols[] = { "\r\n", "\n", "\r", "\r\r\n" };
	size_t i;

	for (i = 0; i < 4; i++) {
		const char *e = eols[i];
		char *msg = hw_asprintf("Subject: folded%s\tline%sDate: 6 Nov 2000 08:43 -0800%s"
					"From: a@b%s%sbody%sTo: body@x%s",
					e, e, e, e, e, e, e);
		struct msghdr h;

		parse_all(msg, strlen(msg), &h);
		check_str("subject", h.subject, "folded\tline");
		check_str("from", h.from, "a@b");
		check_str("to", h.to, NULL);
		ck_assert(h.date_known);
		ck_assert_int_eq(h.date, 973528980);
		ck_assert_uint_eq(h.header_len, strstr(msg, "body") - msg);
		ck_assert(!h.no_separator);
		check_invariants("line ends", &h);
		msghdr_release(&h);
		free(msg);
	}
}
END_TEST

START_TEST(test_mixed_line_ends)
{
	static const char msg[] = "Subject: a\r\nFrom: b\nTo: c\rDate: 6 Nov 2000\n\r\nbody\n";
	struct msghdr h;

	PARSE_LIT(msg, &h);
	check_str("subject", h.subject, "a");
	check_str("from", h.from, "b");
	check_str("to", h.to, "c");
	ck_assert_int_eq(h.date, 973468800);
	ck_assert_uint_eq(h.header_len, sizeof(msg) - 1 - 5);
	msghdr_release(&h);

	/* LF then CR LF: the CR LF is the blank line */
	PARSE_LIT("Subject: a\n\r\nTo: body\n", &h);
	ck_assert_uint_eq(h.header_len, 13);
	check_str("to", h.to, NULL);
	msghdr_release(&h);
}
END_TEST

START_TEST(test_folding)
{
	static const char msg[] =
		"Subject: one\r\n"
		" two\r\n"
		"\t three\r\n"
		"   \r\n"                /* a line of blanks continues (obs-FWS) */
		" four\r\n"
		"To:\r\n"
		" empty-first-line@x\r\n"
		"Subject : second subject\r\n"
		"\r\n";
	struct msghdr h;

	PARSE_LIT(msg, &h);
	check_str("subject", h.subject, "one two\t three    four");
	check_str("to", h.to, "empty-first-line@x");
	ck_assert_uint_eq(h.header_len, sizeof(msg) - 1);
	msghdr_release(&h);

	/* obsolete blanks before the colon */
	PARSE_LIT("Subject \t: spaced\n\n", &h);
	check_str("subject", h.subject, "spaced");
	msghdr_release(&h);

	/* encoded words split over folded lines are joined */
	PARSE_LIT("Subject: =?utf-8?q?caf?=\r\n =?utf-8?q?=C3=A9?=\r\n\r\n", &h);
	check_str("subject", h.subject, "café");
	msghdr_release(&h);
}
END_TEST

START_TEST(test_long_lines)
{
	struct hw_buf b;
	struct msghdr h;
	int i;

	hw_buf_init(&b);
	hw_buf_adds(&b, "To: ");
	for (i = 0; i < 2000; i++)
		hw_buf_addf(&b, "user%d@example.com, ", i);
	hw_buf_adds(&b, "last@example.com\nSubject: ");
	for (i = 0; i < 5000; i++)
		hw_buf_addc(&b, (char)('a' + i % 26));
	hw_buf_adds(&b, "\n\nbody\n");
	parse_all(b.data, b.len, &h);
	ck_assert_uint_gt(strlen(h.to), 998);
	ck_assert(strncmp(h.to, "user0@example.com, user1@", 25) == 0);
	ck_assert_uint_eq(strlen(h.subject), 5000);
	ck_assert_uint_eq(h.header_len, b.len - 5);
	ck_assert(!h.truncated);
	msghdr_release(&h);
	hw_buf_release(&b);
}
END_TEST

START_TEST(test_nul_bytes)
{
	static const char msg[] = "Subject: a\0b\r\nFrom: \0x\0\r\nMessage-ID: <i\0d>\r\n\r\nbo\0dy";
	static const char bad_name[] = "Subject: ok\r\nX-Bad\0Name: v\r\nTo: t\r\n\r\n";
	struct msghdr h;

	PARSE_LIT(msg, &h);
	check_str("subject", h.subject, "a" R "b");
	check_str("from", h.from, R "x" R);
	check_str("message_id", h.message_id, "<i" R "d>");
	ck_assert_uint_eq(h.header_len, sizeof(msg) - 1 - 5);
	check_invariants("nul", &h);
	msghdr_release(&h);

	/* NUL in a field name: not a field, the body starts there */
	PARSE_LIT(bad_name, &h);
	check_str("subject", h.subject, "ok");
	check_str("to", h.to, NULL);
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, 13);
	msghdr_release(&h);

	/* a date with a NUL in it is cut there */
	PARSE_LIT("Date: 6 Nov 2000\0 08:43 -0800\n\n", &h);
	ck_assert(h.date_known);
	ck_assert_int_eq(h.date, 973468800);
	msghdr_release(&h);
}
END_TEST

START_TEST(test_eight_bit)
{
	struct msghdr h;

	PARSE_LIT("Subject: Forma\xe7\xe3o\nFrom: \"J\xc3\xb6hn\" <j@x>\nX-N\xe4me: v\nTo: t\n\n", &h);
	check_str("subject", h.subject, "Forma" R R "o");
	check_str("from", h.from, "\"Jöhn\" <j@x>");
	/* 8-bit bytes in a name do not end the block */
	check_str("to", h.to, "t");
	ck_assert(!h.no_separator);
	msghdr_release(&h);
}
END_TEST

START_TEST(test_no_separator)
{
	struct msghdr h;

	/* ends at EOF without a line end */
	PARSE_LIT("Subject: s\r\nFrom: f", &h);
	check_str("subject", h.subject, "s");
	check_str("from", h.from, "f");
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, 19);
	msghdr_release(&h);

	/* a line that is neither a field nor a continuation */
	PARSE_LIT("Subject: s\nThis is body text\nTo: body@x\n\nmore\n", &h);
	check_str("to", h.to, NULL);
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, 11);
	msghdr_release(&h);

	/* body text with a colon after a blank */
	PARSE_LIT("Subject: s\nDear sir: hello\n", &h);
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, 11);
	msghdr_release(&h);

	/* ":" alone is no field name */
	PARSE_LIT("Subject: s\n: value\n", &h);
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, 11);
	msghdr_release(&h);

	/* no header at all */
	PARSE_LIT("just some text\nand more\n", &h);
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, 0);
	ck_assert_ptr_null(h.subject);
	msghdr_release(&h);
}
END_TEST

START_TEST(test_empty_and_blank_starts)
{
	struct msghdr h;

	/* 0 bytes */
	msghdr_init(&h);
	ck_assert_int_eq(msghdr_parse("", 0, true, &h), 1);
	ck_assert_uint_eq(h.header_len, 0);
	ck_assert(h.no_separator);
	ck_assert(!h.date_known);
	ck_assert_ptr_null(h.from);
	msghdr_release(&h);

	/* an empty header: the first line is the separator */
	PARSE_LIT("\nbody text\n", &h);
	ck_assert_uint_eq(h.header_len, 1);
	ck_assert(!h.no_separator);
	msghdr_release(&h);

	/* blank (or blanks-only) lines before the first field are skipped */
	PARSE_LIT("\n   \nSubject: s\n\nbody", &h);
	check_str("subject", h.subject, "s");
	ck_assert_uint_eq(h.header_len, 17);
	msghdr_release(&h);

	/* a stray indent before the first field */
	PARSE_LIT(" From: f\nSubject: s\n\n", &h);
	check_str("from", h.from, "f");
	check_str("subject", h.subject, "s");
	msghdr_release(&h);

	/* only blank lines */
	PARSE_LIT("\r\n\r\n\r\n", &h);
	ck_assert_uint_eq(h.header_len, 2);
	ck_assert(!h.no_separator);
	msghdr_release(&h);

	/* a byte order mark */
	PARSE_LIT("\xEF\xBB\xBFSubject: bom\n\n", &h);
	check_str("subject", h.subject, "bom");
	msghdr_release(&h);
}
END_TEST

START_TEST(test_mbox_from_line)
{
	static const char msg[] =
		"From someone@example.com  Mon Nov  6 08:43:00 2000\n"
		"Subject: s\n"
		"From: real@example.com\n"
		"\n"
		"From another message\n";
	struct msghdr h;

	PARSE_LIT(msg, &h);
	check_str("subject", h.subject, "s");
	check_str("from", h.from, "real@example.com");
	ck_assert_uint_eq(h.header_len, strstr(msg, "\n\n") + 2 - msg);
	msghdr_release(&h);

	/* "From " anywhere else ends the block */
	PARSE_LIT("Subject: s\nFrom x@y Mon Nov  6 08:43:00 2000\nTo: t\n\n", &h);
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, 11);
	ck_assert_ptr_null(h.to);
	msghdr_release(&h);
}
END_TEST

/* feeding a message byte by byte: 0 (need more) until the block is known,
   then the same result as with the whole message */
static void check_prefixes(const char *msg, size_t len)
{
	struct msghdr whole, part;
	size_t k;
	bool done = false;

	parse_all(msg, len, &whole);
	msghdr_init(&part);
	for (k = 0; k <= len; k++) {
		int r = msghdr_parse(msg, k, false, &part);

		ck_assert(r == 0 || r == 1);
		if (r == 1) {
			ck_assert_msg(same_result(&part, &whole), "prefix %zu of \"%.40s\" differs", k, msg);
			ck_assert_uint_le(part.header_len, k);
			done = true;
		} else {
			ck_assert_msg(!done, "prefix %zu: need-more after a complete answer", k);
		}
	}
	msghdr_release(&part);
	msghdr_release(&whole);
}

START_TEST(test_need_more)
{
	static const char *const msgs[] = {
		"Subject: s\r\n\r\nbody",
		"Subject: s\r\n folded\r\n\r\n",
		"Subject: s\rFrom: f\r\rbody",
		"Subject: s\r\r\nTo: t\r\r\n\r\r\nbody",
		"Subject: s\nbody line\n",
		"From x  Mon Nov  6 08:43:00 2000\nSubject: s\n\n",
		"\n\nSubject: s\n\n",
		"Subject: =?utf-8?q?a?=\n =?utf-8?q?b?=\n\n",
	};
	struct msghdr h;
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		check_prefixes(msgs[i], strlen(msgs[i]));

	/* the cases that must wait */
	msghdr_init(&h);
	ck_assert_int_eq(msghdr_parse("Subject: s\r", 11, false, &h), 0);
	ck_assert_int_eq(msghdr_parse("Subject: s\r\n", 12, false, &h), 0);
	ck_assert_int_eq(msghdr_parse("Subject: s\r\n\r", 13, false, &h), 0);
	ck_assert_int_eq(msghdr_parse("Subject: s", 10, false, &h), 0);
	ck_assert_int_eq(msghdr_parse("", 0, false, &h), 0);
	ck_assert_int_eq(msghdr_parse("Subject: s\r\n\r", 13, true, &h), 1);
	ck_assert_uint_eq(h.header_len, 13);
	msghdr_release(&h);
}
END_TEST

START_TEST(test_cap)
{
	size_t big = MSGHDR_CAP + 50000;
	char *buf = hw_malloc(big);
	struct msghdr h;

	/* one field longer than the cap */
	memcpy(buf, "Subject: s\r\nX-Long: ", 20);
	memset(buf + 20, 'a', big - 20);
	memcpy(buf + big - 4, "\r\n\r\n", 4);
	msghdr_init(&h);
	ck_assert_int_eq(msghdr_parse(buf, big, true, &h), 1);
	ck_assert(h.truncated);
	ck_assert(!h.no_separator);
	ck_assert_uint_eq(h.header_len, MSGHDR_CAP);
	check_str("subject", h.subject, "s");
	msghdr_release(&h);

	/* exactly the cap with more to come: cut */
	ck_assert_int_eq(msghdr_parse(buf, MSGHDR_CAP, false, &h), 1);
	ck_assert(h.truncated);
	msghdr_release(&h);

	/* exactly the cap and the file ends there: not cut */
	ck_assert_int_eq(msghdr_parse(buf, MSGHDR_CAP, true, &h), 1);
	ck_assert(!h.truncated);
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.header_len, MSGHDR_CAP);
	msghdr_release(&h);

	/* a field that starts before the cap is kept up to the cap */
	memset(buf, 'b', big);
	memcpy(buf, "X: ", 3);
	memcpy(buf + MSGHDR_CAP - 21, "\nSubject: abcdefghijklmnop\n\n", 28);
	ck_assert_int_eq(msghdr_parse(buf, big, false, &h), 1);
	ck_assert(h.truncated);
	check_str("subject", h.subject, "abcdefghijk");
	msghdr_release(&h);

	/* a blank line just before the cap is found */
	memset(buf, 'c', big);
	memcpy(buf, "X: ", 3);
	memcpy(buf + MSGHDR_CAP - 2, "\n\n", 2);
	ck_assert_int_eq(msghdr_parse(buf, big, false, &h), 1);
	ck_assert(!h.truncated);
	ck_assert_uint_eq(h.header_len, MSGHDR_CAP);
	msghdr_release(&h);
	free(buf);
}
END_TEST

/* random bytes over a header-ish alphabet: invariants, and the answer on
   every prefix agrees with the answer on the whole */
START_TEST(test_random_blocks)
{
	static const char alpha[] = "Subject:From:To:Date:Message-ID: <>=?" "?=Qb\r\n\r\n \t\0\x80\xc3\xff"
				    "6 Nov 2000 08:43 -0800 =?utf-8?q?=C3=A9?= =?iso-2022-jp?b?GyRC?=";
	char buf[600];
	uint32_t x = 4242;
	int i;

	for (i = 0; i < 3000; i++) {
		struct msghdr h, w;
		size_t n, j, k;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		n = x % sizeof(buf);
		for (j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[j] = alpha[x % (sizeof(alpha) - 1)];
		}
		parse_all(buf, n, &w);
		check_invariants("random", &w);
		ck_assert_uint_le(w.header_len, n);
		msghdr_init(&h);
		for (k = 0; k < n; k += 1 + k / 8) {
			int r = msghdr_parse(buf, k, false, &h);

			if (r == 1)
				ck_assert_msg(same_result(&h, &w), "random %d: prefix %zu differs", i, k);
		}
		msghdr_release(&h);
		msghdr_release(&w);
	}
}
END_TEST

/* ---- reading from a file ---- */

static int open_written(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = tl_path(dir, name);
	int fd;

	tl_write_file(dir, name, data, len, 0644);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	free(path);
	return fd;
}

START_TEST(test_read_fd)
{
	char *dir = tl_tmpdir();
	size_t body = 1 << 20;
	char *buf = hw_malloc(body + 300000);
	struct hw_error err;
	struct msghdr h;
	size_t n;
	int fd;

	msghdr_init(&h);

	/* small header, big body: one first read, no more */
	n = (size_t)snprintf(buf, 100, "Subject: small\nDate: 6 Nov 2000\n\n");
	memset(buf + n, 'x', body);
	fd = open_written(dir, "small", buf, n + body);
	ck_assert_int_eq(msghdr_read_fd(fd, "small", &h, &err), 1);
	close(fd);
	check_str("subject", h.subject, "small");
	ck_assert_uint_eq(h.bytes_read, MSGHDR_FIRST_READ);
	ck_assert_uint_eq(h.header_len, n);
	msghdr_release(&h);

	/* a 40 KB header and a 1 MB body: read on in 16 KB steps, 48 KB in all */
	memcpy(buf, "Subject: mid\nX-Pad: ", 20);
	memset(buf + 20, 'p', 40000);
	memcpy(buf + 40020, "\n\n", 2);
	memset(buf + 40022, 'x', body);
	fd = open_written(dir, "mid", buf, 40022 + body);
	ck_assert_int_eq(msghdr_read_fd(fd, "mid", &h, &err), 1);
	close(fd);
	check_str("subject", h.subject, "mid");
	ck_assert_uint_eq(h.header_len, 40022);
	ck_assert_uint_eq(h.bytes_read, 3 * MSGHDR_FIRST_READ);
	msghdr_release(&h);

	/* a header over the cap: read up to the cap, cut */
	memcpy(buf, "Subject: big\nX-Pad: ", 20);
	memset(buf + 20, 'p', 290000);
	memcpy(buf + 290020, "\n\n", 2);
	memset(buf + 290022, 'x', 1000);
	fd = open_written(dir, "big", buf, 291022);
	ck_assert_int_eq(msghdr_read_fd(fd, "big", &h, &err), 1);
	close(fd);
	check_str("subject", h.subject, "big");
	ck_assert(h.truncated);
	ck_assert_uint_eq(h.bytes_read, MSGHDR_CAP);
	ck_assert_uint_eq(h.header_len, MSGHDR_CAP);
	msghdr_release(&h);

	/* no separator, small file: read to EOF */
	fd = open_written(dir, "nosep", "Subject: x\nTo: y", 16);
	ck_assert_int_eq(msghdr_read_fd(fd, "nosep", &h, &err), 1);
	close(fd);
	check_str("to", h.to, "y");
	ck_assert(h.no_separator);
	ck_assert_uint_eq(h.bytes_read, 16);
	msghdr_release(&h);

	/* empty file */
	fd = open_written(dir, "empty", "", 0);
	ck_assert_int_eq(msghdr_read_fd(fd, "empty", &h, &err), 1);
	close(fd);
	ck_assert_uint_eq(h.bytes_read, 0);
	ck_assert_uint_eq(h.header_len, 0);
	msghdr_release(&h);

	/* read error: a directory */
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	hw_error_clear(&err);
	ck_assert_int_eq(msghdr_read_fd(fd, "some/dir", &h, &err), -1);
	close(fd);
	ck_assert_int_eq(err.errnum, EISDIR);
	ck_assert_str_eq(err.msg, "read(some/dir) failed: Is a directory");
	ck_assert_ptr_null(h.subject);
	msghdr_release(&h);

	/* reading again into a used struct frees the old strings (ASan) */
	fd = open_written(dir, "again", "Subject: one\n\n", 14);
	ck_assert_int_eq(msghdr_read_fd(fd, "again", &h, &err), 1);
	close(fd);
	fd = open_written(dir, "again2", "Subject: two\n\n", 14);
	ck_assert_int_eq(msghdr_read_fd(fd, "again2", &h, &err), 1);
	close(fd);
	check_str("subject", h.subject, "two");
	msghdr_release(&h);

	free(buf);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- the shared corpora ---- */

static char *corpus_dir;

/* the corpora go to tmpfs when there is one and TMPDIR does not say
   otherwise: writing and removing 45,000 small files on a busy disk takes
   tens of seconds, in memory about one */
static char *corpus_tmpdir(void)
{
	if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK) == 0) {
		char *d = hw_strdup("/dev/shm/hw-check-msghdr.XXXXXX");

		if (mkdtemp(d) != NULL)
			return d;
		free(d);
	}
	return tl_tmpdir();
}

static void corpus_setup(void)
{
	corpus_dir = corpus_tmpdir();
	if (!tl_unpack_corpus("enron-inbox.tar.zst", corpus_dir) ||
	    !tl_unpack_corpus("tricky.tar.zst", corpus_dir))
		ck_abort_msg("corpora not found under %s/corpora (set HW_SHARED)", tl_shared_dir());
}

static void corpus_teardown(void)
{
	if (corpus_dir != NULL)
		tl_rmtree(corpus_dir);
	free(corpus_dir);
	corpus_dir = NULL;
}

struct walk_stats {
	size_t files, enron, enron_date_known, enron_no_msgid, enron_no_to;
	size_t enron_no_subject, enron_no_separator, truncated, known;
};

static struct walk_stats stats;
static struct hw_buf walk_buf;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct msghdr h, w;
	struct hw_error err;
	const char *rel = path + strlen(corpus_dir) + 1;
	bool enron = strncmp(rel, "enron-inbox-subset/maildir/", 27) == 0;
	ssize_t r;
	int fd;

	(void)ftw;
	if (type != FTW_F)
		return 0;
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open(%s): %s", rel, strerror(errno));
	msghdr_init(&h);
	ck_assert_msg(msghdr_read_fd(fd, rel, &h, &err) == 1, "%s: %s", rel, err.msg);
	check_invariants(rel, &h);
	ck_assert_msg(h.bytes_read <= (size_t)st->st_size, "%s: read past the end", rel);
	ck_assert_msg(h.bytes_read == (size_t)st->st_size || h.bytes_read >= MSGHDR_FIRST_READ,
		      "%s: stopped early", rel);
	/* no more body read than one read step past the block */
	if (!h.truncated && !h.no_separator)
		ck_assert_msg(h.bytes_read < h.header_len + MSGHDR_FIRST_READ,
			      "%s: read %zu for a %zu-byte block", rel, h.bytes_read, h.header_len);

	/* the whole file in memory gives the same answer */
	hw_buf_reset(&walk_buf);
	HW_GROW(walk_buf.data, walk_buf.cap, (size_t)st->st_size + 1);
	r = pread(fd, walk_buf.data, (size_t)st->st_size, 0);
	ck_assert_int_eq(r, st->st_size);
	close(fd);
	msghdr_init(&w);
	ck_assert_int_eq(msghdr_parse(walk_buf.data, (size_t)r, true, &w), 1);
	ck_assert_msg(same_result(&h, &w), "%s: read_fd and parse of the whole file differ", rel);

	stats.files++;
	stats.known += h.date_known;
	stats.truncated += h.truncated;
	if (enron) {
		stats.enron++;
		stats.enron_date_known += h.date_known;
		stats.enron_no_msgid += h.message_id == NULL;
		stats.enron_no_to += h.to == NULL;
		stats.enron_no_subject += h.subject == NULL;
		stats.enron_no_separator += h.no_separator;
	}
	msghdr_release(&w);
	msghdr_release(&h);
	return 0;
}

START_TEST(test_corpus_all)
{
	memset(&stats, 0, sizeof(stats));
	hw_buf_init(&walk_buf);
	ck_assert_int_eq(nftw(corpus_dir, walk_one, 32, FTW_PHYS), 0);
	hw_buf_release(&walk_buf);

	/* every message of both corpora: 44,755 Enron messages, 2 text files
	   beside them, 567 tricky files */
	ck_assert_uint_eq(stats.enron, 44755);
	ck_assert_uint_eq(stats.files, 44755 + 2 + 567);
	ck_assert_uint_eq(stats.truncated, 0);
	/* counts the corpus README gives: 1,152 rewritten files without a
	   Message-ID, 4,656 without To, one without Subject; plus one without
	   Date and 135 dated in year 1 or 2 ("30 May 0001") that are unknown */
	ck_assert_uint_eq(stats.enron_no_msgid, 1152);
	ck_assert_uint_eq(stats.enron_no_to, 4656);
	ck_assert_uint_eq(stats.enron_no_subject, 1);
	ck_assert_uint_eq(stats.enron_date_known, 44755 - 1 - 135);
	ck_assert_uint_eq(stats.enron_no_separator, 11);
}
END_TEST

/* exact expected fields of named corpus messages; SKIP: checked elsewhere */
static const char SKIP[] = "\x01skip";

struct named_case {
	const char *path;
	int date_known;
	int64_t date;
	const char *from, *to, *subject, *message_id, *in_reply_to;
	size_t header_len;
	bool no_separator;
	size_t bytes_read;   /* 0: not checked */
};

#define ENRON "enron-inbox-subset/maildir/"

static const struct named_case named_cases[] = {
	/* rewritten upstream: no Message-ID, no To, body right after Subject */
	{ ENRON "allen-p/inbox/2", 1, 1008025195, "brad.jones@enron.com", NULL,
	  "Gas P&L by day", NULL, NULL, 95, true, 165 },
	/* a blank line before the header, folded Subject */
	{ ENRON "allen-p/inbox/8", 1, 1009747205,
	  "software@mail02.unitedmarketingstrategies.com", "pallen@enron.com",
	  "PHILLIP, You've been selected to get FREE software from Sega, IBM, Disney & may more...",
	  NULL, NULL, 217, false, 2760 },
	/* no Date */
	{ ENRON "arora-h/inbox/11", 0, 0, "arsystem@mailman.enron.com", "harry.arora@enron.com",
	  "Your Approval is Overdue: Access Request for hai.chen@enron.com", NULL, NULL,
	  133, false, 537 },
	/* encoded subjects in charset ANSI_X3.4-1968 */
	{ ENRON "bass-e/inbox/46", 1, 1012492248, "david.baumbach@enron.com", "eric.bass@enron.com",
	  "Moore On Life Online Resource Center?", "<31946444.1075840320304.JavaMail.evans@thyme>",
	  NULL, 548, false, 0 },
	{ ENRON "campbell-l/inbox/1068", 1, 1006918800, "1800flowers.216315319@s2u2.com",
	  "lcampbel@enron.com", "SAVE 10%* on d?cor they'll adore!",
	  "<18236003.1075855283724.JavaMail.evans@thyme>", NULL, 589, false, 0 },
	/* a "?" line after Subject: the block ends there */
	{ ENRON "campbell-l/inbox/1040", 1, 1006298220, "announcements@datek2.m0.net",
	  "lcampbel@enron.com", "Are you taking full advantage of Streamer",
	  "<31165095.1075855282790.JavaMail.evans@thyme>", NULL, 210, true, 0 },
	/* year 0001: unknown, not 1970 and not year 1 */
	{ ENRON "skilling-j/inbox/748", 0, 0, "payables.ibuyit@enron.com", "jeff.skilling@enron.com",
	  "Action Requested:  Invoice Requires Coding/Issue Resolution/Approval 00110100059665",
	  "<12279966.1075845325640.JavaMail.evans@thyme>", NULL, 605, false, 0 },
	/* 95 KB header block: six 16 KB reads, not the whole 98,680-byte file */
	{ ENRON "saibi-e/inbox/468", 1, 1001369511, "lisa.jones@enron.com", SKIP,
	  "Analyst or Associate - Middle Market", "<19755928.1075852296296.JavaMail.evans@thyme>",
	  NULL, 95743, false, 98304 },
	/* repeated From/To/Subject in the forwarded body; a blanks-only line
	   continues Subject, then "-----Original Message-----" ends the block */
	{ ENRON "arnold-j/inbox/122", 1, 1006795320, "dutch.quigley@enron.com",
	  "john.arnold@enron.com", "FW: Hello!", NULL, NULL, 122, true, 0 },
	/* no Subject */
	{ ENRON "arnold-j/inbox/101", 1, 1004461016, "steve.c.lengkeekjr@conectiv.com",
	  "john.arnold@enron.com", NULL, NULL, NULL, 109, false, 0 },
	/* 8-bit byte (0xA0) in a long folded To */
	{ ENRON "beck-s/inbox/704", 1, 1006193186, "bgibson50606@houston.rr.com", SKIP,
	  "Prospective Membership Packet", "<15281969.1075862310214.JavaMail.evans@thyme>", NULL,
	  5776, false, 0 },
	/* the 210 KB header block: one Subject of 3,300 encoded words; the
	   file ends 4 bytes after it */
	{ "flanker-fixtures/long-header.eml", 1, 1367968317, "bob@example.com",
	  "helen@example.com", SKIP, NULL, NULL, 209871, false, 209875 },
	/* the 0-byte file */
	{ "flanker-fixtures/dkim/email.01", 0, 0, NULL, NULL, NULL, NULL, NULL, 0, true, 0 },
	/* a line of 255 blanks before the header */
	{ "flanker-fixtures/enclosed.eml", 1, 1341061555, "Bob Marley <bob@example.net>",
	  "\"Александр Клижентас☯\" <bob@example.com>", "Wow", "<4FEEF9B3.7060508@example.net>",
	  NULL, 2569, false, 0 },
	/* invalid UTF-8 in From, To and Subject */
	{ "flanker-fixtures/mailformed-headers.eml", 1, 1342181209,
	  "Юникод запрещен" R " <headers@gmail.com>", R "google@example.com", R "!", NULL, NULL,
	  212, false, 0 },
	/* bare CR in the body, folded Subject with a tab */
	{ "flanker-fixtures/dkim/email.25", 0, 0, "<joe@example.net>", "<larry@example.com>",
	  "This subject that wraps onto a new line with a space\tand then onto another line "
	  "indented by a tab", "<12345.mail@example.net>", NULL, 319, false, 0 },
	/* ISO-2022-JP split over two encoded words */
	{ "mimekit-testdata/messages/japanese.txt", 1, 1437494549, "Atsushi Eno <x@x.com>",
	  "Jeffrey Stedfast <x@x.com>", "日本語メールテスト (testing Japanese emails)",
	  "<55AE6D15.4010805@veritas-vos-liberabit.com>", NULL, 454, false, 0 },
	/* charset NONE, base64 with bad padding */
	{ "ruby-mail-fixtures/error_emails/bad_encoded_subject.eml", 0, 0, NULL, NULL, "TEST",
	  NULL, NULL, 31, false, 37 },
	/* hour 59 */
	{ "ruby-mail-fixtures/error_emails/bad_date_header2.eml", 0, 0,
	  "\"Free-Quilting.com\" <enews@Free-Quilting.com>", "<someone@live.com>",
	  "40% OFF holiday patterns and fabric!", "<201012150659.oBF6xAuc018214@drg.drgnetwork.com>",
	  NULL, 1128, false, 0 },
	/* "Pn, 29 paX 2007": no month */
	{ "ruby-mail-fixtures/plain_emails/raw_email_with_bad_date.eml", 0, 0,
	  "\"Darrell Shaw\" <subventive@vodtravel.com>", "<sydney@xxxxxxxx.xxx>",
	  "Microsoft Vlsta & Office2007, Just released for 79$ Save 1599.95$ 0ff Retai|",
	  "<000001c81a67$a4450700$0100007f@localhost>", NULL, 2178, false, 0 },
	/* 8-bit comment after the zone, EUC-KR subject */
	{ "ruby-mail-fixtures/plain_emails/raw_email_string_in_date_field.eml", 1, 1221930270,
	  "mikel@me.com", "bob@bob.com", "NOTE: 한국말로 하는 것",
	  "<d3b8cf8e49f04480850c28713a1f473e@lindsaar.net>", NULL, 611, false, 0 },
	/* Windows-1252 B word inside quotes; raw 8-bit Subject */
	{ "ruby-mail-fixtures/error_emails/invalid_subject_characters.eml", 0, 0,
	  "\"Formação Frenetikpolis\" <info@formacaofrenetik.info>",
	  "martin@internet.ao, iris@internet.ao, support@maxnet.ao",
	  "Forma" R R "o FrenetikPolis: Mega Campanha Final Ver" R "o | Cursos de Setembro",
	  NULL, NULL, 234, false, 0 },
	/* empty In-Reply-To, CRLF, block ends at EOF with its blank line */
	{ "ruby-mail-fixtures/error_emails/empty_in_reply_to.eml", 1, 1253375376,
	  "\"Andrey Kuznetsov\" <ak@g.com>", "<abuser@r.ru>",
	  "illegal copy of our patient education software",
	  "<F194F88AF3E341A6B2B135CC17912811@articondell>", "", 2386, false, 2386 },
	/* mbox From line, Subject folded over a blanks-only line into two
	   ISO-2022-JP words, In-Reply-To */
	{ "ruby-mail-fixtures/rfc2822/example14.eml", 1, 1313718437,
	  "Atsushi Yoshida <atsushi@example.com>", "rudeboyjet@gmail.com", "Re: TEST \tテストテスト",
	  "<0CC5E11ED2C1D@example.com>", "<rid_5582199198@msgid.example.com>", 479, false, 0 },
	/* "Fro :" is not From; Date "10:00:t" unknown; the first of two
	   Subject and Message-ID */
	{ "stalwart-mail-parser/eml/malformed/019.eml", 0, 0, NULL,
	  "rimap-test <rimap-test@example.test>", "Sprint 3 multipart fixture",
	  "<multi-001@example.test>", NULL, 398, false, 0 },
	/* NUL bytes in the body, no Date/From */
	{ "stalwart-mail-parser/eml/thirdparty/005.eml", 0, 0, NULL, NULL, NULL, NULL, NULL, 63,
	  false, 610 },
	/* UTF-7 subject; UTF-7 B word in a folded To */
	{ "stalwart-mail-parser/eml/legacy/001.eml", 1, 958605519, "\"Doug Sauder\" <doug@example.com>",
	  "\"Joe Blow\" <jblow@example.com>,\tJürgen Schmürgen <schmuergen@example.com>",
	  "Die Hasen und die Frösche (Microsoft Outlook 00)",
	  "<NDBBIAKOPKHFGPLCODIGMEKCCHAA.doug@example.com>", NULL, 614, false, 0 },
	/* raw 8-bit byte inside a Q word; two words joined in To */
	{ "stalwart-mail-parser/eml/legacy/023.eml", 1, 958712173, "Doug Sauder <dwsauder@example.com>",
	  "Jürgen Schmürgen  <jschmuergen@example.com>", "Die Hasen und die Frösche",
	  "<4.2.0.58.20000519005505.00a853a0@pop.example.com>", NULL, 491, false, 0 },
	/* a second line that is no field: no separator */
	{ "mime4j-testmsgs/testmsgs/malformedHeader-nocrlfcrlf.msg", 0, 0, NULL, NULL,
	  "this is a subject", NULL, NULL, 28, true, 0 },
	/* "CRLF SP CRLF" separator: a continuation, then body text */
	{ "mime4j-testmsgs/testmsgs/basic-plain-with-bad-header-separator.msg", 1, 887219460,
	  "foo@example.com", "bar@example.com", "Simple Subject", NULL, NULL, 201, true, 0 },
	/* obsolete syntax: blanks before colons, blank lines in folding */
	{ "mime4j-testmsgs/testmsgs/obsolete.msg", 0, 0, NULL, NULL,
	  "The obsolete syntax allow spaces before the colon        and also empty lines in folding.",
	  NULL, NULL, 202, false, 0 },
	/* mbox with every envelope field */
	{ "dovecot-imaptest-mbox/fetch-envelope.mbox", 1, 1171494123,
	  "From Real <fromuser@fromdomain.org>", "To Real <touser@todomain.org>", "subject header",
	  "<msg@id>", "<reply@to.id>", 407, false, 0 },
	/* a space before the first field */
	{ "enmime-testdata/testdata/low-quality/bad-header-start.raw", 1, 1350625719,
	  "James Hillyerd <james@makita.skynet>", "greg@inbucket", "plain text",
	  "<07B7061D-2676-487E-942E-C341CE4D13DC@makita.skynet>", NULL, 250, false, 0 },
	/* 1.1 MB mbox message: only the first read */
	{ "nodemailer-mailparser-fixtures/large_text.eml", 1, 1312393399,
	  "Brian Murray <brian@ubuntu.com>", "ubuntu-bugs@lists.ubuntu.com",
	  "[Bug 381598] Re: ubiquity crashes in ubuntu 9.04 installation",
	  "<20110803174319.6306.2052.malone@wampee.canonical.com>", NULL, 3305, false, 16384 },
};

static void read_named(const char *rel, struct msghdr *h)
{
	char *path = tl_path(corpus_dir, rel);
	struct hw_error err;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "open(%s): %s", path, strerror(errno));
	msghdr_init(h);
	ck_assert_msg(msghdr_read_fd(fd, rel, h, &err) == 1, "%s: %s", rel, err.msg);
	close(fd);
	free(path);
}

static void check_named_str(const char *rel, const char *what, const char *got, const char *want)
{
	char label[512];

	if (want == SKIP)
		return;
	snprintf(label, sizeof(label), "%s: %s", rel, what);
	check_str(label, got, want);
}

START_TEST(test_corpus_named)
{
	const struct named_case *c = &named_cases[_i];
	struct msghdr h;

	read_named(c->path, &h);
	ck_assert_msg(h.date_known == (c->date_known != 0), "%s: date_known %d", c->path, h.date_known);
	if (c->date_known)
		ck_assert_msg(h.date == c->date, "%s: date want %" PRId64 " got %" PRId64,
			      c->path, c->date, h.date);
	check_named_str(c->path, "from", h.from, c->from);
	check_named_str(c->path, "to", h.to, c->to);
	check_named_str(c->path, "subject", h.subject, c->subject);
	check_named_str(c->path, "message_id", h.message_id, c->message_id);
	check_named_str(c->path, "in_reply_to", h.in_reply_to, c->in_reply_to);
	ck_assert_msg(h.header_len == c->header_len, "%s: header_len want %zu got %zu",
		      c->path, c->header_len, h.header_len);
	ck_assert_msg(h.no_separator == c->no_separator, "%s: no_separator", c->path);
	ck_assert_msg(!h.truncated, "%s: truncated", c->path);
	if (c->bytes_read != 0)
		ck_assert_msg(h.bytes_read == c->bytes_read, "%s: bytes_read want %zu got %zu",
			      c->path, c->bytes_read, h.bytes_read);
	check_invariants(c->path, &h);
	msghdr_release(&h);
}
END_TEST

START_TEST(test_corpus_named_long_fields)
{
	static const char phrase[] =
		"Die heiße Zypernsonne quälte Max und Victoria ja böse auf dem Weg bis zur Küste";
	size_t pl = sizeof(phrase) - 1, i;
	struct msghdr h;

	/* 1,651 repetitions of the two-word phrase, 137,033 bytes */
	read_named("flanker-fixtures/long-header.eml", &h);
	ck_assert_uint_eq(strlen(h.subject), 137033);
	for (i = 0; i < 1651; i++)
		ck_assert_msg(memcmp(h.subject + i * pl, phrase, pl) == 0, "repetition %zu", i);
	msghdr_release(&h);

	read_named(ENRON "beck-s/inbox/704", &h);
	ck_assert(strncmp(h.to, "roberts.gina@enron.com, richmond.trisch@enron.com, "
			  "reese.lisa@enron.com, \tramsey.nancy@enron.com, ", 96) == 0);
	ck_assert_ptr_nonnull(strstr(h.to, "claudia@enron.com, matthews.patricia" R "@enron.com, \tmartin.joy@"));
	msghdr_release(&h);

	read_named(ENRON "saibi-e/inbox/468", &h);
	ck_assert(strncmp(h.to, "nadeem.abdullah@enron.com, vikram.abhyankar@enron.com, ", 55) == 0);
	ck_assert_uint_eq(strlen(h.to), 26080);
	ck_assert_str_eq(h.to + 26080 - 42, "ang@enron.com, \tdulat.zhurgenbay@enron.com");
	msghdr_release(&h);
}
END_TEST

static Suite *msghdr_suite(void)
{
	Suite *s = suite_create("msghdr");
	TCase *tc = tcase_create("units");
	TCase *tcc = tcase_create("corpora");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_date_table);
	tcase_add_test(tc, test_date_long_and_random);
	tcase_add_test(tc, test_words_table);
	tcase_add_test(tc, test_words_random);
	tcase_add_test(tc, test_words_no_close_long);
	tcase_add_test(tc, test_basic_fields);
	tcase_add_test(tc, test_skip_fields);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_line_ends);
	tcase_add_test(tc, test_mixed_line_ends);
	tcase_add_test(tc, test_folding);
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_nul_bytes);
	tcase_add_test(tc, test_eight_bit);
	tcase_add_test(tc, test_no_separator);
	tcase_add_test(tc, test_empty_and_blank_starts);
	tcase_add_test(tc, test_mbox_from_line);
	tcase_add_test(tc, test_need_more);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_random_blocks);
	tcase_add_test(tc, test_read_fd);
	suite_add_tcase(s, tc);

	/* unpacked once for the whole tcase; generous for the sanitizer build */
	tcase_add_unchecked_fixture(tcc, corpus_setup, corpus_teardown);
	tcase_set_timeout(tcc, 600);
	tcase_add_test(tcc, test_corpus_all);
	tcase_add_loop_test(tcc, test_corpus_named, 0,
			    (int)(sizeof(named_cases) / sizeof(named_cases[0])));
	tcase_add_test(tcc, test_corpus_named_long_fields);
	suite_add_tcase(s, tcc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(msghdr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
