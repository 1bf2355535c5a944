/* cmd_restore.c - hiwater restore: messages or folders from a snapshot */
#include <stdlib.h>
#include <string.h>

#include "../snapshot/snapshot.h"
#include "cli.h"

int cli_snap_repo_open(const char *repo, bool create, struct snap_repo **r_r);
int cmd_restore(int argc, char **argv);

enum {
	OPT_REPO = CLI_OPT_FIRST_OWN,
	OPT_AT, OPT_SNAPSHOT, OPT_TO, OPT_KEEP_FLAGS, OPT_MSGID,
};

static const char usage_restore[] =
	"usage: hiwater restore [-n] [--at TIME | --snapshot ID] [--to DIR] [--keep-flags]\n"
	"                       [--repo DIR] (--message-id ID | FOLDER | FOLDER/FILE)...\n"
	"\n"
	"Puts messages or whole folders back as they were in a snapshot: by default the\n"
	"newest snapshot holding each, --at TIME the newest at or before TIME.\n"
	"Into the live store nothing is ever overwritten: a message already there is\n"
	"skipped, a restored one gets the next free file name and a new UID in\n"
	"IMAP.MRK (unseen unless --keep-flags); a removed folder is recreated and\n"
	"subscribed. --to DIR writes plain files below DIR instead.\n"
	"\n"
	"  --at TIME        2026-11-29, '2026-11-29 09:13', @UNIXTIME, or a duration ago (2d)\n"
	"  --snapshot ID    that snapshot\n"
	"  --to DIR         plain files below DIR; the store is not touched\n"
	"  --keep-flags     restore the flags (Seen, Answered, ...) too\n"
	"  --message-id ID  the message(s) with this Message-ID\n"
	"  -n, --dry-run    show what would be restored\n";

static const char *action_name(enum snap_restore_action a)
{
	switch (a) {
	case SNAP_RESTORED: return "restored";
	case SNAP_PRESENT: return "present";
	case SNAP_WOULD_RESTORE: return "would restore";
	default: return "failed";
	}
}

static void on_item(void *ctx, const struct snap_restore_item *it)
{
	struct hw_printer *p = ctx;

	hw_printer_row_begin(p);
	hw_printer_int(p, "snapshot", it->snapshot);
	hw_printer_str(p, "folder", it->folder);
	hw_printer_str(p, "file", it->file);
	hw_printer_str(p, "new_file", it->new_file);
	if (it->uid != 0)
		hw_printer_uint(p, "uid", it->uid);
	else
		hw_printer_null(p, "uid");
	hw_printer_uint(p, "size", it->size);
	hw_printer_str(p, "action", action_name(it->action));
	hw_printer_row_end(p);
}

int cmd_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS, CLI_DRYRUN_LONGOPT,
		{ "repo", required_argument, NULL, OPT_REPO },
		{ "at", required_argument, NULL, OPT_AT },
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "to", required_argument, NULL, OPT_TO },
		{ "keep-flags", no_argument, NULL, OPT_KEEP_FLAGS },
		{ "message-id", required_argument, NULL, OPT_MSGID },
		{ NULL, 0, NULL, 0 }
	};
	struct snap_restore_opts o;
	struct snap_repo *r = NULL;
	struct hw_store *st = NULL;
	struct hw_printer *p;
	struct hw_error err;
	const char *repo = NULL;
	char **ids = NULL;
	size_t nids = 0, cap = 0;
	char *end;
	int c, ex, rc;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "n", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REPO: repo = optarg; continue;
		case OPT_AT:
			if (!snap_parse_time(optarg, hw_now_ns() / 1000000000LL, &o.at)) {
				free(ids);
				return cli_usage_error("--at: not a time: '%s'", optarg);
			}
			o.has_at = true;
			continue;
		case OPT_SNAPSHOT:
			o.snapshot = strtoll(optarg, &end, 10);
			if (*end != '\0' || o.snapshot <= 0) {
				free(ids);
				return cli_usage_error("--snapshot takes a snapshot id, not '%s'", optarg);
			}
			continue;
		case OPT_TO: o.to_dir = optarg; continue;
		case OPT_KEEP_FLAGS: o.keep_flags = true; continue;
		case OPT_MSGID:
			HW_GROW(ids, cap, nids + 1);
			ids[nids++] = optarg;
			continue;
		}
		ex = cli_common_opt(c, optarg, usage_restore);
		if (ex == 1)
			continue;
		free(ids);
		if (ex < 0)
			return HW_EXIT_OK;
		return ex == 0 ? cli_usage_error("unknown option") : ex;
	}
	if (o.has_at && o.snapshot != 0) {
		free(ids);
		return cli_usage_error("--at and --snapshot exclude each other");
	}
	if (nids == 0 && optind >= argc) {
		free(ids);
		return cli_usage_error("nothing to restore: give --message-id ID, FOLDER or FOLDER/FILE");
	}
	o.message_ids = ids;
	o.nmessage_ids = nids;
	o.paths = argv + optind;
	o.npaths = (size_t)(argc - optind);
	o.dry_run = cli.dry_run;
	if (o.to_dir == NULL || (cli.store != NULL && *cli.store != '\0')) {
		st = cli_store_open(&ex);
		if (st == NULL) {
			free(ids);
			return ex;
		}
	}
	if (o.to_dir != NULL && st != NULL && hw_path_is_inside(o.to_dir, hw_store_path(st))) {
		cli_error("--to %s lies inside the store: refused (restore into the store without --to)",
			  o.to_dir);
		hw_store_free(&st);
		free(ids);
		return HW_EXIT_USAGE;
	}
	ex = cli_snap_repo_open(repo, false, &r);
	if (ex != 0) {
		if (ex < 0)
			cli_error("no snapshot repository: nothing to restore from");
		hw_store_free(&st);
		free(ids);
		return ex < 0 ? HW_EXIT_DATAERR : ex;
	}
	p = cli_printer();
	rc = snap_restore(r, o.to_dir != NULL ? NULL : st, &o, on_item, p, &err);
	hw_printer_free(&p);
	if (rc < 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_IOERR;
	} else if (rc == 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_DATAERR;
	} else {
		ex = cli_exit_from_diag(HW_EXIT_OK);
	}
	snap_repo_free(&r);
	hw_store_free(&st);
	free(ids);
	return ex;
}
