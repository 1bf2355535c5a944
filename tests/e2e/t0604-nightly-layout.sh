# hiwater nightly's layout steps on a fragmented store with daily logs:
# folders over the policy's defrag thresholds are defragged or relaid out,
# old logs compressed; every message's bytes, names, modes and mtimes,
# IMAP.MRK and today's logs unchanged; -n changes nothing; the figures are in
# the report and hiwater.prom; a budget stops the defrag cleanly and the next
# run continues where it stopped
. "$HW_TOP/tests/e2e/lib.sh"
. "$HW_TOP/tests/e2e/layout-lib.sh"
export HIWATER_DEFRAG_QUIET_SECS=0   # the store was written seconds ago

fstype=$(stat -f -c %T .)
case "$fstype" in
ext2/ext3) ;;
*) echo "filesystem $fstype, not ext4: mkstore --fragment may not fragment here; skipped"
   exit 0 ;;
esac

"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 200 --seed 7 --with-index \
	--fragment --logs logs --log-days 6 --log-mb 3 >/dev/null || die "mkstore failed"
today=$(date +%Y-%m-%d)
ls logs | grep -q "$today" || die "mkstore wrote no log for today"
mkdir orig && cp -p logs/*.log orig/

# messages: name, mode, mtime, hash; the index files on their own
msgs() { snapshot_files store | grep '\.msg '; }
mrks() { (cd store && find . -name IMAP.MRK -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
todays() { (cd logs && for f in *"$today"*; do printf '%s %s\n' "$f" "$(stat -c '%i %Y %s' "$f")"; done); }
msgs > msgs.before
mrks > mrks.before
todays > today.before
[ "$(wc -l < msgs.before)" -ge 150 ] || die "too few messages in the sample store"

policy() {  # policy [BUDGET-YAML]
	cat > p.yaml <<YAML
store: store
state_dir: state
defrag:
  max_fragments: 1.5
  min_layout_score: 0.6
$1
logs:
  dir: logs
  compress: zstd
  keep_days: 2
YAML
}
policy ""
# a catalog, as a store that hiwater already knows has
hw -c p.yaml index >/dev/null 2>&1 || die "index failed"

# -n: a plan with a reason per folder and per log file; nothing changes
before_store=$(tree_hash store)
before_logs=$(tree_hash logs)
mkdir -p state && before_state=$(tree_hash state)
expect_exit 0 hw -c p.yaml nightly -n
grep_out "^defrag *example.com/[^:]*: relayout: layout score 0\.[0-9]* < 0\.60"
grep_out "^defrag *example.com/[^:]*: defrag: [0-9.]* fragments per file > 1\.50"
grep_out "files\{0,1\} would be rewritten"
grep_out "^logs *compress MDaemon-.*-IMAP.log: [0-9]* days old, more than 2"
if grep -q "^logs .*$today" .out; then die "-n plans to touch today's log"; fi
[ "$(tree_hash store)" = "$before_store" ] || die "nightly -n changed the store"
[ "$(tree_hash logs)" = "$before_logs" ] || die "nightly -n changed the logs"
[ "$(tree_hash state)" = "$before_state" ] || die "nightly -n changed the state"

# the run: defrag and logs "ok" with their figures
expect_exit 0 hw -c p.yaml nightly --json
report=$(ls -t state/reports/nightly-*.json | head -n 1)
python3 - "$report" <<'PY' || die "report: defrag or logs step not as expected"
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["step"]: x for x in r["steps"]}
d, l = s["defrag"], s["logs"]
assert d["status"] == "ok" and d["count"] > 0, d
f = d["figures"]
assert f["folders_selected"] > 0 and f["files_rewritten"] == d["count"], f
assert f["rewritten_bytes"] > 0 and f["fragments_after"] < f["fragments_before"], f
assert f["fragments_per_file_after"] <= 1.05 < f["fragments_per_file_before"], f
assert f["layout_score_after"] > f["layout_score_before"] and f["stopped"] == 0, f
assert l["status"] == "ok" and l["count"] > 0 and l["bytes"] > 0, l
g = l["figures"]
assert g["files_compressed"] > 0 and g["files_kept_today"] > 0, g
assert g["reclaimed_bytes"] == l["bytes"], g
assert g["compressed_output_bytes"] < g["compressed_input_bytes"], g
PY
for m in defrag_files_rewritten defrag_rewritten_bytes defrag_fragments_before \
	defrag_fragments_after logs_files_compressed logs_reclaimed_bytes; do
	grep -q "^hiwater_nightly_${m} [1-9][0-9]*$" state/hiwater.prom || die "prom: $m missing or 0"
	grep -q "^# TYPE hiwater_nightly_${m} gauge$" state/hiwater.prom || die "prom: no TYPE for $m"
done
grep -q '^hiwater_nightly_defrag_fragments_per_file_after 1\.0[0-5]$' state/hiwater.prom ||
	die "prom: fragments per file after"
grep -q '^hiwater_nightly_step_status{step="defrag",status="ok"} 1$' state/hiwater.prom ||
	die "prom: defrag status"

# every message's bytes (and name, mode, mtime) and IMAP.MRK unchanged
msgs > msgs.after
cmp -s msgs.before msgs.after || { diff msgs.before msgs.after | head >&2; die "a message changed"; }
mrks > mrks.after
cmp -s mrks.before mrks.after || die "an IMAP.MRK changed"
[ -z "$(find store -name '.hiwater-tmp.*')" ] || die "temp files left in the store"
# today's logs untouched; older than 2 days compressed, giving the originals
todays > today.after
cmp -s today.before today.after || die "today's logs were touched"
ncomp=0
for f in orig/*.log; do
	b=$(basename "$f")
	d=$(echo "$b" | sed 's/^MDaemon-\([0-9-]*\)-.*/\1/')
	age=$(( ($(date -d "$today" +%s) - $(date -d "$d" +%s)) / 86400 ))
	if [ "$age" -gt 2 ]; then
		[ ! -e "logs/$b" ] && [ -f "logs/$b.zst" ] || die "$b ($age days old) not compressed"
		zstd -qdc "logs/$b.zst" | cmp -s - "$f" || die "$b.zst does not give the original"
		ncomp=$((ncomp + 1))
	else
		cmp -s "logs/$b" "$f" || die "$b ($age days old) changed"
	fi
