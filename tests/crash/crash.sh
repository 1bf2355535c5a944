#!/bin/sh
# crash.sh - kill every mutating command at seeded moments and check that
# nothing was lost (tests/crash/README.md says what is checked and why).
#
#   sh tests/crash/crash.sh [--short | --long] [--faults] [--seed S] [--only NAME,...] [-v]
#
# Needs HIWATER, MKSTORE and CRASHCHECK (set by crash.mk). For each scenario
# (a generated store and one command), a clean run on a copy of the store
# gives the reference result and the number of I/O calls the command makes
# through core/io.h. Then, per kill point, on a fresh copy of the store:
#   - the command is killed with SIGKILL, either just before its Nth I/O call
#     (HIWATER_FAULT=any:N:KILL: the first, the last, and seeded ones) or
#     after a seeded delay within the clean run's duration;
#   - crashcheck killed: every file byte-identical (or purged by rule, and
#     then restorable from a snapshot), nothing new but index files, temps,
#     locks and what the clean run also made; each IMAP.MRK the old one or a
#     clean decode; UIDs, flags and UIDVALIDITY kept; every SQLite database
#     passes integrity_check and foreign_key_check; snapshots verify;
#   - the command is run again: it must exit as the clean run did, and
#     crashcheck rerun: no temp, donor or lock left (store and state), every
#     IMAP.MRK exact, the UIDs the killed run gave kept, the result equal to
#     the clean run's;
#   - a further run must be a no-op: a dump of the store (content, inode,
#     mtime of every entry) does not change.
# --faults: instead of kills, make each write, fsync, rename, fallocate and
# unlink fail in turn (ENOSPC, EIO, short writes) through HIWATER_FAULT; the
# run must fail with exit 2 or 74 and a message naming the operation and the
# path, then the same checks as after a kill (tests/e2e/t071N-faults-*.sh).
# Prints one line per scenario and a summary; exits 1 on any failure (work
# directories of failed kill points are kept and named).
set -u

: "${HIWATER:?set HIWATER}" "${MKSTORE:?set MKSTORE}" "${CRASHCHECK:?set CRASHCHECK}"
mode=short seed=${CRASH_SEED:-1} only= verbose=0 faults=0
while [ $# -gt 0 ]; do
	case $1 in
	--short) mode=short ;;
	--long) mode=long ;;
	--seed) seed=$2; shift ;;
	--only) only=$(echo "$2" | tr ',' ' '); shift ;;
	--faults) faults=1 ;;
	-v) verbose=1 ;;
	*) echo "usage: crash.sh [--short|--long] [--faults] [--seed S] [--only NAME,...] [-v]" >&2; exit 64 ;;
	esac
	shift
done
export HIWATER_DEFRAG_QUIET_SECS=0   # defrag: files just written are fair game here

# A SIGKILL is not a power cut: what a killed run leaves does not depend on
# fsync reaching the disk. So work on tmpfs when it has room (fsync is free
# there: 8x faster), unless CRASH_TMPDIR says where. Scenarios that need a
# real file system (defrag: FIEMAP) use TMPDIR.
disk=${TMPDIR:-/tmp}
fast=${CRASH_TMPDIR:-}
if [ -z "$fast" ]; then
	fast=$disk
	if [ -d /dev/shm ] && [ -w /dev/shm ] &&
	   [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -gt 1048576 ] 2>/dev/null; then
		fast=/dev/shm
	fi
fi
top_fast=$(mktemp -d "$fast/hiwater-crash.XXXXXX") || exit 74
top_disk=$(mktemp -d "$disk/hiwater-crash.XXXXXX") || exit 74
kill_points=0 kills_io=0 kills_timed=0 finished=0 failures=0 failed_dirs=
fault_points=0 absorbed=0 missed=0
rng=$seed
summary=

# rand N: a number in 1..N into $r (an LCG, so the same seed gives the same run)
rand() {
	rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
	r=$(( (rng / 65536) % $1 + 1 ))
}
say() { [ "$verbose" = 1 ] && echo "$@"; return 0; }
note() { echo "$*" >>"$w/check"; }

