/*
 * cmd_nightly.c - hiwater nightly [-n] [--json] [--ignore-window]: the
 * scheduled job. One function per step, each calling a module's public API.
 *
 * Order: snapshot, purge (never after a failed snapshot), index, defrag and
 * relayout (within what is left of the window), logs, snapshot prune,
 * snapshot verify, quota (a report). No step starts after the window's end:
 * the rest are reported as stopped and the run ends cleanly. A run started
 * outside every window does nothing (a late catch-up must not load a live
 * server) unless --ignore-window.
 *
 * Takes STATE/hiwater.lock (a second run exits 75 at once). Writes a JSON
 * report per run to STATE/reports/ and STATE/hiwater.prom (atomically) for
 * node_exporter's textfile collector. -n takes no lock and writes nothing:
 * it prints the plan with a reason per action.
 * Exit 0 all good, 1 warnings (quota, skipped steps or items), 2 a step failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "../defrag/defrag.h"
#include "../policy/policy.h"

#include "../snapshot/snapshot.h"
#include "../indexer/indexer.h"

static const char usage[] =
	"usage: hiwater nightly [-n] [--json] [--ignore-window] [-c FILE]\n"
	"\n"
	"The scheduled maintenance job, in order: snapshot, purge, index, defrag and\n"
	"relayout, log rotation, snapshot prune, snapshot verify, quota report.\n"
	"Runs within the policy's window and stops cleanly at its end.\n"
	"Defrag and relayout take the folders over the policy's defrag thresholds\n"
	"(unset: hiwater frag's verdicts), worst first, within the window and the\n"
	"budget; the next run continues where one stopped. Logs: the policy's logs.\n"
	"\n"
	"  -n, --dry-run     print the plan with a reason for every action; change nothing\n"
	"  --ignore-window   run now even outside the policy's window (a manual run)\n"
	"\n"
	"Writes STATE/reports/nightly-TIME-PID.json and STATE/hiwater.prom.\n"
	"Exit 0 all good, 1 warnings, 2 a step failed, 75 already running.\n";

enum step_status { ST_OK, ST_WARN, ST_FAILED, ST_SKIPPED, ST_STOPPED };
static const char *const status_names[] = {
	"ok", "warning", "failed", "skipped", "stopped",
};

struct step {
	const char *name;
	enum step_status status;
	char detail[512];
	double seconds;
	uint64_t count;       /* items the step handled */
	uint64_t bytes;       /* bytes reclaimed (purge, logs, prune) */
};

/* Figures of a step beyond its count and bytes: in the JSON report under the
   step's "figures" and in hiwater.prom as hiwater_nightly_STEP_NAME. Every
   figure is written on every run (0 when the step did not get that far), so
   that the series do not come and go. */
enum fig {
	FIG_DEFRAG_FOLDERS_MEASURED, FIG_DEFRAG_FOLDERS_SELECTED, FIG_DEFRAG_FOLDERS_DONE,
	FIG_DEFRAG_FILES_REWRITTEN, FIG_DEFRAG_FILES_SKIPPED, FIG_DEFRAG_FILES_RECENT,
	FIG_DEFRAG_REWRITTEN_BYTES, FIG_DEFRAG_FRAGMENTS_BEFORE, FIG_DEFRAG_FRAGMENTS_AFTER,
	FIG_DEFRAG_FPF_BEFORE, FIG_DEFRAG_FPF_AFTER, FIG_DEFRAG_LAYOUT_BEFORE,
	FIG_DEFRAG_LAYOUT_AFTER, FIG_DEFRAG_STOPPED,
	FIG_LOGS_FILES_COMPRESSED, FIG_LOGS_FILES_DELETED, FIG_LOGS_FILES_KEPT_TODAY,
	FIG_LOGS_COMPRESSED_INPUT_BYTES, FIG_LOGS_COMPRESSED_OUTPUT_BYTES, FIG_LOGS_DELETED_BYTES,
	FIG_LOGS_RECLAIMED_BYTES, FIG_LOGS_ERRORS,
	FIG_MAX
};
static const struct {
	const char *step, *name, *help;
	int decimals;
} figures[FIG_MAX] = {
	[FIG_DEFRAG_FOLDERS_MEASURED] = { "defrag", "folders_measured", "Folders measured (FIEMAP).", 0 },
	[FIG_DEFRAG_FOLDERS_SELECTED] = { "defrag", "folders_selected",
		"Folders over the defrag or relayout thresholds.", 0 },
	[FIG_DEFRAG_FOLDERS_DONE] = { "defrag", "folders_done",
		"Selected folders gone through to the end.", 0 },
	[FIG_DEFRAG_FILES_REWRITTEN] = { "defrag", "files_rewritten",
		"Message files rewritten (would be, in a dry run).", 0 },
	[FIG_DEFRAG_FILES_SKIPPED] = { "defrag", "files_skipped",
		"Files left as they were: changed, locked, hard-linked, no space, errors.", 0 },
	[FIG_DEFRAG_FILES_RECENT] = { "defrag", "files_recent",
		"Files left because they were written in the last minute.", 0 },
	[FIG_DEFRAG_REWRITTEN_BYTES] = { "defrag", "rewritten_bytes", "Bytes of the files rewritten.", 0 },
	[FIG_DEFRAG_FRAGMENTS_BEFORE] = { "defrag", "fragments_before",
		"Fragments of the files in the selected folders, before.", 0 },
	[FIG_DEFRAG_FRAGMENTS_AFTER] = { "defrag", "fragments_after",
		"Fragments of the files in the selected folders, after.", 0 },
	[FIG_DEFRAG_FPF_BEFORE] = { "defrag", "fragments_per_file_before",
		"Fragments per file in the selected folders, before (1 is perfect).", 2 },
	[FIG_DEFRAG_FPF_AFTER] = { "defrag", "fragments_per_file_after",
		"Fragments per file in the selected folders, after.", 2 },
	[FIG_DEFRAG_LAYOUT_BEFORE] = { "defrag", "layout_score_before",
		"Layout score of the selected folders, before (1 is one sequential sweep).", 2 },
	[FIG_DEFRAG_LAYOUT_AFTER] = { "defrag", "layout_score_after",
		"Layout score of the selected folders, after.", 2 },
	[FIG_DEFRAG_STOPPED] = { "defrag", "stopped",
		"1 when the window's end or the budget stopped it (the next run continues).", 0 },
	[FIG_LOGS_FILES_COMPRESSED] = { "logs", "files_compressed", "Log files compressed.", 0 },
	[FIG_LOGS_FILES_DELETED] = { "logs", "files_deleted",
		"Log files deleted (older than max_age, or beyond max_total).", 0 },
	[FIG_LOGS_FILES_KEPT_TODAY] = { "logs", "files_kept_today",
		"Log files of the current day, never touched.", 0 },
	[FIG_LOGS_COMPRESSED_INPUT_BYTES] = { "logs", "compressed_input_bytes",
		"Bytes of the log files compressed.", 0 },
	[FIG_LOGS_COMPRESSED_OUTPUT_BYTES] = { "logs", "compressed_output_bytes",
		"Bytes of their compressed copies.", 0 },
	[FIG_LOGS_DELETED_BYTES] = { "logs", "deleted_bytes", "Bytes of the log files deleted.", 0 },
	[FIG_LOGS_RECLAIMED_BYTES] = { "logs", "reclaimed_bytes",
		"Bytes freed by compression and deletion.", 0 },
	[FIG_LOGS_ERRORS] = { "logs", "errors", "Log files that could not be handled.", 0 },
};

