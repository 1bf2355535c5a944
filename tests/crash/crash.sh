#!/bin/sh
# crash.sh - kill every mutating command at seeded moments and check that
# nothing was lost (tests/crash/README.md says what is checked and why).
#
#   sh tests/crash/crash.sh [--short | --long] [--seed S] [--only NAME] [-v]
#
# Needs HIWATER, MKSTORE and CRASHCHECK (set by crash.mk). For each scenario
# (a generated store and one command), a clean run on a copy of the store
# gives the reference result and the number of I/O calls the command makes
# through core/io.h. Then, per kill point, on a fresh copy of the store:
#   - the command is killed with SIGKILL, either just before its Nth I/O call
#     (HIWATER_FAULT=any:N:KILL, N seeded in 1..calls) or after a seeded delay
#     within the clean run's duration (timeout -s KILL);
#   - crashcheck killed: every file byte-identical, each IMAP.MRK the old one
#     or a clean decode, UIDs/flags/UIDVALIDITY kept, HIWATER.MRK old or new;
#     the catalog passes PRAGMA integrity_check and foreign_key_check;
#   - the command is run again: it must exit as the clean run did, and
#     crashcheck rerun: no temp file or lock left (store and state), every
#     IMAP.MRK exact, UIDs given by the killed run kept, result equal to the
#     clean run's;
#   - a further run must be a no-op: the dump of the store (content, inode,
#     mtime of every entry) does not change.
# Prints one line per scenario and a summary; exits 1 on any failure (work
# directories of failed kill points are kept and named).
set -u

: "${HIWATER:?set HIWATER}" "${MKSTORE:?set MKSTORE}" "${CRASHCHECK:?set CRASHCHECK}"
mode=short seed=${CRASH_SEED:-1} only= verbose=0
while [ $# -gt 0 ]; do
	case $1 in
	--short) mode=short ;;
	--long) mode=long ;;
	--seed) seed=$2; shift ;;
	--only) only=$2; shift ;;
	-v) verbose=1 ;;
	*) echo "usage: crash.sh [--short|--long] [--seed S] [--only NAME] [-v]" >&2; exit 64 ;;
	esac
	shift
done

# A SIGKILL is not a power cut: what a killed run leaves does not depend on
# fsync reaching the disk. So work on tmpfs when it has room (fsync is free
# there: 8x faster), unless CRASH_TMPDIR says where.
tmp=${CRASH_TMPDIR:-}
if [ -z "$tmp" ]; then
	tmp=${TMPDIR:-/tmp}
	if [ -d /dev/shm ] && [ -w /dev/shm ] &&
	   [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -gt 1048576 ] 2>/dev/null; then
		tmp=/dev/shm
	fi
fi
top=$(mktemp -d "$tmp/hiwater-crash.XXXXXX") || exit 74
kill_points=0 kills_io=0 kills_timed=0 finished=0 failures=0 failed_dirs=
rng=$seed

