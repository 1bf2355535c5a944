/* cmd_find.c - hiwater find: messages in every snapshot and the live store */
#include <stdlib.h>
#include <string.h>

#include "../snapshot/snapshot.h"
#include "cli.h"

int cli_snap_repo_open(const char *repo, bool create, struct snap_repo **r_r);
int cmd_find(int argc, char **argv);

enum {
	OPT_REPO = CLI_OPT_FIRST_OWN,
	OPT_MSGID, OPT_FROM, OPT_SUBJECT, OPT_FOLDER, OPT_SINCE, OPT_BEFORE, OPT_DELETED,
};

static const char usage_find[] =
	"usage: hiwater find [--json] [--message-id ID] [--from TEXT] [--subject TEXT]\n"
	"                    [--folder FOLDER] [--since DATE] [--before DATE] [--deleted]\n"
	"                    [--repo DIR]\n"
	"\n"
	"Searches every snapshot and the live store: one row per distinct message, with\n"
	"the oldest and newest snapshot holding it and whether it is in the store now.\n"
	"Messages in no snapshot come from the index (run 'hiwater index' first); their\n"
	"first_snapshot and last_snapshot are null.\n"
	"\n"
	"  --message-id ID   exact Message-ID (with or without <>)\n"
	"  --from TEXT       From contains TEXT (any case)\n"
	"  --subject TEXT    Subject contains TEXT (any case)\n"
	"  --folder FOLDER   that folder and the folders below it\n"
	"  --since DATE      message date at or after DATE; DATE is 2026-11-29,\n"
	"                    '2026-11-29 09:13', @UNIXTIME, or a duration ago (7d)\n"
	"  --before DATE     message date before DATE\n"
	"  --deleted         only messages no longer in the live store\n";

static int on_row(void *ctx, const struct snap_find_row *row)
{
	struct hw_printer *p = ctx;
	char date[32];

	hw_printer_row_begin(p);
	if (row->first_snapshot != 0) {
		hw_printer_int(p, "first_snapshot", row->first_snapshot);
		hw_printer_int(p, "last_snapshot", row->last_snapshot);
	} else {
		/* in the live store only */
		hw_printer_null(p, "first_snapshot");
		hw_printer_null(p, "last_snapshot");
	}
	hw_printer_str(p, "folder", row->folder);
	hw_printer_str(p, "file", row->file);
	hw_printer_uint(p, "uid", row->uid);
	hw_printer_uint(p, "size", row->size);
	if (row->date != 0) {
		hw_time_iso(row->date, date, sizeof(date));
		hw_printer_str(p, "date", date);
	} else {
		hw_printer_null(p, "date");
	}
	hw_printer_str(p, "from", row->from);
	hw_printer_str(p, "subject", row->subject);
	hw_printer_str(p, "message_id", row->message_id);
	hw_printer_bool(p, "present", row->present);
	hw_printer_row_end(p);
	return 0;
}

int cmd_find(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "repo", required_argument, NULL, OPT_REPO },
		{ "message-id", required_argument, NULL, OPT_MSGID },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "subject", required_argument, NULL, OPT_SUBJECT },
		{ "folder", required_argument, NULL, OPT_FOLDER },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "before", required_argument, NULL, OPT_BEFORE },
		{ "deleted", no_argument, NULL, OPT_DELETED },
		{ NULL, 0, NULL, 0 }
	};
	struct snap_find_query q;
	struct snap_repo *r = NULL;
	struct hw_store *st = NULL;
	struct hw_catalog *cat = NULL;
	struct hw_printer *p;
	struct hw_error err;
	const char *repo = NULL;
	int64_t now = hw_now_ns() / 1000000000LL;
	int c, ex;

	memset(&q, 0, sizeof(q));
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_REPO: repo = optarg; continue;
		case OPT_MSGID: q.message_id = optarg; continue;
		case OPT_FROM: q.from = optarg; continue;
		case OPT_SUBJECT: q.subject = optarg; continue;
		case OPT_FOLDER:
			q.folder = optarg;
			if (hw_folder_arg_check(optarg, &err) <= 0)
				return cli_usage_error("%s", err.msg);
			continue;
		case OPT_SINCE:
			if (!snap_parse_time(optarg, now, &q.since))
				return cli_usage_error("--since: not a date: '%s'", optarg);
			q.has_since = true;
			continue;
		case OPT_BEFORE:
			if (!snap_parse_time(optarg, now, &q.before))
				return cli_usage_error("--before: not a date: '%s'", optarg);
			q.has_before = true;
			continue;
		case OPT_DELETED: q.deleted_only = true; continue;
		}
		ex = cli_common_opt(c, optarg, usage_find);
		if (ex == 1)
			continue;
		if (ex < 0)
			return HW_EXIT_OK;
		return ex == 0 ? cli_usage_error("unknown option") : ex;
	}
	if (optind < argc)
		return cli_usage_error("find takes no arguments: use --folder FOLDER");
	{
		/* the policy may name the store (and the state) */
		const struct hw_policy *pol;
		if (cli_policy_load(&pol) > 1)
			return HW_EXIT_CONFIG;
	}
	if (cli.store != NULL && *cli.store != '\0') {
		st = cli_store_open(&ex);
		if (st == NULL)
			return ex;
	} else if (q.deleted_only) {
		return cli_usage_error("--deleted needs the store (--store DIR)");
	}
	ex = cli_snap_repo_open(repo, false, &r);
	if (ex > 0) {
		hw_store_free(&st);
		return ex;
	}
	/* the live store is searched through the state catalog that hiwater
	   index keeps (messages in no snapshot yet), never by a walk */
	if (st != NULL && !q.deleted_only) {
		cat = cli_catalog_open(&ex);
		if (cat == NULL) {
			snap_repo_free(&r);
			hw_store_free(&st);
			return ex;
		}
	}
	q.st = st;
	q.live_cat = cat;
	p = cli_printer();
	ex = HW_EXIT_OK;
	if ((r != NULL || cat != NULL) && snap_find(r, &q, on_row, p, &err) < 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_IOERR;
	}
	hw_printer_free(&p);
	hw_catalog_free(&cat);
	snap_repo_free(&r);
	hw_store_free(&st);
	return ex != HW_EXIT_OK ? ex : cli_exit_from_diag(HW_EXIT_OK);
}
