/*
 * resolve.c - inheritance (defaults -> domain -> mailbox), rule matching and
 * the maintenance window (see policy.h).
 */
#include <fnmatch.h>
#include <strings.h>
#include <time.h>

#include "policy.h"
#include "util.h"

static const struct hw_policy_level *level_find(const struct hw_policy_level *v, size_t n,
						const char *name)
{
	size_t lo = 0, hi = n;

	/* sorted with strcasecmp by the loader */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(v[mid].name, name);
		if (c == 0)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void quota_apply(struct hw_policy_mailbox *r, const struct hw_policy_level *lv)
{
	const struct hw_policy_quota *q = &lv->quota;

	if (!lv->has_quota)
		return;
	if (q->none) {
		r->quota_warn = r->quota_limit = 0;
		r->warn_origin = r->limit_origin = q->none_origin;
		return;
	}
	if (q->has_warn) {
		r->quota_warn = q->warn;
		r->warn_origin = q->warn_origin;
	}
	if (q->has_limit) {
		r->quota_limit = q->limit;
		r->limit_origin = q->limit_origin;
	}
}

static void rules_clear(struct hw_policy_mailbox *r)
{
	for (size_t i = 0; i < r->nrules; i++)
		free(r->rules[i].folder);
	r->nrules = 0;
}

/* rules of a more specific level go first, so that a mailbox's
   "Deleted Items" rule wins over a default "*" rule */
static void rules_apply(struct hw_policy_mailbox *r, const struct hw_policy_level *lv)
{
	struct hw_purge_rule *old;
	size_t nold;

	if (!lv->has_purge)
		return;
	if (lv->purge_none) {
		rules_clear(r);
		return;
	}
	old = r->rules;
	nold = r->nrules;
	r->rules = hw_calloc(nold + lv->nrules + 1, sizeof(*r->rules));
	r->nrules = 0;
	for (size_t i = 0; i < lv->nrules; i++) {
		struct hw_purge_rule *d = &r->rules[r->nrules++];
		*d = lv->rules[i];
		d->folder = hw_strdup(lv->rules[i].folder);
	}
	for (size_t i = 0; i < nold; i++) {
		bool replaced = false;
		for (size_t j = 0; j < lv->nrules; j++)
			if (strcasecmp(old[i].folder, lv->rules[j].folder) == 0)
				replaced = true;
		if (replaced)
			free(old[i].folder);
		else
			r->rules[r->nrules++] = old[i];
	}
	free(old);
}

void hw_policy_resolve(const struct hw_policy *pol, const char *domain, const char *mailbox,
		       struct hw_policy_mailbox *r)
{
	const struct hw_policy_level *lv[3];
	char *addr = hw_asprintf("%s@%s", mailbox, domain);
	size_t n = 0, keep = 0;

	memset(r, 0, sizeof(*r));
	r->domain = hw_strdup(domain);
	r->mailbox = hw_strdup(mailbox);
	r->warn_origin.level = r->limit_origin.level = "";
	lv[0] = &pol->defaults;
	lv[1] = level_find(pol->domains, pol->ndomains, domain);
	lv[2] = level_find(pol->mailboxes, pol->nmailboxes, addr);
	free(addr);
	for (n = 0; n < 3; n++) {
		if (lv[n] == NULL)
			continue;
		quota_apply(r, lv[n]);
		rules_apply(r, lv[n]);
	}
	/* a rule with neither an age nor a cap only switched an inherited one off */
	for (size_t i = 0; i < r->nrules; i++) {
		if (r->rules[i].older_than == 0 && r->rules[i].max_messages == 0)
			free(r->rules[i].folder);
		else
			r->rules[keep++] = r->rules[i];
	}
	r->nrules = keep;
}

void hw_policy_mailbox_release(struct hw_policy_mailbox *r)
{
	rules_clear(r);
	free(r->rules);
	free(r->domain);
	free(r->mailbox);
	memset(r, 0, sizeof(*r));
}

const struct hw_purge_rule *hw_policy_rule_match(const struct hw_policy_mailbox *m,
						 const char *imapname)
{
	/* no FNM_PATHNAME: "Deleted Items*" also covers its subfolders; MDaemon
	   runs on Windows, so folder names compare without case */
	for (size_t i = 0; i < m->nrules; i++)
		if (fnmatch(m->rules[i].folder, imapname, FNM_CASEFOLD) == 0)
			return &m->rules[i];
	return NULL;
}

/* local time of day 'minutes' on the day of t, shifted by 'days' */
static time_t at_minute(time_t t, int days, int minutes)
{
	struct tm tm;

	localtime_r(&t, &tm);
	tm.tm_mday += days;
	tm.tm_hour = minutes / 60;
	tm.tm_min = minutes % 60;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

int hw_policy_window_at(const struct hw_policy *pol, time_t t, time_t *end_r)
{
	time_t last_end = 0;

	*end_r = 0;
	if (pol == NULL || pol->nwindows == 0)
		return 1;
	for (size_t i = 0; i < pol->nwindows; i++) {
		const struct hw_policy_window *w = &pol->windows[i];
		/* the occurrences that can contain t or have just ended: the one
		   starting yesterday and the one starting today */
		for (int day = -1; day <= 0; day++) {
			time_t s = at_minute(t, day, w->start);
			time_t e = w->end > w->start ? at_minute(t, day, w->end)
						     : at_minute(t, day + 1, w->end);
			if (s <= t && t < e) {
				*end_r = e;
				return 1;
			}
			if (e <= t && e > last_end)
				last_end = e;
		}
	}
	*end_r = last_end;
	return 0;
}

void hw_policy_window_format(const struct hw_policy *pol, char *buf, size_t size)
{
	struct hw_buf b;

	hw_buf_init(&b);
	for (size_t i = 0; pol != NULL && i < pol->nwindows; i++)
		hw_buf_addf(&b, "%s%02d:%02d-%02d:%02d", i > 0 ? ", " : "",
			    pol->windows[i].start / 60, pol->windows[i].start % 60,
			    pol->windows[i].end / 60, pol->windows[i].end % 60);
	hw_strlcpy(buf, b.len > 0 ? b.data : "none", size);
	hw_buf_release(&b);
}

void hw_policy_duration_format(int64_t secs, char *buf, size_t size)
{
	static const struct { int64_t n; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (secs > 0 && secs % units[i].n == 0) {
			snprintf(buf, size, "%lld%c", (long long)(secs / units[i].n), units[i].unit);
			return;
		}
	snprintf(buf, size, "%llds", (long long)secs);
}
