#!/bin/sh
# bench/layout.sh - hiwater frag / defrag / defrag --relayout against peers
# measured in the same run on the same kind of files:
#   - fragments per file and layout score before and after (hiwater frag)
#   - agreement with filefrag (sum of fragments over every file)
#   - cold-cache read of every folder in UID order, before and after
#     (drop_caches when permitted, the fastest of 3; warm figures beside them)
#   - defrag throughput against cp of the same bytes (+ sync)
#   - e4defrag on a twin store made the same way at the same time
# Usage: bench/layout.sh [MAILBOXES] [MESSAGES]
# Needs: ./hiwater and bench/mkstore built, filefrag, e4defrag (e2fsprogs),
# an ext4 $WORK.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
HW=${HIWATER:-$top/hiwater}
WORK=${WORK:-/tmp/hw-bench-layout}
MKSTORE=${MKSTORE:-$top/bench/mkstore}
NMB=${1:-4}; NMSG=${2:-4000}
rm -rf "$WORK"; mkdir -p "$WORK"
A="$WORK/a"; B="$WORK/b"

now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.3f\", $2 - $1 }"; }
ratio() { awk "BEGIN { if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo cold || echo warm-only; }
field() { sed -n "s/.*\"$1\":\([0-9.a-z]*\).*/\1/p" | tail -n 1; }

# Fragmented folders, as a busy server makes them: bench/mkstore --fragment
# appends to a folder's files in turn, 4 KiB at a time with an fsync each.
# The twin stores A and B are the same bytes made the same way (same seed).
echo "building 2 x $NMB mailboxes x $NMSG messages with bench/mkstore --fragment..."
for s in "$A" "$B"; do
	"$MKSTORE" --out "$s" --domains 1 --mailboxes "$NMB" --messages "$NMSG" --seed 1 \
		--with-index --fragment >/dev/null
done
for s in "$A" "$B"; do "$HW" --store "$s" --state "$s.state" -q index >/dev/null 2>&1 || true; done
bytes=$(du -sb "$A" | cut -f1)

# every folder's files in UID order (IMAP.MRK, via hiwater ls), one list for
# both twins: relayout keeps names and UIDs
mkdir -p "$WORK/lists"
find "$A" -name IMAP.MRK | LC_ALL=C sort | while read -r m; do
	rel=${m#"$A"/}; rel=${rel%/IMAP.MRK}
	"$HW" --store "$A" --state "$A.state" ls --json "$rel" |
		sed -n 's/.*"file":"\([^"]*\)".*/\1/p' | d=$rel awk '{ print ENVIRON["d"] "/" $0 }' \
		> "$WORK/lists/$(echo "$rel" | tr -c 'A-Za-z0-9.\n' '_')"
done
read_all() {  # read every message of every folder in UID order, a folder at a time
	t0=$(now)
	for l in "$WORK/lists"/*; do (cd "$1" && xargs -d '\n' -r cat < "$l" > /dev/null); done
	secs "$t0" "$(now)"
}
cold_read() {  # the fastest of 3 cold reads: the machine may be shared
	best=
	for _ in 1 2 3; do
		drop >/dev/null; t=$(read_all "$1")
		best=$(awk "BEGIN { print ($t < ${best:-1e9}) ? $t : ${best:-1e9} }")
	done
	echo "$best"
}
frag_sum() {  # FIEMAP fragments over the store: hiwater, then filefrag
	j=$("$HW" --store "$1" --state "$1.state" frag --json || true)
	fpf=$(echo "$j" | field frag_per_file); lay=$(echo "$j" | field layout)
	ff=$(find "$1" -name '*.msg' -exec filefrag {} + | sed 's/.*: \([0-9]*\) extents\{0,1\} found/\1/' |
		awk '{ s += $1 } END { print s }')
	echo "$fpf $lay $ff"
}

set -- $(frag_sum "$A"); fpf0=$1; lay0=$2; ff0=$3
n=$(find "$A" -name '*.msg' | wc -l)
mode=$(drop); cold0=$(cold_read "$A"); warm0=$(read_all "$A")

# cp of the same bytes, made durable
drop >/dev/null; t0=$(now); cp -r "$A" "$WORK/cp"; sync; tcp=$(secs "$t0" "$(now)"); rm -rf "$WORK/cp"

export HIWATER_DEFRAG_QUIET_SECS=0
# timed with a sync, as cp is: what the moves leave dirty goes to disk too
drop >/dev/null; t0=$(now); "$HW" --store "$A" --state "$A.state" -q defrag >/dev/null || true
sync; tdef=$(secs "$t0" "$(now)")
set -- $(frag_sum "$A"); fpf1=$1; lay1=$2; ff1=$3
cold1=$(cold_read "$A")

drop >/dev/null; t0=$(now); "$HW" --store "$A" --state "$A.state" -q defrag --relayout >/dev/null || true
sync; trel=$(secs "$t0" "$(now)")
set -- $(frag_sum "$A"); fpf2=$1; lay2=$2
cold2=$(cold_read "$A"); warm2=$(read_all "$A")

e4=-; fpfe=-; laye=-; colde=-
if command -v e4defrag >/dev/null 2>&1; then
	drop >/dev/null; t0=$(now); e4defrag "$B" >/dev/null 2>&1 || true; sync; e4=$(secs "$t0" "$(now)")
	set -- $(frag_sum "$B"); fpfe=$1; laye=$2
	colde=$(cold_read "$B")
fi

mb=$(awk "BEGIN { printf \"%.1f\", $bytes / 1048576 }")
echo
echo "store: $n messages, $mb MiB, reads: $mode"
echo "fragments/file   before $fpf0  after defrag $fpf1  after relayout $fpf2  e4defrag $fpfe"
echo "layout score     before $lay0  after defrag $lay1  after relayout $lay2  e4defrag $laye"
echo "filefrag agrees  before: hiwater $(awk "BEGIN{printf \"%d\", $fpf0 * $n + 0.5}") vs filefrag $ff0 fragments; after defrag: $(awk "BEGIN{printf \"%d\", $fpf1 * $n + 0.5}") vs $ff1"
echo "folder read      before ${cold0}s (warm ${warm0}s)  after defrag ${cold1}s  after relayout ${cold2}s (warm ${warm2}s)  after e4defrag ${colde}s"
echo "                 speed-up relayout vs before: $(ratio "$cold0" "$cold2")x   (target >= 2x)"
echo "defrag           hiwater ${tdef}s  cp+sync ${tcp}s  e4defrag ${e4}s   relayout ${trel}s"
echo "                 throughput vs cp: $(ratio "$tcp" "$tdef")   (target >= 0.60)   vs e4defrag: $(ratio "$e4" "$tdef")x"
rm -rf "$WORK"
