#!/bin/sh
# make demo: a sample store, the main job on it, the report.
# Everything lives under ./demo (removed and made anew each time).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
hw="$top/build/hiwater"
demo="$top/demo"
rm -rf "$demo"
mkdir -p "$demo"
export HIWATER_STORE="$demo/store" HIWATER_STATE="$demo/state"
has() { "$hw" "$1" --help >/dev/null 2>&1; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A sample store: 2 domains, 6 mailboxes, 3000 messages, no indexes (as after a migration)"
"$top/build/bench/mkstore" --out "$demo/store" --domains 2 --mailboxes 3 --messages 3000 \
	--seed 42 --logs "$demo/logs"
find "$demo/store" -maxdepth 3 -type d | sed "s|$demo/||" | sort | head -n 12

if [ -f "$top/contrib/hiwater.yaml" ] && has nightly; then
	sed -e "s|^store:.*|store: $demo/store|" -e "s|^state_dir:.*|state_dir: $demo/state|" \
		-e "s|^snapshot_dir:.*|snapshot_dir: $demo/state/snapshots|" \
		-e "s|^\(  *dir:\).*/log.*|\1 $demo/logs|" \
		"$top/contrib/hiwater.yaml" > "$demo/hiwater.yaml"
	step "The policy: hiwater policy check"
	"$hw" -c "$demo/hiwater.yaml" policy check || true
	step "The nightly job: hiwater nightly (snapshot, purge, index, defrag, logs, prune, verify)"
	"$hw" -c "$demo/hiwater.yaml" nightly || true
else
	step "Index rebuild: hiwater index --mark-seen"
	"$hw" index --mark-seen || true
fi

box=$(cd "$demo/store" && ls -d */* | head -n 1)
step "The rebuilt index of $box: hiwater ls (first rows)"
"$hw" ls "$box" | head -n 6

step "A second run has nothing to do: hiwater index --check"
"$hw" index --check && echo "(exit 0: every index is current)"

if has restore && has find; then
	victim=$(ls "$demo/store/$box" | grep -i '\.msg$' | head -n 1)
	msgid=$("$hw" ls --json "$box" | grep "\"file\":\"$victim\"" | sed 's/.*"message_id":"\([^"]*\)".*/\1/')
	step "Oops: a user deletes $victim ($msgid)"
	rm "$demo/store/$box/$victim"
	"$hw" index -q "$box" >/dev/null || true
	step "hiwater find --deleted --message-id '$msgid'"
	"$hw" find --deleted --message-id "$msgid" || true
	step "hiwater restore --message-id '$msgid'"
	"$hw" restore --message-id "$msgid" || true
	"$hw" ls "$box" | grep -F "$msgid" || true
fi
if has frag; then
	step "Layout: hiwater frag (worst folders first)"
	"$hw" frag | tail -n 12 || true
fi
if has quota; then
	step "Quota: hiwater quota"
	"$hw" quota | head -n 12 || true
fi
step "Done. The store is in demo/store, hiwater's state in demo/state."
