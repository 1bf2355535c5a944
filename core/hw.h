/*
 * hw.h - everything in core/, for code that wants it all (the CLI, tests).
 * Modules include the headers they use.
 */
#ifndef HW_HW_H
#define HW_HW_H

#include "atomic.h"
#include "catalog.h"
#include "error.h"
#include "exitcodes.h"
#include "hash.h"
#include "hiwatermrk.h"
#include "imapmrk.h"
#include "io.h"
#include "mrkedit.h"
#include "msghdr.h"
#include "os.h"
#include "pool.h"
#include "printer.h"
#include "progress.h"
#include "state.h"
#include "store.h"
#include "util.h"

#endif
