/*
 * policy.h - hiwater's maintenance policy: one YAML file (hiwater.yaml(5)),
 * loaded and validated once, then asked questions.
 *
 * Calling sequence:
 *   struct hw_policy *pol;
 *   struct hw_error err;
 *   int r = hw_policy_load("/etc/hiwater.yaml", &pol, &err);
 *   if (r <= 0) { fprintf(stderr, "%s\n", err.msg); exit(78); }
 *   struct hw_policy_mailbox eff;
 *   hw_policy_resolve(pol, "example.com", "bob", &eff);   // inheritance
 *   ... eff.quota_warn, eff.rules[i] ...
 *   hw_policy_mailbox_release(&eff);
 *   const struct hw_purge_rule *rule = hw_policy_rule_match(&eff, "Deleted Items");
 *   hw_policy_free(&pol);
 *
 * Error contract (core/error.h):
 *   hw_policy_load / hw_policy_load_buffer return
 *     1  loaded and valid;
 *     0  invalid: err->msg is "FILE:LINE:COLUMN: what was wrong, what was
 *        expected" (1-based line and column of the offending node; the
 *        command line exits 78 with it);
 *    -1  the file cannot be read: err->msg is "open(FILE) failed: reason".
 *   Nothing is returned in *pol_r unless the result is 1.
 *
 * Validation is strict: an unknown key, a duplicate key, a value of the
 * wrong type, a size that is not "1.8GB"-like, a duration without a unit
 * ("30d", "12h", "2w"), a window that is empty or overlaps another, all make
 * the file invalid. Nothing is guessed.
 *
 * Inheritance (hw_policy_resolve): defaults -> domain -> mailbox. For quota,
 * each of warn and limit is taken from the nearest level that sets it;
 * "quota: none" at a level lifts both, "warn: none" / "limit: none" lifts
 * one. Purge rules are keyed by their folder pattern: a level's rule with
 * the same pattern replaces the inherited one, other inherited rules stay,
 * "purge: none" drops every inherited rule, and a rule with "older_than:
 * none" and no max_messages switches an inherited rule off.
 *
 * Times of day in the window are local time, "HH:MM"; a window whose end is
 * before its start runs over midnight.
 */
#ifndef HW_POLICY_H
#define HW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* where a value came from, for "policy show" and -n reasons */
struct hw_policy_origin {
	const char *level;   /* "defaults", "domain example.com", "mailbox bob@example.com" (owned by the policy) */
	int line, column;    /* 1-based in the policy file; 0 when built in */
};

/* ---- quota ---- */
struct hw_policy_quota {
	bool none;             /* "quota: none": lifts warn and limit */
	bool has_warn, has_limit;
	uint64_t warn, limit;  /* bytes; 0 with has_x: "x: none" */
	struct hw_policy_origin warn_origin, limit_origin, none_origin;
};

/* ---- purge ---- */
struct hw_purge_rule {
	char *folder;           /* IMAP folder name or fnmatch(3) glob, case-insensitive */
	int64_t older_than;     /* seconds; 0: no age limit */
	uint64_t max_messages;  /* keep at most this many (newest); 0: no cap */
	struct hw_policy_origin origin;
};

struct hw_policy_level {
	char *name;             /* "example.com", "bob@example.com"; NULL for defaults */
	char *level;            /* "defaults", "domain NAME", "mailbox NAME" */
	bool has_quota;
	struct hw_policy_quota quota;
	bool has_purge;
	bool purge_none;        /* "purge: none" */
	struct hw_purge_rule *rules;
	size_t nrules;
	int line, column;
};

/* ---- the window ---- */
struct hw_policy_window {
	int start, end;         /* minutes after local midnight; end may be < start (over midnight) */
	int line, column;
};

struct hw_policy {
	char *path;             /* as loaded (for messages) */
	char *store;            /* absolute or relative to the policy file's directory; NULL when unset */
	char *state_dir;
	char *snapshot_dir;

	struct hw_policy_window *windows;
	size_t nwindows;        /* 0: no window, maintenance may run any time */

