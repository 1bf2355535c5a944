/*
 * cli.h - what every cli/cmd_NAME.c shares: the global options, the common
 * option parser, and helpers to open the store, the state and the catalog
 * with the right exit code and message on failure.
 *
 * A command is  int cmd_NAME(int argc, char **argv)  (argv[0] is the command
 * name) returning an exit code from core/exitcodes.h. It parses its options
 * with getopt_long, listing CLI_COMMON_LONGOPTS in its table and
 * CLI_COMMON_SHORT in its short string, and hands any option it does not own
 * to cli_common_opt(). Global options may also come before the command.
 */
#ifndef HW_CLI_H
#define HW_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <time.h>

#include "hw.h"

struct cli_globals {
	const char *store;      /* --store, HIWATER_STORE, policy 'store' */
	const char *state;      /* --state, HIWATER_STATE, policy 'state_dir', default */
	const char *config;     /* -c/--config; NULL: /etc/hiwater.yaml when present */
	bool config_explicit;
	bool json;
	bool quiet;
	int verbose;
	int jobs;               /* 0: number of CPUs */
	bool dry_run;           /* -n (mutating commands only) */
	const char *cmd;        /* the running command's name */
	char **argv;            /* the running command's argv (for messages) */
};
extern struct cli_globals cli;

enum {
	CLI_OPT_STORE = 1000,
	CLI_OPT_STATE,
	CLI_OPT_JSON,
	CLI_OPT_FIRST_OWN = 1100,   /* commands number their own long options from here */
};

#define CLI_COMMON_SHORT "+c:qvj:h"
#define CLI_COMMON_LONGOPTS                                   \
	{ "store", required_argument, NULL, CLI_OPT_STORE },  \
	{ "state", required_argument, NULL, CLI_OPT_STATE },  \
	{ "config", required_argument, NULL, 'c' },           \
	{ "json", no_argument, NULL, CLI_OPT_JSON },          \
	{ "quiet", no_argument, NULL, 'q' },                  \
	{ "verbose", no_argument, NULL, 'v' },                \
	{ "jobs", required_argument, NULL, 'j' },             \
	{ "help", no_argument, NULL, 'h' }
#define CLI_DRYRUN_LONGOPT { "dry-run", no_argument, NULL, 'n' }

/* 1 handled, 0 not a common option, or an exit code > 1 (usage error
   printed; 'h' prints usage and returns -1 meaning "exit 0") */
int cli_common_opt(int c, const char *arg, const char *usage);

/* print "hiwater CMD: message" + "Try 'hiwater CMD --help'." to stderr;
   returns HW_EXIT_USAGE */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* print "hiwater: message" to stderr (an error the run cannot go on from) */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* print usage text to stdout */
void cli_print_usage(const char *usage);

/* Open the store named by --store/HIWATER_STORE/policy; on failure print the
   error and return NULL with *exit_r set (64 when no store is named, 74 when
   it cannot be opened). */
struct hw_store *cli_store_open(int *exit_r);
/* Create/check the state directory (0700, outside the store); returns its
   path or NULL with *exit_r set (78 when refused). */
const char *cli_state_dir(int *exit_r);
/* state + catalog; NULL with *exit_r set on failure */
struct hw_catalog *cli_catalog_open(int *exit_r);

/* Load the policy once: -c FILE, or /etc/hiwater.yaml when present. Fills
   cli.store and cli.state from its 'store' and 'state_dir' where --store,
   --state and the environment gave none. Returns 1 loaded (*pol_r set), 0 no
   policy configured (*pol_r NULL), or HW_EXIT_CONFIG after printing
   "FILE:LINE:COLUMN: what was expected". cli_store_open and cli_state_dir
   call it first, so every command honours -c. */
struct hw_policy;
#define CLI_CONFIG_DEFAULT "/etc/hiwater.yaml"
int cli_policy_load(const struct hw_policy **pol_r);

/* cmd_snapshot.c: the reorder window for snap_create_opts.window when the
   command line gave none: 0 (snap_create's own choice: HIWATER_SNAPSHOT_WINDOW,
   else its default) unless the policy sets snapshots: reorder_window and the
   environment does not */
uint64_t cli_snap_window(const struct hw_policy *pol);

/* cmd_purge.c: select by the policy and, unless dry_run, snapshot and
   remove (nightly runs the same code). *cat_r is the catalog it opened (or
   NULL), for the caller to free. Stops between folders once deadline (unix
   seconds, 0 none) has passed. -1 with err and res->exit on a fatal error. */
struct hw_purge_plan;
struct hw_purge_result;
struct hw_catalog;
int cli_purge_run(const struct hw_policy *pol, const struct hw_store *st, const char *state,
		  char *const *args, size_t nargs, bool dry_run, time_t now, time_t deadline,
		  struct hw_purge_plan *plan, struct hw_catalog **cat_r,
		  struct hw_purge_result *res, struct hw_error *err);

/* Validate FOLDER arguments (argv[optind..argc)): 0 ok, else exit code */
int cli_check_folder_args(int argc, char **argv);

struct hw_printer *cli_printer(void);

/* the exit status for the end of a run: errors -> 2, warnings -> 1 */
int cli_exit_from_diag(int base);

#endif
