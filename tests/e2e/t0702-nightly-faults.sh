# hiwater nightly under faults and kills: a killed run's temp files in the
# state directory are removed by the next run; a failing write of the
# report or the Prometheus file names the operation and the path, exits 2,
# and changes no mail; a rerun without the fault succeeds
. "$HW_TOP/tests/e2e/lib.sh"

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 30 --seed 5 >/dev/null
cat > p.yaml <<'YAML'
store: store
state_dir: state
defaults:
  quota: {warn: 1GB, limit: 2GB}
YAML
expect_exit 0 hw -c p.yaml nightly
msgs() { (cd store && find . -iname '*.msg' -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
before=$(msgs)

# the store is indexed: the only writes left are hiwater.prom (rename 1) and
# the report (rename 2); a kill just before each rename leaves its temp
for n in 1 2; do
	set +e
	HIWATER_FAULT="rename:$n:KILL" hw -q -c p.yaml nightly >/dev/null 2>&1
	rc=$?
	set -e
	[ $rc -eq 137 ] || die "nightly was not killed at rename $n (exit $rc)"
	[ -n "$(find state -name '.hiwater-tmp.*')" ] || die "no temp left at rename $n: the test no longer covers it"
	expect_exit 0 hw -c p.yaml nightly
	left=$(find state store -name '.hiwater-tmp.*')
	[ -z "$left" ] || die "temp files left after the rerun: $left"
done
[ "$(msgs)" = "$before" ] || die "message files changed"
