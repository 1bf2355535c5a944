# hiwater defrag --relayout on folders bench/mkstore --fragment makes (as the
# nightly runner meets them): one pass brings every folder to a layout score
# of (nearly) 1.00 with the same bytes, and a second pass rewrites nothing.
# (A relayout that kept a whole message and then moved the one after it left
# these folders at about 0.7, and the nightly runner chose them again.)
. "$HW_TOP/tests/e2e/lib.sh"
. "$HW_TOP/tests/e2e/layout-lib.sh"
: "${MKSTORE:?set MKSTORE to bench/mkstore}"
export HIWATER_DEFRAG_QUIET_SECS=0   # the store was written seconds ago

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 400 --seed 3 --with-index \
	--fragment >/dev/null
snapshot_files store > before.txt

# every folder of at least 8 files above this score
score_ok() {  # score_ok MIN < frag --json
	awk -v min="$1" -F'[:,]' '/"folder":/ {
		for (i = 1; i < NF; i++) { if ($i == "\"files\"") n = $(i + 1); if ($i == "\"layout\"") l = $(i + 1) }
		if (n >= 8 && l + 0 < min + 0) { print "low: " $0; bad = 1 } }
		END { exit bad }'
}
expect_exit 1 hw --store store --state st frag --json   # 1: folders worth a rewrite
out | score_ok 0.50 && die "mkstore --fragment made no scattered folder: the test proves nothing"

expect_exit 0 hw --store store --state st defrag --relayout --json
out | tail -n 1 | grep -q '"frag_per_file_after":1.00' || { out >&2; die "not whole after relayout"; }
out | tail -n 1 | grep -Eq '"layout_after":(1\.00|0\.9[89])' || { out >&2; die "relayout did not reach 0.98"; }
expect_exit 0 hw --store store --state st frag --json
out | score_ok 0.95 >&2 || die "a folder below 0.95 after one relayout"
snapshot_files store > now.txt
cmp -s before.txt now.txt || { diff before.txt now.txt >&2; die "relayout changed bytes, names, modes or mtimes"; }

# the second pass: nothing left to do
expect_exit 0 hw --store store --state st defrag --relayout --json
out | tail -n 1 | grep -q '"rewritten":0' || { out >&2; die "a second relayout rewrote files"; }
snapshot_files store > now.txt
cmp -s before.txt now.txt || die "second relayout changed the store"
ls -a store/example.com/*/ | grep -q '^\.hiwater-tmp' && die "stray temp files" || true
