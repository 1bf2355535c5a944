/* cmd_ls.c - hiwater ls: one row per IMAP.MRK record of a folder */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

int cmd_ls(int argc, char **argv);

static const char usage[] =
	"usage: hiwater ls [--json] FOLDER\n"
	"\n"
	"List a folder's IMAP.MRK records in UID order: uid, flags, file, size,\n"
	"date (arrival, UTC), from, subject, message_id. Header fields come from\n"
	"the catalog when it knows the file, else from the file's header block.\n"
	"\n"
	"Exit: 0 ok; 1 the index is missing or corrupt (what could be read is\n"
	"listed); 64 usage; 74 I/O error.\n";

static const struct hw_cat_message *find_row(const struct hw_cat_message *v, size_t n,
					     const char *file)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(v[mid].file, file);
		if (c == 0)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct hw_store *st = NULL;
	struct hw_catalog *cat = NULL;
	struct hw_printer *p = NULL;
	struct hw_cat_folder cf;
	struct hw_cat_message *rows = NULL;
	size_t nrows = 0;
	struct imapmrk m;
	struct hw_error err;
	const char *folder;
	int c, r, dirfd = -1, ret = HW_EXIT_OK;

	memset(&cf, 0, sizeof(cf));
	imapmrk_init(&m);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		r = cli_common_opt(c, optarg, usage);
		if (r != 1)
			return r < 0 ? HW_EXIT_OK : r ? r : cli_usage_error("unknown option");
	}
	if (argc - optind != 1)
		return cli_usage_error("ls takes exactly one FOLDER");
	if ((r = cli_check_folder_args(argc, argv)) != 0)
		return r;
	folder = argv[optind];
	st = cli_store_open(&ret);
	if (st == NULL)
		goto out;
	dirfd = hw_store_open_folder(st, folder, &err);
	if (dirfd < 0) {
		cli_error("%s", err.msg);
		ret = HW_EXIT_IOERR;
		goto out;
	}
	r = imapmrk_read(dirfd, folder, &m, &err);
	if (r < 0) {
		cli_error("%s", err.msg);
		ret = HW_EXIT_IOERR;
		goto out;
	}
	if (r == 0) {
		if (err.msg[0] != '\0')
			hw_diag_warn("%s/IMAP.MRK: %s (listing what could be read)", folder, err.msg);
		else
			hw_diag_warn("%s has no IMAP.MRK: run 'hiwater index %s'", folder, folder);
		ret = HW_EXIT_FINDINGS;
	}
	/* the catalog is optional here: ls works on a store never indexed */
	{
		int dummy = 0;
		const char *state = cli.state != NULL ? cli.state : HW_STATE_DEFAULT;
		if (access(state, F_OK) == 0 && (cat = cli_catalog_open(&dummy)) != NULL &&
		    hw_catalog_folder_get(cat, folder, &cf, &err) > 0)
			hw_catalog_messages_get(cat, cf.id, &rows, &nrows, &err);
	}
	p = cli_printer();
	for (size_t i = 0; i < m.n; i++) {
		const struct imapmrk_record *rec = &m.recs[i];
		const struct hw_cat_message *row = find_row(rows, nrows, rec->filename);
		struct msghdr h;
		char flags[96], date[32];
		bool have_h = false;

		msghdr_init(&h);
		if (row == NULL) {
			char *shown = hw_path_join(folder, rec->filename);
			int fd = hw_open_regular(dirfd, rec->filename, shown, NULL, &err);
			if (fd >= 0) {
				have_h = msghdr_read_fd(fd, shown, &h, &err) > 0;
				close(fd);
			} else {
				hw_diag_warn("%s", err.msg);
			}
			free(shown);
		}
		imapmrk_flags_format(rec->flags, flags, sizeof(flags));
		hw_time_iso(rec->date, date, sizeof(date));
		hw_printer_row_begin(p);
		hw_printer_uint(p, "uid", rec->uid);
		hw_printer_str(p, "flags", flags);
		hw_printer_str(p, "file", rec->filename);
		hw_printer_uint(p, "size", rec->size);
		hw_printer_str(p, "date", date);
		hw_printer_str(p, "from", row ? row->from : have_h ? h.from : NULL);
		hw_printer_str(p, "subject", row ? row->subject : have_h ? h.subject : NULL);
		hw_printer_str(p, "message_id", row ? row->message_id : have_h ? h.message_id : NULL);
		hw_printer_row_end(p);
		msghdr_release(&h);
	}
	ret = cli_exit_from_diag(ret);
out:
	hw_printer_free(&p);
	hw_cat_messages_free(rows, nrows);
	hw_cat_folder_release(&cf);
	imapmrk_release(&m);
	if (dirfd >= 0)
		close(dirfd);
	hw_catalog_free(&cat);
	hw_store_free(&st);
	return ret;
}
