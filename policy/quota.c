/*
 * quota.c - usage per mailbox and folder against the policy's warn and limit
 * (see policy.h). The catalog answers for folders whose directory has not
 * changed since the indexer saw it; the rest are listed and summed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "catalog.h"
#include "policy.h"
#include "store.h"
#include "util.h"

void hw_quota_report_init(struct hw_quota_report *r)
{
	memset(r, 0, sizeof(*r));
}

void hw_quota_report_release(struct hw_quota_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct hw_quota_mailbox *m = &r->v[i];
		for (size_t j = 0; j < m->nfolders; j++) {
			free(m->folders[j].relpath);
			free(m->folders[j].imapname);
		}
		free(m->folders);
		free(m->root);
		free(m->domain);
		free(m->mailbox);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

const char *hw_quota_state_name(enum hw_quota_state s)
{
	return s == HW_QUOTA_OVER ? "over" : s == HW_QUOTA_WARN ? "warn" : "ok";
}

static struct hw_quota_mailbox *mailbox_get(struct hw_quota_report *r, const char *relpath)
{
	char *root = hw_folder_mailbox_root(relpath);
	struct hw_quota_mailbox *m;
	const char *slash;

	for (size_t i = r->n; i-- > 0;)   /* folders come grouped: the last is the likely one */
		if (strcmp(r->v[i].root, root) == 0) {
			free(root);
			return &r->v[i];
		}
	HW_GROW(r->v, r->cap, r->n + 1);
	m = &r->v[r->n++];
	memset(m, 0, sizeof(*m));
	m->root = root;
	slash = strchr(root, '/');
	m->domain = slash != NULL ? hw_strndup(root, (size_t)(slash - root)) : hw_strdup(root);
	m->mailbox = hw_strdup(slash != NULL ? slash + 1 : "");
	return m;
}

static void folder_add(struct hw_quota_report *r, const char *relpath, uint64_t bytes,
		       uint64_t messages, bool scanned)
{
	struct hw_quota_mailbox *m = mailbox_get(r, relpath);
	struct hw_quota_folder *f;

	HW_GROW(m->folders, m->cap, m->nfolders + 1);
	f = &m->folders[m->nfolders++];
	f->relpath = hw_strdup(relpath);
	f->imapname = hw_folder_imapname(relpath);
	f->bytes = bytes;
	f->messages = messages;
	f->scanned = scanned;
	m->bytes += bytes;
	m->messages += messages;
	if (scanned)
		r->folders_scanned++;
	else
		r->folders_cataloged++;
}

/* list a folder and sum its message files; 1 ok, 0 skipped (reported) */
static int folder_scan(const struct hw_store *st, const char *relpath, uint64_t *bytes_r,
		       uint64_t *messages_r)
{
	struct hw_error err;
	struct hw_dir d;
	int fd, ret = 0;

	*bytes_r = *messages_r = 0;
	fd = hw_store_open_folder(st, relpath, &err);
	if (fd < 0) {
		hw_diag_warn("%s", err.msg);
		return 0;
	}
	hw_dir_init(&d);
	if (hw_dir_read(fd, relpath, true, &d, &err) < 0) {
		hw_diag_warn("%s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].kind == HW_ENTRY_MESSAGE) {
			*bytes_r += (uint64_t)d.v[i].st.st_size;
			(*messages_r)++;
		}
	ret = 1;
out:
	hw_dir_release(&d);
	close(fd);
	return ret;
}

/* Is the catalog's row for this folder current? Same test as the indexer's
   staleness check: directory mtime (ns) and identity unchanged. */
static bool folder_current(const struct hw_store *st, const struct hw_cat_folder *cf)
{
	struct hw_error err;
	struct stat sb;
	int fd;
	bool ok;

	if (cf->indexed_at <= 0)
		return false;
	fd = hw_store_open_folder(st, cf->relpath, &err);
	if (fd < 0)
		return false;
	ok = fstat(fd, &sb) == 0 && HW_TS_NS(sb.st_mtim) == cf->dir_mtime_ns &&
	     (int64_t)sb.st_ino == cf->dir_ino;
	close(fd);
	return ok;
}

static bool in_scope(const char *relpath, char *const *args, size_t nargs)
{
	if (nargs == 0)
		return true;
	for (size_t i = 0; i < nargs; i++) {
		size_t n = strlen(args[i]);
		if (strncmp(relpath, args[i], n) == 0 && (relpath[n] == '\0' || relpath[n] == '/'))
			return true;
	}
	return false;
}

static int cf_find(const struct hw_cat_folder *v, size_t n, const char *relpath)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid].relpath, relpath);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int folder_cmp(const void *a, const void *b)
{
	const struct hw_quota_folder *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->relpath, y->relpath);
}

static int mailbox_cmp(const void *a, const void *b)
{
	const struct hw_quota_mailbox *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->root, y->root);
}

int hw_quota_collect(const struct hw_policy *pol, const struct hw_store *st,
		     struct hw_catalog *cat, char *const *args, size_t nargs,
		     struct hw_quota_report *r, struct hw_error *err)
{
	struct hw_cat_folder *cfv = NULL;
	struct hw_folder_list fl;
	size_t ncf = 0;
	int ret = -1;

	hw_folder_list_init(&fl);
	/* the walk finds every folder (new ones too); the catalog saves the
	   per-file work where it is current */
	if (hw_store_folders(st, args, nargs, &fl, &r->problems, err) < 0)
		goto out;
	if (cat != NULL && hw_catalog_folders_list(cat, "", &cfv, &ncf, err) < 0) {
		hw_diag_warn("catalog not used (%s): scanning", err->msg);
		hw_error_clear(err);
		ncf = 0;
	}
	for (size_t i = 0; i < fl.n; i++) {
		const char *rel = fl.v[i].relpath;
		int k = cf_find(cfv, ncf, rel);
		uint64_t bytes, msgs;

		if (!in_scope(rel, args, nargs))
			continue;
		if (k >= 0 && folder_current(st, &cfv[k])) {
			folder_add(r, rel, (uint64_t)cfv[k].bytes, (uint64_t)cfv[k].messages, false);
			continue;
		}
		if (folder_scan(st, rel, &bytes, &msgs))
			folder_add(r, rel, bytes, msgs, true);
		else
			r->problems++;
	}
	for (size_t i = 0; i < r->n; i++) {
		struct hw_quota_mailbox *m = &r->v[i];
		if (pol != NULL) {
			struct hw_policy_mailbox eff;
			hw_policy_resolve(pol, m->domain, m->mailbox, &eff);
			m->warn = eff.quota_warn;
			m->limit = eff.quota_limit;
			hw_policy_mailbox_release(&eff);
		}
		if (m->limit > 0 && m->bytes > m->limit)
			m->state = HW_QUOTA_OVER;
		else if (m->warn > 0 && m->bytes > m->warn)
			m->state = HW_QUOTA_WARN;
		hw_sort(m->folders, m->nfolders, sizeof(*m->folders), folder_cmp);
	}
	hw_sort(r->v, r->n, sizeof(*r->v), mailbox_cmp);
	ret = 1;
out:
	hw_cat_folders_free(cfv, ncf);
	hw_folder_list_release(&fl);
	return ret;
}
