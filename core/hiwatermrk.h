/*
 * hiwatermrk.h - HIWATER.MRK, MDaemon's per-folder settings file (INI text).
 *
 * The parser keeps every byte: each line is stored with its own line ending
 * (CRLF, LF, CR or none at EOF), so that serialising an unchanged file gives
 * the same bytes, and a change touches only the lines it must. Sections and
 * keys are matched case-insensitively (as Windows' INI functions do). New
 * lines use the file's dominant line ending, CRLF for a new file (as MDaemon
 * writes). Comments (';' or '#'), blank lines and unknown sections are kept.
 *
 *   struct hwmrk *h;
 *   hwmrk_parse(buf, len, &h);               // never fails on content
 *   const char *v = hwmrk_get(h, "Groupware", "FolderClass");
 *   hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note");
 *   char *out = hwmrk_serialize(h, &len);
 *   hwmrk_free(&h);
 */
#ifndef HW_HIWATERMRK_H
#define HW_HIWATERMRK_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define HIWATERMRK_NAME "HIWATER.MRK"

struct hwmrk;

struct hwmrk *hwmrk_new(void);
/* parse any bytes; a line that is neither a section, a key=value, a comment
   nor blank is kept verbatim and ignored */
struct hwmrk *hwmrk_parse(const char *buf, size_t len);
void hwmrk_free(struct hwmrk **h);

/* value of key in section, NULL if absent (pointer valid until next change) */
const char *hwmrk_get(const struct hwmrk *h, const char *section, const char *key);
bool hwmrk_has_section(const struct hwmrk *h, const char *section);
/* set (add the section at the end and/or the key at the end of the section
   if missing); returns true if anything changed */
bool hwmrk_set(struct hwmrk *h, const char *section, const char *key, const char *value);
/* remove a key; true if it was there */
bool hwmrk_remove(struct hwmrk *h, const char *section, const char *key);
/* keys of a section in file order; returns count, fills up to max pointers */
size_t hwmrk_keys(const struct hwmrk *h, const char *section, const char **keys, size_t max);
bool hwmrk_changed(const struct hwmrk *h);

char *hwmrk_serialize(const struct hwmrk *h, size_t *len_r);

/* read dirfd/HIWATER.MRK: -1 I/O error, 0 absent (*h_r = empty new), 1 ok */
int hwmrk_read(int dirfd, const char *dirpath, struct hwmrk **h_r, struct hw_error *err);
/* write atomically; -1 or 1 */
int hwmrk_write(int dirfd, const char *dirpath, const struct hwmrk *h, struct hw_error *err);

/* the first half of hwmrk_write for batch durability (see imapmrk.h) */
struct hw_atomic;
int hwmrk_write_unsynced(int dirfd, const char *dirpath, const struct hwmrk *h,
			 struct hw_atomic *a, struct hw_error *err);

#endif