# run_cmd DIR [ENV...]: DIR/cmd (a script that execs hiwater) in DIR, through
# sh -c, whose "Killed" notice goes to /dev/null; exit status in $?
run_cmd() {
	d=$1; shift
	sh -c 'cd "$1" && shift && "$@" >out 2>err' sh "$d" env "$@" sh ./cmd 2>/dev/null
}
# write_cmd DIR ARGS...: DIR/cmd runs hiwater with ARGS (quoted as given)
write_cmd() {
	f=$1/cmd; shift
	printf 'exec "$HIWATER" -q' > "$f"
	for a in "$@"; do printf " '%s'" "$a" >> "$f"; done
	echo >> "$f"
}

# ---- checks (each appends to $w/check and returns non-zero on failure) ----
dbs_ok() {  # every SQLite database of the state dir is sound
	for db in $(find "$w/state" -name '*.db' 2>/dev/null); do
		res=$(sqlite3 "$db" 'PRAGMA integrity_check; PRAGMA foreign_key_check;' 2>&1)
		[ "$res" = ok ] || { note "$db after $1: $res"; return 1; }
	done
	return 0
}
verify_ok() {  # the snapshot repository verifies (when there is one)
	# (killed while creating it, there may be a directory but no repository)
	[ -f "$w/state/snapshots/HIWATER-SNAPSHOTS" ] || [ "$1" != "the kill" ] || return 0
	[ -d "$w/state/snapshots" ] || return 0
	(cd "$w" && "$HIWATER" -q -c p.yaml snapshot verify) >"$w/verify.out" 2>&1 && return 0
	note "snapshot verify after $1 failed:"
	sed 's/^/  /' "$w/verify.out" | tail -n 5 >>"$w/check"
	return 1
}
restorable_ok() {  # messages purged (gone from the store) come back from a snapshot
	"$CRASHCHECK" purged "$sdir/base/store" "$w/store" > "$w/purged" || return 1
	[ -s "$w/purged" ] || return 0
	rm -rf "$w/rt"
	tr '\n' '\0' < "$w/purged" | (cd "$w" && xargs -0 "$HIWATER" -q -c p.yaml restore --to rt) \
		>"$w/restore.out" 2>&1 || { note "restore --to of purged messages failed:"; \
		tail -n 5 "$w/restore.out" >>"$w/check"; return 1; }
	while IFS= read -r p; do
		cmp -s "$sdir/base/store/$p" "$w/rt/$p" || { note "purged $p is not restorable"; return 1; }
	done < "$w/purged"
	return 0
}
snaps_ok() {  # snapshot prune: the killed run removed only what the clean run removes
	(cd "$w" && "$HIWATER" -c p.yaml snapshot list --json) 2>/dev/null |
		sed -n 's/^{"id":\([0-9]*\),.*/\1/p' > "$w/snaps"
	case $1 in
	kill) for id in $(cat "$sdir/ref/snaps"); do
		grep -qx "$id" "$w/snaps" || { note "snapshot $id (kept by the clean run) is gone"; return 1; }
	      done ;;
	*) cmp -s "$w/snaps" "$sdir/ref/snaps" || { note "snapshots $(echo $(cat "$w/snaps")), clean run $(echo $(cat "$sdir/ref/snaps"))"; return 1; } ;;
	esac
}
logs_ok() {  # logs: each log is there, or compressed to the same bytes, or deleted by rule
	b=$sdir/base/logs c=$w/logs bad=0
	for f in "$b"/*; do
		n=${f##*/}
		if [ -f "$c/$n" ]; then
			cmp -s "$f" "$c/$n" || { note "$n changed"; bad=1; }
			[ "$1" = kill ] || [ -f "$sdir/ref/logs/$n" ] || { note "$n left uncompressed"; bad=1; }
		elif [ -f "$c/$n.zst" ]; then
			zstd -qdc "$c/$n.zst" | cmp -s - "$f" || { note "$n.zst does not give $n back"; bad=1; }
		elif [ -f "$c/$n.gz" ]; then
			gzip -dc "$c/$n.gz" | cmp -s - "$f" || { note "$n.gz does not give $n back"; bad=1; }
		elif [ -f "$sdir/ref/logs/$n" ] || [ -f "$sdir/ref/logs/$n.zst" ]; then
			note "$n is lost"; ok=1
		fi
	done
	if [ "$1" != kill ]; then
		(cd "$c" && ls -A) > "$w/names"
		(cd "$sdir/ref/logs" && ls -A) | cmp -s - "$w/names" || { note "log names differ from the clean run's"; bad=1; }
	fi
	return $bad
}
# store_ok STAGE: the store's invariants (crashcheck) or the logs'
store_ok() {
	if [ "$kind" = logs ]; then
		logs_ok "$1"
		return
	fi
	if [ "$1" = kill ]; then
		"$CRASHCHECK" $ck killed "$sdir/base/store" "$sdir/ref/store" "$w/store" 2>>"$w/check"
	else
		"$CRASHCHECK" $ck rerun "$sdir/base/store" "$sdir/ref/store" "$w/killed" "$w/store" 2>>"$w/check"
	fi
}
dump() { "$CRASHCHECK" $noop dump "$w/$tree"; }

