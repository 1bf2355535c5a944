/*
 * floor.c - the read floor for the indexer benchmark.
 *
 *   bench/floor [-j N] DIR...
 *
 * Walks each store the way the indexer does (core/store.h: folders sorted by
 * path, files sorted by name) and, for every message file, opens it, reads
 * its first MSGHDR_FIRST_READ bytes (the indexer's first read of a header
 * block; nothing is parsed) and closes it. Whatever the indexer adds on top
 * of this is its own cost; the floor is what any indexer must pay.
 *
 * The walk lists directories without stat (d_type only) and opens files with
 * a plain openat(O_NOFOLLOW|O_NOATIME): the least a safe walk can do.
 *
 * -j N spreads the folders over N threads with hw_pool_run (default 1).
 * Prints "floor: F folders, N files, B bytes read, S s". Exit 0, 64 usage,
 * 74 when a store or a file could not be read (the rest is still read).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "exitcodes.h"
#include "msghdr.h"
#include "pool.h"
#include "store.h"
#include "util.h"

struct worker_stats {
	uint64_t files, bytes, errors;
	char buf[MSGHDR_FIRST_READ];
};

struct floor_run {
	const struct hw_store *st;
	const struct hw_folder_list *fl;
	struct worker_stats *ws;   /* one per worker: no sharing, no locks */
};

static void warn_err(const struct hw_error *err)
{
	fprintf(stderr, "floor: %s\n", err->msg);
}

/* read up to the buffer's size, as one read would if the file is cached */
static ssize_t read_head(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void folder_read(void *ctx, size_t i, int worker)
{
	struct floor_run *run = ctx;
	struct worker_stats *ws = &run->ws[worker];
	const char *rel = run->fl->v[i].relpath;
	struct hw_error err = { 0 };
	struct hw_dir d;
	int dfd;

	hw_dir_init(&d);
	dfd = hw_store_open_folder(run->st, rel, &err);
	if (dfd < 0) {
		warn_err(&err);
		ws->errors++;
		return;
	}
	if (hw_dir_read(dfd, rel, false, &d, &err) < 0) {
		warn_err(&err);
		ws->errors++;
		close(dfd);
		return;
	}
	for (size_t k = 0; k < d.n; k++) {
		const struct hw_entry *e = &d.v[k];
		ssize_t n;
		int fd;
		if (e->kind != HW_ENTRY_MESSAGE)
			continue;
		/* the indexer's flags: no atime update (which dirties the inode) */
		fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NOATIME);
		if (fd < 0 && errno == EPERM)   /* O_NOATIME needs ownership */
			fd = openat(dfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			char *pp = hw_path_join(rel, e->name);
			hw_error_sys(&err, "open", pp);
			free(pp);
			warn_err(&err);
			ws->errors++;
			continue;
		}
		n = read_head(fd, ws->buf, sizeof(ws->buf));
		if (n < 0) {
			char *pp = hw_path_join(rel, e->name);
			hw_error_sys(&err, "read", pp);
			free(pp);
			warn_err(&err);
			ws->errors++;
		} else {
			ws->files++;
			ws->bytes += (uint64_t)n;
		}
		close(fd);
	}
	hw_dir_release(&d);
	close(dfd);
}

static void diag_stderr(void *ctx, enum hw_diag_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	fprintf(stderr, "floor: %s\n", msg);
}

static const char usage[] =
	"usage: bench/floor [-j N] DIR...\n"
	"\n"
	"Reads the first %d bytes of every message file of each store, in the\n"
	"indexer's order (folders sorted, files sorted), without parsing: the read\n"
	"floor the indexer is measured against. Prints folders, files, bytes read\n"
	"and seconds.\n"
	"\n"
	"  -j N        parallel over folders with N threads (default 1; 0 = CPUs)\n"
	"  -h, --help  this help\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t folders = 0, files = 0, bytes = 0, errors = 0;
	int jobs = 1, c;
	double t0;

	while ((c = getopt_long(argc, argv, "j:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || v < 0 || v > 1024) {
				fprintf(stderr, "floor: -j: '%s' is not a thread count\n", optarg);
				return HW_EXIT_USAGE;
			}
			jobs = v == 0 ? hw_pool_cpus() : (int)v;
			break;
		}
		case 'h':
			printf(usage, MSGHDR_FIRST_READ);
			return HW_EXIT_OK;
		default:
			fprintf(stderr, usage, MSGHDR_FIRST_READ);
			return HW_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, usage, MSGHDR_FIRST_READ);
		return HW_EXIT_USAGE;
	}
	hw_diag_set_sink(diag_stderr, NULL);

	t0 = hw_monotonic();
	for (int a = optind; a < argc; a++) {
		struct hw_error err = { 0 };
		struct hw_folder_list fl;
		struct hw_store *st = NULL;
		struct floor_run run;
		unsigned problems = 0;

		hw_folder_list_init(&fl);
		if (hw_store_open(argv[a], &st, &err) < 0 ||
		    hw_store_folders(st, NULL, 0, &fl, &problems, &err) < 0) {
			warn_err(&err);
			errors++;
			hw_store_free(&st);
			continue;
		}
		errors += problems;
		run.st = st;
		run.fl = &fl;
		run.ws = hw_calloc((size_t)jobs, sizeof(*run.ws));
		hw_pool_run(jobs, fl.n, folder_read, &run, NULL);
		for (int k = 0; k < jobs; k++) {
			files += run.ws[k].files;
			bytes += run.ws[k].bytes;
			errors += run.ws[k].errors;
		}
		folders += fl.n;
		free(run.ws);
		hw_folder_list_release(&fl);
		hw_store_free(&st);
	}
	printf("floor: %" PRIu64 " folders, %" PRIu64 " files, %" PRIu64 " bytes read, %.3f s"
	       " (%d job%s)\n", folders, files, bytes, hw_monotonic() - t0, jobs,
	       jobs == 1 ? "" : "s");
	if (errors > 0) {
		fprintf(stderr, "floor: %" PRIu64 " errors\n", errors);
		return HW_EXIT_IOERR;
	}
	return HW_EXIT_OK;
}
