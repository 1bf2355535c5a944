/* fuzz_pack.c - the snapshot pack reader (snapshot/pack.h) from any bytes,
   as one segment of a pack file: members with unsafe names, links, lying
   sizes or cut-short data are refused with an error, never a crash; every
   member handed on is a plain file with a safe name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_member(void *ctx, const char *name, const void *d, size_t len,
		     struct hw_error *err)
{
	(void)ctx;
	(void)err;
	if (!snap_member_name_safe(name))
		abort();
	if (len > 0)
		(void)((const volatile char *)d)[len - 1];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct hw_error err;

	if (fd < 0 && (fd = memfd_create("pack", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	(void)snap_segment_read(fd, "fuzz.tar.zst", 0, size, NULL, on_member, NULL, &err);
	/* and as a segment that claims more bytes than the file has */
	(void)snap_segment_read(fd, "fuzz.tar.zst", 0, size + 512, NULL, on_member, NULL, &err);
	return 0;
}
