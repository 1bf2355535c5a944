/*
 * crashcheck.c - the invariant checker of the crash harness (tests/crash/).
 *
 *   crashcheck dump STORE
 *       print one line per entry below STORE (kind, content hash, size, mode,
 *       inode, mtime, path) and the decoded records of every IMAP.MRK; two
 *       dumps are equal when nothing at all was written (a no-op run)
 *   crashcheck killed BASE REF STORE
 *       STORE was a copy of BASE, and a run on it was killed. REF is what a
 *       clean run on a copy of BASE gave. Checks that every file of BASE is in
 *       STORE byte for byte (index files aside), that nothing appeared but
 *       index files, temp files and the folder lock, that every IMAP.MRK is
 *       either BASE's or decodes cleanly, that UIDs, flags and UIDVALIDITY of
 *       BASE's clean indexes are kept, and that HIWATER.MRK is BASE's or REF's.
 *   crashcheck rerun BASE REF KILLED STORE
 *       STORE is KILLED after a rerun ran to its end. Checks the above
 *       against BASE and KILLED (UIDs given by the killed run are kept), and
 *       that no temp file or lock is left, every IMAP.MRK decodes cleanly and
 *       lists exactly the message files of its folder, and that the result
 *       equals REF (UIDVALIDITY of new indexes and write counters aside).
 *
 *   crashcheck purged BASE STORE
 *       list the message files of BASE that are gone from STORE
 *
 * Options (before the mode): --purged: files of BASE missing from both REF
 * and STORE are allowed (removed by rule); --new-uids: records BASE did not
 * have may have other UIDs than the clean run's (restore); --no-dir-times:
 * dump directories without their mtime; --content-only: dump content, size
 * and mode only; --lock NAME: the folder lock name (default IMAP.LCK).
 *
 * Every failure is one line on stderr; the exit status is 1 when any
 * invariant is broken, 2 on usage or I/O errors, 0 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "atomic.h"
#include "hash.h"
#include "hiwatermrk.h"
#include "imapmrk.h"
#include "store.h"
#include "util.h"

enum kind { K_FILE = 'F', K_MSG = 'M', K_MRK = 'I', K_HWMRK = 'W', K_TEMP = 'T',
	    K_LOCK = 'L', K_DIR = 'D', K_OTHER = 'S' };

struct ent {
	char *path;          /* relative to the store */
	char kind;
	char hash[33];       /* regular files */
	uint64_t size;
	unsigned mode;
	uint64_t ino;
	int64_t mtime_ns;
	/* IMAP.MRK only */
	int mrk_status;      /* imapmrk_decode: 1 ok, 0 corrupt */
	struct imapmrk mrk;
};

struct tree {
	const char *root;
	struct ent *v;
	size_t n, cap;
};

static const char *lock_name = "IMAP.LCK";
static bool allow_purged;
static bool no_dir_times;
static bool content_only;
static bool new_uids;
static unsigned failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	if (failures < 40) {
		fputs("crashcheck: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	failures++;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "crashcheck: %s(%s) failed: %s\n", what, path, strerror(errno));
	exit(2);
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->path, ((const struct ent *)b)->path);
}

static const struct ent *tree_find(const struct tree *t, const char *path)
{
	struct ent key = { .path = (char *)path };

	return bsearch(&key, t->v, t->n, sizeof(*t->v), ent_cmp);
}

static void load_file(struct tree *t, struct ent *e, int dirfd, const char *name)
{
	struct hw_error err;
	struct hw_hash h;
	uint64_t size;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		die("open", e->path);
	if (hw_hash_fd(fd, e->path, &h, &size, &err) < 0) {
		fprintf(stderr, "crashcheck: %s\n", err.msg);
		exit(2);
	}
	hw_hash_hex(&h, e->hash);
	if (e->kind == K_MRK) {
		char *buf = hw_malloc(size + 1);
		ssize_t n = pread(fd, buf, size, 0);
		if (n < 0 || (uint64_t)n != size)
			die("read", e->path);
		imapmrk_init(&e->mrk);
		e->mrk_status = imapmrk_decode(buf, size, &e->mrk, &err);
		free(buf);
	}
	close(fd);
	(void)t;
}

