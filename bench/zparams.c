/* zparams.c - zstd parameters for pack segments, measured on a real stream
 *
 *   zstd -dc STATE/snapshots/packs/pack-*.tar.zst > stream.tar
 *   bench/zparams stream.tar 3 3:22:0:16 3:22:0:15 3:22:0:14 2:22
 *
 * Each SET is LEVEL[:WINDOWLOG[:HASHLOG[:CHAINLOG]]] (0 or absent: the
 * level's own). The stream is cut into 4 MB frames, as snapshot create cuts
 * its segments, and compressed on one thread with each set, best of three;
 * prints seconds and compressed bytes, so that time and size can be traded
 * against each other on the data itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define FRAME ((size_t)4 << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int set_param(ZSTD_CCtx *c, ZSTD_cParameter p, int v, const char *set)
{
	if (v == 0)
		return 0;
	size_t r = ZSTD_CCtx_setParameter(c, p, v);
	if (ZSTD_isError(r)) {
		fprintf(stderr, "zparams: %s: %s\n", set, ZSTD_getErrorName(r));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: zparams STREAM LEVEL[:WINDOWLOG[:HASHLOG[:CHAINLOG]]]...\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (f == NULL) {
		fprintf(stderr, "zparams: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	size_t cap = 1 << 20, n = 0, k;
	char *data = malloc(cap);
	while (data != NULL && (k = fread(data + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap)
			data = realloc(data, cap *= 2);
	}
	fclose(f);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	char *out = malloc(ZSTD_compressBound(FRAME));
	if (data == NULL || c == NULL || out == NULL) {
		fprintf(stderr, "zparams: out of memory\n");
		return 1;
	}
	printf("%s: %zu bytes, %zu frames of 4 MB\n", argv[1], n, (n + FRAME - 1) / FRAME);
	for (int a = 2; a < argc; a++) {
		int v[4] = { 0, 0, 0, 0 };
		if (sscanf(argv[a], "%d:%d:%d:%d", &v[0], &v[1], &v[2], &v[3]) < 1) {
			fprintf(stderr, "zparams: %s: not LEVEL[:WINDOWLOG[:HASHLOG[:CHAINLOG]]]\n",
				argv[a]);
			return 2;
		}
		double best = 1e30;
		size_t total = 0;
		for (int round = 0; round < 3; round++) {
			double t0 = now();
			total = 0;
			for (size_t off = 0; off < n; off += FRAME) {
				size_t len = n - off < FRAME ? n - off : FRAME;
				ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
				if (set_param(c, ZSTD_c_compressionLevel, v[0], argv[a]) < 0 ||
				    set_param(c, ZSTD_c_windowLog, v[1], argv[a]) < 0 ||
				    set_param(c, ZSTD_c_hashLog, v[2], argv[a]) < 0 ||
				    set_param(c, ZSTD_c_chainLog, v[3], argv[a]) < 0)
					return 2;
				size_t r = ZSTD_compress2(c, out, ZSTD_compressBound(FRAME), data + off, len);
				if (ZSTD_isError(r)) {
					fprintf(stderr, "zparams: %s: %s\n", argv[a], ZSTD_getErrorName(r));
					return 1;
				}
				total += r;
			}
			double t = now() - t0;
			if (t < best)
				best = t;
		}
		printf("%-16s %.3f s  %zu bytes\n", argv[a], best, total);
	}
	ZSTD_freeCCtx(c);
	free(out);
	free(data);
	return 0;
}
