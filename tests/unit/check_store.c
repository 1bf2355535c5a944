/* check_store.c - store layout, names and the safe walk (core/store.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>

#include "atomic.h"
#include "store.h"
#include "util.h"
#include "testlib.h"

static char *dir;

/* a diag sink that counts and keeps the text of every line */
static struct {
	unsigned warn, error, info;
	struct hw_buf text;
} diag;

static void diag_sink(void *ctx, enum hw_diag_level level, const char *msg)
{
	if (level == HW_DIAG_WARN)
		diag.warn++;
	else if (level == HW_DIAG_ERROR)
		diag.error++;
	else
		diag.info++;
	hw_buf_adds(&diag.text, msg);
	hw_buf_addc(&diag.text, '\n');
}

static void setup(void)
{
	dir = tl_tmpdir();
	memset(&diag, 0, sizeof(diag));
	hw_buf_init(&diag.text);
	hw_buf_adds(&diag.text, "");
	hw_diag_set_sink(diag_sink, NULL);
}

static void teardown(void)
{
	hw_diag_set_sink(NULL, NULL);
	hw_buf_release(&diag.text);
	tl_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* ---- message names ---- */

START_TEST(test_msgname_parse_valid)
{
	struct hw_msgname m;

	ck_assert(hw_msgname_parse("md50000000001.msg", &m));
	ck_assert(!m.pd);
	ck_assert_uint_eq(m.precedence, 50);
	ck_assert_uint_eq(m.number, 1);
	ck_assert(hw_msgname_parse("PD10999999999.MSG", &m));
	ck_assert(m.pd);
	ck_assert_uint_eq(m.precedence, 10);
	ck_assert_uint_eq(m.number, 999999999);
	ck_assert(hw_msgname_parse("Md80123456789.Msg", &m));
	ck_assert(!m.pd);
	ck_assert_uint_eq(m.precedence, 80);
	ck_assert_uint_eq(m.number, 123456789);
	ck_assert(hw_msgname_parse("pD00000000000.mSG", &m));
	ck_assert(m.pd);
	ck_assert_uint_eq(m.precedence, 0);
	ck_assert_uint_eq(m.number, 0);
}
END_TEST

START_TEST(test_msgname_parse_invalid)
{
	static const char *const bad[] = {
		"", "md5000000001.msg", "md500000000001.msg",   /* wrong length */
		"md50000000001.ms", "md50000000001.msgx",
		"md5000000000a.msg", "md5 000000001.msg", "md+0000000001.msg",
		"md-0000000001.msg", "mdx0000000001.msg",     /* non-digits */
		"md50000000001.txt", "md50000000001_msg", "md50000000001.eml",
		"xd50000000001.msg", "mx50000000001.msg", "dd50000000001.msg",
		"md50000000001.ms\xc3", "IMAP.MRK", "HIWATER.MRK",
		".hiwater-tmp.1.2.msg",
	};
	struct hw_msgname m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!hw_msgname_parse(bad[i], &m), "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_msgname_format)
{
	struct hw_msgname m = { .pd = false, .precedence = 50, .number = 1234 }, r;
	char buf[HW_MSGNAME_LEN + 1];

	hw_msgname_format(buf, sizeof(buf), &m);
	ck_assert_str_eq(buf, "md50000001234.msg");
	m = (struct hw_msgname){ .pd = true, .precedence = 9, .number = 999999999 };
	hw_msgname_format(buf, sizeof(buf), &m);
	ck_assert_str_eq(buf, "pd09999999999.msg");
	ck_assert(hw_msgname_parse(buf, &r));
	ck_assert(r.pd);
	ck_assert_uint_eq(r.precedence, 9);
	ck_assert_uint_eq(r.number, 999999999);
	/* round trip over a spread of values */
	for (uint32_t n = 0; n < 1000000000u; n = n * 7 + 13) {
		m = (struct hw_msgname){ .pd = n % 2, .precedence = n % 100, .number = n };
		hw_msgname_format(buf, sizeof(buf), &m);
		ck_assert_uint_eq(strlen(buf), HW_MSGNAME_LEN);
		ck_assert(hw_msgname_parse(buf, &r));
		ck_assert_int_eq(r.pd, m.pd);
		ck_assert_uint_eq(r.precedence, m.precedence);
		ck_assert_uint_eq(r.number, n);
	}
	/* a small buffer truncates, never overflows */
	{
		char small[8];
		memset(small, 'x', sizeof(small));
		hw_msgname_format(small, sizeof(small), &m);
		ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	}
}
END_TEST

/* ---- folder arguments and names ---- */

START_TEST(test_folder_arg_check)
{
	static const char *const good[] = {
		"a.com/bob", "a.com/bob/", "a.com/bob/Sent Items.IMAP",
		"a.com/bob/Sent Items.IMAP/Old.imap", "a.com/bob/x.Imap/",
		"a.com/..bob", "a.com/bob/..x.IMAP",
	};
	static const char *const bad[] = {
		"", "/a.com/bob", "/etc", "a.com", "a.com/", "../a.com/bob",
		"a.com/../bob", "a.com/bob/..", "a.com/bob/../../etc", "./a.com/bob",
		"a.com/./bob", "a.com/bob/.", "a.com//bob", "a.com/bob//x.IMAP",
		"a.com/bob/Sent", "a.com/bob/x.IMAP/sub", "a.com/bob/.IMAP",
		"a.com/bob/Sent Items.IMAP/Old",
	};
	struct hw_error err;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		hw_error_clear(&err);
		ck_assert_msg(hw_folder_arg_check(good[i], &err) == 1, "refused '%s': %s",
			      good[i], err.msg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hw_error_clear(&err);
		ck_assert_msg(hw_folder_arg_check(bad[i], &err) == 0, "accepted '%s'", bad[i]);
		ck_assert_msg(err.msg[0] != '\0', "no reason for '%s'", bad[i]);
		if (bad[i][0] != '\0')
			ck_assert_msg(strstr(err.msg, bad[i]) != NULL, "'%s': %s", bad[i], err.msg);
	}
	hw_error_clear(&err);
	hw_folder_arg_check("a.com/bob/Sent", &err);
	ck_assert_msg(strstr(err.msg, ".IMAP") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_folder_names)
{
	struct hw_folder f;
	char *s;

	s = hw_folder_imapname("a.com/bob");
	ck_assert_str_eq(s, "INBOX");
	free(s);
	s = hw_folder_imapname("a.com/bob/Sent Items.IMAP");
	ck_assert_str_eq(s, "Sent Items");
	free(s);
	s = hw_folder_imapname("a.com/bob/Documents.IMAP/Projects.imap/2024.IMAP");
	ck_assert_str_eq(s, "Documents/Projects/2024");
	free(s);
	s = hw_folder_imapname("a.com/bob/");
	ck_assert_str_eq(s, "INBOX");
	free(s);
	s = hw_folder_imapname("a.com/bob/Sent Items.IMAP/");
	ck_assert_str_eq(s, "Sent Items");
	free(s);

	s = hw_folder_mailbox_root("a.com/bob/Sent Items.IMAP/Old.IMAP");
	ck_assert_str_eq(s, "a.com/bob");
	free(s);
	s = hw_folder_mailbox_root("a.com/bob");
	ck_assert_str_eq(s, "a.com/bob");
	free(s);

	hw_folder_fill(&f, "a.com/bob/Sent Items.IMAP/Old.IMAP/");
	ck_assert_str_eq(f.relpath, "a.com/bob/Sent Items.IMAP/Old.IMAP");
	ck_assert_str_eq(f.domain, "a.com");
	ck_assert_str_eq(f.mailbox, "bob");
	ck_assert_str_eq(f.imapname, "Sent Items/Old");
	ck_assert_int_eq(f.depth, 2);
	hw_folder_release(&f);
	hw_folder_fill(&f, "a.com/bob");
	ck_assert_str_eq(f.mailbox, "bob");
	ck_assert_str_eq(f.imapname, "INBOX");
	ck_assert_int_eq(f.depth, 0);
	hw_folder_release(&f);
}
END_TEST

/* ---- the walk ---- */

static const char msg_text[] = "From: a@b\r\nSubject: x\r\n\r\nbody\r\n";

static void put_msg(const char *rel)
{
	tl_write_file(dir, rel, msg_text, sizeof(msg_text) - 1, 0644);
}

/* a store with the usual shapes and three planted symlinks to /etc */
static char *make_store(void)
{
	char *store = tl_path(dir, "store");
	char *p;

	tl_mkdirs(dir, "store");
	put_msg("store/a.com/bob/md50000000001.msg");
	put_msg("store/a.com/bob/Sent Items.IMAP/md50000000002.msg");
	put_msg("store/a.com/bob/Sent Items.IMAP/Old Stuff.IMAP/pd10000000003.msg");
	tl_mkdirs(dir, "store/a.com/bob/Drafts.imap");
	tl_mkdirs(dir, "store/a.com/bob/Junk E-mail.IMAP");
	/* a plain subdirectory of a mailbox is not a folder, nor anything below */
	put_msg("store/a.com/bob/notafolder/Hidden.IMAP/md50000000004.msg");
	tl_write_file(dir, "store/a.com/bob/IMAP.MRK", "x", 1, 0644);
	tl_mkdirs(dir, "store/a.com/alice");
	tl_mkdirs(dir, "store/b.org/carol/Archive.IMAP/2023.IMAP/Q1.IMAP");
	tl_write_file(dir, "store/README.txt", "hi", 2, 0644);
	tl_write_file(dir, "store/a.com/notes.txt", "hi", 2, 0644);
	p = tl_path(dir, "store/a.com/fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	/* symlinks: as a domain, as a mailbox, as a .IMAP folder */
	p = tl_path(dir, "store/evil.com");
	ck_assert_int_eq(symlink("/etc", p), 0);
	free(p);
	p = tl_path(dir, "store/a.com/mallory");
	ck_assert_int_eq(symlink("/etc", p), 0);
	free(p);
	p = tl_path(dir, "store/a.com/bob/Evil.IMAP");
	ck_assert_int_eq(symlink("/etc", p), 0);
	free(p);
	return store;
}

static const char *const expected_all[] = {
	"a.com/alice",
	"a.com/bob",
	"a.com/bob/Drafts.imap",
	"a.com/bob/Junk E-mail.IMAP",
	"a.com/bob/Sent Items.IMAP",
	"a.com/bob/Sent Items.IMAP/Old Stuff.IMAP",
	"b.org/carol",
	"b.org/carol/Archive.IMAP",
	"b.org/carol/Archive.IMAP/2023.IMAP",
	"b.org/carol/Archive.IMAP/2023.IMAP/Q1.IMAP",
};

START_TEST(test_store_folders_all)
{
	char *path = make_store();
	struct hw_store *st;
	struct hw_folder_list fl;
	struct hw_error err;
	unsigned problems = 99;
	size_t n = sizeof(expected_all) / sizeof(expected_all[0]);

	hw_error_clear(&err);
	ck_assert_msg(hw_store_open(path, &st, &err) == 1, "%s", err.msg);
	ck_assert_int_ge(hw_store_fd(st), 0);
	hw_folder_list_init(&fl);
	ck_assert_int_eq(hw_store_folders(st, NULL, 0, &fl, &problems, &err), 1);
	for (size_t i = 0; i < fl.n; i++)
		if (i >= n || strcmp(fl.v[i].relpath, expected_all[i]) != 0)
			ck_abort_msg("folder %zu is '%s', expected '%s'", i, fl.v[i].relpath,
				     i < n ? expected_all[i] : "(none)");
	ck_assert_uint_eq(fl.n, n);
	ck_assert_str_eq(fl.v[5].imapname, "Sent Items/Old Stuff");
	ck_assert_str_eq(fl.v[5].domain, "a.com");
	ck_assert_str_eq(fl.v[5].mailbox, "bob");
	ck_assert_int_eq(fl.v[5].depth, 2);
	ck_assert_str_eq(fl.v[2].imapname, "Drafts");
	ck_assert_str_eq(fl.v[0].imapname, "INBOX");
	/* the three symlinks: reported, counted, not followed */
	ck_assert_uint_eq(problems, 3);
	ck_assert_uint_eq(diag.warn + diag.error, 3);
	ck_assert_msg(strstr(diag.text.data, "evil.com is a symlink") != NULL, "%s", diag.text.data);
	ck_assert_msg(strstr(diag.text.data, "a.com/mallory is a symlink") != NULL, "%s",
		      diag.text.data);
	ck_assert_msg(strstr(diag.text.data, "a.com/bob/Evil.IMAP is a symlink") != NULL, "%s",
		      diag.text.data);
	hw_folder_list_release(&fl);
	ck_assert_uint_eq(fl.n, 0);
	hw_store_free(&st);
	ck_assert_ptr_null(st);
	free(path);
}
END_TEST

START_TEST(test_store_folders_named)
{
	char *path = make_store();
	char *args[] = { "a.com/bob/Sent Items.IMAP/", "a.com/bob/Sent Items.IMAP",
			 "b.org/carol/Archive.IMAP/2023.IMAP", "a.com/mallory",
			 "a.com/bob/Evil.IMAP", "../etc", "a.com/nosuch", "evil.com/x" };
	struct hw_store *st;
	struct hw_folder_list fl;
	struct hw_error err;
	unsigned problems = 0;

	ck_assert_int_eq(hw_store_open(path, &st, &err), 1);
	hw_folder_list_init(&fl);
	ck_assert_int_eq(hw_store_folders(st, args, sizeof(args) / sizeof(args[0]), &fl,
					  &problems, &err), 1);
	ck_assert_uint_eq(fl.n, 4);
	ck_assert_str_eq(fl.v[0].relpath, "a.com/bob/Sent Items.IMAP");
	ck_assert_str_eq(fl.v[1].relpath, "a.com/bob/Sent Items.IMAP/Old Stuff.IMAP");
	ck_assert_str_eq(fl.v[2].relpath, "b.org/carol/Archive.IMAP/2023.IMAP");
	ck_assert_str_eq(fl.v[3].relpath, "b.org/carol/Archive.IMAP/2023.IMAP/Q1.IMAP");
	/* mallory, Evil.IMAP, ../etc, nosuch, evil.com/x */
	ck_assert_uint_eq(problems, 5);
	ck_assert_uint_eq(diag.warn + diag.error, 5);
	ck_assert_msg(strstr(diag.text.data, "a.com/mallory is a symlink") != NULL, "%s",
		      diag.text.data);
	ck_assert_msg(strstr(diag.text.data, "evil.com is a symlink") != NULL, "%s",
		      diag.text.data);
	hw_folder_list_release(&fl);
	hw_store_free(&st);
	free(path);
}
END_TEST

START_TEST(test_store_open_folder)
{
	char *path = make_store();
	char *link = tl_path(dir, "store/link.com");
	struct hw_store *st;
	struct hw_error err;
	struct stat sb;
	int fd;

	ck_assert_int_eq(hw_store_open(path, &st, &err), 1);
	fd = hw_store_open_folder(st, "a.com/bob/Sent Items.IMAP", &err);
	ck_assert_msg(fd >= 0, "%s", err.msg);
	ck_assert_int_eq(fstatat(fd, "md50000000002.msg", &sb, 0), 0);
	close(fd);
	/* a symlink anywhere along the path is refused */
	ck_assert_int_eq(symlink("a.com", link), 0);   /* even one inside the store */
	{
		static const char *const refused[] = {
			"evil.com", "evil.com/passwd", "a.com/mallory", "a.com/bob/Evil.IMAP",
			"link.com/bob",
		};
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			hw_error_clear(&err);
			fd = hw_store_open_folder(st, refused[i], &err);
			ck_assert_msg(fd < 0, "opened %s", refused[i]);
			ck_assert_msg(strstr(err.msg, "symlink") != NULL, "%s: %s", refused[i],
				      err.msg);
			ck_assert_int_eq(err.errnum, ELOOP);
		}
	}
	hw_error_clear(&err);
	ck_assert_int_lt(hw_store_open_folder(st, "a.com/bob/../../..", &err), 0);
	ck_assert_str_ne(err.msg, "");
	hw_error_clear(&err);
	ck_assert_int_lt(hw_store_open_folder(st, "a.com/fifo", &err), 0);
	ck_assert_msg(strstr(err.msg, "not a directory") != NULL, "%s", err.msg);
	hw_error_clear(&err);
	ck_assert_int_lt(hw_store_open_folder(st, "a.com/nosuch", &err), 0);
	ck_assert_int_eq(err.errnum, ENOENT);
	ck_assert_msg(strstr(err.msg, "a.com/nosuch") != NULL, "%s", err.msg);
	/* make_folder creates, but not through a symlink */
	fd = hw_store_make_folder(st, "c.net/dave/New.IMAP", &err);
	ck_assert_msg(fd >= 0, "%s", err.msg);
	close(fd);
	ck_assert_int_lt(hw_store_make_folder(st, "a.com/mallory/X.IMAP", &err), 0);
	ck_assert(!tl_exists("/etc/X.IMAP"));
	hw_store_free(&st);
	free(link);
	free(path);
}
END_TEST

START_TEST(test_store_open_errors)
{
	struct hw_store *st = (struct hw_store *)&st;
	struct hw_error err;
	char *missing = tl_path(dir, "nope");

	ck_assert_int_eq(hw_store_open(missing, &st, &err), -1);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(err.msg, missing) != NULL, "%s", err.msg);
	free(missing);
}
END_TEST

START_TEST(test_store_empty)
{
	char *path = tl_path(dir, "store");
	char *args[] = { "a.com/nosuch" };
	struct hw_store *st;
	struct hw_folder_list fl;
	struct hw_error err;
	struct hw_dir d;
	unsigned problems = 99;

	tl_mkdirs(dir, "store");
	ck_assert_int_eq(hw_store_open(path, &st, &err), 1);
	hw_folder_list_init(&fl);
	ck_assert_int_eq(hw_store_folders(st, NULL, 0, &fl, &problems, &err), 1);
	ck_assert_uint_eq(fl.n, 0);
	ck_assert_uint_eq(problems, 0);
	ck_assert_int_eq(hw_store_folders(st, args, 1, &fl, &problems, &err), 1);
	ck_assert_uint_eq(fl.n, 0);
	ck_assert_uint_eq(problems, 1);
	hw_folder_list_release(&fl);
	hw_dir_init(&d);
	ck_assert_int_eq(hw_dir_read(hw_store_fd(st), "", true, &d, &err), 1);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(d.nmessages, 0);
	ck_assert_ptr_null(hw_dir_find(&d, "x"));
	hw_dir_release(&d);
	hw_store_free(&st);
	free(path);
}
END_TEST

/* ---- one directory ---- */

START_TEST(test_dir_read_kinds)
{
	static const struct { const char *name; enum hw_entry_kind kind; } want[] = {
		{ ".hiwater-tmp.123.0000abcd.IMAP.MRK", HW_ENTRY_TEMP },
		{ "IMAP.MRK", HW_ENTRY_FILE },
		{ "MD50000000002.MSG", HW_ENTRY_MESSAGE },
		{ "Sent.IMAP", HW_ENTRY_FOLDER },
		{ "fifo", HW_ENTRY_SPECIAL },
		{ "link.msg", HW_ENTRY_SYMLINK },
		{ "md50000000001.msg", HW_ENTRY_MESSAGE },
		{ "md50000000003.msg", HW_ENTRY_SYMLINK },   /* a message name does not help */
		{ "md50000000004.msg", HW_ENTRY_DIR },
		{ "plain", HW_ENTRY_DIR },
		{ "x.imap", HW_ENTRY_FOLDER },
	};
	const size_t nw = sizeof(want) / sizeof(want[0]);
	struct hw_dir d;
	struct hw_error err;
	char *p;
	int fd;

	tl_mkdirs(dir, "f/Sent.IMAP");
	tl_mkdirs(dir, "f/x.imap");
	tl_mkdirs(dir, "f/plain");
	tl_mkdirs(dir, "f/md50000000004.msg");
	put_msg("f/md50000000001.msg");
	put_msg("f/MD50000000002.MSG");
	tl_write_file(dir, "f/IMAP.MRK", "x", 1, 0644);
	tl_write_file(dir, "f/.hiwater-tmp.123.0000abcd.IMAP.MRK", "x", 1, 0600);
	p = tl_path(dir, "f/fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	p = tl_path(dir, "f/link.msg");
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	free(p);
	p = tl_path(dir, "f/md50000000003.msg");
	ck_assert_int_eq(symlink("md50000000001.msg", p), 0);
	free(p);

	p = tl_path(dir, "f");
	fd = open(p, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	for (int pass = 0; pass < 2; pass++) {
		bool stat_entries = pass == 0;
		hw_dir_init(&d);
		ck_assert_msg(hw_dir_read(fd, "a.com/bob", stat_entries, &d, &err) == 1, "%s",
			      err.msg);
		ck_assert(S_ISDIR(d.st.st_mode));
		ck_assert_uint_eq(d.n, nw);
		ck_assert_uint_eq(d.nmessages, 2);
		for (size_t i = 0; i < nw; i++) {
			ck_assert_str_eq(d.v[i].name, want[i].name);
			ck_assert_msg(d.v[i].kind == want[i].kind, "%s: kind %d, want %d (pass %d)",
				      want[i].name, d.v[i].kind, want[i].kind, pass);
		}
		if (stat_entries) {
			const struct hw_entry *e = hw_dir_find(&d, "md50000000001.msg");
			ck_assert_ptr_nonnull(e);
			ck_assert_int_eq(e->st.st_size, (off_t)(sizeof(msg_text) - 1));
		}
		ck_assert_ptr_null(hw_dir_find(&d, "nosuch"));
		ck_assert_ptr_nonnull(hw_dir_find(&d, "x.imap"));
		/* reading again into the same struct replaces the listing */
		ck_assert_int_eq(hw_dir_read(fd, "a.com/bob", stat_entries, &d, &err), 1);
		ck_assert_uint_eq(d.n, nw);
		hw_dir_release(&d);
		ck_assert_uint_eq(d.n, 0);
	}
	/* the fd's position does not matter: a second listing sees everything */
	close(fd);
	free(p);
}
END_TEST

START_TEST(test_open_regular)
{
	struct hw_error err;
	struct stat sb;
	char *p;
	int dfd, fd;

	put_msg("f/md50000000001.msg");
	tl_mkdirs(dir, "f/sub");
	p = tl_path(dir, "f/fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	p = tl_path(dir, "f/passwd");
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	free(p);
	p = tl_path(dir, "f");
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	free(p);
	ck_assert_int_ge(dfd, 0);

	fd = hw_open_regular(dfd, "md50000000001.msg", "a.com/bob/md50000000001.msg", &sb, &err);
	ck_assert_msg(fd >= 0, "%s", err.msg);
	ck_assert_int_eq(sb.st_size, (off_t)(sizeof(msg_text) - 1));
	{
		char buf[8];
		ck_assert_int_eq(read(fd, buf, 4), 4);   /* blocking mode restored, readable */
		ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	}
	close(fd);

	/* a FIFO: refused without blocking (the test would hang otherwise) */
	hw_error_clear(&err);
	ck_assert_int_eq(hw_open_regular(dfd, "fifo", "a.com/bob/fifo", NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "a.com/bob/fifo is not a regular file") != NULL, "%s",
		      err.msg);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_open_regular(dfd, "passwd", "a.com/bob/passwd", NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "a.com/bob/passwd is a symlink") != NULL, "%s", err.msg);
	ck_assert_int_eq(err.errnum, ELOOP);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_open_regular(dfd, "sub", "a.com/bob/sub", NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
	hw_error_clear(&err);
	ck_assert_int_eq(hw_open_regular(dfd, "gone", "a.com/bob/gone", NULL, &err), -1);
	ck_assert_int_eq(err.errnum, ENOENT);
	ck_assert_msg(strstr(err.msg, "a.com/bob/gone") != NULL, "%s", err.msg);
	close(dfd);
}
END_TEST

/* ---- hw_path_is_inside ---- */

START_TEST(test_path_is_inside)
{
	char *store = tl_path(dir, "store");
	char *state = tl_path(dir, "state");
	char *s;

	tl_mkdirs(dir, "store/a.com");
	tl_mkdirs(dir, "state");
	tl_mkdirs(dir, "storeroom");

	ck_assert(hw_path_is_inside(store, store));
	s = hw_asprintf("%s/", store);
	ck_assert(hw_path_is_inside(s, store));
	ck_assert(hw_path_is_inside(store, s));
	free(s);
	s = hw_asprintf("%s/a.com//", store);
	ck_assert(hw_path_is_inside(s, store));
	ck_assert(!hw_path_is_inside(store, s));
	free(s);
	ck_assert(!hw_path_is_inside(state, store));
	ck_assert(!hw_path_is_inside(store, state));
	/* a sibling with a common prefix is not inside */
	s = tl_path(dir, "storeroom");
	ck_assert(!hw_path_is_inside(s, store));
	free(s);
	s = tl_path(dir, "storeroom/not/there");
	ck_assert(!hw_path_is_inside(s, store));
	free(s);
	/* paths that do not exist yet */
	s = tl_path(dir, "store/new/state/dir");
	ck_assert(hw_path_is_inside(s, store));
	free(s);
	s = tl_path(dir, "elsewhere/x");
	ck_assert(!hw_path_is_inside(s, store));
	free(s);
	/* ".." in the part that does not exist still goes up */
	s = tl_path(dir, "store/new/../../state");
	ck_assert(!hw_path_is_inside(s, store));
	free(s);
	s = tl_path(dir, "state/new/../../store/x");
	ck_assert(hw_path_is_inside(s, store));
	free(s);
	s = tl_path(dir, "store/./a.com/./new");
	ck_assert(hw_path_is_inside(s, store));
	free(s);
	/* symlinked parents are resolved on both sides */
	s = tl_path(dir, "alias");
	ck_assert_int_eq(symlink("store", s), 0);
	free(s);
	s = tl_path(dir, "alias/a.com/state");
	ck_assert(hw_path_is_inside(s, store));
	free(s);
	s = tl_path(dir, "alias");
	ck_assert(hw_path_is_inside(store, s));
	ck_assert(!hw_path_is_inside(state, s));
	free(s);
	s = tl_path(dir, "state/to-store");
	ck_assert_int_eq(symlink("../store/a.com", s), 0);
	ck_assert(hw_path_is_inside(s, store));
	free(s);
	s = tl_path(dir, "state/to-store/not/yet");
	ck_assert(hw_path_is_inside(s, store));
	free(s);
	/* everything is inside "/" */
	ck_assert(hw_path_is_inside(store, "/"));
	ck_assert(!hw_path_is_inside("/", store));
	/* relative paths resolve against the cwd */
	{
		char cwd[4096];
		ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
		ck_assert_int_eq(chdir(dir), 0);
		ck_assert(hw_path_is_inside("store/a.com", store));
		ck_assert(hw_path_is_inside("alias/x", "store"));
		ck_assert(!hw_path_is_inside("state", "store"));
		ck_assert_int_eq(chdir(cwd), 0);
	}
	free(store);
	free(state);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_msgname_parse_valid);
	tcase_add_test(tc, test_msgname_parse_invalid);
	tcase_add_test(tc, test_msgname_format);
	tcase_add_test(tc, test_folder_arg_check);
	tcase_add_test(tc, test_folder_names);
	tcase_add_test(tc, test_store_folders_all);
	tcase_add_test(tc, test_store_folders_named);
	tcase_add_test(tc, test_store_open_folder);
	tcase_add_test(tc, test_store_open_errors);
	tcase_add_test(tc, test_store_empty);
	tcase_add_test(tc, test_dir_read_kinds);
	tcase_add_test(tc, test_open_regular);
	tcase_add_test(tc, test_path_is_inside);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
