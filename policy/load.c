/*
 * load.c - read and validate hiwater.yaml (see policy.h, hiwater.yaml(5)).
 *
 * libyaml composes the document (anchors and aliases resolved); we then walk
 * it by schema, so the walk's depth is bounded by the schema whatever the
 * input. The first problem found stops the load: its message carries the
 * node's position, and says what was expected there.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <yaml.h>

#include "policy.h"
#include "util.h"

#define POLICY_MAX_SIZE (4u << 20)   /* a policy file is small; refuse a huge one */

struct loader {
	const char *name;
	yaml_document_t doc;
	yaml_node_t *key;        /* the key node of the pair being handled */
	struct hw_policy *pol;
	struct hw_error *err;
};

typedef int key_fn(struct loader *L, const char *key, yaml_node_t *val, void *ctx);

static int fail_at(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* returns 0: the "invalid" result of the contract */
static int fail_at(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
{
	char what[HW_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	hw_error_set(L->err, EINVAL, "%s:%zu:%zu: %s", L->name,
		     n != NULL ? n->start_mark.line + 1 : 1,
		     n != NULL ? n->start_mark.column + 1 : 1, what);
	return 0;
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_SCALAR_NODE: return n->data.scalar.length == 0 ? "an empty value" : "a scalar";
	default: return "nothing";
	}
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = scalar(n);
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static bool is_none(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && strcasecmp(scalar(n), "none") == 0;
}

/* a scalar with no NUL inside (libyaml allows "\0" escapes in quoted scalars) */
static int want_scalar(struct loader *L, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail_at(L, n, "expected %s, found %s", what, node_kind(n));
	if (strlen(scalar(n)) != n->data.scalar.length)
		return fail_at(L, n, "expected %s, found a value with a NUL byte", what);
	return 1;
}

static int get_string(struct loader *L, yaml_node_t *n, const char *what, char **r)
{
	if (!want_scalar(L, n, what))
		return 0;
	free(*r);
	*r = hw_strdup(scalar(n));
	return 1;
}

/* paths: absolute, or relative to the policy file's directory */
static int get_path(struct loader *L, yaml_node_t *n, char **r)
{
	const char *s;
	char *dir, *slash;

	if (!want_scalar(L, n, "a directory path"))
		return 0;
	s = scalar(n);
	free(*r);
	if (*s == '/' || strchr(L->name, '/') == NULL) {
		*r = hw_strdup(s);
		return 1;
	}
	dir = hw_strdup(L->name);
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	*r = hw_path_join(dir, s);
	free(dir);
	return 1;
}

static int get_count(struct loader *L, yaml_node_t *n, int64_t max, int64_t *r)
{
	const char *s;
	char *end;
	long long v;

	if (!want_scalar(L, n, "a whole number"))
		return 0;
	s = scalar(n);
	if (!isdigit((unsigned char)*s))
		return fail_at(L, n, "expected a whole number, found '%s'", s);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return fail_at(L, n, "expected a whole number from 0 to %lld, found '%s'",
			       (long long)max, s);
	*r = v;
	return 1;
}

static bool parse_real(const char *s, double lo, double hi, double *r)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= lo && v <= hi))
		return false;
	*r = v;
	return true;
}

static int get_real(struct loader *L, yaml_node_t *n, double lo, double hi, double *r)
{
	if (!want_scalar(L, n, "a number"))
		return 0;
	if (!parse_real(scalar(n), lo, hi, r))
		return fail_at(L, n, "expected a number from %g to %g, found '%s'", lo, hi,
			       scalar(n));
	return 1;
}

static int get_size(struct loader *L, yaml_node_t *n, uint64_t *r)
{
	if (!want_scalar(L, n, "a size such as 1.8GB, 500MB or 100K"))
		return 0;
	if (hw_parse_size(scalar(n), r) != 1)
		return fail_at(L, n, "expected a size such as 1.8GB, 500MB or 100K, found '%s'",
			       scalar(n));
	return 1;
}

