/* rbuf.c - buffers for small files, cut from shared chunks (see snap-int.h)
 *
 * A full snapshot reads tens of thousands of small files on the read-ahead
 * threads and lets each go on another thread. From malloc, every one of
 * those was a free into another thread's arena, and the arenas grew and
 * shrank with every window (mprotect, page faults, trimming). Here a
 * thread cuts its buffers one after the other from a 4 MB chunk; a chunk
 * goes back to the pool when its last buffer is let go, and is used again
 * as it is, its pages already in. The pool holds no more chunks than were
 * in use at once, and gives them all back when it is destroyed.
 *
 * A read buffer lives from the read to the file's catalog record only; new
 * content is copied into the window's own chunks (create.c), so that a
 * buffer kept for the window never holds a chunk of released ones: what
 * the window holds is what it counts.
 *
 * Under AddressSanitizer a released buffer is poisoned and buffers are
 * 32 bytes apart, so an overrun or a use after release is still caught.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "snap-int.h"

struct snap_rchunk {
	struct snap_rpool *pool;
	struct snap_rchunk *next;   /* in the pool's free list, or its list of all */
	struct snap_rchunk *all;
	bool trimmed;               /* taken off the pool, to be unmapped */
	atomic_size_t refs;         /* buffers cut from it, +1 while a cursor fills it */
	size_t used;                /* bytes from data, for the filling cursor only */
	_Alignas(64) char data[];
};

#define RCHUNK_DATA (SNAP_RCHUNK_BYTES - sizeof(struct snap_rchunk))

#if defined(__SANITIZE_ADDRESS__)
#define RBUF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RBUF_ASAN 1
#endif
#endif
#ifdef RBUF_ASAN
#include <sanitizer/asan_interface.h>
#define RBUF_GAP 32
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define RBUF_GAP 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void snap_rpool_init(struct snap_rpool *p)
{
	p->free = NULL;
	p->all = NULL;
	p->nall = 0;
	pthread_mutex_init(&p->mu, NULL);
}

void snap_rpool_destroy(struct snap_rpool *p)
{
	struct snap_rchunk *ch = p->all;

	/* every buffer has been let go by now (snapshot create releases its
	   window and read-ahead first) */
	while (ch != NULL) {
		struct snap_rchunk *next = ch->all;
		UNPOISON(ch->data, RCHUNK_DATA);
		munmap(ch, SNAP_RCHUNK_BYTES);
		ch = next;
	}
	p->free = p->all = NULL;
	p->nall = 0;
	pthread_mutex_destroy(&p->mu);
}

void snap_rpool_trim(struct snap_rpool *p)
{
	struct snap_rchunk *list, **pp;

	pthread_mutex_lock(&p->mu);
	list = p->free;
	p->free = NULL;
	for (struct snap_rchunk *ch = list; ch != NULL; ch = ch->next)
		ch->trimmed = true;
	for (pp = &p->all; *pp != NULL;)
		if ((*pp)->trimmed)
			*pp = (*pp)->all;
		else
			pp = &(*pp)->all;
	pthread_mutex_unlock(&p->mu);
	while (list != NULL) {
		struct snap_rchunk *next = list->next;
		UNPOISON(list->data, RCHUNK_DATA);   /* the range may be mapped again */
		munmap(list, SNAP_RCHUNK_BYTES);
		list = next;
	}
}

static struct snap_rchunk *chunk_get(struct snap_rpool *p)
{
	struct snap_rchunk *ch;

	pthread_mutex_lock(&p->mu);
	ch = p->free;
	if (ch != NULL)
		p->free = ch->next;
	pthread_mutex_unlock(&p->mu);
	if (ch == NULL) {
		void *m = mmap(NULL, SNAP_RCHUNK_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		ch = m;
		ch->pool = p;
		pthread_mutex_lock(&p->mu);
		ch->all = p->all;
		p->all = ch;
		p->nall++;
		pthread_mutex_unlock(&p->mu);
	}
	ch->next = NULL;
	ch->used = 0;
	atomic_store(&ch->refs, 1);   /* the cursor's */
	POISON(ch->data, RCHUNK_DATA);
	return ch;
}

void snap_rchunk_put(struct snap_rchunk *ch)
{
	if (ch == NULL || atomic_fetch_sub(&ch->refs, 1) != 1)
		return;
	struct snap_rpool *p = ch->pool;
	pthread_mutex_lock(&p->mu);
	ch->next = p->free;
	p->free = ch;
	pthread_mutex_unlock(&p->mu);
}

char *snap_rcursor_take(struct snap_rcursor *cur, size_t n, struct snap_rchunk **chunk_r)
{
	struct snap_rchunk *ch = cur->cur;
	size_t need = ((n + 15) & ~(size_t)15) + RBUF_GAP;

	*chunk_r = NULL;
	if (n == 0 || n > SNAP_RBUF_MAX)
		return NULL;
	if (ch == NULL || RCHUNK_DATA - ch->used < need) {
		snap_rchunk_put(ch);
		cur->cur = ch = chunk_get(cur->pool);
		if (ch == NULL)
			return NULL;
	}
	char *p = ch->data + ch->used;
	ch->used += need;
	UNPOISON(p, n);
	atomic_fetch_add(&ch->refs, 1);
	*chunk_r = ch;
	return p;
}

void snap_rcursor_end(struct snap_rcursor *cur)
{
	snap_rchunk_put(cur->cur);
	cur->cur = NULL;
}

void snap_rbuf_release(struct hw_buf *b, struct snap_rchunk **chunk)
{
	if (*chunk != NULL) {
		POISON(b->data, b->cap);
		snap_rchunk_put(*chunk);
		*chunk = NULL;
		hw_buf_init(b);
	} else {
		hw_buf_release(b);
	}
}

int snap_rbuf_read(int fd, struct snap_rcursor *cur, size_t size, struct hw_buf *b,
		   struct snap_rchunk **chunk_r, const char *dir, const char *name,
		   struct hw_error *err)
{
	*chunk_r = NULL;
	if (cur != NULL && size <= SNAP_RBUF_MAX - 2) {
		char *p = snap_rcursor_take(cur, size + 2, chunk_r);
		if (p != NULL) {
			/* one byte more than the size: a read that returns exactly
			   the size has seen the end */
			ssize_t n = pread(fd, p, size + 1, 0);
			if (n == (ssize_t)size) {
				p[size] = '\0';
				b->data = p;
				b->len = size;
				b->cap = size + 2;
				return 0;
			}
			/* grown, shrunk, interrupted: read as any file */
			POISON(p, size + 2);
			snap_rchunk_put(*chunk_r);
			*chunk_r = NULL;
		}
	}
	return snap_read_fd(fd, dir, name, size, b, err);
}