struct nightly {
	const struct hw_policy *pol;
	struct hw_store *st;
	const char *state;
	bool dry_run;
	time_t started;
	time_t deadline;       /* 0: none */
	struct hw_buf plan;    /* -n: one line per action */
	struct step *snapshot; /* for purge's "never after a failed snapshot" */
	double fig[FIG_MAX];
};

static void step_set(struct step *s, enum step_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void step_set(struct step *s, enum step_status status, const char *fmt, ...)
{
	va_list ap;

	s->status = status;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
}

static void plan_add(struct nightly *n, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void plan_add(struct nightly *n, const char *step, const char *fmt, ...)
{
	va_list ap;

	hw_buf_addf(&n->plan, "%-9s ", step);
	va_start(ap, fmt);
	hw_buf_vaddf(&n->plan, fmt, ap);
	va_end(ap);
	hw_buf_addc(&n->plan, '\n');
}

/* ---- the steps ---- */

static void step_snapshot(struct nightly *n, struct step *s)
{
	struct snap_create_opts o = { 0 };
	struct snap_create_result res;
	struct snap_repo *repo = NULL;
	struct hw_error err;
	char *dir = snap_repo_default(n->state, n->pol != NULL ? n->pol->snapshot_dir : NULL);

	if (n->dry_run) {
		plan_add(n, "snapshot", "the whole store into %s (unchanged files are not stored "
			 "again)", dir);
		step_set(s, ST_OK, "would snapshot the whole store");
		goto out;
	}
	if (snap_repo_open(dir, true, &repo, &err) <= 0 || snap_repo_lock(repo, &err) <= 0) {
		step_set(s, ST_FAILED, "%s", err.msg[0] != '\0' ? err.msg : "repository busy");
		goto out;
	}
	o.label = "nightly";
	o.window = cli_snap_window(n->pol);
	if (snap_create(repo, n->st, &o, &res, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
		goto out;
	}
	s->count = res.files;
	step_set(s, res.skipped > 0 ? ST_WARN : ST_OK, "snapshot %" PRId64 ": %" PRIu64
		 " files, %" PRIu64 " new (%" PRIu64 " bytes), %" PRIu64 " skipped", res.id,
		 res.files, res.files_added, res.bytes_added, res.skipped);
out:
	snap_repo_free(&repo);
	free(dir);
}

static void step_purge(struct nightly *n, struct step *s)
{
	struct hw_purge_plan plan;
	struct hw_purge_result res = { 0 };
	struct hw_catalog *cat = NULL;
	struct hw_error err;
	char reason[256];

	if (n->pol == NULL) {
		step_set(s, ST_SKIPPED, "no policy, so no purge rules");
		return;
	}
	if (!n->dry_run && n->snapshot->status != ST_OK && n->snapshot->status != ST_WARN) {
		/* every purged message must be in a snapshot first */
		step_set(s, ST_SKIPPED, "skipped: the snapshot step did not succeed (%s)",
			 status_names[n->snapshot->status]);
		return;
	}
	hw_purge_plan_init(&plan);
	if (cli_purge_run(n->pol, n->st, n->state, NULL, 0, n->dry_run,
			  n->started, n->deadline, &plan, &cat, &res, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
		goto out;
	}
	if (n->dry_run) {
		for (size_t i = 0; i < plan.n; i++) {
			const struct hw_purge_folder *f = &plan.v[i];
			if (f->n == 0)
				continue;
			hw_purge_folder_reason(f, reason, sizeof(reason));
			plan_add(n, "purge", "%s of %s@%s: %s", f->imapname, f->mailbox, f->domain,
				 reason);
		}
		if (plan.messages == 0)
			plan_add(n, "purge", "nothing: no message is selected by the rules");
		s->count = plan.messages;
		s->bytes = plan.bytes;
		step_set(s, ST_OK, "would remove %zu messages (%" PRIu64 " bytes)", plan.messages,
			 plan.bytes);
		goto out;
	}
	s->count = res.removed;
	s->bytes = res.bytes;
	step_set(s, res.folders_failed > 0 ? ST_FAILED
		 : res.stopped || res.not_covered > 0 || res.folders_busy > 0 ||
		   plan.folders_no_index > 0 ? ST_WARN : ST_OK,
		 "removed %zu messages (%" PRIu64 " bytes)%s; %zu kept (not in a snapshot), %zu "
		 "folders busy, %zu without index", res.removed, res.bytes,
		 res.stopped ? ", stopped at the window's end" : "", res.not_covered,
		 res.folders_busy, plan.folders_no_index);
out:
	hw_purge_plan_release(&plan);
	hw_catalog_free(&cat);
}

/* set by SIGALRM at the window's end: the indexer starts no new folder */
static int index_stop;

static void index_alarm(int sig)
{
	(void)sig;
	index_stop = 1;
}

struct index_ctx {
	struct nightly *n;
};

static void index_report(void *ctx, const struct indexer_folder_result *r)
{
	struct index_ctx *c = ctx;

	if (c->n->dry_run && r->status == INDEXER_STALE)
		plan_add(c->n, "index", "%s: %s", r->relpath, r->reason != NULL ? r->reason : "stale");
	else if (r->status == INDEXER_ERROR)
		hw_diag_error("index: %s: %s", r->relpath, r->reason != NULL ? r->reason : "error");
}

static void step_index(struct nightly *n, struct step *s)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats stats = { 0 };
	struct index_ctx ctx = { n };
	struct hw_folder_list fl;
	struct hw_catalog *cat = NULL;
	struct hw_error err;
	char *catpath = hw_path_join(n->state, HW_CATALOG_NAME);
	bool have_cat = access(catpath, F_OK) == 0;
	struct sigaction sa = { 0 }, old;

	free(catpath);
	hw_folder_list_init(&fl);
	if (n->dry_run && !have_cat) {
		/* a dry run never creates the catalog */
		plan_add(n, "index", "every folder: no catalog yet, so every folder is indexed");
		step_set(s, ST_OK, "would index every folder (no catalog yet)");
		goto out;
	}
	if (hw_catalog_open(n->state, &cat, &err) < 0 ||
	    hw_store_folders(n->st, NULL, 0, &fl, NULL, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
		goto out;
	}
	o.check = n->dry_run;
	o.jobs = cli.jobs;
	o.stop = &index_stop;
	index_stop = 0;
	if (n->deadline > 0 && !n->dry_run) {
		sa.sa_handler = index_alarm;
		sigaction(SIGALRM, &sa, &old);
		alarm((unsigned)(n->deadline > time(NULL) ? n->deadline - time(NULL) : 1));
	}
	if (indexer_run(n->st, cat, &fl, &o, index_report, &ctx, &stats, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
	} else {
		s->count = n->dry_run ? stats.stale : stats.rebuilt;
		step_set(s, stats.errors > 0 ? ST_FAILED
			 : stats.busy > 0 || index_stop ? ST_WARN : ST_OK,
			 "%zu folders: %zu %s, %zu unchanged, %zu busy, %zu errors%s", stats.folders,
			 n->dry_run ? stats.stale : stats.rebuilt, n->dry_run ? "stale" : "rebuilt",
			 stats.unchanged, stats.busy, stats.errors,
			 index_stop ? "; stopped at the window's end" : "");
	}
	if (n->deadline > 0 && !n->dry_run) {
		alarm(0);
		sigaction(SIGALRM, &old, NULL);
	}
out:
	hw_folder_list_release(&fl);
	hw_catalog_free(&cat);
}

/* ---- defrag and relayout ----
 * Every folder is measured (FIEMAP, as hiwater frag does); a folder whose
 * layout score is below defrag.min_layout_score (and that has enough files
 * for the score to mean something) is relaid out, one whose files average
 * more than defrag.max_fragments fragments is defragged; unset thresholds
 * are the verdict thresholds of hiwater frag. The folder where the last run
 * stopped goes first (from where it stopped), then the worst first, until
 * the window's end or the budget, whichever comes first. Where it stops is
 * kept in the catalog (defrag_resume_put), one point for the nightly cycle:
 * the other kind's point is cleared, and a finished cycle clears both.
 */
struct defrag_pick {
	char *relpath;
	bool relayout;
	bool resumed;       /* the last run stopped in it: it goes first */
	double badness;
	char why[200];
};

static int pick_cmp(const void *a, const void *b)
{
	const struct defrag_pick *x = a, *y = b;

	if (x->resumed != y->resumed)
		return x->resumed ? -1 : 1;
	if (x->badness != y->badness)
		return x->badness > y->badness ? -1 : 1;
	return strcmp(x->relpath, y->relpath);
}

/* the thresholds and, when it is one, why the folder is picked; 0 not */
static int defrag_pick_folder(const struct defrag_folder *f, double max_frag, double min_score,
			      struct defrag_pick *p)
{
	bool relayout, defrag;
	char more[96] = "";

	if (f->unsupported || f->nfiles == 0)
		return 0;
	relayout = f->nfiles >= DEFRAG_RELAYOUT_MIN_FILES && f->layout_score < min_score;
	defrag = f->frag_per_file > max_frag;
	if (!relayout && !defrag)
		return 0;
	p->relayout = relayout;
	p->badness = defrag_folder_badness(f);
	if (relayout) {
		/* relayout also makes every fragmented file whole */
		if (defrag)
			snprintf(more, sizeof(more), "; %.2f fragments per file > %.2f",
				 f->frag_per_file, max_frag);
		snprintf(p->why, sizeof(p->why), "relayout: layout score %.2f < %.2f%s (%zu files)",
			 f->layout_score, min_score, more, f->nfiles);
	} else {
		snprintf(p->why, sizeof(p->why), "defrag: %.2f fragments per file > %.2f (%zu of %zu "
			 "%s in pieces)", f->frag_per_file, max_frag, f->fragmented_files,
			 f->nfiles, f->nfiles == 1 ? "file" : "files");
	}
	return 1;
}

/* the resume point, without creating anything under -n: 1 found, 0 none */
static int defrag_resume_read(struct nightly *n, struct hw_catalog *cat, bool *relayout_r,
			      char **folder_r, char **after_r, struct hw_error *err)
{
	sqlite3_stmt *st;
	int r;

	*folder_r = *after_r = NULL;
	if (n->dry_run) {
		/* defrag_resume_get creates its table on first use */
		if (hw_catalog_prepare(cat, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
				       " AND name = 'defrag_resume'", &st, err) < 0)
			return -1;
		r = sqlite3_step(st);
		sqlite3_reset(st);
		if (r != SQLITE_ROW)
			return 0;
	}
	for (int k = 0; k < 2; k++) {
		r = defrag_resume_get(cat, k == 1, folder_r, after_r, err);
		if (r != 0) {
			*relayout_r = k == 1;
			return r;
		}
	}
	return 0;
}

/* one resume point for the nightly cycle: where it stopped (under that
   folder's kind, the other kind's cleared), or none once the cycle is done */
static int defrag_resume_keep(struct hw_catalog *cat, const struct defrag_pick *picks,
			      size_t npicks, const struct defrag_stats *ds, struct hw_error *err)
{
	bool kind = false;

	if (!ds->stopped)
		return defrag_resume_put(cat, false, NULL, NULL, err) < 0 ||
		       defrag_resume_put(cat, true, NULL, NULL, err) < 0 ? -1 : 1;
	for (size_t i = 0; i < npicks; i++)
		if (strcmp(picks[i].relpath, ds->stopped_folder) == 0)
			kind = picks[i].relayout;
	if (defrag_resume_put(cat, kind, ds->stopped_folder, ds->stopped_after, err) < 0 ||
	    defrag_resume_put(cat, !kind, NULL, NULL, err) < 0)
		return -1;
	return 1;
}

/* The donors made and removed beside the messages moved the folders'
   directory mtimes: the catalog's stamps no longer hold, so quota would
   list every rewritten folder and the next index run check each one again.
   Stamp them now (the files are the same: no header is read). */
static void defrag_restamp(struct nightly *n, struct hw_catalog *cat,
			   const struct hw_folder_list *fl)
{
	struct indexer_opts o = INDEXER_OPTS_INIT;
	struct indexer_stats st = { 0 };
	struct hw_error err;

	o.jobs = cli.jobs;
	if (indexer_run(n->st, cat, fl, &o, NULL, NULL, &st, &err) < 0)
		hw_diag_warn("defrag: stamping the rewritten folders in the catalog: %s", err.msg);
}

static int quiet_secs(void)
{
	const char *q = getenv("HIWATER_DEFRAG_QUIET_SECS");   /* tests: fresh files count as old */

	return q != NULL ? atoi(q) : DEFRAG_QUIET_SECS;
}

static void step_defrag(struct nightly *n, struct step *s)
{
	const struct hw_policy_defrag *pd = n->pol != NULL ? &n->pol->defrag : NULL;
	double max_frag = pd != NULL && pd->has_max_fragments ? pd->max_fragments
							      : DEFRAG_WORTH_DEFRAG;
	double min_score = pd != NULL && pd->has_min_layout_score ? pd->min_layout_score
								  : DEFRAG_WORTH_RELAYOUT;
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats ds = { 0 };
	struct defrag_pick *picks = NULL;
	struct hw_folder_list fl, touched;
	struct hw_catalog *cat = NULL;
	struct hw_error err;
	char *rfolder = NULL, *rafter = NULL, *catpath = NULL, until[32] = "";
	bool rrelayout = false, measure_stopped = false;
	size_t npicks = 0, cap = 0, measured = 0, done = 0, nrelayout = 0, skipped = 0;
	time_t end = n->deadline;
	double t_end;
	int r;

	hw_folder_list_init(&fl);
	hw_folder_list_init(&touched);
	if (pd != NULL && pd->has_budget && pd->budget > 0 &&
	    (end == 0 || time(NULL) + (time_t)pd->budget < end))
		end = time(NULL) + (time_t)pd->budget;
	if (end > 0) {
		struct tm tm;
		localtime_r(&end, &tm);
		strftime(until, sizeof(until), "%H:%M", &tm);
	}
	catpath = hw_path_join(n->state, HW_CATALOG_NAME);
	if ((!n->dry_run || access(catpath, F_OK) == 0) &&
	    (hw_catalog_open(n->state, &cat, &err) < 0 ||
	     defrag_resume_read(n, cat, &rrelayout, &rfolder, &rafter, &err) < 0)) {
		step_set(s, ST_FAILED, "%s", err.msg);
		goto out;
	}
	if (hw_store_folders(n->st, NULL, 0, &fl, NULL, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
		goto out;
	}

	/* measure; a dry run measures everything (it has no window to keep) */
	for (size_t i = 0; i < fl.n; i++) {
		struct defrag_folder f;
		struct defrag_pick p = { 0 };
		struct hw_error ferr;
		int fd;

		if (!n->dry_run && end > 0 && time(NULL) >= end) {
			measure_stopped = true;
			break;
		}
		if ((fd = hw_store_open_folder(n->st, fl.v[i].relpath, &ferr)) < 0) {
			hw_diag_error("defrag: %s", ferr.msg);
			continue;
		}
		defrag_folder_init(&f);
		r = defrag_folder_measure(fd, fl.v[i].relpath, false, &f, &ferr);
		close(fd);
		if (r < 0)
			hw_diag_error("defrag: %s", ferr.msg);
		else
			measured++;
		if (r > 0 && defrag_pick_folder(&f, max_frag, min_score, &p)) {
			p.relpath = hw_strdup(fl.v[i].relpath);
			p.resumed = rfolder != NULL && strcmp(p.relpath, rfolder) == 0;
			HW_GROW(picks, cap, npicks + 1);
			picks[npicks++] = p;
		}
		defrag_folder_release(&f);
	}
	hw_sort(picks, npicks, sizeof(*picks), pick_cmp);
	for (size_t i = 0; i < npicks; i++)
		nrelayout += picks[i].relayout;
	n->fig[FIG_DEFRAG_FOLDERS_MEASURED] = (double)measured;
	n->fig[FIG_DEFRAG_FOLDERS_SELECTED] = (double)npicks;
	if (measure_stopped) {
		step_set(s, ST_WARN, "stopped at the window's end while measuring (%zu of %zu "
			 "folders); nothing rewritten", measured, fl.n);
		goto out;
	}
	if (n->dry_run) {
		if (rfolder != NULL)
			plan_add(n, "defrag", "%s first: the last run stopped there%s%s", rfolder,
				 rafter != NULL ? ", after " : "", rafter != NULL ? rafter : "");
		if (npicks == 0)
			plan_add(n, "defrag", "nothing: no folder over the thresholds (%.2f fragments "
				 "per file, layout score %.2f)", max_frag, min_score);
		else if (until[0] != '\0')
			plan_add(n, "defrag", "worst first, until %s (what does not fit is done by "
				 "the next run)", until);
	}

	o.max_rate = pd != NULL ? (double)pd->max_rate : 0;
	o.quiet_secs = quiet_secs();
	o.dry_run = n->dry_run;
	/* the library's clock is the monotonic one */
	t_end = end > 0 ? hw_monotonic() + (double)(end - time(NULL)) : 0;
	o.deadline = n->dry_run ? 0 : t_end;
	for (size_t i = 0; i < npicks && !ds.stopped; i++) {
		struct defrag_pick *p = &picks[i];
		struct hw_error ferr;
		size_t rewritten = ds.rewritten, would = ds.outcome[DEFRAG_DONE];
		int fd;

		if (o.deadline > 0 && hw_monotonic() >= o.deadline) {
			/* stopped before this folder's first file */
			ds.stopped = true;
			ds.stopped_folder = hw_strdup(p->relpath);
			break;
		}
		if ((fd = hw_store_open_folder(n->st, p->relpath, &ferr)) < 0) {
			hw_diag_error("defrag: %s", ferr.msg);
			continue;
		}
		o.relayout = p->relayout;
		o.resume_after = rfolder != NULL && strcmp(p->relpath, rfolder) == 0 &&
				 rrelayout == p->relayout ? rafter : NULL;
		r = defrag_folder_run(fd, p->relpath, &o, &ds, &ferr);
		close(fd);
		if (!n->dry_run) {
			HW_GROW(touched.v, touched.cap, touched.n + 1);
			hw_folder_fill(&touched.v[touched.n++], p->relpath);
		}
		if (r < 0) {
			hw_diag_error("defrag: %s", ferr.msg);
			continue;
		}
		if (!ds.stopped)
			done++;
		if (n->dry_run)
			plan_add(n, "defrag", "%s: %s; %zu %s would be rewritten", p->relpath, p->why,
				 ds.outcome[DEFRAG_DONE] - would,
				 ds.outcome[DEFRAG_DONE] - would == 1 ? "file" : "files");
		else if (cli.verbose > 0)
			hw_diag_info("defrag: %s: %s; %zu files rewritten", p->relpath, p->why,
				     ds.rewritten - rewritten);
	}
	if (cat != NULL && !n->dry_run && defrag_resume_keep(cat, picks, npicks, &ds, &err) < 0)
		hw_diag_error("defrag: %s", err.msg);
	if (cat != NULL && touched.n > 0)
		defrag_restamp(n, cat, &touched);

	for (int k = 0; k < DEFRAG_SKIP_MAX; k++)
		/* a file written in the last minute is normal on a live server:
		   the next run takes it */
		if (defrag_skip_is_finding((enum defrag_skip)k) && k != DEFRAG_SKIP_RECENT)
			skipped += ds.outcome[k];
	s->count = n->dry_run ? ds.outcome[DEFRAG_DONE] : ds.rewritten;
	n->fig[FIG_DEFRAG_FOLDERS_DONE] = (double)done;
	n->fig[FIG_DEFRAG_FILES_REWRITTEN] = (double)s->count;
	n->fig[FIG_DEFRAG_FILES_SKIPPED] = (double)skipped;
	n->fig[FIG_DEFRAG_FILES_RECENT] = (double)ds.outcome[DEFRAG_SKIP_RECENT];
	n->fig[FIG_DEFRAG_REWRITTEN_BYTES] = (double)ds.bytes;
	n->fig[FIG_DEFRAG_FRAGMENTS_BEFORE] = (double)ds.frags_before;
	n->fig[FIG_DEFRAG_FRAGMENTS_AFTER] = (double)ds.frags_after;
	n->fig[FIG_DEFRAG_FPF_BEFORE] = ds.files_before > 0 ?
		(double)ds.frags_before / (double)ds.files_before : 1.0;
	n->fig[FIG_DEFRAG_FPF_AFTER] = ds.files_after > 0 ?
		(double)ds.frags_after / (double)ds.files_after : 1.0;
	n->fig[FIG_DEFRAG_LAYOUT_BEFORE] = ds.pairs_before > 0 ?
		(double)ds.adjacent_before / (double)ds.pairs_before : 1.0;
	n->fig[FIG_DEFRAG_LAYOUT_AFTER] = ds.pairs_after > 0 ?
		(double)ds.adjacent_after / (double)ds.pairs_after : 1.0;
	n->fig[FIG_DEFRAG_STOPPED] = ds.stopped;
	if (npicks == 0) {
		step_set(s, ST_OK, "%zu folders measured, none over the thresholds (%.2f fragments "
			 "per file, layout score %.2f)", measured, max_frag, min_score);
	} else if (n->dry_run) {
		step_set(s, ST_OK, "%zu of %zu folders over the thresholds (%zu relayout, %zu "
			 "defrag): %zu files would be rewritten", npicks, measured, nrelayout,
			 npicks - nrelayout, ds.outcome[DEFRAG_DONE]);
	} else {
		char size[32];
		hw_format_size(ds.bytes, size, sizeof(size));
		step_set(s, skipped > 0 || ds.stopped ? ST_WARN : ST_OK,
			 "%zu of %zu folders over the thresholds (%zu relayout, %zu defrag): %zu files "
			 "rewritten (%s), %zu skipped; fragments per file %.2f -> %.2f, layout %.2f -> "
			 "%.2f%s%s%s", npicks, measured, nrelayout, npicks - nrelayout, ds.rewritten,
			 size, skipped + ds.outcome[DEFRAG_SKIP_RECENT],
			 n->fig[FIG_DEFRAG_FPF_BEFORE], n->fig[FIG_DEFRAG_FPF_AFTER],
			 n->fig[FIG_DEFRAG_LAYOUT_BEFORE], n->fig[FIG_DEFRAG_LAYOUT_AFTER],
			 ds.stopped ? "; stopped in " : "", ds.stopped ? ds.stopped_folder : "",
			 ds.stopped ? ", the next run continues there" : "");
	}
out:
	for (size_t i = 0; i < npicks; i++)
		free(picks[i].relpath);
	free(picks);
	free(rfolder);
	free(rafter);
	free(catpath);
	defrag_stats_release(&ds);
	hw_folder_list_release(&touched);
	hw_folder_list_release(&fl);
	hw_catalog_free(&cat);
}

/* ---- logs ---- */
static void logs_report(void *ctx, const char *name, enum logs_action a, const char *why,
			uint64_t before, uint64_t after)
{
	struct nightly *n = ctx;

	(void)after;
	if (n->dry_run && a != LOGS_KEEP_TODAY)
		plan_add(n, "logs", "%s %s: %s (%" PRIu64 " bytes)",
			 a == LOGS_COMPRESS ? "compress" : a == LOGS_FINISH ? "finish" :
			 a == LOGS_DELETE_AGE || a == LOGS_DELETE_TOTAL ? "delete" :
			 logs_action_name(a), name, why, before);
}

static void step_logs(struct nightly *n, struct step *s)
{
	const struct hw_policy_logs *pl;
	struct logs_opts o = { .compress = LOGS_ZSTD, .keep_days = 1, .max_age = -1 };
	struct logs_stats ls = { 0 };
	struct hw_error err;
	char in[32], out[32], del[32];
	uint64_t reclaimed;

	if (n->pol == NULL || !n->pol->logs.has_dir) {
		step_set(s, ST_SKIPPED, "no logs.dir in the policy");
		if (n->dry_run)
			plan_add(n, "logs", "nothing: no logs.dir in the policy");
		return;
	}
	pl = &n->pol->logs;
	if (pl->compress != NULL && strcmp(pl->compress, "gzip") == 0)
		o.compress = LOGS_GZIP;
	if (pl->has_keep_days)
		o.keep_days = (int)pl->keep_days;
	if (pl->compress != NULL && strcmp(pl->compress, "none") == 0)
		o.keep_days = INT_MAX;   /* nothing is old enough to compress */
	if (pl->has_max_age && pl->max_age > 0)
		o.max_age = (int)(pl->max_age / 86400);   /* logs_run counts whole days */
	if (pl->has_max_total)
		o.max_total = pl->max_total;
	o.dry_run = n->dry_run;
	o.report = logs_report;
	o.report_ctx = n;
	if (logs_run(pl->dir, &o, &ls, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
		return;
	}
	reclaimed = (ls.bytes_in > ls.bytes_out ? ls.bytes_in - ls.bytes_out : 0) +
		    ls.bytes_deleted;
	s->count = ls.compressed + ls.deleted;
	s->bytes = n->dry_run ? 0 : reclaimed;
	n->fig[FIG_LOGS_FILES_COMPRESSED] = (double)ls.compressed;
	n->fig[FIG_LOGS_FILES_DELETED] = (double)ls.deleted;
	n->fig[FIG_LOGS_FILES_KEPT_TODAY] = (double)ls.kept_today;
	n->fig[FIG_LOGS_COMPRESSED_INPUT_BYTES] = (double)ls.bytes_in;
	n->fig[FIG_LOGS_COMPRESSED_OUTPUT_BYTES] = (double)ls.bytes_out;
	n->fig[FIG_LOGS_DELETED_BYTES] = (double)ls.bytes_deleted;
	n->fig[FIG_LOGS_RECLAIMED_BYTES] = (double)s->bytes;
	n->fig[FIG_LOGS_ERRORS] = (double)ls.errors;
	hw_format_size(ls.bytes_in, in, sizeof(in));
	hw_format_size(ls.bytes_out, out, sizeof(out));
	hw_format_size(ls.bytes_deleted, del, sizeof(del));
	if (n->dry_run) {
		if (ls.compressed + ls.deleted + ls.finished == 0)
			plan_add(n, "logs", "nothing in %s: no log old enough", pl->dir);
		step_set(s, ST_OK, "would compress %zu files (%s), delete %zu (%s); %zu of today "
			 "kept", ls.compressed, in, ls.deleted, del, ls.kept_today);
		return;
	}
	hw_format_size(reclaimed, del, sizeof(del));
	step_set(s, ls.errors > 0 ? ST_FAILED : ls.mismatches > 0 ? ST_WARN : ST_OK,
		 "%zu files compressed (%s -> %s), %zu deleted, %zu of today kept; %s reclaimed%s",
		 ls.compressed, in, out, ls.deleted, ls.kept_today, del,
		 ls.errors > 0 ? "; errors on some files" : ls.mismatches > 0 ?
		 "; mismatching pairs left alone" : "");
}

static int snap_open_existing(struct nightly *n, struct snap_repo **repo_r, struct hw_error *err)
{
	char *dir = snap_repo_default(n->state, n->pol != NULL ? n->pol->snapshot_dir : NULL);
	int r = snap_repo_open(dir, false, repo_r, err);

	free(dir);
	return r;
}

static void step_prune(struct nightly *n, struct step *s)
{
	const struct hw_policy_snapshots *k = n->pol != NULL ? &n->pol->snapshots : NULL;
	struct snap_prune_opts o = { 0 };
	struct snap_prune_result res = { 0 };
	struct snap_repo *repo = NULL;
	struct hw_error err;
	int r;

	if (k == NULL || !(k->has_last || k->has_hourly || k->has_daily || k->has_weekly ||
			   k->has_monthly || k->has_within)) {
		step_set(s, ST_SKIPPED, "no snapshots retention in the policy");
		if (n->dry_run)
			plan_add(n, "prune", "nothing: no retention in the policy");
		return;
	}
	if ((r = snap_open_existing(n, &repo, &err)) <= 0) {
		step_set(s, r < 0 ? ST_FAILED : ST_SKIPPED, "%s",
			 r < 0 ? err.msg : "no snapshot repository yet");
		return;
	}
	o.keep_last = (int)k->last;
	o.keep_hourly = (int)k->hourly;
	o.keep_daily = (int)k->daily;
	o.keep_weekly = (int)k->weekly;
	o.keep_monthly = (int)k->monthly;
	o.keep_within = k->within;
	o.dry_run = n->dry_run;
	if (!n->dry_run && snap_repo_lock(repo, &err) <= 0) {
		step_set(s, ST_FAILED, "%s", err.msg[0] != '\0' ? err.msg : "repository busy");
	} else if (snap_prune(repo, &o, NULL, NULL, &res, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
	} else {
		s->count = res.removed;
		s->bytes = res.bytes_freed;
		step_set(s, ST_OK, "%s%" PRIu64 " snapshots removed, %" PRIu64 " kept",
			 n->dry_run ? "would be: " : "", res.removed, res.kept);
		if (n->dry_run)
			plan_add(n, "prune", "%" PRIu64 " snapshots by the retention rules",
				 res.removed);
	}
	snap_repo_free(&repo);
}

static void step_verify(struct nightly *n, struct step *s)
{
	struct snap_verify_opts o = { 0 };
	struct snap_verify_result res = { 0 };
	struct snap_repo *repo = NULL;
	struct hw_error err;
	int r;

	if (n->pol == NULL || !n->pol->snapshots.has_verify_sample ||
	    n->pol->snapshots.verify_sample <= 0) {
		step_set(s, ST_SKIPPED, "no snapshots.verify_sample in the policy");
		return;
	}
	o.percent = n->pol->snapshots.verify_sample;
	if (n->dry_run) {
		plan_add(n, "verify", "%.1f%% of the snapshot segments, least recently verified first",
			 o.percent);
		step_set(s, ST_OK, "would verify %.1f%%", o.percent);
		return;
	}
	if ((r = snap_open_existing(n, &repo, &err)) <= 0) {
		step_set(s, r < 0 ? ST_FAILED : ST_SKIPPED, "%s",
			 r < 0 ? err.msg : "no snapshot repository yet");
		return;
	}
	if (snap_verify(repo, &o, NULL, NULL, &res, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
	} else {
		s->count = res.members;
		step_set(s, res.bad_segments > 0 ? ST_FAILED : ST_OK, "%" PRIu64 " segments, %"
			 PRIu64 " messages checked, %" PRIu64 " bad segments", res.segments,
			 res.members, res.bad_segments);
	}
	snap_repo_free(&repo);
}

static void step_quota(struct nightly *n, struct step *s)
{
	struct hw_quota_report rep;
	struct hw_catalog *cat = NULL;
	struct hw_error err;
	char *catpath = hw_path_join(n->state, HW_CATALOG_NAME);
	size_t warn = 0, over = 0;

	if (access(catpath, F_OK) == 0 && hw_catalog_open(n->state, &cat, &err) < 0)
		cat = NULL;
	free(catpath);
	hw_quota_report_init(&rep);
	if (hw_quota_collect(n->pol, n->st, cat, NULL, 0, &rep, &err) < 0) {
		step_set(s, ST_FAILED, "%s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < rep.n; i++) {
		char size[32];
		if (rep.v[i].state == HW_QUOTA_OK)
			continue;
		warn += rep.v[i].state == HW_QUOTA_WARN;
		over += rep.v[i].state == HW_QUOTA_OVER;
		hw_format_size(rep.v[i].bytes, size, sizeof(size));
		if (n->dry_run)
			plan_add(n, "quota", "%s@%s: %s, over its %s", rep.v[i].mailbox,
				 rep.v[i].domain, size,
				 rep.v[i].state == HW_QUOTA_OVER ? "limit" : "warning level");
		else
			hw_diag_warn("quota: %s@%s uses %s, over its %s", rep.v[i].mailbox,
				     rep.v[i].domain, size,
				     rep.v[i].state == HW_QUOTA_OVER ? "limit" : "warning level");
	}
	s->count = rep.n;
	step_set(s, warn + over > 0 ? ST_WARN : ST_OK, "%zu mailboxes, %zu over warn, %zu over limit",
		 rep.n, warn, over);
out:
	hw_quota_report_release(&rep);
	hw_catalog_free(&cat);
}

static const struct {
	const char *name;
	void (*fn)(struct nightly *n, struct step *s);
} steps[] = {
	{ "snapshot", step_snapshot },
	{ "purge", step_purge },
	{ "index", step_index },
	{ "defrag", step_defrag },
	{ "logs", step_logs },
	{ "prune", step_prune },
	{ "verify", step_verify },
	{ "quota", step_quota },
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

/* ---- reports ---- */

static void report_json(struct hw_buf *b, const struct nightly *n, const struct step *sv,
			int ex, time_t finished, const char *window, bool outside)
{
	char t[32];

	hw_buf_adds(b, "{\"command\":\"nightly\",\"dry_run\":");
	hw_buf_adds(b, n->dry_run ? "true" : "false");
	hw_time_iso((int64_t)n->started, t, sizeof(t));
	hw_buf_addf(b, ",\"started\":\"%s\",\"started_unix\":%lld", t, (long long)n->started);
	hw_time_iso((int64_t)finished, t, sizeof(t));
	hw_buf_addf(b, ",\"finished\":\"%s\",\"finished_unix\":%lld", t, (long long)finished);
	hw_buf_adds(b, ",\"window\":");
	hw_json_escape(b, window);
	hw_buf_addf(b, ",\"outside_window\":%s", outside ? "true" : "false");
	if (n->deadline > 0)
		hw_buf_addf(b, ",\"window_end_unix\":%lld", (long long)n->deadline);
	hw_buf_adds(b, ",\"store\":");
	hw_json_escape(b, hw_store_path(n->st));
	hw_buf_addf(b, ",\"exit\":%d,\"steps\":[", ex);
	for (size_t i = 0; i < NSTEPS; i++) {
		hw_buf_adds(b, i > 0 ? ",{\"step\":" : "{\"step\":");
		hw_json_escape(b, sv[i].name);
		hw_buf_adds(b, ",\"status\":");
		hw_json_escape(b, status_names[sv[i].status]);
		hw_buf_addf(b, ",\"seconds\":%.3f,\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
			    ",\"detail\":", sv[i].seconds, sv[i].count, sv[i].bytes);
		hw_json_escape(b, sv[i].detail);
		for (int f = 0, first = 1; f < FIG_MAX; f++) {
			if (strcmp(figures[f].step, sv[i].name) != 0)
				continue;
			hw_buf_addf(b, "%s\"%s\":%.*f", first ? ",\"figures\":{" : ",",
				    figures[f].name, figures[f].decimals, n->fig[f]);
			first = 0;
			if (f + 1 == FIG_MAX || strcmp(figures[f + 1].step, sv[i].name) != 0)
				hw_buf_addc(b, '}');
		}
		hw_buf_addc(b, '}');
	}
	hw_buf_adds(b, "]");
	if (n->dry_run) {
		hw_buf_adds(b, ",\"plan\":");
		hw_json_escape(b, n->plan.data != NULL ? n->plan.data : "");
	}
	hw_buf_adds(b, "}\n");
}

/* the previous run's last success time, kept when this run fails */
static long long prom_last_success(const char *state)
{
	char *path = hw_path_join(state, "hiwater.prom"), *data = NULL, *p;
	struct hw_error err;
	size_t len;
	long long v = 0;

	if (hw_read_file_at(AT_FDCWD, path, path, 1 << 20, &data, &len, &err) == 1 &&
	    (p = strstr(data, "\nhiwater_nightly_last_success_timestamp_seconds ")) != NULL)
		v = strtoll(p + strlen("\nhiwater_nightly_last_success_timestamp_seconds "), NULL, 10);
	free(data);
	free(path);
	return v;
}

static void report_prom(struct hw_buf *b, const struct nightly *n, const struct step *sv, int ex,
			time_t finished, long long last_success)
{
	uint64_t reclaimed = 0;

	hw_buf_adds(b, "# HELP hiwater_nightly_step_duration_seconds Time each step of the last "
		    "nightly run took.\n# TYPE hiwater_nightly_step_duration_seconds gauge\n");
	for (size_t i = 0; i < NSTEPS; i++)
		hw_buf_addf(b, "hiwater_nightly_step_duration_seconds{step=\"%s\"} %.3f\n",
			    sv[i].name, sv[i].seconds);
	hw_buf_adds(b, "# HELP hiwater_nightly_step_status Step outcome of the last run "
		    "(1 for the status it had).\n# TYPE hiwater_nightly_step_status gauge\n");
	for (size_t i = 0; i < NSTEPS; i++)
		hw_buf_addf(b, "hiwater_nightly_step_status{step=\"%s\",status=\"%s\"} 1\n",
			    sv[i].name, status_names[sv[i].status]);
	hw_buf_adds(b, "# HELP hiwater_nightly_step_items Items each step handled in the last "
		    "run.\n# TYPE hiwater_nightly_step_items gauge\n");
	for (size_t i = 0; i < NSTEPS; i++)
		hw_buf_addf(b, "hiwater_nightly_step_items{step=\"%s\"} %" PRIu64 "\n", sv[i].name,
			    sv[i].count);
	hw_buf_adds(b, "# HELP hiwater_nightly_step_bytes_reclaimed Bytes each step freed in the "
		    "last run.\n# TYPE hiwater_nightly_step_bytes_reclaimed gauge\n");
	for (size_t i = 0; i < NSTEPS; i++) {
		hw_buf_addf(b, "hiwater_nightly_step_bytes_reclaimed{step=\"%s\"} %" PRIu64 "\n",
			    sv[i].name, sv[i].bytes);
		reclaimed += sv[i].bytes;
	}
	for (int f = 0; f < FIG_MAX; f++)
		hw_buf_addf(b, "# HELP hiwater_nightly_%s_%s %s\n# TYPE hiwater_nightly_%s_%s gauge\n"
			    "hiwater_nightly_%s_%s %.*f\n", figures[f].step, figures[f].name,
			    figures[f].help, figures[f].step, figures[f].name, figures[f].step,
			    figures[f].name, figures[f].decimals, n->fig[f]);
	hw_buf_addf(b, "# HELP hiwater_nightly_bytes_reclaimed Bytes freed by the last run.\n"
		    "# TYPE hiwater_nightly_bytes_reclaimed gauge\n"
		    "hiwater_nightly_bytes_reclaimed %" PRIu64 "\n", reclaimed);
	hw_buf_addf(b, "# HELP hiwater_nightly_exit_code Exit code of the last run.\n"
		    "# TYPE hiwater_nightly_exit_code gauge\nhiwater_nightly_exit_code %d\n", ex);
	hw_buf_addf(b, "# HELP hiwater_nightly_last_run_timestamp_seconds When the last run "
		    "finished.\n# TYPE hiwater_nightly_last_run_timestamp_seconds gauge\n"
		    "hiwater_nightly_last_run_timestamp_seconds %lld\n", (long long)finished);
	hw_buf_addf(b, "# HELP hiwater_nightly_last_success_timestamp_seconds When a run last "
		    "finished without a failed step (0: never).\n"
		    "# TYPE hiwater_nightly_last_success_timestamp_seconds gauge\n"
		    "hiwater_nightly_last_success_timestamp_seconds %lld\n",
		    ex < HW_EXIT_PARTIAL ? (long long)finished : last_success);
}

static int write_reports(const struct nightly *n, const char *json, const char *prom)
{
	char *rdir = hw_path_join(n->state, "reports"), name[64], t[32];
	struct hw_error err;
	int fd, ret = 0;

	fd = open(n->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* a killed run's temps would otherwise stay for ever */
	if (fd >= 0 && hw_atomic_cleanup(fd, n->state, &err) < 0)
		hw_diag_warn("%s", err.msg);
	if (fd < 0 || hw_atomic_replace(fd, n->state, "hiwater.prom", prom, strlen(prom), 0644,
					&err) < 0) {
		if (fd < 0)
			hw_error_sys(&err, "open", n->state);
		hw_diag_error("cannot write the Prometheus file: %s", err.msg);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	if (mkdir(rdir, 0700) < 0 && errno != EEXIST) {
		hw_error_sys(&err, "mkdir", rdir);
		hw_diag_error("cannot write the report: %s", err.msg);
		free(rdir);
		return -1;
	}
	hw_time_iso((int64_t)n->started, t, sizeof(t));
	/* the pid keeps two runs in the same second apart */
	snprintf(name, sizeof(name), "nightly-%s-%ld.json", t, (long)getpid());
	for (char *c = name; *c != '\0'; c++)
		if (*c == ':')
			*c = '-';   /* portable file names */
	fd = open(rdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && hw_atomic_cleanup(fd, rdir, &err) < 0)
		hw_diag_warn("%s", err.msg);
	if (fd < 0 || hw_atomic_replace(fd, rdir, name, json, strlen(json), 0644, &err) < 0) {
		if (fd < 0)
			hw_error_sys(&err, "open", rdir);
		hw_diag_error("cannot write the report: %s", err.msg);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	free(rdir);
	return ret;
}

int cmd_nightly(int argc, char **argv);
int cmd_nightly(int argc, char **argv)
{
	enum { OPT_IGNORE_WINDOW = CLI_OPT_FIRST_OWN };
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_DRYRUN_LONGOPT,
		{ "ignore-window", no_argument, NULL, OPT_IGNORE_WINDOW },
		{ NULL, 0, NULL, 0 }
	};
	struct nightly n = { 0 };
	struct step sv[NSTEPS];
	struct hw_state_lock lock = { -1 };
	struct hw_error err;
	struct hw_buf json, prom;
	bool ignore_window = false, outside = false, failed = false, warned = false;
	char window[256];
	long long last_success;
	time_t finished, last_end;
	int c, r, ex = HW_EXIT_OK;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "n", longopts, NULL)) != -1) {
		if (c == OPT_IGNORE_WINDOW) {
			ignore_window = true;
			continue;
		}
		r = cli_common_opt(c, optarg, usage);
		if (r < 0)
			return HW_EXIT_OK;
		if (r == 0)
			return cli_usage_error("unknown option '%s'", argv[optind - 1]);
		if (r > 1)
			return r;
	}
	if (optind < argc)
		return cli_usage_error("nightly takes no FOLDER arguments (the policy decides)");
	if (cli_policy_load(&n.pol) > 1)
		return HW_EXIT_CONFIG;
	if ((n.st = cli_store_open(&ex)) == NULL)
		return ex;
	if ((n.state = cli_state_dir(&ex)) == NULL)
		goto out_store;
	n.dry_run = cli.dry_run;
	if (!n.dry_run) {
		r = hw_state_lock(n.state, &lock, &err);
		if (r <= 0) {
			cli_error("%s", err.msg);
			ex = r == 0 ? HW_EXIT_LOCKED : HW_EXIT_IOERR;
			goto out_store;
		}
	}
	hw_buf_init(&n.plan);
	n.started = time(NULL);
	hw_policy_window_format(n.pol, window, sizeof(window));
	if (!ignore_window && hw_policy_window_at(n.pol, n.started, &last_end) == 0)
		outside = true;
	else if (!ignore_window)
		n.deadline = last_end;
	memset(sv, 0, sizeof(sv));
	n.snapshot = &sv[0];
	for (size_t i = 0; i < NSTEPS; i++) {
		double t0 = hw_monotonic();

		sv[i].name = steps[i].name;
		if (outside) {
			step_set(&sv[i], ST_STOPPED, "outside the maintenance window (%s)", window);
			if (n.dry_run)
				plan_add(&n, sv[i].name, "nothing: outside the maintenance window (%s)",
					 window);
			continue;
		}
		if (n.deadline > 0 && time(NULL) >= n.deadline) {
			step_set(&sv[i], ST_STOPPED, "not started: the window ended");
			if (n.dry_run)
				plan_add(&n, sv[i].name, "nothing: the window ends first");
			continue;
		}
		steps[i].fn(&n, &sv[i]);
		sv[i].seconds = hw_monotonic() - t0;
	}
	finished = time(NULL);
	for (size_t i = 0; i < NSTEPS; i++) {
		failed |= sv[i].status == ST_FAILED;
		warned |= sv[i].status == ST_WARN || sv[i].status == ST_STOPPED;
	}
	ex = failed ? HW_EXIT_PARTIAL : warned ? HW_EXIT_FINDINGS : HW_EXIT_OK;
	ex = cli_exit_from_diag(ex);

	hw_buf_init(&json);
	hw_buf_init(&prom);
	report_json(&json, &n, sv, ex, finished, window, outside);
	if (!n.dry_run) {
		last_success = prom_last_success(n.state);
		report_prom(&prom, &n, sv, ex, finished, last_success);
		if (write_reports(&n, json.data, prom.data) < 0)
			ex = hw_exit_worst(ex, HW_EXIT_PARTIAL);
	}
	if (cli.json) {
		fputs(json.data, stdout);
	} else {
		if (n.dry_run)
			printf("plan (dry run, nothing is changed):\n%s\n",
			       n.plan.data != NULL ? n.plan.data : "");
		printf("hiwater nightly%s: window %s%s\n", n.dry_run ? " -n" : "", window,
		       outside ? " (outside it now: nothing done)" : "");
		for (size_t i = 0; i < NSTEPS; i++)
			printf("  %-9s %-13s %6.1fs  %s\n", sv[i].name, status_names[sv[i].status],
			       sv[i].seconds, sv[i].detail);
		printf("exit %d: %s\n", ex, ex == 0 ? "all good" : ex == 1 ? "done, with warnings"
					 : "a step failed");
	}
	hw_buf_release(&json);
	hw_buf_release(&prom);
	hw_buf_release(&n.plan);
	hw_state_unlock(&lock);
out_store:
	hw_store_free(&n.st);
	return ex;
}
