/*
 * cmd_policy.c - hiwater policy check | show [MAILBOX]
 *
 * check: load and validate the policy (-c FILE or /etc/hiwater.yaml); exit 0
 * when valid, 78 with FILE:LINE:COLUMN when not.
 * show: the effective policy after inheritance, for one mailbox
 * (bob@example.com or example.com/bob) or for a mailbox without overrides.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "../policy/policy.h"

static const char usage[] =
	"usage: hiwater policy check [-c FILE]\n"
	"       hiwater policy show [--json] [-c FILE] [MAILBOX]\n"
	"\n"
	"check  validate the policy file; errors say FILE:LINE:COLUMN and what was\n"
	"       expected (exit 78)\n"
	"show   print the effective policy after inheritance (defaults, then the\n"
	"       domain, then the mailbox); MAILBOX is bob@example.com or\n"
	"       example.com/bob; without it, what a mailbox with no overrides gets\n"
	"\n"
	"The policy is -c FILE, or /etc/hiwater.yaml when present; see hiwater.yaml(5).\n";

static void size_str(uint64_t v, char *buf, size_t size)
{
	if (v == 0)
		hw_strlcpy(buf, "none", size);
	else
		hw_format_size(v, buf, size);
}

static void origin_str(const struct hw_policy_origin *o, char *buf, size_t size)
{
	if (o->level == NULL || *o->level == '\0')
		hw_strlcpy(buf, "not set", size);
	else
		snprintf(buf, size, "%s, line %d", o->level, o->line);
}

static void print_quota(struct hw_printer *p, const char *key, uint64_t v,
			const struct hw_policy_origin *o)
{
	char s[64], from[256], full[400];

	if (hw_printer_mode(p) == HW_OUT_JSON) {
		if (v == 0)
			hw_printer_null(p, key);
		else
			hw_printer_uint(p, key, v);
		return;
	}
	size_str(v, s, sizeof(s));
	origin_str(o, from, sizeof(from));
	snprintf(full, sizeof(full), "%s (%s)", s, from);
	hw_printer_str(p, key, full);
}

static void print_rules(struct hw_printer *p, const struct hw_policy_mailbox *m)
{
	struct hw_buf b;
	char dur[32];

	hw_buf_init(&b);
	if (hw_printer_mode(p) == HW_OUT_JSON) {
		hw_buf_addc(&b, '[');
		for (size_t i = 0; i < m->nrules; i++) {
			const struct hw_purge_rule *r = &m->rules[i];
			hw_buf_adds(&b, i > 0 ? ",{\"folder\":" : "{\"folder\":");
			hw_json_escape(&b, r->folder);
			if (r->older_than > 0) {
				hw_policy_duration_format(r->older_than, dur, sizeof(dur));
				hw_buf_addf(&b, ",\"older_than\":\"%s\",\"older_than_seconds\":%" PRId64,
					    dur, r->older_than);
			} else {
				hw_buf_adds(&b, ",\"older_than\":null,\"older_than_seconds\":null");
			}
			if (r->max_messages > 0)
				hw_buf_addf(&b, ",\"max_messages\":%" PRIu64, r->max_messages);
			else
				hw_buf_adds(&b, ",\"max_messages\":null");
			hw_buf_adds(&b, ",\"from\":");
			hw_json_escape(&b, r->origin.level);
			hw_buf_addf(&b, ",\"line\":%d}", r->origin.line);
		}
		hw_buf_addc(&b, ']');
		hw_printer_json(p, "purge", b.data);
		hw_buf_release(&b);
		return;
	}
	if (m->nrules == 0)
		hw_printer_str(p, "purge", "none");
	for (size_t i = 0; i < m->nrules; i++) {
		const struct hw_purge_rule *r = &m->rules[i];
		hw_buf_reset(&b);
		hw_buf_addf(&b, "'%s'", r->folder);
		if (r->older_than > 0) {
			hw_policy_duration_format(r->older_than, dur, sizeof(dur));
			hw_buf_addf(&b, " older than %s", dur);
		}
		if (r->max_messages > 0)
			hw_buf_addf(&b, "%s beyond the newest %" PRIu64, r->older_than > 0 ? " or" : "",
				    r->max_messages);
		hw_buf_addf(&b, " (%s, line %d)", r->origin.level, r->origin.line);
		hw_printer_str(p, "purge", b.data);
	}
	hw_buf_release(&b);
}

static void print_opt_str(struct hw_printer *p, const char *key, const char *v)
{
	if (v == NULL && hw_printer_mode(p) == HW_OUT_JSON)
		hw_printer_null(p, key);
	else
		hw_printer_str(p, key, v != NULL ? v : "not set");
}

static void print_opt_dur(struct hw_printer *p, const char *key, bool has, int64_t v)
{
	char dur[32];

	if (!has) {
		print_opt_str(p, key, NULL);
		return;
	}
	if (hw_printer_mode(p) == HW_OUT_JSON) {
		hw_printer_int(p, key, v);
		return;
	}
	if (v == 0)
		hw_strlcpy(dur, "none", sizeof(dur));
	else
		hw_policy_duration_format(v, dur, sizeof(dur));
	hw_printer_str(p, key, dur);
}

static void print_opt_size(struct hw_printer *p, const char *key, bool has, uint64_t v)
{
	char s[64];

	if (!has) {
		print_opt_str(p, key, NULL);
		return;
	}
	if (hw_printer_mode(p) == HW_OUT_JSON) {
		hw_printer_uint(p, key, v);
		return;
	}
	size_str(v, s, sizeof(s));
	hw_printer_str(p, key, s);
}

static void print_opt_int(struct hw_printer *p, const char *key, bool has, int64_t v)
{
	if (!has)
		print_opt_str(p, key, NULL);
	else
		hw_printer_int(p, key, v);
}

static void print_opt_real(struct hw_printer *p, const char *key, bool has, double v)
{
	if (!has)
		print_opt_str(p, key, NULL);
	else
		hw_printer_real(p, key, v, 2);
}

static void print_names(struct hw_printer *p, const char *key, const struct hw_policy_level *v,
			size_t n)
{
	struct hw_buf b;

	hw_buf_init(&b);
	if (hw_printer_mode(p) == HW_OUT_JSON) {
		hw_buf_addc(&b, '[');
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				hw_buf_addc(&b, ',');
			hw_json_escape(&b, v[i].name);
		}
		hw_buf_addc(&b, ']');
		hw_printer_json(p, key, b.data);
	} else {
		for (size_t i = 0; i < n; i++)
			hw_buf_addf(&b, "%s%s", i > 0 ? ", " : "", v[i].name);
		hw_printer_str(p, key, n > 0 ? b.data : "none");
	}
	hw_buf_release(&b);
}

/* "bob@example.com" or "example.com/bob" -> domain, mailbox */
static int parse_mailbox(const char *arg, char **domain_r, char **mailbox_r)
{
	const char *at = strchr(arg, '@'), *slash = strchr(arg, '/');

	if (at != NULL && slash == NULL && at != arg && at[1] != '\0' && strchr(at + 1, '@') == NULL) {
		*mailbox_r = hw_strndup(arg, (size_t)(at - arg));
		*domain_r = hw_strdup(at + 1);
		return 1;
	}
	if (at == NULL && slash != NULL && slash != arg && slash[1] != '\0' &&
	    strchr(slash + 1, '/') == NULL) {
		*domain_r = hw_strndup(arg, (size_t)(slash - arg));
		*mailbox_r = hw_strdup(slash + 1);
		return 1;
	}
	return 0;
}

