/* cmd_defrag.c - hiwater defrag: rewrite fragmented message files (or whole
   folders in UID order with --relayout), safely, within a time budget, and
   go on next time where the budget ran out */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "cli.h"
#include "../defrag/defrag.h"

static const char usage[] =
	"usage: hiwater defrag [-n] [--relayout] [--budget DURATION | --until HH:MM]\n"
	"                      [--max-rate MB/s] [-j N] [FOLDER...]\n"
	"\n"
	"Rewrites fragmented message files through a donor file beside them: the\n"
	"copy is fsynced and its XXH3-128 checked against the original, the original\n"
	"is checked unchanged (size, mtime, ctime, one link, not written in the last\n"
	"minute, folder lock free), then swapped in (EXT4_IOC_MOVE_EXT keeps the\n"
	"inode; elsewhere rename, keeping mode, owner, times and xattrs).\n"
	"\n"
	"  -n, --dry-run      say what would be rewritten and why; change nothing\n"
	"  --relayout         rewrite each folder's messages in UID order into one\n"
	"                     run of disk, so that reading the folder is one sweep\n"
	"  --budget DURATION  stop cleanly after this long (90m, 2h); the next run\n"
	"                     continues where this one stopped\n"
	"  --until HH:MM      stop cleanly at this local time (the same)\n"
	"  --max-rate MB/s    throttle reads + writes to this rate (all workers together)\n"
	"  -j, --jobs N       folders rewritten at the same time (default: twice the\n"
	"                     CPUs, at most 16: the disk's latency overlaps)\n"
	"\n"
	"Exit: 0 done, 1 files skipped (changed, locked, hard-linked...) or stopped\n"
	"by the budget, 2 errors on some files, 75 another run holds the lock.\n";

enum { OPT_RELAYOUT = CLI_OPT_FIRST_OWN, OPT_BUDGET, OPT_UNTIL, OPT_MAXRATE };

/* one file's line, kept until its folder is done: folders run in parallel,
   and a folder's lines stay together */
struct row {
	char *name, *why;
	enum defrag_skip what;
	size_t fb, fa;
	uint64_t size;
};

struct folder_rows {
	struct row *v;
	size_t n, cap;
};

static void report(void *ctx, const char *relpath, const char *name, enum defrag_skip what,
		   const char *why, size_t fb, size_t fa, uint64_t size)
{
	struct folder_rows *fr = ctx;
	struct row *r;

	(void)relpath;
	/* files with nothing to gain are the bulk: shown with -v only */
	if ((what == DEFRAG_SKIP_CONTIGUOUS || what == DEFRAG_SKIP_VANISHED) && cli.verbose == 0)
		return;
	HW_GROW(fr->v, fr->cap, fr->n + 1);
	r = &fr->v[fr->n++];
	r->name = hw_strdup(name);
	r->why = what == DEFRAG_DONE ? hw_strdup(why)
				     : hw_asprintf("%s: %s", defrag_skip_name(what), why);
	r->what = what;
	r->fb = fb;
	r->fa = fa;
	r->size = size;
}

static void rows_print(struct hw_printer *p, bool dry_run, const char *relpath,
		       struct folder_rows *fr)
{
	for (size_t i = 0; i < fr->n; i++) {
		const struct row *r = &fr->v[i];
		hw_printer_row_begin(p);
		hw_printer_str(p, "folder", relpath);
		hw_printer_str(p, "file", r->name);
		hw_printer_str(p, "action", r->what == DEFRAG_DONE ? (dry_run ? "would rewrite"
										: "rewritten")
								   : "skipped");
		hw_printer_uint(p, "size", r->size);
		hw_printer_uint(p, "frags_before", r->fb);
		if (dry_run)
			hw_printer_null(p, "frags_after");
		else
			hw_printer_uint(p, "frags_after", r->fa);
		hw_printer_str(p, "reason", r->why);
		hw_printer_row_end(p);
	}
	for (size_t i = 0; i < fr->n; i++) {
		free(fr->v[i].name);
		free(fr->v[i].why);
	}
	free(fr->v);
	memset(fr, 0, sizeof(*fr));
}

/* the folders of one run, handed to the workers in list order */
enum { F_NOT_STARTED, F_DONE, F_STOPPED };

