/*
 * mdwriter.c - plays MDaemon against a store for the live-writer tests: for
 * SECONDS it delivers new messages, deletes some and changes flags, each
 * change to IMAP.MRK made under the folder lock as MDaemon's writers make it
 * (core/mrkedit.h for deliveries and deletions; a read-modify-write with
 * LastWriteCounter + 1 for flags). Every change is appended to LOG:
 *   D\tfolder\tfile       delivered (content: "Subject: live <file>")
 *   X folder file       deleted (record first, then the file)
 *   F folder file N     flags set to N
 * so that the test can check that nothing delivered was lost, nothing deleted
 * came back, and no flag was reverted.
 *
 *   mdwriter STORE SECONDS SEED LOG [FOLDER...]   (default: every folder)
 * Exit 0, or 1 on an error (printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "imapmrk.h"
#include "mrkedit.h"
#include "os.h"
#include "store.h"
#include "util.h"

static unsigned long rng;

static unsigned rnd(unsigned n)
{
	rng = rng * 6364136223846793005ul + 1442695040888963407ul;
	return (unsigned)((rng >> 33) % n);
}

static FILE *journal;

static void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logline(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(journal, fmt, ap);
	va_end(ap);
	fflush(journal);
}

static int deliver(int fd, const char *folder, struct hw_error *err)
{
	struct hw_dir d;
	struct hw_mrk_add a = { 0 };
	char name[32], body[256];
	int n, r;

	hw_dir_init(&d);
	if (hw_dir_read(fd, folder, false, &d, err) < 0)
		return -1;
	hw_mrk_next_name(&d, name, sizeof(name));
	hw_dir_release(&d);
	n = snprintf(body, sizeof(body), "From: live@example.com\r\nSubject: live %s\r\n"
		     "Message-ID: <%s.%lu@live>\r\n\r\nbody\r\n", name, name, rng);
	/* the file first (whole), then its record, as a server does */
	if (hw_atomic_replace(fd, folder, name, body, (size_t)n, 0644, err) < 0)
		return -1;
	a.file = name;
	a.size = (uint32_t)n;
	a.date = time(NULL);
	r = hw_mrk_add(fd, folder, &a, 1, err);
	if (r <= 0)
		return r < 0 ? -1 : 0;
	logline("D\t%s\t%s\n", folder, name);
	return 1;
}

/* a record of the folder's IMAP.MRK, read under no lock (a choice only) */
static int pick(int fd, const char *folder, char *file, size_t size)
{
	struct imapmrk m;
	struct hw_error err;
	int ok = 0;

	imapmrk_init(&m);
	if (imapmrk_read(fd, folder, &m, &err) == 1 && m.n > 0) {
		hw_strlcpy(file, m.recs[rnd((unsigned)m.n)].filename, size);
		ok = 1;
	}
	imapmrk_release(&m);
	return ok;
}

static int delete_one(int fd, const char *folder, struct hw_error *err)
{
	char file[32];
	const char *files[1] = { file };
	int r;

	if (!pick(fd, folder, file, sizeof(file)))
		return 0;
	r = hw_mrk_remove(fd, folder, files, 1, err);
	if (r <= 0)
		return r < 0 ? -1 : 0;
	if (unlinkat(fd, file, 0) < 0 && errno != ENOENT)
		return hw_error_sys(err, "unlink", file);
	logline("X\t%s\t%s\n", folder, file);
	return 1;
}

static int flag_one(int fd, const char *folder, struct hw_error *err)
{
	struct hw_folder_lock lock;
	struct imapmrk m;
	uint8_t flags = (uint8_t)(rnd(64) & ~IMAPMRK_FLAG_DELETED);
	char file[32] = "";
	int r;

	r = hw_folder_lock_take(fd, folder, NULL, HW_MRK_LOCK_TIMEOUT_MS, &lock, err);
	if (r <= 0)
		return r;
	imapmrk_init(&m);
	r = imapmrk_read(fd, folder, &m, err);
	if (r == 1 && m.n > 0) {
		struct imapmrk_record *rec = &m.recs[rnd((unsigned)m.n)];
		rec->flags = flags;
		hw_strlcpy(file, rec->filename, sizeof(file));
		m.hdr.write_counter++;
		r = imapmrk_write(fd, folder, &m, err) < 0 ? -1 : 1;
		if (r > 0)
			logline("F\t%s\t%s\t%u\n", folder, file, flags);
	} else if (r == 1) {
		r = 0;
	}
	imapmrk_release(&m);
	hw_folder_lock_release(&lock);
	return r;
}

int main(int argc, char **argv)
{
	struct hw_store *st;
	struct hw_folder_list fl;
	struct hw_error err;
	double end;
	unsigned long ops = 0;

	if (argc < 5) {
		fputs("usage: mdwriter STORE SECONDS SEED LOG [FOLDER...]\n", stderr);
		return 64;
	}
	rng = strtoul(argv[3], NULL, 10) * 2654435761ul + 1;
	journal = fopen(argv[4], "a");
	if (journal == NULL) {
		perror(argv[4]);
		return 1;
	}
	if (hw_store_open(argv[1], &st, &err) < 0) {
		fprintf(stderr, "mdwriter: %s\n", err.msg);
		return 1;
	}
	hw_folder_list_init(&fl);
	if (hw_store_folders(st, argv + 5, (size_t)(argc - 5), &fl, NULL, &err) < 0 || fl.n == 0) {
		fprintf(stderr, "mdwriter: no folders: %s\n", err.msg);
		return 1;
	}
	end = hw_monotonic() + atof(argv[2]);
	while (hw_monotonic() < end) {
		const char *folder = fl.v[rnd((unsigned)fl.n)].relpath;
		unsigned what = rnd(4);
		int fd = hw_store_open_folder(st, folder, &err), r;
		struct timespec ts = { 0, 2000000 };

		if (fd < 0) {
			fprintf(stderr, "mdwriter: %s\n", err.msg);
			return 1;
		}
		hw_error_clear(&err);
		r = what < 2 ? deliver(fd, folder, &err) :
		    what == 2 ? delete_one(fd, folder, &err) : flag_one(fd, folder, &err);
		close(fd);
		if (r < 0) {
			fprintf(stderr, "mdwriter: %s\n", err.msg);
			return 1;
		}
		ops++;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "mdwriter: %lu operations\n", ops);
	hw_folder_list_release(&fl);
	hw_store_free(&st);
	fclose(journal);
	return 0;
}
