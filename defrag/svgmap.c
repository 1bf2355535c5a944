/* svgmap.c - a picture of where the store's files lie on disk: one strip
   per folder across the span of the disk the store uses, each file's pieces
   drawn at their physical place, whole files green, fragmented ones red
   (the block map people know from defrag tools) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "atomic.h"
#include "defrag.h"
#include "util.h"

#define LABEL_W 330
#define BAND_W 900
#define STRIP_H 16
#define STRIP_GAP 6
#define TOP 64

static void xml_escape(struct hw_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': hw_buf_adds(b, "&lt;"); break;
		case '>': hw_buf_adds(b, "&gt;"); break;
		case '&': hw_buf_adds(b, "&amp;"); break;
		case '"': hw_buf_adds(b, "&quot;"); break;
		default:
			/* control bytes are not allowed in XML 1.0 */
			hw_buf_addc(b, (unsigned char)*s < 0x20 ? '?' : *s);
		}
	}
}

static void span(const struct defrag_folder *v, size_t n, uint64_t *lo_r, uint64_t *hi_r)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < v[i].nfiles; j++)
			for (size_t k = 0; k < v[i].files[j].npieces; k++) {
				const struct defrag_piece *p = &v[i].files[j].pieces[k];
				if (p->phys < lo)
					lo = p->phys;
				if (p->phys + p->len > hi)
					hi = p->phys + p->len;
			}
	if (lo == UINT64_MAX)
		lo = hi = 0;
	*lo_r = lo;
	*hi_r = hi > lo ? hi : lo + 1;
}

static void render(struct hw_buf *b, const struct defrag_folder *v, size_t n)
{
	uint64_t lo, hi;
	double scale;
	int height = TOP + (int)n * (STRIP_H + STRIP_GAP) + 30;
	char a[32], z[32];

	span(v, n, &lo, &hi);
	scale = (double)BAND_W / (double)(hi - lo);
	hw_format_size(lo, a, sizeof(a));
	hw_format_size(hi, z, sizeof(z));
	hw_buf_addf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		    "font-family=\"sans-serif\" font-size=\"11\">\n"
		    "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
		    "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">hiwater frag: "
		    "where the files lie on disk</text>\n"
		    "<text x=\"8\" y=\"36\">one strip per folder; x is the physical offset from "
		    "%s to %s; each file's pieces at their place</text>\n"
		    "<rect x=\"8\" y=\"44\" width=\"10\" height=\"10\" fill=\"#2e9e44\"/>"
		    "<text x=\"22\" y=\"53\">whole file</text>\n"
		    "<rect x=\"100\" y=\"44\" width=\"10\" height=\"10\" fill=\"#d62728\"/>"
		    "<text x=\"114\" y=\"53\">fragmented file</text>\n",
		    LABEL_W + BAND_W + 16, height, a, z);
	for (size_t i = 0; i < n; i++) {
		const struct defrag_folder *f = &v[i];
		int y = TOP + (int)i * (STRIP_H + STRIP_GAP);
		hw_buf_addf(b, "<g class=\"folder\">\n<text x=\"8\" y=\"%d\">", y + 12);
		xml_escape(b, f->relpath != NULL ? f->relpath : "?");
		hw_buf_addf(b, " (%zu files, %.2f frag/file, layout %.2f)</text>\n",
			    f->nfiles, f->frag_per_file, f->layout_score);
		hw_buf_addf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#eeeeee\"/>\n",
			    LABEL_W, y, BAND_W, STRIP_H);
		for (size_t j = 0; j < f->nfiles; j++) {
			const struct defrag_file *df = &f->files[j];
			bool frag = df->fragments > 1;
			if (df->npieces == 0)
				continue;
			hw_buf_addf(b, "<g class=\"%s\" fill=\"%s\"><title>",
				    frag ? "fragmented" : "whole", frag ? "#d62728" : "#2e9e44");
			xml_escape(b, df->name);
			hw_buf_addf(b, ": %zu fragment%s, %llu bytes", df->fragments,
				    df->fragments == 1 ? "" : "s", (unsigned long long)df->size);
			if (df->uid != 0)
				hw_buf_addf(b, ", UID %u", df->uid);
			hw_buf_adds(b, "</title>");
			for (size_t k = 0; k < df->npieces; k++) {
				double x = LABEL_W + (double)(df->pieces[k].phys - lo) * scale;
				double w = (double)df->pieces[k].len * scale;
				/* at least a pixel, so that every piece shows */
				hw_buf_addf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>",
					    x, y + (frag ? 0 : 2), w < 1.0 ? 1.0 : w,
					    frag ? STRIP_H : STRIP_H - 4);
			}
			hw_buf_adds(b, "</g>\n");
		}
		hw_buf_adds(b, "</g>\n");
	}
	hw_buf_adds(b, "</svg>\n");
}

int defrag_map_write(const char *path, const struct defrag_folder *v, size_t n,
		     struct hw_error *err)
{
	struct hw_buf b;
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? hw_strdup(".")
				  : hw_strndup(path, slash == path ? 1 : (size_t)(slash - path));
	const char *base = slash == NULL ? path : slash + 1;
	int dirfd, ret;

	if (*base == '\0') {
		free(dir);
		return hw_error_set(err, EINVAL, "%s: not a file name", path);
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		hw_error_sys(err, "open", dir);
		free(dir);
		return -1;
	}
	hw_buf_init(&b);
	render(&b, v, n);
	ret = hw_atomic_replace(dirfd, dir, base, b.data, b.len, 0644, err);
	hw_buf_release(&b);
	close(dirfd);
	free(dir);
	return ret;
}