/* durations need a unit: a bare "30" could mean seconds or days */
static int get_duration(struct loader *L, yaml_node_t *n, int64_t *r)
{
	const char *s;
	size_t len;

	if (!want_scalar(L, n, "a duration such as 30d, 12h, 90m or 2w"))
		return 0;
	s = scalar(n);
	len = strlen(s);
	if (len < 2 || !isdigit((unsigned char)s[len - 2]) || strchr("smhdwy", s[len - 1]) == NULL ||
	    hw_parse_duration(s, r) != 1)
		return fail_at(L, n, "expected a duration such as 30d, 12h, 90m or 2w "
			       "(s, m, h, d, w, y), found '%s'", s);
	return 1;
}

/* walk a mapping: each key once, a scalar; fn decides what it is */
static int walk_map(struct loader *L, yaml_node_t *map, const char *where, key_fn *fn, void *ctx)
{
	yaml_node_pair_t *p, *q;

	if (map->type != YAML_MAPPING_NODE)
		return fail_at(L, map, "expected a mapping for %s, found %s", where, node_kind(map));
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);

		if (k == NULL || v == NULL)
			return fail_at(L, map, "malformed mapping in %s", where);
		if (k->type != YAML_SCALAR_NODE || strlen(scalar(k)) != k->data.scalar.length)
			return fail_at(L, k, "expected a plain key in %s, found %s", where,
				       node_kind(k));
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yaml_document_get_node(&L->doc, q->key);
			if (k2 != NULL && k2->type == YAML_SCALAR_NODE &&
			    strcmp(scalar(k2), scalar(k)) == 0)
				return fail_at(L, k, "duplicate key '%s' in %s (first at line %zu)",
					       scalar(k), where, k2->start_mark.line + 1);
		}
		L->key = k;
		if (!fn(L, scalar(k), v, ctx)) {
			if (L->err->msg[0] == '\0')
				fail_at(L, k, "invalid key '%s' in %s", scalar(k), where);
			return 0;
		}
	}
	return 1;
}

/* call right after walk_map set L->key, before any nested walk */
static int unknown_key(struct loader *L, const char *key, const char *where, const char *expected)
{
	return fail_at(L, L->key, "unknown key '%s' in %s (expected one of: %s)", key, where,
		       expected);
}

static void origin_set(struct hw_policy_origin *o, const struct hw_policy_level *lv,
		       const yaml_node_t *n)
{
	o->level = lv->level;
	o->line = (int)n->start_mark.line + 1;
	o->column = (int)n->start_mark.column + 1;
}

/* ---- quota ---- */
struct quota_ctx {
	struct hw_policy_level *lv;
};

static int quota_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct hw_policy_level *lv = ((struct quota_ctx *)ctx)->lv;
	struct hw_policy_quota *q = &lv->quota;
	bool warn = strcmp(key, "warn") == 0;
	uint64_t *val;

	if (!warn && strcmp(key, "limit") != 0)
		return unknown_key(L, key, "quota", "warn, limit");
	val = warn ? &q->warn : &q->limit;
	if (is_none(v))
		*val = 0;
	else if (!get_size(L, v, val))
		return 0;
	else if (*val == 0)
		return fail_at(L, v, "expected a size above 0 (or 'none' for no %s)", key);
	if (warn) {
		q->has_warn = true;
		origin_set(&q->warn_origin, lv, v);
	} else {
		q->has_limit = true;
		origin_set(&q->limit_origin, lv, v);
	}
	return 1;
}

static int load_quota(struct loader *L, struct hw_policy_level *lv, yaml_node_t *v)
{
	struct quota_ctx c = { lv };

	lv->has_quota = true;
	if (is_none(v)) {
		lv->quota.none = true;
		origin_set(&lv->quota.none_origin, lv, v);
		return 1;
	}
	if (v->type != YAML_MAPPING_NODE)
		return fail_at(L, v, "expected 'none' or a mapping with warn and limit for quota, "
			       "found %s", node_kind(v));
	if (!walk_map(L, v, "quota", quota_key, &c))
		return 0;
	if (lv->quota.has_warn && lv->quota.has_limit && lv->quota.warn > 0 &&
	    lv->quota.limit > 0 && lv->quota.warn > lv->quota.limit)
		return fail_at(L, v, "quota warn is above limit: expected warn <= limit");
	return 1;
}

/* ---- purge rules ---- */
struct rule_ctx {
	struct hw_purge_rule *r;
	bool has_older, has_max;
};

