/*
 * msghdr.h - the message header parser: reads only the header block.
 *
 * Handles CRLF, LF and bare CR line ends, NUL and 8-bit bytes, folded lines,
 * a missing header/body separator (the block then ends at the first line that
 * is not a header or continuation, or at EOF), and a block larger than the
 * cap (parsed up to the cap, truncated = true).
 *
 * Extracted (UTF-8, NUL-free, unfolded, trimmed; NULL when absent):
 *   date        Date: parsed to UTC seconds (RFC 5322, obsolete forms, common
 *               broken forms); date_known false when absent or unparseable -
 *               unknown is never 1970
 *   from, to    the raw unfolded field, RFC 2047 decoded
 *   subject     RFC 2047 decoded (B and Q, any charset iconv knows; unknown
 *               charsets keep the bytes, invalid UTF-8 replaced by U+FFFD)
 *   message_id, in_reply_to   the first <...> token if any, else the raw field
 *
 *   struct msghdr h;
 *   msghdr_init(&h);
 *   int r = msghdr_read_fd(fd, "example.com/bob/md50000000001.msg", &h, err);
 *   ... msghdr_release(&h);
 */
#ifndef HW_MSGHDR_H
#define HW_MSGHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MSGHDR_CAP (256 * 1024)   /* largest header block read */
#define MSGHDR_FIRST_READ 16384   /* first read; grown only if needed */

struct msghdr {
	int64_t date;        /* UTC seconds, valid when date_known */
	bool date_known;
	char *from;
	char *to;
	char *subject;
	char *message_id;
	char *in_reply_to;
	size_t header_len;   /* bytes of the header block, separator included */
	bool truncated;      /* the block was cut at MSGHDR_CAP */
	bool no_separator;   /* no blank line ended the block */
	size_t bytes_read;   /* how much of the file was read */
	unsigned skip;       /* MSGHDR_SKIP_*: fields the caller does not want
				(left NULL; set after msghdr_init) */
};
#define MSGHDR_SKIP_TO 1u
#define MSGHDR_SKIP_IN_REPLY_TO 2u

void msghdr_init(struct msghdr *h);
void msghdr_release(struct msghdr *h);

/* parse a buffer that holds the start of a message; at_eof says whether the
   buffer ends where the file ends. Returns 1 when the block was complete (or
   cut at the cap, or the buffer is the whole file), 0 when more bytes are
   needed to finish the block (the caller reads more and calls again). */
int msghdr_parse(const char *buf, size_t len, bool at_eof, struct msghdr *h);

/* read from fd (positioned at 0) just enough to parse the header block;
   -1 on read error, 1 ok */
int msghdr_read_fd(int fd, const char *display_path, struct msghdr *h, struct hw_error *err);

/* parse a Date: value; 1 ok, 0 unknown */
int msghdr_parse_date(const char *value, int64_t *t_r);

/* RFC 2047 decode into UTF-8; malloc'd */
char *msghdr_decode_words(const char *value);

#endif
