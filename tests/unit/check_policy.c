/* check_policy.c - the policy loader: valid files, every kind of error with
   its line and column, inheritance, the window */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hw.h"
#include "../../policy/policy.h"

static struct hw_policy *load_ok(const char *text)
{
	struct hw_policy *pol = NULL;
	struct hw_error err;
	int r = hw_policy_load_buffer("t.yaml", text, strlen(text), &pol, &err);

	ck_assert_msg(r == 1, "expected a valid policy, got %d: %s", r, err.msg);
	ck_assert_ptr_nonnull(pol);
	return pol;
}

START_TEST(test_example_file)
{
	struct hw_policy *pol = NULL;
	struct hw_error err;
	int r = hw_policy_load(HW_SRCDIR "/contrib/hiwater.yaml", &pol, &err);

	ck_assert_msg(r == 1, "contrib/hiwater.yaml: %s", err.msg);
	ck_assert_str_eq(pol->store, "/srv/mdaemon/Users");
	ck_assert_str_eq(pol->state_dir, "/var/lib/hiwater");
	ck_assert_uint_eq(pol->nwindows, 1);
	ck_assert_int_eq(pol->windows[0].start, 60);
	ck_assert_int_eq(pol->windows[0].end, 300);
	ck_assert(pol->defaults.quota.has_warn);
	ck_assert_uint_eq(pol->defaults.quota.warn, (uint64_t)(1.8 * 1024 * 1024 * 1024 + 0.5));
	ck_assert_uint_eq(pol->defaults.quota.limit, 2ULL << 30);
	ck_assert_uint_eq(pol->defaults.nrules, 2);
	ck_assert_str_eq(pol->defaults.rules[0].folder, "Deleted Items");
	ck_assert_int_eq(pol->defaults.rules[0].older_than, 30 * 86400);
	ck_assert_uint_eq(pol->defaults.rules[1].max_messages, 5000);
	ck_assert_uint_eq(pol->ndomains, 1);
	ck_assert_uint_eq(pol->nmailboxes, 2);
	/* sorted by name */
	ck_assert_str_eq(pol->mailboxes[0].name, "archive@example.com");
	ck_assert(pol->defrag.has_max_rate);
	ck_assert_uint_eq(pol->defrag.max_rate, 50ULL << 20);
	ck_assert_int_eq(pol->defrag.budget, 7200);
	ck_assert_str_eq(pol->logs.compress, "zstd");
	ck_assert_int_eq(pol->logs.keep_days, 2);
	ck_assert_int_eq(pol->logs.max_age, 365 * 86400);
	ck_assert_int_eq(pol->snapshots.daily, 14);
	ck_assert_int_eq(pol->snapshots.within, 2 * 86400);
	ck_assert(pol->snapshots.verify_sample > 4.99 && pol->snapshots.verify_sample < 5.01);
	ck_assert(pol->snapshots.has_reorder_window);
	ck_assert_uint_eq(pol->snapshots.reorder_window, 128ULL << 20);
	hw_policy_free(&pol);
	ck_assert_ptr_null(pol);
}
END_TEST

START_TEST(test_relative_paths)
{
	struct hw_policy *pol = NULL;
	struct hw_error err;
	const char *t = "store: store\nstate_dir: /abs/state\nlogs: {dir: ../logs}\n";

	ck_assert_int_eq(hw_policy_load_buffer("/etc/hw/p.yaml", t, strlen(t), &pol, &err), 1);
	ck_assert_str_eq(pol->store, "/etc/hw/store");
	ck_assert_str_eq(pol->state_dir, "/abs/state");
	ck_assert_str_eq(pol->logs.dir, "/etc/hw/../logs");
	hw_policy_free(&pol);
	pol = load_ok("store: store\n");
	ck_assert_str_eq(pol->store, "store");   /* "t.yaml": relative to the cwd */
	hw_policy_free(&pol);
}
END_TEST

