/*
 * check_hiwatermrk.c - HIWATER.MRK codec: byte-for-byte round trips of the
 * fixtures in tests/fixtures/hiwatermrk/ (CRLF, LF, mixed endings, no final
 * newline, BOM, garbage and duplicates), changes with exact expected bytes,
 * case-insensitive lookups, random binary input, atomic read/write.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hiwatermrk.h"
#include "io.h"
#include "testlib.h"
#include "util.h"

#define FIXDIR HW_SRCDIR "/tests/fixtures/hiwatermrk"

static struct hwmrk *parse_str(const char *s)
{
	return hwmrk_parse(s, strlen(s));
}

/* serialise h and compare with want, byte for byte */
#define ck_assert_serial(h, want) do { \
	size_t len_; \
	char *out_ = hwmrk_serialize((h), &len_); \
	ck_assert_msg(len_ == strlen(want) && memcmp(out_, (want), len_) == 0, \
		      "serialised:\n[%s]\nwanted:\n[%s]", out_, (want)); \
	free(out_); \
} while (0)

/* a file that must exist */
static char *file_get(const char *path, size_t *len_r)
{
	char *data = tl_read_file(path, len_r);

	ck_assert_msg(data != NULL, "%s is missing", path);
	return data;
}

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

/* ---- fixtures ---- */

static const char *const fixtures[] = {
	"root-crlf.mrk", "folder-lf.mrk", "mixed-endings.mrk", "no-final-newline.mrk",
	"bom.mrk", "garbage.mrk", "empty.mrk",
};

START_TEST(t_fixtures_roundtrip)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		char *path = hw_asprintf("%s/%s", FIXDIR, fixtures[i]);
		size_t len, olen;
		char *data = file_get(path, &len);
		struct hwmrk *h = hwmrk_parse(data, len);
		char *out = hwmrk_serialize(h, &olen);

		ck_assert_msg(olen == len && memcmp(out, data, len) == 0,
			      "%s does not round-trip", fixtures[i]);
		ck_assert(!hwmrk_changed(h));
		/* a no-op set keeps every byte too */
		if (hwmrk_get(h, "Groupware", "FolderClass") != NULL) {
			char *v = hw_strdup(hwmrk_get(h, "Groupware", "FolderClass"));
			ck_assert(!hwmrk_set(h, "groupware", "folderclass", v));
			ck_assert(!hwmrk_changed(h));
			free(v);
		}
		free(out);
		out = hwmrk_serialize(h, &olen);
		ck_assert_mem_eq(out, data, len);
		free(out);
		hwmrk_free(&h);
		ck_assert_ptr_null(h);
		free(data);
		free(path);
	}
}
END_TEST

static struct hwmrk *fixture(const char *name)
{
	char *path = hw_asprintf("%s/%s", FIXDIR, name);
	size_t len;
	char *data = file_get(path, &len);
	struct hwmrk *h = hwmrk_parse(data, len);

	free(data);
	free(path);
	return h;
}

START_TEST(t_fixture_values)
{
	struct hwmrk *h;
	const char *keys[8];

	h = fixture("root-crlf.mrk");
	ck_assert_str_eq(hwmrk_get(h, "IMAPSubscribed", "Sent Items"), "1");
	ck_assert_str_eq(hwmrk_get(h, "imapsubscribed", "DOCUMENTS/PROJECTS"), "1");
	ck_assert_ptr_null(hwmrk_get(h, "IMAPSubscribed", "Junk E-mail"));
	ck_assert_uint_eq(hwmrk_keys(h, "IMAPSubscribed", keys, 8), 3);
	ck_assert_str_eq(keys[0], "Sent Items");
	ck_assert_str_eq(keys[1], "Deleted Items");
	ck_assert_str_eq(keys[2], "Documents/Projects");
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Note");
	hwmrk_free(&h);

	h = fixture("folder-lf.mrk");
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Appointment");
	/* values are trimmed; ';' inside a value is not a comment */
	ck_assert_str_eq(hwmrk_get(h, "SomethingUndocumented", "Rules"), "spam ; not a comment");
	ck_assert_str_eq(hwmrk_get(h, "somethingundocumented", "ACCESS"), "rw");
	ck_assert(hwmrk_has_section(h, "SOMETHINGUNDOCUMENTED"));
	ck_assert(!hwmrk_has_section(h, "IMAPSubscribed"));
	hwmrk_free(&h);

	h = fixture("mixed-endings.mrk");
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Note");
	ck_assert_str_eq(hwmrk_get(h, "Other", "A"), "1");   /* after a lone CR */
	ck_assert_str_eq(hwmrk_get(h, "Other", "B"), "2");
	hwmrk_free(&h);

	h = fixture("no-final-newline.mrk");
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Contact");
	hwmrk_free(&h);

	h = fixture("bom.mrk");
	ck_assert(hwmrk_has_section(h, "Groupware"));
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Task");
	hwmrk_free(&h);

	h = fixture("garbage.mrk");
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Note");   /* first wins */
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "Extra"), "yes");   /* duplicate section */
	ck_assert_ptr_null(hwmrk_get(h, "Broken", "FolderClass"));
	ck_assert(!hwmrk_has_section(h, "Broken"));
	ck_assert_ptr_null(hwmrk_get(h, "Groupware", "Nul"));
	ck_assert_uint_eq(hwmrk_keys(h, "Groupware", keys, 8), 2);
	ck_assert_str_eq(keys[0], "FolderClass");
	ck_assert_str_eq(keys[1], "Extra");
	hwmrk_free(&h);

	h = fixture("empty.mrk");
	ck_assert_uint_eq(hwmrk_keys(h, "Groupware", keys, 8), 0);
	ck_assert(!hwmrk_has_section(h, "Groupware"));
	hwmrk_free(&h);
}
END_TEST