static void walk(struct tree *t, int dirfd, const char *rel)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (d == NULL)
		die("fdopendir", rel);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		struct ent *e;
		struct hw_msgname mn;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		HW_GROW(t->v, t->cap, t->n + 1);
		e = &t->v[t->n++];
		memset(e, 0, sizeof(*e));
		e->path = *rel ? hw_path_join(rel, de->d_name) : hw_strdup(de->d_name);
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("fstatat", e->path);
		e->size = (uint64_t)st.st_size;
		e->mode = st.st_mode & 07777;
		e->ino = st.st_ino;
		e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			e->kind = K_DIR;
			if (fd < 0)
				die("open", e->path);
			{
				char *sub = hw_strdup(e->path);   /* t->v may move */
				walk(t, fd, sub);
				free(sub);
			}
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			e->kind = K_OTHER;
			continue;
		}
		if (hw_atomic_is_temp(de->d_name))
			e->kind = K_TEMP;
		else if (strcasecmp(de->d_name, lock_name) == 0)
			e->kind = K_LOCK;
		else if (strcmp(de->d_name, IMAPMRK_NAME) == 0)
			e->kind = K_MRK;
		else if (strcmp(de->d_name, HIWATERMRK_NAME) == 0)
			e->kind = K_HWMRK;
		else if (hw_msgname_parse(de->d_name, &mn))
			e->kind = K_MSG;
		else
			e->kind = K_FILE;
		load_file(t, e, dirfd, de->d_name);
	}
	closedir(d);
}

static void tree_load(struct tree *t, const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	memset(t, 0, sizeof(*t));
	t->root = root;
	if (fd < 0)
		die("open", root);
	walk(t, fd, "");
	qsort(t->v, t->n, sizeof(*t->v), ent_cmp);
}

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].path);
		if (t->v[i].kind == K_MRK)
			imapmrk_release(&t->v[i].mrk);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* the folder part of "a/b/IMAP.MRK" into buf */
static void dirname_of(const char *path, char *buf, size_t size)
{
	const char *s = strrchr(path, '/');
	size_t n = s != NULL ? (size_t)(s - path) : 0;

	if (n >= size)
		n = size - 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
}

static const struct imapmrk_record *mrk_find(const struct imapmrk *m, const char *file)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->recs[i].filename, file) == 0)
			return &m->recs[i];
	return NULL;
}

static void dump(const struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct ent *e = &t->v[i];
		if (content_only) {
			printf("%c %s %" PRIu64 " %04o %s\n", e->kind, e->hash[0] ? e->hash : "-",
			       e->kind == K_DIR ? 0 : e->size, e->mode, e->path);
			continue;
		}
		printf("%c %s %" PRIu64 " %04o %" PRIu64 " %" PRId64 " %s\n", e->kind,
		       e->hash[0] ? e->hash : "-", e->kind == K_DIR ? 0 : e->size, e->mode,
		       e->ino, e->kind == K_DIR && no_dir_times ? 0 : e->mtime_ns, e->path);
		if (e->kind != K_MRK)
			continue;
		printf("  header status=%d version=%" PRIu32 " uidvalidity=%" PRIu32
		       " uidnext=%" PRIu32 " counter=%" PRIu32 " records=%zu\n",
		       e->mrk_status, e->mrk.hdr.version, e->mrk.hdr.uidvalidity,
		       e->mrk.hdr.uidnext, e->mrk.hdr.write_counter, e->mrk.n);
		for (size_t j = 0; j < e->mrk.n; j++) {
			const struct imapmrk_record *r = &e->mrk.recs[j];
			printf("  record uid=%" PRIu32 " flags=%u size=%" PRIu32 " date=%" PRId32 " %s\n",
			       r->uid, r->flags, r->size, r->date, r->filename);
		}
	}
}

/* every non-index file of base is in cur, byte for byte, same mode */
static void check_kept(const struct tree *base, const struct tree *ref, const struct tree *cur,
		       const char *stage)
{
	for (size_t i = 0; i < base->n; i++) {
		const struct ent *b = &base->v[i], *c;
		if (b->kind != K_MSG && b->kind != K_FILE && b->kind != K_DIR && b->kind != K_OTHER)
			continue;
		c = tree_find(cur, b->path);
		if (c == NULL) {
			if (allow_purged && (b->kind == K_MSG) && tree_find(ref, b->path) == NULL)
				continue;
			fail("%s: %s is missing", stage, b->path);
			continue;
		}
		if (c->kind != b->kind) {
			fail("%s: %s changed kind (%c -> %c)", stage, b->path, b->kind, c->kind);
			continue;
		}
		if (b->kind == K_DIR || b->kind == K_OTHER)
			continue;
		if (strcmp(c->hash, b->hash) != 0 || c->size != b->size)
			fail("%s: %s changed content (%" PRIu64 " -> %" PRIu64 " bytes)", stage,
			     b->path, b->size, c->size);
		if (c->mode != b->mode)
			fail("%s: %s changed mode (%04o -> %04o)", stage, b->path, b->mode, c->mode);
	}
}

