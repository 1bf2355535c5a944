#!/bin/sh
# bench/snapshot.sh - hiwater snapshots against tar --zstd, restic and borg on
# the same tree, in one run: full snapshot time and size, unchanged snapshot
# time (also against tar --listed-incremental), one-message restore from a
# repository of at least 1 GB, find --message-id across 30 snapshots.
# Prints ratios (ours / peer; below 1 is better). Warm page cache.
#   sh bench/snapshot.sh [WORKDIR]      (needs ./hiwater built; restic/borg optional)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
HW=${HIWATER:-$top/hiwater}
SHARED=${HW_SHARED:-$top/../shared}
W=${1:-/tmp/hw-bench-snapshot}
rm -rf "$W"; mkdir -p "$W"; cd "$W"
STORE=$W/store; export HIWATER_STATE=$W/state HIWATER_STORE=$STORE

now() { date +%s.%N; }
t() { s=$(now); "$@" >/dev/null 2>&1 || true; e=$(now); echo "$e - $s" | bc; }
med3() { a=$(t "$@"); b=$(t "$@"); c=$(t "$@"); printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n | sed -n 2p; }
ratio() { echo "scale=2; $1 / $2" | bc; }
# CPU seconds (user + system, children included) of one run
cpu() { sh -c '"$@" >/dev/null 2>&1; times' sh "$@" | tail -1 |
	awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] } printf "%.2f\n", s }'; }
size() { du -sb "$1" | cut -f1; }

# the Enron store as a migration lays it out (mkstore --from-corpus when it is there)
mkdir -p corpus && tar --zstd -xf "$SHARED/corpora/enron-inbox.tar.zst" -C corpus
if [ -x "$top/bench/mkstore" ] && "$top/bench/mkstore" --help 2>&1 | grep -q from-corpus; then
	"$top/bench/mkstore" --out "$STORE" --from-corpus corpus/enron-inbox-subset/maildir --seed 1 >/dev/null
else
	mkdir -p "$STORE"
	tar --zstd -xf "$SHARED/corpora/enron-inbox.tar.zst" -C "$STORE" \
		--wildcards 'enron-inbox-subset/maildir/*' \
		--transform 's,^enron-inbox-subset/maildir/,enron.com/,' \
		--transform 's,/inbox/\([^/]*\)/,/\1.IMAP/,' --transform 's,/inbox/,/,' \
		--transform 's,/\([0-9]\)$,/md5000000000\1.msg,' \
		--transform 's,/\([0-9][0-9]\)$,/md500000000\1.msg,' \
		--transform 's,/\([0-9][0-9][0-9]\)$,/md50000000\1.msg,' \
		--transform 's,/\([0-9][0-9][0-9][0-9]\)$,/md5000000\1.msg,'
	rmdir "$STORE/enron-inbox-subset" 2>/dev/null || true
	find "$STORE" -mindepth 2 -type d -empty -delete
fi
"$HW" index -q >/dev/null 2>&1 || true
nmsg=$(find "$STORE" -name 'md5*.msg' | wc -l)
echo "store: $nmsg messages, $(size "$STORE") bytes"
# warm the cache; then flush the store just written, so that its writeback
# does not run during the timed rounds (it took a core from whichever side
# ran then: hiwater, which keeps both busy, lost more)
tar -cf - -C "$W" store | cat >/dev/null
sync

# ---- full snapshot ----
# tar and hiwater in turn, 7 rounds, medians: this kind of machine drifts by
# 10-20% over minutes, and interleaving spreads that over both sides
run1() { s=$(now); c=$(cpu "$@"); e=$(now); echo "$(echo "$e - $s" | bc) $c"; }
median() { sort -n | sed -n "$(( ($1 + 1) / 2 ))p"; }
rounds=7; : > full.tar; : > full.ours; i=0
while [ $i -lt $rounds ]; do
	run1 tar --zstd -cf "$W/s.tar.zst" -C "$W" store >> full.tar
	rm -rf "$W/state"
	run1 "$HW" snapshot create -q >> full.ours
	i=$((i + 1))