static int rule_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct rule_ctx *c = ctx;

	if (strcmp(key, "folder") == 0) {
		if (!get_string(L, v, "a folder name or glob", &c->r->folder))
			return 0;
		if (c->r->folder[0] == '\0')
			return fail_at(L, v, "expected a folder name or glob, found an empty string");
		return 1;
	}
	if (strcmp(key, "older_than") == 0) {
		c->has_older = true;
		if (is_none(v)) {
			c->r->older_than = 0;
			return 1;
		}
		if (!get_duration(L, v, &c->r->older_than))
			return 0;
		if (c->r->older_than == 0)
			return fail_at(L, v, "expected a duration above 0 (or 'none')");
		return 1;
	}
	if (strcmp(key, "max_messages") == 0) {
		int64_t n;
		c->has_max = true;
		if (is_none(v)) {
			c->r->max_messages = 0;
			return 1;
		}
		if (!get_count(L, v, INT64_MAX, &n))
			return 0;
		if (n == 0)
			return fail_at(L, v, "expected a number of messages above 0 (or 'none')");
		c->r->max_messages = (uint64_t)n;
		return 1;
	}
	return unknown_key(L, key, "a purge rule", "folder, older_than, max_messages");
}

static int load_purge(struct loader *L, struct hw_policy_level *lv, yaml_node_t *v)
{
	lv->has_purge = true;
	if (is_none(v)) {
		lv->purge_none = true;
		return 1;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(L, v, "expected 'none' or a list of rules (- folder: NAME, "
			       "older_than: 30d) for purge, found %s", node_kind(v));
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *rn = yaml_document_get_node(&L->doc, *it);
		struct hw_purge_rule *r;
		struct rule_ctx c;

		if (rn == NULL)
			return fail_at(L, v, "malformed list in purge");
		lv->rules = hw_realloc(lv->rules, (lv->nrules + 1) * sizeof(*lv->rules));
		r = &lv->rules[lv->nrules++];
		memset(r, 0, sizeof(*r));
		origin_set(&r->origin, lv, rn);
		c = (struct rule_ctx){ r, false, false };
		if (!walk_map(L, rn, "a purge rule", rule_key, &c))
			return 0;
		if (r->folder == NULL)
			return fail_at(L, rn, "purge rule without 'folder': expected folder: NAME "
				       "(an IMAP folder name or glob)");
		if (!c.has_older && !c.has_max)
			return fail_at(L, rn, "purge rule for '%s' says neither older_than nor "
				       "max_messages: expected at least one", r->folder);
		for (size_t i = 0; i + 1 < lv->nrules; i++)
			if (strcasecmp(lv->rules[i].folder, r->folder) == 0)
				return fail_at(L, rn, "a second purge rule for folder '%s' at this "
					       "level (first at line %d)", r->folder,
					       lv->rules[i].origin.line);
	}
	return 1;
}

static int level_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct hw_policy_level *lv = ctx;

	if (strcmp(key, "quota") == 0)
		return load_quota(L, lv, v);
	if (strcmp(key, "purge") == 0)
		return load_purge(L, lv, v);
	return unknown_key(L, key, lv->level, "quota, purge");
}

static int load_level(struct loader *L, struct hw_policy_level *lv, const char *kind,
		      const char *name, yaml_node_t *v)
{
	lv->name = name != NULL ? hw_strdup(name) : NULL;
	free(lv->level);   /* defaults carries its name from the start */
	lv->level = name != NULL ? hw_asprintf("%s %s", kind, name) : hw_strdup(kind);
	lv->line = (int)v->start_mark.line + 1;
	lv->column = (int)v->start_mark.column + 1;
	if (is_null(v))   /* "example.com:" with nothing below: an empty override */
		return 1;
	return walk_map(L, v, lv->level, level_key, lv);
}

static bool domain_name_ok(const char *s)
{
	if (*s == '\0' || *s == '.' || strchr(s, '/') != NULL || strchr(s, '@') != NULL ||
	    strcmp(s, "..") == 0)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || isspace((unsigned char)*s))
			return false;
	return true;
}

struct levels_ctx {
	struct hw_policy_level **v;
	size_t *n;
	bool mailboxes;
};

