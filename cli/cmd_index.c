/* cmd_index.c - hiwater index: rebuild IMAP.MRK and HIWATER.MRK */
#include <stdlib.h>

#include "cli.h"
#include "indexer.h"

int cmd_index(int argc, char **argv);

static const char usage[] =
	"usage: hiwater index [-n] [--check] [--force] [--mark-seen] [--new-uidvalidity]\n"
	"                     [--verify] [-j N] [--json] [FOLDER...]\n"
	"\n"
	"Write every folder's IMAP.MRK and HIWATER.MRK ahead of MDaemon, keeping\n"
	"every UID, flag and UIDVALIDITY that exists. Without FOLDER: the whole\n"
	"store. A FOLDER includes the folders below it.\n"
	"\n"
	"  -n, --dry-run        show what would change per folder; write nothing\n"
	"  --check              write nothing; list stale or corrupt folders;\n"
	"                       exit 1 if any, 0 if none\n"
	"  --force              recompute folders the catalog says are unchanged\n"
	"  --mark-seen          new records get \\Seen (what a migrated user expects)\n"
	"  --new-uidvalidity    start a new UID space (every client resyncs!)\n"
	"  --verify             read messages whole; content hashes into the catalog\n"
	"  --lock-name NAME     the folder lock file (default IMAP.LCK)\n"
	"  -j, --jobs N         parallel workers (default: 4 x CPUs, at most 32)\n"
	"  --json               one JSON object per folder that changed, then a summary\n"
	"\n"
	"Exit: 0 ok; 1 skipped files, busy folders, or (--check) stale folders;\n"
	"2 errors on some folders; 64 usage; 74 I/O error; 78 configuration.\n";

enum { OPT_CHECK = CLI_OPT_FIRST_OWN, OPT_FORCE, OPT_MARK_SEEN, OPT_NEW_UIDV, OPT_VERIFY,
       OPT_LOCKNAME };

struct report_ctx {
	struct hw_printer *p;
	const struct indexer_opts *o;
};

static const char *status_name(enum indexer_status s, const struct indexer_opts *o)
{
	switch (s) {
	case INDEXER_UNCHANGED: return "unchanged";
	case INDEXER_REBUILT: return o->dry_run ? "would rebuild" : "rebuilt";
	case INDEXER_STALE: return "stale";
	case INDEXER_BUSY: return "busy";
	case INDEXER_ERROR: return "error";
	}
	return "?";
}

static void report(void *arg, const struct indexer_folder_result *r)
{
	struct report_ctx *rc = arg;

	if (r->status == INDEXER_ERROR)
		hw_diag_error("%s: %s", r->relpath, r->reason ? r->reason : "failed");
	else if (r->status == INDEXER_BUSY)
		hw_diag_warn("%s: %s", r->relpath, r->reason ? r->reason : "busy");
	if (r->status == INDEXER_UNCHANGED && !cli.verbose)
		return;
	if (r->status == INDEXER_ERROR || r->status == INDEXER_BUSY)
		return;
	hw_printer_row_begin(rc->p);
	hw_printer_str(rc->p, "folder", r->relpath);
	hw_printer_str(rc->p, "status", status_name(r->status, rc->o));
	hw_printer_uint(rc->p, "messages", r->messages);
	hw_printer_uint(rc->p, "added", r->records_added);
	hw_printer_uint(rc->p, "removed", r->records_removed);
	hw_printer_uint(rc->p, "uids_kept", r->uids_kept);
	hw_printer_uint(rc->p, "uids_new", r->uids_new);
	if (r->uids_new > 0) {
		char *s = hw_asprintf("%u-%u", r->uid_first_new, r->uid_last_new);
		hw_printer_str(rc->p, "new_uid_range", s);
		free(s);
	} else {
		hw_printer_null(rc->p, "new_uid_range");
	}
	hw_printer_str(rc->p, "reason", r->reason != NULL && *r->reason ? r->reason : NULL);
	hw_printer_row_end(rc->p);
}

