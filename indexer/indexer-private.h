/* indexer-private.h - shared between indexer/run.c and indexer/folder.c */
#ifndef HW_INDEXER_PRIVATE_H
#define HW_INDEXER_PRIVATE_H

#include <pthread.h>

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
	bool in_txn;                      /* a batch transaction is open */
	size_t batch_rows;
	struct hw_error cat_err;
	struct idx_folder_job *jobs;
	struct hw_progress *progress;
};

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
};

void idx_folder(struct idx_ctx *ctx, struct idx_folder_job *job);
/* load job->cat (the folder's catalog rows), under the catalog lock */
void idx_load_cat_messages(struct idx_ctx *ctx, struct idx_folder_job *job);

#endif
