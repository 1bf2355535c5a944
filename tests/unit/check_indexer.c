/* check_indexer.c - the indexer's rules, on small hand-made stores */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "hw.h"
#include "indexer.h"
#include "testlib.h"

struct fx {
	char *dir, *store, *state;
	struct hw_store *st;
	struct hw_catalog *cat;
};

static void fx_init(struct fx *f)
{
	struct hw_error err;

	f->dir = tl_tmpdir();
	f->store = tl_path(f->dir, "store");
	f->state = tl_path(f->dir, "state");
	tl_mkdirs(f->dir, "store/ex.com/bob");
	ck_assert_int_eq(hw_state_open(f->state, f->store, &err), 1);
	ck_assert_int_eq(hw_catalog_open(f->state, &f->cat, &err), 1);
	f->st = NULL;
}

static void fx_release(struct fx *f)
{
	hw_store_free(&f->st);
	hw_catalog_free(&f->cat);
	tl_rmtree(f->dir);
	free(f->dir);
	free(f->store);
	free(f->state);
}

/* a message with a Date header (or none when date is NULL) */
static void put_msg(struct fx *f, const char *folder, unsigned num, const char *date,
		    const char *subject)
{
	char rel[512], body[1024];
	int n;

	snprintf(rel, sizeof(rel), "store/%s/md50%09u.msg", folder, num);
	n = snprintf(body, sizeof(body),
		     "From: Alice <alice@ex.com>\r\nTo: bob@ex.com\r\n%s%s%sSubject: %s\r\n"
		     "Message-ID: <%u.%s@ex.com>\r\n\r\nbody %u\r\n",
		     date ? "Date: " : "", date ? date : "", date ? "\r\n" : "", subject, num,
		     subject, num);
	tl_write_file(f->dir, rel, body, (size_t)n, 0644);
}

static void run(struct fx *f, struct indexer_opts *o, struct indexer_stats *s)
{
	struct hw_folder_list fl;
	struct hw_error err;
	unsigned problems = 0;

	hw_store_free(&f->st);
	ck_assert_int_eq(hw_store_open(f->store, &f->st, &err), 1);
	hw_folder_list_init(&fl);
	ck_assert_int_eq(hw_store_folders(f->st, NULL, 0, &fl, &problems, &err), 1);
	ck_assert_int_eq(indexer_run(f->st, f->cat, &fl, o, NULL, NULL, s, &err), 1);
	hw_folder_list_release(&fl);
}

static void read_mrk(struct fx *f, const char *folder, struct imapmrk *m)
{
	char *p = tl_path(f->store, folder);
	struct hw_error err;
	int fd = open(p, O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(fd, 0);
	imapmrk_init(m);
	ck_assert_int_eq(imapmrk_read(fd, folder, m, &err), 1);
	close(fd);
	free(p);
}

static const struct imapmrk_record *rec_of(const struct imapmrk *m, const char *file)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->recs[i].filename, file) == 0)
			return &m->recs[i];
	return NULL;
}