# ---- stores ----
# build_* DIR: DIR/store (or DIR/logs), DIR/state, DIR/p.yaml and DIR/cmd
mk() {  # mk DIR [mkstore options]
	d=$1; shift
	"$MKSTORE" --out "$d/store" --domains 2 --mailboxes 3 --messages "${msgs:-$nmsg}" \
		--seed "$seed" --now 1790000000 "$@" >/dev/null
	mkdir -m 700 "$d/state"
	cat > "$d/p.yaml" <<'YAML'
store: store
state_dir: state
defaults:
  quota: {warn: 2MB, limit: 1GB}
  purge:
    - {folder: Deleted Items, older_than: 30d}
    - {folder: Junk E-mail, max_messages: 1}
YAML
}
# the changes an index must follow: lost, torn and missing index files,
# deliveries, deletions, renames by the content filter, an old temp file
perturb() {
	i=0
	(cd "$1/store" && find . -name IMAP.MRK | LC_ALL=C sort) > "$1/mrks"
	while IFS= read -r f; do
		dir=$1/store/${f%/IMAP.MRK}
		i=$((i + 1))
		m=$(ls "$dir" | grep -i '\.msg$' | head -n 1)
		case $((i % 6)) in
		0) rm -f "$dir/IMAP.MRK" ;;
		1) head -c 100 "$dir/IMAP.MRK" > "$dir/t" && mv "$dir/t" "$dir/IMAP.MRK" ;;
		2) [ -n "$m" ] && rm -f "$dir/$m" ;;
		3) [ -n "$m" ] && cp -p "$dir/$m" "$dir/md50000$((900000 + i)).msg" &&
			cp -p "$dir/$m" "$dir/pd10000$((910000 + i)).msg" ;;
		4) rm -f "$dir/HIWATER.MRK" ;;
		5) [ -n "$m" ] && mv "$dir/$m" "$dir/pd${m#??}" ;;
		esac
	done < "$1/mrks"
	rm -f "$1/mrks"
	mb=$(cd "$1/store" && ls -d */* | LC_ALL=C sort | head -n 1)
	printf 'half an index' > "$1/store/$mb/.hiwater-tmp.999999.0badf00d.IMAP.MRK"
	chmod 600 "$1/store/$mb/.hiwater-tmp.999999.0badf00d.IMAP.MRK"
}
build_fresh() { mk "$1"; write_cmd "$1" --store store --state state index -j 1; }
build_fresh_j4() { mk "$1"; write_cmd "$1" --store store --state state index -j 4; }
build_stale() {
	mk "$1" --with-index
	"$HIWATER" -q --store "$1/store" --state "$1/state" index >/dev/null 2>&1
	perturb "$1"
	write_cmd "$1" --store store --state state index
}
build_nightly() {
	build_stale "$1"
	# no max_messages rule here: the deliveries perturb makes are copies,
	# and which of two equal arrival dates survives a cap depends on UIDs,
	# which differ between histories (purge covers the cap)
	sed -i '/max_messages/d' "$1/p.yaml"
	write_cmd "$1" -c p.yaml nightly
}
build_purge() {   # purge runs on indexed stores: the catalog knows the files
	mk "$1" --with-index
	(cd "$1" && "$HIWATER" -q -c p.yaml index) >/dev/null 2>&1
	write_cmd "$1" -c p.yaml purge
}
build_snapshot() {
	mk "$1" --with-index
	"$HIWATER" -q --store "$1/store" --state "$1/state" index >/dev/null 2>&1
	write_cmd "$1" -c p.yaml snapshot create
}
build_prune() {   # four snapshots with deliveries and deletions between them
	mk "$1" --with-index
	for s in 1 2 3 4; do
		(cd "$1" && "$HIWATER" -q -c p.yaml snapshot create) >/dev/null 2>&1
		for dir in $(cd "$1/store" && find . -mindepth 2 -maxdepth 2 -type d | LC_ALL=C sort); do
			m=$(ls "$1/store/$dir" | grep -i '\.msg$' | head -n 1)
			[ -n "$m" ] || continue
			cp -p "$1/store/$dir/$m" "$1/store/$dir/md50000$((800000 + s)).msg"
			rm -f "$1/store/$dir/$m"
		done
		# MDaemon keeps IMAP.MRK up to date with its own changes
		(cd "$1" && "$HIWATER" -q -c p.yaml index) >/dev/null 2>&1
	done
	write_cmd "$1" -c p.yaml snapshot prune --keep-last 1
}
build_restore() {  # a snapshot, then mail deleted and a folder removed
	mk "$1" --with-index
	(cd "$1" && "$HIWATER" -q -c p.yaml snapshot create) >/dev/null 2>&1
	mb=$(cd "$1/store" && ls -d */* | LC_ALL=C sort | head -n 1)
	n=0
	for m in $(ls "$1/store/$mb" | grep -i '\.msg$'); do
		n=$((n + 1))
		[ $((n % 2)) = 0 ] && rm -f "$1/store/$mb/$m"
	done
	sub=$(cd "$1/store/$mb" && ls -d *.IMAP | grep -v ' ' | LC_ALL=C sort | tail -n 1)
	rm -rf "$1/store/$mb/$sub"
	(cd "$1" && "$HIWATER" -q -c p.yaml index) >/dev/null 2>&1
	write_cmd "$1" -c p.yaml restore "$mb" "$mb/$sub"
}
build_defrag() { mk "$1" --with-index --fragment; write_cmd "$1" --store store --state state defrag; }
build_relayout() {
	mk "$1" --with-index --fragment
	write_cmd "$1" --store store --state state defrag --relayout
}
build_logs() {
	"$MKSTORE" --logs "$1/logs" --log-days 6 --log-mb 1 >/dev/null
	mkdir -m 700 "$1/state"
	write_cmd "$1" --state state logs --dir logs --keep-days 1 --max-age 4
}

