/* run.c - index many folders in parallel; the catalog is written by one
   thread at a time under ctx->lock (see indexer.h) */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/resource.h>

#include "atomic.h"
#include "imapmrk.h"
#include "indexer-private.h"
#include "pool.h"
#include "progress.h"
#include "util.h"

void idx_load_cat_messages(struct idx_ctx *ctx, struct idx_folder_job *job)
{
	struct hw_error err;

	if (!job->have_catfolder || job->cat != NULL)
		return;
	pthread_mutex_lock(&ctx->lock);
	if (hw_catalog_messages_get(ctx->cat, job->catfolder.id, &job->cat, &job->ncat, &err) < 0) {
		hw_diag_warn("%s", err.msg);
		job->cat = NULL;
		job->ncat = 0;
	}
	pthread_mutex_unlock(&ctx->lock);
}

static void job_release(struct idx_folder_job *job)
{
	hw_cat_folder_release(&job->catfolder);
	hw_cat_messages_free(job->cat, job->ncat);
	job->cat = NULL;
	job->ncat = 0;
	hw_cat_folder_release(&job->out_folder);
	hw_cat_messages_free(job->out_msgs, job->nout);
	job->out_msgs = NULL;
	job->nout = 0;
	free(job->reason);
	job->reason = NULL;
}

/* Store one folder's outcome (lock held). Folders are batched into one
   transaction of up to BATCH_ROWS message rows: every commit rewrites the
   index pages it touched, so one commit per small folder would write the
   same pages again and again. The catalog is a cache of what the store says:
   a crash loses at most the stamps of the open batch, and those folders are
   simply looked at again next time. */
#define BATCH_ROWS 20000

static void batch_commit(struct idx_ctx *ctx)
{
	struct hw_error err;

	if (!ctx->in_txn)
		return;
	ctx->in_txn = false;
	ctx->batch_rows = 0;
	if (hw_catalog_commit(ctx->cat, &err) < 0) {
		hw_catalog_rollback(ctx->cat);
		ctx->catalog_failed = true;
		ctx->cat_err = err;
	}
}

static void store_result(struct idx_ctx *ctx, struct idx_folder_job *job)
{
	struct hw_error err;

	if (!job->have_out || ctx->catalog_failed)
		return;
	if (!ctx->in_txn) {
		if (hw_catalog_begin(ctx->cat, &err) < 0)
			goto fail;
		ctx->in_txn = true;
	}
	if (hw_catalog_folder_put(ctx->cat, &job->out_folder, &err) < 0 ||
	    hw_catalog_messages_put(ctx->cat, job->out_folder.id, job->out_msgs, job->nout, &err) < 0)
		goto fail;
	ctx->batch_rows += job->nout + 1;
	if (ctx->batch_rows >= BATCH_ROWS)
		batch_commit(ctx);
	return;
fail:
	if (ctx->in_txn)
		hw_catalog_rollback(ctx->cat);
	ctx->in_txn = false;
	ctx->catalog_failed = true;
	ctx->cat_err = err;
}

static void count(struct indexer_stats *s, const struct indexer_folder_result *r)
{
	s->folders++;
	s->messages += r->messages;
	s->uids_kept += r->uids_kept;
	s->uids_new += r->uids_new;
	s->files_skipped += r->files_skipped;
	s->headers_read += r->headers_read;
	switch (r->status) {
	case INDEXER_UNCHANGED: s->unchanged++; break;
	case INDEXER_REBUILT: s->rebuilt++; break;
	case INDEXER_STALE: s->stale++; break;
	case INDEXER_BUSY: s->busy++; break;
	case INDEXER_ERROR: s->errors++; break;
	}
}

static void report_job(struct idx_ctx *ctx, struct idx_folder_job *job)
{
	pthread_mutex_lock(&ctx->lock);
	job->res.reason = job->reason;
	if (!ctx->opts->dry_run && !ctx->opts->check)
		store_result(ctx, job);
	if (job->restamp && job->have_out) {
		struct idx_restamp *r;
		HW_GROW(ctx->restamps, ctx->caprestamps, ctx->nrestamps + 1);
		r = &ctx->restamps[ctx->nrestamps++];
		r->relpath = job->folder->relpath;
		r->names_hash = job->names_hash;
		r->mrk_ino = job->out_folder.mrk_ino;
		r->mrk_size = job->out_folder.mrk_size;
		r->mrk_mtime_ns = job->out_folder.mrk_mtime_ns;
	}
	count(ctx->stats, &job->res);
	if (ctx->report != NULL)
		ctx->report(ctx->report_ctx, &job->res);
	pthread_mutex_unlock(&ctx->lock);
	hw_progress_add(ctx->progress, 1);
	job_release(job);
}

