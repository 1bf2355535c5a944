/* check_snapshot_pack.c - the pack format: segments, standard tools, hardening */
#include <check.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../snapshot/pack.h"
#include "hw.h"

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_snapshot_pack.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char *cmd = hw_asprintf("rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

struct want {
	char name[256];
	char *data;
	size_t len;
	uint32_t seg;
	uint64_t uoff;
	int seen;
};

struct readctx {
	struct want *w;
	size_t n;
	int members;
};

static int on_member(void *ctx, const char *name, const void *data, size_t len,
		     struct hw_error *err)
{
	struct readctx *rc = ctx;

	(void)err;
	rc->members++;
	for (size_t i = 0; i < rc->n; i++)
		if (strcmp(rc->w[i].name, name) == 0) {
			ck_assert_uint_eq(len, rc->w[i].len);
			ck_assert(memcmp(data, rc->w[i].data, len) == 0);
			rc->w[i].seen++;
		}
	return 0;
}

/* the walk reports each member where the writer said it starts */
struct walkctx {
	struct want *w;
	size_t n;
	uint32_t seg;
	int members;
};

static int on_member_at(void *ctx, const char *name, uint64_t uoff, const void *data, size_t len,
			struct hw_error *err)
{
	struct walkctx *wc = ctx;

	(void)data;
	(void)err;
	wc->members++;
	for (size_t i = 0; i < wc->n; i++)
		if (strcmp(wc->w[i].name, name) == 0) {
			ck_assert_uint_eq(wc->w[i].seg, wc->seg);
			ck_assert_uint_eq(wc->w[i].uoff, uoff);
			ck_assert_uint_eq(len, wc->w[i].len);
		}
	return 0;
}

static char *make_data(size_t len, unsigned seed)
{
	char *p = hw_malloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (i % 61 == 60) ? '\n' : (char)('a' + (seed >> 16) % 26);
	}
	return p;
}