# rerun_fixpoint DIR: run until a run changes nothing in the store (at most
# 4 runs); each run must exit 0 or 1; $rc is the last run's exit
rerun_fixpoint() {
	"$CRASHCHECK" --content-only dump "$1/$tree" > "$1/fix0"
	for i in 1 2 3 4; do
		run_cmd "$1"
		rc=$?
		[ $rc -le 1 ] || { echo "rerun $i exited $rc" >>"$w/check"; tail -n 3 "$1/err" >>"$w/check"; }
		"$CRASHCHECK" --content-only dump "$1/$tree" > "$1/fix1"
		if cmp -s "$1/fix0" "$1/fix1"; then
			rm -f "$1/fix0" "$1/fix1"
			return 0
		fi
		mv "$1/fix1" "$1/fix0"
	done
	return 1
}

# copy_base DIR: a fresh copy of the base; built again where a copy would not
# be the same (cp writes files whole: a fragmented store comes out defragmented)
copy_base() {
	rm -rf "$1" && mkdir "$1"
	if [ "$rebuild" = 1 ]; then
		$builder "$1"
	else
		cp -a "$sdir/base/." "$1/"
	fi
}

# count_calls [OP]: how many I/O calls (of kind OP, default any) a clean run
# makes, from the counts core/io.c logs at exit (HIWATER_FAULT_LOG) when
# fault injection is on; one clean run per scenario
count_calls() {
	if [ ! -s "$sdir/counts" ]; then
		copy_base "$sdir/probe"
		run_cmd "$sdir/probe" HIWATER_FAULT=any:2000000000:EIO HIWATER_FAULT_LOG="$sdir/counts"
		rm -rf "$sdir/probe"
	fi
	calls=$(sed -n "s/^count ${1:-any} //p" "$sdir/counts" | tail -n 1)
	: "${calls:=0}"
}

