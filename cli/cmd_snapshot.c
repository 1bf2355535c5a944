/* cmd_snapshot.c - hiwater snapshot create|list|verify|prune */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../policy/policy.h"
#include "../snapshot/snapshot.h"
#include "cli.h"

#define OPT_REPO (CLI_OPT_FIRST_OWN + 0)

/* shared by cmd_find.c and cmd_restore.c */
int cli_snap_repo_open(const char *repo, bool create, struct snap_repo **r_r);

static const char usage_snapshot[] =
	"usage: hiwater snapshot create [-n] [--full] [--label TEXT] [--window MB] [--repo DIR]\n"
	"                               [FOLDER...]\n"
	"       hiwater snapshot list [--json] [--repo DIR]\n"
	"       hiwater snapshot verify [--sample PERCENT] [--json] [--repo DIR]\n"
	"       hiwater snapshot prune [-n] [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
	"                              [--keep-weekly N] [--keep-monthly N] [--keep-within DUR]\n"
	"\n"
	"Incremental, deduplicated snapshots of the store (or of the folders named).\n"
	"A message already in the repository is not stored again; an unchanged folder\n"
	"is not read at all. The repository defaults to STATE/snapshots.\n"
	"\n"
	"  --repo DIR        the snapshot repository\n"
	"  -n, --dry-run     show what would be done\n"
	"  --full            store every file again (no trust in earlier snapshots)\n"
	"  --label TEXT      a note kept with the snapshot\n"
	"  --window MB       new content sorted by similarity in windows of MB before\n"
	"                    it is packed (default 128, $HIWATER_SNAPSHOT_WINDOW, policy\n"
	"                    snapshots: reorder_window; 0: in directory order).\n"
	"                    Memory grows by about twice this\n"
	"  --sample PERCENT  verify: the least recently verified PERCENT of the data\n"
	"                    (default 100; successive runs cover the rest)\n"
	"  --keep-*          prune: the retention rules; a snapshot is kept if any rule\n"
	"                    keeps it; without any, the policy's snapshots retention\n"
	"                    (keep_last, keep_daily, ...) applies; with neither, prune\n"
	"                    refuses\n";

uint64_t cli_snap_window(const struct hw_policy *pol)
{
	const char *e = getenv("HIWATER_SNAPSHOT_WINDOW");
	uint64_t w;

	/* a malformed variable is warned about by snap_create, and the policy
	   applies */
	if ((e != NULL && *e != '\0' && snap_window_parse(e, &w) == 1) || pol == NULL ||
	    !pol->snapshots.has_reorder_window)
		return 0;
	return pol->snapshots.reorder_window == 0 ? SNAP_WINDOW_OFF : pol->snapshots.reorder_window;
}

int cli_snap_repo_open(const char *repo, bool create, struct snap_repo **r_r)
{
	struct hw_error err;
	const char *state;
	char *dir;
	int ex = 0, r;

	*r_r = NULL;
	if (repo == NULL) {
		const struct hw_policy *pol = NULL;
		state = cli_state_dir(&ex);
		if (state == NULL)
			return ex;
		/* --repo, else the policy's snapshot_dir, else STATE/snapshots */
		if (cli_policy_load(&pol) == 1 && pol != NULL)
			repo = pol->snapshot_dir;
	}
	dir = snap_repo_default(cli.state, repo);
	if (cli.store != NULL && *cli.store != '\0' && hw_path_is_inside(dir, cli.store)) {
		cli_error("the snapshot repository %s lies inside the store: refused", dir);
		free(dir);
		return HW_EXIT_CONFIG;
	}
	r = snap_repo_open(dir, create, r_r, &err);
	free(dir);
	if (r < 0) {
		cli_error("%s", err.msg);
		return err.errnum == EBADMSG ? HW_EXIT_DATAERR : HW_EXIT_IOERR;
	}
	if (r == 0)
		return -1;   /* absent: the caller decides */
	return 0;
}

