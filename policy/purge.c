/*
 * purge.c - which messages the purge rules select (see policy.h). Selection
 * only: removing is composed by the command (snapshot first, then IMAP.MRK
 * records under the folder lock, then the files).
 */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "catalog.h"
#include "imapmrk.h"
#include "policy.h"
#include "store.h"
#include "util.h"

void hw_purge_plan_init(struct hw_purge_plan *p)
{
	memset(p, 0, sizeof(*p));
}

static void folder_release(struct hw_purge_folder *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].file);
	free(f->v);
	free(f->relpath);
	free(f->imapname);
	free(f->domain);
	free(f->mailbox);
	free(f->rule.folder);
	free((char *)f->rule.origin.level);
}

void hw_purge_plan_release(struct hw_purge_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		folder_release(&p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void hw_purge_rule_format(const struct hw_purge_rule *r, char *buf, size_t size)
{
	struct hw_buf b;
	char dur[32];

	hw_buf_init(&b);
	hw_buf_addf(&b, "'%s'", r->folder);
	if (r->older_than > 0) {
		hw_policy_duration_format(r->older_than, dur, sizeof(dur));
		hw_buf_addf(&b, " older than %s", dur);
	}
	if (r->max_messages > 0)
		hw_buf_addf(&b, "%s beyond the newest %" PRIu64, r->older_than > 0 ? " or" : "",
			    r->max_messages);
	if (r->origin.level != NULL)
		hw_buf_addf(&b, " (%s, line %d)", r->origin.level, r->origin.line);
	hw_strlcpy(buf, b.data, size);
	hw_buf_release(&b);
}

void hw_purge_folder_reason(const struct hw_purge_folder *f, char *buf, size_t size)
{
	size_t age = 0, cap = 0;
	char dur[32];
	struct hw_buf b;

	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].by_age)
			age++;
		else
			cap++;
	}
	hw_buf_init(&b);
	if (age > 0 || cap == 0) {
		hw_policy_duration_format(f->rule.older_than, dur, sizeof(dur));
		hw_buf_addf(&b, "%zu message%s older than %s", age, age == 1 ? "" : "s", dur);
	}
	if (cap > 0)
		hw_buf_addf(&b, "%s%zu message%s beyond the newest %" PRIu64, b.len > 0 ? " and " : "",
			    cap, cap == 1 ? "" : "s", f->rule.max_messages);
	hw_strlcpy(buf, b.data, size);
	hw_buf_release(&b);
}

/* a message present in the folder and its arrival date from the index */
struct dated {
	const char *file;   /* points into the directory listing */
	uint32_t uid;
	uint64_t size;
	int64_t date;       /* <= 0: unknown */
};

static int dated_newest_first(const void *a, const void *b)
{
	const struct dated *x = a, *y = b;

	if (x->date != y->date)
		return x->date > y->date ? -1 : 1;
	if (x->uid != y->uid)
		return x->uid > y->uid ? -1 : 1;
	return strcmp(x->file, y->file);
}

static int item_oldest_first(const void *a, const void *b)
{
	const struct hw_purge_item *x = a, *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return strcmp(x->file, y->file);
}

/* dates from the catalog's rows of the folder for the files still undated
   (same_file: only when size and mtime are those the indexer saw); 1 when
   the catalog knows the folder */
static int dates_from_catalog(struct hw_catalog *cat, const char *relpath,
			      const struct hw_dir *d, struct dated *v, bool same_file)
{
	struct hw_cat_folder cf = { 0 };
	struct hw_cat_message *mv = NULL;
	struct hw_error err;
	size_t mn = 0;
	int ret = 0;

	if (hw_catalog_folder_get(cat, relpath, &cf, &err) == 1 &&
	    hw_catalog_messages_get(cat, cf.id, &mv, &mn, &err) >= 0 && mn > 0) {
		for (size_t i = 0; i < mn; i++) {
			const struct hw_entry *e = hw_dir_find(d, mv[i].file);
			if (e == NULL || e->kind != HW_ENTRY_MESSAGE || v[e - d->v].date > 0)
				continue;
			if (same_file && (mv[i].size != (int64_t)e->st.st_size ||
					  mv[i].mtime_ns != HW_TS_NS(e->st.st_mtim)))
				continue;
			v[e - d->v].uid = mv[i].uid;
			v[e - d->v].date = mv[i].date;
		}
		ret = 1;
	}
	hw_cat_messages_free(mv, mn);
	hw_cat_folder_release(&cf);
	return ret;
}

/* Arrival dates for the files of a listed folder: IMAP.MRK first (what
   MDaemon itself keeps), the catalog when IMAP.MRK is absent or corrupt.
   Returns the source name, or NULL when neither has dates. */
static const char *dates_fill(int fd, const struct hw_store *st, struct hw_catalog *cat,
			      const char *relpath, const struct hw_dir *d, struct dated *v)
{
	struct imapmrk m;
	struct hw_error err;
	const char *src = NULL;

	(void)st;
	imapmrk_init(&m);
	if (imapmrk_read(fd, relpath, &m, &err) == 1) {
		for (size_t i = 0; i < m.n; i++) {
			const struct hw_entry *e = hw_dir_find(d, m.recs[i].filename);
			if (e == NULL || e->kind != HW_ENTRY_MESSAGE)
				continue;
			v[e - d->v].uid = m.recs[i].uid;
			v[e - d->v].date = m.recs[i].date;
		}
		src = IMAPMRK_NAME;
		/* A file without a record but known to the catalog as the same
		   file (name, size, mtime): a purge killed after it dropped the
		   record and before it unlinked the file, or a record MDaemon has
		   not written yet. Its arrival date is the catalog's; without it
		   the file would stay, recordless, as new mail. */
		if (cat != NULL)
			dates_from_catalog(cat, relpath, d, v, true);
	} else if (cat != NULL) {
		if (err.msg[0] != '\0')
			hw_diag_warn("%s: IMAP.MRK not used (%s); arrival dates from the catalog",
				     relpath, err.msg);
		if (dates_from_catalog(cat, relpath, d, v, false) > 0)
			src = "catalog";
	}
	imapmrk_release(&m);
	return src;
}

