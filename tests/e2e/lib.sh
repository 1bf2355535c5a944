# lib.sh - helpers for the end-to-end tests (sourced). Each test runs in its
# own empty directory ($HW_TEST_DIR) with set -eu.
set -eu
hw() { "$HIWATER" "$@"; }
die() { echo "FAILED: $*" >&2; exit 1; }
# expect_exit CODE CMD...: run CMD, fail unless it exits CODE
expect_exit() {
	want=$1; shift
	set +e
	"$@" >"$HW_TEST_DIR/.out" 2>"$HW_TEST_DIR/.err"
	got=$?
	set -e
	[ "$got" = "$want" ] || {
		cat "$HW_TEST_DIR/.out" "$HW_TEST_DIR/.err" >&2
		die "expected exit $want, got $got: $*"
	}
}
out() { cat "$HW_TEST_DIR/.out"; }
err() { cat "$HW_TEST_DIR/.err"; }
# grep_out / grep_err PATTERN: the last expect_exit's stdout/stderr matches
grep_out() { grep -q -- "$1" "$HW_TEST_DIR/.out" || { out >&2; die "stdout lacks '$1'"; }; }
grep_err() { grep -q -- "$1" "$HW_TEST_DIR/.err" || { err >&2; die "stderr lacks '$1'"; }; }
# tree_hash DIR: one hash over every file's path, mode, size and content
tree_hash() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z |
		xargs -0 -r sh -c 'for f; do printf "%s %s " "$f" "$(stat -c %a:%s "$f")"; sha256sum < "$f"; done' sh |
		sha256sum | cut -d' ' -f1)
}
unpack_corpus() {  # unpack_corpus NAME DIR: shared/corpora/NAME.tar.zst into DIR
	mkdir -p "$2"
	tar --zstd -xf "$HW_SHARED/corpora/$1.tar.zst" -C "$2"
}
# IMAP.MRK by hand: le32 N (4 bytes, little-endian); mrk_header UIDNEXT
# (UIDVALIDITY 1000); mrk_record NAME UID SIZE DATE (no flags)
le32() {
	v=$1
	printf "\\$(printf %03o $((v & 255)))\\$(printf %03o $(((v >> 8) & 255)))\\$(printf %03o $(((v >> 16) & 255)))\\$(printf %03o $(((v >> 24) & 255)))"
}
mrk_header() { le32 1; le32 1000; le32 "$1"; le32 1; le32 0; le32 0; le32 0; le32 0; printf '\r\n\000\000'; }
mrk_record() { printf '%s\000\000\000\000\000\000\000' "$1"; le32 "$2"; le32 "$3"; le32 "$4"; }
