#!/bin/sh
# run.sh DIR SECONDS TARGET... - run each fuzz target SECONDS seconds on its
# corpus (DIR/corpus/T, new inputs kept there) and seeds (DIR/seeds/T);
# crashes go to DIR/artifacts/T-*. Prints executions and crashes per target;
# exits 1 if any target crashed.
dir=$1 secs=$2
shift 2
fail=0 total=0
mkdir -p "$dir/artifacts"
for t in "$@"; do
	mkdir -p "$dir/corpus/$t"
	log=$dir/fuzz_$t.log
	"$dir/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
		-malloc_limit_mb=1024 -timeout=20 -artifact_prefix="$dir/artifacts/$t-" \
		"$dir/corpus/$t" "$dir/seeds/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	crashes=$(ls "$dir/artifacts" | grep -c "^$t-") || true
	total=$((total + ${execs:-0}))
	if [ $rc -ne 0 ]; then
		fail=1
		echo "fuzz: $t: ${execs:-?} executions, FAILED (exit $rc; $crashes artifacts in $dir/artifacts)"
		grep -E "ERROR|SUMMARY|^==" "$log" | head -n 8 | sed 's/^/     | /'
	else
		echo "fuzz: $t: ${execs:-?} executions, 0 crashes ($(ls "$dir/corpus/$t" | wc -l) corpus inputs)"
	fi
done
echo "fuzz: $total executions in all"
exit $fail
