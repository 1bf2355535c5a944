/*
 * printer.h - the one output path for results.
 *
 * Commands produce fields; the printer renders them: an aligned table for
 * people (a listing) or "key: value" lines (a summary), or JSON for scripts
 * (a listing is JSON Lines, one object per line; a summary is one object).
 * Progress and diagnostics never go here: they go to stderr.
 *
 *   struct hw_printer *p = hw_printer_new(stdout, json ? HW_OUT_JSON : HW_OUT_TABLE);
 *   for each item:
 *       hw_printer_row_begin(p);
 *       hw_printer_str(p, "file", name); hw_printer_int(p, "uid", uid);
 *       hw_printer_row_end(p);
 *   hw_printer_summary_begin(p, "index");
 *   hw_printer_int(p, "folders", n); ...
 *   hw_printer_summary_end(p);
 *   hw_printer_free(&p);            // flushes
 *
 * Table listings buffer the first rows to size the columns, then stream.
 * Values: NULL strings are JSON null and "-" in tables; strings are escaped
 * (control bytes \uXXXX, invalid UTF-8 replaced by U+FFFD) in JSON, and
 * control bytes shown as '?' in tables.
 */
#ifndef HW_PRINTER_H
#define HW_PRINTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

enum hw_out_mode { HW_OUT_TABLE, HW_OUT_JSON };

struct hw_printer;

struct hw_printer *hw_printer_new(FILE *fp, enum hw_out_mode mode);
void hw_printer_free(struct hw_printer **p);
enum hw_out_mode hw_printer_mode(const struct hw_printer *p);
void hw_printer_flush(struct hw_printer *p);

void hw_printer_row_begin(struct hw_printer *p);
void hw_printer_row_end(struct hw_printer *p);
void hw_printer_summary_begin(struct hw_printer *p, const char *title);
void hw_printer_summary_end(struct hw_printer *p);

void hw_printer_str(struct hw_printer *p, const char *key, const char *v);
void hw_printer_int(struct hw_printer *p, const char *key, int64_t v);
void hw_printer_uint(struct hw_printer *p, const char *key, uint64_t v);
void hw_printer_real(struct hw_printer *p, const char *key, double v, int decimals);
void hw_printer_bool(struct hw_printer *p, const char *key, bool v);
void hw_printer_null(struct hw_printer *p, const char *key);
/* a value that is already JSON (object/array); in tables shown as is */
void hw_printer_json(struct hw_printer *p, const char *key, const char *json);

/* JSON string escaping into b (with the quotes) */
void hw_json_escape(struct hw_buf *b, const char *s);

#endif