static int parse_common(int argc, char **argv, const struct option *own, const char *shortopts,
			int (*own_fn)(int c, const char *arg, void *ctx), void *ctx, const char **repo)
{
	struct option longopts[32];
	size_t n = 0;
	static const struct option common[] = { CLI_COMMON_LONGOPTS, CLI_DRYRUN_LONGOPT,
						{ "repo", required_argument, NULL, OPT_REPO } };
	int c, r;

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		longopts[n++] = common[i];
	for (; own != NULL && own->name != NULL; own++)
		longopts[n++] = *own;
	memset(&longopts[n], 0, sizeof(longopts[n]));
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == OPT_REPO) {
			*repo = optarg;
			continue;
		}
		if (own_fn != NULL) {
			r = own_fn(c, optarg, ctx);
			if (r == 1)
				continue;
			if (r > 1)
				return r;
		}
		r = cli_common_opt(c, optarg, usage_snapshot);
		if (r == 1)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return cli_usage_error("unknown option '%s'", argv[optind - 1]);
		return r;
	}
	return 0;
}

/* ---- create ---- */

struct create_args {
	bool full;
	const char *label;
	uint64_t window;            /* 0: the default (or the environment's) */
};

static int create_opt(int c, const char *arg, void *ctx)
{
	struct create_args *a = ctx;

	switch (c) {
	case 'F':
		a->full = true;
		return 1;
	case 'L':
		a->label = arg;
		return 1;
	case 'W':
		if (snap_window_parse(arg, &a->window) != 1)
			return cli_usage_error("--window: '%s' is not a number of megabytes "
					       "(0 to 1048576)", arg);
		return 1;
	}
	return 0;
}

static int snapshot_create(int argc, char **argv)
{
	static const struct option own[] = { { "full", no_argument, NULL, 'F' },
					     { "label", required_argument, NULL, 'L' },
					     { "window", required_argument, NULL, 'W' },
					     { NULL, 0, NULL, 0 } };
	struct create_args a = { 0 };
	struct snap_create_opts o;
	struct snap_create_result res;
	struct hw_error err;
	struct hw_store *st = NULL;
	struct snap_repo *r = NULL;
	struct hw_catalog *cat = NULL;
	struct hw_printer *p;
	const char *repo = NULL;
	double t0 = hw_monotonic();
	int ex, rc;

	ex = parse_common(argc, argv, own, CLI_COMMON_SHORT "n", create_opt, &a, &repo);
	if (ex != 0)
		return ex < 0 ? HW_EXIT_OK : ex;
	if ((ex = cli_check_folder_args(argc, argv)) != 0)
		return ex;
	st = cli_store_open(&ex);
	if (st == NULL)
		return ex;
	ex = cli_snap_repo_open(repo, true, &r);
	if (ex != 0) {
		hw_store_free(&st);
		return ex < 0 ? HW_EXIT_IOERR : ex;
	}
	memset(&o, 0, sizeof(o));
	o.folders = argv + optind;
	o.nfolders = (size_t)(argc - optind);
	o.label = a.label;
	o.full = a.full;
	o.window = a.window;
	if (o.window == 0) {
		const struct hw_policy *pol = NULL;
		if (cli_policy_load(&pol) == 1)
			o.window = cli_snap_window(pol);
	}
	o.dry_run = cli.dry_run;
	o.jobs = cli.jobs;
	/* the indexer's catalog, when there is one: its content hashes spare
	   reading files whose content the repository already holds */
	{
		const char *state = cli_state_dir(&ex);
		struct hw_error cerr;
		if (state != NULL && hw_catalog_open(state, &cat, &cerr) < 0) {
			hw_diag_info("state catalog not used: %s", cerr.msg);
			cat = NULL;
		}
		o.state_cat = cat;
	}
	rc = snap_create(r, st, &o, &res, &err);
	if (rc < 0) {
		cli_error("snapshot not created: %s", err.msg);
		ex = err.errnum == EBADMSG ? HW_EXIT_DATAERR : HW_EXIT_IOERR;
		goto out;
	}
	if (rc == 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_LOCKED;
		goto out;
	}
	p = cli_printer();
	hw_printer_summary_begin(p, cli.dry_run ? "snapshot create (dry run)" : "snapshot create");
	if (cli.dry_run)
		hw_printer_null(p, "id");
	else
		hw_printer_int(p, "id", res.id);
	hw_printer_uint(p, "folders", res.folders);
	hw_printer_uint(p, "folders_changed", res.folders_changed);
	hw_printer_uint(p, "files", res.files);
	hw_printer_uint(p, "messages", res.messages);
	hw_printer_uint(p, "bytes", res.bytes);
	hw_printer_uint(p, "files_read", res.files_read);
	hw_printer_uint(p, "files_added", res.files_added);
	hw_printer_uint(p, "bytes_added", res.bytes_added);
	hw_printer_uint(p, "pack_bytes", res.pack_bytes);
	hw_printer_uint(p, "skipped", res.skipped);
	hw_printer_uint(p, "lost", res.lost);
	hw_printer_uint(p, "repaired", res.repaired);
	hw_printer_real(p, "seconds", hw_monotonic() - t0, 3);
	hw_printer_summary_end(p);
	hw_printer_free(&p);
	ex = cli_exit_from_diag(HW_EXIT_OK);
out:
	hw_catalog_free(&cat);
	snap_repo_free(&r);
	hw_store_free(&st);
	return ex;
}