static int policy_show(const struct hw_policy *pol, const char *arg)
{
	struct hw_policy_mailbox m;
	struct hw_printer *p;
	char *domain = NULL, *mailbox = NULL, win[256];

	if (arg != NULL && !parse_mailbox(arg, &domain, &mailbox))
		return cli_usage_error("'%s' is not a mailbox: expected bob@example.com or "
				       "example.com/bob", arg);
	/* a mailbox with no overrides: names no level can carry */
	hw_policy_resolve(pol, domain != NULL ? domain : "", mailbox != NULL ? mailbox : "", &m);
	p = cli_printer();
	hw_printer_summary_begin(p, "policy");
	hw_printer_str(p, "policy", pol->path);
	print_opt_str(p, "store", pol->store);
	print_opt_str(p, "state_dir", pol->state_dir);
	print_opt_str(p, "snapshot_dir", pol->snapshot_dir);
	hw_policy_window_format(pol, win, sizeof(win));
	hw_printer_str(p, "window", win);
	if (arg != NULL) {
		char *addr = hw_asprintf("%s@%s", mailbox, domain);
		hw_printer_str(p, "mailbox", addr);
		free(addr);
	} else {
		print_opt_str(p, "mailbox", hw_printer_mode(p) == HW_OUT_JSON ? NULL
					    : "(any mailbox without overrides)");
	}
	print_quota(p, "quota.warn", m.quota_warn, &m.warn_origin);
	print_quota(p, "quota.limit", m.quota_limit, &m.limit_origin);
	print_rules(p, &m);
	print_names(p, "domains", pol->domains, pol->ndomains);
	print_names(p, "mailboxes", pol->mailboxes, pol->nmailboxes);
	print_opt_real(p, "defrag.max_fragments", pol->defrag.has_max_fragments,
		       pol->defrag.max_fragments);
	print_opt_real(p, "defrag.min_layout_score", pol->defrag.has_min_layout_score,
		       pol->defrag.min_layout_score);
	print_opt_size(p, "defrag.max_rate", pol->defrag.has_max_rate, pol->defrag.max_rate);
	print_opt_dur(p, "defrag.budget", pol->defrag.has_budget, pol->defrag.budget);
	print_opt_str(p, "logs.dir", pol->logs.dir);
	print_opt_str(p, "logs.compress", pol->logs.compress);
	print_opt_int(p, "logs.keep_days", pol->logs.has_keep_days, pol->logs.keep_days);
	print_opt_dur(p, "logs.max_age", pol->logs.has_max_age, pol->logs.max_age);
	print_opt_size(p, "logs.max_total", pol->logs.has_max_total, pol->logs.max_total);
	print_opt_int(p, "snapshots.last", pol->snapshots.has_last, pol->snapshots.last);
	print_opt_int(p, "snapshots.hourly", pol->snapshots.has_hourly, pol->snapshots.hourly);
	print_opt_int(p, "snapshots.daily", pol->snapshots.has_daily, pol->snapshots.daily);
	print_opt_int(p, "snapshots.weekly", pol->snapshots.has_weekly, pol->snapshots.weekly);
	print_opt_int(p, "snapshots.monthly", pol->snapshots.has_monthly, pol->snapshots.monthly);
	print_opt_dur(p, "snapshots.within", pol->snapshots.has_within, pol->snapshots.within);
	print_opt_real(p, "snapshots.verify_sample", pol->snapshots.has_verify_sample,
		       pol->snapshots.verify_sample);
	print_opt_size(p, "snapshots.reorder_window", pol->snapshots.has_reorder_window,
		       pol->snapshots.reorder_window);
	hw_printer_summary_end(p);
	hw_printer_free(&p);
	hw_policy_mailbox_release(&m);
	free(domain);
	free(mailbox);
	return HW_EXIT_OK;
}