static void write_mrk(struct fx *f, const char *folder, const struct imapmrk *m)
{
	char *p = tl_path(f->store, folder);
	struct hw_error err;
	int fd = open(p, O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(imapmrk_write(fd, folder, m, &err), 1);
	close(fd);
	free(p);
}

START_TEST(fresh_migration)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk m;
	struct fx f;
	char *p, *data;
	size_t len;

	fx_init(&f);
	/* arrival order differs from file-name order */
	put_msg(&f, "ex.com/bob", 1, "Tue, 3 Mar 2020 10:00:00 +0000", "third");
	put_msg(&f, "ex.com/bob", 2, "Sun, 1 Mar 2020 10:00:00 +0000", "first");
	put_msg(&f, "ex.com/bob", 3, "Mon, 2 Mar 2020 10:00:00 -0500", "second");
	put_msg(&f, "ex.com/bob", 4, NULL, "nodate");   /* file time: now */
	put_msg(&f, "ex.com/bob/Sent Items.IMAP", 1, "1 Jan 2021 00:00:00 GMT", "sent");
	tl_mkdirs(f.dir, "store/ex.com/bob/Calendar.IMAP");
	tl_write_file(f.dir, "store/ex.com/bob/notes.txt", "x", 1, 0644);

	run(&f, &o, &s);
	ck_assert_uint_eq(s.folders, 3);
	ck_assert_uint_eq(s.messages, 5);
	ck_assert_uint_eq(s.uids_new, 5);
	ck_assert_uint_eq(s.files_skipped, 1);
	ck_assert_uint_eq(s.errors, 0);

	read_mrk(&f, "ex.com/bob", &m);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_uint_eq(rec_of(&m, "md50000000002.msg")->uid, 1);
	ck_assert_uint_eq(rec_of(&m, "md50000000003.msg")->uid, 2);
	ck_assert_uint_eq(rec_of(&m, "md50000000001.msg")->uid, 3);
	ck_assert_uint_eq(rec_of(&m, "md50000000004.msg")->uid, 4);
	ck_assert_uint_eq(m.hdr.uidnext, 5);
	ck_assert_uint_ne(m.hdr.uidvalidity, 0);
	ck_assert_int_eq(rec_of(&m, "md50000000003.msg")->date, 1583161200);
	for (size_t i = 0; i < m.n; i++) {
		struct stat st;
		p = tl_path(f.store, "ex.com/bob");
		data = hw_path_join(p, m.recs[i].filename);
		ck_assert_int_eq(stat(data, &st), 0);
		ck_assert_uint_eq(m.recs[i].size, (uint32_t)st.st_size);
		ck_assert_uint_eq(m.recs[i].flags, 0);
		free(data);
		free(p);
	}
	imapmrk_release(&m);

	/* HIWATER.MRK: folder classes and subscriptions */
	p = tl_path(f.store, "ex.com/bob/HIWATER.MRK");
	data = tl_read_file(p, &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(strstr(data, "FolderClass=IPF.Note"));
	ck_assert_ptr_nonnull(strstr(data, "[IMAPSubscribed]"));
	ck_assert_ptr_nonnull(strstr(data, "Sent Items="));
	ck_assert_ptr_nonnull(strstr(data, "Calendar="));
	ck_assert_ptr_nonnull(strstr(data, "\r\n"));
	free(data);
	free(p);
	p = tl_path(f.store, "ex.com/bob/Calendar.IMAP/HIWATER.MRK");
	data = tl_read_file(p, &len);
	ck_assert_ptr_nonnull(strstr(data, "FolderClass=IPF.Appointment"));
	free(data);
	free(p);
	/* the non-message file is untouched */
	p = tl_path(f.store, "ex.com/bob/notes.txt");
	data = tl_read_file(p, &len);
	ck_assert_uint_eq(len, 1);
	free(data);
	free(p);
	fx_release(&f);
}
END_TEST

START_TEST(keeps_uids_and_flags)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk m, got;
	struct imapmrk_record *r;
	struct fx f;

	fx_init(&f);
	for (unsigned i = 1; i <= 5; i++) {
		char d[64];
		snprintf(d, sizeof(d), "%u Mar 2020 10:00:00 +0000", 10 - i);
		put_msg(&f, "ex.com/bob", i, d, "m");
	}
	imapmrk_init(&m);
	imapmrk_header_new(&m.hdr, 12345);
	m.hdr.uidnext = 100;
	m.hdr.write_counter = 7;
	const unsigned have[] = { 1, 3, 5 }, uids[] = { 10, 20, 30 };
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "md50%09u.msg", have[i]);
		r = imapmrk_append(&m);
		imapmrk_record_set_name(r, name);
		r->uid = uids[i];
		r->flags = IMAPMRK_FLAG_SEEN | (i == 1 ? IMAPMRK_FLAG_FLAGGED : 0);
		r->size = 1;
		r->date = 1000 + i;
	}
	r = imapmrk_append(&m);   /* a record whose file is gone */
	imapmrk_record_set_name(r, "md50000000077.msg");
	r->uid = 40;
	write_mrk(&f, "ex.com/bob", &m);

	run(&f, &o, &s);
	ck_assert_uint_eq(s.uids_kept, 3);
	ck_assert_uint_eq(s.uids_new, 2);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.hdr.uidvalidity, 12345);
	ck_assert_uint_eq(got.hdr.write_counter, 8);
	ck_assert_uint_eq(got.n, 5);
	ck_assert_uint_eq(rec_of(&got, "md50000000001.msg")->uid, 10);
	ck_assert_uint_eq(rec_of(&got, "md50000000003.msg")->uid, 20);
	ck_assert_uint_eq(rec_of(&got, "md50000000003.msg")->flags,
			  IMAPMRK_FLAG_SEEN | IMAPMRK_FLAG_FLAGGED);
	ck_assert_int_eq(rec_of(&got, "md50000000003.msg")->date, 1001);   /* kept arrival */
	ck_assert_uint_eq(rec_of(&got, "md50000000005.msg")->uid, 30);
	/* new ones above every UID ever given, in arrival order: 4 is older than 2 */
	ck_assert_uint_eq(rec_of(&got, "md50000000004.msg")->uid, 100);
	ck_assert_uint_eq(rec_of(&got, "md50000000002.msg")->uid, 101);
	ck_assert_ptr_null(rec_of(&got, "md50000000077.msg"));
	ck_assert_uint_eq(got.hdr.uidnext, 102);
	/* records in UID order */
	for (size_t i = 1; i < got.n; i++)
		ck_assert_uint_lt(got.recs[i - 1].uid, got.recs[i].uid);
	imapmrk_release(&got);
	imapmrk_release(&m);
	fx_release(&f);
}
END_TEST

