#!/bin/sh
# bench/index.sh - hiwater index against doveadm index and the read floor,
# measured in one run on the same messages. Prints ratios.
#
#   bench/index.sh [WORKDIR]      (default /tmp/hiwater-bench-index)
#   BENCH_MESSAGES=200000  size of the generated store (0: skip it)
#   BENCH_RUNS=3           runs per figure (median)
#
# Needs: make, dovecot-core (doveadm), and root to drop caches for the cold
# figures (skipped otherwise). The Enron corpus comes from ../shared.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/hiwater-bench-index}
N=${BENCH_MESSAGES:-200000}
RUNS=${BENCH_RUNS:-3}
SHARED=${HW_SHARED:-$top/../shared}
HW="$top/build/hiwater"
MK="$top/build/bench/mkstore"
FLOOR="$top/build/bench/floor"
JOBS=$(nproc)

make -C "$top" -s all >/dev/null
command -v doveadm >/dev/null || { echo "bench: doveadm missing (apt-get install dovecot-core)"; exit 1; }
mkdir -p "$W"
can_drop=0
if [ "$(id -u)" = 0 ] && sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then can_drop=1; fi
drop() { [ "$can_drop" = 1 ] && sync && echo 3 > /proc/sys/vm/drop_caches; true; }

now() { date +%s.%N; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
# timeit COLD PREP CMD...: median wall seconds of CMD over RUNS, PREP before each
timeit() {
	cold=$1 prep=$2; shift 2
	ts=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		sh -c "$prep" >/dev/null 2>&1
		[ "$cold" = cold ] && drop
		t0=$(now)
		"$@" >/dev/null 2>&1 || true
		t1=$(now)
		ts="$ts $(echo "$t1 - $t0" | bc -l)"
		i=$((i + 1))
	done
	median $ts
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }

# dovecot: a throwaway user and a Maildir++ view made of hard links, one
# Maildir folder per store folder (so both tools write one index per folder)
setup_dovecot() {  # STORE DIR
	id mailtest >/dev/null 2>&1 || useradd -M -d "$2" -s /usr/sbin/nologin mailtest
	rm -rf "$2"
	mkdir -p "$2/Maildir/cur" "$2/Maildir/new" "$2/Maildir/tmp" "$2/home"
	find "$1" -type f -iname '*.msg' | sort | awk -v d="$2/Maildir" -v dirs="$2/dirs.txt" '
		{ dir = $0; sub(/\/[^\/]*$/, "", dir)
		  if (!(dir in f)) { f[dir] = ++n; print d "/.f" n > dirs }
		  printf "%s\n%s/.f%d/cur/%d.M%dP1.bench:2,\n", $0, d, f[dir], 1000000000 + NR, NR }' > "$2/links.txt"
	while IFS= read -r x; do mkdir -p "$x/cur" "$x/new" "$x/tmp"; done < "$2/dirs.txt"
	perl -e 'while (defined(my $a = <STDIN>)) { my $b = <STDIN>; chomp($a, $b);
		link($a, $b) or die "link $a $b: $!\n" }' < "$2/links.txt"
	rm -f "$2/links.txt" "$2/dirs.txt"
	cat > "$2/dovecot.conf" <<EOC
base_dir = $2/run
state_dir = $2/state
log_path = /dev/stderr
protocols =
ssl = no
first_valid_uid = 100
first_valid_gid = 100
mail_uid = mailtest
mail_gid = mailtest
mail_location = maildir:$2/Maildir:INDEX=$2/index:CONTROL=$2/control:LAYOUT=maildir++
userdb {
  driver = static
  args = uid=mailtest gid=mailtest home=$2/home
}
mail_always_cache_fields = hdr.from hdr.to hdr.subject hdr.date hdr.message-id date.sent size.virtual
EOC
	chown -R mailtest: "$2"
}
dove_prep() { echo "rm -rf '$1/index' '$1/control' && mkdir -p '$1/index' '$1/control' && chown mailtest: '$1/index' '$1/control'"; }
dove_cmd() { echo "env USER=mailtest HOME=$1/home doveadm -c $1/dovecot.conf index '*'"; }

peak_rss_kb() {  # CMD...: peak RSS of CMD in KiB
	if command -v /usr/bin/time >/dev/null; then
		/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1
	else
		echo "?"
	fi
}

