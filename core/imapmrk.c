/*
 * imapmrk.c - IMAP.MRK codec (see imapmrk.h for the layout).
 *
 * Decoding choices, beyond what the header states:
 * - The header is "ok" when all 36 bytes are there and HeaderVersion is 1.
 *   Other oddities (UIDValidity 0, UIDNext not above the highest UID, UIDNext
 *   above 2^31) keep header_ok true, because the fields are still the best
 *   source of UIDs we have, but make the file "corrupt" (return 0) so that
 *   the caller repairs it.
 * - Records are decoded even when the header is bad: salvage first.
 * - A record name must also be usable as a file name: besides the checks in
 *   the header (NUL within 23 bytes, non-empty), a name holding '/', '\\',
 *   a control byte, or equal to "." or "..", is garbage. Windows forbids all
 *   of these in file names, so MDaemon never wrote one, and letting "../x"
 *   through would hand a path traversal to whoever opens the name.
 * - Of two records with the same UID the first is kept.
 * - A partial record at the end is counted in trailing_bytes, not salvaged.
 *
 * Encoding writes raw_name when it still spells filename (so bytes after the
 * NUL survive a round trip), else filename NUL-padded: a caller that edits
 * filename directly gets what it asked for.
 *
 * imapmrk_write refuses to write an index that would not decode as "ok"
 * (bad version, UIDValidity 0, bad or repeated UID, unknown flags, bad name,
 * UIDNext not above every UID): writing it would hand MDaemon a broken index.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic.h"
#include "imapmrk.h"
#include "util.h"

/* an IMAP.MRK above this is not an index: 30 million records */
#define IMAPMRK_READ_MAX ((size_t)1 << 30)

static uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void imapmrk_init(struct imapmrk *m)
{
	memset(m, 0, sizeof(*m));
}

void imapmrk_release(struct imapmrk *m)
{
	free(m->recs);
	imapmrk_init(m);
}

void imapmrk_header_new(struct imapmrk_header *h, uint32_t uidvalidity)
{
	memset(h, 0, sizeof(*h));
	h->version = IMAPMRK_VERSION;
	h->uidvalidity = uidvalidity;
	h->uidnext = 1;
	h->crlf = IMAPMRK_CRLF;
}

bool imapmrk_record_set_name(struct imapmrk_record *r, const char *name)
{
	size_t len = strlen(name);

	/* empty is refused too: it would decode as a garbage record */
	if (len == 0 || len >= IMAPMRK_FILENAME_SIZE)
		return false;
	memset(r->raw_name, 0, sizeof(r->raw_name));
	memcpy(r->raw_name, name, len);
	memcpy(r->filename, name, len + 1);
	return true;
}

struct imapmrk_record *imapmrk_append(struct imapmrk *m)
{
	struct imapmrk_record *r;