START_TEST(renamed_file_keeps_uid)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk got;
	struct fx f;
	char *a, *b;
	uint32_t uid;

	fx_init(&f);
	put_msg(&f, "ex.com/bob", 1, "1 Mar 2020 10:00:00 +0000", "a");
	put_msg(&f, "ex.com/bob", 2, "2 Mar 2020 10:00:00 +0000", "b");
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	uid = rec_of(&got, "md50000000001.msg")->uid;
	imapmrk_release(&got);

	a = tl_path(f.store, "ex.com/bob/md50000000001.msg");
	b = tl_path(f.store, "ex.com/bob/md50000000099.msg");
	ck_assert_int_eq(rename(a, b), 0);
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.n, 2);
	ck_assert_ptr_nonnull(rec_of(&got, "md50000000099.msg"));
	ck_assert_uint_eq(rec_of(&got, "md50000000099.msg")->uid, uid);
	ck_assert_uint_eq(got.hdr.uidnext, 3);
	ck_assert_uint_eq(s.uids_new, 0);
	imapmrk_release(&got);
	free(a);
	free(b);
	fx_release(&f);
}
END_TEST

START_TEST(corrupt_index_salvaged)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk m, got;
	struct fx f;
	char *buf, *p;
	size_t len;

	fx_init(&f);
	for (unsigned i = 1; i <= 3; i++)
		put_msg(&f, "ex.com/bob", i, "1 Mar 2020 10:00:00 +0000", "x");
	imapmrk_init(&m);
	imapmrk_header_new(&m.hdr, 777);
	m.hdr.uidnext = 50;
	for (unsigned i = 1; i <= 3; i++) {
		char name[32];
		struct imapmrk_record *r = imapmrk_append(&m);
		snprintf(name, sizeof(name), "md50%09u.msg", i);
		imapmrk_record_set_name(r, name);
		r->uid = 10 * i;
		r->flags = IMAPMRK_FLAG_SEEN;
	}
	len = imapmrk_encoded_size(&m);
	buf = malloc(len);
	imapmrk_encode(&m, buf);
	/* cut in the middle of the third record */
	p = tl_path(f.store, "ex.com/bob/IMAP.MRK");
	tl_write_file(f.store, "ex.com/bob/IMAP.MRK", buf, len - 20, 0644);
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.hdr.uidvalidity, 777);
	ck_assert_uint_eq(rec_of(&got, "md50000000001.msg")->uid, 10);
	ck_assert_uint_eq(rec_of(&got, "md50000000001.msg")->flags, IMAPMRK_FLAG_SEEN);
	ck_assert_uint_eq(rec_of(&got, "md50000000002.msg")->uid, 20);
	ck_assert_uint_eq(rec_of(&got, "md50000000003.msg")->uid, 50);
	ck_assert_uint_eq(got.hdr.uidnext, 51);
	imapmrk_release(&got);

	/* garbage header: no source of UIDs -> a new UIDVALIDITY >= now */
	memset(buf, 0xff, 36);
	tl_write_file(f.store, "ex.com/bob/IMAP.MRK", buf, len, 0644);
	/* forget the catalog's copy too */
	hw_catalog_exec(f.cat, "DELETE FROM folder", NULL);
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_ge(got.hdr.uidvalidity, (uint32_t)time(NULL) - 5);
	ck_assert_uint_eq(got.n, 3);
	ck_assert_uint_eq(got.hdr.uidnext, 4);
	imapmrk_release(&got);

	/* header only, records all garbage */
	memset(buf + 36, 0xab, len - 36);
	imapmrk_encode(&(struct imapmrk){ .hdr = m.hdr, .header_ok = true }, buf);
	tl_write_file(f.store, "ex.com/bob/IMAP.MRK", buf, len, 0644);
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.hdr.uidvalidity, 777);
	ck_assert_uint_eq(got.n, 3);
	ck_assert_uint_ge(got.recs[0].uid, 50);
	imapmrk_release(&got);
	imapmrk_release(&m);
	free(buf);
	free(p);
	fx_release(&f);
}
END_TEST