/* nothing new in cur but index files (and, after a kill, temps and locks) */
static void check_strangers(const struct tree *base, const struct tree *ref,
			    const struct tree *cur, bool final, const char *stage)
{
	for (size_t i = 0; i < cur->n; i++) {
		const struct ent *c = &cur->v[i];
		/* temps are created 0600 and get the target's mode just before
		   the rename: never writable by others */
		if (c->kind == K_TEMP && (c->mode & 022) != 0)
			fail("%s: temp file %s has mode %04o", stage, c->path, c->mode);
		if (c->kind == K_TEMP || c->kind == K_LOCK) {
			if (final)
				fail("%s: leftover %s", stage, c->path);
			continue;
		}
		if (c->kind == K_MRK || c->kind == K_HWMRK)
			continue;
		if (tree_find(base, c->path) == NULL) {
			const struct ent *r = tree_find(ref, c->path);
			if (r == NULL)
				fail("%s: unexpected new entry %s (%c)", stage, c->path, c->kind);
			else if (c->kind != K_DIR && strcmp(r->hash, c->hash) != 0)
				fail("%s: new file %s is not what the clean run wrote (%" PRIu64
				     " bytes, clean run %" PRIu64 ")", stage, c->path, c->size, r->size);
		}
	}
}

/* IMAP.MRK: BASE's bytes, or a clean decode; records sane */
static void check_mrks(const struct tree *base, const struct tree *cur, bool final,
		       const char *stage)
{
	for (size_t i = 0; i < cur->n; i++) {
		const struct ent *c = &cur->v[i], *b;
		char folder[4096];
		if (c->kind != K_MRK)
			continue;
		b = tree_find(base, c->path);
		if (c->mrk_status != 1) {
			if (final || b == NULL || strcmp(b->hash, c->hash) != 0)
				fail("%s: %s does not decode", stage, c->path);
			continue;
		}
		for (size_t j = 0; j < c->mrk.n; j++)
			if (c->mrk.recs[j].uid >= c->mrk.hdr.uidnext)
				fail("%s: %s: UID %" PRIu32 " of %s is not below UIDNext %" PRIu32,
				     stage, c->path, c->mrk.recs[j].uid, c->mrk.recs[j].filename,
				     c->mrk.hdr.uidnext);
		if (!final)
			continue;
		/* exactly the message files present */
		dirname_of(c->path, folder, sizeof(folder));
		for (size_t j = 0; j < c->mrk.n; j++) {
			char *p = hw_path_join(folder, c->mrk.recs[j].filename);
			const struct ent *m = tree_find(cur, p);
			if (m == NULL || m->kind != K_MSG)
				fail("%s: %s lists %s, which is not there", stage, c->path,
				     c->mrk.recs[j].filename);
			free(p);
		}
		for (size_t j = 0; j < cur->n; j++) {
			const struct ent *m = &cur->v[j];
			char mf[4096];
			if (m->kind != K_MSG)
				continue;
			dirname_of(m->path, mf, sizeof(mf));
			if (strcmp(mf, folder) != 0)
				continue;
			if (mrk_find(&c->mrk, strrchr(m->path, '/') + 1) == NULL)
				fail("%s: %s has no record of %s", stage, c->path, m->path);
		}
	}
	if (!final)
		return;
	/* every folder with messages has an index */
	for (size_t j = 0; j < cur->n; j++) {
		const struct ent *m = &cur->v[j];
		char mf[4096];
		char *p;
		if (m->kind != K_MSG)
			continue;
		dirname_of(m->path, mf, sizeof(mf));
		p = hw_path_join(mf, IMAPMRK_NAME);
		if (tree_find(cur, p) == NULL)
			fail("%s: %s has no IMAP.MRK", stage, mf);
		free(p);
	}
}

/* the UIDs, flags and UIDVALIDITY of old's clean indexes are kept in cur
   for the files still there (with --purged, not for a file the clean run
   purged: purge drops the record before the file, and a file whose unlink
   failed comes back as new mail, with a new UID, as documented) */
