/*
 * store.h - the MDaemon store layout and a walk that cannot be fooled.
 *
 * Layout (see docs/formats.md):
 *   STORE/DOMAIN/MAILBOX/                 the Inbox
 *   STORE/DOMAIN/MAILBOX/Name.IMAP/...     other folders, nesting
 * A folder is named by its path relative to the store, with '/' separators:
 *   "example.com/bob" or "example.com/bob/Sent Items.IMAP/Old.IMAP".
 *
 * Every directory is opened relative to its parent's fd with
 * O_NOFOLLOW|O_DIRECTORY; a symlink is never followed, a mount point is never
 * crossed (st_dev differs from the store root's), special files are never
 * opened. Directory order is not relied on: listings are sorted by name.
 *
 * Calling sequence:
 *   struct hw_store *st;
 *   if (hw_store_open("/var/mail/store", &st, err) < 0) ...
 *   struct hw_folder_list fl; hw_folder_list_init(&fl);
 *   hw_store_folders(st, NULL, 0, &fl, err);   // whole store (or named ones)
 *   int fd = hw_store_open_folder(st, fl.v[i].relpath, err);
 *   struct hw_dir d; hw_dir_read(fd, fl.v[i].relpath, &d, err);
 *   ...
 *   hw_folder_list_release(&fl); hw_store_free(&st);
 */
#ifndef HW_STORE_H
#define HW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "error.h"

/* ---- message file names: (MD|PD)PP NNNNNNNNN .msg, any case ---- */
#define HW_MSGNAME_LEN 17

struct hw_msgname {
	bool pd;              /* "PD": processed by the content filter */
	unsigned precedence;  /* 00..99: 10 urgent, 50 normal, 80 bulk, 90 retry */
	uint32_t number;      /* 0..999999999 */
};
bool hw_msgname_parse(const char *name, struct hw_msgname *r);
/* "md50000001234.msg" (lower case, as MDaemon writes); buf >= 18 bytes */
void hw_msgname_format(char *buf, size_t size, const struct hw_msgname *m);

/* ---- a store ---- */
struct hw_store;
int hw_store_open(const char *path, struct hw_store **st_r, struct hw_error *err);
void hw_store_free(struct hw_store **st);
int hw_store_fd(const struct hw_store *st);           /* root dir fd */
const char *hw_store_path(const struct hw_store *st); /* as given, absolute */
dev_t hw_store_dev(const struct hw_store *st);

/* is 'inner' (a path, need not exist) equal to or below 'outer'? Resolves
   both through realpath() of their longest existing prefix. */
bool hw_path_is_inside(const char *inner, const char *outer);

/* Validate a FOLDER argument: relative, no "..", no "." parts, no empty parts,
   at least DOMAIN/MAILBOX, every part after the mailbox ends in ".IMAP".
   1 ok, 0 bad (err says why). */
int hw_folder_arg_check(const char *relpath, struct hw_error *err);

/* open a folder (or any directory) below the store, component by component,
   O_NOFOLLOW, same device; returns an fd or -1 */
int hw_store_open_folder(const struct hw_store *st, const char *relpath, struct hw_error *err);
/* same, creating missing directories (mode 0755 - MDaemon's folders are
   plain directories); each creation fsyncs its parent */
int hw_store_make_folder(const struct hw_store *st, const char *relpath, struct hw_error *err);

/* ---- folders ---- */
struct hw_folder {
	char *relpath;   /* "example.com/bob/Sent Items.IMAP" */
	char *domain;    /* "example.com" */
	char *mailbox;   /* "bob" */
	char *imapname;  /* "INBOX", "Sent Items", "Documents/Projects" */
	int depth;       /* 0 for the Inbox, 1 for Name.IMAP, ... */
	/* what the walk saw of the directory (listed == true), so that a
	   caller checking "unchanged since last time" need not list it again */
	bool listed;
	int64_t dir_mtime_ns;
	int64_t dir_ino;
	size_t dir_entries;   /* as hw_dir_stamp_entries() counts */
};
struct hw_folder_list {
	struct hw_folder *v;
	size_t n, cap;
};
void hw_folder_list_init(struct hw_folder_list *fl);
void hw_folder_list_release(struct hw_folder_list *fl);
/* fill from relpath; used by hw_store_folders and callers that know a folder */
void hw_folder_fill(struct hw_folder *f, const char *relpath);
void hw_folder_release(struct hw_folder *f);

/* IMAP name of a folder relpath ("INBOX", "Sent Items/Old"); malloc'd */
char *hw_folder_imapname(const char *relpath);
/* the mailbox root relpath "DOMAIN/MAILBOX" of a folder; malloc'd */
char *hw_folder_mailbox_root(const char *relpath);

/* Enumerate folders: the whole store when nargs == 0, otherwise each named
   folder and everything below it. Sorted by relpath. Symlinks, mount points,
   special files and unreadable directories are reported through hw_diag and
   skipped; the count of such problems is returned in *problems_r (may be NULL).
   -1 only when the store itself cannot be read. */
int hw_store_folders(const struct hw_store *st, char *const *args, size_t nargs,
		     struct hw_folder_list *fl, unsigned *problems_r, struct hw_error *err);

/* ---- one directory's entries ---- */
enum hw_entry_kind {
	HW_ENTRY_MESSAGE,  /* regular file with a message name */
	HW_ENTRY_FILE,     /* other regular file (IMAP.MRK, HIWATER.MRK, AddrBook.mrk, ...) */
	HW_ENTRY_FOLDER,   /* directory ending in .IMAP (any case) */
	HW_ENTRY_DIR,      /* other directory */
	HW_ENTRY_SYMLINK,  /* never followed */
	HW_ENTRY_SPECIAL,  /* fifo, socket, device: never opened */
	HW_ENTRY_TEMP,     /* our own leftover temp file */
};
struct hw_entry {
	char *name;
	enum hw_entry_kind kind;
	struct stat st;   /* from fstatat(AT_SYMLINK_NOFOLLOW) */
};
struct hw_dir {
	struct hw_entry *v;
	size_t n, cap;
	struct stat st;   /* the directory itself, taken before the listing */
	size_t nmessages;
};
void hw_dir_init(struct hw_dir *d);
void hw_dir_release(struct hw_dir *d);
/* list dirfd (sorted by name); stat each entry unless stat_entries is false,
   in which case kind comes from d_type and st is zero except st_mode's type
   (fallback to fstatat when d_type is DT_UNKNOWN). -1 on error */
int hw_dir_read(int dirfd, const char *dirpath, bool stat_entries,
		struct hw_dir *d, struct hw_error *err);
const struct hw_entry *hw_dir_find(const struct hw_dir *d, const char *name);
/* entries that count for a folder's "unchanged" stamp: all but our own temp
   files and the folder lock file, which come and go */
size_t hw_dir_stamp_entries(const struct hw_dir *d);

/* open a message or other regular file below dirfd without following links;
   refuses non-regular files (error says what it is) */
int hw_open_regular(int dirfd, const char *name, const char *display_path,
		    struct stat *st_r, struct hw_error *err);

#endif