/* ---- list ---- */

static void print_time(struct hw_printer *p, const char *key, int64_t ns)
{
	char buf[32];

	hw_time_iso(ns / 1000000000LL, buf, sizeof(buf));
	hw_printer_str(p, key, buf);
}

static int snapshot_list(int argc, char **argv)
{
	struct snap_repo *r = NULL;
	struct snap_info *v = NULL;
	struct hw_error err;
	struct hw_printer *p;
	const char *repo = NULL;
	size_t n = 0;
	int ex;

	ex = parse_common(argc, argv, NULL, CLI_COMMON_SHORT, NULL, NULL, &repo);
	if (ex != 0)
		return ex < 0 ? HW_EXIT_OK : ex;
	if (optind < argc)
		return cli_usage_error("list takes no arguments");
	ex = cli_snap_repo_open(repo, false, &r);
	if (ex > 0)
		return ex;
	if (r != NULL && snap_list(r, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		snap_repo_free(&r);
		return HW_EXIT_IOERR;
	}
	p = cli_printer();
	for (size_t i = 0; i < n; i++) {
		hw_printer_row_begin(p);
		hw_printer_int(p, "id", v[i].id);
		print_time(p, "time", v[i].created_ns);
		hw_printer_str(p, "label", v[i].label);
		if (hw_printer_mode(p) == HW_OUT_JSON) {
			struct hw_buf b;
			hw_buf_init(&b);
			hw_buf_addc(&b, '[');
			const char *s = v[i].scope;
			while (s != NULL && *s != '\0') {
				const char *e = strchr(s, '\n');
				char *one = e ? hw_strndup(s, (size_t)(e - s)) : hw_strdup(s);
				if (b.len > 1)
					hw_buf_addc(&b, ',');
				hw_json_escape(&b, one);
				free(one);
				s = e ? e + 1 : NULL;
			}
			hw_buf_addc(&b, ']');
			hw_printer_json(p, "scope", b.data);
			hw_buf_release(&b);
		} else {
			hw_printer_str(p, "scope", v[i].scope && *v[i].scope ? v[i].scope : "(store)");
		}
		hw_printer_uint(p, "folders", v[i].folders);
		hw_printer_uint(p, "messages", v[i].messages);
		hw_printer_uint(p, "files", v[i].files);
		hw_printer_uint(p, "bytes", v[i].bytes);
		hw_printer_uint(p, "bytes_added", v[i].bytes_added);
		hw_printer_bool(p, "full", v[i].full);
		hw_printer_row_end(p);
	}
	hw_printer_free(&p);
	snap_infos_free(v, n);
	snap_repo_free(&r);
	return HW_EXIT_OK;
}

/* ---- verify ---- */

struct verify_args {
	double percent;
	struct hw_printer *p;
};

static int verify_opt(int c, const char *arg, void *ctx)
{
	struct verify_args *a = ctx;
	char *end;

	if (c != 'S')
		return 0;
	errno = 0;
	a->percent = strtod(arg, &end);
	if (errno != 0 || end == arg || (*end != '\0' && strcmp(end, "%") != 0) ||
	    a->percent <= 0 || a->percent > 100)
		return cli_usage_error("--sample takes a percentage above 0 up to 100, not '%s'", arg);
	return 1;
}

static void verify_bad(void *ctx, const char *pack, uint64_t offset, const char *error,
		       const char *const *affected, size_t naffected)
{
	struct verify_args *a = ctx;
	struct hw_buf b;

	hw_buf_init(&b);
	hw_buf_addc(&b, '[');
	for (size_t i = 0; i < naffected; i++) {
		if (i > 0)
			hw_buf_addc(&b, ',');
		hw_json_escape(&b, affected[i]);
	}
	hw_buf_addc(&b, ']');
	hw_printer_row_begin(a->p);
	hw_printer_str(a->p, "pack", pack);
	hw_printer_uint(a->p, "offset", offset);
	hw_printer_str(a->p, "error", error);
	hw_printer_uint(a->p, "messages_affected", naffected);
	if (hw_printer_mode(a->p) == HW_OUT_JSON)
		hw_printer_json(a->p, "affected", b.data);
	hw_printer_row_end(a->p);
	hw_buf_release(&b);
}

static int snapshot_verify(int argc, char **argv)
{
	static const struct option own[] = { { "sample", required_argument, NULL, 'S' },
					     { NULL, 0, NULL, 0 } };
	struct verify_args a = { .percent = 100 };
	struct snap_verify_opts o;
	struct snap_verify_result res;
	struct snap_repo *r = NULL;
	struct hw_error err;
	const char *repo = NULL;
	int ex;

	ex = parse_common(argc, argv, own, CLI_COMMON_SHORT, verify_opt, &a, &repo);
	if (ex != 0)
		return ex < 0 ? HW_EXIT_OK : ex;
	if (optind < argc)
		return cli_usage_error("verify takes no arguments");
	ex = cli_snap_repo_open(repo, false, &r);
	if (ex != 0) {
		if (ex < 0)
			cli_error("no snapshot repository");
		return ex < 0 ? HW_EXIT_CONFIG : ex;
	}
	o.percent = a.percent;
	a.p = cli_printer();
	if (snap_verify(r, &o, verify_bad, &a, &res, &err) < 0) {
		cli_error("%s", err.msg);
		hw_printer_free(&a.p);
		snap_repo_free(&r);
		return HW_EXIT_IOERR;
	}
	hw_printer_free(&a.p);
	a.p = cli_printer();
	hw_printer_summary_begin(a.p, "snapshot verify");
	hw_printer_uint(a.p, "segments", res.segments);
	hw_printer_uint(a.p, "segments_total", res.total_segments);
	hw_printer_uint(a.p, "members", res.members);
	hw_printer_uint(a.p, "bytes", res.bytes);
	hw_printer_uint(a.p, "bad_segments", res.bad_segments);
	hw_printer_uint(a.p, "bad_members", res.bad_members);
	hw_printer_str(a.p, "verdict", res.bad_segments == 0 && res.bad_members == 0 ? "ok" : "damaged");
	hw_printer_summary_end(a.p);
	hw_printer_free(&a.p);
	snap_repo_free(&r);
	return res.bad_segments || res.bad_members ? HW_EXIT_FINDINGS : cli_exit_from_diag(HW_EXIT_OK);
}

/* ---- prune ---- */

struct prune_args {
	struct snap_prune_opts o;
	struct hw_printer *p;
};

static int prune_opt(int c, const char *arg, void *ctx)
{
	struct prune_args *a = ctx;
	int *slot = NULL;
	char *end;
	long v;

	switch (c) {
	case 'A': slot = &a->o.keep_last; break;
	case 'B': slot = &a->o.keep_hourly; break;
	case 'C': slot = &a->o.keep_daily; break;
	case 'D': slot = &a->o.keep_weekly; break;
	case 'E': slot = &a->o.keep_monthly; break;
	case 'W':
		if (hw_parse_duration(arg, &a->o.keep_within) != 1 || a->o.keep_within <= 0)
			return cli_usage_error("--keep-within takes a duration (30d, 12h, 2w), not '%s'",
					       arg);
		return 1;
	default:
		return 0;
	}
	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 1000000)
		return cli_usage_error("keep rules take a positive count, not '%s'", arg);
	*slot = (int)v;
	return 1;
}