/* the batch: one syncfs makes every temp durable, the swaps, one syncfs
   makes every rename durable (core/atomic.h, "batch durability") */
static void flush(struct idx_ctx *ctx, struct idx_queue *q)
{
	struct hw_error err;
	size_t i;

	if (q->n == 0)
		return;
	if (hw_syncfs(hw_store_fd(ctx->st), hw_store_path(ctx->st), &err) < 0) {
		/* not durable: nothing is swapped in, each folder is done again
		   with its own fsyncs */
		hw_diag_warn("%s", err.msg);
		for (i = 0; i < q->n; i++) {
			struct idx_folder_job *job = q->v[i];
			job->res.status = INDEXER_UNCHANGED;
			idx_pending_abort(job);
		}
	} else {
		for (i = 0; i < q->n; i++)
			idx_pending_swap(ctx, q->v[i]);
		if (hw_syncfs(hw_store_fd(ctx->st), hw_store_path(ctx->st), &err) < 0) {
			/* renamed but perhaps not durable: say so, and do not stamp */
			hw_diag_error("%s", err.msg);
			for (i = 0; i < q->n; i++)
				if (q->v[i]->res.status == INDEXER_REBUILT)
					q->v[i]->res.status = INDEXER_ERROR;
		}
	}
	for (i = 0; i < q->n; i++) {
		idx_pending_finish(ctx, q->v[i]);
		report_job(ctx, q->v[i]);
	}
	q->n = 0;
}

static void work(void *arg, size_t i, int worker)
{
	struct idx_ctx *ctx = arg;
	struct idx_folder_job *job = &ctx->jobs[i];
	struct hw_error err;
	int r;

	if (!ctx->preloaded) {
		pthread_mutex_lock(&ctx->lock);
		r = hw_catalog_folder_get(ctx->cat, job->folder->relpath, &job->catfolder, &err);
		pthread_mutex_unlock(&ctx->lock);
		if (r < 0)
			hw_diag_warn("%s", err.msg);
		job->have_catfolder = r > 0;
	}

	idx_folder(ctx, job);
	if (job->pending != NULL) {
		struct idx_queue *q = &ctx->queues[worker];
		q->v[q->n++] = job;
		if (q->n >= ctx->qcap)
			flush(ctx, q);
		return;
	}
	report_job(ctx, job);
}

/* Folders whose stamp was refused only because our own swap had just moved
   their mtime: those swapped early in a long run are past that second by
   now. Stamp them if they still hold exactly the names we indexed and the
   IMAP.MRK we wrote, so that the next run need not look into them. */
static void restamp(struct idx_ctx *ctx)
{
	int64_t now = hw_now_ns();
	struct hw_error err;
	bool open_txn = false;

	for (size_t i = 0; i < ctx->nrestamps && !ctx->catalog_failed; i++) {
		const struct idx_restamp *r = &ctx->restamps[i];
		struct hw_cat_folder cf;
		struct hw_dir d;
		struct hw_hash h;
		struct stat mst;
		int fd = hw_store_open_folder(ctx->st, r->relpath, &err);
		bool ok;

		if (fd < 0)
			continue;
		hw_dir_init(&d);
		ok = hw_dir_read(fd, r->relpath, false, &d, &err) > 0 &&
		     now - HW_TS_NS(d.st.st_mtim) >= 1000000000LL;
		if (ok) {
			idx_names_hash(&d, &h);
			ok = memcmp(h.b, r->names_hash.b, 16) == 0 &&
			     fstatat(fd, IMAPMRK_NAME, &mst, AT_SYMLINK_NOFOLLOW) == 0 &&
			     (int64_t)mst.st_ino == r->mrk_ino && (int64_t)mst.st_size == r->mrk_size &&
			     HW_TS_NS(mst.st_mtim) == r->mrk_mtime_ns;
		}
		memset(&cf, 0, sizeof(cf));
		if (ok && hw_catalog_folder_get(ctx->cat, r->relpath, &cf, &err) > 0 &&
		    cf.dir_mtime_ns == 0) {
			cf.dir_mtime_ns = HW_TS_NS(d.st.st_mtim);
			cf.dir_entries = (int64_t)hw_dir_stamp_entries(&d);
			cf.dir_ino = (int64_t)d.st.st_ino;
			if (!open_txn && hw_catalog_begin(ctx->cat, &err) > 0)
				open_txn = true;
			if (open_txn)
				(void)hw_catalog_folder_put(ctx->cat, &cf, &err);
		}
		hw_cat_folder_release(&cf);
		hw_dir_release(&d);
		close(fd);
	}
	if (open_txn && hw_catalog_commit(ctx->cat, &err) < 0)
		hw_catalog_rollback(ctx->cat);
}

