/* fuzz_hiwatermrk.c - HIWATER.MRK parsing (core/hiwatermrk.h) from any bytes.
   Never a crash; an unchanged file serialises to its own bytes; an edit
   keeps every other byte and reads back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hiwatermrk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hwmrk *h = hwmrk_parse((const char *)data, size), *h2;
	const char *keys[16];
	size_t len = 0, n;
	char *out;

	out = hwmrk_serialize(h, &len);
	if (len != size || memcmp(out, data, size) != 0)
		abort();   /* kept byte for byte */
	free(out);
	(void)hwmrk_get(h, "Groupware", "FolderClass");
	n = hwmrk_keys(h, "IMAPSubscribed", keys, 16);
	(void)n;
	hwmrk_set(h, "Groupware", "FolderClass", "IPF.Note");
	hwmrk_set(h, "IMAPSubscribed", "Sent Items", "1");
	out = hwmrk_serialize(h, &len);
	h2 = hwmrk_parse(out, len);
	if (hwmrk_get(h2, "Groupware", "FolderClass") == NULL ||
	    strcmp(hwmrk_get(h2, "Groupware", "FolderClass"), "IPF.Note") != 0)
		abort();   /* an edit reads back */
	hwmrk_remove(h2, "IMAPSubscribed", "Sent Items");
	free(out);
	hwmrk_free(&h2);
	hwmrk_free(&h);
	return 0;
}
