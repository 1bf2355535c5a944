/*
 * hiwatermrk.c - HIWATER.MRK codec (see hiwatermrk.h).
 *
 * The file is kept as an array of lines, each with its exact bytes and its
 * own ending, so serialising gives back the input byte for byte and a change
 * rewrites only the lines it touches. Choices beyond the header:
 *
 * Parsing
 * - Endings are CRLF, LF or a lone CR; the last line may have none.
 * - A UTF-8 BOM at the start of the file is kept and skipped for parsing.
 * - Leading/trailing spaces and tabs are not part of names or values:
 *   "[ Groupware ]" is section "Groupware", "  Key = a b  " is key "Key",
 *   value "a b". Quotes are not stripped.
 * - "[name]" is a section header (text after ']' is kept and ignored); a line
 *   starting with '[' without ']' is garbage. A line with '=' and a non-empty
 *   key is a key line. Any line holding a NUL byte is garbage: names and
 *   values are C strings and must not be cut short silently.
 * - Key lines before the first section belong to no section and are
 *   unreachable (but kept).
 * - Names match case-insensitively in ASCII only (no locale: the result must
 *   not depend on the environment).
 *
 * Duplicates: a section may appear more than once. Lookups (get, keys) see
 * the keys of every section of that name, in file order; get returns the
 * first. set changes the first key line found; remove deletes every key line
 * of that name in the section, so that get returns NULL afterwards.
 *
 * Changes
 * - set on an existing key replaces only the value bytes: the key spelling,
 *   the spaces around '=', anything after the value (trailing blanks) and the
 *   line ending stay.
 * - A missing key goes after the last key line of the (first) section, or
 *   right after its header when it has none; comments and blank lines that
 *   follow the last key stay below the new key.
 * - A missing section goes at the end of the file, preceded by one blank line
 *   when the file is non-empty and its last line is not already blank.
 * - New lines use the file's dominant ending (ties: CRLF, then LF, then CR;
 *   CRLF when the file has no endings at all, as MDaemon writes). When a line
 *   is added after a last line that has no ending, that line gets the
 *   dominant ending and the new last line gets none: the file keeps its "no
 *   final newline" state (unless that last line was blank: then every new
 *   line gets an ending). Removing a last line leaves the new last line's
 *   ending as it was. An empty line added after a lone-CR line takes a CR
 *   too, when the ending would be LF: CR + LF would read back as one CRLF.
 * - set refuses (returns false, changes nothing) what could not be read back
 *   as given: an empty section or key, a section with ']', a key with '=' or
 *   starting with '[', ';' or '#', names or values with CR or LF, names or
 *   values with leading or trailing blanks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic.h"
#include "hiwatermrk.h"
#include "util.h"

/* a settings file above this is not one */
#define HWMRK_READ_MAX ((size_t)16 << 20)

enum line_kind { LINE_BLANK, LINE_COMMENT, LINE_SECTION, LINE_KEY, LINE_GARBAGE };

struct hwmrk_line {
	char *text;          /* the line's bytes without ending, NUL added */
	size_t len;
	char eol[2];         /* "\r\n", "\n", "\r" or none */
	size_t eol_len;
	enum line_kind kind;
	char *name;          /* section name or key, trimmed; NULL otherwise */
	char *value;         /* key lines: value, trimmed */
	size_t val_start;    /* key lines: value bytes are text[val_start..val_end) */
	size_t val_end;
};

struct hwmrk {
	struct hwmrk_line *lines;
	size_t n, cap;
	bool changed;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower(*a) != ascii_lower(*b))
			return false;
	return *a == *b;
}

/* the first byte of line text that counts for parsing (skips a leading BOM) */
static size_t parse_start(const struct hwmrk *h, const struct hwmrk_line *l)
{
	if (l == &h->lines[0] && l->len >= 3 && memcmp(l->text, "\xef\xbb\xbf", 3) == 0)
		return 3;
	return 0;
}