static int levels_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct levels_ctx *c = ctx;
	struct hw_policy_level *lv;
	const char *at = strchr(key, '@');

	if (c->mailboxes ? (at == NULL || at == key || !domain_name_ok(at + 1) ||
			    strchr(key, '/') != NULL)
			 : !domain_name_ok(key)) {
		return fail_at(L, L->key, c->mailboxes
			       ? "'%s' is not a mailbox: expected MAILBOX@DOMAIN, e.g. bob@example.com"
			       : "'%s' is not a domain name: expected e.g. example.com", key);
	}
	for (size_t i = 0; i < *c->n; i++)
		if (strcasecmp((*c->v)[i].name, key) == 0)
			return fail_at(L, L->key, "'%s' is given twice (names compare without case)",
				       key);
	*c->v = hw_realloc(*c->v, (*c->n + 1) * sizeof(**c->v));
	lv = &(*c->v)[(*c->n)++];
	memset(lv, 0, sizeof(*lv));
	return load_level(L, lv, c->mailboxes ? "mailbox" : "domain", key, v);
}

/* ---- window ---- */
static int parse_hhmm(const char *s, bool end, int *min_r)
{
	int h, m;

	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]) || s[5] != '\0')
		return 0;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end)))
		return 0;
	*min_r = h * 60 + m;
	return 1;
}

struct window_ctx {
	struct hw_policy_window *w;
	bool has_start, has_end;
	yaml_node_t *end_node;
};

static int window_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct window_ctx *c = ctx;
	bool start = strcmp(key, "start") == 0;

	if (!start && strcmp(key, "end") != 0)
		return unknown_key(L, key, "window", "start, end");
	/* YAML 1.1 reads an unquoted 01:30 as a sexagesimal number; libyaml
	   keeps it as the text "01:30", which is what we want */
	if (!want_scalar(L, v, "a time of day HH:MM"))
		return 0;
	if (!parse_hhmm(scalar(v), !start, start ? &c->w->start : &c->w->end))
		return fail_at(L, v, "expected a time of day HH:MM (00:00 to %s), found '%s'",
			       start ? "23:59" : "24:00", scalar(v));
	if (start) {
		c->has_start = true;
	} else {
		c->has_end = true;
		c->end_node = v;
	}
	return 1;
}

/* minutes of the day covered by w, as [a, b) pieces in 0..1440 */
static int window_pieces(const struct hw_policy_window *w, int piece[2][2])
{
	int end = w->end % 1440;

	if (w->start < end || w->end == 1440) {
		piece[0][0] = w->start;
		piece[0][1] = w->end;
		return 1;
	}
	piece[0][0] = w->start;
	piece[0][1] = 1440;
	piece[1][0] = 0;
	piece[1][1] = end;
	return end > 0 ? 2 : 1;
}

static bool windows_overlap(const struct hw_policy_window *a, const struct hw_policy_window *b)
{
	int pa[2][2], pb[2][2];
	int na = window_pieces(a, pa), nb = window_pieces(b, pb);

	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			if (pa[i][0] < pb[j][1] && pb[j][0] < pa[i][1])
				return true;
	return false;
}

static int load_one_window(struct loader *L, yaml_node_t *v)
{
	struct hw_policy *pol = L->pol;
	struct window_ctx c = { 0 };
	struct hw_policy_window *w;

	pol->windows = hw_realloc(pol->windows, (pol->nwindows + 1) * sizeof(*pol->windows));
	w = &pol->windows[pol->nwindows++];
	memset(w, 0, sizeof(*w));
	w->line = (int)v->start_mark.line + 1;
	w->column = (int)v->start_mark.column + 1;
	c.w = w;
	if (!walk_map(L, v, "window", window_key, &c))
		return 0;
	if (!c.has_start || !c.has_end)
		return fail_at(L, v, "window without '%s': expected start: HH:MM and end: HH:MM",
			       c.has_start ? "end" : "start");
	if (w->start == w->end)
		return fail_at(L, c.end_node, "empty window: end equals start; expected an end "
			       "after the start (an end before the start runs over midnight)");
	for (size_t i = 0; i + 1 < pol->nwindows; i++)
		if (windows_overlap(&pol->windows[i], w))
			return fail_at(L, v, "window overlaps the window at line %d: expected "
				       "windows that do not overlap", pol->windows[i].line);
	return 1;
}

