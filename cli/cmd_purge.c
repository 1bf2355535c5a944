/*
 * cmd_purge.c - hiwater purge [-n] [--json] [FOLDER...]: apply the policy's
 * purge rules.
 *
 * Selection is policy/purge.c (arrival date from the index, never mtime).
 * Removal is composed here, in this order, so that every purge is undoable:
 *   1. snapshot the folders concerned, then ask the snapshot library whether
 *      every selected message is covered; a message that is not is kept;
 *   2. drop the IMAP.MRK records under the folder lock (hw_mrk_remove: the
 *      new index is durable when it returns);
 *   3. unlink the files.
 * A crash between 2 and 3 leaves files without records, which MDaemon and
 * 'hiwater index' treat as new mail: nothing is lost.
 *
 * Without the snapshot capability in this build, purge refuses to remove
 * anything (exit 78) and -n still shows what would go.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "../policy/policy.h"
#include "../snapshot/snapshot.h"

/* step 1: snapshot the folders, then keep only what a snapshot covers */
static int purge_snapshot(const struct hw_policy *pol, const struct hw_store *st,
			  const char *state, struct hw_purge_plan *plan, struct hw_catalog *cat,
			  bool **covered_r, struct hw_purge_result *res, struct hw_error *err)
{
	struct snap_create_opts o = { 0 };
	struct snap_create_result cr;
	struct snap_repo *repo = NULL;
	struct snap_cover *cv = NULL;
	char **folders = hw_calloc(plan->n + 1, sizeof(*folders));
	char *dir;
	size_t k = 0;
	bool *covered = hw_calloc(plan->messages + 1, sizeof(*covered));
	int ret = -1;

	dir = snap_repo_default(state, pol->snapshot_dir);
	if (snap_repo_open(dir, true, &repo, err) <= 0)
		goto out;
	if (snap_repo_lock(repo, err) <= 0) {
		if (err->msg[0] == '\0')
			hw_error_set(err, EWOULDBLOCK, "snapshot repository %s is busy", dir);
		res->exit = HW_EXIT_LOCKED;
		goto out;
	}
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].n > 0)
			folders[k++] = plan->v[i].relpath;
	o.folders = folders;
	o.nfolders = k;
	o.label = "before purge";
	o.window = cli_snap_window(pol);
	o.state_cat = cat;
	if (snap_create(repo, st, &o, &cr, err) < 0) {
		hw_error_prefix(err, "snapshot before purge failed, nothing removed");
		goto out;
	}
	res->snapshot = cr.id;
	cv = hw_calloc(plan->messages + 1, sizeof(*cv));
	k = 0;
	for (size_t i = 0; i < plan->n; i++)
		for (size_t j = 0; j < plan->v[i].n; j++, k++) {
			cv[k].folder = plan->v[i].relpath;
			cv[k].file = plan->v[i].v[j].file;
			cv[k].size = plan->v[i].v[j].size;
		}
	if (snap_covered(repo, cv, k, err) < 0)
		goto out;
	/* only what the snapshot just taken holds: an older snapshot's file of
	   the same name and size may be other content (a name used again), and
	   a file this snapshot could not read has no copy but the live one */
	for (size_t i = 0; i < k; i++)
		covered[i] = cv[i].covered_r && cr.id > 0 && cv[i].snapshot_r == cr.id;
	ret = 1;
out:
	if (ret == 1)
		*covered_r = covered;
	else
		free(covered);
	free(cv);
	free(folders);
	free(dir);
	snap_repo_free(&repo);
	return ret;
}