struct par {
	struct hw_store *st;
	const struct hw_folder_list *fl;
	size_t start;
	const struct defrag_opts *o;
	const char *resume_after;   /* in the first folder */
	struct hw_printer *p;
	struct hw_progress *prog;
	struct defrag_stats *s;     /* the total, under lock */
	unsigned char *state;       /* per folder from start on */
	char **stopped_after;       /* per folder (malloc'd) */
	int stop;                   /* a folder stopped: start no more */
	pthread_mutex_t lock;
};

static void run_folder(void *ctx, size_t k, int worker)
{
	struct par *pr = ctx;
	const char *relpath = pr->fl->v[pr->start + k].relpath;
	struct defrag_opts o = *pr->o;
	struct defrag_stats fs = { 0 };
	struct folder_rows rows = { 0 };
	struct hw_error ferr;
	int fd;

	(void)worker;
	o.resume_after = k == 0 ? pr->resume_after : NULL;
	o.report = report;
	o.report_ctx = &rows;
	fd = hw_store_open_folder(pr->st, relpath, &ferr);
	if (fd < 0) {
		hw_diag_error("%s", ferr.msg);
	} else {
		if (defrag_folder_run(fd, relpath, &o, &fs, &ferr) < 0)
			hw_diag_error("%s", ferr.msg);
		close(fd);
	}
	pthread_mutex_lock(&pr->lock);
	rows_print(pr->p, o.dry_run, relpath, &rows);
	defrag_stats_add(pr->s, &fs);
	if (fs.stopped) {
		pr->state[k] = F_STOPPED;
		pr->stopped_after[k] = fs.stopped_after;
		fs.stopped_after = NULL;
		__atomic_store_n(&pr->stop, 1, __ATOMIC_RELEASE);
	} else {
		pr->state[k] = F_DONE;
	}
	hw_progress_add(pr->prog, 1);
	pthread_mutex_unlock(&pr->lock);
	defrag_stats_release(&fs);
}

/* seconds from now until the next HH:MM local time; -1 bad */
static int64_t until_secs(const char *s)
{
	unsigned h, m;
	int len = 0;
	time_t now = time(NULL);
	struct tm tm;
	time_t t;

	if (sscanf(s, "%2u:%2u%n", &h, &m, &len) != 2 || s[len] != '\0' || h > 23 || m > 59)
		return -1;
	localtime_r(&now, &tm);
	tm.tm_hour = (int)h;
	tm.tm_min = (int)m;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t <= now) {
		tm.tm_mday++;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	return (int64_t)(t - now);
}