static int load_window(struct loader *L, yaml_node_t *v)
{
	if (v->type == YAML_MAPPING_NODE)
		return load_one_window(L, v);
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_at(L, v, "expected a window (start: HH:MM, end: HH:MM) or a list of "
			       "them, found %s", node_kind(v));
	if (v->data.sequence.items.start == v->data.sequence.items.top)
		return fail_at(L, v, "empty list of windows: expected at least one "
			       "start: HH:MM, end: HH:MM (or no 'window' key at all)");
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *wn = yaml_document_get_node(&L->doc, *it);
		if (wn == NULL)
			return fail_at(L, v, "malformed list in window");
		if (wn->type != YAML_MAPPING_NODE)
			return fail_at(L, wn, "expected a window (start: HH:MM, end: HH:MM), found %s",
				       node_kind(wn));
		if (!load_one_window(L, wn))
			return 0;
	}
	return 1;
}

/* ---- defrag, logs, snapshots ---- */
static int defrag_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct hw_policy *pol = L->pol;

	(void)ctx;
	if (strcmp(key, "max_fragments") == 0)
		return pol->defrag.has_max_fragments = true,
		       get_real(L, v, 1, 1e9, &pol->defrag.max_fragments);
	if (strcmp(key, "min_layout_score") == 0)
		return pol->defrag.has_min_layout_score = true,
		       get_real(L, v, 0, 1, &pol->defrag.min_layout_score);
	if (strcmp(key, "max_rate") == 0) {
		pol->defrag.has_max_rate = true;
		if (is_none(v)) {
			pol->defrag.max_rate = 0;
			return 1;
		}
		if (!want_scalar(L, v, "a rate such as 50MB/s"))
			return 0;
		{
			char *s = hw_strdup(scalar(v));
			size_t n = strlen(s);
			int ok;
			if (n > 2 && strcmp(s + n - 2, "/s") == 0)
				s[n - 2] = '\0';
			ok = hw_parse_size(s, &pol->defrag.max_rate) == 1 &&
			     pol->defrag.max_rate > 0;
			free(s);
			if (!ok)
				return fail_at(L, v, "expected a rate such as 50MB/s (or 'none'), "
					       "found '%s'", scalar(v));
		}
		return 1;
	}
	if (strcmp(key, "budget") == 0) {
		pol->defrag.has_budget = true;
		if (is_none(v)) {
			pol->defrag.budget = 0;
			return 1;
		}
		return get_duration(L, v, &pol->defrag.budget);
	}
	return unknown_key(L, key, "defrag", "max_fragments, min_layout_score, max_rate, budget");
}

static int logs_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct hw_policy *pol = L->pol;

	(void)ctx;
	if (strcmp(key, "dir") == 0)
		return pol->logs.has_dir = true, get_path(L, v, &pol->logs.dir);
	if (strcmp(key, "compress") == 0) {
		if (!want_scalar(L, v, "zstd, gzip or none"))
			return 0;
		if (strcmp(scalar(v), "zstd") != 0 && strcmp(scalar(v), "gzip") != 0 &&
		    strcmp(scalar(v), "none") != 0)
			return fail_at(L, v, "expected zstd, gzip or none, found '%s'", scalar(v));
		return get_string(L, v, "zstd, gzip or none", &pol->logs.compress);
	}
	if (strcmp(key, "keep_days") == 0)
		return pol->logs.has_keep_days = true,
		       get_count(L, v, 100000, &pol->logs.keep_days);
	if (strcmp(key, "max_age") == 0)
		return pol->logs.has_max_age = true, get_duration(L, v, &pol->logs.max_age);
	if (strcmp(key, "max_total") == 0)
		return pol->logs.has_max_total = true, get_size(L, v, &pol->logs.max_total);
	return unknown_key(L, key, "logs", "dir, compress, keep_days, max_age, max_total");
}

