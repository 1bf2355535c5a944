/* pool.c - a parallel for over folders (see pool.h) */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"

struct pool_run {
	hw_pool_fn *fn;
	void *ctx;
	size_t n;
	atomic_size_t next;
	atomic_size_t ran;
	const int *stop;
};

struct pool_worker {
	struct pool_run *run;
	int id;
};

int hw_pool_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

static void *worker_main(void *arg)
{
	struct pool_worker *w = arg;
	struct pool_run *r = w->run;

	for (;;) {
		size_t i;
		if (r->stop != NULL && __atomic_load_n(r->stop, __ATOMIC_ACQUIRE))
			break;
		i = atomic_fetch_add(&r->next, 1);
		if (i >= r->n)
			break;
		r->fn(r->ctx, i, w->id);
		atomic_fetch_add(&r->ran, 1);
	}
	return NULL;
}

size_t hw_pool_run(int jobs, size_t n, hw_pool_fn *fn, void *ctx, const int *stop)
{
	struct pool_run r = { .fn = fn, .ctx = ctx, .n = n, .stop = stop };
	struct pool_worker *w;
	pthread_t *t;
	int i;

	atomic_init(&r.next, 0);
	atomic_init(&r.ran, 0);
	if (jobs <= 0)
		jobs = hw_pool_cpus();
	if ((size_t)jobs > n)
		jobs = n > 0 ? (int)n : 1;
	w = hw_calloc((size_t)jobs, sizeof(*w));
	t = hw_calloc((size_t)jobs, sizeof(*t));
	for (i = 0; i < jobs; i++) {
		w[i].run = &r;
		w[i].id = i;
	}
	/* worker 0 is this thread; a thread that cannot start is not fatal */
	for (i = 1; i < jobs; i++)
		if (pthread_create(&t[i], NULL, worker_main, &w[i]) != 0)
			w[i].run = NULL;
	worker_main(&w[0]);
	for (i = 1; i < jobs; i++)
		if (w[i].run != NULL)
			pthread_join(t[i], NULL);
	free(w);
	free(t);
	return atomic_load(&r.ran);
}