START_TEST(test_roundtrip_segments)
{
	struct hw_error err;
	struct snap_pack_writer *w;
	enum { N = 60 };
	struct want *wv = hw_calloc(N, sizeof(*wv));
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	const char *names[] = { "a.com/bob/md50000000001.msg", "a.com/bob/with space.msg",
				"a.com/bob/Sent Items.IMAP/x:y[1];z.msg", "a.com/bob/ümlaut-é.msg",
				/* past the 100 bytes of a tar header's name field */
				"a.com/bob/Projects.IMAP/2026.IMAP/Quarterly planning and review.IMAP/"
				"Customer escalations.IMAP/md50000000005.msg" };

	ck_assert_int_ge(dfd, 0);
	/* small segments so that several exist */
	ck_assert_int_eq(snap_pack_writer_new(dfd, tmpdir, 2, 3, 64 * 1024, &w, &err), 0);
	for (int i = 0; i < N; i++) {
		if (i < 5)
			snprintf(wv[i].name, sizeof(wv[i].name), "%s", names[i]);
		else
			snprintf(wv[i].name, sizeof(wv[i].name), "a.com/bob/md5000000%04d.msg", i);
		wv[i].len = (size_t)(i * 1777 % 30000) + (i == 7 ? 0 : 1);
		if (i == 7)
			wv[i].len = 0;
		wv[i].data = make_data(wv[i].len, (unsigned)i);
		ck_assert_int_eq(snap_pack_writer_add_at(w, wv[i].name, wv[i].data, wv[i].len,
							 1700000000 + i, &wv[i].seg, &wv[i].uoff, &err), 0);
	}
	ck_assert_int_eq(snap_pack_writer_finish(w, &err), 0);
	size_t nseg;
	const struct snap_seg_info *si = snap_pack_writer_segments(w, &nseg);
	ck_assert_uint_gt(nseg, 4);
	char *packpath = hw_path_join(tmpdir, snap_pack_writer_name(w));
	int pfd = open(packpath, O_RDONLY);
	ck_assert_int_ge(pfd, 0);
	struct stat sb;
	ck_assert_int_eq(fstat(pfd, &sb), 0);
	ck_assert_uint_eq((uint64_t)sb.st_size, snap_pack_writer_size(w));
	ck_assert_uint_eq(sb.st_mode & 0777, 0444);
	/* every segment decompresses on its own and holds exactly its members */
	for (size_t s = 0; s < nseg; s++) {
		struct readctx rc = { wv, N, 0 };
		ck_assert_int_eq(snap_segment_read(pfd, packpath, si[s].offset, si[s].clen,
						   &si[s].csum, on_member, &rc, &err), 0);
		ck_assert_int_eq(rc.members, (int)si[s].members);
		for (int i = 0; i < N; i++)
			ck_assert_int_eq(wv[i].seen, wv[i].seg <= s ? 1 : 0);
		struct walkctx wc = { wv, N, (uint32_t)s, 0 };
		ck_assert_int_eq(snap_segment_walk(pfd, packpath, si[s].offset, si[s].clen,
						   &si[s].csum, on_member_at, &wc, &err), 0);
		ck_assert_int_eq(wc.members, (int)si[s].members);
	}
	/* the first members, one of them with a name too long for the tar
	   header (a record before the header), start one after the other */
	ck_assert_uint_gt(strlen(wv[4].name), 100);
	ck_assert_uint_eq(wv[0].uoff, 0);
	ck_assert_uint_gt(wv[4].uoff, wv[3].uoff);
	/* a flipped byte is caught by the checksum */
	{
		struct hw_hash bad = si[1].csum;
		struct readctx rc = { wv, N, 0 };
		bad.b[0] ^= 1;
		ck_assert_int_eq(snap_segment_read(pfd, packpath, si[1].offset, si[1].clen,
						   &bad, on_member, &rc, &err), -1);
		ck_assert(strstr(err.msg, "corrupt") != NULL);
	}
	/* standard tools read the whole pack as one tar stream */
	char *out = hw_path_join(tmpdir, "x1");
	char *cmd = hw_asprintf("mkdir '%s' && zstd -qdc '%s' | tar -xf - -C '%s'", out, packpath, out);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	char *out2 = hw_path_join(tmpdir, "x2");
	cmd = hw_asprintf("mkdir '%s' && bsdtar -xf '%s' -C '%s'", out2, packpath, out2);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < 2; k++) {
			char *p = hw_path_join(k == 0 ? out : out2, wv[i].name);
			int fd = open(p, O_RDONLY);
			ck_assert_msg(fd >= 0, "%s missing", p);
			char *buf = hw_malloc(wv[i].len + 1);
			ck_assert_int_eq(read(fd, buf, wv[i].len + 1), (ssize_t)wv[i].len);
			ck_assert(memcmp(buf, wv[i].data, wv[i].len) == 0);
			free(buf);
			close(fd);
			free(p);
		}
		free(wv[i].data);
	}
	free(out);
	free(out2);
	close(pfd);
	free(packpath);
	free(wv);
	snap_pack_writer_free(&w);
	close(dfd);
}
END_TEST

START_TEST(test_abort_leaves_nothing)
{
	struct hw_error err;
	struct snap_pack_writer *w;
	int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	uint32_t seg;

	ck_assert_int_eq(snap_pack_writer_new(dfd, tmpdir, 1, 3, 0, &w, &err), 0);
	ck_assert_int_eq(snap_pack_writer_add(w, "a/b", "x", 1, 0, &seg, &err), 0);
	snap_pack_writer_free(&w);
	struct hw_dir d;
	hw_dir_init(&d);
	ck_assert_int_eq(hw_dir_read(dfd, tmpdir, false, &d, &err), 1);
	ck_assert_uint_eq(d.n, 0);
	hw_dir_release(&d);
	close(dfd);
}
END_TEST

