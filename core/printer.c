/* printer.c - tables for people, JSON for scripts (see printer.h) */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "printer.h"

#define TABLE_BUFFER_ROWS 1000

struct field {
	char *key;
	char *text;    /* table rendering */
	char *json;    /* JSON rendering of the value */
};
struct row {
	struct field *f;
	size_t n, cap;
};

struct hw_printer {
	FILE *fp;
	enum hw_out_mode mode;
	bool in_summary;
	struct row cur;
	/* table listing: buffered rows until widths are known */
	struct row *rows;
	size_t nrows, caprows;
	size_t *width;
	size_t ncols;
	bool streaming;   /* widths fixed, header printed */
	bool any_rows;
};

struct hw_printer *hw_printer_new(FILE *fp, enum hw_out_mode mode)
{
	struct hw_printer *p = hw_calloc(1, sizeof(*p));

	p->fp = fp;
	p->mode = mode;
	return p;
}

enum hw_out_mode hw_printer_mode(const struct hw_printer *p)
{
	return p->mode;
}

static void row_release(struct row *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->f[i].key);
		free(r->f[i].text);
		free(r->f[i].json);
	}
	free(r->f);
	memset(r, 0, sizeof(*r));
}

/* UTF-8 validating copy for JSON; control bytes escaped */
void hw_json_escape(struct hw_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	hw_buf_addc(b, '"');
	while (*p != '\0') {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			hw_buf_addc(b, '\\');
			hw_buf_addc(b, (char)c);
			p++;
		} else if (c == '\n') {
			hw_buf_adds(b, "\\n");
			p++;
		} else if (c == '\r') {
			hw_buf_adds(b, "\\r");
			p++;
		} else if (c == '\t') {
			hw_buf_adds(b, "\\t");
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			hw_buf_addf(b, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			hw_buf_addc(b, (char)c);
			p++;
		} else {
			/* validate one UTF-8 sequence */
			int len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
			int ok = len > 0 && c < 0xf5;
			for (int i = 1; ok && i < len; i++)
				if ((p[i] & 0xc0) != 0x80)
					ok = 0;
			if (ok && len == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
				ok = 0;
			if (ok && len == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
				ok = 0;
			if (ok) {
				hw_buf_add(b, p, (size_t)len);
				p += len;
			} else {
				hw_buf_adds(b, "\xef\xbf\xbd");
				p++;
			}
		}
	}
	hw_buf_addc(b, '"');
}

static char *table_text(const char *s)
{
	char *t = hw_strdup(s);

	for (unsigned char *q = (unsigned char *)t; *q; q++)
		if (*q < 0x20 || *q == 0x7f)
			*q = '?';
	return t;
}

static void add_field(struct hw_printer *p, const char *key, char *text, char *json)
{
	struct field *f;

	HW_GROW(p->cur.f, p->cur.cap, p->cur.n + 1);
	f = &p->cur.f[p->cur.n++];
	f->key = hw_strdup(key);
	f->text = text;
	f->json = json;
}

void hw_printer_str(struct hw_printer *p, const char *key, const char *v)
{
	struct hw_buf b;

	if (v == NULL) {
		hw_printer_null(p, key);
		return;
	}
	hw_buf_init(&b);
	hw_json_escape(&b, v);
	add_field(p, key, table_text(v), hw_buf_detach(&b, NULL));
}

void hw_printer_int(struct hw_printer *p, const char *key, int64_t v)
{
	char *s = hw_asprintf("%" PRId64, v);

	add_field(p, key, s, hw_strdup(s));
}

void hw_printer_uint(struct hw_printer *p, const char *key, uint64_t v)
{
	char *s = hw_asprintf("%" PRIu64, v);

	add_field(p, key, s, hw_strdup(s));
}

void hw_printer_real(struct hw_printer *p, const char *key, double v, int decimals)
{
	char *s = hw_asprintf("%.*f", decimals, v);

	/* JSON has no NaN or Infinity ("nan" would break the line for parsers) */
	add_field(p, key, s, hw_strdup(isfinite(v) ? s : "null"));
}

void hw_printer_bool(struct hw_printer *p, const char *key, bool v)
{
	add_field(p, key, hw_strdup(v ? "yes" : "no"), hw_strdup(v ? "true" : "false"));
}

void hw_printer_null(struct hw_printer *p, const char *key)
{
	add_field(p, key, hw_strdup("-"), hw_strdup("null"));
}

void hw_printer_json(struct hw_printer *p, const char *key, const char *json)
{
	add_field(p, key, hw_strdup(json), hw_strdup(json));
}

static void print_json_object(struct hw_printer *p, const struct row *r)
{
	struct hw_buf b;

	hw_buf_init(&b);
	hw_buf_addc(&b, '{');
	for (size_t i = 0; i < r->n; i++) {
		if (i > 0)
			hw_buf_addc(&b, ',');
		hw_json_escape(&b, r->f[i].key);
		hw_buf_addc(&b, ':');
		hw_buf_adds(&b, r->f[i].json);
	}
	hw_buf_adds(&b, "}\n");
	fwrite(b.data, 1, b.len, p->fp);
	hw_buf_release(&b);
}

/* display width: count UTF-8 lead bytes (good enough for alignment) */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void print_table_row(struct hw_printer *p, const struct row *r, bool header)
{
	for (size_t i = 0; i < r->n; i++) {
		const char *s = header ? r->f[i].key : r->f[i].text;
		bool last = i + 1 == r->n;
		size_t w = i < p->ncols ? p->width[i] : 0, tw = text_width(s);
		fputs(s, p->fp);
		if (!last)
			for (size_t k = tw; k < w + 2; k++)
				fputc(' ', p->fp);
	}
	fputc('\n', p->fp);
}

static void table_widths(struct hw_printer *p, const struct row *r)
{
	if (r->n > p->ncols) {
		p->width = hw_realloc(p->width, r->n * sizeof(*p->width));
		for (size_t i = p->ncols; i < r->n; i++)
			p->width[i] = text_width(r->f[i].key);
		p->ncols = r->n;
	}
	for (size_t i = 0; i < r->n; i++) {
		size_t w = text_width(r->f[i].text);
		if (w > p->width[i])
			p->width[i] = w;
	}
}

static void table_drain(struct hw_printer *p)
{
	if (!p->streaming && p->nrows > 0) {
		print_table_row(p, &p->rows[0], true);
		p->streaming = true;
	}
	for (size_t i = 0; i < p->nrows; i++) {
		print_table_row(p, &p->rows[i], false);
		row_release(&p->rows[i]);
	}
	p->nrows = 0;
}

void hw_printer_row_begin(struct hw_printer *p)
{
	row_release(&p->cur);
}

void hw_printer_row_end(struct hw_printer *p)
{
	p->any_rows = true;
	if (p->mode == HW_OUT_JSON) {
		print_json_object(p, &p->cur);
		row_release(&p->cur);
		return;
	}
	if (p->streaming) {
		print_table_row(p, &p->cur, false);
		row_release(&p->cur);
		return;
	}
	table_widths(p, &p->cur);
	HW_GROW(p->rows, p->caprows, p->nrows + 1);
	p->rows[p->nrows++] = p->cur;
	memset(&p->cur, 0, sizeof(p->cur));
	if (p->nrows >= TABLE_BUFFER_ROWS)
		table_drain(p);
}

void hw_printer_summary_begin(struct hw_printer *p, const char *title)
{
	hw_printer_flush(p);
	row_release(&p->cur);
	p->in_summary = true;
	(void)title;
}

void hw_printer_summary_end(struct hw_printer *p)
{
	p->in_summary = false;
	if (p->mode == HW_OUT_JSON) {
		print_json_object(p, &p->cur);
	} else {
		size_t w = 0;
		if (p->any_rows)
			fputc('\n', p->fp);
		for (size_t i = 0; i < p->cur.n; i++)
			if (text_width(p->cur.f[i].key) > w)
				w = text_width(p->cur.f[i].key);
		for (size_t i = 0; i < p->cur.n; i++)
			fprintf(p->fp, "%s:%*s %s\n", p->cur.f[i].key,
				(int)(w - text_width(p->cur.f[i].key)), "", p->cur.f[i].text);
	}
	row_release(&p->cur);
	fflush(p->fp);
}

void hw_printer_flush(struct hw_printer *p)
{
	if (p->mode == HW_OUT_TABLE)
		table_drain(p);
	fflush(p->fp);
}

void hw_printer_free(struct hw_printer **pp)
{
	struct hw_printer *p = *pp;

	if (p == NULL)
		return;
	hw_printer_flush(p);
	row_release(&p->cur);
	free(p->rows);
	free(p->width);
	free(p);
	*pp = NULL;
}
