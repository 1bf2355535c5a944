/*
 * imapmrk.h - IMAP.MRK, MDaemon's per-folder message index (binary).
 *
 * Layout (little-endian, packed; see docs/formats.md for sources):
 *   header, 36 bytes: nine uint32
 *     HeaderVersion      always 1
 *     UIDValidity        changes only when every client must resync
 *     UIDNext            > every UID ever given in this folder; never decreases
 *     LastWriteCounter   incremented by every writer
 *     Filler0..Filler3   kept as read
 *     CRLF               guessed to be the bytes "\r\n\0\0"; kept as read
 *   then one 36-byte record per message:
 *     char    Filename[23]  NUL-padded, e.g. "md50000001234.msg"
 *     uint8   Flags         IMAPMRK_FLAG_*
 *     uint32  UID           1 .. 2^31-1, unique in the folder
 *     uint32  Size          the file's size in bytes (clamped to 2^32-1)
 *     int32   Date          arrival, seconds since 1970 UTC (clamped, never wrapped)
 *
 * Decoding never crashes on any input: a short or garbage file yields what
 * can be salvaged plus a reason. Encoding a decoded file gives back the same
 * bytes (records keep their raw 23 name bytes, fillers are kept).
 *
 * Return values follow core/error.h: -1 I/O error, 0 absent or corrupt
 * (m holds whatever could be salvaged, err the reason), 1 ok.
 */
#ifndef HW_IMAPMRK_H
#define HW_IMAPMRK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define IMAPMRK_NAME "IMAP.MRK"
#define IMAPMRK_HEADER_SIZE 36
#define IMAPMRK_RECORD_SIZE 36
#define IMAPMRK_FILENAME_SIZE 23
#define IMAPMRK_VERSION 1
#define IMAPMRK_UID_MAX 0x7fffffffu  /* UIDs stay below 2^31 */

enum imapmrk_flag {
	IMAPMRK_FLAG_RECENT = 1,
	IMAPMRK_FLAG_DRAFT = 2,
	IMAPMRK_FLAG_DELETED = 4,
	IMAPMRK_FLAG_FLAGGED = 8,
	IMAPMRK_FLAG_ANSWERED = 16,
	IMAPMRK_FLAG_SEEN = 32,
};
#define IMAPMRK_FLAGS_KNOWN 63

struct imapmrk_header {
	uint32_t version;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t write_counter;
	uint32_t filler[4];
	uint32_t crlf;           /* bytes \r \n \0 \0 read as LE uint32: 0x00000a0d */
};
#define IMAPMRK_CRLF 0x00000a0du

struct imapmrk_record {
	char filename[IMAPMRK_FILENAME_SIZE + 1];   /* NUL-terminated copy */
	uint8_t raw_name[IMAPMRK_FILENAME_SIZE];     /* as on disk */
	uint8_t flags;
	uint32_t uid;
	uint32_t size;
	int32_t date;
};

struct imapmrk {
	struct imapmrk_header hdr;
	bool header_ok;             /* header decoded and plausible */
	struct imapmrk_record *recs;
	size_t n, cap;
	size_t bad_records;         /* garbage records dropped while decoding */
	size_t trailing_bytes;      /* bytes after the last whole record */
};

void imapmrk_init(struct imapmrk *m);       /* empty, header_ok=false */
void imapmrk_release(struct imapmrk *m);
/* a fresh header: version 1, given uidvalidity, uidnext 1, CRLF */
void imapmrk_header_new(struct imapmrk_header *h, uint32_t uidvalidity);

/* set filename and raw_name (NUL-padded) from name; false if too long */
bool imapmrk_record_set_name(struct imapmrk_record *r, const char *name);
struct imapmrk_record *imapmrk_append(struct imapmrk *m);

/* decode a buffer; 1 ok, 0 corrupt (salvaged what it could, err = reason).
   Record checks: name is NUL-terminated within 23 bytes and non-empty,
   UID in 1..2^31-1 and not repeated, flags within IMAPMRK_FLAGS_KNOWN.
   A bad record is dropped and counted; the file is then "corrupt". */
int imapmrk_decode(const void *buf, size_t len, struct imapmrk *m, struct hw_error *err);
/* encoded length and encoding (buf must hold imapmrk_encoded_size bytes) */
size_t imapmrk_encoded_size(const struct imapmrk *m);
void imapmrk_encode(const struct imapmrk *m, void *buf);

/* read dirfd/IMAP.MRK: -1 I/O error, 0 absent (err empty) or corrupt
   (err = reason), 1 ok. dirpath is for messages. */
int imapmrk_read(int dirfd, const char *dirpath, struct imapmrk *m, struct hw_error *err);
/* write dirfd/IMAP.MRK atomically (core/atomic.h); -1 or 1 */
int imapmrk_write(int dirfd, const char *dirpath, const struct imapmrk *m, struct hw_error *err);

/* the first half of imapmrk_write for batch durability (core/atomic.h):
   temp written and closed, not fsynced; the caller syncs, renames with
   hw_atomic_rename_unsynced, syncs again. -1 or 1 */
struct hw_atomic;
int imapmrk_write_unsynced(int dirfd, const char *dirpath, const struct imapmrk *m,
			   struct hw_atomic *a, struct hw_error *err);

/* "\\Seen \\Answered" style names into buf; "" for none */
void imapmrk_flags_format(uint8_t flags, char *buf, size_t size);

/* clamp a 64-bit time to the int32 Date field (never wraps) */
int32_t imapmrk_clamp_date(int64_t t);

#endif
