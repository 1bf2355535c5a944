/* resume.c - where a budgeted defrag or relayout run stopped, kept in the
   catalog (module "defrag") so that the next run goes on from there */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "catalog.h"
#include "defrag.h"
#include "util.h"

static const char *const resume_steps[] = {
	/* one row per kind of run; 'after' is the last file done in 'folder'
	   (NULL: the folder was not started) */
	"CREATE TABLE defrag_resume ("
	" kind TEXT PRIMARY KEY CHECK (kind IN ('defrag', 'relayout')),"
	" folder TEXT NOT NULL,"
	" after TEXT,"
	" stopped_at INTEGER NOT NULL)",
};

static int migrate(struct hw_catalog *cat, struct hw_error *err)
{
	return hw_catalog_migrate(cat, "defrag", resume_steps,
				  sizeof(resume_steps) / sizeof(resume_steps[0]), err);
}

int defrag_resume_get(struct hw_catalog *cat, bool relayout, char **folder_r,
		      char **after_r, struct hw_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*folder_r = *after_r = NULL;
	if (migrate(cat, err) < 0)
		return -1;
	if (hw_catalog_prepare(cat, "SELECT folder, after FROM defrag_resume WHERE kind = ?1",
			       &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, relayout ? "relayout" : "defrag", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*folder_r = hw_strdup((const char *)sqlite3_column_text(st, 0));
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			*after_r = hw_strdup((const char *)sqlite3_column_text(st, 1));
		sqlite3_reset(st);
		return 1;
	}
	if (rc != SQLITE_DONE) {
		hw_catalog_error(cat, "read defrag_resume", err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

int defrag_resume_put(struct hw_catalog *cat, bool relayout, const char *folder,
		      const char *after, struct hw_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (migrate(cat, err) < 0)
		return -1;
	if (folder == NULL) {
		if (hw_catalog_prepare(cat, "DELETE FROM defrag_resume WHERE kind = ?1", &st, err) < 0)
			return -1;
	} else {
		if (hw_catalog_prepare(cat, "INSERT INTO defrag_resume(kind, folder, after, stopped_at)"
				       " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(kind) DO UPDATE SET"
				       " folder = excluded.folder, after = excluded.after,"
				       " stopped_at = excluded.stopped_at", &st, err) < 0)
			return -1;
		sqlite3_bind_text(st, 2, folder, -1, SQLITE_TRANSIENT);
		if (after != NULL)
			sqlite3_bind_text(st, 3, after, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 3);
		sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	}
	sqlite3_bind_text(st, 1, relayout ? "relayout" : "defrag", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return hw_catalog_error(cat, "write defrag_resume", err);
	return 1;
}
