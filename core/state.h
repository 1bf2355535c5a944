/*
 * state.h - hiwater's state directory: catalog, snapshot packs, journal and
 * locks live here, never in the store.
 *
 * hw_state_open() creates the directory (mode 0700) if missing, refuses one
 * that lies inside the store (or contains it), and refuses a group- or
 * world-writable one. hw_state_lock() takes the run lock (flock on
 * STATE/hiwater.lock, holding "pid start-time"): 1 taken, 0 held by another
 * run (err says "already running (pid N since T)"), -1 error.
 */
#ifndef HW_STATE_H
#define HW_STATE_H

#include <stdbool.h>

#include "error.h"

#define HW_STATE_DEFAULT "/var/lib/hiwater"
#define HW_STATE_LOCK "hiwater.lock"

/* 1 ok, 0 refused (inside the store etc.; err says why), -1 error */
int hw_state_open(const char *statedir, const char *storedir, struct hw_error *err);

struct hw_state_lock {
	int fd;
};
int hw_state_lock(const char *statedir, struct hw_state_lock *l, struct hw_error *err);
void hw_state_unlock(struct hw_state_lock *l);

#endif