static int snapshots_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct hw_policy_snapshots *sn = &L->pol->snapshots;
	char *pct;
	size_t n;
	bool ok;

	(void)ctx;
	if (strcmp(key, "last") == 0)
		return sn->has_last = true, get_count(L, v, 1000000, &sn->last);
	if (strcmp(key, "hourly") == 0)
		return sn->has_hourly = true, get_count(L, v, 1000000, &sn->hourly);
	if (strcmp(key, "daily") == 0)
		return sn->has_daily = true, get_count(L, v, 1000000, &sn->daily);
	if (strcmp(key, "weekly") == 0)
		return sn->has_weekly = true, get_count(L, v, 1000000, &sn->weekly);
	if (strcmp(key, "monthly") == 0)
		return sn->has_monthly = true, get_count(L, v, 1000000, &sn->monthly);
	if (strcmp(key, "within") == 0)
		return sn->has_within = true, get_duration(L, v, &sn->within);
	if (strcmp(key, "reorder_window") == 0) {
		if (!get_size(L, v, &sn->reorder_window))
			return 0;
		if (sn->reorder_window > ((uint64_t)1 << 40))
			return fail_at(L, v, "reorder window too large: expected at most 1TB "
				       "(and at most what memory allows twice), found '%s'", scalar(v));
		return sn->has_reorder_window = true, 1;
	}
	if (strcmp(key, "verify_sample") != 0)
		return unknown_key(L, key, "snapshots",
				   "last, hourly, daily, weekly, monthly, within, verify_sample, "
				   "reorder_window");
	if (!want_scalar(L, v, "a percentage such as 5%"))
		return 0;
	pct = hw_strdup(scalar(v));
	n = strlen(pct);
	if (n > 0 && pct[n - 1] == '%')
		pct[n - 1] = '\0';
	ok = parse_real(pct, 0, 100, &sn->verify_sample);
	free(pct);
	if (!ok)
		return fail_at(L, v, "expected a percentage from 0%% to 100%% such as 5%%, found '%s'",
			       scalar(v));
	sn->has_verify_sample = true;
	return 1;
}

static int top_key(struct loader *L, const char *key, yaml_node_t *v, void *ctx)
{
	struct hw_policy *pol = L->pol;

	(void)ctx;
	if (strcmp(key, "store") == 0)
		return get_path(L, v, &pol->store);
	if (strcmp(key, "state_dir") == 0)
		return get_path(L, v, &pol->state_dir);
	if (strcmp(key, "snapshot_dir") == 0)
		return get_path(L, v, &pol->snapshot_dir);
	if (strcmp(key, "window") == 0)
		return load_window(L, v);
	if (strcmp(key, "defaults") == 0)
		return load_level(L, &pol->defaults, "defaults", NULL, v);
	if (strcmp(key, "domains") == 0) {
		struct levels_ctx c = { &pol->domains, &pol->ndomains, false };
		return walk_map(L, v, "domains", levels_key, &c);
	}
	if (strcmp(key, "mailboxes") == 0) {
		struct levels_ctx c = { &pol->mailboxes, &pol->nmailboxes, true };
		return walk_map(L, v, "mailboxes", levels_key, &c);
	}
	if (strcmp(key, "defrag") == 0)
		return walk_map(L, v, "defrag", defrag_key, NULL);
	if (strcmp(key, "logs") == 0)
		return walk_map(L, v, "logs", logs_key, NULL);
	if (strcmp(key, "snapshots") == 0)
		return walk_map(L, v, "snapshots", snapshots_key, NULL);
	return unknown_key(L, key, "the policy",
			   "store, state_dir, snapshot_dir, window, defaults, domains, mailboxes, "
			   "defrag, logs, snapshots");
}

static int level_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct hw_policy_level *)a)->name,
			  ((const struct hw_policy_level *)b)->name);
}

int hw_policy_load_buffer(const char *name, const void *buf, size_t len,
			  struct hw_policy **pol_r, struct hw_error *err)
{
	struct loader L = { .name = name, .err = err };
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *root;
	bool have_doc = false;
	int ret = 0;