/* steps 2 and 3 for one folder: records out (durable), then the files */
static void purge_folder_remove(const struct hw_store *st, const struct hw_purge_folder *f,
				const bool *covered, struct hw_purge_result *res)
{
	const char **files = hw_calloc(f->n + 1, sizeof(*files));
	struct hw_error err;
	size_t n = 0;
	int fd, r;

	for (size_t j = 0; j < f->n; j++)
		if (covered[j])
			files[n++] = f->v[j].file;
		else
			res->not_covered++;
	if (n == 0)
		goto out_free;
	fd = hw_store_open_folder(st, f->relpath, &err);
	if (fd < 0) {
		hw_diag_error("%s", err.msg);
		res->folders_failed++;
		goto out_free;
	}
	/* a killed run's IMAP.MRK temp (and folder lock) */
	if (hw_atomic_cleanup(fd, f->relpath, &err) < 0)
		hw_diag_warn("%s", err.msg);
	r = hw_mrk_remove(fd, f->relpath, files, n, &err);
	if (r <= 0) {
		if (r == 0) {
			hw_diag_warn("%s: folder busy, nothing removed (%s)", f->relpath, err.msg);
			res->folders_busy++;
		} else {
			hw_diag_error("%s", err.msg);
			res->folders_failed++;
		}
		goto out;
	}
	for (size_t j = 0, k = 0; j < f->n; j++) {
		if (!covered[j])
			continue;
		if (hw_io_unlinkat(fd, files[k], 0) < 0 && errno != ENOENT) {
			hw_error_sys(&err, "unlink", f->relpath);
			hw_diag_error("%s/%s: %s (its index record is already gone; 'hiwater "
				      "index' will list it again)", f->relpath, files[k], err.msg);
			res->folders_failed++;
		} else {
			res->removed++;
			res->bytes += f->v[j].size;
		}
		k++;
	}
	if (hw_fsync_dir(fd, f->relpath, &err) < 0)
		hw_diag_warn("%s", err.msg);
	res->folders_done++;
out:
	close(fd);
out_free:
	free(files);
}

int cli_purge_run(const struct hw_policy *pol, const struct hw_store *st, const char *state,
		  char *const *args, size_t nargs, bool dry_run, time_t now, time_t deadline,
		  struct hw_purge_plan *plan, struct hw_catalog **cat_r,
		  struct hw_purge_result *res, struct hw_error *err)
{
	char *catpath = hw_path_join(state, HW_CATALOG_NAME);
	bool have_cat = access(catpath, F_OK) == 0;

	free(catpath);
	*cat_r = NULL;
	/* dates come from IMAP.MRK; the catalog only fills in where it is
	   missing, and a dry run never creates it */
	if (have_cat && hw_catalog_open(state, cat_r, err) < 0) {
		hw_diag_warn("catalog not used: %s", err->msg);
		hw_error_clear(err);
	}
	if (hw_purge_plan_build(pol, st, *cat_r, args, nargs, now, plan, err) < 0) {
		res->exit = HW_EXIT_IOERR;
		return -1;
	}
	if (dry_run || plan->messages == 0)
		return 1;
	{
		bool *covered = NULL;
		size_t k = 0;

		if (purge_snapshot(pol, st, state, plan, *cat_r, &covered, res, err) < 0) {
			if (res->exit == 0)
				res->exit = HW_EXIT_PARTIAL;
			return -1;
		}
		for (size_t i = 0; i < plan->n; i++) {
			if (deadline > 0 && time(NULL) >= deadline) {
				res->stopped = true;
				break;
			}
			purge_folder_remove(st, &plan->v[i], covered + k, res);
			k += plan->v[i].n;
		}
		free(covered);
		return 1;
	}
}

static const char usage[] =
	"usage: hiwater purge [-n] [--json] [-c FILE] [FOLDER...]\n"
	"\n"
	"Remove messages selected by the policy's purge rules (hiwater.yaml(5)):\n"
	"older than the rule's older_than by their arrival date in the index\n"
	"(IMAP.MRK, else the catalog; never the file's mtime), or beyond its\n"
	"max_messages. Every message is snapshotted before it is removed, so\n"
	"'hiwater restore' undoes a purge; without the snapshot capability purge\n"
	"refuses (exit 78).\n"
	"\n"
	"  -n, --dry-run   list each message that would go and the rule that selects it\n"
	"\n"
	"Exit 0 done, 1 folders skipped (no index), 2 errors on some folders,\n"
	"75 another run holds the lock, 78 configuration error or no snapshots.\n";