/* ---- changes, with exact bytes ---- */

START_TEST(t_set_existing)
{
	struct hwmrk *h = parse_str("[Groupware]\r\n  folderCLASS  =   IPF.Note  \r\nX=1\r\n");

	ck_assert(hwmrk_set(h, "GROUPWARE", "FolderClass", "IPF.Appointment"));
	ck_assert(hwmrk_changed(h));
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Appointment");
	/* key spelling, blanks around '=', trailing blanks and the CRLF stay */
	ck_assert_serial(h, "[Groupware]\r\n  folderCLASS  =   IPF.Appointment  \r\nX=1\r\n");
	ck_assert(!hwmrk_set(h, "Groupware", "FolderClass", "IPF.Appointment"));
	ck_assert(hwmrk_set(h, "Groupware", "X", ""));
	ck_assert_serial(h, "[Groupware]\r\n  folderCLASS  =   IPF.Appointment  \r\nX=\r\n");
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "X"), "");
	ck_assert(hwmrk_set(h, "Groupware", "X", "2"));
	ck_assert_serial(h, "[Groupware]\r\n  folderCLASS  =   IPF.Appointment  \r\nX=2\r\n");
	hwmrk_free(&h);

	/* "Key = " with an empty value keeps its blank */
	h = parse_str("[S]\nKey = \n");
	ck_assert(hwmrk_set(h, "S", "Key", "v"));
	ck_assert_serial(h, "[S]\nKey = v\n");
	hwmrk_free(&h);

	/* a lone-CR line keeps its CR; the line without an ending keeps none */
	h = parse_str("[S]\rA=1\rB=2");
	ck_assert(hwmrk_set(h, "S", "A", "10"));
	ck_assert(hwmrk_set(h, "S", "B", "20"));
	ck_assert_serial(h, "[S]\rA=10\rB=20");
	hwmrk_free(&h);
}
END_TEST

START_TEST(t_set_new_key)
{
	struct hwmrk *h;

	/* after the last key line, before the comment and blank that follow it */
	h = parse_str("[IMAPSubscribed]\r\nInbox=1\r\n; end\r\n\r\n[Groupware]\r\nFolderClass=IPF.Note\r\n");
	ck_assert(hwmrk_set(h, "imapsubscribed", "Sent Items", "1"));
	ck_assert_serial(h, "[IMAPSubscribed]\r\nInbox=1\r\nSent Items=1\r\n; end\r\n\r\n"
			    "[Groupware]\r\nFolderClass=IPF.Note\r\n");
	hwmrk_free(&h);

	/* a section without keys: right after its header */
	h = parse_str("[A]\n\n[B]\nx=1\n");
	ck_assert(hwmrk_set(h, "A", "k", "v"));
	ck_assert_serial(h, "[A]\nk=v\n\n[B]\nx=1\n");
	hwmrk_free(&h);

	/* the last line has no ending: it gets one, the new last line none */
	h = parse_str("[Groupware]\r\nFolderClass=IPF.Note");
	ck_assert(hwmrk_set(h, "Groupware", "Other", "1"));
	ck_assert_serial(h, "[Groupware]\r\nFolderClass=IPF.Note\r\nOther=1");
	hwmrk_free(&h);

	/* a duplicate section: the key goes into the first one */
	h = parse_str("[G]\na=1\n[g]\nb=2\n");
	ck_assert(hwmrk_set(h, "G", "c", "3"));
	ck_assert_serial(h, "[G]\na=1\nc=3\n[g]\nb=2\n");
	/* and an existing key in the second is changed in place */
	ck_assert(hwmrk_set(h, "G", "B", "4"));
	ck_assert_serial(h, "[G]\na=1\nc=3\n[g]\nb=4\n");
	hwmrk_free(&h);

	/* the dominant ending is used: 2 LF against 1 CRLF */
	h = parse_str("[S]\r\na=1\nb=2\n");
	ck_assert(hwmrk_set(h, "S", "c", "3"));
	ck_assert_serial(h, "[S]\r\na=1\nb=2\nc=3\n");
	hwmrk_free(&h);
}
END_TEST

