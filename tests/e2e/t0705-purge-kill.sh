# hiwater purge killed between dropping the IMAP.MRK records and unlinking
# the files: the rerun must finish the job (no message left without its
# record), remove nothing else, and every purged message stays restorable
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
cp -a store base
expect_exit 0 hw -c p.yaml purge -n
npurge=$(out | grep -c '\.msg') || true
[ "$npurge" -gt 1 ] || { out >&2; die "the test store has nothing to purge"; }

# the first unlink is the first purged file's, after the records are gone
set +e
HIWATER_FAULT=unlink:1:KILL hw -q -c p.yaml purge >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 137 ] || die "purge was not killed at its first unlink (exit $rc)"
expect_exit 0 hw -c p.yaml purge
expect_exit 0 hw -c p.yaml index --check
gone=$(cd base && find . -iname '*.msg' | while read -r f; do [ -e "../store/$f" ] || echo "$f"; done)
[ "$(echo "$gone" | grep -c .)" -eq "$npurge" ] || die "expected $npurge messages purged, got: $gone"
echo "$gone" | grep -v "/Deleted Items.IMAP/" && die "purged outside Deleted Items"
# every purged message comes back from the snapshot, byte for byte
echo "$gone" | sed 's|^\./||' | tr '\n' '\0' | xargs -0 "$HIWATER" -q -c p.yaml restore --to rt >/dev/null
echo "$gone" | while read -r f; do cmp -s "base/$f" "rt/$f" || die "$f is not restorable"; done
