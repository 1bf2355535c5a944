/* indexer-private.h - shared between indexer/run.c and indexer/folder.c */
#ifndef HW_INDEXER_PRIVATE_H
#define HW_INDEXER_PRIVATE_H

#include <pthread.h>

#include "hash.h"
#include "indexer.h"

struct idx_ctx {
	const struct hw_store *st;
	struct hw_catalog *cat;           /* guarded by lock */
	const struct hw_folder_list *fl;
	const struct indexer_opts *opts;
	indexer_report_fn *report;
	void *report_ctx;
	struct indexer_stats *stats;
	pthread_mutex_t lock;             /* catalog, stats, report */
	size_t headers_read;              /* atomic */
	int verbose;
	bool catalog_failed;
	bool preloaded;                   /* jobs' catfolder filled before the run */
	bool in_txn;                      /* a batch transaction is open */
	size_t batch_rows;
	struct hw_error cat_err;
	struct idx_folder_job *jobs;
	struct hw_progress *progress;
	bool batch;                       /* batch durability (writes only) */
	struct idx_queue *queues;         /* one per worker: folders awaiting the swap */
	size_t qcap;                      /* folders per queue (fd limit) */
	struct idx_restamp *restamps;     /* folders to stamp at the end */
	size_t nrestamps, caprestamps;
};

/* folders whose new files are written but not yet durable nor swapped in */
#define IDX_BATCH_FOLDERS 64
struct idx_queue {
	struct idx_folder_job *v[IDX_BATCH_FOLDERS];
	size_t n;
};
struct idx_pending;
struct idx_restamp {
	const char *relpath;              /* in ctx->fl */
	struct hw_hash names_hash;
	int64_t mrk_ino, mrk_size, mrk_mtime_ns;
};
/* hash of a listing's names (our temps and the lock file aside) */
void idx_names_hash(const struct hw_dir *d, struct hw_hash *h);

struct idx_folder_job {
	const struct hw_folder *folder;
	size_t mbox_first, mbox_end;      /* this mailbox's folders in ctx->fl */
	/* what the catalog knew (loaded under the lock before the work) */
	bool have_catfolder;
	struct hw_cat_folder catfolder;
	struct hw_cat_message *cat;       /* sorted by file */
	size_t ncat;
	/* outcome */
	struct indexer_folder_result res;
	char *reason;
	bool unchanged_stamp;             /* the quick test held */
	bool have_out;                    /* out_folder/out_msgs to store */
	struct hw_cat_folder out_folder;
	struct hw_cat_message *out_msgs;
	size_t nout;
	struct idx_pending *pending;      /* batch mode: awaiting the swap */
	bool restamp;                     /* stamp refused only for freshness */
	struct hw_hash names_hash;        /* the names it was indexed with */
	bool no_batch;                    /* redo with per-file durability */
};

void idx_folder(struct idx_ctx *ctx, struct idx_folder_job *job);
/* batch mode, after the temps of the batch were made durable: take the lock,
   check the folder did not move, rename the new files in */
void idx_pending_swap(struct idx_ctx *ctx, struct idx_folder_job *job);
/* after the renames were made durable: stamp, catalog rows; a folder whose
   swap was refused is done again, one file at a time */
void idx_pending_finish(struct idx_ctx *ctx, struct idx_folder_job *job);
/* the batch could not be made durable: remove the temps, do the folder
   again alone (idx_pending_finish does it) */
void idx_pending_abort(struct idx_folder_job *job);
/* load job->cat (the folder's catalog rows), under the catalog lock */
void idx_load_cat_messages(struct idx_ctx *ctx, struct idx_folder_job *job);

#endif