START_TEST(test_valid_variants)
{
	struct hw_policy *pol;

	/* a list of windows, one over midnight; 24:00 as an end; rate without /s */
	pol = load_ok("window:\n  - {start: \"22:00\", end: \"02:00\"}\n"
		      "  - {start: \"12:00\", end: \"13:00\"}\n"
		      "defrag: {max_rate: 10M, budget: none}\n");
	ck_assert_uint_eq(pol->nwindows, 2);
	ck_assert_int_eq(pol->windows[0].end, 120);
	ck_assert_int_eq(pol->windows[1].end, 780);
	ck_assert_uint_eq(pol->defrag.max_rate, 10ULL << 20);
	hw_policy_free(&pol);
	pol = load_ok("window: {start: \"20:00\", end: \"24:00\"}\n");
	ck_assert_int_eq(pol->windows[0].end, 1440);
	hw_policy_free(&pol);
	pol = load_ok("window: {start: \"00:00\", end: \"24:00\"}\n");   /* all day */
	hw_policy_free(&pol);
	/* an empty override, anchors and aliases, comments */
	pol = load_ok("# c\ndefaults:\n  purge: &r\n    - {folder: \"Junk*\", older_than: 2w}\n"
		      "domains:\n  a.example:\n  b.example:\n    purge: *r\n");
	ck_assert_uint_eq(pol->ndomains, 2);
	ck_assert_uint_eq(pol->domains[1].nrules, 1);
	ck_assert_int_eq(pol->domains[1].rules[0].older_than, 14 * 86400);
	hw_policy_free(&pol);
	/* a document marker and an explicit end are fine */
	pol = load_ok("---\nstore: /s\n...\n");
	hw_policy_free(&pol);
}
END_TEST

/* each invalid policy: the line, the column, and words of the message */
static const struct {
	const char *text;
	int line, col;
	const char *want;
} bad[] = {
	{ "store: /s\nstorage: /t\n", 2, 1, "unknown key 'storage' in the policy" },
	{ "defaults:\n  quota:\n    warm: 1GB\n", 3, 5, "unknown key 'warm' in quota" },
	{ "defaults:\n  purge:\n    - folder: x\n      older: 3d\n", 4, 7, "unknown key 'older'" },
	{ "snapshots:\n  yearly: 3\n", 2, 3, "unknown key 'yearly'" },
	{ "store: [a, b]\n", 1, 8, "expected a directory path, found a list" },
	{ "defaults: 3\n", 1, 11, "expected a mapping for defaults" },
	{ "defaults:\n  purge: {folder: x}\n", 2, 10, "expected 'none' or a list" },
	{ "snapshots:\n  daily: seven\n", 2, 10, "expected a whole number" },
	{ "snapshots:\n  daily: -1\n", 2, 10, "expected a whole number" },
	{ "defaults:\n  quota:\n    warn: 1.8GBX\n", 3, 11, "expected a size such as 1.8GB" },
	{ "defaults:\n  quota:\n    limit: lots\n", 3, 12, "expected a size" },
	{ "defaults:\n  quota:\n    limit: 0\n", 3, 12, "above 0" },
	{ "defaults:\n  quota: {warn: 3GB, limit: 2GB}\n", 2, 10, "warn <= limit" },
	{ "defaults:\n  purge:\n    - folder: x\n      older_than: 30\n", 4, 19,
	  "expected a duration such as 30d" },
	{ "defaults:\n  purge:\n    - folder: x\n      older_than: 30days\n", 4, 19,
	  "expected a duration" },
	{ "defaults:\n  purge:\n    - older_than: 3d\n", 3, 7, "without 'folder'" },
	{ "defaults:\n  purge:\n    - folder: x\n", 3, 7, "neither older_than nor max_messages" },
	{ "defaults:\n  purge:\n    - {folder: x, older_than: 1d}\n    - {folder: X, older_than: 2d}\n",
	  4, 7, "a second purge rule" },
	{ "window:\n  start: \"01:00\"\n  end: \"01:00\"\n", 3, 8, "empty window" },
	{ "window:\n  start: \"00:00\"\n  end: \"24:00\"\n  start: \"02:00\"\n", 4, 3,
	  "duplicate key 'start'" },
	{ "window:\n  start: \"25:00\"\n  end: \"01:00\"\n", 2, 10, "expected a time of day HH:MM" },
	{ "window:\n  start: \"1:00\"\n  end: \"02:00\"\n", 2, 10, "HH:MM" },
	{ "window:\n  start: \"01:00\"\n", 2, 3, "window without 'end'" },
	{ "window:\n  - {start: \"01:00\", end: \"05:00\"}\n  - {start: \"04:59\", end: \"06:00\"}\n",
	  3, 5, "overlaps the window at line 2" },
	{ "window:\n  - {start: \"23:00\", end: \"01:00\"}\n  - {start: \"00:30\", end: \"02:00\"}\n",
	  3, 5, "overlaps" },
	{ "window: []\n", 1, 9, "empty list of windows" },
	{ "defrag:\n  min_layout_score: 1.5\n", 2, 21, "from 0 to 1" },
	{ "defrag:\n  max_rate: fast\n", 2, 13, "expected a rate such as 50MB/s" },
	{ "logs:\n  compress: bzip2\n", 2, 13, "expected zstd, gzip or none" },
	{ "snapshots:\n  verify_sample: 150%\n", 2, 18, "percentage" },
	{ "snapshots:\n  reorder_window: lots\n", 2, 19, "expected a size" },
	{ "snapshots:\n  reorder_window: 2TB\n", 2, 19, "too large" },
	{ "domains:\n  \"a/b\": {}\n", 2, 3, "not a domain name" },
	{ "mailboxes:\n  bob: {}\n", 2, 3, "not a mailbox" },
	{ "domains:\n  A.example: {}\n  a.example: {}\n", 3, 3, "given twice" },
	{ "store: /s\nstore: /t\n", 2, 1, "duplicate key 'store'" },
	{ "store: /s\n  bad: [\n", 2, 6, "" },                       /* YAML syntax */
	{ "", 1, 1, "empty policy" },
	{ "- a\n- b\n", 1, 1, "expected a mapping for the policy" },
	{ "store: /s\n---\nstore: /t\n", 2, 1, "a second YAML document" },
	{ "store: \"/s\\0x\"\n", 1, 8, "NUL byte" },
	{ "state_dir:\n", 1, 11, "expected a directory path, found an empty value" },
};

