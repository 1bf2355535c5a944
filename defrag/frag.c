/* frag.c - measure files and folders: extents, fragments, layout score
   (see defrag.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "defrag.h"
#include "imapmrk.h"
#include "os.h"
#include "store.h"
#include "util.h"

const char *defrag_verdict_name(enum defrag_verdict v)
{
	switch (v) {
	case DEFRAG_VERDICT_OK: return "ok";
	case DEFRAG_VERDICT_RELAYOUT: return "worth relayout";
	case DEFRAG_VERDICT_DEFRAG: return "worth defrag";
	case DEFRAG_VERDICT_UNSUPPORTED: return "unsupported";
	}
	return "?";
}

void defrag_file_release(struct defrag_file *df)
{
	free(df->name);
	free(df->pieces);
	memset(df, 0, sizeof(*df));
}

int defrag_file_measure(int fd, const char *display_path, bool keep_pieces,
			struct defrag_file *df, struct hw_error *err)
{
	struct hw_extent *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	free(df->pieces);
	df->pieces = NULL;
	df->npieces = 0;
	r = hw_os_extents(fd, display_path, &v, &n, err);
	if (r <= 0)
		return r;
	df->extents = n;
	df->fragments = hw_extents_fragments(v, n);
	df->unknown = n == 0;
	df->first_phys = df->end_phys = df->phys_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].flags & HW_EXTENT_UNKNOWN)
			df->unknown = true;
		df->phys_bytes += v[i].length;
		if (!keep_pieces)
			continue;
		/* a piece is a run of physically contiguous extents, as drawn */
		if (df->npieces > 0 && df->pieces[df->npieces - 1].phys +
		    df->pieces[df->npieces - 1].len == v[i].physical) {
			df->pieces[df->npieces - 1].len += v[i].length;
			continue;
		}
		HW_GROW(df->pieces, cap, df->npieces + 1);
		df->pieces[df->npieces].phys = v[i].physical;
		df->pieces[df->npieces].len = v[i].length;
		df->npieces++;
	}
	if (n > 0) {
		df->first_phys = v[0].physical;
		df->end_phys = v[n - 1].physical + v[n - 1].length;
	}
	free(v);
	return 1;
}

void defrag_folder_init(struct defrag_folder *f)
{
	memset(f, 0, sizeof(*f));
}

void defrag_folder_release(struct defrag_folder *f)
{
	for (size_t i = 0; i < f->nfiles; i++)
		defrag_file_release(&f->files[i]);
	free(f->files);
	free(f->relpath);
	memset(f, 0, sizeof(*f));
}

/* ---- UID order ---- */

struct named_uid {
	const char *name;
	uint32_t uid;
};

static int cmp_named_uid(const void *a, const void *b)
{
	return strcasecmp(((const struct named_uid *)a)->name, ((const struct named_uid *)b)->name);
}

struct order_item {
	char *name;
	uint32_t uid;
};

static int cmp_order(const void *a, const void *b)
{
	const struct order_item *x = a, *y = b;

	/* files with a UID first, by UID; then the rest by name */
	if ((x->uid == 0) != (y->uid == 0))
		return x->uid == 0 ? 1 : -1;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return strcmp(x->name, y->name);
}

int defrag_folder_order(int dirfd, const char *relpath, char ***names_r,
			uint32_t **uids_r, size_t *n_r, struct hw_error *err)
{
	struct hw_dir d;
	struct imapmrk m;
	struct hw_error merr;
	struct named_uid *map = NULL;
	struct order_item *items = NULL;
	size_t nitems = 0;
	int from_mrk, r;

	*names_r = NULL;
	*uids_r = NULL;
	*n_r = 0;
	hw_dir_init(&d);
	if (hw_dir_read(dirfd, relpath, false, &d, err) < 0)
		return -1;
	imapmrk_init(&m);
	hw_error_clear(&merr);
	r = imapmrk_read(dirfd, relpath, &m, &merr);
	from_mrk = r > 0;
	if (!from_mrk) {
		if (r == 0 && merr.msg[0] == '\0')
			hw_error_set(err, ENOENT, "%s: no %s: file-name order", relpath, IMAPMRK_NAME);
		else
			hw_error_set(err, merr.errnum, "%s: %s unreadable (%s): file-name order",
				     relpath, IMAPMRK_NAME, merr.msg);
	} else if (m.n > 0) {
		map = hw_malloc(m.n * sizeof(*map));
		for (size_t i = 0; i < m.n; i++) {
			map[i].name = m.recs[i].filename;
			map[i].uid = m.recs[i].uid;
		}
		hw_sort(map, m.n, sizeof(*map), cmp_named_uid);
	}
	items = hw_calloc(d.n + 1, sizeof(*items));
	for (size_t i = 0; i < d.n; i++) {
		const struct named_uid key = { d.v[i].name, 0 }, *hit = NULL;
		if (d.v[i].kind != HW_ENTRY_MESSAGE)
			continue;
		if (map != NULL)
			hit = bsearch(&key, map, m.n, sizeof(*map), cmp_named_uid);
		items[nitems].name = hw_strdup(d.v[i].name);
		items[nitems].uid = hit != NULL ? hit->uid : 0;
		nitems++;
	}
	hw_sort(items, nitems, sizeof(*items), cmp_order);
	*names_r = hw_calloc(nitems + 1, sizeof(char *));
	*uids_r = hw_calloc(nitems + 1, sizeof(uint32_t));
	for (size_t i = 0; i < nitems; i++) {
		(*names_r)[i] = items[i].name;
		(*uids_r)[i] = items[i].uid;
	}
	*n_r = nitems;
	free(items);
	free(map);
	imapmrk_release(&m);
	hw_dir_release(&d);
	return from_mrk ? 1 : 0;
}