int cmd_policy(int argc, char **argv);
int cmd_policy(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const struct hw_policy *pol;
	const char *sub;
	int c, r;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		r = cli_common_opt(c, optarg, usage);
		if (r < 0)
			return HW_EXIT_OK;
		if (r == 0)
			return cli_usage_error("unknown option '%s'", argv[optind - 1]);
		if (r > 1)
			return r;
	}
	if (optind >= argc)
		return cli_usage_error("expected 'check' or 'show'");
	sub = argv[optind++];
	if (strcmp(sub, "check") != 0 && strcmp(sub, "show") != 0)
		return cli_usage_error("'%s' is not a policy subcommand: expected check or show", sub);
	/* options may also follow the subcommand */
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		r = cli_common_opt(c, optarg, usage);
		if (r < 0)
			return HW_EXIT_OK;
		if (r == 0)
			return cli_usage_error("unknown option '%s'", argv[optind - 1]);
		if (r > 1)
			return r;
	}
	if (strcmp(sub, "check") == 0 ? optind != argc : optind + 1 < argc)
		return cli_usage_error("too many arguments");
	r = cli_policy_load(&pol);
	if (r > 1)
		return r;
	if (r == 0) {
		cli_error("no policy file: give -c FILE (or install %s)", CLI_CONFIG_DEFAULT);
		return HW_EXIT_CONFIG;
	}
	if (strcmp(sub, "show") == 0)
		return policy_show(pol, optind < argc ? argv[optind] : NULL);
	if (cli.json) {
		struct hw_printer *p = cli_printer();
		hw_printer_summary_begin(p, "policy check");
		hw_printer_str(p, "policy", pol->path);
		hw_printer_bool(p, "valid", true);
		hw_printer_summary_end(p);
		hw_printer_free(&p);
	} else if (!cli.quiet) {
		printf("%s: valid (%zu window%s, %zu domain and %zu mailbox override%s)\n",
		       pol->path, pol->nwindows, pol->nwindows == 1 ? "" : "s", pol->ndomains,
		       pol->nmailboxes, pol->nmailboxes == 1 ? "" : "s");
	}
	return HW_EXIT_OK;
}
