# hiwater purge killed at each of its renames (snapshot packs, catalog,
# IMAP.MRK) and between dropping the IMAP.MRK records and unlinking the
# files: the rerun must finish the job (no message left without its record,
# no temp file left), remove nothing else, and every purged message stays
# restorable
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 60 --seed 9 --with-index \
	--now 1790000000 >/dev/null
cat > p.yaml <<'YAML'
store: store
state_dir: state
defaults:
  purge:
    - {folder: Deleted Items, older_than: 30d}
YAML
expect_exit 0 hw -c p.yaml index
mkdir base && cp -a store state p.yaml base/
expect_exit 0 hw -c p.yaml purge -n
npurge=$(out | grep -c '\.msg') || true
[ "$npurge" -gt 1 ] || { out >&2; die "the test store has nothing to purge"; }

# kill_at SPEC: purge on a fresh copy killed at SPEC, then rerun and check;
# returns 1 when the purge ran to its end before SPEC came
kill_at() {
	rm -rf w && cp -a base w
	set +e
	(cd w && HIWATER_FAULT="$1" "$HIWATER" -q -c p.yaml purge) >/dev/null 2>&1
	rc=$?
	set -e
	[ $rc -eq 137 ] || return 1
	(cd w && expect_exit 0 hw -c p.yaml purge)
	(cd w && expect_exit 0 hw -c p.yaml index --check) || die "$1: IMAP.MRK not exact after the rerun"
	left=$(find w -name '.hiwater-tmp.*' -o -name IMAP.LCK)
	[ -z "$left" ] || die "$1: left after the rerun: $left"
	gone=$(cd base/store && find . -iname '*.msg' | while read -r f; do
		[ -e "../../w/store/$f" ] || echo "$f"; done)
	[ "$(echo "$gone" | grep -c .)" -eq "$npurge" ] || die "$1: expected $npurge purged, got: $gone"
	if echo "$gone" | grep -v "/Deleted Items.IMAP/"; then die "$1: purged outside Deleted Items"; fi
	# every purged message comes back from the snapshot, byte for byte
	echo "$gone" | sed 's|^\./||' | tr '\n' '\0' |
		(cd w && xargs -0 "$HIWATER" -q -c p.yaml restore --to rt) >/dev/null
	echo "$gone" | while read -r f; do
		cmp -s "base/store/$f" "w/rt/$f" || die "$1: $f is not restorable"
	done
	return 0
}

# the first unlink is the first purged file's, after its records are gone
kill_at unlink:1:KILL || die "purge was not killed at its first unlink"
n=0
while kill_at "rename:$((n + 1)):KILL"; do n=$((n + 1)); done
[ $n -ge 3 ] || die "only $n renames: the test no longer covers the IMAP.MRK edit"
