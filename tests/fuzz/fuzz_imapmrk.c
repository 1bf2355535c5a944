/* fuzz_imapmrk.c - IMAP.MRK decoding (core/imapmrk.h) from any bytes.
   Never a crash; a file that decodes cleanly encodes back to its own bytes;
   the records salvaged from a bad one are all there when their encoding is
   decoded again (the header is kept as read, so it may stay "corrupt"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imapmrk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imapmrk m, again;
	struct hw_error err;
	char flags[128];
	int r = 0;

	imapmrk_init(&m);
	r = imapmrk_decode(data, size, &m, &err);
	if (m.header_ok || r == 1) {
		size_t n = imapmrk_encoded_size(&m);
		uint8_t *buf = malloc(n ? n : 1);
		imapmrk_encode(&m, buf);
		if (r == 1 && (n != size || memcmp(buf, data, size) != 0))
			abort();   /* a clean file must round-trip byte for byte */
		imapmrk_init(&again);
		(void)imapmrk_decode(buf, n, &again, &err);
		if (again.n != m.n)
			abort();   /* what was salvaged stays salvaged */
		imapmrk_release(&again);
		free(buf);
	}
	for (size_t i = 0; i < m.n; i++)
		imapmrk_flags_format(m.recs[i].flags, flags, sizeof(flags));
	imapmrk_release(&m);
	return 0;
}