# kill_point io|timed: one kill, then check_event
kill_point() {
	how=$1
	w=$sdir/k$kp
	copy_base "$w"
	if [ "$how" = io ]; then
		case $kp in
		1) r=1 ;;              # before anything was written
		2) r=$calls ;;         # before the very last call
		*) rand "$calls" ;;
		esac
		what="before I/O call $r of $calls"
		run_cmd "$w" HIWATER_FAULT="any:$r:KILL"
		rc=$?
	else
		rand $((dur_us > 0 ? dur_us : 1))
		delay=$((r / 1000000)).$(printf %06d $((r % 1000000)))
		what="after ${delay}s"
		# not timeout(1): it kills its own process group and exits without
		# reaping, and a zombie's pid still looks alive to the next run
		sh -c 'cd "$1" && shift && { sh ./cmd >out 2>err & pid=$!; sleep "$0"; kill -KILL $pid; wait $pid; }' \
			"$delay" "$w" 2>/dev/null
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
	: > "$w/check"
	ok=1
	check_event "killed $what"
}

# check_event LABEL: after a kill or a failed run in $w: the invariants, the
# rerun(s), the invariants again, and a further run that must be a no-op
check_event() {
	store_ok kill || ok=0
	dbs_ok "the kill" || ok=0
	verify_ok "the kill" || ok=0
	[ -z "$post" ] || $post kill || ok=0
	cp -a "$w/$tree" "$w/killed"
	if [ "$reruns" = fixpoint ]; then
		rerun_fixpoint "$w" || { note "no fixed point after 4 reruns"; ok=0; }
		[ $rc -eq "$ref_rc" ] || { note "the last rerun exited $rc, the clean run $ref_rc"; ok=0; }
	else
		run_cmd "$w"
		rc=$?
		if [ $rc -ne "$ref_rc" ]; then
			note "rerun exited $rc, the clean run $ref_rc"
			tail -n 5 "$w/err" >>"$w/check"
			ok=0
		fi
	fi
	store_ok rerun || ok=0
	dbs_ok "the rerun" || ok=0
	verify_ok "the rerun" || ok=0
	[ -z "$post" ] || $post rerun || ok=0
	left=$(find "$w/state" "$w/$tree" -name '.hiwater-tmp.*' | head -n 3)
	[ -z "$left" ] || { note "temp files left: $left"; ok=0; }
	dump > "$w/dump1"
	run_cmd "$w"
	rc=$?
	dump > "$w/dump2"
	if [ $rc -ne "$ref_rc" ] || ! cmp -s "$w/dump1" "$w/dump2"; then
		note "a further run (exit $rc) was not a no-op:"
		diff "$w/dump1" "$w/dump2" | head -n 20 >>"$w/check"
		ok=0
	fi
	verdict "$1"
}

verdict() {
	if [ $ok = 1 ]; then
		say "  $name: $1: ok"
		rm -rf "$w"
	else
		failures=$((failures + 1))
		failed_dirs="$failed_dirs $w"
		echo "FAIL $name: $1 (kept in $w)"
		sed 's/^/     | /' "$w/check" | head -n 15
	fi
}