static void prune_row(void *ctx, const struct snap_info *s, const char *rule)
{
	struct prune_args *a = ctx;

	hw_printer_row_begin(a->p);
	hw_printer_int(a->p, "id", s->id);
	print_time(a->p, "time", s->created_ns);
	hw_printer_str(a->p, "label", s->label);
	hw_printer_str(a->p, "action", rule != NULL ? "keep" : "remove");
	hw_printer_str(a->p, "rule", rule != NULL ? rule : "remove");
	hw_printer_row_end(a->p);
}

static int snapshot_prune(int argc, char **argv)
{
	static const struct option own[] = {
		{ "keep-last", required_argument, NULL, 'A' },
		{ "keep-hourly", required_argument, NULL, 'B' },
		{ "keep-daily", required_argument, NULL, 'C' },
		{ "keep-weekly", required_argument, NULL, 'D' },
		{ "keep-monthly", required_argument, NULL, 'E' },
		{ "keep-within", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 } };
	struct prune_args a;
	struct snap_prune_result res;
	struct snap_repo *r = NULL;
	struct hw_error err;
	const char *repo = NULL;
	int ex, rc;

	memset(&a, 0, sizeof(a));
	ex = parse_common(argc, argv, own, CLI_COMMON_SHORT "n", prune_opt, &a, &repo);
	if (ex != 0)
		return ex < 0 ? HW_EXIT_OK : ex;
	if (optind < argc)
		return cli_usage_error("prune takes no arguments");
	if (!a.o.keep_last && !a.o.keep_hourly && !a.o.keep_daily && !a.o.keep_weekly &&
	    !a.o.keep_monthly && !a.o.keep_within) {
		/* no --keep option: the policy's retention, as nightly applies it */
		const struct hw_policy *pol = NULL;
		int pr = cli_policy_load(&pol);
		if (pr > 1)
			return pr;
		if (pol != NULL) {
			const struct hw_policy_snapshots *k = &pol->snapshots;
			a.o.keep_last = k->has_last ? (int)k->last : 0;
			a.o.keep_hourly = k->has_hourly ? (int)k->hourly : 0;
			a.o.keep_daily = k->has_daily ? (int)k->daily : 0;
			a.o.keep_weekly = k->has_weekly ? (int)k->weekly : 0;
			a.o.keep_monthly = k->has_monthly ? (int)k->monthly : 0;
			a.o.keep_within = k->has_within ? k->within : 0;
		}
		if (!a.o.keep_last && !a.o.keep_hourly && !a.o.keep_daily && !a.o.keep_weekly &&
		    !a.o.keep_monthly && !a.o.keep_within)
			return cli_usage_error("no keep rule given (--keep-last N, --keep-daily N, ...)"
					       " and none in the policy's snapshots section: "
					       "refusing to remove every snapshot");
	}
	a.o.dry_run = cli.dry_run;
	a.o.repack_below = 0.5;
	a.o.jobs = cli.jobs;
	ex = cli_snap_repo_open(repo, false, &r);
	if (ex != 0) {
		if (ex < 0)
			cli_error("no snapshot repository");
		return ex < 0 ? HW_EXIT_CONFIG : ex;
	}
	a.p = cli_printer();
	rc = snap_prune(r, &a.o, prune_row, &a, &res, &err);
	hw_printer_free(&a.p);
	if (rc <= 0) {
		cli_error("%s", err.msg);
		snap_repo_free(&r);
		return rc == 0 ? HW_EXIT_LOCKED : HW_EXIT_IOERR;
	}
	a.p = cli_printer();
	hw_printer_summary_begin(a.p, cli.dry_run ? "snapshot prune (dry run)" : "snapshot prune");
	hw_printer_uint(a.p, "kept", res.kept);
	hw_printer_uint(a.p, "removed", res.removed);
	hw_printer_uint(a.p, "packs_deleted", res.packs_deleted);
	hw_printer_uint(a.p, "packs_rewritten", res.packs_rewritten);
	hw_printer_uint(a.p, "bytes_freed", res.bytes_freed);
	hw_printer_summary_end(a.p);
	hw_printer_free(&a.p);
	snap_repo_free(&r);
	return cli_exit_from_diag(HW_EXIT_OK);
}

int cmd_snapshot(int argc, char **argv);
int cmd_snapshot(int argc, char **argv)
{
	const char *sub;

	if (argc < 2) {
		fputs(usage_snapshot, stderr);
		return HW_EXIT_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
		cli_print_usage(usage_snapshot);
		return HW_EXIT_OK;
	}
	if (strcmp(sub, "create") == 0)
		return snapshot_create(argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return snapshot_list(argc - 1, argv + 1);
	if (strcmp(sub, "verify") == 0)
		return snapshot_verify(argc - 1, argv + 1);
	if (strcmp(sub, "prune") == 0)
		return snapshot_prune(argc - 1, argv + 1);
	return cli_usage_error("unknown subcommand '%s' (create, list, verify, prune)", sub);
}