START_TEST(test_errors)
{
	struct hw_policy *pol = (struct hw_policy *)1;
	struct hw_error err;
	char where[64];
	int r;

	r = hw_policy_load_buffer("bad.yaml", bad[_i].text, strlen(bad[_i].text), &pol, &err);
	ck_assert_msg(r == 0, "case %d: expected invalid (0), got %d: %s", _i, r, err.msg);
	ck_assert_ptr_null(pol);
	snprintf(where, sizeof(where), "bad.yaml:%d:%d: ", bad[_i].line, bad[_i].col);
	ck_assert_msg(strncmp(err.msg, where, strlen(where)) == 0,
		      "case %d: expected '%s...', got '%s'", _i, where, err.msg);
	ck_assert_msg(strstr(err.msg, bad[_i].want) != NULL, "case %d: '%s' lacks '%s'", _i,
		      err.msg, bad[_i].want);
}
END_TEST

START_TEST(test_missing_file)
{
	struct hw_policy *pol = NULL;
	struct hw_error err;

	ck_assert_int_eq(hw_policy_load("/nonexistent/hiwater.yaml", &pol, &err), -1);
	ck_assert_ptr_null(pol);
	ck_assert(strstr(err.msg, "open(/nonexistent/hiwater.yaml) failed") != NULL);
}
END_TEST

/* every prefix of a valid file either loads or is rejected with a position:
   never a crash or a leak (the SAN build checks) */