# fault_point OP N ERR: the Nth OP fails with ERR (HIWATER_FAULT=OP:N:ERR).
# The run must exit 2 or 74 with a message naming the operation and a path
# ("write(example.com/bob/...) failed: No space left on device"); or exit 0
# or 1 having recovered (a warning names the failed call, and its result is
# complete), which an unlink of a temp may do silently; then check_event. A
# single short write is retried: the run must succeed as the clean run did.
fault_point() {
	op=$1 nth=$2 err=$3
	fp=$((fp + 1))
	w=$sdir/f$fp
	copy_base "$w"
	run_cmd "$w" HIWATER_FAULT="$op:$nth:$err" HIWATER_FAULT_LOG="$w/fault.log"
	rc=$?
	what="$op $nth fails with $err"
	if ! grep -qv '^count ' "$w/fault.log" 2>/dev/null; then
		# the threads' order made fewer calls this time
		say "  $name: $what: not reached"
		missed=$((missed + 1))
		rm -rf "$w"
		return 0
	fi
	fault_points=$((fault_points + 1))
	: > "$w/check"
	ok=1
	if [ "$err" = SHORT ] && [ "$nth" != "*" ]; then
		if [ "$reruns" = fixpoint ]; then
			[ $rc -le 1 ] || { note "exit $rc after a retried short write"; ok=0; }
			rerun_fixpoint "$w" || { note "no fixed point after 4 reruns"; ok=0; }
		fi
		[ $rc -eq "$ref_rc" ] || { note "exit $rc after a retried short write, the clean run $ref_rc"; ok=0; }
		cp -a "$sdir/base/$tree" "$w/killed"
		store_ok rerun || ok=0
		dbs_ok "the short write" || ok=0
		verify_ok "the short write" || ok=0
		verdict "$what"
		return
	fi
	case $err in
	ENOSPC|SHORT) text="No space left on device" ;;
	EIO) text="Input/output error" ;;
	esac
	case $op in          # the calls behind each kind of the seam
	fsync) ops="fsync|fdatasync|syncfs" ;;
	write) ops="write|pwrite" ;;
	*) ops=$op ;;
	esac
	cp "$w/out" "$w/fault.out"; cp "$w/err" "$w/fault.err"
	named=1
	# (nightly reports a failed step in its table, on stdout)
	cat "$w/err" "$w/out" | grep -Eq "($ops)\(.+\) failed: $text" || named=0
	case $rc in
	2|74)
		[ $named = 1 ] || {
			note "exit $rc, but no message names $op, a path and '$text':"
			tail -n 3 "$w/err" >>"$w/check"
			ok=0
		} ;;
	0|1)
		# recovered (a fallback made it durable) or a temp's cleanup
		# that may fail: the run's own result must then be complete
		if [ $named = 0 ] && [ "$op" != unlink ]; then
			note "exit $rc and no message naming $op: the failure was not reported"
			ok=0
		fi
		if [ "$op" != unlink ]; then
			cp -a "$sdir/base/$tree" "$w/killed"
			store_ok rerun || { note "(the run that absorbed the fault left this)"; ok=0; }
		fi
		absorbed=$((absorbed + 1))
		say "  $name: $what: exit $rc, absorbed" ;;
	*)
		note "exit $rc (not 2 or 74)"
		tail -n 3 "$w/err" >>"$w/check"
		ok=0 ;;
	esac
	rm -rf "$w/killed"
	check_event "$what"
}

# fault_matrix: each of write, fsync, rename, fallocate and unlink fails in
# turn: the first call with ENOSPC and the last with EIO (the long form: the
# first, the last and one between, each with both); every write short, and
# one write short (retried)
fault_matrix() {
	fp=0
	for op in write fsync rename fallocate unlink; do
		count_calls "$op"
		[ "$calls" -gt 0 ] || continue
		if [ "$mode" = long ]; then
			for nth in $(printf '%s\n' 1 $(( (calls + 1) / 2 )) "$calls" | sort -nu); do
				for err in ENOSPC EIO; do fault_point "$op" "$nth" "$err"; done
			done
		else
			# the short form: the first call with ENOSPC, the last with EIO
			fault_point "$op" 1 ENOSPC
			[ "$calls" -gt 1 ] || continue
			fault_point "$op" "$calls" EIO
		fi
		if [ "$op" = write ]; then
			fault_point write 1 SHORT
			fault_point write "*" SHORT
		fi
	done
}

