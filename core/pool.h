/*
 * pool.h - folder-level parallelism: a parallel for over n items.
 *
 *   hw_pool_run(jobs, n, fn, ctx, &stop_flag);
 *
 * runs fn(ctx, i, worker) for every i in [0, n) on 'jobs' threads (worker in
 * [0, jobs)), items handed out one at a time in index order so that big
 * folders do not stall the rest. jobs <= 0 means the number of CPUs. Returns
 * when all items are done. fn must be thread-safe; a run that must stop early
 * (budget, window end) sets *stop (read atomically) and later items are not
 * started.
 */
#ifndef HW_POOL_H
#define HW_POOL_H

#include <stddef.h>

typedef void hw_pool_fn(void *ctx, size_t i, int worker);

int hw_pool_cpus(void);
/* returns the number of items that ran; stop may be NULL */
size_t hw_pool_run(int jobs, size_t n, hw_pool_fn *fn, void *ctx, const int *stop);

#endif