int cmd_index(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_DRYRUN_LONGOPT,
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "mark-seen", no_argument, NULL, OPT_MARK_SEEN },
		{ "new-uidvalidity", no_argument, NULL, OPT_NEW_UIDV },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "lock-name", required_argument, NULL, OPT_LOCKNAME },
		{ NULL, 0, NULL, 0 }
	};
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats stats;
	struct hw_folder_list fl;
	struct hw_store *st = NULL;
	struct hw_catalog *cat = NULL;
	struct hw_printer *p = NULL;
	struct report_ctx rc;
	struct hw_error err;
	unsigned problems = 0;
	int c, r, ret = HW_EXIT_OK;

	hw_folder_list_init(&fl);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "n", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CHECK: o.check = true; break;
		case OPT_FORCE: o.force = true; break;
		case OPT_MARK_SEEN: o.mark_seen = true; break;
		case OPT_NEW_UIDV: o.new_uidvalidity = true; break;
		case OPT_VERIFY: o.verify = true; break;
		case OPT_LOCKNAME:
			if (!hw_folder_lock_name_ok(optarg))
				return cli_usage_error("--lock-name '%s': not a usable lock file name "
						       "(no '/', not IMAP.MRK, HIWATER.MRK or a "
						       "message name)", optarg);
			hw_folder_lock_set_name(optarg);
			break;
		default:
			r = cli_common_opt(c, optarg, usage);
			if (r != 1)
				return r < 0 ? HW_EXIT_OK : r ? r : cli_usage_error("unknown option");
		}
	}
	if ((r = cli_check_folder_args(argc, argv)) != 0)
		return r;
	if (o.check && (o.new_uidvalidity || o.mark_seen))
		return cli_usage_error("--check writes nothing: it does not combine with "
				       "--new-uidvalidity or --mark-seen");
	o.dry_run = cli.dry_run;
	/* reading headers is I/O-bound: on a cold cache, more requests in
	   flight than CPUs keep the disk busy (bench/index.sh: 2.0x faster
	   cold with 8 workers than with 2 on 2 CPUs) */
	o.jobs = cli.jobs > 0 ? cli.jobs : hw_pool_cpus() * 4 < 32 ? hw_pool_cpus() * 4 : 32;
	o.lockname = hw_folder_lock_name();

	st = cli_store_open(&ret);
	if (st == NULL)
		goto out;
	cat = cli_catalog_open(&ret);
	if (cat == NULL)
		goto out;
	if (hw_store_folders(st, argv + optind, (size_t)(argc - optind), &fl, &problems, &err) < 0) {
		cli_error("%s", err.msg);
		ret = HW_EXIT_IOERR;
		goto out;
	}
	p = cli_printer();
	rc.p = p;
	rc.o = &o;
	if (indexer_run(st, cat, &fl, &o, report, &rc, &stats, &err) < 0) {
		cli_error("%s", err.msg);
		ret = HW_EXIT_IOERR;
	}
	hw_printer_summary_begin(p, "index");
	hw_printer_uint(p, "folders", stats.folders);
	hw_printer_uint(p, "messages", stats.messages);
	if (o.check)
		hw_printer_uint(p, "stale", stats.stale);
	hw_printer_uint(p, "rebuilt", stats.rebuilt);
	hw_printer_uint(p, "unchanged", stats.unchanged);
	hw_printer_uint(p, "busy", stats.busy);
	hw_printer_uint(p, "uids_kept", stats.uids_kept);
	hw_printer_uint(p, "uids_new", stats.uids_new);
	hw_printer_uint(p, "files_skipped", stats.files_skipped);
	hw_printer_uint(p, "headers_read", stats.headers_read);
	hw_printer_uint(p, "errors", stats.errors + problems);
	hw_printer_real(p, "seconds", stats.seconds, 3);
	hw_printer_bool(p, "dry_run", o.dry_run);
	hw_printer_summary_end(p);

	if (stats.errors > 0 || problems > 0)
		ret = hw_exit_worst(ret, HW_EXIT_PARTIAL);
	else if (o.check)
		/* --check answers one question: is anything stale? */
		ret = hw_exit_worst(ret, stats.stale > 0 || stats.busy > 0 ? HW_EXIT_FINDINGS : HW_EXIT_OK);
	else if (stats.busy > 0 || stats.files_skipped > 0)
		ret = hw_exit_worst(ret, HW_EXIT_FINDINGS);
	if (!o.check)
		ret = cli_exit_from_diag(ret);
	else if (hw_diag_count(HW_DIAG_ERROR) > 0)
		ret = hw_exit_worst(ret, HW_EXIT_PARTIAL);
out:
	hw_printer_free(&p);
	hw_folder_list_release(&fl);
	hw_catalog_free(&cat);
	hw_store_free(&st);
	return ret;
}