# scenario NAME BUILDER IO_KILLS TIMED_KILLS, with these set:
#   kind  store | logs      ck    crashcheck options (--purged, --restored)
#   fs    fast | disk       noop  dump options for the no-op check
#   post  a further check, called with kill | rerun
#   rebuild  1: each kill point builds its store afresh instead of a copy
#   msgs  messages in the store (default: by the form, short or long)
#   reruns  1, or fixpoint: runs after the kill until one changes nothing
#         (and so for the reference): nightly purges by what the index of
#         the run before found, so a run after a failed one may still purge
scenario() {
	name=$1 builder=$2 nio=$3 ntimed=$4
	case " $only " in "  "|*" $name "*) ;; *) return 0 ;; esac
	tree=store
	[ "$kind" = logs ] && tree=logs
	if [ "$fs" = disk ]; then sdir=$top_disk/$name; else sdir=$top_fast/$name; fi
	mkdir -p "$sdir/base"
	$builder "$sdir/base"
	# the reference: a clean run, timed
	copy_base "$sdir/ref"
	t0=$(date +%s%N)
	run_cmd "$sdir/ref"
	ref_rc=$?
	dur_us=$(( ($(date +%s%N) - t0) / 1000 ))
	if [ "$reruns" = fixpoint ]; then
		w=$sdir/ref
		: > "$w/check"
		rerun_fixpoint "$sdir/ref" || { echo "FAIL $name: the clean runs reach no fixed point"
			failures=$((failures + 1)); return 0; }
		ref_rc=$rc   # the exit of a run that changes nothing
	fi
	case $ref_rc in 0|1) ;; *)
		echo "FAIL $name: the clean run exited $ref_rc"; sed 's/^/     | /' "$sdir/ref/err"
		failures=$((failures + 1)); return 0 ;;
	esac
	(cd "$sdir/ref" && "$HIWATER" -c p.yaml snapshot list --json) 2>/dev/null |
		sed -n 's/^{"id":\([0-9]*\),.*/\1/p' > "$sdir/ref/snaps"
	if [ "$faults" = 1 ]; then
		before=$fault_points
		fault_matrix
		line="$name: $((fault_points - before)) fault points (exit $ref_rc when clean)"
	else
		count_calls
		before=$kill_points
		kp=0
		while [ $kp -lt "$nio" ]; do kp=$((kp + 1)); kill_point io; done
		while [ $kp -lt $((nio + ntimed)) ]; do kp=$((kp + 1)); kill_point timed; done
		line="$name: $((kill_points - before)) kill points ($calls I/O calls, clean run ${dur_us}us, exit $ref_rc)"
	fi
	echo "crash: $line"
	summary="$summary$line
"
}

if [ "$mode" = long ]; then
	nmsg=200 io=20 timed=6
else
	nmsg=60 io=4 timed=1
fi
std() { kind=store fs=fast ck= noop= post= reruns=1 rebuild=0 msgs=; }
std; scenario index-fresh build_fresh $((io * 2)) "$timed"
std; scenario index-fresh-j4 build_fresh_j4 "$io" "$timed"
std; scenario index-stale build_stale $((io * 2)) "$timed"
std; ck="--purged --new-uids" noop=--no-dir-times post=restorable_ok reruns=fixpoint
     scenario nightly build_nightly $((io * 2)) "$timed"
std; ck=--purged post=restorable_ok
     scenario purge build_purge "$io" "$timed"
std; noop=--no-dir-times
     scenario snapshot-create build_snapshot "$io" "$timed"
std; post=snaps_ok
     scenario snapshot-prune build_prune "$io" "$timed"
# restore gives new UIDs in the order it writes, and writes (then drops) a
# temp for every settings file already there: directory mtimes move
std; ck=--new-uids noop=--no-dir-times
     scenario restore build_restore "$io" "$timed"
# (built afresh on disk for every kill and fault point: smaller stores)
std; fs=disk rebuild=1 msgs=$((nmsg / 2))
     scenario defrag build_defrag "$io" "$timed"
# a settled folder is left alone: a rerun after the recovery run rewrites
# nothing (the full no-op rule, as for defrag)
std; fs=disk rebuild=1 msgs=$((nmsg / 2))
     scenario relayout build_relayout "$io" "$timed"
std; kind=logs
     scenario logs build_logs "$io" "$timed"

if [ "$faults" = 1 ]; then
	echo "faults: $fault_points fault points ($absorbed absorbed: reported and recovered, or a temp's unlink; $missed not reached), $failures failures"
else
	echo "crash: $kill_points kill points ($kills_io at an I/O call, $kills_timed timed), $finished runs finished before their kill, $failures failures"
fi
if [ "$failures" -eq 0 ]; then
	rm -rf "$top_fast" "$top_disk"
	exit 0
fi
echo "crash: kept:$failed_dirs"
exit 1