START_TEST(second_run_is_noop_and_check_agrees)
{
	struct indexer_opts o = INDEXER_OPTS_INIT, chk = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct stat before, after;
	struct fx f;
	char *mrk;

	fx_init(&f);
	for (unsigned i = 1; i <= 20; i++)
		put_msg(&f, "ex.com/bob", i, "1 Mar 2020 10:00:00 +0000", "x");
	put_msg(&f, "ex.com/bob/Junk E-mail.IMAP", 1, "1 Mar 2020 10:00:00 +0000", "j");
	run(&f, &o, &s);
	ck_assert_uint_eq(s.headers_read, 21);
	sleep(1);   /* the stamp is never taken from the current second */
	run(&f, &o, &s);
	mrk = tl_path(f.store, "ex.com/bob/IMAP.MRK");
	ck_assert_int_eq(stat(mrk, &before), 0);
	run(&f, &o, &s);
	ck_assert_int_eq(stat(mrk, &after), 0);
	ck_assert_uint_eq(s.headers_read, 0);
	ck_assert_uint_eq(s.rebuilt, 0);
	ck_assert_uint_eq(s.unchanged, 2);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
	ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);

	chk.check = true;
	run(&f, &chk, &s);
	ck_assert_uint_eq(s.stale, 0);
	/* a delivery into one folder: --check names only that one */
	put_msg(&f, "ex.com/bob/Junk E-mail.IMAP", 2, "2 Mar 2020 10:00:00 +0000", "j2");
	run(&f, &chk, &s);
	ck_assert_uint_eq(s.stale, 1);
	ck_assert_uint_eq(s.unchanged, 1);
	free(mrk);
	fx_release(&f);
}
END_TEST

START_TEST(new_uidvalidity_and_mark_seen)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk got;
	struct fx f;
	uint32_t v1;

	fx_init(&f);
	put_msg(&f, "ex.com/bob", 1, "1 Mar 2020 10:00:00 +0000", "a");
	o.mark_seen = true;
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.recs[0].flags, IMAPMRK_FLAG_SEEN);
	v1 = got.hdr.uidvalidity;
	imapmrk_release(&got);
	o.mark_seen = false;
	o.new_uidvalidity = true;
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.hdr.uidvalidity, v1 + 1);   /* max(old + 1, now) */
	ck_assert_uint_eq(got.recs[0].flags, IMAPMRK_FLAG_SEEN);   /* flags survive */
	imapmrk_release(&got);
	fx_release(&f);
}
END_TEST