# rand N: a number in 1..N into $r (an LCG, so the same seed gives the same run)
rand() {
	rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
	r=$(( (rng / 65536) % $1 + 1 ))
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
say() { [ "$verbose" = 1 ] && echo "$@"; return 0; }

# run_cmd DIR [ENV...]: the scenario's command on DIR/store with DIR/state
run_cmd() {
	d=$1; shift
	# through sh -c, whose "Killed" notice goes to /dev/null
	sh -c 'cd "$1" && shift && "$@" >out 2>err' sh "$d" env "$@" "$HIWATER" -q $cmd_args 2>/dev/null
}

catalog_ok() {  # catalog_ok DIR STAGE
	db=$1/state/catalog.db
	[ -f "$db" ] || return 0
	res=$(sqlite3 "$db" 'PRAGMA integrity_check; PRAGMA foreign_key_check;' 2>&1)
	if [ "$res" != ok ]; then
		echo "catalog after $2: $res" >&2
		return 1
	fi
}

# build_* DIR: make DIR/store and DIR/state (and DIR/p.yaml) for a scenario
build_fresh() {   # a migrated store: messages, no index files at all
	"$MKSTORE" --out "$1/store" --domains 2 --mailboxes 3 --messages "$nmsg" --seed "$seed" \
		--now 1790000000 >/dev/null
	mkdir -m 700 "$1/state"
}
build_stale() {   # an indexed store that then changed in every way an index must follow
	"$MKSTORE" --out "$1/store" --domains 2 --mailboxes 3 --messages "$nmsg" --seed "$seed" \
		--now 1790000000 --with-index >/dev/null
	mkdir -m 700 "$1/state"
	"$HIWATER" -q --store "$1/store" --state "$1/state" index >/dev/null 2>&1
	i=0
	(cd "$1/store" && find . -name IMAP.MRK | LC_ALL=C sort) > "$1/mrks"
	while IFS= read -r f; do
		dir=$1/store/${f%/IMAP.MRK}
		i=$((i + 1))
		case $((i % 6)) in
		0) rm -f "$dir/IMAP.MRK" ;;                            # index lost
		1) head -c 100 "$dir/IMAP.MRK" > "$dir/t" && mv "$dir/t" "$dir/IMAP.MRK" ;;  # torn
		2) m=$(ls "$dir" | grep -i '\.msg$' | head -n 1)       # deleted by a client
		   [ -n "$m" ] && rm -f "$dir/$m" ;;
		3) m=$(ls "$dir" | grep -i '\.msg$' | head -n 1)       # new deliveries
		   [ -n "$m" ] && cp -p "$dir/$m" "$dir/md50000$((900000 + i)).msg" &&
			   cp -p "$dir/$m" "$dir/pd10000$((910000 + i)).msg" ;;
		4) rm -f "$dir/HIWATER.MRK" ;;
		5) m=$(ls "$dir" | grep -i '\.msg$' | head -n 1)       # renamed by the content filter
		   [ -n "$m" ] && mv "$dir/$m" "$dir/pd${m#??}" ;;
		esac
	done < "$1/mrks"
	rm -f "$1/mrks"
	# a killed run of some older tool version left a temp file
	mb=$(cd "$1/store" && ls -d */* | LC_ALL=C sort | head -n 1)
	printf 'half an index' > "$1/store/$mb/.hiwater-tmp.999999.0badf00d.IMAP.MRK"
	chmod 600 "$1/store/$mb/.hiwater-tmp.999999.0badf00d.IMAP.MRK"
}
build_nightly() {
	build_stale "$1"
	cat > "$1/p.yaml" <<YAML
store: store
state_dir: state
defaults:
  quota: {warn: 2MB, limit: 1GB}
  purge:
    - {folder: Deleted Items, older_than: 30d}
YAML
}

# count_calls DIR: the I/O calls of a clean run of the command (bisection on
# the kill mode: a run killed before call N makes at least N calls)
count_calls() {
	lo=0 hi=32
	while :; do
		rm -rf "$1/probe" && mkdir "$1/probe" && cp -a "$1/base/." "$1/probe/"
		run_cmd "$1/probe" HIWATER_FAULT="any:$hi:KILL"
		[ $? -eq 137 ] || break
		lo=$hi hi=$((hi * 2))
		[ $hi -gt 1000000 ] && break
	done
	while [ $((hi - lo)) -gt 1 ]; do
		mid=$(( (lo + hi) / 2 ))
		rm -rf "$1/probe" && mkdir "$1/probe" && cp -a "$1/base/." "$1/probe/"
		run_cmd "$1/probe" HIWATER_FAULT="any:$mid:KILL"
		if [ $? -eq 137 ]; then lo=$mid; else hi=$mid; fi
	done
	rm -rf "$1/probe"
	calls=$lo
}

# one kill point; $1 = io|timed
kill_point() {
	how=$1
	w=$sdir/k$kp
	rm -rf "$w" && mkdir "$w" && cp -a "$sdir/base/." "$w/"
	if [ "$how" = io ]; then
		rand "$calls"
		what="before I/O call $r of $calls"
		run_cmd "$w" HIWATER_FAULT="any:$r:KILL"
		rc=$?
	else
		rand $((dur_us > 0 ? dur_us : 1))
		delay=$(printf '0.%06d' "$r")
		[ "$r" -ge 1000000 ] && delay=$((r / 1000000)).$(printf %06d $((r % 1000000)))
		what="after ${delay}s"
		# not timeout(1): it kills its own process group and exits without
		# reaping, and a zombie's pid still looks alive to the next run
		sh -c 'cd "$1" && shift && { "$@" >out 2>err & pid=$!; sleep "$0"; kill -KILL $pid; wait $pid; }' \
			"$delay" "$w" "$HIWATER" -q $cmd_args 2>/dev/null
		rc=$?
	fi
	if [ $rc -ne 137 ]; then
		finished=$((finished + 1))
		say "  $name: $what: finished first (exit $rc)"
		rm -rf "$w"
		return 0
	fi
	kill_points=$((kill_points + 1))
	if [ "$how" = io ]; then kills_io=$((kills_io + 1)); else kills_timed=$((kills_timed + 1)); fi
	ok=1
	"$CRASHCHECK" killed "$sdir/base/store" "$sdir/ref/store" "$w/store" 2>>"$w/check" || ok=0
	catalog_ok "$w" "the kill" 2>>"$w/check" || ok=0
	cp -a "$w/store" "$w/killed"
	run_cmd "$w"
	rc=$?
	if [ $rc -ne "$ref_rc" ]; then
		echo "rerun exited $rc, the clean run $ref_rc" >>"$w/check"
		cat "$w/err" >>"$w/check"
		ok=0
	fi
	"$CRASHCHECK" rerun "$sdir/base/store" "$sdir/ref/store" "$w/killed" "$w/store" \
		2>>"$w/check" || ok=0
	catalog_ok "$w" "the rerun" 2>>"$w/check" || ok=0
	left=$(find "$w/state" -name '.hiwater-tmp.*' | head -n 3)
	if [ -n "$left" ]; then
		echo "temp files left in the state dir: $left" >>"$w/check"
		ok=0
	fi
	"$CRASHCHECK" dump "$w/store" > "$w/dump1"
	run_cmd "$w"
	rc=$?
	"$CRASHCHECK" dump "$w/store" > "$w/dump2"
	if [ $rc -ne "$ref_rc" ] || ! cmp -s "$w/dump1" "$w/dump2"; then
		echo "a further run (exit $rc) was not a no-op:" >>"$w/check"
		diff "$w/dump1" "$w/dump2" | head -n 20 >>"$w/check"
		ok=0
	fi
	if [ $ok = 1 ]; then
		say "  $name: killed $what: ok"
		rm -rf "$w"
	else
		failures=$((failures + 1))
		failed_dirs="$failed_dirs $w"
		echo "FAIL $name: killed $what (kept in $w)"
		sed 's/^/     | /' "$w/check" | head -n 15
	fi
}

# scenario NAME BUILDER IO_KILLS TIMED_KILLS COMMAND...
scenario() {
	name=$1 builder=$2 nio=$3 ntimed=$4
	shift 4
	cmd_args="$*"
	case $name in *${only}*) ;; *) return 0 ;; esac
	sdir=$top/$name
	mkdir -p "$sdir/base"
	$builder "$sdir/base"
	# the reference: a clean run, timed
	mkdir "$sdir/ref" && cp -a "$sdir/base/." "$sdir/ref/"
	t0=$(date +%s%N)
	run_cmd "$sdir/ref"
	ref_rc=$?
	dur_us=$(( ($(date +%s%N) - t0) / 1000 ))
	case $ref_rc in 0|1) ;; *)
		echo "FAIL $name: the clean run exited $ref_rc"; sed 's/^/     | /' "$sdir/ref/err"
		failures=$((failures + 1)); return 0 ;;
	esac
	count_calls "$sdir"
	before=$kill_points
	kp=0
	while [ $kp -lt "$nio" ]; do kp=$((kp + 1)); kill_point io; done
	while [ $kp -lt $((nio + ntimed)) ]; do kp=$((kp + 1)); kill_point timed; done
	echo "crash: $name: $((kill_points - before)) kill points ($calls I/O calls, clean run ${dur_us}us, exit $ref_rc)"
}

if [ "$mode" = long ]; then
	nmsg=300 io=60 timed=20
else
	nmsg=120 io=10 timed=3
fi
scenario index-fresh build_fresh "$io" "$timed" --store store --state state index -j 1
scenario index-fresh-j4 build_fresh "$io" "$timed" --store store --state state index -j 4
scenario index-stale build_stale "$io" "$timed" --store store --state state index
scenario nightly build_nightly "$io" "$timed" -c p.yaml nightly

echo "crash: $kill_points kill points ($kills_io at an I/O call, $kills_timed timed), $finished runs finished before their kill, $failures failures"
if [ "$failures" -eq 0 ]; then
	rm -rf "$top"
	exit 0
fi
echo "crash: kept:$failed_dirs"
exit 1