START_TEST(t_set_new_section)
{
	struct hwmrk *h;

	/* a new file is CRLF, no blank line before the first section */
	h = hwmrk_new();
	ck_assert(!hwmrk_changed(h));
	ck_assert(hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note"));
	ck_assert_serial(h, "[Groupware]\r\nFolderClass=IPF.Note\r\n");
	hwmrk_free(&h);

	h = hwmrk_parse("", 0);
	ck_assert(hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note"));
	ck_assert_serial(h, "[Groupware]\r\nFolderClass=IPF.Note\r\n");
	hwmrk_free(&h);

	/* a blank line goes before the new section when the file lacks one */
	h = parse_str("[IMAPSubscribed]\nInbox=1\n");
	ck_assert(hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note"));
	ck_assert_serial(h, "[IMAPSubscribed]\nInbox=1\n\n[Groupware]\nFolderClass=IPF.Note\n");
	hwmrk_free(&h);

	/* ... but not when the file already ends with one */
	h = parse_str("[IMAPSubscribed]\r\nInbox=1\r\n\r\n");
	ck_assert(hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note"));
	ck_assert_serial(h, "[IMAPSubscribed]\r\nInbox=1\r\n\r\n[Groupware]\r\nFolderClass=IPF.Note\r\n");
	hwmrk_free(&h);

	/* no final newline: kept that way */
	h = parse_str("[IMAPSubscribed]\r\nInbox=1");
	ck_assert(hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note"));
	ck_assert_serial(h, "[IMAPSubscribed]\r\nInbox=1\r\n\r\n[Groupware]\r\nFolderClass=IPF.Note");
	hwmrk_free(&h);

	/* lone-CR file */
	h = parse_str("; c\r");
	ck_assert(hwmrk_set(h, "S", "k", "v"));
	ck_assert_serial(h, "; c\r\r[S]\rk=v\r");
	hwmrk_free(&h);

	/* a blank last line without ending: all new lines get one */
	h = parse_str("[A]\r\nx=1\r\n  ");
	ck_assert(hwmrk_set(h, "B", "y", "2"));
	ck_assert_serial(h, "[A]\r\nx=1\r\n  \r\n[B]\r\ny=2\r\n");
	hwmrk_free(&h);
	h = parse_str("\xef\xbb\xbf");
	ck_assert(hwmrk_set(h, "B", "y", "2"));
	ck_assert_serial(h, "\xef\xbb\xbf\r\n[B]\r\ny=2\r\n");
	hwmrk_free(&h);

	/* after a lone-CR line in an LF file, the blank separator takes CR, so
	   that it does not merge into a CRLF */
	h = parse_str("[a]\nx=1\n; c\r");
	ck_assert(hwmrk_set(h, "S", "k", "v"));
	ck_assert_serial(h, "[a]\nx=1\n; c\r\r[S]\nk=v\n");
	hwmrk_free(&h);

	/* a BOM is kept in front */
	h = parse_str("\xef\xbb\xbf[A]\r\nx=1\r\n");
	ck_assert(hwmrk_set(h, "B", "y", "2"));
	ck_assert_serial(h, "\xef\xbb\xbf[A]\r\nx=1\r\n\r\n[B]\r\ny=2\r\n");
	ck_assert_str_eq(hwmrk_get(h, "A", "x"), "1");
	hwmrk_free(&h);
}
END_TEST

START_TEST(t_remove)
{
	struct hwmrk *h = parse_str("[G]\r\nA=1\r\n; keep\r\nb=2\r\n[Other]\r\nA=9\r\n[g]\r\na=3\r\n");
	const char *keys[4];

	ck_assert(!hwmrk_remove(h, "G", "missing"));
	ck_assert(!hwmrk_remove(h, "Nope", "A"));
	ck_assert(!hwmrk_changed(h));
	/* every "A" of every [G] goes, [Other] is untouched */
	ck_assert(hwmrk_remove(h, "g", "a"));
	ck_assert(hwmrk_changed(h));
	ck_assert_ptr_null(hwmrk_get(h, "G", "A"));
	ck_assert_str_eq(hwmrk_get(h, "Other", "A"), "9");
	ck_assert_serial(h, "[G]\r\n; keep\r\nb=2\r\n[Other]\r\nA=9\r\n[g]\r\n");
	ck_assert_uint_eq(hwmrk_keys(h, "G", keys, 4), 1);
	ck_assert_str_eq(keys[0], "b");
	hwmrk_free(&h);

	/* removing the last line: the previous line keeps its ending */
	h = parse_str("[G]\nA=1\nB=2");
	ck_assert(hwmrk_remove(h, "G", "B"));
	ck_assert_serial(h, "[G]\nA=1\n");
	hwmrk_free(&h);
}
END_TEST

START_TEST(t_keys_and_case)
{
	struct hwmrk *h = parse_str("[Sub]\nOne=1\nTWO=2\none=dup\nThree=3\n[other]\nFour=4\n[SUB]\nFive=5\n");
	const char *keys[2];

	/* count is the full count; only max pointers are filled */
	ck_assert_uint_eq(hwmrk_keys(h, "sub", keys, 2), 4);
	ck_assert_str_eq(keys[0], "One");
	ck_assert_str_eq(keys[1], "TWO");
	ck_assert_uint_eq(hwmrk_keys(h, "SUB", NULL, 0), 4);
	ck_assert_str_eq(hwmrk_get(h, "sUb", "oNe"), "1");
	ck_assert_str_eq(hwmrk_get(h, "sub", "five"), "5");
	ck_assert_ptr_null(hwmrk_get(h, "sub", "four"));
	ck_assert_ptr_null(hwmrk_get(h, "su", "One"));
	ck_assert_ptr_null(hwmrk_get(h, "Sub", "On"));
	/* ASCII folding only: no locale surprises */
	ck_assert_ptr_null(hwmrk_get(h, "S\xc3\x9c" "B", "One"));
	hwmrk_free(&h);
}
END_TEST

START_TEST(t_set_refuses)
{
	struct hwmrk *h = parse_str("[G]\r\nA=1\r\n");

	ck_assert(!hwmrk_set(h, "", "k", "v"));
	ck_assert(!hwmrk_set(h, "G", "", "v"));
	ck_assert(!hwmrk_set(h, "a]b", "k", "v"));
	ck_assert(!hwmrk_set(h, "G", "k=x", "v"));
	ck_assert(!hwmrk_set(h, "G", "[k", "v"));
	ck_assert(!hwmrk_set(h, "G", ";k", "v"));
	ck_assert(!hwmrk_set(h, "G", "#k", "v"));
	ck_assert(!hwmrk_set(h, "G", "k", "a\r\nb"));
	ck_assert(!hwmrk_set(h, "G", "k\n", "v"));
	ck_assert(!hwmrk_set(h, "G\r", "k", "v"));
	ck_assert(!hwmrk_set(h, "G", " k", "v"));
	ck_assert(!hwmrk_set(h, "G", "A", "v "));
	ck_assert(!hwmrk_changed(h));
	ck_assert_serial(h, "[G]\r\nA=1\r\n");
	/* '=' and ']' are fine in values, '[' in keys after the first byte */
	ck_assert(hwmrk_set(h, "G", "k[1]", "a=b]"));
	ck_assert_str_eq(hwmrk_get(h, "G", "k[1]"), "a=b]");
	ck_assert_serial(h, "[G]\r\nA=1\r\nk[1]=a=b]\r\n");
	hwmrk_free(&h);
}
END_TEST

START_TEST(t_parse_details)
{
	struct hwmrk *h;

	/* blanks inside the brackets, text after ']' */
	h = parse_str("[ Groupware ] trailing\nFolderClass=IPF.Note\n");
	ck_assert_str_eq(hwmrk_get(h, "Groupware", "FolderClass"), "IPF.Note");
	hwmrk_free(&h);

	/* a key line before any section is unreachable but kept */
	h = parse_str("k=v\n[S]\nx=1\n");
	ck_assert_ptr_null(hwmrk_get(h, "", "k"));
	ck_assert(hwmrk_set(h, "S", "k", "w"));
	ck_assert_serial(h, "k=v\n[S]\nx=1\nk=w\n");
	hwmrk_free(&h);

	/* CR CR LF is a CR line, then an empty CRLF line */
	h = parse_str("[S]\r\r\na=1\r\n");
	ck_assert_str_eq(hwmrk_get(h, "S", "a"), "1");
	ck_assert(hwmrk_set(h, "S", "b", "2"));
	ck_assert_serial(h, "[S]\r\r\na=1\r\nb=2\r\n");
	hwmrk_free(&h);

	/* a NUL inside a key line makes it garbage, not a shorter key */
	h = hwmrk_parse("[S]\na\0b=1\nc=2", 13);
	ck_assert_ptr_null(hwmrk_get(h, "S", "a"));
	ck_assert_str_eq(hwmrk_get(h, "S", "c"), "2");
	ck_assert(hwmrk_set(h, "S", "a", "3"));
	{
		size_t len;
		char *out = hwmrk_serialize(h, &len);
		ck_assert_uint_eq(len, 17);
		ck_assert_mem_eq(out, "[S]\na\0b=1\nc=2\na=3", 17);
		free(out);
	}
	hwmrk_free(&h);

	/* a value may hold a NUL-free ';' and '#' */
	h = parse_str("[S]\nk=#1;2\n");
	ck_assert_str_eq(hwmrk_get(h, "S", "k"), "#1;2");
	hwmrk_free(&h);
}
END_TEST

/* xorshift64*: fixed seed, so a failure can be replayed */
static uint64_t rnd_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (uint32_t)((rnd_state * 2685821657736338717ull) >> 32);
}

START_TEST(t_random_input)
{
	/* bytes biased towards the ones the parser cares about */
	static const char alphabet[] = "[]=;# \t\r\n\r\nabAB\0\xef\xbb\xbf";

	for (int iter = 0; iter < 3000; iter++) {
		size_t len = rnd() % 300, olen;
		char *buf = hw_malloc(len ? len : 1);
		struct hwmrk *h;
		char *out;

		for (size_t i = 0; i < len; i++)
			buf[i] = iter % 3 == 0 ? (char)rnd()
					       : alphabet[rnd() % (sizeof(alphabet) - 1)];
		h = hwmrk_parse(buf, len);
		out = hwmrk_serialize(h, &olen);
		ck_assert_uint_eq(olen, len);
		ck_assert(memcmp(out, buf, len) == 0);
		free(out);
		/* changes must keep the file parseable and readable back */
		(void)hwmrk_get(h, "a", "b");
		(void)hwmrk_keys(h, "A", NULL, 0);
		if (hwmrk_set(h, "a", "b", "v")) {
			struct hwmrk *h2;
			out = hwmrk_serialize(h, &olen);
			h2 = hwmrk_parse(out, olen);
			ck_assert_str_eq(hwmrk_get(h2, "A", "B"), "v");
			hwmrk_free(&h2);
			free(out);
		}
		ck_assert_str_eq(hwmrk_get(h, "a", "b"), "v");
		ck_assert(hwmrk_remove(h, "a", "b"));
		ck_assert_ptr_null(hwmrk_get(h, "a", "b"));
		hwmrk_free(&h);
		free(buf);
	}
}
END_TEST

/* a mailbox root with many subscribed folders: built by set, listed, removed */
START_TEST(t_many_keys)
{
	struct hwmrk *h = hwmrk_new();
	const char **keys = hw_calloc(20000, sizeof(*keys));
	char name[64], *out;
	size_t len;

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "Folder %05d/Sub", i);
		ck_assert(hwmrk_set(h, "IMAPSubscribed", name, "1"));
	}
	/* the same names in another case are the same keys */
	for (int i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof(name), "FOLDER %05d/SUB", i);
		ck_assert(!hwmrk_set(h, "imapsubscribed", name, "1"));
	}
	ck_assert_uint_eq(hwmrk_keys(h, "IMAPSUBSCRIBED", keys, 20000), 5000);
	ck_assert_str_eq(keys[0], "Folder 00000/Sub");
	ck_assert_str_eq(keys[4999], "Folder 04999/Sub");
	out = hwmrk_serialize(h, &len);
	ck_assert_uint_eq(len, strlen("[IMAPSubscribed]\r\n") + 5000 * strlen("Folder 00000/Sub=1\r\n"));
	free(out);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(name, sizeof(name), "folder %05d/sub", i);
		ck_assert(hwmrk_remove(h, "IMAPSubscribed", name));
	}
	ck_assert_uint_eq(hwmrk_keys(h, "IMAPSubscribed", keys, 20000), 2500);
	ck_assert_str_eq(keys[0], "Folder 00001/Sub");
	free(keys);
	hwmrk_free(&h);
}
END_TEST

