/*
 * main.c - hiwater's entry point: global options, the commands[] table,
 * diagnostics on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "cli.h"

/* Commands live in cli/cmd_NAME.c. A command whose module is not in this
   build is a weak NULL and reports "not available" (exit 64). */
#define CMD(name) int cmd_##name(int argc, char **argv) __attribute__((weak));
CMD(index) CMD(ls) CMD(frag) CMD(defrag) CMD(logs) CMD(snapshot) CMD(find) CMD(restore)
CMD(policy) CMD(quota) CMD(purge) CMD(nightly)
#undef CMD

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "index", cmd_index, "rebuild IMAP.MRK and HIWATER.MRK, keeping UIDs and flags" },
	{ "ls", cmd_ls, "list a folder's index records" },
	{ "frag", cmd_frag, "report fragmentation and folder layout" },
	{ "defrag", cmd_defrag, "rewrite fragmented files and folders contiguously" },
	{ "logs", cmd_logs, "compress, rotate and expire log files" },
	{ "snapshot", cmd_snapshot, "create, list, verify and prune snapshots" },
	{ "find", cmd_find, "find messages in snapshots and the live store" },
	{ "restore", cmd_restore, "restore messages or folders from a snapshot" },
	{ "policy", cmd_policy, "check or show the maintenance policy" },
	{ "quota", cmd_quota, "mailbox and folder usage against quotas" },
	{ "purge", cmd_purge, "remove old messages by policy (snapshotted first)" },
	{ "nightly", cmd_nightly, "run the whole scheduled maintenance job" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char usage_main[] =
	"usage: hiwater [global options] COMMAND [options] [FOLDER...]\n"
	"\n"
	"Keeps an MDaemon-style flat-file mail store healthy.\n"
	"\n"
	"Global options (also accepted after COMMAND):\n"
	"  --store DIR        the folder that holds the domain folders ($HIWATER_STORE)\n"
	"  --state DIR        hiwater's own state, outside the store ($HIWATER_STATE,\n"
	"                     default " HW_STATE_DEFAULT ")\n"
	"  -c, --config FILE  policy file (default /etc/hiwater.yaml when present)\n"
	"  --json             JSON output (listings as JSON Lines)\n"
	"  -q, --quiet        no progress, fewer messages\n"
	"  -v, --verbose      more messages\n"
	"  -j, --jobs N       parallel workers (default: number of CPUs)\n"
	"  -h, --help         this help; 'hiwater COMMAND --help' for a command\n"
	"  --version          print the version\n"
	"\n"
	"FOLDER is relative to the store: DOMAIN/MAILBOX (the Inbox) or\n"
	"DOMAIN/MAILBOX/Sent Items.IMAP/Sub.IMAP.\n"
	"\n"
	"Exit codes: 0 ok, 1 findings or skipped items, 2 errors on some items,\n"
	"64 usage, 65 bad input data, 74 I/O error, 75 locked by another run,\n"
	"78 configuration error.\n"
	"\n"
	"Commands:\n";

static void print_main_usage(FILE *fp)
{
	fputs(usage_main, fp);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-10s %s%s\n", commands[i].name, commands[i].summary,
			commands[i].fn == NULL ? " (not in this build)" : "");
}

static void diag_stderr(void *ctx, enum hw_diag_level level, const char *msg)
{
	(void)ctx;
	if (level == HW_DIAG_INFO && cli.quiet)
		return;
	fprintf(stderr, "hiwater%s%s: %s%s\n", cli.cmd ? " " : "", cli.cmd ? cli.cmd : "",
		level == HW_DIAG_ERROR ? "error: " : level == HW_DIAG_WARN ? "warning: " : "", msg);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct command *cmd = NULL;
	int c, r;

	setlocale(LC_CTYPE, "C.UTF-8");
	{
		/* the soft open-file limit up to the hard one: parallel folder
		   work holds a directory per folder in flight */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	hw_diag_set_sink(diag_stderr, NULL);
	cli.store = getenv("HIWATER_STORE");
	cli.state = getenv("HIWATER_STATE");
	if (getenv("HIWATER_FOLDER_LOCK") != NULL)
		hw_folder_lock_set_name(getenv("HIWATER_FOLDER_LOCK"));

	opterr = 0;
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		if (c == 'V') {
			printf("hiwater %s\n", HW_VERSION);
			return HW_EXIT_OK;
		}
		if (c == 'h') {
			print_main_usage(stdout);
			return HW_EXIT_OK;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "hiwater: unknown or incomplete option '%s'\n"
				"Try 'hiwater --help'.\n", argv[optind - 1]);
			return HW_EXIT_USAGE;
		}
		r = cli_common_opt(c, optarg, usage_main);
		if (r != 1)
			return r < 0 ? HW_EXIT_OK : r;
	}
	if (optind >= argc) {
		print_main_usage(stderr);
		return HW_EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		print_main_usage(stdout);
		return HW_EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, argv[optind]) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "hiwater: '%s' is not a hiwater command\nTry 'hiwater --help'.\n",
			argv[optind]);
		return HW_EXIT_USAGE;
	}
	if (cmd->fn == NULL) {
		fprintf(stderr, "hiwater: '%s' is not available in this build\n", cmd->name);
		return HW_EXIT_USAGE;
	}
	cli.cmd = cmd->name;
	argc -= optind;
	argv += optind;
	cli.argv = argv;
	optind = 0;   /* reinitialise getopt for the command */
	opterr = 0;
	r = cmd->fn(argc, argv);
	fflush(stdout);
	if (ferror(stdout)) {
		fprintf(stderr, "hiwater %s: write(stdout) failed\n", cmd->name);
		return hw_exit_worst(r, HW_EXIT_IOERR);
	}
	return r;
}