static int folder_select(const struct hw_store *st, struct hw_catalog *cat, const char *relpath,
			 const struct hw_purge_rule *rule, time_t now, struct hw_purge_plan *p,
			 const struct hw_folder *hf)
{
	struct hw_purge_folder *pf;
	struct hw_error err;
	struct dated *v = NULL, *sorted = NULL;
	struct hw_dir d;
	const char *src;
	size_t nd = 0, undated = 0, keep_dated;
	int fd, ret = 0;

	fd = hw_store_open_folder(st, relpath, &err);
	if (fd < 0) {
		hw_diag_warn("%s", err.msg);
		p->problems++;
		return 0;
	}
	hw_dir_init(&d);
	if (hw_dir_read(fd, relpath, true, &d, &err) < 0) {
		hw_diag_warn("%s", err.msg);
		p->problems++;
		goto out;
	}
	v = hw_calloc(d.n + 1, sizeof(*v));
	src = dates_fill(fd, st, cat, relpath, &d, v);
	if (src == NULL) {
		if (d.nmessages > 0) {
			hw_diag_warn("%s: no index with arrival dates (no IMAP.MRK, nothing in the "
				     "catalog): not purged; run 'hiwater index' first", relpath);
			p->folders_no_index++;
		}
		goto out;
	}
	HW_GROW(p->v, p->cap, p->n + 1);
	pf = &p->v[p->n++];
	memset(pf, 0, sizeof(*pf));
	pf->relpath = hw_strdup(relpath);
	pf->imapname = hw_strdup(hf->imapname);
	pf->domain = hw_strdup(hf->domain);
	pf->mailbox = hw_strdup(hf->mailbox);
	pf->rule = *rule;
	pf->rule.folder = hw_strdup(rule->folder);
	pf->rule.origin.level = hw_strdup(rule->origin.level != NULL ? rule->origin.level : "");
	pf->date_source = src;
	sorted = hw_calloc(d.n + 1, sizeof(*sorted));
	for (size_t i = 0; i < d.n; i++) {
		if (d.v[i].kind != HW_ENTRY_MESSAGE)
			continue;
		pf->messages++;
		if (v[i].date <= 0) {
			undated++;   /* unknown arrival: never purged, counts as new */
			continue;
		}
		v[i].file = d.v[i].name;
		v[i].size = (uint64_t)d.v[i].st.st_size;
		sorted[nd++] = v[i];
	}
	hw_sort(sorted, nd, sizeof(*sorted), dated_newest_first);
	keep_dated = nd;
	if (rule->max_messages > 0)
		keep_dated = rule->max_messages > undated ? (size_t)(rule->max_messages - undated) : 0;
	for (size_t i = 0; i < nd; i++) {
		bool by_age = rule->older_than > 0 && sorted[i].date < (int64_t)now - rule->older_than;
		bool by_cap = i >= keep_dated;
		struct hw_purge_item *it;

		if (!by_age && !by_cap)
			continue;
		HW_GROW(pf->v, pf->cap, pf->n + 1);
		it = &pf->v[pf->n++];
		it->file = hw_strdup(sorted[i].file);
		it->uid = sorted[i].uid;
		it->size = sorted[i].size;
		it->date = sorted[i].date;
		it->by_age = by_age;
		pf->bytes += it->size;
	}
	hw_sort(pf->v, pf->n, sizeof(*pf->v), item_oldest_first);
	p->messages += pf->n;
	p->bytes += pf->bytes;
	ret = 1;
out:
	free(v);
	free(sorted);
	hw_dir_release(&d);
	close(fd);
	return ret;
}

int hw_purge_plan_build(const struct hw_policy *pol, const struct hw_store *st,
			struct hw_catalog *cat, char *const *args, size_t nargs, time_t now,
			struct hw_purge_plan *p, struct hw_error *err)
{
	struct hw_folder_list fl;
	struct hw_policy_mailbox eff = { 0 };
	char *eff_root = NULL;
	int ret = -1;

	hw_folder_list_init(&fl);
	if (hw_store_folders(st, args, nargs, &fl, &p->problems, err) < 0)
		goto out;
	for (size_t i = 0; i < fl.n; i++) {
		const struct hw_folder *f = &fl.v[i];
		char *root = hw_folder_mailbox_root(f->relpath);
		const struct hw_purge_rule *rule;

		/* folders come sorted, so a mailbox's folders are together */
		if (eff_root == NULL || strcmp(eff_root, root) != 0) {
			if (eff_root != NULL)
				hw_policy_mailbox_release(&eff);
			free(eff_root);
			eff_root = root;
			hw_policy_resolve(pol, f->domain, f->mailbox, &eff);
		} else {
			free(root);
		}
		rule = hw_policy_rule_match(&eff, f->imapname);
		if (rule != NULL)
			folder_select(st, cat, f->relpath, rule, now, p, f);
	}
	ret = 1;
out:
	if (eff_root != NULL)
		hw_policy_mailbox_release(&eff);
	free(eff_root);
	hw_folder_list_release(&fl);
	return ret;
}