static void print_plan(struct hw_printer *p, const struct hw_purge_plan *plan)
{
	char rule[512], when[32], size[32], dur[32], reason[96];

	for (size_t i = 0; i < plan->n; i++) {
		const struct hw_purge_folder *f = &plan->v[i];
		hw_purge_rule_format(&f->rule, rule, sizeof(rule));
		for (size_t j = 0; j < f->n; j++) {
			const struct hw_purge_item *it = &f->v[j];
			hw_printer_row_begin(p);
			hw_printer_str(p, "folder", f->relpath);
			hw_printer_str(p, "file", it->file);
			hw_printer_uint(p, "uid", it->uid);
			if (hw_printer_mode(p) == HW_OUT_JSON) {
				hw_printer_uint(p, "size", it->size);
				hw_printer_int(p, "arrived", it->date);
			} else {
				hw_format_size(it->size, size, sizeof(size));
				hw_printer_str(p, "size", size);
				hw_time_iso(it->date, when, sizeof(when));
				hw_printer_str(p, "arrived", when);
			}
			if (it->by_age) {
				hw_policy_duration_format(f->rule.older_than, dur, sizeof(dur));
				snprintf(reason, sizeof(reason), "older than %s", dur);
			} else {
				snprintf(reason, sizeof(reason), "beyond the newest %" PRIu64,
					 f->rule.max_messages);
			}
			hw_printer_str(p, "reason", reason);
			hw_printer_str(p, "rule", rule);
			hw_printer_str(p, "date_source", f->date_source);
			hw_printer_row_end(p);
		}
	}
}

int cmd_purge(int argc, char **argv);
int cmd_purge(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_DRYRUN_LONGOPT,
		{ NULL, 0, NULL, 0 }
	};
	const struct hw_policy *pol = NULL;
	struct hw_purge_plan plan;
	struct hw_catalog *cat = NULL;
	struct hw_state_lock lock = { -1 };
	struct hw_purge_result res = { 0 };
	struct hw_printer *p;
	struct hw_store *st = NULL;
	struct hw_error err;
	const char *state;
	int c, r, ex = HW_EXIT_OK;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "n", longopts, NULL)) != -1) {
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
	r = cli_policy_load(&pol);
	if (r > 1)
		return r;
	if (r == 0) {
		cli_error("no policy file, so no purge rules: give -c FILE (or install %s)",
			  CLI_CONFIG_DEFAULT);
		return HW_EXIT_CONFIG;
	}
	if ((st = cli_store_open(&ex)) == NULL)
		return ex;
	if ((state = cli_state_dir(&ex)) == NULL)
		goto out_store;
	if (!cli.dry_run) {
		/* one mutating run at a time (nightly takes the same lock) */
		r = hw_state_lock(state, &lock, &err);
		if (r <= 0) {
			cli_error("%s", err.msg);
			ex = r == 0 ? HW_EXIT_LOCKED : HW_EXIT_IOERR;
			goto out_store;
		}
	}
	hw_purge_plan_init(&plan);
	r = cli_purge_run(pol, st, state, argv + optind, (size_t)(argc - optind), cli.dry_run,
			  time(NULL), 0, &plan, &cat, &res, &err);
	if (r < 0) {
		cli_error("%s", err.msg);
		ex = res.exit != 0 ? res.exit : HW_EXIT_IOERR;
		goto out;
	}
	p = cli_printer();
	if (cli.dry_run)
		print_plan(p, &plan);
	hw_printer_summary_begin(p, cli.dry_run ? "purge (dry run)" : "purge");
	hw_printer_uint(p, "folders", plan.n);
	hw_printer_uint(p, cli.dry_run ? "would_remove" : "removed",
			cli.dry_run ? plan.messages : res.removed);
	hw_printer_uint(p, cli.dry_run ? "would_reclaim_bytes" : "reclaimed_bytes",
			cli.dry_run ? plan.bytes : res.bytes);
	hw_printer_uint(p, "kept_not_in_snapshot", res.not_covered);
	hw_printer_uint(p, "folders_without_index", plan.folders_no_index);
	if (res.snapshot > 0)
		hw_printer_int(p, "snapshot", res.snapshot);
	hw_printer_summary_end(p);
	hw_printer_free(&p);
	if (plan.folders_no_index > 0 || res.not_covered > 0)
		ex = hw_exit_worst(ex, HW_EXIT_FINDINGS);
	if (res.folders_failed > 0)
		ex = hw_exit_worst(ex, HW_EXIT_PARTIAL);
	ex = cli_exit_from_diag(ex);
out:
	hw_purge_plan_release(&plan);
	hw_catalog_free(&cat);
	hw_state_unlock(&lock);
out_store:
	hw_store_free(&st);
	return ex;
}