static void check_uids(const struct tree *old, const struct tree *ref, const struct tree *cur,
		       const char *what, const char *stage)
{
	for (size_t i = 0; i < old->n; i++) {
		const struct ent *o = &old->v[i], *c;
		char folder[4096];
		if (o->kind != K_MRK || o->mrk_status != 1)
			continue;
		c = tree_find(cur, o->path);
		if (c == NULL) {
			fail("%s: %s (in %s) is gone", stage, o->path, what);
			continue;
		}
		if (c->mrk_status != 1)
			continue;   /* reported by check_mrks */
		if (c->mrk.hdr.uidvalidity != o->mrk.hdr.uidvalidity)
			fail("%s: %s: UIDVALIDITY %" PRIu32 " (in %s) became %" PRIu32, stage,
			     o->path, o->mrk.hdr.uidvalidity, what, c->mrk.hdr.uidvalidity);
		if (c->mrk.hdr.uidnext < o->mrk.hdr.uidnext)
			fail("%s: %s: UIDNext went down from %" PRIu32 " (in %s) to %" PRIu32,
			     stage, o->path, o->mrk.hdr.uidnext, what, c->mrk.hdr.uidnext);
		dirname_of(o->path, folder, sizeof(folder));
		for (size_t j = 0; j < o->mrk.n; j++) {
			const struct imapmrk_record *orec = &o->mrk.recs[j], *crec;
			char *p = hw_path_join(folder, orec->filename);
			const struct ent *m = tree_find(cur, p);
			bool purged = allow_purged && tree_find(ref, p) == NULL;
			free(p);
			if (m == NULL || purged)
				continue;   /* the file went (purge, or never there) */
			crec = mrk_find(&c->mrk, orec->filename);
			if (crec == NULL)
				continue;   /* after a kill: not yet listed again */
			if (crec->uid != orec->uid)
				fail("%s: %s/%s: UID %" PRIu32 " (in %s) became %" PRIu32, stage,
				     folder, orec->filename, orec->uid, what, crec->uid);
			if (crec->flags != orec->flags)
				fail("%s: %s/%s: flags %u (in %s) became %u", stage, folder,
				     orec->filename, orec->flags, what, crec->flags);
		}
	}
}

/* HIWATER.MRK is BASE's or REF's (an atomic replace leaves one or the other) */
static void check_hwmrk(const struct tree *base, const struct tree *ref, const struct tree *cur,
			bool final, const char *stage)
{
	for (size_t i = 0; i < cur->n; i++) {
		const struct ent *c = &cur->v[i], *b, *r;
		if (c->kind != K_HWMRK)
			continue;
		b = tree_find(base, c->path);
		r = tree_find(ref, c->path);
		if (r != NULL && strcmp(r->hash, c->hash) == 0)
			continue;
		if (!final && b != NULL && strcmp(b->hash, c->hash) == 0)
			continue;
		fail("%s: %s is %s", stage, c->path,
		     final ? "not the clean run's" : "neither the base's nor the clean run's");
	}
}

/* after the rerun: the same files and records as the clean run (with
   --new-uids, records that BASE did not have may have other UIDs: a restore
   gives UIDs in the order it writes, which a kill changes) */
static void check_like_ref(const struct tree *base, const struct tree *ref, const struct tree *cur,
			   const char *stage)
{
	for (size_t i = 0; i < ref->n; i++) {
		const struct ent *r = &ref->v[i], *c = tree_find(cur, r->path);
		if (r->kind == K_TEMP || r->kind == K_LOCK)
			continue;
		if (c == NULL) {
			fail("%s: %s is in the clean run's result but not here", stage, r->path);
			continue;
		}
		if (r->kind == K_MRK) {
			if (r->mrk_status != 1 || c->mrk_status != 1)
				continue;
			if (c->mrk.n != r->mrk.n)
				fail("%s: %s has %zu records, the clean run's %zu", stage, r->path,
				     c->mrk.n, r->mrk.n);
			if (c->mrk.hdr.uidnext != r->mrk.hdr.uidnext && !new_uids)
				fail("%s: %s: UIDNext %" PRIu32 ", the clean run's %" PRIu32, stage,
				     r->path, c->mrk.hdr.uidnext, r->mrk.hdr.uidnext);
			for (size_t j = 0; j < r->mrk.n; j++) {
				const struct imapmrk_record *rr = &r->mrk.recs[j];
				const struct imapmrk_record *cr = mrk_find(&c->mrk, rr->filename);
				if (cr == NULL) {
					fail("%s: %s lacks the record of %s", stage, r->path,
					     rr->filename);
					continue;
				}
				bool uid_free = false;
				if (new_uids) {
					const struct ent *b = tree_find(base, r->path);
					uid_free = b == NULL || b->mrk_status != 1 ||
						   mrk_find(&b->mrk, rr->filename) == NULL;
				}
				if ((cr->uid != rr->uid && !uid_free) || cr->flags != rr->flags ||
				    cr->size != rr->size || cr->date != rr->date)
					fail("%s: %s: record of %s is uid %" PRIu32 " flags %u size %"
					     PRIu32 " date %" PRId32 ", the clean run's uid %" PRIu32
					     " flags %u size %" PRIu32 " date %" PRId32, stage, r->path,
					     rr->filename, cr->uid, cr->flags, cr->size, cr->date,
					     rr->uid, rr->flags, rr->size, rr->date);
			}
			continue;
		}
		if (c->kind != r->kind)
			fail("%s: %s is %c, in the clean run %c", stage, r->path, c->kind, r->kind);
		else if (r->kind != K_DIR && strcmp(c->hash, r->hash) != 0)
			fail("%s: %s differs from the clean run's", stage, r->path);
	}
	for (size_t i = 0; i < cur->n; i++)
		if (tree_find(ref, cur->v[i].path) == NULL && cur->v[i].kind != K_TEMP &&
		    cur->v[i].kind != K_LOCK)
			fail("%s: %s is not in the clean run's result", stage, cur->v[i].path);
}