/* ---- read / write ---- */

START_TEST(t_read_write)
{
	char *dir = tl_tmpdir();
	char *path = hw_path_join(dir, "HIWATER.MRK");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct hwmrk *h = NULL;
	struct hw_error err;
	struct stat st;
	size_t len;
	char *data;
	const char *want = "; mine\n[Groupware]\nFolderClass=IPF.Note\n\n[IMAPSubscribed]\nSent Items=1\n";

	hw_error_set(&err, 1, "stale");
	ck_assert_int_eq(hwmrk_read(dfd, "a.com/bob", &h, &err), 0);
	ck_assert_str_eq(err.msg, "");
	ck_assert_ptr_nonnull(h);
	ck_assert(hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note"));
	ck_assert_int_eq(hwmrk_write(dfd, "a.com/bob", h, &err), 1);
	hwmrk_free(&h);
	ck_assert_uint_eq(dir_count(dir), 1);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	data = file_get(path, &len);
	ck_assert_uint_eq(len, strlen("[Groupware]\r\nFolderClass=IPF.Note\r\n"));
	ck_assert_mem_eq(data, "[Groupware]\r\nFolderClass=IPF.Note\r\n", len);
	free(data);

	/* an existing file: read, change, write keeps the rest and the mode */
	tl_write_file(dir, "HIWATER.MRK", "; mine\n[Groupware]\nFolderClass=IPF.Note\n", 40, 0644);
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(hwmrk_read(dfd, "a.com/bob", &h, &err), 1);
	ck_assert(hwmrk_set(h, "IMAPSubscribed", "Sent Items", "1"));
	ck_assert_int_eq(hwmrk_write(dfd, "a.com/bob", h, &err), 1);
	hwmrk_free(&h);
	data = file_get(path, &len);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(data, want, len);
	free(data);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);

	/* a fault before the rename leaves the old file and no temp */
	ck_assert_int_eq(hwmrk_read(dfd, "a.com/bob", &h, &err), 1);
	ck_assert(hwmrk_set(h, "Groupware", "FolderClass", "IPF.Task"));
	setenv("HIWATER_FAULT", "fsync:1:EIO", 1);
	hw_io_fault_reset();
	ck_assert_int_eq(hwmrk_write(dfd, "a.com/bob", h, &err), -1);
	unsetenv("HIWATER_FAULT");
	hw_io_fault_reset();
	ck_assert_msg(strncmp(err.msg, "fsync(a.com/bob/", 16) == 0 &&
		      strstr(err.msg, "HIWATER.MRK) failed: Input/output error") != NULL,
		      "unexpected error: %s", err.msg);
	hwmrk_free(&h);
	data = file_get(path, &len);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(data, want, len);
	free(data);
	ck_assert_uint_eq(dir_count(dir), 1);

	/* a symlink is not followed */
	unlink(path);
	ck_assert_int_eq(symlink("/etc/hostname", path), 0);
	ck_assert_int_eq(hwmrk_read(dfd, "a.com/bob", &h, &err), -1);
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(err.msg, "a.com/bob/HIWATER.MRK"));

	close(dfd);
	free(path);
	tl_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *hwmrk_suite(void)
{
	Suite *s = suite_create("hiwatermrk");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_fixtures_roundtrip);
	tcase_add_test(tc, t_fixture_values);
	tcase_add_test(tc, t_set_existing);
	tcase_add_test(tc, t_set_new_key);
	tcase_add_test(tc, t_set_new_section);
	tcase_add_test(tc, t_remove);
	tcase_add_test(tc, t_keys_and_case);
	tcase_add_test(tc, t_set_refuses);
	tcase_add_test(tc, t_parse_details);
	tcase_add_test(tc, t_random_input);
	tcase_add_test(tc, t_many_keys);
	tcase_add_test(tc, t_read_write);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hwmrk_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