static int count_member(void *ctx, const char *name, const void *data, size_t len,
			struct hw_error *err)
{
	(void)name; (void)data; (void)len; (void)err;
	(*(int *)ctx)++;
	return 0;
}

/* a hand-made pack (bsdtar) with a symlink, '..' and absolute names is refused */
START_TEST(test_hostile_members_refused)
{
	struct hw_error err;
	const char *hostile[] = { "../evil", "/tmp/abs-evil", "link" };

	for (int k = 0; k < 3; k++) {
		char *cmd = hw_asprintf(
			"cd '%s' && rm -rf src && mkdir -p src/sub && echo evil > src/sub/f && "
			"ln -sf /etc/passwd src/link && "
			"bsdtar --zstd -cf h%d.tar.zst -C src %s",
			tmpdir, k,
			k == 0 ? "-s ',^sub/f$,../evil,' sub/f" :
			k == 1 ? "-P -s ',^sub/f$,/tmp/abs-evil,' sub/f" : "link");
		ck_assert_int_eq(system(cmd), 0);
		free(cmd);
		char *p = hw_asprintf("%s/h%d.tar.zst", tmpdir, k);
		int fd = open(p, O_RDONLY);
		struct stat sb;
		ck_assert_int_ge(fd, 0);
		fstat(fd, &sb);
		int n = 0;
		ck_assert_int_eq(snap_segment_read(fd, p, 0, (uint64_t)sb.st_size, NULL,
						   count_member, &n, &err), -1);
		ck_assert_msg(strstr(err.msg, "refused") != NULL, "%s: %s", hostile[k], err.msg);
		ck_assert_int_eq(n, 0);
		close(fd);
		free(p);
	}
}
END_TEST

START_TEST(test_name_safety)
{
	ck_assert(snap_member_name_safe("a.com/bob/md50000000001.msg"));
	ck_assert(snap_member_name_safe("a b/c:d[e];f"));
	ck_assert(!snap_member_name_safe("../x"));
	ck_assert(!snap_member_name_safe("a/../x"));
	ck_assert(!snap_member_name_safe("a/.."));
	ck_assert(!snap_member_name_safe("/etc/passwd"));
	ck_assert(!snap_member_name_safe("a//b"));
	ck_assert(!snap_member_name_safe("a/./b"));
	ck_assert(!snap_member_name_safe("a\\..\\b"));
	ck_assert(!snap_member_name_safe(""));
	/* a store path may hold a backslash (an ordinary character on Linux);
	   its member name spells it %5C and passes the member check */
	ck_assert(snap_store_path_safe("a.com/bob/a\\b.IMAP/x\\y.msg"));
	ck_assert(!snap_store_path_safe("a/../x"));
	ck_assert(!snap_store_path_safe("/etc"));
	ck_assert(!snap_store_path_safe("a//b"));
	char *m = snap_member_name("a.com/bob/a\\b.IMAP/x\\y.msg");
	ck_assert_str_eq(m, "a.com/bob/a%5Cb.IMAP/x%5Cy.msg");
	ck_assert(snap_member_name_safe(m));
	free(m);
	ck_assert_ptr_null(snap_member_name("a.com/bob/md50000000001.msg"));   /* as it is */
	ck_assert(!snap_member_name_safe("a/"));
	ck_assert(snap_pack_name_ok("pack-0123456789abcdef.tar.zst"));
	ck_assert(!snap_pack_name_ok("pack-0123456789abcdeg.tar.zst"));
	ck_assert(!snap_pack_name_ok(".hiwater-tmp.1.pack-0123456789abcdef.tar.zst"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot_pack");
	TCase *tc = tcase_create("pack");
	SRunner *sr;
	int failed;

	setlocale(LC_CTYPE, "C.UTF-8");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_roundtrip_segments);
	tcase_add_test(tc, test_abort_leaves_nothing);
	tcase_add_test(tc, test_hostile_members_refused);
	tcase_add_test(tc, test_name_safety);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