	struct hw_policy_level defaults;
	struct hw_policy_level *domains;   /* sorted by name */
	size_t ndomains;
	struct hw_policy_level *mailboxes; /* "user@domain", sorted by name */
	size_t nmailboxes;

	struct hw_policy_defrag {
		bool has_max_fragments, has_min_layout_score, has_max_rate, has_budget;
		double max_fragments;      /* defrag files above this many fragments; >= 1 */
		double min_layout_score;   /* relayout folders below this score; 0..1 */
		uint64_t max_rate;         /* bytes per second; 0: unthrottled */
		int64_t budget;            /* seconds per run; 0: what is left of the window */
	} defrag;

	struct hw_policy_logs {
		bool has_dir;
		char *dir;
		char *compress;            /* "zstd", "gzip", "none"; NULL unset */
		bool has_keep_days, has_max_age, has_max_total;
		int64_t keep_days;         /* compress files older than this */
		int64_t max_age;           /* seconds: delete files older than this */
		uint64_t max_total;        /* bytes: delete oldest beyond this total */
	} logs;

	struct hw_policy_snapshots {
		bool has_last, has_hourly, has_daily, has_weekly, has_monthly, has_within,
			has_verify_sample, has_reorder_window;
		int64_t last, hourly, daily, weekly, monthly;
		int64_t within;            /* seconds */
		double verify_sample;      /* percent of messages re-read per run, 0..100 */
		uint64_t reorder_window;   /* bytes of new content sorted before packing;
					      0: directory order */
	} snapshots;
};

int hw_policy_load(const char *path, struct hw_policy **pol_r, struct hw_error *err);
/* parse a policy held in memory; name is used in messages and to resolve
   relative paths (its directory) */
int hw_policy_load_buffer(const char *name, const void *buf, size_t len,
			  struct hw_policy **pol_r, struct hw_error *err);
void hw_policy_free(struct hw_policy **pol);

/* ---- effective policy of one mailbox ---- */
struct hw_policy_mailbox {
	char *domain, *mailbox;        /* as asked */
	uint64_t quota_warn;           /* bytes, 0: none */
	uint64_t quota_limit;          /* bytes, 0: none */
	struct hw_policy_origin warn_origin, limit_origin;  /* level "" when none anywhere */
	struct hw_purge_rule *rules;   /* effective rules (copies), in file order */
	size_t nrules;
};

/* resolve defaults -> domain -> mailbox; domain and mailbox compare
   case-insensitively. Always succeeds. */
void hw_policy_resolve(const struct hw_policy *pol, const char *domain, const char *mailbox,
		       struct hw_policy_mailbox *r);
void hw_policy_mailbox_release(struct hw_policy_mailbox *r);

/* the rule for a folder's IMAP name ("INBOX", "Deleted Items", "Sent Items/2019"):
   the first rule whose pattern matches, or NULL */
const struct hw_purge_rule *hw_policy_rule_match(const struct hw_policy_mailbox *m,
						 const char *imapname);

/* ---- the window ---- */
/* Is time t inside a window? 1 inside (*end_r = the end of that window, as a
   time_t), 0 outside (*end_r = the end of the most recent window, for
   messages), and 1 with *end_r = 0 when the policy has no window. */
int hw_policy_window_at(const struct hw_policy *pol, time_t t, time_t *end_r);
/* "01:00-05:00" (all windows, comma-separated) into buf */
void hw_policy_window_format(const struct hw_policy *pol, char *buf, size_t size);

/* ---- quota (quota.c) ----
 * Usage per mailbox and folder. Sizes come from the catalog's folder table
 * when the folder is current there (its directory mtime and entry count are
 * what the indexer recorded); otherwise the folder is listed and its message
 * files are summed ("scanned"). Mailboxes are sorted biggest first, their
 * folders too. -1 only when the store cannot be read; an unreadable folder
 * is reported through hw_diag and counted in problems.
 */
struct hw_store;
struct hw_catalog;

enum hw_quota_state { HW_QUOTA_OK, HW_QUOTA_WARN, HW_QUOTA_OVER };