START_TEST(test_truncations)
{
	struct hw_policy *pol;
	struct hw_error err;
	char *data = NULL;
	size_t len = 0;

	ck_assert_int_eq(hw_read_file_at(AT_FDCWD, HW_SRCDIR "/contrib/hiwater.yaml", "x",
					 1 << 20, &data, &len, &err), 1);
	for (size_t n = 0; n <= len; n += 7) {
		int r = hw_policy_load_buffer("t.yaml", data, n, &pol, &err);
		ck_assert_int_ge(r, 0);
		if (r == 1)
			hw_policy_free(&pol);
		else
			ck_assert_msg(strncmp(err.msg, "t.yaml:", 7) == 0, "%s", err.msg);
	}
	free(data);
}
END_TEST

static const char inherit_text[] =
	"defaults:\n"
	"  quota: {warn: 1GB, limit: 2GB}\n"
	"  purge:\n"
	"    - {folder: Deleted Items, older_than: 30d}\n"
	"    - {folder: \"Junk*\", older_than: 14d, max_messages: 100}\n"
	"    - {folder: \"*\", older_than: 5y}\n"
	"domains:\n"
	"  example.com:\n"
	"    quota: {warn: 3GB}\n"
	"    purge:\n"
	"      - {folder: deleted items, older_than: 60d}\n"
	"  free.example:\n"
	"    quota: none\n"
	"    purge: none\n"
	"mailboxes:\n"
	"  bob@example.com:\n"
	"    quota: {limit: none}\n"
	"    purge:\n"
	"      - {folder: \"Junk*\", older_than: none}\n"
	"      - {folder: Sent Items, max_messages: 10}\n"
	"  eve@free.example:\n"
	"    quota: {limit: 9GB}\n";

START_TEST(test_inheritance)
{
	struct hw_policy *pol = load_ok(inherit_text);
	struct hw_policy_mailbox m;
	const struct hw_purge_rule *r;

	/* no overrides: the defaults */
	hw_policy_resolve(pol, "other.example", "joe", &m);
	ck_assert_uint_eq(m.quota_warn, 1ULL << 30);
	ck_assert_uint_eq(m.quota_limit, 2ULL << 30);
	ck_assert_str_eq(m.warn_origin.level, "defaults");
	ck_assert_uint_eq(m.nrules, 3);
	r = hw_policy_rule_match(&m, "DELETED ITEMS");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->older_than, 30 * 86400);
	r = hw_policy_rule_match(&m, "Junk E-mail");
	ck_assert_uint_eq(r->max_messages, 100);
	r = hw_policy_rule_match(&m, "INBOX");   /* the catch-all */
	ck_assert_str_eq(r->folder, "*");
	hw_policy_mailbox_release(&m);

	/* the domain: warn overridden, limit inherited, its rule replaces the
	   default one of the same folder (names compare without case) */
	hw_policy_resolve(pol, "EXAMPLE.COM", "alice", &m);
	ck_assert_uint_eq(m.quota_warn, 3ULL << 30);
	ck_assert_uint_eq(m.quota_limit, 2ULL << 30);
	ck_assert_str_eq(m.warn_origin.level, "domain example.com");
	ck_assert_str_eq(m.limit_origin.level, "defaults");
	ck_assert_uint_eq(m.nrules, 3);
	r = hw_policy_rule_match(&m, "Deleted Items");
	ck_assert_int_eq(r->older_than, 60 * 86400);
	ck_assert_str_eq(r->origin.level, "domain example.com");
	hw_policy_mailbox_release(&m);

	/* the mailbox: limit lifted, Junk rule switched off (so Junk falls to
	   the catch-all), a rule of its own that wins over "*" */
	hw_policy_resolve(pol, "example.com", "bob", &m);
	ck_assert_uint_eq(m.quota_warn, 3ULL << 30);
	ck_assert_uint_eq(m.quota_limit, 0);
	ck_assert_str_eq(m.limit_origin.level, "mailbox bob@example.com");
	ck_assert_uint_eq(m.nrules, 3);
	r = hw_policy_rule_match(&m, "Junk E-mail");
	ck_assert_str_eq(r->folder, "*");
	r = hw_policy_rule_match(&m, "Sent Items");
	ck_assert_uint_eq(r->max_messages, 10);
	ck_assert_int_eq(r->older_than, 0);
	r = hw_policy_rule_match(&m, "Deleted Items");
	ck_assert_int_eq(r->older_than, 60 * 86400);
	hw_policy_mailbox_release(&m);

	/* quota: none and purge: none at the domain; the mailbox sets a limit again */
	hw_policy_resolve(pol, "free.example", "eve", &m);
	ck_assert_uint_eq(m.quota_warn, 0);
	ck_assert_uint_eq(m.quota_limit, 9ULL << 30);
	ck_assert_uint_eq(m.nrules, 0);
	ck_assert_ptr_null(hw_policy_rule_match(&m, "Deleted Items"));
	hw_policy_mailbox_release(&m);
	hw_policy_resolve(pol, "free.example", "zed", &m);
	ck_assert_uint_eq(m.quota_warn, 0);
	ck_assert_uint_eq(m.quota_limit, 0);
	hw_policy_mailbox_release(&m);
	hw_policy_free(&pol);
}
END_TEST

