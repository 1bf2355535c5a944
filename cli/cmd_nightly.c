/*
 * cmd_nightly.c - hiwater nightly [-n] [--json] [--ignore-window]: the
 * scheduled job. One function per step, each calling a module's public API;
 * a step whose module is not in this build says "not available" (it is
 * never imitated).
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
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "../policy/policy.h"

#if defined(__has_include)
#if __has_include("../snapshot/snapshot.h")
#include "../snapshot/snapshot.h"
#define HW_HAVE_SNAPSHOT 1
#endif
#if __has_include("../indexer/indexer.h")
#include "../indexer/indexer.h"
#define HW_HAVE_INDEXER 1
#endif
#endif

static const char usage[] =
	"usage: hiwater nightly [-n] [--json] [--ignore-window] [-c FILE]\n"
	"\n"
	"The scheduled maintenance job, in order: snapshot, purge, index, defrag and\n"
	"relayout, log rotation, snapshot prune, snapshot verify, quota report.\n"
	"Runs within the policy's window and stops cleanly at its end.\n"
	"\n"
	"  -n, --dry-run     print the plan with a reason for every action; change nothing\n"
	"  --ignore-window   run now even outside the policy's window (a manual run)\n"
	"\n"
	"Writes STATE/reports/nightly-TIME-PID.json and STATE/hiwater.prom.\n"
	"Exit 0 all good, 1 warnings, 2 a step failed, 75 already running.\n";

enum step_status { ST_OK, ST_WARN, ST_FAILED, ST_SKIPPED, ST_NOT_AVAILABLE, ST_STOPPED };
static const char *const status_names[] = {
	"ok", "warning", "failed", "skipped", "not available", "stopped",
};

struct step {
	const char *name;
	enum step_status status;
	char detail[512];
	double seconds;
	uint64_t count;       /* items the step handled */
	uint64_t bytes;       /* bytes reclaimed (purge, logs, prune) */
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
#ifdef HW_HAVE_SNAPSHOT
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
#else
	step_set(s, ST_NOT_AVAILABLE, "not available: this build has no snapshot module");
	if (n->dry_run)
		plan_add(n, "snapshot", "not available in this build");
#endif
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
	if (cli_purge_run(n->pol, n->st, n->state, NULL, 0, n->dry_run || !cli_purge_can_remove(),
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
		else if (!cli_purge_can_remove())
			plan_add(n, "purge", "(not available in this build: purge needs the "
				 "snapshot capability, so nothing would be removed)");
		s->count = plan.messages;
		s->bytes = plan.bytes;
		step_set(s, ST_OK, "would remove %zu messages (%" PRIu64 " bytes)", plan.messages,
			 plan.bytes);
		goto out;
	}
	if (!cli_purge_can_remove()) {
		step_set(s, plan.messages > 0 ? ST_NOT_AVAILABLE : ST_OK,
			 plan.messages > 0 ? "not available: no snapshot capability in this build, "
			 "%zu selected messages kept" : "nothing to purge (%zu)", plan.messages);
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

#ifdef HW_HAVE_INDEXER
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
#endif

static void step_index(struct nightly *n, struct step *s)
{
#ifdef HW_HAVE_INDEXER
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
#else
	step_set(s, ST_NOT_AVAILABLE, "not available: this build has no indexer module");
	if (n->dry_run)
		plan_add(n, "index", "not available in this build");
#endif
}

static void step_defrag(struct nightly *n, struct step *s)
{
	/* wire to defrag/defrag.h (folders over defrag.max_fragments or under
	   defrag.min_layout_score, until n->deadline, at defrag.max_rate) once it
	   is on main */
	step_set(s, ST_NOT_AVAILABLE, "not available: this build has no defrag module");
	if (n->dry_run)
		plan_add(n, "defrag", "not available in this build");
}

static void step_logs(struct nightly *n, struct step *s)
{
	if (n->pol == NULL || !n->pol->logs.has_dir) {
		step_set(s, ST_SKIPPED, "no logs.dir in the policy");
		if (n->dry_run)
			plan_add(n, "logs", "nothing: no logs.dir in the policy");
		return;
	}
	/* wire to the layout module's log rotation once it is on main */
	step_set(s, ST_NOT_AVAILABLE, "not available: this build has no log rotation module");
	if (n->dry_run)
		plan_add(n, "logs", "not available in this build (would rotate %s)",
			 n->pol->logs.dir);
}

#ifdef HW_HAVE_SNAPSHOT
static int snap_open_existing(struct nightly *n, struct snap_repo **repo_r, struct hw_error *err)
{
	char *dir = snap_repo_default(n->state, n->pol != NULL ? n->pol->snapshot_dir : NULL);
	int r = snap_repo_open(dir, false, repo_r, err);

	free(dir);
	return r;
}
#endif

static void step_prune(struct nightly *n, struct step *s)
{
#ifdef HW_HAVE_SNAPSHOT
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
#else
	step_set(s, ST_NOT_AVAILABLE, "not available: this build has no snapshot module");
	if (n->dry_run)
		plan_add(n, "prune", "not available in this build");
#endif
}

static void step_verify(struct nightly *n, struct step *s)
{
#ifdef HW_HAVE_SNAPSHOT
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
#else
	step_set(s, ST_NOT_AVAILABLE, "not available: this build has no snapshot module");
	if (n->dry_run)
		plan_add(n, "verify", "not available in this build");
#endif
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
	(void)n;
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