int cmd_defrag(int argc, char **argv);
int cmd_defrag(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_DRYRUN_LONGOPT,
		{ "relayout", no_argument, NULL, OPT_RELAYOUT },
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "max-rate", required_argument, NULL, OPT_MAXRATE },
		{ NULL, 0, NULL, 0 }
	};
	struct defrag_opts o = DEFRAG_OPTS_INIT;
	struct defrag_stats s = { 0 };
	struct par pr = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct hw_store *st = NULL;
	struct hw_catalog *cat = NULL;
	struct hw_state_lock lock = { .fd = -1 };
	struct hw_folder_list fl;
	struct hw_printer *p = NULL;
	struct hw_progress *prog = NULL;
	struct hw_error err;
	char *rfolder = NULL, *rafter = NULL;
	const char *statedir;
	int64_t window = -1;
	size_t start = 0, skipped = 0;
	unsigned problems = 0;
	int c, r, ex = HW_EXIT_OK;

	hw_folder_list_init(&fl);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "n", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_RELAYOUT:
			o.relayout = true;
			continue;
		case OPT_BUDGET:
			if (window >= 0)
				return cli_usage_error("--budget and --until exclude each other");
			if (!hw_parse_duration(optarg, &window) || window <= 0)
				return cli_usage_error("--budget takes a duration like 90m or 2h, not '%s'",
						       optarg);
			continue;
		case OPT_UNTIL:
			if (window >= 0)
				return cli_usage_error("--budget and --until exclude each other");
			window = until_secs(optarg);
			if (window < 0)
				return cli_usage_error("--until takes HH:MM, not '%s'", optarg);
			continue;
		case OPT_MAXRATE: {
			char *end;
			double mb;
			errno = 0;
			mb = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || !(mb > 0))
				return cli_usage_error("--max-rate takes MB/s (a number > 0), not '%s'",
						       optarg);
			o.max_rate = mb * 1e6;
			continue;
		}
		}
		r = cli_common_opt(c, optarg, usage);
		if (r < 0)
			return HW_EXIT_OK;
		if (r != 1)
			return r == 0 ? cli_usage_error("unknown option") : r;
	}
	o.dry_run = cli.dry_run;
	if (window >= 0)
		o.deadline = hw_monotonic() + (double)window;
	if (getenv("HIWATER_DEFRAG_QUIET_SECS") != NULL)   /* tests: fresh files count as old */
		o.quiet_secs = atoi(getenv("HIWATER_DEFRAG_QUIET_SECS"));
	if ((r = cli_check_folder_args(argc, argv)) != 0)
		return r;
	st = cli_store_open(&ex);
	if (st == NULL)
		return ex;
	if (!o.dry_run) {
		statedir = cli_state_dir(&ex);
		if (statedir == NULL)
			goto out;
		r = hw_state_lock(statedir, &lock, &err);
		if (r <= 0) {
			cli_error("%s", err.msg);
			ex = r == 0 ? HW_EXIT_LOCKED : HW_EXIT_IOERR;
			goto out;
		}
		if (hw_catalog_open(statedir, &cat, &err) < 0 ||
		    defrag_resume_get(cat, o.relayout, &rfolder, &rafter, &err) < 0) {
			cli_error("%s", err.msg);
			ex = HW_EXIT_IOERR;
			goto out;
		}
	}
	if (hw_store_folders(st, argv + optind, (size_t)(argc - optind), &fl, &problems, &err) < 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_IOERR;
		goto out;
	}
	if (rfolder != NULL) {
		/* the last run stopped there: folders before it are done */
		for (size_t i = 0; i < fl.n; i++)
			if (strcmp(fl.v[i].relpath, rfolder) == 0) {
				start = i;
				o.resume_after = rafter;
				hw_diag_info("continuing at %s%s%s, where the last run stopped", rfolder,
					     rafter != NULL ? " after " : "", rafter != NULL ? rafter : "");
			}
	}

	p = cli_printer();
	prog = hw_progress_new(o.relayout ? "Relayout" : "Defrag", fl.n - start);
	pr.st = st;
	pr.fl = &fl;
	pr.start = start;
	pr.resume_after = o.resume_after;
	o.resume_after = NULL;
	pr.p = p;
	pr.prog = prog;
	pr.s = &s;
	pr.state = hw_calloc(fl.n - start + 1, 1);
	pr.stopped_after = hw_calloc(fl.n - start + 1, sizeof(char *));
	{
		int jobs = cli.jobs > 0 ? cli.jobs : 2 * hw_pool_cpus() < 16 ? 2 * hw_pool_cpus() : 16;
		struct rlimit rl;
		/* each worker holds up to DEFRAG_FDS_PER_RUN descriptors: take
		   what the hard limit allows, and no more workers than fit */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
			rlim_t fit;
			if (rl.rlim_cur < rl.rlim_max) {
				rl.rlim_cur = rl.rlim_max;
				(void)setrlimit(RLIMIT_NOFILE, &rl);
				(void)getrlimit(RLIMIT_NOFILE, &rl);
			}
			fit = rl.rlim_cur > 64 ? (rl.rlim_cur - 64) / DEFRAG_FDS_PER_RUN : 0;
			if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)jobs > fit) {
				jobs = fit > 0 ? (int)fit : 1;
				hw_diag_info("-j %d: the open-file limit (%llu) allows no more",
					     jobs, (unsigned long long)rl.rlim_cur);
			}
		}
		/* --max-rate is for the run: each worker gets its share, and
		   there are no more workers than folders (hw_pool_run() starts
		   no more): a share for an idle one would be lost */
		if ((size_t)jobs > fl.n - start)
			jobs = fl.n - start > 0 ? (int)(fl.n - start) : 1;
		if (o.max_rate > 0 && jobs > 1) {
			o.max_rate /= jobs;
			hw_diag_info("--max-rate: %.2f MB/s for each of %d folders at a time",
				     o.max_rate / 1e6, jobs);
		}
		pr.o = &o;
		hw_pool_run(jobs, fl.n - start, run_folder, &pr, &pr.stop);
	}
	hw_progress_free(&prog);
	/* where the next run goes on: the first folder not finished, after the
	   last file done in it (folders after it that finished are passed over
	   quickly next time: nothing left to gain there) */
	s.stopped = false;
	for (size_t k = 0; k < fl.n - start; k++) {
		if (pr.state[k] == F_DONE)
			continue;
		if (pr.state[k] == F_NOT_STARTED && !__atomic_load_n(&pr.stop, __ATOMIC_ACQUIRE))
			continue;   /* cannot happen: every folder runs unless stopped */
		s.stopped = true;
		free(s.stopped_folder);
		free(s.stopped_after);
		s.stopped_folder = hw_strdup(fl.v[start + k].relpath);
		s.stopped_after = pr.stopped_after[k];
		pr.stopped_after[k] = NULL;
		if (pr.state[k] == F_NOT_STARTED && k == 0 && pr.resume_after != NULL)
			s.stopped_after = hw_strdup(pr.resume_after);
		break;
	}
	for (size_t k = 0; k < fl.n - start; k++)
		free(pr.stopped_after[k]);
	free(pr.stopped_after);
	free(pr.state);
	if (cat != NULL) {
		/* a clean stop says where; a finished run forgets it */
		if (defrag_resume_put(cat, o.relayout, s.stopped ? s.stopped_folder : NULL,
				      s.stopped_after, &err) < 0)
			hw_diag_error("%s", err.msg);
	}
	if (s.stopped)
		hw_diag_info("budget reached: stopped in %s%s%s; the next run continues there",
			     s.stopped_folder, s.stopped_after ? " after " : " before its first file",
			     s.stopped_after ? s.stopped_after : "");

	for (int k = 0; k < DEFRAG_SKIP_MAX; k++)
		if (defrag_skip_is_finding((enum defrag_skip)k))
			skipped += s.outcome[k];
	hw_printer_summary_begin(p, o.relayout ? "relayout" : "defrag");
	hw_printer_bool(p, "dry_run", o.dry_run);
	hw_printer_uint(p, "files", s.files);
	hw_printer_uint(p, o.dry_run ? "would_rewrite" : "rewritten",
			o.dry_run ? s.outcome[DEFRAG_DONE] : s.rewritten);
	hw_printer_uint(p, "moved_in_place", s.moved_in_place);
	hw_printer_uint(p, "skipped", skipped);
	for (int k = DEFRAG_SKIP_HARDLINK; k < DEFRAG_SKIP_MAX; k++) {
		if (s.outcome[k] == 0 || !defrag_skip_is_finding((enum defrag_skip)k))
			continue;
		char key[48];
		snprintf(key, sizeof(key), "skipped_%s", defrag_skip_name((enum defrag_skip)k));
		for (char *q = key; *q; q++)
			if (*q == ' ' || *q == '-')
				*q = '_';
		hw_printer_uint(p, key, s.outcome[k]);
	}
	hw_printer_uint(p, "not_better", s.outcome[DEFRAG_SKIP_NOT_BETTER]);
	hw_printer_uint(p, "bytes", s.bytes);
	hw_printer_real(p, "frag_per_file_before",
			s.files_before ? (double)s.frags_before / (double)s.files_before : 1.0, 2);
	if (!o.dry_run)
		hw_printer_real(p, "frag_per_file_after",
				s.files_after ? (double)s.frags_after / (double)s.files_after : 1.0, 2);
	hw_printer_real(p, "layout_before",
			s.pairs_before ? (double)s.adjacent_before / (double)s.pairs_before : 1.0, 2);
	if (!o.dry_run)
		hw_printer_real(p, "layout_after",
				s.pairs_after ? (double)s.adjacent_after / (double)s.pairs_after : 1.0, 2);
	hw_printer_bool(p, "stopped", s.stopped);
	if (s.stopped) {
		hw_printer_str(p, "stopped_in", s.stopped_folder);
		hw_printer_str(p, "stopped_after", s.stopped_after);
	}
	hw_printer_summary_end(p);
	hw_printer_free(&p);
	if (skipped > 0 || s.stopped)
		ex = hw_exit_worst(ex, HW_EXIT_FINDINGS);
	ex = cli_exit_from_diag(ex);
out:
	free(rfolder);
	free(rafter);
	defrag_stats_release(&s);
	hw_catalog_free(&cat);
	if (lock.fd >= 0)
		hw_state_unlock(&lock);
	hw_folder_list_release(&fl);
	hw_store_free(&st);
	return ex;
}