int indexer_run(const struct hw_store *st, struct hw_catalog *cat,
		const struct hw_folder_list *fl, const struct indexer_opts *o,
		indexer_report_fn *report, void *report_ctx, struct indexer_stats *stats,
		struct hw_error *err)
{
	struct idx_ctx ctx;
	double t0 = hw_monotonic();
	size_t i, ran, nq;

	memset(stats, 0, sizeof(*stats));
	memset(&ctx, 0, sizeof(ctx));
	ctx.st = st;
	ctx.cat = cat;
	ctx.fl = fl;
	ctx.opts = o;
	ctx.report = report;
	ctx.report_ctx = report_ctx;
	ctx.stats = stats;
	pthread_mutex_init(&ctx.lock, NULL);
	ctx.jobs = hw_calloc(fl->n ? fl->n : 1, sizeof(*ctx.jobs));
	/* the folders of each mailbox are adjacent (sorted by relpath) */
	for (i = 0; i < fl->n; i++) {
		struct idx_folder_job *job = &ctx.jobs[i];
		size_t j;
		job->folder = &fl->v[i];
		if (fl->v[i].depth != 0)
			continue;
		job->mbox_first = i;
		for (j = i + 1; j < fl->n; j++)
			if (strcmp(fl->v[j].domain, fl->v[i].domain) != 0 ||
			    strcmp(fl->v[j].mailbox, fl->v[i].mailbox) != 0)
				break;
		job->mbox_end = j;
	}
	{
		/* every folder's catalog row in one query, matched to the jobs
		   by a merge (both sorted by relpath): no per-folder lookups
		   under the lock */
		struct hw_cat_folder *cv = NULL;
		size_t cn = 0, k = 0;
		struct hw_error lerr;
		if (hw_catalog_folders_list(cat, "", &cv, &cn, &lerr) > 0 || cn == 0) {
			ctx.preloaded = true;
			for (i = 0; i < fl->n && k < cn; i++) {
				int c;
				while (k < cn && (c = strcmp(cv[k].relpath, fl->v[i].relpath)) < 0)
					k++;
				if (k < cn && strcmp(cv[k].relpath, fl->v[i].relpath) == 0) {
					ctx.jobs[i].catfolder = cv[k];
					memset(&cv[k], 0, sizeof(cv[k]));
					ctx.jobs[i].have_catfolder = true;
					k++;
				}
			}
		}
		hw_cat_folders_free(cv, cn);
	}
	ctx.progress = hw_progress_new(o->check ? "Checking folders" : "Indexing folders", fl->n);
	ctx.batch = !o->dry_run && !o->check;
	nq = o->jobs > 0 ? (size_t)o->jobs : (size_t)hw_pool_cpus();
	ctx.queues = hw_calloc(nq, sizeof(*ctx.queues));
	{
		/* each waiting folder holds its directory open: keep all the
		   queues within the open-file limit, with room to spare */
		struct rlimit rl;
		size_t room = 1024;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			room = (size_t)rl.rlim_cur;
		room = room > 256 ? room - 256 : 16;
		ctx.qcap = room / nq;
		if (ctx.qcap > IDX_BATCH_FOLDERS)
			ctx.qcap = IDX_BATCH_FOLDERS;
		if (ctx.qcap < 1)
			ctx.qcap = 1;
	}
	ran = hw_pool_run(o->jobs, fl->n, work, &ctx, o->stop);
	for (i = 0; i < nq; i++)
		flush(&ctx, &ctx.queues[i]);
	free(ctx.queues);
	pthread_mutex_lock(&ctx.lock);
	batch_commit(&ctx);
	pthread_mutex_unlock(&ctx.lock);
	restamp(&ctx);
	free(ctx.restamps);
	hw_progress_free(&ctx.progress);
	(void)ran;
	stats->seconds = hw_monotonic() - t0;
	free(ctx.jobs);
	pthread_mutex_destroy(&ctx.lock);
	if (ctx.catalog_failed) {
		*err = ctx.cat_err;
		return -1;
	}
	return 1;
}
