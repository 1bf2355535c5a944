/*
 * exitcodes.h - hiwater's exit codes, in one place (documented in hiwater.1).
 * Values follow sysexits.h where one fits, so schedulers can act on them.
 */
#ifndef HW_EXITCODES_H
#define HW_EXITCODES_H

enum hw_exit {
	HW_EXIT_OK = 0,        /* success, nothing to report */
	HW_EXIT_FINDINGS = 1,  /* done, with findings or skipped items */
	HW_EXIT_PARTIAL = 2,   /* done, with errors on some items */
	HW_EXIT_USAGE = 64,    /* EX_USAGE: bad command line */
	HW_EXIT_DATAERR = 65,  /* EX_DATAERR: unusable input data */
	HW_EXIT_IOERR = 74,    /* EX_IOERR: fatal I/O error */
	HW_EXIT_LOCKED = 75,   /* EX_TEMPFAIL: another run holds the lock */
	HW_EXIT_CONFIG = 78,   /* EX_CONFIG: configuration error */
};

/* keep the worst status: the codes are ordered so that the larger is worse */
static inline int hw_exit_worst(int a, int b)
{
	return a > b ? a : b;
}

#endif
