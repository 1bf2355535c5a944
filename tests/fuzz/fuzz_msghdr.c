/* fuzz_msghdr.c - the message header parser (core/msghdr.h) from any bytes:
   the whole input as a file, and its first part as a read in progress.
   Never a crash or a hang; the fields are NUL-free UTF-8 strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msghdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s)
{
	if (s != NULL)
		(void)strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msghdr h;
	int64_t t;
	char *copy, *dec;

	msghdr_init(&h);
	/* a first read: the first half, more to come */
	(void)msghdr_parse((const char *)data, size / 2, false, &h);
	msghdr_release(&h);
	msghdr_init(&h);
	if (msghdr_parse((const char *)data, size, true, &h) != 1)
		abort();   /* at EOF the block always ends */
	if (h.header_len > size)
		abort();
	check(h.from);
	check(h.to);
	check(h.subject);
	check(h.message_id);
	check(h.in_reply_to);
	msghdr_release(&h);
	/* the same bytes as one field value */
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	(void)msghdr_parse_date(copy, &t);
	dec = msghdr_decode_words(copy);
	free(dec);
	free(copy);
	return 0;
}