bench_store() {  # NAME STORE
	name=$1 S=$2 st="$W/$1-state"
	msgs=$(find "$S" -type f -iname '*.msg' | wc -l)
	bytes=$(du -sb "$S" | cut -f1)
	echo
	echo "== $name: $msgs messages, $((bytes / 1048576)) MiB"
	reset="rm -rf '$st'; find '$S' \\( -name IMAP.MRK -o -name HIWATER.MRK \\) -delete"
	full_w=$(timeit warm "$reset; $HW --store '$S' --state '$st' -q index >/dev/null 2>&1; $reset" \
		"$HW" --store "$S" --state "$st" -q index)
	full_c=-
	[ "$can_drop" = 1 ] && full_c=$(timeit cold "$reset" "$HW" --store "$S" --state "$st" -q index)
	sh -c "$reset"
	"$HW" --store "$S" --state "$st" -q index >/dev/null 2>&1 || true
	sleep 1.1
	"$HW" --store "$S" --state "$st" -q index >/dev/null 2>&1 || true
	noop=$(timeit warm true "$HW" --store "$S" --state "$st" -q index)
	sh -c "$reset"
	rss=$(peak_rss_kb "$HW" --store "$S" --state "$st" -q index)
	floor1=$(timeit warm true "$FLOOR" -j 1 "$S")
	floorj=$(timeit warm true "$FLOOR" -j "$JOBS" "$S")
	floor_c=-
	[ "$can_drop" = 1 ] && floor_c=$(timeit cold true "$FLOOR" -j "$JOBS" "$S")
	D="$W/$name-dovecot"
	setup_dovecot "$S" "$D"
	dove_w=$(timeit warm "$(dove_prep "$D"); $(dove_cmd "$D")" sh -c "$(dove_prep "$D"); $(dove_cmd "$D")")
	dove_c=-
	[ "$can_drop" = 1 ] && dove_c=$(timeit cold "$(dove_prep "$D")" sh -c "$(dove_cmd "$D")")
	# check doveadm really indexed (its index file exists)
	[ -n "$(find "$D/index" -name 'dovecot.index*' | head -n 1)" ] || echo "warning: doveadm made no index"
	rm -rf "$D"

	echo "hiwater index, full rebuild, warm : ${full_w}s"
	echo "hiwater index, full rebuild, cold : ${full_c}s"
	echo "hiwater index, no-op re-run       : ${noop}s ($(echo "scale=1; 100 * $noop / $full_w" | bc -l)% of a full rebuild; target < 3%)"
	echo "hiwater peak RSS                  : ${rss} KiB (target < 100 MB at 200,000 messages)"
	echo "read floor, 1 thread / $JOBS threads : ${floor1}s / ${floorj}s (cold, $JOBS threads: ${floor_c}s)"
	echo "doveadm index, warm / cold        : ${dove_w}s / ${dove_c}s"
	echo "ratio doveadm/hiwater warm        : $(ratio "$dove_w" "$full_w")x (target >= 4)"
	[ "$full_c" != - ] && echo "ratio doveadm/hiwater cold        : $(ratio "$dove_c" "$full_c")x (target >= 2)"
	echo "ratio hiwater/floor($JOBS threads) warm: $(ratio "$full_w" "$floorj")x (target <= 1.5)"
	echo "ratio hiwater/floor(1 thread) warm : $(ratio "$full_w" "$floor1")x"
}

command -v bc >/dev/null || { echo "bench: bc missing (apt-get install bc)"; exit 1; }
if [ ! -d "$W/enron-store" ]; then
	rm -rf "$W/corpus" && mkdir -p "$W/corpus"
	tar --zstd -xf "$SHARED/corpora/enron-inbox.tar.zst" -C "$W/corpus"
	src=$(find "$W/corpus" -maxdepth 2 -type d -name maildir | head -n 1)
	"$MK" --out "$W/enron-store" --from-corpus "$src" >/dev/null
fi
bench_store enron "$W/enron-store"
if [ "$N" -gt 0 ]; then
	[ -d "$W/gen-store" ] || "$MK" --out "$W/gen-store" --domains 10 --mailboxes 400 \
		--messages "$N" --seed 7 >/dev/null
	bench_store "generated" "$W/gen-store"
fi
