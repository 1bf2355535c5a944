#!/bin/sh
# bench/layout.sh - hiwater frag / defrag / defrag --relayout against peers
# measured in the same run on the same kind of files:
#   - fragments per file and layout score before and after (hiwater frag)
#   - agreement with filefrag (sum of fragments over every file)
#   - cold-cache read of every folder in UID order, before and after
#     (drop_caches when permitted, the fastest of 3; warm figures beside them),
#     with the read requests the disk saw (/proc/diskstats): requests per
#     folder and KiB per request
#   - the same read by a reader that asks for a whole folder ahead
#     (posix_fadvise WILLNEED on every file in UID order, then reads them:
#     what a server reading a whole folder could do), labelled apart
#   - what the disk does: 4 KiB direct reads one at a time, random against
#     sequential (the price of a seek), and large sequential reads
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
nfold=$(ls "$WORK/lists" | wc -l)
# the disk under $WORK, for its read counters in /proc/diskstats
devno=$(stat -c %d "$WORK"); dmaj=$((devno >> 8)); dmin=$((devno & 255))
diskreads() { awk -v a="$dmaj" -v b="$dmin" '$1 == a && $2 == b { print $4, $6 }' /proc/diskstats; }
read_all() {  # read every message of every folder in UID order, a folder at a time
	for l in "$WORK/lists"/*; do (cd "$1" && xargs -d '\n' -r cat < "$l" > /dev/null); done
}
read_ahead() {  # the same, asking for each folder's files ahead first
	python3 - "$1" "$WORK/lists"/* <<'PY'
import os, sys
top = sys.argv[1]
for lst in sys.argv[2:]:
    fds = []
    for name in open(lst).read().splitlines():
        fd = os.open(os.path.join(top, name), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        fds.append(fd)
    for fd in fds:
        while os.read(fd, 1 << 20):
            pass
        os.close(fd)
PY
}
timed_read() {  # timed_read FN STORE: "seconds requests KiB/request" of one read
	r0=$(diskreads); t0=$(now); "$1" "$2"; t=$(secs "$t0" "$(now)"); r1=$(diskreads)
	echo "$t $r0 $r1" | awk -v nf="$nfold" '{ n = $4 - $2; kib = ($5 - $3) / 2;
		printf "%s %.0f %.1f\n", $1, n / nf, (n > 0 ? kib / n : 0) }'
}
cold_read() {  # the fastest of 3 cold reads (the machine may be shared): "s req/folder KiB/req"
	best=; fig=; cs=$1; cf=${2:-read_all}
	for _ in 1 2 3; do
		drop >/dev/null; set -- $(timed_read "$cf" "$cs")
		if [ -z "$best" ] || awk "BEGIN { exit !($1 < $best) }"; then best=$1; fig="$*"; fi
	done
	echo "$fig"
}
warm_read() { t0=$(now); read_all "$1"; secs "$t0" "$(now)"; }
disk_probe() {  # what the disk does: 4 KiB direct reads one at a time, random and sequential
	python3 - "$WORK/probe" <<'PY'
import mmap, os, random, time, sys
p = sys.argv[1]; mib = 256
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
block = os.urandom(1 << 20)
for _ in range(mib):
    os.write(fd, block)
os.fsync(fd); os.close(fd)
try:
    open("/proc/sys/vm/drop_caches", "w").write("3")
except OSError:
    pass
fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
b4, b1m = mmap.mmap(-1, 4096), mmap.mmap(-1, 1 << 20)
random.seed(1); n = 2000
out = []
for offs in ([random.randrange(mib * 256) * 4096 for _ in range(n)], [k * 4096 for k in range(n)]):
    t = time.time()
    for o in offs:
        os.preadv(fd, [b4], o)
    out.append((time.time() - t) / n * 1e6)
t = time.time()
for o in range(0, mib << 20, 1 << 20):
    os.preadv(fd, [b1m], o)
out.append(mib / (time.time() - t))
os.close(fd); os.unlink(p)
print("%.0f %.0f %.0f" % tuple(out))
PY
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
ra=no; command -v python3 >/dev/null 2>&1 && ra=yes
mode=$(drop); set -- $(cold_read "$A"); cold0=$1; req0=$2; kib0=$3; warm0=$(warm_read "$A")
[ $ra = yes ] && { set -- $(cold_read "$A" read_ahead); racold0=$1; rareq0=$2; rakib0=$3; }

# cp of the same bytes, made durable
drop >/dev/null; t0=$(now); cp -r "$A" "$WORK/cp"; sync; tcp=$(secs "$t0" "$(now)"); rm -rf "$WORK/cp"

export HIWATER_DEFRAG_QUIET_SECS=0
# timed with a sync, as cp is: what the moves leave dirty goes to disk too
drop >/dev/null; t0=$(now); "$HW" --store "$A" --state "$A.state" -q defrag >/dev/null || true
sync; tdef=$(secs "$t0" "$(now)")
set -- $(frag_sum "$A"); fpf1=$1; lay1=$2; ff1=$3
set -- $(cold_read "$A"); cold1=$1; req1=$2; kib1=$3

drop >/dev/null; t0=$(now); "$HW" --store "$A" --state "$A.state" -q defrag --relayout >/dev/null || true
sync; trel=$(secs "$t0" "$(now)")
set -- $(frag_sum "$A"); fpf2=$1; lay2=$2
set -- $(cold_read "$A"); cold2=$1; req2=$2; kib2=$3; warm2=$(warm_read "$A")
[ $ra = yes ] && { set -- $(cold_read "$A" read_ahead); racold2=$1; rareq2=$2; rakib2=$3; }

e4=-; fpfe=-; laye=-; colde=-; reqe=-; kibe=-
if command -v e4defrag >/dev/null 2>&1; then
	drop >/dev/null; t0=$(now); e4defrag "$B" >/dev/null 2>&1 || true; sync; e4=$(secs "$t0" "$(now)")
	set -- $(frag_sum "$B"); fpfe=$1; laye=$2
	set -- $(cold_read "$B"); colde=$1; reqe=$2; kibe=$3
fi

mb=$(awk "BEGIN { printf \"%.1f\", $bytes / 1048576 }")
echo
echo "store: $n messages, $mb MiB, reads: $mode"
echo "fragments/file   before $fpf0  after defrag $fpf1  after relayout $fpf2  e4defrag $fpfe"
echo "layout score     before $lay0  after defrag $lay1  after relayout $lay2  e4defrag $laye"
echo "filefrag agrees  before: hiwater $(awk "BEGIN{printf \"%d\", $fpf0 * $n + 0.5}") vs filefrag $ff0 fragments; after defrag: $(awk "BEGIN{printf \"%d\", $fpf1 * $n + 0.5}") vs $ff1"
echo "folder read      before ${cold0}s (warm ${warm0}s)  after defrag ${cold1}s  after relayout ${cold2}s (warm ${warm2}s)  after e4defrag ${colde}s"
echo "                 speed-up relayout vs before: $(ratio "$cold0" "$cold2")x   (target >= 2x)"
echo "  read requests  per folder: before $req0  after defrag $req1  after relayout $req2  after e4defrag $reqe"
echo "                 KiB per request: before $kib0  after defrag $kib1  after relayout $kib2  after e4defrag $kibe"
if [ $ra = yes ]; then
	echo "folder read, whole folder asked ahead (fadvise WILLNEED, then read; a second figure)"
	echo "                 before ${racold0}s ($rareq0 requests per folder, $rakib0 KiB each)  after relayout ${racold2}s ($rareq2 requests, $rakib2 KiB each): $(ratio "$racold0" "$racold2")x"
	set -- $(disk_probe)
	echo "disk             4 KiB direct reads one at a time: random $1 us, sequential $2 us each; 1 MiB sequential: $3 MiB/s"
fi
echo "defrag (+ sync)  hiwater ${tdef}s  cp+sync ${tcp}s  e4defrag ${e4}s   relayout ${trel}s"
echo "                 throughput vs cp: $(ratio "$tcp" "$tdef")   (target >= 0.60)   vs e4defrag: $(ratio "$e4" "$tdef")x"
rm -rf "$WORK"