static void line_classify(const struct hwmrk *h, struct hwmrk_line *l)
{
	const char *t = l->text;
	size_t i = parse_start(h, l), end = l->len, eq;

	free(l->name);
	free(l->value);
	l->name = l->value = NULL;
	l->val_start = l->val_end = 0;
	if (memchr(t, '\0', l->len) != NULL) {
		l->kind = LINE_GARBAGE;
		return;
	}
	while (i < end && is_blank(t[i]))
		i++;
	while (end > i && is_blank(t[end - 1]))
		end--;
	if (i == end) {
		l->kind = LINE_BLANK;
		return;
	}
	if (t[i] == ';' || t[i] == '#') {
		l->kind = LINE_COMMENT;
		return;
	}
	if (t[i] == '[') {
		const char *close = memchr(t + i, ']', end - i);
		size_t a = i + 1, b;
		if (close == NULL) {
			l->kind = LINE_GARBAGE;
			return;
		}
		b = (size_t)(close - t);
		while (a < b && is_blank(t[a]))
			a++;
		while (b > a && is_blank(t[b - 1]))
			b--;
		l->kind = LINE_SECTION;
		l->name = hw_strndup(t + a, b - a);
		return;
	}
	for (eq = i; eq < end && t[eq] != '='; eq++)
		;
	if (eq == end) {
		l->kind = LINE_GARBAGE;
		return;
	}
	{
		size_t kend = eq, vs = eq + 1;
		while (kend > i && is_blank(t[kend - 1]))
			kend--;
		if (kend == i) {
			l->kind = LINE_GARBAGE;
			return;
		}
		/* skip blanks up to the true end, so "Key = " keeps its blank
		   before a value set later */
		while (vs < l->len && is_blank(t[vs]))
			vs++;
		l->kind = LINE_KEY;
		l->name = hw_strndup(t + i, kend - i);
		l->val_start = vs;
		l->val_end = end < vs ? vs : end;
		l->value = hw_strndup(t + vs, l->val_end - vs);
	}
}

static void line_release(struct hwmrk_line *l)
{
	free(l->text);
	free(l->name);
	free(l->value);
	memset(l, 0, sizeof(*l));
}

static void line_set_eol(struct hwmrk_line *l, const char *eol)
{
	l->eol_len = strlen(eol);
	memcpy(l->eol, eol, l->eol_len);
}

struct hwmrk *hwmrk_new(void)
{
	return hw_calloc(1, sizeof(struct hwmrk));
}

void hwmrk_free(struct hwmrk **hp)
{
	struct hwmrk *h = *hp;

	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		line_release(&h->lines[i]);
	free(h->lines);
	free(h);
	*hp = NULL;
}

struct hwmrk *hwmrk_parse(const char *buf, size_t len)
{
	struct hwmrk *h = hwmrk_new();
	size_t pos = 0;

	while (pos < len) {
		size_t start = pos, eol_len = 0;
		struct hwmrk_line *l;

		while (pos < len && buf[pos] != '\n' && buf[pos] != '\r')
			pos++;
		if (pos < len) {
			eol_len = buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] == '\n' ? 2 : 1;
		}
		HW_GROW(h->lines, h->cap, h->n + 1);
		l = &h->lines[h->n++];
		memset(l, 0, sizeof(*l));
		l->text = hw_strndup(buf + start, pos - start);
		l->len = pos - start;
		memcpy(l->eol, buf + pos, eol_len);
		l->eol_len = eol_len;
		pos += eol_len;
	}
	/* classify after splitting: line 0 must be in place for the BOM check */
	for (size_t i = 0; i < h->n; i++)
		line_classify(h, &h->lines[i]);
	return h;
}

/* walk key lines of every section named section, in file order */
struct key_iter {
	size_t i;
	bool in;
};

static struct hwmrk_line *key_next(const struct hwmrk *h, const char *section, struct key_iter *it)
{
	for (; it->i < h->n; it->i++) {
		struct hwmrk_line *l = &h->lines[it->i];
		if (l->kind == LINE_SECTION)
			it->in = name_eq(l->name, section);
		else if (it->in && l->kind == LINE_KEY) {
			it->i++;
			return l;
		}
	}
	return NULL;
}

static struct hwmrk_line *key_find(const struct hwmrk *h, const char *section, const char *key)
{
	struct key_iter it = { 0, false };
	struct hwmrk_line *l;

	while ((l = key_next(h, section, &it)) != NULL)
		if (name_eq(l->name, key))
			return l;
	return NULL;
}

const char *hwmrk_get(const struct hwmrk *h, const char *section, const char *key)
{
	struct hwmrk_line *l = key_find(h, section, key);

	return l != NULL ? l->value : NULL;
}

bool hwmrk_has_section(const struct hwmrk *h, const char *section)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->lines[i].kind == LINE_SECTION && name_eq(h->lines[i].name, section))
			return true;
	return false;
}

/* FNV-1a over the ASCII-folded name */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)ascii_lower(*s)) * 16777619u;
	return h;
}

