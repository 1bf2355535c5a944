/* mrkedit.c - small edits of a live folder's IMAP.MRK (see mrkedit.h) */
#include <errno.h>
#include <strings.h>
#include <time.h>

#include "imapmrk.h"
#include "mrkedit.h"
#include "os.h"
#include "util.h"

/* read under the lock; a corrupt file is salvaged, an absent one started */
static int load(int dirfd, const char *dirpath, struct imapmrk *m, struct hw_error *err)
{
	struct hw_error rerr;
	int r = imapmrk_read(dirfd, dirpath, m, &rerr);

	if (r < 0) {
		*err = rerr;
		return -1;
	}
	{
		uint32_t now = (uint32_t)time(NULL);
		uint32_t maxuid = 0;
		for (size_t i = 0; i < m->n; i++)
			if (m->recs[i].uid > maxuid)
				maxuid = m->recs[i].uid;
		if (!m->header_ok) {
			/* salvaged records keep their UIDs only if a header vouches
			   for their UID space; without one this is a new space */
			uint32_t old = m->hdr.uidvalidity;
			imapmrk_header_new(&m->hdr, old + 1 > now ? old + 1 : now);
			m->header_ok = true;
		}
		/* what imapmrk_write insists on: a valid header */
		m->hdr.version = IMAPMRK_VERSION;
		if (m->hdr.uidvalidity == 0)
			m->hdr.uidvalidity = now;
		if (m->hdr.uidnext <= maxuid)
			m->hdr.uidnext = maxuid + 1;
	}
	return 1;
}

static const struct imapmrk_record *find(const struct imapmrk *m, const char *file)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcasecmp(m->recs[i].filename, file) == 0)
			return &m->recs[i];
	return NULL;
}

int hw_mrk_add(int dirfd, const char *dirpath, struct hw_mrk_add *v, size_t n,
	       struct hw_error *err)
{
	struct hw_folder_lock lock;
	struct imapmrk m;
	int r;

	r = hw_folder_lock_take(dirfd, dirpath, NULL, HW_MRK_LOCK_TIMEOUT_MS, &lock, err);
	if (r <= 0)
		return r;
	imapmrk_init(&m);
	if (load(dirfd, dirpath, &m, err) < 0) {
		r = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct imapmrk_record *have = find(&m, v[i].file);
		struct imapmrk_record *rec;
		if (have != NULL) {
			v[i].uid_r = have->uid;
			continue;
		}
		if (m.hdr.uidnext == 0 || m.hdr.uidnext > IMAPMRK_UID_MAX) {
			r = hw_error_set(err, ERANGE, "%s/IMAP.MRK: no UIDs left below 2^31 "
					 "(run 'hiwater index --new-uidvalidity')", dirpath);
			goto out;
		}
		rec = imapmrk_append(&m);
		if (!imapmrk_record_set_name(rec, v[i].file)) {
			r = hw_error_set(err, EINVAL, "%s: '%s' is too long for IMAP.MRK",
					 dirpath, v[i].file);
			goto out;
		}
		rec->flags = v[i].flags;
		rec->uid = m.hdr.uidnext++;
		rec->size = v[i].size;
		rec->date = imapmrk_clamp_date(v[i].date);
		v[i].uid_r = rec->uid;
	}
	m.hdr.write_counter++;
	r = imapmrk_write(dirfd, dirpath, &m, err) < 0 ? -1 : 1;
out:
	imapmrk_release(&m);
	hw_folder_lock_release(&lock);
	return r;
}

static int cmp_ci(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

int hw_mrk_remove(int dirfd, const char *dirpath, const char *const *files, size_t n,
		  struct hw_error *err)
{
	struct hw_folder_lock lock;
	struct imapmrk m;
	const char **sorted;
	size_t w = 0;
	int r;

	r = hw_folder_lock_take(dirfd, dirpath, NULL, HW_MRK_LOCK_TIMEOUT_MS, &lock, err);
	if (r <= 0)
		return r;
	imapmrk_init(&m);
	if (load(dirfd, dirpath, &m, err) < 0) {
		r = -1;
		goto out;
	}
	sorted = hw_calloc(n ? n : 1, sizeof(*sorted));
	memcpy(sorted, files, n * sizeof(*sorted));
	hw_sort(sorted, n, sizeof(*sorted), cmp_ci);
	for (size_t i = 0; i < m.n; i++) {
		const char *key = m.recs[i].filename;
		if (n == 0 || bsearch(&key, sorted, n, sizeof(*sorted), cmp_ci) == NULL)
			m.recs[w++] = m.recs[i];
	}
	free(sorted);
	m.n = w;
	m.hdr.write_counter++;
	r = imapmrk_write(dirfd, dirpath, &m, err) < 0 ? -1 : 1;
out:
	imapmrk_release(&m);
	hw_folder_lock_release(&lock);
	return r;
}

void hw_mrk_next_name(const struct hw_dir *d, char *buf, size_t size)
{
	struct hw_msgname mn = { .pd = false, .precedence = 50, .number = 0 };
	uint32_t max = 0;

	for (size_t i = 0; i < d->n; i++) {
		struct hw_msgname x;
		if (hw_msgname_parse(d->v[i].name, &x) && x.number > max)
			max = x.number;
	}
	mn.number = max + 1;
	hw_msgname_format(buf, size, &mn);
}
