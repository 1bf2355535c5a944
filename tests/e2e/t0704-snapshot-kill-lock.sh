# snapshot create only reads the store, but it takes each folder's lock to
# read IMAP.MRK: a kill while it takes a lock must leave nothing in the store
# that the next run does not remove
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 20 --seed 4 --with-index >/dev/null
cat > p.yaml <<'YAML'
store: store
state_dir: state
YAML
before=$(tree_hash store)
found=0 n=0
while [ $n -lt 40 ] && [ $found = 0 ]; do
	n=$((n + 1))
	rm -rf state
	set +e
	HIWATER_FAULT="write:$n:KILL" hw -q -c p.yaml snapshot create >/dev/null 2>&1
	rc=$?
	set -e
	[ $rc -eq 137 ] || break
	# killed while writing the lock's content?
	[ -n "$(find store -name '.hiwater-tmp.*')" ] && found=1
	set +e
	hw -q -c p.yaml snapshot create >/dev/null 2>&1
	rc=$?
	set -e
	[ $rc -eq 0 ] || die "the rerun after a kill at write $n exited $rc"
	left=$(find store -name '.hiwater-tmp.*' -o -name IMAP.LCK)
	[ -z "$left" ] || die "left in the store after a kill at write $n and a rerun: $left"
	[ "$(tree_hash store)" = "$before" ] || die "the store changed (kill at write $n)"
done
expect_exit 0 hw -c p.yaml snapshot verify

# killed while it creates the repository (the first rename is its marker's):
# the rerun creates it and leaves no temp file in the state directory
rm -rf state
set +e
HIWATER_FAULT=rename:1:KILL hw -q -c p.yaml snapshot create >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 137 ] || die "snapshot create was not killed at its first rename (exit $rc)"
[ -n "$(find state -name '.hiwater-tmp.*')" ] || die "no temp left: the test no longer covers the case"
expect_exit 0 hw -c p.yaml snapshot create
left=$(find state store -name '.hiwater-tmp.*')
[ -z "$left" ] || die "left after the rerun: $left"
expect_exit 0 hw -c p.yaml snapshot verify