struct hw_quota_folder {
	char *relpath;
	char *imapname;
	uint64_t bytes, messages;
	bool scanned;               /* false: from the catalog */
};
struct hw_quota_mailbox {
	char *root;                 /* "example.com/bob" */
	char *domain, *mailbox;
	uint64_t bytes, messages;
	uint64_t warn, limit;       /* effective policy; 0 none */
	enum hw_quota_state state;
	struct hw_quota_folder *folders;
	size_t nfolders, cap;
};
struct hw_quota_report {
	struct hw_quota_mailbox *v;
	size_t n, cap;
	size_t folders_cataloged, folders_scanned;
	unsigned problems;
};

void hw_quota_report_init(struct hw_quota_report *r);
void hw_quota_report_release(struct hw_quota_report *r);
/* pol and cat may be NULL (no limits; scan everything) */
int hw_quota_collect(const struct hw_policy *pol, const struct hw_store *st,
		     struct hw_catalog *cat, char *const *args, size_t nargs,
		     struct hw_quota_report *r, struct hw_error *err);
const char *hw_quota_state_name(enum hw_quota_state s);   /* "ok", "warn", "over" */

/* ---- purge selection (purge.c) ----
 * For every folder whose mailbox policy has a matching rule, the messages
 * that rule selects: arrival date (IMAP.MRK's Date field; the catalog's
 * when IMAP.MRK is absent or corrupt) older than older_than, or beyond the
 * newest max_messages. Never the file's mtime, never the Date: header: a
 * message whose arrival date is unknown is kept. A folder with no usable
 * index is skipped and counted (hiwater index fixes that). Only files present
 * in the folder are selected. Nothing is changed here: the caller snapshots,
 * then removes (IMAP.MRK records first, under the folder lock, then files).
 */
struct hw_purge_item {
	char *file;
	uint32_t uid;
	uint64_t size;          /* the file's size now */
	int64_t date;           /* arrival, unix seconds */
	bool by_age;            /* false: beyond the max_messages cap */
};
struct hw_purge_folder {
	char *relpath, *imapname, *domain, *mailbox;
	struct hw_purge_rule rule;     /* copy: folder pattern, limits, origin (level owned here) */
	const char *date_source;       /* "IMAP.MRK" or "catalog" */
	size_t messages;               /* message files in the folder */
	struct hw_purge_item *v;       /* oldest first */
	size_t n, cap;
	uint64_t bytes;
};
struct hw_purge_plan {
	struct hw_purge_folder *v;     /* by relpath; only folders with a matching rule */
	size_t n, cap;
	size_t messages;               /* selected, all folders */
	uint64_t bytes;
	size_t folders_no_index;       /* rule matched but no arrival dates: skipped */
	unsigned problems;             /* folders that could not be read (reported) */
};
void hw_purge_plan_init(struct hw_purge_plan *p);
void hw_purge_plan_release(struct hw_purge_plan *p);
/* -1 only when the store cannot be read; cat may be NULL */
int hw_purge_plan_build(const struct hw_policy *pol, const struct hw_store *st,
			struct hw_catalog *cat, char *const *args, size_t nargs, time_t now,
			struct hw_purge_plan *p, struct hw_error *err);
/* "412 messages older than 30d" / "+ 12 beyond the newest 1000" into buf */
void hw_purge_folder_reason(const struct hw_purge_folder *f, char *buf, size_t size);
/* "'Deleted Items' older than 30d (defaults, line 12)" */
void hw_purge_rule_format(const struct hw_purge_rule *r, char *buf, size_t size);

/* what a purge run did (filled by the command that composes snapshot and
   removal; see cli/cmd_purge.c) */
struct hw_purge_result {
	int64_t snapshot;          /* the snapshot taken first; 0 none */
	size_t removed;            /* messages removed */
	uint64_t bytes;            /* their bytes */
	size_t not_covered;        /* selected but not in a snapshot: kept */
	size_t folders_done, folders_failed, folders_busy;
	bool stopped;              /* the deadline came: folders left for next time */
	int exit;                  /* on a -1 return: the exit code it calls for */
};

/* "30d", "12h", "90m", "45s" (the largest unit that divides it) into buf */
void hw_policy_duration_format(int64_t secs, char *buf, size_t size);

#endif
