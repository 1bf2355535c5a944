#!/bin/sh
# make demo: a sample store, the nightly job on it with the sample policy,
# then a deleted message found in a snapshot and put back. Everything lives
# under ./demo (made anew each time). Exits 0 only if every step did what it
# shows; a hiwater command that exits 2 or more stops the demo.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/build/hiwater"
demo="$top/demo"
policy="$demo/hiwater.yaml"
if [ -t 1 ]; then B=$(printf '\033[1m') N=$(printf '\033[0m'); else B='' N=''; fi

section() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
# hw ARGS...: show the command, run it with the demo's policy. Exit 1
# (findings, warnings) is part of the story; 2 and above fail the demo.
hw() {
	printf '$ hiwater %s\n' "$*"
	set +e
	"$bin" -c "$policy" "$@"
	rc=$?
	set -e
	[ "$rc" -le 1 ] || { echo "demo: 'hiwater $*' exited $rc" >&2; exit 1; }
	return 0
}
# hw_head LINES ARGS...: the same, showing only the first LINES lines
hw_head() {
	lines=$1
	shift
	hw "$@" > "$demo/.out" 2>&1
	head -n "$((lines + 1))" "$demo/.out"
	more=$(($(wc -l < "$demo/.out") - lines - 1))
	[ "$more" -le 0 ] || echo "  ... ($more more lines)"
}
# hw_q ARGS...: run quietly (a step the story needs but does not show)
hw_q() { "$bin" -c "$policy" "$@" >/dev/null 2>&1 || [ $? -le 1 ]; }
has() { "$bin" "$1" --help >/dev/null 2>&1; }

rm -rf "$demo"
mkdir -p "$demo"

section "A sample store: 2 domains, 6 mailboxes, 2000 messages, fragmented, no indexes yet"
echo "(as a busy server leaves it after a migration; plus two weeks of MDaemon logs)"
"$top/build/bench/mkstore" --out "$demo/store" --domains 2 --mailboxes 6 --messages 2000 \
	--seed 42 --fragment --logs "$demo/logs"
(cd "$demo" && find store -mindepth 2 -maxdepth 3 -type d | LC_ALL=C sort | head -n 8)
echo "  ..."

section "The policy: contrib/hiwater.yaml, pointed at ./demo, its window around now"
start=$(date -d '-1 hour' +%H:%M)
end=$(date -d '+1 hour' +%H:%M)
sed -e "s|^store:.*|store: $demo/store|" \
	-e "s|^state_dir:.*|state_dir: $demo/state|" \
	-e "s|^snapshot_dir:.*|snapshot_dir: $demo/snapshots|" \
	-e "s|^  dir: .*|  dir: $demo/logs|" \
	-e "s|^  start: .*|  start: \"$start\"|" \
	-e "s|^  end: .*|  end: \"$end\"|" \
	"$top/contrib/hiwater.yaml" > "$policy"
grep -E '^(store|state_dir|snapshot_dir):|^  (start|end|dir|max_fragments|min_layout_score|keep_days):' \
	"$policy" | sed "s|$top/||"
hw policy check
# hiwater find takes the store from --store or HIWATER_STORE, not the policy
export HIWATER_STORE="$demo/store"

section "First, as after any migration: hiwater index --mark-seen"
echo "(IMAP.MRK and HIWATER.MRK for every folder, so that MDaemon need not build them)"
hw index --mark-seen > "$demo/.out"
sed -n '1p; /^folders:/,/^uids_new:/p' "$demo/.out"

section "The nightly job: hiwater nightly"
# the sample store was written seconds ago; defrag leaves files written in
# the last minute alone (a live server may still be writing them)
export HIWATER_DEFRAG_QUIET_SECS=0
hw nightly
echo "(JSON report in demo/state/reports/, metrics in demo/state/hiwater.prom:)"
grep -E '^hiwater_nightly_(defrag_(files_rewritten|fragments_per_file_(before|after))|logs_reclaimed_bytes|bytes_reclaimed) ' \
	"$demo/state/hiwater.prom" | sed 's/^/  /'

box=$(cd "$demo/store" && ls -d */* | LC_ALL=C sort | head -n 1)
section "The index of $box (an Inbox): hiwater ls"
hw_head 5 ls "$box"

section "Nothing left to do: hiwater index --check"
hw index --check > "$demo/.out"
sed -n '1,/^unchanged:/p' "$demo/.out"
echo "(exit 0: every folder's IMAP.MRK and HIWATER.MRK is current)"

section "Layout after the nightly run: hiwater frag (worst folders first)"
hw frag > "$demo/.out"
head -n 7 "$demo/.out"
echo "  ..."
sed -n '/^folders:/,$p' "$demo/.out"

section "Usage against the quota: hiwater quota (biggest first)"
hw_head 6 quota

if has restore && has find && has snapshot; then
	section "The snapshots so far: hiwater snapshot list"
	echo "(the nightly one, and the one purge took of what it removed; condensed from --json)"
	hw snapshot list --json | sed -n 's/^{"id":\([0-9]*\),"time":"\([^"]*\)","label":"\([^"]*\)".*"folders":\([0-9]*\),"messages":\([0-9]*\),.*"bytes":\([0-9]*\),.*/  #\1  \2  \3: \4 folders, \5 messages, \6 bytes/p; /^\$/p'

	victim=$(cd "$demo/store/$box" && ls | grep -i '\.msg$' | LC_ALL=C sort | head -n 1)
	msgid=$("$bin" -c "$policy" ls --json "$box" |
		sed -n "s/.*\"file\":\"$victim\".*\"message_id\":\"\([^\"]*\)\".*/\1/p")
	[ -n "$msgid" ] || { echo "demo: no Message-ID for $victim" >&2; exit 1; }
	section "Oops: a user deletes $box/$victim"
	echo "Message-ID: $msgid"
	rm "$demo/store/$box/$victim"
	hw_q index "$box"      # MDaemon drops the record; hiwater's index follows
	"$bin" -c "$policy" ls "$box" | grep -qF "$msgid" && { echo "demo: still listed" >&2; exit 1; }
	echo "(gone from the store and from $box's IMAP.MRK)"

	section "Where is it? hiwater find --deleted"
	hw find --deleted --message-id "$msgid"

	section "Put it back: hiwater restore"
	hw restore --message-id "$msgid"
	echo "Back in the folder, under a new UID (a client sees it as new mail):"
	"$bin" -c "$policy" ls "$box" > "$demo/.out"
	head -n 1 "$demo/.out"
	grep -F "$msgid" "$demo/.out" || { echo "demo: the message did not come back" >&2; exit 1; }
fi

section "Done"
echo "The store is in demo/store, the logs in demo/logs, hiwater's state in demo/state."
echo "Try: build/hiwater -c demo/hiwater.yaml nightly -n"
rm -f "$demo/.out"
