# hiwater nightly: the lock (exit 75), -n changes nothing, the window stops
# the run cleanly, the JSON report and the Prometheus file are complete
. "$HW_TOP/tests/e2e/lib.sh"

now=$(date +%s)
old=$((now - 40 * 86400))
del="store/example.com/bob/Deleted Items.IMAP"
mkdir -p "$del" store/example.com/alice
for i in 1 2 3; do printf 'Subject: %s\r\n\r\nx\r\n' $i > "$del/md5000000000$i.msg"; done
{ mrk_header 4
  mrk_record md50000000001.msg 1 17 $old
  mrk_record md50000000002.msg 2 17 $old
  mrk_record md50000000003.msg 3 17 $now; } > "$del/IMAP.MRK"
head -c 5000 /dev/zero > store/example.com/alice/md50000000001.msg
policy() {  # policy [WINDOW-YAML]
	cat > p.yaml <<YAML
store: store
state_dir: state
$1
defaults:
  quota: {warn: 4K, limit: 1MB}
  purge:
    - {folder: Deleted Items, older_than: 30d}
snapshots:
  daily: 7
  verify_sample: 5%
YAML
}
policy ""

# the plan, before anything ran: the purge names its folder, count and rule
expect_exit 1 hw -c p.yaml nightly -n
grep_out "purge *Deleted Items of bob@example.com: 2 messages older than 30d"
[ -z "$(ls -A state 2>/dev/null)" ] || die "nightly -n wrote into the state directory"

# a first run creates the state (lock file, reports, hiwater.prom)
expect_exit 1 hw -c p.yaml nightly          # 1: alice is over her quota warning
grep_out "quota .*warning"
grep_err "alice@example.com uses"
[ -f state/hiwater.prom ] || die "no hiwater.prom"
ls state/reports/nightly-*.json >/dev/null 2>&1 || die "no JSON report"

# -n: the plan with reasons, and store and state byte-identical
before_store=$(tree_hash store)
before_state=$(tree_hash state)
expect_exit 1 hw -c p.yaml nightly -n
grep_out "plan (dry run"
grep_out "quota *alice@example.com"
[ "$(tree_hash store)" = "$before_store" ] || die "nightly -n changed the store"
[ "$(tree_hash state)" = "$before_state" ] || die "nightly -n changed the state"
expect_exit 1 hw -c p.yaml nightly -n --json
grep_out '"dry_run":true'
[ "$(tree_hash state)" = "$before_state" ] || die "nightly -n --json changed the state"

# the report and the Prometheus file are valid and complete
expect_exit 1 hw -c p.yaml nightly --json
report=$(ls -t state/reports/nightly-*.json | head -n 1)
for s in snapshot purge index defrag logs prune verify quota; do
	grep -q "\"step\":\"$s\"" "$report" || die "report lacks step $s"
	grep -q "\"step\":\"$s\"" .out || die "--json output lacks step $s"
	grep -q "^hiwater_nightly_step_duration_seconds{step=\"$s\"} [0-9.]*$" state/hiwater.prom ||
		die "prom lacks the duration of $s"
	grep -q "^hiwater_nightly_step_items{step=\"$s\"} [0-9]*$" state/hiwater.prom ||
		die "prom lacks the count of $s"
	grep -q "^hiwater_nightly_step_bytes_reclaimed{step=\"$s\"} [0-9]*$" state/hiwater.prom ||
		die "prom lacks the bytes of $s"
done
grep -q '"exit":1' "$report" || die "report lacks the exit code"
grep -q '"started_unix":[0-9]' "$report" || die "report lacks the start time"
grep -q "^hiwater_nightly_exit_code 1$" state/hiwater.prom || die "prom exit code"
grep -q "^hiwater_nightly_bytes_reclaimed [0-9]*$" state/hiwater.prom || die "prom bytes"
ls_ok=$(sed -n 's/^hiwater_nightly_last_success_timestamp_seconds \([0-9]*\)$/\1/p' state/hiwater.prom)
[ -n "$ls_ok" ] && [ "$ls_ok" -ge "$now" ] || die "prom last success time '$ls_ok'"
grep -q "^# TYPE hiwater_nightly_last_run_timestamp_seconds gauge$" state/hiwater.prom ||
	die "prom TYPE line"
if ls state/.hiwater-tmp.* >/dev/null 2>&1; then die "temp file left in the state dir"; fi
if command -v python3 >/dev/null 2>&1; then
	python3 -m json.tool "$report" >/dev/null || die "report is not valid JSON"
	python3 -m json.tool .out >/dev/null || die "--json output is not valid JSON"
fi

# a second concurrent run exits 75 at once
if command -v flock >/dev/null 2>&1; then
	rm -f held
	flock -x state/hiwater.lock sh -c 'echo $$ > held.tmp; mv held.tmp held; exec sleep 25' &
	holder=$!
	i=0
	while [ ! -s held ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s held ] || die "the lock holder did not start"
	expect_exit 75 hw -c p.yaml nightly
	grep_err "already running (pid [0-9]* since "
	kill "$(cat held)" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
fi
# -n does not need the lock and does not take it
expect_exit 1 hw -c p.yaml nightly -n

# the window: a run outside it does nothing and ends cleanly
start=$(date -d '+2 hours' +%H:%M)
end=$(date -d '+3 hours' +%H:%M)
policy "window: {start: \"$start\", end: \"$end\"}"
before_store=$(tree_hash store)
nreports=$(ls state/reports | wc -l)
expect_exit 1 hw -c p.yaml nightly
grep_out "outside it now: nothing done"
for s in snapshot purge index defrag logs prune verify quota; do
	grep_out "  $s *stopped"
done
[ "$(tree_hash store)" = "$before_store" ] || die "a run outside the window changed the store"
[ "$(ls state/reports | wc -l)" -gt "$nreports" ] || die "no report for the stopped run"
report=$(ls -t state/reports/nightly-*.json | head -n 1)
grep -q '"outside_window":true' "$report" || die "report does not say outside the window"
grep -q '"status":"stopped"' "$report" || die "report does not say stopped"
# the lock was released: another run can start
expect_exit 1 hw -c p.yaml nightly --ignore-window
grep_out "quota .*warning"

# inside a window the run knows when it must stop
start=$(date -d '-1 hours' +%H:%M)
end=$(date -d '+1 hours' +%H:%M)
policy "window: {start: \"$start\", end: \"$end\"}"
expect_exit 1 hw -c p.yaml nightly --json
grep_out '"outside_window":false'
grep_out '"window_end_unix":[0-9]'
