/* cmd_frag.c - hiwater frag: fragments per file and layout score per folder,
   a verdict per folder, worst first; optionally an SVG block map */
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "../defrag/defrag.h"

static const char usage[] =
	"usage: hiwater frag [--json] [--map FILE.svg] [FOLDER...]\n"
	"\n"
	"Measures where the message files lie on disk (FIEMAP, as filefrag does).\n"
	"Per folder: files, fragments per file (1.00 is perfect), and the layout\n"
	"score: the share of consecutive messages, in UID order (IMAP.MRK; file-name\n"
	"order when there is none), whose data lies right after the previous one's\n"
	"(1.00: the folder reads in one sequential sweep). Verdict per folder:\n"
	"ok, worth relayout (score below 0.50, 8 files or more) or worth defrag\n"
	"(more than 1.10 fragments per file). Worst folders first.\n"
	"\n"
	"  --map FILE.svg   also draw a block map: a strip per folder, fragmented\n"
	"                   files in red\n"
	"\n"
	"Exit: 0 all ok, 1 some folder worth defrag or relayout, 2 errors.\n";

enum { OPT_MAP = CLI_OPT_FIRST_OWN };

static int cmp_worst(const void *a, const void *b)
{
	double x = defrag_folder_badness(a), y = defrag_folder_badness(b);

	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(((const struct defrag_folder *)a)->relpath,
		      ((const struct defrag_folder *)b)->relpath);
}

int cmd_frag(int argc, char **argv);
int cmd_frag(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "map", required_argument, NULL, OPT_MAP },
		{ NULL, 0, NULL, 0 }
	};
	const char *map = NULL;
	struct hw_store *st = NULL;
	struct hw_folder_list fl;
	struct defrag_folder *v = NULL;
	struct hw_printer *p = NULL;
	struct hw_progress *prog = NULL;
	struct hw_error err;
	size_t n = 0, files = 0, frags = 0, pairs = 0, adjacent = 0;
	size_t nverdict[4] = { 0 }, name_order = 0;
	unsigned problems = 0;
	int c, r, ex = HW_EXIT_OK;

	hw_folder_list_init(&fl);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		if (c == OPT_MAP) {
			map = optarg;
			continue;
		}
		r = cli_common_opt(c, optarg, usage);
		if (r < 0)
			return HW_EXIT_OK;
		if (r != 1)
			return r == 0 ? cli_usage_error("unknown option") : r;
	}
	if ((r = cli_check_folder_args(argc, argv)) != 0)
		return r;
	st = cli_store_open(&ex);
	if (st == NULL)
		return ex;
	if (hw_store_folders(st, argv + optind, (size_t)(argc - optind), &fl, &problems, &err) < 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_IOERR;
		goto out;
	}
	v = hw_calloc(fl.n + 1, sizeof(*v));
	prog = hw_progress_new("Measuring folders", fl.n);
	for (size_t i = 0; i < fl.n; i++) {
		struct defrag_folder *f = &v[n];
		struct hw_error ferr;
		int fd = hw_store_open_folder(st, fl.v[i].relpath, &ferr);

		hw_progress_add(prog, 1);
		if (fd < 0) {
			hw_diag_error("%s", ferr.msg);
			continue;
		}
		defrag_folder_init(f);
		r = defrag_folder_measure(fd, fl.v[i].relpath, map != NULL, f, &ferr);
		close(fd);
		if (r < 0) {
			hw_diag_error("%s", ferr.msg);
			defrag_folder_release(f);
			continue;
		}
		if (f->nfiles > 1 && !f->uid_order) {
			name_order++;
			if (cli.verbose)
				hw_diag_info("%s: no readable IMAP.MRK: layout scored in file-name order",
					     f->relpath);
		}
		n++;
	}
	hw_progress_free(&prog);
	hw_sort(v, n, sizeof(*v), cmp_worst);

	p = cli_printer();
	for (size_t i = 0; i < n; i++) {
		const struct defrag_folder *f = &v[i];
		files += f->nfiles;
		frags += f->fragments;
		pairs += f->pairs;
		adjacent += f->adjacent;
		nverdict[f->verdict]++;
		if (f->nfiles == 0)
			continue;
		hw_printer_row_begin(p);
		hw_printer_str(p, "folder", f->relpath);
		hw_printer_uint(p, "files", f->nfiles);
		if (f->unsupported) {
			hw_printer_null(p, "frag_per_file");
			hw_printer_null(p, "fragmented");
			hw_printer_null(p, "layout");
		} else {
			hw_printer_real(p, "frag_per_file", f->frag_per_file, 2);
			hw_printer_uint(p, "fragmented", f->fragmented_files);
			hw_printer_real(p, "layout", f->layout_score, 2);
		}
		hw_printer_str(p, "order", f->uid_order ? "uid" : "name");
		hw_printer_str(p, "verdict", defrag_verdict_name(f->verdict));
		hw_printer_row_end(p);
	}
	hw_printer_summary_begin(p, "frag");
	hw_printer_uint(p, "folders", n);
	hw_printer_uint(p, "files", files);
	hw_printer_real(p, "frag_per_file", files > 0 ? (double)frags / (double)files : 1.0, 2);
	hw_printer_real(p, "layout", pairs > 0 ? (double)adjacent / (double)pairs : 1.0, 2);
	hw_printer_uint(p, "worth_defrag", nverdict[DEFRAG_VERDICT_DEFRAG]);
	hw_printer_uint(p, "worth_relayout", nverdict[DEFRAG_VERDICT_RELAYOUT]);
	hw_printer_uint(p, "unsupported", nverdict[DEFRAG_VERDICT_UNSUPPORTED]);
	hw_printer_uint(p, "name_order", name_order);
	if (map != NULL)
		hw_printer_str(p, "map", map);
	hw_printer_summary_end(p);
	hw_printer_free(&p);
	if (nverdict[DEFRAG_VERDICT_UNSUPPORTED] > 0)
		hw_diag_info("FIEMAP unsupported for %zu folder(s): nothing to measure there",
			     nverdict[DEFRAG_VERDICT_UNSUPPORTED]);
	if (map != NULL && defrag_map_write(map, v, n, &err) < 0) {
		cli_error("%s", err.msg);
		ex = HW_EXIT_IOERR;
	}
	if (nverdict[DEFRAG_VERDICT_DEFRAG] + nverdict[DEFRAG_VERDICT_RELAYOUT] > 0)
		ex = hw_exit_worst(ex, HW_EXIT_FINDINGS);
	ex = cli_exit_from_diag(ex);
out:
	for (size_t i = 0; i < n; i++)
		defrag_folder_release(&v[i]);
	free(v);
	hw_folder_list_release(&fl);
	hw_store_free(&st);
	return ex;
}
