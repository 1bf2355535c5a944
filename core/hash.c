/* hash.c - XXH3-128 content hashes (see hash.h) */
#include <errno.h>
#include <unistd.h>
#include <xxhash.h>

#include "hash.h"
#include "util.h"

static void canon(XXH128_hash_t v, struct hw_hash *h)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, v);
	memcpy(h->b, c.digest, 16);
}

void hw_hash_buf(const void *p, size_t len, struct hw_hash *h)
{
	canon(XXH3_128bits(p, len), h);
}

int hw_hash_fd(int fd, const char *display_path, struct hw_hash *h, uint64_t *size_r,
	       struct hw_error *err)
{
	XXH3_state_t *state = XXH3_createState();
	size_t bufsize = 1 << 20;
	char *buf = hw_malloc(bufsize);
	uint64_t off = 0;
	int ret = 1;

	if (state == NULL)
		abort();
	XXH3_128bits_reset(state);
	for (;;) {
		ssize_t n = pread(fd, buf, bufsize, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = hw_error_sys(err, "read", display_path);
			break;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(state, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (ret > 0) {
		canon(XXH3_128bits_digest(state), h);
		if (size_r != NULL)
			*size_r = off;
	}
	XXH3_freeState(state);
	free(buf);
	return ret;
}

void hw_hash_hex(const struct hw_hash *h, char out[33])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[h->b[i] >> 4];
		out[2 * i + 1] = hex[h->b[i] & 15];
	}
	out[32] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int hw_hash_from_hex(const char *hex, struct hw_hash *h)
{
	for (int i = 0; i < 16; i++) {
		int a = hexval(hex[2 * i]), b;
		if (a < 0)
			return 0;
		b = hexval(hex[2 * i + 1]);
		if (b < 0)
			return 0;
		h->b[i] = (uint8_t)(a << 4 | b);
	}
	return hex[32] == '\0';
}