/* ---- folders ---- */

static bool adjacent(const struct defrag_file *prev, const struct defrag_file *next)
{
	return next->first_phys >= prev->end_phys &&
	       next->first_phys - prev->end_phys <= DEFRAG_ADJ_SLACK;
}

void defrag_folder_score(struct defrag_folder *f)
{
	const struct defrag_file *prev = NULL;

	f->fragments = f->fragmented_files = 0;
	f->bytes = 0;
	f->pairs = f->adjacent = 0;
	for (size_t i = 0; i < f->nfiles; i++) {
		const struct defrag_file *df = &f->files[i];
		/* an empty file has no extent and counts as one whole fragment */
		f->fragments += df->fragments > 0 ? df->fragments : 1;
		f->bytes += df->size;
		if (df->fragments > 1)
			f->fragmented_files++;
		if (df->unknown || df->extents == 0)
			continue;
		if (prev != NULL) {
			f->pairs++;
			if (adjacent(prev, df))
				f->adjacent++;
		}
		prev = df;
	}
	f->frag_per_file = f->nfiles > 0 ? (double)f->fragments / (double)f->nfiles : 1.0;
	f->layout_score = f->pairs > 0 ? (double)f->adjacent / (double)f->pairs : 1.0;
	if (f->unsupported)
		f->verdict = DEFRAG_VERDICT_UNSUPPORTED;
	else if (f->frag_per_file > DEFRAG_WORTH_DEFRAG)
		f->verdict = DEFRAG_VERDICT_DEFRAG;
	else if (f->nfiles >= DEFRAG_RELAYOUT_MIN_FILES && f->layout_score < DEFRAG_WORTH_RELAYOUT)
		f->verdict = DEFRAG_VERDICT_RELAYOUT;
	else
		f->verdict = DEFRAG_VERDICT_OK;
}

double defrag_folder_badness(const struct defrag_folder *f)
{
	/* the extra seeks a sequential read of the folder makes: one per extra
	   fragment and one per non-adjacent pair */
	double extra = (double)(f->fragments > f->nfiles ? f->fragments - f->nfiles : 0);

	return extra + (double)(f->pairs - f->adjacent);
}

int defrag_folder_measure(int dirfd, const char *relpath, bool keep_pieces,
			  struct defrag_folder *f, struct hw_error *err)
{
	char **names = NULL;
	uint32_t *uids = NULL;
	size_t n = 0;
	struct hw_error oerr;
	int r, ret = 1;

	defrag_folder_release(f);
	f->relpath = hw_strdup(relpath);
	hw_error_clear(&oerr);
	r = defrag_folder_order(dirfd, relpath, &names, &uids, &n, &oerr);
	if (r < 0) {
		*err = oerr;
		return -1;
	}
	f->uid_order = r > 0;
	f->files = hw_calloc(n + 1, sizeof(*f->files));
	for (size_t i = 0; i < n; i++) {
		char *shown = hw_path_join(relpath, names[i]);
		struct defrag_file *df = &f->files[f->nfiles];
		struct hw_error ferr;
		struct stat st;
		int fd = hw_open_regular(dirfd, names[i], shown, &st, &ferr);

		if (fd < 0) {
			/* gone meanwhile, or replaced by something we do not open */
			if (ferr.errnum != ENOENT) {
				hw_diag_warn("%s", ferr.msg);
				f->problems++;
			}
			free(shown);
			continue;
		}
		df->name = names[i];
		names[i] = NULL;
		df->uid = uids[i];
		df->size = (uint64_t)st.st_size;
		df->ino = (uint64_t)st.st_ino;
		df->mtime_ns = HW_TS_NS(st.st_mtim);
		df->ctime_ns = HW_TS_NS(st.st_ctim);
		r = defrag_file_measure(fd, shown, keep_pieces, df, &ferr);
		close(fd);
		free(shown);
		if (r == 0) {
			f->unsupported = true;
			f->nfiles++;
			ret = 0;
			continue;
		}
		if (r < 0) {
			hw_diag_warn("%s", ferr.msg);
			f->problems++;
			defrag_file_release(df);
			continue;
		}
		f->nfiles++;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(uids);
	defrag_folder_score(f);
	return ret;
}