	HW_GROW(m->recs, m->cap, m->n + 1);
	r = &m->recs[m->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* the name check shared by decode and write; NULL if fine, else why not */
static const char *name_problem(const uint8_t *raw)
{
	size_t len = 0;

	while (len < IMAPMRK_FILENAME_SIZE && raw[len] != '\0')
		len++;
	if (len == IMAPMRK_FILENAME_SIZE)
		return "name not NUL-terminated";
	if (len == 0)
		return "empty name";
	for (size_t i = 0; i < len; i++)
		if (raw[i] < 0x20 || raw[i] == 0x7f || raw[i] == '/' || raw[i] == '\\')
			return "bad byte in name";
	if ((len == 1 && raw[0] == '.') || (len == 2 && raw[0] == '.' && raw[1] == '.'))
		return "name is . or ..";
	return NULL;
}

/* open-addressing set of UIDs (0 marks a free slot: UID 0 is never valid) */
struct uidset {
	uint32_t *slot;
	size_t mask;
};

static void uidset_init(struct uidset *s, size_t n)
{
	size_t cap = 16;

	while (cap < n * 2)
		cap *= 2;
	s->slot = hw_calloc(cap, sizeof(*s->slot));
	s->mask = cap - 1;
}

/* true if uid was added, false if it was already there */
static bool uidset_add(struct uidset *s, uint32_t uid)
{
	size_t i = (size_t)(uid * 2654435761u) & s->mask;

	while (s->slot[i] != 0) {
		if (s->slot[i] == uid)
			return false;
		i = (i + 1) & s->mask;
	}
	s->slot[i] = uid;
	return true;
}

static void uidset_release(struct uidset *s)
{
	free(s->slot);
	s->slot = NULL;
}

/* NULL if the record's fields are valid (duplicates are checked apart) */
static const char *record_problem(const uint8_t *raw_name, uint8_t flags, uint32_t uid)
{
	const char *why = name_problem(raw_name);

	if (why != NULL)
		return why;
	if (uid == 0)
		return "uid 0";
	if (uid > IMAPMRK_UID_MAX)
		return "uid above 2^31-1";
	if ((flags & ~IMAPMRK_FLAGS_KNOWN) != 0)
		return "unknown flags";
	return NULL;
}

/* append "; " + reason to the message being built */
static void reason_add(struct hw_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reason_add(struct hw_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->len > 0)
		hw_buf_adds(b, "; ");
	va_start(ap, fmt);
	hw_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

static int decode_named(const void *buf, size_t len, struct imapmrk *m,
			const char *display, struct hw_error *err)
{
	const uint8_t *p = buf;
	struct hw_buf why;
	struct uidset seen;
	size_t nrec, first_bad = 0;
	const char *first_why = NULL;
	uint32_t max_uid = 0;
	int ret;

	imapmrk_release(m);
	hw_error_clear(err);
	hw_buf_init(&why);
	if (len < IMAPMRK_HEADER_SIZE) {
		if (len == 0)
			reason_add(&why, "empty file");
		else
			reason_add(&why, "truncated header: %zu of %d bytes", len,
				   IMAPMRK_HEADER_SIZE);
		m->trailing_bytes = len;
		goto out;
	}
	m->hdr.version = le32_get(p);
	m->hdr.uidvalidity = le32_get(p + 4);
	m->hdr.uidnext = le32_get(p + 8);
	m->hdr.write_counter = le32_get(p + 12);
	for (int i = 0; i < 4; i++)
		m->hdr.filler[i] = le32_get(p + 16 + 4 * i);
	m->hdr.crlf = le32_get(p + 32);
	m->header_ok = m->hdr.version == IMAPMRK_VERSION;
	if (!m->header_ok)
		reason_add(&why, "bad header version %u", m->hdr.version);
	else if (m->hdr.uidvalidity == 0)
		reason_add(&why, "uidvalidity 0");

	nrec = (len - IMAPMRK_HEADER_SIZE) / IMAPMRK_RECORD_SIZE;
	m->trailing_bytes = (len - IMAPMRK_HEADER_SIZE) % IMAPMRK_RECORD_SIZE;
	if (nrec > 0) {
		HW_GROW(m->recs, m->cap, nrec);
	}
	uidset_init(&seen, nrec);
	for (size_t i = 0; i < nrec; i++) {
		const uint8_t *r = p + IMAPMRK_HEADER_SIZE + i * IMAPMRK_RECORD_SIZE;
		uint8_t flags = r[IMAPMRK_FILENAME_SIZE];
		uint32_t uid = le32_get(r + 24);
		const char *bad = record_problem(r, flags, uid);
		struct imapmrk_record *rec;

		if (bad == NULL && !uidset_add(&seen, uid))
			bad = "duplicate uid";
		if (bad != NULL) {
			if (m->bad_records++ == 0) {
				first_bad = i;
				first_why = bad;
			}
			continue;
		}
		rec = &m->recs[m->n++];
		memcpy(rec->raw_name, r, IMAPMRK_FILENAME_SIZE);
		/* name_problem() guaranteed a NUL within the 23 bytes */
		memcpy(rec->filename, r, IMAPMRK_FILENAME_SIZE);
		rec->filename[IMAPMRK_FILENAME_SIZE] = '\0';
		rec->flags = flags;
		rec->uid = uid;
		rec->size = le32_get(r + 28);
		rec->date = (int32_t)le32_get(r + 32);
		if (uid > max_uid)
			max_uid = uid;
	}
	uidset_release(&seen);
	if (m->bad_records > 0)
		reason_add(&why, "%zu garbage record%s dropped (first: record %zu, %s)",
			   m->bad_records, m->bad_records == 1 ? "" : "s", first_bad, first_why);
	if (m->header_ok) {
		if (m->hdr.uidnext > IMAPMRK_UID_MAX + 1u)
			reason_add(&why, "uidnext %u above 2^31", m->hdr.uidnext);
		else if (m->hdr.uidnext == 0)
			reason_add(&why, "uidnext 0");
		else if (m->hdr.uidnext <= max_uid)
			reason_add(&why, "uidnext %u not above highest uid %u",
				   m->hdr.uidnext, max_uid);
	}
	if (m->trailing_bytes > 0)
		reason_add(&why, "truncated: %zu trailing bytes", m->trailing_bytes);
out:
	if (why.len > 0) {
		hw_error_set(err, 0, "%s: %s", display, why.data);
		ret = 0;
	} else {
		ret = 1;
	}
	hw_buf_release(&why);
	return ret;
}

int imapmrk_decode(const void *buf, size_t len, struct imapmrk *m, struct hw_error *err)
{
	return decode_named(buf, len, m, IMAPMRK_NAME, err);
}

size_t imapmrk_encoded_size(const struct imapmrk *m)
{
	return IMAPMRK_HEADER_SIZE + m->n * IMAPMRK_RECORD_SIZE;
}

/* raw_name if it still spells filename, else filename NUL-padded */
static void name_encode(const struct imapmrk_record *r, uint8_t *out)
{
	size_t len = strnlen(r->filename, IMAPMRK_FILENAME_SIZE);

	if (memcmp(r->raw_name, r->filename, len) == 0 &&
	    (len == IMAPMRK_FILENAME_SIZE || r->raw_name[len] == '\0')) {
		memcpy(out, r->raw_name, IMAPMRK_FILENAME_SIZE);
		return;
	}
	memset(out, 0, IMAPMRK_FILENAME_SIZE);
	memcpy(out, r->filename, len);
}

void imapmrk_encode(const struct imapmrk *m, void *buf)
{
	uint8_t *p = buf;

	le32_put(p, m->hdr.version);
	le32_put(p + 4, m->hdr.uidvalidity);
	le32_put(p + 8, m->hdr.uidnext);
	le32_put(p + 12, m->hdr.write_counter);
	for (int i = 0; i < 4; i++)
		le32_put(p + 16 + 4 * i, m->hdr.filler[i]);
	le32_put(p + 32, m->hdr.crlf);
	p += IMAPMRK_HEADER_SIZE;
	for (size_t i = 0; i < m->n; i++, p += IMAPMRK_RECORD_SIZE) {
		const struct imapmrk_record *r = &m->recs[i];
		name_encode(r, p);
		p[IMAPMRK_FILENAME_SIZE] = r->flags;
		le32_put(p + 24, r->uid);
		le32_put(p + 28, r->size);
		le32_put(p + 32, (uint32_t)r->date);
	}
}

/* 1 if m encodes to a file that decodes as ok, else -1 with the reason */
static int check_writable(const struct imapmrk *m, const char *display, struct hw_error *err)
{
	struct uidset seen;
	uint32_t max_uid = 0;
	int ret = 1;

	if (m->hdr.version != IMAPMRK_VERSION)
		return hw_error_set(err, EINVAL, "%s: refusing to write header version %u",
				    display, m->hdr.version);
	if (m->hdr.uidvalidity == 0)
		return hw_error_set(err, EINVAL, "%s: refusing to write uidvalidity 0", display);
	uidset_init(&seen, m->n);
	for (size_t i = 0; i < m->n; i++) {
		const struct imapmrk_record *r = &m->recs[i];
		uint8_t raw[IMAPMRK_FILENAME_SIZE];
		const char *bad;

		name_encode(r, raw);
		bad = record_problem(raw, r->flags, r->uid);
		if (bad == NULL && !uidset_add(&seen, r->uid))
			bad = "duplicate uid";
		if (bad != NULL) {
			ret = hw_error_set(err, EINVAL, "%s: refusing to write record %zu (uid %u): %s",
					   display, i, r->uid, bad);
			goto out;
		}
		if (r->uid > max_uid)
			max_uid = r->uid;
	}
	if (m->hdr.uidnext <= max_uid || m->hdr.uidnext > IMAPMRK_UID_MAX + 1u)
		ret = hw_error_set(err, EINVAL, "%s: refusing to write uidnext %u (highest uid %u)",
				   display, m->hdr.uidnext, max_uid);
out:
	uidset_release(&seen);
	return ret;
}

int imapmrk_read(int dirfd, const char *dirpath, struct imapmrk *m, struct hw_error *err)
{
	char *display = hw_path_join(dirpath, IMAPMRK_NAME);
	char *data = NULL;
	size_t len = 0;
	int ret;

	imapmrk_release(m);
	hw_error_clear(err);
	ret = hw_read_file_at(dirfd, IMAPMRK_NAME, display, IMAPMRK_READ_MAX, &data, &len, err);
	if (ret <= 0) {
		if (ret == 0)
			hw_error_clear(err);
		goto out;
	}
	ret = decode_named(data, len, m, display, err);
out:
	free(data);
	free(display);
	return ret;
}

/* the mode of the file being replaced, so a rewrite keeps it; 0644 if none */
static mode_t target_mode(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		return st.st_mode & 0777;
	return 0644;
}

int imapmrk_write(int dirfd, const char *dirpath, const struct imapmrk *m, struct hw_error *err)
{
	char *display = hw_path_join(dirpath, IMAPMRK_NAME);
	size_t len = imapmrk_encoded_size(m);
	void *buf = NULL;
	int ret;

	hw_error_clear(err);
	ret = check_writable(m, display, err);
	if (ret < 0)
		goto out;
	buf = hw_malloc(len);
	imapmrk_encode(m, buf);
	ret = hw_atomic_replace(dirfd, dirpath, IMAPMRK_NAME, buf, len,
				target_mode(dirfd, IMAPMRK_NAME), err);
out:
	free(buf);
	free(display);
	return ret < 0 ? -1 : 1;
}

int imapmrk_write_unsynced(int dirfd, const char *dirpath, const struct imapmrk *m,
			   struct hw_atomic *a, struct hw_error *err)
{
	char *display = hw_path_join(dirpath, IMAPMRK_NAME);
	size_t len = imapmrk_encoded_size(m);
	void *buf = NULL;
	int ret;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->done = true;   /* safe to abort until begin succeeds */
	hw_error_clear(err);
	ret = check_writable(m, display, err);
	if (ret < 0)
		goto out;
	buf = hw_malloc(len);
	imapmrk_encode(m, buf);
	ret = hw_atomic_begin(a, dirfd, dirpath, IMAPMRK_NAME, target_mode(dirfd, IMAPMRK_NAME), err);
	if (ret < 0)
		goto out;
	if (hw_atomic_write(a, buf, len, err) < 0 || hw_atomic_close_unsynced(a, err) < 0)
		ret = -1;
out:
	free(buf);
	free(display);
	return ret < 0 ? -1 : 1;
}

void imapmrk_flags_format(uint8_t flags, char *buf, size_t size)
{
	static const struct { uint8_t bit; const char *name; } names[] = {
		{ IMAPMRK_FLAG_SEEN, "\\Seen" },
		{ IMAPMRK_FLAG_ANSWERED, "\\Answered" },
		{ IMAPMRK_FLAG_FLAGGED, "\\Flagged" },
		{ IMAPMRK_FLAG_DELETED, "\\Deleted" },
		{ IMAPMRK_FLAG_DRAFT, "\\Draft" },
		{ IMAPMRK_FLAG_RECENT, "\\Recent" },
	};
	size_t used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n;
		if ((flags & names[i].bit) == 0)
			continue;
		n = snprintf(buf + used, size - used, "%s%s", used > 0 ? " " : "", names[i].name);
		if (n < 0 || (size_t)n >= size - used)
			return;   /* truncated, still NUL-terminated */
		used += (size_t)n;
	}
}

/*
 * Clamp to [0, INT32_MAX]: a 32-bit Date cannot hold times after
 * 2038-01-19T03:14:07Z, and a negative Date (before 1970) is never a real
 * arrival time; both are pinned to the nearest end rather than wrapped, so a
 * message never appears to arrive in 1901 or in the far future.
 */
int32_t imapmrk_clamp_date(int64_t t)
{
	if (t < 0)
		return 0;
	if (t > INT32_MAX)
		return INT32_MAX;
	return (int32_t)t;
}