	hw_error_clear(err);
	*pol_r = NULL;
	L.pol = hw_calloc(1, sizeof(*L.pol));
	L.pol->path = hw_strdup(name);
	L.pol->defaults.level = hw_strdup("defaults");
	if (!yaml_parser_initialize(&parser)) {
		hw_error_set(err, ENOMEM, "%s: cannot initialise the YAML parser", name);
		ret = -1;
		goto out_nofree_parser;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &L.doc)) {
		hw_error_set(err, EINVAL, "%s:%zu:%zu: %s%s%s", name,
			     parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			     parser.problem != NULL ? parser.problem : "invalid YAML",
			     parser.context != NULL ? " " : "",
			     parser.context != NULL ? parser.context : "");
		goto out;
	}
	have_doc = true;
	root = yaml_document_get_root_node(&L.doc);
	if (root == NULL) {
		hw_error_set(err, EINVAL, "%s:1:1: empty policy: expected a mapping of settings "
			     "(store, window, defaults, ...)", name);
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		hw_error_set(err, EINVAL, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
			     parser.problem_mark.column + 1,
			     parser.problem != NULL ? parser.problem : "invalid YAML");
		goto out;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		hw_error_set(err, EINVAL, "%s:%zu:%zu: a second YAML document: expected one "
			     "document", name, extra.start_mark.line + 1,
			     extra.start_mark.column + 1);
		yaml_document_delete(&extra);
		goto out;
	}
	yaml_document_delete(&extra);
	if (!walk_map(&L, root, "the policy", top_key, NULL))
		goto out;
	if (L.pol->ndomains > 1)
		hw_sort(L.pol->domains, L.pol->ndomains, sizeof(*L.pol->domains), level_cmp);
	if (L.pol->nmailboxes > 1)
		hw_sort(L.pol->mailboxes, L.pol->nmailboxes, sizeof(*L.pol->mailboxes), level_cmp);
	ret = 1;
out:
	if (have_doc)
		yaml_document_delete(&L.doc);
	yaml_parser_delete(&parser);
out_nofree_parser:
	if (ret == 1)
		*pol_r = L.pol;
	else
		hw_policy_free(&L.pol);
	return ret;
}

/* The policy is the administrator's file: unlike store files it may be a
   symlink (configuration management likes them), so no O_NOFOLLOW here. */
static int read_policy_file(const char *path, char **data_r, size_t *len_r, struct hw_error *err)
{
	struct hw_buf b;
	struct stat st;
	char tmp[65536];
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return hw_error_sys(err, "open", path);
	hw_buf_init(&b);
	if (fstat(fd, &st) < 0) {
		hw_error_sys(err, "fstat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		hw_error_set(err, EINVAL, "%s: not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hw_error_sys(err, "read", path);
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > POLICY_MAX_SIZE) {
			hw_error_set(err, EFBIG, "%s: larger than %u bytes: not a policy file", path,
				     POLICY_MAX_SIZE);
			goto out;
		}
		hw_buf_add(&b, tmp, (size_t)n);
	}
	ret = 1;
out:
	close(fd);
	if (ret == 1)
		*data_r = hw_buf_detach(&b, len_r);
	hw_buf_release(&b);
	return ret;
}

int hw_policy_load(const char *path, struct hw_policy **pol_r, struct hw_error *err)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	*pol_r = NULL;
	hw_error_clear(err);
	if (read_policy_file(path, &data, &len, err) < 0)
		return -1;
	r = hw_policy_load_buffer(path, data != NULL ? data : "", len, pol_r, err);
	free(data);
	return r;
}

static void level_release(struct hw_policy_level *lv)
{
	for (size_t i = 0; i < lv->nrules; i++)
		free(lv->rules[i].folder);
	free(lv->rules);
	free(lv->name);
	free(lv->level);
}

void hw_policy_free(struct hw_policy **pp)
{
	struct hw_policy *pol = *pp;

	if (pol == NULL)
		return;
	free(pol->path);
	free(pol->store);
	free(pol->state_dir);
	free(pol->snapshot_dir);
	free(pol->windows);
	level_release(&pol->defaults);
	for (size_t i = 0; i < pol->ndomains; i++)
		level_release(&pol->domains[i]);
	free(pol->domains);
	for (size_t i = 0; i < pol->nmailboxes; i++)
		level_release(&pol->mailboxes[i]);
	free(pol->mailboxes);
	free(pol->logs.dir);
	free(pol->logs.compress);
	free(pol);
	*pp = NULL;
}
