#!/bin/sh
# bench/layout.sh - hiwater frag / defrag / defrag --relayout against peers
# measured in the same run on the same kind of files:
#   - fragments per file and layout score before and after (hiwater frag)
#   - agreement with filefrag (sum of fragments over every file)
#   - cold-cache read of every folder in UID order, before and after
#     (drop_caches when permitted; warm figures beside them)
#   - defrag throughput against cp of the same bytes (+ sync)
#   - e4defrag on a twin store made the same way at the same time
# Usage: bench/layout.sh [FOLDERS] [FILES_PER_FOLDER] [BLOCKS_PER_FILE]
# Needs: ./hiwater built, filefrag, e4defrag (e2fsprogs), an ext4 $WORK.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
HW=${HIWATER:-$top/hiwater}
WORK=${WORK:-/tmp/hw-bench-layout}
NF=${1:-4}; NM=${2:-250}; NB=${3:-16}
rm -rf "$WORK"; mkdir -p "$WORK"
A="$WORK/a"; B="$WORK/b"

now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.3f\", $2 - $1 }"; }
ratio() { awk "BEGIN { if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo cold || echo warm-only; }
field() { sed -n "s/.*\"$1\":\([0-9.a-z]*\).*/\1/p" | tail -n 1; }

# Fragmented folders, as a busy server makes them: 4 KiB appends to every
# message of a folder in turn, each fsynced; the twin stores A and B are
# grown together so that both get the same treatment. (bench/mkstore
# --fragment does the same when it is built.)
echo "building 2 x $NF folders x $NM messages x $NB blocks (interleaved appends + fsync)..."
python3 - "$A" "$B" "$NF" "$NM" "$NB" <<'PY'
import os, sys, random
a, b, nf, nm, nb = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
random.seed(1)
for f in range(nf):
    for root in (a, b):
        os.makedirs(f"{root}/example.com/user{f}", exist_ok=True)
line = b"Received: from mail.example.org by mx.example.com; Mon, 28 Nov 2026 10:00:00 +0000\r\n"
block = (line * (4096 // len(line) + 1))[:4096]
for r in range(nb):
    for f in range(nf):
        for m in range(nm):
            for root in (a, b):
                p = f"{root}/example.com/user{f}/md50{m+1:09d}.msg"
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
                os.write(fd, block); os.fsync(fd); os.close(fd)
old = 1764000000
for root in (a, b):
    for d, _, files in os.walk(root):
        for n in files:
            os.utime(os.path.join(d, n), (old, old))
PY
for s in "$A" "$B"; do "$HW" --store "$s" --state "$s.state" -q index >/dev/null 2>&1 || true; done
bytes=$(du -sb "$A" | cut -f1)

read_all() {  # read every message of every folder in UID (= name) order
	t0=$(now)
	for d in "$1"/example.com/*; do cat "$d"/*.msg > /dev/null; done
	secs "$t0" "$(now)"
}
frag_sum() {  # FIEMAP fragments over the store: hiwater, then filefrag
	j=$("$HW" --store "$1" --state "$1.state" frag --json || true)
	fpf=$(echo "$j" | field frag_per_file); lay=$(echo "$j" | field layout)
	ff=$(find "$1" -name '*.msg' -exec filefrag {} + | sed 's/.*: \([0-9]*\) extents\{0,1\} found/\1/' |
		awk '{ s += $1 } END { print s }')
	echo "$fpf $lay $ff"
}

set -- $(frag_sum "$A"); fpf0=$1; lay0=$2; ff0=$3
n=$((NF * NM))
mode=$(drop); cold0=$(read_all "$A"); warm0=$(read_all "$A")

# cp of the same bytes, made durable
drop >/dev/null; t0=$(now); cp -r "$A" "$WORK/cp"; sync; tcp=$(secs "$t0" "$(now)"); rm -rf "$WORK/cp"

export HIWATER_DEFRAG_QUIET_SECS=0
drop >/dev/null; t0=$(now); "$HW" --store "$A" --state "$A.state" -q defrag >/dev/null || true
tdef=$(secs "$t0" "$(now)")
set -- $(frag_sum "$A"); fpf1=$1; lay1=$2; ff1=$3
drop >/dev/null; cold1=$(read_all "$A")

drop >/dev/null; t0=$(now); "$HW" --store "$A" --state "$A.state" -q defrag --relayout >/dev/null || true
trel=$(secs "$t0" "$(now)")
set -- $(frag_sum "$A"); fpf2=$1; lay2=$2
drop >/dev/null; cold2=$(read_all "$A"); warm2=$(read_all "$A")

e4=-; fpfe=-; laye=-; colde=-
if command -v e4defrag >/dev/null 2>&1; then
	drop >/dev/null; t0=$(now); e4defrag "$B" >/dev/null 2>&1 || true; e4=$(secs "$t0" "$(now)")
	set -- $(frag_sum "$B"); fpfe=$1; laye=$2
	drop >/dev/null; colde=$(read_all "$B")
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
