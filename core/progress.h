/*
 * progress.h - progress on a terminal (after git's progress.h).
 *
 * Every function accepts NULL, so callers never test for "is progress on".
 * hw_progress_new() returns NULL unless enabled (stderr is a TTY and not -q).
 * Shown on stderr after a short delay, redrawn at most 5 times a second.
 * hw_progress_add() is thread-safe (workers call it); drawing happens in
 * whichever thread crosses the redraw interval.
 */
#ifndef HW_PROGRESS_H
#define HW_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct hw_progress;

/* global switch set by the command line (-q, --json, not a TTY) */
void hw_progress_enable(bool on);
struct hw_progress *hw_progress_new(const char *title, uint64_t total);
void hw_progress_add(struct hw_progress *p, uint64_t n);
void hw_progress_set_total(struct hw_progress *p, uint64_t total);
/* erase the line (or print the final state) and free; sets *p = NULL */
void hw_progress_free(struct hw_progress **p);

#endif