static void usage(void)
{
	fputs("usage: crashcheck [--no-dir-times|--content-only] dump STORE\n"
	      "       crashcheck purged BASE STORE\n"
	      "       crashcheck [--purged] [--new-uids] [--lock NAME] killed BASE REF STORE\n"
	      "       crashcheck [...] rerun BASE REF KILLED STORE\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct tree base = { 0 }, ref = { 0 }, killed = { 0 }, cur = { 0 };
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--purged") == 0)
			allow_purged = true;
		else if (strcmp(argv[i], "--no-dir-times") == 0)
			no_dir_times = true;
		else if (strcmp(argv[i], "--content-only") == 0)
			content_only = true;
		else if (strcmp(argv[i], "--new-uids") == 0)
			new_uids = true;
		else if (strcmp(argv[i], "--lock") == 0 && i + 1 < argc)
			lock_name = argv[++i];
		else
			usage();
	}
	if (i >= argc)
		usage();
	if (strcmp(argv[i], "dump") == 0 && argc - i == 2) {
		tree_load(&cur, argv[i + 1]);
		dump(&cur);
		tree_release(&cur);
		return 0;
	}
	if (strcmp(argv[i], "purged") == 0 && argc - i == 3) {
		/* the message files of BASE that are gone from STORE */
		tree_load(&base, argv[i + 1]);
		tree_load(&cur, argv[i + 2]);
		for (size_t j = 0; j < base.n; j++)
			if (base.v[j].kind == K_MSG && tree_find(&cur, base.v[j].path) == NULL)
				printf("%s\n", base.v[j].path);
		tree_release(&base);
		tree_release(&cur);
		return 0;
	}
	if (strcmp(argv[i], "killed") == 0 && argc - i == 4) {
		tree_load(&base, argv[i + 1]);
		tree_load(&ref, argv[i + 2]);
		tree_load(&cur, argv[i + 3]);
		check_kept(&base, &ref, &cur, "after the kill");
		check_strangers(&base, &ref, &cur, false, "after the kill");
		check_mrks(&base, &cur, false, "after the kill");
		check_uids(&base, &ref, &cur, "the base", "after the kill");
		check_hwmrk(&base, &ref, &cur, false, "after the kill");
	} else if (strcmp(argv[i], "rerun") == 0 && argc - i == 5) {
		tree_load(&base, argv[i + 1]);
		tree_load(&ref, argv[i + 2]);
		tree_load(&killed, argv[i + 3]);
		tree_load(&cur, argv[i + 4]);
		check_kept(&base, &ref, &cur, "after the rerun");
		check_strangers(&base, &ref, &cur, true, "after the rerun");
		check_mrks(&base, &cur, true, "after the rerun");
		check_uids(&base, &ref, &cur, "the base", "after the rerun");
		check_uids(&killed, &ref, &cur, "the killed run", "after the rerun");
		check_hwmrk(&base, &ref, &cur, true, "after the rerun");
		check_like_ref(&base, &ref, &cur, "after the rerun");
	} else {
		usage();
	}
	if (failures > 40)
		fprintf(stderr, "crashcheck: ... %u failures in all\n", failures);
	tree_release(&base);
	tree_release(&ref);
	tree_release(&killed);
	tree_release(&cur);
	return failures ? 1 : 0;
}