START_TEST(lost_index_restored_from_catalog)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk got;
	struct fx f;
	char *mrk;
	uint32_t v1;

	fx_init(&f);
	put_msg(&f, "ex.com/bob", 1, "1 Mar 2020 10:00:00 +0000", "a");
	put_msg(&f, "ex.com/bob", 2, "2 Mar 2020 10:00:00 +0000", "b");
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	v1 = got.hdr.uidvalidity;
	imapmrk_release(&got);
	mrk = tl_path(f.store, "ex.com/bob/IMAP.MRK");
	ck_assert_int_eq(unlink(mrk), 0);
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.hdr.uidvalidity, v1);
	ck_assert_uint_eq(rec_of(&got, "md50000000002.msg")->uid, 2);
	imapmrk_release(&got);
	free(mrk);
	fx_release(&f);
}
END_TEST

START_TEST(reused_inode_is_not_a_rename)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk got;
	struct fx f;
	struct stat st;
	char *old, *new, sql[512];

	fx_init(&f);
	put_msg(&f, "ex.com/bob", 1, "1 Mar 2020 10:00:00 +0000", "a");
	put_msg(&f, "ex.com/bob", 2, "2 Mar 2020 10:00:00 +0000", "b");
	run(&f, &o, &s);
	old = tl_path(f.store, "ex.com/bob/md50000000002.msg");
	ck_assert_int_eq(unlink(old), 0);
	put_msg(&f, "ex.com/bob", 3, "3 Mar 2020 10:00:00 +0000", "c");
	new = tl_path(f.store, "ex.com/bob/md50000000003.msg");
	ck_assert_int_eq(stat(new, &st), 0);
	/* make the deleted file's catalog row look like the new file's inode,
	   as ext4 reusing the inode number would: same ino and size, other
	   mtime. That is not a rename. */
	snprintf(sql, sizeof(sql), "UPDATE message SET ino = %lld, size = %lld, mtime_ns = 1 "
		 "WHERE file = 'md50000000002.msg'", (long long)st.st_ino, (long long)st.st_size);
	ck_assert_int_eq(hw_catalog_exec(f.cat, sql, NULL), 1);
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.n, 2);
	ck_assert_uint_eq(rec_of(&got, "md50000000003.msg")->uid, 3);   /* new, not 2 */
	ck_assert_uint_eq(got.hdr.uidnext, 4);
	imapmrk_release(&got);
	free(old);
	free(new);
	fx_release(&f);
}
END_TEST

START_TEST(zero_uidvalidity_header_keeps_catalog_uid_space)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats s;
	struct imapmrk got;
	struct fx f;
	uint32_t v1;

	fx_init(&f);
	put_msg(&f, "ex.com/bob", 1, "1 Mar 2020 10:00:00 +0000", "a");
	put_msg(&f, "ex.com/bob", 2, "2 Mar 2020 10:00:00 +0000", "b");
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	v1 = got.hdr.uidvalidity;
	/* smash UIDVALIDITY to 0 in an otherwise good file */
	got.hdr.uidvalidity = 0;
	{
		size_t len = imapmrk_encoded_size(&got);
		char *buf = malloc(len);
		imapmrk_encode(&got, buf);
		tl_write_file(f.store, "ex.com/bob/IMAP.MRK", buf, len, 0644);
		free(buf);
	}
	imapmrk_release(&got);
	run(&f, &o, &s);
	read_mrk(&f, "ex.com/bob", &got);
	ck_assert_uint_eq(got.hdr.uidvalidity, v1);
	ck_assert_uint_eq(rec_of(&got, "md50000000001.msg")->uid, 1);
	ck_assert_uint_eq(rec_of(&got, "md50000000002.msg")->uid, 2);
	imapmrk_release(&got);
	fx_release(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("indexer");
	TCase *tc = tcase_create("rules");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fresh_migration);
	tcase_add_test(tc, keeps_uids_and_flags);
	tcase_add_test(tc, renamed_file_keeps_uid);
	tcase_add_test(tc, corrupt_index_salvaged);
	tcase_add_test(tc, second_run_is_noop_and_check_agrees);
	tcase_add_test(tc, new_uidvalidity_and_mark_seen);
	tcase_add_test(tc, lost_index_restored_from_catalog);
	tcase_add_test(tc, reused_inode_is_not_a_rename);
	tcase_add_test(tc, zero_uidvalidity_header_keeps_catalog_uid_space);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
