/*
 * cmd_quota.c - hiwater quota [--json] [FOLDER...]: usage per mailbox and
 * folder against the policy's warn and limit, biggest first.
 * Exit 0 all under warn, 1 some mailbox over warn or limit (or skipped
 * folders), 2 errors reading some folders.
 */
#include <getopt.h>
#include <inttypes.h>
#include <unistd.h>

#include "cli.h"
#include "../policy/policy.h"

static const char usage[] =
	"usage: hiwater quota [--json] [-c FILE] [FOLDER...]\n"
	"\n"
	"Usage of each mailbox and its folders, biggest first, against the quota\n"
	"of the policy (warn, limit; see hiwater.yaml(5)). Sizes come from the\n"
	"catalog where a folder is unchanged since 'hiwater index'; other folders\n"
	"are listed and summed (the summary says how many).\n"
	"Exit 0 all under warn, 1 some mailbox over warn or limit.\n";

static void size_cell(struct hw_printer *p, const char *key, uint64_t v, bool none_is_null)
{
	char buf[64];

	if (hw_printer_mode(p) == HW_OUT_JSON) {
		if (v == 0 && none_is_null)
			hw_printer_null(p, key);
		else
			hw_printer_uint(p, key, v);
		return;
	}
	if (v == 0 && none_is_null)
		hw_strlcpy(buf, "none", sizeof(buf));
	else
		hw_format_size(v, buf, sizeof(buf));
	hw_printer_str(p, key, buf);
}

static void print_report(const struct hw_quota_report *r)
{
	struct hw_printer *p = cli_printer();
	bool json = hw_printer_mode(p) == HW_OUT_JSON;
	size_t warn = 0, over = 0;
	uint64_t total = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct hw_quota_mailbox *m = &r->v[i];
		hw_printer_row_begin(p);
		if (json) {
			hw_printer_str(p, "mailbox", m->root);
			hw_printer_str(p, "domain", m->domain);
		} else {
			hw_printer_str(p, "mailbox / folder", m->root);
		}
		size_cell(p, "bytes", m->bytes, false);
		hw_printer_uint(p, "messages", m->messages);
		size_cell(p, "warn", m->warn, true);
		size_cell(p, "limit", m->limit, true);
		hw_printer_str(p, "status", hw_quota_state_name(m->state));
		if (json) {
			struct hw_buf b;
			hw_buf_init(&b);
			hw_buf_addc(&b, '[');
			for (size_t j = 0; j < m->nfolders; j++) {
				const struct hw_quota_folder *f = &m->folders[j];
				hw_buf_adds(&b, j > 0 ? ",{\"folder\":" : "{\"folder\":");
				hw_json_escape(&b, f->relpath);
				hw_buf_adds(&b, ",\"imapname\":");
				hw_json_escape(&b, f->imapname);
				hw_buf_addf(&b, ",\"bytes\":%" PRIu64 ",\"messages\":%" PRIu64
					    ",\"source\":\"%s\"}", f->bytes, f->messages,
					    f->scanned ? "scan" : "catalog");
			}
			hw_buf_addc(&b, ']');
			hw_printer_json(p, "folders", b.data);
			hw_buf_release(&b);
		}
		hw_printer_row_end(p);
		for (size_t j = 0; !json && j < m->nfolders; j++) {
			const struct hw_quota_folder *f = &m->folders[j];
			char *name = hw_asprintf("  %s%s", f->imapname, f->scanned ? " *" : "");
			hw_printer_row_begin(p);
			hw_printer_str(p, "mailbox / folder", name);
			size_cell(p, "bytes", f->bytes, false);
			hw_printer_uint(p, "messages", f->messages);
			hw_printer_str(p, "warn", "");
			hw_printer_str(p, "limit", "");
			hw_printer_str(p, "status", "");
			hw_printer_row_end(p);
			free(name);
		}
		total += m->bytes;
		warn += m->state == HW_QUOTA_WARN;
		over += m->state == HW_QUOTA_OVER;
	}
	hw_printer_summary_begin(p, "quota");
	hw_printer_uint(p, "mailboxes", r->n);
	size_cell(p, "total", total, false);
	hw_printer_uint(p, "over_warn", warn);
	hw_printer_uint(p, "over_limit", over);
	hw_printer_uint(p, "folders_from_catalog", r->folders_cataloged);
	hw_printer_uint(p, "folders_scanned", r->folders_scanned);
	hw_printer_summary_end(p);
	hw_printer_free(&p);
	if (r->folders_scanned > 0 && !cli.quiet && !cli.json)
		fprintf(stderr, "note: %zu folder%s (marked *) had no current catalog data and "
			"were scanned; 'hiwater index' makes the next run faster\n",
			r->folders_scanned, r->folders_scanned == 1 ? "" : "s");
}

int cmd_quota(int argc, char **argv);
int cmd_quota(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const struct hw_policy *pol = NULL;
	struct hw_catalog *cat = NULL;
	struct hw_quota_report rep;
	struct hw_store *st;
	struct hw_error err;
	const char *state;
	char *catpath;
	int c, r, ex = HW_EXIT_OK;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		r = cli_common_opt(c, optarg, usage);
		if (r < 0)
			return HW_EXIT_OK;
		if (r == 0)
			return cli_usage_error("unknown option '%s'", argv[optind - 1]);
		if (r > 1)
			return r;
	}
	if ((r = cli_check_folder_args(argc, argv)) != 0)
		return r;
	if (cli_policy_load(&pol) > 1)
		return HW_EXIT_CONFIG;
	if ((st = cli_store_open(&ex)) == NULL)
		return ex;
	if ((state = cli_state_dir(&ex)) == NULL) {
		hw_store_free(&st);
		return ex;
	}
	/* read the catalog only if there is one: quota never creates state */
	catpath = hw_path_join(state, HW_CATALOG_NAME);
	if (access(catpath, F_OK) == 0 && hw_catalog_open(state, &cat, &err) < 0)
		hw_diag_warn("catalog not used (%s): scanning every folder", err.msg);
	free(catpath);
	hw_quota_report_init(&rep);
	if (hw_quota_collect(pol, st, cat, argv + optind, (size_t)(argc - optind), &rep, &err) < 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_IOERR;
		goto out;
	}
	print_report(&rep);
	for (size_t i = 0; i < rep.n; i++)
		if (rep.v[i].state != HW_QUOTA_OK)
			ex = hw_exit_worst(ex, HW_EXIT_FINDINGS);
	ex = cli_exit_from_diag(ex);
out:
	hw_quota_report_release(&rep);
	hw_catalog_free(&cat);
	hw_store_free(&st);
	return ex;
}