size_t hwmrk_keys(const struct hwmrk *h, const char *section, const char **keys, size_t max)
{
	struct key_iter it = { 0, false };
	struct hwmrk_line *l;
	/* open-addressing set of the names listed so far (a repeated key is
	   listed once, where it first appears), so a root with thousands of
	   subscribed folders is not quadratic */
	const char **seen;
	size_t mask = 15, count = 0;

	while (mask + 1 < 2 * h->n)
		mask = mask * 2 + 1;
	seen = hw_calloc(mask + 1, sizeof(*seen));
	while ((l = key_next(h, section, &it)) != NULL) {
		size_t slot = name_hash(l->name) & mask;
		bool dup = false;
		while (seen[slot] != NULL) {
			if (name_eq(seen[slot], l->name)) {
				dup = true;
				break;
			}
			slot = (slot + 1) & mask;
		}
		if (dup)
			continue;
		seen[slot] = l->name;
		if (count < max)
			keys[count] = l->name;
		count++;
	}
	free(seen);
	return count;
}

bool hwmrk_changed(const struct hwmrk *h)
{
	return h->changed;
}

static const char *dominant_eol(const struct hwmrk *h)
{
	size_t crlf = 0, lf = 0, cr = 0;

	for (size_t i = 0; i < h->n; i++) {
		const struct hwmrk_line *l = &h->lines[i];
		if (l->eol_len == 2)
			crlf++;
		else if (l->eol_len == 1 && l->eol[0] == '\n')
			lf++;
		else if (l->eol_len == 1)
			cr++;
	}
	if (crlf >= lf && crlf >= cr)
		return "\r\n";
	return lf >= cr ? "\n" : "\r";
}

/* insert a new line with text and ending eol at index at */
static void line_insert(struct hwmrk *h, size_t at, const char *text, const char *eol)
{
	struct hwmrk_line *l;

	HW_GROW(h->lines, h->cap, h->n + 1);
	memmove(&h->lines[at + 1], &h->lines[at], (h->n - at) * sizeof(*h->lines));
	h->n++;
	l = &h->lines[at];
	memset(l, 0, sizeof(*l));
	l->len = strlen(text);
	l->text = hw_strndup(text, l->len);
	if (at > 0 && h->lines[at - 1].eol_len == 0) {
		/* only the last line can lack an ending; it now needs one */
		line_set_eol(&h->lines[at - 1], eol);
	}
	if (l->len == 0 && at > 0 && h->lines[at - 1].eol_len == 1 &&
	    h->lines[at - 1].eol[0] == '\r' && eol[0] == '\n') {
		/* CR + an empty LF line would read back as one CRLF */
		line_set_eol(l, "\r");
	} else {
		line_set_eol(l, eol);
	}
	line_classify(h, l);
}

/* add "key=value" to section, creating the section if needed */
static void key_add(struct hwmrk *h, const char *section, const char *key, const char *value)
{
	const char *eol = dominant_eol(h);
	/* a file whose last line (with content) has no ending keeps that shape */
	bool no_final_eol = h->n > 0 && h->lines[h->n - 1].eol_len == 0 &&
			    h->lines[h->n - 1].kind != LINE_BLANK;
	char *line = hw_asprintf("%s=%s", key, value);
	size_t at = 0;
	bool found = false;

	for (size_t i = 0; i < h->n; i++) {
		const struct hwmrk_line *x = &h->lines[i];
		if (x->kind == LINE_SECTION) {
			if (found)
				break;
			if (name_eq(x->name, section)) {
				found = true;
				at = i + 1;
			}
		} else if (found && x->kind == LINE_KEY) {
			at = i + 1;
		}
	}
	if (found) {
		line_insert(h, at, line, eol);
	} else {
		char *hdr = hw_asprintf("[%s]", section);
		if (h->n > 0 && h->lines[h->n - 1].kind != LINE_BLANK)
			line_insert(h, h->n, "", eol);
		line_insert(h, h->n, hdr, eol);
		line_insert(h, h->n, line, eol);
		free(hdr);
	}
	/* if the old last line is no longer last, the new last line is ours */
	if (no_final_eol && h->lines[h->n - 1].eol_len != 0)
		h->lines[h->n - 1].eol_len = 0;
	free(line);
}

static bool has_edge_blank(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && (is_blank(s[0]) || is_blank(s[len - 1]));
}