done
full_tar=$(cut -d' ' -f1 full.tar | median $rounds); cpu_tar=$(cut -d' ' -f2 full.tar | median $rounds)
full_ours=$(cut -d' ' -f1 full.ours | median $rounds); cpu_ours=$(cut -d' ' -f2 full.ours | median $rounds)
tar_size=$(stat -c %s s.tar.zst)
our_size=$(size state/snapshots)
pack_size=$(du -cb state/snapshots/packs/* | tail -1 | cut -f1)
echo "full snapshot:  hiwater ${full_ours}s  tar --zstd ${full_tar}s  ratio $(ratio "$full_ours" "$full_tar") (medians of $rounds, interleaved)"
echo "full CPU:       hiwater ${cpu_ours}s  tar --zstd ${cpu_tar}s  ratio $(ratio "$cpu_ours" "$cpu_tar") (user + system; $(nproc) CPUs)"
echo "full size:      hiwater $our_size (packs $pack_size)  tar --zstd $tar_size  ratio $(ratio "$our_size" "$tar_size") (packs $(ratio "$pack_size" "$tar_size"))"

# ---- unchanged snapshot ----
rm -f snar; tar --listed-incremental=snar --zstd -cf l0.tar.zst -C "$W" store
lvl1() { cp snar snar1; tar --listed-incremental=snar1 --zstd -cf l1.tar.zst -C "$W" store; }
unch_tar=$(med3 lvl1)
unch_ours=$(med3 "$HW" snapshot create -q)
echo "unchanged:      hiwater ${unch_ours}s  tar --listed-incremental ${unch_tar}s  ratio $(ratio "$unch_ours" "$unch_tar")"
("$HW" snapshot create --json 2>/dev/null || true) | tr ',' '\n' | grep files_read

# ---- peers: restic, borg ----
if command -v restic >/dev/null; then
	export RESTIC_PASSWORD=x RESTIC_CACHE_DIR=$W/restic-cache
	restic -q init -r "$W/restic" >/dev/null
	full_restic=$(t restic -q -r "$W/restic" backup "$STORE")
	unch_restic=$(t restic -q -r "$W/restic" backup "$STORE")
	echo "restic:         full ${full_restic}s ($(ratio "$full_ours" "$full_restic")), unchanged ${unch_restic}s ($(ratio "$unch_ours" "$unch_restic")), size $(size "$W/restic")"
else
	echo "restic:         not installed (apt-get install restic)"
fi
if command -v borg >/dev/null; then
	export BORG_BASE_DIR=$W/borgbase BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
	borg init -e none "$W/borg" >/dev/null 2>&1
	full_borg=$(t borg create --compression zstd,3 "$W/borg::full" "$STORE")
	unch_borg=$(t borg create --compression zstd,3 "$W/borg::again" "$STORE")
	echo "borg:           full ${full_borg}s ($(ratio "$full_ours" "$full_borg")), unchanged ${unch_borg}s ($(ratio "$unch_ours" "$unch_borg")), size $(size "$W/borg")"
else
	echo "borg:           not installed (apt-get install borgbackup)"
fi

# ---- 30 snapshots, a repository over 1 GB (--full stores everything again) ----
i=$(ls state/snapshots/packs | wc -l)
while [ "$(du -sb state/snapshots | cut -f1)" -lt 1100000000 ]; do
	"$HW" snapshot create -q --full >/dev/null 2>&1 || true
done
while [ "$("$HW" snapshot list --json | wc -l)" -lt 30 ]; do
	f=$(find "$STORE" -name 'md5*.msg' | shuf -n 1 --random-source=/dev/zero)
	cp "$f" "$(dirname "$f")/md59$(date +%N | cut -c1-9).msg"
	"$HW" snapshot create -q >/dev/null 2>&1 || true
done
echo "repository:     $("$HW" snapshot list --json | wc -l) snapshots, $(size state/snapshots) bytes"
msg=$(cd "$STORE" && ls enron.com/*/md5*.msg | sed -n 1234p)
mid=$(sed -n 's/^Message-I[Dd]: *//p' "$STORE/$msg" | head -1 | tr -d '\r')
restore_one() { rm -rf "$W/one"; "$HW" restore -q --to "$W/one" "$msg"; }
r_ours=$(med3 restore_one)
cmp "$W/one/$msg" "$STORE/$msg"
r_bsdtar=$(med3 bsdtar -xqf s.tar.zst -C "$W" "store/$msg")
echo "restore one:    hiwater ${r_ours}s  bsdtar -xq ${r_bsdtar}s  ratio $(ratio "$r_ours" "$r_bsdtar") (target < 0.020 s)"
if command -v restic >/dev/null; then
	r_restic=$(t restic -q -r "$W/restic" restore latest --target "$W/rr" --include "$STORE/$msg")
	echo "                restic ${r_restic}s ratio $(ratio "$r_ours" "$r_restic")"
fi
if command -v borg >/dev/null; then
	r_borg=$(t sh -c "mkdir -p '$W/br' && cd '$W/br' && borg extract '$W/borg::full' '${STORE#/}/$msg'")
	echo "                borg ${r_borg}s ratio $(ratio "$r_ours" "$r_borg")"
fi
f_ours=$(med3 "$HW" find --json --message-id "$mid")
"$HW" find --json --message-id "$mid" | head -1
echo "find msgid:     hiwater ${f_ours}s across 30 snapshots (target < 0.050 s)"