static time_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
			 .tm_min = mi, .tm_isdst = -1 };
	return mktime(&tm);
}

START_TEST(test_window)
{
	struct hw_policy *pol;
	time_t end;
	char buf[64];

	setenv("TZ", "UTC", 1);
	tzset();
	pol = load_ok("window:\n  - {start: \"01:00\", end: \"05:00\"}\n"
		      "  - {start: \"22:00\", end: \"00:30\"}\n");
	ck_assert_int_eq(hw_policy_window_at(pol, utc(2026, 3, 10, 2, 0), &end), 1);
	ck_assert_int_eq(end, utc(2026, 3, 10, 5, 0));
	ck_assert_int_eq(hw_policy_window_at(pol, utc(2026, 3, 10, 5, 0), &end), 0);
	ck_assert_int_eq(end, utc(2026, 3, 10, 5, 0));
	ck_assert_int_eq(hw_policy_window_at(pol, utc(2026, 3, 10, 23, 0), &end), 1);
	ck_assert_int_eq(end, utc(2026, 3, 11, 0, 30));
	ck_assert_int_eq(hw_policy_window_at(pol, utc(2026, 3, 11, 0, 10), &end), 1);
	ck_assert_int_eq(end, utc(2026, 3, 11, 0, 30));
	ck_assert_int_eq(hw_policy_window_at(pol, utc(2026, 3, 11, 0, 45), &end), 0);
	ck_assert_int_eq(end, utc(2026, 3, 11, 0, 30));
	ck_assert_int_eq(hw_policy_window_at(pol, utc(2026, 3, 10, 12, 0), &end), 0);
	ck_assert_int_eq(end, utc(2026, 3, 10, 5, 0));
	hw_policy_window_format(pol, buf, sizeof(buf));
	ck_assert_str_eq(buf, "01:00-05:00, 22:00-00:30");
	hw_policy_free(&pol);
	pol = load_ok("store: /s\n");
	ck_assert_int_eq(hw_policy_window_at(pol, utc(2026, 3, 10, 12, 0), &end), 1);
	ck_assert_int_eq(end, 0);
	hw_policy_free(&pol);
}
END_TEST

START_TEST(test_duration_format)
{
	char b[32];

	hw_policy_duration_format(30 * 86400, b, sizeof(b));
	ck_assert_str_eq(b, "30d");
	hw_policy_duration_format(7200, b, sizeof(b));
	ck_assert_str_eq(b, "2h");
	hw_policy_duration_format(90 * 60, b, sizeof(b));
	ck_assert_str_eq(b, "90m");
	hw_policy_duration_format(61, b, sizeof(b));
	ck_assert_str_eq(b, "61s");
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, test_example_file);
	tcase_add_test(tc, test_relative_paths);
	tcase_add_test(tc, test_valid_variants);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_truncations);
	suite_add_tcase(s, tc);
	tc = tcase_create("resolve");
	tcase_add_test(tc, test_inheritance);
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_duration_format);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