static bool set_args_ok(const char *section, const char *key, const char *value)
{
	if (*section == '\0' || *key == '\0')
		return false;
	if (strpbrk(section, "]\r\n") != NULL || strpbrk(key, "=\r\n") != NULL ||
	    strpbrk(value, "\r\n") != NULL)
		return false;
	if (key[0] == '[' || key[0] == ';' || key[0] == '#')
		return false;
	return !has_edge_blank(section) && !has_edge_blank(key) && !has_edge_blank(value);
}

bool hwmrk_set(struct hwmrk *h, const char *section, const char *key, const char *value)
{
	struct hwmrk_line *l;

	if (!set_args_ok(section, key, value))
		return false;
	l = key_find(h, section, key);
	if (l != NULL) {
		struct hw_buf b;
		if (strcmp(l->value, value) == 0)
			return false;
		hw_buf_init(&b);
		hw_buf_add(&b, l->text, l->val_start);
		hw_buf_adds(&b, value);
		hw_buf_add(&b, l->text + l->val_end, l->len - l->val_end);
		free(l->text);
		l->text = hw_buf_detach(&b, &l->len);
		line_classify(h, l);
		h->changed = true;
		return true;
	}
	key_add(h, section, key, value);
	h->changed = true;
	return true;
}

bool hwmrk_remove(struct hwmrk *h, const char *section, const char *key)
{
	bool in = false, removed = false;
	size_t i = 0;

	while (i < h->n) {
		struct hwmrk_line *l = &h->lines[i];
		if (l->kind == LINE_SECTION)
			in = name_eq(l->name, section);
		if (in && l->kind == LINE_KEY && name_eq(l->name, key)) {
			line_release(l);
			memmove(l, l + 1, (h->n - i - 1) * sizeof(*l));
			h->n--;
			removed = true;
			continue;
		}
		i++;
	}
	if (removed) {
		/* the BOM check depends on which line is first */
		if (h->n > 0)
			line_classify(h, &h->lines[0]);
		h->changed = true;
	}
	return removed;
}

char *hwmrk_serialize(const struct hwmrk *h, size_t *len_r)
{
	struct hw_buf b;

	hw_buf_init(&b);
	for (size_t i = 0; i < h->n; i++) {
		hw_buf_add(&b, h->lines[i].text, h->lines[i].len);
		hw_buf_add(&b, h->lines[i].eol, h->lines[i].eol_len);
	}
	return hw_buf_detach(&b, len_r);   /* "" for an empty file */
}

int hwmrk_read(int dirfd, const char *dirpath, struct hwmrk **h_r, struct hw_error *err)
{
	char *display = hw_path_join(dirpath, HIWATERMRK_NAME);
	char *data = NULL;
	size_t len = 0;
	int ret;

	*h_r = NULL;
	hw_error_clear(err);
	ret = hw_read_file_at(dirfd, HIWATERMRK_NAME, display, HWMRK_READ_MAX, &data, &len, err);
	if (ret < 0)
		goto out;
	if (ret == 0) {
		hw_error_clear(err);
		*h_r = hwmrk_new();
		goto out;
	}
	*h_r = hwmrk_parse(data, len);
out:
	free(data);
	free(display);
	return ret;
}

int hwmrk_write(int dirfd, const char *dirpath, const struct hwmrk *h, struct hw_error *err)
{
	struct stat st;
	mode_t mode = 0644;
	size_t len;
	char *buf;
	int ret;

	hw_error_clear(err);
	/* keep the mode of the file being replaced */
	if (fstatat(dirfd, HIWATERMRK_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 0777;
	buf = hwmrk_serialize(h, &len);
	ret = hw_atomic_replace(dirfd, dirpath, HIWATERMRK_NAME, buf, len, mode, err);
	free(buf);
	return ret < 0 ? -1 : 1;
}

int hwmrk_write_unsynced(int dirfd, const char *dirpath, const struct hwmrk *h,
			 struct hw_atomic *a, struct hw_error *err)
{
	struct stat st;
	mode_t mode = 0644;
	size_t len;
	char *buf;
	int ret;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->done = true;   /* safe to abort until begin succeeds */
	hw_error_clear(err);
	if (fstatat(dirfd, HIWATERMRK_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 0777;
	buf = hwmrk_serialize(h, &len);
	ret = hw_atomic_begin(a, dirfd, dirpath, HIWATERMRK_NAME, mode, err);
	if (ret > 0 && (hw_atomic_write(a, buf, len, err) < 0 || hw_atomic_close_unsynced(a, err) < 0))
		ret = -1;
	free(buf);
	return ret < 0 ? -1 : 1;
}
