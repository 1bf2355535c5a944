/* progress.c - progress on stderr when it is a terminal (see progress.h) */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "progress.h"
#include "util.h"

#define DELAY_S 0.5
#define INTERVAL_S 0.2

struct hw_progress {
	char *title;
	atomic_uint_least64_t done;
	atomic_uint_least64_t total;
	double start;
	double last;
	bool shown;
	pthread_mutex_t lock;
};

static bool progress_on;

void hw_progress_enable(bool on)
{
	progress_on = on;
}

struct hw_progress *hw_progress_new(const char *title, uint64_t total)
{
	struct hw_progress *p;

	if (!progress_on)
		return NULL;
	p = hw_calloc(1, sizeof(*p));
	p->title = hw_strdup(title);
	atomic_init(&p->done, 0);
	atomic_init(&p->total, total);
	p->start = p->last = hw_monotonic();
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static void draw(struct hw_progress *p, bool final)
{
	uint64_t done = atomic_load(&p->done), total = atomic_load(&p->total);
	double el = hw_monotonic() - p->start;

	if (total > 0)
		fprintf(stderr, "\r%s: %3u%% (%llu/%llu), %.1fs%s", p->title,
			(unsigned)(done * 100 / (total ? total : 1)), (unsigned long long)done,
			(unsigned long long)total, el, final ? ", done.\n" : "\033[K");
	else
		fprintf(stderr, "\r%s: %llu, %.1fs%s", p->title, (unsigned long long)done, el,
			final ? ", done.\n" : "\033[K");
	fflush(stderr);
	p->shown = true;
}

void hw_progress_add(struct hw_progress *p, uint64_t n)
{
	double now;

	if (p == NULL)
		return;
	atomic_fetch_add(&p->done, n);
	now = hw_monotonic();
	if (now - p->start < DELAY_S || now - p->last < INTERVAL_S)
		return;
	if (pthread_mutex_trylock(&p->lock) != 0)
		return;
	if (now - p->last >= INTERVAL_S) {
		p->last = now;
		draw(p, false);
	}
	pthread_mutex_unlock(&p->lock);
}

void hw_progress_set_total(struct hw_progress *p, uint64_t total)
{
	if (p != NULL)
		atomic_store(&p->total, total);
}

void hw_progress_free(struct hw_progress **pp)
{
	struct hw_progress *p = *pp;

	if (p == NULL)
		return;
	if (p->shown)
		draw(p, true);
	pthread_mutex_destroy(&p->lock);
	free(p->title);
	free(p);
	*pp = NULL;
}
