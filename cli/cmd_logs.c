/* cmd_logs.c - hiwater logs: compress old daily logs, expire by age and
   total size, rotate a generic log by size */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "cli.h"
#include "../defrag/defrag.h"

static const char usage[] =
	"usage: hiwater logs [-n] --dir DIR [--compress zstd|gzip] [--level N]\n"
	"                    [--keep-days N] [--max-age DAYS] [--max-total SIZE]\n"
	"       hiwater logs [-n] --rotate FILE --size SIZE [--keep N]\n"
	"                    [--post-rotate CMD] [--compress zstd|gzip]\n"
	"\n"
	"Daily logs (*.log in DIR; the day from YYYY-MM-DD in the name, else the\n"
	"mtime): files older than --keep-days (default 1) are compressed to\n"
	"NAME.log.zst (or .gz: plain zstd/gzip streams), verified by decompressing,\n"
	"and only then is the original removed. Files older than --max-age days are\n"
	"deleted; beyond --max-total bytes, the oldest are deleted first. Today's\n"
	"files (by name or by mtime) are never touched. A killed run leaves the\n"
	"original or a verified copy; the next run finishes the job.\n"
	"\n"
	"--rotate FILE: when FILE is at least --size, rename it to FILE.1 (older\n"
	"ones shift up to --keep, default 7), create a new empty FILE with the same\n"
	"mode and owner, then run --post-rotate CMD (sh -c) so the writer reopens.\n"
	"Never copytruncate. FILE.2 and older are compressed, and FILE.1 too once\n"
	"the post-rotate command succeeded.\n"
	"\n"
	"Exit: 0 done, 1 mismatching pairs left alone, 2 errors on some files.\n";

enum {
	OPT_DIR = CLI_OPT_FIRST_OWN, OPT_COMPRESS, OPT_LEVEL, OPT_KEEPDAYS, OPT_MAXAGE,
	OPT_MAXTOTAL, OPT_ROTATE, OPT_SIZE, OPT_KEEP, OPT_POSTROTATE
};

static void report(void *ctx, const char *name, enum logs_action a, const char *why,
		   uint64_t before, uint64_t after)
{
	struct hw_printer *p = ctx;

	hw_printer_row_begin(p);
	hw_printer_str(p, "file", name);
	hw_printer_str(p, "action", logs_action_name(a));
	hw_printer_uint(p, "size", before);
	if (a == LOGS_COMPRESS && after > 0)
		hw_printer_uint(p, "size_after", after);
	else
		hw_printer_null(p, "size_after");
	hw_printer_str(p, "reason", why);
	hw_printer_row_end(p);
}

static int parse_int(const char *opt, const char *arg, int *v)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || x < 0 || x > 100000)
		return cli_usage_error("%s takes a number, not '%s'", opt, arg);
	*v = (int)x;
	return 0;
}

/* compress the rotated FILE.N (N >= from) that are still plain */
static void compress_rotated(const char *path, int from, int keep, const struct logs_opts *o,
			     struct hw_printer *p, size_t *errors)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? hw_strndup(path, slash == path ? 1 : (size_t)(slash - path))
			  : hw_strdup(".");
	const char *base = slash ? slash + 1 : path;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0) {
		hw_diag_error("open(%s) failed: %s", dir, strerror(errno));
		(*errors)++;
		free(dir);
		return;
	}
	for (int i = from; i <= keep; i++) {
		char *name = hw_asprintf("%s.%d", base, i);
		struct stat st;
		struct hw_error err;
		uint64_t out = 0;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
			if (o->dry_run) {
				report(p, name, LOGS_COMPRESS, "rotated", (uint64_t)st.st_size, 0);
			} else if (logs_compress_file(dirfd, dir, name, o, &out, &err) < 0) {
				hw_diag_error("%s", err.msg);
				(*errors)++;
			} else {
				report(p, name, LOGS_COMPRESS, "rotated", (uint64_t)st.st_size, out);
			}
		}
		free(name);
	}
	close(dirfd);
	free(dir);
}