done
[ "$ncomp" -gt 0 ] || die "no log old enough to compress"

# a second run finds the defragged folders fine and nothing left in the logs
expect_exit 0 hw -c p.yaml nightly --json
report=$(ls -t state/reports/nightly-*.json | head -n 1)
grep -q '"files_compressed":0,' "$report" || die "second run compressed logs again"
msgs > msgs.after
cmp -s msgs.before msgs.after || die "a message changed in the second run"

# a budget: the defrag stops cleanly, says where, and the next run goes on
# from there (the resume point is in the catalog)
rm -rf store state logs && mkdir logs
"$MKSTORE" --out store --domains 1 --mailboxes 2 --messages 200 --seed 8 --with-index \
	--fragment >/dev/null || die "mkstore failed"
msgs > msgs.before
mrks > mrks.before
policy "  max_rate: 1MB/s
  budget: 1s"
hw -c p.yaml index >/dev/null 2>&1 || die "index failed"
expect_exit 1 hw -c p.yaml nightly
grep_out "defrag *warning .*stopped in example.com/[^,]*, the next run continues there"
stopped=$(sed -n 's/.*stopped in \(example.com\/[^,]*\), the next run.*/\1/p' .out)
grep -q '^hiwater_nightly_defrag_stopped 1$' state/hiwater.prom || die "prom: not stopped"
expect_exit 0 hw -c p.yaml nightly -n
grep_out "^defrag *$stopped first: the last run stopped there"
policy ""
expect_exit 0 hw -c p.yaml nightly
grep_out "defrag *ok .*files rewritten"
grep -q '^hiwater_nightly_defrag_stopped 0$' state/hiwater.prom || die "prom: still stopped"
expect_exit 0 hw -c p.yaml nightly -n
if grep -q "the last run stopped there" .out; then die "resume point kept after a full run"; fi
msgs > msgs.after
cmp -s msgs.before msgs.after || die "a budgeted run changed a message"
mrks > mrks.after
cmp -s mrks.before mrks.after || die "a budgeted run changed an IMAP.MRK"
[ -z "$(find store -name '.hiwater-tmp.*')" ] || die "temp files left after the budgeted runs"
