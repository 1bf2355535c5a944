/* common.c - shared option handling and openers for the commands (see cli.h) */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

struct cli_globals cli;

void cli_print_usage(const char *usage)
{
	fputs(usage, stdout);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hiwater%s%s: ", cli.cmd ? " " : "", cli.cmd ? cli.cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'hiwater %s%s--help'.\n", cli.cmd ? cli.cmd : "", cli.cmd ? " " : "");
	return HW_EXIT_USAGE;
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hiwater%s%s: ", cli.cmd ? " " : "", cli.cmd ? cli.cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_common_opt(int c, const char *arg, const char *usage)
{
	char *end;
	long v;

	switch (c) {
	case CLI_OPT_STORE:
		cli.store = arg;
		return 1;
	case CLI_OPT_STATE:
		cli.state = arg;
		return 1;
	case 'c':
		cli.config = arg;
		cli.config_explicit = true;
		return 1;
	case CLI_OPT_JSON:
		cli.json = true;
		return 1;
	case 'q':
		cli.quiet = true;
		return 1;
	case 'v':
		cli.verbose++;
		return 1;
	case 'n':
		cli.dry_run = true;
		return 1;
	case 'j':
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0 || v > 1024)
			return cli_usage_error("-j/--jobs takes a number from 0 to 1024, not '%s'", arg);
		cli.jobs = (int)v;
		return 1;
	case 'h':
		cli_print_usage(usage);
		return -1;
	case '?':
	case ':':
		return cli_usage_error("unknown option, or an option without its value: '%s'",
				       cli.argv != NULL && optind > 0 ? cli.argv[optind - 1] : "?");
	default:
		return 0;
	}
}

static void progress_setup(void)
{
	hw_progress_enable(!cli.quiet && !cli.json && isatty(STDERR_FILENO));
}

struct hw_store *cli_store_open(int *exit_r)
{
	struct hw_store *st;
	struct hw_error err;

	progress_setup();
	if (cli.store == NULL || *cli.store == '\0') {
		cli_error("no store given: use --store DIR, HIWATER_STORE, or 'store' in the policy");
		*exit_r = HW_EXIT_USAGE;
		return NULL;
	}
	if (hw_store_open(cli.store, &st, &err) < 0) {
		cli_error("cannot open the store: %s", err.msg);
		*exit_r = err.errnum == ENOENT || err.errnum == ENOTDIR ? HW_EXIT_CONFIG : HW_EXIT_IOERR;
		return NULL;
	}
	return st;
}

const char *cli_state_dir(int *exit_r)
{
	struct hw_error err;
	int r;

	if (cli.state == NULL || *cli.state == '\0')
		cli.state = HW_STATE_DEFAULT;
	r = hw_state_open(cli.state, cli.store, &err);
	if (r <= 0) {
		cli_error("%s", err.msg);
		*exit_r = r == 0 ? HW_EXIT_CONFIG : HW_EXIT_IOERR;
		return NULL;
	}
	return cli.state;
}

int cli_check_folder_args(int argc, char **argv)
{
	struct hw_error err;

	for (int i = optind; i < argc; i++)
		if (hw_folder_arg_check(argv[i], &err) <= 0)
			return cli_usage_error("%s", err.msg);
	return 0;
}

struct hw_printer *cli_printer(void)
{
	return hw_printer_new(stdout, cli.json ? HW_OUT_JSON : HW_OUT_TABLE);
}

int cli_exit_from_diag(int base)
{
	if (hw_diag_count(HW_DIAG_ERROR) > 0)
		return hw_exit_worst(base, HW_EXIT_PARTIAL);
	if (hw_diag_count(HW_DIAG_WARN) > 0)
		return hw_exit_worst(base, HW_EXIT_FINDINGS);
	return base;
}

struct hw_catalog *cli_catalog_open(int *exit_r)
{
	struct hw_catalog *cat;
	struct hw_error err;
	const char *state = cli_state_dir(exit_r);

	if (state == NULL)
		return NULL;
	if (hw_catalog_open(state, &cat, &err) < 0) {
		cli_error("%s", err.msg);
		*exit_r = HW_EXIT_IOERR;
		return NULL;
	}
	return cat;
}