int cmd_logs(int argc, char **argv);
int cmd_logs(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_DRYRUN_LONGOPT,
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "compress", required_argument, NULL, OPT_COMPRESS },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "keep-days", required_argument, NULL, OPT_KEEPDAYS },
		{ "max-age", required_argument, NULL, OPT_MAXAGE },
		{ "max-total", required_argument, NULL, OPT_MAXTOTAL },
		{ "rotate", required_argument, NULL, OPT_ROTATE },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "post-rotate", required_argument, NULL, OPT_POSTROTATE },
		{ NULL, 0, NULL, 0 }
	};
	struct logs_opts o = { .compress = LOGS_ZSTD, .keep_days = 1, .max_age = -1 };
	struct logs_stats s = { 0 };
	const char *dir = NULL, *rotate = NULL, *post = NULL;
	uint64_t size = 0;
	bool have_size = false;
	int keep = 7, c, r, ex = HW_EXIT_OK;
	struct hw_printer *p;
	struct hw_error err;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "n", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR: dir = optarg; continue;
		case OPT_ROTATE: rotate = optarg; continue;
		case OPT_POSTROTATE: post = optarg; continue;
		case OPT_COMPRESS:
			if (strcmp(optarg, "zstd") == 0)
				o.compress = LOGS_ZSTD;
			else if (strcmp(optarg, "gzip") == 0)
				o.compress = LOGS_GZIP;
			else
				return cli_usage_error("--compress takes zstd or gzip, not '%s'", optarg);
			continue;
		case OPT_LEVEL:
			if ((r = parse_int("--level", optarg, &o.level)) != 0)
				return r;
			continue;
		case OPT_KEEPDAYS:
			if ((r = parse_int("--keep-days", optarg, &o.keep_days)) != 0)
				return r;
			continue;
		case OPT_MAXAGE:
			if ((r = parse_int("--max-age", optarg, &o.max_age)) != 0)
				return r;
			continue;
		case OPT_KEEP:
			if ((r = parse_int("--keep", optarg, &keep)) != 0)
				return r;
			if (keep < 1)
				return cli_usage_error("--keep takes a number from 1");
			continue;
		case OPT_MAXTOTAL:
			if (!hw_parse_size(optarg, &o.max_total) || o.max_total == 0)
				return cli_usage_error("--max-total takes a size like 2G or 500M, not '%s'",
						       optarg);
			continue;
		case OPT_SIZE:
			if (!hw_parse_size(optarg, &size))
				return cli_usage_error("--size takes a size like 100M, not '%s'", optarg);
			have_size = true;
			continue;
		}
		r = cli_common_opt(c, optarg, usage);
		if (r < 0)
			return HW_EXIT_OK;
		if (r != 1)
			return r == 0 ? cli_usage_error("unknown option") : r;
	}
	o.dry_run = cli.dry_run;
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (dir == NULL && rotate == NULL)
		return cli_usage_error("say which logs: --dir DIR or --rotate FILE");
	if (rotate != NULL && !have_size)
		return cli_usage_error("--rotate needs --size");
	if (o.max_age >= 0 && o.max_age < o.keep_days)
		hw_diag_warn("--max-age %d is below --keep-days %d: old logs are deleted, not "
			     "compressed", o.max_age, o.keep_days);

	p = cli_printer();
	o.report = report;
	o.report_ctx = p;
	if (rotate != NULL) {
		bool post_ok = false;
		hw_error_clear(&err);
		r = logs_rotate(rotate, size, keep, o.dry_run, &err);
		if (r < 0) {
			hw_diag_error("%s", err.msg);
			s.errors++;
		} else if (r > 0) {
			report(p, rotate, LOGS_ROTATE, "size reached", 0, 0);
			if (post != NULL && !o.dry_run) {
				int st = system(post);
				post_ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
				if (!post_ok) {
					hw_diag_error("post-rotate command failed (%d): %s; %s.1 left "
						      "uncompressed", st, post, rotate);
					s.errors++;
				}
			}
			/* the writer has moved on from FILE.2 and older; from FILE.1
			   only once the post-rotate command told it to */
			compress_rotated(rotate, post_ok ? 1 : 2, keep, &o, p, &s.errors);
		}
	}
	if (dir != NULL) {
		if (logs_run(dir, &o, &s, &err) < 0) {
			cli_error("%s", err.msg);
			hw_printer_free(&p);
			return HW_EXIT_IOERR;
		}
	}
	hw_printer_summary_begin(p, "logs");
	hw_printer_bool(p, "dry_run", o.dry_run);
	hw_printer_uint(p, "files", s.files);
	hw_printer_uint(p, o.dry_run ? "would_compress" : "compressed", s.compressed);
	hw_printer_uint(p, "finished", s.finished);
	hw_printer_uint(p, o.dry_run ? "would_delete" : "deleted", s.deleted);
	hw_printer_uint(p, "kept_today", s.kept_today);
	hw_printer_uint(p, "mismatches", s.mismatches);
	hw_printer_uint(p, "errors", s.errors);
	hw_printer_uint(p, "bytes_in", s.bytes_in);
	hw_printer_uint(p, "bytes_out", s.bytes_out);
	if (s.bytes_out > 0)
		hw_printer_real(p, "ratio", (double)s.bytes_in / (double)s.bytes_out, 2);
	hw_printer_uint(p, "bytes_deleted", s.bytes_deleted);
	if (dir != NULL)
		hw_printer_uint(p, "total_after", s.total_after);
	hw_printer_summary_end(p);
	hw_printer_free(&p);
	if (s.mismatches > 0)
		ex = hw_exit_worst(ex, HW_EXIT_FINDINGS);
	return cli_exit_from_diag(ex);
}
