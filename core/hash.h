/*
 * hash.h - content hashes: XXH3-128 from libxxhash, in canonical
 * (big-endian) byte order, shown as 32 lower-case hex digits.
 */
#ifndef HW_HASH_H
#define HW_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct hw_hash {
	uint8_t b[16];
};

void hw_hash_buf(const void *p, size_t len, struct hw_hash *h);
/* hash the whole of fd from offset 0 (pread); *size_r = bytes hashed */
int hw_hash_fd(int fd, const char *display_path, struct hw_hash *h, uint64_t *size_r,
	       struct hw_error *err);
void hw_hash_hex(const struct hw_hash *h, char out[33]);
/* 1 ok, 0 not 32 hex digits */
int hw_hash_from_hex(const char *hex, struct hw_hash *h);

#endif
